"""``bnspec vectors export DIR`` and ``bnspec vectors check DIR TARGET``.

check runs through the run session of ``bnspec check``
(:class:`bnspec.spec.session.Session`) and prints its table and failure details
(:mod:`bnspec.spec.report`); its exit status is that of ``bnspec check``: 0
when nothing errored and every MUST clause (``--strict``: every clause) passes
or is n/a, 1 when a clause fails or errors, 2 for a usage error (no such
folder, another format version, a modified or malformed file, a target that
does not load, a profile or a layout the set has no files for).  After the
table it counts the cases of each dtype the target declares.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .. import report
from ..errors import UsageError
from ..layouts import Layout
from ..runner import passed
from ..session import RunOptions, Session, target_of
from . import DTYPES, FORMAT_VERSION, LAYOUTS
from .check import Tally, by_dtype, command, layout_of, read_set, run
from .files import export, read_manifest, verify


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
    check.add_argument("--layout", choices=[layout.value for layout in LAYOUTS],
                       help="run the files of this layout, converted to the target's (default: the target's own "
                            "layout's files where the set has them, else units_first)")
    check.add_argument("--strict", action="store_true", help="SHOULD clauses must pass too")
    check.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    check.add_argument("--json", metavar="FILE", help="write the results as JSON (as bnspec check --json)")


def _export(args: argparse.Namespace) -> int:
    manifest = export(args.directory)
    cases = sum(f["cases"] for f in manifest["files"])
    print(f"wrote {cases} cases of {len(manifest['clauses'])} clauses in {len(manifest['files'])} files to "
          f"{args.directory} (format version {FORMAT_VERSION}, bnspec {manifest['bnspec_version']})")
    return 0


def _per_dtype(counts: dict[str, dict[str, int]], declared: tuple[str, ...]) -> str:
    """'cases by dtype: float64 180/180 pass, float32 40/40 pass; float16 not declared'."""
    ran = [f"{d} {c['cases'] - c['failed']}/{c['cases']} pass" for d, c in counts.items()]
    skipped = [f"{d} not declared" for d in DTYPES if d not in declared and d not in counts]
    return "cases by dtype: " + ", ".join(ran) + (f"; {', '.join(skipped)}" if skipped else "")


def _check(args: argparse.Namespace) -> int:
    manifest = read_manifest(args.directory)
    verify(args.directory, manifest)
    wanted = [c for c in manifest["clauses"]
              if not args.clause or any(c == p or c.startswith(p) for p in args.clause)]
    if not wanted:
        raise UsageError(f"no clause of the set matches {args.clause}")
    target = target_of(args.target, args.exec_command)
    layout = Layout(args.layout) if args.layout else None
    with Session(RunOptions(target, profile=args.profile)) as session:
        subject = session.subject
        cases = read_set(args.directory, manifest, subject, wanted, layout, session.profile)
        chosen = layout_of(manifest, subject, layout)
        if not args.quiet:
            print(f"{command(args.directory, session.options)}{' --layout ' + layout.value if layout else ''}  "
                  f"(profile {session.profile}, layout {subject.layout.value}: the {chosen.value} files, dtypes "
                  f"{', '.join(subject.dtypes)}, format version {manifest['format_version']}, written by "
                  f"bnspec {manifest['bnspec_version']})")
            print(report.HEADER)
        start = time.perf_counter()
        tallies: dict[str, Tally] = {}
        results = run(session, args.directory, cases,
                      None if args.quiet else lambda result: print(report.row(result), flush=True), tallies)
        counts = by_dtype(tallies)
        meta = {**session.meta(), "command": command(args.directory, session.options),
                "vectors": str(args.directory), "format_version": manifest["format_version"],
                "written_by": manifest["bnspec_version"], "files_layout": chosen.value, "cases_by_dtype": counts}
    report.print_failures(results, sys.stdout)
    ok = passed(results, args.strict)
    print(f"\n{_per_dtype(counts, subject.dtypes)}")
    print(f"{report.summary(r.status for r in results)} in {time.perf_counter() - start:.1f}s: "
          f"{'conforms' if ok else 'does not conform'}")
    if args.json:
        for key in ("seed", "max_examples"):  # the vectors are fixed: no hypothesis
            meta.pop(key, None)
        report.write_json(args.json, results, meta)
    return 0 if ok else 1


def main(args: argparse.Namespace) -> int:
    """``bnspec vectors``: 0 conforms, 1 a clause failed or errored, 2 a usage error (one line)."""
    try:
        return _export(args) if args.action == "export" else _check(args)
    except UsageError as error:
        print(f"bnspec: {error}", file=sys.stderr)
        return 2
