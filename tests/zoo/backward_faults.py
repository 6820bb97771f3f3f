"""Faults of the hand-derived backward pass; the forward pass is correct."""

from __future__ import annotations

import numpy as np

from .base import CorrectBN


class MissingMeanTermBN(CorrectBN):
    """dz without the path through mu (no ``- mean(dz_norm)``), a hand derivation that
    forgets mu depends on every example."""

    def mean_term(self, dz_norm):
        return np.zeros_like(dz_norm[:, :1])


class MissingVarianceTermBN(CorrectBN):
    """dz without the path through sigma^2 (no ``- z_norm * mean(dz_norm * z_norm)``)."""

    def variance_term(self, dz_norm, z_norm):
        return np.zeros_like(z_norm)


class DetachedStatisticsBN(CorrectBN):
    """Batch statistics treated as constants, ``dz = gamma * grad / std``: stop_gradient /
    .detach() on the moments, or the frozen-BN gradient used in training mode."""

    def dz(self, dz_norm, z_norm, inv_std):
        return inv_std * dz_norm


class DgammaSumOfGradBN(CorrectBN):
    """dgamma computed as sum(grad), dropping the z_norm factor (copy-paste of dbeta)."""

    def dgamma(self, grad, z_norm):
        return self.reduce_examples(grad)


class DbetaMeanBN(CorrectBN):
    """dbeta averaged over the examples instead of summed (1/m applied twice when the
    loss is already a mean)."""

    def dbeta(self, grad):
        return grad.mean(axis=1, keepdims=True)


class FlatParamGradsBN(CorrectBN):
    """dgamma and dbeta returned with shape (n,) instead of (n, 1): a sum without
    keepdims, breaking the update ``gamma -= lr * dgamma`` by broadcasting to n x n."""

    def reduce_examples(self, a):
        return a.sum(axis=1)


class DzSignErrorBN(CorrectBN):
    """Sign slip in dz: the variance path added instead of subtracted."""

    def dz(self, dz_norm, z_norm, inv_std):
        return inv_std * (dz_norm - self.mean_term(dz_norm) + self.variance_term(dz_norm, z_norm))


class DzWithoutGammaBN(CorrectBN):
    """dz not scaled by gamma: the gradient reaching z_norm taken as grad itself."""

    def dz_norm(self, grad, gamma):
        return grad


class BackwardWithoutEpsBN(CorrectBN):
    """Backward divides by the bare std (eps forgotten when re-deriving 1/std): off for
    small variances and infinite/NaN for a constant unit."""

    def backward_inv_std(self, var, eps):
        return 1.0 / np.sqrt(var)


class DzTimesMBN(CorrectBN):
    """The compact cs231n-style formula ``(1/m) * inv_std * (m*dz_norm - sum - ...)``
    with the leading 1/m dropped: dz is m times too large."""

    def dz(self, dz_norm, z_norm, inv_std):
        return dz_norm.shape[1] * super().dz(dz_norm, z_norm, inv_std)
