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
reading; the numpy reproducer is in ``reproducer``).  Values are exact: a float
is its ``float.hex()`` string, an array ``{"dtype", "shape", "data"}`` with its
elements in C order (floats as hex strings, integers and booleans as JSON).
Files are written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .runner import ClauseResult

FORMAT = "bnspec-case/1"


class CaseError(ValueError):
    """A file that is not a readable case file."""


# -- exact JSON values ---------------------------------------------------------------


def encode(value: Any) -> Any:
    """``value`` (None, bool, int, float, str, list, tuple, numpy array or scalar) as exact JSON."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, float | np.floating):
        return {"float": float(value).hex()}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, list | tuple):
        return {"tuple" if isinstance(value, tuple) else "list": [encode(v) for v in value]}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        flat = value.ravel(order="C").tolist()
        data = [float(x).hex() for x in flat] if value.dtype.kind == "f" else flat
        return {"dtype": value.dtype.str, "shape": list(value.shape), "data": data}
    raise CaseError(f"a draw of type {type(value).__name__} cannot be saved exactly")


def decode(node: Any) -> Any:
    """The value :func:`encode` wrote."""
    if node is None or isinstance(node, bool | int | str):
        return node
    if isinstance(node, dict) and "float" in node:
        return float.fromhex(node["float"])
    if isinstance(node, dict) and "list" in node:
        return [decode(v) for v in node["list"]]
    if isinstance(node, dict) and "tuple" in node:
        return tuple(decode(v) for v in node["tuple"])
    if isinstance(node, dict) and {"dtype", "shape", "data"} <= set(node):
        dtype = np.dtype(node["dtype"])
        if dtype.kind not in "biuf":
            raise CaseError(f"an array of dtype {dtype} is not a saved draw")
        data = [float.fromhex(x) for x in node["data"]] if dtype.kind == "f" else node["data"]
        return np.array(data, dtype=dtype).reshape(node["shape"])
    raise CaseError(f"an unknown value {node!r:.100}")


# -- writing and reading --------------------------------------------------------------


def case_of(result: ClauseResult, meta: dict) -> dict:
    """The case file's content for one failing result (``meta``: target, profile, seed, max_examples)."""
    try:
        calls = [{"function": c.function, "args": [[name, encode(value)] for name, value in c.args]}
                 for c in result.calls]
    except CaseError:  # a call with an argument JSON cannot hold exactly: the reproducer still shows it
        calls = []
    return {
        "format": FORMAT,
        "clause": result.clause.id,
        **meta,
        "status": result.status,
        "message": result.message,
        "draws": [[label, encode(value)] for label, value in result.draws],
        "calls": calls,
        "reproducer": result.reproducer,
    }


def _file_name(result: ClauseResult, seed: int) -> str:
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', result.clause.id)}-seed{seed}.json"


def save_all(directory: str | Path, results: list[ClauseResult], meta: dict) -> list[Path]:
    """Write a case file for each FAIL or error result that has draws; return the paths."""
    from .report import _atomic_write

    written = []
    for result in results:
        if result.status not in ("FAIL", "error") or not result.draws:
            continue
        try:
            content = case_of(result, meta)
        except CaseError as error:  # a draw that JSON cannot hold exactly: say so, save the rest
            print(f"bnspec: {result.clause.id}: not saved: {error}", file=sys.stderr)
            continue
        path = Path(directory) / _file_name(result, meta.get("seed", 0))
        _atomic_write(path, json.dumps(content, indent=1))
        written.append(path)
    return written


def read(path: str | Path) -> dict:
    """A case file's content, checked and with its draws decoded."""
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CaseError(f"{path}: cannot read a case file: {error}") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise CaseError(f"{path}: not a case file (format {FORMAT!r})")
    try:
        content["draws"] = [(str(label), decode(value)) for label, value in content["draws"]]
    except (KeyError, TypeError, ValueError) as error:
        raise CaseError(f"{path}: bad draws: {error}") from None
    return content


# -- bnspec replay ----------------------------------------------------------------------


def add_parser(commands: Any) -> None:
    replay = commands.add_parser("replay", help="run a saved failure (--save-failures) again")
    replay.add_argument("case", metavar="FILE", help="a case file written by bnspec check --save-failures")
    replay.add_argument("target", nargs="?", help="the implementation (default: the case's own target)")
    replay.add_argument("--profile", help="conventions to expect (default: the case's profile)")
    replay.add_argument("--timeout", type=float, metavar="SECONDS", help="time limit (the case errors)")
    replay.add_argument("--isolate", action="store_true", help="run the implementation in a child process")
    replay.add_argument("--memory-limit", type=int, metavar="MB", help="with --isolate: the child's memory headroom")


def main(args: argparse.Namespace) -> int:
    """``bnspec replay``: 1 if the case still fails, 0 if it passes, 2 for a usage error."""
    from . import report
    from .clauses import REGISTRY
    from .runner import Options, run_clause
    from .strategies import ReplayMismatch
    from .target import TargetError, load

    try:
        case = read(args.case)
    except CaseError as error:
        print(f"bnspec: {error}", file=sys.stderr)
        return 2
    clause = REGISTRY.get(case.get("clause", ""))
    if clause is None:
        print(f"bnspec: {args.case}: no clause {case.get('clause')!r} in this specification", file=sys.stderr)
        return 2
    spec = args.target or case["target"]
    try:
        if args.isolate:
            from . import isolation

            limit = isolation.DEFAULT_MEMORY_LIMIT_MB if args.memory_limit is None else args.memory_limit
            target = isolation.load(spec, args.profile or case.get("profile"), limit)
        else:
            target = load(spec, args.profile or case.get("profile"))
    except TargetError as error:
        print(f"bnspec: {error}", file=sys.stderr)
        return 2
    options = Options(seed=int(case.get("seed", 0)), timeout=args.timeout)
    result = run_clause(clause, target, options, replay=case["draws"])
    if result.status == "error" and result.message.startswith(ReplayMismatch.__name__):
        print(f"bnspec: {args.case} no longer fits the property of {clause.id}: {result.message}", file=sys.stderr)
        return 2
    if result.status == "n/a":
        print(f"bnspec: {args.case} does not apply to {spec}: {result.message}", file=sys.stderr)
        return 2
    print(report.HEADER)
    print(report.row(result))
    if result.status in ("FAIL", "error"):
        print("\n" + report.details(result))
        print(f"\nthe case still fails (it was: {case.get('message', '')[:200]})")
        return 1
    print("\nthe case now passes")
    return 0
