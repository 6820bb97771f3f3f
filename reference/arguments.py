"""Argument checks shared by the reference's public functions.

Every public function of ``bnspec.reference`` validates its inputs here before
any arithmetic, so that bad input is refused with a ``TypeError`` (wrong kind of
value) or ``ValueError`` (right kind, wrong value) whose message starts with the
argument's name -- never a NaN in the output, never a traceback from inside
numpy.  When an argument must match another one (gamma has one row per row of
z), the message names both: ``"gamma: expected shape (3, 1), one entry per unit
(to match z), got (2, 1)"``.  ``tests/test_bad_input.py`` throws random bad
arguments at every public function and holds them to this.

Decisions:

- Arrays must be numpy arrays: a list, a scalar or a 0-d array is refused
  (TypeError), not converted -- the layout (``n x m``, ``n x 1``) carries the
  meaning, and a silent ``np.asarray`` would accept a 1-D list as 1 x m.
- Only real floating dtypes are accepted: float16 and bfloat16 (both
  accumulated in float32), float32, float64.  bfloat16 is ml_dtypes' numpy
  dtype (shipped with JAX and other frameworks); it is recognised by its name,
  so the reference does not import ml_dtypes.  Integer and boolean arrays are
  refused (TypeError, naming the argument), not converted: the result keeps
  the input's dtype, so an integer ``z`` would round ``z_norm`` to integers --
  a silent wrong answer -- and converting to float64 instead would break
  "float32 in, float32 out" for no gain (the caller converts with
  ``z.astype(np.float64)``).  Complex and
  object arrays are refused likewise; so are longdouble arrays (no clause
  speaks of them).
- Scalars (eps, momentum, lr, ...) accept any real number that is not a bool:
  Python and numpy ints and floats; a finite float is required, and an integer
  too large for a float is a ValueError.
- Non-finite entries (NaN, +-inf) are refused, before any arithmetic.  The
  layer's ``forward``, ``backward`` and ``forward_eval`` also check their
  results (:func:`finite_result`), which catches finite inputs whose
  arithmetic overflows (``z`` near 1e308): they never return a NaN or an
  infinity either.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

# float16 and bfloat16 are accepted and accumulated in float32 (as frameworks do).
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
#: The name of ml_dtypes' bfloat16 (numpy itself has no such dtype).
BFLOAT16 = "bfloat16"
_ACCEPTED = "float16, bfloat16, float32, float64"


def is_float(dtype: np.dtype) -> bool:
    """Whether the reference accepts arrays of ``dtype``: float16, bfloat16, float32, float64."""
    return dtype in FLOAT_DTYPES or is_bfloat16(dtype)


def is_bfloat16(dtype: np.dtype) -> bool:
    """Whether ``dtype`` is ml_dtypes' bfloat16 (of kind "V"; the kind is tested first: a
    dtype's ``name`` is built in Python and costs more than a small forward's arithmetic)."""
    return dtype.kind == "V" and dtype.name == BFLOAT16


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"numpy array of dtype {value.dtype}"
    return type(value).__name__


def _match(of: str | None) -> str:
    return f" (to match {of})" if of else ""


def matrix(
    name: str, value: Any, *, rows: int | None = None, cols: int | None = None, of: str | None = None,
    finite: bool = True,
) -> np.ndarray:
    """Return ``value`` if it is a finite, real floating, 2-D numpy array.

    ``rows``/``cols``, when given, fix the expected shape (the lecture's
    ``n[l] x m``); ``of`` names what they come from (e.g. ``"z"``), for the message.
    ``finite=False`` leaves the entries unchecked: the caller checks its
    results with :func:`finite_result` instead.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {_kind(value)}")
    if not is_float(value.dtype):
        raise TypeError(f"{name}: expected a real floating dtype ({_ACCEPTED}), got {value.dtype}")
    if value.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n x m), got shape {value.shape}")
    n, m = value.shape
    if n == 0 or m == 0:
        raise ValueError(f"{name}: expected at least one unit and one example, got shape {value.shape}")
    if rows is not None and n != rows:
        raise ValueError(f"{name}: expected {rows} rows{_match(of)}, got shape {value.shape}")
    if cols is not None and m != cols:
        raise ValueError(f"{name}: expected {cols} columns{_match(of)}, got shape {value.shape}")
    if finite and not all_finite(value):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return value


def all_finite(value: np.ndarray) -> bool:
    """True if no entry of ``value`` is NaN or infinite (one C-level reduction: ``.all()``
    passes through a Python wrapper that costs more than the check on small arrays)."""
    return bool(np.logical_and.reduce(np.isfinite(value), axis=None))


def finite_result(result: np.ndarray, what: str, **inputs: np.ndarray) -> np.ndarray:
    """Return ``result`` if every entry is finite; otherwise raise ValueError naming the input at fault.

    An input with a NaN or an infinity is named as :func:`matrix` names it;
    if every input is finite, the arithmetic overflowed, and the message names
    the inputs and ``what`` overflowed.
    """
    if all_finite(result):
        return result
    for name, value in inputs.items():
        if not all_finite(value):
            raise ValueError(f"{name}: contains NaN or infinite values")
    # numpy's finfo does not know bfloat16: its largest value is (2 - 2^-7) 2^127.
    largest = (2 - 2**-7) * 2.0**127 if is_bfloat16(result.dtype) else np.finfo(result.dtype).max
    raise ValueError(f"{', '.join(inputs)}: values too large: {what} overflows {result.dtype} "
                     f"(its largest value is {largest:.3g})")


def column(name: str, value: Any, n: int, of: str | None = None) -> np.ndarray:
    """Return ``value`` if it is a finite, real floating ``n x 1`` array (L10); ``of``
    names the argument ``n`` comes from, for the message."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray of shape ({n}, 1), got {_kind(value)}")
    if not is_float(value.dtype):
        raise TypeError(f"{name}: expected a real floating dtype ({_ACCEPTED}), got {value.dtype}")
    if value.shape != (n, 1):
        raise ValueError(f"{name}: expected shape ({n}, 1), one entry per unit{_match(of)}, got {value.shape}")
    if not all_finite(value):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return value


def real(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number (not a bool)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {_kind(value)}")
    try:
        as_float = float(value)
    except OverflowError:
        raise ValueError(f"{name}: {value} is too large for a float") from None
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


def whole(name: str, value: Any, *, minimum: int = 1) -> int:
    """:func:`count`, and also a float of an integer value (the process protocol carries every
    scalar as a float: a step number or a count of mini-batches arrives as ``3.0``)."""
    if isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer():
        value = int(value)
    return count(name, value, minimum=minimum)


def like(name: str, value: Any, p: np.ndarray, p_name: str = "p") -> np.ndarray:
    """Return ``value`` if it is a finite, real floating numpy array of ``p``'s shape (an optimizer's
    gradient or state, which goes with its parameter ``p``).  Its dtype may differ from p's (a network
    whose BN returns float32 gradients for float64 parameters): numpy's promotion decides the result's."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {_kind(value)}")
    if not is_float(value.dtype):
        raise TypeError(f"{name}: expected a real floating dtype ({_ACCEPTED}), got {value.dtype}")
    if value.shape != p.shape:
        raise ValueError(f"{name}: expected shape {p.shape}{_match(p_name)}, got {value.shape}")
    if not all_finite(value):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return value


def parameter(name: str, value: Any) -> np.ndarray:
    """Return ``value`` if it is a finite, real floating numpy array of any shape (a parameter an
    optimizer updates: a 0-d array too)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {_kind(value)}")
    if not is_float(value.dtype):
        raise TypeError(f"{name}: expected a real floating dtype ({_ACCEPTED}), got {value.dtype}")
    if not all_finite(value):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return value


def nonnegative(name: str, value: np.ndarray) -> np.ndarray:
    """Return ``value`` (an array already checked) if no entry is negative (a variance)."""
    if (value < 0).any():
        raise ValueError(f"{name}: a variance cannot be negative")
    return value


def flag(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (numpy's included); never a truthy stand-in."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name}: expected a bool, got {_kind(value)}")
    return bool(value)


def choice(name: str, value: Any, options: tuple[str, ...], what: str = "") -> str:
    """Return ``value`` if it is one of the strings ``options``."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, got {_kind(value)}")
    if value not in options:
        raise ValueError(f"{name}: unknown {what + ' ' if what else ''}{value!r}; expected one of "
                         f"{', '.join(map(repr, options))}")
    return value


def working_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype the arithmetic runs in: float16 and bfloat16 accumulate in float32."""
    return np.dtype(np.float32) if dtype == np.float16 or is_bfloat16(dtype) else np.dtype(dtype)
