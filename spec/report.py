"""The runner's output: the per-clause table, failure details and JSON."""

from __future__ import annotations

import json
import os
import shlex
import tempfile
import textwrap
from collections import Counter
from pathlib import Path
from typing import TextIO

from .runner import DEFAULT_MAX_EXAMPLES, ClauseResult

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


def run_flags(profile: str | None = None, max_examples: int = DEFAULT_MAX_EXAMPLES, timeout: float | None = None,
              memory_limit: float | None = None) -> str:
    """The options of a run, besides target, clause and seed, that a failure's "reproduce the
    run" line must repeat to draw the same examples against the same target (``memory_limit``:
    the run was isolated)."""
    flags = []
    if profile:
        flags.append(f"--profile {shlex.quote(profile)}")
    if max_examples != DEFAULT_MAX_EXAMPLES:
        flags.append(f"--max-examples {max_examples}")
    if timeout is not None:
        flags.append(f"--timeout {timeout:g}")
    if memory_limit is not None:
        flags.append(f"--isolate --memory-limit {memory_limit:g}")
    return "".join(" " + flag for flag in flags)


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
    parts.append(f"reproduce the run: bnspec check {shlex.quote(result.target)}{result.run_flags} --clause {c.id} "
                 f"--seed {result.seed}")
    if result.reproducer:
        parts.append("reproduce with numpy:\n" + textwrap.indent(result.reproducer, "    "))
    return "\n".join(parts)


def summary(results: list[ClauseResult]) -> str:
    counts = Counter(r.status for r in results)
    return ", ".join(f"{counts.get(s, 0)} {label}" for s, label in
                     (("pass", "passed"), ("FAIL", "failed"), ("n/a", "not applicable"), ("error", "errors")))


def summary_counts(cells) -> str:
    """'N pass, N FAIL, ...' for matrix cells (dicts with a 'status')."""
    counts = Counter(cell["status"] for cell in cells)
    return ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pass", "FAIL", "n/a", "error"))


def print_failures(results: list[ClauseResult], out: TextIO) -> None:
    for result in results:
        if result.status in ("FAIL", "error"):
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


def write_json(path: str | Path, results: list[ClauseResult], meta: dict) -> None:
    """Write ``{"meta": ..., "results": [...]}`` atomically; each result has id, level, status, message."""
    _atomic_write(Path(path), json.dumps({"meta": meta, "results": [r.as_dict() for r in results]}, indent=2))


def write_junit(path: str | Path, results: list[ClauseResult], suite: str) -> None:
    """Write the results as a JUnit XML test suite, atomically; n/a clauses are 'skipped'."""
    from xml.etree import ElementTree as ET

    counts = Counter(r.status for r in results)
    root = ET.Element("testsuite", name=suite, tests=str(len(results)), failures=str(counts.get("FAIL", 0)),
                      errors=str(counts.get("error", 0)), skipped=str(counts.get("n/a", 0)))
    for r in results:
        case = ET.SubElement(root, "testcase", classname=f"bnspec.{r.clause.group}", name=r.clause.id,
                             time=f"{r.seconds:.4f}")
        if r.status in ("FAIL", "error"):
            tag = "failure" if r.status == "FAIL" else "error"
            ET.SubElement(case, tag, message=r.message[:500]).text = details(r)
        elif r.status == "n/a":
            ET.SubElement(case, "skipped", message=r.message)
    _atomic_write(Path(path), ET.tostring(root, encoding="unicode", xml_declaration=True))
