"""Argument checks shared by the reference's public functions.

Every public function of ``bnspec.reference`` validates its inputs here before
any arithmetic, so that bad input is refused with a ``TypeError`` (wrong kind of
value) or ``ValueError`` (right kind, wrong value) whose message starts with the
argument's name -- never a NaN in the output, never a traceback from inside
numpy.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

# float16 is accepted and accumulated in float32 (as frameworks do); bfloat16
# has no numpy dtype.
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"numpy array of dtype {value.dtype}"
    return type(value).__name__


def matrix(name: str, value: Any, *, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """Return ``value`` if it is a finite, real floating, 2-D numpy array.

    ``rows``/``cols``, when given, fix the expected shape (the lecture's
    ``n[l] x m``).
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {_kind(value)}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name}: expected a real floating dtype (float16, float32, float64), got {value.dtype}"
        )
    if value.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n x m), got shape {value.shape}")
    n, m = value.shape
    if n == 0 or m == 0:
        raise ValueError(f"{name}: expected at least one unit and one example, got shape {value.shape}")
    if rows is not None and n != rows:
        raise ValueError(f"{name}: expected {rows} rows, got shape {value.shape}")
    if cols is not None and m != cols:
        raise ValueError(f"{name}: expected {cols} columns, got shape {value.shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return value


def column(name: str, value: Any, n: int) -> np.ndarray:
    """Return ``value`` if it is a finite, real floating ``n x 1`` array (L10)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray of shape ({n}, 1), got {_kind(value)}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name}: expected a real floating dtype (float16, float32, float64), got {value.dtype}"
        )
    if value.shape != (n, 1):
        raise ValueError(f"{name}: expected shape ({n}, 1) (one entry per unit), got {value.shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return value


def real(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number (not a bool)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {_kind(value)}")
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ValueError(f"{name}: expected a finite number, got {as_float}")
    return as_float


def positive(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is finite and > 0."""
    as_float = real(name, value)
    if as_float <= 0.0:
        raise ValueError(f"{name}: expected a number > 0, got {as_float}")
    return as_float


def fraction(name: str, value: Any) -> float:
    """Return ``value`` as a float if it lies in [0, 1]."""
    as_float = real(name, value)
    if not 0.0 <= as_float <= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1], got {as_float}")
    return as_float


def count(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum`` (not a bool)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {_kind(value)}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def working_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype the arithmetic runs in: float16 accumulates in float32."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)
