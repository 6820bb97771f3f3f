"""Exact, language-neutral JSON for arrays, scalars and saved values: bnspec's one codec.

Used by the process protocol (``bnspec check --exec`` and ``--isolate``), the
golden vectors (``bnspec vectors``) and the case files (``--save-failures``).
A float is written as a *hex-float string*: Python's ``float.hex()``, C99's
``printf("%a")``, Java's ``Double.toHexString`` -- e.g.
``"0x1.8000000000000p+1"`` for 3.0 -- which names the binary value exactly, so
nothing is lost to decimal rounding.

- A scalar is one such string: ``"0x1.4f8b588e368f1p-17"`` (eps = 1e-5).
- An array is ``{"dtype": "float64", "shape": [n, m], "data": [...]}``: the
  elements in row-major (C) order.  A floating array (:data:`FLOAT_DTYPES`:
  float64, float32, float16, and ml_dtypes' bfloat16 by name) holds hex-float
  strings, each the exact float64 of an element; an integer or boolean array
  (saved draws only) holds JSON integers or booleans.
- :func:`encode_value` / :func:`decode_value` carry a tree of saved values (a
  case file's draws and calls): None, booleans, integers and strings as
  themselves, a float as ``{"float": "0x1.8p+1"}``, a list as a JSON list, a
  tuple as ``{"tuple": [...]}``, an array as above.  Decoding also reads the
  first case files' spellings: a list as ``{"list": [...]}`` and a dtype as
  numpy's type string (``"<f8"``).

bnspec always *writes* the normalized form of ``float.hex()``.  When *reading*
it also accepts any C99 hex float (``"0x1p-3"``), ``"inf"``, ``"-inf"``,
``"nan"``, and plain JSON numbers (a decimal number is exact when the writer
printed it with round-trip precision, as JavaScript's ``JSON.stringify`` and
``printf("%.17g")`` do).  Each element must be a value of the array's dtype: a
float32 array holds float32 values only.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from .. import bfloat16

#: floating dtypes an array may declare; every value is carried as the float64 of the same value (exact).
FLOAT_DTYPES = ("float64", "float32", "float16", bfloat16.NAME)
#: integer and boolean dtypes, for saved draws (data as JSON integers or booleans).
EXACT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool")
DTYPES = FLOAT_DTYPES + EXACT_DTYPES

#: a hex-float string: C99 ``%a`` (any case), or ``inf``, ``-inf``, ``nan``.
HEX_FLOAT = re.compile(r"^[+-]?(0[xX][0-9a-fA-F]+(\.[0-9a-fA-F]*)?[pP][+-]?[0-9]+|inf|nan)$")


class CodecError(ValueError):
    """A value that has no exact JSON form here, or JSON that is not a valid scalar, array or value."""


def _dtype(name: str) -> np.dtype:
    if name == bfloat16.NAME:
        found = bfloat16.dtype()
        if found is None:
            raise CodecError(f"a bfloat16 array needs ml_dtypes: {bfloat16.MISSING}")
        return found
    return np.dtype(name)


def _name(dtype: np.dtype) -> str:
    return bfloat16.NAME if bfloat16.is_bfloat16(dtype) else dtype.name


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
    """``{"dtype", "shape", "data"}``: floats as hex strings, integers and booleans as JSON, in row-major order."""
    name = _name(array.dtype)
    if name not in DTYPES:
        raise CodecError(f"array: dtype {array.dtype} is not one of {DTYPES}")
    if name in FLOAT_DTYPES:
        data: list[Any] = [x.hex() for x in array.astype(np.float64).ravel(order="C").tolist()]
    else:
        data = array.ravel(order="C").tolist()
    return {"dtype": name, "shape": list(array.shape), "data": data}


def _exact(what: str, dtype: np.dtype, data: list[Any]) -> np.ndarray:
    """Integer or boolean elements: JSON booleans for bool, JSON integers in range otherwise."""
    wanted = bool if dtype.kind == "b" else int
    for index, x in enumerate(data):
        if not isinstance(x, wanted) or (wanted is int and isinstance(x, bool)):
            raise CodecError(f"{what}: element {index} ({x!r}) is not of dtype {dtype.name}")
    try:
        return np.array(data, dtype=dtype)
    except OverflowError:
        raise CodecError(f"{what}: an element is out of the range of {dtype.name}") from None


def _floats(what: str, dtype: np.dtype, data: list[Any]) -> np.ndarray:
    wide = np.array([decode_scalar(f"{what}[{i}]", x) for i, x in enumerate(data)], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        narrow = wide.astype(dtype)
        inexact = (narrow.astype(np.float64) != wide) & ~np.isnan(wide)
    if inexact.any():
        index = int(np.argmax(inexact))
        raise CodecError(f"{what}: element {index} ({data[index]!r}) is not a {_name(dtype)} value")
    return narrow


def decode_array(what: str, value: Any) -> np.ndarray:
    """The numpy array a JSON array object describes; CodecError naming ``what`` and the fault."""
    if not isinstance(value, dict):
        raise CodecError(f"{what}: expected an object with dtype, shape and data, got {type(value).__name__}")
    missing = [key for key in ("dtype", "shape", "data") if key not in value]
    if missing:
        raise CodecError(f"{what}: the array object has no {', '.join(missing)}")
    name, shape, data = value["dtype"], value["shape"], value["data"]
    if name not in DTYPES:
        raise CodecError(f"{what}: dtype {name!r} is not one of {DTYPES}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                               for d in shape):
        raise CodecError(f"{what}: shape must be a list of non-negative integers, got {shape!r}")
    if not isinstance(data, list):
        raise CodecError(f"{what}: data must be a list, got {type(data).__name__}")
    size = math.prod(shape)
    if len(data) != size:
        raise CodecError(f"{what}: data has {len(data)} values; shape {shape} needs {size}")
    dtype = _dtype(name)
    array = _floats(what, dtype, data) if name in FLOAT_DTYPES else _exact(what, dtype, data)
    return array.reshape(shape)


# -- saved values (case files) -------------------------------------------------------


def encode_value(value: Any) -> Any:
    """``value`` (None, bool, int, float, str, list, tuple, numpy array or scalar) as exact JSON."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return {"float": float(value).hex()}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode_value(v) for v in value]}
    if isinstance(value, np.ndarray):
        return encode_array(value)
    raise CodecError(f"a value of type {type(value).__name__} has no exact JSON form")


def _legacy_dtype(name: Any) -> Any:
    """A dtype written as numpy's type string (``"<f8"``, the first case files) as its name."""
    if isinstance(name, str) and re.fullmatch(r"[<>|=][fiub][1-8]", name):
        return np.dtype(name).name
    return name


def decode_value(node: Any, what: str = "value") -> Any:
    """The value :func:`encode_value` wrote; CodecError for anything else."""
    if node is None or isinstance(node, bool | int | str):
        return node
    if isinstance(node, list):
        return [decode_value(v, what) for v in node]
    if isinstance(node, dict):
        if node.keys() == {"float"}:
            return decode_scalar(what, node["float"])
        if node.keys() in ({"tuple"}, {"list"}) and isinstance(items := next(iter(node.values())), list):
            values = [decode_value(v, what) for v in items]
            return tuple(values) if "tuple" in node else values
        if node.keys() == {"dtype", "shape", "data"}:
            return decode_array(what, {**node, "dtype": _legacy_dtype(node["dtype"])})
    raise CodecError(f"{what}: {node!r:.100} is not an encoded value")
