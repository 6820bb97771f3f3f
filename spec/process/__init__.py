"""Implementations in other languages: a child process that speaks a line-delimited
JSON protocol (:mod:`.protocol`, :mod:`.proxy`), and the exact JSON encoding of
arrays it shares with the golden vectors (:mod:`.codec`)."""

from __future__ import annotations

EXEC_PREFIX = "exec:"


def exec_spec(command: str) -> str:
    """The TARGET string of ``--exec COMMAND``: ``exec:COMMAND``."""
    return EXEC_PREFIX + command
