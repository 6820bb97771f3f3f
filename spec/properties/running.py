"""Properties of the running statistics and inference mode (L12, paper Alg. 2)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from bnspec.reference import batchnorm as ref

from .. import strategies as draws
from ..target import Target
from ..tolerances import tolerance
from ..trial import Trial
from . import proves, scales

RUNNING = ("update_running",)
EVAL = ("forward_eval",)


#: The running statistics drawn: (lo, hi, special values favoured) of the mean and of the variance
#: (the golden vectors fill theirs from them too, see bnspec.spec.vectors).
RUNNING_MEAN = (-1e3, 1e3, (0.0,))
RUNNING_VAR = (1e-4, 1e4, (1.0,))
#: The momenta drawn most often (else any in [0, 1]), each rounded by strategies.attribute.
MOMENTA = (0.0, 1.0, 0.9, 0.99, 0.1)


def _running(draw: draws.Draw, n: int) -> tuple[np.ndarray, np.ndarray]:
    mean = draw(draws.column(n, RUNNING_MEAN[0], RUNNING_MEAN[1], special=RUNNING_MEAN[2]), "running_mean")
    var = draw(draws.column(n, RUNNING_VAR[0], RUNNING_VAR[1], special=RUNNING_VAR[2]), "running_var")
    return mean, var


def _under(target: Target) -> str:
    """The conventions the running statistics are checked under, for failure messages: a target that
    follows others declares them (``bnspec profiles``)."""
    p = target.profile
    return f"under the {p.name} profile: momentum weighs the {p.momentum_weighs} value, {p.running_var} variance"


def _momentum(draw: draws.Draw) -> float:
    momenta = st.one_of(st.sampled_from(MOMENTA), st.floats(0.0, 1.0))
    return draw(momenta.map(draws.attribute), "momentum")


@proves("BN-SHAPE-3", needs=RUNNING)
def running_shapes(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    mean, var = _running(trial.draw, x.n)
    new_mean, new_var = target.update_running(mean, var, x.z, _momentum(trial.draw))
    trial.equal("shape of the new running mean", new_mean.shape, (x.n, 1))
    trial.equal("shape of the new running variance", new_var.shape, (x.n, 1))


@proves("BN-SHAPE-4", needs=EVAL)
def eval_shape(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, min_m=1)
    mean, var = _running(trial.draw, x.n)
    out = target.forward_eval(x.z, x.gamma, x.beta, mean, var, x.eps)
    trial.equal("shape of forward_eval's output", out.shape, x.z.shape)


@proves("BN-RUN-1", needs=RUNNING)
def weighted_average(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    mean, var = _running(trial.draw, x.n)
    momentum = _momentum(trial.draw)
    new_mean, new_var = target.update_running(mean, var, x.z, momentum)
    want_mean, want_var = target.profile.expected_running(mean, var, x.z, momentum)
    trial.close(f"running mean after one update ({_under(target)})", new_mean, want_mean,
                tolerance("running", np.float64, x.m, np.abs(mean) + scales.batch_mean(x.z)))
    trial.close(f"running variance after one update ({_under(target)})", new_var, want_var,
                tolerance("running", np.float64, x.m, var + scales.batch_var(x.z, x.eps)))


@proves("BN-RUN-2", needs=RUNNING + EVAL + ("forward",), max_examples=30)
def running_converges(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, max_offset_ratio=1e4)
    momentum = target.profile.momentum_for(
        trial.draw(st.floats(0.0, 0.5).map(draws.attribute), "weight_of_old_value"))
    mean, var = np.zeros((x.n, 1)), np.ones((x.n, 1))
    for _ in range(60):  # (weight of the old value)**60 <= 2**-60: the initial values are forgotten
        mean, var = target.update_running(mean, var, x.z, momentum)
    want_mean, want_var = target.profile.converged(x.z)
    # 60 updates each add one 'running' error, shrunk by (1 - momentum) >= 1/2 and
    # damped geometrically afterwards: at most twice one update's error, plus the
    # initial values' 2**-60.
    trial.close(f"running mean after 60 updates with one mini-batch ({_under(target)})", mean, want_mean,
                tolerance("running", np.float64, x.m, 4 * scales.batch_mean(x.z)))
    trial.close(f"running variance after 60 updates with one mini-batch ({_under(target)})", var, want_var,
                tolerance("running", np.float64, x.m, 4 * (scales.batch_var(x.z, x.eps) + 1)))
    if target.profile.running_var == "biased":
        scale = scales.output(x.z, x.gamma, x.beta, target.eps_in_effect(x.eps))  # holds for any eps
        trial.close("forward_eval with the converged statistics against forward", target.forward_eval(
            x.z, x.gamma, x.beta, mean, var, x.eps), target.forward(x.z, x.gamma, x.beta, x.eps),
            tolerance("pair", np.float64, x.m, 2 * scale))


def _eval_case(draw: draws.Draw, min_m: int = 1) -> tuple[draws.Layer, np.ndarray, np.ndarray]:
    x = draws.layer(draw, min_m=min_m, max_offset_ratio=1e4)
    mean, var = _running(draw, x.n)
    return x, mean, var


@proves("BN-EVAL-1", needs=EVAL)
def eval_formula(target: Target, trial: Trial) -> None:
    x, mean, var = _eval_case(trial.draw)
    scale, shift = ref.eval_affine(x.gamma, x.beta, mean, var, x.eps)
    trial.close("forward_eval(z, gamma, beta, running_mean, running_var, eps)",
                target.forward_eval(x.z, x.gamma, x.beta, mean, var, x.eps), scale * x.z + shift,
                tolerance("value", np.float64, 1, scales.inference_output(x, mean, var)))


@proves("BN-EVAL-2", needs=EVAL)
def eval_per_example(target: Target, trial: Trial) -> None:
    x, mean, var = _eval_case(trial.draw, min_m=2)
    whole = target.forward_eval(x.z, x.gamma, x.beta, mean, var, x.eps)
    example = trial.draw(st.integers(0, x.m - 1), "example")
    alone = target.forward_eval(x.z[:, example:example + 1], x.gamma, x.beta, mean, var, x.eps)
    trial.close(f"forward_eval of example {example} alone against its column in the batch",
                alone[:, 0], whole[:, example],
                tolerance("pair", np.float64, 1, scales.inference_output(x, mean, var)[:, example]))


@proves("BN-EVAL-3", needs=EVAL)
def eval_folds_into_dense(target: Target, trial: Trial) -> None:
    x, mean, var = _eval_case(trial.draw)
    k = trial.draw(st.integers(1, 4), "n_prev")
    W = trial.draw(draws.matrix(x.n, k), "W")
    A = trial.draw(draws.matrix(k, x.m), "A_prev")
    W_folded, b_folded = ref.fold_into_dense(W, x.gamma, x.beta, mean, var, x.eps)
    Z = W @ A
    magnitude = np.abs(W) @ np.abs(A)
    scale = (np.abs(x.gamma) * (magnitude + np.abs(mean) + np.sqrt(var + x.eps)) / np.sqrt(var + x.eps)
             + np.abs(x.beta))
    trial.close("forward_eval(W A, ...) against W' A + b'", target.forward_eval(Z, x.gamma, x.beta, mean, var, x.eps),
                W_folded @ A + b_folded, tolerance("pair", np.float64, k, 2 * scale))
