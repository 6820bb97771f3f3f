"""The committed conformance matrix is complete and every deviation is explained
by the adapter's FINDINGS."""

from __future__ import annotations

import json
from pathlib import Path

from requirements import require_extra

from bnspec.spec import matrix
from bnspec.spec.adapters import ADAPTERS, EXTRAS
from bnspec.spec.clauses import all_clauses

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
    reference = _load()["columns"][0]
    assert {cell["status"] for cell in reference["clauses"].values()} == {"pass"}
