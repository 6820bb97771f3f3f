"""The statuses of a clause and every exception bnspec raises, in one hierarchy.

A clause ends in one :class:`Status`.  Which one is decided by the type of
what ended it, never by a message:

- :class:`Finding` -- the implementation is at fault, status ``FAIL``:
  :class:`ClauseViolation` (a property's claim does not hold),
  :class:`ProtocolBreach` (a result of the wrong type, shape or dtype, a
  broken message), :class:`ImplementationRaised` (an exception on valid
  input, ``sys.exit``);
- :class:`Interruption` -- the clause stops at once, without hypothesis
  replaying the example: :class:`ImplementationCrashed` (its process died,
  ``FAIL``) and :class:`ClauseTimeout` (``error``: the check could not
  finish);
- anything else raised while a clause runs -- a bare ``assert``, a
  ``KeyError`` in bnspec's own code -- is bnspec's own error: status
  ``error``, never ``FAIL``, so that bnspec never blames the implementation
  for its own mistake.

:class:`UsageError` is a bad target, option or file: a one-line message and
exit status 2.
"""

from __future__ import annotations

import signal
from enum import StrEnum


class Status(StrEnum):
    """A clause's result; the JSON report and the table keep these strings."""

    PASS = "pass"
    FAIL = "FAIL"
    NOT_APPLICABLE = "n/a"
    ERROR = "error"


class Cause(StrEnum):
    """What ended a clause that did not pass (``cause`` in the JSON report)."""

    VIOLATION = "violation"
    PROTOCOL = "protocol"
    RAISED = "raised"
    CRASH = "crash"
    TIMEOUT = "timeout"
    INTERNAL = "internal"


class BnspecError(Exception):
    """The root of the exceptions bnspec raises as exceptions (see the module docstring)."""


class UsageError(BnspecError):
    """A bad target, option or file: the command prints the message and exits with status 2."""


class Finding(BnspecError):
    """The implementation under test is at fault: the clause fails."""

    cause = Cause.VIOLATION


class ClauseViolation(Finding):
    """A property found the implementation breaking its clause."""

    cause = Cause.VIOLATION


class ProtocolBreach(Finding):
    """The implementation returned what the protocol forbids, or broke the process protocol."""

    cause = Cause.PROTOCOL


class ImplementationRaised(Finding):
    """The implementation raised on valid input (or called ``sys.exit``)."""

    cause = Cause.RAISED


class Interruption(BaseException):
    """Ends a clause at once.  A BaseException, so that hypothesis does not take it for a
    failing example and replay it while shrinking (each replay would hang or crash again)."""

    status = Status.ERROR
    cause = Cause.INTERNAL


class ImplementationCrashed(Interruption):
    """The implementation's process died during a call (a crash, an exit, a kill)."""

    status = Status.FAIL
    cause = Cause.CRASH


class ClauseTimeout(Interruption):
    """The clause ran past its time limit (``--timeout``)."""

    status = Status.ERROR
    cause = Cause.TIMEOUT


class TargetError(UsageError):
    """The target cannot be loaded or declares something the protocol does not allow."""


class UserInterrupt(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM sent to bnspec, which ends the run (its reports keep the clauses
    that ran; the exit status is 128 + ``signum``); a KeyboardInterrupt the implementation raises
    itself is its failure like any other exception (see :func:`bnspec.spec.runner.run_clause`)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
