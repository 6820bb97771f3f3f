"""`bnspec vectors`: the exported set is valid against its schema, exact,
deterministic, traces every tolerance to spec/tolerances.py, passes the reference
and the correct implementations, and fails the faulty ones."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from zoo import dtype_faults as dty
from zoo import forward_faults as fwd
from zoo import running_faults as run
from zoo.registry import CORRECT, FAULTY

from bnspec.spec import tolerances
from bnspec.spec.clauses import all_clauses
from bnspec.spec.cli import main
from bnspec.spec.process import codec
from bnspec.spec.vectors import COMMON, FORMAT_VERSION, PER_PROFILE, covered, not_covered
from bnspec.spec.vectors.schema import schema

ROOT = Path(__file__).resolve().parents[1]
JS = f"node {shlex.quote(str(ROOT / 'examples' / 'js' / 'batchnorm.js'))}"

#: faults that only a call's effect on the caller's arrays shows, and faults of float32,
#: float16 and bfloat16 arithmetic (the vectors are float64): no vector can see them.
INVISIBLE = {fwd.InPlaceCenteringBN, run.InPlaceRunningUpdateBN, dty.LowPrecisionOnePassBN,
             dty.Float16AccumulationBN, dty.BFloat16AccumulationBN}


@pytest.fixture(scope="module")
def vectors(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("vectors")
    assert main(["vectors", "export", str(directory)]) == 0
    return directory


def _documents(directory: Path):
    for path in sorted(directory.rglob("*.json")):
        if path.name != "vectors.schema.json":
            yield path, json.loads(path.read_text())


def test_every_file_is_valid_against_the_schema(vectors):
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


def test_tolerances_come_from_the_tolerances_module(vectors):
    seen = set()
    for path, document in _documents(vectors):
        for case in document.get("cases", []):
            m = max(case["args"]["z"]["shape"][1], 4)
            for output in case["expect"].get("outputs", []):
                if "tolerance" not in output:
                    continue
                tol = output["tolerance"]
                kind = tolerances.KINDS[tol["kind"]]
                assert tol["reason"] == kind.reason
                assert codec.decode_scalar("unit_roundoff", tol["unit_roundoff"]) == tolerances.unit_roundoff(
                    np.float64)
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


def test_the_reference_passes(vectors, capsys):
    assert main(["vectors", "check", str(vectors), "reference", "--strict"]) == 0
    out = capsys.readouterr().out
    assert "BN-FWD-REF    MUST   pass" in out and " 0 failed" in out and "conforms" in out


@pytest.mark.parametrize("impl", CORRECT, ids=[c.__name__ for c in CORRECT])
def test_the_correct_implementations_pass(vectors, impl, capsys):
    assert main(["vectors", "check", str(vectors), f"{impl.__module__}:{impl.__name__}", "--strict", "--quiet"]) == 0


VISIBLE = [f for f in FAULTY if f not in INVISIBLE]


@pytest.mark.parametrize("fault", VISIBLE, ids=[f.__name__ for f in VISIBLE])
def test_a_faulty_implementation_fails(vectors, fault, capsys):
    target = f"{fault.__module__}:{fault.__name__}"
    assert main(["vectors", "check", str(vectors), target, "--strict", "--quiet"]) == 1
    assert "does not conform" in capsys.readouterr().out


def test_a_failure_names_clause_case_file_observed_and_required(vectors, capsys):
    target = "zoo.forward_faults:EpsOutsideSqrtBN"
    assert main(["vectors", "check", str(vectors), target, "--clause", "BN-FWD-REF"]) == 1
    out = capsys.readouterr().out
    assert "--- BN-FWD-REF (MUST) FAIL: Forward agrees with the reference" in out
    assert "required: forward agrees with the reference's forward" in out
    line = next(line for line in out.splitlines() if line.startswith("observed: case 0"))
    assert "in cases/common/BN-FWD-REF.json: forward's output: at index" in line
    assert " observed " in line and " required " in line and "x tolerance" in line
    assert f"reproduce: bnspec vectors check {vectors} {target} --clause BN-FWD-REF" in out


def test_the_profile_chooses_its_files(vectors, capsys):
    # The reference follows the lecture: the torch profile's running statistics and m = 1 differ ...
    assert main(["vectors", "check", str(vectors), "reference", "--profile", "torch", "--clause", "BN-RUN",
                 "--clause", "BN-DEG-2", "--clause", "BN-FWD-REF"]) == 1
    out = capsys.readouterr().out
    assert "cases/torch/BN-RUN-1.json" in out and "the torch profile requires ValueError" in out
    assert "BN-FWD-REF    MUST   pass" in out
    # ... the paper's only in the running variance's estimator.
    assert main(["vectors", "check", str(vectors), "reference", "--profile", "paper", "--clause", "BN-DEG-2"]) == 0
    assert main(["vectors", "check", str(vectors), "reference", "--profile", "paper", "--clause", "BN-RUN-1"]) == 1


def test_the_js_example_passes_and_its_broken_variant_fails(vectors, capsys):
    assert main(["vectors", "check", str(vectors), "--exec", JS, "--strict"]) == 0
    assert main(["vectors", "check", str(vectors), "--exec", f"{JS} --fault unbiased-variance", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "--- BN-RUN-1 (MUST) FAIL" in out and "--- BN-DEG-2 (MUST) FAIL" in out


def test_usage_errors_exit_2(vectors, tmp_path, capsys):
    assert main(["vectors", "check", str(tmp_path / "nothing"), "reference"]) == 2
    assert main(["vectors", "check", str(vectors)]) == 2
    assert main(["vectors", "check", str(vectors), "reference", "--clause", "NO-SUCH"]) == 2
    assert main(["vectors", "check", str(vectors), "no_such_module_xyz:thing"]) == 2
    copy = tmp_path / "copy"
    assert main(["vectors", "export", str(copy)]) == 0
    case_file = copy / "cases" / "common" / "BN-FWD-REF.json"
    case_file.write_text(case_file.read_text().replace("0x1", "0x2", 1))
    assert main(["vectors", "check", str(copy), "reference"]) == 2
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(dict(manifest, format_version=FORMAT_VERSION + 1)))
    assert main(["vectors", "check", str(copy), "reference"]) == 2
    err = capsys.readouterr().err
    assert "no manifest.json" in err and "does not match the manifest's sha256" in err
    assert f"this bnspec reads version {FORMAT_VERSION}" in err
