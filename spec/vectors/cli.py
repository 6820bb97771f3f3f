"""``bnspec vectors export DIR`` and ``bnspec vectors check DIR TARGET``.

check's exit status is that of ``bnspec check``: 0 when every MUST clause
(``--strict``: every clause) passes or is n/a, 1 when a case fails, 2 for a
usage error (no such folder, another format version, a target that does not
load, a profile the set has no files for).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Any

from ..target import TargetError, load
from . import FORMAT_VERSION
from .check import VectorResult, passed, run_clause
from .files import VectorsError, export, read_manifest

MAX_SHOWN = 5  # failing cases shown per clause
HEADER = f"{'clause':<13} {'level':<6} {'result':<6} {'cases':>7}  statement"


def add_parser(commands: Any) -> None:
    vectors = commands.add_parser("vectors", help="golden vectors: export them, or check a target against them")
    actions = vectors.add_subparsers(dest="action", required=True)
    write = actions.add_parser("export", help="write the set of golden vectors (JSON) into DIR")
    write.add_argument("directory", metavar="DIR")
    check = actions.add_parser("check", help="check a target against the golden vectors in DIR")
    check.add_argument("directory", metavar="DIR")
    check.add_argument("target", nargs="?", help="as for bnspec check (or --exec COMMAND)")
    check.add_argument("--exec", metavar="COMMAND", dest="exec_command", help="a program speaking the process protocol")
    check.add_argument("--profile", help="conventions to expect (default: the target's own, else 'lecture')")
    check.add_argument("--clause", action="append", help="only clauses with this ID or ID prefix (repeatable)")
    check.add_argument("--strict", action="store_true", help="SHOULD clauses must pass too")
    check.add_argument("--quiet", action="store_true", help="print only failures and the summary")


def _row(result: VectorResult) -> str:
    c = result.clause
    cases = f"{result.passed}/{result.total}"
    return f"{c.id:<13} {c.level:<6} {result.status:<6} {cases:>7}  {c.statement}"


def _details(result: VectorResult, reproduce: str) -> str:
    c = result.clause
    lines = [f"--- {c.id} ({c.level}) FAIL: {c.title}", f"required: {c.statement}"]
    for failure in result.failures[:MAX_SHOWN]:
        lines.append(f"observed: {failure.describe()}")
    if len(result.failures) > MAX_SHOWN:
        lines.append(f"... and {len(result.failures) - MAX_SHOWN} more failing cases")
    lines.append(f"reproduce: {reproduce} --clause {c.id}")
    return "\n".join(lines)


def _export(args: argparse.Namespace) -> int:
    manifest = export(args.directory)
    cases = sum(f["cases"] for f in manifest["files"])
    print(f"wrote {cases} cases of {len(manifest['clauses'])} clauses in {len(manifest['files'])} files to "
          f"{args.directory} (format version {FORMAT_VERSION}, bnspec {manifest['bnspec_version']})")
    return 0


def _check(args: argparse.Namespace) -> int:
    if (args.target is None) == (args.exec_command is None):
        print("bnspec: give either TARGET or --exec COMMAND", file=sys.stderr)
        return 2
    spec = args.target if args.exec_command is None else "exec:" + args.exec_command
    try:
        manifest = read_manifest(args.directory)
        target = load(spec, args.profile)
    except (VectorsError, TargetError) as error:
        print(f"bnspec: {error}", file=sys.stderr)
        return 2
    profile = target.profile.name
    if profile not in manifest["profiles"]:
        print(f"bnspec: the set in {args.directory} has no files for the profile {profile!r}", file=sys.stderr)
        return 2
    wanted = [c for c in manifest["clauses"]
              if not args.clause or any(c == p or c.startswith(p) for p in args.clause)]
    if not wanted:
        print(f"bnspec: no clause of the set matches {args.clause}", file=sys.stderr)
        return 2
    reproduce = f"bnspec vectors check {shlex.quote(str(args.directory))} {shlex.quote(spec)}"
    if args.profile:
        reproduce += f" --profile {shlex.quote(args.profile)}"
    if not args.quiet:
        print(f"bnspec vectors check {args.directory} {spec}  (profile {profile}, layout {target.layout}, format "
              f"version {manifest['format_version']}, written by bnspec {manifest['bnspec_version']})")
        print(HEADER)
    start = time.perf_counter()
    results = []
    try:
        for clause_id in wanted:
            entries = [f for f in manifest["files"] if f["clause"] == clause_id and f["profile"] in (None, profile)]
            result = run_clause(args.directory, clause_id, entries, target)
            results.append(result)
            if not args.quiet:
                print(_row(result), flush=True)
    except VectorsError as error:
        print(f"bnspec: {error}", file=sys.stderr)
        return 2
    finally:
        if spec.startswith("exec:"):
            target.impl.close()  # the implementation's process exits when its stdin closes
    for result in results:
        if result.failures:
            print("\n" + _details(result, reproduce))
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "FAIL", "n/a")}
    ok = passed(results, args.strict)
    print(f"\n{counts['pass']} passed, {counts['FAIL']} failed, {counts['n/a']} not applicable in "
          f"{time.perf_counter() - start:.1f}s: {'conforms' if ok else 'does not conform'}")
    return 0 if ok else 1


def main(args: argparse.Namespace) -> int:
    if args.action == "export":
        return _export(args)
    return _check(args)
