"""TensorFlow's fused batch norm, ``tf.compat.v1.nn.fused_batch_norm`` (op ``FusedBatchNormV3``), behind the protocol.

Every function makes one eager call of ``fused_batch_norm`` and never recomputes any of BN itself:

- ``forward``: ``is_training=True``, ``exponential_avg_factor=0.5`` with non-trivial running
  statistics (mean 3, variance 7): a training output that used them would be caught; only y is returned.
- ``backward``: ``tf.GradientTape`` gradients of ``sum(grad * y)`` (the same training-mode call)
  with respect to x, scale and offset.
- ``update_running``: ``is_training=True`` with ``mean``, ``variance`` the running statistics and
  ``exponential_avg_factor=momentum``; returns the op's running_mean and running_var.  The op's
  documented update is ``(1 - exponential_avg_factor) * old + exponential_avg_factor * batch`` (the
  momentum weighs the *new* value) and its batch variance carries Bessel's correction m / (m - 1):
  the ``tf`` profile.  At m = 1 the kernel takes the unbiased batch variance as 0 (not 0 / 0).
- ``forward_eval``: ``is_training=False`` with the given mean and variance.

Layout ``channels_last``: ``data_format="NHWC"`` for 4-D x and ``"NDHWC"`` for 5-D, the only ranks
the op takes (``spatial_dims = (2, 3)``); per-channel arrays are ``(C,)``.

dtypes.  The op's x and y are ``T`` in {float32, float16, bfloat16}; scale, offset, mean, variance and
every statistic are ``U`` = float32 only (the op registry: ``Value for attr 'U' of double is not in the
list of allowed values: bfloat16, float``).  float16 and bfloat16 z run as TF's mixed precision does:
x in its own dtype, the per-channel arrays (gamma, beta, running statistics) converted to float32 --
exactly, every float16 and bfloat16 value is a float32 value -- and the results returned as the op gives
them: y (and dz) in z's dtype, dgamma, dbeta and the running statistics in float32.  There is no float64
kernel: a float64 z is run in float32 (the only precision the op has; the results come back float32) and
the clauses, which draw float64, judge it at float64's tolerance -- 29 of the 33 :data:`FINDINGS`
(the others: float32 parameter gradients, empty batches, eps = 0).  ``epsilon`` and
``exponential_avg_factor`` are float attributes (float32).

Importing this module sets TF's thread pools to one thread each (if TF's runtime has not started yet):
the protocol's arrays hold tens of elements, where thread teams only cost.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's start-up banners (oneDNN, absl) on stderr

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ..matrix import Deviation  # noqa: E402

try:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
except RuntimeError:  # TF's runtime already started in this process: keep its setting
    pass

#: Running statistics handed to the training-mode op by forward and backward.
TRAINING_RUNNING_MEAN = 3.0
TRAINING_RUNNING_VAR = 7.0
#: The exponential_avg_factor forward and backward hand the op (its running outputs are discarded).
TRAINING_FACTOR = 0.5

#: numpy dtype of z -> the dtype x is given to the op in (float64 has no kernel: float32).
_X_DTYPES = {"float32": tf.float32, "float16": tf.float16, "bfloat16": tf.bfloat16, "float64": tf.float32}

#: The cause of every finding.
NO_FLOAT64 = (
    "FusedBatchNormV3, the op behind tf.nn.fused_batch_norm, has no float64 kernel: x is T in {float16, "
    "bfloat16, float32} and scale, offset, mean, variance are U = float32 only (tensorflow/core/ops/nn_ops.cc, "
    "REGISTER_OP(\"FusedBatchNormV3\"); a float64 call fails with \"Value for attr 'U' of double is not in the "
    "list of allowed values\"), so the adapter runs the clauses' float64 draws in float32 and every result "
    "carries float32 rounding (about 6e-8 relative), judged at float64's tolerance"
)

#: The TensorFlow source the kernel findings cite (the commit the ``tf`` profile cites; so computes 2.21.0).
_KERNEL = "tensorflow/core/kernels/fused_batch_norm_op.cc at 057091d"

#: The cause of BN-DTYPE-2: TF's mixed precision keeps the per-channel parameters in float32.
FLOAT32_PARAMETERS = (
    "FusedBatchNormV3's scale and offset are U = float32 whatever x is (TF's mixed precision: float16 or "
    "bfloat16 activations, float32 parameters), so the adapter passes float16 gamma and beta converted to "
    "float32 (exactly) and FusedBatchNormGradV3 returns scale_backprop and offset_backprop in float32; dz comes "
    "back in x's dtype"
)

#: clause ID -> why tf.nn.fused_batch_norm breaks it under the ``tf`` profile.
FINDINGS: dict[str, str] = {
    "BN-DTYPE-2": Deviation("backward on float16 input returns dgamma and dbeta as float32.", FLOAT32_PARAMETERS),
    "BN-NORM-1": Deviation("The output's mean per unit is 3e-8, not 0 within float64 rounding.", NO_FLOAT64),
    "BN-NORM-2": Deviation("The output's variance is 1 where sigma^2 / (sigma^2 + eps) = 0.9999999918: eps = 1e-8 is "
                           "lost in float32.", NO_FLOAT64),
    "BN-AFFINE-1": Deviation("forward(z, gamma, beta) differs from gamma * forward(z, 1, 0) + beta by float32 rounding "
                             "(4.99053907 for 4.99053889).", NO_FLOAT64),
    "BN-AFFINE-2": Deviation("forward(z, sqrt(sigma^2 + eps), mu) gives back z only to float32 precision (1.1015249491 "
                             "for 1.1015249207).", NO_FLOAT64),
    "BN-AFFINE-3": Deviation("The output's spread holds only to float32 precision (variance 1 for "
                             "0.9999999918).", NO_FLOAT64),
    "BN-FWD-REF": Deviation("forward differs from the reference by 4e-9 against a 1e-14 tolerance.", NO_FLOAT64),
    "BN-INV-1": Deviation("forward(z + b) differs from forward(z) by 6e-8: z + b is rounded to float32.", NO_FLOAT64),
    "BN-INV-2": Deviation("dz at z + b differs from dz at z by 1.6e-7.", NO_FLOAT64),
    "BN-INV-4": Deviation("At a tiny scale c, c * dz at (c z, c^2 eps) is -1.1e-38 where dz is 0: float32's range ends "
                          "where float64's has 300 decades left.", NO_FLOAT64),
    "BN-LOC-2": Deviation("Permuting the examples changes the output by 6e-8, float32 rounding of the reordered "
                          "sums.", NO_FLOAT64),
    "BN-LOC-5": Deviation("Permuting the examples changes dz by 9e-8, float32 rounding of the reordered "
                          "sums.", NO_FLOAT64),
    "BN-GRAD-1": Deviation("dz disagrees with finite differences of forward, which moves in float32 steps (6e-8 for "
                           "0).", NO_FLOAT64),
    "BN-GRAD-2": Deviation("dgamma disagrees with finite differences of forward in gamma (1.4686999321 for "
                           "1.4686998942).", NO_FLOAT64),
    "BN-GRAD-3": Deviation("dbeta disagrees with finite differences of forward in beta (-0.3730064034 for "
                           "-0.3730063957).", NO_FLOAT64),
    "BN-GRAD-4": Deviation("dbeta is sum(grad) rounded to float32 (-0.3730064034 for -0.3730063957).", NO_FLOAT64),
    "BN-GRAD-5": Deviation("dgamma differs from sum(grad * z_norm) by float32 rounding (1.4686999321 for "
                           "1.4686998942).", NO_FLOAT64),
    "BN-GRAD-6": Deviation("sum(dz) per unit is 5.4e-8, not 0 within float64 rounding.", NO_FLOAT64),
    "BN-GRAD-7": Deviation("sum(dz * z_norm) per unit is -1.6e-7 where the clause requires 1.1e-8.", NO_FLOAT64),
    "BN-GRAD-REF": Deviation("dz differs from the reference by 1.1e-7 (1.08e-7 for -5.5e-9).", NO_FLOAT64),
    "BN-DEG-1": Deviation("A constant unit's output is beta rounded to float32 (3.15853548 for "
                          "3.15853554).", NO_FLOAT64),
    "BN-DEG-2": Deviation("At m = 1 the output is beta (the kernel's m = 1 behaviour matches the profile) but rounded "
                          "to float32 (3.15853548 for 3.15853554).", NO_FLOAT64),
    "BN-DEG-3": Deviation("A constant unit's dz is gamma (grad - mean(grad)) / sqrt(eps) in float32 (7343.49951 for "
                          "7343.49949).", NO_FLOAT64),
    "BN-DEG-4": Deviation("At m = 1 dz = 0 and dgamma = 0, and dbeta is grad rounded to float32 (0.5478467345 for "
                          "0.5478467493).", NO_FLOAT64),
    "BN-RUN-1": Deviation("The running variance is the profile's (Bessel-corrected, factor-weighted) in float32 "
                          "(2.42671442 for 2.42671430).", NO_FLOAT64),
    "BN-RUN-2": Deviation("The converged running variance is a float32 value (2.42671442 for 2.42671430).", NO_FLOAT64),
    "BN-EVAL-1": Deviation("forward_eval is off by 1.2e-8 (0.8217701316 for 0.8217701198).", NO_FLOAT64),
    "BN-EVAL-3": Deviation("Inference BN differs from the folded dense layer by 8e-9.", NO_FLOAT64),
    "NET-BIAS-1": Deviation("A bias before BN leaves a float32-sized gradient db1 = -7e-10 instead of 0.", NO_FLOAT64),
    "NET-GRAD-1": Deviation("The network's gradient disagrees with finite differences of its loss, which moves in "
                            "float32 steps.", NO_FLOAT64),
    "BN-EMPTY-2": f"backward of an empty 5-D batch (0, 1, 1, 1, C) returns dz of shape (0, 1, 1, C): "
                  f"{_KERNEL}, FusedBatchNormGradOpBase::ComputeWithReservedSpace allocates x_backprop in the 4-D "
                  "shape it folds an NDHWC x into, and its early return for an empty x (scale and offset "
                  "gradients set to 0) skips the CopyFrom that gives x_backprop x's 5-D shape back. A 4-D empty "
                  "batch is right; docs/findings/tensorflow-empty-5d-gradient.py reproduces it.",
    "BN-EMPTY-3": f"update_running with m = 0 returns NaN running statistics: {_KERNEL}, the CPU FusedBatchNorm "
                  "functor with is_training = true, 'If input is empty, return NaN mean/variance' "
                  "(SetNanFunctor on running_mean and running_var), whatever the running statistics were.",
    "BN-INPUT-1": "forward with epsilon = 0 returns a result: fused_batch_norm passes epsilon to FusedBatchNormV3 "
                  "unchecked (tensorflow/python/ops/nn_impl.py, fused_batch_norm) and the CPU kernel computes "
                  "rsqrt(batch_variance + epsilon), inf for a constant channel.",
}


def _x(z: np.ndarray) -> tf.Tensor:
    z = np.asarray(z)
    if z.ndim not in (4, 5):
        raise ValueError(f"z: fused_batch_norm takes (N, H, W, C) or (N, D, H, W, C), got shape {z.shape}")
    if z.dtype.name not in _X_DTYPES:
        raise TypeError(f"z: dtype {z.dtype} is not supported (float32, float16, bfloat16; float64 runs in float32)")
    if z.dtype == np.float64:
        return tf.constant(np.array(z, dtype=np.float32))
    return tf.constant(np.array(z, copy=True))


def _channel(value: np.ndarray, c: int, name: str) -> tf.Tensor:
    """A per-channel array as the op's U = float32 (float16 and bfloat16 convert exactly)."""
    value = np.asarray(value)
    if value.shape != (c,):
        raise ValueError(f"{name}: expected shape ({c},), got {value.shape}")
    return tf.constant(value.astype(np.float32))


def _numpy(tensor: tf.Tensor) -> np.ndarray:
    return np.array(tensor.numpy(), copy=True)


class TensorFlowBN:
    """The protocol on ``tf.compat.v1.nn.fused_batch_norm`` (layout ``channels_last``, profile ``tf``)."""

    layout = "channels_last"
    spatial_dims = (2, 3)
    profile = "tf"
    dtypes = ("float32", "float16", "bfloat16")

    @staticmethod
    def _bn(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, mean: np.ndarray, var: np.ndarray, eps: float,
            factor: float, training: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        c = int(x.shape[-1])
        return tf.compat.v1.nn.fused_batch_norm(
            x, scale, offset, mean=_channel(mean, c, "running_mean"), variance=_channel(var, c, "running_var"),
            epsilon=float(eps), data_format="NHWC" if x.shape.rank == 4 else "NDHWC", is_training=training,
            exponential_avg_factor=float(factor))

    @staticmethod
    def _affine(x: tf.Tensor, gamma: np.ndarray, beta: np.ndarray) -> tuple[tf.Tensor, tf.Tensor]:
        c = int(x.shape[-1])
        return _channel(gamma, c, "gamma"), _channel(beta, c, "beta")

    @staticmethod
    def _training_stats(c: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(c, TRAINING_RUNNING_MEAN), np.full(c, TRAINING_RUNNING_VAR)

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        x = _x(z)
        y, _, _ = self._bn(x, *self._affine(x, gamma, beta), *self._training_stats(x.shape[-1]), eps,
                           TRAINING_FACTOR, True)
        return _numpy(y)

    def backward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                 grad: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = _x(z)
        c = int(x.shape[-1])
        scale, offset = self._affine(x, gamma, beta)
        upstream = tf.constant(np.asarray(grad, dtype=x.dtype.as_numpy_dtype))
        with tf.GradientTape() as tape:
            tape.watch([x, scale, offset])
            y, _, _ = self._bn(x, scale, offset, *self._training_stats(c), eps, TRAINING_FACTOR, True)
            objective = tf.reduce_sum(upstream * y)
        dz, dgamma, dbeta = tape.gradient(objective, [x, scale, offset])
        return _numpy(dz), _numpy(dgamma), _numpy(dbeta)

    def update_running(self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray,
                       momentum: float) -> tuple[np.ndarray, np.ndarray]:
        x = _x(z)
        c = int(x.shape[-1])
        # eps is fused_batch_norm's default: it only touches the ignored y.
        affine = self._affine(x, np.ones(c), np.zeros(c))
        _, mean, var = self._bn(x, *affine, running_mean, running_var, 1e-3, momentum, True)
        return _numpy(mean), _numpy(var)

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        x = _x(z)
        y, _, _ = self._bn(x, *self._affine(x, gamma, beta), running_mean, running_var, eps, 1.0, False)
        return _numpy(y)
