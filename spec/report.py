"""The runner's output: the per-clause table, failure details and JSON."""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from .errors import Status
from .runner import ClauseResult

#: ``eps*cond``: the worst error the clause observed, in units of the machine epsilon of the
#: checked dtype times the input's condition and the quantity's scale (see spec/tolerances.py);
#: "-" for a clause that compares no numbers against a condition-scaled tolerance.
HEADER = f"{'clause':<13} {'level':<6} {'result':<6} {'time':>7} {'eps*cond':>8}  statement"


def accuracy(result: ClauseResult) -> str:
    """The worst error in units of eps * cond, as the table shows it ("-" when not measured)."""
    return "-" if result.worst_units is None else f"{result.worst_units:.3g}"


def row(result: ClauseResult) -> str:
    c = result.clause
    return (f"{c.id:<13} {c.level:<6} {result.status:<6} {result.seconds:>6.2f}s {accuracy(result):>8}  "
            f"{c.statement}")


def details(result: ClauseResult) -> str:
    """What a failure observed, what its clause requires, and how to reproduce it."""
    c = result.clause
    parts = [
        f"--- {c.id} ({c.level}) {result.status}: {c.title}",
        f"required: {c.statement}",
        f"observed: {result.message}",
    ]
    if result.counterexample:
        parts.append("minimal counterexample (hypothesis):\n" + textwrap.indent(result.counterexample, "  "))
    if result.output:
        parts.append("the implementation printed (captured):\n" + textwrap.indent(result.output.rstrip(), "  | "))
    if result.reproduce:
        parts.append(f"reproduce the run: {result.reproduce}")
    if result.reproducer:
        parts.append("reproduce with numpy:\n" + textwrap.indent(result.reproducer, "    "))
    return "\n".join(parts)


#: How the summary line names each status.
_COUNTED = {Status.PASS: "passed", Status.FAIL: "failed", Status.NOT_APPLICABLE: "not applicable",
            Status.ERROR: "errors"}


def summary(statuses: Iterable[Status | str]) -> str:
    """'N passed, N failed, N not applicable, N errors' for results' (or matrix cells') statuses."""
    counts = Counter(Status(s) for s in statuses)
    return ", ".join(f"{counts.get(s, 0)} {label}" for s, label in _COUNTED.items())


def print_failures(results: list[ClauseResult], out: TextIO) -> None:
    for result in results:
        if result.status in (Status.FAIL, Status.ERROR):
            print("\n" + details(result), file=out)


def _atomic_write(path: Path, text: str) -> None:
    """A temporary file in the same folder, then a rename: a killed run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, results: list[ClauseResult], meta: dict[str, Any]) -> None:
    """Write ``{"meta": ..., "results": [...]}`` atomically; each result has id, level, status, message."""
    _atomic_write(Path(path), json.dumps({"meta": meta, "results": [r.as_dict() for r in results]}, indent=2))


def write_junit(path: str | Path, results: list[ClauseResult], suite: str) -> None:
    """Write the results as a JUnit XML test suite, atomically; n/a clauses are 'skipped'."""
    from xml.etree import ElementTree as ET

    counts = Counter(r.status for r in results)
    root = ET.Element("testsuite", name=suite, tests=str(len(results)), failures=str(counts.get(Status.FAIL, 0)),
                      errors=str(counts.get(Status.ERROR, 0)), skipped=str(counts.get(Status.NOT_APPLICABLE, 0)))
    for r in results:
        case = ET.SubElement(root, "testcase", classname=f"bnspec.{r.clause.group}", name=r.clause.id,
                             time=f"{r.seconds:.4f}")
        if r.status in (Status.FAIL, Status.ERROR):
            tag = "failure" if r.status is Status.FAIL else "error"
            ET.SubElement(case, tag, message=r.message[:500]).text = details(r)
        elif r.status is Status.NOT_APPLICABLE:
            ET.SubElement(case, "skipped", message=r.message)
    _atomic_write(Path(path), ET.tostring(root, encoding="unicode", xml_declaration=True))
