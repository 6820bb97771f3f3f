"""Which bnspec this is: its version, the commit of its source, and how to cite it.

The version has one home, pyproject.toml's ``version``, read from the installed
distribution's metadata.  The commit is read from git when this package runs
from its own source tree (an editable install or a clone on ``sys.path``), with
``+changes`` when the tree differs from that commit; an installed wheel has no
commit, and says so.  Every report (the text header, ``--json``, case files),
the conformance matrix and every page of the site carry :func:`stamp`, so a
verdict can be traced to the specification that gave it.

A clause is cited by version and ID: ``bnspec 0.1.0, BN-NORM-2``.  IDs are
stable; a renamed clause keeps its old ID in :mod:`bnspec.spec.clauses.history`.
"""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
from collections.abc import Mapping
from pathlib import Path

#: The distribution's name on an index and in pip.
DISTRIBUTION = "bnspec"
#: The source tree this module belongs to when it runs from a clone: the folder of pyproject.toml
#: (the package's ``spec`` folder is a link to the tree's top-level ``spec/``).
SOURCE_TREE = Path(__file__).resolve().parents[1]


@functools.cache
def version() -> str:
    """The installed distribution's version (pyproject.toml's), e.g. ``0.1.0``."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a tree that was never installed
        return "unknown"


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(SOURCE_TREE), *args], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def commit() -> str | None:
    """The short commit of the source tree this package runs from, ``+changes`` appended when its
    files differ from that commit; None for an installed wheel (no tree of its own) or without git.
    The tree must be bnspec's own: a wheel installed inside another project's repository is not."""
    if not (SOURCE_TREE / "pyproject.toml").is_file() or not (SOURCE_TREE / ".git").exists():
        return None
    head = _git("rev-parse", "--short=10", "HEAD")
    if not head:
        return None
    changed = _git("status", "--porcelain", "--untracked-files=no")
    return head + ("+changes" if changed else "")


def stamp(recorded: Mapping[str, str | None] | None = None) -> str:
    """``bnspec 0.1.0 (commit 0123456789)``, or ``bnspec 0.1.0`` where no commit is known: this bnspec,
    or the one an :func:`identity` recorded (the matrix's)."""
    found = recorded if recorded is not None else identity()
    return f"{DISTRIBUTION} {found['version']}" + (f" (commit {found['commit']})" if found.get("commit") else "")


def identity() -> dict[str, str | None]:
    """The version and the commit, as the JSON report, the case files and the matrix record them."""
    return {"version": version(), "commit": commit()}


def citation(clause_id: str) -> str:
    """How to cite a clause: ``bnspec 0.1.0, BN-NORM-2``."""
    return f"{DISTRIBUTION} {version()}, {clause_id}"
