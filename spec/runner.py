"""The clause runner: one clause, one subject, one result.

Each clause runs as one hypothesis test: for every example the runner makes a
:class:`~bnspec.spec.trial.Trial` and a :class:`~bnspec.spec.target.Target`
that logs into it, and calls the clause's property with both.  What ended the
run decides the :class:`~bnspec.spec.errors.Status`, by type alone (see
:mod:`bnspec.spec.errors`): a finding about the implementation is ``FAIL``,
anything raised by bnspec's own code is ``error``.  The result is built once,
complete.  :class:`bnspec.spec.session.Session` is the way in.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.reporting import with_reporter

from . import bfloat16, capture, counterexample, reproducer, strategies
from .clauses import Clause
from .errors import Cause, ClauseTimeout, Finding, Interruption, Status, UsageError, UserInterrupt
from .layouts import Arrangement
from .properties import Check, Property, load_all
from .properties.variants import declared_not_applicable
from .reproducible import without_local_constants
from .strategies import Draw, ReplayDraw
from .target import Call, Subject, Target
from .trial import Claim, Trial, Worst, failed_claim

DEFAULT_MAX_EXAMPLES = 40


@dataclass(frozen=True)
class Options:
    """How a clause is run: examples, seed, shrinking, time limit (seconds per clause)."""

    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int = 0
    shrink: bool = True  # off in the meta tests: a failure is all they need
    timeout: float | None = None
    extra_settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClauseResult:
    """A clause's result, complete when built."""

    clause: Clause
    status: Status
    seconds: float
    message: str = ""
    cause: Cause | None = None  # what ended a clause that did not pass
    counterexample: str = ""  # the failing example's calls, every argument exact (bnspec.spec.counterexample)
    reproducer: str = ""  # a standalone numpy script that fails as the clause did (bnspec.spec.reproducer)
    # The worst error / tolerance, and the same error in units of eps * cond (None: no numeric check of that
    # form): over every example of a passing clause; of the failing check of a failing one, so that a replay
    # of its case and the failure message show the same number (0.0 and None: no finite numeric failure).
    worst: float = 0.0
    worst_units: float | None = None
    seed: int = 0
    target: str = "TARGET"
    reproduce: str = ""  # the command that reproduces the run of this clause
    output: str = ""  # what the implementation printed during the clause (bnspec.spec.capture)
    draws: tuple[tuple[str, Any], ...] = ()  # the failing example's labelled draws, for a case file
    calls: tuple[Call, ...] = ()  # the failing example's calls to the implementation

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.clause.id,
            "level": self.clause.level,
            "status": self.status.value,
            "cause": None if self.cause is None else self.cause.value,
            "message": self.message,
            "seconds": round(self.seconds, 4),
            "worst_error_over_tolerance": self.worst,
            "worst_error_eps_cond": self.worst_units,
            "seed": self.seed,
            "reproduce": self.reproduce,
            "counterexample": self.counterexample,
            "draws": "\n".join(f"{label} = {value!r}" for label, value in self.draws),
            "reproducer": self.reproducer,
            "output": self.output,
        }


def failure_numbers(claim: Claim | None) -> tuple[float, float | None]:
    """A failing clause's error / tolerance and eps*cond: its failing check's, where that check compared
    numbers and found a finite error; else ``(0.0, None)``."""
    if claim is None or claim.kind != "close" or not np.isfinite(claim.ratio):
        return 0.0, None
    return claim.ratio, claim.units


def printed_output(at_load: str, during: str) -> str:
    """What the implementation printed: at import (its module's top level), then during the clause."""
    if not at_load:
        return during
    return f"(at import)\n{at_load.rstrip()}\n" + (f"(during the clause)\n{during}" if during else "")


def not_applicable(clause: Clause, prop: Property, subject: Subject) -> str:
    """Why ``clause`` does not apply to ``subject`` ('' if it does)."""
    missing = [f for f in prop.needs if not subject.has(f) and not f.startswith("dtype:")]
    if prop.needs_any and len(missing) < len(prop.needs):  # it has one of them: the property runs those
        missing = []
    if missing:
        return f"the target has no {', '.join(missing)}"
    declared = declared_not_applicable(clause.id, subject)  # affine = False, eval_statistics, ...
    if declared:
        return declared
    undeclared = [f.removeprefix("dtype:") for f in prop.needs if f.startswith("dtype:") and not subject.has(f)]
    if undeclared:
        return (f"the target does not declare {', '.join(undeclared)} in its `dtypes` "
                f"(it declares {', '.join(subject.dtypes)})")
    return bfloat16.MISSING if "dtype:bfloat16" in prop.needs and bfloat16.dtype() is None else ""


@dataclass
class _Examples:
    """What the runner keeps of a clause's examples: the worst error, and the latest trial."""

    subject: Subject
    check: Check
    layer: bool = True  # a layer clause: the declaration's affine and fixed eps shape the draws
    worst: Worst = field(default_factory=Worst)
    last: Trial | None = None

    def run(self, draw: Draw) -> None:
        draw.unit_affine = self.layer and not self.subject.declaration.affine  # gamma = 1, beta = 0
        if self.layer and self.subject.declaration.fixed_eps is not None:  # a declared convention: every eps that
            draw.pinned = {"eps": self.subject.declaration.fixed_eps}
        trial = Trial(draw, self.worst)
        self.last = trial
        rank, split, memory = strategies.arrangement(draw, self.subject.declaration.spatial_dims)
        self.check(Target(self.subject, trial.calls, Arrangement(rank, split, memory)), trial)

    @property
    def calls(self) -> list[Call]:
        return self.last.calls if self.last else []

    def drawn(self) -> str:
        """The draws of the latest example, one ``label = value`` per line."""
        return "\n".join(f"{label} = {value!r}" for label, value in (self.last.draws if self.last else []))


def _hypothesis_test(prop: Property, examples: _Examples, options: Options) -> Callable[[], None]:
    max_examples = min(options.max_examples, prop.max_examples or options.max_examples)

    # database=None: a run is a function of (target, profile, seed, max_examples) alone, so that
    # `--seed S` reproduces it; a failure is kept as a case file instead (--save-failures).
    @hypothesis_seed(options.seed)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=False,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate) + ((Phase.shrink,) if options.shrink else ()),
        # too_slow times the draws, which interleave with calls to the implementation (st.data()):
        # a slow implementation is not a slow strategy, and the check must not error on it.
        suppress_health_check=[HealthCheck.too_slow],
        **options.extra_settings,
    )
    @given(st.data())
    def clause_test(data: Any) -> None:
        examples.run(Draw(data))

    def pinned() -> None:
        with without_local_constants(), _bounded_shrinking():
            clause_test()

    return pinned


#: Successful shrinks hypothesis may make of a failing example (its own bound is 500, and 300 s).  The
#: minimal example is worth less than the user's time: a few dozen steps take a counterexample most of
#: the way down, and a failing run stays within twice a passing one (docs/bench.md).  A count, not a
#: time, so that a seed still reproduces the run on any machine.
MAX_SHRINKS = 40


@contextmanager
def _bounded_shrinking() -> Iterator[None]:
    """Within the block, hypothesis stops shrinking after :data:`MAX_SHRINKS` successful steps.
    Hypothesis has no setting for this: its engine's module constant is swapped (left alone if absent)."""
    from hypothesis.internal.conjecture import engine

    own = getattr(engine, "MAX_SHRINKS", None)
    if not isinstance(own, int):
        yield
        return
    engine.MAX_SHRINKS = min(own, MAX_SHRINKS)
    try:
        yield
    finally:
        engine.MAX_SHRINKS = own


#: Seconds between repeats of the clause's time limit, once it has expired: an implementation whose
#: bare ``except:`` swallows one ClauseTimeout meets the next.
TIMEOUT_REPEAT = 0.5


#: The signal the clause's watchdog sends the main thread when the time limit expires.  Not SIGALRM:
#: an implementation's own ``signal.alarm`` shares SIGALRM's one timer and would cancel the limit.
TIMEOUT_SIGNAL = getattr(signal, "SIGUSR2", None)


def _watchdog(seconds: float, stop: threading.Event, expired: threading.Event) -> None:
    """After ``seconds``, set ``expired`` and signal the main thread, then again every
    :data:`TIMEOUT_REPEAT`, until ``stop`` is set."""
    main = threading.main_thread().ident
    wait = seconds
    while not stop.wait(wait) and main is not None and TIMEOUT_SIGNAL is not None:
        expired.set()
        signal.pthread_kill(main, TIMEOUT_SIGNAL)
        wait = TIMEOUT_REPEAT


@contextmanager
def _guards(seconds: float | None) -> Iterator[threading.Event]:
    """The clause's signal handlers (main thread, POSIX only; elsewhere none -- ``--isolate`` is the
    robust alternative).  Ctrl-C and SIGTERM raise :class:`UserInterrupt`, which the target never takes
    for the implementation's own KeyboardInterrupt.  SIGALRM is ignored, so an implementation's own
    ``signal.alarm`` cannot end the run.  With a time limit, a watchdog thread makes
    :data:`TIMEOUT_SIGNAL` raise ClauseTimeout after ``seconds`` and again every
    :data:`TIMEOUT_REPEAT` until the clause ends; the event it yields tells that the limit expired.
    A signal whose exception lands where Python cannot raise it (a garbage-collection callback) is
    sent again rather than printed and lost."""
    expired = threading.Event()
    if threading.current_thread() is not threading.main_thread() or TIMEOUT_SIGNAL is None:
        yield expired
        return

    def interrupted(signum: int, frame: Any) -> None:
        raise UserInterrupt(signum)

    def expire(signum: int, frame: Any) -> None:
        raise ClauseTimeout(f"timed out after {seconds:g} s")

    def unraisable(info: Any) -> None:
        # A signal that landed where Python cannot raise (a gc callback, a __del__) is sent again from
        # another thread, to land in ordinary code, instead of being printed as "Exception ignored" and lost.
        if isinstance(info.exc_value, ClauseTimeout | UserInterrupt):
            number = TIMEOUT_SIGNAL if isinstance(info.exc_value, ClauseTimeout) else info.exc_value.signum
            again = threading.Timer(0.01, signal.pthread_kill, (threading.main_thread().ident, number))
            again.daemon = True
            again.start()
        else:
            hook(info)

    hook, sys.unraisablehook = sys.unraisablehook, unraisable
    previous = {number: signal.signal(number, handler) for number, handler in
                ((signal.SIGINT, interrupted), (signal.SIGTERM, interrupted),
                 (signal.SIGALRM, signal.SIG_IGN), (TIMEOUT_SIGNAL, expire))}
    stop = threading.Event()
    watchdog = None
    if seconds is not None:
        watchdog = threading.Thread(target=_watchdog, args=(seconds, stop, expired), name="bnspec-timeout",
                                    daemon=True)
        watchdog.start()
    try:
        yield expired
    finally:
        stop.set()
        signal.signal(TIMEOUT_SIGNAL, signal.SIG_IGN)  # a signal still pending is dropped, not raised here
        if watchdog is not None:
            watchdog.join()
        for number, handler in previous.items():
            signal.signal(number, handler)
        sys.unraisablehook = hook


def run_clause(clause: Clause, subject: Subject, options: Options | None = None, *, reproduce: str = "",
               replay: list[tuple[str, Any]] | None = None, check: Check | None = None,
               printed_at_load: str = "") -> ClauseResult:
    """Run ``clause`` against ``subject``: under hypothesis, or once on the saved draws ``replay``.

    ``check`` replaces the clause's property (the golden vectors run their cases this way);
    ``reproduce`` is the command line that reproduces this clause's run; ``printed_at_load`` is what
    the implementation printed when it was loaded, kept first in this result's output.  Whatever the
    implementation does -- raise, return garbage, print, call ``sys.exit``, hang past
    ``options.timeout``, crash its process -- ends as this clause's result."""
    options = options or Options()
    prop = load_all()[clause.id]
    common: dict[str, Any] = {"seed": options.seed, "target": subject.spec, "reproduce": reproduce}
    reason = not_applicable(clause, prop, subject)
    if reason:
        return ClauseResult(clause, Status.NOT_APPLICABLE, 0.0, reason, output=printed_output(printed_at_load, ""),
                            **common)
    examples = _Examples(subject, check or prop.check, layer=clause.kind == "layer")
    if replay is None:
        test = _hypothesis_test(prop, examples, options)
    else:
        def test() -> None:
            examples.run(ReplayDraw(replay))
    subject.prepare()
    report = io.StringIO()
    start = time.perf_counter()
    expired: threading.Event | None = None
    claim: Claim | None = None
    with capture.output() as printed:
        try:
            with with_reporter(lambda text: print(text, file=report)), _guards(options.timeout) as expired:
                test()
            status, cause, message = Status.PASS, None, ""
        except Interruption as stop:  # a timeout, or the implementation's process died: no shrinking
            status, cause, message = stop.status, stop.cause, str(stop)
        except Flaky as flaky:  # the same example passed on a replay: hidden state in the implementation
            status, cause = Status.FAIL, Cause.VIOLATION
            message = (f"the implementation gave different results for the same inputs when the example was "
                       f"replayed (it keeps hidden state between calls): {flaky}")
        except Finding as finding:
            # hypothesis' notes (its "Failing test case" block of draws) are left out: the counterexample
            # shows the calls the implementation received instead.
            status, cause, message, claim = Status.FAIL, finding.cause, str(finding), failed_claim(finding)
        except (SystemExit, GeneratorExit) as exit_:  # from a path that bypasses Target's wrapping
            status, cause = Status.FAIL, Cause.RAISED
            message = (f"the implementation raised {type(exit_).__name__} ({exit_!r}); it must return or raise "
                       f"an Exception, never end the program")
        except UsageError:  # e.g. a saved case that no longer fits its property: the command's error
            raise
        except Exception as error:  # bnspec's own code failed: never a verdict on the implementation
            status, cause = Status.ERROR, Cause.INTERNAL
            message = (f"bnspec's own error, not a finding about the implementation: {type(error).__name__}: "
                       f"{error}")
    seconds = time.perf_counter() - start
    if status is not Status.PASS and cause is not Cause.TIMEOUT and expired is not None and expired.is_set():
        # The limit expired but its exception surfaced elsewhere -- hypothesis, interrupted while it drew,
        # reports "inconsistent data generation": the clause did not finish in time, which is no verdict.
        status, cause, message = Status.ERROR, Cause.TIMEOUT, f"timed out after {options.timeout:g} s"
    output = printed_output(printed_at_load, printed.text)
    if status is Status.PASS:
        return ClauseResult(clause, status, seconds, worst=examples.worst.ratio, worst_units=examples.worst.units,
                            output=output, **common)
    calls = examples.calls if cause is not Cause.TIMEOUT and cause is not Cause.CRASH else examples.calls[-1:]
    failure = reproducer.Failure(clause.id, subject.spec, subject.layout, calls, claim, cause, message,
                                 prop.qualname if check is None else f"the golden vectors of {clause.id}", os.getcwd())
    worst, worst_units = failure_numbers(claim)
    shown = counterexample.text(examples.calls, subject.layout.value) or examples.drawn()
    return ClauseResult(
        clause, status, seconds, message, cause,
        counterexample=shown,
        reproducer=reproducer.script(failure) if cause is not Cause.INTERNAL else "",
        worst=worst, worst_units=worst_units, output=output,
        draws=tuple(examples.last.draws) if examples.last else (), calls=tuple(examples.calls), **common,
    )


def passed(results: list[ClauseResult], strict: bool = False) -> bool:
    """True when no clause errored and every MUST clause (with ``strict``, every
    SHOULD clause too) passed or is n/a."""
    levels = ("MUST", "SHOULD") if strict else ("MUST",)
    if any(r.status is Status.ERROR for r in results):
        return False
    return all(r.status in (Status.PASS, Status.NOT_APPLICABLE) for r in results if r.clause.level in levels)
