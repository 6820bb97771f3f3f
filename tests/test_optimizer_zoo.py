"""The optimizer protocol's clauses can fail, and pass: a zoo of faulty optimizers, each the lecture's
correct one with ONE bug, is caught by the OPT-* clauses named beside it (with the bug named in the
one-step clause's message where bnspec has a model of it); three correct optimizers written here from
scratch -- the lecture's forms, PyTorch's and Keras' -- must pass every OPT-* MUST clause under the
profile they declare; and ``bnspec check`` finds that a target of kind ``optimizer`` is one.

A faulty optimizer delegates to :mod:`bnspec.reference.optimizers` wherever its bug allows, so that the
bug is the only difference from the lecture.  Each is checked only against the clauses it must fail:
the clauses it must pass are the correct optimizers' (the reference's run is tests/test_spec_reference.py's).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bnspec.reference import optimizers as ref
from bnspec.spec import report
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.runner import ClauseResult, Options, run_clause
from bnspec.spec.target import wrap

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().relative_to(ROOT)
#: No shrinking: a failure is all a zoo test needs (and shrinking is most of a failing clause's time).
OPTIONS = Options(max_examples=40, shrink=False)
OPT_CLAUSES = tuple(c for c in REGISTRY.values() if c.kind == "optimizer")
#: The zoo's faults divide by zero on purpose (and bnspec's bug models meet t - 1 = 0); the clauses report it.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

Pair = tuple[np.ndarray, np.ndarray]
Triple = tuple[np.ndarray, np.ndarray, np.ndarray]


def _check(lr: float, *decays: float, eps: float = 0.0, t: int = 1) -> None:
    """ValueError for a hyperparameter clause OPT-INPUT-1 refuses: lr < 0, a decay outside [0, 1),
    eps < 0, t < 1 (a NaN fails every test, so it is refused too)."""
    if not lr >= 0:
        raise ValueError(f"lr: expected a number >= 0, got {lr!r}")
    for d in decays:
        if not 0.0 <= d < 1.0:
            raise ValueError(f"decay: expected a number in [0, 1), got {d!r}")
    if not eps >= 0:
        raise ValueError(f"eps: expected a number >= 0, got {eps!r}")
    if int(t) != t or t < 1:
        raise ValueError(f"t: expected a whole number >= 1, got {t!r}")


class _Optimizer:
    """The declarations of a target of the optimizer protocol (read by ``bnspec check``)."""

    kind = "optimizer"
    profile: Any = "lecture"
    dtypes = ("float64", "float32")


# -- correct optimizers, written from scratch ------------------------------------------------------


class LectureOptimizer(_Optimizer):
    """The lecture's formulas (L4), written independently of the reference; refuses bad hyperparameters."""

    validates = True
    check = staticmethod(_check)

    def gd(self, p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray:
        self.check(lr)
        return np.asarray(p - lr * dp)

    def momentum(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float) -> Pair:
        self.check(lr, momentum)
        v_new = np.asarray(momentum * v + (1.0 - momentum) * dp)
        return np.asarray(p - lr * v_new), v_new

    def rmsprop(self, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float) -> Pair:
        self.check(lr, rho, eps=eps)
        s_new = np.asarray(rho * s + (1.0 - rho) * dp * dp)
        return np.asarray(p - lr * dp / (np.sqrt(s_new) + eps)), s_new

    def adam(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: int, lr: float, beta1: float,
             beta2: float, eps: float) -> Triple:
        self.check(lr, beta1, beta2, eps=eps, t=t)
        t = int(t)
        v_new = np.asarray(beta1 * v + (1.0 - beta1) * dp)
        s_new = np.asarray(beta2 * s + (1.0 - beta2) * dp * dp)
        v_hat = v_new / (1.0 - beta1**t)
        s_hat = s_new / (1.0 - beta2**t)
        return np.asarray(p - lr * v_hat / (np.sqrt(s_hat) + eps)), v_new, s_new


class TorchFormOptimizer(_Optimizer):
    """PyTorch's forms (torch/optim: sgd.py, rmsprop.py, adam.py, single-tensor paths, dampening 0):
    heavy-ball momentum, eps outside the root, Adam's correction split as torch splits it.  No checks
    of the hyperparameters: OPT-INPUT-1 (SHOULD) fails, every MUST clause passes."""

    profile = "torch"
    validates = False

    def gd(self, p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray:
        return np.asarray(p - lr * dp)

    def momentum(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float) -> Pair:
        buf = np.asarray(v * momentum + dp)  # buf.mul_(momentum).add_(grad)
        return np.asarray(p - lr * buf), buf  # param.add_(buf, alpha=-lr)

    def rmsprop(self, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float) -> Pair:
        square_avg = np.asarray(s * rho + dp * dp * (1.0 - rho))  # square_avg.mul_(alpha).addcmul_(g, g, 1 - alpha)
        avg = np.sqrt(square_avg) + eps
        return np.asarray(p - lr * dp / avg), square_avg

    def adam(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: int, lr: float, beta1: float,
             beta2: float, eps: float) -> Triple:
        exp_avg = _torch_lerp(v, dp, 1.0 - beta1)  # exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq = np.asarray(s * beta2 + dp * dp * (1.0 - beta2))  # exp_avg_sq.mul_(beta2).addcmul_(...)
        bias_correction1 = 1.0 - beta1 ** int(t)
        bias_correction2_sqrt = float(np.sqrt(1.0 - beta2 ** int(t)))
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
        return np.asarray(p - (lr / bias_correction1) * exp_avg / denom), exp_avg, exp_avg_sq


def _torch_lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp as its kernel computes it (aten/src/ATen/native/Lerp.h, lerp): from the nearer end, so
    that weight 1 gives ``end`` exactly."""
    if abs(weight) < 0.5:
        return np.asarray(start + weight * (end - start))
    return np.asarray(end - (end - start) * (1.0 - weight))


class KerasFormOptimizer(_Optimizer):
    """Keras 3's forms (keras/src/optimizers: sgd.py, rmsprop.py, adam.py, keras 3.15.1): the velocity form
    of momentum, eps under RMSprop's root, Adam's correction folded into lr, and Adam's averages written
    as Keras writes them, m += (g - m) (1 - beta_1) (the lecture's value, rounded differently).  Declared
    field by field.  No checks of the hyperparameters."""

    profile = {"momentum_form": "velocity", "rmsprop_eps": "inside", "adam_eps": "uncorrected"}
    validates = False

    def gd(self, p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray:
        return np.asarray(p - lr * dp)

    def momentum(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float) -> Pair:
        m = np.asarray(v * momentum - dp * lr)  # m = m * momentum - gradient * learning_rate
        return np.asarray(p + m), m  # variable += m

    def rmsprop(self, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float) -> Pair:
        velocity = np.asarray(rho * s + (1.0 - rho) * np.square(dp))
        return np.asarray(p - lr * dp / np.sqrt(velocity + eps)), velocity

    def adam(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: int, lr: float, beta1: float,
             beta2: float, eps: float) -> Triple:
        alpha = lr * float(np.sqrt(1.0 - beta2 ** int(t))) / (1.0 - beta1 ** int(t))
        m = np.asarray(v + (dp - v) * (1.0 - beta1))  # m.assign_add((gradient - m) * (1 - beta_1))
        u = np.asarray(s + (np.square(dp) - s) * (1.0 - beta2))
        return np.asarray(p - m * alpha / (np.sqrt(u) + eps)), m, u


CORRECT: tuple[type[_Optimizer], ...] = (LectureOptimizer, TorchFormOptimizer, KerasFormOptimizer)


# -- the zoo: the lecture's optimizer with one bug each ---------------------------------------------


class Lecture(_Optimizer):
    """The lecture's optimizer: the reference's four functions.  Each fault overrides one of them."""

    def gd(self, p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray:
        return ref.gd(p, dp, lr)

    def momentum(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float) -> Pair:
        return ref.momentum(p, dp, v, lr, momentum)

    def rmsprop(self, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float) -> Pair:
        return ref.rmsprop(p, dp, s, lr, rho, eps)

    def adam(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: int, lr: float, beta1: float,
             beta2: float, eps: float) -> Triple:
        return ref.adam(p, dp, v, s, t, lr, beta1, beta2, eps)


def _adam_averages(dp: np.ndarray, v: np.ndarray, s: np.ndarray, beta1: float, beta2: float) -> Pair:
    """Adam's v_new and s_new, as the lecture's (the faults below differ after them)."""
    return np.asarray(beta1 * v + (1.0 - beta1) * dp), np.asarray(beta2 * s + (1.0 - beta2) * np.square(dp))


class NoBiasCorrectionAdam(Lecture):
    """Adam without bias correction: v_hat = v_new, s_hat = s_new."""

    def adam(self, p, dp, v, s, t, lr, beta1, beta2, eps):
        _check(lr, beta1, beta2, eps=eps, t=t)
        v_new, s_new = _adam_averages(dp, v, s, beta1, beta2)
        return np.asarray(p - lr * v_new / (np.sqrt(s_new) + eps)), v_new, s_new


class LateBiasCorrectionAdam(Lecture):
    """Adam's bias correction one step late, 1 - beta^(t - 1), divided in arrays: at t = 1 it divides
    by 0 (inf and NaN in p_new)."""

    def adam(self, p, dp, v, s, t, lr, beta1, beta2, eps):
        _check(lr, beta1, beta2, eps=eps, t=t)
        v_new, s_new = _adam_averages(dp, v, s, beta1, beta2)
        v_hat = v_new / np.asarray(1.0 - beta1 ** (t - 1), dtype=p.dtype)
        s_hat = s_new / np.asarray(1.0 - beta2 ** (t - 1), dtype=p.dtype)
        return np.asarray(p - lr * v_hat / (np.sqrt(s_hat) + eps)), v_new, s_new


class EarlyBiasCorrectionAdam(Lecture):
    """Adam's bias correction one step early, 1 - beta^(t + 1)."""

    def adam(self, p, dp, v, s, t, lr, beta1, beta2, eps):
        _check(lr, beta1, beta2, eps=eps, t=t)
        return ref.adam(p, dp, v, s, t + 1, lr, beta1, beta2, eps)


class CountsFromZeroAdam(Lecture):
    """Adam counting its steps from 0: the correction's factors 1 / (1 - beta^(t - 1)) are Python floats,
    so that the first step (t - 1 = 0) raises ZeroDivisionError."""

    def adam(self, p, dp, v, s, t, lr, beta1, beta2, eps):
        _check(lr, beta1, beta2, eps=eps, t=t)
        step = t - 1
        v_new, s_new = _adam_averages(dp, v, s, beta1, beta2)
        v_hat, s_hat = v_new * (1.0 / (1.0 - beta1**step)), s_new * (1.0 / (1.0 - beta2**step))
        return np.asarray(p - lr * v_hat / (np.sqrt(s_hat) + eps)), v_new, s_new


class AbsGradAdam(Lecture):
    """Adam whose second average takes |dp| instead of dp^2."""

    def adam(self, p, dp, v, s, t, lr, beta1, beta2, eps):
        _check(lr, beta1, beta2, eps=eps, t=t)
        v_new = np.asarray(beta1 * v + (1.0 - beta1) * dp)
        s_new = np.asarray(beta2 * s + (1.0 - beta2) * np.abs(dp))
        v_hat, s_hat = v_new / (1.0 - beta1**t), s_new / (1.0 - beta2**t)
        return np.asarray(p - lr * v_hat / (np.sqrt(s_hat) + eps)), v_new, s_new


class SwappedBeta2Adam(Lecture):
    """Adam with beta2 and 1 - beta2 swapped in the second average: s_new = (1 - beta2) s + beta2 dp^2."""

    def adam(self, p, dp, v, s, t, lr, beta1, beta2, eps):
        _check(lr, beta1, beta2, eps=eps, t=t)
        v_new = np.asarray(beta1 * v + (1.0 - beta1) * dp)
        s_new = np.asarray((1.0 - beta2) * s + beta2 * np.square(dp))
        v_hat, s_hat = v_new / (1.0 - beta1**t), s_new / (1.0 - beta2**t)
        return np.asarray(p - lr * v_hat / (np.sqrt(s_hat) + eps)), v_new, s_new


class Float32UpcastAdam(Lecture):
    """Adam computed, and returned, in float64 whatever p's dtype: float32 in, float64 out."""

    def adam(self, p, dp, v, s, t, lr, beta1, beta2, eps):
        wide = [np.asarray(a, dtype=np.float64) for a in (p, dp, v, s)]
        return ref.adam(*wide, t, lr, beta1, beta2, eps)


class AbsGradRMSprop(Lecture):
    """RMSprop whose average takes |dp| instead of dp^2."""

    def rmsprop(self, p, dp, s, lr, rho, eps):
        _check(lr, rho, eps=eps)
        s_new = np.asarray(rho * s + (1.0 - rho) * np.abs(dp))
        return np.asarray(p - lr * dp / (np.sqrt(s_new) + eps)), s_new


class EpsInsideRMSprop(Lecture):
    """RMSprop with eps under the root, sqrt(s_new + eps), declaring the lecture's profile (eps outside)."""

    def rmsprop(self, p, dp, s, lr, rho, eps):
        _, s_new = ref.rmsprop(p, dp, s, lr, rho, eps)
        return np.asarray(p - lr * dp / np.sqrt(s_new + eps)), s_new


class NoRootRMSprop(Lecture):
    """RMSprop without the square root: p - lr dp / (s_new + eps)."""

    def rmsprop(self, p, dp, s, lr, rho, eps):
        _, s_new = ref.rmsprop(p, dp, s, lr, rho, eps)
        return np.asarray(p - lr * dp / (s_new + eps)), s_new


class OldStateRMSprop(Lecture):
    """RMSprop that returns the old s instead of s_new (p_new is right)."""

    def rmsprop(self, p, dp, s, lr, rho, eps):
        p_new, _ = ref.rmsprop(p, dp, s, lr, rho, eps)
        return p_new, s.copy()


class EpsInNumeratorRMSprop(Lecture):
    """RMSprop with eps added to the numerator too, p - lr (dp + eps) / (sqrt(s_new) + eps): with no
    gradient, p drifts by lr."""

    def rmsprop(self, p, dp, s, lr, rho, eps):
        _, s_new = ref.rmsprop(p, dp, s, lr, rho, eps)
        return np.asarray(p - lr * (dp + eps) / (np.sqrt(s_new) + eps)), s_new


class OldStateMomentum(Lecture):
    """Momentum that returns the old v instead of v_new (p_new is right)."""

    def momentum(self, p, dp, v, lr, momentum):
        p_new, _ = ref.momentum(p, dp, v, lr, momentum)
        return p_new, v.copy()


class HeavyBallMomentum(Lecture):
    """Heavy-ball momentum, v_new = momentum v + dp (PyTorch's), declaring the lecture's profile (its
    averaged form) instead of momentum_form = heavy_ball."""

    def momentum(self, p, dp, v, lr, momentum):
        _check(lr, momentum)
        v_new = np.asarray(momentum * v + dp)
        return np.asarray(p - lr * v_new), v_new


class SwappedMomentum(Lecture):
    """Momentum with momentum and 1 - momentum swapped: v_new = (1 - momentum) v + momentum dp."""

    def momentum(self, p, dp, v, lr, momentum):
        _check(lr, momentum)
        v_new = np.asarray((1.0 - momentum) * v + momentum * dp)
        return np.asarray(p - lr * v_new), v_new


class OldVelocityMomentum(Lecture):
    """Momentum that steps p with the OLD v, p - lr v, and returns the right v_new."""

    def momentum(self, p, dp, v, lr, momentum):
        _, v_new = ref.momentum(p, dp, v, lr, momentum)
        return np.asarray(p - lr * v), v_new


class SignFlippedGD(Lecture):
    """Gradient descent that adds the step: p + lr dp."""

    def gd(self, p, dp, lr):
        _check(lr)
        return np.asarray(p + lr * dp)


class InPlaceGD(Lecture):
    """Gradient descent that updates p in place (p -= lr dp) and returns it."""

    def gd(self, p, dp, lr):
        _check(lr)
        p -= lr * dp
        return p


class UncheckedOptimizer(LectureOptimizer):
    """The lecture's formulas, right, without any check of the hyperparameters: a negative lr, a decay
    of 1 or 1.5, a negative eps and t = 0 give a result (or a division by zero) instead of an error."""

    validates = False

    @staticmethod
    def check(lr: float, *decays: float, eps: float = 0.0, t: int = 1) -> None:
        """No check at all."""


@dataclass(frozen=True)
class Fault:
    """A faulty optimizer, the clauses it must fail, and what the message of one of them (``says_in``) must
    say: the bug's name where bnspec has a model of it.  ``unnamed``: why bnspec's message does not say it
    yet (a finding about bnspec, the message test is then a strict xfail)."""

    impl: type[_Optimizer]
    fails: tuple[str, ...]
    says_in: str
    says: str
    unnamed: str = ""


class Unnamed(AssertionError):
    """A clause failed, but its message does not name the bug."""


NET = "OPT-NET-1"
ADAM = ("OPT-ADAM-1", "OPT-ADAM-2", "OPT-ADAM-3")
RMS = ("OPT-RMS-1", "OPT-RMS-2")
MOM = ("OPT-MOM-1", "OPT-MOM-2", "OPT-MOM-3")
#: A bias correction that divides by 1 - beta^0 = 0 at t = 1: inf/NaN or an exception wherever t = 1 is drawn.
AT_T_1 = ("OPT-ADAM-4", "OPT-ZERO-1")

ZOO: tuple[Fault, ...] = (
    Fault(NoBiasCorrectionAdam, (*ADAM, NET), "OPT-ADAM-1", "no bias correction"),
    Fault(LateBiasCorrectionAdam, (*ADAM, *AT_T_1, NET), "OPT-ADAM-1", "one step late"),
    Fault(EarlyBiasCorrectionAdam, (*ADAM, NET), "OPT-ADAM-1", "one step early"),
    # raising at t = 1 fails every clause that calls adam at t = 1, OPT-DTYPE-1 and OPT-PURE-1 included
    Fault(CountsFromZeroAdam, (*ADAM, *AT_T_1, "OPT-DTYPE-1", "OPT-PURE-1", NET), "OPT-ADAM-3",
          "raised ZeroDivisionError"),
    Fault(AbsGradAdam, (*ADAM, "OPT-ADAM-4", NET), "OPT-ADAM-1", "|dp|"),
    # Not OPT-NET-1, which it breaks: seed 0's 10 examples draw adam once, with beta2 = 0.5 = 1 - beta2.
    Fault(SwappedBeta2Adam, ADAM, "OPT-ADAM-1", "beta2 and 1 - beta2 swapped",
          unnamed="bnspec: the 'beta2 and 1 - beta2 swapped' model swaps beta2 in the bias correction too "
                  "(_with(beta2=1 - beta2)); the swap in the average alone, with the right correction "
                  "1 - beta2^t, matches no model"),
    Fault(Float32UpcastAdam, ("OPT-DTYPE-1",), "OPT-DTYPE-1", "dtype of p_new from adam on float32"),
    Fault(AbsGradRMSprop, (*RMS, "OPT-RMS-3", NET), "OPT-RMS-1", "|dp|"),
    Fault(EpsInsideRMSprop, (*RMS, "OPT-RMS-3", NET), "OPT-RMS-1", "eps inside the root"),
    Fault(NoRootRMSprop, (*RMS, "OPT-RMS-3", NET), "OPT-RMS-1", "the square root is missing"),
    Fault(OldStateRMSprop, (*RMS, NET), "OPT-RMS-1", "the old s returned"),
    Fault(EpsInNumeratorRMSprop, ("OPT-ZERO-1", *RMS, NET), "OPT-ZERO-1",
          "rmsprop with dp = 0 from zero state changed p"),
    Fault(OldStateMomentum, (*MOM, NET), "OPT-MOM-1", "the old v returned"),
    Fault(HeavyBallMomentum, (*MOM, NET), "OPT-MOM-1", "heavy-ball"),
    Fault(SwappedMomentum, (*MOM, NET), "OPT-MOM-1", "momentum and 1 - momentum swapped"),
    # no model of this bug: the message says what differs, and names no bug
    Fault(OldVelocityMomentum, (*MOM, NET), "OPT-MOM-1", "p_new of momentum"),
    Fault(SignFlippedGD, ("OPT-GD-1", NET), "OPT-GD-1", "added instead of subtracted"),
    Fault(InPlaceGD, ("OPT-PURE-1",), "OPT-PURE-1", "gd modified its argument p"),
    Fault(UncheckedOptimizer, ("OPT-INPUT-1",), "OPT-INPUT-1", "returned a result for"),
)


def _cases() -> list[Any]:
    cases = []
    for fault in ZOO:
        for clause_id in fault.fails:
            unnamed = clause_id == fault.says_in and fault.unnamed
            marks = [pytest.mark.xfail(raises=Unnamed, strict=True, reason=fault.unnamed)] if unnamed else []
            cases.append(pytest.param(fault, clause_id, marks=marks, id=f"{fault.impl.__name__}-{clause_id}"))
    return cases


def run(impl: type[_Optimizer], clause_id: str) -> ClauseResult:
    """``clause_id`` on a fresh ``impl``, its declarations read as ``bnspec check`` reads them."""
    return run_clause(REGISTRY[clause_id], wrap(impl(), impl.__name__), OPTIONS)


def test_the_zoo_is_complete():
    """At least 14 faults, each documented, each failing MUST clauses only (OPT-INPUT-1, the SHOULD, only
    where the bug is that bad input is accepted), and every OPT-* clause catches one of them."""
    assert len(ZOO) >= 14
    for fault in ZOO:
        assert fault.impl.__doc__ and fault.says_in in fault.fails, fault.impl.__name__
        levels = {REGISTRY[c].level for c in fault.fails}
        assert levels == ({"SHOULD"} if fault.impl is UncheckedOptimizer else {"MUST"}), fault.impl.__name__
    assert {c for fault in ZOO for c in fault.fails} == {c.id for c in OPT_CLAUSES}


@pytest.mark.parametrize(("fault", "clause_id"), _cases())
def test_fault_is_caught(fault: Fault, clause_id: str):
    """FAIL, never 'error' (bnspec's own bug); the bug named in the message of ``fault.says_in``."""
    result = run(fault.impl, clause_id)
    assert result.status == "FAIL", f"{fault.impl.__name__}: {fault.impl.__doc__}\n{report.details(result)}"
    if clause_id == fault.says_in and fault.says not in result.message:
        raise Unnamed(f"{fault.impl.__name__}: {fault.impl.__doc__}\nexpected {fault.says!r} in: {result.message}")
    if fault.impl is OldVelocityMomentum:
        assert "The results match" not in result.message, result.message  # no model: no guess


@pytest.mark.parametrize("impl", CORRECT, ids=[c.__name__ for c in CORRECT])
def test_a_correct_optimizer_passes_every_opt_clause(impl: type[_Optimizer]):
    """Each form under its own profile: every MUST clause passes; OPT-INPUT-1 (SHOULD) passes where the
    implementation refuses bad hyperparameters, and fails where it does not."""
    subject = wrap(impl(), impl.__name__)
    wrong = []
    for clause in OPT_CLAUSES:
        result = run_clause(clause, subject, OPTIONS)
        expected = "pass" if clause.level == "MUST" or getattr(impl, "validates", False) else "FAIL"
        if result.status != expected:
            wrong.append(f"expected {expected}:\n{report.details(result)}")
    assert not wrong, "\n\n".join(wrong)


# -- bnspec check ------------------------------------------------------------------------------------


def _bnspec_check(target: str, *options: str) -> subprocess.CompletedProcess[str]:
    """``bnspec check`` on a class of this file, as a user runs it from the project's folder."""
    command = [sys.executable, "-m", "bnspec.spec.cli", "check", f"{HERE.as_posix()}:{target}", "--max-examples",
               "20", "--timeout", "60", *options]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _clause_rows(out: str) -> list[str]:
    """The clause IDs that open the rows of a check's table."""
    ids = {c.id for c in REGISTRY.values()}
    return [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0] in ids]


@pytest.fixture(scope="module")
def faulty_check() -> subprocess.CompletedProcess[str]:
    return _bnspec_check("NoBiasCorrectionAdam", "--quiet")


@pytest.mark.slow
def test_bnspec_check_finds_an_optimizer_target():
    done = _bnspec_check("LectureOptimizer")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(_clause_rows(done.stdout)) == sorted(c.id for c in OPT_CLAUSES), done.stdout
    assert "BN-" not in done.stdout, done.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("optimizer_cli")
def test_bnspec_check_names_an_optimizers_bug(faulty_check: subprocess.CompletedProcess[str]):
    out = faulty_check.stdout
    assert faulty_check.returncode == 1, out + faulty_check.stderr
    assert "BN-" not in out, out
    first = out.lstrip().splitlines()[:10]
    assert "--- OPT-ADAM-1 (MUST) FAIL: One step of Adam" in first, out
    assert any("The results match no bias correction" in line for line in first), out


@pytest.mark.slow
@pytest.mark.xdist_group("optimizer_cli")
def test_bnspec_check_headline_does_not_contradict_the_named_bug(faulty_check: subprocess.CompletedProcess[str]):
    # the BN diagnosis (its headline) says nothing of an optimizer clause, whose message names the bug
    assert "no known bug explains" not in faulty_check.stdout, faulty_check.stdout
