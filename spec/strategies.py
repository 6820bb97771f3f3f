"""Hypothesis strategies that reach the inputs which break wrong implementations.

Every draw is labelled (``draw(strategy, "z")``), so a failure lists its inputs
by the lecture's names.  The layer strategy draws, per unit, an offset far from
0 against the spread (up to |mu| / sigma = 1e8), m = 2 often, eps from tiny to
large (so eps handling is observable next to sigma^2), and gamma with negative
and zero entries.

Degenerate inputs -- a unit constant over the mini-batch (sigma^2 = 0) and, in
training mode, m = 1 -- are the subject of their own clauses (BN-DEG-1,
BN-DEG-2): every other clause keeps away from them, so that one bug on them
fails those clauses and no others.  The shared draws therefore never give a
constant unit (:func:`constant_units` is the test) unless asked with
``degenerate=True``, and m = 1 only where asked with ``min_m=1`` (the DEG
clauses, and inference, which uses no batch statistics): :func:`legal` says
whether an input is one the other clauses may be given.

Speed: an array is built with numpy from a few hypothesis choices (a seed, a
pattern, a scale and an offset per unit) rather than drawn element by element,
and every strategy object is made once per set of arguments (``functools.cache``):
hypothesis validates each new strategy object, and drawing element by element
was most of a run's time.  Replay is unaffected: a case file stores the labelled
values (``z``, ``grad``, ...), not the choices behind them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from .errors import UsageError
from .layouts import MEMORIES, Memory

#: largest |mu| / sigma the layer strategy draws (issue-level requirement: 1e8).
MAX_OFFSET_RATIO = 1e8
#: the gradient checks' finite differences lose u * cond / step: they draw
#: offsets up to this ratio only (see tolerances.FD_RTOL).
FD_OFFSET_RATIO = 1e2


class Draw:
    """A labelled, recording front to hypothesis' ``data.draw``.

    ``sequence`` keeps every ``(label, value)`` in the order drawn: a saved
    failure (:mod:`bnspec.spec.cases`) stores it, and :class:`ReplayDraw`
    feeds it back to the property.  ``unit_affine``, set by the runner for a
    target that declares ``affine = False``, makes :func:`layer` give gamma = 1
    and beta = 0 (see :mod:`bnspec.spec.properties.variants`)."""

    def __init__(self, data: Any) -> None:
        self._data = data
        self.values: dict[str, Any] = {}
        self.sequence: list[tuple[str, Any]] = []
        self.unit_affine = False
        #: labels whose value the target's declaration fixes (``eps`` under a declared ``fixed_eps``):
        #: answered without drawing, and recorded as drawn, so that a replay gives them back
        self.pinned: dict[str, Any] = {}

    def __call__(self, strategy: st.SearchStrategy, label: str) -> Any:
        value = self.pinned[label] if label in self.pinned else self._data.draw(strategy, label=label)
        self.values[label] = value
        self.sequence.append((label, value))
        return value

    def assume(self, condition: bool, why: str) -> None:
        """Discard this example unless ``condition`` (``why``: what it keeps out, for a replay's message)."""
        assume(condition)


class ReplayMismatch(UsageError):
    """A saved draw sequence does not fit the property (the property changed since it was saved):
    a usage error of ``bnspec replay``, never a verdict."""


class ReplayDraw(Draw):
    """Gives back a recorded sequence of labelled draws, in order, without hypothesis.

    Each call must ask for the label recorded at its position; the strategy is
    not consulted (the value was drawn from it when the failure was found)."""

    def __init__(self, sequence: list[tuple[str, Any]]) -> None:
        super().__init__(None)
        self._recorded = list(sequence)

    def __call__(self, strategy: st.SearchStrategy, label: str) -> Any:
        position = len(self.sequence)
        if position >= len(self._recorded):
            raise ReplayMismatch(f"the property asks for draw {position + 1} ({label!r}); the case has {position}")
        recorded, value = self._recorded[position]
        if recorded != label:
            raise ReplayMismatch(f"draw {position + 1}: the property asks for {label!r}, the case has {recorded!r}")
        self.values[label] = value
        self.sequence.append((label, value))
        return value

    def assume(self, condition: bool, why: str) -> None:
        if not condition:
            raise ReplayMismatch(f"the saved draws are outside the property's domain: {why}")

    def next_is(self, label: str) -> bool:
        """Whether the next recorded draw is labelled ``label``."""
        position = len(self.sequence)
        return position < len(self._recorded) and self._recorded[position][0] == label


#: smallest nonzero magnitude drawn.  Inputs stay far enough from float64's
#: subnormal range (below 2.2e-308) that no product of three of them is
#: subnormal: flushing subnormals to zero (XLA on CPU, GPUs by default) is a
#: platform's choice, outside what a BN specification decides.
SMALLEST_MAGNITUDE = 1e-100


def constant_units(z: np.ndarray, rtol: float = 0.0) -> np.ndarray:
    """Which units of ``z`` (``n x m``) are constant over the mini-batch: ``n x 1`` booleans
    (every unit when m = 1).  With ``rtol`` > 0, also the units whose range is at most ``rtol``
    times their largest magnitude (nearly constant: a few roundings away from constant).
    A unit with a NaN is not constant."""
    z = np.asarray(z, dtype=np.float64)
    if z.shape[1] == 0:
        return np.ones((z.shape[0], 1), dtype=bool)
    top, bottom = z.max(axis=1, keepdims=True), z.min(axis=1, keepdims=True)
    return top - bottom <= rtol * np.maximum(np.abs(top), np.abs(bottom))


def legal(z: np.ndarray, rtol: float = 0.0) -> bool:
    """Whether ``z`` (``n x m``) is a legal training-mode input: m >= 2 and no constant unit
    (with ``rtol``: none nearly constant either, see :func:`constant_units`)."""
    return z.shape[1] >= 2 and not constant_units(z, rtol).any()


def _flush(a: np.ndarray) -> np.ndarray:
    """``a`` with the entries below :data:`SMALLEST_MAGNITUDE` in magnitude set to 0."""
    return np.where(np.abs(a) < SMALLEST_MAGNITUDE, 0.0, a)


@functools.cache
def _finite(lo: float, hi: float) -> st.SearchStrategy[float]:
    floats = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)
    return floats.map(lambda v: 0.0 if abs(v) < SMALLEST_MAGNITUDE else v)


def attribute(value: float) -> float:
    """``value`` rounded to the nearest float32.

    eps and momentum are drawn representable in float32: ONNX declares them
    float32 attributes (and other engines store them so), and a value that
    survives that rounding loses nothing of what the clauses can detect.
    """
    return float(np.float32(value))


def _negated(v: float) -> float:
    return -v


def _power_of_ten(e: float) -> float:
    return float(10.0**e)


@functools.cache
def log_uniform(lo_exp: float, hi_exp: float) -> st.SearchStrategy[float]:
    """``10**e`` for e drawn in [lo_exp, hi_exp]."""
    return _finite(lo_exp, hi_exp).map(_power_of_ten)


@functools.cache
def eps_values() -> st.SearchStrategy[float]:
    """eps from 1e-8 to 10: tiny (invisible), comparable to sigma^2, and dominant."""
    return st.one_of(st.sampled_from([1e-8, 1e-5, 1e-3, 0.1, 1.0, 10.0]), log_uniform(-8, 1)).map(attribute)


#: The seed of the numpy generator that fills an array: one hypothesis choice per array.
SEEDS = st.integers(0, 2**32 - 1)


@functools.cache
def column(n: int, lo: float, hi: float, special: tuple[float, ...] = ()) -> st.SearchStrategy[np.ndarray]:
    """An ``n x 1`` float64 array with entries in [lo, hi] (``special`` values favoured): one
    hypothesis choice per entry, so that each entry shrinks to a simple value."""
    elements = st.one_of(st.sampled_from(special), _finite(lo, hi)) if special else _finite(lo, hi)
    return st.tuples(*[elements] * n).map(lambda values: np.array(values, dtype=np.float64).reshape(n, 1))


def gammas(n: int) -> st.SearchStrategy[np.ndarray]:
    """gamma with negative, zero and positive entries."""
    return column(n, -3.0, 3.0, special=(1.0, -1.0, 0.0, 0.5))


def betas(n: int) -> st.SearchStrategy[np.ndarray]:
    return column(n, -5.0, 5.0, special=(0.0, 1.0, -2.0))


def _uniform(seed: int, shape: tuple[int, int], lo: float, hi: float) -> np.ndarray:
    """``shape`` values uniform in [lo, hi) from the generator seeded with ``seed``, tiny ones flushed to 0."""
    return _flush(np.random.default_rng(seed).uniform(lo, hi, shape))


@functools.cache
def matrix(n: int, m: int, lo: float = -3.0, hi: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """An ``n x m`` float64 array uniform in [lo, hi], filled by numpy from a drawn seed."""
    return SEEDS.map(lambda seed: _uniform(seed, (n, m), lo, hi))


def _varied(g: np.ndarray) -> bool:
    return bool(np.ptp(g, axis=1).min() > 1e-3)


#: The range of an upstream gradient's entries (the golden vectors fill theirs from it too).
UPSTREAM = (-2.0, 2.0)


@functools.cache
def upstream(n: int, m: int) -> st.SearchStrategy[np.ndarray]:
    """A random upstream gradient (never all ones: with ones, dz = 0 and any check passes)."""
    return matrix(n, m, *UPSTREAM).filter(_varied)


#: The patterns of a unit's noise, simplest first (the shrinker moves towards the first).
NOISE_PATTERNS = ("uniform", "normal", "two values", "one outlier", "small integers", "ramp")


def noise(pattern: str, rng: np.random.Generator, m: int) -> np.ndarray:
    """``m`` values of ``pattern`` from ``rng`` (1-D), never all equal when m >= 2.

    ``uniform`` in [-3, 3] and ``normal``: generic values; ``two values``, -1
    and 1 each at least once: the ties of a two-point distribution; ``one
    outlier``, 0 but a single 1: the largest |z_norm|, sqrt(m - 1);
    ``small integers`` in [-3, 3]: exact values and ties; ``ramp``: equally
    spaced and sorted, sums in increasing order.
    """
    if pattern == "uniform":
        values = rng.uniform(-3.0, 3.0, m)
    elif pattern == "normal":
        values = rng.standard_normal(m)
    elif pattern == "two values":
        values = np.where(np.arange(m) < rng.integers(1, max(m, 2)), -1.0, 1.0)
        rng.shuffle(values)
    elif pattern == "one outlier":
        values = np.zeros(m)
        values[rng.integers(m)] = 1.0
    elif pattern == "small integers":
        values = rng.integers(-3, 4, m).astype(np.float64)
    elif pattern == "ramp":
        values = np.linspace(-1.0, 1.0, m)
    else:
        raise ValueError(f"pattern: {pattern!r} is not one of {NOISE_PATTERNS}")
    if m > 1 and values.max() == values.min():  # a draw of equal values (small integers, or chance)
        values[0] += 1.0
    return values


def _unit_spread(values: np.ndarray) -> np.ndarray:
    """``values`` centred on their midrange, times the power of two that brings their (biased)
    standard deviation into [1, 2).  Exact for the patterns with exact values (ties, small
    integers, the ramp stay what they are); the range is then at least 1 (some value is a
    standard deviation or more from the mean) and every value at most sqrt(m) * 2 from 0, so the
    noise adds no offset of its own.  One value: as it is."""
    if values.max() == values.min():
        return values
    centred = values - (values.max() + values.min()) / 2
    return centred * 2.0 ** -np.floor(np.log2(float(centred.std())))


@functools.cache
def _offset_ratios(max_offset_ratio: float) -> st.SearchStrategy[float]:
    """|mu| / sigma: 0, or log-uniform in [1, max_offset_ratio] with either sign."""
    top = float(np.log10(max_offset_ratio))
    return st.one_of(st.just(0.0), log_uniform(0, top), log_uniform(0, top).map(_negated))


@functools.cache
def _units(max_offset_ratio: float, degenerate: bool) -> st.SearchStrategy[tuple[Any, ...]]:
    """One unit's structure: (spread, offset ratio, noise pattern, constant)."""
    constant = st.booleans() if degenerate else st.just(False)
    return st.tuples(log_uniform(-3, 3), _offset_ratios(max_offset_ratio), st.sampled_from(NOISE_PATTERNS), constant)


def _batch(units: tuple[tuple[Any, ...], ...], seed: int, m: int) -> np.ndarray:
    """``Z`` (``n x m``) from the units' structures and the noise's seed (see :func:`batches`)."""
    rng = np.random.default_rng(seed)
    spread, ratio = (np.array([[unit[k]] for unit in units], dtype=np.float64) for k in (0, 1))
    rows = [np.zeros(m) if constant else _unit_spread(noise(pattern, rng, m)) for _, _, pattern, constant in units]
    return _flush(ratio * spread + spread * np.array(rows))


@functools.cache
def batches(n: int, m: int, max_offset_ratio: float = MAX_OFFSET_RATIO, *,
            degenerate: bool = False) -> st.SearchStrategy[np.ndarray]:
    """``Z`` (``n x m``): per unit ``offset * spread + spread * noise``.

    spread is log-uniform in [1e-3, 1e3]; the offset ratio is 0 or log-uniform
    up to ``max_offset_ratio`` with either sign; the noise follows one of
    :data:`NOISE_PATTERNS` with its standard deviation scaled into [1, 2) by a
    power of two after centring it on its midrange, so that |mu| / sigma is at most
    the drawn ratio give or take sqrt(m): nearly constant units (sigma / |mu| down
    to 1e-8) come from the ratio, never beyond it.  Four hypothesis choices per unit
    and one seed: the values come from numpy.

    No unit is constant: its range is at least the spread, which float64 resolves
    next to an offset of |mu| / sigma up to 1e8 (relative range 1e-8 against
    u ~ 1e-16), and flushing the values below SMALLEST_MAGNITUDE to 0 cannot
    level a range of 1e-3 or more.  Unless ``degenerate``: then a unit may be
    constant (noise 0).  m = 1 gives one value per unit.
    """
    return st.tuples(st.tuples(*[_units(max_offset_ratio, degenerate)] * n), SEEDS).map(
        lambda drawn: _batch(drawn[0], drawn[1], m))


#: The label of an example's arrangement, drawn by the runner before the property's own draws.
ARRANGEMENT = "arrangement"


def arrangement(draw: Draw, spatial_ranks: tuple[int, ...]) -> tuple[int, int, Memory]:
    """This example's arrangement (:func:`arrangements`).  A replay without one -- a case saved before
    arrangements were drawn, or the diagnosis' probes, which replay no draws -- gets the plainest:
    the smallest declared spatial rank, the first factorization, C-contiguous memory."""
    if isinstance(draw, ReplayDraw) and not draw.next_is(ARRANGEMENT):
        return spatial_ranks[0], 0, "contiguous"
    return draw(arrangements(spatial_ranks), ARRANGEMENT)


@functools.cache
def arrangements(spatial_ranks: tuple[int, ...]) -> st.SearchStrategy[tuple[int, int, str]]:
    """How an example lays its arrays out for the implementation, as
    :class:`~bnspec.spec.layouts.Arrangement`'s fields: one of the spatial ranks the target accepts,
    which factorization of m into ``N * prod(S)`` (any index: it is taken modulo their number), and
    the memory order of every array -- C-contiguous favoured, then Fortran order, permuted (the units'
    axis moved in memory, as channels-last memory is for NCHW) and every other element of a buffer."""
    memory = st.one_of(st.just("contiguous"), st.sampled_from(MEMORIES))
    return st.tuples(st.sampled_from(spatial_ranks), st.integers(0, 2**16), memory)


@dataclass(frozen=True)
class Layer:
    """One drawn input to the BN layer, units first."""

    z: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: float

    @property
    def n(self) -> int:
        return self.z.shape[0]

    @property
    def m(self) -> int:
        return self.z.shape[1]


@functools.cache
def _examples(min_m: int, max_m: int) -> st.SearchStrategy[int]:
    """m in [min_m, max_m], min_m favoured (m = 2 is where an m versus m - 1 shows most)."""
    return st.one_of(st.just(min_m), st.integers(min_m, max_m))


#: Large examples, one draw in :data:`LARGE_SHARE` (issue-level requirement: m up to at least 4096
#: and n[l] up to 512, channel counts that are no multiple of a vector width included): sums of
#: thousands of values, where a naive accumulation drifts and a kernel's vector tail shows.
LARGE_M, LARGE_N = 4096, 512
#: At most this many elements in a large example: the float64 reference checks them in about a
#: millisecond; properties that compute the exact oracle (pure Python, ~35 us an element) pass
#: ``max_elements=ORACLE_ELEMENTS``.
LARGE_ELEMENTS, ORACLE_ELEMENTS = 2**14, 2**11
#: The sizes a layer is drawn at: small (the default, and where shrinking goes) or large.
SIZES = ("small",) * 7 + ("large",)


def _numpy_units(rng: np.random.Generator, n: int, max_offset_ratio: float,
                 degenerate: bool) -> tuple[tuple[Any, ...], ...]:
    """n units' structures as :func:`_units` draws them, from ``rng``: too many units for one
    hypothesis choice each (its buffer holds a few thousand)."""
    top = float(np.log10(max_offset_ratio))
    spread = 10.0 ** rng.uniform(-3, 3, n)
    ratio = np.where(rng.random(n) < 0.25, 0.0, 10.0 ** rng.uniform(0, top, n) * rng.choice([-1.0, 1.0], n))
    patterns = rng.choice(NOISE_PATTERNS, n)
    constant = rng.random(n) < 0.1 if degenerate else np.zeros(n, dtype=bool)
    return tuple((float(a), float(b), str(p), bool(c)) for a, b, p, c in zip(spread, ratio, patterns, constant,
                                                                          strict=True))


def _numpy_column(rng: np.random.Generator, n: int, lo: float, hi: float, special: tuple[float, ...]) -> np.ndarray:
    """An ``n x 1`` column as :func:`column` draws it (``special`` values one entry in four), from ``rng``."""
    values = np.where(rng.random(n) < 0.25, rng.choice(special, n), rng.uniform(lo, hi, n))
    return _flush(values.reshape(n, 1))


def _large(draw: Draw, min_m: int, max_m: int, max_offset_ratio: float, unit_affine: bool, degenerate: bool,
           max_elements: int) -> Layer:
    """A large layer: m up to :data:`LARGE_M` (unless the property fixes m at 1) and n up to
    :data:`LARGE_N`, at most ``max_elements`` in all; everything but the sizes from one seed."""
    m = draw(st.integers(min_m, max(max_m, min(LARGE_M, max_elements)) if max_m > 1 else max_m), "m")
    n = draw(st.integers(1, max(1, min(LARGE_N, max_elements // m))), "n")
    rng = np.random.default_rng(draw(SEEDS, "layer_seed"))
    z = _batch(_numpy_units(rng, n, max_offset_ratio, degenerate), int(rng.integers(2**32)), m)
    if unit_affine:
        gamma, beta = np.ones((n, 1)), np.zeros((n, 1))
    else:
        gamma = _numpy_column(rng, n, -3.0, 3.0, (1.0, -1.0, 0.0, 0.5))
        beta = _numpy_column(rng, n, -5.0, 5.0, (0.0, 1.0, -2.0))
    return Layer(z, gamma, beta, draw(eps_values(), "eps"))


def layer(
    draw: Draw,
    *,
    min_m: int = 2,
    max_m: int = 12,
    max_n: int = 5,
    max_offset_ratio: float = MAX_OFFSET_RATIO,
    unit_affine: bool = False,
    degenerate: bool = False,
    max_elements: int = LARGE_ELEMENTS,
) -> Layer:
    """Draw ``z``, ``gamma``, ``beta``, ``eps`` (``unit_affine``, or the draw's own ``unit_affine``:
    gamma = 1, beta = 0).

    ``z`` is a legal input (:func:`legal`) unless the property asks otherwise:
    ``degenerate=True`` draws constant units too (the clauses about them), and
    ``min_m=1`` draws m = 1 -- degenerate in training mode (BN-DEG-2), not in
    inference, which uses no batch statistics.  One draw in eight is large (m up
    to :data:`LARGE_M`, n up to :data:`LARGE_N`, at most ``max_elements``
    elements); the rest have at most ``max_n`` units and ``max_m`` examples.
    """
    if not 1 <= min_m <= max_m:
        raise ValueError(f"min_m, max_m: expected 1 <= min_m <= max_m, got {min_m}, {max_m}")
    unit_affine = unit_affine or getattr(draw, "unit_affine", False)
    if draw(st.sampled_from(SIZES), "size") == "large":
        return _large(draw, min_m, max_m, max_offset_ratio, unit_affine, degenerate, max_elements)
    n = draw(st.integers(1, max_n), "n")
    m = draw(_examples(min_m, max_m), "m")
    z = draw(batches(n, m, max_offset_ratio, degenerate=degenerate), "z")
    if unit_affine:
        gamma, beta = np.ones((n, 1)), np.zeros((n, 1))
    else:
        gamma, beta = draw(gammas(n), "gamma"), draw(betas(n), "beta")
    eps = draw(eps_values(), "eps")
    return Layer(z, gamma, beta, eps)
