"""Every clause needs exactly the functions it calls: a target with forward alone (an inference engine)
is checked on every forward clause -- the dtype, float32 and float16 accuracy, float16 overflow, negative
variances, a constant unit, m = 1 -- and gets "n/a" only on the gradient clauses, so that a forward-only
bug (a float16 variance that overflows, a one-pass variance that comes out negative) fails instead of
hiding behind "n/a".  A target with forward, update_running and forward_eval gets every clause but the
gradient ones."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from spec_runs import run

from bnspec.reference import batchnorm as ref
from bnspec.spec import bfloat16, report
from bnspec.spec.clauses import all_clauses
from bnspec.spec.properties import load_all
from bnspec.spec.protocol import CORE
from bnspec.spec.protocol import declaration_of as protocol_of
from bnspec.spec.runner import ClauseResult

#: Each clause that used to check forward and backward together -> the clause of its gradient part.
SPLIT = {
    "BN-DTYPE-1": "BN-DTYPE-2", "BN-F32-1": "BN-F32-2", "BN-F16-1": "BN-F16-3", "BN-BF16-1": "BN-BF16-2",
    "BN-F16-2": "BN-F16-4", "BN-VAR-1": "BN-VAR-2", "BN-DEG-1": "BN-DEG-3", "BN-DEG-2": "BN-DEG-4",
    "BN-LOC-1": "BN-LOC-4", "BN-LOC-2": "BN-LOC-5",
}

#: The clauses of the four-function protocol whose statement is about backward's gradients (the network's
#: included): the only ones of them a target without backward may skip.
GRADIENT_CLAUSES = {
    "BN-SHAPE-2", "BN-INV-2", "BN-INV-4", "BN-GRAD-1", "BN-GRAD-2", "BN-GRAD-3", "BN-GRAD-4", "BN-GRAD-5",
    "BN-GRAD-6", "BN-GRAD-7", "BN-GRAD-REF", *SPLIT.values(),
    # the network's back-propagation and training: gradient shapes, dL/db = 0, dW scales by 1/c, descent
    "NET-SHAPE-1", "NET-BIAS-1", "NET-SCALE-1", "NET-GRAD-1", "TRAIN-1",
}

class ForwardOnlyBN:
    """An inference engine's training-mode batch norm: forward alone, units first (z is n x m, gamma and
    beta n x 1), float16 and bfloat16 widened to float32 for the arithmetic, two-pass biased variance;
    what has no batch norm (eps <= 0, no example, arrays of the wrong shape) is refused."""

    layout = "units_first"
    profile = "lecture"
    dtypes = ("float64", "float32", "float16", "bfloat16")

    @staticmethod
    def check(z, eps, *columns):
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        if z.ndim != 2 or z.shape[1] == 0:
            raise ValueError(f"z must be n x m with m >= 1, got shape {z.shape}")
        if any(c.shape != (z.shape[0], 1) for c in columns):
            raise ValueError(f"the per-unit arrays must be {z.shape[0]} x 1")

    def forward(self, z, gamma, beta, eps=1e-5):
        self.check(z, eps, gamma, beta)
        work = np.promote_types(z.dtype, np.float32)
        x, g, b = (np.asarray(a).astype(work) for a in (z, gamma, beta))
        with np.errstate(invalid="ignore"):  # an infinity in z gives NaN for its unit: it propagates
            mu = x.mean(axis=1, keepdims=True)
            var = self.variance(z, x, mu)
            return (g * (x - mu) / np.sqrt(var + eps) + b).astype(z.dtype)

    def variance(self, z, x, mu):
        """The biased variance of ``x`` (``z`` in the working dtype), two passes."""
        return np.square(x - mu).mean(axis=1, keepdims=True)


class Float16VarianceBN(ForwardOnlyBN):
    """Computes the variance of float16 input in float16, E[z^2] - E[z]^2 with float16 sums: for values
    near 300 to 1000 the sum of squares exceeds 65504 and is inf (float32 and float64 stay correct)."""

    def variance(self, z, x, mu):
        if z.dtype != np.float16:
            return super().variance(z, x, mu)
        m = z.shape[1]
        squares = np.sum(np.square(z), axis=1, keepdims=True, dtype=np.float16) / np.float16(m)
        return (squares - np.square(mu.astype(np.float16))).astype(x.dtype)


class OnePassVarianceBN(ForwardOnlyBN):
    """The one-pass variance E[z^2] - E[z]^2, not clamped at 0: for units nearly constant far from 0 it
    cancels to rounding noise that can be negative beyond eps, and sqrt(var + eps) is NaN."""

    def variance(self, z, x, mu):
        return np.square(x).mean(axis=1, keepdims=True) - np.square(mu)


class InferenceEngineBN(ForwardOnlyBN):
    """forward, update_running and forward_eval, no backward: an engine that also tracks the running
    statistics and serves inference (lecture conventions: momentum weighs the old value, biased variance)."""

    def update_running(self, running_mean, running_var, z, momentum):
        self.check(z, 1.0, running_mean, running_var)
        work = np.promote_types(z.dtype, np.float32)
        x = z.astype(work)
        mu = x.mean(axis=1, keepdims=True)
        new_mean = momentum * running_mean + (1.0 - momentum) * mu
        new_var = momentum * running_var + (1.0 - momentum) * self.variance(z, x, mu)
        return new_mean.astype(running_mean.dtype), new_var.astype(running_var.dtype)

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps=1e-5):
        self.check(z, eps, gamma, beta, running_mean, running_var)
        work = np.promote_types(z.dtype, np.float32)
        x, g, b, mean, var = (np.asarray(a).astype(work) for a in (z, gamma, beta, running_mean, running_var))
        return (g * (x - mean) / np.sqrt(var + eps) + b).astype(z.dtype)


class BackwardOnlyBN:
    """The reference's backward alone (no forward to call, no eps to probe with it)."""

    layout, profile, dtypes = ref.layout, ref.profile, ref.dtypes

    def backward(self, z, gamma, beta, eps, grad):
        return ref.backward(z, gamma, beta, eps, grad)


@functools.cache
def full_run(impl: type) -> dict[str, ClauseResult]:
    """Every clause against ``impl()``, by ID."""
    return {c.id: run(c.id, impl()) for c in all_clauses()}


#: The clauses n/a for want of ml_dtypes (bfloat16's numpy dtype), with that reason.
NO_BFLOAT16 = {"BN-BF16-1", "BN-BF16-2"} if bfloat16.dtype() is None else set()


def test_each_split_clause_needs_one_function():
    properties = load_all()
    for forward_part, gradient_part in SPLIT.items():
        assert "backward" not in properties[forward_part].needs and "forward" in properties[forward_part].needs
        assert "forward" not in properties[gradient_part].needs and "backward" in properties[gradient_part].needs
    assert GRADIENT_CLAUSES <= {cid for cid, prop in properties.items() if "backward" in prop.needs}


@pytest.mark.parametrize("clause_id", sorted(set(SPLIT.values()) - NO_BFLOAT16) + ["BN-INV-2", "BN-INV-4"])
def test_the_gradient_clauses_call_backward_alone(clause_id):
    """A target with backward alone is checked on them, and passes: they never call forward."""
    result = run(clause_id, BackwardOnlyBN())
    assert result.status == "pass", report.details(result)


@pytest.mark.parametrize("impl", [ForwardOnlyBN, InferenceEngineBN], ids=lambda i: i.__name__)
def test_a_correct_target_without_backward_gets_every_clause_but_the_gradient_ones(impl):
    """Every clause whose property needs only functions the target has is checked, and passes (or is n/a
    by a declaration the target does not make, or for want of ml_dtypes); the gradient clauses alone are
    n/a for want of backward.  With forward, update_running and forward_eval, that is every clause of the
    four functions but the gradient ones."""
    results = full_run(impl)
    properties = load_all()
    has = set(protocol_of(impl()).functions)
    failed = {cid: r for cid, r in results.items() if r.status not in ("pass", "n/a")}
    assert not failed, "\n".join(report.details(r) for r in failed.values())
    for forward_part in SPLIT:
        assert results[forward_part].status == ("n/a" if forward_part in NO_BFLOAT16 else "pass"), forward_part
    for clause_id, result in results.items():
        needs = {f for f in properties[clause_id].needs if not f.startswith("dtype:")}
        if clause_id in GRADIENT_CLAUSES:
            assert result.status == "n/a" and "the target has no backward" in result.message, (clause_id, result)
        elif needs <= has:
            assert result.status == "pass" or not result.message.startswith("the target has no"), clause_id
        if impl is InferenceEngineBN and needs <= set(CORE):  # of the four functions, it lacks backward alone
            assert (result.status == "n/a" and result.message.startswith("the target has no")) == (
                "backward" in needs), (clause_id, result.message)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the fault's own overflow
def test_a_float16_variance_in_float16_fails_the_overflow_clause():
    result = run("BN-F16-2", Float16VarianceBN(), shrink=False)
    assert result.status == "FAIL", result.message
    assert "forward(float16 (sum of" in result.message and "near 300 or more" in result.message
    # float16 only: the same code passes in float32
    assert run("BN-F32-1", Float16VarianceBN()).status == "pass"


def test_a_one_pass_variance_fails_the_variance_clause():
    result = run("BN-VAR-1", OnePassVarianceBN(), shrink=False)
    assert result.status == "FAIL", result.message
    assert "units nearly constant far from 0" in result.message
    assert run("BN-F32-1", OnePassVarianceBN(), shrink=False).status == "FAIL"  # and float32's accuracy
