"""Golden vectors: the clauses that can be stated as inputs -> expected outputs,
as versioned, language-neutral JSON files (``bnspec vectors export DIR``), and
their check against any target (``bnspec vectors check DIR TARGET``).

:data:`COMMON` maps a clause ID to the function that makes its cases;
:data:`PER_PROFILE` those whose answer depends on the profile (one file per
profile); :func:`not_covered` says why each other clause has no vectors.
"""

from __future__ import annotations

from ..clauses import Clause, all_clauses
from . import layer, running
from .cases import CaseMaker, ProfileCaseMaker

#: name and version of the file format; a reader refuses another version.
FORMAT = "bnspec-vectors"
FORMAT_VERSION = 1

COMMON: dict[str, CaseMaker] = {
    "BN-SHAPE-1": layer.forward_shapes,
    "BN-SHAPE-2": layer.backward_shapes,
    "BN-DTYPE-1": layer.dtypes,
    "BN-AFFINE-2": layer.identity,
    "BN-FWD-REF": layer.forward_reference,
    "BN-GRAD-4": layer.dbeta_sums_grad,
    "BN-GRAD-REF": layer.backward_reference,
    "BN-DEG-1": layer.constant_unit,
    "BN-SHAPE-3": running.running_shapes,
    "BN-SHAPE-4": running.eval_shape,
    "BN-EVAL-1": running.eval_formula,
    "BN-EVAL-3": running.eval_folds_into_dense,
}

PER_PROFILE: dict[str, ProfileCaseMaker] = {
    "BN-DEG-2": running.single_example,
    "BN-RUN-1": running.weighted_average,
}

_RELATION = ("a relation among the implementation's own outputs (statistics over the mini-batch, or two "
             "outputs compared), not one input's expected output: the properties check it "
             "(bnspec check, or --exec for another language)")
#: A relation stated as "the reference's output" would check accuracy instead: an implementation that is
#: inaccurate but keeps the relation (a one-pass variance is exactly invariant under c = 2^k) would fail
#: the clause in the vectors and pass it in bnspec check.  BN-FWD-REF and BN-GRAD-REF check accuracy.
_OWN_OUTPUTS = ("two outputs of the implementation compared with each other ({}): a relation, which an "
                "expected output could state only as accuracy against the reference (BN-FWD-REF, BN-GRAD-REF "
                "check that); the properties check it (bnspec check, or --exec for another language)")
_NOT_COVERED = {
    "BN-INV-1": _OWN_OUTPUTS.format("forward(z + b) against forward(z)"),
    "BN-INV-2": _OWN_OUTPUTS.format("backward(z + b) against backward(z)"),
    "BN-INV-3": _OWN_OUTPUTS.format("forward(c z, eps) against forward(z, eps / c^2)"),
    "BN-INV-4": _OWN_OUTPUTS.format("backward(c z, c^2 eps) against backward(z, eps)"),
    "BN-LOC-2": _OWN_OUTPUTS.format("forward and backward of the permuted mini-batch against theirs, permuted"),
    "BN-GRAD-5": _OWN_OUTPUTS.format("dgamma against sum(grad * z_norm), z_norm from its own forward"),
    "BN-EVAL-2": _OWN_OUTPUTS.format("forward_eval of one example against its column of the batch's"),
    "BN-RUN-2": _OWN_OUTPUTS.format("forward_eval with the converged running statistics against its own "
                                    "training-mode forward; one update itself is BN-RUN-1's"),
    "BN-NORM-1": _RELATION,
    "BN-NORM-2": _RELATION,
    "BN-AFFINE-1": _RELATION,
    "BN-AFFINE-3": _RELATION,
    "BN-GRAD-6": _RELATION,
    "BN-GRAD-7": _RELATION,
    "BN-LOC-1": _RELATION,
    "BN-GRAD-1": "finite differences of the implementation's own forward: checked by the properties",
    "BN-GRAD-2": "finite differences of the implementation's own forward: checked by the properties",
    "BN-GRAD-3": "finite differences of the implementation's own forward: checked by the properties",
    "BN-LOC-3": "about hidden state across a sequence of calls: checked by the properties",
    "BN-PURE-1": "about the caller's arrays after a call, which only an in-process check can see",
    "BN-PURE-2": "two calls with the same inputs compared bit for bit: checked by the properties",
    "BN-F32-1": "float32 inputs against exact arithmetic, for targets that accept float32: checked by the properties",
    "BN-F16-1": "float16 inputs, for targets that declare float16: checked by the properties",
    "BN-BF16-1": "bfloat16 inputs (ml_dtypes), for targets that declare bfloat16: checked by the properties",
    "BN-F16-2": "float16 sums beyond 65504, for targets that declare float16: checked by the properties",
    "BN-VAR-1": "in every dtype the target declares, against exact arithmetic: checked by the properties",
}


def not_covered(clause: Clause) -> str:
    """Why ``clause`` has no golden vectors ('' if it has)."""
    if clause.id in COMMON or clause.id in PER_PROFILE:
        return ""
    if clause.subject == "reference":
        return "about the reference's own optimizers and training loop"
    if clause.subject == "network":
        return "the reference network with the implementation plugged in: checked by the properties"
    return _NOT_COVERED[clause.id]


def covered() -> list[Clause]:
    """The clauses with golden vectors, in the specification's order."""
    return [c for c in all_clauses() if not not_covered(c)]
