"""Saved failures: case files, and ``bnspec replay``.

``bnspec check TARGET --save-failures DIR`` writes one JSON case file per
failing (or erroring) clause.  ``bnspec replay FILE [TARGET]`` runs that
clause's check once more on the saved inputs: exit status 1 when the case
still fails, 0 when it now passes, 2 when the file is not a case, no longer
fits its property, or does not apply to the target (a missing function).

Design: a property draws all its inputs through the labelled
:class:`~bnspec.spec.strategies.Draw`, which records them in order.  After a
failure, hypothesis' last run is the minimal example, so the runner keeps that
sequence of ``(label, value)`` pairs; the case file stores it, and replay hands
it back through :class:`~bnspec.spec.strategies.ReplayDraw` to the property's
own check -- the same code, the same assertions and tolerances, without
hypothesis (no example database, no choice sequence to keep compatible across
hypothesis versions).  If the property changed so that it asks for other
draws, replay says so instead of guessing.

The file is plain JSON (never pickle): ``format``, ``clause``, ``target``,
``profile``, ``seed``, ``max_examples``, ``status``, ``message``, ``draws``
(the sequence) and ``calls`` (the calls made to the implementation, for
reading; the numpy reproducer is in ``reproducer``).  Values are exact, in the
typed encoding of :func:`bnspec.spec.process.codec.encode_value`: a float is
``{"float": "0x1.8p+1"}``, a tuple ``{"tuple": [...]}``, an array ``{"dtype",
"shape", "data"}`` with its elements in C order (floats as hex strings,
integers and booleans as JSON); files written by earlier versions (lists as
``{"list": [...]}``, dtypes as ``"<f8"``) are read too.  Files are written
atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clauses import Clause
from .process.codec import CodecError, decode_value, encode_value
from .runner import ClauseResult

if TYPE_CHECKING:
    from .session import RunOptions

FORMAT = "bnspec-case/1"


class CaseError(ValueError):
    """A file that is not a readable case file."""


# -- writing and reading --------------------------------------------------------------


def case_of(result: ClauseResult, meta: dict) -> dict:
    """The case file's content for one failing result (``meta``: target, profile, seed, max_examples)."""
    try:
        calls = [{"function": c.function, "args": [[name, encode_value(value)] for name, value in c.args]}
                 for c in result.calls]
    except CodecError:  # a call with an argument JSON cannot hold exactly: the reproducer still shows it
        calls = []
    return {
        "format": FORMAT,
        "clause": result.clause.id,
        **meta,
        "status": result.status.value,
        "message": result.message,
        "draws": [[label, encode_value(value)] for label, value in result.draws],
        "calls": calls,
        "reproducer": result.reproducer,
    }


def _file_name(result: ClauseResult, seed: int) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', result.clause.id)}-seed{seed}.json"


def _unused(path: Path) -> Path:
    """``path``, or ``NAME-2.json``, ``NAME-3.json``, ... if it exists: an earlier run's case is never
    overwritten."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def save_all(directory: str | Path, results: list[ClauseResult], meta: dict) -> list[Path]:
    """Write a case file for each FAIL or error result that has draws; return the paths."""
    from .report import write_file

    written = []
    for result in results:
        if result.status.value not in ("FAIL", "error") or not result.draws:
            continue
        try:
            content = case_of(result, meta)
        except CodecError as error:  # a draw that JSON cannot hold exactly: say so, save the rest
            print(f"bnspec: {result.clause.id}: not saved: {error}", file=sys.stderr)
            continue
        path = _unused(Path(directory) / _file_name(result, meta.get("seed", 0)))
        write_file(path, json.dumps(content, indent=1))
        written.append(path)
    return written


def read(path: str | Path) -> dict:
    """A case file's content, checked and with its draws decoded."""
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise CaseError(f"{path}: cannot read a case file: {error}") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise CaseError(f"{path}: not a case file (format {FORMAT!r})")
    for key, kind in (("clause", str), ("target", str), ("seed", int)):
        if not isinstance(content.get(key), kind) or isinstance(content.get(key), bool):
            raise CaseError(f"{path}: {key} must be a {kind.__name__}, got {content.get(key)!r:.80}")
    if "profile" in content and not isinstance(content["profile"], str | None):
        raise CaseError(f"{path}: profile must be a string, got {content['profile']!r:.80}")
    try:
        content["draws"] = [(str(label), decode_value(value, str(label))) for label, value in content["draws"]]
    except (KeyError, TypeError, ValueError, RecursionError) as error:
        raise CaseError(f"{path}: bad draws: {type(error).__name__}: {error}") from None
    return content


# -- bnspec replay ----------------------------------------------------------------------


def add_parser(commands: Any) -> None:
    replay = commands.add_parser("replay", help="run a saved failure (--save-failures) again")
    replay.add_argument("case", metavar="FILE", help="a case file written by bnspec check --save-failures")
    replay.add_argument("target", nargs="?", help="the implementation to run the case against (default: the "
                                                  "case's own target, if it is 'reference' or a bundled adapter)")
    replay.add_argument("--trust-target", action="store_true",
                        help="run the case's own target even if it is a file, module or exec: command (a case "
                             "file is data: without this, replay never runs code the file names)")
    replay.add_argument("--profile", help="conventions to expect (default: the case's profile)")
    replay.add_argument("--timeout", type=float, metavar="SECONDS", help="time limit (the case errors)")
    replay.add_argument("--isolate", action="store_true", help="run the implementation in a child process")
    replay.add_argument("--memory-limit", type=int, metavar="MB", help="with --isolate: the child's memory headroom")


def _bundled(spec: str) -> bool:
    """Whether ``spec`` names code that ships with bnspec (the reference or a bundled adapter)."""
    from .adapters import ADAPTERS

    return spec == "reference" or spec in ADAPTERS


def _within_domain(path: str, clause: Clause, case: dict, options: RunOptions) -> None:
    """Refuse a case whose draws lie outside the clause's domain (an edited file: NaN in z, eps < 0),
    rather than report that the implementation "still fails" on them.  The reference decides: replayed
    on the draws under the case's profile, it must pass when the profile is its own (the lecture's), and
    it must not refuse the inputs (raise) under any profile -- its refusals are the layer's domain."""
    from dataclasses import replace

    from .errors import Cause, Status, UsageError
    from .session import Session

    with Session(replace(options, target="reference", isolate=False)) as reference:
        result = reference.run_clause(clause, replay=case["draws"])
        own = reference.subject.declaration.profile == reference.profile
    if result.status in (Status.PASS, Status.NOT_APPLICABLE) or not (own or result.cause is Cause.RAISED):
        return
    raise UsageError(f"{path}: the reference fails this case too, so its draws are outside {clause.id}'s domain "
                     f"(was the file edited?): {' '.join(result.message.split())[:300]}")


def main(args: argparse.Namespace) -> int:
    """``bnspec replay``: 1 if the case still fails, 0 if it passes; a UsageError (exit 2) for a
    file that is not a case, a case that no longer fits its property or does not apply."""
    from . import report
    from .clauses import REGISTRY
    from .errors import Status, UsageError
    from .session import DEFAULT_MEMORY_LIMIT_MB, RunOptions, Session
    from .strategies import ReplayMismatch

    try:
        case = read(args.case)
    except CaseError as error:
        raise UsageError(str(error)) from None
    clause = REGISTRY.get(case.get("clause", ""))
    if clause is None:
        raise UsageError(f"{args.case}: no clause {case.get('clause')!r} in this specification")
    spec = args.target or case["target"]
    if not args.target and not args.trust_target and not _bundled(spec):
        raise UsageError(f"{args.case} names the target {spec!r}, which replay does not run on the file's word: "
                         f"give the TARGET on the command line (or --trust-target)")
    options = RunOptions(spec, profile=args.profile or case.get("profile"), seed=int(case.get("seed", 0)),
                         timeout=args.timeout, isolate=args.isolate,
                         memory_limit=DEFAULT_MEMORY_LIMIT_MB if args.memory_limit is None else args.memory_limit)
    try:
        _within_domain(args.case, clause, case, options)
        with Session(options) as session:
            result = session.run_clause(clause, replay=case["draws"])
    except ReplayMismatch as mismatch:
        raise UsageError(f"{args.case} no longer fits the property of {clause.id}: {mismatch}") from None
    if result.status is Status.NOT_APPLICABLE:
        raise UsageError(f"{args.case} does not apply to {spec}: {result.message}")
    print(report.HEADER)
    print(report.row(result))
    if result.status in (Status.FAIL, Status.ERROR):
        print("\n" + report.details(result))
        print(f"\nthe case still fails (it was: {case.get('message', '')[:200]})")
        return 1
    print("\nthe case now passes")
    return 0
