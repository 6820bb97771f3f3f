"""Batch norms in the channel layouts: correct ones, and ones that take their statistics over the
wrong axes.  Written the way a framework's kernel is: the statistics reduce over the axes
``_stat_axes`` gives, the per-channel results over every axis but the channel's -- so that a wrong
choice of statistics axes returns arrays of the right shapes and fails on its values."""

from __future__ import annotations

import numpy as np


class ChannelsFirstBN:
    """Correct: z is (N, C, *S); statistics per channel over N and every spatial position."""

    layout = "channels_first"

    def _channel(self, z: np.ndarray) -> int:
        return 1 if self.layout == "channels_first" else z.ndim - 1

    def _stat_axes(self, z: np.ndarray) -> tuple[int, ...]:
        return tuple(i for i in range(z.ndim) if i != self._channel(z))

    def _per_channel(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        shape = [1] * z.ndim
        shape[self._channel(z)] = -1
        return a.reshape(shape)

    def _moments(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        axes = self._stat_axes(z)
        mu = z.mean(axis=axes, keepdims=True)
        return mu, ((z - mu) ** 2).mean(axis=axes, keepdims=True), int(np.prod([z.shape[i] for i in axes]))

    def _sum(self, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Per channel, over every other axis: the shape (C,) of dgamma, dbeta."""
        return a.sum(axis=tuple(i for i in range(z.ndim) if i != self._channel(z)))

    def _refuse_bad_arguments(self, z, gamma, beta, eps) -> None:
        """The SHOULDs BN-INPUT-1 to -3: eps <= 0, z of a rank other than 2 to 5 (0 to 3 spatial dims),
        a gamma or beta whose entries are not one per channel."""
        if not 2 <= np.ndim(z) <= 5:
            raise ValueError(f"z must have 2 to 5 dims (N, C and 0 to 3 spatial), got shape {np.shape(z)}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        for name, p in (("gamma", gamma), ("beta", beta)):
            if np.shape(p) != (z.shape[self._channel(z)],):
                raise ValueError(f"{name} must have one entry per channel, got shape {np.shape(p)}")

    def forward(self, z, gamma, beta, eps):
        self._refuse_bad_arguments(z, gamma, beta, eps)
        mu, var, _ = self._moments(z)
        return self._per_channel(z, gamma) * (z - mu) / np.sqrt(var + eps) + self._per_channel(z, beta)

    def backward(self, z, gamma, beta, eps, grad):
        mu, var, m = self._moments(z)
        axes = self._stat_axes(z)
        inv_std = 1.0 / np.sqrt(var + eps)
        z_norm = (z - mu) * inv_std
        dz_norm = grad * self._per_channel(z, gamma)
        dz = inv_std / m * (m * dz_norm - dz_norm.sum(axis=axes, keepdims=True)
                            - z_norm * (dz_norm * z_norm).sum(axis=axes, keepdims=True))
        return dz, self._sum(z, grad * z_norm), self._sum(z, grad)

    def update_running(self, running_mean, running_var, z, momentum):
        axes = tuple(i for i in range(z.ndim) if i != self._channel(z))
        if not np.prod([z.shape[i] for i in axes]):  # the statistics of no example are undefined (BN-EMPTY-3)
            raise ValueError(f"z holds no example per channel: shape {z.shape}")
        mu = z.mean(axis=axes)
        var = z.var(axis=axes)
        return momentum * running_mean + (1 - momentum) * mu, momentum * running_var + (1 - momentum) * var

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps):
        def c(a: np.ndarray) -> np.ndarray:
            return self._per_channel(z, a)

        return c(gamma) * (z - c(running_mean)) / np.sqrt(c(running_var) + eps) + c(beta)


class ChannelsLastBN(ChannelsFirstBN):
    """Correct: z is (N, *S, C)."""

    layout = "channels_last"


class PerPositionBN(ChannelsFirstBN):
    """Statistics over the samples only: one mean and variance per channel *and position*."""

    def _stat_axes(self, z):
        return (0,)


class PerSampleBN(ChannelsFirstBN):
    """Statistics over the spatial positions only: per channel and sample (an instance norm)."""

    def _stat_axes(self, z):
        return tuple(range(2, z.ndim)) or (0,)


class OverChannelsBN(ChannelsLastBN):
    """Statistics over the channels of each position (a layer norm over C)."""

    def _stat_axes(self, z):
        return (z.ndim - 1,)


class ChannelsLastAsFirstBN(ChannelsLastBN):
    """Declares channels_last but takes the statistics as if channels were axis 1 (NCHW code on NHWC data)."""

    def _stat_axes(self, z):
        return (0, *range(2, z.ndim))
