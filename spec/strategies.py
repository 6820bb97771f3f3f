"""Hypothesis strategies that reach the inputs which break wrong implementations.

Every draw is labelled (``draw(strategy, "z")``), so a failure lists its inputs
by the lecture's names.  The layer strategy draws, per unit, an offset far from
0 against the spread (up to |mu| / sigma = 1e8), constant units, m = 2 and
m = 1 where asked, eps from tiny to large (so eps handling is observable next
to sigma^2), and gamma with negative and zero entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .errors import UsageError

#: largest |mu| / sigma the layer strategy draws (issue-level requirement: 1e8).
MAX_OFFSET_RATIO = 1e8
#: the gradient checks' finite differences lose u * cond / step: they draw
#: offsets up to this ratio only (see tolerances.FD_RTOL).
FD_OFFSET_RATIO = 1e2


class Draw:
    """A labelled, recording front to hypothesis' ``data.draw``.

    ``sequence`` keeps every ``(label, value)`` in the order drawn: a saved
    failure (:mod:`bnspec.spec.cases`) stores it, and :class:`ReplayDraw`
    feeds it back to the property."""

    def __init__(self, data: Any) -> None:
        self._data = data
        self.values: dict[str, Any] = {}
        self.sequence: list[tuple[str, Any]] = []

    def __call__(self, strategy: st.SearchStrategy, label: str) -> Any:
        value = self._data.draw(strategy, label=label)
        self.values[label] = value
        self.sequence.append((label, value))
        return value


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


#: smallest nonzero magnitude drawn.  Inputs stay far enough from float64's
#: subnormal range (below 2.2e-308) that no product of three of them is
#: subnormal: flushing subnormals to zero (XLA on CPU, GPUs by default) is a
#: platform's choice, outside what a BN specification decides.
SMALLEST_MAGNITUDE = 1e-100


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


def log_uniform(lo_exp: float, hi_exp: float) -> st.SearchStrategy[float]:
    """``10**e`` for e drawn in [lo_exp, hi_exp]."""
    return _finite(lo_exp, hi_exp).map(lambda e: float(10.0**e))


def eps_values() -> st.SearchStrategy[float]:
    """eps from 1e-8 to 10: tiny (invisible), comparable to sigma^2, and dominant."""
    return st.one_of(st.sampled_from([1e-8, 1e-5, 1e-3, 0.1, 1.0, 10.0]), log_uniform(-8, 1)).map(attribute)


def column(n: int, lo: float, hi: float, special: tuple[float, ...] = ()) -> st.SearchStrategy[np.ndarray]:
    """An ``n x 1`` float64 array with entries in [lo, hi] (``special`` values favoured)."""
    elements = st.one_of(st.sampled_from(special), _finite(lo, hi)) if special else _finite(lo, hi)
    return hnp.arrays(np.float64, (n, 1), elements=elements)


def gammas(n: int) -> st.SearchStrategy[np.ndarray]:
    """gamma with negative, zero and positive entries."""
    return column(n, -3.0, 3.0, special=(1.0, -1.0, 0.0, 0.5))


def betas(n: int) -> st.SearchStrategy[np.ndarray]:
    return column(n, -5.0, 5.0, special=(0.0, 1.0, -2.0))


def matrix(n: int, m: int, lo: float = -3.0, hi: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, (n, m), elements=_finite(lo, hi))


def upstream(n: int, m: int) -> st.SearchStrategy[np.ndarray]:
    """A random upstream gradient (never all ones: with ones, dz = 0 and any check passes)."""
    return matrix(n, m, -2.0, 2.0).filter(lambda g: np.ptp(g, axis=1).min() > 1e-3)


@st.composite
def batches(draw: Any, n: int, m: int, max_offset_ratio: float = MAX_OFFSET_RATIO) -> np.ndarray:
    """``Z`` (``n x m``): per unit ``offset * spread + spread * noise``.

    spread is log-uniform in [1e-3, 1e3]; the offset ratio |mu| / sigma is 0 or
    log-uniform up to ``max_offset_ratio`` with either sign; a unit may be
    constant (noise 0).
    """
    noise = draw(matrix(n, m))
    spread = draw(hnp.arrays(np.float64, (n, 1), elements=log_uniform(-3, 3)))
    top = float(np.log10(max_offset_ratio))
    ratio = draw(
        hnp.arrays(
            np.float64,
            (n, 1),
            elements=st.one_of(st.just(0.0), log_uniform(0, top), log_uniform(0, top).map(lambda r: -r)),
        )
    )
    constant = draw(hnp.arrays(np.bool_, (n, 1), elements=st.booleans()))
    noise = np.where(constant, 0.0, noise)
    return ratio * spread + spread * noise


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


def layer(
    draw: Draw,
    *,
    min_m: int = 2,
    max_m: int = 12,
    max_n: int = 5,
    max_offset_ratio: float = MAX_OFFSET_RATIO,
    unit_affine: bool = False,
) -> Layer:
    """Draw ``z``, ``gamma``, ``beta``, ``eps`` (``unit_affine``: gamma = 1, beta = 0)."""
    n = draw(st.integers(1, max_n), "n")
    m = draw(st.one_of(st.just(min_m), st.integers(min_m, max_m)), "m")
    z = draw(batches(n, m, max_offset_ratio), "z")
    if unit_affine:
        gamma, beta = np.ones((n, 1)), np.zeros((n, 1))
    else:
        gamma, beta = draw(gammas(n), "gamma"), draw(betas(n), "beta")
    eps = draw(eps_values(), "eps")
    return Layer(z, gamma, beta, eps)
