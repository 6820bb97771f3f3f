"""Adapter: the protocol mapped onto Keras 3's own batch norm, ``keras.layers.BatchNormalization``, on JAX.

Framework APIs used (nothing of BN's arithmetic is re-implemented here):

- ``keras.layers.BatchNormalization(axis=-1, dtype="float64" | "float32")``
  (z's dtype), built once per (number of channels C, dtype, rank of z) with
  ``layer.build((None,) * (rank - 1) + (C,))`` -- ``build`` fixes the reduction
  axes, every axis of that rank but the last; its ``epsilon`` and ``momentum`` come from the
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
programs are compiled once per (shape, dtype) and cached (a compile costs about
0.2 s, a call about 50 us); z reaches the layer refolded to one shape per (m,
spatial rank) (``fold_examples``, see :mod:`~bnspec.spec.adapters.compiled_layer`).

:data:`FINDINGS` explains the clauses Keras breaks: the MUSTs all for one cause,
the layer normalizes float64 input in float32 (see :data:`FLOAT32`); three
SHOULDs on edge cases for its own (an empty batch, :data:`EMPTY_BATCH`; eps <= 0).

The layer runs in a child process with ``KERAS_BACKEND=jax``
(:class:`~bnspec.spec.adapters.in_child.ChildProcessBN`: Keras picks its
backend once per process, and TensorFlow's import sets it up on TensorFlow);
there :class:`~bnspec.spec.adapters.keras_jax_layer.KerasJaxLayerBN` turns on
``jax_enable_x64`` for float64 and maps the layer in process.  Layout
``channels_last``: z is ``(N, *S, C)`` with 0 to 3 spatial dims (Keras' NHWC:
``axis=-1``, and ``build`` sets ``_reduction_axes`` to every other axis of the
input's rank, keras/src/layers/normalization/batch_normalization.py), the
per-channel arrays ``(C,)``; z is passed in whatever memory order it comes
(``jax.numpy`` copies it).  Profile ``keras``.  Importing this module without
Keras and JAX raises ImportError; it imports neither in the calling process.
"""

from __future__ import annotations

import importlib.util

from ..matrix import Deviation
from .in_child import ChildProcessBN

for _module in ("keras", "jax"):
    if importlib.util.find_spec(_module) is None:
        raise ImportError(f"the keras adapter needs {_module}, which is not installed")

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

#: The cause of the empty mini-batch's findings.
EMPTY_BATCH = (
    "keras.layers.BatchNormalization takes the statistics of an empty batch as ops.moments gives them: the mean "
    "and the variance over no example are 0/0 = NaN, and it neither refuses m = 0 nor skips the update "
    "(PyTorch returns an empty output, zero gradients of gamma and beta, and leaves the running statistics)"
)

#: clause ID -> why keras.layers.BatchNormalization (JAX backend, float64, profile ``keras``) breaks it (the
#: evidence: ``bnspec check keras``, seed 0, 40 examples, channels_last z).
FINDINGS: dict[str, str] = {
    "BN-VAR-1": Deviation("On nearly constant float64 units far from 0 the output carries float32 rounding (-0.0095363 "
                          "for 6.2e-11).", FLOAT32),
    "BN-VAR-2": Deviation("On the same units dz carries float32 rounding (7343.4990234375 for 7343.4994711517, 109 x "
                          "the tolerance).", FLOAT32),
    "BN-NORM-1": Deviation("The output's mean per unit is 3.2e-08, not 0 within float64 rounding.", FLOAT32),
    "BN-NORM-2": Deviation("The output's variance is off by about 3e-9 (0.9999999945 for 0.9999999918).", FLOAT32),
    "BN-AFFINE-1": Deviation("forward(z, gamma, beta) differs from gamma * forward(z, 1, 0) + beta by float32 rounding "
                             "(3.7109095795 for 3.7109096174: gamma and beta are rounded to float32).", FLOAT32),
    "BN-AFFINE-2": Deviation("forward(z, sqrt(sigma^2 + eps), mu, eps) gives back z only to float32 precision "
                             "(1.1015249460 for 1.1015249207).", FLOAT32),
    "BN-AFFINE-3": Deviation("The output's spread holds only to float32 precision (variance 0.9999999945 for "
                             "0.9999999918).", FLOAT32),
    "BN-FWD-REF": Deviation("forward differs from the reference by float32 rounding (1.35e-9 against a 1.1e-14 "
                            "tolerance).", FLOAT32),
    "BN-INV-1": Deviation("forward(z + b) differs from forward(z) (-0.9999999931 for -0.9999999972): z + b is rounded "
                          "to float32 before the mean is subtracted.", FLOAT32),
    "BN-INV-2": Deviation("dz at z + b differs from dz at z (5.96e-08 for 0).", FLOAT32),
    "BN-INV-4": Deviation("With gamma = 1.1754943508e-38 (float32's smallest normal number) dz of that unit is a "
                          "float32 subnormal: c * dz at (c z, c^2 eps) is -7.8e-39 where dz at (z, eps) is "
                          "0.", FLOAT32),
    "BN-LOC-2": Deviation("Permuting the examples changes the output by float32 rounding of the reordered sums "
                          "(-0.1878738465 for -0.1878738668).", FLOAT32),
    "BN-LOC-5": Deviation("Permuting the examples changes dz by float32 rounding (-2.98e-08 for 2.98e-08).", FLOAT32),
    "BN-GRAD-1": Deviation("dz disagrees with finite differences of the layer's own forward, which moves in float32 "
                           "steps (6.6e-08 for 0).", FLOAT32),
    "BN-GRAD-2": Deviation("dgamma disagrees with finite differences of forward in gamma (1.46869993 for "
                           "1.46869989).", FLOAT32),
    "BN-GRAD-3": Deviation("dbeta disagrees with finite differences of forward in beta (-0.373006403 for "
                           "-0.373006396).", FLOAT32),
    "BN-GRAD-4": Deviation("dbeta is sum(grad) summed in float32 (-0.3730064034 for -0.3730063957).", FLOAT32),
    "BN-GRAD-5": Deviation("dgamma differs from sum(grad * z_norm) by float32 rounding (1.4686999321 for "
                           "1.4686998902).", FLOAT32),
    "BN-GRAD-6": Deviation("sum(dz) per unit is 5.96e-08, not 0.", FLOAT32),
    "BN-GRAD-7": Deviation("sum(dz * z_norm) per unit is 0 where the clause requires 1.1e-08: float32 rounding decides "
                           "z_norm.", FLOAT32),
    "BN-GRAD-REF": Deviation("dz differs from the reference (2.98e-08 for -5.49e-09).", FLOAT32),
    "BN-DEG-1": Deviation("A constant unit is not constant after the float32 mean is subtracted: its output is "
                          "3.1585354805, not beta = 3.1585355412.", FLOAT32),
    "BN-DEG-2": Deviation("At m = 1 the output is beta rounded to float32 (3.1585354805 for 3.1585355412).", FLOAT32),
    "BN-DEG-3": Deviation("The gradients of a constant unit carry float32 rounding (dz 7343.4990234375 for "
                          "7343.4994934666).", FLOAT32),
    "BN-DEG-4": Deviation("At m = 1 dbeta is grad rounded to float32 (0.5478467345 for 0.5478467493).", FLOAT32),
    "BN-RUN-1": Deviation("The new moving variance is computed, and the old one rounded, in float32 (1.2133572102 for "
                          "1.2133571509).", FLOAT32),
    "BN-RUN-2": Deviation("The converged moving statistics are float32 values (1.2133572102 for "
                          "1.2133571509).", FLOAT32),
    "BN-EVAL-1": Deviation("forward_eval rounds z and the moving statistics to float32 (0.8217701275 for "
                           "0.8217701198).", FLOAT32),
    "BN-EVAL-3": Deviation("Inference BN differs from the folded dense layer by float32 rounding (0.6753061380 for "
                           "0.6753061332).", FLOAT32),
    "NET-BIAS-1": Deviation("A bias before BN leaves a float32-sized gradient db1 = -2.3e-10 instead of 0.", FLOAT32),
    "NET-GRAD-1": Deviation("The network's gradient disagrees with finite differences of its loss, which moves in "
                            "float32 steps (-0.0224772 for -0.0250927).", FLOAT32),
    "BN-EMPTY-2": Deviation("backward with m = 0 returns dgamma = [nan] where the sum over no example is 0 (dbeta is "
                            "0): ops.batch_normalization's -mean * inv term multiplies the empty sum of grad by the "
                            "NaN mean.", EMPTY_BATCH),
    "BN-EMPTY-3": Deviation("update_running with m = 0 returns moving_mean [nan] for [0.] (and a NaN variance): moving "
                            "* momentum + batch statistic * (1 - momentum) takes in the NaN mean and variance of no "
                            "example.", EMPTY_BATCH),
    "BN-INPUT-1": "forward with eps = 0 returns a result, and so does a negative eps (z = [[1.1], [-1.1]], "
                  "eps = -1e-3: 1.0004135 = 1.1 / sqrt(1.21 - 0.001)): keras.layers.BatchNormalization checks no "
                  "epsilon, and ops.batch_normalization computes rsqrt(variance + epsilon) with what it is given.",
}


class KerasBN(ChildProcessBN):
    """``keras``: :class:`~bnspec.spec.adapters.keras_jax_layer.KerasJaxLayerBN` (layout ``channels_last``,
    spatial ranks 0 to 3, profile ``keras``) in a child process with ``KERAS_BACKEND=jax``."""

    LAYER = "bnspec.spec.adapters.keras_jax_layer:KerasJaxLayerBN"
    ENV = {"KERAS_BACKEND": "jax"}
    FINDINGS = FINDINGS
