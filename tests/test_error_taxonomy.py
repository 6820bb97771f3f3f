"""What ends a clause decides its status, by type: bnspec never blames the implementation for its own error."""

from __future__ import annotations

import numpy as np
import pytest
from spec_runs import options, subject_of

from bnspec.reference import batchnorm
from bnspec.spec import errors
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.errors import Cause, Status
from bnspec.spec.properties import scales
from bnspec.spec.runner import passed, run_clause


def _run(check, impl=batchnorm, replay=None):
    return run_clause(REGISTRY["BN-NORM-1"], subject_of(impl, "impl"), options(shrink=False), check=check,
                      replay=replay)


def test_a_bare_assert_failing_in_bnspec_during_a_clause_is_an_error_not_a_fail(monkeypatch):
    def broken_scale(*args):
        assert False, "a slip in bnspec's own scale"  # noqa: B011 - the bare assert under test

    monkeypatch.setattr(scales, "output", broken_scale)
    result = run_clause(REGISTRY["BN-NORM-1"], subject_of(batchnorm, "reference"), options(shrink=False))
    assert result.status is Status.ERROR and result.cause is Cause.INTERNAL
    assert "bnspec's own error" in result.message and "AssertionError" in result.message
    assert not passed([result])


@pytest.mark.parametrize("raised", [KeyError("x"), ValueError("y"), AssertionError("z"), ZeroDivisionError()])
def test_any_exception_of_bnspec_is_an_error(raised):
    def check(target, trial):
        raise raised

    result = _run(check, replay=[])
    assert (result.status, result.cause) == (Status.ERROR, Cause.INTERNAL)


@pytest.mark.parametrize(("finding", "cause"), [
    (errors.ClauseViolation("observed 1, required 2"), Cause.VIOLATION),
    (errors.ProtocolBreach("forward returned list for output"), Cause.PROTOCOL),
    (errors.ImplementationRaised("forward raised ValueError: no"), Cause.RAISED),
])
def test_findings_about_the_implementation_fail(finding, cause):
    def check(target, trial):
        raise finding

    result = _run(check, replay=[])
    assert (result.status, result.cause, result.message) == (Status.FAIL, cause, str(finding))


def test_interruptions_end_the_clause_with_their_own_status():
    def crashed(target, trial):
        raise errors.ImplementationCrashed("the process was killed by signal 11")

    def timed_out(target, trial):
        raise errors.ClauseTimeout("timed out after 1 s")

    assert (_run(crashed).status, _run(crashed).cause) == (Status.FAIL, Cause.CRASH)
    assert (_run(timed_out).status, _run(timed_out).cause) == (Status.ERROR, Cause.TIMEOUT)


def test_an_exception_of_the_implementation_is_its_failure():
    class Raises:
        def forward(self, z, gamma, beta, eps):
            raise KeyError("inside the implementation")

    result = run_clause(REGISTRY["BN-NORM-1"], subject_of(Raises()), options(shrink=False))
    assert (result.status, result.cause) == (Status.FAIL, Cause.RAISED)
    assert "forward raised KeyError" in result.message


def test_a_wrong_result_is_a_protocol_breach():
    class ReturnsList:
        def forward(self, z, gamma, beta, eps):
            return np.zeros_like(z).tolist()

    result = run_clause(REGISTRY["BN-NORM-1"], subject_of(ReturnsList()), options(shrink=False))
    assert (result.status, result.cause) == (Status.FAIL, Cause.PROTOCOL)
    assert "forward returned list for output" in result.message
