"""Faults of the protocol's contract rather than of BN's arithmetic."""

from __future__ import annotations

import numpy as np

from .base import CorrectBN


class TransposedOutputBN(CorrectBN):
    """forward returns m x n instead of n x m (a layout mix-up between frameworks and the lecture)."""

    def forward(self, z, gamma, beta, eps=1e-5):
        return np.ascontiguousarray(super().forward(z, gamma, beta, eps).T)


class EvalPerUnitOutputBN(CorrectBN):
    """forward_eval returns one value per unit (the mean over the batch) instead of z's shape."""

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps=1e-5):
        return super().forward_eval(z, gamma, beta, running_mean, running_var, eps).mean(axis=1, keepdims=True)


class AlwaysFloat64BN(CorrectBN):
    """Returns float64 whatever the input dtype, from forward and backward (a float32 model silently
    promoted)."""

    def forward(self, z, gamma, beta, eps=1e-5):
        return super().forward(z.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64), eps)

    def backward(self, z, gamma, beta, eps, grad):
        return super().backward(z.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64), eps,
                                grad.astype(np.float64))


class NondeterministicBN(CorrectBN):
    """Adds run-to-run jitter in the last bits (a non-deterministic parallel reduction)."""

    def __init__(self) -> None:
        self._rng = np.random.default_rng()

    def forward(self, z, gamma, beta, eps=1e-5):
        out = super().forward(z, gamma, beta, eps)
        return out * (1.0 + 2.0**-50 * self._rng.integers(-2, 3))
