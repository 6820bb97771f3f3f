"""The committed conformance matrix is complete and every deviation is explained
by the adapter's FINDINGS."""

from __future__ import annotations

import json
from pathlib import Path

from requirements import require_extra

from bnspec.spec import matrix
from bnspec.spec.adapters import ADAPTERS, EXTRAS
from bnspec.spec.clauses import all_clauses
from bnspec.spec.properties import variants
from bnspec.spec.target import load

MATRIX = Path(__file__).resolve().parents[1] / "docs" / "conformance" / "matrix.json"


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


@require_extra(*sorted(set(EXTRAS.values())))  # matrix.findings imports each adapter, hence its framework
def test_every_deviation_is_explained():
    """(That every finding still deviates is test_adapters.test_every_finding_still_fails.)"""
    for column in _load()["columns"]:
        if not column["installed"]:
            continue
        failing = {cid for cid, cell in column["clauses"].items() if cell["status"] in ("FAIL", "error")}
        assert all(column["clauses"][cid]["finding"] != "unexplained" for cid in failing), column["target"]
        assert failing <= set(matrix.findings(column["target"])), column["target"]


def test_the_reference_conforms_in_the_matrix():
    """Every clause passes but those about a variant the reference is not, which are n/a."""
    reference = _load()["columns"][0]
    declared = load("reference").declaration
    other_variants = {cid for cid, (makes, _) in variants.NEEDS_DECLARATION.items() if not makes(declared)}
    statuses = {cid: cell["status"] for cid, cell in reference["clauses"].items()}
    assert other_variants and {cid for cid, status in statuses.items() if status != "pass"} == other_variants
    assert {statuses[cid] for cid in other_variants} == {"n/a"}
