"""`bnspec vectors`: the exported set is valid against its schema, exact,
deterministic, made by the properties themselves (their draws, scales and
tolerances: nothing of its own), legal inputs outside BN-DEG-*, in float64,
float32 and float16 sets and in the three layouts; it runs through the run
session of `bnspec check` with its statuses and messages, in the dtypes a
target declares and in its layout, passes the reference and the correct
implementations, fails the faulty ones, and agrees with `bnspec check` on every
installed adapter and on numpy learners in every layout."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
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
from bnspec.spec import matrix, strategies, tolerances
from bnspec.spec.adapters import ADAPTERS, EXTRAS, LAYER_ADAPTERS
from bnspec.spec.clauses import REGISTRY, all_clauses
from bnspec.spec.cli import main
from bnspec.spec.process import codec
from bnspec.spec.properties import load_all
from bnspec.spec.protocol import FUNCTIONS
from bnspec.spec.runner import DEFAULT_MAX_EXAMPLES, not_applicable
from bnspec.spec.session import RunOptions, Session
from bnspec.spec.target import Subject
from bnspec.spec.vectors import COMMON, FORMAT_VERSION, PER_DTYPE, PER_PROFILE, check, covered, not_covered
from bnspec.spec.vectors import cases as vector_cases
from bnspec.spec.vectors.files import read_manifest
from bnspec.spec.vectors.schema import schema

ROOT = Path(__file__).resolve().parents[1]
JS = f"node {shlex.quote(str(ROOT / 'examples' / 'js' / 'batchnorm.js'))}"
LEARNER = str(ROOT / "examples" / "learner_bn.py")

#: faults that only a call's effect on the caller's arrays shows, and of bfloat16 arithmetic (the
#: vectors have float64, float32 and float16 sets): no vector can see them.
INVISIBLE = {fwd.InPlaceCenteringBN, run.InPlaceRunningUpdateBN, dty.BFloat16AccumulationBN}

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


def _manifest(vectors: Path) -> dict:
    return json.loads((vectors / "manifest.json").read_text())


def _decoded(vectors: Path, **where) -> list[check.Case]:
    """The cases of the manifest's files whose entries have the fields ``where``, in the lecture's layout."""
    entries = [f for f in _manifest(vectors)["files"] if all(f[k] == v for k, v in where.items())]
    return check.read_clause(vectors, entries)


@require_module("jsonschema", "dev")
def test_every_file_is_valid_against_the_schema(vectors):
    import jsonschema

    written = json.loads((vectors / "vectors.schema.json").read_text())
    assert written == schema()
    jsonschema.Draft202012Validator.check_schema(written)
    validator = jsonschema.Draft202012Validator(written)
    documents = list(_documents(vectors))
    assert len(documents) == 1 + len(_manifest(vectors)["files"])
    for path, document in documents:
        errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)]
        assert not errors, f"{path}: {errors[:3]}"
    broken = dict(documents[0][1], format_version=FORMAT_VERSION + 1)
    assert list(validator.iter_errors(broken))  # the schema can fail


def test_the_manifest_names_every_clause_dtype_and_layout(vectors):
    manifest = _manifest(vectors)
    assert manifest["clauses"] == [c.id for c in covered()]
    assert manifest["format_version"] == FORMAT_VERSION and manifest["bnspec_version"]
    for clause in all_clauses():  # every clause has vectors, or a reason why not
        assert (clause.id in manifest["clauses"]) != bool(manifest["not_covered"].get(clause.id))
        assert (clause.id in manifest["clauses"]) == (not not_covered(clause))
    assert {f["clause"] for f in manifest["files"]} == set(manifest["clauses"])
    assert manifest["layouts"] == ["units_first", "channels_first", "channels_last"]
    assert manifest["dtypes"] == ["float64", "float32", "float16"]
    # every float64 file in every layout; the float32 and float16 sets in the lecture's
    for entry in manifest["files"]:
        others = {(f["layout"], f["dtype"]) for f in manifest["files"]
                  if (f["clause"], f["profile"]) == (entry["clause"], entry["profile"])}
        if entry["dtype"] == "float64":
            assert {(layout, "float64") for layout in manifest["layouts"]} <= others, entry["path"]
        else:
            assert (entry["layout"], entry["path"]) == ("units_first", f"cases/{entry['dtype']}/{entry['clause']}.json")
    sets = {(f["clause"], f["dtype"]) for f in manifest["files"]}
    for clause, (_, dtypes) in PER_DTYPE.items():
        assert {d for c, d in sets if c == clause} == set(dtypes)
    assert {("BN-F32-1", "float32"), ("BN-F16-1", "float16"), ("BN-F16-2", "float16"),
            ("BN-DTYPE-1", "float16"), ("BN-VAR-1", "float32")} <= sets


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


def test_eps_and_momentum_are_the_properties_draws(vectors):
    """ONNX (and other engines) take eps and momentum as float32 attributes: the properties draw
    them rounded by strategies.attribute, and so are the vectors (else a float32 engine errs by
    the rounding of momentum, 1e-5 at 0.9, far beyond the running tolerance) -- but for BN-VAR-*,
    whose property draws eps among float64 values of its own, which the vectors take as they are."""
    seen = {"eps": 0, "momentum": 0}
    for path, case in _cases(vectors):
        for name in seen.keys() & case["args"].keys():
            value = codec.decode_scalar(name, case["args"][name])
            if path.name.startswith("BN-VAR-"):
                assert value in (1e-8, 1e-5, 1e-3, 1e-2), (path, case["name"], value)
            else:
                assert strategies.attribute(value) == value, (path, case["name"], name, value)
            seen[name] += 1
    assert all(seen.values())


def test_tolerances_are_the_properties(vectors):
    """Each expected output carries the tolerance its property computed: a kind of
    spec/tolerances.py with its reason, K(k) / 2 units of eps x cond x scale (k: m, 1 or n[l-1])
    where the tolerance is of that form -- every one but the float16 set's, whose float16
    roundings of the result are not."""
    seen = set()
    for path, case in _cases(vectors):
        n = (case["args"].get("gamma") or case["args"]["running_mean"])["shape"][0]
        m = max(math.prod(case["args"]["z"]["shape"]) // n, 4)
        for output in case["expect"].get("outputs", []):
            if "tolerance" not in output:
                continue
            tol = output["tolerance"]
            kind = tolerances.KINDS[tol["kind"]]
            assert tol["reason"] == kind.reason and output["claim"]
            if tol["units"] is None:
                assert path.parent.name == "float16", path
            else:
                assert codec.decode_scalar("units", tol["units"]) in {kind.factor(k) / 2 for k in range(1, m + 1)}
            atol = codec.decode_array("atol", tol["atol"])
            # 0 only where the value is exact (dz of a unit with gamma = 0)
            assert atol.shape == tuple(output["shape"]) and (atol >= 0).all() and atol.any()
            seen.add(tol["kind"])
    assert seen == {"value", "pair", "gradient", "running"}


class Zeros:
    """forward and forward_eval return zeros, in every dtype: wrong wherever an output is not 0."""

    dtypes = ("float64", "float32", "float16")

    @staticmethod
    def forward(z, gamma, beta, eps):
        return np.zeros_like(z)

    @staticmethod
    def forward_eval(z, gamma, beta, running_mean, running_var, eps):
        return np.zeros_like(z)


@pytest.mark.parametrize(("clause", "dtype"), [("BN-FWD-REF", "float64"), ("BN-F16-1", "float16"),
                                               ("BN-DEG-1", "float64"), ("BN-EVAL-1", "float64")])
def test_a_case_is_its_propertys_example(vectors, clause, dtype):
    """Case 0 of a clause, made again by its property -- the situation's pinned draws, against an
    implementation that fails it -- fails the property on the very values and tolerance the case
    holds: the vectors state what the property checks, nothing of their own."""
    from bnspec.spec.target import Target, load
    from bnspec.spec.trial import FailedClaim, Trial
    from bnspec.spec.vectors.cases import PinnedDraw

    situation = (COMMON.get(clause) or PER_DTYPE[clause][0])[0]
    pins = next(situation.runs(0, dtype))
    case = _decoded(vectors, clause=clause, dtype=dtype, layout="units_first")[0]
    required, atol = case.outputs[0].values, case.outputs[0].tolerance.atol
    with pytest.raises(FailedClaim) as failed:
        load_all()[clause].check(Target(load(f"{__name__}:Zeros")), Trial(PinnedDraw(pins)))
    claim = failed.value.claim
    rows = slice(None) if claim.observed.shape == required.shape else pins["constant_unit"]
    assert np.array_equal(np.broadcast_to(claim.required, required[rows].shape), required[rows])
    assert np.array_equal(np.broadcast_to(claim.atol, required[rows].shape), atol[rows])
    assert case.outputs[0].claim == claim.what or clause == "BN-DEG-1"


def test_the_inputs_are_legal_outside_the_degenerate_clauses(vectors):
    """Constant units and m = 1 are BN-DEG-*'s: every other clause's training-mode cases are legal
    inputs (strategies.legal), so that one bug on a constant unit fails those clauses alone."""
    degenerate = 0
    for case in _decoded(vectors, layout="units_first"):
        z = case.args[FUNCTIONS[case.call].argument_names.index("z")]
        if Path(case.path).name.startswith("BN-DEG-"):
            degenerate += not strategies.legal(z)
        elif case.call != "forward_eval":
            assert strategies.legal(z), case.label()
    assert degenerate


def test_the_situations_reach_the_edges(vectors):
    """The ordinary situations, drawn by the strategies from their seeds, reach offsets |mu| / sigma of
    1e7 and more, gamma negative and 0, m = 2, n = 1, eps of 1e-8 and 10."""
    cases = _decoded(vectors, clause="BN-FWD-REF", layout="units_first")
    ratio = max(float((np.abs(c.args[0].mean(axis=1)) / c.args[0].std(axis=1)).max()) for c in cases)
    gamma = np.concatenate([c.args[1].ravel() for c in cases])
    assert ratio > 1e7 and (gamma < 0).any() and (gamma == 0).any()
    assert {2, 5} <= {c.args[0].shape[1] for c in cases} and 1 in {c.args[0].shape[0] for c in cases}
    assert {strategies.attribute(1e-8), 10.0} <= {c.args[3] for c in cases}


def test_the_channel_layouts_hold_the_same_cases_in_their_shapes(vectors):
    """cases/channels_first and cases/channels_last: every float64 case again, z as (N, C, *S) or
    (N, *S, C) with 1 to 3 spatial dims and N * prod(S) = m, per-channel arrays (C,); back in the
    lecture's layout, the very case of the units_first file."""
    lecture = {(c.path, c.index): c for c in _decoded(vectors, layout="units_first", dtype="float64")}
    for layout in ("channels_first", "channels_last"):
        ranks = set()
        for path, document in _documents(vectors):
            if document.get("layout") != layout:
                continue
            assert document["dtype"] == "float64"
            for case in document["cases"]:
                z = case["args"]["z"]["shape"]
                gamma = (case["args"].get("gamma") or case["args"]["running_mean"])["shape"]
                channel = 1 if layout == "channels_first" else len(z) - 1
                assert len(gamma) == 1 and z[channel] == gamma[0] and 3 <= len(z) <= 5, (path, case["name"])
                ranks.add(len(z) - 2)
        assert ranks == {1, 2, 3}
        decoded = _decoded(vectors, layout=layout)
        assert len(decoded) == len(lecture)
        for case in decoded:
            twin = lecture[(case.path.replace(f"cases/{layout}/", "cases/"), case.index)]
            assert (case.name, case.call, case.raises) == (twin.name, twin.call, twin.raises)
            for a, b in zip(case.args, twin.args, strict=True):
                assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, case.label()
            for a, b in zip(case.outputs, twin.outputs, strict=True):
                assert a.shape == b.shape and (a.values is None) == (b.values is None), case.label()
                if a.values is not None:
                    assert np.array_equal(a.values, b.values) and np.array_equal(a.tolerance.atol, b.tolerance.atol)


def test_the_export_is_exact_and_deterministic(vectors, tmp_path):
    assert main(["vectors", "export", str(tmp_path)]) == 0
    for path, _ in _documents(vectors):
        assert (tmp_path / path.relative_to(vectors)).read_bytes() == path.read_bytes(), path
    document = json.loads((vectors / "cases" / "common" / "BN-FWD-REF.json").read_text())
    data = document["cases"][0]["args"]["z"]["data"]
    assert all(isinstance(x, str) and x == float.fromhex(x).hex() for x in data)


# -- checking a target ---------------------------------------------------------------


@pytest.mark.parametrize("layout", [None, "units_first", "channels_first", "channels_last"])
def test_the_reference_passes_in_every_dtype_and_layout(vectors, tmp_path, capsys, layout):
    status, results = _vectors_check(vectors, tmp_path, "reference", "--strict",
                                     *(("--layout", layout) if layout else ()))
    assert status == 0
    assert {r["status"] for r in results.values()} == {"pass"} and len(results) == len(covered())
    assert results["BN-FWD-REF"]["message"] == "10/10 cases pass (float64 10/10)"
    assert results["BN-DTYPE-1"]["message"] == "12/12 cases pass (float64 4/4, float32 4/4, float16 4/4)"
    assert results["BN-VAR-1"]["message"].endswith("(float64 3/3, float32 3/3, float16 3/3)")
    assert results["BN-FWD-REF"]["reproduce"] == f"bnspec vectors check {vectors} reference --clause BN-FWD-REF"
    out = capsys.readouterr().out
    assert f"{len(covered())} passed, 0 failed, 0 not applicable, 0 errors" in out and "conforms" in out
    assert f"the {layout or 'units_first'} files" in out
    meta = json.loads((tmp_path / "vectors.json").read_text())["meta"]
    assert meta["files_layout"] == (layout or "units_first")
    assert set(meta["cases_by_dtype"]) == {"float64", "float32", "float16"}
    assert not any(c["failed"] for c in meta["cases_by_dtype"].values())
    summary = ", ".join(f"{d} {c['cases']}/{c['cases']} pass" for d, c in meta["cases_by_dtype"].items())
    assert f"cases by dtype: {summary}\n" in out


class Float64Only:
    """The reference, declaring float64 alone."""

    dtypes = ("float64",)
    forward, backward = staticmethod(ref.forward), staticmethod(ref.backward)


class Float32AsFloat64(Float64Only):
    """Declares float32 and computes it right, but returns float64: BN-DTYPE-1's and -2's SHOULD."""

    dtypes = ("float64", "float32")

    @staticmethod
    def forward(z, gamma, beta, eps):
        return ref.forward(z.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64), eps)

    @staticmethod
    def backward(z, gamma, beta, eps, grad):
        return ref.backward(*(a.astype(np.float64) for a in (z, gamma, beta)), eps, grad.astype(np.float64))


class FixedEpsReference(Float64Only):
    """The reference computing with eps = 1e-3 whatever it is passed, and saying so."""

    fixed_eps = 1e-3

    @staticmethod
    def forward(z, gamma, beta, eps):
        return ref.forward(z, gamma, beta, 1e-3)

    @staticmethod
    def backward(z, gamma, beta, eps, grad):
        return ref.backward(z, gamma, beta, 1e-3, grad)


class WithoutAffine(Float64Only):
    """A layer without gamma and beta: it ignores them, and its dgamma and dbeta are zeros."""

    affine = False

    @staticmethod
    def forward(z, gamma, beta, eps):
        return ref.forward(z, np.ones_like(gamma), np.zeros_like(beta), eps)

    @staticmethod
    def backward(z, gamma, beta, eps, grad):
        dz, dgamma, dbeta = ref.backward(z, np.ones_like(gamma), np.zeros_like(beta), eps, grad)
        return dz, np.zeros_like(dgamma), np.zeros_like(dbeta)


class FixedEpsUndeclared(FixedEpsReference):
    fixed_eps = None


class WithoutAffineUndeclared(WithoutAffine):
    affine = True


@pytest.mark.parametrize(("impl", "undeclared"), [(FixedEpsReference, FixedEpsUndeclared),
                                                  (WithoutAffine, WithoutAffineUndeclared)])
def test_the_cases_are_those_the_declaration_admits(vectors, impl, undeclared):
    """As the properties draw for a declaration: a fixed eps runs the cases of its eps alone, a layer
    without gamma and beta those with gamma = 1 and beta = 0.  The set holds neither (its eps and its
    gamma and beta are drawn), so such a target gets n/a naming its declaration, never a FAIL for a
    convention it declared; the same implementation without its declaration fails."""
    manifest = read_manifest(vectors)
    for cls in (impl, undeclared):
        with Session(RunOptions(f"{__name__}:{cls.__name__}")) as session:
            cases = check.read_set(vectors, manifest, session.subject, ["BN-FWD-REF", "BN-GRAD-REF"])
            results = {r.clause.id: r for r in check.run(session, vectors, cases)}
        if cls is impl:
            assert {r.status for r in results.values()} == {"n/a"}, results
            assert all("declar" in r.message for r in results.values()), results  # the declaration says why
        else:
            assert {r.status for r in results.values()} == {"FAIL"}, results


def test_a_layer_without_affine_is_judged_on_dz_alone():
    """The case a layer without gamma and beta is admitted to: gamma = 1, beta = 0, and dgamma and dbeta
    judged by their shape alone (zeros will do); other cases, and other eps under a fixed eps, are not."""
    one, zero = np.ones((2, 1)), np.zeros((2, 1))
    z, grad = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    expected = tuple(check.Expected(name, shape, np.dtype(np.float64), np.ones(shape),
                                    tolerances.Tolerance(np.zeros(shape), "value"))
                     for name, shape in (("dz", (2, 3)), ("dgamma", (2, 1)), ("dbeta", (2, 1))))
    case = check.Case("p", 0, "c", "backward", (z, one, zero, 1e-5, grad), outputs=expected)
    with Session(RunOptions(f"{__name__}:WithoutAffine")) as session:
        kept = check.admitted(case, session.subject)
        assert kept is not None and kept.outputs[0] == expected[0]
        assert [(e.name, e.shape, e.values) for e in kept.outputs[1:]] == [("dgamma", (2, 1), None),
                                                                           ("dbeta", (2, 1), None)]
        assert check.admitted(dataclasses.replace(case, args=(z, 2 * one, zero, 1e-5, grad)),
                              session.subject) is None
    with Session(RunOptions(f"{__name__}:FixedEpsReference")) as session:
        assert check.admitted(case, session.subject) is None
        its_eps = dataclasses.replace(case, args=(z, one, zero, 1e-3, grad))
        assert check.admitted(its_eps, session.subject) is its_eps


def test_a_target_runs_the_sets_of_the_dtypes_it_declares(vectors, tmp_path, capsys):
    status, results = _vectors_check(vectors, tmp_path, f"{__name__}:Float64Only", "--strict")
    assert status == 0
    assert results["BN-DTYPE-1"]["message"] == "4/4 cases pass (float64 4/4)"
    assert results["BN-VAR-2"]["message"] == "3/3 cases pass (float64 3/3)"
    assert {i for i, r in results.items() if r["status"] == "n/a"} == {
        "BN-F32-1", "BN-F32-2", "BN-F16-1", "BN-F16-3", "BN-F16-2", "BN-F16-4",
        *(c for c in COMMON if c.startswith(("BN-SHAPE-3", "BN-SHAPE-4", "BN-EVAL"))), "BN-RUN-1"}
    assert "; float32 not declared, float16 not declared\n" in capsys.readouterr().out
    # float32 declared: its values are right (BN-F32-*), its dtype is not (BN-DTYPE-*, SHOULDs)
    status, results = _vectors_check(vectors, tmp_path, f"{__name__}:Float32AsFloat64", "--strict")
    assert status == 1
    assert {i for i, r in results.items() if r["status"] == "FAIL"} == {"BN-DTYPE-1", "BN-DTYPE-2"}
    assert results["BN-DTYPE-1"]["message"].startswith("4 of 8 cases fail (4/8 pass: float64 4/4, float32 0/4):")
    required = "dtype of forward's output: observed dtype('float64'), required dtype('float32')"
    assert required in results["BN-DTYPE-1"]["message"]
    assert results["BN-F32-1"]["status"] == results["BN-F32-2"]["status"] == "pass"


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
    assert result["message"].startswith("10 of 10 cases fail (0/10 pass: float64 0/10):\n")
    line = result["message"].splitlines()[1]
    assert line.startswith("  case 0 'ordinary: n = 3, m = 8' in cases/common/BN-FWD-REF.json: "
                           "forward(z, gamma, beta, eps) against the reference: ")
    assert " observed " in line and " required " in line and "x tolerance" in line
    assert result["worst_error_eps_cond"] > 1e6  # the eps*cond column, as bnspec check measures it
    out = capsys.readouterr().out
    assert "--- BN-FWD-REF (MUST) FAIL: Forward agrees with the reference" in out
    assert "required: forward agrees with the reference's forward" in out
    assert "observed: 10 of 10 cases fail (0/10 pass: float64 0/10):" in out
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
    status, results = _vectors_check(vectors, tmp_path, f"{__name__}:RefusesOneExample", "--clause", "BN-DEG-2",
                                     "--clause", "BN-DEG-4")
    assert status == 0 and results["BN-DEG-2"]["status"] == results["BN-DEG-4"]["status"] == "pass"
    assert results["BN-DEG-2"]["message"] == results["BN-DEG-4"]["message"] == "4/4 cases pass (float64 4/4)"
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
    # a set of format version 1 (float64 in the lecture's layout only, before the dtype sets and the layouts)
    old = {k: v for k, v in manifest.items() if k not in ("layouts", "dtypes")}
    (copy / "manifest.json").write_text(json.dumps(dict(old, format_version=1, layout="units_first")))
    assert main(["vectors", "check", str(copy), "reference"]) == 2
    (copy / "manifest.json").write_text(json.dumps(dict(manifest, files="none")))
    assert main(["vectors", "check", str(copy), "reference"]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "clause " not in captured.out  # nothing ran, no table
    lines = captured.err.splitlines()
    assert len(lines) == 12 and all(line.startswith("bnspec: ") for line in lines), lines
    assert "no manifest.json" in lines[0] and "give either TARGET or --exec COMMAND" in lines[1]
    assert "does not match the manifest's sha256" in lines[5]
    # re-signed files (their sha256 rewritten in the manifest) are not the set this bnspec writes: refused
    assert all("export the set again" in line for line in lines[6:9])
    assert f"this bnspec reads version {FORMAT_VERSION}" in lines[9]
    assert f"has format version 1; this bnspec reads version {FORMAT_VERSION} (export the set again" in lines[10]
    assert "is malformed" in lines[11]


# -- agreement with bnspec check ------------------------------------------------------

#: examples/learner_bn.py with eps moved outside the square root: a deliberately wrong implementation.
WRONG_LEARNER = "wrong learner_bn"

#: A correct channels-first batch norm in numpy (z is (N, C, *S)).  The channels-last one is the same
#: with the channels' axis last; the wrong one takes its statistics per sample, over the spatial
#: positions alone -- a slip of the channel layouts that no n x m batch can show.
CHANNELS_FIRST = '''"""A correct channels-first batch norm in numpy: z is (N, C, *S)."""
import numpy as np

layout = "channels_first"


def _axes(z):
    return (0, *range(2, z.ndim))


def _shape(z, a):
    return a.reshape((1, -1) + (1,) * (z.ndim - 2))


def forward(z, gamma, beta, eps):
    mu = z.mean(axis=_axes(z), keepdims=True)
    var = ((z - mu) ** 2).mean(axis=_axes(z), keepdims=True)
    return _shape(z, gamma) * (z - mu) / np.sqrt(var + eps) + _shape(z, beta)


def backward(z, gamma, beta, eps, grad):
    ax = _axes(z)
    m = z.size // z.shape[1]
    mu = z.mean(axis=ax, keepdims=True)
    var = ((z - mu) ** 2).mean(axis=ax, keepdims=True)
    inv = 1 / np.sqrt(var + eps)
    zn = (z - mu) * inv
    dbeta = grad.sum(axis=ax)
    dgamma = (grad * zn).sum(axis=ax)
    dzn = grad * _shape(z, gamma)
    dz = inv / m * (m * dzn - dzn.sum(axis=ax, keepdims=True) - zn * (dzn * zn).sum(axis=ax, keepdims=True))
    return dz, dgamma, dbeta


def update_running(running_mean, running_var, z, momentum):
    ax = _axes(z)
    mu = z.mean(axis=ax)
    var = ((z - z.mean(axis=ax, keepdims=True)) ** 2).mean(axis=ax)
    return momentum * running_mean + (1 - momentum) * mu, momentum * running_var + (1 - momentum) * var


def forward_eval(z, gamma, beta, running_mean, running_var, eps):
    return _shape(z, gamma) * (z - _shape(z, running_mean)) / np.sqrt(_shape(z, running_var) + eps) + _shape(z, beta)
'''
#: The edits that make the other two learners of CHANNELS_FIRST.
LEARNERS = {
    "channels_first learner": [],
    "channels_last learner": [('layout = "channels_first"', 'layout = "channels_last"'),
                              ("return (0, *range(2, z.ndim))", "return tuple(range(z.ndim - 1))"),
                              ("return a.reshape((1, -1) + (1,) * (z.ndim - 2))",
                               "return a.reshape((1,) * (z.ndim - 1) + (-1,))"),
                              ("m = z.size // z.shape[1]", "m = z.size // z.shape[-1]")],
    "channels_first learner, statistics per sample": [("return (0, *range(2, z.ndim))",
                                                       "return tuple(range(2, z.ndim))")],
}


def _learner(directory: Path, name: str) -> str:
    source = CHANNELS_FIRST
    for old, new in LEARNERS[name]:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    path = directory / (name.replace(" ", "_").replace(",", "") + ".py")
    path.write_text(source)
    return str(path)


#: one xdist group per adapter (``make test`` runs ``--dist loadgroup``), as in test_adapters.py.
AGREEMENT = [pytest.param("reference", id="reference"), pytest.param(LEARNER, id="learner_bn"),
             pytest.param(WRONG_LEARNER, id="learner_bn-eps-outside-sqrt"),
             *(pytest.param(name, id=name.replace(" ", "-").replace(",", "")) for name in LEARNERS),
             # the golden vectors are the layer protocol's
             *(pytest.param(name, id=name, marks=pytest.mark.xdist_group(name)) for name in LAYER_ADAPTERS)]


def _wrong_learner(directory: Path) -> str:
    source = Path(LEARNER).read_text()
    right = "inv_std = 1.0 / np.sqrt(var + eps)"
    assert source.count(right) == 1, "examples/learner_bn.py changed: update this test's fault"
    path = directory / "learner_bn_eps_outside_sqrt.py"
    path.write_text(source.replace(right, "inv_std = 1.0 / (np.sqrt(var) + eps)"))
    return str(path)


def _replayed(session: Session, case: check.Case) -> bool:
    """Whether the property of ``case``'s clause fails against the session's target on the case's own
    example (the draws that made it, and its arrangement where the target accepts it)."""
    clause = Path(case.path).stem
    dtype = case.dtype if clause in PER_DTYPE else None
    profile = session.profile if clause in PER_PROFILE else "lecture"
    arranged = case.spatial is not None and case.spatial[0] in session.subject.declaration.spatial_dims
    first = [("arrangement", (*case.spatial, "contiguous"))] if arranged else []
    return any(session.run_clause(REGISTRY[clause], replay=first + draws).status == "FAIL"
               for draws in vector_cases.draws_of(clause, case.name, case.seed, profile, dtype))


def _adapter_verdicts(name: str, subject: Subject) -> dict[str, tuple[str, str]]:
    """clause -> bnspec check's (status, message) on the adapter ``name``: n/a by the runner's own rule,
    FAIL where its FINDINGS explain a deviation, else pass -- what test_adapters.py runs and asserts."""
    findings, props = matrix.findings(name), load_all()
    verdicts = {}
    for clause in covered():
        reason = not_applicable(clause, props[clause.id], subject)
        verdicts[clause.id] = (("n/a", reason) if reason else ("FAIL", findings[clause.id])
                               if clause.id in findings else ("pass", ""))
    return verdicts


@pytest.mark.parametrize("target", AGREEMENT)
def test_the_vectors_agree_with_bnspec_check(vectors, target, tmp_path):
    """Every clause the set covers has the same verdict -- pass, FAIL, or n/a where a function or a
    dtype is missing -- from the vectors (the files of the target's layout, in each dtype it
    declares) and from the properties of `bnspec check` (under hypothesis, with AGREEMENT_EXAMPLES
    examples -- the default for the wrong learners -- and no shrinking: a verdict needs no minimal
    example).  Both run in one session, so that a framework compiles each shape once.  An adapter's
    verdicts from `bnspec check` are its FINDINGS (FAIL) and the rest (pass, or n/a by the runner's
    rule), which test_adapters.py proves clause by clause in the same test run: they are read, not run
    a second time."""
    if target in EXTRAS and (reason := missing_extra(EXTRAS[target])):
        unavailable(reason)
    manifest = read_manifest(vectors)
    # a deliberately wrong learner gets bnspec check's default number of examples: the vectors' constant
    # units at 1.1 and 1370 (m = 7), where a mean rounds, show eps outside the root on BN-DEG-1 at once,
    # the property's draws in about 40 examples (a correct target passes either way)
    wrong = target in (WRONG_LEARNER, "channels_first learner, statistics per sample")
    examples = DEFAULT_MAX_EXAMPLES if wrong else AGREEMENT_EXAMPLES
    if target == WRONG_LEARNER:
        target = _wrong_learner(tmp_path)
    elif target in LEARNERS:
        target = _learner(tmp_path, target)
    options = RunOptions(target, max_examples=examples, shrink=False)
    with Session(options) as session:
        subject = session.subject
        cases = check.read_set(vectors, manifest, subject, manifest["clauses"])
        start = time.perf_counter()
        tallies: dict[str, check.Tally] = {}
        by_vectors = {r.clause.id: r for r in check.run(session, vectors, cases, tallies=tallies)}
        middle = time.perf_counter()
        if target in ADAPTERS:
            by_properties = _adapter_verdicts(target, subject)
        else:
            by_properties = {r.clause.id: (r.status, r.message) for r in session.run(covered())}
        # A FAIL of the vectors that the properties' draws missed (a framework's fault that few draws
        # reach, e.g. torch's float16 mean on BN-VAR-2) must be bnspec check's too on the failing case's
        # own example: its draws, replayed through the property (as bnspec replay does).
        confirmed = {i: _replayed(session, tallies[i].failing[0]) for i, r in by_vectors.items()
                     if (r.status, by_properties[i][0]) == ("FAIL", "pass")}
    print(f"{target}: vectors {middle - start:.1f}s, properties {time.perf_counter() - middle:.1f}s"
          + (f"; vectors' FAILs confirmed on their examples: {confirmed}" if confirmed else ""))
    assert set(by_vectors) == set(by_properties) == {c.id for c in covered()}
    errors = {i: message for i, (status, message) in
              [*((i, (r.status, r.message)) for i, r in by_vectors.items()), *by_properties.items()]
              if status == "error"}
    assert not errors, errors
    differ = [f"{i}: vectors {by_vectors[i].status}, bnspec check {by_properties[i][0]}\n"
              f"  vectors: {by_vectors[i].message[:400]}\n  bnspec check: {by_properties[i][1][:400]}"
              for i in by_vectors if by_vectors[i].status != by_properties[i][0] and not confirmed.get(i)]
    assert not differ, "\n".join(differ)
    # float64 (every target's) and each dtype it declares that has a set ran; a channel layout, its own files
    ran = {dtype for tally in tallies.values() for dtype in tally.total}
    assert ran == {"float64"} | {d for d in subject.dtypes if d in manifest["dtypes"]}, (ran, subject.dtypes)
    own = {case.path for case in cases["BN-FWD-REF"]}
    assert own == {"cases/common/BN-FWD-REF.json" if not subject.layout.spatial else
                   f"cases/{subject.layout.value}/common/BN-FWD-REF.json"}
    if "eps_outside_sqrt" in target or "per_sample" in target:  # the agreement is not that of two runs that see nothing
        assert {"BN-FWD-REF", "BN-GRAD-REF"} <= {i for i, r in by_vectors.items() if r.status == "FAIL"}
