"""A zoo of batch-norm implementations for the meta tests.

``base.CorrectBN`` is a clean, correct implementation of the protocol written
as small overridable steps; ``forward_faults``, ``backward_faults`` and
``running_faults`` subclass it, each overriding one step to reproduce one real
bug class.  ``registry`` lists them: ``FAULTY`` must each be caught by the spec,
``CORRECT`` must each pass it.
"""
