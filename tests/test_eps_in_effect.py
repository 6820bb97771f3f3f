"""The eps in effect (bnspec.spec.eps): an implementation that ignores its eps argument fails the
clauses about eps's value and no other; the value is declared (``fixed_eps``) or detected."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings
from spec_runs import run, subject_of
from zoo.base import CorrectBN
from zoo.forward_faults import EpsOutsideSqrtBN, HardCodedEpsBN, UnbiasedVarianceBN

from bnspec.reference import batchnorm as ref
from bnspec.spec import eps, protocol, runner
from bnspec.spec.errors import ClauseTimeout, Status, TargetError
from bnspec.spec.process import protocol as process
from bnspec.spec.session import RunOptions, Session
from bnspec.spec.target import Target


class TenEMinusSevenBN(CorrectBN):
    """eps ignored, 10e-7 (= 1e-6) baked in, a value seen in hand-written kernels."""

    def inv_std(self, var, eps):
        return 1.0 / np.sqrt(var + 10e-7)


class DeclaredFixedEpsBN(HardCodedEpsBN):
    """Ignores eps (1e-5 baked in) and says so."""

    fixed_eps = 1e-5


def _detected(impl: object) -> float | None:
    return eps.in_effect(Target(subject_of(impl)).forward)


def test_the_reference_follows_the_eps_it_is_passed():
    assert eps.in_effect(ref.forward) is None
    assert _detected(CorrectBN()) is None
    assert Target(subject_of(ref)).eps_in_effect(0.25) == 0.25


@pytest.mark.parametrize(("impl", "value"), [(HardCodedEpsBN(), 1e-5), (TenEMinusSevenBN(), 1e-6)],
                         ids=["1e-5", "10e-7"])
def test_a_hard_coded_eps_is_detected(impl, value):
    found = _detected(impl)
    assert found == pytest.approx(value, rel=1e-6)
    assert Target(subject_of(impl)).eps_in_effect(10.0) == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize("impl", [EpsOutsideSqrtBN(), UnbiasedVarianceBN()], ids=lambda i: type(i).__name__)
def test_a_fault_that_neither_follows_nor_fixes_eps_is_unknown(impl):
    """Outputs that move with eps, but not as sigma^2 / (sigma^2 + eps): the eps passed stays in effect."""
    assert _detected(impl) is None


def test_the_probe_never_raises_for_what_forward_does():
    def raises(z, gamma, beta, eps_):
        raise ValueError("no")

    def wrong_shape(z, gamma, beta, eps_):
        return np.zeros(3)

    def not_finite(z, gamma, beta, eps_):
        return np.full_like(z, np.nan)

    for forward in (raises, wrong_shape, not_finite, lambda *a: None):
        assert eps.in_effect(forward) is None

    class Exits(CorrectBN):
        def forward(self, z, gamma, beta, eps=1e-5):
            raise SystemExit(3)

    assert _detected(Exits()) is None  # the target turns SystemExit into a finding, the probe into None


def test_the_probe_lets_a_time_limit_through():
    def hangs(z, gamma, beta, eps_):
        raise ClauseTimeout("timed out after 1 s")

    with pytest.raises(ClauseTimeout):
        eps.in_effect(hangs)


class Counting(HardCodedEpsBN):
    def __init__(self) -> None:
        self.calls = 0

    def forward(self, z, gamma, beta, eps=1e-5):
        self.calls += 1
        return super().forward(z, gamma, beta, eps)


def test_the_probe_runs_once_per_subject_and_only_when_asked():
    impl = Counting()
    subject = subject_of(impl)
    assert impl.calls == 0  # loading never calls the implementation
    for passed in (1.0, 0.5):
        Target(subject).eps_in_effect(passed)
    assert impl.calls == len(eps.PROBE_EPS)


def test_a_declared_fixed_eps_is_used_without_probing():
    class DeclaredCounting(Counting):
        fixed_eps = 1e-3

    impl = DeclaredCounting()
    subject = subject_of(impl)
    assert subject.declaration.fixed_eps == 1e-3 and subject.fixed_eps == 1e-3
    assert Target(subject).eps_in_effect(10.0) == 1e-3 and impl.calls == 0


def test_hard_coded_eps_fails_only_the_clauses_about_eps():
    for clause_id in ("BN-GRAD-1", "BN-GRAD-2", "BN-GRAD-3", "BN-GRAD-6", "BN-NORM-1", "BN-INV-2"):
        assert run(clause_id, HardCodedEpsBN(), shrink=False).status == "pass", clause_id
    assert run("BN-NORM-2", HardCodedEpsBN(), shrink=False).status == "FAIL"


def test_a_declared_fixed_eps_is_a_convention_the_clauses_follow():
    # declared, every eps drawn is the fixed one (BN-NORM-2 passes) and the clauses that pass other eps
    # values are n/a; undeclared, the same implementation fails BN-NORM-2 (the test above)
    assert run("BN-NORM-2", DeclaredFixedEpsBN(), shrink=False).status == "pass"
    assert run("BN-INV-3", DeclaredFixedEpsBN(), shrink=False).status == "n/a"
    assert run("BN-INV-3", HardCodedEpsBN(), shrink=False).status == "FAIL"


def test_a_hard_coded_eps_declared_as_fixed_eps_conforms():
    with Session(RunOptions("test_eps_in_effect:DeclaredFixedEpsBN", max_examples=settings.default.max_examples,
                            shrink=False)) as session:
        results = session.run(session.clauses())
    failing = [r for r in results if r.status is Status.FAIL and r.clause.level == "MUST" or r.status == "error"]
    assert not failing, [(r.clause.id, r.message[:200]) for r in failing]
    assert runner.passed(results)


@pytest.mark.parametrize("bad", ["1e-5", -1e-5, float("nan"), float("inf"), True, [1e-5]], ids=repr)
def test_a_bad_fixed_eps_is_a_target_error(bad):
    class Bad(CorrectBN):
        fixed_eps = bad

    with pytest.raises(TargetError, match="fixed_eps must be") as error:
        subject_of(Bad())
    assert "\n" not in str(error.value)
    with pytest.raises(TargetError, match="fixed_eps must be"):
        protocol.declaration(["forward"], fixed_eps=bad)


def test_the_handshake_carries_fixed_eps():
    declared = protocol.declaration(["forward", "backward"], fixed_eps=np.float32(0.5))
    assert declared.fixed_eps == 0.5 and isinstance(declared.fixed_eps, float)
    reply = process.loads(process.dumps(process.handshake_reply(0, process.handshake_request()["args"],
                                                                declared, "x")))
    assert reply["result"]["fixed_eps"] == 0.5
    assert process.read_handshake(reply) == (declared, "x")
    undeclared = process.handshake_reply(0, process.handshake_request()["args"], protocol.declaration(["forward"]), "")
    assert undeclared["result"]["fixed_eps"] is None
    assert process.read_handshake(undeclared)[0].fixed_eps is None
    reply["result"]["fixed_eps"] = "tiny"
    with pytest.raises(TargetError, match="its declaration: fixed_eps must be"):
        process.read_handshake(reply)


def test_isolated_targets_declare_and_are_probed_through_the_process(tmp_path):
    """--isolate: the declared fixed_eps crosses the handshake; an undeclared one is detected by
    calls through the child process."""
    from bnspec.spec.session import RunOptions, Session

    source = ("from bnspec.reference import batchnorm\n{}"
              "def forward(z, gamma, beta, eps):\n    return batchnorm.forward(z, gamma, beta, 1e-3)\n")
    declared, undeclared = tmp_path / "declared.py", tmp_path / "undeclared.py"
    declared.write_text(source.format("fixed_eps = 1e-3\n"))
    undeclared.write_text(source.format(""))
    with Session(RunOptions(str(declared), isolate=True)) as session:
        assert session.subject.declaration.fixed_eps == 1e-3 == session.subject.fixed_eps
    with Session(RunOptions(str(undeclared), isolate=True)) as session:
        assert session.subject.declaration.fixed_eps is None
        assert session.subject.fixed_eps == pytest.approx(1e-3, rel=1e-6)
