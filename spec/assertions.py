"""The comparisons of the properties: each failure says what was observed and what was required.

Pure functions: they raise :class:`~bnspec.spec.errors.ClauseViolation` and
return the worst ratio of error to tolerance; recording that ratio is the
business of the example's :class:`~bnspec.spec.trial.Trial`.  Like numpy's
``assert_allclose``, a failed :func:`close` reports how many elements
mismatch and the worst absolute and relative errors, with 17 significant
digits for the values.
"""

from __future__ import annotations

import numpy as np

from .errors import ClauseViolation
from .tolerances import Tolerance


def _fmt(x: float) -> str:
    return f"{x:.17g}"


def close(what: str, observed: np.ndarray, required: np.ndarray, tol: Tolerance) -> float:
    """Require ``|observed - required| <= tol.atol`` elementwise; return the worst error / tolerance."""
    worst, failure = compare(what, observed, required, tol)
    if failure:
        raise ClauseViolation(failure)
    return worst


def _compared_with(what: str) -> str:
    """Y of a pair check's ``what``, "X against Y" (the value the observed one is compared with)."""
    _, against, rest = what.rpartition(" against ")
    return rest if against else "the value it is compared with"


def compare(what: str, observed: np.ndarray, required: np.ndarray, tol: Tolerance) -> tuple[float, str]:
    """The worst error / tolerance of ``observed`` against ``required``, and what is wrong ('' if nothing).

    ``what`` names the quantity (e.g. "mean of unit j of forward(z, 1, 0, eps)"),
    a pair check as "X against Y".  A non-finite value on either side is a
    violation.  bnspec's reference never returns one (it raises instead), so a
    non-finite value on the required side comes from another output of the
    implementation (pair checks such as BN(Z + b) = BN(Z)): it is reported as
    observed, in Y, and never as a required value."""
    observed = np.asarray(observed, dtype=np.float64)
    required = np.asarray(required, dtype=np.float64)
    if observed.shape != required.shape:
        return np.inf, f"{what}: observed shape {observed.shape}, required {required.shape}"
    atol = np.broadcast_to(np.asarray(tol.atol, dtype=np.float64), observed.shape)
    if not np.isfinite(observed).all():
        bad = ~np.isfinite(observed)
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        against = (f"required {_fmt(required[index])} within {atol[index]:.3g}" if np.isfinite(required[index])
                   else f"and {required[index]} in {_compared_with(what)}, also an output of the implementation")
        return np.inf, (f"{what}: {int(bad.sum())} of {observed.size} elements are not finite; at index {index} "
                        f"observed {observed[index]}, {against}")
    if not np.isfinite(required).all():
        bad = ~np.isfinite(required)
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        return np.inf, (f"{what}: observed {required[index]} at index {index} in {_compared_with(what)}, an output "
                        f"of the implementation ({int(bad.sum())} of {required.size} elements are not finite); "
                        "every output must be finite")
    error = np.abs(observed - required)
    # atol == 0 only where the required value is exact (e.g. a shape); guard the ratio.
    ratio = error / np.maximum(atol, np.finfo(np.float64).tiny)
    worst = float(ratio.max(initial=0.0))
    mismatched = error > atol
    if not mismatched.any():
        return worst, ""
    index = tuple(int(i) for i in np.unravel_index(np.argmax(ratio), ratio.shape))
    with np.errstate(over="ignore"):  # an error of 1e300 against a required 1e-300: inf is the right answer
        relative = error / np.maximum(np.abs(required), np.finfo(np.float64).tiny)
    return worst, (
        f"{what}: {int(mismatched.sum())} of {observed.size} elements mismatch ({tol.kind} tolerance); "
        f"worst at index {index}: observed {_fmt(observed[index])}, required {_fmt(required[index])} "
        f"within {atol[index]:.3g}, error {error[index]:.3g} = {ratio[index]:.3g} x tolerance; "
        f"max absolute error {error.max():.3g}, max relative error {relative.max():.3g}"
    )


def holds(condition: bool, message: str) -> None:
    """Require ``condition``; ``message`` says what was observed against what is required."""
    if not condition:
        raise ClauseViolation(message)


def equal(what: str, observed: object, required: object) -> None:
    """Require exact equality (shapes, dtypes, identities that hold bit for bit)."""
    if observed != required:
        raise ClauseViolation(f"{what}: observed {observed!r}, required {required!r}")
