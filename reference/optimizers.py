"""Gradient descent, momentum, RMSprop and Adam, with the course's formulas.

Each rule is first a small pure function of one parameter array and its state
-- :func:`gd`, :func:`momentum`, :func:`rmsprop`, :func:`adam`, the optimizer
protocol's functions (``bnspec check`` holds an implementation to them) -- and
then an optimizer that updates *every* parameter of the network's dict --
``W[l]``, ``b[l]``, ``gamma[l]``, ``beta[l]`` -- by that rule (L4, L11); the
gradient of parameter ``"W1"`` is ``grads["dW1"]``.  Optimizers are frozen
dataclasses with ``init(params) -> opt_state`` and ``step(params, grads,
opt_state) -> (new_params, new_opt_state)``; both are pure (new dicts, new
arrays).

The functions take arrays of any shape (a parameter's: ``n[l] x n[l-1]`` for
``W[l]``, ``n[l] x 1`` for ``gamma[l]``, 0-d too); the gradient and the state
have the parameter's shape and dtype, and so have the results (float32 in,
float32 out: the scalars are Python floats, which never widen an array).  The
exponentially-weighted-average hyperparameters are named ``momentum``, ``rho``,
``beta1`` and ``beta2``, never bare ``beta``: that name belongs to BN's shift
``beta[l]``, which has nothing to do with them (L3).
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
    """Exponentially weighted average: ``weight * avg + (1 - weight) * value`` (an array, 0-d too:
    numpy's arithmetic on 0-d arrays gives scalars)."""
    return np.asarray(weight * avg + (1.0 - weight) * value)


def _step_arrays(p: Any, dp: Any, **state: Any) -> np.ndarray:
    """Check a parameter, its gradient and its state arrays; the parameter."""
    arguments.parameter("p", p)
    arguments.like("dp", dp, p)
    for name, value in state.items():
        arguments.like(name, value, p)
    if "s" in state:
        arguments.nonnegative("s", state["s"])  # an average of squares: sqrt(s) must be real
    return p


def gd(p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray:
    """One step of gradient descent (L4)::

        p_new = p - lr * dp

    ``p``, ``dp``: one shape, one dtype (any shape); ``lr > 0`` (the course's alpha).
    """
    _step_arrays(p, dp)
    return np.asarray(p - arguments.positive("lr", lr) * dp)


def momentum(p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """One step of gradient descent with momentum, the course's averaged form (L4)::

        v_new = momentum * v + (1 - momentum) * dp
        p_new = p - lr * v_new

    ``p``, ``dp``, ``v``: one shape, one dtype; ``v`` starts at 0; ``lr > 0``, ``momentum`` in
    [0, 1).  Returns ``(p_new, v_new)``.
    """
    _step_arrays(p, dp, v=v)
    lr, momentum = arguments.positive("lr", lr), _decay("momentum", momentum)
    v_new = _average(v, dp, momentum)
    return np.asarray(p - lr * v_new), v_new


def rmsprop(p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """One step of RMSprop (L4)::

        s_new = rho * s + (1 - rho) * dp**2
        p_new = p - lr * dp / (sqrt(s_new) + eps)

    ``p``, ``dp``, ``s``: one shape, one dtype; ``s >= 0`` starts at 0; ``lr > 0``, ``rho`` in
    [0, 1), ``eps > 0``, added *outside* the root (the course's form), so ``dp = 0`` with ``s =
    0`` gives no step.  Returns ``(p_new, s_new)``.
    """
    _step_arrays(p, dp, s=s)
    lr, rho, eps = arguments.positive("lr", lr), _decay("rho", rho), arguments.positive("eps", eps)
    s_new = _average(s, np.square(dp), rho)
    return np.asarray(p - lr * dp / (np.sqrt(s_new) + eps)), s_new


def adam(p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: int, lr: float, beta1: float,
         beta2: float, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step ``t`` of Adam (L4): momentum's and RMSprop's averages, each bias-corrected::

        v_new = beta1 * v + (1 - beta1) * dp          v_hat = v_new / (1 - beta1**t)
        s_new = beta2 * s + (1 - beta2) * dp**2       s_hat = s_new / (1 - beta2**t)
        p_new = p - lr * v_hat / (sqrt(s_hat) + eps)

    ``p``, ``dp``, ``v``, ``s``: one shape, one dtype; ``v`` and ``s >= 0`` start at 0; ``t >= 1``
    is the number of this step (an integer; a float of an integer value is read as one);
    ``lr > 0``, ``beta1`` and ``beta2`` in [0, 1), ``eps > 0`` outside the root.  The correction
    factors are computed once, in float64, and applied as one multiplication each.  Returns
    ``(p_new, v_new, s_new)``.
    """
    _step_arrays(p, dp, v=v, s=s)
    t = arguments.whole("t", t, minimum=1)
    lr, eps = arguments.positive("lr", lr), arguments.positive("eps", eps)
    beta1, beta2 = _decay("beta1", beta1), _decay("beta2", beta2)
    v_new = _average(v, dp, beta1)
    s_new = _average(s, np.square(dp), beta2)
    v_hat = v_new * (1.0 / (1.0 - beta1**t))
    s_hat = s_new * (1.0 / (1.0 - beta2**t))
    return np.asarray(p - lr * v_hat / (np.sqrt(s_hat) + eps)), v_new, s_new


#: The optimizer protocol's functions, by name (``bnspec check reference`` checks them).
STEPS = {"gd": gd, "momentum": momentum, "rmsprop": rmsprop, "adam": adam}


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
        return {k: gd(p, grads[f"d{k}"], self.lr) for k, p in params.items()}, {}


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
        steps = {k: momentum(p, grads[f"d{k}"], opt_state["v"][k], self.lr, self.momentum)
                 for k, p in params.items()}
        return {k: new for k, (new, _) in steps.items()}, {"v": {k: v for k, (_, v) in steps.items()}}


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
        steps = {k: rmsprop(p, grads[f"d{k}"], opt_state["s"][k], self.lr, self.rho, self.eps)
                 for k, p in params.items()}
        return {k: new for k, (new, _) in steps.items()}, {"s": {k: s for k, (_, s) in steps.items()}}


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
        steps = {k: adam(p, grads[f"d{k}"], opt_state["v"][k], opt_state["s"][k], t, self.lr, self.beta1,
                         self.beta2, self.eps) for k, p in params.items()}
        return ({k: new for k, (new, _, _) in steps.items()},
                {"t": t, "v": {k: v for k, (_, v, _) in steps.items()}, "s": {k: s for k, (_, _, s) in steps.items()}})


#: The optimizers by name.
OPTIMIZERS = {"gd": GradientDescent, "momentum": Momentum, "rmsprop": RMSprop, "adam": Adam}
