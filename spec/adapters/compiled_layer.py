"""The protocol over a framework layer compiled into two programs (training, inference).

Flax's and Keras' adapters each build, per (number of units, dtype), a layer
object with ``train(x, scale, bias, mean, var, eps, momentum, grad)`` -> (output,
new mean, new var, dx, dscale, dbias) and ``eval(x, scale, bias, mean, var, eps,
momentum)`` -> (output, mean, var); this base maps the four protocol functions
onto them.  Nothing of BN's arithmetic is here.

Layout ``channels_last`` (both frameworks' feature axis is -1 and they reduce over
every other axis): z is ``(N, *S, C)`` with 0 to 3 spatial dims, the per-channel
arrays ``(C,)``.  A layer is built per (C, dtype) and serves every shape; z
reaches the framework as a numpy array in any memory order (``jax.numpy`` and
``torch.from_numpy`` of a copy take every one).  A subclass may declare another
``layout``: the units' axis is taken from it.

Shapes: a framework that compiles a program per shape of z (``jax.jit``: about
0.2 s for a training program) would compile one for nearly every example, the
runner drawing a new factorization ``N * prod(S)`` of m each time (some 400 per
``bnspec check``).  With ``fold_examples`` (Flax's and Keras' adapters) z reaches
the layer as :func:`folded_shape` says: its examples refolded, in their C order,
into the first factorization of m with the same number of spatial dims (N >= 2
and every S_i >= 2 where m allows) -- one shape, hence one program, per (m,
spatial rank, C, dtype).  The values of each channel and their order are
unchanged, and so is the rank of z; the layer reduces over every axis but the
channels', so the factorization changes only the order of its sums.  The results
are refolded back to z's shape (:func:`refold`).  Without it (the default) the
layer gets the shape drawn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..layouts import Layout, factorizations

#: The running statistics the layer holds in training mode: far from the
#: initial (0, 1), so that a training output that used them would be wrong.
TRAINING_RUNNING_MEAN = 3.0
TRAINING_RUNNING_VAR = 7.0
#: The momentum forward and backward hand the layer (their running update is discarded).
TRAINING_MOMENTUM = 0.99


def stats_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of the running statistics, eps and momentum for a layer of ``dtype``: at least float32."""
    return np.promote_types(dtype, np.float32)


def folded_shape(shape: tuple[int, ...], unit_axis: int) -> tuple[int, ...]:
    """The shape of a z of ``shape`` (units on ``unit_axis``, 1 or the last) with its m examples ``(N, *S)``
    refolded into the first factorization of m with as many spatial dims
    (:func:`~bnspec.spec.layouts.factorizations`: N >= 2 and every S_i >= 2 where m allows them): one
    shape per (m, spatial rank, units), whichever factorization the runner drew.  A framework that
    compiles a program per shape then compiles one for all of them."""
    if len(shape) < 2:
        return tuple(shape)
    rest = tuple(s for i, s in enumerate(shape) if i != unit_axis)
    canonical = factorizations(math.prod(rest), len(rest) - 1)[0]
    return (*canonical[:unit_axis], shape[unit_axis], *canonical[unit_axis:])


def refold(a: Any, shape: tuple[int, ...], unit_axis: int) -> np.ndarray:
    """``a``'s values laid out in ``shape``, which has the same units on the same axis (1 or the last) and
    the same number of examples: the positions of ``(N, *S)`` keep their C order (a reshape with the
    units moved last and back), so each unit's values reach the framework unchanged and in order."""
    a = np.asarray(a)
    if a.shape == tuple(shape):
        return a
    last = np.moveaxis(a, unit_axis, -1)
    rest = tuple(s for i, s in enumerate(shape) if i != unit_axis)
    return np.moveaxis(last.reshape(*rest, a.shape[unit_axis]), -1, unit_axis)


def _out(value: Any, dtype: np.dtype) -> np.ndarray:
    """A fresh, writable numpy array of ``dtype``."""
    return np.array(value, dtype=dtype)


class CompiledLayerBN:
    """Base of an adapter: subclasses set ``profile`` and ``update_eps`` (the eps
    of the running update, the framework's default) and build layers in
    :meth:`new_layer`."""

    layout = "channels_last"
    #: The spatial ranks of z: (N, C) to (N, D, H, W, C).
    spatial_dims = (0, 1, 2, 3)
    #: Whether to refold z's examples to one shape per (m, spatial rank) before the layer sees it
    #: (:meth:`layer_shape`): for a framework that compiles a program per shape.
    fold_examples = False
    update_eps: float

    def __init__(self) -> None:
        self._layers: dict[tuple[int, np.dtype], Any] = {}

    def new_layer(self, n: int, dtype: np.dtype) -> Any:
        raise NotImplementedError

    def _units(self, z: np.ndarray) -> int:
        """The number of units (channels) of z in this adapter's layout."""
        return np.shape(z)[self._unit_axis(z)]

    def _layer(self, z: np.ndarray) -> Any:
        key = (self._units(z), np.dtype(z.dtype))
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

    def _training_stats(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self._units(z)
        return np.full(n, TRAINING_RUNNING_MEAN), np.full(n, TRAINING_RUNNING_VAR)

    def _unit_axis(self, z: np.ndarray) -> int:
        return Layout(self.layout).unit_axis(np.ndim(z))

    def layer_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape a z of ``shape`` reaches the layer in: :func:`folded_shape` if ``fold_examples``
        (the layer reduces over every axis but the units': the refold keeps each unit's values and
        their order, and hands the framework the same rank), else ``shape`` itself."""
        if not self.fold_examples:
            return tuple(shape)
        return folded_shape(tuple(shape), Layout(self.layout).unit_axis(len(shape)))

    def _train(self, z, gamma, beta, mean, var, eps, momentum, grad=None) -> tuple[Any, ...]:
        layer = self._layer(z)
        shape, axis = self.layer_shape(np.shape(z)), self._unit_axis(z)
        grad = np.zeros(shape) if grad is None else refold(grad, shape, axis)
        return layer.train(*self._args(layer, refold(z, shape, axis), gamma, beta, mean, var, eps, momentum),
                           np.asarray(grad, layer.dtype))

    def _back(self, value: Any, z: np.ndarray) -> np.ndarray:
        """A result of the layer's shape as a fresh array of z's shape and dtype."""
        return _out(refold(value, np.shape(z), self._unit_axis(z)), z.dtype)

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        y = self._train(z, gamma, beta, *self._training_stats(z), eps, TRAINING_MOMENTUM)[0]
        return self._back(y, z)

    def backward(
        self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dz, dgamma, dbeta = self._train(z, gamma, beta, *self._training_stats(z), eps, TRAINING_MOMENTUM, grad)[3:]
        return self._back(dz, z), _out(dgamma, z.dtype), _out(dbeta, z.dtype)

    def update_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        n = self._units(z)
        mean, var = self._train(z, np.ones(n), np.zeros(n), running_mean, running_var, self.update_eps,
                                momentum)[1:3]
        return _out(mean, z.dtype), _out(var, z.dtype)

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        layer = self._layer(z)
        folded = refold(z, self.layer_shape(np.shape(z)), self._unit_axis(z))
        y, _, _ = layer.eval(*self._args(layer, folded, gamma, beta, running_mean, running_var, eps,
                                         TRAINING_MOMENTUM))
        return self._back(y, z)
