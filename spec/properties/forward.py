"""Properties of forward in training mode (L6, L8, L9, paper Alg. 1), and the degenerate
inputs -- a constant unit, m = 1 -- in both functions: forward's output (BN-DEG-1, BN-DEG-2)
and backward's gradients (BN-DEG-3, BN-DEG-4) are separate clauses on the same draws, so that a
target with forward alone is checked on the first."""

from __future__ import annotations

import builtins
from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from bnspec.reference import batchnorm as ref

from .. import strategies as draws
from ..errors import ImplementationRaised
from ..profiles import Profile
from ..target import Target
from ..tolerances import tolerance
from ..trial import Trial
from . import proves, scales


@proves("BN-SHAPE-1")
def output_shape(target: Target, trial: Trial) -> None:
    # m >= 2: what forward does at m = 1 is BN-DEG-2's (a profile may require a refusal there).
    x = draws.layer(trial.draw)
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    trial.equal("shape of forward(z, gamma, beta, eps)", out.shape, x.z.shape)


# BN-DTYPE-1 and BN-DTYPE-2 are proved in dtypes.py, with the dtype policy.


def _unit_output(target: Target, x: draws.Layer) -> tuple[np.ndarray, np.ndarray]:
    """forward(z, 1, 0, eps) and its scale, at the eps the implementation computes with."""
    ones, zeros = np.ones((x.n, 1)), np.zeros((x.n, 1))
    return target.forward(x.z, ones, zeros, x.eps), scales.output(x.z, ones, zeros, target.eps_in_effect(x.eps))


@proves("BN-NORM-1")
def zero_mean(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, unit_affine=True)
    out, scale = _unit_output(target, x)
    trial.close(
        "mean over the mini-batch of forward(z, 1, 0, eps) per unit",
        out.mean(axis=1, keepdims=True), np.zeros((x.n, 1)), tolerance("value", np.float64, x.m, scale),
        observed_src="mean(result1)", required_src="np.zeros_like(mean(z))",
    )


@proves("BN-NORM-2")
def unit_variance(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, unit_affine=True)
    out, scale = _unit_output(target, x)
    _, var = ref.batch_statistics(x.z)
    trial.close(
        "variance over the mini-batch of forward(z, 1, 0, eps) per unit",
        out.var(axis=1, keepdims=True), var / (var + x.eps),
        tolerance("value", np.float64, x.m, 2 * np.sqrt(x.m) * scale),
        observed_src="var(result1)", required_src="var(z) / (var(z) + eps)",
    )


@proves("BN-AFFINE-1")
def scale_and_shift(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    z_norm, _ = _unit_output(target, x)
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    trial.close(
        "forward(z, gamma, beta, eps) against gamma * forward(z, 1, 0, eps) + beta",
        out, x.gamma * z_norm + x.beta,
        tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, target.eps_in_effect(x.eps))),
    )


@proves("BN-AFFINE-2")
def identity(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    mu, var = ref.batch_statistics(x.z)
    gamma = np.sqrt(var + x.eps)
    out = target.forward(x.z, gamma, mu, x.eps)
    scale = scales.output(x.z, gamma, mu, x.eps)
    trial.close(
        "forward(z, sqrt(sigma^2 + eps), mu, eps) against z", out, x.z,
        tolerance("value", np.float64, x.m, scale),
    )


@proves("BN-AFFINE-3")
def mean_and_spread(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    _, var = ref.batch_statistics(x.z)
    scale = scales.output(x.z, x.gamma, x.beta, x.eps)
    trial.close(
        "mean over the mini-batch of forward(z, gamma, beta, eps) per unit",
        out.mean(axis=1, keepdims=True), x.beta, tolerance("value", np.float64, x.m, scale),
    )
    trial.close(
        "variance over the mini-batch of forward(z, gamma, beta, eps) per unit",
        out.var(axis=1, keepdims=True), x.gamma**2 * var / (var + x.eps),
        # var of values each off by d errs by 2 |out - mean| d, and computing it errs by u out^2.
        tolerance("value", np.float64, x.m, 2 * np.sqrt(x.m) * scale**2),
    )


@proves("BN-FWD-REF")
def agrees_with_reference(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    trial.close(
        "forward(z, gamma, beta, eps) against the reference", out, ref.forward(x.z, x.gamma, x.beta, x.eps),
        tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, x.eps)),
        observed_src="result1", required_src="gamma * z_norm(z, eps) + beta",
    )


def _constant_unit_case(draw: draws.Draw) -> tuple[draws.Layer, int]:
    """BN-DEG-1's and BN-DEG-3's example: a drawn input with one of its units made constant, and that unit."""
    x = draws.layer(draw, degenerate=True)
    unit = draw(st.integers(0, x.n - 1), "constant_unit")
    z = x.z.copy()
    z[unit, :] = z[unit, 0]
    return draws.Layer(z, x.gamma, x.beta, x.eps), unit


@proves("BN-DEG-1")
def constant_unit(target: Target, trial: Trial) -> None:
    x, unit = _constant_unit_case(trial.draw)
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    scale = scales.output(x.z, x.gamma, x.beta, x.eps)
    trial.close(
        f"forward's output for the constant unit {unit}", out[unit], np.broadcast_to(x.beta[unit], (x.m,)),
        tolerance("value", np.float64, x.m, scale[unit]),
    )


@proves("BN-DEG-3", needs=("backward",))
def constant_unit_gradients(target: Target, trial: Trial) -> None:
    x, _ = _constant_unit_case(trial.draw)
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    dz, dgamma, dbeta = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    ref_dz, ref_dgamma, ref_dbeta = ref.backward(x.z, x.gamma, x.beta, x.eps, grad)
    gradient_scales = (scales.dz(x.z, x.gamma, x.eps, grad), scales.dgamma(x.z, x.eps, grad), scales.dbeta(grad))
    for name, observed, required, scale in zip(("dz", "dgamma", "dbeta"), (dz, dgamma, dbeta),
                                               (ref_dz, ref_dgamma, ref_dbeta), gradient_scales, strict=True):
        trial.close(f"{name} with a constant unit", observed, required, tolerance("pair", np.float64, x.m, scale))


def single_example_requirement(profile: Profile, function: str) -> str:
    """What ``profile`` requires of ``function`` at m = 1, with the profile's source, for failure messages
    (the clause's statement gives the lecture's formulas; a profile may require a refusal instead)."""
    source = profile.sources.get("single_example")
    because = f" ({source})" if source else ""
    if profile.single_example == "raises":
        return f"the {profile.name} profile requires {function} to raise {profile.refusal} at m = 1{because}"
    results = "the output beta" if function == "forward" else "dz = 0, dgamma = 0 and dbeta = grad"
    return f"the {profile.name} profile requires {results} at m = 1{because}"


def _refuses(trial: Trial, profile: Profile, function: str, call: Callable[[], object]) -> None:
    """``call`` (``function`` at m = 1) raises the refusal ``profile`` requires."""
    required = single_example_requirement(profile, function)
    try:
        call()
    except ImplementationRaised as failure:  # the refusal the profile requires, or another exception
        trial.holds(isinstance(failure.__cause__, getattr(builtins, profile.refusal)),
                    f"{function} at m = 1 raised {failure}; {required}")
    else:
        trial.holds(False, f"{function} at m = 1 returned; {required}")


def _single_example_case(draw: draws.Draw) -> draws.Layer:
    """BN-DEG-2's and BN-DEG-4's example: an input of one example."""
    return draws.layer(draw, min_m=1, max_m=1, degenerate=True)


@proves("BN-DEG-2")
def single_example(target: Target, trial: Trial) -> None:
    x = _single_example_case(trial.draw)
    profile = target.profile
    if profile.single_example == "raises":
        _refuses(trial, profile, "forward", lambda: target.forward(x.z, x.gamma, x.beta, x.eps))
        return
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    scale = scales.output(x.z, x.gamma, x.beta, x.eps)
    trial.close(f"forward, where {single_example_requirement(profile, 'forward')}", out, x.beta,
                tolerance("value", np.float64, 1, scale))


@proves("BN-DEG-4", needs=("backward",))
def single_example_gradients(target: Target, trial: Trial) -> None:
    x = _single_example_case(trial.draw)
    grad = trial.draw(draws.matrix(x.n, 1, -2.0, 2.0), "grad")
    profile = target.profile
    if profile.single_example == "raises":
        _refuses(trial, profile, "backward", lambda: target.backward(x.z, x.gamma, x.beta, x.eps, grad))
        return
    dz, dgamma, dbeta = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    required = single_example_requirement(profile, "backward")
    trial.close(f"dz, where {required}", dz, np.zeros_like(dz),
                tolerance("gradient", np.float64, 1, scales.dz(x.z, x.gamma, x.eps, grad)))
    trial.close(f"dgamma, where {required}", dgamma, np.zeros_like(dgamma),
                tolerance("gradient", np.float64, 1, scales.dgamma(x.z, x.eps, grad)))
    trial.close(f"dbeta, where {required}", dbeta, grad,
                tolerance("gradient", np.float64, 1, scales.dbeta(grad)))
