"""A pickle-free message format for the isolation child (``bnspec check --isolate``).

A message is one byte string: 4 bytes (big-endian) giving the length of a JSON
header, the header, then the raw C-order bytes of every array it mentions.
The header is a tree of:

- JSON ``null``, booleans, integers and strings, as themselves;
- ``{"float": "0x1.8p+1"}`` -- a Python float, exact (``float.hex``; "nan", "inf");
- ``{"complex": [re, im]}``, ``{"list": [...]}``, ``{"tuple": [...]}``,
  ``{"dict": {"key": ...}}`` (string keys);
- ``{"array": i, "descr": ..., "shape": [...], "scalar": false}`` -- array ``i``
  of the trailing buffers; ``descr`` is the ``.npy`` format's dtype description
  (``numpy.lib.format``), or ``"bfloat16"`` (ml_dtypes'), never a dtype that
  holds Python objects; ``scalar``:
  a numpy scalar such as ``np.float64(1.0)``;
- ``{"objects": [shape]}`` -- an array of dtype object (its shape only);
- ``{"foreign": "TypeName", "repr": "..."}`` -- any other object, by its type's
  name and (shortened) repr.

Whatever the implementation returns can be sent back, and the parent rebuilds
it without running any code of the sender: an object becomes a
:class:`Foreign` stand-in whose type has the original's name, so the runner's
messages ("forward returned Foo for output") read as they do in process.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from . import bfloat16

#: the longest repr kept for a foreign object.
MAX_REPR = 300


class WireError(ValueError):
    """A message that is not in this format."""


class Foreign:
    """Stands for an object of a type that cannot cross the pipe (see the module docstring)."""

    def __init__(self, description: str) -> None:
        self.description = description

    def __repr__(self) -> str:
        return self.description


def _foreign_type(name: str) -> type[Foreign]:
    return type(name if name.isidentifier() else "Foreign", (Foreign,), {})


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a repr that raises: say so
        text = f"<{type(value).__name__} whose repr raised {type(exc).__name__}>"
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "..."


def _tree(value: Any, buffers: list[bytes]) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return {"float": value.hex()}
    if isinstance(value, complex):
        return {"complex": [value.real.hex(), value.imag.hex()]}
    if isinstance(value, list | tuple):
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {kind: [_tree(v, buffers) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _tree(v, buffers) for k, v in value.items()}}
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        if array.dtype.hasobject:
            return {"objects": list(array.shape)}
        buffers.append(np.ascontiguousarray(array).tobytes())
        descr = bfloat16.NAME if bfloat16.is_bfloat16(array.dtype) else npy_format.dtype_to_descr(array.dtype)
        return {"array": len(buffers) - 1, "descr": descr, "shape": list(array.shape),
                "scalar": isinstance(value, np.generic)}
    return {"foreign": type(value).__name__, "repr": _safe_repr(value)}


def encode(value: Any) -> bytes:
    """``value`` as one message (see the module docstring)."""
    buffers: list[bytes] = []
    tree = _tree(value, buffers)
    head = json.dumps({"tree": tree, "lengths": [len(b) for b in buffers]}, allow_nan=False).encode()
    return struct.pack(">I", len(head)) + head + b"".join(buffers)


def _dtype(descr: Any) -> np.dtype:
    """The dtype a header names: ml_dtypes' bfloat16 goes by its name (its ``.npy``
    description would be a bare 2-byte void)."""
    return bfloat16.required() if descr == bfloat16.NAME else npy_format.descr_to_dtype(descr)


def _array(node: dict, buffers: list[memoryview]) -> Any:
    try:
        dtype = _dtype(node["descr"])
        shape = tuple(int(d) for d in node["shape"])
        data = buffers[int(node["array"])]
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as error:  # RuntimeError: no ml_dtypes
        raise WireError(f"a bad array entry: {error}") from None
    if dtype.hasobject or len(data) != dtype.itemsize * math.prod(shape):
        raise WireError("an array entry does not match its buffer")
    array = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    return array[()] if node.get("scalar") else array


def _value(node: Any, buffers: list[memoryview]) -> Any:
    if node is None or isinstance(node, bool | int | str):
        return node
    if not isinstance(node, dict) or len(node) == 0:
        raise WireError(f"an unknown entry {node!r:.100}")
    if "float" in node:
        return float.fromhex(node["float"])
    if "complex" in node:
        return complex(float.fromhex(node["complex"][0]), float.fromhex(node["complex"][1]))
    if "list" in node:
        return [_value(v, buffers) for v in node["list"]]
    if "tuple" in node:
        return tuple(_value(v, buffers) for v in node["tuple"])
    if "dict" in node:
        return {str(k): _value(v, buffers) for k, v in node["dict"].items()}
    if "array" in node:
        return _array(node, buffers)
    if "objects" in node:
        return np.full(tuple(node["objects"]), None, dtype=object)
    if "foreign" in node:
        return _foreign_type(str(node["foreign"]))(str(node.get("repr", "")))
    raise WireError(f"an unknown entry {node!r:.100}")


def decode(message: bytes) -> Any:
    """The value :func:`encode` encoded; :class:`WireError` for anything else."""
    view = memoryview(message)
    try:
        (size,) = struct.unpack(">I", view[:4])
        head = json.loads(bytes(view[4 : 4 + size]))
        lengths = [int(n) for n in head["lengths"]]
    except (struct.error, ValueError, KeyError, TypeError) as error:
        raise WireError(f"not a message: {error}") from None
    buffers, offset = [], 4 + size
    for length in lengths:
        buffers.append(view[offset : offset + length])
        offset += length
    if offset != len(view):
        raise WireError("the message's length does not match its header")
    return _value(head["tree"], buffers)
