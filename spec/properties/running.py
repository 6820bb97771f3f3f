"""Properties of the running statistics and inference mode (L12, paper Alg. 2)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from bnspec.reference import batchnorm as ref

from .. import assertions as check
from .. import strategies as draws
from ..tolerances import tolerance
from . import proves, scales

RUNNING = ("update_running",)
EVAL = ("forward_eval",)


def _running(draw, n):
    mean = draw(draws.column(n, -1e3, 1e3, special=(0.0,)), "running_mean")
    var = draw(draws.column(n, 1e-4, 1e4, special=(1.0,)), "running_var")
    return mean, var


def _momentum(draw):
    momenta = st.one_of(st.sampled_from([0.0, 1.0, 0.9, 0.99, 0.1]), st.floats(0.0, 1.0))
    return draw(momenta.map(draws.attribute), "momentum")


@proves("BN-SHAPE-3", needs=RUNNING)
def running_shapes(target, draw):
    x = draws.layer(draw)
    mean, var = _running(draw, x.n)
    new_mean, new_var = target.update_running(mean, var, x.z, _momentum(draw))
    check.equal("shape of the new running mean", new_mean.shape, (x.n, 1))
    check.equal("shape of the new running variance", new_var.shape, (x.n, 1))


@proves("BN-SHAPE-4", needs=EVAL)
def eval_shape(target, draw):
    x = draws.layer(draw, min_m=1)
    mean, var = _running(draw, x.n)
    out = target.forward_eval(x.z, x.gamma, x.beta, mean, var, x.eps)
    check.equal("shape of forward_eval's output", out.shape, x.z.shape)


@proves("BN-RUN-1", needs=RUNNING)
def weighted_average(target, draw):
    x = draws.layer(draw)
    mean, var = _running(draw, x.n)
    momentum = _momentum(draw)
    new_mean, new_var = target.update_running(mean, var, x.z, momentum)
    want_mean, want_var = target.profile.expected_running(mean, var, x.z, momentum)
    check.close("running mean after one update", new_mean, want_mean,
                tolerance("running", np.float64, x.m, np.abs(mean) + scales.batch_mean(x.z)), "running")
    check.close("running variance after one update", new_var, want_var,
                tolerance("running", np.float64, x.m, var + scales.batch_var(x.z, x.eps)), "running")


@proves("BN-RUN-2", needs=RUNNING + EVAL + ("forward",), max_examples=30)
def running_converges(target, draw):
    x = draws.layer(draw, max_offset_ratio=1e4)
    momentum = target.profile.momentum_for(draw(st.floats(0.0, 0.5).map(draws.attribute), "weight_of_old_value"))
    mean, var = np.zeros((x.n, 1)), np.ones((x.n, 1))
    for _ in range(60):  # (weight of the old value)**60 <= 2**-60: the initial values are forgotten
        mean, var = target.update_running(mean, var, x.z, momentum)
    want_mean, want_var = target.profile.converged(x.z)
    # 60 updates each add one 'running' error, shrunk by (1 - momentum) >= 1/2 and
    # damped geometrically afterwards: at most twice one update's error, plus the
    # initial values' 2**-60.
    check.close("running mean after 60 updates with one mini-batch", mean, want_mean,
                tolerance("running", np.float64, x.m, 4 * scales.batch_mean(x.z)), "running")
    check.close("running variance after 60 updates with one mini-batch", var, want_var,
                tolerance("running", np.float64, x.m, 4 * (scales.batch_var(x.z, x.eps) + 1)), "running")
    if target.profile.running_var == "biased":
        scale = scales.output(x.z, x.gamma, x.beta, x.eps)
        check.close("forward_eval with the converged statistics against forward", target.forward_eval(
            x.z, x.gamma, x.beta, mean, var, x.eps), target.forward(x.z, x.gamma, x.beta, x.eps),
            tolerance("pair", np.float64, x.m, 2 * scale), "pair")


def _eval_case(draw, min_m=1):
    x = draws.layer(draw, min_m=min_m, max_offset_ratio=1e4)
    mean, var = _running(draw, x.n)
    return x, mean, var


@proves("BN-EVAL-1", needs=EVAL)
def eval_formula(target, draw):
    x, mean, var = _eval_case(draw)
    scale, shift = ref.eval_affine(x.gamma, x.beta, mean, var, x.eps)
    check.close("forward_eval(z, gamma, beta, running_mean, running_var, eps)",
                target.forward_eval(x.z, x.gamma, x.beta, mean, var, x.eps), scale * x.z + shift,
                tolerance("value", np.float64, 1, scales.inference_output(x, mean, var)), "value")


@proves("BN-EVAL-2", needs=EVAL)
def eval_per_example(target, draw):
    x, mean, var = _eval_case(draw, min_m=2)
    whole = target.forward_eval(x.z, x.gamma, x.beta, mean, var, x.eps)
    example = draw(st.integers(0, x.m - 1), "example")
    alone = target.forward_eval(x.z[:, example:example + 1], x.gamma, x.beta, mean, var, x.eps)
    check.close(f"forward_eval of example {example} alone against its column in the batch",
                alone[:, 0], whole[:, example],
                tolerance("pair", np.float64, 1, scales.inference_output(x, mean, var)[:, example]), "pair")


@proves("BN-EVAL-3", needs=EVAL)
def eval_folds_into_dense(target, draw):
    x, mean, var = _eval_case(draw)
    k = draw(st.integers(1, 4), "n_prev")
    W = draw(draws.matrix(x.n, k), "W")
    A = draw(draws.matrix(k, x.m), "A_prev")
    W_folded, b_folded = ref.fold_into_dense(W, x.gamma, x.beta, mean, var, x.eps)
    Z = W @ A
    magnitude = np.abs(W) @ np.abs(A)
    scale = (np.abs(x.gamma) * (magnitude + np.abs(mean) + np.sqrt(var + x.eps)) / np.sqrt(var + x.eps)
             + np.abs(x.beta))
    check.close("forward_eval(W A, ...) against W' A + b'", target.forward_eval(Z, x.gamma, x.beta, mean, var, x.eps),
                W_folded @ A + b_folded, tolerance("pair", np.float64, k, 2 * scale), "pair")
