"""ONNX Runtime's BatchNormalization beyond the clauses: what the adapter relies on."""

from __future__ import annotations

import numpy as np
from requirements import need_extra

need_extra("onnxruntime")  # else the whole file is skipped (failed under BNSPEC_REQUIRE_ALL=1)
from bnspec.spec.adapters import onnxruntime_bn  # noqa: E402


def test_eps_and_momentum_reach_the_operator_as_float32():
    """Why the clauses draw eps and momentum representable in float32 (strategies.attribute):
    the output and the running statistics follow the formulas with both rounded to float32."""
    bn = onnxruntime_bn.OnnxRuntimeBN()
    z = np.random.default_rng(0).normal(5.0, 2.0, size=(6, 3))
    ones, zeros = np.ones(3), np.zeros(3)
    mu, var = z.mean(axis=0), z.var(axis=0)
    eps32, momentum32 = float(np.float32(1e-5)), float(np.float32(0.9))
    assert np.allclose(bn.forward(z, ones, zeros, 1e-5), (z - mu) / np.sqrt(var + eps32), rtol=0, atol=1e-14)
    new_mean, new_var = bn.update_running(np.full(3, 3.0), np.full(3, 7.0), z, 0.9)
    assert np.allclose(new_mean, 3.0 * momentum32 + mu * (1 - momentum32), rtol=0, atol=1e-14)
    assert np.allclose(new_var, 7.0 * momentum32 + var * (1 - momentum32), rtol=0, atol=1e-14)
    assert np.abs(new_mean - (3.0 * 0.9 + mu * 0.1)).max() > 1e-9


def test_training_output_ignores_the_running_statistics():
    """The ONNX Runtime bug this adapter guards against: a training-mode Y that uses input_mean/input_var."""
    bn = onnxruntime_bn.OnnxRuntimeBN()
    z = np.random.default_rng(1).normal(size=(5, 2))
    session = bn._session((5, 2), z.dtype, 1e-3, 0.9)
    feeds = {"X": z, "scale": np.ones(2), "B": np.zeros(2)}
    y1 = session.run(None, {**feeds, "input_mean": np.zeros(2), "input_var": np.ones(2)})[0]
    y2 = session.run(None, {**feeds, "input_mean": np.full(2, 3.0), "input_var": np.full(2, 7.0)})[0]
    assert np.array_equal(y1, y2)


def test_nchw_statistics_are_taken_over_n_and_every_spatial_position():
    """X (N, C, H, W): the output and the running statistics (biased, as the onnx profile says) come from
    the mean and variance over N, H and W."""
    bn = onnxruntime_bn.OnnxRuntimeBN()
    z = np.random.default_rng(2).normal(2.0, 3.0, size=(2, 3, 2, 3))
    mu, var = z.mean(axis=(0, 2, 3)), z.var(axis=(0, 2, 3))
    out = bn.forward(z, np.ones(3), np.zeros(3), 2.0**-10)  # a float32 eps: the attribute is FLOAT
    assert np.allclose(out, (z - mu[:, None, None]) / np.sqrt(var[:, None, None] + 2.0**-10), rtol=0, atol=1e-13)
    new_mean, new_var = bn.update_running(np.zeros(3), np.ones(3), z, 0.5)
    assert np.allclose(new_mean, 0.5 * mu, rtol=1e-14, atol=1e-15)
    assert np.allclose(new_var, 0.5 + 0.5 * var, rtol=1e-14)
