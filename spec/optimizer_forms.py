"""The forms of the optimizers that frameworks ship, and what a profile requires of one step.

The lecture's formulas are the reference's (:mod:`bnspec.reference.optimizers`).
Frameworks write some of them differently, and a profile
(:class:`bnspec.spec.profiles.Profile`) names the form it follows:

- ``momentum_form`` (:data:`MomentumForm`): ``average``, the lecture's ``v = mu v
  + (1 - mu) dp``, ``p -= lr v``; ``heavy_ball``, ``v = mu v + dp``, ``p -= lr v``
  (PyTorch's SGD, optax's trace); ``velocity``, ``v = mu v - lr dp``, ``p += v``
  (Keras' SGD: the state holds the step).
- ``rmsprop_eps`` (:data:`EpsPlace`): ``outside``, ``dp / (sqrt(s) + eps)`` (the
  lecture, PyTorch); ``inside``, ``dp / sqrt(s + eps)`` (Keras, optax).
- ``adam_eps`` (:data:`AdamEps`): ``corrected``, ``v_hat / (sqrt(s_hat) + eps)``
  (the lecture, PyTorch, optax); ``uncorrected``, the correction folded into the
  learning rate, ``lr sqrt(1 - beta2^t) / (1 - beta1^t) * v / (sqrt(s) + eps)``
  (Keras, TensorFlow; Kingma & Ba 2015 Alg. 1's note), which is the lecture's
  form with ``eps / sqrt(1 - beta2^t)``.

:func:`step` computes one step of a form in float64 from the arguments as the
implementation received them; each form is the reference's function where the
lecture's form is one, and its own formula, beside its source, where it is not.
:func:`magnitudes` gives the size each result's roundings are relative to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from bnspec.reference import optimizers

if TYPE_CHECKING:
    from .profiles import Profile

#: How momentum averages the gradient (see the module docstring).
MomentumForm = Literal["average", "heavy_ball", "velocity"]
#: Where RMSprop adds eps: to the root, or under it.
EpsPlace = Literal["outside", "inside"]
#: Whether Adam's eps is added to the bias-corrected root, or to the uncorrected one.
AdamEps = Literal["corrected", "uncorrected"]

Arrays = tuple[np.ndarray, ...]


def _wide(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments with every array in float64 (the required values are computed there)."""
    return {k: np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for k, a in args.items()}


def momentum(form: MomentumForm, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, mu: float) -> Arrays:
    """One step of momentum in ``form``: ``(p_new, v_new)``."""
    if form == "average":
        return optimizers.momentum(p, dp, v, lr, mu)
    if form == "heavy_ball":  # torch/optim/sgd.py: buf.mul_(momentum).add_(grad), param.add_(buf, alpha=-lr)
        v_new = np.asarray(mu * v + dp)
        return np.asarray(p - lr * v_new), v_new
    # keras/src/optimizers/sgd.py: m = momentum * m - lr * g; variable += m
    v_new = np.asarray(mu * v - lr * dp)
    return np.asarray(p + v_new), v_new


def rmsprop(place: EpsPlace, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float,
            eps: float) -> Arrays:
    """One step of RMSprop with eps ``place``d: ``(p_new, s_new)``."""
    p_new, s_new = optimizers.rmsprop(p, dp, s, lr, rho, eps)
    if place == "outside":
        return p_new, s_new
    # keras/src/optimizers/rmsprop.py: lr * g / sqrt(velocity + epsilon); optax scale_by_rms: g / sqrt(nu + eps)
    return np.asarray(p - lr * dp / np.sqrt(s_new + eps)), s_new


def adam(where: AdamEps, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: int, lr: float,
         beta1: float, beta2: float, eps: float) -> Arrays:
    """Step ``t`` of Adam with eps ``where`` it goes: ``(p_new, v_new, s_new)``."""
    if where == "uncorrected" and t >= 1:  # the correction in lr: the lecture's form with eps / sqrt(1 - beta2^t)
        eps = eps / np.sqrt(1.0 - beta2**int(t))
    return optimizers.adam(p, dp, v, s, t, lr, beta1, beta2, eps)


def step(profile: Profile, name: str, args: dict[str, Any]) -> Arrays:
    """The results ``profile`` requires of the protocol function ``name`` on ``args`` (by the protocol's
    argument names), in float64."""
    a = _wide(args)
    if name == "gd":
        return (optimizers.gd(a["p"], a["dp"], a["lr"]),)
    if name == "momentum":
        return momentum(profile.momentum_form, a["p"], a["dp"], a["v"], a["lr"], a["momentum"])
    if name == "rmsprop":
        return rmsprop(profile.rmsprop_eps, a["p"], a["dp"], a["s"], a["lr"], a["rho"], a["eps"])
    return adam(profile.adam_eps, a["p"], a["dp"], a["v"], a["s"], a["t"], a["lr"], a["beta1"], a["beta2"],
                a["eps"])


#: The decays of each function: their roundings are amplified (see :func:`decay_condition`).
DECAYS = {"gd": (), "momentum": ("momentum",), "rmsprop": ("rho",), "adam": ("beta1", "beta2")}


def decay_condition(name: str, args: dict[str, Any]) -> float:
    """How much a relative rounding of a decay d (an implementation that computes in float32 holds
    d in float32) grows in ``1 - d`` and in the bias correction ``1 - d^t``: ``1 + sum(d / (1 - d)
    + t d^t / (1 - d^t))`` over the function's decays (d = 0.999: about 2000)."""
    t = int(args.get("t", 1))
    total = 1.0
    for key in DECAYS[name]:
        d = float(args[key])
        total += d / (1.0 - d) + (t * d**t / (1.0 - d**t) if name == "adam" else 0.0)
    return total


def magnitudes(profile: Profile, name: str, args: dict[str, Any]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per result, the magnitudes its roundings are relative to, as ``(exact, amplified)``: for p,
    ``|p|`` and the step's size; for a state, 0 and its size.

    A state's average may be written ``d old + (1 - d) new`` or ``old + (1 - d) (new - old)`` (a lerp, as
    Keras and PyTorch's Adam do): either rounds by a few units of ``|old| + |new term|``, not of the
    average itself, which is smaller where d is small.  The step's size adds every term rather than
    letting them cancel -- the step taken from |dp| and the state with the sign that adds to it (the
    velocity form's state is minus a step) -- and grows with the states' relative error: a state's
    error enters the step in proportion (v), or half of it (s, under the root).  An implementation's
    error in a result is a few units of roundoff of ``exact + condition * amplified``
    (:func:`bnspec.spec.tolerances.optimizer_tolerance`)."""
    sign = -1.0 if name == "momentum" and profile.momentum_form == "velocity" else 1.0
    a = _wide(args)
    aligned = dict(a, p=np.zeros_like(a["p"]), dp=np.asarray(np.abs(a["dp"])))  # 0-d stays an array
    if "v" in a:
        aligned["v"] = np.asarray(sign * np.abs(a["v"]))
    summed = step(profile, name, aligned)
    required = step(profile, name, a)
    step_size = np.abs(summed[0])
    states = []
    for key, new, got in zip([k for k in ("v", "s") if k in a], summed[1:], required[1:], strict=True):
        size = np.abs(a[key]) + np.abs(new)  # what the average's roundings are relative to
        states.append((np.zeros_like(a["p"]), size + np.abs(got)))
        ratio = np.divide(size, np.abs(new), out=np.zeros_like(size), where=np.abs(new) > 0)
        step_size = step_size * (1.0 + (ratio if key == "v" else ratio / 2))
    return ((np.abs(a["p"]), step_size + np.abs(required[0] - a["p"])), *states)
