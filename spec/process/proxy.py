"""A batch norm in another process, as a Python object with the protocol's functions.

:class:`ProcessImpl` starts a program that speaks the process protocol
(:mod:`bnspec.spec.process.protocol`), makes the handshake, and then has
``declaration`` (a :class:`~bnspec.spec.protocol.Declaration`) and exactly the
functions the program declared; :func:`bnspec.spec.target.wrap` wraps it like
any implementation.  Two constructors, used by the run session:

- :meth:`ProcessImpl.exec` -- ``--exec COMMAND``: any program;
- :meth:`ProcessImpl.isolate` -- ``--isolate``: a Python TARGET in bnspec's own
  server, :mod:`bnspec.spec.process.serve`, under a memory limit.

Robustness: the process runs in its own process group (``start_new_session``)
with its stderr in a temporary file, whose new text is echoed into
``sys.stdout`` after each call (the runner captures it into the clause's
output).  Each call and the handshake wait at most ``call_timeout`` seconds
(``--timeout``, else :data:`DEFAULT_CALL_TIMEOUT`: with ``--timeout`` a call past
it is the clause's timeout, without it a crash); a process discarded after a
call is started again by :meth:`ProcessImpl.prepare` before the next clause's
time limit starts, its handshake given at least :data:`DEFAULT_CALL_TIMEOUT` (the
target loaded once within the limit; loading it again on a loaded machine is no
clause's work); a reply longer than
:data:`~bnspec.spec.process.protocol.MAX_LINE` is refused unread.  A process that dies or hangs during a call
raises :class:`~bnspec.spec.errors.ImplementationCrashed` (its exit status or
signal and the end of its stderr), a broken reply
:class:`~bnspec.spec.errors.ProtocolBreach`; either way its process group is
killed and a new process, with a new handshake, serves the next call.  An
error reply raises the implementation's exception (see the protocol).  A
program that cannot be started or fails the handshake is a
:class:`~bnspec.spec.errors.TargetError`.  POSIX only (``select`` on pipes,
process groups).
"""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from typing import Any

import numpy as np

from ..errors import ClauseTimeout, ImplementationCrashed, ProtocolBreach, TargetError
from ..protocol import FUNCTIONS, Declaration
from . import protocol
from .protocol import ImplementationError

__all__ = ["DEFAULT_CALL_TIMEOUT", "Child", "ImplementationError", "ProcessImpl"]

#: seconds a call (or the handshake) may take when no --timeout is given.
DEFAULT_CALL_TIMEOUT = 30.0
#: seconds a process may take to exit once its stdin is closed, before its group is killed.
GRACE = 2.0
#: the end of the stderr quoted with a failure: at most this many lines and characters.
TAIL_LINES, TAIL_CHARS = 8, 2000
#: the fault handler's thread addresses change from run to run, and a run must be reproducible.
_THREAD_ADDRESS = re.compile(r"(Current thread|Thread) 0x[0-9a-f]+")


class NoReply(ImplementationCrashed):
    """A call (or the handshake) that got no reply within its time limit: the process is killed."""


def describe(status: int) -> str:
    """An exit status as words: ``exited with status 3``, ``was killed by signal 11 (SIGSEGV)``."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by signal {-status} ({name})"
    return f"exited with status {status}"


def _exited(pid: int) -> bool:
    """Whether the process has ended, without reaping it (its process group stays addressable)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already, or not waitable here: whether the pid still exists decides
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # it exists (under another user: a reused pid), and it is not ours
            return True
        return False


def _end(popen: subprocess.Popen, grace: float) -> int:
    """Close the process's stdin, give it ``grace`` seconds to exit, kill its whole group, reap it."""
    if popen.stdin is not None and not popen.stdin.closed:
        try:
            popen.stdin.close()
        except OSError:
            pass
    deadline, pause = time.monotonic() + grace, 0.001
    try:
        while not _exited(popen.pid) and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(2 * pause, 0.05)
    finally:  # even when the clause's time limit interrupts the wait
        if popen.returncode is None:  # not reaped yet: the group id is still the leader's own
            try:
                os.killpg(popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        status = popen.wait()
        if popen.stdout is not None:
            popen.stdout.close()
    return status


class Child:
    """One running process: line-delimited JSON over its stdin and stdout with deadlines, its stderr
    in a temporary file, its process group killed when it ends."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.popen = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                      env=env, start_new_session=True)
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self._in, self._out = self.popen.stdin.fileno(), self.popen.stdout.fileno()
        os.set_blocking(self._in, False)
        self._buffer = bytearray()
        self._shown = 0
        self._finalizer = weakref.finalize(self, _end, self.popen, 0.0)
        weakref.finalize(self, self.stderr.close)

    # -- stderr ----------------------------------------------------------------------

    def _stderr_from(self, offset: int) -> str:
        self.stderr.seek(offset)
        return _THREAD_ADDRESS.sub(r"\1", self.stderr.read().decode("utf-8", "replace"))

    def echo(self) -> None:
        """Write the stderr text that is new since the last echo into ``sys.stdout``."""
        size = self.stderr.seek(0, os.SEEK_END)
        if size > self._shown:
            text, self._shown = self._stderr_from(self._shown), size
            sys.stdout.write(text)

    def _last_lines(self) -> list[str]:
        size = self.stderr.seek(0, os.SEEK_END)
        return self._stderr_from(max(0, size - TAIL_CHARS)).strip().splitlines()[-TAIL_LINES:]

    def tail(self) -> str:
        """``; its stderr ends with:`` and its last lines, for a failure's message."""
        lines = self._last_lines()
        return "; its stderr ends with:\n" + "\n".join(lines) if lines else "; its stderr is empty"

    def last_line(self) -> str:
        """The last line of its stderr, for a one-line reason."""
        lines = self._last_lines()
        return f" (its stderr ends with: {lines[-1][:300]})" if lines else ""

    # -- messages --------------------------------------------------------------------

    def ended(self, when: str) -> ImplementationCrashed:
        return ImplementationCrashed(f"the implementation's process {describe(self.stop(GRACE))} {when}")

    def send(self, message: dict[str, Any], deadline: float, seconds: float) -> None:
        data = protocol.dumps(message)
        while data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [self._in], [], remaining)[1]:
                raise NoReply(f"the process did not read the request within {seconds:g} s: "
                                            f"it was killed")
            try:
                data = data[os.write(self._in, data):]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise self.ended("before reading the request") from None

    def receive(self, deadline: float, seconds: float) -> Any:
        """The next line, parsed; read in chunks (linear in its length) and refused beyond
        :data:`~bnspec.spec.process.protocol.MAX_LINE` bytes before anything is parsed."""
        end = self._buffer.find(b"\n")
        while end < 0:
            if len(self._buffer) > protocol.MAX_LINE:
                raise ProtocolBreach(f"the reply is longer than {protocol.MAX_LINE >> 20} MiB, bnspec's limit on "
                                     f"one message (the arrays of a call take a few hundred kB)")
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._out], [], [], remaining)[0]:
                raise NoReply(f"no reply within {seconds:g} s: the process was killed")
            chunk = os.read(self._out, 1 << 20)
            if not chunk:
                raise self.ended("before replying")
            searched = len(self._buffer)
            self._buffer += chunk
            end = self._buffer.find(b"\n", searched)
        line = bytes(self._buffer[:end])
        del self._buffer[:end + 1]
        return protocol.loads(line)

    def exchange(self, message: dict[str, Any], seconds: float) -> Any:
        deadline = time.monotonic() + seconds
        self.send(message, deadline, seconds)
        return self.receive(deadline, seconds)

    def alive(self) -> bool:
        return not _exited(self.popen.pid)

    def stop(self, grace: float) -> int:
        """Close its stdin (it exits), kill its process group after ``grace`` seconds, reap it: its status."""
        if self._finalizer.detach() is not None:
            _end(self.popen, grace)
        return self.popen.wait()

    def close(self, grace: float = GRACE) -> None:
        """:meth:`stop`, and forget its stderr."""
        self.stop(grace)
        self.stderr.close()


class ProcessImpl:
    """The implementation behind a process, with the protocol functions it declared.

    ``declaration`` and ``name`` come from the handshake; ``restarts`` counts the
    processes started after the first.  Use :meth:`exec` or :meth:`isolate`, and
    :meth:`close` it (or use it as a context manager)."""

    def __init__(self, argv: list[str], where: str, call_timeout: float | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.argv, self.where, self.env = argv, where, env
        self.call_timeout = DEFAULT_CALL_TIMEOUT if call_timeout is None else call_timeout
        #: the limit is the clause's own (--timeout): a call past it is the clause's timeout, not a crash,
        #: whichever of the two deadlines the scheduler lets fire first
        self.clause_limit = call_timeout is not None
        self.restarts = 0
        self._child: Child | None = None
        self._last_id = 0
        try:
            self.declaration, self.name = self._start()
        except OSError as error:
            raise TargetError(f"{where}: cannot start the process: {error}") from None
        except TargetError as error:
            raise TargetError(f"{where} failed the handshake: {error}") from None

    @classmethod
    def exec(cls, command: str, call_timeout: float | None = None) -> ProcessImpl:
        """``--exec COMMAND``: COMMAND split like a shell would, without a shell."""
        try:
            argv = shlex.split(command)
        except ValueError as error:
            raise TargetError(f"--exec: cannot split {command!r}: {error}") from None
        if not argv:
            raise TargetError("--exec: the command is empty")
        return cls(argv, f"--exec {command!r}", call_timeout)

    @classmethod
    def isolate(cls, spec: str, memory_limit_mb: int, call_timeout: float | None = None) -> ProcessImpl:
        """``--isolate``: the Python TARGET ``spec`` in :mod:`bnspec.spec.process.serve`, which may allocate
        ``memory_limit_mb`` beyond loading it (0: no limit), importing from this process's ``sys.path``."""
        argv = [sys.executable, "-m", "bnspec.spec.process.serve", spec, "--memory-limit", str(memory_limit_mb)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        return cls(argv, f"--isolate {spec!r}", call_timeout, env)

    def __getattr__(self, name: str) -> Any:
        # Only the declared functions exist, so that a missing one makes its clauses n/a.
        declared = self.__dict__.get("declaration")
        if declared is not None and name in declared.functions:
            return lambda *args: self.call(name, *args)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"ProcessImpl({self.where})"

    def __enter__(self) -> ProcessImpl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, limit: float | None = None) -> tuple[Declaration, str]:
        """A new process and its handshake within ``limit`` seconds (default the call limit); TargetError
        (with the end of its stderr) if it fails."""
        child = Child(self.argv, self.env)
        self._child = child
        try:
            reply = child.exchange(protocol.handshake_request(), limit or self.call_timeout)
            declared = protocol.read_handshake(reply)
        except (ImplementationCrashed, ProtocolBreach, TargetError) as error:
            reason = f"{error}{child.last_line()}"
            self._discard()
            raise TargetError(reason) from None
        except BaseException:  # the clause's time limit, Ctrl-C
            self._discard()
            raise
        child.echo()  # what loading printed, as it would be in process
        return declared

    def _discard(self) -> None:
        # forgotten first: a time limit that interrupts the close must not leave the old process in place
        child, self._child = self._child, None
        if child is not None:
            child.close(grace=0.0)

    def prepare(self) -> None:
        """Start a new process now if the last one was discarded (after a crash or a timeout), so that
        its start-up is not charged to the next call's time limit; its handshake may take the default
        call limit, or the call limit if longer.  A start that fails here is left to that call, which
        tries again within its own limit and reports it."""
        if self._child is None:
            try:
                self._ready("starting the process again", max(self.call_timeout, DEFAULT_CALL_TIMEOUT))
            except ImplementationCrashed:
                pass

    def _ready(self, what: str, limit: float | None = None) -> Child:
        """The running process; a new one (with its handshake) if the last one was discarded."""
        if self._child is not None and not self._child.alive():
            child = self._child
            crash = child.ended("between two calls (it must serve requests until its stdin closes)")
            child.echo()
            tail = child.tail()
            self._discard()
            raise ImplementationCrashed(f"{what}: {crash}{tail}")
        if self._child is None:
            self.restarts += 1
            try:
                declared = self._start(limit)
            except (OSError, TargetError) as error:
                raise ImplementationCrashed(f"{what}: restarting the process failed: {error}") from None
            if declared != (self.declaration, self.name):
                self._discard()
                raise ImplementationCrashed(f"{what}: the restarted process declared {declared[0]}, the first "
                                            f"{self.declaration}")
        assert self._child is not None
        return self._child

    def call(self, function: str, *args: Any) -> Any:
        """``function(*args)`` in the process: the result (one array or a tuple), or the implementation's
        error raised.  Arguments the process reports as modified are modified here too."""
        request = protocol.call_request(self._last_id + 1, function, args)
        what = f"{function} (request {self._last_id + 1})"
        child = self._ready(what)
        self._last_id += 1
        try:
            reply = protocol.read_reply(self._last_id, function, child.exchange(request, self.call_timeout))
        except (ImplementationCrashed, ProtocolBreach) as error:  # the process's state is unknown: end it
            child.echo()
            tail = child.tail()
            self._discard()
            if isinstance(error, NoReply) and self.clause_limit:
                raise ClauseTimeout(f"timed out after {self.call_timeout:g} s ({what}: {error})") from None
            raise type(error)(f"{what}: {error}{tail}") from None
        except BaseException:  # the clause's time limit, Ctrl-C: the process is busy, end it
            child.echo()
            self._discard()
            raise
        child.echo()
        names = FUNCTIONS[function].argument_names
        for name, value in reply.mutated.items():
            original = args[names.index(name)]
            if isinstance(original, np.ndarray) and original.shape == value.shape and original.flags.writeable:
                np.copyto(original, value, casting="unsafe")
        if reply.error is not None:
            raise reply.error
        return reply.value

    def close(self) -> None:
        """End the process: close its stdin, then kill its process group after a grace period."""
        if self._child is not None:
            self._child.close()
            self._child = None
