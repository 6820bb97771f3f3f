"""Faults of low-precision arithmetic: they pass every float64 clause and break the
float32, float16, bfloat16 and negative-variance clauses (BN-F32-*, BN-F16-*, BN-BF16-*,
BN-VAR-*), forward's or backward's."""

from __future__ import annotations

import numpy as np

from .base import DEFAULT_EPS, EXAMPLES, CorrectBN


class LowPrecisionOnePassBN(CorrectBN):
    """A "fast path" for float32 and float16 that uses the one-pass variance E[z^2] - E[z]^2
    (clamped at 0), float64 keeping two passes: the fused-kernel shortcut of
    flax's use_fast_variance and of cuDNN-style single-pass statistics."""

    def variance(self, z, mu):
        if z.dtype == np.float64:
            return super().variance(z, mu)
        return np.maximum(np.square(z).mean(axis=1, keepdims=True) - np.square(mu), 0.0)


class Float16AccumulationBN(CorrectBN):
    """Accumulates float16 inputs in float16 (no widening to float32): a sum of m values
    near 300 overflows 65504 to inf, and every sum loses m u16 of its digits."""

    def work_dtype(self, dtype):
        return np.dtype(dtype)


class Float16GradientSumsBN(CorrectBN):
    """forward widens float16 and bfloat16 to float32, as it should, but backward keeps them in their
    own dtype, its sums too: for m values near 300 the float16 sum of z overflows 65504 to inf and the
    gradients are NaN, and every sum loses m u of its digits.  A forward-only check cannot see it."""

    def work_dtype(self, dtype):
        return np.dtype(dtype)  # no widening (forward widens its inputs itself)

    def mean(self, z):
        return self.reduce_examples(z) / z.shape[EXAMPLES]  # a sum in z's dtype: np.mean widens float16

    def forward(self, z, gamma, beta, eps=DEFAULT_EPS):
        wide = np.promote_types(z.dtype, np.float32)
        return super().forward(z.astype(wide), gamma.astype(wide), beta.astype(wide), eps).astype(z.dtype)


class BFloat16AccumulationBN(CorrectBN):
    """Accumulates bfloat16 inputs in bfloat16, float16 correctly in float32: with 8
    significant bits every sum of m values loses about m u_bf16 of its digits, and the
    centred values of a unit far from 0 keep almost none."""

    def work_dtype(self, dtype):
        return np.dtype(dtype) if np.dtype(dtype).name == "bfloat16" else super().work_dtype(dtype)


class UnclampedOnePassBN(CorrectBN):
    """One-pass variance without the clamp at 0: for a unit nearly constant far from 0,
    E[z^2] - E[z]^2 cancels to rounding noise that can be negative and larger than eps,
    and sqrt(sigma^2 + eps) is NaN."""

    def variance(self, z, mu):
        return np.square(z).mean(axis=1, keepdims=True) - np.square(mu)
