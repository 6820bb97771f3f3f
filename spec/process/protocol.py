"""The messages of the process protocol (``bnspec check --exec COMMAND``).

bnspec starts COMMAND and talks to it over its stdin and stdout, one JSON
object per line (UTF-8, no line breaks inside a message); the implementation
writes nothing else to stdout (its stderr is kept and shown on a failure).
Every request has an ``id`` and a ``call``; the reply echoes the ``id``.

1. Handshake (the first request)::

       -> {"id": 0, "call": "handshake", "args": {"protocol": "bnspec-exec", "version": 1}}
       <- {"id": 0, "ok": true, "result": {"protocol": "bnspec-exec", "version": 1,
           "functions": ["forward", "backward", "update_running", "forward_eval"],
           "profile": "lecture", "layout": "units_first", "name": "my batch norm"}}

   ``functions`` lists the protocol functions it implements (a missing one
   makes its clauses "n/a"); ``profile`` (default ``lecture``) and ``layout``
   (``units_first``, the default: z is n x m and per-unit arrays n x 1; or
   ``batch_first``: z is m x n and per-unit arrays have shape [n]) are those of
   ``bnspec check``; the optional ``dtypes`` lists the floating dtypes it
   accepts (default float64 and float32); ``name`` is free text.

2. One request per call, arguments by name (arrays and scalars as in
   :mod:`bnspec.spec.process.codec`: exact hex floats)::

       -> {"id": 7, "call": "forward", "args": {"z": {"dtype": "float64", "shape": [3, 8],
           "data": ["0x1.8000000000000p+1", ...]}, "gamma": {...}, "beta": {...},
           "eps": "0x1.4f8b588e368f1p-17"}}
       <- {"id": 7, "ok": true, "result": [{"dtype": "float64", "shape": [3, 8], "data": [...]}]}

   ``result`` is always a list of arrays: one for forward and forward_eval,
   three for backward (dz, dgamma, dbeta), two for update_running (the new
   running mean and variance).

3. An error (bad input the implementation refuses, e.g. m = 1 under a profile
   that requires a ValueError)::

       <- {"id": 7, "ok": false, "error": {"type": "ValueError", "message": "eps: expected a number > 0"}}

   A ``type`` that names a Python builtin exception (``ValueError``,
   ``TypeError``, ``ZeroDivisionError``, ...) is raised as that exception, any
   other as a RuntimeError.  A profile that refuses m = 1 names the exception it
   requires (``bnspec profiles``).

bnspec closes the implementation's stdin when it is done; the implementation
then exits.  A call not answered within the time limit kills the process; a
process that exits or breaks the protocol fails the clause that made the call,
and is started again (with a new handshake) for the next call.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from . import codec

NAME = "bnspec-exec"
VERSION = 1

#: the arguments of each protocol function, in the order of the Python protocol.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "forward": ("z", "gamma", "beta", "eps"),
    "backward": ("z", "gamma", "beta", "eps", "grad"),
    "update_running": ("running_mean", "running_var", "z", "momentum"),
    "forward_eval": ("z", "gamma", "beta", "running_mean", "running_var", "eps"),
}
#: the arrays each function returns, in order.
RESULTS: dict[str, tuple[str, ...]] = {
    "forward": ("output",),
    "backward": ("dz", "dgamma", "dbeta"),
    "update_running": ("running_mean", "running_var"),
    "forward_eval": ("output",),
}
LAYOUTS = ("units_first", "batch_first")


class ProtocolViolation(Exception):
    """A message from the implementation breaks the protocol (the text says how)."""


def handshake_request() -> dict[str, Any]:
    return {"id": 0, "call": "handshake", "args": {"protocol": NAME, "version": VERSION}}


def call_request(request_id: int, function: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """The request for ``function(*args)``, arguments named by :data:`SIGNATURES`."""
    names = SIGNATURES[function]
    if len(args) != len(names):
        raise TypeError(f"{function}: expected {len(names)} arguments ({', '.join(names)}), got {len(args)}")
    encoded: dict[str, Any] = {}
    for name, value in zip(names, args, strict=True):
        if isinstance(value, np.ndarray):
            encoded[name] = codec.encode_array(value)
        elif isinstance(value, int | float | np.floating | np.integer) and not isinstance(value, bool):
            encoded[name] = codec.encode_scalar(float(value))
        else:
            raise TypeError(f"{name}: the process protocol carries arrays and numbers, not {type(value).__name__}")
    return {"id": request_id, "call": function, "args": encoded}


def _reply(request_id: int, message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise ProtocolViolation(f"the reply is a JSON {type(message).__name__}, not an object")
    if message.get("id") != request_id:
        raise ProtocolViolation(f"the reply has id {message.get('id')!r}; the request had id {request_id}")
    if message.get("ok") is not True and message.get("ok") is not False:
        raise ProtocolViolation(f"the reply's 'ok' must be true or false, got {message.get('ok')!r}")
    return message


def read_handshake(message: Any) -> dict[str, Any]:
    """The implementation's declaration: functions, profile, layout, name (checked)."""
    reply = _reply(0, message)
    if reply["ok"] is not True:
        raise ProtocolViolation(f"the handshake was refused: {reply.get('error')!r}")
    result = reply.get("result")
    if not isinstance(result, dict):
        raise ProtocolViolation("the handshake's result must be an object")
    if result.get("protocol") != NAME or result.get("version") != VERSION:
        raise ProtocolViolation(f"the handshake names protocol {result.get('protocol')!r} version "
                                f"{result.get('version')!r}; bnspec speaks {NAME!r} version {VERSION}")
    functions = result.get("functions")
    if not isinstance(functions, list) or not functions or not set(functions) <= set(SIGNATURES):
        raise ProtocolViolation(f"the handshake's functions must be a non-empty list drawn from "
                                f"{list(SIGNATURES)}, got {functions!r}")
    layout = result.get("layout", "units_first")
    if layout not in LAYOUTS:
        raise ProtocolViolation(f"the handshake's layout {layout!r} is not one of {LAYOUTS}")
    profile = result.get("profile", "lecture")
    if not isinstance(profile, str):
        raise ProtocolViolation(f"the handshake's profile must be a string, got {profile!r}")
    dtypes = result.get("dtypes")
    if dtypes is not None and (not isinstance(dtypes, list) or not set(dtypes) <= set(codec.DTYPES)):
        raise ProtocolViolation(f"the handshake's dtypes must be a list drawn from {list(codec.DTYPES)}, "
                                f"got {dtypes!r}")
    return {"functions": tuple(functions), "layout": layout, "profile": profile,
            "name": str(result.get("name", "")), "dtypes": None if dtypes is None else tuple(dtypes)}


class ImplementationError(RuntimeError):
    """An error the implementation reported, of a type that is no Python builtin exception."""


def read_result(request_id: int, function: str, message: Any) -> np.ndarray | tuple[np.ndarray, ...]:
    """The arrays of a reply to ``function`` (one array, or a tuple); the implementation's
    own error is raised as ValueError, TypeError or :class:`ImplementationError`."""
    reply = _reply(request_id, message)
    if reply["ok"] is False:
        error = reply.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            raise ProtocolViolation(f"an error reply needs error: {{type, message}}, got {error!r}")
        kind = str(error.get("type", "Error"))
        exception = getattr(builtins, kind, None)
        if isinstance(exception, type) and issubclass(exception, Exception):
            raise exception(error["message"])
        raise ImplementationError(f"{kind}: {error['message']}")
    names = RESULTS[function]
    result = reply.get("result")
    if not isinstance(result, list) or len(result) != len(names):
        raise ProtocolViolation(f"{function} must return a list of {len(names)} arrays ({', '.join(names)}), "
                                f"got {result!r:.200}")
    try:
        arrays = tuple(codec.decode_array(f"{function}'s {name}", value) for name, value in zip(names, result,
                                                                                               strict=True))
    except codec.CodecError as error:
        raise ProtocolViolation(str(error)) from None
    return arrays[0] if len(arrays) == 1 else arrays
