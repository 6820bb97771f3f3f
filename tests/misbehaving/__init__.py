"""Implementations that misbehave as programs rather than as batch norms.

Each module holds one kind of misbehaviour (raising, returning garbage,
hanging, printing, exiting, crashing its process, allocating without bound);
``tests/test_robustness.py`` runs ``bnspec check`` on each and requires a
completed run, exit status 1 and a report naming the failing clause.  What ends
or crashes its process (crashes, hog, exits' KeyboardInterrupt, C-level prints) is
run with ``--isolate`` only; everything else runs both ways, with the same verdict.
"""
