"""The `bnspec` command: table, JSON, exit status; and the package's import names."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bnspec.spec import about
from bnspec.spec.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_check_reference_prints_a_row_per_clause_and_writes_json(tmp_path, capsys):
    report = tmp_path / "out" / "results.json"
    junit = tmp_path / "out" / "results.xml"
    assert main(["check", "reference", "--clause", "BN-NORM", "--clause", "BN-RUN-1", "--json", str(report),
                 "--junit", str(junit)]) == 0
    out = capsys.readouterr().out
    for clause_id in ("BN-NORM-1", "BN-NORM-2", "BN-RUN-1"):
        assert any(line.startswith(clause_id) and " pass " in line for line in out.splitlines()), out
    results = json.loads(report.read_text())["results"]
    assert [r["id"] for r in results] == ["BN-NORM-1", "BN-NORM-2", "BN-RUN-1"]
    assert all({"id", "level", "status", "message"} <= set(r) for r in results)
    assert not list(report.parent.glob(".*.tmp"))
    # The report says which bnspec gave it: the version of pyproject.toml, the commit of this tree.
    meta = json.loads(report.read_text())["meta"]
    assert meta["bnspec"] == {"version": _pyproject_version(), "commit": about.commit()}
    assert about.stamp() in out.splitlines()[0]
    assert f'<property name="bnspec.version" value="{about.version()}" />' in junit.read_text()


def _pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_version_is_pyprojects_and_names_this_trees_commit(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith(f"bnspec {_pyproject_version()}")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=10", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    if head:  # a clone: the commit, marked when the tree has changes
        assert f"(commit {head}" in printed


def test_a_faulty_target_fails_with_a_reproducer(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    assert main(["check", "zoo.forward_faults:MissingGammaBN", "--clause", "BN-AFFINE-1"]) == 1
    out = capsys.readouterr().out
    assert "BN-AFFINE-1 (MUST) FAIL" in out and "required:" in out and "observed:" in out
    assert "impl.forward(z, gamma, beta, eps)" in out
    assert "--clause BN-AFFINE-1 --seed 0" in out
    assert "the clause: spec/layer/#BN-AFFINE-1" in out  # its page in the documentation site


def test_usage_errors_exit_2(capsys):
    assert main(["check", "no_such_module_xyz:thing"]) == 2
    assert main(["check", "reference", "--clause", "NO-SUCH"]) == 2
    assert main(["check", "reference", "--profile", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert err.count("bnspec:") == 3


def test_should_clauses_count_only_with_strict(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    target = "zoo.protocol_faults:NondeterministicBN"
    assert main(["check", target, "--clause", "BN-PURE-2", "--quiet"]) == 0
    assert main(["check", target, "--clause", "BN-PURE-2", "--quiet", "--strict"]) == 1


def test_the_learner_example_conforms():
    assert main(["check", str(ROOT / "examples" / "learner_bn.py"), "--quiet", "--max-examples", "15"]) == 0


def test_only_bnspec_is_installed_not_bare_spec_or_reference(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import importlib.util as u, bnspec.spec.cli, bnspec.reference.batchnorm;"
            "print(u.find_spec('spec'), u.find_spec('reference'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "None"]


def test_pyproject_finds_every_package():
    """Found, not listed (a new subpackage is never forgotten): setuptools walks src/ through the
    symlinks, as here.  tests/test_packaging.py checks the built wheel and sdist."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"": "src"}
    assert setuptools["packages"]["find"] == {"where": ["src"], "include": ["bnspec", "bnspec.*"], "namespaces": False}
    found = {".".join(Path(folder).relative_to(ROOT / "src").parts)
             for folder, _, files in os.walk(ROOT / "src", followlinks=True) if "__init__.py" in files}
    assert found == {"bnspec"} | {
        "bnspec." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("spec", "reference") for init in (ROOT / top).rglob("__init__.py")
    }


def _failure_lines(out: str) -> tuple[str, list[str]]:
    """A run's 'reproduce the run' command and its 'observed:' lines."""
    lines = out.splitlines()
    command = next(line.removeprefix("reproduce the run: ") for line in lines if line.startswith("reproduce the run: "))
    return command, [line for line in lines if line.startswith("observed:")]


def test_the_reproduce_line_repeats_every_option_and_reproduces_the_failure(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    args = ["check", "zoo.forward_faults:UnbiasedVarianceBN", "--clause", "BN-NORM-2", "--profile", "lecture",
            "--max-examples", "17", "--seed", "5", "--timeout", "60"]
    assert main(args) == 1
    command, observed = _failure_lines(capsys.readouterr().out)
    assert "--profile lecture --max-examples 17 --timeout 60 --clause BN-NORM-2 --seed 5" in command
    assert main(shlex.split(command)[1:]) == 1
    assert _failure_lines(capsys.readouterr().out) == (command, observed)


def test_a_module_target_is_found_in_the_current_folder():
    """`bnspec check module:attr` from a project's folder imports the project's module, as `python -m` does."""
    bnspec = Path(sys.executable).with_name("bnspec")
    done = subprocess.run([str(bnspec), "check", "zoo.forward_faults:EpsOutsideSqrtBN", "--clause", "BN-FWD-REF",
                           "--quiet"], cwd=ROOT / "tests", capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BN-FWD-REF (MUST) FAIL" in done.stdout
