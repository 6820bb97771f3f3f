"""TensorFlow's fused batch norm behind the protocol: a faithful mapping, its conventions, and its findings.

The adapter's results are compared with the op's documented formulas in numpy; the findings (no
float64 kernel; float32 parameter gradients for float16 x) are reproduced on ``fused_batch_norm``
itself.  Keras 3 is TensorFlow's ``tf.keras`` (tensorflow 2.21 requires keras >= 3), the code the
keras adapter checks: there is no separate adapter for it.
"""

from __future__ import annotations

import importlib.metadata
import runpy
from pathlib import Path

import numpy as np
import pytest
from requirements import need_extra

need_extra("tensorflow")  # else the whole file is skipped (failed under BNSPEC_REQUIRE_ALL=1)
import tensorflow as tf  # noqa: E402

from bnspec.spec.adapters import tensorflow_bn  # noqa: E402

FINDINGS_DIR = Path(__file__).resolve().parents[1] / "docs" / "findings"
RNG = np.random.default_rng(0)
AXES = (0, 1, 2)  # N, H, W of an (N, H, W, C) batch


@pytest.fixture(scope="module")
def bn() -> tensorflow_bn.TensorFlowBN:
    return tensorflow_bn.TensorFlowBN()


def _normalized(z: np.ndarray, eps: float) -> np.ndarray:
    return (z - z.mean(axis=AXES)) / np.sqrt(z.var(axis=AXES) + eps)


def test_forward_is_the_ops_training_output_with_batch_statistics(bn):
    z = RNG.normal(5.0, 2.0, size=(2, 3, 2, 3)).astype(np.float32)  # N, H, W, C
    gamma, beta = np.array([1.5, -0.5, 2.0], np.float32), np.array([0.25, 2.0, -1.0], np.float32)
    out = bn.forward(z[..., ::-1].copy()[..., ::-1], gamma, beta, 1e-3)  # a strided view works too
    expected = gamma * _normalized(z.astype(np.float64), 1e-3) + beta
    assert out.dtype == np.float32 and out.shape == z.shape
    assert np.abs(out - expected).max() < 1e-5
    z5 = RNG.normal(size=(2, 2, 2, 2, 3)).astype(np.float32)  # NDHWC
    expected5 = (z5 - z5.mean(axis=(0, 1, 2, 3))) / np.sqrt(z5.var(axis=(0, 1, 2, 3)) + 1e-3)
    assert np.abs(bn.forward(z5, np.ones(3), np.zeros(3), 1e-3) - expected5).max() < 1e-5


def test_backward_is_the_gradient_of_sum_grad_times_output(bn):
    z = RNG.normal(size=(3, 2, 2, 2)).astype(np.float32)
    grad = RNG.normal(size=z.shape).astype(np.float32)
    gamma = np.array([2.0, -1.0], np.float32)
    dz, dgamma, dbeta = bn.backward(z, gamma, np.zeros(2, np.float32), 1e-3, grad)
    z64, g64 = z.astype(np.float64), grad.astype(np.float64)
    xhat = _normalized(z64, 1e-3)
    assert np.abs(dbeta - g64.sum(axis=AXES)).max() < 1e-5
    assert np.abs(dgamma - (g64 * xhat).sum(axis=AXES)).max() < 1e-5
    m = 12
    expected_dz = gamma / np.sqrt(z64.var(axis=AXES) + 1e-3) * (
        g64 - g64.mean(axis=AXES) - xhat * (g64 * xhat).sum(axis=AXES) / m)
    assert np.abs(dz - expected_dz).max() < 1e-4


def test_update_running_weighs_the_batch_by_momentum_with_bessels_correction(bn):
    """The tf profile: exponential_avg_factor = momentum weighs the new value; the variance is unbiased."""
    z = RNG.normal(1.0, 2.0, size=(2, 2, 2, 2)).astype(np.float32)
    mean, var = np.array([3.0, -1.0], np.float32), np.array([7.0, 0.5], np.float32)
    new_mean, new_var = bn.update_running(mean, var, z, 0.25)
    flat = z.reshape(-1, 2).astype(np.float64)
    assert np.abs(new_mean - (0.75 * mean + 0.25 * flat.mean(axis=0))).max() < 1e-5
    assert np.abs(new_var - (0.75 * var + 0.25 * flat.var(axis=0, ddof=1))).max() < 1e-5


def test_forward_eval_uses_the_given_statistics(bn):
    z = RNG.normal(size=(2, 2, 3, 2)).astype(np.float32)
    mean, var = np.array([0.5, -1.0], np.float32), np.array([4.0, 0.25], np.float32)
    out = bn.forward_eval(z, np.full(2, 2.0), np.full(2, 1.0), mean, var, 1e-3)
    assert np.abs(out - (2.0 * (z - mean) / np.sqrt(var + 1e-3) + 1.0)).max() < 1e-5


def test_at_m_1_the_kernel_outputs_beta_and_adds_variance_0(bn):
    """The tf profile's single_example: no error, the output is offset, the batch variance counts as 0."""
    z = np.array([[[[5.0, -2.0]]]], np.float32)
    assert np.array_equal(bn.forward(z, np.ones(2), np.array([0.5, -3.0]), 1e-3), [[[[0.5, -3.0]]]])
    new_mean, new_var = bn.update_running(np.zeros(2), np.full(2, 7.0), z, 0.5)
    assert np.array_equal(new_mean, [2.5, -1.0]) and np.array_equal(new_var, [3.5, 3.5])


def test_the_op_has_no_float64_kernel_so_float64_runs_in_float32(bn):
    """The cause of every finding but BN-DTYPE-2 (NO_FLOAT64)."""
    z = RNG.normal(size=(2, 2, 2, 2))
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError), match="double"):
        tf.compat.v1.nn.fused_batch_norm(z, np.ones(2), np.zeros(2))
    out = bn.forward(z, np.ones(2), np.zeros(2), 1e-3)
    assert out.dtype == np.float32  # as the op gives it: the adapter does not pretend to float64
    assert 1e-9 < np.abs(out - _normalized(z, float(np.float32(1e-3)))).max() < 1e-5


def test_float16_runs_as_mixed_precision_with_float32_parameters(bn):
    """BN-DTYPE-2: float16 x takes float32 scale and offset, whose gradients come back float32."""
    z = RNG.normal(300.0, 4.0, size=(4, 4, 4, 2)).astype(np.float16)
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError)):
        tf.compat.v1.nn.fused_batch_norm(z, np.ones(2, np.float16), np.zeros(2, np.float16))
    y = bn.forward(z, np.ones(2, np.float16), np.zeros(2, np.float16), 1e-3)
    assert y.dtype == np.float16
    assert np.abs(y - _normalized(z.astype(np.float64), 1e-3)).max() < 1e-2  # statistics in float32
    dz, dgamma, dbeta = bn.backward(z, np.ones(2, np.float16), np.zeros(2, np.float16), 1e-3,
                                    np.ones(z.shape, np.float16))
    assert dz.dtype == np.float16 and dgamma.dtype == dbeta.dtype == np.float32


def test_the_empty_5d_gradient_shape_bug_reproduces(bn):
    """BN-EMPTY-2: dz of an empty NDHWC batch comes back 4-D; an empty NHWC batch is right."""
    with pytest.raises(AssertionError, match=r"has shape \(0, 1, 1, 2\)"):
        runpy.run_path(str(FINDINGS_DIR / "tensorflow-empty-5d-gradient.py"))
    for shape in ((0, 1, 1, 1, 2), (0, 1, 1, 2)):
        z = np.zeros(shape, np.float32)
        dz, dgamma, dbeta = bn.backward(z, np.ones(2), np.zeros(2), 1e-3, z)
        assert (dz.shape != shape) == (len(shape) == 5) and not dgamma.any() and not dbeta.any()
    mean, var = bn.update_running(np.zeros(2), np.ones(2), np.zeros((0, 1, 1, 2), np.float32), 0.1)
    assert np.isnan(mean).all() and np.isnan(var).all()  # BN-EMPTY-3: the kernel's NaN for no example


def test_tf_keras_is_keras_3_the_keras_adapters_code():
    requires = importlib.metadata.requires("tensorflow-cpu") or []
    keras = [r for r in requires if r.split(">")[0].split("=")[0].strip() == "keras"]
    assert keras and ">=3" in keras[0].replace(" ", ""), keras
