"""Adapter: Keras 3's ``keras.layers.BatchNormalization`` on the *torch* backend, in a child process.

Keras picks its backend once per process, at its first import (``KERAS_BACKEND``): :class:`KerasTorchBN`
runs :class:`KerasTorchLayerBN` in a child process with ``KERAS_BACKEND=torch``
(:class:`~bnspec.spec.adapters.in_child.ChildProcessBN`, as the ``keras`` adapter runs its layer with
JAX).  Where Keras already runs on torch, ``bnspec check
bnspec.spec.adapters.keras_torch_bn:KerasTorchLayerBN`` checks the layer in process.

The layer is mapped as the ``keras`` adapter maps it on JAX, through the same base
(:class:`~bnspec.spec.adapters.compiled_layer.CompiledLayerBN`): ``BatchNormalization(axis=-1,
dtype=z's dtype)`` built per (rank, channels, dtype) and called with ``layer.stateless_call(...,
training=...)``, holding the moving statistics mean 3, variance 7 in training mode; backward is
``torch.autograd.grad`` of ``sum(grad * output)``; ``epsilon`` and ``momentum`` are set on the layer
per call.  Layout ``channels_last`` (0 to 3 spatial dims), profile ``keras``.  Importing this module
without Keras or PyTorch raises ImportError; it imports neither in the calling process.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from .. import bfloat16
from ..bfloat16 import is_bfloat16
from ..matrix import Deviation
from .compiled_layer import CompiledLayerBN
from .in_child import ChildProcessBN

for _module in ("keras", "torch"):
    if importlib.util.find_spec(_module) is None:
        raise ImportError(f"the keras-torch adapter needs {_module}, which is not installed")

#: The child's target, and its backend.
LAYER_TARGET = "bnspec.spec.adapters.keras_torch_bn:KerasTorchLayerBN"
BACKEND = "torch"

_SOURCE = ".venv/lib/python3.11/site-packages/keras/src/backend/torch/nn.py, moments (keras 3.15.1)"
#: The variance Keras' torch backend computes: E[x^2] - E[x]^2, unclamped.
MOMENTS = (
    f"keras.layers.BatchNormalization takes the batch statistics from keras.ops.moments, which on the torch "
    f"backend ({_SOURCE}; the numpy backend's is the same) computes variance = mean(square(x)) - square(mean(x)) "
    "('faster but less numerically stable'), with no clamp at 0: at an offset far from the spread the two terms "
    "cancel, so a float32 unit of values near 1e4 with spread 1 gets variance -16 and the output "
    "(x - mean) / sqrt(-16 + eps) is NaN (the JAX backend takes jnp.var, two passes, and passes BN-VAR-1)"
)
#: keras_bn's cause: float64 input is computed in float32 (result_type maps float64 to float32).
FLOAT32 = (
    "keras.layers.BatchNormalization.call computes in backend.result_type(inputs.dtype, 'float32'), which maps "
    "float64 to float32 on every backend but TensorFlow (keras/src/backend/common/dtypes.py, "
    "BIT64_TO_BIT32_DTYPE), so a float64 layer normalizes in float32 and every float64 result carries float32 "
    "rounding (about 6e-8 relative; the keras adapter's FINDINGS say the same of JAX)"
)

_NAN = "A float64 unit near 28490 with spread 0.08 (rounded to float32) gets a negative variance, hence NaN"

#: clause ID -> why keras.layers.BatchNormalization on torch (profile ``keras``) breaks it.
FINDINGS: dict[str, str] = {
    "BN-VAR-1": Deviation("On nearly constant float64 units near 401.7 every output is NaN, where finite values within "
                          "4e-8 are required.", MOMENTS),
    "BN-VAR-2": Deviation("On nearly constant float64 units dz is 7343.4990 for 7343.4995 (109 x the tolerance): "
                          "E[x^2] - E[x]^2 in float32 loses the spread.", MOMENTS, FLOAT32),
    "BN-F32-1": Deviation("float32 z with a unit near 34.4 of spread 0.04 gives 2.2083 for 2.2017 (5.5 x float32's "
                          "tolerance).", MOMENTS),
    "BN-F32-2": Deviation("float32 z with a unit near 34.4 of spread 0.04 gives dz -0.512 for 0.0003 (5 x float32's "
                          "tolerance).", MOMENTS),
    "BN-INV-3": Deviation(f"{_NAN} in forward(z, eps / c^2) and forward(c z, eps).", MOMENTS),
    "BN-INV-4": Deviation(f"{_NAN} in dz at (z, eps).", MOMENTS),
    "BN-LOC-1": Deviation(f"{_NAN} output on the unit the clause leaves unchanged.", MOMENTS),
    "BN-LOC-4": Deviation(f"{_NAN} dz on the unit the clause leaves unchanged.", MOMENTS),
    "BN-LOC-2": Deviation(f"{_NAN} output, in the permuted and the original order alike.", MOMENTS),
    "BN-LOC-5": Deviation(f"{_NAN} dz, in the permuted and the original order alike.", MOMENTS),
    "BN-LOC-3": Deviation("A float64 unit near 3.16e7 with spread 2e1 (rounded to float32) gets a negative variance: "
                          "the output is NaN before and after the other mini-batches.", MOMENTS),
    "BN-NORM-1": Deviation("The output's mean per unit is 3e-8, not 0 within float64 rounding.", FLOAT32),
    "BN-NORM-2": Deviation("The output's variance is 1 where sigma^2 / (sigma^2 + eps) = 0.9999999918: eps = 1e-8 is "
                           "lost in float32.", FLOAT32),
    "BN-AFFINE-1": Deviation("forward(z, gamma, beta) differs from gamma * forward(z, 1, 0) + beta by float32 rounding "
                             "(4.99053907 for 4.99053889).", FLOAT32),
    "BN-AFFINE-2": Deviation("forward(z, sqrt(sigma^2 + eps), mu) gives back z only to float32 precision (1.1015249491 "
                             "for 1.1015249207).", FLOAT32),
    "BN-AFFINE-3": Deviation("The output's spread holds only to float32 precision (variance 1 for "
                             "0.9999999918).", FLOAT32),
    "BN-FWD-REF": Deviation("forward differs from the reference by 4e-9 against a 1e-14 tolerance.", FLOAT32),
    "BN-INV-1": Deviation("forward(z + b) differs from forward(z) by 3.6e-7: z + b is rounded to float32 and its "
                          "variance cancels.", FLOAT32, MOMENTS),
    "BN-INV-2": Deviation("dz at z + b differs from dz at z by 3e-8.", FLOAT32),
    "BN-GRAD-1": Deviation("dz disagrees with finite differences of forward, which moves in float32 steps (-1.6e-8 for "
                           "0).", FLOAT32),
    "BN-GRAD-2": Deviation("dgamma disagrees with finite differences of forward in gamma (1.4686999321 for "
                           "1.4686998942).", FLOAT32),
    "BN-GRAD-3": Deviation("dbeta disagrees with finite differences of forward in beta (-0.3730064034 for "
                           "-0.3730063957).", FLOAT32),
    "BN-GRAD-4": Deviation("dbeta is sum(grad) rounded to float32 (-0.3730064034 for -0.3730063957).", FLOAT32),
    "BN-GRAD-5": Deviation("dgamma differs from sum(grad * z_norm) by float32 rounding (1.4686999321 for "
                           "1.4686998942).", FLOAT32),
    "BN-GRAD-6": Deviation("sum(dz) per unit is -3.7e-9, not 0 within float64 rounding.", FLOAT32),
    "BN-GRAD-7": Deviation("sum(dz * z_norm) per unit is -6e-8 where the clause requires 1.1e-8.", FLOAT32),
    "BN-GRAD-REF": Deviation("dz differs from the reference by 3.5e-8 (-2.98e-8 for 5.5e-9).", FLOAT32),
    "BN-DEG-1": Deviation("A constant unit's output is beta rounded to float32 (3.15853548 for 3.15853554).", FLOAT32),
    "BN-DEG-2": Deviation("At m = 1 the output is beta rounded to float32 (3.15853548 for 3.15853554).", FLOAT32),
    "BN-DEG-3": Deviation("A constant unit's dz is gamma (grad - mean(grad)) / sqrt(eps) in float32 (7343.49902 for "
                          "7343.49949).", FLOAT32),
    "BN-DEG-4": Deviation("At m = 1 dbeta is grad rounded to float32 (0.5478467345 for 0.5478467493).", FLOAT32),
    "BN-RUN-1": Deviation("The new moving variance is computed in float32 (1.21335721 for 1.21335715).", FLOAT32),
    "BN-RUN-2": Deviation("The converged moving variance is a float32 value (1.21335721 for 1.21335715).", FLOAT32),
    "BN-EVAL-1": Deviation("forward_eval is off by 1.2e-8 (0.8217701316 for 0.8217701198).", FLOAT32),
    "BN-EVAL-3": Deviation("Inference BN differs from the folded dense layer by 8e-9.", FLOAT32),
    "NET-BIAS-1": Deviation("A bias before BN leaves a float32-sized gradient db1 = -4.7e-10 instead of 0.", FLOAT32),
    "NET-GRAD-1": Deviation("The network's gradient disagrees with finite differences of its loss (-0.02248 for "
                            "-0.03112), which moves in float32 steps.", FLOAT32),
    "BN-EMPTY-2": "backward with m = 0 returns dgamma = NaN, not the sum over no example 0: the layer's moments of "
                  "an empty batch are NaN (torch.mean of nothing), and keras' batch_normalization (torch backend) "
                  "scales by rsqrt(variance + eps) * gamma, whose gradient in gamma is 0 * NaN.",
    "BN-EMPTY-3": "update_running with m = 0 returns NaN moving statistics: "
                  "keras/src/layers/normalization/batch_normalization.py, call, assigns moving_mean * momentum + "
                  "mean * (1 - momentum) with the NaN mean of no example (keras.ops.moments on the torch backend).",
    "BN-INPUT-1": "forward with epsilon = 0 returns a result: keras.layers.BatchNormalization takes any epsilon "
                  "(batch_normalization.py, __init__ stores float(epsilon)) and multiplies by rsqrt(variance + 0).",
}


class _Layer:
    """``BatchNormalization`` layers for c channels in one dtype (torch backend), one built per rank of x
    (``build`` fixes the layer's input rank and reduction axes), all holding the same variable names."""

    def __init__(self, c: int, dtype: np.dtype) -> None:
        import torch

        self.torch = torch
        self.c, self.dtype = c, dtype
        self._layers: dict[int, Any] = {}

    def _built(self, ndim: int) -> Any:
        if ndim not in self._layers:
            import keras

            layer = keras.layers.BatchNormalization(axis=-1, dtype=self.dtype.name)
            layer.build((None,) * (ndim - 1) + (self.c,))
            self._layers[ndim] = layer
        return self._layers[ndim]

    def _tensor(self, value: np.ndarray, grad: bool = False) -> Any:
        """A torch tensor holding a private copy of ``value`` (ml_dtypes' bfloat16 crosses as its 16 bits)."""
        value = np.array(value, copy=True)
        if is_bfloat16(value.dtype):
            return self.torch.from_numpy(value.view(np.int16)).view(self.torch.bfloat16).requires_grad_(grad)
        return self.torch.from_numpy(value).requires_grad_(grad)

    def _call(self, x, gamma, beta, mean, var, eps, momentum, *, training: bool) -> tuple[Any, Any, Any]:
        values = {"gamma": gamma, "beta": beta, "moving_mean": mean, "moving_variance": var}
        layer = self._built(x.ndim)
        saved = layer.epsilon, layer.momentum
        layer.epsilon, layer.momentum = float(eps), float(momentum)
        try:
            y, non_trainable = layer.stateless_call(
                [values[v.name] for v in layer.trainable_variables],  # gamma, beta
                [values[v.name] for v in layer.non_trainable_variables],  # moving_mean, moving_variance
                x, training=training)
        finally:
            layer.epsilon, layer.momentum = saved
        new = {v.name: value for v, value in zip(layer.non_trainable_variables, non_trainable, strict=True)}
        return y, new["moving_mean"], new["moving_variance"]

    def _numpy(self, tensor: Any) -> np.ndarray:
        tensor = tensor.detach().cpu()
        if tensor.dtype == self.torch.bfloat16:  # back as ml_dtypes' bfloat16, bit for bit
            return tensor.view(self.torch.int16).numpy().copy().view(bfloat16.required())
        return tensor.numpy().copy()

    def train(self, x, gamma, beta, mean, var, eps, momentum, grad) -> tuple[np.ndarray, ...]:
        """Training mode: the output, the new moving statistics, and the gradients of
        ``sum(grad * output)`` with respect to x, gamma and beta."""
        xt, gt, bt = self._tensor(x, True), self._tensor(gamma, True), self._tensor(beta, True)
        y, new_mean, new_var = self._call(xt, gt, bt, self._tensor(mean), self._tensor(var), eps, momentum,
                                          training=True)
        dx, dgamma, dbeta = self.torch.autograd.grad((self._tensor(grad) * y).sum(), (xt, gt, bt))
        return tuple(self._numpy(t) for t in (y, new_mean, new_var, dx, dgamma, dbeta))

    def eval(self, x, gamma, beta, mean, var, eps, momentum) -> tuple[np.ndarray, ...]:
        with self.torch.no_grad():
            x, gamma, beta, mean, var = (self._tensor(v) for v in (x, gamma, beta, mean, var))
            out = self._call(x, gamma, beta, mean, var, eps, momentum, training=False)
        return tuple(self._numpy(t) for t in out)


class KerasTorchLayerBN(CompiledLayerBN):
    """The protocol on ``keras.layers.BatchNormalization`` in *this* process, whose Keras must run on torch."""

    layout = "channels_last"
    profile = "keras"
    dtypes = ("float64", "float32", "float16", "bfloat16")
    update_eps = 1e-3  # keras.layers.BatchNormalization's default epsilon
    FINDINGS = FINDINGS

    def __init__(self) -> None:
        os.environ.setdefault("KERAS_BACKEND", BACKEND)
        import keras
        import torch

        if keras.backend.backend() != BACKEND:
            raise ImportError(f"KerasTorchLayerBN needs Keras' torch backend; Keras runs on "
                              f"{keras.backend.backend()!r} (use the keras-torch adapter, which starts its own "
                              "process)")
        torch.set_num_threads(1)  # tens of elements: a thread team only costs
        super().__init__()

    def new_layer(self, n: int, dtype: np.dtype) -> _Layer:
        return _Layer(n, dtype)


class KerasTorchBN(ChildProcessBN):
    """``keras-torch``: :class:`KerasTorchLayerBN` in a child process with ``KERAS_BACKEND=torch``."""

    LAYER = LAYER_TARGET
    ENV = {"KERAS_BACKEND": BACKEND}
    FINDINGS = FINDINGS
