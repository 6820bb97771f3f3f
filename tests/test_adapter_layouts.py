"""Each bundled adapter's channel axis, directly: the framework's own BN on a z laid out as the adapter
declares, in every spatial rank it declares.

The channels of z differ wildly in scale and offset (1e-2 about 0.1, 1 about -1, 1e2 about 1e3) and
gamma, beta differ per channel: forward's output, beta_c removed and divided by gamma_c, must have mean 0
and variance 1 per channel over N and every spatial position (eps is negligible beside every channel's
variance), and be z standardized by its own channel's statistics element by element.  An adapter that
hands the framework the wrong channel axis, or a framework that reduces over the wrong axes, mixes the
channels and is off by orders of magnitude.  The memory order of z changes with the rank (as the runner's
arrangements do).  Shapes are few and small: the frameworks compile per shape.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from requirements import require_extra

from bnspec.spec.adapters import ADAPTERS, EXTRAS
from bnspec.spec.adapters.compiled_layer import folded_shape, refold
from bnspec.spec.layouts import MEMORIES, Layout, in_memory

#: adapter -> (layout, the spatial ranks the framework accepts), each from the framework's source (see the
#: adapter's docstring).
DECLARED: dict[str, tuple[str, tuple[int, ...]]] = {
    "flax": ("channels_last", (0, 1, 2, 3)),
    "keras": ("channels_last", (0, 1, 2, 3)),
    "onnxruntime": ("channels_first", (0, 1, 2, 3)),
    "tinygrad": ("channels_first", (0, 1, 2, 3)),
    "mlx": ("channels_last", (0, 1, 2)),
}
SCALES = np.array([1e-2, 1.0, 1e2])
OFFSETS = np.array([10.0, -1.0, 10.0]) * SCALES
GAMMA = np.array([0.5, 2.0, 3.0])
BETA = np.array([1.0, -4.0, 7.0])
C = len(SCALES)
#: (N, S_i): m = 4 * 2^k examples per channel.
N, SIDE = 4, 2

_adapters: dict[str, object] = {}


def adapter(name: str) -> object:
    """One instance per adapter: its compiled programs are reused across the ranks."""
    if name not in _adapters:
        module, _, cls = ADAPTERS[name].partition(":")
        _adapters[name] = getattr(importlib.import_module(module), cls)()
    return _adapters[name]


def channels_z(layout: Layout, rank: int, rng: np.random.Generator) -> np.ndarray:
    """z of (N, C, *S) or (N, *S, C) whose channel c is about OFFSETS[c] with spread SCALES[c]."""
    last = rng.standard_normal((N, *(SIDE,) * rank, C)) * SCALES + OFFSETS
    return last if layout is Layout.CHANNELS_LAST else np.moveaxis(last, -1, 1)


CASES = [pytest.param(name, rank, id=f"{name}-rank{rank}", marks=require_extra(EXTRAS[name]))
         for name, (_, ranks) in DECLARED.items() for rank in ranks]


@pytest.mark.parametrize("name", [pytest.param(n, marks=require_extra(EXTRAS[n])) for n in DECLARED])
def test_the_adapter_declares_the_frameworks_layout_and_spatial_ranks(name):
    impl = adapter(name)
    assert (impl.layout, tuple(impl.spatial_dims)) == DECLARED[name]


@pytest.mark.parametrize(("name", "rank"), CASES)
def test_forward_normalizes_each_channel_over_n_and_every_spatial_position(name, rank):
    impl = adapter(name)
    layout = Layout(DECLARED[name][0])
    z = channels_z(layout, rank, np.random.default_rng(rank))
    axis = layout.unit_axis(z.ndim)
    given = in_memory(z, MEMORIES[rank % len(MEMORIES)], axis)
    out = impl.forward(given, GAMMA, BETA, 1e-10)
    assert isinstance(out, np.ndarray) and out.shape == z.shape
    others = tuple(i for i in range(z.ndim) if i != axis)
    per_channel = [1] * z.ndim
    per_channel[axis] = C
    normalized = (out - BETA.reshape(per_channel)) / GAMMA.reshape(per_channel)
    # Keras computes float64 in float32 (its FINDINGS): 1e-5 is far inside what a mixed channel gives.
    np.testing.assert_allclose(normalized.mean(axis=others), 0, rtol=0, atol=1e-5)
    np.testing.assert_allclose(normalized.var(axis=others), 1, rtol=0, atol=1e-5)
    # ... and each element is its own channel's: z standardized by its channel's mean and deviation.
    standardized = (z - z.mean(axis=others, keepdims=True)) / z.std(axis=others, keepdims=True)
    np.testing.assert_allclose(normalized, standardized, rtol=0, atol=1e-5)
    assert np.array_equal(given, z), "forward changed its argument"


@pytest.mark.parametrize(("shape", "axis"), [((2, 3, 4, 5), 1), ((2, 4, 5, 3), 3), ((1, 3, 1, 1, 7), 1),
                                             ((6, 1, 1, 2), 3), ((0, 3, 1), 1)])
def test_a_folded_shape_keeps_each_channels_values_in_order(shape, axis):
    """What Flax, Keras and tinygrad compile for (compiled_layer.folded_shape): one shape per (m, spatial
    rank, C), holding each channel's values in the C order of (N, *S); refold goes there and back."""
    z = np.arange(math.prod(shape), dtype=float).reshape(shape)
    folded = folded_shape(shape, axis)
    assert len(folded) == len(shape) and folded[axis] == shape[axis] and math.prod(folded) == math.prod(shape)
    examples = [s for i, s in enumerate(shape) if i != axis]
    other = examples[::-1]  # another factorization of the same m
    assert folded_shape((*other[:axis], shape[axis], *other[axis:]), axis) == folded
    there = refold(z, folded, axis)
    assert there.shape == folded

    def units_first(a):
        return np.moveaxis(a, axis, 0).reshape(shape[axis], -1)

    assert np.array_equal(units_first(there), units_first(z))
    assert np.array_equal(refold(there, shape, axis), z)


@pytest.mark.parametrize(("name", "rank"), [pytest.param("mlx", 3, marks=require_extra("mlx"))])
def test_a_rank_the_adapter_does_not_declare_is_one_the_framework_refuses(name, rank):
    """mlx.nn.BatchNorm raises for 5-D input ("Expected input tensor to have 2, 3 or 4 dimensions"):
    why the mlx adapter declares spatial ranks 0 to 2 only."""
    z = channels_z(Layout(DECLARED[name][0]), rank, np.random.default_rng(0))
    with pytest.raises(ValueError, match="2, 3 or 4 dimensions"):
        adapter(name).forward(z, GAMMA, BETA, 1e-10)
