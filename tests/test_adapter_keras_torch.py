"""Keras 3 on the torch backend behind the protocol, in its own process: a faithful mapping, and its
unclamped E[x^2] - E[x]^2 variance.

Keras picks its backend once per process, so nothing here imports keras: the adapter runs the layer in
a child process with KERAS_BACKEND=torch, and the reproducer docs/findings/keras-torch-variance.py runs
as a script of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from requirements import need_extra

need_extra("keras", "torch")  # else the whole file is skipped (failed under BNSPEC_REQUIRE_ALL=1)
from bnspec.spec.adapters import keras_torch_bn  # noqa: E402

REPRODUCER = Path(__file__).resolve().parents[1] / "docs" / "findings" / "keras-torch-variance.py"
RNG = np.random.default_rng(0)
F32 = 1e-5  # the layer computes in float32 whatever the input's dtype (FINDINGS: FLOAT32)


@pytest.fixture(scope="module")
def bn():
    adapter = keras_torch_bn.KerasTorchBN()
    yield adapter
    adapter.close()


def _normalized(z: np.ndarray, eps: float) -> np.ndarray:
    axes = tuple(range(z.ndim - 1))
    return (z - z.mean(axis=axes)) / np.sqrt(z.var(axis=axes) + eps)


def test_it_runs_in_a_child_process_on_the_torch_backend(bn):
    assert bn.env["KERAS_BACKEND"] == "torch"  # the child's; this process's Keras is left alone
    assert bn.name == keras_torch_bn.LAYER_TARGET  # the handshake named the child's target
    assert bn.declaration.layout.value == "channels_last" == bn.layout


def test_forward_and_backward_are_the_layers_training_mode(bn):
    z = RNG.normal(2.0, 3.0, size=(3, 2, 2, 2))  # N, H, W, C
    gamma, beta = np.array([1.5, -0.5]), np.array([0.25, 2.0])
    out = bn.forward(np.asfortranarray(z), gamma, beta, 1e-3)
    assert out.dtype == np.float64 and out.shape == z.shape
    assert np.abs(out - (gamma * _normalized(z, 1e-3) + beta)).max() < F32
    grad = RNG.normal(size=z.shape)
    _, dgamma, dbeta = bn.backward(z, gamma, beta, 1e-3, grad)
    assert np.abs(dbeta - grad.sum(axis=(0, 1, 2))).max() < F32
    assert np.abs(dgamma - (grad * _normalized(z, 1e-3)).sum(axis=(0, 1, 2))).max() < 1e-4


def test_update_running_and_forward_eval_follow_the_keras_profile(bn):
    z = RNG.normal(size=(4, 3, 2))  # N, L, C
    mean, var = np.array([3.0, -1.0]), np.array([7.0, 0.5])
    new_mean, new_var = bn.update_running(mean, var, z, 0.75)  # momentum weighs the old value, biased variance
    assert np.abs(new_mean - (0.75 * mean + 0.25 * z.mean(axis=(0, 1)))).max() < F32
    assert np.abs(new_var - (0.75 * var + 0.25 * z.var(axis=(0, 1)))).max() < F32
    out = bn.forward_eval(z, np.full(2, 2.0), np.ones(2), mean, var, 1e-3)
    assert np.abs(out - (2.0 * (z - mean) / np.sqrt(var + 1e-3) + 1.0)).max() < F32


def test_the_unclamped_variance_reproduces():
    """FINDINGS BN-VAR-1, BN-F32-1, BN-LOC-*: the standalone reproducer ends in its AssertionError."""
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    run = subprocess.run([sys.executable, str(REPRODUCER)], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr[-2000:]
    assert "variance: -8.0" in run.stdout and "nan" in run.stdout
    assert "AssertionError: NaN output" in run.stderr


def test_the_same_input_through_the_adapter_gives_nan(bn):
    z = np.array([[10000.0], [10001.0], [10001.0]], dtype=np.float32)
    assert np.isnan(bn.forward(z, np.ones(1, np.float32), np.zeros(1, np.float32), 1e-3)).all()
    # 1e4 apart from the spread is enough: the same unit near 0 is normalized right
    y = bn.forward(z - np.float32(10000.0), np.ones(1, np.float32), np.zeros(1, np.float32), 1e-3)
    assert np.abs(y[:, 0] - _normalized(np.array([[0.0], [1.0], [1.0]]), 1e-3)[:, 0]).max() < F32


def test_findings_name_their_cause():
    for clause, why in keras_torch_bn.FINDINGS.items():
        assert any(source in why for source in ("torch/nn.py, moments", "BIT64_TO_BIT32_DTYPE",
                                                "batch_normalization")), clause
