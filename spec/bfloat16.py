"""bfloat16, which numpy has only through ml_dtypes (shipped with JAX, among others).

The clauses on bfloat16 inputs (BN-BF16-*) build their inputs with it: where
ml_dtypes is not installed they are "not applicable" for a target that
declares bfloat16, with :data:`MISSING` as the reason.  The reference itself
recognises the dtype by its name and never imports ml_dtypes.
"""

from __future__ import annotations

import numpy as np

from bnspec.reference.arguments import BFLOAT16 as NAME
from bnspec.reference.arguments import is_bfloat16

__all__ = ["MISSING", "NAME", "dtype", "is_bfloat16", "required"]
MISSING = "numpy has no bfloat16 without ml_dtypes (pip install ml-dtypes)"


def dtype() -> np.dtype | None:
    """ml_dtypes' bfloat16 as a numpy dtype, or None where ml_dtypes is not installed."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


def required() -> np.dtype:
    """bfloat16 as a numpy dtype, for a property the runner runs only where it exists."""
    found = dtype()
    if found is None:
        raise RuntimeError(MISSING)
    return found
