"""The package as a user gets it: the sdist and the wheel built from this tree
(``python -m build``: the sdist, then the wheel from the sdist), each installed
into a fresh venv and run from a folder outside the repository.

src/bnspec/spec and src/bnspec/reference are symlinks to the top-level spec/ and
reference/: the archives must hold real files, every module of those folders
(pyproject.toml finds the subpackages, so a new one is never left out), only
under bnspec/ -- ``import spec`` and ``import reference`` must fail where the
package is installed -- and the LICENSE.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from requirements import require_module

ROOT = Path(__file__).resolve().parents[1]
#: What the build reads: the project's metadata, the README and LICENSE it names, and the sources.
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "src", "spec", "reference")
#: The folders that install as bnspec.spec and bnspec.reference.
SOURCES = ("spec", "reference")

pytestmark = [pytest.mark.slow, require_module("build", "dev")]


def _run(argv: list, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv} exited with {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _modules(tree: Path) -> dict[str, bytes]:
    """bnspec/<folder>/<path> -> content, for every .py under spec/ and reference/ of ``tree``."""
    return {f"bnspec/{folder}/{path.relative_to(tree / folder).as_posix()}": path.read_bytes()
            for folder in SOURCES for path in sorted((tree / folder).rglob("*.py")) if "__pycache__" not in path.parts}


def _build(work: Path) -> None:
    """Copy the build's inputs (symlinks kept; no egg-info, no caches: the working tree is not
    touched) and build the sdist, then the wheel from it, into work/dist."""
    source = work / "source"
    source.mkdir(parents=True)
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    _run([sys.executable, "-m", "build", "--outdir", work / "dist", source], cwd=work)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """One build per session, shared by the xdist workers (a file lock in their common folder):
    the sdist, the wheel, and the modules of the tree it was built from."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    work = shared / "packaging"
    with open(shared / "packaging.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (work / "dist").is_dir():
            shutil.rmtree(work, ignore_errors=True)
            _build(work)
    (sdist,), (wheel,) = (work / "dist").glob("*.tar.gz"), (work / "dist").glob("*.whl")
    return {"sdist": sdist, "wheel": wheel, "modules": _modules(work / "source"),
            "license": (work / "source" / "LICENSE").read_bytes()}


def test_the_wheel_holds_every_module_only_under_bnspec_and_the_license(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        assert {n for n in names if n.endswith(".py")} == {"bnspec/__init__.py", *built["modules"]}
        for name, content in built["modules"].items():
            assert wheel.read(name) == content, name
        assert not [n for n in names if n.split("/")[0] not in ("bnspec", info)]  # no top-level spec/, reference/
        assert wheel.read(f"{info}/top_level.txt").decode().split() == ["bnspec"]
        assert "bnspec/py.typed" in names
        assert "bnspec/spec/releases.json" in names  # bnspec.spec.history reads it
        assert wheel.read(f"{info}/licenses/LICENSE") == built["license"]
        metadata = wheel.read(f"{info}/METADATA").decode()
    assert "License-Expression: MIT" in metadata.splitlines() and "License-File: LICENSE" in metadata.splitlines()
    assert b"MIT License" in built["license"] and b"Copyright (c) 2026 the bnspec authors" in built["license"]


def test_the_sdist_holds_every_module_as_a_real_file_and_the_license(built):
    with tarfile.open(built["sdist"]) as sdist:
        members = sdist.getmembers()
        top = members[0].name.split("/")[0]
        assert not [m.name for m in members if m.issym() or m.islnk()]
        files = {m.name.removeprefix(f"{top}/"): m for m in members if m.isfile()}
        modules = {name.removeprefix("src/"): m for name, m in files.items()
                   if name.startswith(("src/bnspec/spec/", "src/bnspec/reference/")) and name.endswith(".py")}
        assert set(modules) == set(built["modules"])
        for name, member in modules.items():
            assert sdist.extractfile(member).read() == built["modules"][name], name
        assert sdist.extractfile(files["LICENSE"]).read() == built["license"]
        assert "License-File: LICENSE" in sdist.extractfile(files["PKG-INFO"]).read().decode().splitlines()


#: Run in each venv, from a folder outside the repository.
PROBE = """
import json, sys
from pathlib import Path
import bnspec, bnspec.reference, bnspec.spec, bnspec.spec.cli
package = Path(bnspec.__file__).parent
bare = {}
for name in ("spec", "reference"):
    try:
        bare[name] = __import__(name).__file__
    except ModuleNotFoundError:
        bare[name] = None
print(json.dumps({"package": str(package), "prefix": sys.prefix, "bare": bare,
                  "modules": sorted(p.relative_to(package.parent).as_posix() for p in package.rglob("*.py"))}))
"""


def _install_and_check(artifact: Path, work: Path) -> tuple[dict, str]:
    venv, outside = work / "venv", work / "elsewhere"
    outside.mkdir(parents=True)
    # A fresh venv without a pip of its own: this pip installs into it (ensurepip would add seconds).
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=outside)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", artifact], cwd=outside)
    probe = json.loads(_run([python, "-c", PROBE], cwd=outside).stdout)
    check = _run([venv / "bin" / "bnspec", "check", "reference", "--max-examples", "5"], cwd=outside, timeout=900)
    return probe, check.stdout


def test_the_sdist_and_the_wheel_install_and_check_the_reference_outside_the_repo(built, tmp_path):
    kinds = ("sdist", "wheel")
    with ThreadPoolExecutor(len(kinds)) as pool:  # the two installs at once: most of the time is pip's
        results = dict(zip(kinds, pool.map(lambda k: _install_and_check(built[k], tmp_path / k), kinds),
                           strict=True))
    for kind, (probe, out) in results.items():
        venv = (tmp_path / kind / "venv").resolve()
        assert Path(probe["prefix"]).resolve() == venv, kind
        assert Path(probe["package"]).resolve().is_relative_to(venv), (kind, probe["package"])  # not this tree
        assert probe["bare"] == {"spec": None, "reference": None}, (kind, probe["bare"])
        assert set(probe["modules"]) == {"bnspec/__init__.py", *built["modules"]}, kind
        assert "conforms" in out and "does not conform" not in out, (kind, out[-2000:])
