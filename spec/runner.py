"""Run clauses against a target with hypothesis, and collect their results.

Each clause runs as one hypothesis test: its property draws labelled inputs,
calls the target and checks the claim.  A result is ``pass``, ``FAIL`` (the
implementation broke the clause or misbehaved), ``n/a`` (the target lacks a
protocol function the property needs, or the clause is about the reference's
own machinery) or ``error`` (the check itself could not run).
"""

from __future__ import annotations

import io
import signal
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.reporting import with_reporter

from . import assertions, reproducer
from .clauses import Clause
from .properties import Property, load_all
from .strategies import Draw
from .target import Target

STATUSES = ("pass", "FAIL", "n/a", "error")
DEFAULT_MAX_EXAMPLES = 40


@dataclass
class ClauseResult:
    clause: Clause
    status: str
    seconds: float
    message: str = ""
    counterexample: str = ""
    reproducer: str = ""
    worst: float = 0.0  # worst observed error / tolerance over the run
    seed: int = 0
    target: str = "TARGET"

    def as_dict(self) -> dict:
        return {
            "id": self.clause.id,
            "level": self.clause.level,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 4),
            "worst_error_over_tolerance": self.worst,
            "seed": self.seed,
            "counterexample": self.counterexample,
            "reproducer": self.reproducer,
        }


@dataclass(frozen=True)
class Options:
    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int = 0
    shrink: bool = True  # off in the meta tests: a failure is all they need
    timeout: float | None = None  # seconds per clause; None: no limit
    extra_settings: dict = field(default_factory=dict)


def not_applicable(clause: Clause, prop: Property, target: Target) -> str:
    """Why ``clause`` does not apply to ``target`` ('' if it does)."""
    if clause.subject == "reference" and not target.is_reference:
        return "about the reference's own optimizers and training loop, not the implementation under test"
    missing = [f for f in prop.needs if not target.has(f)]
    return f"the target has no {', '.join(missing)}" if missing else ""


def _hypothesis_test(prop: Property, target: Target, options: Options) -> Callable[[], None]:
    max_examples = min(options.max_examples, prop.max_examples or options.max_examples)

    @hypothesis_seed(options.seed)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate) + ((Phase.shrink,) if options.shrink else ()),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        **options.extra_settings,
    )
    @given(st.data())
    def clause_test(data) -> None:
        target.calls.clear()
        prop.check(target, Draw(data))

    return clause_test


class ClauseTimeout(BaseException):
    """The clause ran past its time limit (the implementation hung or was too slow).

    A BaseException, so that hypothesis does not take it for a failing example
    and replay the hang while shrinking."""


@contextmanager
def _time_limit(seconds: float | None):
    """Interrupt the clause after ``seconds`` with SIGALRM (main thread, POSIX only;
    elsewhere no limit applies -- ``--isolate`` is the robust alternative)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if seconds is None or not usable:
        yield
        return

    def expire(signum, frame):
        raise ClauseTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_clause(clause: Clause, target: Target, options: Options | None = None) -> ClauseResult:
    """Run one clause's property against ``target``."""
    options = options or Options()
    prop = load_all()[clause.id]
    start = time.perf_counter()
    reason = not_applicable(clause, prop, target)
    if reason:
        return ClauseResult(clause, "n/a", 0.0, reason, seed=options.seed, target=target.spec)
    assertions.LEDGER.reset()
    report = io.StringIO()
    try:
        with with_reporter(lambda text: print(text, file=report)), _time_limit(options.timeout):
            _hypothesis_test(prop, target, options)()
    except ClauseTimeout as timeout:
        return ClauseResult(clause, "error", time.perf_counter() - start, str(timeout),
                            reproducer=reproducer.script(target.spec, target.calls[-1:]),
                            seed=options.seed, target=target.spec)
    except Flaky as flaky:  # the same example passed on a replay: hidden state in the implementation
        return ClauseResult(
            clause, "FAIL", time.perf_counter() - start,
            f"the implementation gave different results for the same inputs when the example was "
            f"replayed (it keeps hidden state between calls): {flaky}",
            counterexample=report.getvalue().strip(),
            reproducer=reproducer.script(target.spec, target.calls), seed=options.seed, target=target.spec,
        )
    except AssertionError as failure:
        notes = "\n".join(getattr(failure, "__notes__", []))  # hypothesis' falsifying example
        return ClauseResult(
            clause, "FAIL", time.perf_counter() - start, str(failure),
            counterexample=(report.getvalue() + notes).strip(),
            reproducer=reproducer.script(target.spec, target.calls),
            worst=assertions.LEDGER.worst, seed=options.seed, target=target.spec,
        )
    except Exception as error:  # the check could not run: report, never pass
        return ClauseResult(
            clause, "error", time.perf_counter() - start, f"{type(error).__name__}: {error}",
            counterexample=report.getvalue().strip(), seed=options.seed, target=target.spec,
        )
    return ClauseResult(clause, "pass", time.perf_counter() - start, worst=assertions.LEDGER.worst,
                        seed=options.seed, target=target.spec)


def run(
    clauses: Iterable[Clause],
    target: Target,
    options: Options | None = None,
    progress: Callable[[ClauseResult], None] | None = None,
    fail_fast: bool = False,
    strict: bool = False,
) -> list[ClauseResult]:
    """Run every clause in order; ``progress`` is called after each.  With
    ``fail_fast``, stop after the first result that makes the run fail (see
    :func:`passed`)."""
    results = []
    for clause in clauses:
        result = run_clause(clause, target, options)
        results.append(result)
        if progress:
            progress(result)
        if fail_fast and not passed([result], strict):
            break
    return results


def passed(results: list[ClauseResult], strict: bool = False) -> bool:
    """True when no clause errored and every MUST clause (with ``strict``, every
    SHOULD clause too) passed or is n/a."""
    levels = ("MUST", "SHOULD") if strict else ("MUST",)
    if any(r.status == "error" for r in results):
        return False
    return all(r.status in ("pass", "n/a") for r in results if r.clause.level in levels)
