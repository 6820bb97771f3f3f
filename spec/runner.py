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

from . import assertions, bfloat16, capture, reproducer
from .clauses import Clause
from .isolation import ImplementationCrashed
from .properties import Property, load_all
from .reproducible import without_local_constants
from .strategies import Draw, ReplayDraw
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
    worst_units: float | None = None  # the same error in units of eps * cond (None: not a numeric clause)
    seed: int = 0
    target: str = "TARGET"
    output: str = ""  # what the implementation printed during the clause (bnspec.spec.capture)
    draws: list = field(default_factory=list)  # the failing example's labelled draws, for a case file
    calls: list = field(default_factory=list)  # the failing example's calls to the implementation
    run_flags: str = ""  # the options besides target, clause and seed that reproduce the run (set by the CLI)

    def as_dict(self) -> dict:
        return {
            "id": self.clause.id,
            "level": self.clause.level,
            "status": self.status,
            "message": self.message,
            "seconds": round(self.seconds, 4),
            "worst_error_over_tolerance": self.worst,
            "worst_error_eps_cond": self.worst_units,
            "seed": self.seed,
            "counterexample": self.counterexample,
            "reproducer": self.reproducer,
            "output": self.output,
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
        return ("about the reference's own machinery (its accuracy, optimizers and training loop), "
                "not the implementation under test")
    missing = [f for f in prop.needs if not target.has(f) and not f.startswith("dtype:")]
    if missing:
        return f"the target has no {', '.join(missing)}"
    undeclared = [f.removeprefix("dtype:") for f in prop.needs if not target.has(f)]
    if undeclared:
        return (f"the target does not declare {', '.join(undeclared)} in its `dtypes` "
                f"(it declares {', '.join(target.dtypes)})")
    return bfloat16.MISSING if "dtype:bfloat16" in prop.needs and bfloat16.dtype() is None else ""


def _hypothesis_test(prop: Property, target: Target, options: Options, last: list[Draw]) -> Callable[[], None]:
    """The clause as one hypothesis test; ``last`` holds the Draw of the latest example
    (after a failure, hypothesis' final replay of the minimal example)."""
    max_examples = min(options.max_examples, prop.max_examples or options.max_examples)

    # database=None: no example database.  A run is a function of (target, profile,
    # seed, max_examples) alone, so that `--seed S` reproduces it exactly; a database
    # would replay examples saved by earlier runs first and change the results.  A
    # failure is kept instead as a case file (--save-failures, bnspec.spec.cases).
    @hypothesis_seed(options.seed)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate) + ((Phase.shrink,) if options.shrink else ()),
        # too_slow: it times the draws, which interleave with calls to the implementation
        # (st.data()); a slow implementation -- a framework's first call, a child process
        # under --isolate -- is not a slow strategy, and the check must not error on it.
        suppress_health_check=[HealthCheck.too_slow],
        **options.extra_settings,
    )
    @given(st.data())
    def clause_test(data) -> None:
        target.calls.clear()
        draw = Draw(data)
        last[:] = [draw]
        prop.check(target, draw)

    def pinned() -> None:
        with without_local_constants():
            clause_test()

    return pinned


def _replay_test(prop: Property, target: Target, sequence: list, last: list[Draw]) -> Callable[[], None]:
    """The clause's check run once on a saved example's draws (``bnspec replay``), without hypothesis."""

    def replay() -> None:
        target.calls.clear()
        draw = ReplayDraw(sequence)
        last[:] = [draw]
        prop.check(target, draw)

    return replay


def _drawn(last: list[Draw]) -> str:
    """The draws of the latest example, one ``label = value`` per line."""
    return "\n".join(f"{label} = {value!r}" for label, value in (last[0].sequence if last else []))


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


def run_clause(clause: Clause, target: Target, options: Options | None = None,
               replay: list | None = None) -> ClauseResult:
    """Run one clause's property against ``target`` (``replay``: once, on these saved draws).

    Whatever the implementation does -- raise, return garbage, print, call
    ``sys.exit``, hang past ``options.timeout``, crash its isolated process --
    ends as this clause's result, never as the end of the run."""
    options = options or Options()
    prop = load_all()[clause.id]
    reason = not_applicable(clause, prop, target)
    if reason:
        return ClauseResult(clause, "n/a", 0.0, reason, seed=options.seed, target=target.spec)
    last: list[Draw] = []
    test = _hypothesis_test(prop, target, options, last) if replay is None else _replay_test(prop, target, replay,
                                                                                             last)
    with capture.output() as printed:
        result = _outcome(clause, target, options, test, last)
    result.output = printed.text
    if last and result.status in ("FAIL", "error"):
        result.draws, result.calls = list(last[0].sequence), list(target.calls)
    return result


def _outcome(clause: Clause, target: Target, options: Options, test: Callable[[], None],
             last: list[Draw]) -> ClauseResult:
    start = time.perf_counter()
    assertions.LEDGER.reset()
    report = io.StringIO()
    try:
        with with_reporter(lambda text: print(text, file=report)), _time_limit(options.timeout):
            test()
    except ClauseTimeout as timeout:
        return ClauseResult(clause, "error", time.perf_counter() - start, str(timeout), counterexample=_drawn(last),
                            reproducer=reproducer.script(target.spec, target.calls[-1:]),
                            seed=options.seed, target=target.spec)
    except ImplementationCrashed as crash:  # --isolate: the child died; no shrinking (each try would crash)
        return ClauseResult(clause, "FAIL", time.perf_counter() - start, str(crash), counterexample=_drawn(last),
                            reproducer=reproducer.script(target.spec, target.calls[-1:]),
                            seed=options.seed, target=target.spec)
    except (SystemExit, GeneratorExit) as exit_:  # from a path that bypasses Target's wrapping
        return ClauseResult(clause, "FAIL", time.perf_counter() - start,
                            f"the implementation raised {type(exit_).__name__} ({exit_!r}); it must return or raise "
                            f"an Exception, never end the program", counterexample=_drawn(last),
                            reproducer=reproducer.script(target.spec, target.calls), seed=options.seed,
                            target=target.spec)
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
            counterexample=(report.getvalue() + notes).strip() or _drawn(last),
            reproducer=reproducer.script(target.spec, target.calls),
            worst=assertions.LEDGER.worst, worst_units=assertions.LEDGER.worst_units, seed=options.seed,
            target=target.spec,
        )
    except Exception as error:  # the check could not run: report, never pass
        return ClauseResult(
            clause, "error", time.perf_counter() - start, f"{type(error).__name__}: {error}",
            counterexample=report.getvalue().strip() or _drawn(last), seed=options.seed, target=target.spec,
        )
    return ClauseResult(clause, "pass", time.perf_counter() - start, worst=assertions.LEDGER.worst,
                        worst_units=assertions.LEDGER.worst_units, seed=options.seed, target=target.spec)


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
