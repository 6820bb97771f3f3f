"""The zoo's roll call: every faulty implementation, and the correct ones.

``FAULTY`` lists classes whose instances each break one clause of the spec;
``CORRECT`` lists classes whose instances must pass it.  All are instantiable
without arguments; each carries ``layout`` and ``profile`` class attributes.
"""

from __future__ import annotations

from . import backward_faults as bwd
from . import dtype_faults as dty
from . import forward_faults as fwd
from . import protocol_faults as proto
from . import running_faults as run
from .base import BatchFirstLearnerBN, CorrectBN

FAULTY: list[type] = [
    # forward
    fwd.UnbiasedVarianceBN,
    fwd.EpsOutsideSqrtBN,
    fwd.HardCodedEpsBN,
    fwd.WrongAxisBN,
    fwd.OnePassVarianceBN,
    fwd.NoCenteringBN,
    fwd.MissingGammaBN,
    fwd.SwappedGammaBetaBN,
    fwd.RunningStatsInTrainingBN,
    fwd.FrozenFirstBatchStatsBN,
    fwd.LastExampleDroppedBN,
    fwd.Float32ArithmeticBN,
    fwd.InPlaceCenteringBN,
    fwd.NoEpsBN,
    # backward
    bwd.MissingMeanTermBN,
    bwd.MissingVarianceTermBN,
    bwd.DetachedStatisticsBN,
    bwd.DgammaSumOfGradBN,
    bwd.DbetaMeanBN,
    bwd.FlatParamGradsBN,
    bwd.DzSignErrorBN,
    bwd.DzWithoutGammaBN,
    bwd.BackwardWithoutEpsBN,
    bwd.DzTimesMBN,
    # running statistics and inference
    run.MomentumSwappedBN,
    run.RunningVarNotUpdatedBN,
    run.UnbiasedRunningVarBN,
    run.InPlaceRunningUpdateBN,
    run.EvalBatchStatsBN,
    run.EvalWithoutEpsBN,
    run.EvalVarianceNotSqrtBN,
    # low precision
    dty.LowPrecisionOnePassBN,
    dty.Float16AccumulationBN,
    dty.Float16GradientSumsBN,
    dty.BFloat16AccumulationBN,
    dty.UnclampedOnePassBN,
    # the protocol's contract
    proto.TransposedOutputBN,
    proto.EvalPerUnitOutputBN,
    proto.AlwaysFloat64BN,
    proto.NondeterministicBN,
]

CORRECT: list[type] = [CorrectBN, BatchFirstLearnerBN]
