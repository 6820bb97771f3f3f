"""The situations of the training-mode layer's cases: the ordinary ones every value clause
meets, the constant units of BN-DEG-1 and BN-DEG-3, and m = 1 of BN-DEG-2 and BN-DEG-4.

Each is the pinned draws of a property (:class:`~bnspec.spec.vectors.cases.Situation`); the
layer is the strategies' own large draw from the seed, so its offsets, spreads, gamma and beta
are the property's (offsets up to its |mu| / sigma, nothing constant outside BN-DEG-*)."""

from __future__ import annotations

from .cases import Situation

#: Every value clause meets these: m = 2, n = 1, one unit with m = 3, tiny and large eps, eps
#: comparable to sigma^2, m = 24 and 64 (long sums, and spatial files with two positions or more
#: along every spatial dim), 7 units (no multiple of a vector width).  The seeds give offsets
#: |mu| / sigma from 0 to 1e7 and gamma with negative and zero entries (tests/test_vectors.py).
BASE = (
    Situation("ordinary: n = 3, m = 8", 101, 3, 8),
    Situation("m = 2", 102, 3, 2),
    Situation("n = 1, m = 5", 103, 1, 5),
    Situation("tiny eps 1e-8", 104, 3, 8, eps=1e-8),
    Situation("large eps 10 (eps dominates sigma^2)", 105, 2, 6, eps=10.0),
    Situation("eps 1e-3, m = 12", 106, 4, 12, eps=1e-3),
    Situation("m = 24", 107, 2, 24),
    Situation("n = 7, m = 64", 108, 7, 64),
    Situation("n = 5, m = 3", 109, 5, 3),
    Situation("ordinary: n = 3, m = 16", 110, 3, 16),
)


def _constant(n: int, spread: float, ratio: float) -> tuple[tuple[float, float, str, bool], ...]:
    """n constant units at +-ratio * spread, alternately (the strategies' unit structure, noise off)."""
    return tuple((spread, ratio * (-1) ** i, "uniform", True) for i in range(n))


#: Every unit constant, at values whose square and mean round (1.1, 1370 at m = 7, 1.37e8): a one-pass
#: variance E[z^2] - E[z]^2 leaves a residue there, which constants at 0 or powers of ten hide.  The
#: property makes one unit constant per example (``constant_unit``): it runs once per unit, and its
#: checks of the rows are merged into the whole output.
CONSTANT = tuple(Situation(name, seed, n, m, eps=eps, units=_constant(n, spread, ratio), variants="constant_unit")
                 for name, seed, n, m, spread, ratio, eps in (
                     ("every unit constant at 0", 200, 3, 8, 1.0, 0.0, 1e-5),
                     ("every unit constant at +-1.1", 201, 3, 8, 1.0, 1.1, 1e-5),
                     ("constant units far from 0 (+-1.37e8)", 202, 3, 8, 1.37, 1e8, 1e-5),
                     ("constant units at +-1.1, tiny eps 1e-8", 203, 3, 8, 1.0, 1.1, 1e-8),
                     ("constant units at +-0.7, m = 2", 204, 3, 2, 1.0, 0.7, 1e-5),
                     ("one constant unit at 1370, m = 7", 205, 1, 7, 1e3, 1.37, 1e-5)))

#: m = 1.
SINGLE = (
    Situation("m = 1", 301, 3, 1),
    Situation("m = 1, n = 1", 302, 1, 1),
    Situation("m = 1, n = 4", 303, 4, 1),
    Situation("m = 1, tiny eps", 304, 3, 1, eps=1e-8),
)
