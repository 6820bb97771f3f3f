"""The conformance matrix: every clause against the reference and every bundled
adapter whose framework is installed, from real runs, written as data.

``bnspec matrix`` writes ``docs/conformance/matrix.json`` and ``matrix.md``,
stamped with the bnspec that ran them (:func:`bnspec.spec.about.identity`).
Each adapter's deviations are explained by its ``FINDINGS``: clause ID -> a
plain str, or a :class:`Deviation` that quotes a root cause shared with other
findings.  The JSON keeps, per target, each cause once (``causes``: its
constant's name -> its text) and, per failing cell, the finding's ``detail``
and the keys of its ``causes``; :func:`explanation` gives back the finding's
whole text.  A FAIL without an explanation is marked ``unexplained`` (and fails
the tests).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from . import about
from .adapters import ADAPTERS, EXTRAS
from .clauses import all_clauses
from .errors import Status, TargetError

#: The layout of matrix.json: 2 stamps the bnspec that wrote it and keeps each root cause once per
#: target (1, unversioned, had a whole ``finding`` text per cell).
FORMAT = 2
#: The detail of a FAIL no finding explains.
UNEXPLAINED = "unexplained"

#: adapter name (or its extra, for the variants of one framework) -> the distributions whose versions the
#: matrix records.
DISTRIBUTIONS = {
    "reference": ("numpy",),
    "torch": ("torch",),
    "flax": ("flax", "jax"),
    "flax-fast-variance": ("flax", "jax"),
    "keras": ("keras", "jax"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "tinygrad": ("tinygrad",),
    "mlx": ("mlx",),
    "onnx-reference": ("onnx",),
    "tensorflow": ("tensorflow-cpu",),
    "keras-torch": ("keras", "torch"),
    "optax": ("optax", "jax"),
}


def compose(detail: str, causes: Sequence[str]) -> str:
    """A finding's text from its detail and the texts of its causes: ``"{detail} {cause}."``, several
    causes joined by ``"; and "``; without a detail, the causes alone; without a cause, the detail."""
    if not causes:
        return detail
    shared = "; and ".join(causes) + "."
    return f"{detail} {shared}" if detail else shared


class Deviation(str):
    """A finding whose root cause other findings share: ``Deviation(detail, CAUSE)``, where ``CAUSE`` is
    a module-level constant of the adapter's module (a sentence without its final period).  It is the
    str :func:`compose` makes of them -- the finding's text, wherever a finding is read as text -- and
    keeps ``detail`` and ``causes`` apart, so that the matrix states each cause once per target, under
    its constant's name."""

    detail: str
    causes: tuple[str, ...]

    def __new__(cls, detail: str, *causes: str) -> Deviation:
        if not causes:
            raise TypeError("a Deviation quotes at least one cause; a finding of its own is a plain str")
        self = super().__new__(cls, compose(detail, causes))
        self.detail, self.causes = detail, causes
        return self

    def __getnewargs__(self) -> tuple[str, ...]:  # type: ignore[override]  # copy and pickle rebuild it from its parts
        return (self.detail, *self.causes)


def _versions(name: str) -> dict[str, str]:
    found = {}
    for dist in DISTRIBUTIONS.get(name, DISTRIBUTIONS.get(EXTRAS.get(name, ""), ())):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def _adapter(name: str) -> tuple[ModuleType, type]:
    module_name, _, class_name = ADAPTERS[name].partition(":")
    module = importlib.import_module(module_name)
    return module, getattr(module, class_name)


def findings(name: str) -> dict[str, str]:
    """The explained deviations of adapter ``name`` (its class's ``FINDINGS``, else its module's): clause
    ID -> the finding, a str (a :class:`Deviation` where it quotes a shared cause)."""
    if name not in ADAPTERS:
        return {}
    module, cls = _adapter(name)
    return dict(getattr(cls, "FINDINGS", getattr(module, "FINDINGS", {})))


def causes(name: str) -> dict[str, str]:
    """The root causes the findings of adapter ``name`` quote: the name of each one's module-level
    constant -> its text.  ValueError if a :class:`Deviation` quotes a text that is no such constant."""
    if name not in ADAPTERS:
        return {}
    module = _adapter(name)[0]
    constants = {value: key for key, value in reversed(vars(module).items())
                 if key.isupper() and isinstance(value, str)}
    found = {}
    for clause_id, finding in findings(name).items():
        for cause in getattr(finding, "causes", ()):
            if cause not in constants:
                raise ValueError(f"{name}: a cause {clause_id} quotes is no module-level constant of "
                                 f"{module.__name__}: {cause[:80]}...")
            found[constants[cause]] = cause
    return found


def _explained(finding: str | None, keys: dict[str, str]) -> dict:
    """A failing cell's explanation: the finding's detail and the keys of the causes it quotes."""
    if finding is None:
        return {"detail": UNEXPLAINED, "causes": []}
    quoted = getattr(finding, "causes", ())
    return {"detail": getattr(finding, "detail", str(finding)), "causes": [keys[c] for c in quoted]}


def explanation(column: dict, clause_id: str) -> str | None:
    """The whole text of the finding that explains ``clause_id``'s cell in a matrix column (its detail,
    then its causes, as :func:`compose` joins them); None for a cell without one."""
    cell = column.get("clauses", {}).get(clause_id, {})
    if "detail" not in cell:
        return None
    return compose(cell["detail"], [column["causes"][key] for key in cell["causes"]])


def deviations(column: dict) -> list[tuple[str | None, list[str]]]:
    """A column's explained cells by root cause: first each finding that shares no cause, alone, as
    ``(None, [clause ID])``; then each cause's key with the clauses it explains (in the column's order of
    clauses, the causes in the order of their first clause).  A finding with two causes is under both."""
    shared: dict[str, list[str]] = {}
    alone: list[tuple[str | None, list[str]]] = []
    for clause_id, cell in column.get("clauses", {}).items():
        if "detail" not in cell:
            continue
        for key in cell["causes"]:
            shared.setdefault(key, []).append(clause_id)
        if not cell["causes"]:
            alone.append((None, [clause_id]))
    return [*alone, *shared.items()]


def column(name: str, max_examples: int, seed: int) -> dict:
    """Run every clause against ``name`` under its own profile."""
    # imported here, not above: the adapters import this module for Deviation, and a process that
    # only serves an adapter's layer (adapters/in_child.py) needs no runner
    from .session import RunOptions, Session

    try:
        session = Session(RunOptions(name, max_examples=max_examples, seed=seed))
    except TargetError as error:
        return {"target": name, "installed": False, "reason": str(error), "versions": _versions(name)}
    explained, keys = findings(name), {text: key for key, text in causes(name).items()}
    cells: dict[str, dict[str, Any]] = {}
    with session:
        results = session.run(session.clauses())
    for result in results:
        cell: dict[str, Any] = {"status": result.status.value, "seconds": round(result.seconds, 3),
                                "worst_error_over_tolerance": result.worst,
                                "worst_error_eps_cond": result.worst_units}
        if result.status in (Status.FAIL, Status.ERROR):
            cell["message"] = result.message
            cell.update(_explained(explained.get(result.clause.id), keys))
        cells[result.clause.id] = cell
    for clause in all_clauses():  # the other protocol's clauses: not of this target's kind
        cells.setdefault(clause.id, {"status": Status.NOT_APPLICABLE.value, "seconds": 0.0,
                                     "worst_error_over_tolerance": 0.0, "worst_error_eps_cond": None})
    quoted = {key for cell in cells.values() for key in cell.get("causes", ())}
    return {"target": name, "installed": True, "profile": session.profile, "versions": _versions(name),
            "causes": {key: text for text, key in keys.items() if key in quoted}, "clauses": cells}


def units(cell: dict) -> str | None:
    """A cell's worst error in units of eps * cond, in two significant digits (``0.8``, ``29``, ``460``,
    ``1.2e8``, ``6.5e-16``); None where the clause measured none."""
    value = cell.get("worst_error_eps_cond")
    if value is None:
        return None
    text = f"{value:.2g}"
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    return f"{float(text):.0f}" if 0 < int(exponent) < 4 else f"{mantissa}e{int(exponent)}"


def cell_text(cell: dict) -> str:
    """A status, with the worst error in units of eps * cond where the clause measured one: ``pass (0.8)``."""
    found = units(cell)
    return cell["status"] if found is None else f"{cell['status']} ({found})"


def stamp(matrix: dict) -> str:
    """The bnspec that generated ``matrix``, as :func:`bnspec.spec.about.stamp` writes it."""
    return about.stamp(matrix["bnspec"])


def markdown(matrix: dict) -> str:
    """The matrix as a Markdown table, then every deviation with its explanation, each root cause
    once per target with the clauses it explains; a numeric clause's cell adds its worst error in
    units of eps * cond (machine epsilon of the checked dtype times the condition of the input),
    e.g. ``pass (0.8)``."""
    columns = [c for c in matrix["columns"] if c["installed"]]
    head = "| clause | level | " + " | ".join(f"{c['target']} ({c['profile']})" for c in columns) + " |"
    lines = [f"Generated by {stamp(matrix)}.", "", head, "|" + "---|" * (2 + len(columns))]
    for clause in all_clauses():
        cells = [cell_text(c["clauses"][clause.id]) for c in columns]
        lines.append(f"| {clause.id} | {clause.level} | "
                     + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Versions: " + "; ".join(
        f"{c['target']}: " + ", ".join(f"{k} {v}" for k, v in c["versions"].items()) for c in matrix["columns"]))
    lines.append("")
    for c in columns:
        for key, clause_ids in deviations(c):
            explained = [(cid, c["clauses"][cid]) for cid in clause_ids]
            if key is None:
                cid, cell = explained[0]
                lines.append(f"- **{c['target']} {cid}** ({cell['status']}): {cell['detail']}")
                continue
            lines.append(f"- **{c['target']}**, {len(explained)} clauses: {compose('', [c['causes'][key]])}")
            lines += [f"  - **{cid}** ({cell['status']})" + (f": {cell['detail']}" if cell["detail"] else "")
                      for cid, cell in explained]
    missing = [c for c in matrix["columns"] if not c["installed"]]
    for c in missing:
        lines.append(f"- **{c['target']}** not run: {c['reason']}")
    return "\n".join(lines) + "\n"


def build(names: list[str], max_examples: int, seed: int = 0) -> dict:
    """The matrix of the targets ``names``: each one's column, and what ran them (bnspec, the machine)."""
    return {
        "format": FORMAT,
        "bnspec": about.identity(),
        "machine": {"python": platform.python_version(), "system": platform.system(),
                    "machine": platform.machine()},
        "options": {"max_examples": max_examples, "seed": seed},
        "clauses": [c.id for c in all_clauses()],
        "columns": [column(name, max_examples, seed) for name in names],
    }


def write(matrix: dict, folder: Path) -> None:
    """``matrix.json`` and ``matrix.md`` into ``folder``."""
    from . import report  # here, as the session in column()

    report.write_file(folder / "matrix.json", json.dumps(matrix, indent=2) + "\n")
    report.write_file(folder / "matrix.md", markdown(matrix))
