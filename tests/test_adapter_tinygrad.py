"""tinygrad's nn.BatchNorm beyond the clauses: its m = 1 convention and the adapter's jit replay."""

from __future__ import annotations

import numpy as np
import pytest
from requirements import need_extra

need_extra("tinygrad")  # else the whole file is skipped (failed under BNSPEC_REQUIRE_ALL=1)
from bnspec.spec.adapters import tinygrad_bn  # noqa: E402


def test_at_m_1_it_raises_zero_division_as_its_profile_records():
    with pytest.raises(ZeroDivisionError):
        tinygrad_bn.TinygradBN().forward(np.zeros((1, 2)), np.ones(2), np.zeros(2), 1e-5)


def test_replayed_calls_see_their_new_inputs():
    """A TinyJit replays captured kernels from the third call of a shape on: every call must
    still compute from its own inputs (a stale replay returned the second call's running statistics)."""
    bn = tinygrad_bn.TinygradBN()
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3))
    for k in range(5):
        mean, var, momentum = rng.normal(size=3), rng.uniform(0.5, 2.0, size=3), float(rng.uniform())
        new_mean, new_var = bn.update_running(mean, var, z, momentum)
        assert np.allclose(new_mean, (1 - momentum) * mean + momentum * z.mean(axis=0), rtol=1e-14), k
        assert np.allclose(new_var, (1 - momentum) * var + momentum * z.var(axis=0, ddof=1), rtol=1e-14), k
        gamma, beta, eps = rng.normal(size=3), rng.normal(size=3), float(10 ** rng.uniform(-5, 0))
        want = gamma * (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + eps) + beta
        assert np.allclose(bn.forward(z, gamma, beta, eps), want, rtol=1e-13, atol=1e-13), k


def test_nchw_statistics_are_taken_over_n_and_every_spatial_position():
    """z (N, C, H, W): the running variance's Bessel factor numel / (numel - C) is m / (m - 1) with
    m = N * H * W, the unbiased variance the profile says."""
    z = np.random.default_rng(1).normal(2.0, 3.0, size=(2, 3, 2, 3))
    mean, var = tinygrad_bn.TinygradBN().update_running(np.zeros(3), np.ones(3), z, 0.5)
    assert np.allclose(mean, 0.5 * z.mean(axis=(0, 2, 3)), rtol=1e-14, atol=1e-15)
    assert np.allclose(var, 0.5 + 0.5 * z.var(axis=(0, 2, 3), ddof=1), rtol=1e-14)
