"""Properties every optimizer step keeps in every form: no step without a gradient, the parameter's
dtype, purity, bad hyperparameters refused -- and training the lecture's BN network with it
(:mod:`bnspec.spec.clauses.optimizers`).  Each runs every optimizer function the target has."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from bnspec.reference import network as net

from .. import optimizer_draws as draws
from .. import optimizer_forms as forms
from ..errors import ImplementationRaised
from ..protocol import FUNCTIONS, OPTIMIZER
from ..target import Target
from ..tolerances import optimizer_tolerance
from ..trial import Trial
from . import proves
from .network import _network
from .optimizers import call


def _functions(target: Target) -> list[str]:
    """The optimizer functions the target has, all of them (the clause holds for each)."""
    return [name for name in OPTIMIZER if target.has(name)]


@proves("OPT-ZERO-1", needs=OPTIMIZER, needs_any=True, max_examples=10)
def no_gradient_no_step(target: Target, trial: Trial) -> None:
    for name in _functions(target):
        drawn = draws.one_step(trial.draw, name, target.dtypes, zero_state=True)
        args = dict(drawn.args, dp=np.zeros_like(drawn.args["p"]))
        results = call(target, name, args)
        given = [args["p"], *(args[k] for k in draws.STATE[name])]
        for slot, got, was in zip(FUNCTIONS[name].results, results, given, strict=True):
            changed = np.asarray(got, np.float64) != np.asarray(was, np.float64)
            trial.holds(not changed.any(), f"{name} with dp = 0 from zero state changed {slot.name} in "
                        f"{int(changed.sum())} of {changed.size} entries: {np.asarray(was).ravel()[:4]} became "
                        f"{np.asarray(got).ravel()[:4]}; required: unchanged")


@proves("OPT-DTYPE-1", needs=OPTIMIZER, needs_any=True, max_examples=10)
def dtype_and_shape_kept(target: Target, trial: Trial) -> None:
    for name in _functions(target):
        drawn = draws.one_step(trial.draw, name, target.dtypes)
        for slot, got in zip(FUNCTIONS[name].results, call(target, name, drawn.args), strict=True):
            trial.equal(f"dtype of {slot.name}_new from {name} on {drawn.dtype} arrays", str(got.dtype), drawn.dtype)
            trial.equal(f"shape of {slot.name}_new from {name}", got.shape, drawn.args["p"].shape)


@proves("OPT-PURE-1", needs=OPTIMIZER, needs_any=True, max_examples=10)
def steps_are_pure(target: Target, trial: Trial) -> None:
    for name in _functions(target):
        drawn = draws.one_step(trial.draw, name, target.dtypes)
        signature = FUNCTIONS[name]
        given = [target.to_impl_layout(drawn.args[s.name], s.role) for s in signature.arguments]
        before = [a.copy() if isinstance(a, np.ndarray) else a for a in given]
        first = call(target, name, drawn.args)
        target.invoke(name, given)
        for slot, after, was in zip(signature.arguments, given, before, strict=True):
            if isinstance(was, np.ndarray):
                trial.holds(np.array_equal(after, was, equal_nan=True),
                            f"{name} modified its argument {slot.name} (in place); required: unchanged")
        again = call(target, name, drawn.args)
        for slot, a, b in zip(signature.results, first, again, strict=True):
            trial.holds(np.array_equal(a, b, equal_nan=True), f"{name} returned a different {slot.name}_new for "
                        f"the same inputs the second time; required: the same (no hidden state)")


#: The bad values OPT-INPUT-1 passes, one per call: argument -> how each is made from the good value.
BAD: dict[str, tuple[Any, ...]] = {
    "lr": (lambda v: -v,), "momentum": (lambda v: 1.0, lambda v: -0.5), "rho": (lambda v: 1.5, lambda v: -0.1),
    "beta1": (lambda v: 1.0, lambda v: -0.1), "beta2": (lambda v: 1.0, lambda v: 1.5), "eps": (lambda v: -v,),
    "t": (lambda v: 0, lambda v: -1)}


@proves("OPT-INPUT-1", needs=OPTIMIZER, needs_any=True, max_examples=10)
def bad_hyperparameters_refused(target: Target, trial: Trial) -> None:
    for name in _functions(target):
        drawn = draws.one_step(trial.draw, name, target.dtypes)
        scalars = [s.name for s in FUNCTIONS[name].arguments if s.name in BAD]
        which = trial.draw(st.sampled_from(scalars), "bad_argument")
        # the bad value itself is drawn (a number a case file can keep), from those BAD makes of the good one
        bad = trial.draw(st.sampled_from([make(drawn.args[which]) for make in BAD[which]]), f"bad_{which}")
        try:
            call(target, name, dict(drawn.args, **{which: bad}))
        except ImplementationRaised:
            continue
        trial.holds(False, f"{name} returned a result for {which} = {bad!r}; required: an exception "
                           f"(lr >= 0, decays in [0, 1), eps >= 0, t >= 1)")


def _arguments(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], state: dict[str, dict], name: str,
               hyper: dict[str, Any], t: int) -> dict[str, dict[str, Any]]:
    """Per parameter of the network, the arguments of its step: itself, its gradient, its state."""
    return {key: dict(hyper, p=p, dp=grads[f"d{key}"], **state[key], **({"t": t} if name == "adam" else {}))
            for key, p in params.items()}


def _stepped(results: dict[str, tuple[np.ndarray, ...]], name: str) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """The new parameters, and their new state, from each parameter's results."""
    names = draws.STATE[name]
    return ({key: out[0] for key, out in results.items()},
            {key: dict(zip(names, out[1:], strict=True)) for key, out in results.items()})


@proves("OPT-NET-1", needs=OPTIMIZER, needs_any=True, max_examples=10)
def training_the_bn_network(target: Target, trial: Trial) -> None:
    spec, params, X, Y = _network(trial.draw)
    name = trial.draw(st.sampled_from(_functions(target)), "optimizer")
    hyper = {k: v for k, v in draws.hyper(trial.draw, name, t=1).items() if k != "t"}
    k = trial.draw(st.integers(1, 3), "steps")
    zero = {key: {k: np.zeros_like(p) for k in draws.STATE[name]} for key, p in params.items()}
    ours, theirs, our_state, their_state = dict(params), dict(params), zero, zero
    exact = {key: np.zeros_like(p) for key, p in params.items()}
    amplified = {key: np.zeros_like(p) for key, p in params.items()}
    cond = 1.0
    for t in range(1, k + 1):
        # Both take the reference's gradients at the required path's parameters: the optimizer is under test,
        # and the loss's curvature would otherwise amplify a rounding difference into a verdict.
        _, grads, _ = net.loss_and_grads(spec, ours, X, Y)
        our_args = _arguments(ours, grads, our_state, name, hyper, t)
        their_args = _arguments(theirs, grads, their_state, name, hyper, t)
        for key, a in our_args.items():
            e, amp = forms.magnitudes(target.profile, name, a)[0]  # the steps' errors add (see optimizers.accumulate)
            exact[key], amplified[key] = exact[key] + e, amplified[key] + amp
            cond = max(cond, forms.decay_condition(name, a))
        ours, our_state = _stepped({key: forms.step(target.profile, name, a) for key, a in our_args.items()}, name)
        theirs, their_state = _stepped({key: call(target, name, a) for key, a in their_args.items()}, name)
        for key in ours:
            trial.close(f"{key} after {t} of {k} training steps with {name} (profile {target.profile.name})",
                        theirs[key], ours[key],
                        optimizer_tolerance(np.float64, 1, exact[key], amplified[key], cond))
