"""The reference-only clauses can fail: a faulty optimizer, patched into the reference, is
caught by TRAIN-1.  (The optimizers' and mini-batches' own checks, and the faults they
catch, are tests: tests/test_reference_optimizers.py.)"""

from __future__ import annotations

import dataclasses

import pytest
from spec_runs import options
from test_reference_optimizers import ascent

from bnspec.reference import optimizers
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.runner import run_clause
from bnspec.spec.target import load

ORIGINAL_ADAM_STEP = optimizers.Adam.step

CAUGHT_BY = [
    ((optimizers.Adam, "step", ascent(optimizers.Adam)), "TRAIN-1"),
]


@pytest.mark.parametrize(("patch", "clause_id"), CAUGHT_BY,
                         ids=[f"{p[2].__name__}-{c}" for p, c in CAUGHT_BY])
def test_faulty_reference_part_is_caught(monkeypatch, patch, clause_id):
    owner, name, wrong = patch
    monkeypatch.setattr(owner, name, wrong)
    result = run_clause(REGISTRY[clause_id], load("reference"), dataclasses.replace(options(), shrink=False))
    assert result.status == "FAIL", f"{wrong.__doc__} passed {clause_id}"


def test_patches_are_undone():
    assert optimizers.Adam.step is ORIGINAL_ADAM_STEP
