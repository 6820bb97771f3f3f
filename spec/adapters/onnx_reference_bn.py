"""ONNX's own reference implementation of ``BatchNormalization`` (opset 15) behind the protocol.

Each call runs a one-node ONNX model (``onnx.helper.make_node``, ``make_graph``,
``make_model`` at opset 15, checked by ``onnx.checker.check_model``) in
``onnx.reference.ReferenceEvaluator``, the pure-numpy interpreter that ships with
the ``onnx`` package and defines what the operator computes for its test suite
(onnx/reference/ops/op_batch_normalization.py: opset 15 runs
``BatchNormalization_14._run``):

- ``forward``: ``training_mode=1``, only Y is returned.  The node receives
  non-trivial running statistics (mean 3, variance 7): a training output that
  used them would differ from the batch-statistics output the clauses require.
- ``update_running``: ``training_mode=1`` with ``momentum``; returns the node's
  running_mean and running_var outputs.
- ``forward_eval``: ``training_mode=0`` (inference with input_mean, input_var).
- ``backward``: none -- ONNX has no gradients ("not applicable").

Layout ``channels_first``: X is ``(N, C, *S)`` with 0 to 3 spatial dims (the
operator reduces over every axis but 1), per-channel arrays are ``(C,)``; the
model's inputs have symbolic sizes (N, C, S1, ...), so one model serves every shape of a rank.
dtypes float64 (``tensor(double)``), float32 (``tensor(float)``) and float16
(``tensor(float16)``); the per-channel inputs are given z's type.  Models are
cached per (rank, dtype, mode, eps, momentum) in a bounded LRU.

``epsilon`` and ``momentum`` are FLOAT attributes: the evaluator reads them as
``np.float32`` (onnx/reference/op_run.py), like ONNX Runtime; the clauses draw
both representable in float32.  :data:`FINDINGS` are the evaluator's own: two bugs, each
reproduced in a few lines by docs/findings/onnx-reference-*.py (a float16 variance computed in float16;
1 - momentum rounded to float32), and two behaviours the operator leaves open (an empty batch, eps = 0).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from ..matrix import Deviation

OPSET = 15
IR_VERSION = 8
#: Running statistics handed to the training-mode node by ``forward``.
FORWARD_RUNNING_MEAN = 3.0
FORWARD_RUNNING_VAR = 7.0
MAX_EVALUATORS = 256

_TENSOR_TYPES = {np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(np.float32): TensorProto.FLOAT,
                 np.dtype(np.float16): TensorProto.FLOAT16}

#: Where both bugs live (onnx 1.23.2).
SOURCE = "onnx/reference/ops/op_batch_normalization.py, _batchnorm_training_mode (via BatchNormalization_14._run)"

#: The float16 variance: numpy's ``var`` of float16 data computes in float16.
HALF_VARIANCE = (
    f"{SOURCE} computes saved_var = x.var(axis=axis) on the float16 input itself, and numpy's _var "
    "(numpy/_core/_methods.py) of float16 data takes its mean with a float16 sum (inf past 65504) and squares and "
    "sums the deviations in float16 (inf once a deviation exceeds 255.9; a tiny one loses its low bits) -- where "
    "the operator's doc defines current_var = ReduceVar(X) and ONNX Runtime's CPU kernel gets these cases right. "
    "The reproducer docs/findings/onnx-reference-float16-variance.py: 8 values 0..1000 give Y = 0 everywhere "
    "and running_var = inf"
)
#: ``1 - momentum`` rounded to float32 in a float64 model.
FLOAT32_MOMENTUM = (
    f"{SOURCE} computes output_mean = mean * momentum + saved_mean * (1 - momentum) with momentum the "
    "np.float32 the evaluator makes of the FLOAT attribute (onnx/reference/op_run.py): 1 - momentum is "
    "then rounded to float32 (numpy 2 keeps a float32 scalar's type against a Python int), so a float64 "
    "model weighs the batch statistic by float32(1 - momentum) while it weighs the old one by momentum -- the "
    "two weights no longer add up to 1 (momentum 0.1: off by 1.2e-9, a running mean 0.45 off by 1.1e-8, "
    "1e8 x float64's rounding). The reproducer is docs/findings/onnx-reference-momentum.py"
)

#: clause ID -> why the ONNX reference evaluator breaks it under the ``onnx`` profile.
FINDINGS: dict[str, str] = {
    "BN-F16-1": Deviation("float16 z = [1372, 2982] gives Y = beta (-1.556) for both examples: the squared deviations "
                          "(805^2) overflow to inf, so the variance is inf and z_norm is 0 (the clause requires -2.954 "
                          "and -0.157 within 0.003).", HALF_VARIANCE),
    "BN-F16-2": Deviation("256 float16 values near 300 give Y = 0 everywhere (0.0092 required within 0.004): the "
                          "float16 sum inside numpy's var overflows (RuntimeWarning: overflow encountered in reduce) "
                          "and the variance is not finite.", HALF_VARIANCE),
    "BN-VAR-1": Deviation("A nearly constant float16 unit, z = [10.01, 9.984], gives Y = 0.230 where 0.347 is required "
                          "within 0.003: the deviations of 0.013 are squared and summed with float16's 11 bits, so the "
                          "variance is off by half.", HALF_VARIANCE),
    "BN-RUN-1": Deviation("One update in a float64 model gives a running variance of 1.19202140834 for 1.19202143546 "
                          "(momentum 0.1: 2.7e-8 off, 6e6 x the tolerance).", FLOAT32_MOMENTUM),
    "BN-RUN-2": Deviation("After 60 updates with one float64 mini-batch the running mean is -9.67529494 for "
                          "-9.67529509 (1.5e-7 off): the batch is weighed by float32(1 - momentum) each "
                          "time.", FLOAT32_MOMENTUM),
    "BN-EMPTY-3": f"With m = 0 (N = 0) training mode returns running_mean = NaN for 0: {SOURCE} takes x.mean() and "
                  "x.var() of no element (NaN, with numpy's 'Mean of empty slice' warning) and averages them into "
                  "the running statistics; the operator's doc says nothing of an empty batch.",
    "BN-INPUT-1": "forward with epsilon = 0 returns a result: the operator's doc only gives epsilon's default "
                  "(1e-5), onnx.checker accepts any float, and the evaluator computes (x - mean) / sqrt(var + 0), "
                  "so a constant channel gives 0 / 0 = NaN instead of an error.",
}


def _model(ndim: int, dtype: np.dtype, eps: float, momentum: float | None) -> onnx.ModelProto:
    """One BatchNormalization node for X of ``ndim`` dims of symbolic sizes (N, C, S1, ...);
    ``momentum is None`` means inference mode."""
    elem = _TENSOR_TYPES[dtype]
    x_shape = ["N", "C", *(f"S{i}" for i in range(1, ndim - 1))]
    inputs = [helper.make_tensor_value_info("X", elem, x_shape)] + [
        helper.make_tensor_value_info(name, elem, ["C"]) for name in ("scale", "B", "input_mean", "input_var")]
    outputs = ["Y"] if momentum is None else ["Y", "running_mean", "running_var"]
    shapes = {"Y": x_shape, "running_mean": ["C"], "running_var": ["C"]}
    attributes: dict[str, Any] = {"epsilon": eps, "training_mode": 0 if momentum is None else 1}
    if momentum is not None:
        attributes["momentum"] = momentum
    node = helper.make_node("BatchNormalization", [i.name for i in inputs], outputs, **attributes)
    graph = helper.make_graph([node], "batch_norm", inputs,
                              [helper.make_tensor_value_info(name, elem, shapes[name]) for name in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    onnx.checker.check_model(model)
    return model


class OnnxReferenceBN:
    """The protocol on ``onnx.reference.ReferenceEvaluator`` running BatchNormalization-15."""

    layout = "channels_first"
    profile = "onnx"
    dtypes = ("float64", "float32", "float16")

    def __init__(self) -> None:
        self._evaluators: OrderedDict[tuple, ReferenceEvaluator] = OrderedDict()

    def _evaluator(self, ndim: int, dtype: np.dtype, eps: float, momentum: float | None) -> ReferenceEvaluator:
        key = (ndim, dtype.str, float(eps), None if momentum is None else float(momentum))
        evaluator = self._evaluators.get(key)
        if evaluator is None:
            evaluator = self._evaluators[key] = ReferenceEvaluator(_model(ndim, dtype, eps, momentum))
            while len(self._evaluators) > MAX_EVALUATORS:
                self._evaluators.popitem(last=False)
        else:
            self._evaluators.move_to_end(key)
        return evaluator

    def _run(self, z: np.ndarray, per_channel: dict[str, np.ndarray], eps: float,
             momentum: float | None) -> list[np.ndarray]:
        z = np.asarray(z)
        if z.ndim < 2:
            raise ValueError(f"z: expected (N, C, *S), got shape {z.shape}")
        if z.dtype not in _TENSOR_TYPES:
            raise TypeError(f"z: dtype {z.dtype} is not supported (float64, float32, float16)")
        c = z.shape[1]
        feeds = {"X": np.array(z, copy=True)}
        for name, value in per_channel.items():
            value = np.asarray(value)
            if value.shape != (c,):
                raise ValueError(f"{name}: expected shape ({c},), got {value.shape}")
            feeds[name] = np.array(value, dtype=z.dtype, copy=True)
        outputs = self._evaluator(z.ndim, z.dtype, eps, momentum).run(None, feeds)
        return [np.array(out, copy=True) for out in outputs]

    @staticmethod
    def _channels(z: np.ndarray) -> int:
        return np.shape(z)[1] if np.ndim(z) >= 2 else 0

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        c = self._channels(z)
        running = {"input_mean": np.full(c, FORWARD_RUNNING_MEAN), "input_var": np.full(c, FORWARD_RUNNING_VAR)}
        # momentum is the operator's default 0.9: it only touches the ignored running outputs.
        y, _, _ = self._run(z, {"scale": gamma, "B": beta, **running}, eps, 0.9)
        return y

    def update_running(self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray,
                       momentum: float) -> tuple[np.ndarray, np.ndarray]:
        c = self._channels(z)
        # eps is the operator's default: it only touches the ignored Y.
        _, new_mean, new_var = self._run(z, {"scale": np.ones(c), "B": np.zeros(c), "input_mean": running_mean,
                                             "input_var": running_var}, 1e-5, momentum)
        return new_mean, new_var

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        (y,) = self._run(z, {"scale": gamma, "B": beta, "input_mean": running_mean, "input_var": running_var},
                         eps, None)
        return y
