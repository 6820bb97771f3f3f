"""Adapter: the optimizer protocol mapped onto Keras 3's own optimizers, ``keras.optimizers``, on JAX.

Framework APIs used (nothing of the update rules is re-implemented here):

- ``gd``: ``keras.optimizers.SGD(learning_rate=lr)``; ``momentum``: ``keras.optimizers.SGD(learning_rate=lr,
  momentum=momentum)``; ``rmsprop``: ``keras.optimizers.RMSprop(learning_rate=lr, rho=rho, epsilon=eps)``
  (Keras' defaults ``momentum=0.0``, ``centered=False``); ``adam``: ``keras.optimizers.Adam(learning_rate=lr,
  beta_1=beta1, beta_2=beta2, epsilon=eps)`` (``amsgrad=False``), each built on one ``keras.Variable`` of p's
  dtype and stepped once by ``optimizer.stateless_apply(optimizer_variables, [dp], [p])``, Keras'
  side-effect-free ``apply``, inside ``jax.jit``
  (:class:`~bnspec.spec.adapters.keras_jax_optim.KerasJaxOptimizer` has how hyperparameters are traced).
- The state, given to and read back from Keras' own optimizer variables as they are: ``iterations`` = t - 1
  (Keras' step is ``iterations + 1``), ``learning_rate`` = lr; SGD's ``momentums`` = v (a velocity that
  includes lr); RMSprop's ``_velocities`` = s; Adam's ``_momentums`` = v (first moment) and
  ``_velocities`` = s (second moment).

Keras' conventions (keras 3.15.1, files under keras/src/), against the lecture's formulas:

- momentum_form ``velocity``: ``v = momentum * v - lr * dp``, ``p = p + v`` (optimizers/sgd.py,
  ``SGD.update_step``: ``ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate))``,
  then ``self.assign_add(variable, m)``).  At momentum 0 Keras keeps no velocity at all (``build``: ``if
  self.momentum != 0: self.momentums = self.add_optimizer_variables(variables, "momentum")``) and
  ``update_step`` takes ``self.assign_sub(variable, ops.multiply(gradient, learning_rate))``: p - lr dp,
  v returned as given (not -lr dp).
- rmsprop_eps ``inside``: ``p = p - lr * dp / sqrt(s + eps)`` (optimizers/rmsprop.py, ``update_step``:
  ``denominator = ops.add(velocity, self.epsilon)``, ``ops.divide(ops.multiply(lr, gradient),
  ops.sqrt(denominator))``); s itself is the lecture's (``ops.multiply(rho, velocity)`` +
  ``ops.multiply(1 - rho, ops.square(gradient))``).
- adam_eps ``uncorrected``: ``alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)`` and
  ``p -= ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))`` (optimizers/adam.py,
  ``update_step``), with ``local_step = ops.cast(self.iterations + 1, variable.dtype)``; the averages are
  written ``m += (g - m) * (1 - beta_1)`` (``ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1)``):
  the lecture's value, rounded differently.
- lr is rounded to float32 whatever p's dtype: optimizers/base_optimizer.py, ``BaseOptimizer.__init__``
  keeps it in ``backend.Variable(learning_rate, name="learning_rate", dtype=backend.floatx(), ...)``
  (floatx float32) and each ``update_step`` does ``ops.cast(learning_rate, variable.dtype)``: a float64 step
  is ``fl32(lr) * ...`` (lr = 0.1, dp = 1: p - 0.10000000149011612).
- In float32 the bias corrections use beta rounded to float32 and a float32 power: ``ops.power(
  ops.cast(self.beta_1, variable.dtype), local_step)`` (optimizers/adam.py), so 1 - beta2^t carries the
  power's rounding amplified by 1 / (1 - beta2^t).
- The step count is an int32 variable on JAX (backend/common/dtypes.py: ``"int": "int64" if
  config.backend() == "tensorflow" else "int32"``): a t that is not an integer is truncated (2.5 -> step 2),
  as ``iterations.assign(1.5)`` gives 1.

Keras' checks (what it does with bad input is the finding; the adapter adds none): only SGD's momentum is
checked -- ``if not isinstance(momentum, float) or momentum < 0 or momentum > 1: raise
ValueError("`momentum` must be a float between [0, 1].")`` (optimizers/sgd.py; momentum 1.0 and NaN pass)
-- and ``learning_rate`` must be a float (base_optimizer.py, a negative one passes).  rho, beta_1, beta_2
and epsilon are not checked, nor is the step count (t = 0 gives 0 / 0 = NaN in alpha).

The optimizers run in a child process with ``KERAS_BACKEND=jax``
(:class:`~bnspec.spec.adapters.in_child.ChildProcessBN`: Keras picks its backend once per process, and
TensorFlow's import sets it up on TensorFlow); there
:class:`~bnspec.spec.adapters.keras_jax_optim.KerasJaxOptimizer` turns on ``jax_enable_x64`` (a float64
variable then gets a float64 update) and maps them in process.  Profile ``keras``, dtypes float64 and
float32.  Importing this module without Keras and JAX raises ImportError; it imports neither in the
calling process.
"""

from __future__ import annotations

import importlib.util

from ..matrix import Deviation
from .in_child import ChildProcessBN

for _module in ("keras", "jax"):
    if importlib.util.find_spec(_module) is None:
        raise ImportError(f"the keras optimizer adapter needs {_module}, which is not installed")

#: The ``keras`` profile's optimizer conventions (see the module's docstring for the sources).
#: Why Keras' float64 steps are off: the learning rate is held in float32.
LR_FLOAT32 = ("On float64 parameters the step is computed with the learning rate rounded to float32 (lr = 0.1: "
              "0.10000000149011612, 1.5e-8 relative, some 10^5 times float64's tolerance): keras/src/optimizers/"
              "base_optimizer.py, BaseOptimizer.__init__ keeps it in backend.Variable(learning_rate, dtype="
              "backend.floatx()) (float32) and update_step casts that to the variable's dtype (keras 3.15.1). "
              "float32 parameters conform")
#: The clauses Keras' optimizers break under the keras profile, and why (bnspec matrix shows them).
FINDINGS: dict[str, str] = {
    **dict.fromkeys(("OPT-GD-1", "OPT-MOM-1", "OPT-MOM-2", "OPT-MOM-3", "OPT-RMS-1", "OPT-RMS-2", "OPT-ADAM-1",
                     "OPT-ADAM-2", "OPT-NET-1"), Deviation("", LR_FLOAT32)),
    "OPT-INPUT-1": "gd returned a result for lr = -1.0: Keras checks only SGD's momentum (keras/src/optimizers/"
                   "sgd.py: momentum must be a float in [0, 1]) and that learning_rate is a float; a negative lr "
                   "steps uphill, rho, the betas, eps and t are used as given (NaN at t = 0: alpha = 0 / 0).",
}

class KerasOptimizer(ChildProcessBN):
    """``keras`` optimizers: :class:`~bnspec.spec.adapters.keras_jax_optim.KerasJaxOptimizer` (profile
    ``keras``) in a child process with ``KERAS_BACKEND=jax``."""

    LAYER = "bnspec.spec.adapters.keras_jax_optim:KerasJaxOptimizer"
    ENV = {"KERAS_BACKEND": "jax"}
