"""Run the implementation under test in a child process (``bnspec check --isolate``).

When to use it: for an implementation you do not trust to leave the checker
alive -- a C extension or ctypes code that may crash (a segmentation fault, an
``abort()``), code that calls ``os._exit``, allocates without bound, or hangs
inside native code where no signal reaches it.  In process (the default), the
runner already survives exceptions, ``sys.exit``, wrong return values, prints
and hangs in Python code (``--timeout``); it is faster, and it is the mode for
learners' numpy code and the framework adapters.

How: :class:`IsolatedImplementation` is a stand-in with the protocol's
functions that :func:`bnspec.spec.target.wrap` wraps like any implementation.
Each call is sent to a child Python process (started with ``subprocess``, never
a fork of the checker) over a socket pair, as a message of
:mod:`bnspec.spec.wire`: the function's name and its arguments (numpy arrays and
numbers), with no pickle in either direction.  The child loads the target
itself, calls it, and replies with the result (any value; objects become named
stand-ins), or the exception's type and message, and the arrays the call
modified in place (copied back into the caller's arrays, so that
BN-PURE-1 sees the mutation).  The child's stdout and stderr -- Python writes,
C writes and the fault handler's traceback of a crash -- go to a file that the
parent echoes into the clause's captured output after every call.

A child that dies during a call (exit status, or the signal that killed it)
raises :class:`ImplementationCrashed`: the runner reports the clause as FAIL
without shrinking (each attempt would crash again) and the next call starts a
new child.  A clause's time limit (``--timeout``) interrupts the wait and kills
the child.  ``--memory-limit MB`` caps the child's address space
(``RLIMIT_AS``) at what loading the implementation used plus MB: a runaway
allocation then fails inside the child with MemoryError (a failing clause) or
kills it (a crash), never the checker.  POSIX only.

The message format is generic (a function name and numpy arrays, replies of
arrays or an error), so another transport can reuse :mod:`bnspec.spec.wire`.
"""

from __future__ import annotations

import builtins
import faulthandler
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import weakref
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from . import wire
from .target import PROTOCOL, TargetError

#: the default ``--memory-limit``: megabytes the child may allocate beyond what loading the target took.
DEFAULT_MEMORY_LIMIT_MB = 2048
#: seconds to wait for a child to exit once its connection is closed.
GRACE = 2.0

_CHILD = "from bnspec.spec.isolation import child_main; child_main()"


class ImplementationCrashed(BaseException):
    """The implementation's process died during a call (crash, exit, abort, killed).

    A BaseException, like the runner's clause timeout: hypothesis must not
    replay the example while shrinking, since each replay would crash again."""


# -- the child -----------------------------------------------------------------


def _address_space() -> int:
    """Bytes of address space this process uses (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(megabytes: int) -> None:
    if megabytes <= 0:
        return
    import resource

    limit = _address_space() + megabytes * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, SystemExit):
        code = exc.code if exc.code is None or isinstance(exc.code, int | str) else repr(exc.code)
        return {"raised": "SystemExit", "message": "", "code": code}
    try:
        message = str(exc)
    except Exception:  # an exception whose str raises
        message = f"<{type(exc).__name__} whose message could not be printed>"
    return {"raised": type(exc).__name__, "message": message[:2000]}


def _serve(connection: Connection, impl: Any) -> None:
    while True:
        try:
            request = wire.decode(connection.recv_bytes())
        except EOFError:
            return
        function, args = request["call"], list(request["args"])
        before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
        result = None
        try:
            if function not in PROTOCOL:
                raise AttributeError(f"{function!r} is not a protocol function")
            result = getattr(impl, function)(*args)
            reply: dict[str, Any] = {"ok": result}
        except BaseException as exc:  # noqa: B036 - every way out of the implementation is a reply
            reply = _error(exc)
        mutated = {str(i): a for i, (a, b) in enumerate(zip(args, before, strict=True))
                   if b is not None and isinstance(a, np.ndarray) and a.shape == b.shape
                   and a.tobytes() != b.tobytes()}
        reply["mutated"] = mutated
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            message = wire.encode(reply)
        except BaseException as exc:  # noqa: B036 - e.g. MemoryError under the limit
            message = wire.encode({**_error(exc), "mutated": {}})
        del reply, result
        connection.send_bytes(message)


def child_main() -> None:
    """The child process: ``python -c <_CHILD> FD OUTPUT MEGABYTES``."""
    fd, output, megabytes = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    connection = Connection(fd)
    sink = os.open(output, os.O_WRONLY | os.O_APPEND)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    os.close(sink)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    faulthandler.enable(file=sys.stderr)  # the traceback of a segfault or an abort, for the report
    init = wire.decode(connection.recv_bytes())
    sys.path[:] = init["sys_path"]
    from .target import resolve

    try:
        impl = resolve(init["spec"])
    except BaseException as exc:  # noqa: B036 - report any failure to load, then end
        connection.send_bytes(wire.encode({"load_error": f"{type(exc).__name__}: {exc}"}))
        return
    functions = [f for f in PROTOCOL if callable(getattr(impl, f, None))]
    layout, profile = getattr(impl, "layout", "units_first"), getattr(impl, "profile", None)
    dtypes = getattr(impl, "dtypes", None)
    connection.send_bytes(wire.encode({"functions": functions, "layout": str(layout),
                                       "profile": None if profile is None else str(profile),
                                       "dtypes": None if dtypes is None else [str(d) for d in dtypes]}))
    _limit_memory(megabytes)
    _serve(connection, impl)


# -- the parent ----------------------------------------------------------------


def _describe(status: int) -> str:
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by signal {-status} ({name})"
    return f"exited with status {status}"


def _rebuild(kind: str, message: str) -> Exception:
    """The child's exception as the same builtin type, else a stand-in class of the same name."""
    builtin = getattr(builtins, kind, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception) and builtin.__init__ is not None:
        try:
            return builtin(message)
        except Exception:  # a builtin that needs other arguments (UnicodeDecodeError)
            pass
    return type(kind if kind.isidentifier() else "ChildError", (Exception,), {})(message)


def _stop(process: subprocess.Popen, connection: Connection, output: Any) -> None:
    connection.close()
    try:
        process.wait(GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _Child:
    def __init__(self, spec: str, output: str, megabytes: int) -> None:
        parent_end, child_end = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(child_end.fileno()), output, str(megabytes)],
            pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL,
        )
        child_end.close()
        self.connection = Connection(parent_end.detach())
        self._finalizer = weakref.finalize(self, _stop, self.process, self.connection, output)
        self.connection.send_bytes(wire.encode({"spec": spec, "sys_path": list(sys.path)}))

    def exchange(self, request: Any) -> Any:
        self.connection.send_bytes(wire.encode(request))
        return wire.decode(self.connection.recv_bytes())

    def status(self) -> int:
        try:
            return self.process.wait(GRACE)
        except subprocess.TimeoutExpired:  # closed its end but lives on: end it
            self.kill()
            return self.process.wait()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._finalizer()

    def close(self) -> None:
        self._finalizer()


class IsolatedImplementation:
    """The implementation ``spec`` (a TARGET string) behind a child process.

    Has ``layout``, ``profile``, ``dtypes`` and exactly the protocol functions the
    implementation has; ``restarts`` counts the children started after the
    first.  Use it through :func:`load` (or as a context manager, which ends the
    child)."""

    def __init__(self, spec: str, memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB) -> None:
        self.spec = spec
        self.memory_limit_mb = memory_limit_mb
        self.restarts = -1
        handle, self._output = tempfile.mkstemp(prefix="bnspec-isolate-", suffix=".log")
        os.close(handle)
        weakref.finalize(self, _unlink, self._output)
        self._child: _Child | None = None
        self._spare: _Child | None = None
        self._declared = self._start()
        self.functions: tuple[str, ...] = tuple(self._declared["functions"])
        self.layout: str = self._declared["layout"]
        if self._declared["profile"] is not None:
            self.profile: str = self._declared["profile"]
        if self._declared["dtypes"] is not None:  # the declaration travels too: isolation checks the same clauses
            self.dtypes: tuple[str, ...] = tuple(self._declared["dtypes"])

    def __getattr__(self, name: str) -> Any:
        # Only the implementation's own functions exist, so that a missing one makes its clauses n/a.
        if name in PROTOCOL and name in self.__dict__.get("functions", ()):
            return lambda *args: self.call(name, *args)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"IsolatedImplementation({self.spec!r})"

    def __enter__(self) -> IsolatedImplementation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self) -> _Child:
        self.restarts += 1
        return _Child(self.spec, self._output, self.memory_limit_mb)

    def _replace(self) -> None:
        """After a crash or a kill: start the next child now, so that it loads while the
        runner reports (its start then barely counts toward the next clause's time limit)."""
        self._child = None
        try:
            self._spare = self._spawn()
        except OSError:  # cannot start a process now: the next call tries again
            self._spare = None

    def _start(self) -> dict[str, Any]:
        offset = os.path.getsize(self._output)
        child, self._spare = self._spare or self._spawn(), None
        try:
            hello = wire.decode(child.connection.recv_bytes())
        except (EOFError, OSError):
            status = child.status()
            raise TargetError(f"target: the isolated process loading {self.spec!r} {_describe(status)}"
                              f"{self._tail(offset)}") from None
        except BaseException:
            child.kill()
            raise
        if "load_error" in hello:
            child.close()
            raise TargetError(f"target: cannot load {self.spec!r} in the isolated process: {hello['load_error']}")
        self._child = child
        return hello

    def _tail(self, offset: int) -> str:
        text = self._read_output(offset).strip()
        return f"; its output ends with:\n{text[-2000:]}" if text else ""

    def _read_output(self, offset: int) -> str:
        with open(self._output, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def _echo(self, offset: int) -> None:
        # Into the clause's captured output (see bnspec.spec.capture); the fault handler's
        # thread address changes from run to run, and a run must be reproducible.
        text = re.sub(r"(Current thread|Thread) 0x[0-9a-f]+", r"\1", self._read_output(offset))
        if text:
            sys.stdout.write(text)

    def call(self, function: str, *args: Any) -> Any:
        """``function(*args)`` in the child: its result, or its exception raised here."""
        if self._child is None or self._child.process.poll() is not None:
            if self._child is not None:
                self._child.close()
            self._start()
        child = self._child
        assert child is not None
        offset = os.path.getsize(self._output)
        try:
            reply = child.exchange({"call": function, "args": list(args)})
        except (EOFError, OSError, wire.WireError) as error:
            status = child.status()
            self._replace()
            self._echo(offset)
            what = "broke the message format" if isinstance(error, wire.WireError) else _describe(status)
            last = "; its last output is shown below" if self._read_output(offset).strip() else ""
            raise ImplementationCrashed(f"{function}: the implementation's process {what} during the call "
                                        f"(--isolate){last}") from None
        except BaseException as interrupt:  # the clause's time limit or Ctrl-C while the child works: kill it
            child.kill()
            if isinstance(interrupt, KeyboardInterrupt):
                self._child = None
            else:
                self._replace()
            self._echo(offset)
            raise
        self._echo(offset)
        for index, value in reply.get("mutated", {}).items():
            original = args[int(index)]
            if isinstance(original, np.ndarray) and original.shape == value.shape and original.flags.writeable:
                np.copyto(original, value, casting="unsafe")
        if "raised" in reply:
            if reply["raised"] == "SystemExit":
                raise SystemExit(reply.get("code"))
            raise _rebuild(reply["raised"], reply["message"])
        return reply["ok"]

    def close(self) -> None:
        """End the child (it exits when its connection closes)."""
        for child in (self._child, self._spare):
            if child is not None:
                child.close()
        self._child = self._spare = None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def load(spec: str, profile: str | None = None, memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB):
    """The :class:`~bnspec.spec.target.Target` of ``spec`` with the implementation in a child process."""
    from .target import wrap

    return wrap(IsolatedImplementation(spec, memory_limit_mb), spec, profile)
