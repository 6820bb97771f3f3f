"""onnx.reference: BatchNormalization (training_mode=1) in a double model rounds 1 - momentum to float32.

onnx/reference/ops/op_batch_normalization.py, ``_batchnorm_training_mode`` (called by
``BatchNormalization_14._run``; onnx 1.23.2) computes
``output_mean = mean * momentum + saved_mean * (1 - momentum)``, where momentum is the ``np.float32``
the evaluator makes of the FLOAT attribute (onnx/reference/op_run.py).  ``1 - momentum`` is then a
float32 (numpy 2 keeps a float32 scalar's type against a Python int): the old statistic is weighed by
momentum and the new one by float32(1 - momentum), and the two weights do not add up to 1.  With
momentum = 0.1, a running mean 0 and a batch mean 0.5, running_mean is 0.44999998808 where the
operator's formula, in the model's double precision with momentum as given (float32(0.1)), gives
0.44999999925 -- 1e-8 off, about 1e8 times double's rounding.  ONNX Runtime 1.32.0 gives the latter.
Run: ``python docs/findings/onnx-reference-momentum.py``.
"""

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

inputs = [helper.make_tensor_value_info(name, TensorProto.DOUBLE, shape)
          for name, shape in (("X", [2, 1]), ("scale", [1]), ("B", [1]), ("mean", [1]), ("var", [1]))]
outputs = [helper.make_tensor_value_info(name, TensorProto.DOUBLE, shape)
           for name, shape in (("Y", [2, 1]), ("running_mean", [1]), ("running_var", [1]))]
node = helper.make_node("BatchNormalization", [i.name for i in inputs], [o.name for o in outputs],
                        momentum=0.1, training_mode=1)
model = helper.make_model(helper.make_graph([node], "bn", inputs, outputs),
                          opset_imports=[helper.make_opsetid("", 15)])

x = np.array([[0.0], [1.0]])  # batch mean 0.5
_, running_mean, _ = ReferenceEvaluator(model).run(
    None, {"X": x, "scale": np.ones(1), "B": np.zeros(1), "mean": np.zeros(1), "var": np.zeros(1)})
momentum = float(np.float32(0.1))  # the attribute's value, exactly
expected = 0.0 * momentum + 0.5 * (1.0 - momentum)
print(f"running_mean {running_mean[0]:.17g}, expected {expected:.17g}, error {running_mean[0] - expected:.3g}")
assert abs(running_mean[0] - expected) < 1e-15, "1 - momentum was rounded to float32"
