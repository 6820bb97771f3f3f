"""The conformance matrix: every clause against the reference and every bundled
adapter whose framework is installed, from real runs, written as data.

``bnspec matrix`` writes ``docs/conformance/matrix.json`` and ``matrix.md``.
Each adapter's deviations are explained by its module's ``FINDINGS``; a FAIL
without an explanation is marked ``unexplained`` (and fails the tests).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import platform
from pathlib import Path

from . import report
from .adapters import ADAPTERS, EXTRAS
from .clauses import all_clauses
from .errors import Status, TargetError
from .session import RunOptions, Session

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


def _versions(name: str) -> dict[str, str]:
    found = {}
    for dist in DISTRIBUTIONS.get(name, DISTRIBUTIONS.get(EXTRAS.get(name, ""), ())):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def findings(name: str) -> dict[str, str]:
    """The explained deviations of adapter ``name`` (its class's ``FINDINGS``, else its module's)."""
    if name not in ADAPTERS:
        return {}
    module_name, _, class_name = ADAPTERS[name].partition(":")
    module = importlib.import_module(module_name)
    return dict(getattr(getattr(module, class_name), "FINDINGS", getattr(module, "FINDINGS", {})))


def column(name: str, max_examples: int, seed: int) -> dict:
    """Run every clause against ``name`` under its own profile."""
    try:
        session = Session(RunOptions(name, max_examples=max_examples, seed=seed))
    except TargetError as error:
        return {"target": name, "installed": False, "reason": str(error), "versions": _versions(name)}
    explained = findings(name)
    cells = {}
    with session:
        results = session.run(session.clauses())
    for result in results:
        cell = {"status": result.status.value, "seconds": round(result.seconds, 3),
                "worst_error_over_tolerance": result.worst, "worst_error_eps_cond": result.worst_units}
        if result.status in (Status.FAIL, Status.ERROR):
            cell["message"] = result.message
            cell["finding"] = explained.get(result.clause.id, "unexplained")
        cells[result.clause.id] = cell
    for clause in all_clauses():  # the other protocol's clauses: not of this target's kind
        cells.setdefault(clause.id, {"status": Status.NOT_APPLICABLE.value, "seconds": 0.0,
                                     "worst_error_over_tolerance": 0.0, "worst_error_eps_cond": None})
    return {"target": name, "installed": True, "profile": session.profile, "versions": _versions(name),
            "clauses": cells}


def _cell(cell: dict) -> str:
    """A status, with the worst error in units of eps * cond where the clause measured one."""
    units = cell.get("worst_error_eps_cond")
    return cell["status"] if units is None else f"{cell['status']} ({units:.2g})"


def markdown(matrix: dict) -> str:
    """The matrix as a Markdown table, then every deviation with its explanation; a numeric
    clause's cell adds its worst error in units of eps * cond (machine epsilon of the checked
    dtype times the condition of the input), e.g. ``pass (0.8)``."""
    columns = [c for c in matrix["columns"] if c["installed"]]
    head = "| clause | level | " + " | ".join(f"{c['target']} ({c['profile']})" for c in columns) + " |"
    lines = [head, "|" + "---|" * (2 + len(columns))]
    for clause in all_clauses():
        cells = [_cell(c["clauses"][clause.id]) for c in columns]
        lines.append(f"| {clause.id} | {clause.level} | "
                     + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Versions: " + "; ".join(
        f"{c['target']}: " + ", ".join(f"{k} {v}" for k, v in c["versions"].items()) for c in matrix["columns"]))
    lines.append("")
    for c in columns:
        for clause_id, cell in c["clauses"].items():
            if "finding" in cell:
                lines.append(f"- **{c['target']} {clause_id}** ({cell['status']}): {cell['finding']}")
    missing = [c for c in matrix["columns"] if not c["installed"]]
    for c in missing:
        lines.append(f"- **{c['target']}** not run: {c['reason']}")
    return "\n".join(lines) + "\n"


def build(names: list[str], max_examples: int, seed: int = 0) -> dict:
    return {
        "machine": {"python": platform.python_version(), "system": platform.system(),
                    "machine": platform.machine()},
        "options": {"max_examples": max_examples, "seed": seed},
        "clauses": [c.id for c in all_clauses()],
        "columns": [column(name, max_examples, seed) for name in names],
    }


def write(matrix: dict, folder: Path) -> None:
    report.write_file(folder / "matrix.json", json.dumps(matrix, indent=2) + "\n")
    report.write_file(folder / "matrix.md", markdown(matrix))
