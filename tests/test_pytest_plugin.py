"""The pytest plugin runs the clauses inside another project's pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pytest(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    (tmp_path / "test_own.py").write_text("def test_own():\n    assert True\n")
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=300)


def test_plugin_runs_every_clause_of_a_conforming_target(tmp_path):
    done = _pytest(tmp_path, "--bnspec-target=reference", "--bnspec-max-examples=5", "-k", "BN-NORM or own")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_plugin_fails_the_broken_clause_with_its_report(tmp_path):
    done = _pytest(tmp_path, "-k", "AFFINE-1", "--bnspec-profile=lecture", "--bnspec-max-examples=12",
                   env={"BNSPEC_TARGET": "zoo.forward_faults:MissingGammaBN"})
    assert done.returncode == 1
    assert "BN-AFFINE-1 (MUST) FAIL" in done.stdout and "reproduce with numpy" in done.stdout
    # the plugin's options are the command's: the reproduce line repeats them
    assert "--profile lecture --max-examples 12 --clause BN-AFFINE-1 --seed 0" in done.stdout


def test_plugin_is_silent_without_a_target(tmp_path):
    done = _pytest(tmp_path)
    assert done.returncode == 0 and "1 passed" in done.stdout


def test_plugin_reports_a_bad_target_as_a_usage_error(tmp_path):
    done = _pytest(tmp_path, "--bnspec-target=no_such_module_xyz:x")
    assert done.returncode == 4 and "--bnspec-target" in done.stderr


def test_collect_only_lists_one_item_per_clause_with_its_id(tmp_path):
    from bnspec.spec.session import RunOptions, Session

    with Session(RunOptions("reference")) as session:
        ids = [c.id for c in session.clauses()]
    done = _pytest(tmp_path, "--bnspec-target=reference", "--collect-only")
    listed = [line for line in done.stdout.splitlines() if line.startswith("bnspec[reference]::")]
    assert listed == [f"bnspec[reference]::{clause_id}" for clause_id in ids], done.stdout + done.stderr


def test_last_failed_reruns_only_the_failing_clause(tmp_path):
    args = ["-p", "cacheprovider", "--bnspec-max-examples=5", "-k", "AFFINE-1 or NORM-1"]
    env = {"BNSPEC_TARGET": "zoo.forward_faults:MissingGammaBN"}
    first = _pytest(tmp_path, *args, env=env)
    assert first.returncode == 1 and "1 failed, 1 passed" in first.stdout, first.stdout
    again = _pytest(tmp_path, *args, "--lf", env=env)
    assert "1 failed" in again.stdout and "passed" not in again.stdout.splitlines()[-1], again.stdout


def test_importing_the_plugin_loads_nothing_heavy():
    probe = ("import sys, bnspec.spec.pytest_plugin; "
             "print(sorted(m for m in ('hypothesis', 'bnspec.spec.runner', 'bnspec.spec.session', 'numpy') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
