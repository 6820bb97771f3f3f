"""tests/requirements.py: a missing requirement skips with its reason, and under
BNSPEC_REQUIRE_ALL=1 fails with the same reason -- as a call, as a mark, and at
module level (a whole file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requirements
from requirements import REQUIRE_ALL

ROOT = Path(__file__).resolve().parents[1]
MISSING_MODULE = "bnspec_no_such_module_xyz"
MISSING_PROGRAM = "bnspec-no-such-program-xyz"


@pytest.fixture
def lenient(monkeypatch):
    monkeypatch.delenv(REQUIRE_ALL, raising=False)


@pytest.fixture
def strict(monkeypatch):
    monkeypatch.setenv(REQUIRE_ALL, "1")


@pytest.mark.parametrize(("call", "reason"), [
    (lambda: requirements.need_module(MISSING_MODULE, "torch"),
     f"needs {MISSING_MODULE}, which is not installed (pip install -e '.[torch]'"),
    (lambda: requirements.need_program(MISSING_PROGRAM, "install it"),
     f"needs the program {MISSING_PROGRAM}, which is not on PATH (install it)"),
    (lambda: requirements.need_path(Path("/nonexistent/katex"), "make docs"),
     "needs /nonexistent/katex, which does not exist (make docs)"),
], ids=["module", "program", "path"])
def test_a_missing_requirement_skips_with_the_reason_or_fails_with_it_under_require_all(call, reason, monkeypatch):
    monkeypatch.delenv(REQUIRE_ALL, raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        call()
    assert skipped.value.msg.startswith(reason)
    for value in ("1", "yes"):
        monkeypatch.setenv(REQUIRE_ALL, value)
        with pytest.raises(pytest.fail.Exception) as failed:
            call()
        assert failed.value.msg.startswith(reason) and f"{REQUIRE_ALL}=1" in failed.value.msg
    monkeypatch.setenv(REQUIRE_ALL, "0")
    with pytest.raises(pytest.skip.Exception):
        call()


def test_what_is_there_passes_under_require_all(strict):
    assert requirements.need_module("numpy", "dev").__name__ == "numpy"
    assert requirements.need_program(sys.executable, "") == sys.executable
    assert requirements.need_path(ROOT / "pyproject.toml", "") == ROOT / "pyproject.toml"
    requirements.need_extra()  # nothing asked, nothing missing


def test_an_extra_names_each_missing_module(monkeypatch, lenient):
    monkeypatch.setitem(requirements.EXTRA_MODULES, "fake", ("numpy", MISSING_MODULE, "bnspec_other_missing"))
    assert not requirements.is_installed("fake")
    reason = requirements.missing_extra("fake")
    assert reason is not None and MISSING_MODULE in reason and "bnspec_other_missing" in reason
    assert "numpy" not in reason and "'.[fake]'" in reason
    assert requirements.is_installed("torch") == (requirements.missing_module("torch", "torch") is None)


def test_the_extras_are_the_frameworks_of_the_adapters_and_pyprojects():
    from bnspec.spec.adapters import EXTRAS

    assert set(EXTRAS.values()) == set(requirements.FRAMEWORKS) <= set(requirements.EXTRA_MODULES)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert all(f"\n{extra} = [" in pyproject for extra in requirements.EXTRA_MODULES)


# The marks and the module-level call, end to end: a pytest run of this file, with this tree's
# configuration (the markers registered in pyproject.toml, --strict-markers) and the helper's hook.
SAMPLE = f'''
import pytest
from requirements import need_module, require_extra, require_module, require_program

@require_module("{MISSING_MODULE}", "dev")
def test_marked_module():
    pass

@require_program("{MISSING_PROGRAM}", "install it")
def test_marked_program():
    pass

@require_extra("fake")
def test_marked_extra():
    pass

@require_module("numpy", "dev")
def test_present():
    pass
'''
SAMPLE_MODULE_LEVEL = f'''
from requirements import need_module

need_module("{MISSING_MODULE}", "torch")
import {MISSING_MODULE}  # noqa: E402 (never reached)

def test_never_collected():
    pass
'''


def _pytest(tmp_path: Path, require_all: bool) -> str:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "test_sample_module_level.py").write_text(SAMPLE_MODULE_LEVEL)
    (tmp_path / "conftest.py").write_text(
        "import requirements\nrequirements.EXTRA_MODULES['fake'] = ('bnspec_fake_framework',)\n")
    env = {k: v for k, v in os.environ.items() if k not in (REQUIRE_ALL, "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    if require_all:
        env[REQUIRE_ALL] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-p", "requirements", "-p", "no:bnspec", "-p", "no:cacheprovider", "-rA", "--continue-on-collection-errors",
         "test_sample.py", "test_sample_module_level.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


REASONS = (f"needs {MISSING_MODULE}, which is not installed (pip install -e '.[dev]'",
           f"needs the program {MISSING_PROGRAM}, which is not on PATH (install it)",
           "needs bnspec_fake_framework, which is not installed (pip install -e '.[fake]'",
           f"needs {MISSING_MODULE}, which is not installed (pip install -e '.[torch]'")  # the module-level call


def test_marks_and_module_level_calls_skip_without_the_variable(tmp_path):
    out = _pytest(tmp_path, require_all=False)
    assert "1 passed, 4 skipped" in out, out
    skipped = [line for line in out.splitlines() if line.startswith("SKIPPED [1] ")]
    for reason in REASONS:
        assert [line for line in skipped if reason in line], (reason, out)


def test_marks_and_module_level_calls_fail_with_the_reason_under_require_all(tmp_path):
    out = _pytest(tmp_path, require_all=True)
    assert "1 passed, 4 errors" in out and "skipped" not in out, out
    for reason in REASONS:  # the same reason, now a failure (each at setup, the module's at collection)
        assert [line for line in out.splitlines() if line.startswith(reason)
                and line.endswith(f"[{REQUIRE_ALL}=1: a missing requirement fails]")], (reason, out)
