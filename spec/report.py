"""The runner's output: the per-clause table, failure details and JSON."""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import textwrap
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from . import about
from .clauses import Clause
from .diagnosis import Diagnosis
from .errors import Status, UsageError
from .runner import ClauseResult

COLUMNS = f"{'clause':<13} {'level':<6} {'result':<6} {'time':>7} {'eps*cond':>8}  statement"
#: ``eps*cond``: an error in units of the machine epsilon of the checked dtype times the input's
#: condition and the quantity's scale (spec/tolerances.py, docs/numerics.md).  One value per case:
#: a failing clause shows its failing check's worst error -- the number its message ends with, and
#: what a replay of its case shows -- a passing clause the worst over all its examples.
LEGEND = ("eps*cond: worst error / (machine eps x condition x scale); FAIL: the failing check's (as in its "
          "message and on replay), pass: the worst over all examples, -: no such check")
#: The table's header: the columns, and the legend under them.
HEADER = f"{COLUMNS}\n{LEGEND}"

#: The repository's mkdocs.yml: its ``site_url`` starts the links to the clauses' pages (an installed
#: wheel has none).
MKDOCS = Path(__file__).resolve().parents[1] / "mkdocs.yml"
#: The source of a clause's page in docs/, one page per subject (docs/sitegen/links.py renders and links it).
CLAUSE_PAGE = "spec/{subject}.md"


@functools.cache
def site_url() -> str:
    """``site_url`` of mkdocs.yml, read once ('' when absent or empty)."""
    try:
        text = MKDOCS.read_text(encoding="utf-8")
    except OSError:
        return ""
    found = re.search(r"^site_url:[ \t]*(.*?)[ \t]*$", text, re.MULTILINE)
    return found.group(1).strip("'\"") if found else ""


def clause_address(clause: Clause) -> str:
    """Where ``clause`` is explained in the documentation site, relative to the site's root: its page as
    mkdocs serves it (:data:`CLAUSE_PAGE` without ``.md``) and its anchor, the ID: ``spec/layer/#BN-NORM-2``."""
    return CLAUSE_PAGE.format(subject=clause.subject).removesuffix(".md") + f"/#{clause.id}"


def clause_url(clause: Clause) -> str:
    """:func:`clause_address` under mkdocs.yml's ``site_url`` ('' without one)."""
    base = site_url()
    return f"{base.rstrip('/')}/{clause_address(clause)}" if base else ""


def clause_reference(clause: Clause) -> str:
    """The line a failure gives its clause's page: the full address where the site's is known, else the
    page in the documentation site (``make docs`` builds it from a clone), and how to cite the clause."""
    where = clause_url(clause) or f"{clause_address(clause)} in bnspec's documentation site"
    return f"{where} (cite as: {about.citation(clause.id)})"


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
        f"the clause: {clause_reference(c)}",
    ]
    if result.counterexample:
        parts.append("counterexample: " + textwrap.indent(result.counterexample, "  ").lstrip())
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


def print_failures(results: list[ClauseResult], out: TextIO | Console, diagnosis: Diagnosis | None = None) -> None:
    """The failure section: the root causes, one line each, then each failure's details."""
    if diagnosis is not None and diagnosis.lines():
        print("", file=out)
        for line in diagnosis.lines():
            print(line, file=out)
    for result in results:
        if result.status in (Status.FAIL, Status.ERROR):
            print("\n" + details(result), file=out)


#: Characters XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` with every character XML cannot hold written as ``\\xNN`` (or ``\\uNNNN``)."""
    return _NOT_XML.sub(lambda c: f"\\x{ord(c.group()):02x}" if ord(c.group()) < 256 else
                        f"\\u{ord(c.group()):04x}", text)


def check_destination(path: str | Path, what: str) -> Path:
    """``path`` made absolute (an implementation that changes the working folder cannot move it),
    checked before the run: UsageError when it is a folder or its folder cannot be made."""
    absolute = Path(os.path.abspath(path))
    if absolute.is_dir():
        raise UsageError(f"{what}: {str(path)!r} is a folder, not a file")
    parent = absolute.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{what}: {str(parent)!r} is not a folder")
    return absolute


def write_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, never losing it and never replacing what ``path`` is.

    A regular file (or none yet, or a symlink to one) is written atomically: a temporary file
    beside it, then a rename, so a killed run leaves no half file; its mode follows the umask.
    Anything else -- a FIFO, a device such as ``/dev/null`` -- is written through, not replaced.
    Text that UTF-8 cannot hold (a lone surrogate) is written escaped, never dropped."""
    data = text.encode("utf-8", errors="backslashreplace")
    target = path.resolve()  # a symlink is followed: its target is written, the link stays
    if target.exists() and not target.is_file():
        with open(target, "wb") as handle:
            handle.write(data)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Console:
    """The run's standard output, until its reader goes away: after a broken pipe (``bnspec check |
    head -1``) nothing more is printed, and the run, its reports and its exit status go on."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.open = True

    def _closed(self) -> None:
        self.open = False
        try:  # so that Python's own flush at exit meets no broken pipe either
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def write(self, text: str) -> int:
        if self.open:
            try:
                try:
                    self.stream.write(text)
                except UnicodeEncodeError:  # a lone surrogate the implementation printed: shown escaped
                    encoding = getattr(self.stream, "encoding", None) or "utf-8"
                    self.stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
            except BrokenPipeError:
                self._closed()
        return len(text)

    def flush(self) -> None:
        if self.open:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._closed()


def write_json(path: str | Path, results: list[ClauseResult], meta: dict[str, Any],
               diagnosis: Diagnosis | None = None) -> None:
    """Write ``{"meta": ..., "results": [...], "root_causes": ...}`` atomically; each result has id, level,
    status, message and (when it failed) the ``diagnoses`` that explain it."""
    found = diagnosis or Diagnosis()
    document = {"meta": meta,
                "results": [{**r.as_dict(), "diagnoses": found.by_clause.get(r.clause.id, [])} for r in results],
                **found.as_dict()}
    write_file(Path(path), json.dumps(document, indent=2))


def write_junit(path: str | Path, results: list[ClauseResult], suite: str) -> None:
    """Write the results as a JUnit XML test suite, atomically; n/a clauses are 'skipped'; the suite's
    properties ``bnspec.version`` and ``bnspec.commit`` say which bnspec gave them."""
    from xml.etree import ElementTree as ET

    counts = Counter(r.status for r in results)
    root = ET.Element("testsuite", name=xml_text(suite), tests=str(len(results)),
                      failures=str(counts.get(Status.FAIL, 0)), errors=str(counts.get(Status.ERROR, 0)),
                      skipped=str(counts.get(Status.NOT_APPLICABLE, 0)))
    properties = ET.SubElement(root, "properties")  # which bnspec gave the verdicts
    for key, value in about.identity().items():
        ET.SubElement(properties, "property", name=f"bnspec.{key}", value=xml_text(str(value)))
    for r in results:
        case = ET.SubElement(root, "testcase", classname=f"bnspec.{r.clause.group}", name=r.clause.id,
                             time=f"{r.seconds:.4f}")
        if r.status in (Status.FAIL, Status.ERROR):
            tag = "failure" if r.status is Status.FAIL else "error"
            ET.SubElement(case, tag, message=xml_text(r.message[:500])).text = xml_text(details(r))
        elif r.status is Status.NOT_APPLICABLE:
            ET.SubElement(case, "skipped", message=xml_text(r.message))
    write_file(Path(path), ET.tostring(root, encoding="unicode", xml_declaration=True))
