"""Properties of the optimizer protocol's steps: each one-step formula, trajectories, the
laws every form keeps (L3, L4, L11; :mod:`bnspec.spec.clauses.optimizers`).

The required results are the profile's form (:mod:`bnspec.spec.optimizer_forms`),
computed in float64 from the arguments the implementation received; a failing
comparison names the bug when the results match one of
:mod:`bnspec.spec.diagnosis.optimizer_bugs`' models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from .. import optimizer_draws as draws
from .. import optimizer_forms as forms
from ..diagnosis import optimizer_bugs
from ..protocol import FUNCTIONS
from ..target import Target
from ..tolerances import optimizer_tolerance
from ..trial import FailedClaim, Trial
from . import Check, proves

Results = tuple[np.ndarray, ...]
Scales = tuple[tuple[np.ndarray, np.ndarray], ...]


def call(target: Target, name: str, args: dict[str, Any]) -> Results:
    """The target's ``name`` on ``args`` (by the protocol's names): its results as a tuple."""
    out = target.call(name, *[args[a] for a in FUNCTIONS[name].argument_names])
    return out if isinstance(out, tuple) else (out,)


def accumulate(summed: Scales | None, scales: Scales) -> Scales:
    """The magnitudes of k steps: each step rounds its own, and the errors add (decays below 1 never
    amplify an earlier one), so a trajectory's tolerance is one step's on the sum of the steps' magnitudes."""
    if summed is None:
        return scales
    return tuple((e0 + e1, a0 + a1) for (e0, a0), (e1, a1) in zip(summed, scales, strict=True))


def condition(name: str, args_seen: list[dict[str, Any]]) -> float:
    return max(forms.decay_condition(name, a) for a in args_seen)


def compare(trial: Trial, target: Target, name: str, args: dict[str, Any], observed: Results, required: Results,
            scales: Scales, steps: int, cond: float, where: str = "",
            diagnose: bool = False) -> None:
    """Each result against the required one, at :func:`~bnspec.spec.tolerances.optimizer_tolerance`."""
    dtype = args["p"].dtype
    for slot, got, want, (exact, amplified) in zip(FUNCTIONS[name].results, observed, required, scales,
                                                   strict=True):
        if slot.name == "v" and name == "momentum" and args["momentum"] == 0:
            continue  # at momentum 0 no step reads v: PyTorch and MLX keep none then (clause OPT-MOM-1)
        what = f"{slot.name}_new of {name}{where} (profile {target.profile.name})"
        try:
            trial.close(what, got, want, optimizer_tolerance(dtype, steps, exact, amplified, cond))
        except FailedClaim as failure:
            named = optimizer_bugs.name(target.profile, name, args, observed, cond) if diagnose else ""
            if not named:
                raise
            raise FailedClaim(f"{failure}\n{named}", failure.claim) from None


def _one_step(clause_id: str, name: str) -> Check:
    @proves(clause_id, needs=(name,), max_examples=20)
    def one_step(target: Target, trial: Trial) -> None:
        drawn = draws.one_step(trial.draw, name, target.dtypes)
        observed = call(target, name, drawn.args)
        required = forms.step(target.profile, name, drawn.args)
        compare(trial, target, name, drawn.args, observed, required,
                forms.magnitudes(target.profile, name, drawn.args), 1,
                forms.decay_condition(name, drawn.args), diagnose=True)

    one_step.__name__ = one_step.__qualname__ = f"one_step_of_{name}"
    return one_step


def _trajectory(clause_id: str, name: str) -> Check:
    @proves(clause_id, needs=(name,), max_examples=20)
    def trajectory(target: Target, trial: Trial) -> None:
        draw = trial.draw
        drawn = draws.one_step(draw, name, target.dtypes, zero_state=draw(st.booleans(), "zero_state"))
        k = draw(STEPS, "steps")
        shape, dt = drawn.args["p"].shape, drawn.dtype
        ours, theirs = dict(drawn.args), dict(drawn.args)
        state_names = draws.STATE[name]
        seen, summed = [], None
        for i in range(1, k + 1):
            if i > 1:
                dp = draw(draws.arrays(shape, dt, drawn.grad_exponent), f"dp[{i}]")
                ours["dp"] = theirs["dp"] = dp
                if name == "adam":
                    ours["t"] = theirs["t"] = drawn.args["t"] + i - 1
            seen.append(dict(ours))
            required = forms.step(target.profile, name, ours)
            summed = accumulate(summed, forms.magnitudes(target.profile, name, ours))
            observed = call(target, name, theirs)
            compare(trial, target, name, theirs, observed, required, summed, 1, condition(name, seen),
                    where=f" after step {i} of {k}")
            ours.update(zip(["p", *state_names], required, strict=True))  # the required path stays in float64
            theirs.update(zip(["p", *state_names], observed, strict=True))

    trajectory.__name__ = trajectory.__qualname__ = f"trajectory_of_{name}"
    return trajectory


one_step_of_gd = _one_step("OPT-GD-1", "gd")
one_step_of_momentum = _one_step("OPT-MOM-1", "momentum")
one_step_of_rmsprop = _one_step("OPT-RMS-1", "rmsprop")
one_step_of_adam = _one_step("OPT-ADAM-1", "adam")
trajectory_of_momentum = _trajectory("OPT-MOM-2", "momentum")
trajectory_of_rmsprop = _trajectory("OPT-RMS-2", "rmsprop")
trajectory_of_adam = _trajectory("OPT-ADAM-2", "adam")


@proves("OPT-MOM-3", needs=("momentum",), max_examples=20)
def averaged_is_heavy_ball(target: Target, trial: Trial) -> None:
    draw = trial.draw
    drawn = draws.one_step(draw, "momentum", target.dtypes, zero_state=True)
    k = draw(st.integers(1, 5), "steps")
    form = target.profile.momentum_form
    mu, lr = drawn.args["momentum"], drawn.args["lr"]
    other: forms.MomentumForm = "heavy_ball" if form == "average" else "average"
    converted = lr * (1.0 - mu) if form == "average" else lr / (1.0 - mu)
    theirs = dict(drawn.args)
    p_other, v_other = drawn.args["p"].astype(np.float64), np.zeros(drawn.args["p"].shape)
    summed = None
    for i in range(1, k + 1):
        if i > 1:
            theirs["dp"] = draw(draws.arrays(drawn.args["p"].shape, drawn.dtype, drawn.grad_exponent), f"dp[{i}]")
        summed = accumulate(summed, forms.magnitudes(target.profile, "momentum", theirs))
        p_other, v_other = forms.momentum(other, p_other, theirs["dp"].astype(np.float64), v_other, converted, mu)
        p_new, v_new = call(target, "momentum", theirs)
        # twice one step's tolerance: the converted learning rate is one more rounding of every step
        trial.close(f"p after {i} of {k} steps of the {form} form (lr {lr:.17g}) against the {other} form with "
                    f"lr {converted:.17g}", p_new, p_other,
                    optimizer_tolerance(drawn.dtype, 2, *summed[0], forms.decay_condition("momentum", theirs)))
        theirs.update(p=p_new, v=v_new)


def _scaled(name: str, args: dict[str, Any], c: float, inside: bool) -> dict[str, Any]:
    """``args`` with dp and v times c, s times c^2 and eps times c (c^2 when eps is under the root)."""
    out = dict(args, dp=np.asarray(args["dp"] * np.asarray(c, dtype=args["dp"].dtype)))  # 0-d stays an array
    if "v" in args:
        out["v"] = np.asarray(args["v"] * np.asarray(c, dtype=args["v"].dtype))
    out["s"] = np.asarray(args["s"] * np.asarray(c * c, dtype=args["s"].dtype))
    out["eps"] = args["eps"] * (c * c if inside else c)
    return out


LOG2_C = st.sampled_from([k for k in range(-8, 9) if k])
STEPS = st.integers(2, 5)


def _invariance(clause_id: str, name: str) -> Check:
    @proves(clause_id, needs=(name,), max_examples=20)
    def scale_invariance(target: Target, trial: Trial) -> None:
        drawn = draws.one_step(trial.draw, name, target.dtypes)
        c = 2.0 ** trial.draw(LOG2_C, "log2_c")  # a power of 2: scaling is exact
        inside = name == "rmsprop" and target.profile.rmsprop_eps == "inside"
        scaled = _scaled(name, drawn.args, c, inside)
        base, moved = call(target, name, drawn.args), call(target, name, scaled)
        factors = {"p": 1.0, "v": c, "s": c * c}
        scales = forms.magnitudes(target.profile, name, drawn.args)
        cond = forms.decay_condition(name, drawn.args)
        for slot, a, b, (exact, amplified) in zip(FUNCTIONS[name].results, base, moved, scales, strict=True):
            f = factors[slot.name]
            trial.close(f"{slot.name}_new of {name} with dp times c = {c:g} (s times c^2, eps times "
                        f"{'c^2' if inside else 'c'}), divided by {f:g}, against {slot.name}_new without",
                        np.asarray(b, dtype=np.float64) / f, a,
                        optimizer_tolerance(drawn.dtype, 2, exact, amplified, cond))

    scale_invariance.__name__ = scale_invariance.__qualname__ = f"{name}_ignores_the_gradient_scale"
    return scale_invariance


rmsprop_ignores_the_gradient_scale = _invariance("OPT-RMS-3", "rmsprop")
adam_ignores_the_gradient_scale = _invariance("OPT-ADAM-4", "adam")

#: OPT-ADAM-3: how far the first step may be from lr, relative to lr: eps' / |dp| at most (eps' the eps
#: a profile adds to the uncorrected root, eps / sqrt(1 - beta2)) with eps <= 1e-6, |dp| >= 10^-1.5 and
#: beta2 <= 0.999: 1e-6 / 0.0316 / 0.0316 = 1e-3.
FIRST_STEP_RTOL = 1e-3


@proves("OPT-ADAM-3", needs=("adam",), max_examples=20)
def first_step_is_lr(target: Target, trial: Trial) -> None:
    draw = trial.draw
    dt = draws.dtype(draw, target.dtypes)
    shape = draw(draws.shapes(), "shape")
    p = draw(draws.arrays(shape, dt, draw(st.integers(-3, 0), "p_scale")), "p")
    dp = draw(draws.arrays(shape, dt, draw(st.integers(0, 3), "grad_scale")), "dp")
    zero = np.zeros(shape, dtype=dt)
    args = {"p": p, "dp": dp, "v": zero, "s": zero, "t": 1, "lr": draw(draws.log_uniform(-2, 0), "lr"),
            "beta1": draw(draws.decays(), "beta1"), "beta2": draw(draws.decays(), "beta2"),
            "eps": draw(draws.log_uniform(-10, -6), "eps")}
    p1 = call(target, "adam", args)[0]
    moved = np.abs(np.asarray(p1, dtype=np.float64) - p.astype(np.float64))
    lr, live = args["lr"], dp != 0
    exact, amplified = forms.magnitudes(target.profile, "adam", args)[0]
    tol = optimizer_tolerance(dt, 2, exact, amplified, forms.decay_condition("adam", args))
    trial.close(f"|p_1 - p_0| of adam's first step (from v = s = 0, t = 1) where dp != 0, against lr = {lr:.17g}",
                moved[live], np.full(moved[live].shape, lr), type(tol)(tol.atol[live] + FIRST_STEP_RTOL * lr,
                                                                        tol.kind))
