"""Verdicts a learner can act on: the counterexample shows the exact values the implementation received,
the numpy reproducer runs without bnspec and fails exactly as the clause did (and passes once the
implementation is fixed), the eps*cond number is one value per case, a failure links to its clause's
page, and what the implementation prints at import is captured."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from requirements import require_program

from bnspec.spec import about, counterexample, report, reproducer
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.process import codec
from bnspec.spec.protocol import Layout
from bnspec.spec.session import RunOptions, Session
from bnspec.spec.target import Call
from bnspec.spec.trial import Claim

ROOT = Path(__file__).resolve().parents[1]
LEARNER = (ROOT / "examples" / "learner_bn.py").read_text()
sys.path.insert(0, str(ROOT / "examples"))
from mistakes import EPS_OUTSIDE_ROOT  # noqa: E402

CORRECT_ROOT = EPS_OUTSIDE_ROOT[0]
#: The lecture's classic slip: eps added to the standard deviation instead of the variance.
EPS_OUTSIDE = LEARNER.replace(*EPS_OUTSIDE_ROOT)
#: A script run with this first line fails at any `import bnspec`.
NO_BNSPEC = "import sys; sys.modules['bnspec'] = None\n"


def _learner(tmp_path: Path, source: str, name: str = "my_bn.py") -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def _bnspec(*args: str, cwd: Path) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "bnspec.spec.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, done.stdout


def _check(tmp_path: Path, target: Path, clause: str, *extra: str) -> tuple[dict, str]:
    """``bnspec check TARGET --clause CLAUSE --json``: the clause's JSON result and the printed text."""
    out = tmp_path / f"{clause}.json"
    status, text = _bnspec("check", str(target), "--clause", clause, "--json", str(out), *extra, cwd=tmp_path)
    assert status == 1, text
    (result,) = json.loads(out.read_text())["results"]
    return result, text


def _run_script(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    """Run a reproducer with the venv's Python, no PYTHONPATH, and bnspec made unimportable."""
    path = tmp_path / "reproduce.py"
    path.write_text(NO_BNSPEC + source)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_reproducer_fails_without_bnspec_and_passes_once_fixed(tmp_path):
    target = _learner(tmp_path, EPS_OUTSIDE)
    result, _ = _check(tmp_path, target, "BN-NORM-2")
    assert result["status"] == "FAIL"
    script = result["reproducer"]
    assert "import bnspec" not in script and "from bnspec" not in script
    failed = _run_script(tmp_path, script)
    assert failed.returncode != 0 and "AssertionError" in failed.stderr, failed.stderr
    assert "observed: [[" in failed.stdout and "required: [[" in failed.stdout
    assert "worst absolute error" in failed.stdout and "tolerance there" in failed.stdout
    # the same words as the clause's failure: the assertion carries its message
    assert result["message"].split(";")[0] in failed.stderr
    # fixed in place, the same script runs through: it computes from the implementation's results
    target.write_text(LEARNER)
    fixed = _run_script(tmp_path, script)
    assert fixed.returncode == 0, fixed.stderr
    assert "observed: [[" in fixed.stdout


def test_the_counterexample_shows_the_exact_arguments(tmp_path):
    target = _learner(tmp_path, EPS_OUTSIDE)
    result, text = _check(tmp_path, target, "BN-NORM-2", "--save-failures", str(tmp_path / "cases"))
    shown = result["counterexample"]
    for hypothesis_internal in ("clause_test(", "Draw ", "Failing test case"):
        assert hypothesis_internal not in shown and hypothesis_internal not in text
    assert "call 1 of 1: forward(z, gamma, beta, eps)" in shown
    (case,) = (tmp_path / "cases").glob("*.json")
    args = dict(json.loads(case.read_text())["calls"][0]["args"])
    eps = codec.decode_value(args["eps"])
    assert f"eps = {eps!r}\n" in shown + "\n"  # the float passed (repr round-trips), not the drawn 1e-x
    z = codec.decode_value(args["z"])
    listed = re.search(r"z = (\[\[.*?\]\])", shown, re.DOTALL)
    assert listed is not None
    assert np.array_equal(np.array(ast.literal_eval(listed.group(1))), z)  # every element, full precision
    assert result["draws"].startswith("arrangement = (0, 0, ")  # the labelled draws stay available, apart


def test_eps_cond_is_one_value_per_case(tmp_path):
    target = _learner(tmp_path, EPS_OUTSIDE)
    result, text = _check(tmp_path, target, "BN-NORM-2", "--save-failures", str(tmp_path / "cases"))
    units = result["worst_error_eps_cond"]
    shown = f"{units:.3g}"
    assert report.LEGEND in text
    (row,) = [line for line in text.splitlines() if line.startswith("BN-NORM-2 ")]
    assert row.split()[4] == shown  # the table
    assert result["message"].endswith(f"worst error {shown} eps*cond")  # the failure message
    (case,) = (tmp_path / "cases").glob("*.json")
    status, replayed = _bnspec("replay", str(case), str(target), cwd=tmp_path)
    assert status == 1
    (again,) = [line for line in replayed.splitlines() if line.startswith("BN-NORM-2 ")]
    assert again.split()[4] == shown  # the replay


def _mutating_learner() -> str:
    """The learner's forward, centring its argument z in place."""
    first = "    work = _work(z)\n    z_norm, _ = _normalize(z.astype(work), eps)"
    return LEARNER.replace(first, "    z -= z.mean(axis=0)\n" + first)


def test_a_purity_reproducer_prints_each_argument_before_and_after(tmp_path):
    source = _mutating_learner()
    assert source != LEARNER
    result, _ = _check(tmp_path, _learner(tmp_path, source), "BN-PURE-1")
    assert result["status"] == "FAIL" and "modified its argument z" in result["message"]
    done = _run_script(tmp_path, result["reproducer"])
    assert done.returncode != 0 and "AssertionError" in done.stderr
    assert "forward: z before: " in done.stdout and "forward: z after: " in done.stdout
    assert "<-- MODIFIED" in done.stdout


def test_every_call_is_made_again(tmp_path):
    """BN-GRAD-1 checks dz by finite differences: one backward and several forward calls, all of them."""
    source = LEARNER.replace("- z_norm * mean_dz_norm_z_norm", "")
    assert source != LEARNER
    target = _learner(tmp_path, source)
    with Session(RunOptions(str(target), max_examples=10)) as session:
        result = session.run_clause(REGISTRY["BN-GRAD-1"])
    assert result.status == "FAIL"
    calls = len(result.calls)
    assert calls > 4  # more than the old reproducer's cut-off
    assert f"call {calls} of {calls}:" in result.counterexample
    for index in range(1, calls + 1):
        assert f"\nresult{index} = " in result.reproducer
    done = _run_script(tmp_path, result.reproducer)
    assert done.returncode != 0 and "AssertionError" in done.stderr, done.stderr


def test_a_protocol_breach_ends_in_the_protocols_assert(tmp_path):
    source = LEARNER.replace("    return out.astype(z.dtype)\n\n\ndef backward",
                             "    return out.astype(z.dtype).T\n\n\ndef backward")
    assert source != LEARNER
    with Session(RunOptions(str(_learner(tmp_path, source)), max_examples=5)) as session:
        result = session.run_clause(REGISTRY["BN-SHAPE-1"])
    assert result.status == "FAIL" and result.cause == "protocol"
    done = _run_script(tmp_path, result.reproducer)
    assert done.returncode != 0 and "AssertionError" in done.stderr and "shape" in done.stderr


def test_output_at_import_is_captured_with_the_first_clause(tmp_path):
    target = _learner(tmp_path, "print('DEBUG at import')\n" + LEARNER)
    out = tmp_path / "report.json"
    status, text = _bnspec("check", str(target), "--clause", "BN-NORM-1", "--clause", "BN-NORM-2", "--json",
                           str(out), cwd=tmp_path)
    assert status == 0 and "DEBUG" not in text
    first, second = json.loads(out.read_text())["results"]
    assert "DEBUG at import" in first["output"] and "DEBUG" not in second["output"]


def test_a_failure_links_to_its_clauses_page(monkeypatch):
    sys.path.insert(0, str(ROOT / "docs"))
    from sitegen import links

    clause = REGISTRY["BN-NORM-2"]
    monkeypatch.setattr(report, "site_url", lambda: "https://example.org/bnspec/")
    url = report.clause_url(clause)
    assert url == "https://example.org/bnspec/" + links.clause_page(clause).removesuffix(".md") + "/#BN-NORM-2"
    assert report.clause_reference(clause) == f"{url} (cite as: bnspec {about.version()}, BN-NORM-2)"
    monkeypatch.setattr(report, "site_url", lambda: "")
    assert report.clause_url(clause) == ""
    # Without the site's address a failure still names the page, relative to the site's root.
    assert report.clause_reference(clause).startswith("spec/layer/#BN-NORM-2 in bnspec's documentation site")


def test_the_site_url_is_read_from_mkdocs_yml():
    found = re.search(r"^site_url:(.*)$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    assert report.site_url() == ("" if found is None else found.group(1).strip().strip("'\""))


def test_the_header_has_its_legend():
    assert report.HEADER.splitlines() == [report.COLUMNS, report.LEGEND]
    assert "eps*cond" in report.LEGEND


# -- the pieces ---------------------------------------------------------------------------


def test_arguments_are_named_and_repeated_calls_merged():
    z, other = np.zeros((2, 3)), np.ones((2, 3))
    gamma, beta = np.ones((2, 1)), np.zeros((2, 1))
    calls = [Call("forward", [("z", z), ("gamma", gamma), ("beta", beta), ("eps", 1e-5)]),
             Call("forward", [("z", other), ("gamma", gamma), ("beta", beta), ("eps", 1e-5)]),
             Call("forward", [("z", z.copy()), ("gamma", gamma), ("beta", beta), ("eps", 1e-5)])]
    entries = counterexample.named(calls)
    assert [e.names for e in entries] == [("z", "gamma", "beta", "eps"), ("z_2", "gamma", "beta", "eps"),
                                          ("z", "gamma", "beta", "eps")]
    assert [e.same_as for e in entries] == [None, None, 1]
    assert [e.same_as for e in counterexample.named(calls, merge=False)] == [None, None, None]
    text = counterexample.text(calls, "units_first")
    assert "call 3 of 3: forward(z, gamma, beta, eps) -- the same call as call 1" in text


@pytest.mark.parametrize("value", [np.array([[0.1, -np.inf], [np.nan, 1e-300]]), np.float32(1e-8), 1e-5, (2, 3),
                                   np.dtype("float32"), np.arange(3, dtype=np.int64)])
def test_literals_rebuild_values_exactly(value):
    rebuilt = eval(reproducer.literal(value), {"np": np})  # noqa: S307 - the point of a literal
    if isinstance(value, np.ndarray):
        assert rebuilt.dtype == value.dtype and np.array_equal(rebuilt, value, equal_nan=True)
    else:
        assert rebuilt == value and type(rebuilt) is (float if isinstance(value, np.floating) else type(value))


def test_the_loader_needs_no_bnspec(tmp_path):
    assert "bnspec" not in "\n".join(reproducer.loader("my_bn.py:Layer", str(tmp_path)))
    assert "spec_from_file_location('implementation', " + repr(str(tmp_path / "my_bn.py")) in "\n".join(
        reproducer.loader("my_bn.py:Layer", str(tmp_path)))
    assert "importlib.import_module('my_package.bn')" in "\n".join(reproducer.loader("my_package.bn:BN", "/x"))
    assert "import bnspec" not in "\n".join(reproducer.loader("exec:node bn.js", "/x"))
    assert reproducer.loader("reference", "/x") == [
        "import bnspec.reference as impl  # the reference is the implementation here"]


def _forward_call() -> Call:
    z = np.array([[1.0, 2.0, 4.0]])
    return Call("forward", [("z", z), ("gamma", np.ones((1, 1))), ("beta", np.zeros((1, 1))), ("eps", 1e-5)])


@pytest.mark.parametrize(("claim", "says"), [
    (Claim("holds", "", "forward at m = 1 returned"), "forward at m = 1 returned"),
    (Claim("equal", "shape of forward", "shape: observed (3, 1), required (1, 3)", (3, 1), (1, 3)), "shape:"),
    (Claim("equal", "shape", "shape differs", (1, 3), (3, 1), observed_src="result1.shape"), "shape differs"),
])
def test_a_check_without_numbers_ends_in_its_assert(claim, says):
    failure = reproducer.Failure("BN-X-1", "reference", Layout.UNITS_FIRST, [_forward_call()], claim)
    script = reproducer.script(failure)
    with pytest.raises(AssertionError, match=says):
        exec(script, {"__name__": "reproducer"})  # noqa: S102 - the reproducer itself


def test_a_close_source_that_names_no_variable_falls_back_to_values():
    claim = Claim("close", "mean", "mean: mismatch", np.array([[1.0]]), np.array([[0.0]]), np.array(1e-12),
                  "value", 1e12, None, observed_src="mean(no_such_name)", required_src="np.zeros((1, 1))")
    script = reproducer.script(reproducer.Failure("BN-X-1", "reference", Layout.UNITS_FIRST, [_forward_call()],
                                                  claim, computed_by="the test"))
    assert "observed = np.array([[1.0]], dtype=np.float64)  # what the test derived" in script
    assert "required = np.zeros((1, 1))" in script
    with pytest.raises(AssertionError, match="mean: mismatch"):
        exec(script, {"__name__": "reproducer"})  # noqa: S102 - the reproducer itself, as above


@require_program("node", "install Node.js")
def test_an_exec_reproducer_speaks_the_protocol(tmp_path):
    out = tmp_path / "report.json"
    command = f"node {ROOT / 'examples' / 'js' / 'batchnorm.js'} --fault eps-outside-sqrt"
    status, _ = _bnspec("check", "--exec", command, "--clause", "BN-NORM-2", "--json", str(out), cwd=tmp_path)
    assert status == 1
    (result,) = json.loads(out.read_text())["results"]
    done = _run_script(tmp_path, result["reproducer"])
    assert done.returncode != 0 and "AssertionError" in done.stderr and "observed: [[" in done.stdout
