"""The bugs an optimizer step is known to have, each as a model of the results it gives.

When a one-step clause fails, :func:`name` runs every model of the function on the
failing example's arguments and names the ones whose results match what the
implementation returned (within the clause's tolerance): the bug, not only the
clause.  A model that is another framework's form (heavy-ball momentum, eps under
the root, Keras' Adam) is named with the profile field that would declare it.  No
match, no name: a guess is never offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import optimizer_forms as forms
from ..tolerances import optimizer_tolerance

if TYPE_CHECKING:
    from ..profiles import Profile

Results = tuple[np.ndarray, ...]
#: A model: the results of the bug, given the profile, the function's name and its arguments.
Model = Callable[["Profile", str, dict[str, Any]], Results]


def _with(**changes: Callable[[dict[str, Any]], Any]) -> Model:
    """The profile's form on arguments changed by ``changes`` (argument -> its value from the arguments)."""
    def model(profile: Profile, function: str, a: dict[str, Any]) -> Results:
        return forms.step(profile, function, dict(a, **{k: f(a) for k, f in changes.items()}))
    return model


def _form(**fields: Any) -> Model:
    """Another form of the function (the profile with ``fields`` changed)."""
    def model(profile: Profile, function: str, a: dict[str, Any]) -> Results:
        return forms.step(replace(profile, **fields), function, a)
    return model


def _float32(value: float) -> float:
    return float(np.float32(value))


#: Frameworks that keep the learning rate in float32 whatever the parameter's dtype (Keras, MLX).
_LR_FLOAT32 = ("lr rounded to float32 (held in a float32 variable or array) while p is float64",
               _with(lr=lambda a: _float32(a["lr"])))


def _old_state(profile: Profile, function: str, a: dict[str, Any]) -> Results:
    return (forms.step(profile, function, a)[0], *(a[k] for k in ("v", "s") if k in a))


def _sign_flipped(profile: Profile, function: str, a: dict[str, Any]) -> Results:
    right = forms.step(profile, function, a)
    return (2 * np.asarray(a["p"], dtype=np.float64) - right[0], *right[1:])


def _root_bug(square: Callable[[np.ndarray], np.ndarray], root: Callable[[np.ndarray], np.ndarray]) -> Model:
    """The lecture's RMSprop or Adam (eps outside the corrected root) with dp^2 computed by ``square`` and the
    root by ``root``: |dp| for dp^2, or no root at all."""
    def model(profile: Profile, function: str, a: dict[str, Any]) -> Results:
        w = {k: np.asarray(x, np.float64) if isinstance(x, np.ndarray) else x for k, x in a.items()}
        d, decay = w["dp"], w["rho" if function == "rmsprop" else "beta2"]
        s_new = decay * w["s"] + (1 - decay) * square(d)
        if function == "rmsprop":
            return w["p"] - w["lr"] * d / (root(s_new) + w["eps"]), s_new
        t = int(w["t"])
        v_new = w["beta1"] * w["v"] + (1 - w["beta1"]) * d
        v_hat, s_hat = v_new / (1 - w["beta1"] ** t), s_new / (1 - w["beta2"] ** t)
        return w["p"] - w["lr"] * v_hat / (root(s_hat) + w["eps"]), v_new, s_new
    return model


_ABS_GRAD = ("s averages |dp| instead of dp^2", _root_bug(np.abs, np.sqrt))
_NO_ROOT = ("the step divides by s + eps: the square root is missing", _root_bug(np.square, lambda x: x))


#: Per function: (what the bug is, its model).
MODELS: dict[str, tuple[tuple[str, Model], ...]] = {
    "gd": (("the step is added instead of subtracted (p + lr dp)", _sign_flipped), _LR_FLOAT32),
    "momentum": (
        ("the heavy-ball form v = momentum v + dp (PyTorch's SGD, optax): declare momentum_form = heavy_ball "
         "if that is your convention", _form(momentum_form="heavy_ball")),
        ("the velocity form v = momentum v - lr dp, p + v (Keras' SGD): declare momentum_form = velocity "
         "if that is your convention", _form(momentum_form="velocity")),
        ("momentum and 1 - momentum swapped (v = (1 - momentum) v + momentum dp)",
         _with(momentum=lambda a: 1.0 - a["momentum"])),
        ("the old v returned instead of v_new", _old_state),
        ("the step is added instead of subtracted", _sign_flipped),
        _LR_FLOAT32,
    ),
    "rmsprop": (
        ("eps inside the root, sqrt(s + eps): declare rmsprop_eps = inside if that is your convention",
         _form(rmsprop_eps="inside")),
        ("eps outside the root, sqrt(s) + eps: declare rmsprop_eps = outside if that is your convention",
         _form(rmsprop_eps="outside")),
        ("rho and 1 - rho swapped (s = (1 - rho) s + rho dp^2)", _with(rho=lambda a: 1.0 - a["rho"])),
        _ABS_GRAD, _NO_ROOT,
        ("the old s returned instead of s_new", _old_state),
        ("the step is added instead of subtracted", _sign_flipped),
        _LR_FLOAT32,
    ),
    "adam": (
        ("no bias correction (v_hat = v_new, s_hat = s_new)", _with(t=lambda a: 10**9)),
        ("the bias correction one step late (1 - beta^(t - 1))", _with(t=lambda a: a["t"] - 1)),
        ("the bias correction one step early (1 - beta^(t + 1))", _with(t=lambda a: a["t"] + 1)),
        ("the bias correction folded into lr with eps on the uncorrected root (Keras' Adam): declare "
         "adam_eps = uncorrected if that is your convention", _form(adam_eps="uncorrected")),
        ("the bias-corrected root sqrt(s_hat) + eps: declare adam_eps = corrected if that is your convention",
         _form(adam_eps="corrected")),
        ("beta1 and 1 - beta1 swapped", _with(beta1=lambda a: 1.0 - a["beta1"])),
        ("beta2 and 1 - beta2 swapped", _with(beta2=lambda a: 1.0 - a["beta2"])),
        _ABS_GRAD, _NO_ROOT,
        ("the old v and s returned instead of v_new and s_new", _old_state),
        ("the step is added instead of subtracted", _sign_flipped),
        _LR_FLOAT32,
        ("lr and the bias corrections' betas rounded to float32 while p is float64",
         _with(lr=lambda a: _float32(a["lr"]), beta1=lambda a: _float32(a["beta1"]),
               beta2=lambda a: _float32(a["beta2"]))),
    ),
}


#: Models written for the lecture's form of RMSprop and Adam only.
_LECTURE_ONLY = (_ABS_GRAD[1], _NO_ROOT[1])


def _lecture_form(profile: Profile, function: str) -> bool:
    return (profile.rmsprop_eps == "outside") if function == "rmsprop" else (profile.adam_eps == "corrected")


def _matches(observed: Results, modelled: Results, args: dict[str, Any], scales: Any, cond: float) -> bool:
    for got, want, (exact, amplified) in zip(observed, modelled, scales, strict=True):
        tol = optimizer_tolerance(args["p"].dtype, 1, exact, amplified, cond).atol
        if not np.all(np.abs(np.asarray(got, np.float64) - want) <= tol):
            return False
    return True


def name(profile: Profile, function: str, args: dict[str, Any], observed: Results, cond: float) -> str:
    """What the failing results of ``function`` on ``args`` match: ``"The results match ...: BUG."``, or ''."""
    scales = forms.magnitudes(profile, function, args)
    found = []
    if function == "adam" and int(args["t"]) == 1 and not np.all(np.isfinite(observed[0])) and _matches(
            observed[1:], forms.step(profile, function, args)[1:], args, scales[1:], cond):
        found.append("the bias correction one step late: 1 - beta^(t - 1) is 0 at t = 1")
    for what, model in MODELS.get(function, ()):
        if model in _LECTURE_ONLY and not _lecture_form(profile, function):
            continue
        try:
            modelled = model(profile, function, args)
        except (ValueError, TypeError, ZeroDivisionError, OverflowError, FloatingPointError):
            continue  # the model is undefined here (a decay of 1, t = 0): it cannot be the bug
        if _matches(observed, modelled, args, scales, cond):
            found.append(what)
    return f"The results match {' and also '.join(found)}." if found else ""
