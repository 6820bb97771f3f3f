"""The process protocol: a batch norm in another process (``--exec COMMAND``, ``--isolate``).

bnspec starts the program and talks to it over its stdin and stdout, one JSON
object per line (UTF-8, no line breaks inside a message).  The program writes
nothing else to stdout; its stderr is kept, shown after each call in the
clause's captured output, and its end is quoted when the process dies.
Every request has an ``id`` and a ``call``; the reply echoes the ``id``.
``bnspec check --exec COMMAND`` runs any program that speaks it (see
``examples/js/batchnorm.js``); ``bnspec check TARGET --isolate`` runs
bnspec's own Python server, :mod:`bnspec.spec.process.serve`, on TARGET.

1. Handshake (the first request)::

       -> {"id": 0, "call": "handshake", "args": {"protocol": "bnspec-exec", "version": 1}}
       <- {"id": 0, "ok": true, "result": {"protocol": "bnspec-exec", "version": 1,
           "functions": ["forward", "backward", "update_running", "forward_eval"],
           "profile": "lecture", "layout": "units_first", "name": "my batch norm"}}

   The declaration of :func:`bnspec.spec.protocol.declaration`: ``functions``
   lists the protocol functions it implements (a missing one makes its clauses
   "n/a"); ``profile`` (default ``lecture``) and ``layout`` (``units_first``,
   the default: z is n x m and per-unit arrays n x 1; or ``batch_first``: z is
   m x n and per-unit arrays have shape [n]) are those of ``bnspec check``; the
   optional ``dtypes`` lists the floating dtypes it accepts (from float64,
   float32, float16, bfloat16; default float64 and float32); the optional
   ``fixed_eps`` (a positive JSON number, e.g. ``1e-05``) says that it computes
   with that eps whatever eps it is passed -- the clauses whose statement holds
   for any eps then size their tolerances with it (:mod:`bnspec.spec.eps`;
   without it bnspec detects an ignored eps itself); the optional variants
   ``affine`` (``false``: no gamma and beta), ``eval_statistics``
   (``"running"`` or ``"batch"``), ``cumulative_average`` (``true``:
   update_running ignores its momentum) and ``mixed_precision`` (a list from
   ``"float16"``, ``"bfloat16"``) mean what
   :class:`bnspec.spec.protocol.Declaration` says; ``name`` is free
   text.  A program that cannot serve (a bad option, a target that does not
   load) refuses the handshake with an error reply (3.): bnspec stops with the
   reason, a usage error.

2. One request per call, arguments by name, in the order of
   :data:`bnspec.spec.protocol.FUNCTIONS` (arrays and scalars as in
   :mod:`bnspec.spec.process.codec`: exact hex floats)::

       -> {"id": 7, "call": "forward", "args": {"z": {"dtype": "float64", "shape": [3, 8],
           "data": ["0x1.8000000000000p+1", ...]}, "gamma": {...}, "beta": {...},
           "eps": "0x1.4f8b588e368f1p-17"}}
       <- {"id": 7, "ok": true, "result": [{"dtype": "float64", "shape": [3, 8], "data": [...]}]}

   ``result`` is always a list of arrays, the function's results in order:
   one for forward and forward_eval (output), three for backward and
   backward_eval (dz, dgamma, dbeta), two for update_running and
   update_cumulative (the new running mean and variance).  update_cumulative's
   ``num_batches`` (a count) comes as a scalar like eps: the hex float of an
   integer.

3. An error (bad input the implementation refuses, e.g. m = 1 under a profile
   that requires a ValueError)::

       <- {"id": 7, "ok": false, "error": {"type": "ValueError", "message": "eps: expected a number > 0"}}

   ``type`` decides the exception raised in bnspec: a Python builtin
   exception (``ValueError``, ``TypeError``, ``ZeroDivisionError``,
   ``MemoryError``, ...) is raised as itself; ``"ProtocolBreach"`` (the
   program's result breaks the protocol: a wrong type, count, shape or dtype)
   fails the clause with the message as given; ``"SystemExit"`` (with an
   optional ``"code"``) is a call of ``sys.exit``; any other type is raised as
   :class:`ImplementationError`, a RuntimeError whose message starts with the
   type's name (``"Panic: index out of range"``).  A profile that refuses
   m = 1 names the exception it requires (``bnspec profiles``).

4. The optional ``"mutated"`` field of a reply (success or error) reports the
   arguments the call modified in place: ``{"z": {"dtype": ..., "shape": ...,
   "data": ...}}``, each the argument's new content.  bnspec copies them into
   the caller's arrays, so that clause BN-PURE-1 sees the mutation.  Programs
   in other languages need not send it (their arguments are copies anyway);
   the Python server does.

bnspec closes the program's stdin when it is done; the program then exits (its
process group is killed after a grace period).  A call not answered within the
time limit kills the process; a process that exits or hangs during a call
fails the clause that made it (ImplementationCrashed, with its exit status or
signal and the end of its stderr), a reply that is not one (not JSON, another
``id``, a bad array) fails it too (ProtocolBreach); either way a new process,
with a new handshake, serves the next call.  POSIX only.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ProtocolBreach, TargetError
from ..protocol import FUNCTIONS, Declaration, declaration
from . import codec

#: The TARGET prefix of a program that speaks this protocol (``bnspec check --exec COMMAND``).
EXEC_PREFIX = "exec:"
NAME = "bnspec-exec"
VERSION = 1
HANDSHAKE = "handshake"
#: the longest error message a reply carries.
MAX_MESSAGE = 2000
#: the longest line bnspec reads from a process, in bytes: 64 MiB, some 2.4 million hex-float elements
#: against the few thousand of the largest array a clause draws; a longer reply is refused unparsed.
MAX_LINE = 1 << 26


class ImplementationError(RuntimeError):
    """An error the implementation reported, of a type that is no Python builtin exception."""


# -- lines ---------------------------------------------------------------------------


def dumps(message: dict[str, Any]) -> bytes:
    """One message as one line."""
    return (json.dumps(message, separators=(",", ":"), allow_nan=False) + "\n").encode()


def loads(line: bytes, what: str = "the reply") -> Any:
    """A line as JSON; :class:`ProtocolBreach` if it is not."""
    try:
        return json.loads(line)
    except ValueError:
        raise ProtocolBreach(f"{what} is not JSON: {line[:300]!r} (write nothing else to stdout; "
                             f"use stderr for messages)") from None
    except RecursionError:
        raise ProtocolBreach(f"{what} nests deeper than bnspec reads: {line[:100]!r}") from None


# -- the parent's side: requests, replies ----------------------------------------------


def handshake_request() -> dict[str, Any]:
    return {"id": 0, "call": HANDSHAKE, "args": {"protocol": NAME, "version": VERSION}}


def call_request(request_id: int, function: str, args: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    """The request for ``function(*args)``, arguments named by :data:`~bnspec.spec.protocol.FUNCTIONS`."""
    names = FUNCTIONS[function].argument_names
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
        raise ProtocolBreach(f"the reply is a JSON {type(message).__name__}, not an object")
    if message.get("id") != request_id:
        raise ProtocolBreach(f"the reply has id {message.get('id')!r}; the request had id {request_id}")
    if message.get("ok") is not True and message.get("ok") is not False:
        raise ProtocolBreach(f"the reply's 'ok' must be true or false, got {message.get('ok')!r:.100}")
    if message["ok"] is False:
        error = message.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            raise ProtocolBreach(f"an error reply needs error: {{type, message}}, got {error!r:.200}")
    return message


def raised(error: dict[str, Any]) -> BaseException:
    """The exception an error reply stands for (see the module docstring, 3.)."""
    kind, message = str(error.get("type", "Error")), error["message"]
    if kind == "ProtocolBreach":
        return ProtocolBreach(message)
    if kind == "SystemExit":
        return SystemExit(error.get("code", message))
    exception = getattr(builtins, kind, None)
    if isinstance(exception, type) and issubclass(exception, Exception):
        try:
            return exception(message)
        except Exception:  # a builtin that needs other arguments (UnicodeDecodeError)
            pass
    return ImplementationError(f"{kind}: {message}")


def read_handshake(message: Any) -> tuple[Declaration, str]:
    """The program's declaration and name.  :class:`TargetError` for a refused handshake or a bad
    declaration, :class:`ProtocolBreach` for a reply that is no handshake."""
    reply = _reply(0, message)
    if reply["ok"] is False:  # a TargetError: the target does not load (the message says why)
        error = reply["error"]
        raise TargetError(error["message"] if error.get("type") == "TargetError"
                          else f"the handshake was refused: {error.get('type', 'Error')}: {error['message']}")
    result = reply.get("result")
    if not isinstance(result, dict):
        raise ProtocolBreach("the handshake's result must be an object")
    if result.get("protocol") != NAME or result.get("version") != VERSION:
        raise ProtocolBreach(f"the handshake names protocol {result.get('protocol')!r:.100} version "
                             f"{result.get('version')!r:.100}; bnspec speaks {NAME!r} version {VERSION}")
    declared = declaration(result.get("functions"), result.get("layout"), result.get("profile"),
                           result.get("dtypes"), "its declaration", fixed_eps=result.get("fixed_eps"),
                           spatial=result.get("spatial_dims"), running_update=result.get("running_update"),
                           affine=result.get("affine"), eval_statistics=result.get("eval_statistics"),
                           cumulative_average=result.get("cumulative_average"),
                           mixed_precision=result.get("mixed_precision"), kind=result.get("kind"))
    name = result.get("name", "")
    if not isinstance(name, str):
        raise TargetError(f"its declaration: name must be a string, got {name!r:.100}")
    return declared, name[:MAX_MESSAGE]


@dataclass
class Reply:
    """A reply to a call: the result (one array or a tuple) or the error to raise, and the mutated arguments."""

    value: Any = None
    error: BaseException | None = None
    mutated: dict[str, np.ndarray] = field(default_factory=dict)


def _mutated(function: str, message: dict[str, Any]) -> dict[str, np.ndarray]:
    mutated = message.get("mutated", {})
    names = FUNCTIONS[function].argument_names
    if not isinstance(mutated, dict) or not set(mutated) <= set(names):
        raise ProtocolBreach(f"the reply's 'mutated' must map arguments of {function} to arrays, "
                             f"got {mutated!r:.200}")
    return {name: codec.decode_array(f"{function}'s mutated {name}", value) for name, value in mutated.items()}


def read_reply(request_id: int, function: str, message: Any) -> Reply:
    """The reply to a call of ``function``; :class:`ProtocolBreach` for one that breaks the protocol."""
    reply = _reply(request_id, message)
    names = FUNCTIONS[function].result_names
    try:
        mutated = _mutated(function, reply)
        if reply["ok"] is False:
            return Reply(error=raised(reply["error"]), mutated=mutated)
        result = reply.get("result")
        if not isinstance(result, list) or len(result) != len(names):
            raise ProtocolBreach(f"{function} must return a list of {len(names)} arrays ({', '.join(names)}), "
                                 f"got {result!r:.200}")
        arrays = tuple(codec.decode_array(f"{function}'s {name}", value)
                       for name, value in zip(names, result, strict=True))
    except codec.CodecError as error:
        raise ProtocolBreach(str(error)) from None
    return Reply(arrays[0] if len(arrays) == 1 else arrays, mutated=mutated)


# -- the server's side (bnspec.spec.process.serve) ---------------------------------------


def read_request(message: Any) -> tuple[Any, str, dict[str, Any]]:
    """``(id, call, args)`` of a request; :class:`ProtocolBreach` for anything else."""
    if not isinstance(message, dict) or not isinstance(message.get("call"), str) \
            or not isinstance(message.get("args"), dict):
        raise ProtocolBreach(f"a request needs id, call and args, got {message!r:.200}")
    return message.get("id"), message["call"], message["args"]


def arguments(function: str, args: dict[str, Any]) -> list[Any]:
    """The decoded arguments of a request for ``function``, in order."""
    missing = [name for name in FUNCTIONS[function].argument_names if name not in args]
    if missing:
        raise TypeError(f"{function}: the request has no {', '.join(missing)}")
    return [codec.decode_array(name, args[name]) if isinstance(args[name], dict)
            else codec.decode_scalar(name, args[name]) for name in FUNCTIONS[function].argument_names]


def handshake_reply(request_id: Any, args: dict[str, Any], declared: Declaration, name: str) -> dict[str, Any]:
    if args.get("protocol") != NAME or args.get("version") != VERSION:
        raise ValueError(f"this server speaks {NAME} version {VERSION}, not {args.get('protocol')!r:.100} "
                         f"{args.get('version')!r:.100}")
    return {"id": request_id, "ok": True,
            "result": {"protocol": NAME, "version": VERSION, **declared.as_dict(), "name": name}}


def result_reply(request_id: Any, function: str, value: Any) -> dict[str, Any]:
    """The reply carrying ``value``, results already checked by :func:`bnspec.spec.protocol.results`;
    each is sent as that check reads it, as its base class (a subclass's own methods are never run)."""
    values = (value,) if len(FUNCTIONS[function].results) == 1 else tuple(value)
    try:
        encoded = [codec.encode_array(np.ndarray.view(array, np.ndarray)) for array in values]
    except codec.CodecError as error:
        raise ProtocolBreach(f"{function} returned what the process protocol cannot carry: {error}") from None
    return {"id": request_id, "ok": True, "result": encoded}


def error_reply(request_id: Any, exc: BaseException) -> dict[str, Any]:
    """The reply reporting ``exc``: its type's name and message (and a SystemExit's code)."""
    try:
        message = str(exc)
    except Exception:  # an exception whose str raises
        message = f"<{type(exc).__name__} whose message could not be printed>"
    error: dict[str, Any] = {"type": type(exc).__name__, "message": message[:MAX_MESSAGE]}
    if isinstance(exc, SystemExit):
        error["code"] = exc.code if exc.code is None or isinstance(exc.code, int | str) else repr(exc.code)
    return {"id": request_id, "ok": False, "error": error}


def with_mutated(reply: dict[str, Any], names: tuple[str, ...], before: list[Any], after: list[Any]) -> dict[str, Any]:
    """``reply`` with the ``mutated`` field: the array arguments whose bytes changed during the call."""
    mutated = {name: codec.encode_array(now) for name, was, now in zip(names, before, after, strict=True)
               if isinstance(was, np.ndarray) and was.shape == now.shape and was.tobytes() != now.tobytes()}
    return {**reply, "mutated": mutated} if mutated else reply
