"""bnspec's own server of the process protocol: a Python TARGET in a child process (``--isolate``).

::

    python -m bnspec.spec.process.serve TARGET [--memory-limit MB]

loads TARGET with :func:`bnspec.spec.target.resolve` and serves the protocol of
:mod:`bnspec.spec.process.protocol` on its stdin and stdout, like any
``--exec`` program; :meth:`bnspec.spec.process.proxy.ProcessImpl.isolate`
starts it.  Because it is bnspec's own, it does more than a program of
another language must, so that a verdict is the same in process and isolated:

- it checks each result with :func:`bnspec.spec.protocol.results`, and
  answers an error of type ``ProtocolBreach`` with the message of the
  in-process check (a non-array, a tuple of the wrong length, a wrong shape or
  dtype);
- it reports the arguments a call modified in place (``mutated``);
- it keeps the protocol's channel private: the protocol is spoken on copies
  of the original stdin and stdout, while fd 0 reads /dev/null and fd 1 goes to
  stderr, so that the implementation's prints (Python or C) cannot corrupt it;
- it caps its address space (``RLIMIT_AS``) at what loading used plus MB
  (0: no limit), so a runaway allocation fails inside the child;
- it turns anything the implementation raises -- SystemExit,
  KeyboardInterrupt, any BaseException -- into an error reply.

A target that cannot be loaded refuses the handshake with the reason (an
error of type ``TargetError``).  POSIX only.
"""

from __future__ import annotations

import argparse
import ctypes
import faulthandler
import os
import sys
from typing import IO, Any

import numpy as np

from .. import protocol as declared_protocol
from ..protocol import FUNCTIONS, Declaration
from . import protocol


def _private_channel() -> tuple[IO[bytes], IO[bytes]]:
    """The protocol's reader and writer, on copies of fd 0 and 1; fd 0 then reads /dev/null
    and fd 1 writes to stderr (the copies are not inherited by the implementation's children)."""
    reader, writer = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # sys.stdout is typed TextIO; it is a TextIOWrapper here
    return reader, writer


def _flush() -> None:
    """What the implementation printed, written out before the reply (the parent shows it then)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    try:
        ctypes.CDLL(None).fflush(None)  # C's stdio buffers too
    except (OSError, AttributeError):
        pass


def _address_space() -> int:
    """Bytes of address space this process uses (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def limit_memory(megabytes: int) -> None:
    """Cap the address space at what is used now plus ``megabytes`` (0: no cap)."""
    if megabytes <= 0:
        return
    import resource

    limit = _address_space() + megabytes * 2**20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class Server:
    """The loaded implementation (or why it did not load) and its declaration."""

    def __init__(self, spec: str) -> None:
        from ..target import resolve

        self.spec = spec
        self.impl: Any = None
        self.declared: Declaration | None = None
        self.failure: BaseException | None = None
        try:
            self.impl = resolve(spec)
            self.declared = declared_protocol.declaration_of(self.impl, f"target {spec!r}")
        except BaseException as exc:  # noqa: B036 - any failure to load is the handshake's refusal
            self.failure = exc

    def answer(self, line: bytes) -> dict[str, Any]:
        request_id = None
        try:
            request_id, call, args = protocol.read_request(protocol.loads(line, "the request"))
            if call == protocol.HANDSHAKE:
                if self.failure is not None:
                    raise self.failure
                assert self.declared is not None
                return protocol.handshake_reply(request_id, args, self.declared, self.spec)
            return self.call(request_id, call, args)
        except BaseException as exc:  # noqa: B036 - every way out is a reply
            return protocol.error_reply(request_id, exc)

    def call(self, request_id: Any, function: str, args: dict[str, Any]) -> dict[str, Any]:
        if self.declared is None or function not in self.declared.functions:
            raise AttributeError(f"{function!r} is not a function this target declares")
        values = protocol.arguments(function, args)
        before = [v.copy() if isinstance(v, np.ndarray) else v for v in values]
        try:
            result = getattr(self.impl, function)(*values)
            signature = FUNCTIONS[function]
            shaped_by = values[signature.argument_names.index(signature.shaped_by)]
            declared_protocol.results(function, result, self.declared.layout, shaped_by.shape)
            reply = protocol.result_reply(request_id, function, result)
        except BaseException as exc:  # noqa: B036 - SystemExit, KeyboardInterrupt, MemoryError: a reply
            reply = protocol.error_reply(request_id, exc)
        return protocol.with_mutated(reply, FUNCTIONS[function].argument_names, before, values)


def serve(spec: str, megabytes: int, reader: IO[bytes], writer: IO[bytes]) -> None:
    """Answer requests until stdin closes (after a refused handshake: stop)."""
    server = Server(spec)
    limit_memory(megabytes)
    for line in reader:
        reply = server.answer(line)
        _flush()
        try:
            message = protocol.dumps(reply)
        except BaseException as exc:  # noqa: B036 - e.g. MemoryError under the limit
            message = protocol.dumps(protocol.error_reply(reply.get("id"), exc))
        del reply
        writer.write(message)
        writer.flush()
        if server.failure is not None:
            return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bnspec.spec.process.serve",
                                     description="Serve a Python batch norm over bnspec's process protocol.")
    parser.add_argument("target", help="'reference', 'module:attribute' or 'path/to/file.py[:attribute]'")
    parser.add_argument("--memory-limit", type=int, default=0, metavar="MB",
                        help="megabytes the implementation may allocate beyond loading it (0: no limit)")
    args = parser.parse_args(argv)
    reader, writer = _private_channel()
    faulthandler.enable(file=sys.stderr)  # the traceback of a segfault or an abort, for the report
    serve(args.target, args.memory_limit, reader, writer)
    _flush()
    os._exit(0)  # no teardown of the implementation's framework: the parent is done with it


if __name__ == "__main__":
    main()
