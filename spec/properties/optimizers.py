"""Properties of the reference's optimizers (L3, L4, L11) and mini-batches (L6)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import strategies as st

from bnspec.reference import optimizers, training

from .. import assertions as check
from .. import strategies as draws
from ..tolerances import tolerance
from . import proves


def _params_and_grads(draw):
    n = draw(st.integers(1, 4), "n")
    names = ("W1", "gamma1", "beta1", "b2")
    params = {k: draw(draws.matrix(n, 1 if k != "W1" else 2, -3, 3), k) for k in names}
    grads = {f"d{k}": draw(draws.matrix(v.shape[0], v.shape[1], -2, 2), f"d{k}") for k, v in params.items()}
    return params, grads


def _lr(draw):
    return draw(st.sampled_from([0.1, 0.01, 1.0]), "lr")


def _close(what, new, want):
    for key, value in want.items():
        check.close(f"{what}: {key}", new[key], value,
                    tolerance("value", np.float64, 1, np.abs(value) + 1), "value")


def _two_steps(optimizer, params, grads):
    state = optimizer.init(params)
    once, state = optimizer.step(params, grads, state)
    twice, _ = optimizer.step(once, grads, state)
    return once, twice


@proves("OPT-GD-1", needs=())
def gradient_descent(target, draw):
    params, grads = _params_and_grads(draw)
    lr = _lr(draw)
    once, _ = _two_steps(optimizers.GradientDescent(lr), params, grads)
    _close("one step of gradient descent", once, {k: p - lr * grads[f"d{k}"] for k, p in params.items()})


@proves("OPT-MOM-1", needs=())
def momentum(target, draw):
    params, grads = _params_and_grads(draw)
    lr, rate = _lr(draw), draw(st.sampled_from([0.9, 0.5, 0.0]), "momentum")
    once, twice = _two_steps(optimizers.Momentum(lr, rate), params, grads)
    v1 = {k: (1 - rate) * grads[f"d{k}"] for k in params}
    v2 = {k: rate * v1[k] + (1 - rate) * grads[f"d{k}"] for k in params}
    _close("one step of momentum", once, {k: p - lr * v1[k] for k, p in params.items()})
    _close("two steps of momentum", twice, {k: once[k] - lr * v2[k] for k in params})


@proves("OPT-RMS-1", needs=())
def rmsprop(target, draw):
    params, grads = _params_and_grads(draw)
    lr, rho = _lr(draw), draw(st.sampled_from([0.9, 0.99, 0.5]), "rho")
    once, _ = _two_steps(optimizers.RMSprop(lr, rho, 1e-8), params, grads)
    s = {k: (1 - rho) * grads[f"d{k}"] ** 2 for k in params}
    _close("one step of RMSprop", once,
           {k: p - lr * grads[f"d{k}"] / (np.sqrt(s[k]) + 1e-8) for k, p in params.items()})


@proves("OPT-ADAM-1", needs=())
def adam(target, draw):
    params, grads = _params_and_grads(draw)
    lr = _lr(draw)
    beta1, beta2 = draw(st.sampled_from([0.9, 0.5]), "beta1"), draw(st.sampled_from([0.999, 0.9]), "beta2")
    once, twice = _two_steps(optimizers.Adam(lr, beta1, beta2, 1e-8), params, grads)
    want1, want2 = {}, {}
    for k, p in params.items():
        d = grads[f"d{k}"]
        v, s = (1 - beta1) * d, (1 - beta2) * d**2
        want1[k] = p - lr * (v / (1 - beta1)) / (np.sqrt(s / (1 - beta2)) + 1e-8)
        v, s = beta1 * v + (1 - beta1) * d, beta2 * s + (1 - beta2) * d**2
        want2[k] = want1[k] - lr * (v / (1 - beta1**2)) / (np.sqrt(s / (1 - beta2**2)) + 1e-8)
    _close("one step of Adam", once, want1)
    _close("two steps of Adam", twice, want2)


@proves("OPT-ALL-1", needs=())
def every_optimizer_learns_gamma_and_beta(target, draw):
    params, grads = _params_and_grads(draw)
    for name, cls in optimizers.OPTIMIZERS.items():
        once, _ = _two_steps(cls(0.1), params, grads)
        for key in params:
            moved = np.abs(grads[f"d{key}"]) > 1e-3
            check.holds(bool((once[key] != params[key])[moved].all()),
                        f"{name} left {key} unchanged where d{key} is non-zero; every parameter must be updated (L4)")


@proves("OPT-BETA-1", needs=())
def two_different_betas(target, draw):
    params, grads = _params_and_grads(draw)
    grads["dbeta1"] = np.zeros_like(grads["dbeta1"])
    for cls in optimizers.OPTIMIZERS.values():
        names = {f.name for f in dataclasses.fields(cls)}
        check.holds("beta" not in names, f"{cls.__name__} has a hyperparameter named bare 'beta' (L3)")
    beta1, beta2 = draw(st.floats(0.0, 0.99), "beta1"), draw(st.floats(0.0, 0.999), "beta2")
    adam = optimizers.Adam(0.1, beta1, beta2)
    once, _ = _two_steps(adam, params, grads)
    check.holds(np.array_equal(once["beta1"], params["beta1"]),
                "Adam moved BN's beta1 parameter although dbeta1 = 0: the optimizer's beta1/beta2 leaked into it")
    check.equal("Adam's beta1 after a step", adam.beta1, beta1)
    check.equal("Adam's beta2 after a step", adam.beta2, beta2)


@proves("TRAIN-2", needs=())
def minibatches_partition_the_examples(target, draw):
    m, size = draw(st.integers(1, 40), "m"), draw(st.integers(1, 16), "batch_size")
    X = np.arange(2.0 * m).reshape(2, m)
    Y = X[:1] + 0.5
    batches = training.minibatches(X, Y, size, np.random.default_rng(draw(st.integers(0, 99), "seed")))
    sizes = [b[0].shape[1] for b in batches]
    check.equal("mini-batch sizes", sizes, [size] * (m // size) + ([m % size] if m % size else []))
    seen = np.concatenate([b[0][0] for b in batches])
    check.equal("examples over the epoch", sorted(seen.tolist()), X[0].tolist())
    for Xt, Yt in batches:
        check.holds(np.array_equal(Yt, Xt[:1] + 0.5), "a mini-batch split X{t} from its Y{t}")
