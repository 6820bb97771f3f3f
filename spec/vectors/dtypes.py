"""The situations of the dtype clauses' cases: the float32 and float16 sets.

The properties of :mod:`bnspec.spec.properties.dtypes` make these inputs themselves from the pinned
draws: the layer at the dtype's offset ratio (:func:`bnspec.spec.tolerances.offset_ratio`), cast and
flushed to the dtype, the units nearly constant far from 0 of BN-VAR-*, the long float16 sums of
BN-F16-2 and BN-F16-4; and they state what each result must be -- the exact result of those very
inputs (:mod:`bnspec.spec.oracle`) within ``tolerances.tolerance`` (float32) or
``tolerances.low_precision_tolerance`` (float16) -- or, for BN-DTYPE-1 and BN-DTYPE-2, the dtype."""

from __future__ import annotations

import numpy as np

from .cases import Situation
from .layer import BASE

#: The dtypes with a set of their own (bfloat16 has none: see docs/other-languages.md).
DTYPES = ("float64", "float32", "float16")

#: BN-DTYPE-1 and BN-DTYPE-2: a few ordinary inputs in each dtype (only the dtype is judged).
DTYPE = BASE[:4]

#: BN-F32-*, BN-F16-1, BN-F16-3: the ordinary inputs, in the dtype, against their exact results.
LOW_PRECISION = BASE


def _alternating(*magnitudes: float) -> np.ndarray:
    """A column of offsets of alternating sign, as the dtype properties' offset columns are drawn."""
    return np.array([[v * (-1) ** i] for i, v in enumerate(magnitudes)])


#: BN-F16-2, BN-F16-4: m values near 300 or more, whose sum exceeds float16's 65504.
LONG_FLOAT16 = (
    Situation("sum of 256 values near 250", 501, 1, 256, pinned={"offset": _alternating(250.0), "noise_seed": 1}),
    Situation("sums of 512 values near 1000, 400 and 640", 502, 3, 512,
              pinned={"offset": _alternating(1000.0, 400.0, 640.0), "noise_seed": 2}),
)


def _var_eps(dtype: str | None) -> float:
    """An eps BN-VAR-* draws for the dtype."""
    return 1e-2 if dtype == "float16" else 1e-5


def _nearly_constant(seed: int, n: int, m: int, *offsets: float) -> dict[str, object]:
    """Noise of a few units in the last place (in [-4, 4], rounded) about offsets far from 0."""
    ulps = np.random.default_rng(seed).integers(-4, 5, (n, m)).astype(np.float64)
    return {"offset": _alternating(*offsets), "noise_in_ulps": ulps, "eps": _var_eps}


#: BN-VAR-1, BN-VAR-2: units nearly constant far from 0 (E[z^2] - E[z]^2 cancels to noise of either sign).
NEARLY_CONSTANT = (
    Situation("n = 2, m = 8 near 1000", 601, 2, 8, pinned=_nearly_constant(601, 2, 8, 1000.0, 997.0)),
    Situation("n = 1, m = 2 near 10", 602, 1, 2, pinned=_nearly_constant(602, 1, 2, 10.0)),
    Situation("n = 4, m = 64 near 300", 603, 4, 64, pinned=_nearly_constant(603, 4, 64, 300.0, 311.0, 10.0, 999.0)),
)
