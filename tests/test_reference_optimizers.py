"""The reference's optimizers (L3, L4, L11) and mini-batches (L6, L11): each step against its
formula, under hypothesis, and each check shown to reject a faulty version patched in.

(These were the reference-only clauses OPT-* and TRAIN-2: they test the reference's own
machinery, not an implementation of the protocol, so they live here.)"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from bnspec.reference import optimizers, training
from bnspec.spec import strategies as draws
from bnspec.spec.tolerances import KINDS, unit_roundoff

#: An optimizer's step is a handful of roundings of each entry: the 'value' kind's
#: tolerance at m = 1, relative to |p| + 1.
RTOL = KINDS["value"].factor(1) * unit_roundoff(np.float64)


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
        np.testing.assert_allclose(new[key], value, rtol=RTOL, atol=RTOL, err_msg=f"{what}: {key}")


def _two_steps(optimizer, params, grads):
    state = optimizer.init(params)
    once, state = optimizer.step(params, grads, state)
    twice, _ = optimizer.step(once, grads, state)
    return once, twice


def gradient_descent(draw):
    """One step gives p - alpha * dp for every parameter (L4)."""
    params, grads = _params_and_grads(draw)
    lr = _lr(draw)
    once, _ = _two_steps(optimizers.GradientDescent(lr), params, grads)
    _close("one step of gradient descent", once, {k: p - lr * grads[f"d{k}"] for k, p in params.items()})


def momentum(draw):
    """v = momentum * v + (1 - momentum) * dp, then p - alpha * v, for two steps."""
    params, grads = _params_and_grads(draw)
    lr, rate = _lr(draw), draw(st.sampled_from([0.9, 0.5, 0.0]), "momentum")
    once, twice = _two_steps(optimizers.Momentum(lr, rate), params, grads)
    v1 = {k: (1 - rate) * grads[f"d{k}"] for k in params}
    v2 = {k: rate * v1[k] + (1 - rate) * grads[f"d{k}"] for k in params}
    _close("one step of momentum", once, {k: p - lr * v1[k] for k, p in params.items()})
    _close("two steps of momentum", twice, {k: once[k] - lr * v2[k] for k in params})


def rmsprop(draw):
    """s = rho * s + (1 - rho) * dp^2, then p - alpha * dp / (sqrt(s) + eps)."""
    params, grads = _params_and_grads(draw)
    lr, rho = _lr(draw), draw(st.sampled_from([0.9, 0.99, 0.5]), "rho")
    once, _ = _two_steps(optimizers.RMSprop(lr, rho, 1e-8), params, grads)
    s = {k: (1 - rho) * grads[f"d{k}"] ** 2 for k in params}
    _close("one step of RMSprop", once,
           {k: p - lr * grads[f"d{k}"] / (np.sqrt(s[k]) + 1e-8) for k, p in params.items()})


def adam(draw):
    """The bias-corrected v_hat / (sqrt(s_hat) + eps) update, for two steps."""
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


def every_optimizer_learns_gamma_and_beta(draw):
    """Each optimizer updates gamma[l] and beta[l] of every BN layer, like W[l] (L4)."""
    params, grads = _params_and_grads(draw)
    for name, cls in optimizers.OPTIMIZERS.items():
        once, _ = _two_steps(cls(0.1), params, grads)
        for key in params:
            moved = np.abs(grads[f"d{key}"]) > 1e-3
            assert (once[key] != params[key])[moved].all(), (
                f"{name} left {key} unchanged where d{key} is non-zero; every parameter must be updated (L4)")


def two_different_betas(draw):
    """The optimizers' hyperparameters (beta1, beta2) and BN's beta[l] are separate (L3)."""
    params, grads = _params_and_grads(draw)
    grads["dbeta1"] = np.zeros_like(grads["dbeta1"])
    for cls in optimizers.OPTIMIZERS.values():
        assert "beta" not in {f.name for f in dataclasses.fields(cls)}, (
            f"{cls.__name__} has a hyperparameter named bare 'beta' (L3)")
    beta1, beta2 = draw(st.floats(0.0, 0.99), "beta1"), draw(st.floats(0.0, 0.999), "beta2")
    adam = optimizers.Adam(0.1, beta1, beta2)
    once, _ = _two_steps(adam, params, grads)
    assert np.array_equal(once["beta1"], params["beta1"]), (
        "Adam moved BN's beta1 parameter although dbeta1 = 0: the optimizer's beta1/beta2 leaked into it")
    assert (adam.beta1, adam.beta2) == (beta1, beta2)


def minibatches_partition_the_examples(draw):
    """An epoch shuffles the examples and splits them into mini-batches of the given size (the
    last may be smaller), each example exactly once, each X{t} with its own Y{t} (L6)."""
    m, size = draw(st.integers(1, 40), "m"), draw(st.integers(1, 16), "batch_size")
    X = np.arange(2.0 * m).reshape(2, m)
    Y = X[:1] + 0.5
    batches = training.minibatches(X, Y, size, np.random.default_rng(draw(st.integers(0, 99), "seed")))
    assert [b[0].shape[1] for b in batches] == [size] * (m // size) + ([m % size] if m % size else [])
    assert sorted(np.concatenate([b[0][0] for b in batches]).tolist()) == X[0].tolist()
    for Xt, Yt in batches:
        assert np.array_equal(Yt, Xt[:1] + 0.5), "a mini-batch split X{t} from its Y{t}"


CHECKS = [gradient_descent, momentum, rmsprop, adam, every_optimizer_learns_gamma_and_beta, two_different_betas,
          minibatches_partition_the_examples]


def search(check, **overrides) -> None:
    """Run ``check`` under hypothesis with the loaded profile's settings (as the clauses' runs had:
    40 derandomized examples by default, 1000 under the thorough profile)."""

    @settings(**overrides)
    @given(st.data())
    def run(data):
        check(draws.Draw(data))

    run()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_the_reference_follows_the_formula(check):
    search(check)


# -- each check rejects a faulty version ------------------------------------------------------


def ascent(cls):
    """The optimizer's step with the sign of the update flipped (gradient ascent)."""
    step = cls.step

    def wrong(self, params, grads, state):
        new, state = step(self, params, grads, state)
        return {k: 2 * params[k] - v for k, v in new.items()}, state

    return wrong


def _skip_gamma_beta(cls):
    """The optimizer updates W and b but forgets BN's gamma and beta."""
    step = cls.step

    def wrong(self, params, grads, state):
        new, state = step(self, params, grads, state)
        return {k: (params[k] if k.startswith(("gamma", "beta")) else v) for k, v in new.items()}, state

    return wrong


def _adam_updates_beta(self, params, grads, state):
    """Adam that decays BN's beta by its beta1 hyperparameter (the two betas confused)."""
    new, state = ORIGINAL_ADAM_STEP(self, params, grads, state)
    return {k: (v * self.beta1 if k.startswith("beta") else v) for k, v in new.items()}, state


def _drop_last_batch(X, Y, batch_size, rng):
    """Mini-batches that drop the smaller last one (examples lost every epoch)."""
    batches = ORIGINAL_MINIBATCHES(X, Y, batch_size, rng)
    return batches[:-1] if len(batches) > 1 and batches[-1][0].shape[1] < batch_size else batches


ORIGINAL_ADAM_STEP = optimizers.Adam.step
ORIGINAL_MINIBATCHES = training.minibatches

CAUGHT_BY = [
    ((optimizers.GradientDescent, "step", ascent(optimizers.GradientDescent)), gradient_descent),
    ((optimizers.Momentum, "step", ascent(optimizers.Momentum)), momentum),
    ((optimizers.RMSprop, "step", ascent(optimizers.RMSprop)), rmsprop),
    ((optimizers.Adam, "step", ascent(optimizers.Adam)), adam),
    ((optimizers.Momentum, "step", _skip_gamma_beta(optimizers.Momentum)), every_optimizer_learns_gamma_and_beta),
    ((optimizers.Adam, "step", _adam_updates_beta), two_different_betas),
    ((training, "minibatches", _drop_last_batch), minibatches_partition_the_examples),
]


@pytest.mark.parametrize(("patch", "check"), CAUGHT_BY, ids=[f"{p[2].__name__}-{c.__name__}" for p, c in CAUGHT_BY])
def test_a_faulty_version_is_caught(monkeypatch, patch, check):
    """The check rejects the fault (found without shrinking it: that only makes the failure readable)."""
    owner, name, wrong = patch
    monkeypatch.setattr(owner, name, wrong)
    with pytest.raises(AssertionError):
        search(check, phases=(Phase.explicit, Phase.reuse, Phase.generate), report_multiple_bugs=False)


def test_patches_are_undone():
    assert optimizers.Adam.step is ORIGINAL_ADAM_STEP and training.minibatches is ORIGINAL_MINIBATCHES
