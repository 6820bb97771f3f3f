"""The specification run against the reference: every clause passes."""

from __future__ import annotations

import importlib

import pytest
from spec_runs import options

from bnspec.reference import batchnorm
from bnspec.spec import report
from bnspec.spec.clauses import LEVELS, SUBJECTS, all_clauses
from bnspec.spec.properties import load_all
from bnspec.spec.runner import run_clause
from bnspec.spec.target import load

CLAUSES = all_clauses()


def test_every_clause_has_a_property_and_every_property_a_clause():
    assert set(load_all()) == {c.id for c in CLAUSES}


def test_clause_records_are_complete():
    assert len(CLAUSES) >= 30
    for c in CLAUSES:
        assert c.level in LEVELS and c.subject in SUBJECTS
        assert c.title and c.statement.endswith(".") and c.formula and c.sources, c.id
        assert c.implements, f"{c.id} names no implementing code"
        for path in c.implements:
            module, _, name = path.rpartition(".")
            assert hasattr(importlib.import_module(module), name), f"{c.id}: no {path}"


#: clauses of a declared variant the reference does not take (affine = False, batch statistics in
#: inference, cumulative average): proven on reference-backed variants in tests/test_variants.py.
VARIANT_ONLY = {"BN-NOAFFINE-1", "BN-NORUN-1", "BN-NORUN-2", "BN-CUM-2"}


@pytest.mark.parametrize("clause", CLAUSES, ids=[c.id for c in CLAUSES])
def test_reference_conforms(clause):
    result = run_clause(clause, load("reference"), options())
    if clause.id in VARIANT_ONLY:  # the reference declares no variant: tests/test_variants.py runs them on one
        assert result.status == "n/a", report.details(result)
        return
    assert result.status == "pass", report.details(result)


def test_the_reference_module_is_the_protocol():
    for name in ("forward", "backward", "update_running", "forward_eval"):
        assert callable(getattr(batchnorm, name))
    import bnspec.reference

    # the package: the layer's functions and declarations, and the optimizers' steps (both protocols)
    assert load("reference").impl is bnspec.reference and bnspec.reference.forward is batchnorm.forward
