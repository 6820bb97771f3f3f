"""ONNX's reference evaluator (onnx.reference) behind the protocol: a faithful mapping, and its two bugs.

The adapter's results are compared with the operator's formulas in numpy; each finding of
``onnx_reference_bn.FINDINGS`` is reproduced by its standalone reproducer under docs/findings/ (which
ends in an AssertionError while the bug is there) and through the adapter.
"""

from __future__ import annotations

import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest
from requirements import need_extra

need_extra("onnx")  # else the whole file is skipped (failed under BNSPEC_REQUIRE_ALL=1)
from bnspec.spec.adapters import onnx_reference_bn  # noqa: E402

FINDINGS_DIR = Path(__file__).resolve().parents[1] / "docs" / "findings"
RNG = np.random.default_rng(0)
AXES = (0, 2, 3)  # N, H, W of an (N, C, H, W) batch


def _per_channel(a: np.ndarray) -> np.ndarray:
    return a.reshape(1, -1, 1, 1)


@pytest.fixture(scope="module")
def bn() -> onnx_reference_bn.OnnxReferenceBN:
    return onnx_reference_bn.OnnxReferenceBN()


def test_forward_is_the_operators_training_output_with_batch_statistics(bn):
    z = RNG.normal(5.0, 2.0, size=(3, 2, 2, 3))  # N, C, H, W
    gamma, beta = np.array([1.5, -0.5]), np.array([0.25, 2.0])
    eps = float(np.float32(1e-3))  # the attribute is a float32
    mu, var = z.mean(axis=AXES, keepdims=True), z.var(axis=AXES, keepdims=True)
    expected = _per_channel(gamma) * (z - mu) / np.sqrt(var + eps) + _per_channel(beta)
    out = bn.forward(np.asfortranarray(z), gamma, beta, eps)  # any memory order
    assert out.dtype == np.float64 and out.shape == z.shape
    assert np.abs(out - expected).max() < 1e-13


def test_forward_eval_and_update_running_follow_the_operator(bn):
    z = RNG.normal(-1.0, 3.0, size=(4, 3, 5))  # N, C, L
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([1.0, 4.0, 0.25])
    gamma, beta = np.array([2.0, 1.0, -1.0]), np.array([0.0, 1.0, 3.0])
    eps = float(np.float32(1e-5))  # the attribute's value
    expected = gamma[:, None] * (z - mean[:, None]) / np.sqrt(var[:, None] + eps) + beta[:, None]
    assert np.abs(bn.forward_eval(z, gamma, beta, mean, var, 1e-5) - expected).max() < 1e-13
    # momentum 0.5: 1 - momentum is exact in float32, so the float32 rounding bug does not show
    new_mean, new_var = bn.update_running(mean, var, z, 0.5)
    assert np.abs(new_mean - (0.5 * mean + 0.5 * z.mean(axis=(0, 2)))).max() < 1e-14
    assert np.abs(new_var - (0.5 * var + 0.5 * z.var(axis=(0, 2)))).max() < 1e-14  # biased


def test_float32_and_every_spatial_rank_run(bn):
    for shape in ((6, 2), (3, 2, 2), (2, 2, 2, 2), (2, 2, 1, 2, 2)):
        z = RNG.normal(size=shape).astype(np.float32)
        out = bn.forward(z, np.ones(2, np.float32), np.zeros(2, np.float32), 1e-5)
        assert out.dtype == np.float32 and out.shape == shape


def test_the_float16_variance_bug_reproduces():
    """FINDINGS BN-F16-1, BN-F16-2, BN-VAR-1: the reproducer, then the same input through the adapter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy: overflow encountered in square
        with pytest.raises(AssertionError, match="overflowed float16"):
            runpy.run_path(str(FINDINGS_DIR / "onnx-reference-float16-variance.py"))
        bn = onnx_reference_bn.OnnxReferenceBN()
        z = np.linspace(0, 1000, 8).astype(np.float16).reshape(8, 1)
        y = bn.forward(z, np.ones(1, np.float16), np.zeros(1, np.float16), 1e-5)
        _, running_var = bn.update_running(np.zeros(1, np.float16), np.ones(1, np.float16), z, 0.9)
    assert (y == 0).all() and np.isinf(running_var).all()
    # the same values in float32 are normalized right: the bug is float16 arithmetic
    y32 = bn.forward(z.astype(np.float32), np.ones(1, np.float32), np.zeros(1, np.float32), 1e-5)
    assert np.abs(y32[[0, -1], 0]).min() > 1.5


def test_the_float32_momentum_bug_reproduces(bn):
    """FINDINGS BN-RUN-1, BN-RUN-2: 1 - momentum rounded to float32 in a double model."""
    with pytest.raises(AssertionError, match="rounded to float32"):
        runpy.run_path(str(FINDINGS_DIR / "onnx-reference-momentum.py"))
    z = np.array([[0.0], [1.0]])
    new_mean, _ = bn.update_running(np.zeros(1), np.zeros(1), z, float(np.float32(0.1)))
    weight_new = 1.0 - float(np.float32(0.1))  # the operator's 1 - momentum, in double
    assert abs(new_mean[0] - 0.5 * weight_new) > 1e-9  # ~1.1e-8 off
    assert new_mean[0] == 0.5 * float(np.float32(weight_new))  # exactly the float32-rounded weight


def test_findings_name_the_evaluators_source():
    for clause, why in onnx_reference_bn.FINDINGS.items():
        if clause != "BN-INPUT-1":  # epsilon = 0 is accepted: no line of the evaluator is at fault
            assert "op_batch_normalization.py" in why and "_batchnorm_training_mode" in why, clause
    for clause in ("BN-F16-1", "BN-F16-2", "BN-VAR-1", "BN-RUN-1", "BN-RUN-2"):
        assert "docs/findings/onnx-reference-" in onnx_reference_bn.FINDINGS[clause], clause
