"""Writing and reading a set of golden vectors.

A set is a folder::

    manifest.json                    format, format_version, bnspec_version, layouts, dtypes, clause IDs,
                                     files (each with its clause, profile, dtype, layout and sha256)
    vectors.schema.json              the JSON Schema of the manifest and of every case file
    cases/common/ID.json             float64, the lecture's layout: a clause no profile changes
    cases/PROFILE/ID.json            float64, the lecture's layout: a clause whose answer depends on the profile
    cases/DTYPE/ID.json              a dtype clause's set in float32 or float16 (the lecture's layout)
    cases/LAYOUT/common/ID.json      every float64 file again in channels_first or channels_last,
    cases/LAYOUT/PROFILE/ID.json     1 to 3 spatial dims

Every float is a hex-float string (``float.hex()``, exact; see
:mod:`bnspec.spec.process.codec`); arrays are ``{"dtype", "shape", "data"}``
in the file's layout (``units_first``: z is ``n x m``, per-unit arrays
``n x 1``; ``channels_first``: z is ``(N, C, *S)``, ``channels_last``:
``(N, *S, C)``, per-channel arrays ``(C,)``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..clauses import REGISTRY, Clause
from ..errors import UsageError
from ..layouts import Layout
from ..process import codec
from ..profiles import PROFILES, Profile
from . import COMMON, DTYPES, FORMAT, FORMAT_VERSION, LAYOUTS, PER_DTYPE, PER_PROFILE, covered, not_covered
from .cases import arrangement_of, cases, relayout
from .schema import schema

FLOAT_ENCODING = "hex: every float is a string of Python's float.hex() / C99 printf('%a'), exact"


class VectorsError(UsageError):
    """The folder is not a readable set of vectors of this format: a usage error (exit 2, one line)."""


def bnspec_version() -> str:
    try:
        return importlib.metadata.version("bnspec")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def to_json(value: Any) -> Any:
    """Arrays and floats to their exact JSON form; containers recursively."""
    if isinstance(value, np.ndarray):
        return codec.encode_array(value)
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, float | np.floating):
        return codec.encode_scalar(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def _clause_record(clause: Clause) -> dict[str, Any]:
    return {"id": clause.id, "level": clause.level, "title": clause.title, "statement": clause.statement,
            "formula": clause.formula}


def _profile_record(profile: Profile) -> dict[str, Any]:
    return {"name": profile.name, "momentum_weighs": profile.momentum_weighs, "running_var": profile.running_var,
            "single_example": profile.single_example}


def _text(document: Any) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def case_file(clause: Clause, profile: Profile | None, dtype: str, layout: Layout,
              cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "cases", "format": FORMAT, "format_version": FORMAT_VERSION, "layout": layout.value,
            "dtype": dtype, "clause": _clause_record(clause), "profile": _profile_record(profile) if profile else None,
            "cases": to_json(cases)}


def folder(layout: Layout, group: str) -> str:
    """The folder of a file: ``cases/GROUP`` (GROUP is common, a profile or a dtype) in the lecture's
    layout, ``cases/LAYOUT/GROUP`` in a channel layout."""
    return f"cases/{group}" if layout is Layout.UNITS_FIRST else f"cases/{layout.value}/{group}"


def _jobs(clause: Clause) -> list[tuple[str, Profile | None, str, list[dict[str, Any]]]]:
    """(group, profile, dtype, cases) of each file of ``clause`` in the lecture's layout."""
    if clause.id in COMMON:
        return [("common", None, "float64", cases(clause.id, COMMON[clause.id]))]
    if clause.id in PER_PROFILE:
        return [(p.name, p, "float64", cases(clause.id, PER_PROFILE[clause.id], p.name)) for p in PROFILES.values()]
    situations, dtypes = PER_DTYPE[clause.id]
    return [("common" if d == "float64" else d, None, d, cases(clause.id, situations, dtype=d)) for d in dtypes]


@functools.cache
def _built() -> tuple[str, tuple[tuple[str, str], ...]]:
    files = []
    texts: dict[str, str] = {}
    for clause in covered():
        for group, profile, dtype, made in _jobs(clause):
            for layout in LAYOUTS:
                if layout is not Layout.UNITS_FIRST and dtype != "float64":
                    continue  # the channel layouts have the float64 files
                laid = made if layout is Layout.UNITS_FIRST else [
                    relayout(case, layout, arrangement_of(i)) for i, case in enumerate(made)]
                relative = f"{folder(layout, group)}/{clause.id}.json"
                texts[relative] = _text(case_file(clause, profile, dtype, layout, laid))
                files.append({"path": relative, "clause": clause.id, "profile": profile.name if profile else None,
                              "dtype": dtype, "layout": layout.value, "cases": len(laid),
                              "sha256": hashlib.sha256(texts[relative].encode("utf-8")).hexdigest()})
    manifest = {
        "kind": "manifest", "format": FORMAT, "format_version": FORMAT_VERSION, "bnspec_version": bnspec_version(),
        "float_encoding": FLOAT_ENCODING, "layouts": [layout.value for layout in LAYOUTS], "dtypes": list(DTYPES),
        "clauses": [c.id for c in covered()], "profiles": list(PROFILES),
        "not_covered": {c.id: not_covered(c) for c in REGISTRY.values() if not_covered(c)},
        "files": files,
    }
    texts["vectors.schema.json"] = _text(schema())
    texts["manifest.json"] = _text(manifest)
    return json.dumps(manifest), tuple(texts.items())


def build() -> tuple[dict[str, Any], dict[str, str]]:
    """The whole set, in memory: its manifest and the text of every file by its relative path (made
    once per process: it is a function of this bnspec alone)."""
    manifest, texts = _built()
    return json.loads(manifest), dict(texts)


def export(directory: str | Path) -> dict[str, Any]:
    """Write the whole set into ``directory``; return the manifest."""
    manifest, texts = build()
    for relative, text in texts.items():
        _write(Path(directory) / relative, text)
    return manifest


def verify(directory: str | Path, manifest: dict[str, Any]) -> None:
    """Require the set in ``directory`` to be the one this bnspec writes: the same files, clauses and
    profiles, each file's sha256 the regenerated one's (:func:`read_cases` then checks every file
    against its sha256).  The expected values and tolerances are the specification's, never a
    file's: a set whose tolerances were loosened, whose values were removed or made NaN, or whose
    manifest was trimmed or points outside its folder is refused, not checked against."""
    expected, _ = build()
    for key in ("clauses", "profiles", "layouts", "dtypes", "files"):
        if manifest.get(key) != expected[key]:
            raise VectorsError(f"{Path(directory) / 'manifest.json'}: its {key} differ from the set this bnspec "
                               f"{bnspec_version()} writes (export the set again: bnspec vectors export DIR)")


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise VectorsError(f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise VectorsError(f"{path} is not JSON: {error}") from None


#: what the manifest records of each case file.
_ENTRY = {"path", "clause", "profile", "dtype", "layout", "cases", "sha256"}


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of the set in ``directory``, checked for its format and version."""
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        raise VectorsError(f"{directory}: no manifest.json (write a set with: bnspec vectors export DIR)")
    manifest = _load(path)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("kind") != "manifest":
        raise VectorsError(f"{path} is not a {FORMAT} manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise VectorsError(f"{path} has format version {manifest.get('format_version')!r}; this bnspec reads "
                           f"version {FORMAT_VERSION} (export the set again with this bnspec)")
    files = manifest.get("files")
    entries_ok = isinstance(files, list) and all(
        isinstance(f, dict) and _ENTRY <= f.keys() and isinstance(f["path"], str) for f in files)
    lists = all(isinstance(manifest.get(key), list) for key in ("clauses", "profiles", "layouts", "dtypes"))
    if not (entries_ok and lists):
        raise VectorsError(f"{path} is malformed: it needs lists of clauses, profiles, layouts, dtypes and files "
                           f"(each file with {', '.join(sorted(_ENTRY))})")
    unknown = [c for c in manifest["clauses"] if c not in REGISTRY]
    if unknown:
        raise VectorsError(f"{path} names clauses this bnspec does not know: {', '.join(map(str, unknown))}")
    return manifest


def read_cases(directory: str | Path, entry: dict[str, Any]) -> dict[str, Any]:
    """One case file of the manifest, its sha256 checked."""
    path = Path(directory) / entry["path"]
    try:
        data = path.read_bytes()
    except OSError as error:
        raise VectorsError(f"cannot read {path}: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise VectorsError(f"{path} does not match the manifest's sha256: the file was changed")
    return _load(path)
