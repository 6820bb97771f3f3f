"""ONNX Runtime's own ``BatchNormalization`` (opset 15) behind the protocol.

Each call runs a one-node ONNX model, built with ``onnx.helper.make_node``,
``make_graph`` and ``make_model`` at opset 15, in an
``onnxruntime.InferenceSession`` on the ``CPUExecutionProvider``:

- ``forward``: ``training_mode=1`` (outputs Y, running_mean, running_var; only Y
  is returned).  The node receives *non-trivial* running statistics (mean 3.0,
  variance 7.0), so that a training output that wrongly used them would differ
  from the batch-statistics output the clauses require.
- ``update_running``: ``training_mode=1`` with ``momentum=momentum``; returns the
  node's running_mean and running_var outputs.
- ``forward_eval``: ``training_mode=0`` (inference with input_mean, input_var).
- ``backward``: none -- ONNX has no gradients, so its clauses are "not applicable".

ONNX is channels first: the operator's X is ``(N x C x D1 x D2 ... Dn)`` (the
BatchNormalization schema, ``onnx.defs.get_schema('BatchNormalization', 15)``), and
ONNX Runtime's CPU kernel takes any number of spatial dims (0 to 5 checked with
ONNX Runtime 1.32, training and inference mode), so ``layout = "channels_first"``
with spatial ranks 0 to 3: ``z`` is ``(N, C, *S)`` (``(N, C)``,
``(N, C, L)``, ``(N, C, H, W)``, ``(N, C, D, H, W)``) and the per-channel arrays
are ``(C,)``.  z is fed as a fresh C-contiguous copy (``np.array(z, order="C")``),
whatever memory order it comes in.  float64 runs as ``tensor(double)``, float32 as
``tensor(float)``; the per-unit arrays are given z's type.  Sessions are cached
per (mode, shape, dtype, eps, momentum) in a bounded LRU: creating one costs a
millisecond or more, running it tens of microseconds.

ONNX's ``epsilon`` and ``momentum`` are attributes of type FLOAT, i.e. IEEE
single precision (``AttributeProto.f``; ``onnx.defs.get_schema('BatchNormalization',
15)``): a float64 model computes with eps and momentum rounded to float32.  The
clauses draw both representable in float32 (``bnspec.spec.strategies.attribute``),
so the float64 arithmetic is judged exactly; an eps that is not a float32 value
would reach the operator changed by up to 3e-8 relative.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper

#: The operator's version this adapter builds (BatchNormalization-15).
OPSET = 15
#: IR version 8 is the one that goes with opset 15.
IR_VERSION = 8
#: Running statistics handed to the training-mode node by ``forward``.
FORWARD_RUNNING_MEAN = 3.0
FORWARD_RUNNING_VAR = 7.0
#: Sessions kept alive (each eps or momentum value needs its own model).
MAX_SESSIONS = 256

_TENSOR_TYPES = {np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(np.float32): TensorProto.FLOAT}

#: Clauses ONNX Runtime fails under the ``onnx`` profile, and why: two SHOULDs on edge cases (the evidence:
#: ``bnspec check onnxruntime``, seed 0, 40 examples, channels_first z).
FINDINGS: dict[str, str] = {
    "BN-EMPTY-3": "update_running with m = 0 (X of shape (0, C, 1, 1)) returns running_mean [nan] for [0.] (and a "
                  "NaN variance): ONNX Runtime's training-mode BatchNormalization takes the mean and variance of "
                  "no example, 0/0 = NaN, into input_mean * momentum + mean * (1 - momentum), where PyTorch leaves "
                  "the running statistics unchanged.",
    "BN-INPUT-1": "forward with eps = 0 returns a result, and so does a negative eps (z = [[1.1], [-1.1]], "
                  "eps = -1e-3: 1.0004135 = 1.1 / sqrt(1.21 - 0.001)): the BatchNormalization schema puts no bound "
                  "on its epsilon attribute (onnx.checker accepts 0 and -1e-3) and ONNX Runtime computes "
                  "sqrt(var + epsilon) with it as given.",
}


class OnnxRuntimeBN:
    """The protocol on ONNX Runtime's BatchNormalization (no-argument constructor)."""

    layout = "channels_first"
    #: ONNX Runtime's BatchNormalization takes (N, C, D1, ..., Dn) for any n: bnspec draws 0 to 3.
    spatial_dims = (0, 1, 2, 3)
    profile = "onnx"

    def __init__(self) -> None:
        self._sessions: OrderedDict[tuple, onnxruntime.InferenceSession] = OrderedDict()

    # -- models and sessions ---------------------------------------------------

    @staticmethod
    def _model(shape: tuple[int, ...], dtype: np.dtype, eps: float, momentum: float | None) -> onnx.ModelProto:
        """One BatchNormalization node for X of ``shape`` (N, C, *S); ``momentum is None`` means inference mode."""
        n = shape[1]
        elem = _TENSOR_TYPES[dtype]
        inputs = [helper.make_tensor_value_info("X", elem, list(shape))] + [
            helper.make_tensor_value_info(name, elem, [n]) for name in ("scale", "B", "input_mean", "input_var")
        ]
        outputs = [helper.make_tensor_value_info("Y", elem, list(shape))]
        attributes: dict[str, Any] = {"epsilon": eps}
        if momentum is not None:
            outputs += [helper.make_tensor_value_info(name, elem, [n]) for name in ("running_mean", "running_var")]
            attributes.update(training_mode=1, momentum=momentum)
        node = helper.make_node(
            "BatchNormalization", [i.name for i in inputs], [o.name for o in outputs], **attributes
        )
        graph = helper.make_graph([node], "batch_norm", inputs, outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
        onnx.checker.check_model(model)
        return model

    def _session(
        self, shape: tuple[int, ...], dtype: np.dtype, eps: float, momentum: float | None
    ) -> onnxruntime.InferenceSession:
        key = (shape, dtype.str, float(eps), None if momentum is None else float(momentum))
        session = self._sessions.get(key)
        if session is None:
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(
                self._model(shape, dtype, eps, momentum).SerializeToString(), options,
                providers=["CPUExecutionProvider"],
            )
            self._sessions[key] = session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(key)
        return session

    def _run(
        self,
        z: np.ndarray,
        per_unit: dict[str, np.ndarray],
        eps: float,
        momentum: float | None,
    ) -> list[np.ndarray]:
        z = np.asarray(z)
        if z.ndim < 2:  # ONNX Runtime refuses it too (ShapeInferenceError: X is (N, C, ...))
            raise ValueError(f"z: expected (N, C, *S), got shape {z.shape}")
        if z.dtype not in _TENSOR_TYPES:
            raise TypeError(f"z: dtype {z.dtype} is not supported (float64 -> double, float32 -> float)")
        n = z.shape[1]
        feeds = {"X": np.array(z, copy=True, order="C")}
        for name, value in per_unit.items():
            value = np.asarray(value)
            if value.shape != (n,):
                raise ValueError(f"{name}: expected shape ({n},), got {value.shape}")
            feeds[name] = np.array(value, dtype=z.dtype, copy=True)
        session = self._session(z.shape, z.dtype, eps, momentum)
        return [np.asarray(out) for out in session.run(None, feeds)]

    # -- the protocol ----------------------------------------------------------

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        n = np.shape(z)[1] if np.ndim(z) >= 2 else 0
        running = {
            "input_mean": np.full(n, FORWARD_RUNNING_MEAN),
            "input_var": np.full(n, FORWARD_RUNNING_VAR),
        }
        # momentum is the operator's default 0.9: it only touches the ignored running outputs.
        y, _, _ = self._run(z, {"scale": gamma, "B": beta, **running}, eps, 0.9)
        return y

    def update_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        n = np.shape(z)[1] if np.ndim(z) >= 2 else 0
        affine = {"scale": np.ones(n), "B": np.zeros(n)}
        # eps is the operator's default: it only touches the ignored Y.
        _, new_mean, new_var = self._run(
            z, {**affine, "input_mean": running_mean, "input_var": running_var}, 1e-5, momentum
        )
        return new_mean, new_var

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        (y,) = self._run(
            z, {"scale": gamma, "B": beta, "input_mean": running_mean, "input_var": running_var}, eps, None
        )
        return y
