"""Assertions of the properties: each failure says what was observed and what
was required; the runner adds the clause's ID and statement and a reproducer.

The worst ratio of observed error to tolerance of a run is kept in
:data:`LEDGER`, so the runner can report how close an implementation came; so is
the worst error in units of ``eps * cond * scale`` (eps the machine epsilon of the
checked dtype, cond the input's condition), for tolerances built by
:func:`bnspec.spec.tolerances.tolerance`, which know their size in those units.
"""

from __future__ import annotations

import numpy as np


class ClauseViolation(AssertionError):
    """A property found the implementation breaking its clause."""


class _Ledger:
    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_units: float | None = None  # None: no check of this run knew its units

    def reset(self) -> None:
        self.worst = 0.0
        self.worst_units = None

    def record(self, ratio: float, units: float | None = None) -> None:
        """``ratio`` = error / tolerance; ``units`` = the tolerance in units of eps * cond * scale."""
        if np.isfinite(ratio):
            self.worst = max(self.worst, ratio)
            if units is not None:
                self.worst_units = max(self.worst_units or 0.0, ratio * units)


LEDGER = _Ledger()


def _fmt(x: float) -> str:
    return f"{x:.17g}"


def close(what: str, observed: np.ndarray, required: np.ndarray, tol: np.ndarray | float, why: str) -> None:
    """Require ``|observed - required| <= tol`` elementwise (finite values only).

    ``what`` names the quantity (e.g. "mean of unit j of forward(z, 1, 0, eps)"),
    ``why`` the kind of tolerance.
    """
    units = getattr(tol, "units", None)
    observed = np.asarray(observed, dtype=np.float64)
    required = np.asarray(required, dtype=np.float64)
    if observed.shape != required.shape:
        raise ClauseViolation(f"{what}: observed shape {observed.shape}, required {required.shape}")
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), observed.shape)
    if not np.isfinite(observed).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(observed))[0])
        raise ClauseViolation(
            f"{what}: observed {observed[index]} at index {index}, required the finite value "
            f"{_fmt(required[index])}"
        )
    error = np.abs(observed - required)
    # tol == 0 only where the required value is exact (e.g. a shape); guard the ratio.
    ratio = error / np.maximum(tol, np.finfo(np.float64).tiny)
    LEDGER.record(float(ratio.max(initial=0.0)), units)
    if (error > tol).any():
        index = tuple(int(i) for i in np.unravel_index(np.argmax(ratio), ratio.shape))
        raise ClauseViolation(
            f"{what}: at index {index} observed {_fmt(observed[index])}, required "
            f"{_fmt(required[index])} within {tol[index]:.3g} ({why}); "
            f"error {error[index]:.3g} = {ratio[index]:.3g} x tolerance"
        )


def holds(condition: bool, message: str) -> None:
    """Require ``condition``; ``message`` says what was observed against what is required."""
    if not condition:
        raise ClauseViolation(message)


def equal(what: str, observed: object, required: object) -> None:
    """Require exact equality (shapes, dtypes, identities that hold bit for bit)."""
    if observed != required:
        raise ClauseViolation(f"{what}: observed {observed!r}, required {required!r}")
