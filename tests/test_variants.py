"""The variants frameworks ship and the inputs a batch norm must refuse (spec/clauses/variants.py).

Each clause can fail: a correct numpy implementation passes it and a wrong one fails it
(:data:`CAUGHT_BY`).  Each declaration is read, validated with an error naming it, carried by the
process protocol's handshake, and changes which clauses apply: for a target that declares it, every
clause that applies passes on a correct implementation -- which checks, through the spies below,
that no such clause passes an affine = False target a gamma other than 1 (or a batch-statistics
target's forward_eval a result it should not give).

The implementations are at module level, importable by ``bnspec check --isolate`` (which loads
this file in a child process: it imports nothing from tests/).
"""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest

from bnspec.reference import batchnorm as ref
from bnspec.spec import protocol
from bnspec.spec.clauses import REGISTRY, all_clauses
from bnspec.spec.errors import TargetError
from bnspec.spec.process import protocol as process
from bnspec.spec.properties import load_all, variants
from bnspec.spec.runner import Options, run_clause
from bnspec.spec.session import RunOptions, Session
from bnspec.spec.target import wrap

#: The wrong implementations take means of empty slices and the like on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# -- implementations ------------------------------------------------------------------------------------


class Plain:
    """A plain numpy batch norm with both variant functions, validating nothing: correct on every input the
    MUST clauses give, and no refusal of bad input (units first, the lecture's profile)."""

    layout = "units_first"
    profile = "lecture"

    def _stats(self, z):
        mu = z.mean(axis=1, keepdims=True)
        return mu, ((z - mu) ** 2).mean(axis=1, keepdims=True)

    def forward(self, z, gamma, beta, eps):
        mu, var = self._stats(z)
        return gamma * (z - mu) / np.sqrt(var + eps) + beta

    def backward(self, z, gamma, beta, eps, grad):
        mu, var = self._stats(z)
        inv = 1.0 / np.sqrt(var + eps)
        zn, g = (z - mu) * inv, gamma * grad
        dz = inv * (g - g.mean(axis=1, keepdims=True) - zn * (g * zn).mean(axis=1, keepdims=True))
        return dz, (grad * zn).sum(axis=1, keepdims=True), grad.sum(axis=1, keepdims=True)

    def update_running(self, running_mean, running_var, z, momentum):
        mu, var = self._stats(z)
        return momentum * running_mean + (1 - momentum) * mu, momentum * running_var + (1 - momentum) * var

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps):
        return gamma * (z - running_mean) / np.sqrt(running_var + eps) + beta

    def backward_eval(self, z, gamma, beta, running_mean, running_var, eps, grad):
        inv = 1.0 / np.sqrt(running_var + eps)
        return gamma * inv * grad, (grad * (z - running_mean) * inv).sum(axis=1, keepdims=True), \
            grad.sum(axis=1, keepdims=True)

    def update_cumulative(self, running_mean, running_var, z, num_batches):
        mu, var = self._stats(z)
        k = num_batches + 1
        return running_mean + (mu - running_mean) / k, running_var + (var - running_var) / k


class FrozenWithBatchStatistics(Plain):
    """backward_eval through the batch's statistics (training mode's backward)."""

    def backward_eval(self, z, gamma, beta, running_mean, running_var, eps, grad):
        return self.backward(z, gamma, beta, eps, grad)


class FrozenDzWithoutGamma(Plain):
    """backward_eval's dz forgets gamma."""

    def backward_eval(self, z, gamma, beta, running_mean, running_var, eps, grad):
        _, dgamma, dbeta = super().backward_eval(z, gamma, beta, running_mean, running_var, eps, grad)
        return grad / np.sqrt(running_var + eps), dgamma, dbeta


class NoAffineWithoutMeanTerm(Plain):
    """affine = False, and a dz without the mean's term."""

    affine = False

    def backward(self, z, gamma, beta, eps, grad):
        mu, var = self._stats(z)
        inv = 1.0 / np.sqrt(var + eps)
        zn = (z - mu) * inv
        zeros = np.zeros_like(gamma)
        return inv * (grad - zn * (grad * zn).mean(axis=1, keepdims=True)), zeros, zeros


class BatchDeclaredRunningUsed(Plain):
    """Declares eval_statistics = 'batch' but normalizes inference with the running statistics."""

    eval_statistics = "batch"


class CountIncludesThisBatch(Plain):
    """update_cumulative weighs the batch by 1 / num_batches (as if the count included it)."""

    def update_cumulative(self, running_mean, running_var, z, num_batches):
        return super().update_cumulative(running_mean, running_var, z, max(num_batches - 1, 0))


class CumulativeFollowsMomentum(Plain):
    """Declares cumulative_average = True but its update_running follows the momentum."""

    cumulative_average = True


class HalfArithmetic(Plain):
    """Declares mixed precision but computes forward in z's dtype (float32 gamma and beta rounded to float16,
    the statistics in float16), and forward_eval in float32 with the running mean rounded to z's dtype."""

    dtypes = ("float64", "float32", "float16")
    mixed_precision = ("float16",)

    def forward(self, z, gamma, beta, eps):
        with np.errstate(all="ignore"):
            return super().forward(z, gamma.astype(z.dtype), beta.astype(z.dtype), z.dtype.type(eps))

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps):
        rounded = running_mean.astype(z.dtype).astype(np.float32)
        return super().forward_eval(z.astype(np.float32), gamma, beta, rounded, running_var, eps).astype(z.dtype)


class DegenerateAsBeta(Plain):
    """forward returns beta, one column, for any degenerate batch: m = 1, and m = 0 too."""

    def forward(self, z, gamma, beta, eps):
        return beta.copy() if z.shape[1] <= 1 else super().forward(z, gamma, beta, eps)


class MeanBasedGradients(Plain):
    """dgamma and dbeta as m times a mean: NaN for an empty batch."""

    def backward(self, z, gamma, beta, eps, grad):
        dz, _, _ = super().backward(z, gamma, beta, eps, grad)
        mu, var = self._stats(z)
        zn, m = (z - mu) / np.sqrt(var + eps), z.shape[1]
        with np.errstate(all="ignore"):
            return dz, m * (grad * zn).mean(axis=1, keepdims=True), m * grad.mean(axis=1, keepdims=True)


class NanIgnoring(Plain):
    """Statistics that skip NaN (np.nanmean): a NaN in z gives finite outputs for its unit."""

    def _stats(self, z):
        return np.nanmean(z, axis=1, keepdims=True), np.nanvar(z, axis=1, keepdims=True)


def _ones_and_zeros(gamma, beta):
    """The spy of an affine = False target: bnspec must pass gamma = 1 and beta = 0."""
    if not (np.all(gamma == 1) and np.all(beta == 0)):
        raise AssertionError(f"bnspec passed gamma {gamma.ravel()[:4]} and beta {beta.ravel()[:4]} to a target "
                             f"that declares affine = False")
    return np.ones_like(gamma), np.zeros_like(beta)


class NoAffine:
    """The reference as PyTorch's affine=False: it ignores gamma and beta (checking that bnspec passed 1 and 0)
    and returns zeros for dgamma and dbeta."""

    layout, profile, dtypes, mixed_precision = "units_first", "lecture", ref.dtypes, ref.mixed_precision
    affine = False

    def forward(self, z, gamma, beta, eps):
        return ref.forward(z, *_ones_and_zeros(gamma, beta), eps)

    def backward(self, z, gamma, beta, eps, grad):
        dz, dgamma, dbeta = ref.backward(z, *_ones_and_zeros(gamma, beta), eps, grad)
        return dz, np.zeros_like(dgamma), np.zeros_like(dbeta)

    def update_running(self, running_mean, running_var, z, momentum):
        return ref.update_running(running_mean, running_var, z, momentum)

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps):
        return ref.forward_eval(z, *_ones_and_zeros(gamma, beta), running_mean, running_var, eps)

    def backward_eval(self, z, gamma, beta, running_mean, running_var, eps, grad):
        dz, dgamma, dbeta = ref.backward_eval(z, *_ones_and_zeros(gamma, beta), running_mean, running_var, eps, grad)
        return dz, np.zeros_like(dgamma), np.zeros_like(dbeta)


class BatchStatistics:
    """The reference as PyTorch's track_running_stats=False: inference with the batch's statistics, no
    update_running."""

    layout, profile, dtypes, mixed_precision = "units_first", "lecture", ref.dtypes, ref.mixed_precision
    eval_statistics = "batch"

    def forward(self, z, gamma, beta, eps):
        return ref.forward(z, gamma, beta, eps)

    def backward(self, z, gamma, beta, eps, grad):
        return ref.backward(z, gamma, beta, eps, grad)

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps):
        return ref.forward(z, gamma, beta, eps)

    def backward_eval(self, z, gamma, beta, running_mean, running_var, eps, grad):
        return ref.backward(z, gamma, beta, eps, grad)


class Cumulative:
    """The reference as PyTorch's momentum=None: update_running is the cumulative average's first step (the
    batch's statistics, whatever the momentum), update_cumulative the average."""

    layout, profile, dtypes = "units_first", "lecture", ref.dtypes
    cumulative_average = True
    forward, backward, forward_eval = (staticmethod(f) for f in (ref.forward, ref.backward, ref.forward_eval))
    update_cumulative = staticmethod(ref.update_cumulative)

    def update_running(self, running_mean, running_var, z, momentum):
        return ref.update_cumulative(running_mean, running_var, z, 0)


#: fault -> the clauses that must reject it.
CAUGHT_BY: dict[type, tuple[str, ...]] = {
    FrozenWithBatchStatistics: ("BN-FROZEN-1", "BN-FROZEN-2"),
    FrozenDzWithoutGamma: ("BN-FROZEN-1", "BN-FROZEN-2"),
    NoAffineWithoutMeanTerm: ("BN-NOAFFINE-1",),
    BatchDeclaredRunningUsed: ("BN-NORUN-1", "BN-NORUN-2"),
    CountIncludesThisBatch: ("BN-CUM-1",),
    CumulativeFollowsMomentum: ("BN-CUM-2",),
    HalfArithmetic: ("BN-MIXED-1", "BN-MIXED-2"),
    DegenerateAsBeta: ("BN-EMPTY-1",),
    MeanBasedGradients: ("BN-EMPTY-2",),
    Plain: ("BN-EMPTY-3", "BN-INPUT-1", "BN-INPUT-2", "BN-INPUT-3"),
    NanIgnoring: ("BN-INPUT-4",),
}
#: clause -> a correct implementation that passes it (each declares what the clause needs).
PASSED_BY: dict[str, type] = {
    **dict.fromkeys(("BN-FROZEN-1", "BN-FROZEN-2", "BN-CUM-1", "BN-EMPTY-1", "BN-EMPTY-2", "BN-INPUT-4"), Plain),
    "BN-NOAFFINE-1": NoAffine,
    "BN-NORUN-1": BatchStatistics,
    "BN-NORUN-2": BatchStatistics,
    "BN-CUM-2": Cumulative,
}
VARIANT_CLAUSES = [c.id for c in all_clauses() if c.id.startswith(
    ("BN-FROZEN", "BN-NOAFFINE", "BN-NORUN", "BN-CUM", "BN-MIXED", "BN-EMPTY", "BN-INPUT"))]


def _run(clause_id: str, impl: object, max_examples: int = 40, shrink: bool = False):
    return run_clause(REGISTRY[clause_id], wrap(impl, type(impl).__name__),
                      Options(max_examples=max_examples, shrink=shrink))


# -- each clause can fail, and passes on a correct implementation ------------------------------------------


def test_every_variant_clause_is_shown_able_to_fail_and_to_pass():
    caught = {c for ids in CAUGHT_BY.values() for c in ids}
    assert set(VARIANT_CLAUSES) == caught
    assert set(VARIANT_CLAUSES) == set(PASSED_BY) | {"BN-MIXED-1", "BN-MIXED-2", "BN-EMPTY-3", "BN-INPUT-1",
                                                      "BN-INPUT-2", "BN-INPUT-3"}  # the reference passes those


CASES = [(fault, clause_id) for fault, ids in CAUGHT_BY.items() for clause_id in ids]


@pytest.mark.parametrize(("fault", "clause_id"), CASES, ids=[f"{f.__name__}-{c}" for f, c in CASES])
def test_a_wrong_implementation_fails(fault, clause_id):
    result = _run(clause_id, fault())
    assert result.status == "FAIL", f"{fault.__name__} passed {clause_id}: {fault.__doc__}"
    assert result.cause is not None and result.cause.value != "internal", result.message
    if result.reproducer:  # the standalone script is Python (built without error for these calls too)
        ast.parse(result.reproducer)


@pytest.mark.parametrize("clause_id", sorted(PASSED_BY))
def test_a_correct_implementation_passes(clause_id):
    result = _run(clause_id, PASSED_BY[clause_id]())
    assert result.status == "pass", result.message


@pytest.mark.parametrize("clause_id", VARIANT_CLAUSES)
def test_the_reference_passes_or_does_not_declare(clause_id):
    result = _run(clause_id, ref)
    expected = "n/a" if clause_id in variants.NEEDS_DECLARATION and clause_id not in ("BN-MIXED-1", "BN-MIXED-2") \
        else "pass"
    assert result.status == expected, result.message


def test_the_plain_implementation_passes_the_refusals_it_may_skip():
    """A NaN that propagates is no wrong result; the SHOULDs of m = 0 accept an empty output."""
    for clause_id in ("BN-INPUT-4", "BN-EMPTY-1", "BN-EMPTY-2"):
        assert _run(clause_id, Plain()).status == "pass", clause_id


# -- declarations -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("attribute", "value"), [
    ("affine", "no"), ("affine", 0), ("eval_statistics", "none"), ("eval_statistics", ["batch"]),
    ("cumulative_average", 1), ("cumulative_average", "True"), ("mixed_precision", "float16"),
    ("mixed_precision", ["float32"]), ("mixed_precision", [None]),
])
def test_a_bad_declaration_is_a_target_error_naming_it(attribute, value):
    with pytest.raises(TargetError, match=f"^target: {attribute} must be"):
        protocol.declaration(["forward"], **{attribute: value})
    impl = type("Declares", (Plain,), {attribute: value})()
    with pytest.raises(TargetError, match=attribute):
        protocol.declaration_of(impl)


def test_a_method_named_as_a_declaration_declares_nothing():
    """An implementation's own steps (the zoo's ``affine(z_norm, gamma, beta)``, ``eval_statistics(...)``)."""

    class Steps(Plain):
        def affine(self, z_norm, gamma, beta):
            return gamma * z_norm + beta

        def eval_statistics(self, z, running_mean, running_var):
            return running_mean, running_var

        mixed_precision = staticmethod(lambda: ("float16",))

    declared = protocol.declaration_of(Steps())
    assert (declared.affine, declared.eval_statistics, declared.mixed_precision) == (True, "running", ())


def test_batch_statistics_and_a_cumulative_average_contradict():
    with pytest.raises(TargetError, match="cumulative_average"):
        protocol.declaration(["forward"], eval_statistics="batch", cumulative_average=True)


def test_declarations_are_read_with_their_defaults():
    plain = protocol.declaration_of(Plain())
    assert (plain.affine, plain.eval_statistics, plain.cumulative_average, plain.mixed_precision) == \
        (True, "running", False, ())
    assert plain.functions == protocol.functions_of("layer")
    assert protocol.VARIANTS == ("backward_eval", "update_cumulative")
    declared = protocol.declaration_of(type("D", (Plain,), {
        "affine": np.bool_(False), "eval_statistics": "batch", "mixed_precision": ["bfloat16", "float16", "float16"],
        "update_running": None})())
    assert (declared.affine, declared.eval_statistics, declared.mixed_precision) == \
        (False, "batch", ("bfloat16", "float16"))
    assert "update_running" not in declared.functions
    assert protocol.declaration_of(Cumulative()).cumulative_average is True


def test_the_handshake_carries_every_declaration():
    declared = protocol.declaration(list(protocol.NAMES), affine=False, eval_statistics="batch",
                                    mixed_precision=["float16"])
    reply = process.handshake_reply(0, process.handshake_request()["args"], declared, "x")
    assert process.read_handshake(process.loads(process.dumps(reply))) == (declared, "x")
    cumulative = protocol.declaration(["update_running"], cumulative_average=True)
    reply = process.handshake_reply(0, process.handshake_request()["args"], cumulative, "y")
    assert process.read_handshake(process.loads(process.dumps(reply)))[0] == cumulative
    bad = dict(reply, result={**reply["result"], "affine": "false"})
    with pytest.raises(TargetError, match="its declaration: affine must be"):
        process.read_handshake(bad)


def test_every_clause_a_declaration_names_exists():
    named = set(variants.NEEDS_DECLARATION)
    for _, _, clauses in variants.TAKEN_OUT:
        named |= set(clauses)
    assert named <= set(REGISTRY), named - set(REGISTRY)
    # the refusals stay for every target with forward, but the one about gamma's and beta's shapes (a target
    # without them) and the one about eps <= 0 (a target that computes with its own fixed eps)
    refusals = {c for c in VARIANT_CLAUSES if c.startswith("BN-INPUT")}
    assert named & refusals == {"BN-INPUT-1", "BN-INPUT-2"}
    assert "BN-INPUT-2" in variants.WITHOUT_AFFINE and "BN-INPUT-1" in variants.FIXED_EPS


def _all_applicable(impl: object) -> dict[str, str]:
    """Every clause of ``impl``'s kinds with few examples: clause -> its n/a reason, for those n/a; each other
    passes."""
    subject, skipped = wrap(impl, type(impl).__name__), {}
    for clause in (c for c in all_clauses() if c.kind in subject.kinds):
        result = run_clause(clause, subject, Options(max_examples=6, shrink=False))
        if result.status == "n/a":
            skipped[clause.id] = result.message
        else:
            assert result.status == "pass", (clause.id, result.message)
    return skipped


def test_an_affine_false_target_is_passed_gamma_1_and_beta_0_by_every_clause_that_applies():
    skipped = _all_applicable(NoAffine())
    assert set(variants.WITHOUT_AFFINE) <= set(skipped)
    for clause_id in variants.WITHOUT_AFFINE:
        assert skipped[clause_id].startswith("the target declares affine = False: "), skipped[clause_id]
    # what else is n/a: the other declarations' clauses alone
    assert set(skipped) - set(variants.WITHOUT_AFFINE) == {
        "BN-NORUN-1", "BN-NORUN-2", "BN-CUM-1", "BN-CUM-2"}


def test_a_batch_statistics_target_is_checked_without_running_statistics():
    impl = BatchStatistics()
    skipped, functions = _all_applicable(impl), protocol.declaration_of(impl).functions
    for clause_id in variants.BATCH_STATISTICS:  # n/a: for want of update_running, or by the declaration
        has_functions = set(load_all()[clause_id].needs) <= set(functions)
        reason = "the target declares eval_statistics = 'batch': " if has_functions else "the target has no "
        assert skipped[clause_id].startswith(reason), (clause_id, skipped[clause_id])
    assert "BN-NORUN-1" not in skipped and "BN-NORUN-2" not in skipped


def test_a_cumulative_target_passes_what_applies():
    skipped = _all_applicable(Cumulative())
    assert skipped["BN-RUN-1"].startswith("the target declares cumulative_average = True: ")
    assert "BN-CUM-1" not in skipped and "BN-CUM-2" not in skipped and "BN-RUN-2" not in skipped


# -- through the process protocol ---------------------------------------------------------------------------


def test_isolated_targets_get_the_bad_inputs_and_their_declarations():
    """--isolate carries the bad arguments to the implementation (the plain one returns, and fails; the
    reference refuses, and passes) and the declarations (affine = False reaches the runner)."""
    clauses = ["BN-INPUT-1", "BN-INPUT-3", "BN-INPUT-4", "BN-EMPTY-1", "BN-FROZEN-1", "BN-CUM-1"]
    expected = {"reference": ["pass"] * 6, f"{__file__}:Plain": ["FAIL", "FAIL", "pass", "pass", "pass", "pass"]}
    for target, statuses in expected.items():
        with Session(RunOptions(target, max_examples=5, isolate=True, shrink=False)) as session:
            results = [session.run_clause(REGISTRY[c]) for c in clauses]
            assert [r.status for r in results] == statuses, [(r.clause.id, r.message) for r in results]
    with Session(RunOptions(f"{__file__}:NoAffine", max_examples=5, isolate=True)) as session:
        assert session.subject.declaration.affine is False
        assert session.run_clause(REGISTRY["BN-AFFINE-1"]).status == "n/a"
        assert session.run_clause(REGISTRY["BN-NOAFFINE-1"]).status == "pass"


# -- the reference's new functions --------------------------------------------------------------------------


def test_reference_backward_eval_is_the_derivative_of_forward_eval():
    rng = np.random.default_rng(0)
    z, grad = rng.normal(3.0, 2.0, (3, 5)), rng.normal(size=(3, 5))
    gamma, beta, mean, var = rng.normal(size=(3, 1)), rng.normal(size=(3, 1)), rng.normal(size=(3, 1)), \
        rng.uniform(0.5, 2.0, (3, 1))
    dz, dgamma, dbeta = ref.backward_eval(z, gamma, beta, mean, var, 1e-3, grad)

    def f(z_, gamma_, beta_):
        return float((grad * ref.forward_eval(z_, gamma_, beta_, mean, var, 1e-3)).sum())

    for analytic, moved in ((dz, lambda t, v: f(z + t * v, gamma, beta)),
                            (dgamma, lambda t, v: f(z, gamma + t * v, beta)),
                            (dbeta, lambda t, v: f(z, gamma, beta + t * v))):
        v = rng.normal(size=analytic.shape)
        assert math.isclose((moved(1e-4, v) - moved(-1e-4, v)) / 2e-4, float((analytic * v).sum()), rel_tol=1e-8)
    assert np.allclose(dz, gamma / np.sqrt(var + 1e-3) * grad, rtol=1e-15, atol=0)
    one = ref.backward_eval(z[:, :1], gamma, beta, mean, var, 1e-3, grad[:, :1])  # m = 1 is no degenerate case
    assert np.allclose(one[0], dz[:, :1], rtol=1e-15)
    half = ref.backward_eval(z.astype(np.float16), gamma.astype(np.float32), beta.astype(np.float32), mean, var,
                             1e-3, grad.astype(np.float16))
    assert all(a.dtype == np.float16 for a in half)


def test_reference_update_cumulative_averages_the_batches():
    rng = np.random.default_rng(1)
    batches = [rng.normal(size=(2, m)) for m in (3, 4, 5)]
    mean, var = np.full((2, 1), 7.0), np.full((2, 1), 9.0)
    for k, z in enumerate(batches):
        mean, var = ref.update_cumulative(mean, var, z, k if k != 1 else float(k))  # a float count, as --exec
    stats = [ref.batch_statistics(z) for z in batches]
    assert np.allclose(mean, np.mean([s[0] for s in stats], axis=0), rtol=1e-14)
    assert np.allclose(var, np.mean([s[1] for s in stats], axis=0), rtol=1e-14)
    for bad, error in ((-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)):
        with pytest.raises(error, match="^num_batches: "):
            ref.update_cumulative(mean, var, batches[0], bad)


def test_reference_refuses_the_empty_and_bad_inputs_with_the_argument_named():
    z, gamma, beta = np.ones((2, 3)) * [[1.0, 2.0, 4.0]], np.ones((2, 1)), np.zeros((2, 1))
    for args, name in (((np.zeros((2, 0)), gamma, beta, 1e-5), "z"), ((z, gamma, beta, 0.0), "eps"),
                       ((z, np.ones((3, 1)), beta, 1e-5), "gamma"), ((z[None], gamma, beta, 1e-5), "z"),
                       ((z.ravel(), gamma, beta, 1e-5), "z")):
        with pytest.raises(ValueError, match=f"^{name}: "):
            ref.forward(*args)
