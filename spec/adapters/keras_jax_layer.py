"""The ``keras`` adapter's in-process half: ``keras.layers.BatchNormalization`` on JAX, in *this* process.

:class:`~bnspec.spec.adapters.keras_bn.KerasBN` serves :class:`KerasJaxLayerBN` in a child process (its
docstring has the mapping); ``bnspec check bnspec.spec.adapters.keras_jax_layer:KerasJaxLayerBN`` checks
it in process.  Keras must run on the JAX backend: importing this module sets ``KERAS_BACKEND=jax``
unless it is already set (ImportError if Keras was set up with another backend, as TensorFlow's
import does) and turns on ``jax_enable_x64`` for float64.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from .compiled_layer import CompiledLayerBN
from .keras_bn import FINDINGS
from .keras_on_jax import jax, keras


class _Layer:
    """Built ``BatchNormalization`` layers for n channels in one dtype (one per rank of z,
    ``ndim`` the first), and their compiled programs."""

    def __init__(self, n: int, dtype: np.dtype, ndim: int = 2) -> None:
        self.n = n
        self.dtype = dtype
        #: rank of z -> the layer built for it (``build`` fixes the reduction axes).
        self.layers: dict[int, Any] = {}
        self.layer = self._built(ndim)
        self.trainable = [v.name for v in self.layer.trainable_variables]  # gamma, beta
        self.non_trainable = [v.name for v in self.layer.non_trainable_variables]  # moving_mean, moving_variance
        # Compiled per shape: one program for training mode, one for inference.
        self._train_program = jax.jit(self._train)
        self._eval_program = jax.jit(lambda *a: self._call(*a, training=False))

    def _built(self, ndim: int) -> Any:
        """The layer for z of rank ``ndim``, built outside any trace (its weights are created then)."""
        if ndim not in self.layers:
            layer = keras.layers.BatchNormalization(axis=-1, dtype=self.dtype.name)
            layer.build((None,) * (ndim - 1) + (self.n,))
            self.layers[ndim] = layer
        return self.layers[ndim]

    def train(self, x, *rest):
        self._built(np.ndim(x))
        return self._train_program(x, *rest)

    def eval(self, x, *rest):
        self._built(np.ndim(x))
        return self._eval_program(x, *rest)

    def _call(self, x, gamma, beta, mean, var, eps, momentum, *, training: bool):
        values = {"gamma": gamma, "beta": beta, "moving_mean": mean, "moving_variance": var}
        layer = self.layers[x.ndim]
        saved = layer.epsilon, layer.momentum
        layer.epsilon, layer.momentum = eps, momentum
        try:
            y, non_trainable = layer.stateless_call(
                [values[name] for name in self.trainable], [values[name] for name in self.non_trainable],
                x, training=training,
            )
        finally:
            layer.epsilon, layer.momentum = saved
        new = dict(zip(self.non_trainable, non_trainable, strict=True))
        return y, new["moving_mean"], new["moving_variance"]

    def _train(self, x, gamma, beta, mean, var, eps, momentum, grad):
        """Training mode: the output, the new moving statistics and the
        gradients of ``sum(grad * output)`` with respect to x, gamma and beta."""

        def objective(x, gamma, beta):
            y, new_mean, new_var = self._call(x, gamma, beta, mean, var, eps, momentum, training=True)
            return jnp.sum(grad * y), (y, new_mean, new_var)

        (_, (y, new_mean, new_var)), (dx, dgamma, dbeta) = jax.value_and_grad(
            objective, argnums=(0, 1, 2), has_aux=True)(x, gamma, beta)
        return y, new_mean, new_var, dx, dgamma, dbeta


class KerasJaxLayerBN(CompiledLayerBN):
    """The protocol on ``keras.layers.BatchNormalization`` in *this* process, whose Keras must run on JAX
    (layout ``channels_last``, spatial ranks 0 to 3, profile ``keras``)."""

    profile = "keras"
    FINDINGS = FINDINGS
    update_eps = 1e-3  # keras.layers.BatchNormalization's default epsilon
    #: One compiled program per (m, spatial rank), not per drawn factorization (see the module's docstring).
    fold_examples = True

    def new_layer(self, n: int, dtype: np.dtype) -> _Layer:
        return _Layer(n, dtype)
