"""Root-cause triage: one bug fails the clauses about it, not twenty.

Degenerate inputs -- a unit constant over the mini-batch (sigma^2 = 0) and m = 1 in training
mode -- are the subject of BN-DEG-1 to BN-DEG-4 alone (forward's and backward's): the shared draws
(spec/strategies.py) never give them to another clause.  So an implementation whose only bug is a NaN
on a constant unit fails those clauses and no other, in a full run of every clause; no failure message calls
a value of the implementation "required"; NET-SHAPE-1 looks at shapes only; BN-PURE-2 never calls
equal results different; and BN-DEG-2 states what the profile in effect requires.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from spec_runs import run
from test_meta_zoo import why_not_applicable
from zoo.base import CorrectBN
from zoo.forward_faults import NoEpsBN

from bnspec.reference import batchnorm
from bnspec.spec import strategies as draws
from bnspec.spec.clauses import all_clauses
from bnspec.spec.runner import ClauseResult
from bnspec.spec.tolerances import LOW_PRECISION_OFFSET_RATIO

#: The clauses about degenerate inputs: a bug on them fails these.
DEGENERATE = {"BN-DEG-1", "BN-DEG-2", "BN-DEG-3", "BN-DEG-4"}


# -- implementations whose only bug is a NaN on a constant unit ---------------------------------------


class NanOnZeroVarianceBN(CorrectBN):
    """1 / sqrt(sigma^2 + eps) replaced by NaN where sigma^2 = 0 (a guard written the wrong way round)."""

    def inv_std(self, var, eps):
        return np.where(var > 0, 1.0 / np.sqrt(var + eps), np.nan)


class RangeFirstBN(CorrectBN):
    """Divides the centered values by their range first (and multiplies it back): 0 / 0 on a constant unit."""

    def normalize(self, z, mu, var, eps):
        centered = self.center(z, mu)
        width = centered.max(axis=1, keepdims=True) - centered.min(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return centered / width * (width * self.inv_std(var, eps))


NAN_ON_CONSTANT_UNITS = [NanOnZeroVarianceBN, RangeFirstBN]


def pass_or_lacking(clause_id: str, impl: Any, result: ClauseResult) -> bool:
    """Whether ``result`` is a pass, or an n/a for the reason :func:`why_not_applicable` works out from ``impl``
    (it lacks the function or declaration the clause is about: backward_eval, affine = False, ...)."""
    why = why_not_applicable(impl, clause_id)
    return result.status == "n/a" and why in result.message if why else result.status == "pass"


@functools.cache
def full_run(impl: type) -> dict[str, ClauseResult]:
    """Every clause against ``impl()`` (no shrinking: a failure is all the triage needs), by ID."""
    results = {c.id: run(c.id, impl(), shrink=False) for c in all_clauses()}
    unjustified = [c for c, r in results.items() if r.status == "n/a" and not pass_or_lacking(c, impl(), r)]
    assert not unjustified, {c: results[c].message for c in unjustified}
    return results


def failed(results: dict[str, ClauseResult]) -> set[str]:
    """The clauses not passed, but for those n/a (each justified in :func:`full_run`)."""
    return {clause_id for clause_id, r in results.items() if r.status not in ("pass", "n/a")}


# -- the shared draws ------------------------------------------------------------------------------------

#: Every max_offset_ratio the properties pass to the shared layer strategy.
OFFSET_RATIOS = sorted({draws.MAX_OFFSET_RATIO, draws.FD_OFFSET_RATIO, 1e4, 1e2}
                       | {float(r) for r in LOW_PRECISION_OFFSET_RATIO.values()})


@pytest.mark.parametrize("ratio", OFFSET_RATIOS)
def test_the_shared_layer_strategy_gives_no_constant_unit(ratio):
    @settings(max_examples=300, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data(), st.booleans())
    def drawn(data, unit_affine):
        x = draws.layer(draws.Draw(data), max_offset_ratio=ratio, unit_affine=unit_affine)
        assert x.m >= 2 and draws.legal(x.z), x.z

    drawn()


@settings(max_examples=300, database=None, deadline=None)
@given(st.integers(1, 5), st.integers(2, 12), st.data())
def test_the_batches_strategy_gives_no_constant_unit(n, m, data):
    z = data.draw(draws.batches(n, m))
    assert z.shape == (n, m) and draws.legal(z), z


def test_degenerate_inputs_are_drawn_where_asked():
    """The keywords reach them: degenerate=True gives constant units, min_m=1 gives m = 1."""
    options = settings(max_examples=2000, database=None)
    z = find(draws.batches(3, 4, degenerate=True), lambda z: draws.constant_units(z).any(), settings=options)
    assert not draws.legal(z)
    assert find(st.data(), lambda data: draws.layer(draws.Draw(data), min_m=1).m == 1, settings=options)


def test_constant_units_are_recognized():
    z = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0], [np.nan, 1.0, 1.0], [1e8, 1e8 + 1e-7, 1e8]])
    assert draws.constant_units(z).ravel().tolist() == [True, True, False, False, False]
    assert draws.constant_units(z, rtol=2.0**-20).ravel().tolist() == [True, True, False, False, True]
    assert not draws.legal(np.ones((2, 1))) and draws.legal(np.array([[1.0, 2.0]]))


class Recording:
    """The reference, keeping every z it is given in training mode (forward, backward, update_running)."""

    layout, profile, dtypes = batchnorm.layout, batchnorm.profile, batchnorm.dtypes

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def _keep(self, z: Any) -> None:
        self.seen.append(np.asarray(z).astype(np.float64))

    def forward(self, z, gamma, beta, eps):
        self._keep(z)
        return batchnorm.forward(z, gamma, beta, eps)

    def backward(self, z, gamma, beta, eps, grad):
        self._keep(z)
        return batchnorm.backward(z, gamma, beta, eps, grad)

    def update_running(self, running_mean, running_var, z, momentum):
        self._keep(z)
        return batchnorm.update_running(running_mean, running_var, z, momentum)

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps):  # inference: m = 1 is legal
        return batchnorm.forward_eval(z, gamma, beta, running_mean, running_var, eps)

    def backward_eval(self, z, gamma, beta, running_mean, running_var, eps, grad):  # frozen BN: m = 1 is legal
        return batchnorm.backward_eval(z, gamma, beta, running_mean, running_var, eps, grad)

    def update_cumulative(self, running_mean, running_var, z, num_batches):
        self._keep(z)
        return batchnorm.update_cumulative(running_mean, running_var, z, num_batches)


def about_it(clause_id: str, z: np.ndarray) -> bool:
    """Whether ``z`` is the edge case ``clause_id`` is about, not a degenerate draw given it by mistake: an
    empty mini-batch (BN-EMPTY-*), z of the wrong rank (BN-INPUT-3), a NaN or an infinity (BN-INPUT-4)."""
    if clause_id.startswith("BN-EMPTY-"):
        return z.ndim == 2 and z.shape[1] == 0
    return {"BN-INPUT-3": z.ndim != 2, "BN-INPUT-4": not np.isfinite(z).all()}.get(clause_id, False)


@pytest.mark.parametrize("clause_id", [c.id for c in all_clauses() if c.id not in DEGENERATE])
def test_no_clause_but_the_degenerate_ones_meets_a_constant_unit(clause_id):
    impl = Recording()
    result = run(clause_id, impl)
    assert pass_or_lacking(clause_id, impl, result), result.message  # n/a: a declaration Recording does not make
    illegal = [z for z in impl.seen if not about_it(clause_id, z) and not draws.legal(z)]
    assert not illegal, f"{clause_id} gave the implementation {len(illegal)} degenerate inputs, e.g. {illegal[0]!r}"


# -- a NaN on constant units fails the degenerate clauses alone ----------------------------------------


@pytest.mark.parametrize("impl", NAN_ON_CONSTANT_UNITS, ids=[i.__name__ for i in NAN_ON_CONSTANT_UNITS])
def test_a_nan_on_constant_units_fails_the_degenerate_clauses_alone(impl):
    results = full_run(impl)
    assert failed(results) == DEGENERATE, {
        c: results[c].message for c in failed(results) - DEGENERATE}
    for clause_id in DEGENERATE:
        assert "not finite" in results[clause_id].message and "observed nan" in results[clause_id].message


def test_no_eps_fails_the_degenerate_clauses_and_otherwise_only_where_eps_shows():
    """NoEpsBN has two bugs: the NaN on a constant unit (BN-DEG-1 to BN-DEG-4) and eps itself dropped,
    which shows on legal inputs wherever eps is comparable to sigma^2 (BN-NORM-2 states eps inside the
    root): those failures are finite mismatches, never a NaN."""
    results = full_run(NoEpsBN)
    assert DEGENERATE | {"BN-NORM-2"} <= failed(results)
    for clause_id in failed(results) - DEGENERATE:
        message = results[clause_id].message
        assert not re.search(r"\b(nan|inf)\b|not finite", message.split("; worst error")[0]), (clause_id, message)


# -- no NaN of the implementation is called a required value ---------------------------------------------


class NanNearZeroMeanBN(CorrectBN):
    """NaN in training mode on the units whose mean is within one standard deviation of 0: NaN on legal
    inputs, so that a pair check (BN(Z + b) = BN(Z), ...) meets it on either side."""

    def normalize(self, z, mu, var, eps):
        return np.where(np.abs(mu) < np.sqrt(var), np.nan, super().normalize(z, mu, var, eps))


#: A required value that is not finite: "required" then, before the next ',' or ';', a nan or an inf.
REQUIRED_NAN = re.compile(r"required[^,;]*\b(nan|inf)\b")

PAIR_CLAUSES = ["BN-AFFINE-1", "BN-INV-1", "BN-INV-2", "BN-INV-3", "BN-INV-4", "BN-LOC-1", "BN-LOC-2", "BN-LOC-3",
                "BN-LOC-4", "BN-LOC-5", "BN-GRAD-1", "BN-GRAD-5"]


@pytest.mark.parametrize("clause_id", PAIR_CLAUSES)
def test_a_nan_of_the_implementation_is_observed_never_required(clause_id):
    result = run(clause_id, NanNearZeroMeanBN())
    assert result.status == "FAIL" and "nan" in result.message, result.message
    assert not REQUIRED_NAN.search(result.message), result.message


def test_no_failure_message_of_the_triage_runs_requires_a_nan():
    for impl in [*NAN_ON_CONSTANT_UNITS, NoEpsBN]:
        for clause_id, result in full_run(impl).items():
            assert not REQUIRED_NAN.search(result.message), (impl.__name__, clause_id, result.message)


# -- NET-SHAPE-1, BN-PURE-2, BN-DEG-2 ------------------------------------------------------------------------


class NanEverywhereBN(CorrectBN):
    """Right shapes, NaN values: forward and backward return arrays of NaN."""

    def forward(self, z, gamma, beta, eps=1e-5):
        return np.full_like(super().forward(z, gamma, beta, eps), np.nan)

    def backward(self, z, gamma, beta, eps, grad):
        return tuple(np.full_like(a, np.nan) for a in super().backward(z, gamma, beta, eps, grad))


def test_net_shape_checks_shapes_only():
    assert run("NET-SHAPE-1", NanEverywhereBN()).status == "pass"
    assert run("BN-FWD-REF", NanEverywhereBN(), shrink=False).status == "FAIL"  # values are other clauses'


class ReturnsNoneBN(CorrectBN):
    def backward(self, z, gamma, beta, eps, grad):
        return None, None, None


def test_equal_results_are_never_called_different():
    assert run("BN-PURE-2", NanEverywhereBN()).status == "pass"  # NaN twice is the same result
    result = run("BN-PURE-2", ReturnsNoneBN())
    assert result.status == "FAIL" and "different" not in result.message
    assert "backward returned NoneType for dz; the protocol requires a numpy.ndarray" in result.message


def test_the_single_example_failure_states_the_profile_in_effect():
    torch = run("BN-DEG-2", CorrectBN(), profile="torch")
    assert torch.status == "FAIL"
    assert "forward at m = 1 returned; the torch profile requires forward to raise ValueError" in torch.message
    lecture = full_run(NoEpsBN)["BN-DEG-2"]
    assert "the lecture profile requires the output beta at m = 1" in lecture.message
