"""A symbol's code, read from its file without importing it (an adapter's
framework need not be installed to build the docs)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from . import ROOT

#: Where the distribution's packages live (src/bnspec/spec and src/bnspec/reference are symlinks).
SRC = ROOT / "src"


@dataclass(frozen=True)
class Snippet:
    dotted: str
    path: Path  # relative to the repository's root, as the reader sees it
    first_line: int
    code: str


def _module_file(parts: list[str]) -> Path | None:
    base = SRC.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _find(body: list[ast.stmt], names: list[str]) -> ast.stmt | None:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == names[0]:
            if len(names) == 1:
                return node
            return _find(node.body, names[1:]) if isinstance(node, ast.ClassDef) else None
        if len(names) == 1 and isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == names[0] for t in targets):
                return node
    return None


def snippet(dotted: str) -> Snippet:
    """The source of ``dotted`` (a module, function, class, method or module-level
    assignment); ValueError naming it if it does not exist."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        file = _module_file(parts[:split])
        if file is None:
            continue
        text = file.read_text(encoding="utf-8")
        shown = Path(file.relative_to(SRC)).as_posix().replace("bnspec/", "", 1)
        if split == len(parts):
            return Snippet(dotted, Path(shown), 1, text)
        node = _find(ast.parse(text).body, parts[split:])
        if node is None:
            break
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        lines = text.splitlines()[start - 1 : node.end_lineno]
        return Snippet(dotted, Path(shown), start, "\n".join(lines))
    raise ValueError(f"dotted: no module, function, class or assignment {dotted!r} in {SRC}")
