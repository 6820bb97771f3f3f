"""Gradient descent, momentum, RMSprop and Adam, with the course's formulas.

Each optimizer updates *every* parameter of the dict -- ``W[l]``, ``b[l]``,
``gamma[l]``, ``beta[l]`` -- by the same rule (L4, L11); the gradient of
parameter ``"W1"`` is ``grads["dW1"]``.  Optimizers are frozen dataclasses with
``init(params) -> opt_state`` and ``step(params, grads, opt_state) ->
(new_params, new_opt_state)``; both are pure (new dicts, new arrays).

The exponentially-weighted-average hyperparameters are named ``momentum``,
``rho``, ``beta1`` and ``beta2``, never bare ``beta``: that name belongs to
BN's shift ``beta[l]``, which has nothing to do with them (L3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import arguments

Params = dict[str, np.ndarray]


def _decay(name: str, value: Any) -> float:
    """An averaging weight: a real number in [0, 1)."""
    as_float = arguments.real(name, value)
    if not 0.0 <= as_float < 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1), got {as_float}")
    return as_float


def _set(obj: Any, **fields: float) -> None:
    for name, value in fields.items():
        object.__setattr__(obj, name, value)


def _check_params(params: Any) -> Params:
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict of numpy arrays, got {type(params).__name__}")
    for key, value in params.items():
        arguments.matrix(f"params[{key!r}]", value)
    return dict(params)


def _check_grads(params: Params, grads: Any) -> None:
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads: expected a dict of numpy arrays, got {type(grads).__name__}")
    for key, p in params.items():
        if f"d{key}" not in grads:
            raise ValueError(f"grads: missing 'd{key}' for params[{key!r}]")
        arguments.matrix(f"grads['d{key}']", grads[f"d{key}"], rows=p.shape[0], cols=p.shape[1],
                         of=f"params[{key!r}]")
    extra = [k for k in grads if not (isinstance(k, str) and k[1:] in params and k[0] == "d")]
    if extra:
        raise ValueError(f"grads: {', '.join(map(repr, extra))} match no entry of params")


def _check_state(params: Params, opt_state: Any, slots: tuple[str, ...]) -> None:
    """``opt_state[slot][key]`` must exist with the shape of ``params[key]``."""
    if not isinstance(opt_state, Mapping):
        raise TypeError(f"opt_state: expected the dict from init, got {type(opt_state).__name__}")
    for slot in slots:
        averages = opt_state.get(slot)
        if not isinstance(averages, Mapping) or set(averages) != set(params):
            raise ValueError(f"opt_state: {slot!r} must hold one array per parameter")
        for key, p in params.items():
            name = f"opt_state[{slot!r}][{key!r}]"
            arguments.matrix(name, averages[key], rows=p.shape[0], cols=p.shape[1], of=f"params[{key!r}]")


def _zeros(params: Params) -> Params:
    return {key: np.zeros_like(p) for key, p in params.items()}


def _average(avg: np.ndarray, value: np.ndarray, weight: float) -> np.ndarray:
    """Exponentially weighted average: ``weight * avg + (1 - weight) * value``."""
    return weight * avg + (1.0 - weight) * value


@dataclass(frozen=True)
class GradientDescent:
    """Plain gradient descent: ``p := p - lr * dp`` (``lr`` is the course's alpha)."""

    lr: float

    def __post_init__(self) -> None:
        _set(self, lr=arguments.positive("lr", self.lr))

    def init(self, params: Params) -> dict:
        """No state: ``{}``."""
        _check_params(params)
        return {}

    def step(self, params: Params, grads: Params, opt_state: dict) -> tuple[Params, dict]:
        """``p := p - lr * dp`` for every parameter; shapes as the parameters'."""
        params = _check_params(params)
        _check_grads(params, grads)
        _check_state(params, opt_state, ())
        return {k: p - self.lr * grads[f"d{k}"] for k, p in params.items()}, {}


@dataclass(frozen=True)
class Momentum:
    """Gradient descent with momentum: ``v := momentum * v + (1 - momentum) * dp``,
    ``p := p - lr * v``; ``v`` starts at 0.  ``momentum`` in [0, 1)."""

    lr: float
    momentum: float = 0.9

    def __post_init__(self) -> None:
        _set(
            self,
            lr=arguments.positive("lr", self.lr),
            momentum=_decay("momentum", self.momentum),
        )

    def init(self, params: Params) -> dict:
        """``{"v": {key: zeros like params[key]}}``."""
        return {"v": _zeros(_check_params(params))}

    def step(self, params: Params, grads: Params, opt_state: dict) -> tuple[Params, dict]:
        """One step of the formulas above, for every parameter."""
        params = _check_params(params)
        _check_grads(params, grads)
        _check_state(params, opt_state, ("v",))
        v = {k: _average(opt_state["v"][k], grads[f"d{k}"], self.momentum) for k in params}
        return {k: p - self.lr * v[k] for k, p in params.items()}, {"v": v}


@dataclass(frozen=True)
class RMSprop:
    """RMSprop: ``s := rho * s + (1 - rho) * dp^2``, ``p := p - lr * dp /
    (sqrt(s) + eps)``; ``s`` starts at 0.  ``eps > 0`` is added *outside* the
    root (the course's form), so ``dp = 0`` with ``s = 0`` gives no step."""

    lr: float
    rho: float = 0.9
    eps: float = 1e-8

    def __post_init__(self) -> None:
        _set(
            self,
            lr=arguments.positive("lr", self.lr),
            rho=_decay("rho", self.rho),
            eps=arguments.positive("eps", self.eps),
        )

    def init(self, params: Params) -> dict:
        """``{"s": {key: zeros like params[key]}}``."""
        return {"s": _zeros(_check_params(params))}

    def step(self, params: Params, grads: Params, opt_state: dict) -> tuple[Params, dict]:
        """One step of the formulas above, for every parameter."""
        params = _check_params(params)
        _check_grads(params, grads)
        _check_state(params, opt_state, ("s",))
        d = {k: grads[f"d{k}"] for k in params}
        s = {k: _average(opt_state["s"][k], np.square(d[k]), self.rho) for k in params}
        new = {k: p - self.lr * d[k] / (np.sqrt(s[k]) + self.eps) for k, p in params.items()}
        return new, {"s": s}


@dataclass(frozen=True)
class Adam:
    """Adam: ``v := beta1 v + (1 - beta1) dp``, ``s := beta2 s + (1 - beta2) dp^2``,
    ``v_hat = v / (1 - beta1^t)``, ``s_hat = s / (1 - beta2^t)``,
    ``p := p - lr * v_hat / (sqrt(s_hat) + eps)``, with ``t = 1, 2, ...`` the
    step number (bias correction) and ``v``, ``s`` starting at 0."""

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        _set(
            self,
            lr=arguments.positive("lr", self.lr),
            beta1=_decay("beta1", self.beta1),
            beta2=_decay("beta2", self.beta2),
            eps=arguments.positive("eps", self.eps),
        )

    def init(self, params: Params) -> dict:
        """``{"t": 0, "v": zeros, "s": zeros}`` (one array per parameter)."""
        params = _check_params(params)
        return {"t": 0, "v": _zeros(params), "s": _zeros(params)}

    def step(self, params: Params, grads: Params, opt_state: dict) -> tuple[Params, dict]:
        """One step of the formulas above, for every parameter; ``t`` grows by 1."""
        params = _check_params(params)
        _check_grads(params, grads)
        _check_state(params, opt_state, ("v", "s"))
        t = arguments.count("opt_state['t']", opt_state.get("t"), minimum=0) + 1
        d = {k: grads[f"d{k}"] for k in params}
        v = {k: _average(opt_state["v"][k], d[k], self.beta1) for k in params}
        s = {k: _average(opt_state["s"][k], np.square(d[k]), self.beta2) for k in params}
        v_hat_scale = 1.0 / (1.0 - self.beta1**t)
        s_hat_scale = 1.0 / (1.0 - self.beta2**t)
        new = {
            k: p - self.lr * (v[k] * v_hat_scale) / (np.sqrt(s[k] * s_hat_scale) + self.eps)
            for k, p in params.items()
        }
        return new, {"t": t, "v": v, "s": s}


#: The optimizers by name.
OPTIMIZERS = {"gd": GradientDescent, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}
