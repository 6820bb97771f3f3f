"""Adapter: the protocol mapped onto Keras 3's own batch norm, ``keras.layers.BatchNormalization``, on JAX.

Framework APIs used (nothing of BN's arithmetic is re-implemented here):

- ``keras.layers.BatchNormalization(axis=-1, dtype="float64" | "float32")``
  (z's dtype), built once per (number of units, dtype) with
  ``layer.build((None, n))``; its ``epsilon`` and ``momentum`` come from the
  protocol's arguments (see below); its weights ``gamma``, ``beta`` (trainable) and
  ``moving_mean``, ``moving_variance`` (non-trainable) are given by value to
  ``layer.stateless_call(trainable_values, non_trainable_values, x,
  training=...)``, Keras' side-effect-free call, inside ``jax.jit``.
- training mode, ``training=True``: one program gives the output, the new
  ``moving_mean`` and ``moving_variance`` (the non-trainable values the
  stateless call returns) and ``jax.value_and_grad`` of ``sum(grad * output)``
  with respect to x, gamma and beta.  ``forward`` and ``backward`` run it
  while the layer holds the non-trivial moving statistics mean 3, variance 7
  (a training output that used them would be caught); ``update_running`` runs
  it with the given statistics and ``momentum``.
- ``forward_eval``: ``training=False``.

The layer reads ``self.epsilon`` and ``self.momentum`` when it is called: they
are set to traced 0-d arrays of z's dtype while a program is traced (and put
back after), so that one compiled program serves every eps and momentum;
programs are compiled once per (m, n, dtype) and cached (a compile costs about
0.1 s, a call about 50 us).

:data:`FINDINGS` explains the clauses Keras breaks, all for one cause: the
layer normalizes float64 input in float32 (see :data:`FLOAT32`).

Keras must run on the JAX backend: importing this module sets
``KERAS_BACKEND=jax`` unless it is already set (ImportError if Keras was set up
with another backend) and turns on ``jax_enable_x64`` for float64.  Layout
``batch_first`` (Keras' feature axis -1), profile ``keras``.  Importing this
module without Keras and JAX raises ImportError.
"""

from __future__ import annotations

import os

# Keras reads KERAS_BACKEND when it is first imported: set it before any import below (hence E402).
os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from .compiled_layer import CompiledLayerBN  # noqa: E402

jax.config.update("jax_enable_x64", True)

import keras  # noqa: E402

if keras.backend.backend() != "jax":
    raise ImportError(
        f"the keras adapter needs Keras' JAX backend; Keras runs on {keras.backend.backend()!r} "
        "(set KERAS_BACKEND=jax before importing keras)"
    )

#: The cause of every finding (keras/src/layers/normalization/batch_normalization.py, ``call``, and
#: keras/src/backend/common/dtypes.py, ``BIT64_TO_BIT32_DTYPE``).
FLOAT32 = (
    "keras.layers.BatchNormalization.call computes in backend.result_type(inputs.dtype, 'float32'), and Keras' "
    "result_type maps float64 to float32 on every backend but TensorFlow ('Force to be 32-bit dtype when "
    "encountering 64-bit dtype', whatever jax_enable_x64 says): a layer built with dtype='float64' casts its "
    "float64 input, gamma, beta and moving statistics to float32, normalizes in float32 and casts the result "
    "back, so every float64 result carries float32 rounding (about 6e-8 relative, 2^29 times float64's) and "
    "values below 1e-38 underflow to 0 (with that mapping patched to float64 every clause passes)"
)

#: clause ID -> why keras.layers.BatchNormalization (JAX backend, float64, profile ``keras``) breaks it.
FINDINGS: dict[str, str] = {
    "BN-VAR-1": f"On nearly constant float64 units far from 0, dz carries float32 rounding (9629.62988 for "
                f"9629.62963, 16 x the tolerance). {FLOAT32}.",
    "BN-NORM-1": f"The output's mean per unit is about 1e-8, not 0 within float64 rounding. {FLOAT32}.",
    "BN-NORM-2": f"The output's variance is off by about 5e-8 (1.0000000264 for 0.9999999810). {FLOAT32}.",
    "BN-AFFINE-1": f"forward(z, gamma, beta) differs from gamma * forward(z, 1, 0) + beta by float32 rounding "
                   f"(gamma and beta are rounded to float32). {FLOAT32}.",
    "BN-AFFINE-2": f"forward(z, sqrt(sigma^2 + eps), mu, eps) gives back z only to float32 precision "
                   f"(1.2424570322 for 1.2424570547). {FLOAT32}.",
    "BN-AFFINE-3": f"The output's mean and spread hold only to float32 precision. {FLOAT32}.",
    "BN-FWD-REF": f"forward differs from the reference by float32 rounding (8e-9 against a 1.5e-14 tolerance). "
                  f"{FLOAT32}.",
    "BN-INV-1": f"forward(z + b) differs from forward(z): z + b is rounded to float32 before the mean is "
                f"subtracted. {FLOAT32}.",
    "BN-INV-2": f"dz at z + b differs from dz at z (-8333.328125 for -8333.333984375). {FLOAT32}.",
    "BN-LOC-2": f"Permuting the examples changes dz by float32 rounding of the reordered sums. {FLOAT32}.",
    "BN-GRAD-1": f"dz disagrees with finite differences of the layer's own forward, which moves in float32 "
                 f"steps. {FLOAT32}.",
    "BN-GRAD-2": f"dgamma disagrees with finite differences of forward in gamma. {FLOAT32}.",
    "BN-GRAD-3": f"dbeta disagrees with finite differences of forward in beta. {FLOAT32}.",
    "BN-GRAD-4": f"dbeta is sum(grad) summed in float32 (1.3506262302 for 1.3506262031). {FLOAT32}.",
    "BN-GRAD-5": f"dgamma differs from sum(grad * z_norm) by float32 rounding. {FLOAT32}.",
    "BN-GRAD-6": f"sum(dz) per unit is not 0 (observed -0.00098 at an offset). {FLOAT32}.",
    "BN-GRAD-7": f"sum(dz * z_norm) per unit is 7.3e-08 where the clause requires -4.47 (near-constant units, "
                 f"eps = 1e-8: float32 rounding of z decides z_norm). {FLOAT32}.",
    "BN-GRAD-REF": f"dz differs from the reference (-6666.6669921875 for -6666.6666666667). {FLOAT32}.",
    "BN-DEG-1": f"A constant unit at a large offset is not constant after the float32 mean is subtracted: "
                f"its output is -0.0012, not beta = 0. {FLOAT32}.",
    "BN-DEG-2": f"At m = 1 the output and dbeta are beta and grad rounded to float32. {FLOAT32}.",
    "BN-RUN-1": f"The new moving mean and variance are computed, and the old ones rounded, in float32 "
                f"(1.8865652084 for 1.8865652522). {FLOAT32}.",
    "BN-RUN-2": f"The converged moving statistics are float32 values (a mean of 1.07e-177 becomes 0). {FLOAT32}.",
    "BN-EVAL-1": f"forward_eval rounds z and the moving statistics to float32 (1.0513331838 for 1.0513332239). "
                 f"{FLOAT32}.",
    "BN-EVAL-3": f"Inference BN differs from the folded dense layer by float32 rounding. {FLOAT32}.",
    "NET-BIAS-1": f"A bias before BN leaves a float32-sized gradient db1 = -2.3e-10 instead of 0. {FLOAT32}.",
    "NET-GRAD-1": f"The network's gradient disagrees with finite differences of its loss, which moves in float32 "
                  f"steps. {FLOAT32}.",
}


class _Layer:
    """One built ``BatchNormalization`` for n units in one dtype, and its compiled programs."""

    def __init__(self, n: int, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.layer = keras.layers.BatchNormalization(axis=-1, dtype=dtype.name)
        self.layer.build((None, n))
        self.trainable = [v.name for v in self.layer.trainable_variables]  # gamma, beta
        self.non_trainable = [v.name for v in self.layer.non_trainable_variables]  # moving_mean, moving_variance
        # Compiled per shape: one program for training mode, one for inference.
        self.train = jax.jit(self._train)
        self.eval = jax.jit(lambda *a: self._call(*a, training=False))

    def _call(self, x, gamma, beta, mean, var, eps, momentum, *, training: bool):
        values = {"gamma": gamma, "beta": beta, "moving_mean": mean, "moving_variance": var}
        layer = self.layer
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


class KerasBN(CompiledLayerBN):
    """The protocol on ``keras.layers.BatchNormalization`` (layout ``batch_first``, profile ``keras``)."""

    profile = "keras"
    update_eps = 1e-3  # keras.layers.BatchNormalization's default epsilon

    def new_layer(self, n: int, dtype: np.dtype) -> _Layer:
        return _Layer(n, dtype)
