"""The specification's history: what each release required, and what changed between releases.

Each release is recorded in ``releases.json`` beside this module, written once when the
release is made (:func:`record`): its version, its date, a note in each language of the
site, and a :func:`snapshot` of the specification -- every clause's ID and level, every
tolerance kind's factor ``K(m) = base + per_example m`` and the scalar tolerances.  The
changelog (docs/changelog.md) is computed from those records, so it lists every clause
added, retired, renamed or re-levelled and every tolerance changed, and the changes made
since the last release (:func:`unreleased`) show up before they are released.

Clause IDs are stable: an ID, once released, keeps its meaning.  A clause renamed keeps its
old ID in :data:`RENAMED` (old -> new), a clause dropped its reason in :data:`RETIRED`;
tests/test_history.py holds every released ID to one of the three.  A clause is cited as
``bnspec VERSION, ID`` (:func:`bnspec.spec.about.citation`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import tolerances
from .clauses import all_clauses

#: The record of every release, oldest first.
RELEASES_FILE = Path(__file__).with_name("releases.json")
#: Released clause IDs that now go by another ID: old -> new.
RENAMED: dict[str, str] = {}
#: Released clause IDs no longer in the specification: ID -> why.
RETIRED: dict[str, str] = {}
#: The scalar tolerances a snapshot records (spec/tolerances.py).
SCALARS = ("FD_RTOL", "FD_STEP", "TRAINING_DECREASE", "LOW_PRECISION_ROUNDINGS")


def snapshot() -> dict[str, Any]:
    """The specification as it stands: ``{"clauses": {ID: level}, "tolerances": {name: value}}``,
    a tolerance kind's value its factor as text (``16 + 2m``)."""
    kinds = {f"K {k.name}": f"{k.base:g} + {k.per_example:g}m" for k in tolerances.KINDS.values()}
    return {"clauses": {c.id: c.level for c in all_clauses()},
            "tolerances": {**kinds, **{name: f"{getattr(tolerances, name):g}" for name in SCALARS}}}


@dataclass(frozen=True)
class Release:
    version: str
    date: str  # ISO 8601
    notes: dict[str, str]  # language -> the release's note
    spec: dict[str, Any]  # its snapshot()


def releases(path: Path = RELEASES_FILE) -> list[Release]:
    """Every recorded release, oldest first."""
    return [Release(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]


@dataclass
class Changes:
    """What differs from one snapshot to the next."""

    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    relevelled: list[tuple[str, str, str]] = field(default_factory=list)  # ID, old level, new level
    tolerances: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # name, old, new

    def __bool__(self) -> bool:
        return any((self.added, self.retired, self.renamed, self.relevelled, self.tolerances))


def changes(before: dict[str, Any], after: dict[str, Any]) -> Changes:
    """The changes from snapshot ``before`` to ``after``, renames read from :data:`RENAMED`."""
    old, new = before["clauses"], after["clauses"]
    found = Changes()
    for clause_id in old:
        target = RENAMED.get(clause_id)
        if clause_id in new:
            if old[clause_id] != new[clause_id]:
                found.relevelled.append((clause_id, old[clause_id], new[clause_id]))
        elif target is not None and target in new:
            found.renamed.append((clause_id, target))
        else:
            found.retired.append(clause_id)
    renamed_to = {target for _, target in found.renamed}
    found.added = [c for c in new if c not in old and c not in renamed_to]
    names = dict.fromkeys([*before["tolerances"], *after["tolerances"]])
    found.tolerances = [(n, before["tolerances"].get(n), after["tolerances"].get(n)) for n in names
                        if before["tolerances"].get(n) != after["tolerances"].get(n)]
    return found


def unreleased(path: Path = RELEASES_FILE) -> Changes:
    """What changed since the last recorded release."""
    return changes(releases(path)[-1].spec, snapshot())


def record(version: str, date: str, notes: dict[str, str], path: Path = RELEASES_FILE) -> None:
    """Record a release of the specification as it stands (run once, when the release is made)."""
    entries = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    if any(entry["version"] == version for entry in entries):
        raise ValueError(f"version: {version!r} is already recorded in {path.name}")
    entries.append({"version": version, "date": date, "notes": notes, "spec": snapshot()})
    path.write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
