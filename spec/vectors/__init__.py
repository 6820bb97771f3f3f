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
    "BN-INV-1": layer.bias_cancels,
    "BN-INV-2": layer.bias_cancels_in_gradients,
    "BN-INV-3": layer.scale_invariance,
    "BN-INV-4": layer.gradient_scales,
    "BN-LOC-2": layer.examples_exchangeable,
    "BN-GRAD-4": layer.dbeta_sums_grad,
    "BN-GRAD-5": layer.dgamma_weighs_by_z_norm,
    "BN-GRAD-REF": layer.backward_reference,
    "BN-DEG-1": layer.constant_unit,
    "BN-SHAPE-3": running.running_shapes,
    "BN-SHAPE-4": running.eval_shape,
    "BN-EVAL-1": running.eval_formula,
    "BN-EVAL-2": running.eval_per_example,
    "BN-EVAL-3": running.eval_folds_into_dense,
}

PER_PROFILE: dict[str, ProfileCaseMaker] = {
    "BN-DEG-2": running.single_example,
    "BN-RUN-1": running.weighted_average,
    "BN-RUN-2": running.converges,
}

_RELATION = ("a relation among the implementation's own outputs (statistics over the mini-batch, or two "
             "outputs compared), not one input's expected output: the properties check it "
             "(bnspec check, or --exec for another language)")
_NOT_COVERED = {
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
