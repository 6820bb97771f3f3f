"""One example of a clause, passed explicitly to its property.

A property is ``check(target, trial)``: ``target`` is the implementation as
this example sees it (its calls are logged in ``trial.calls``), and ``trial``
draws the example's labelled inputs and checks its claims.  The runner makes a
new :class:`Trial` for every example and keeps the last one (after a failure,
hypothesis' replay of the minimal example); the worst error over all examples
of the clause is accumulated in the :class:`Worst` the runner passes in.
Nothing here is module-level state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import assertions
from .strategies import Draw
from .target import Call
from .tolerances import Tolerance


@dataclass
class Worst:
    """The worst error of a clause's run: error / tolerance, and in units of eps * cond * scale."""

    ratio: float = 0.0
    units: float | None = None  # None: no check of this run knew its units

    def record(self, ratio: float, units: float | None) -> None:
        if np.isfinite(ratio):
            self.ratio = max(self.ratio, ratio)
            if units is not None:
                self.units = max(self.units or 0.0, ratio * units)


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

    def close(self, what: str, observed: np.ndarray, required: np.ndarray, tol: Tolerance) -> None:
        """Require ``|observed - required| <= tol`` elementwise (see :func:`bnspec.spec.assertions.close`)."""
        ratio, failure = assertions.compare(what, observed, required, tol)
        self.worst.record(ratio, tol.units)
        assertions.holds(not failure, failure)

    @staticmethod
    def holds(condition: bool, message: str) -> None:
        """Require ``condition``; ``message`` says what was observed against what is required."""
        assertions.holds(condition, message)

    @staticmethod
    def equal(what: str, observed: object, required: object) -> None:
        """Require exact equality (shapes, dtypes, identities that hold bit for bit)."""
        assertions.equal(what, observed, required)
