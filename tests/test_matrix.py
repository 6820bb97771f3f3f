"""The committed conformance matrix is complete, stamped with the bnspec that wrote it, and every
deviation is explained by the adapter's FINDINGS, each shared root cause stated once per target;
the findings' convention (:class:`bnspec.spec.matrix.Deviation`)."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
from requirements import require_extra

from bnspec.spec import matrix
from bnspec.spec.adapters import ADAPTERS, EXTRAS
from bnspec.spec.clauses import all_clauses
from bnspec.spec.properties import variants
from bnspec.spec.target import load

MATRIX = Path(__file__).resolve().parents[1] / "docs" / "conformance" / "matrix.json"
ALL_EXTRAS = sorted(set(EXTRAS.values()))


def _load() -> dict:
    return json.loads(MATRIX.read_text())


def test_matrix_covers_the_reference_and_every_adapter_and_clause():
    data = _load()
    assert data["clauses"] == [c.id for c in all_clauses()], "the matrix is stale: run `make matrix`"
    names = [c["target"] for c in data["columns"]]
    assert names == ["reference", *ADAPTERS]
    for column in data["columns"]:
        if column["installed"]:
            assert set(column["clauses"]) == set(data["clauses"]), column["target"]
            assert column["versions"] and "not installed" not in column["versions"].values()


def test_matrix_records_the_bnspec_that_wrote_it():
    data = _load()
    assert data["format"] == matrix.FORMAT, "matrix.json is in an older format: run `make matrix`"
    assert set(data["bnspec"]) == {"version", "commit"} and data["bnspec"]["version"]


def test_each_cause_is_stated_once_per_target_and_every_explanation_reads_whole():
    """A failing cell names its causes by key; its column states each of them, once, and no other."""
    for column in _load()["columns"]:
        if not column["installed"]:
            continue
        quoted = [key for cell in column["clauses"].values() for key in cell.get("causes", ())]
        assert set(quoted) == set(column["causes"]), column["target"]
        for clause_id, cell in column["clauses"].items():
            assert ("detail" in cell) == (cell["status"] in ("FAIL", "error")), (column["target"], clause_id)
            if "detail" in cell:
                text = matrix.explanation(column, clause_id)
                assert text and all(column["causes"][key] in text for key in cell["causes"]), clause_id


@require_extra(*ALL_EXTRAS)  # matrix.findings imports each adapter, hence its framework
def test_every_deviation_is_explained():
    """(That every finding still deviates is test_adapters.test_every_finding_still_fails.)"""
    for column in _load()["columns"]:
        if not column["installed"]:
            continue
        failing = {cid for cid, cell in column["clauses"].items() if cell["status"] in ("FAIL", "error")}
        assert all(column["clauses"][cid]["detail"] != matrix.UNEXPLAINED for cid in failing), column["target"]
        assert failing <= set(matrix.findings(column["target"])), column["target"]


@require_extra(*ALL_EXTRAS)
@pytest.mark.parametrize("name", list(ADAPTERS))
def test_a_shared_cause_is_a_constant_of_the_adapters_module(name):
    """Every cause a finding quotes resolves to a module-level constant's name (matrix.causes raises
    otherwise), and a finding's text is its detail then its causes."""
    causes = matrix.causes(name)
    for clause_id, finding in matrix.findings(name).items():
        if isinstance(finding, matrix.Deviation):
            assert set(finding.causes) <= set(causes.values()), clause_id
            assert finding == matrix.compose(finding.detail, finding.causes), clause_id
            assert not finding.detail.endswith(" "), clause_id


def test_a_deviation_reads_as_its_detail_then_its_causes():
    one = matrix.Deviation("The output is off (2 for 1).", "The layer rounds the mean")
    assert one == "The output is off (2 for 1). The layer rounds the mean."
    assert (one.detail, one.causes) == ("The output is off (2 for 1).", ("The layer rounds the mean",))
    two = matrix.Deviation("dz is off.", "First cause", "second cause")
    assert two == "dz is off. First cause; and second cause."
    assert matrix.Deviation("", "The cause alone") == "The cause alone."
    for again in (copy.deepcopy(two), pickle.loads(pickle.dumps(two))):
        assert again == two and again.causes == two.causes and again.detail == two.detail
    with pytest.raises(TypeError):
        matrix.Deviation("a finding of its own is a plain str")


def test_a_cell_shows_its_worst_error_in_eps_cond_units():
    def cell(status, units):
        return {"status": status, "worst_error_eps_cond": units}

    assert matrix.cell_text(cell("pass", 0.8)) == "pass (0.8)"
    assert matrix.cell_text(cell("pass", None)) == "pass"
    assert [matrix.units(cell("FAIL", v)) for v in (29.4, 463.0, 2.1e4, 6.45e-16, 0.0)] == [
        "29", "460", "2.1e4", "6.5e-16", "0"]


def test_the_markdown_matrix_states_each_cause_once():
    cells = {c.id: {"status": "pass", "worst_error_eps_cond": 0.8} for c in all_clauses()}
    def fail(units, detail, *causes):
        return {"status": "FAIL", "worst_error_eps_cond": units, "detail": detail, "causes": list(causes)}

    cells |= {"BN-NORM-1": fail(12.0, "Off by 1.", "ROUNDS"), "BN-NORM-2": fail(None, "Off by 2.", "ROUNDS"),
              "BN-INPUT-1": fail(None, "eps = 0 is taken.")}
    column = {"target": "fw", "installed": True, "profile": "torch", "versions": {"fw": "1"},
              "causes": {"ROUNDS": "The layer rounds the mean"}, "clauses": cells}
    data = {"bnspec": {"version": "9.9", "commit": "abc"}, "columns": [column]}
    assert matrix.deviations(column) == [(None, ["BN-INPUT-1"]), ("ROUNDS", ["BN-NORM-1", "BN-NORM-2"])]
    assert matrix.explanation(column, "BN-NORM-2") == "Off by 2. The layer rounds the mean."
    text = matrix.markdown(data)
    assert text.count("The layer rounds the mean") == 1 and "Generated by bnspec 9.9 (commit abc)." in text
    assert "| BN-NORM-1 | MUST | FAIL (12) |" in text and "| BN-NORM-2 | MUST | FAIL |" in text
    assert "Off by 1." in text and "Off by 2." in text and "eps = 0 is taken." in text


def test_the_reference_conforms_in_the_matrix():
    """Every clause passes but those about a variant the reference is not, which are n/a."""
    reference = _load()["columns"][0]
    declared = load("reference").declaration
    other_variants = {cid for cid, (makes, _) in variants.NEEDS_DECLARATION.items() if not makes(declared)}
    statuses = {cid: cell["status"] for cid, cell in reference["clauses"].items()}
    assert other_variants and {cid for cid, status in statuses.items() if status != "pass"} == other_variants
    assert {statuses[cid] for cid in other_variants} == {"n/a"}
