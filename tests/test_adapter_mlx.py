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
