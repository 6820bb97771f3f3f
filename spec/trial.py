"""One example of a clause, passed explicitly to its property.

A property is ``check(target, trial)``: ``target`` is the implementation as
this example sees it (its calls are logged in ``trial.calls``), and ``trial``
draws the example's labelled inputs and checks its claims.  The runner makes a
new :class:`Trial` for every example and keeps the last one (after a failure,
hypothesis' replay of the minimal example); the worst error over all examples
of the clause is accumulated in the :class:`Worst` the runner passes in.
A check that fails raises :class:`FailedClaim`, a
:class:`~bnspec.spec.errors.ClauseViolation` that carries the :class:`Claim`
it checked, so that the runner can build the reproducer's comparison from the
very check that failed (also through a re-raise ``from`` it, as the golden
vectors do).  Nothing here is module-level state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import assertions
from .errors import ClauseViolation
from .strategies import Draw
from .target import Call
from .tolerances import Tolerance


@dataclass
class Worst:
    """The worst error over every check of every example of a clause's run: error / tolerance, and
    in units of eps * cond * scale.  What a *passing* clause reports; a failing clause reports its
    failing check's error instead (:attr:`Claim.units`), which a replay of the case finds again."""

    ratio: float = 0.0
    units: float | None = None  # None: no check of this run knew its units

    def record(self, ratio: float, units: float | None) -> None:
        if np.isfinite(ratio):
            self.ratio = max(self.ratio, ratio)
            if units is not None:
                self.units = max(self.units or 0.0, ratio * units)


@dataclass(frozen=True)
class Claim:
    """One check of an example, as its reproducer states it again.

    ``kind`` is ``close`` (``|observed - required| <= atol`` elementwise), ``equal``
    (``observed == required``) or ``holds`` (a condition, ``observed``).  The values are
    in the lecture's layout, as the property saw them.  ``observed_src`` and
    ``required_src`` are Python/numpy expressions over the reproducer's variable names
    (see :func:`bnspec.spec.reproducer.script`); None where the property gave none.
    ``units`` is the worst error in units of eps * cond (None: not a tolerance of that
    form, or not a numeric check)."""

    kind: str
    what: str
    message: str
    observed: Any = None
    required: Any = None
    atol: np.ndarray | None = None
    tolerance_kind: str = ""
    ratio: float = 0.0
    units: float | None = None
    observed_src: str | None = None
    required_src: str | None = None


class FailedClaim(ClauseViolation):
    """A check that does not hold, with the :class:`Claim` it checked."""

    def __init__(self, message: str, claim: Claim | None = None) -> None:
        super().__init__(message)
        self.claim = claim


def failed_claim(error: BaseException | None) -> Claim | None:
    """The claim that ``error`` (or an exception it was raised ``from``) failed on, if any."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, FailedClaim) and error.claim is not None:
            return error.claim
        error, seen = error.__cause__, seen + 1
    return None


def in_units(ratio: float, units: float | None) -> str:
    """The failure's worst error in units of eps * cond, as a clause of text ('' when not of that form)."""
    return "" if units is None else f"; worst error {ratio * units:.3g} eps*cond"


@dataclass
class Trial:
    """One example: its draws (in order), its calls to the implementation, and its checks."""

    draw: Draw
    worst: Worst = field(default_factory=Worst)
    calls: list[Call] = field(default_factory=list)

    @property
    def draws(self) -> list[tuple[str, Any]]:
        """Every ``(label, value)`` drawn so far, in order."""
        return self.draw.sequence

    def close(self, what: str, observed: np.ndarray, required: np.ndarray, tol: Tolerance, *,
              observed_src: str | None = None, required_src: str | None = None) -> None:
        """Require ``|observed - required| <= tol`` elementwise (see :func:`bnspec.spec.assertions.compare`).

        ``observed_src`` and ``required_src`` state the formula for the reproducer: Python/numpy
        expressions, in the lecture's layout, over the call arguments by their protocol names
        (``z``, ``gamma``, ``beta``, ``eps``, ``grad``, ...; the first call's) and ``result1``,
        ``result2``, ... (the results of the example's calls, a tuple for several results), with
        the helpers ``mean(x)`` and ``var(x)`` (per unit, over the examples) and
        ``z_norm(z, eps)``.  Without them the reproducer writes the values out."""
        ratio, failure = assertions.compare(what, observed, required, tol)
        self.worst.record(ratio, tol.units)
        if failure:
            message = failure + in_units(ratio, tol.units)
            raise FailedClaim(message, Claim("close", what, message, observed, required,
                                             np.asarray(tol.atol, dtype=np.float64), tol.kind, ratio,
                                             None if tol.units is None else ratio * tol.units, observed_src,
                                             required_src))

    @staticmethod
    def holds(condition: bool, message: str, *, src: str | None = None) -> None:
        """Require ``condition``; ``message`` says what was observed against what is required;
        ``src`` states the condition for the reproducer (as :meth:`close`'s sources)."""
        if not condition:
            raise FailedClaim(message, Claim("holds", "", message, condition, observed_src=src))

    @staticmethod
    def equal(what: str, observed: object, required: object, *, observed_src: str | None = None,
              required_src: str | None = None) -> None:
        """Require exact equality (shapes, dtypes, identities that hold bit for bit)."""
        try:
            assertions.equal(what, observed, required)
        except ClauseViolation as violation:
            raise FailedClaim(str(violation), Claim("equal", what, str(violation), observed, required,
                                                    observed_src=observed_src, required_src=required_src)) from None
