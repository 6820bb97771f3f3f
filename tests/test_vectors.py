"""`bnspec vectors`: the exported set is valid against its schema, exact,
deterministic, built from the properties' own definitions (float32 eps and
momentum, tolerances from spec/tolerances.py), runs through the run session of
`bnspec check` with its statuses and messages, passes the reference and the
correct implementations, fails the faulty ones, and agrees with `bnspec check`
on every installed adapter."""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from pathlib import Path

import numpy as np
import pytest
from requirements import missing_extra, require_module, require_program, unavailable
from zoo import dtype_faults as dty
from zoo import forward_faults as fwd
from zoo import running_faults as run
from zoo.registry import CORRECT, FAULTY

from bnspec.reference import batchnorm as ref
from bnspec.spec import strategies, tolerances
from bnspec.spec.adapters import ADAPTERS, EXTRAS
from bnspec.spec.clauses import all_clauses
from bnspec.spec.cli import main
from bnspec.spec.process import codec
from bnspec.spec.properties import load_all
from bnspec.spec.protocol import FUNCTIONS
from bnspec.spec.session import RunOptions, Session
from bnspec.spec.vectors import COMMON, FORMAT_VERSION, PER_PROFILE, check, covered, not_covered
from bnspec.spec.vectors.files import read_manifest
from bnspec.spec.vectors.schema import schema

ROOT = Path(__file__).resolve().parents[1]
JS = f"node {shlex.quote(str(ROOT / 'examples' / 'js' / 'batchnorm.js'))}"
LEARNER = str(ROOT / "examples" / "learner_bn.py")

#: faults that only a call's effect on the caller's arrays shows, and faults of float32,
#: float16 and bfloat16 arithmetic (the vectors are float64): no vector can see them.
INVISIBLE = {fwd.InPlaceCenteringBN, run.InPlaceRunningUpdateBN, dty.LowPrecisionOnePassBN,
             dty.Float16AccumulationBN, dty.BFloat16AccumulationBN}

#: examples per clause of the `bnspec check` runs the agreement test compares with.
AGREEMENT_EXAMPLES = 10


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("vectors")
    assert main(["vectors", "export", str(directory)]) == 0
    return directory


def _documents(directory: Path):
    for path in sorted(directory.rglob("*.json")):
        if path.name != "vectors.schema.json":
            yield path, json.loads(path.read_text())


def _cases(directory: Path):
    for path, document in _documents(directory):
        for case in document.get("cases", []):
            yield path, case


def _results(path: Path) -> dict[str, dict]:
    """clause ID -> its result in a JSON report (bnspec check --json, bnspec vectors check --json)."""
    return {r["id"]: r for r in json.loads(path.read_text())["results"]}


def _vectors_check(vectors: Path, tmp_path: Path, *args: str) -> tuple[int, dict[str, dict]]:
    report = tmp_path / "vectors.json"
    status = main(["vectors", "check", str(vectors), *args, "--json", str(report)])
    return status, _results(report)


# -- the set -------------------------------------------------------------------------


@require_module("jsonschema", "dev")
def test_every_file_is_valid_against_the_schema(vectors):
    import jsonschema

    written = json.loads((vectors / "vectors.schema.json").read_text())
    assert written == schema()
    jsonschema.Draft202012Validator.check_schema(written)
    validator = jsonschema.Draft202012Validator(written)
    documents = list(_documents(vectors))
    assert len(documents) == 1 + len(COMMON) + len(PER_PROFILE) * len(json.loads(
        (vectors / "manifest.json").read_text())["profiles"])
    for path, document in documents:
        errors = [e.message for e in validator.iter_errors(document)]
        assert not errors, f"{path}: {errors[:3]}"
    broken = dict(documents[0][1], format_version=FORMAT_VERSION + 1)
    assert list(validator.iter_errors(broken))  # the schema can fail


def test_the_manifest_names_every_clause(vectors):
    manifest = json.loads((vectors / "manifest.json").read_text())
    assert manifest["clauses"] == [c.id for c in covered()]
    assert manifest["format_version"] == FORMAT_VERSION and manifest["bnspec_version"]
    for clause in all_clauses():  # every clause has vectors, or a reason why not
        assert (clause.id in manifest["clauses"]) != bool(manifest["not_covered"].get(clause.id))
        assert (clause.id in manifest["clauses"]) == (not not_covered(clause))
    assert {f["clause"] for f in manifest["files"]} == set(manifest["clauses"])


def test_each_case_calls_what_its_property_needs(vectors):
    """A clause's cases call only functions its property needs, with the protocol's arguments:
    where bnspec check says n/a, so do the vectors, and where it runs, every case runs."""
    properties = load_all()
    for path, document in _documents(vectors):
        if document["kind"] != "cases":
            continue
        needs = properties[document["clause"]["id"]].needs
        for case in document["cases"]:
            assert case["call"] in needs, (path, case["name"])
            assert list(case["args"]) == list(FUNCTIONS[case["call"]].argument_names), (path, case["name"])


def test_eps_and_momentum_are_float32_as_the_properties_draw_them(vectors):
    """ONNX (and other engines) take eps and momentum as float32 attributes: the properties draw
    them rounded by strategies.attribute, and so are the vectors (else a float32 engine errs by
    the rounding of momentum, 1e-5 at 0.9, far beyond the running tolerance)."""
    seen = {"eps": 0, "momentum": 0}
    for path, case in _cases(vectors):
        for name in seen.keys() & case["args"].keys():
            value = codec.decode_scalar(name, case["args"][name])
            assert strategies.attribute(value) == value, (path, case["name"], name, value)
            seen[name] += 1
    assert all(seen.values())


def test_tolerances_come_from_the_tolerances_module(vectors):
    seen = set()
    for path, case in _cases(vectors):
        m = max(case["args"]["z"]["shape"][1], 4)
        for output in case["expect"].get("outputs", []):
            if "tolerance" not in output:
                continue
            tol = output["tolerance"]
            kind = tolerances.KINDS[tol["kind"]]
            assert tol["reason"] == kind.reason
            assert codec.decode_scalar("unit_roundoff", tol["unit_roundoff"]) == tolerances.unit_roundoff(np.float64)
            factor = codec.decode_scalar("factor", tol["factor"])
            assert factor in {kind.factor(k) for k in range(1, m + 1)}, path  # K(m), K(1) or K(n[l-1])
            atol = codec.decode_array("atol", tol["atol"])
            # 0 only where the value is exact (dz of a unit with gamma = 0)
            assert atol.shape == tuple(output["shape"]) and (atol >= 0).all() and atol.any()
            seen.add(tol["kind"])
    assert seen == {"value", "pair", "gradient", "running"}


def test_the_export_is_exact_and_deterministic(vectors, tmp_path):
    assert main(["vectors", "export", str(tmp_path)]) == 0
    for path, _ in _documents(vectors):
        assert (tmp_path / path.relative_to(vectors)).read_bytes() == path.read_bytes(), path
    document = json.loads((vectors / "cases" / "common" / "BN-FWD-REF.json").read_text())
    data = document["cases"][0]["args"]["z"]["data"]
    assert all(isinstance(x, str) and x == float.fromhex(x).hex() for x in data)


# -- checking a target ---------------------------------------------------------------


def test_the_reference_passes(vectors, tmp_path, capsys):
    status, results = _vectors_check(vectors, tmp_path, "reference", "--strict")
    assert status == 0
    assert {r["status"] for r in results.values()} == {"pass"} and len(results) == len(covered())
    assert results["BN-FWD-REF"]["message"] == "10/10 cases pass"
    assert results["BN-FWD-REF"]["reproduce"] == f"bnspec vectors check {vectors} reference --clause BN-FWD-REF"
    out = capsys.readouterr().out
    assert f"{len(covered())} passed, 0 failed, 0 not applicable, 0 errors" in out and "conforms" in out


@pytest.mark.parametrize("impl", CORRECT, ids=[c.__name__ for c in CORRECT])
def test_the_correct_implementations_pass(vectors, impl, capsys):
    assert main(["vectors", "check", str(vectors), f"{impl.__module__}:{impl.__name__}", "--strict", "--quiet"]) == 0


VISIBLE = [f for f in FAULTY if f not in INVISIBLE]


@pytest.mark.parametrize("fault", VISIBLE, ids=[f.__name__ for f in VISIBLE])
def test_a_faulty_implementation_fails(vectors, fault, capsys):
    target = f"{fault.__module__}:{fault.__name__}"
    assert main(["vectors", "check", str(vectors), target, "--strict", "--quiet"]) == 1
    assert "does not conform" in capsys.readouterr().out


def test_a_failure_names_clause_case_file_observed_and_required(vectors, tmp_path, capsys):
    target = "zoo.forward_faults:EpsOutsideSqrtBN"
    status, results = _vectors_check(vectors, tmp_path, target, "--clause", "BN-FWD-REF")
    assert status == 1
    result = results["BN-FWD-REF"]
    assert result["status"] == "FAIL" and result["cause"] == "violation"
    assert result["message"].startswith("10 of 10 cases fail (0/10 pass):\n")
    line = result["message"].splitlines()[1]
    assert line.startswith("  case 0 'ordinary: n = 3, m = 8' in cases/common/BN-FWD-REF.json: forward's output: ")
    assert " observed " in line and " required " in line and "x tolerance" in line
    assert result["worst_error_eps_cond"] > 1e6  # the eps*cond column, as bnspec check measures it
    out = capsys.readouterr().out
    assert "--- BN-FWD-REF (MUST) FAIL: Forward agrees with the reference" in out
    assert "required: forward agrees with the reference's forward" in out
    assert "observed: 10 of 10 cases fail (0/10 pass):" in out
    assert f"reproduce the run: bnspec vectors check {vectors} {target} --clause BN-FWD-REF" in out
    # the numpy reproducer makes the first failing case's one call again
    assert "reproduce with numpy:" in out and out.count("= impl.forward(") == 1


class RefusesOneExample:
    """The reference under the torch profile's m = 1 convention, raising ``refusal``."""

    profile = "torch"
    refusal: type[Exception] = ValueError

    def forward(self, z, gamma, beta, eps):
        if z.shape[1] == 1:
            raise self.refusal("Expected more than 1 value per channel when training")
        return ref.forward(z, gamma, beta, eps)

    def backward(self, z, gamma, beta, eps, grad):
        if z.shape[1] == 1:
            raise self.refusal("Expected more than 1 value per channel when training")
        return ref.backward(z, gamma, beta, eps, grad)


class RefusesWithTheWrongError(RefusesOneExample):
    refusal = ZeroDivisionError


def test_a_required_exception_passes_and_another_fails(vectors, tmp_path):
    status, results = _vectors_check(vectors, tmp_path, f"{__name__}:RefusesOneExample", "--clause", "BN-DEG-2")
    assert status == 0 and results["BN-DEG-2"]["status"] == "pass"
    assert results["BN-DEG-2"]["message"] == "8/8 cases pass"
    status, results = _vectors_check(vectors, tmp_path, f"{__name__}:RefusesWithTheWrongError", "--clause", "BN-DEG-2")
    assert status == 1 and results["BN-DEG-2"]["status"] == "FAIL"
    assert ("forward raised ZeroDivisionError: Expected more than 1 value per channel when training; the torch "
            "profile requires ValueError") in results["BN-DEG-2"]["message"]


def test_the_profile_chooses_its_files(vectors, tmp_path):
    # The reference follows the lecture: the torch profile's running statistics and m = 1 differ ...
    status, results = _vectors_check(vectors, tmp_path, "reference", "--profile", "torch", "--clause", "BN-RUN",
                                     "--clause", "BN-DEG-2", "--clause", "BN-FWD-REF")
    assert status == 1
    assert "cases/torch/BN-RUN-1.json" in results["BN-RUN-1"]["message"]
    assert "forward returned; the torch profile requires ValueError" in results["BN-DEG-2"]["message"]
    assert results["BN-FWD-REF"]["status"] == "pass"
    assert results["BN-RUN-1"]["reproduce"].endswith("reference --profile torch --clause BN-RUN-1")
    # ... the paper's only in the running variance's estimator.
    assert main(["vectors", "check", str(vectors), "reference", "--profile", "paper", "--clause", "BN-DEG-2"]) == 0
    assert main(["vectors", "check", str(vectors), "reference", "--profile", "paper", "--clause", "BN-RUN-1"]) == 1


def test_a_missing_function_is_not_applicable(vectors, tmp_path):
    status, results = _vectors_check(vectors, tmp_path, f"{__name__}:RefusesOneExample", "--clause", "BN-RUN",
                                     "--clause", "BN-EVAL-1")
    assert status == 0
    assert {r["status"] for r in results.values()} == {"n/a"}
    assert "the target has no update_running" in results["BN-RUN-1"]["message"]


@require_program("node", "install Node.js, e.g. apt-get install -y nodejs")
def test_the_js_example_passes_and_its_broken_variant_fails(vectors, capsys):
    assert main(["vectors", "check", str(vectors), "--exec", JS, "--strict"]) == 0
    assert main(["vectors", "check", str(vectors), "--exec", f"{JS} --fault unbiased-variance", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "--- BN-RUN-1 (MUST) FAIL" in out and "--- BN-DEG-2 (MUST) FAIL" in out
    broken = shlex.quote(f"{JS} --fault unbiased-variance")
    assert f"reproduce the run: bnspec vectors check {vectors} --exec {broken} --clause BN-RUN-1" in out


def resign(copy: Path, relative: str, edit) -> None:
    """Edit one case file of a set and record its new sha256 in the manifest (a forged set, which
    vectors check refuses: it is not the set this bnspec writes)."""
    path = copy / relative
    document = json.loads(path.read_text())
    edit(document)
    text = json.dumps(document, indent=1) + "\n"
    path.write_text(text)
    manifest = json.loads((copy / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"] == relative:
            entry["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))


def test_usage_errors_exit_2_with_one_line(vectors, tmp_path, capsys):
    assert main(["vectors", "check", str(tmp_path / "nothing"), "reference"]) == 2
    assert main(["vectors", "check", str(vectors)]) == 2
    assert main(["vectors", "check", str(vectors), "reference", "--exec", "true"]) == 2
    assert main(["vectors", "check", str(vectors), "reference", "--clause", "NO-SUCH"]) == 2
    assert main(["vectors", "check", str(vectors), "no_such_module_xyz:thing"]) == 2
    copy = tmp_path / "copy"
    assert main(["vectors", "export", str(copy)]) == 0
    case_file = copy / "cases" / "common" / "BN-FWD-REF.json"
    original = case_file.read_text()
    case_file.write_text(original.replace("0x1", "0x2", 1))
    assert main(["vectors", "check", str(copy), "reference"]) == 2
    case_file.write_text(original)
    resign(copy, "cases/common/BN-FWD-REF.json", lambda d: d["cases"][2]["args"].pop("eps"))
    assert main(["vectors", "check", str(copy), "reference"]) == 2
    resign(copy, "cases/common/BN-FWD-REF.json", lambda d: d["cases"][2]["args"].update(eps="0.00001x"))
    assert main(["vectors", "check", str(copy), "reference", "--clause", "BN-FWD"]) == 2
    resign(copy, "cases/lecture/BN-DEG-2.json", lambda d: d["cases"][0]["expect"].update(
        outputs=[{"name": "output", "shape": [1, 1]}, {"name": "extra", "shape": [1, 1]}]))
    assert main(["vectors", "check", str(copy), "reference", "--clause", "BN-DEG-2"]) == 2
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(dict(manifest, format_version=FORMAT_VERSION + 1)))
    assert main(["vectors", "check", str(copy), "reference"]) == 2
    (copy / "manifest.json").write_text(json.dumps(dict(manifest, files="none")))
    assert main(["vectors", "check", str(copy), "reference"]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "clause " not in captured.out  # nothing ran, no table
    lines = captured.err.splitlines()
    assert len(lines) == 11 and all(line.startswith("bnspec: ") for line in lines)
    assert "no manifest.json" in lines[0] and "give either TARGET or --exec COMMAND" in lines[1]
    assert "does not match the manifest's sha256" in lines[5]
    # re-signed files (their sha256 rewritten in the manifest) are not the set this bnspec writes: refused
    assert all("export the set again" in line for line in lines[6:9])
    assert f"this bnspec reads version {FORMAT_VERSION}" in lines[9] and "is malformed" in lines[10]


# -- agreement with bnspec check ------------------------------------------------------

#: one xdist group per adapter (``make test`` runs ``--dist loadgroup``), as in test_adapters.py.
#: examples/learner_bn.py with eps moved outside the square root: a deliberately wrong implementation.
WRONG_LEARNER = "wrong learner_bn"
AGREEMENT = [pytest.param("reference", id="reference"), pytest.param(LEARNER, id="learner_bn"),
             pytest.param(WRONG_LEARNER, id="learner_bn-eps-outside-sqrt"),
             *(pytest.param(name, id=name, marks=pytest.mark.xdist_group(name)) for name in ADAPTERS)]


def _wrong_learner(directory: Path) -> str:
    source = Path(LEARNER).read_text()
    right = "inv_std = 1.0 / np.sqrt(var + eps)"
    assert source.count(right) == 1, "examples/learner_bn.py changed: update this test's fault"
    path = directory / "learner_bn_eps_outside_sqrt.py"
    path.write_text(source.replace(right, "inv_std = 1.0 / (np.sqrt(var) + eps)"))
    return str(path)


@pytest.mark.parametrize("target", AGREEMENT)
def test_the_vectors_agree_with_bnspec_check(vectors, target, tmp_path):
    """Every clause the set covers has the same verdict -- pass, FAIL, or n/a where a function is
    missing -- from the vectors and from the properties of `bnspec check` (under hypothesis, with
    AGREEMENT_EXAMPLES examples and no shrinking: a verdict needs no minimal example).  Both run in
    one session, so that a framework compiles each shape once."""
    if target in EXTRAS and (reason := missing_extra(EXTRAS[target])):
        unavailable(reason)
    if target == WRONG_LEARNER:
        target = _wrong_learner(tmp_path)
    manifest = read_manifest(vectors)
    options = RunOptions(target, max_examples=AGREEMENT_EXAMPLES, shrink=False)
    with Session(options) as session:
        start = time.perf_counter()
        by_vectors = {r.clause.id: r for r in check.run(
            session, vectors, check.read_set(vectors, manifest, session.profile, manifest["clauses"]))}
        middle = time.perf_counter()
        by_properties = {r.clause.id: r for r in session.run(covered())}
    print(f"{target}: vectors {middle - start:.1f}s, properties {time.perf_counter() - middle:.1f}s")
    assert set(by_vectors) == set(by_properties) == {c.id for c in covered()}
    errors = {i: r.message for run in (by_vectors, by_properties) for i, r in run.items() if r.status == "error"}
    assert not errors, errors
    differ = [f"{i}: vectors {by_vectors[i].status}, bnspec check {by_properties[i].status}\n"
              f"  vectors: {by_vectors[i].message[:400]}\n  bnspec check: {by_properties[i].message[:400]}"
              for i in by_vectors if by_vectors[i].status != by_properties[i].status]
    assert not differ, "\n".join(differ)
    if "eps_outside_sqrt" in target:  # the agreement is not that of two runs that see nothing
        assert {"BN-FWD-REF", "BN-GRAD-REF"} <= {i for i, r in by_vectors.items() if r.status == "FAIL"}
