"""Where the units are: the layouts an implementation may declare, and how an array moves to it.

The properties always speak the lecture's layout: ``Z`` is ``n[l] x m`` (units
by examples) and a per-unit array ``n[l] x 1``.  An implementation declares
its own layout (:class:`Layout`):

- ``units_first`` -- the lecture's: ``z`` is ``(n, m)``, per-unit arrays ``(n, 1)``;
- ``batch_first`` -- course notebooks: ``z`` is ``(m, n)``, per-unit arrays ``(n,)``;
- ``channels_first`` -- ``z`` is ``(N, C, *S)``: N samples, C channels, 0 to 3 spatial dims S
  (PyTorch's BatchNorm1d/2d/3d, ONNX's NCHW);
- ``channels_last`` -- ``z`` is ``(N, *S, C)`` (TensorFlow's and Keras' NHWC, Flax, MLX).

In the two channel layouts a channel is a unit (n = C) and every position of
every sample is an example of it: m = N * prod(S), and the statistics of a
channel are taken over N and every spatial position -- the unbiased factor
``m / (m - 1)`` uses that m.  Per-channel arrays are 1-D ``(C,)``.

Which N and S an ``n x m`` batch becomes is an :class:`Arrangement`, drawn per
example by the runner (labelled ``arrangement``): the number of spatial dims
(from the target's declared ``spatial_dims``), which factorization of m into
``N * prod(S)``, and how the array lies in memory (C-contiguous, Fortran order,
permuted -- channels-last memory for a channels-first array and the converse
-- or every other element of a larger buffer).  Column ``j`` of the lecture's
``Z`` is position ``j`` of ``(N, *S)`` in C order, so a result moves back
without knowing the arrangement (:meth:`Layout.from_impl`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, TypeVar, get_args

import numpy as np

from .errors import TargetError


class Role(StrEnum):
    """What an argument or result is, which fixes its shape in each layout."""

    BATCH = "batch"
    PER_UNIT = "per_unit"
    SCALAR = "scalar"
    #: an optimizer's parameter, gradient or state: any shape, the parameter's, in every layout
    PARAM = "param"


#: How an array given to the implementation lies in memory.
Memory = Literal["contiguous", "fortran", "permuted", "strided"]
MEMORIES: tuple[Memory, ...] = get_args(Memory)
#: The spatial ranks a channel layout may declare (``spatial_dims``): BatchNorm1d's (N, C) is 0,
#: its (N, C, L) is 1, BatchNorm2d's 2, BatchNorm3d's 3.
SPATIAL_RANKS = (0, 1, 2, 3)


@dataclass(frozen=True)
class Arrangement:
    """How one example lays an ``n x m`` batch out for the implementation: ``spatial_rank`` spatial
    dims, the ``split``-th factorization of m into ``N * prod(S)`` (:func:`factorizations`), and the
    ``memory`` of every array passed.  The default is what a two-dimensional layout always had."""

    spatial_rank: int = 0
    split: int = 0
    memory: Memory = "contiguous"

    def examples_shape(self, m: int) -> tuple[int, ...]:
        """``(N, *S)`` with ``N * prod(S) == m``."""
        options = factorizations(m, self.spatial_rank)
        return options[self.split % len(options)]

    def as_tuple(self) -> tuple[int, int, str]:
        """What a case file stores of it (the draw labelled ``arrangement``)."""
        return (self.spatial_rank, self.split, self.memory)


@functools.cache
def factorizations(m: int, spatial_rank: int) -> tuple[tuple[int, ...], ...]:
    """Every ``(N, S_1, ..., S_k)`` of positive integers whose product is m (k = ``spatial_rank``),
    those that can tell a wrong axis from the right one first: N >= 2 and every S_i >= 2, then
    N >= 2 with some spatial size >= 2, then N >= 2, then the rest; the most balanced first within
    each.
    m = 0 (an empty batch): N = 0 and every S_i = 1."""
    if m == 0:
        return ((0,) + (1,) * spatial_rank,)

    def split(rest: int, parts: int) -> list[tuple[int, ...]]:
        if parts == 1:
            return [(rest,)]
        return [(d, *tail) for d in range(1, rest + 1) if rest % d == 0 for tail in split(rest // d, parts - 1)]

    def rank(shape: tuple[int, ...]) -> tuple[int, int]:
        samples, positions = shape[0], shape[1:]
        group = (0 if samples >= 2 and all(s >= 2 for s in positions) else 1 if samples >= 2 and m > samples
                 else 2 if samples >= 2 else 3)
        return group, max(shape)

    return tuple(sorted(split(m, spatial_rank + 1), key=rank))


_Size = TypeVar("_Size", int, str)


class Layout(StrEnum):
    """Where the units are (see the module's docstring)."""

    UNITS_FIRST = "units_first"
    BATCH_FIRST = "batch_first"
    CHANNELS_FIRST = "channels_first"
    CHANNELS_LAST = "channels_last"

    @property
    def spatial(self) -> bool:
        """Whether ``z`` may have spatial dims (the channel layouts)."""
        return self in (Layout.CHANNELS_FIRST, Layout.CHANNELS_LAST)

    def unit_axis(self, ndim: int) -> int:
        """The axis of ``z`` (of ``ndim`` dims) that holds the units."""
        return {Layout.UNITS_FIRST: 0, Layout.BATCH_FIRST: 1, Layout.CHANNELS_FIRST: 1}.get(self, ndim - 1)

    def shape(self, role: Role, n: _Size, m: _Size) -> tuple[_Size | int, ...]:
        """The shape of an array of ``role`` for n units and m examples without spatial dims (numbers,
        or the letters themselves for the docs)."""
        if role is Role.BATCH:
            return (n, m) if self is Layout.UNITS_FIRST else (m, n)
        return (n, 1) if self is Layout.UNITS_FIRST else (n,)

    def result_shape(self, role: Role, z_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape a result of ``role`` must have when the implementation's ``z`` was ``z_shape``."""
        if role is Role.BATCH or role is Role.PARAM:
            return tuple(z_shape)
        n = z_shape[self.unit_axis(len(z_shape))]
        return (n, 1) if self is Layout.UNITS_FIRST else (n,)

    def sizes(self, z_shape: tuple[int, ...]) -> tuple[int, int]:
        """``(n, m)``, units and examples, from the shape of the implementation's ``z``."""
        axis = self.unit_axis(len(z_shape))
        return z_shape[axis], math.prod(s for i, s in enumerate(z_shape) if i != axis)

    def letters(self, role: Role) -> str:
        """The shape of an array of ``role`` in letters, as the docs show it."""
        if role is Role.SCALAR:
            return "scalar"
        if role is Role.PARAM:
            return "p's shape"
        if not self.spatial:
            return str(self.shape(role, "n", "m")).replace("'", "")
        if role is Role.PER_UNIT:
            return "(C,)"
        return "(N, C, *S)" if self is Layout.CHANNELS_FIRST else "(N, *S, C)"

    def describe(self, spatial_dims: tuple[int, ...] = (0,)) -> str:
        """The shapes of ``z`` and a per-unit array, as messages and the docs show them."""
        if not self.spatial:
            return f"z {self.shape(Role.BATCH, 'n', 'm')}, per-unit {self.shape(Role.PER_UNIT, 'n', 'm')}"
        letters = ("", "L", "H, W", "D, H, W")
        shapes = [("N, C" + (", " + letters[k] if k else "") if self is Layout.CHANNELS_FIRST
                   else "N, " + (letters[k] + ", " if k else "") + "C") for k in spatial_dims]
        return f"z ({' | '.join(shapes)}), per-channel (C,)"

    def to_impl(self, value: Any, role: Role, arrangement: Arrangement = Arrangement()) -> Any:
        """``value`` (lecture layout) as the implementation receives it: a fresh array laid out as
        ``arrangement`` says (a scalar as it is)."""
        if not isinstance(value, np.ndarray):
            return value
        if role is Role.PARAM:
            return in_memory(value.copy(), arrangement.memory, 0)
        if role is Role.PER_UNIT:
            shaped = value.copy() if self is Layout.UNITS_FIRST else value[:, 0].copy()
            return in_memory(shaped, arrangement.memory, self.unit_axis(shaped.ndim))
        shaped = self._batch(value, arrangement.examples_shape(value.shape[1]))
        return in_memory(shaped, arrangement.memory, self.unit_axis(shaped.ndim))

    def _batch(self, value: np.ndarray, examples_shape: tuple[int, ...]) -> np.ndarray:
        """A batch array ``value`` (``n x m``) in this layout, its examples laid out as ``examples_shape``."""
        if self is Layout.UNITS_FIRST:
            return value.copy()
        if self is Layout.BATCH_FIRST:
            return np.ascontiguousarray(value.T)
        last = np.ascontiguousarray(value.T).reshape(*examples_shape, value.shape[0])
        return last if self is Layout.CHANNELS_LAST else np.moveaxis(last, -1, 1)

    def like(self, value: np.ndarray, role: Role, z_shape: tuple[int, ...]) -> np.ndarray:
        """``value`` (lecture layout) in this layout, shaped as it goes with an implementation's ``z`` of
        ``z_shape``: the converse of :meth:`from_impl` (C-contiguous)."""
        if role is Role.PARAM:
            return value.copy()
        if role is Role.PER_UNIT:
            return value.copy() if self is Layout.UNITS_FIRST else value[:, 0].copy()
        axis = self.unit_axis(len(z_shape))
        return self._batch(value, tuple(s for i, s in enumerate(z_shape) if i != axis))

    def from_impl(self, value: np.ndarray, role: Role) -> np.ndarray:
        """A result already checked to have :meth:`result_shape`, back in the lecture's layout."""
        if self is Layout.UNITS_FIRST or role is Role.PARAM:
            return value
        if role is Role.PER_UNIT:
            return value.reshape(-1, 1)
        n = value.shape[self.unit_axis(value.ndim)]
        last = np.moveaxis(value, 1, -1) if self is Layout.CHANNELS_FIRST else value
        return last.reshape(-1, n).T


def from_impl_source(layout: Layout, name: str, role: Role) -> str:
    """The numpy expression of :meth:`Layout.from_impl` on the variable ``name``, for a reproducer."""
    if layout is Layout.UNITS_FIRST or role is Role.PARAM:
        return name
    if role is Role.PER_UNIT:
        return f"{name}.reshape(-1, 1)"
    if layout is Layout.BATCH_FIRST:
        return f"{name}.T"
    if layout is Layout.CHANNELS_FIRST:
        return f"np.moveaxis({name}, 1, -1).reshape(-1, {name}.shape[1]).T"
    return f"{name}.reshape(-1, {name}.shape[-1]).T"


def in_memory(a: np.ndarray, memory: str, unit_axis: int) -> np.ndarray:  # copied verbatim into reproducers
    """``a`` with the same values, laid out in memory as ``memory`` says, in a fresh buffer:
    "contiguous" (C order), "fortran", "permuted" (the units' axis ``unit_axis`` innermost in memory,
    or outermost if it is the last axis: channels-last memory for a channels-first array) or
    "strided" (every other element of a buffer twice as long on the last axis)."""
    if a.ndim == 0:  # one value has one layout (np.ascontiguousarray would make it 1-d)
        return a.copy()
    if memory == "fortran":
        return np.asfortranarray(a)
    if memory == "permuted" and a.ndim >= 2:
        inner = 0 if unit_axis == a.ndim - 1 else a.ndim - 1
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, unit_axis, inner)), inner, unit_axis)
    if memory == "strided" and a.ndim >= 1 and a.size:
        buffer = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
        buffer[..., ::2] = a
        return buffer[..., ::2]
    return np.ascontiguousarray(a)


def spatial_dims(value: Any, layout: Layout, where: str) -> tuple[int, ...]:
    """A declared ``spatial_dims`` checked against ``layout``: the spatial ranks the implementation
    accepts (default every one of :data:`SPATIAL_RANKS` in a channel layout, none elsewhere)."""
    if value is None:
        return SPATIAL_RANKS if layout.spatial else (0,)
    if (isinstance(value, str | bool) or not isinstance(value, list | tuple) or not value
            or not all(isinstance(k, int) and not isinstance(k, bool) and k in SPATIAL_RANKS for k in value)):
        raise TargetError(f"{where}: spatial_dims must be a non-empty list of spatial ranks from {SPATIAL_RANKS}, "
                          f"got {value!r:.100}")
    if not layout.spatial and tuple(value) != (0,):
        raise TargetError(f"{where}: spatial_dims {tuple(value)} needs layout channels_first or channels_last "
                          f"(layout {layout.value} has no spatial dims)")
    return tuple(sorted(set(value)))
