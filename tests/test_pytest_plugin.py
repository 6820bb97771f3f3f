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
