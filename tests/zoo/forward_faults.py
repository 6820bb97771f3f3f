"""Faults of the training-mode forward pass (they also reach the functions
that share the broken step, as they would in a real implementation)."""

from __future__ import annotations

import numpy as np

from .base import CorrectBN


class UnbiasedVarianceBN(CorrectBN):
    """Bessel-corrected (m-1) batch variance in the forward, as with torch.var/std's default
    or the Annotated Transformer's hand-written norm."""

    def variance(self, z, mu):
        m = z.shape[1]
        return np.square(z - mu).sum(axis=1, keepdims=True) / (m - 1)


class EpsOutsideSqrtBN(CorrectBN):
    """eps added to the standard deviation, ``(z - mu) / (std + eps)``, as in the Annotated
    Transformer's LayerNorm."""

    def inv_std(self, var, eps):
        return 1.0 / (np.sqrt(var) + eps)


class HardCodedEpsBN(CorrectBN):
    """eps argument ignored, the framework default 1e-5 baked in (cf. cuDNN's minimum-eps
    clamp, which silently replaced smaller eps)."""

    def inv_std(self, var, eps):
        return 1.0 / np.sqrt(var + 1e-5)


class WrongAxisBN(CorrectBN):
    """Statistics over the units instead of the examples: a batch_first port's axis=0 kept
    in the units_first layout (layer norm instead of batch norm)."""

    def statistics(self, z):
        mu = z.mean(axis=0, keepdims=True)
        return mu, np.square(z - mu).mean(axis=0, keepdims=True)


class OnePassVarianceBN(CorrectBN):
    """One-pass variance E[z^2] - E[z]^2 (clamped at 0), cancelling at large offsets, as in
    flax#1491, tensorflow#3290 and objax#182."""

    def variance(self, z, mu):
        return np.maximum(np.square(z).mean(axis=1, keepdims=True) - np.square(mu), 0.0)


class NoCenteringBN(CorrectBN):
    """Forgets to subtract the mean: divides z itself by sqrt(var + eps)."""

    def center(self, z, mu):
        return z


class MissingGammaBN(CorrectBN):
    """Forgets the scale gamma in the forward: z~ = z_norm + beta."""

    def affine(self, z_norm, gamma, beta):
        return z_norm + beta


class SwappedGammaBetaBN(CorrectBN):
    """gamma and beta swapped, an argument-order mix-up with APIs that take the offset before
    the scale (tf.nn.batch_normalization(x, mean, var, offset, scale, eps))."""

    def affine(self, z_norm, gamma, beta):
        return beta * z_norm + gamma


class RunningStatsInTrainingBN(CorrectBN):
    """Training forward normalizes with the running estimates, as with a training flag left
    at False (tf.layers.batch_normalization's default); fresh estimates are 0 and 1."""

    def __init__(self) -> None:
        self._running: tuple[np.ndarray, np.ndarray] | None = None

    def update_running(self, running_mean, running_var, z, momentum):
        new_mean, new_var = super().update_running(running_mean, running_var, z, momentum)
        self._running = (new_mean.copy(), new_var.copy())
        return new_mean, new_var

    def train_statistics(self, z):
        n = z.shape[0]
        if self._running is None or self._running[0].shape != (n, 1):
            return np.zeros((n, 1), z.dtype), np.ones((n, 1), z.dtype)
        return self._running[0].astype(z.dtype), self._running[1].astype(z.dtype)


class LastExampleDroppedBN(CorrectBN):
    """Statistics over z[:, :-1]: an off-by-one in a hand-written loop or slice leaves the last example out,
    so the output depends on the examples' order."""

    def statistics(self, z):
        return super().statistics(z[:, :-1])


class FrozenFirstBatchStatsBN(CorrectBN):
    """Statistics of the first mini-batch of a shape reused on later calls: a stateful cache
    (or a traced graph that captured them as constants) leaking across batches."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}

    def train_statistics(self, z):
        if z.shape not in self._cache:
            self._cache[z.shape] = self.statistics(z)
        return self._cache[z.shape]


class Float32ArithmeticBN(CorrectBN):
    """Computes in float32 whatever the input dtype and casts back, like a kernel with a
    hard-coded float accumulator: float64 inputs lose half their digits."""

    def work_dtype(self, dtype):
        return np.dtype(np.float32)


class InPlaceCenteringBN(CorrectBN):
    """Centers in place (``z -= mu``), overwriting the caller's array, a numpy aliasing bug."""

    def center(self, z, mu):
        z -= mu
        return z


class NoEpsBN(CorrectBN):
    """Divides by the bare standard deviation, eps dropped: a constant unit gives 0/0 = NaN
    (or amplified rounding noise) instead of beta."""

    def inv_std(self, var, eps):
        return 1.0 / np.sqrt(var)
