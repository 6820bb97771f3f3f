"""What the implementation under test writes while a clause runs.

An implementation may print (a learner's debugging line, a framework's log,
``os.write(1, ...)`` from a C extension).  During a clause, :func:`output`
sends both Python-level writes (``sys.stdout``, ``sys.stderr``, warnings) and
writes to the file descriptors 1 and 2 to a temporary file, so the runner's
table stays readable; the text is kept with the clause's result and shown with
its failure details.  Printing is not a clause violation by itself.  What the
implementation prints when it is loaded (its module's top level) is captured
too, by :func:`calling` around the loading: the run session keeps it with the
first clause's output.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import UsageError

_T = TypeVar("_T")

#: At most this many characters of captured output are kept per clause.
MAX_CHARS = 4000


@dataclass
class Captured:
    """The text written during the ``with`` block (set when it exits)."""

    text: str = ""


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: nothing to flush
            pass


def _shorten(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    return text[:MAX_CHARS] + f"\n... ({len(text) - MAX_CHARS} more characters)"


class _Sink(io.StringIO):
    """The Python-level capture: an implementation that closes ``sys.stdout`` closes nothing."""

    def close(self) -> None:
        pass


@contextmanager
def output() -> Iterator[Captured]:
    """Capture stdout and stderr, at the Python and at the file-descriptor level."""
    captured = Captured()
    _flush()
    python_level = _Sink()
    with tempfile.TemporaryFile() as fd_level:
        saved: list[tuple[int, int]] = []
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(fd_level.fileno(), fd)
            except OSError:  # no such descriptor (a detached process): Python-level capture only
                pass
        streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = python_level
        try:
            yield captured
        finally:
            sys.stdout, sys.stderr = streams
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
            fd_level.seek(0)
            raw = fd_level.read().decode("utf-8", errors="replace")
            captured.text = _shorten(python_level.getvalue() + raw)


def calling(function: Callable[..., _T], *args: Any) -> tuple[_T, str]:
    """``function(*args)`` with what it prints captured: its result and the text.  A
    :class:`~bnspec.spec.errors.UsageError` it raises (a target that does not load) is raised again
    with the text appended, so that what the implementation printed before failing is not lost."""
    failed: UsageError | None = None
    with output() as printed:
        try:
            result = function(*args)
        except UsageError as error:
            failed = error
    if failed is not None:
        if not printed.text.strip():
            raise failed
        raise type(failed)(f"{failed}\n(it printed while loading:)\n{printed.text.rstrip()}") from failed
    return result, printed.text
