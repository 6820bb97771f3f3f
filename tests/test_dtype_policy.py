"""The dtype policy: the accuracy clauses (BN-F32-*, BN-F16-*, BN-BF16-*, BN-VAR-*) judge values
alone, whatever dtype the results come in, and BN-DTYPE-1 and BN-DTYPE-2 (SHOULDs, forward's and
backward's) alone judge the dtype, in each dtype the target declares.

An implementation that computes float32 input in float64 and returns float64 is more accurate,
not less: it conforms (every MUST clause passes) and breaks BN-DTYPE-1 and BN-DTYPE-2 only.  One that returns a
*narrower* dtype than its input fails the accuracy clauses, on its values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings
from requirements import require_module
from spec_runs import run
from test_meta_zoo import why_not_applicable
from zoo import dtype_faults as dty
from zoo import protocol_faults as protocol_faults
from zoo.base import CorrectBN

from bnspec.spec import report
from bnspec.spec.errors import Status
from bnspec.spec.runner import ClauseResult, passed
from bnspec.spec.session import RunOptions, Session

ACCURACY = ("BN-F32-1", "BN-F32-2", "BN-F16-1", "BN-F16-3", "BN-BF16-1", "BN-BF16-2", "BN-F16-2", "BN-F16-4",
            "BN-VAR-1", "BN-VAR-2")


def _full_run(target: str) -> dict[str, ClauseResult]:
    """Every clause against ``target`` (a TARGET string), by ID."""
    with Session(RunOptions(target, max_examples=settings.default.max_examples, shrink=False)) as session:
        results = session.run(session.clauses())
    return {r.clause.id: r for r in results}


def test_an_implementation_that_upcasts_to_float64_conforms_and_breaks_only_the_dtype_clause():
    results = _full_run("zoo.protocol_faults:AlwaysFloat64BN")
    # n/a only where the target lacks the function or declaration the clause is about (the variants'
    # backward_eval, update_cumulative, affine = False, ...), and then for that reason
    lacking = {cid: why for cid in results if (why := why_not_applicable(protocol_faults.AlwaysFloat64BN(), cid))}
    for cid, why in lacking.items():
        assert results[cid].status is Status.NOT_APPLICABLE and why in results[cid].message, cid
    not_passed = {cid: r for cid, r in results.items() if r.status is not Status.PASS and cid not in lacking}
    assert set(not_passed) == {"BN-DTYPE-1", "BN-DTYPE-2"}, "\n".join(report.details(r) for r in not_passed.values())
    assert not_passed["BN-DTYPE-1"].status is Status.FAIL and not_passed["BN-DTYPE-2"].status is Status.FAIL
    assert "dtype of forward's output" in not_passed["BN-DTYPE-1"].message
    assert "dtype of backward's dz" in not_passed["BN-DTYPE-2"].message
    assert results["BN-DTYPE-1"].clause.level == results["BN-DTYPE-2"].clause.level == "SHOULD"
    assert passed(list(results.values())) and not passed(list(results.values()), strict=True)
    for clause_id in ACCURACY:  # declared (CorrectBN declares all four dtypes), run and passed on values
        assert results[clause_id].status is Status.PASS, clause_id


class NarrowerBN(CorrectBN):
    """Computes correctly and returns float32 input's results as float16: narrower than its input."""

    def forward(self, z, gamma, beta, eps=1e-5):
        out = super().forward(z, gamma, beta, eps)
        return out.astype(np.float16) if z.dtype == np.float32 else out

    def backward(self, z, gamma, beta, eps, grad):
        grads = super().backward(z, gamma, beta, eps, grad)
        return tuple(g.astype(np.float16) for g in grads) if z.dtype == np.float32 else grads


def test_a_narrower_result_fails_the_accuracy_clause_on_its_values():
    result = run("BN-F32-1", NarrowerBN(), shrink=False)
    assert result.status == "FAIL"
    assert "against its exact result (returned as float16)" in result.message
    assert "elements mismatch" in result.message and "dtype of" not in result.message
    assert run("BN-DTYPE-1", NarrowerBN(), shrink=False).status == "FAIL"
    assert run("BN-F32-2", NarrowerBN(), shrink=False).status == "FAIL"  # the gradients likewise, on their values


class WidensFloat16BN(CorrectBN):
    """Returns float32 for float16 input (float64 and float32 kept): a dtype fault only in float16."""

    dtypes = ("float64", "float32", "float16")

    def forward(self, z, gamma, beta, eps=1e-5):
        out = super().forward(z, gamma, beta, eps)
        return out.astype(np.float32) if z.dtype == np.float16 else out


def test_the_dtype_clause_checks_each_declared_dtype():
    result = run("BN-DTYPE-1", WidensFloat16BN(), shrink=False)
    assert result.status == "FAIL"
    assert "for float16 input" in result.message and "float32" in result.message
    # ... and only the declared ones: float16 undeclared, the same implementation conforms to it.
    undeclared = type("Float16Undeclared", (WidensFloat16BN,), {"dtypes": ("float64", "float32")})
    assert run("BN-DTYPE-1", undeclared()).status == "pass"


class Float64OnlyBN(CorrectBN):
    """Declares float64 alone, and returns float64 whatever it is given."""

    dtypes = ("float64",)

    def forward(self, z, gamma, beta, eps=1e-5):
        return super().forward(z.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64), eps)


def test_the_dtype_clause_is_not_a_fixed_list():
    assert run("BN-DTYPE-1", Float64OnlyBN()).status == "pass"  # float32 is not declared: not checked
    assert run("BN-F32-1", Float64OnlyBN()).status == "n/a"


@pytest.mark.parametrize("fault", [dty.LowPrecisionOnePassBN, dty.Float16AccumulationBN, dty.Float16GradientSumsBN,
                                   pytest.param(dty.BFloat16AccumulationBN,
                                                marks=require_module("ml_dtypes", "dev")),
                                   dty.UnclampedOnePassBN],
                         ids=lambda f: f.__name__)
def test_the_low_precision_faults_are_accuracy_faults(fault):
    """Each zoo fault of low precision keeps the input's dtype (BN-DTYPE-1 and BN-DTYPE-2 pass) and fails an
    accuracy clause on its values (test_meta_zoo.py names which)."""
    assert run("BN-DTYPE-1", fault()).status == run("BN-DTYPE-2", fault()).status == "pass"
    failed = [cid for cid in ACCURACY if run(cid, fault(), shrink=False).status == "FAIL"]
    assert failed, f"{fault.__name__} passed every accuracy clause"
