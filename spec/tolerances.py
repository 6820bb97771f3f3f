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

#: unit roundoff (half the machine epsilon) of each dtype the spec checks.
UNIT_ROUNDOFF = {
    np.dtype(np.float64): float(np.finfo(np.float64).eps) / 2,
    np.dtype(np.float32): float(np.finfo(np.float32).eps) / 2,
}


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


def unit_roundoff(dtype: np.dtype | type) -> float:
    """u for ``dtype``; other dtypes are checked at float64's u."""
    return UNIT_ROUNDOFF.get(np.dtype(dtype), UNIT_ROUNDOFF[np.dtype(np.float64)])


def condition(z: np.ndarray, eps: float) -> np.ndarray:
    """Condition of BN's normalization per unit: ``1 + |mu| / sqrt(sigma^2 + eps)``.

    Shapes: ``z`` is ``n x m`` (units first); returns ``n x 1``.  Computed with
    the reference's two-pass statistics in float64.
    """
    from bnspec.reference.batchnorm import batch_statistics

    mu, var = batch_statistics(np.asarray(z, dtype=np.float64))
    return 1.0 + np.abs(mu) / np.sqrt(var + eps)


def tolerance(kind: str, dtype: np.dtype | type, m: int, scale: np.ndarray | float) -> np.ndarray:
    """Absolute tolerance ``K(m) * u(dtype) * scale`` of a check of ``kind``.

    ``scale`` already contains the condition where it applies; it broadcasts
    (per unit ``n x 1``, per element, or a scalar).
    """
    k = KINDS[kind]
    return np.asarray(k.factor(m) * unit_roundoff(dtype) * np.asarray(scale, dtype=np.float64))
