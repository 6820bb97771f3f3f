"""A batch norm in another process, as a Python object with the protocol's functions.

:class:`ProcessImpl` starts COMMAND, makes the handshake of
:mod:`bnspec.spec.process.protocol`, and then has exactly the functions the
implementation declared; :func:`bnspec.spec.target.load` wraps it in a
:class:`~bnspec.spec.target.Target` like any other implementation
(``load("exec:node examples/js/batchnorm.js")``).

Robustness: each call waits at most ``call_timeout`` seconds for its reply,
then kills the process; the runner's per-clause ``--timeout`` interrupts a call
too (the process is killed as well).  A process that exits, hangs or breaks the
protocol raises :class:`~bnspec.spec.target.ImplementationFailure` -- the clause
fails -- and a new process is started, with a new handshake, at the next call.
POSIX only (``select`` on pipes, process groups).
"""

from __future__ import annotations

import functools
import json
import os
import select
import shlex
import signal
import subprocess
import tempfile
import time
import weakref
from typing import IO, Any

from ..target import ImplementationFailure, TargetError
from . import protocol

#: seconds a call (or the handshake) may take when no --timeout is given.
DEFAULT_CALL_TIMEOUT = 30.0
#: bytes of the implementation's stderr shown with a failure.
STDERR_TAIL = 2000


class ChildFailure(ImplementationFailure):
    """The process hung, exited or broke the protocol."""


def _kill(popen: subprocess.Popen, stderr: IO[bytes]) -> None:
    if popen.poll() is None:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            popen.kill()
    popen.wait()
    for stream in (popen.stdin, popen.stdout, stderr):
        if stream is not None:
            stream.close()


class Child:
    """One running process: line-delimited JSON over its stdin and stdout, with deadlines."""

    def __init__(self, argv: list[str]) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.popen = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                      start_new_session=True)
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self._in, self._out = self.popen.stdin.fileno(), self.popen.stdout.fileno()
        os.set_blocking(self._in, False)
        self._buffer = b""
        self._finalizer = weakref.finalize(self, _kill, self.popen, self.stderr)

    def stderr_tail(self) -> str:
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - STDERR_TAIL))
        text = self.stderr.read().decode("utf-8", "replace").strip()
        return f"; its stderr ends with:\n{text}" if text else "; its stderr is empty"

    def _exited(self, what: str) -> ChildFailure:
        status = self.popen.wait()
        return ChildFailure(f"the process exited with status {status} {what}{self.stderr_tail()}")

    def send(self, message: dict[str, Any], deadline: float, what: str) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [self._in], [], remaining)[1]:
                raise ChildFailure(f"the process did not read {what} in time")
            try:
                data = data[os.write(self._in, data):]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise self._exited(f"before reading {what}") from None

    def receive(self, deadline: float, what: str, seconds: float) -> Any:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._out], [], [], remaining)[0]:
                raise ChildFailure(f"no reply to {what} within {seconds:g} s: the process was killed"
                                   f"{self.stderr_tail()}")
            chunk = os.read(self._out, 1 << 16)
            if not chunk:
                raise self._exited(f"instead of answering {what}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            raise ChildFailure(f"the reply to {what} is not JSON: {line[:300]!r} (write nothing else to "
                               f"stdout; use stderr for messages){self.stderr_tail()}") from None

    def exchange(self, message: dict[str, Any], seconds: float, what: str) -> Any:
        deadline = time.monotonic() + seconds
        self.send(message, deadline, what)
        return self.receive(deadline, what, seconds)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def close(self, grace: float = 2.0) -> None:
        """Close stdin (the implementation exits) and reap it; kill it after ``grace`` seconds."""
        if self.popen.stdin is not None and not self.popen.stdin.closed:
            try:
                self.popen.stdin.close()
            except OSError:
                pass
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        self._finalizer()


class ProcessImpl:
    """The implementation behind COMMAND, with the protocol functions it declared.

    Attributes from the handshake: ``functions``, ``layout``, ``profile``,
    ``name``; ``restarts`` counts the processes started after the first.
    """

    def __init__(self, command: str, call_timeout: float = DEFAULT_CALL_TIMEOUT) -> None:
        self.command = command
        self.call_timeout = call_timeout
        self.restarts = 0
        self._child: Child | None = None
        self._last_id = 0
        try:
            self.argv = shlex.split(command)
        except ValueError as error:
            raise TargetError(f"--exec: cannot split {command!r}: {error}") from None
        if not self.argv:
            raise TargetError("--exec: the command is empty")
        try:
            declared = self._start()
        except OSError as error:
            raise TargetError(f"--exec: cannot start {command!r}: {error}") from None
        except (ChildFailure, protocol.ProtocolViolation) as error:
            raise TargetError(f"--exec: {command!r} failed the handshake: {error}") from None
        self.functions: tuple[str, ...] = declared["functions"]
        self.layout: str = declared["layout"]
        self.profile: str = declared["profile"]
        self.name: str = declared["name"]
        if declared["dtypes"] is not None:
            self.dtypes: tuple[str, ...] = declared["dtypes"]
        self._declared = declared

    def __getattr__(self, name: str) -> Any:
        # Only the declared functions exist, so that a missing one makes its clauses n/a.
        if name in protocol.SIGNATURES and name in self.__dict__.get("functions", ()):
            return functools.partial(self.call, name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"ProcessImpl({self.command!r})"

    def _start(self) -> dict[str, Any]:
        child = Child(self.argv)
        self._child = child
        try:
            reply = child.exchange(protocol.handshake_request(), self.call_timeout, "the handshake")
            return protocol.read_handshake(reply)
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        if self._child is not None:
            self._child.close(grace=0.0)
            self._child = None

    def _ready(self) -> Child:
        """The running process; a new one (with its handshake) if the last one was discarded."""
        if self._child is not None and not self._child.alive():
            failure = self._child._exited("between two calls (it must serve requests until its stdin closes)")
            self._discard()
            raise failure
        if self._child is None:
            self.restarts += 1
            try:
                declared = self._start()
            except (OSError, protocol.ProtocolViolation) as error:
                raise ChildFailure(f"restarting {self.command!r} failed: {error}") from None
            if declared != self._declared:
                self._discard()
                raise ChildFailure(f"the restarted process declared {declared}, the first {self._declared}")
        assert self._child is not None
        return self._child

    def call(self, function: str, *args: Any) -> Any:
        """``function(*args)`` in the process: the result arrays, or the implementation's error raised.

        An error the implementation reports leaves the process running; a hang, an exit, a broken
        reply or the clause's time limit ends it (the next call starts a new one)."""
        request = protocol.call_request(self._last_id + 1, function, args)
        child = self._ready()
        self._last_id += 1
        what = f"{function} (request {self._last_id})"
        try:
            reply = child.exchange(request, self.call_timeout, what)
        except BaseException:  # a hang, an exit, or the clause's time limit: the process is in an unknown state
            self._discard()
            raise
        try:
            return protocol.read_result(self._last_id, function, reply)
        except protocol.ProtocolViolation as error:
            self._discard()
            raise ChildFailure(f"{what}: {error}") from None

    def close(self) -> None:
        """End the process (closing its stdin first)."""
        if self._child is not None:
            self._child.close()
            self._child = None
