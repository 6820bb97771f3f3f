"""Diagnosis: batch norms with exactly one known bug each are named by that bug, first, and the bug
explains every clause that fails.

The faulty implementations are the learner's example (``examples/learner_bn.py``, batch first,
written apart from bnspec's models) with one change each, as people get them wrong.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnspec.reference import batchnorm
from bnspec.spec.diagnosis.models import Model
from bnspec.spec.diagnosis.vocabulary import EXPLANATIONS, BugId
from bnspec.spec.profiles import PROFILES

ROOT = Path(__file__).resolve().parents[1]
LEARNER = (ROOT / "examples" / "learner_bn.py").read_text()
sys.path.insert(0, str(ROOT / "examples"))
from mistakes import EPS_OUTSIDE_ROOT  # noqa: E402

NORMALIZE_VAR = "var = np.sum(centered**2, axis=0) / m"
RUNNING_NEW_MEAN = "new_mean = momentum * running_mean.astype(work) + (1 - momentum) * batch_mean"
RUNNING_NEW_VAR = "new_var = momentum * running_var.astype(work) + (1 - momentum) * batch_var"
RUNNING_BATCH_VAR = "batch_var = np.sum((z - batch_mean) ** 2, axis=0) / m"
DZ = "dz = inv_std * (dz_norm - mean_dz_norm - z_norm * mean_dz_norm_z_norm)"
EVAL = "z_norm = (z.astype(work) - running_mean.astype(work)) / np.sqrt(running_var.astype(work) + eps)"

#: bug -> the changes (old text, new text) that put exactly that bug into the learner's code.
VARIANTS: dict[str, tuple[BugId, list[tuple[str, str]]]] = {
    "eps outside the root": (BugId.EPS_OUTSIDE_SQRT, [EPS_OUTSIDE_ROOT]),
    "eps fixed at 1e-5": (BugId.EPS_IGNORED, [("np.sqrt(var + eps)", "np.sqrt(var + 1e-5)")]),
    "eps fixed at 10e-7": (BugId.EPS_IGNORED, [("np.sqrt(var + eps)", "np.sqrt(var + 10e-7)")]),
    "variance over m - 1": (BugId.UNBIASED_VARIANCE,
                            [(NORMALIZE_VAR, "var = np.sum(centered**2, axis=0) / (m - 1)")]),
    "one-pass variance": (BugId.ONE_PASS_VARIANCE, [(NORMALIZE_VAR, "var = np.sum(z**2, axis=0) / m - mu**2")]),
    "float32 arithmetic": (BugId.LOW_PRECISION_ACCUMULATION,
                           [("return np.promote_types(z.dtype, np.float32)", "return np.dtype(np.float32)")]),
    "statistics over the units": (BugId.WRONG_AXIS, [
        ("mu = np.sum(z, axis=0) / m", "mu = np.mean(z, axis=1, keepdims=True)"),
        (NORMALIZE_VAR, "var = np.mean(centered**2, axis=1, keepdims=True)")]),
    "no mean term in dz": (BugId.DZ_MISSING_MEAN_TERM,
                           [(DZ, "dz = inv_std * (dz_norm - z_norm * mean_dz_norm_z_norm)")]),
    "no variance term in dz": (BugId.DZ_MISSING_VARIANCE_TERM, [(DZ, "dz = inv_std * (dz_norm - mean_dz_norm)")]),
    "statistics detached in dz": (BugId.DZ_STATISTICS_DETACHED, [(DZ, "dz = inv_std * dz_norm")]),
    "momentum weighs the batch": (BugId.MOMENTUM_WEIGHS_NEW, [
        (RUNNING_NEW_MEAN, "new_mean = (1 - momentum) * running_mean.astype(work) + momentum * batch_mean"),
        (RUNNING_NEW_VAR, "new_var = (1 - momentum) * running_var.astype(work) + momentum * batch_var")]),
    "unbiased running variance": (BugId.RUNNING_VAR_UNBIASED, [
        (RUNNING_BATCH_VAR, "batch_var = np.sum((z - batch_mean) ** 2, axis=0) / (m - 1)")]),
    "running std": (BugId.RUNNING_STD_NOT_VAR, [
        (RUNNING_BATCH_VAR, "batch_var = np.sqrt(np.sum((z - batch_mean) ** 2, axis=0) / m)")]),
    "inference with batch statistics": (BugId.EVAL_USES_BATCH_STATISTICS, [
        (EVAL, "z_norm, _ = _normalize(z.astype(work), eps)")]),
    "NaN on a constant unit": (BugId.NAN_ON_DEGENERATE_INPUT, [
        ("inv_std = 1.0 / np.sqrt(var + eps)", "inv_std = np.where(var > 0, 1.0 / np.sqrt(var + eps), np.nan)")]),
    "running mean updated in place": (BugId.MUTATES_INPUT, [
        (RUNNING_NEW_MEAN, "running_mean *= momentum\n    running_mean += (1 - momentum) * batch_mean\n"
                           "    new_mean = running_mean")]),
}


#: The bugs that return NaN on ordinary inputs: E[z^2] - mu^2 goes negative on a unit far from 0 (a large draw
#: holds such units), and its square root is NaN in whichever clause draws it.
RETURNS_NAN = {"one-pass variance"}


def _variant(tmp_path: Path, changes: list[tuple[str, str]]) -> Path:
    source = LEARNER
    for old, new in changes:
        assert old in source, old
        source = source.replace(old, new)
    path = tmp_path / "variant.py"
    path.write_text(source)
    return path


def _check(path: Path, tmp_path: Path, *extra: str) -> dict:
    report = tmp_path / "r.json"
    done = subprocess.run([sys.executable, "-m", "bnspec.spec.cli", "check", str(path), "--max-examples", "20",
                           "--json", str(report), *extra], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    document = json.loads(report.read_text())
    document["stdout"] = done.stdout
    return document


@pytest.fixture(scope="module")
def learner_report(tmp_path_factory) -> dict:
    """`bnspec check` of the learner's code as it is (correct: exit status 0), as the variants are checked."""
    report = tmp_path_factory.mktemp("learner") / "r.json"
    done = subprocess.run([sys.executable, "-m", "bnspec.spec.cli", "check", str(ROOT / "examples" / "learner_bn.py"),
                           "--max-examples", "20", "--json", str(report)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(report.read_text())


@pytest.fixture(scope="module")
def unchanged_failures(learner_report) -> set[str]:
    """The SHOULDs the learner's code itself fails (it validates no input), which no one change causes."""
    results = learner_report["results"]
    failed = {r["id"] for r in results if r["status"] == "FAIL"}
    assert all(r["level"] == "SHOULD" for r in results if r["id"] in failed)
    return failed


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_bug_is_named_first_and_explains_every_failure(tmp_path, variant, unchanged_failures):
    bug, changes = VARIANTS[variant]
    document = _check(_variant(tmp_path, changes), tmp_path)
    failed = {r["id"] for r in document["results"] if r["status"] == "FAIL"} - unchanged_failures
    causes = document["root_causes"]
    assert causes and causes[0]["id"] == bug, (failed, causes)
    assert set(causes[0]["clauses"]) == failed, (failed - set(causes[0]["clauses"]), causes)
    assert set(document["unexplained"]) <= unchanged_failures  # the learner's own SHOULDs, which no bug explains
    for result in document["results"]:
        if result["id"] in failed:
            assert bug in {d["id"] for d in result["diagnoses"]}
            # no NaN cascade: a NaN is reported by the clauses about degenerate or non-finite inputs alone, but
            # where the bug itself returns NaN
            if not result["id"].startswith("BN-DEG") and result["id"] != "BN-INPUT-4" and variant not in RETURNS_NAN:
                assert not re.search(r"\bnan\b", result["message"]), result["message"]
    # the terminal's failure section opens with the root cause
    first = next(line for line in document["stdout"].splitlines() if line.startswith("root cause"))
    assert first.startswith(f"root cause {bug}:")
    assert document["stdout"].splitlines()[-1].startswith(f"most likely: {bug}:")  # and the last line


def test_a_correct_implementation_gets_no_diagnosis(learner_report):
    assert learner_report["root_causes"] == [] and learner_report["suggested_profile"] is None


def test_another_profiles_conventions_are_suggested(tmp_path):
    # the learner's lecture conventions, declared as torch's: momentum weighs the old value, biased running var
    path = _variant(tmp_path, [('profile = "lecture"', 'profile = "torch"')])
    document = _check(path, tmp_path)
    ids = {c["id"] for c in document["root_causes"]}
    assert {BugId.MOMENTUM_WEIGHS_OLD, BugId.RUNNING_VAR_BIASED} <= ids, document["root_causes"]
    assert document["suggested_profile"] in {"lecture", "keras", "flax", "onnx"}


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_models_correct_setting_is_the_profiles_correct_batch_norm(name):
    """``Model(profile)`` with no change agrees with the reference (and the profile's running update)."""
    rng = np.random.default_rng(0)
    z, gamma, beta, grad = rng.normal(size=(3, 7)), rng.normal(size=(3, 1)), rng.normal(size=(3, 1)), \
        rng.normal(size=(3, 7))
    rm, rv = rng.normal(size=(3, 1)), rng.uniform(0.5, 2, size=(3, 1))
    profile = PROFILES[name]
    model = Model(profile)
    np.testing.assert_allclose(model.forward(z, gamma, beta, 0.1), batchnorm.forward(z, gamma, beta, 0.1),
                               rtol=1e-13, atol=1e-13)
    for got, want in zip(model.backward(z, gamma, beta, 0.1, grad), batchnorm.backward(z, gamma, beta, 0.1, grad),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for got, want in zip(model.update_running(rm, rv, z, 0.8), profile.expected_running(rm, rv, z, 0.8),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(model.forward_eval(z, gamma, beta, rm, rv, 0.1),
                               batchnorm.forward_eval(z, gamma, beta, rm, rv, 0.1), rtol=1e-13, atol=1e-13)


def test_every_id_has_its_explanation_and_the_vocabulary_is_documented():
    sys.path.insert(0, str(ROOT / "docs"))
    from sitegen.conformance import diagnoses_table

    assert set(EXPLANATIONS) == set(BugId)
    assert "{{ diagnoses() }}" in (ROOT / "docs" / "diagnosis.md").read_text()
    assert all(f"`{bug.value}`" in diagnoses_table() for bug in BugId)


#: faults of the test zoo (tests/zoo, bnspec's own faulty implementations, units first) -> the bug named first;
#: chosen for the ids the learner's variants above do not reach.
ZOO = {
    "forward_faults:NoCenteringBN": BugId.NO_CENTERING,
    "forward_faults:MissingGammaBN": BugId.GAMMA_BETA_MISUSED,
    "forward_faults:SwappedGammaBetaBN": BugId.GAMMA_BETA_MISUSED,
    "forward_faults:FrozenFirstBatchStatsBN": BugId.TRAINING_USES_RUNNING_STATISTICS,
    "backward_faults:DgammaSumOfGradBN": BugId.PARAMETER_GRADIENTS_WRONG,
    "backward_faults:DzSignErrorBN": BugId.BACKWARD_NOT_GRADIENT_OF_FORWARD,
    "backward_faults:FlatParamGradsBN": BugId.BREAKS_PROTOCOL,
    "running_faults:RunningVarNotUpdatedBN": BugId.RUNNING_VAR_NOT_UPDATED,
    "running_faults:EvalVarianceNotSqrtBN": BugId.EVAL_FORMULA_WRONG,
    "protocol_faults:TransposedOutputBN": BugId.BREAKS_PROTOCOL,
    "protocol_faults:AlwaysFloat64BN": BugId.WRONG_DTYPE,
    "forward_faults:InPlaceCenteringBN": BugId.MUTATES_INPUT,
    "dtype_faults:Float16AccumulationBN": BugId.LOW_PRECISION_ACCUMULATION,
}


@pytest.mark.parametrize("fault", list(ZOO))
def test_the_zoos_faults_are_diagnosed(fault):
    from bnspec.spec.diagnosis import diagnose
    from bnspec.spec.session import RunOptions, Session

    with Session(RunOptions(f"zoo.{fault}", max_examples=10)) as session:
        results = session.run(session.clauses())
        found = diagnose(session.subject, results, session.options.runner_options())
    failed = {r.clause.id for r in results if r.status.value == "FAIL"}
    assert failed and found.root_causes[0].id == ZOO[fault], found.lines()
    assert set(found.root_causes[0].clauses) == failed and not found.unexplained, found.lines()
