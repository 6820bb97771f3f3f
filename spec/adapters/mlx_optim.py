"""MLX's own optimizers behind the bnspec optimizer protocol (``kind = "optimizer"``).

Every call builds the optimizer people ship (mlx/optimizers/optimizers.py, MLX
0.32.4), with MLX's defaults except what the protocol passes, over a one-entry
parameter tree ``{"p": p}``: ``init`` makes the optimizer's state, the adapter
overwrites it with the protocol's, ``apply_gradients({"p": dp}, {"p": p})`` runs
exactly one step (it counts ``state["step"]`` up first), and the new parameter
and the optimizer's state are read back; none of the update is computed here:

- ``gd``: ``mlx.optimizers.SGD(learning_rate=lr)`` (momentum 0: ``p - lr g``);
- ``momentum``: ``SGD(learning_rate=lr, momentum=momentum)`` (dampening 0,
  the default) with ``state["p"]["v"] = v``;
- ``rmsprop``: ``RMSprop(learning_rate=lr, alpha=rho, eps=eps)`` with
  ``state["p"]["v"] = s``;
- ``adam``: ``Adam(learning_rate=lr, betas=[beta1, beta2], eps=eps,
  bias_correction=True)`` with ``state["p"]["m"] = v``, ``state["p"]["v"] = s``
  and ``state["step"] = t - 1`` (a uint64 array, as ``Optimizer.__init__`` makes it:
  ``{"step": mx.array(0, mx.uint64)}``), so the step runs as step t.  MLX's
  Adam defaults to ``bias_correction=False``, which ignores the step count and
  updates ``p - lr m / (sqrt(v) + eps)``: the protocol's adam is bias-corrected
  Adam (it passes t), so the adapter asks for MLX's bias correction.  A t that is
  not integral, or below 1, reaches the uint64 step through ``mx.array(t - 1,
  dtype=mx.uint64)``: MLX truncates 1.5 to 1 and wraps -1 to 2**64 - 1.

MLX's conventions (the ``mlx`` profile), from ``apply_single`` of each class:

- momentum is the heavy ball ``v = mu v + g, p -= lr v`` (``SGD``:
  ``v = self.momentum * state.get("v")``, ``v += gradient``,
  ``return parameter - self.learning_rate.astype(gradient.dtype) * update``),
  its buffer starting at zeros (``init_single``), no first-step special case; a
  momentum <= 0 runs plain SGD (``if self.momentum <= 0: return parameter - ...``)
  and leaves ``v`` as it was.
- RMSprop adds eps outside the root (``RMSprop``:
  ``return parameter - lr * gradient / (mx.sqrt(v) + eps)``).
- Adam with bias correction adds eps to the corrected root (``Adam``:
  ``c1 = (lr / (1 - b1**step)).astype(gradient.dtype)``,
  ``c2 = mx.rsqrt(1 - b2**step).astype(gradient.dtype)``,
  ``denominator = mx.sqrt(v) * c2 + eps``, ``return parameter - numerator / denominator``).

The learning rate is stored as ``mx.array(learning_rate)``, float32
(``Optimizer._maybe_schedule``), and the bias corrections ``b**step`` (a Python
float to a uint64 power) are float32 too: a float64 parameter is updated in
float64 with a float32-rounded lr and float32 bias corrections; all else runs in
the parameter's dtype.  Even for float32 parameters the corrections err: beta2 =
0.999 becomes 0.99900001 in ``b2**step``, so ``1 - b2`` is off by 1.3e-5 relative,
and the Adam update by up to 1.1e-4 (beta1 0.99, beta2 0.9999, t = 2; observed).
MLX computes float64 on its CPU device (the only device of the Linux ``mlx[cpu]``
wheel).  MLX refuses, with ValueError at construction, RMSprop's alpha < 0 or
eps <= 0 and Adam's betas outside [0, 1) or eps < 0; it accepts a negative
learning rate, momentum or alpha >= 1, and a momentum < 0 (plain SGD, above);
Adam at t = 0 (step 0: ``1 - b**0 = 0``) returns NaN.  Arrays reach MLX as
C-contiguous copies with their dtype (``mx.array`` of a float64 array without a
dtype would give float32); MLX is lazy, and ``numpy.array`` of a result
evaluates it into a new array.
Importing this module without MLX raises ImportError.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np

from ..matrix import Deviation

_DTYPES = {np.dtype(np.float64): mx.float64, np.dtype(np.float32): mx.float32}


def _array(value: np.ndarray) -> Any:
    """``value`` as an MLX array of its own dtype, from a C-contiguous copy (an empty one by ``mx.zeros``)."""
    dtype = _DTYPES[np.dtype(value.dtype)]
    if value.size == 0:
        return mx.zeros(value.shape, dtype=dtype)
    return mx.array(np.ascontiguousarray(value), dtype=dtype)


def _numpy(value: Any, like: np.ndarray) -> np.ndarray:
    """A new array of ``like``'s shape and dtype holding the MLX array ``value`` (evaluating it)."""
    return np.array(value, dtype=like.dtype, copy=True).reshape(like.shape)


def _step(optimizer: Any, p: np.ndarray, dp: np.ndarray, state: dict[str, np.ndarray],
          step: Any = None) -> tuple[np.ndarray, dict[str, Any]]:
    """One ``apply_gradients`` of ``optimizer`` on ``{"p": p}`` with gradient ``dp``, the parameter's
    state entries overwritten by ``state`` and ``state["step"]`` by ``step`` if given: the new
    parameter and the optimizer's state for ``p`` afterwards."""
    param = _array(p)
    optimizer.init({"p": param})
    optimizer.state["p"].update({name: _array(value) for name, value in state.items()})
    if step is not None:
        optimizer.state["step"] = step
    new = optimizer.apply_gradients({"p": _array(dp)}, {"p": param})["p"]
    return _numpy(new, p), optimizer.state["p"]


#: Why MLX's float64 steps are off: the learning rate and the bias corrections are float32.
LR_FLOAT32 = ("On float64 parameters the step is computed with the learning rate rounded to float32 (lr = 0.1: "
              "0.10000000149011612, 1.5e-8 relative, some 10^5 times float64's tolerance): Optimizer."
              "_maybe_schedule stores it as mx.array(learning_rate), float32, and Adam's bias corrections b**step "
              "are float32 too (mlx/optimizers/optimizers.py, mlx 0.32.4). float32 parameters conform")
#: The clauses MLX's optimizers break under the mlx profile, and why (bnspec matrix shows them).
FINDINGS: dict[str, str] = {
    **dict.fromkeys(("OPT-GD-1", "OPT-MOM-1", "OPT-MOM-2", "OPT-MOM-3", "OPT-RMS-1", "OPT-RMS-2", "OPT-ADAM-1",
                     "OPT-ADAM-2", "OPT-NET-1"), Deviation("", LR_FLOAT32)),
    "OPT-INPUT-1": "gd returned a result for lr = -1.0: MLX accepts a negative learning rate (it steps uphill), a "
                   "momentum or alpha of 1 or more, and a momentum < 0 (plain SGD); it refuses RMSprop's alpha < 0 "
                   "or eps <= 0 and Adam's betas outside [0, 1) (ValueError); Adam at t = 0 returns NaN.",
}

class MlxOptimizer:
    """The optimizer protocol on ``mlx.optimizers.SGD``, ``RMSprop`` and ``Adam`` (CPU)."""

    kind = "optimizer"
    profile = "mlx"
    dtypes = ("float64", "float32")

    def gd(self, p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray:
        return _step(optim.SGD(learning_rate=lr), p, dp, {})[0]

    def momentum(
        self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """SGD with ``momentum`` (heavy ball, dampening 0), its ``v`` set to the protocol's v."""
        p_new, state = _step(optim.SGD(learning_rate=lr, momentum=momentum), p, dp, {"v": v})
        return p_new, _numpy(state["v"], v)

    def rmsprop(
        self, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """RMSprop with ``alpha = rho``, its ``v`` (the average of g^2) set to s."""
        p_new, state = _step(optim.RMSprop(learning_rate=lr, alpha=rho, eps=eps), p, dp, {"v": s})
        return p_new, _numpy(state["v"], s)

    def adam(
        self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: float, lr: float,
        beta1: float, beta2: float, eps: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Adam with ``bias_correction=True``, its ``m`` set to v, its ``v`` to s and its step count to
        t - 1 (MLX counts it up to t before the update).  A non-integral t is passed on as it is."""
        if float(t).is_integer():
            t = int(t)
        optimizer = optim.Adam(learning_rate=lr, betas=[beta1, beta2], eps=eps, bias_correction=True)
        p_new, state = _step(optimizer, p, dp, {"m": v, "v": s}, mx.array(t - 1, dtype=mx.uint64))
        return p_new, _numpy(state["m"], v), _numpy(state["v"], s)
