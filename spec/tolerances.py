"""Every tolerance of the specification, per dtype and per kind of check.

A comparison passes when ``|observed - required| <= tolerance``.  Each
tolerance is ``K * u * cond * scale`` where

- ``u`` is the unit roundoff of the dtype the implementation computes in,
- ``cond`` is the condition of the normalization of the drawn input,
  ``1 + |mu| / sqrt(sigma^2 + eps)`` per unit (see :func:`condition`): any
  backward-stable algorithm errs by a small multiple of ``u * cond``, while the
  one-pass variance errs by ``u * cond^2`` and float32 arithmetic under float64
  inputs by ``2^29 u``, so both fall outside;
- ``scale`` is the natural magnitude of the compared quantity, computed by the
  property (e.g. ``|gamma| * (cond + max|z_norm|) + |beta|`` for an output);
- ``K`` is the per-kind factor below, each with its reason.

Finite-difference checks are relative (``FD_RTOL``), with their own reason.
Nothing outside this module states a tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: unit roundoff (half the machine epsilon) of each dtype the spec checks.  bfloat16
#: (8 significant bits, u = 2^-8) has no numpy dtype; it is named by its string.
UNIT_ROUNDOFF = {
    np.dtype(np.float64): float(np.finfo(np.float64).eps) / 2,
    np.dtype(np.float32): float(np.finfo(np.float32).eps) / 2,
    np.dtype(np.float16): float(np.finfo(np.float16).eps) / 2,
    "bfloat16": 2.0**-8,
}

#: The dtype a low-precision input is accumulated in (as frameworks do): the sums of
#: float16 and bfloat16 values run in float32, so their error is float32's, and only the
#: final result is rounded to the input's dtype.
ACCUMULATES_IN = {np.dtype(np.float16): np.dtype(np.float32), "bfloat16": np.dtype(np.float32)}

#: Output roundings allowed in a low-precision dtype on top of the float32 accumulation's
#: error: the result rounded to the input's dtype (u), gamma * z_norm and the sum with
#: beta done in that dtype by some frameworks (two more): 4u leaves a margin of one.
#: Accumulating the sums themselves in float16 errs by about m u cond and fails.
LOW_PRECISION_ROUNDINGS = 4.0

#: Accuracy bounds of the reference against the exact oracle (bnspec.spec.oracle), in
#: units of eps * cond * scale, where eps is the *machine epsilon* 2u of float64 (not
#: BN's eps), cond = 1 + |mu| / sqrt(sigma^2 + eps) and scale the quantity's natural
#: magnitude (tests/test_accuracy.py states both), for a mini-batch of m examples:
#: ``base + per_example * m``.  Each is the first-order worst case of reference/batchnorm.py's
#: roundings (docs/numerics.md derives it: a mean of m terms errs by up to m u relative to
#: the mean of their magnitudes, each other operation by u), plus a margin of one for the
#: second-order terms (at most m^2 u of the bound: the scale carries cond) and the analysis.
#: Loosened from 1, 2 and 2 (m-independent): those were measurements, not bounds -- the
#: variance's sum of m squares, which all but dbeta go through, can err by (m - 1) u in
#: the worst case, and hypothesis' targeted search reached 1.09 on forward with the long-double
#: kernel that claimed 1.  Measured (targeted search, m <= 12): forward 1.22, dz 1.48,
#: dgamma 0.72, dbeta 1.39, running mean 1.14, running variance 1.54 -- within a third of
#: the first-order worst case, except dbeta's, which one rounding of a two-term sum reaches.
ACCURACY = {
    "forward": (5.75, 0.5, "z - mu as (z - mu0) - c: 2u |x| + m u sigma (c's sum); sigma^2 a mean of m "
                           "squares, (m + 4) u, so 1 / sqrt(sigma^2 + eps) (m + 9) u / 2; times it, gamma, "
                           "plus beta: max((m + 19) / 4, m / 2) <= 4.75 + m / 2, plus one."),
    "dz": (13.25, 1.25, "z_norm's error (above) enters twice, through z_norm * mean(g z_norm), plus "
                        "1 / sqrt's once more in the product; mean(g) and mean(g z_norm) err by m u: "
                        "(5m + 49) / 4 on |z_norm| mean|g z_norm|, the largest term, plus one."),
    "dgamma": (4.75, 0.75, "sum(g * z_norm): z_norm's error, the product and a sum of m terms: "
                           "(3m + 15) / 4, plus one."),
    "dbeta": (0.5, 0.5, "sum(g), a sum of m terms: (m - 1) / 2, plus one."),
    "running_mean": (3.0, 0.5, "mu0 + c (m u sigma + u |mu|), then momentum * old + (1 - momentum) * mu: "
                               "four roundings: max(2, m / 2) <= 2 + m / 2, plus one."),
    "running_var": (4.5, 0.5, "sigma^2 errs by (m + 4) u sigma^2; the update adds three roundings: "
                              "(m + 7) / 2, plus one."),
}

#: The largest |mu| / sigma drawn for float32 and lower: beyond 1 / (K u) the
#: condition-scaled tolerance exceeds the output itself and proves nothing.
LOW_PRECISION_OFFSET_RATIO = {np.dtype(np.float32): 1e4, np.dtype(np.float16): 30.0, "bfloat16": 4.0}


@dataclass(frozen=True)
class Kind:
    """A kind of check: its factor ``K`` as a function of m, and why."""

    name: str
    base: float
    per_example: float
    reason: str

    def factor(self, m: int) -> float:
        return self.base + self.per_example * m


KINDS = {
    k.name: k
    for k in (
        Kind(
            "value",
            16.0,
            2.0,
            "An output of BN (or a statistic of it) against a value derived exactly: "
            "naive left-to-right sums, as many frameworks use, err by up to (m-1)u "
            "relative to sum|z|; the centering, the square root, the division and the "
            "affine step add a handful of roundings (16u).",
        ),
        Kind(
            "pair",
            32.0,
            4.0,
            "Two outputs of the implementation compared with each other (e.g. BN(Z + b) "
            "against BN(Z)): each side carries the error of a 'value' check, so twice it.",
        ),
        Kind(
            "gradient",
            32.0,
            4.0,
            "A gradient against its closed form or an identity (sum dz = 0): the backward "
            "pass repeats the forward's roundings and adds two means over m examples "
            "and a product with gamma, about twice a forward value's error.",
        ),
        Kind(
            "running",
            8.0,
            2.0,
            "A running statistic after one update: one batch mean or variance (sums of "
            "m terms) and two products with the momentum.",
        ),
        Kind(
            "optimizer",
            8.0,
            8.0,
            "A parameter or a state after k steps of an optimizer (m is k here): each step rounds each "
            "entry a handful of times (two products and a sum per average, a square, a root, a division, "
            "the update: 8u with a margin), and the errors of successive steps add -- the averages' "
            "decays are below 1, so none grows.  The roundings of the decays themselves are amplified "
            "(bnspec.spec.optimizer_forms.decay_condition) and scale the step's part of the tolerance.",
        ),
        Kind(
            "network",
            256.0,
            8.0,
            "A whole network's output or loss, two compositions compared: each of up "
            "to 4 layers adds a matrix product (n[l-1] terms), a BN and an activation.",
        ),
    )
}

#: Relative tolerance of gradient checks against central finite differences in
#: float64.  The directional derivative is extrapolated (Richardson) from steps
#: t and t/2 with t = 1e-3 relative to each unit's spread: truncation error
#: O(t^4) ~ 1e-12, rounding error u * cond / t <= 1e-11 at the conditions the
#: gradient strategies draw (cond <= 1e2).  1e-7 is the bar course notebooks set
#: (they expect 1e-8 for a correct backward); 1e-8 keeps a 100x margin here.
FD_RTOL = 1e-8

#: Step of the central differences, relative to each unit's sqrt(sigma^2 + eps).
FD_STEP = 1e-3

#: Relative change of the loss that counts as "the loss went down" in the
#: training clauses: far above rounding (1e-12), far below a real decrease.
TRAINING_DECREASE = 1e-3


def _key(dtype: np.dtype | type | str) -> np.dtype | str:
    return "bfloat16" if str(dtype) == "bfloat16" else np.dtype(dtype)


def unit_roundoff(dtype: np.dtype | type | str) -> float:
    """u for ``dtype``; other dtypes are checked at float64's u."""
    return UNIT_ROUNDOFF.get(_key(dtype), UNIT_ROUNDOFF[np.dtype(np.float64)])


def machine_epsilon(dtype: np.dtype | type | str = np.float64) -> float:
    """The machine epsilon 2u of ``dtype`` (the spacing of floats at 1; not BN's eps)."""
    return 2.0 * unit_roundoff(dtype)


def accumulation_dtype(dtype: np.dtype | type | str) -> np.dtype:
    """The dtype the sums of a ``dtype`` input run in (see :data:`ACCUMULATES_IN`)."""
    key = _key(dtype)
    return ACCUMULATES_IN.get(key, key) if isinstance(key, np.dtype) else ACCUMULATES_IN[key]


@dataclass(frozen=True)
class Tolerance:
    """An absolute tolerance: ``atol`` (broadcasts against the compared values), the kind of
    check it belongs to (a key of :data:`KINDS`, or the reason's name), and its size in units
    of machine epsilon times the condition and scale (``units``, ``K / 2``; None where the
    tolerance is not of that form), so that a run can report its errors in those units."""

    atol: np.ndarray
    kind: str
    units: float | None = None


def tolerance(kind: str, dtype: np.dtype | type | str, m: int, scale: np.ndarray | float) -> Tolerance:
    """Absolute tolerance ``K(m) * u(dtype) * scale`` of a check of ``kind``.

    ``scale`` already contains the condition where it applies; it broadcasts
    (per unit ``n x 1``, per element, or a scalar).
    """
    return units_tolerance(KINDS[kind].factor(m) / 2.0, dtype, scale, kind)


def optimizer_tolerance(dtype: np.dtype | type | str, steps: int, exact: np.ndarray, amplified: np.ndarray,
                        condition: float) -> Tolerance:
    """The tolerance of an optimizer's result after ``steps`` steps: ``K(steps) u (exact + condition *
    amplified)``, where ``amplified`` is the magnitude of the terms a rounded decay multiplies (the step,
    the averages) and ``exact`` the rest (the parameter itself)."""
    scale = np.asarray(exact, dtype=np.float64) + condition * np.asarray(amplified, dtype=np.float64)
    return tolerance("optimizer", dtype, steps, scale)


def units_tolerance(units: float, dtype: np.dtype | type | str, scale: np.ndarray | float,
                    kind: str = "accuracy") -> Tolerance:
    """``units * eps(dtype) * scale``, recording ``units``."""
    return Tolerance(np.asarray(units * machine_epsilon(dtype) * np.asarray(scale, dtype=np.float64)), kind, units)


def offset_ratio(dtype: np.dtype | type | str) -> float:
    """The largest |mu| / sigma drawn for ``dtype`` (see :data:`LOW_PRECISION_OFFSET_RATIO`)."""
    return LOW_PRECISION_OFFSET_RATIO[_key(dtype)]


def low_precision_tolerance(kind: str, dtype: np.dtype | type | str, m: int, scale: np.ndarray,
                            out_scale: np.ndarray) -> Tolerance:
    """The tolerance of a result in a low-precision ``dtype`` accumulated in float32.

    ``K(m) u_acc scale`` for the accumulation (float32's error, condition included in
    ``scale``) plus ``LOW_PRECISION_ROUNDINGS * u(dtype) * out_scale`` for the
    roundings to the output dtype, where ``out_scale`` is the result's magnitude.
    """
    acc = accumulation_dtype(dtype)
    if acc == _key(dtype):
        return tolerance(kind, dtype, m, scale)
    return Tolerance(np.asarray(KINDS[kind].factor(m) * unit_roundoff(acc) * np.asarray(scale, dtype=np.float64)
                                + LOW_PRECISION_ROUNDINGS * unit_roundoff(dtype)
                                * np.asarray(out_scale, dtype=np.float64)), kind)


def condition(z: np.ndarray, eps: float) -> np.ndarray:
    """Condition of BN's normalization per unit: ``1 + |mu| / sqrt(sigma^2 + eps)``.

    Shapes: ``z`` is ``n x m`` (units first); returns ``n x 1``.  Computed with
    the reference's two-pass statistics in float64.
    """
    from bnspec.reference.batchnorm import batch_statistics

    mu, var = batch_statistics(np.asarray(z, dtype=np.float64))
    return 1.0 + np.abs(mu) / np.sqrt(var + eps)
