"""One run session: behind ``bnspec check``, ``vectors check``, ``replay``, ``matrix`` and the pytest plugin.

A :class:`Session` loads the target -- in this process, in an isolated child
process (``--isolate``) or as a program of any language (``--exec``, a TARGET
of the form ``exec:COMMAND``) --, holds the run's options, runs clauses through
the one clause runner (:func:`bnspec.spec.runner.run_clause`), builds the
command line that reproduces each clause, and ends the implementation's process
when it is closed (use it as a context manager)::

    with Session(RunOptions("examples/learner_bn.py")) as session:
        results = session.run(session.clauses())
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from . import about, capture, reproducible
from . import target as targets
from .clauses import Clause, select
from .errors import Status, TargetError, UsageError
from .process.protocol import EXEC_PREFIX
from .properties import Check
from .runner import DEFAULT_MAX_EXAMPLES, ClauseResult, Options, passed, run_clause

#: The default ``--memory-limit``: megabytes an isolated child may allocate beyond loading the target.
DEFAULT_MEMORY_LIMIT_MB = 2048
#: The largest ``--memory-limit`` (1 TiB): beyond, the address-space limit overflows on some systems.
MAX_MEMORY_LIMIT_MB = 2**20
#: The longest ``--timeout`` (a day): a limit must be a number a timer can hold.
MAX_TIMEOUT = 86400.0


class Mode(StrEnum):
    """Where the implementation runs."""

    IN_PROCESS = "in_process"
    ISOLATE = "isolate"
    EXEC = "exec"


@dataclass(frozen=True)
class RunOptions:
    """Everything that decides a run: the target, where it runs, the profile and the runner's options."""

    target: str
    profile: str | None = None
    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int = 0
    timeout: float | None = None
    isolate: bool = False
    memory_limit: int = DEFAULT_MEMORY_LIMIT_MB
    shrink: bool = True
    jobs: int = 1  # worker processes the clauses run in (bnspec.spec.parallel); no result depends on it

    def __post_init__(self) -> None:
        if isinstance(self.max_examples, bool) or not isinstance(self.max_examples, int) or self.max_examples < 1:
            raise UsageError(f"--max-examples must be a whole number of at least 1, got {self.max_examples!r}")
        if self.timeout is not None and not 0 < self.timeout <= MAX_TIMEOUT:  # also refuses nan and inf
            raise UsageError(f"--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}, "
                             f"got {self.timeout!r}")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise UsageError(f"--jobs must be a whole number of at least 1, got {self.jobs!r}")
        if not 0 <= self.memory_limit <= MAX_MEMORY_LIMIT_MB:
            raise UsageError(f"--memory-limit must be 0 (no limit) to {MAX_MEMORY_LIMIT_MB} megabytes, "
                             f"got {self.memory_limit!r}")

    @property
    def mode(self) -> Mode:
        if self.target.startswith(EXEC_PREFIX):
            return Mode.EXEC
        return Mode.ISOLATE if self.isolate else Mode.IN_PROCESS

    def runner_options(self) -> Options:
        return Options(max_examples=self.max_examples, seed=self.seed, shrink=self.shrink, timeout=self.timeout)

    def flags(self) -> str:
        """The options besides target, clause and seed that reproduce the run (as command-line flags)."""
        flags = []
        if self.profile:
            flags.append(f"--profile {shlex.quote(self.profile)}")
        if self.max_examples != DEFAULT_MAX_EXAMPLES:
            flags.append(f"--max-examples {self.max_examples}")
        if self.timeout is not None:
            flags.append(f"--timeout {self.timeout:g}")
        if self.mode is Mode.ISOLATE:
            flags.append(f"--isolate --memory-limit {self.memory_limit}")
        return "".join(" " + flag for flag in flags)

    def command(self) -> str:
        """``bnspec check`` with the target and :meth:`flags`."""
        if self.mode is Mode.EXEC:
            where = f"--exec {shlex.quote(self.target.removeprefix(EXEC_PREFIX))}"
        else:
            where = shlex.quote(self.target)
        return f"bnspec check {where}{self.flags()}"


def target_of(target: str | None, exec_command: str | None) -> str:
    """The TARGET string of a command given ``TARGET`` or ``--exec COMMAND`` (exactly one of them)."""
    if exec_command is None and target is not None:
        return target
    if exec_command is not None and target is None:
        return EXEC_PREFIX + exec_command
    raise UsageError("give either TARGET or --exec COMMAND")


def _load(options: RunOptions) -> tuple[targets.Subject, Any]:
    """The subject, and the proxy whose process the session must end (None in process)."""
    if options.mode is Mode.IN_PROCESS:
        return targets.load(options.target, options.profile), None
    from .process.proxy import ProcessImpl

    if options.mode is Mode.EXEC:
        proxy = ProcessImpl.exec(options.target.removeprefix(EXEC_PREFIX), options.timeout)
    else:
        proxy = ProcessImpl.isolate(options.target, options.memory_limit, options.timeout)
    try:
        return targets.wrap(proxy, options.target, options.profile), proxy
    except BaseException:
        proxy.close()
        raise


class Session:
    """A loaded target and the options of its run (see the module docstring)."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        # what the implementation prints at import is captured, and shown with the first clause's output
        (self.subject, self._proxy), self._printed = capture.calling(_load, options)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the implementation's process, if it has one."""
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None

    @property
    def profile(self) -> str:
        return self.subject.profile.name

    def meta(self) -> dict[str, Any]:
        """The run's identity, as the JSON report and case files record it."""
        return {"target": self.options.target, "profile": self.profile, "layout": self.subject.layout.value,
                "seed": self.options.seed, "max_examples": self.options.max_examples,
                "command": self.options.command(), "draws_pinned": reproducible.PINNED, "bnspec": about.identity()}

    def clauses(self, prefixes: list[str] | None = None) -> list[Clause]:
        """The clauses of the target's kinds whose ID equals or starts with one of ``prefixes`` (all if None)."""
        return [c for c in select(prefixes) if c.kind in self.subject.kinds]

    @property
    def printed(self) -> str:
        """What the implementation printed when it was loaded, not yet given to a clause's result."""
        return self._printed

    def take_printed(self) -> str:
        """:attr:`printed`, which no later result then repeats."""
        printed, self._printed = self._printed, ""
        return printed

    def discard_printed(self) -> None:
        """Forget :attr:`printed` (a worker's: the session that started it reports it)."""
        self._printed = ""

    def reproduce(self, clause: Clause) -> str:
        return f"{self.options.command()} --clause {clause.id} --seed {self.options.seed}"

    def run_clause(self, clause: Clause, *, replay: list[tuple[str, Any]] | None = None,
                   check: Check | None = None) -> ClauseResult:
        printed = self.take_printed()  # the output at import goes with the first clause only
        return run_clause(clause, self.subject, self.options.runner_options(), reproduce=self.reproduce(clause),
                          replay=replay, check=check, printed_at_load=printed)

    def run(self, clauses: Iterable[Clause], progress: Callable[[ClauseResult], None] | None = None,
            fail_fast: bool = False, strict: bool = False) -> list[ClauseResult]:
        """Run every clause in order; ``progress`` is called after each.  With ``fail_fast``, stop
        after the first result that makes the run fail (see :func:`~bnspec.spec.runner.passed`).  With
        ``options.jobs`` above 1 the clauses run in that many worker processes
        (:mod:`bnspec.spec.parallel`), the results and their order the same."""
        clauses = list(clauses)
        if self.options.jobs > 1 and len(clauses) > 1:
            from . import parallel

            return parallel.run(self, clauses, self.options.jobs, progress, fail_fast, strict)
        results = []
        for clause in clauses:
            result = self.run_clause(clause)
            results.append(result)
            if progress:
                progress(result)
            if fail_fast and not passed([result], strict):
                break
        return results


__all__ = ["DEFAULT_MEMORY_LIMIT_MB", "EXEC_PREFIX", "Mode", "RunOptions", "Session", "Status", "TargetError",
           "target_of", "passed"]
