"""bnspec: the executable specification of batch normalization.

``bnspec.reference`` is the numpy reference (the lecture's layout, ``n[l] x m``);
``bnspec.spec`` holds the numbered clauses, the properties that prove them and
the runner behind the ``bnspec`` command.
"""

__version__ = "0.1.0"
