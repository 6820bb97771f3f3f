"""onnx.reference: BatchNormalization (training_mode=1) computes a float16 input's variance in float16.

onnx/reference/ops/op_batch_normalization.py, ``_batchnorm_training_mode`` (called by
``BatchNormalization_14._run``, which serves opset 14 and 15; onnx 1.23.2) takes
``saved_var = x.var(axis=axis)`` on x itself, and numpy's ``var`` of float16 data squares the
deviations in float16: 8 values evenly spread over 0..1000 have deviations up to 500, whose squares
overflow float16's 65504.  The variance is inf, Y = (x - mean) / sqrt(inf) is 0 for every element and
running_var is inf.  The operator's definition (current_var = ReduceVar(X)) has the variance
107141 -- above float16's range, but Y = (x - 500) / 327.3 lies in [-1.53, 1.53], and ONNX Runtime's CPU kernel
returns that Y (onnxruntime 1.32.0).  Run: ``python docs/findings/onnx-reference-float16-variance.py``.
"""

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT16, shape)
          for name, shape in (("X", [8, 1]), ("scale", [1]), ("B", [1]), ("mean", [1]), ("var", [1]))]
outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT16, shape)
           for name, shape in (("Y", [8, 1]), ("running_mean", [1]), ("running_var", [1]))]
node = helper.make_node("BatchNormalization", [i.name for i in inputs], [o.name for o in outputs],
                        epsilon=1e-5, momentum=0.9, training_mode=1)
model = helper.make_model(helper.make_graph([node], "bn", inputs, outputs),
                          opset_imports=[helper.make_opsetid("", 15)])

x = np.linspace(0, 1000, 8).astype(np.float16).reshape(8, 1)
one, zero = np.ones(1, np.float16), np.zeros(1, np.float16)
y, running_mean, running_var = ReferenceEvaluator(model).run(
    None, {"X": x, "scale": one, "B": zero, "mean": zero, "var": one})
exact = (x.astype(np.float64) - x.astype(np.float64).mean()) / np.sqrt(x.astype(np.float64).var() + 1e-5)
print("Y:", y.ravel(), "\nexact Y:", exact.ravel().round(4), "\nrunning_var:", running_var)
assert np.allclose(y.astype(np.float64), exact, atol=2e-3), "Y is wrong: the variance overflowed float16"
