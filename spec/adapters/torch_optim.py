"""PyTorch's own optimizers behind the bnspec optimizer protocol (``kind = "optimizer"``).

Every call builds the optimizer people ship, over one parameter tensor, with
PyTorch's defaults except what the protocol passes, puts the protocol's state
into the optimizer's own state, runs exactly one ``step()`` with ``dp`` as the
parameter's ``.grad``, and reads the new parameter and the new state back; none
of the update is computed here:

- ``gd``: ``torch.optim.SGD(lr=lr)`` (momentum 0: no buffer, ``p -= lr g``);
- ``momentum``: ``torch.optim.SGD(lr=lr, momentum=momentum, dampening=0)``
  with ``state["momentum_buffer"] = v``;
- ``rmsprop``: ``torch.optim.RMSprop(lr=lr, alpha=rho, eps=eps)`` (centered
  False, momentum 0) with ``state["square_avg"] = s`` (its ``step`` = 0: the
  plain RMSprop update does not read it);
- ``adam``: ``torch.optim.Adam(lr=lr, betas=(beta1, beta2), eps=eps)`` (amsgrad
  False) with ``state["exp_avg"] = v``, ``state["exp_avg_sq"] = s`` and
  ``state["step"] = t - 1``: ``step()`` counts it up first, so it is step t.

The state goes in through ``Optimizer.load_state_dict`` (torch/optim/optimizer.py),
which keeps ``step`` in the dtype given (``_get_scalar_dtype()``: float32 under the
default dtype, as ``Adam._init_group`` makes it) and the moments in the
parameter's dtype.  On CPU, ``foreach=None`` and ``fused=None`` resolve to the
per-tensor loops (``_default_to_fused_or_foreach``: CPU is no foreach device,
and the fused kernels are never picked by default): ``_single_tensor_sgd``,
``_single_tensor_rmsprop`` and ``_single_tensor_adam`` run (torch 2.13.0).

PyTorch's conventions (the ``torch`` profile), torch 2.13.0:

- momentum is the heavy ball ``v = mu v + g, p -= lr v``
  (torch/optim/sgd.py, ``_single_tensor_sgd``:
  ``buf.mul_(momentum).add_(grad, alpha=1 - dampening)``, ``param.add_(grad, alpha=-lr)``
  with ``grad = buf``).  Without a buffer its first step sets ``buf = g``
  (``if buf is None: buf = grad.detach().clone()``), i.e. as if v = 0 whatever
  dampening is; the adapter always sets the buffer to ``v``, so every call is
  the regular update.  With momentum 0 SGD neither reads nor writes the buffer:
  ``v`` comes back unchanged.
- RMSprop adds eps outside the root (torch/optim/rmsprop.py,
  ``_single_tensor_rmsprop``: ``avg = square_avg.sqrt()``, ``avg = avg.add_(eps)``,
  ``param.addcdiv_(grad, avg, value=-lr)``), the average
  ``square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)``.
- Adam adds eps to the *corrected* root (torch/optim/adam.py, ``_single_tensor_adam``:
  ``denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)``,
  ``param.addcdiv_(exp_avg, denom, value=-step_size)`` with
  ``step_size = lr / bias_correction1``); the first moment is
  ``exp_avg.lerp_(grad, 1 - beta1)``; the bias corrections ``1 - beta**step``
  are Python floats (double) from ``step.item()``, the float32 step.

Everything else is computed in the parameter's dtype (float64 or float32); the
float32 step holds integers exactly up to 2**24 only (``2**24 + 1`` counts as 2**24).
PyTorch refuses, with ValueError at construction, lr < 0, momentum < 0, RMSprop's
alpha < 0 or eps < 0, Adam's betas outside [0, 1) or eps < 0 (no upper bound on
momentum or alpha, eps = 0 accepted); Adam at t = 0 raises ZeroDivisionError
(``lr / bias_correction1``) and at t < 0 RuntimeError (``bias_correction2**0.5``
is complex).  The adapter lets every exception propagate.  Arrays reach torch as
copies (``torch.from_numpy`` shares memory and ``step()`` writes in place) in
their memory order; results come back as new arrays.  Importing this module without PyTorch raises ImportError.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.optim.optimizer import _get_scalar_dtype


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor over a copy of ``array`` (same memory order, positive strides): ``step()`` writes
    into the parameter and the state in place, and the caller's arrays must stay as they are."""
    return torch.from_numpy(np.array(array, order="K", copy=True))


def _numpy(tensor: torch.Tensor, like: np.ndarray) -> np.ndarray:
    """A new array of ``like``'s shape and dtype holding ``tensor``."""
    return np.array(tensor.detach().numpy(), dtype=like.dtype, copy=True).reshape(like.shape)


def _step(
    make: Any, p: np.ndarray, dp: np.ndarray, state: dict[str, torch.Tensor], **options: Any
) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
    """One ``step()`` of ``make([param], **options)`` with ``state`` loaded as the parameter's state
    and ``dp`` as its gradient: the new parameter and the optimizer's state for it afterwards."""
    param = _tensor(p)
    param.grad = _tensor(dp)
    optimizer = make([param], **options)
    if state:
        optimizer.load_state_dict({"state": {0: state}, "param_groups": optimizer.state_dict()["param_groups"]})
    optimizer.step()
    return _numpy(param, p), optimizer.state[param]


#: The clauses torch.optim breaks under its own profile, and why (bnspec matrix shows them).
FINDINGS: dict[str, str] = {
    "OPT-INPUT-1": "momentum returned a result for momentum = 1.0: torch.optim.SGD refuses only a momentum < 0 "
                   "(torch/optim/sgd.py, SGD.__init__: if momentum < 0.0: raise ValueError), RMSprop only an alpha "
                   "< 0 (torch/optim/rmsprop.py), and both accept eps = 0 (torch 2.13.0); a momentum or alpha of 1 "
                   "or more is no average.  lr < 0, Adam's betas outside [0, 1) and eps < 0 are refused "
                   "(ValueError), t = 0 raises ZeroDivisionError.",
}

class TorchOptimizer:
    """The optimizer protocol on ``torch.optim.SGD``, ``RMSprop`` and ``Adam`` (CPU, per-tensor loops)."""

    kind = "optimizer"
    profile = "torch"
    dtypes = ("float64", "float32")

    def gd(self, p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray:
        return _step(torch.optim.SGD, p, dp, {}, lr=lr)[0]

    def momentum(
        self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """SGD with ``momentum`` and dampening 0 (heavy ball), its ``momentum_buffer`` set to ``v``:
        setting the buffer skips SGD's first-step special case (``buf = g`` when there is none)."""
        p_new, state = _step(torch.optim.SGD, p, dp, {"momentum_buffer": _tensor(v)},
                             lr=lr, momentum=momentum, dampening=0)
        return p_new, _numpy(state["momentum_buffer"], v)

    def rmsprop(
        self, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """RMSprop with ``alpha = rho``, its ``square_avg`` set to ``s``."""
        state = {"step": torch.tensor(0.0, dtype=_get_scalar_dtype()), "square_avg": _tensor(s)}
        p_new, after = _step(torch.optim.RMSprop, p, dp, state, lr=lr, alpha=rho, eps=eps)
        return p_new, _numpy(after["square_avg"], s)

    def adam(
        self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: float, lr: float,
        beta1: float, beta2: float, eps: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Adam with ``exp_avg = v``, ``exp_avg_sq = s`` and ``step = t - 1`` (a float32 tensor, as
        Adam keeps it), which ``step()`` counts up to t before it uses it.  A non-integral t
        is passed on as it is."""
        if float(t).is_integer():
            t = int(t)
        # Adam's constructor refuses betas that are not both floats (or both tensors): float() them.
        state = {"step": torch.tensor(t - 1, dtype=_get_scalar_dtype()),
                 "exp_avg": _tensor(v), "exp_avg_sq": _tensor(s)}
        p_new, after = _step(torch.optim.Adam, p, dp, state, lr=lr, betas=(float(beta1), float(beta2)), eps=eps)
        return p_new, _numpy(after["exp_avg"], v), _numpy(after["exp_avg_sq"], s)
