"""Hypothesis strategies for the optimizer clauses: a parameter, its gradient, its state, the hyperparameters.

Every draw is labelled by the protocol's names (``p``, ``dp``, ``v``, ``s``, ``lr``,
``momentum``, ``rho``, ``beta1``, ``beta2``, ``eps``, ``t``).  A parameter has any
shape of rank 0 to 3 (0-d included) and a dtype the target declares (float64,
float32).  An array is built with numpy from two hypothesis choices, a seed and a
pattern -- signed magnitudes spread over a few decades around a drawn scale, some
entries 0, all 0, or one value -- so that gradients reach from 1e-8 to 1e4, and
elementwise formulas meet zeros, tiny and large values in one array.  Decays come
from the values courses and frameworks use (0.9, 0.99, 0.999, 0, 0.5) and from [0,
0.999]; t from the first steps and from up to 10^4.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from .optimizer_forms import DECAYS
from .protocol import FUNCTIONS, OPTIMIZER
from .strategies import SEEDS, Draw, log_uniform

#: The dtypes an optimizer is checked in (the issue of low-precision optimizer state is the frameworks').
DTYPES = ("float64", "float32")
#: The patterns of an array's entries.
PATTERNS = ("spread", "sparse", "zeros", "constant")
#: Decimal exponents of the scales drawn: a parameter's, and a gradient's (its square is s's).
P_SCALES = (-3, 3)
GRAD_SCALES = (-8, 4)


@functools.cache
def shapes() -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes of rank 0 to 3, each size 1 to 4."""
    return st.lists(st.integers(1, 4), max_size=3).map(tuple)


def _build(shape: tuple[int, ...], dtype: str, exponent: int, nonnegative: bool, seed: int, pattern: str
           ) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if pattern == "zeros":
        return np.zeros(shape, dtype=dtype)
    magnitude = 10.0 ** (exponent + rng.uniform(-1.5, 1.5, shape))
    if pattern == "constant":
        magnitude = np.full(shape, 10.0**exponent)
    sign = 1.0 if nonnegative else rng.choice([-1.0, 1.0], shape)
    values = sign * magnitude
    if pattern == "sparse":
        values = np.where(rng.random(shape) < 0.4, 0.0, values)
    return np.asarray(values, dtype=dtype)


@functools.cache
def arrays(shape: tuple[int, ...], dtype: str, exponent: int, nonnegative: bool = False
           ) -> st.SearchStrategy[np.ndarray]:
    """An array of ``shape`` and ``dtype`` around ``10**exponent``, from a seed and a pattern."""
    return st.tuples(SEEDS, st.sampled_from(PATTERNS)).map(
        lambda drawn: _build(shape, dtype, exponent, nonnegative, drawn[0], drawn[1]))


def _no_tiny(d: float) -> float:
    """A decay below 1e-3 is 0: a tiny one times a tiny state underflows in float32 -- a platform's
    matter, not the optimizer's."""
    return 0.0 if d < 1e-3 else d


@functools.cache
def decays() -> st.SearchStrategy[float]:
    """Averaging weights in [0, 0.999]: the usual ones favoured."""
    return st.one_of(st.sampled_from([0.9, 0.99, 0.999, 0.0, 0.5]), st.floats(0.0, 0.999).map(_no_tiny))


@functools.cache
def steps() -> st.SearchStrategy[int]:
    """t >= 1: the first steps (where the bias correction matters most) and later ones."""
    return st.one_of(st.integers(1, 5), st.integers(1, 10_000))


@dataclass(frozen=True)
class Step:
    """One drawn call: the function's arguments by the protocol's names, the dtype and the gradient's scale."""

    args: dict[str, Any]
    dtype: str
    grad_exponent: int


@functools.cache
def _dtypes(declared: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from([d for d in DTYPES if d in declared] or ["float64"])


#: Strategies made once (hypothesis validates each new strategy object, which costs more than a draw).
P_EXPONENTS = st.integers(*P_SCALES)
GRAD_EXPONENTS = st.integers(*GRAD_SCALES)
#: Learning rates from 1e-4 to 1, the usual ones favoured (0.1 and 0.01 have no exact float32: a float64
#: step computed with a float32 lr shows).
LEARNING_RATES = st.one_of(st.sampled_from([0.1, 0.01, 0.001, 0.3]), log_uniform(-4, 0))
EPS = log_uniform(-10, -1)


def dtype(draw: Draw, declared: tuple[str, ...]) -> str:
    """float64 or float32, among those the target declares (float64 if it declares neither)."""
    return draw(_dtypes(declared), "dtype")


def hyper(draw: Draw, name: str, t: int | None = None) -> dict[str, Any]:
    """The hyperparameters of ``name``, drawn and labelled (``t`` given: not drawn)."""
    values: dict[str, Any] = {"lr": draw(LEARNING_RATES, "lr")}
    for key in DECAYS[name]:
        values[key] = draw(decays(), key)
    if name == "adam":
        values["t"] = t if t is not None else draw(steps(), "t")
    if name in ("rmsprop", "adam"):
        values["eps"] = draw(EPS, "eps")
    return values


#: The state arrays of each function, in the protocol's order (its results after p).
STATE = {name: FUNCTIONS[name].result_names[1:] for name in OPTIMIZER}


def state(draw: Draw, name: str, shape: tuple[int, ...], dt: str, grad_exponent: int,
          zero: bool = False) -> dict[str, np.ndarray]:
    """The state of ``name`` for a gradient around ``10**grad_exponent``: v like the gradient, s like its
    square (non-negative); all zeros with ``zero`` (the state optimizers start from)."""
    out = {}
    for key in STATE[name]:
        if zero:
            out[key] = np.zeros(shape, dtype=dt)
        elif key == "v":
            out[key] = draw(arrays(shape, dt, grad_exponent), "v")
        else:
            out[key] = draw(arrays(shape, dt, 2 * grad_exponent, nonnegative=True), "s")
    return out


def one_step(draw: Draw, name: str, declared: tuple[str, ...], *, zero_state: bool = False) -> Step:
    """A full call of ``name``: p, dp, the state and the hyperparameters, in the protocol's order."""
    dt = dtype(draw, declared)
    shape = draw(shapes(), "shape")
    exponent = draw(GRAD_EXPONENTS, "grad_scale")
    args = {"p": draw(arrays(shape, dt, draw(P_EXPONENTS, "p_scale")), "p"),
            "dp": draw(arrays(shape, dt, exponent), "dp")}
    args.update(state(draw, name, shape, dt, exponent, zero_state))
    args.update(hyper(draw, name))
    return Step(args, dt, exponent)
