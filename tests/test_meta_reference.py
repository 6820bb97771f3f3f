"""The reference-only clauses can fail: faulty optimizers and mini-batching,
patched into the reference, are caught."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from spec_runs import options

from bnspec.reference import optimizers, training
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.runner import run_clause
from bnspec.spec.target import load


def _ascent(cls):
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
    ((optimizers.GradientDescent, "step", _ascent(optimizers.GradientDescent)), "OPT-GD-1"),
    ((optimizers.Momentum, "step", _ascent(optimizers.Momentum)), "OPT-MOM-1"),
    ((optimizers.RMSprop, "step", _ascent(optimizers.RMSprop)), "OPT-RMS-1"),
    ((optimizers.Adam, "step", _ascent(optimizers.Adam)), "OPT-ADAM-1"),
    ((optimizers.Adam, "step", _ascent(optimizers.Adam)), "TRAIN-1"),
    ((optimizers.Momentum, "step", _skip_gamma_beta(optimizers.Momentum)), "OPT-ALL-1"),
    ((optimizers.Adam, "step", _adam_updates_beta), "OPT-BETA-1"),
    ((training, "minibatches", _drop_last_batch), "TRAIN-2"),
]


@pytest.mark.parametrize(("patch", "clause_id"), CAUGHT_BY,
                         ids=[f"{p[2].__name__}-{c}" for p, c in CAUGHT_BY])
def test_faulty_reference_part_is_caught(monkeypatch, patch, clause_id):
    owner, name, wrong = patch
    monkeypatch.setattr(owner, name, wrong)
    result = run_clause(REGISTRY[clause_id], load("reference"), dataclasses.replace(options(), shrink=False))
    assert result.status == "FAIL", f"{wrong.__doc__} passed {clause_id}"


def test_patches_are_undone():
    assert optimizers.Adam.step is ORIGINAL_ADAM_STEP and training.minibatches is ORIGINAL_MINIBATCHES
    assert np.isfinite(1.0)
