"""Golden vectors: the clauses that can be stated as inputs -> expected outputs,
as versioned, language-neutral JSON files (``bnspec vectors export DIR``), and
their check against any target (``bnspec vectors check DIR TARGET``).

Every case is made by the clause's own property, run on pinned draws against
the reference (:mod:`bnspec.spec.vectors.cases`).  :data:`COMMON` maps a clause
ID to the situations of its cases; :data:`PER_PROFILE` those whose answer
depends on the profile (one file per profile); :data:`PER_DTYPE` the clauses on
the dtype, with a set of cases in each dtype they speak of, run in the dtypes
the target declares; :func:`not_covered` says why each other clause has no
vectors.  Every float64 file is also written in the channel layouts
(:data:`LAYOUTS`), 1 to 3 spatial dims.
"""

from __future__ import annotations

from ..clauses import Clause, all_clauses
from ..layouts import Layout
from . import dtypes, layer, running
from .cases import Situation

#: name and version of the file format; a reader refuses another version.
#: 2: per-dtype sets (float32, float16), files in the channel layouts, cases made by the properties.
FORMAT = "bnspec-vectors"
FORMAT_VERSION = 2

Situations = tuple[Situation, ...]

COMMON: dict[str, Situations] = {
    "BN-SHAPE-1": layer.BASE,
    "BN-SHAPE-2": layer.BASE,
    "BN-AFFINE-2": layer.BASE,
    "BN-FWD-REF": layer.BASE,
    "BN-GRAD-4": layer.BASE,
    "BN-GRAD-REF": layer.BASE,
    "BN-DEG-1": layer.CONSTANT,
    "BN-DEG-3": layer.CONSTANT,
    "BN-SHAPE-3": layer.BASE,
    "BN-SHAPE-4": running.INFERENCE,
    "BN-EVAL-1": running.INFERENCE,
    "BN-EVAL-3": running.INFERENCE,
}

PER_PROFILE: dict[str, Situations] = {
    "BN-DEG-2": layer.SINGLE,
    "BN-DEG-4": layer.SINGLE,
    "BN-RUN-1": layer.BASE,
}

#: clause -> (situations, the dtypes it has a set in).  A target runs the sets of the dtypes it declares.
PER_DTYPE: dict[str, tuple[Situations, tuple[str, ...]]] = {
    "BN-DTYPE-1": (dtypes.DTYPE, dtypes.DTYPES),
    "BN-DTYPE-2": (dtypes.DTYPE, dtypes.DTYPES),
    "BN-F32-1": (dtypes.LOW_PRECISION, ("float32",)),
    "BN-F32-2": (dtypes.LOW_PRECISION, ("float32",)),
    "BN-F16-1": (dtypes.LOW_PRECISION, ("float16",)),
    "BN-F16-3": (dtypes.LOW_PRECISION, ("float16",)),
    "BN-F16-2": (dtypes.LONG_FLOAT16, ("float16",)),
    "BN-F16-4": (dtypes.LONG_FLOAT16, ("float16",)),
    "BN-VAR-1": (dtypes.NEARLY_CONSTANT, dtypes.DTYPES),
    "BN-VAR-2": (dtypes.NEARLY_CONSTANT, dtypes.DTYPES),
}

#: The layouts of the files: the lecture's, and the channel layouts (the float64 files only).
LAYOUTS = (Layout.UNITS_FIRST, Layout.CHANNELS_FIRST, Layout.CHANNELS_LAST)
DTYPES = dtypes.DTYPES

_RELATION = ("a relation among the implementation's own outputs (statistics over the mini-batch, or two "
             "outputs compared), not one input's expected output: the properties check it "
             "(bnspec check, or --exec for another language)")
#: A relation stated as "the reference's output" would check accuracy instead: an implementation that is
#: inaccurate but keeps the relation (a one-pass variance is exactly invariant under c = 2^k) would fail
#: the clause in the vectors and pass it in bnspec check.  BN-FWD-REF and BN-GRAD-REF check accuracy.
_OWN_OUTPUTS = ("two outputs of the implementation compared with each other ({}): a relation, which an "
                "expected output could state only as accuracy against the reference (BN-FWD-REF, BN-GRAD-REF "
                "check that); the properties check it (bnspec check, or --exec for another language)")
_FINITE_DIFFERENCES = "finite differences of the implementation's own forward: checked by the properties"
_BFLOAT16 = ("bfloat16 inputs (ml_dtypes), for targets that declare bfloat16: checked by the properties "
             "(the vectors have float64, float32 and float16 sets)")
#: a clause no table here names yet (a new one): the properties check it.
_NOT_YET = "no golden vectors state it (yet): checked by the properties (bnspec check, or --exec)"
_NOT_COVERED = {
    "BN-INV-1": _OWN_OUTPUTS.format("forward(z + b) against forward(z)"),
    "BN-INV-2": _OWN_OUTPUTS.format("backward(z + b) against backward(z)"),
    "BN-INV-3": _OWN_OUTPUTS.format("forward(c z, eps) against forward(z, eps / c^2)"),
    "BN-INV-4": _OWN_OUTPUTS.format("backward(c z, c^2 eps) against backward(z, eps)"),
    "BN-LOC-2": _OWN_OUTPUTS.format("forward of the permuted mini-batch against its own, permuted"),
    "BN-LOC-5": _OWN_OUTPUTS.format("backward of the permuted mini-batch against its own, permuted"),
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
    "BN-LOC-4": _RELATION,
    "BN-GRAD-1": _FINITE_DIFFERENCES,
    "BN-GRAD-2": _FINITE_DIFFERENCES,
    "BN-GRAD-3": _FINITE_DIFFERENCES,
    "BN-LOC-3": "about hidden state across a sequence of calls: checked by the properties",
    "BN-PURE-1": "about the caller's arrays after a call, which only an in-process check can see",
    "BN-PURE-2": "two calls with the same inputs compared bit for bit: checked by the properties",
    "BN-BF16-1": _BFLOAT16,
    "BN-BF16-2": _BFLOAT16,
}


def not_covered(clause: Clause) -> str:
    """Why ``clause`` has no golden vectors ('' if it has)."""
    if clause.id in COMMON or clause.id in PER_PROFILE or clause.id in PER_DTYPE:
        return ""
    if clause.subject == "reference":
        return "about the reference's own optimizers and training loop"
    if clause.subject == "network":
        return "the reference network with the implementation plugged in: checked by the properties"
    return _NOT_COVERED.get(clause.id, _NOT_YET)


def covered() -> list[Clause]:
    """The clauses with golden vectors, in the specification's order."""
    return [c for c in all_clauses() if not not_covered(c)]
