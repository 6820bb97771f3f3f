"""The properties can fail: each faulty implementation of the zoo is caught by
the clauses named here, and every clause catches at least one fault (with the
faulty reference parts of test_meta_reference.py)."""

from __future__ import annotations

import pytest
from spec_runs import run as run_clause
from zoo import backward_faults as bwd
from zoo import dtype_faults as dty
from zoo import forward_faults as fwd
from zoo import protocol_faults as proto
from zoo import running_faults as run
from zoo.registry import CORRECT, FAULTY

from bnspec.spec import report
from bnspec.spec.clauses import all_clauses

#: fault -> the clauses that must reject it (each one is checked).
CAUGHT_BY: dict[type, tuple[str, ...]] = {
    fwd.UnbiasedVarianceBN: ("BN-NORM-2", "BN-AFFINE-2", "BN-AFFINE-3", "BN-DEG-2"),
    fwd.EpsOutsideSqrtBN: ("BN-NORM-2", "BN-INV-3"),
    fwd.HardCodedEpsBN: ("BN-NORM-2", "BN-INV-4", "NET-SCALE-1"),
    fwd.WrongAxisBN: ("BN-NORM-1", "BN-LOC-1", "BN-SHAPE-3"),
    fwd.OnePassVarianceBN: ("BN-FWD-REF", "BN-RUN-1", "NET-BIAS-1"),
    fwd.NoCenteringBN: ("BN-NORM-1", "BN-INV-1"),
    fwd.MissingGammaBN: ("BN-AFFINE-1",),
    fwd.SwappedGammaBetaBN: ("BN-AFFINE-1",),
    fwd.RunningStatsInTrainingBN: ("BN-LOC-3", "BN-FWD-REF"),
    fwd.FrozenFirstBatchStatsBN: ("BN-NORM-1",),
    fwd.Float32ArithmeticBN: ("BN-FWD-REF", "BN-GRAD-REF"),
    fwd.InPlaceCenteringBN: ("BN-PURE-1",),
    fwd.NoEpsBN: ("BN-DEG-1",),
    bwd.MissingMeanTermBN: ("BN-GRAD-6", "BN-GRAD-1", "NET-GRAD-1"),
    bwd.MissingVarianceTermBN: ("BN-GRAD-7", "BN-GRAD-1"),
    bwd.DetachedStatisticsBN: ("BN-GRAD-6", "BN-GRAD-1"),
    bwd.DgammaSumOfGradBN: ("BN-GRAD-5", "BN-GRAD-2"),
    bwd.DbetaMeanBN: ("BN-GRAD-4", "BN-GRAD-3"),
    bwd.FlatParamGradsBN: ("BN-SHAPE-2", "NET-SHAPE-1"),
    bwd.DzSignErrorBN: ("BN-GRAD-1",),
    bwd.DzWithoutGammaBN: ("BN-GRAD-6", "BN-INV-2", "BN-LOC-2"),
    bwd.BackwardWithoutEpsBN: ("BN-GRAD-1", "BN-DEG-1"),
    bwd.DzTimesMBN: ("BN-GRAD-1", "BN-GRAD-REF"),
    run.MomentumSwappedBN: ("BN-RUN-1",),
    run.RunningVarNotUpdatedBN: ("BN-RUN-1", "BN-RUN-2"),
    run.UnbiasedRunningVarBN: ("BN-RUN-1",),
    run.InPlaceRunningUpdateBN: ("BN-PURE-1",),
    run.EvalBatchStatsBN: ("BN-EVAL-1", "BN-EVAL-2", "NET-EVAL-1"),
    run.EvalWithoutEpsBN: ("BN-EVAL-1", "BN-EVAL-3"),
    run.EvalVarianceNotSqrtBN: ("BN-EVAL-1", "BN-RUN-2"),
    dty.LowPrecisionOnePassBN: ("BN-F32-1", "BN-VAR-1"),
    dty.Float16AccumulationBN: ("BN-F16-1", "BN-F16-2"),
    dty.BFloat16AccumulationBN: ("BN-BF16-1",),
    dty.UnclampedOnePassBN: ("BN-VAR-1",),
    proto.TransposedOutputBN: ("BN-SHAPE-1", "NET-FWD-1", "TRAIN-1"),
    proto.EvalPerUnitOutputBN: ("BN-SHAPE-4",),
    proto.AlwaysFloat64BN: ("BN-DTYPE-1",),
    proto.NondeterministicBN: ("BN-PURE-2",),
}

CASES = [(fault, clause_id) for fault, ids in CAUGHT_BY.items() for clause_id in ids]


def test_every_fault_of_the_zoo_is_listed():
    assert set(CAUGHT_BY) == set(FAULTY)
    assert len(FAULTY) >= 20


@pytest.mark.parametrize(("fault", "clause_id"), CASES, ids=[f"{f.__name__}-{c}" for f, c in CASES])
def test_fault_is_caught(fault, clause_id):
    result = run_clause(clause_id, fault(), shrink=False)
    assert result.status == "FAIL", f"{fault.__name__} passed {clause_id}: {fault.__doc__}"


@pytest.mark.parametrize("impl", CORRECT, ids=[c.__name__ for c in CORRECT])
@pytest.mark.parametrize("clause", all_clauses(), ids=[c.id for c in all_clauses()])
def test_correct_implementation_passes(impl, clause):
    result = run_clause(clause.id, impl())
    assert result.status == "pass", report.details(result)


def test_every_clause_is_shown_able_to_fail():
    from test_meta_reference import CAUGHT_BY as REFERENCE_FAULTS

    shown = {c for ids in CAUGHT_BY.values() for c in ids} | {c for _, c in REFERENCE_FAULTS}
    assert {c.id for c in all_clauses()} - shown == set()
