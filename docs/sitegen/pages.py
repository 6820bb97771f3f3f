"""Pages written as files by the scripts outside the build (bench/run.py, mutation/page.py): where a
translation of a page lives, and a Markdown table.  Standard library only: the scripts import it by path."""

from __future__ import annotations

from pathlib import Path


def translation(page: Path, language: str) -> Path:
    """The page of ``language``: ``page`` itself in English, else its suffix file beside it
    (docs/bench.md -> docs/bench.zh-TW.md), as mkdocs-static-i18n's ``docs_structure: suffix`` reads it."""
    return page if language == "en" else page.with_name(f"{page.stem}.{language}{page.suffix}")


def table(head: str, rows: list[list[str]]) -> list[str]:
    """A Markdown table's lines: ``head`` holds the column titles separated by " | "."""
    titles = head.split(" | ")
    return [f"| {' | '.join(titles)} |", "|" + "---|" * len(titles), *(f"| {' | '.join(row)} |" for row in rows)]
