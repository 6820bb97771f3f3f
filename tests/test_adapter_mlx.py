"""MLX's nn.BatchNorm beyond the clauses: its m = 1 convention and float64 arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from requirements import need_extra

need_extra("mlx")  # else the whole file is skipped (failed under BNSPEC_REQUIRE_ALL=1)
from bnspec.spec.adapters import mlx_bn  # noqa: E402


def test_at_m_1_it_raises_value_error_as_its_profile_records():
    with pytest.raises(ValueError, match="more than one value per channel"):
        mlx_bn.MlxBN().forward(np.zeros((1, 2)), np.ones(2), np.zeros(2), 1e-5)


def test_float64_is_computed_in_float64():
    z = np.random.default_rng(0).normal(1e4, 1.0, size=(6, 2))
    out = mlx_bn.MlxBN().forward(z, np.ones(2), np.zeros(2), 1e-5)
    assert out.dtype == np.float64
    assert np.abs(out - (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + 1e-5)).max() < 1e-10


def test_nhwc_statistics_are_taken_over_n_and_every_spatial_position():
    """(N, H, W, C): the running variance is the unbiased one with m = N * H * W, as the profile says."""
    z = np.random.default_rng(1).normal(2.0, 3.0, size=(2, 3, 2, 3))
    mean, var = mlx_bn.MlxBN().update_running(np.zeros(3), np.ones(3), z, 0.5)
    assert np.allclose(mean, 0.5 * z.mean(axis=(0, 1, 2)), rtol=1e-14, atol=1e-15)
    assert np.allclose(var, 0.5 + 0.5 * z.var(axis=(0, 1, 2), ddof=1), rtol=1e-14)


@pytest.mark.parametrize("shape", [(0, 3), (0, 1, 1, 3)])
def test_an_empty_batch_reaches_mlx_without_hanging(shape):
    """mx.array of an empty numpy array can make MLX 0.32's reductions spin forever; the adapter makes
    empty inputs with mx.zeros (the module's docstring).  A hang here is that bug back."""
    bn = mlx_bn.MlxBN()
    for _ in range(5):
        assert bn.forward(np.zeros(shape), np.ones(3), np.zeros(3), 1e-5).shape == shape
