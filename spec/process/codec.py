"""Exact, language-neutral JSON for the arrays and scalars of the protocol.

Shared by the process protocol (``bnspec check --exec``) and the golden
vectors (``bnspec vectors``).  A float is written as a *hex-float string*:
Python's ``float.hex()``, C99's ``printf("%a")``, Java's
``Double.toHexString`` -- e.g. ``"0x1.8000000000000p+1"`` for 3.0 -- which
names the binary value exactly, so nothing is lost to decimal rounding.

- A scalar is one such string: ``"0x1.4f8b588e368f1p-17"`` (eps = 1e-5).
- An array is ``{"dtype": "float64", "shape": [n, m], "data": [...]}``: the
  elements in row-major (C) order, each a hex-float string.

bnspec always *writes* the normalized form of ``float.hex()``.  When *reading*
what an implementation sent, it also accepts any C99 hex float (``"0x1p-3"``),
``"inf"``, ``"-inf"``, ``"nan"``, and plain JSON numbers (a decimal number is
exact when the writer printed it with round-trip precision, as JavaScript's
``JSON.stringify`` and ``printf("%.17g")`` do).  Each element must be a value of
the array's dtype: a float32 array holds float32 values only.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

#: dtypes an array may declare; float32 and float16 values are carried as the
#: float64 of the same value (exact).
DTYPES = ("float64", "float32", "float16")

#: a hex-float string: C99 ``%a`` (any case), or ``inf``, ``-inf``, ``nan``.
HEX_FLOAT = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+(\.[0-9a-fA-F]*)?[pP][+-]?[0-9]+|inf|nan)$")


class CodecError(ValueError):
    """A JSON value is not a valid scalar or array of the protocol."""


def encode_scalar(value: float) -> str:
    """``value`` as a hex-float string (``float.hex``)."""
    return float(value).hex()


def decode_scalar(what: str, value: Any) -> float:
    """A float from a hex-float string or a JSON number; CodecError naming ``what`` otherwise."""
    if isinstance(value, bool):
        raise CodecError(f"{what}: expected a hex-float string or a number, got a boolean")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if HEX_FLOAT.match(value):
            try:
                return float.fromhex(value)
            except OverflowError:
                pass
        raise CodecError(f"{what}: {value!r} is not a hex float (e.g. '0x1.8p+1')")
    raise CodecError(f"{what}: expected a hex-float string or a number, got {type(value).__name__}")


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """``{"dtype", "shape", "data"}`` with the elements as hex floats in row-major order."""
    if array.dtype.name not in DTYPES:
        raise CodecError(f"array: dtype {array.dtype} is not one of {DTYPES}")
    data = [float(x).hex() for x in np.asarray(array, dtype=np.float64).ravel(order="C").tolist()]
    return {"dtype": array.dtype.name, "shape": list(array.shape), "data": data}


def decode_array(what: str, value: Any) -> np.ndarray:
    """The numpy array a JSON array object describes; CodecError naming ``what`` and the fault."""
    if not isinstance(value, dict):
        raise CodecError(f"{what}: expected an object with dtype, shape and data, got {type(value).__name__}")
    missing = [key for key in ("dtype", "shape", "data") if key not in value]
    if missing:
        raise CodecError(f"{what}: the array object has no {', '.join(missing)}")
    dtype, shape, data = value["dtype"], value["shape"], value["data"]
    if dtype not in DTYPES:
        raise CodecError(f"{what}: dtype {dtype!r} is not one of {DTYPES}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                               for d in shape):
        raise CodecError(f"{what}: shape must be a list of non-negative integers, got {shape!r}")
    if not isinstance(data, list):
        raise CodecError(f"{what}: data must be a list, got {type(data).__name__}")
    size = math.prod(shape)
    if len(data) != size:
        raise CodecError(f"{what}: data has {len(data)} values; shape {shape} needs {size}")
    wide = np.array([decode_scalar(f"{what}[{i}]", x) for i, x in enumerate(data)], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        narrow = wide.astype(dtype)
        inexact = (narrow.astype(np.float64) != wide) & ~np.isnan(wide)
    if inexact.any():
        index = int(np.argmax(inexact))
        raise CodecError(f"{what}: element {index} ({data[index]!r}) is not a {dtype} value")
    return narrow.reshape(shape)
