"""The protocol over a framework layer compiled into two programs (training, inference).

Flax's and Keras' adapters each build, per (number of units, dtype), a layer
object with ``train(x, scale, bias, mean, var, eps, momentum, grad)`` -> (output,
new mean, new var, dx, dscale, dbias) and ``eval(x, scale, bias, mean, var, eps,
momentum)`` -> (output, mean, var); this base maps the four protocol functions
onto them.  Nothing of BN's arithmetic is here.  Layout ``batch_first``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The running statistics the layer holds in training mode: far from the
#: initial (0, 1), so that a training output that used them would be wrong.
TRAINING_RUNNING_MEAN = 3.0
TRAINING_RUNNING_VAR = 7.0
#: The momentum forward and backward hand the layer (their running update is discarded).
TRAINING_MOMENTUM = 0.99


def stats_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of the running statistics, eps and momentum for a layer of ``dtype``: at least float32."""
    return np.promote_types(dtype, np.float32)


def _out(value: Any, dtype: np.dtype) -> np.ndarray:
    """A fresh, writable numpy array of ``dtype``."""
    return np.array(value, dtype=dtype)


class CompiledLayerBN:
    """Base of an adapter: subclasses set ``profile`` and ``update_eps`` (the eps
    of the running update, the framework's default) and build layers in
    :meth:`new_layer`."""

    layout = "batch_first"
    update_eps: float

    def __init__(self) -> None:
        self._layers: dict[tuple[int, np.dtype], Any] = {}

    def new_layer(self, n: int, dtype: np.dtype) -> Any:
        raise NotImplementedError

    def _layer(self, z: np.ndarray) -> Any:
        key = (z.shape[1], np.dtype(z.dtype))
        if key not in self._layers:
            self._layers[key] = self.new_layer(*key)
        return self._layers[key]

    @staticmethod
    def _args(layer: Any, z, gamma, beta, mean, var, eps, momentum) -> tuple[np.ndarray, ...]:
        d = layer.dtype
        # The frameworks compute the statistics in at least float32 and hold the running ones so
        # (stats_dtype); eps and momentum are Python floats to them: traced in float16 or bfloat16
        # instead, an eps of 1e-8 would round to 0 before it reached them.
        s = stats_dtype(d)
        return (np.asarray(z, d), np.asarray(gamma, d), np.asarray(beta, d), np.asarray(mean, s),
                np.asarray(var, s), np.asarray(eps, s), np.asarray(momentum, s))

    @staticmethod
    def _training_stats(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = z.shape[1]
        return np.full(n, TRAINING_RUNNING_MEAN), np.full(n, TRAINING_RUNNING_VAR)

    def _train(self, z, gamma, beta, mean, var, eps, momentum, grad=None) -> tuple[Any, ...]:
        layer = self._layer(z)
        grad = np.zeros(z.shape) if grad is None else grad
        return layer.train(*self._args(layer, z, gamma, beta, mean, var, eps, momentum), np.asarray(grad, layer.dtype))

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        y = self._train(z, gamma, beta, *self._training_stats(z), eps, TRAINING_MOMENTUM)[0]
        return _out(y, z.dtype)

    def backward(
        self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dz, dgamma, dbeta = self._train(z, gamma, beta, *self._training_stats(z), eps, TRAINING_MOMENTUM, grad)[3:]
        return _out(dz, z.dtype), _out(dgamma, z.dtype), _out(dbeta, z.dtype)

    def update_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        n = z.shape[1]
        mean, var = self._train(z, np.ones(n), np.zeros(n), running_mean, running_var, self.update_eps,
                                momentum)[1:3]
        return _out(mean, z.dtype), _out(var, z.dtype)

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        layer = self._layer(z)
        y, _, _ = layer.eval(*self._args(layer, z, gamma, beta, running_mean, running_var, eps, TRAINING_MOMENTUM))
        return _out(y, z.dtype)
