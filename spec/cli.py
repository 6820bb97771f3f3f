"""The ``bnspec`` command.

``bnspec check TARGET`` runs every clause against TARGET and prints one row per
clause (ID, level, result, time, statement), then the details of each failure.
Exit status: 0 when every MUST clause passes (``--strict``: every SHOULD clause
too) and nothing errored; 1 when a clause fails or errors; 2 for a usage error;
128 + the signal's number when SIGINT or SIGTERM stops the run (the reports then
hold the clauses that ran).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import about, cases, report, reproducible
from .diagnosis import diagnose
from .errors import UsageError, UserInterrupt
from .runner import DEFAULT_MAX_EXAMPLES, ClauseResult, passed
from .session import DEFAULT_MEMORY_LIMIT_MB, RunOptions, Session, target_of

#: ``--jobs``' default: the CPUs this process may run on, at most MAX_DEFAULT_JOBS (each worker loads the
#: target: a framework's memory and start-up once more per worker) -- unless the environment's
#: :data:`JOBS_VARIABLE` sets it (a test suite that already runs one process per CPU sets 1).
MAX_DEFAULT_JOBS = 4
DEFAULT_JOBS = min(MAX_DEFAULT_JOBS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
JOBS_VARIABLE = "BNSPEC_JOBS"


def _default_jobs() -> int:
    """``--jobs``' default: :data:`JOBS_VARIABLE` if set (a whole number of at least 1), else DEFAULT_JOBS."""
    value = os.environ.get(JOBS_VARIABLE)
    if value is None:
        return DEFAULT_JOBS
    if not value.strip().isdigit() or int(value) < 1:
        raise UsageError(f"{JOBS_VARIABLE} must be a whole number of at least 1, got {value!r:.40}")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bnspec", description="The executable specification of batch normalization.")
    parser.add_argument("--version", action="version", version=about.stamp(),
                        help="print bnspec's version (and the commit of its source tree) and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check", help="check an implementation against every clause",
        description="Check an implementation against every clause. Trust: in process the implementation is "
                    "cooperative code (it could patch numpy or bnspec); for untrusted code use --isolate or "
                    "--exec, where the verdict is computed from the data it sends back (docs/robustness.md).")
    check.add_argument("target", nargs="?",
                       help="'reference', 'module:attribute', 'path/to/file.py:attribute' or 'exec:COMMAND'")
    check.add_argument("--exec", metavar="COMMAND", dest="exec_command",
                       help="check a program in any language that speaks the process protocol (instead of TARGET)")
    check.add_argument("--profile", help="conventions to expect (default: the target's own, else 'lecture')")
    check.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES, help="hypothesis examples per clause")
    check.add_argument("--seed", type=int, default=0, help="hypothesis seed; the same seed reproduces a run")
    check.add_argument("--clause", action="append", help="run only clauses with this ID or ID prefix (repeatable)")
    check.add_argument("--json", metavar="FILE", help="write the results as JSON")
    check.add_argument("--junit", metavar="FILE", help="write the results as JUnit XML")
    check.add_argument("--strict", action="store_true", help="SHOULD clauses must pass too")
    check.add_argument("--timeout", type=float, metavar="SECONDS", help="time limit per clause (the clause errors)")
    check.add_argument("--fail-fast", "-x", action="store_true", help="stop at the first result that fails the run")
    check.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    check.add_argument("--isolate", action="store_true",
                       help="run the implementation in a child process: crashes, exits and runaway memory fail "
                            "a clause instead of ending the run (see docs/robustness.md)")
    check.add_argument("--memory-limit", type=int, metavar="MB", default=DEFAULT_MEMORY_LIMIT_MB,
                       help="with --isolate: megabytes the child may allocate beyond loading the target "
                            "(0: no limit; default %(default)s)")
    check.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                       help=f"worker processes the clauses run in, each loading the target (default: "
                            f"${JOBS_VARIABLE}, else the CPUs available, at most {MAX_DEFAULT_JOBS}: {DEFAULT_JOBS} "
                            f"here; 1: in this process)")
    check.add_argument("--save-failures", metavar="DIR", help="write each failing clause's example as a case file "
                                                              "for `bnspec replay`")
    commands.add_parser("profiles", help="list the profiles: each convention with its source")
    cases.add_parser(commands)
    from .vectors.cli import add_parser as add_vectors_parser

    add_vectors_parser(commands)
    matrix = commands.add_parser("matrix", help="run the reference and every installed adapter; write the matrix")
    matrix.add_argument("--output", default="docs/conformance", help="folder for matrix.json and matrix.md")
    matrix.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    matrix.add_argument("--seed", type=int, default=0)
    matrix.add_argument("targets", nargs="*", help="adapter names (default: reference and every bundled adapter)")
    return parser


def _matrix(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import matrix
    from .adapters import ADAPTERS

    names = args.targets or ["reference", *ADAPTERS]
    built = matrix.build(names, max_examples=args.max_examples, seed=args.seed)
    matrix.write(built, Path(args.output))
    for column in built["columns"]:
        if column["installed"]:
            print(f"{column['target']:<12} {report.summary(cell['status'] for cell in column['clauses'].values())}")
        else:
            print(f"{column['target']:<12} not installed")
    print(f"written to {args.output}/matrix.json and matrix.md")
    return 0


def _options(args: argparse.Namespace) -> RunOptions:
    """The run's options from ``bnspec check``'s arguments; UsageError for a bad one."""
    target = target_of(args.target, args.exec_command)
    return RunOptions(target, profile=args.profile, max_examples=args.max_examples, seed=args.seed,
                      timeout=args.timeout, isolate=args.isolate, memory_limit=args.memory_limit,
                      jobs=_default_jobs() if getattr(args, "jobs", None) is None else args.jobs)


def _check(args: argparse.Namespace) -> int:
    options = _options(args)
    # Output paths are checked and made absolute before anything runs.
    json_path = report.check_destination(args.json, "--json") if args.json else None
    junit_path = report.check_destination(args.junit, "--junit") if args.junit else None
    failures_dir = Path(os.path.abspath(args.save_failures)) if args.save_failures else None
    if failures_dir is not None and failures_dir.exists() and not failures_dir.is_dir():
        raise UsageError(f"--save-failures: {args.save_failures!r} is not a folder")
    out = report.Console(sys.stdout)
    with Session(options) as session:
        clauses = session.clauses(args.clause)
        if not clauses:
            raise UsageError(f"no clause matches {args.clause}")
        if not args.quiet:
            declared = session.subject.declaration
            shapes = f" [{declared.layout.describe(declared.spatial_dims)}]" if declared.layout.spatial else ""
            print(f"{options.command()}  (profile {session.profile}, layout {declared.layout.value}{shapes}, "
                  f"seed {args.seed}, {args.max_examples} examples per clause; {about.stamp()})", file=out)
            if reproducible.NOT_PINNED:
                print(f"note: the draws are not pinned ({reproducible.NOT_PINNED}): --seed may not reproduce "
                      f"this run exactly; --save-failures does", file=out)
            print(report.HEADER, file=out)

        results: list[ClauseResult] = []

        def progress(result: ClauseResult) -> None:
            results.append(result)
            if not args.quiet:
                print(report.row(result), file=out, flush=True)

        start = time.perf_counter()
        stopped: UserInterrupt | None = None
        found = None
        try:
            session.run(clauses, progress, fail_fast=args.fail_fast, strict=args.strict)
            found = diagnose(session.subject, results, options.runner_options())
        except KeyboardInterrupt as interrupt:  # Ctrl-C or SIGTERM: the clauses that ran get their reports
            stopped = interrupt if isinstance(interrupt, UserInterrupt) else UserInterrupt()
    seconds = time.perf_counter() - start
    meta = {**session.meta(), "stopped": f"interrupted by {stopped}" if stopped else None}
    # The reports first: nothing printed afterwards can lose them.
    if junit_path:
        report.write_junit(junit_path, results, options.command())
    if json_path:
        report.write_json(json_path, results, meta, found)
    saved = cases.save_all(failures_dir, results, meta) if failures_dir else []
    report.print_failures(results, out, found)
    ok = passed(results, args.strict) and stopped is None
    print(f"\n{report.summary(r.status for r in results)} in {seconds:.1f}s: "
          f"{'conforms' if ok else 'does not conform'}", file=out)
    if found is not None and found.root_causes and found.root_causes[0].clauses:
        first = found.root_causes[0]  # the last line a terminal shows names the bug too
        print(f"most likely: {first.id}: {first.explanation}", file=out)
    if stopped is not None:
        print(f"interrupted by {stopped}: {len(clauses) - len(results)} clauses not run", file=out)
    elif len(results) < len(clauses):
        print(f"stopped early (--fail-fast): {len(clauses) - len(results)} clauses not run", file=out)
    for path in saved:
        print(f"saved {path}: bnspec replay {path} {options.target}", file=out)
    if stopped is not None:
        return 128 + stopped.signum
    return 0 if ok else 1


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`UserInterrupt` while a command runs (in the main thread), so that the
    implementation's process group is killed and the reports of the clauses that ran are written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminated(signum: int, frame: object) -> None:
        raise UserInterrupt(signum)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """The command line; exit status 0 conforms, 1 a clause failed or errored, 2 a usage error,
    128 + the signal's number when SIGINT or SIGTERM ends it."""
    args = _parser().parse_args(argv)
    try:
        with _terminate_as_interrupt():
            return _command(args)
    except UsageError as error:
        print(f"bnspec: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        signum = interrupt.signum if isinstance(interrupt, UserInterrupt) else signal.SIGINT
        print(f"bnspec: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum


def entry() -> None:
    """The ``bnspec`` console script: :func:`main`, then exit even if the implementation left a
    non-daemon thread running (Python would wait for it forever)."""
    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    sys.exit(code)


def _command(args: argparse.Namespace) -> int:
    if args.command == "check":
        return _check(args)
    if args.command == "matrix":
        return _matrix(args)
    if args.command == "replay":
        return cases.main(args)
    if args.command == "vectors":
        from .vectors.cli import main as vectors_main

        return vectors_main(args)
    if args.command == "profiles":
        from .profiles import BASE, CONVENTIONS, LECTURE, PROFILES

        print("Convention fields: a target's profile is a profile's name, or a mapping of these fields, e.g.\n"
              f"  profile = {{\"{BASE}\": \"torch\", \"momentum_weighs\": \"old\"}}\n"
              f"a field left out takes the value of the profile {BASE!r} names (default lecture):")
        for convention in CONVENTIONS.values():
            default = getattr(LECTURE, convention.name)
            print(f"  {convention.name}: {convention.allowed}; lecture: {default:g}" if convention.name == "eps" else
                  f"  {convention.name}: {convention.allowed}; lecture: {default}")
            print(f"      {convention.meaning}")
        print(f"  {BASE}: {' | '.join(PROFILES)}; default lecture")
        print("\nProfiles:")
        for profile in PROFILES.values():
            print(f"{profile.name}: eps {profile.eps:g}; momentum weighs the {profile.momentum_weighs} value; "
                  f"running variance {profile.running_var}; at m = 1: {profile.single_example}"
                  f"{' (' + profile.refusal + ')' if profile.single_example == 'raises' else ''}; "
                  f"feature axis {profile.feature_axis}")
            for key, source in profile.sources.items():
                print(f"    {key}: {source}")
        return 0
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    entry()
