"""Run a set of golden vectors against a target, through the one run session.

The case files are read and decoded first (:func:`read_clause`: a malformed or
modified file is a :class:`~bnspec.spec.vectors.files.VectorsError`, exit 2,
before anything runs).  Each clause then runs through
:meth:`bnspec.spec.session.Session.run_clause` with ``replay=[]`` (once,
without hypothesis) and, in place of its property, a check
(:func:`clause_check`) that calls the protocol function of each case through
the example's :class:`~bnspec.spec.target.Target` and compares every output
with the example's :class:`~bnspec.spec.trial.Trial`: the same statuses, the
same findings and the same messages as ``bnspec check``.  The result's message
counts the cases: "10/10 cases pass", or the failing cases with what each
observed against what is required.
"""

from __future__ import annotations

import builtins
import dataclasses
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import tolerances
from ..clauses import REGISTRY
from ..errors import Finding, ImplementationRaised, Status
from ..process import codec
from ..properties import Check
from ..protocol import FUNCTIONS
from ..runner import ClauseResult
from ..session import RunOptions, Session
from ..target import Target
from ..tolerances import Tolerance
from ..trial import Trial
from .files import VectorsError, read_cases

#: failing cases listed in a clause's message.
MAX_SHOWN = 5


@dataclass(frozen=True)
class Expected:
    """One output a case requires: its shape, its dtype if given, its values within a tolerance if given."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype | None = None
    values: np.ndarray | None = None
    tolerance: Tolerance | None = None


@dataclass(frozen=True)
class Case:
    """One decoded case: a call of a protocol function, and its outputs or the exception it requires."""

    path: str
    index: int
    name: str
    call: str
    args: tuple[Any, ...]
    outputs: tuple[Expected, ...] = ()
    raises: str | None = None

    def label(self) -> str:
        return f"case {self.index} {self.name!r} in {self.path}"


# -- reading ---------------------------------------------------------------------


def _tolerance(record: dict[str, Any]) -> Tolerance:
    """The case's tolerance as the properties build it: ``atol = factor * u * scale``, in units of
    ``factor * u / eps(float64)`` (see :func:`bnspec.spec.tolerances.tolerance`)."""
    factor = codec.decode_scalar("factor", record["factor"])
    roundoff = codec.decode_scalar("unit_roundoff", record["unit_roundoff"])
    return Tolerance(codec.decode_array("atol", record["atol"]), str(record["kind"]),
                     factor * roundoff / tolerances.machine_epsilon(np.float64))


def _expected(record: dict[str, Any]) -> Expected:
    values = record.get("values")
    if (values is None) != ("tolerance" not in record):
        raise ValueError(f"output {record['name']!r}: values and tolerance go together")
    return Expected(str(record["name"]), tuple(int(d) for d in record["shape"]),
                    np.dtype(record["dtype"]) if "dtype" in record else None,
                    None if values is None else codec.decode_array("values", values),
                    None if values is None else _tolerance(record["tolerance"]))


def _builtin_exception(name: Any) -> bool:
    refusal = getattr(builtins, name, None) if isinstance(name, str) else None
    return isinstance(refusal, type) and issubclass(refusal, Exception)


def _case(path: str, index: int, record: dict[str, Any]) -> Case:
    call = record["call"]
    if call not in FUNCTIONS:
        raise ValueError(f"call {call!r} is not a protocol function {tuple(FUNCTIONS)}")
    signature = FUNCTIONS[call]
    given = record["args"]
    if set(given) != set(signature.argument_names):
        raise ValueError(f"args {sorted(given)} are not those of {signature.text()}")
    args = tuple(codec.decode_array(name, given[name]) if isinstance(given[name], dict)
                 else codec.decode_scalar(name, given[name]) for name in signature.argument_names)
    expect = record["expect"]
    if "raises" in expect:
        if not _builtin_exception(expect["raises"]):
            raise ValueError(f"raises {expect['raises']!r} is not a builtin exception")
        return Case(path, index, str(record["name"]), call, args, raises=expect["raises"])
    outputs = tuple(_expected(output) for output in expect["outputs"])
    if tuple(o.name for o in outputs) != signature.result_names:
        raise ValueError(f"outputs {[o.name for o in outputs]} are not those of {signature.text()}")
    return Case(path, index, str(record["name"]), call, args, outputs)


def read_clause(directory: str | Path, entries: list[dict[str, Any]]) -> list[Case]:
    """Every case of the manifest's file entries ``entries``, decoded; VectorsError for a malformed one."""
    cases = []
    for entry in entries:
        document = read_cases(directory, entry)
        records = document.get("cases") if isinstance(document, dict) else None
        if not isinstance(records, list):
            raise VectorsError(f"{Path(directory) / entry['path']}: not a case file (no list of cases)")
        for index, record in enumerate(records):
            try:
                cases.append(_case(entry["path"], index, record))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                detail = f"no {error}" if isinstance(error, KeyError) else str(error)
                raise VectorsError(f"{Path(directory) / entry['path']}: case {index} is malformed: {detail}") from None
    return cases


# -- checking --------------------------------------------------------------------


def check_case(target: Target, trial: Trial, case: Case) -> None:
    """Call the case's function; require its exception, or each output's shape, dtype and values."""
    profile = target.profile.name
    try:
        result = target.call(case.call, *case.args)
    except ImplementationRaised as raised:
        if case.raises is None:
            raise
        trial.holds(isinstance(raised.__cause__, getattr(builtins, case.raises)),
                    f"{raised}; the {profile} profile requires {case.raises}")
        return
    trial.holds(case.raises is None, f"{case.call} returned; the {profile} profile requires {case.raises}")
    results = result if isinstance(result, tuple) else (result,)
    for expected, observed in zip(case.outputs, results, strict=True):
        what = f"{case.call}'s {expected.name}"
        trial.equal(f"shape of {what}", observed.shape, expected.shape)
        if expected.dtype is not None:
            trial.equal(f"dtype of {what}", observed.dtype, expected.dtype)
        if expected.values is not None and expected.tolerance is not None:
            trial.close(what, observed, expected.values, expected.tolerance)


@dataclass
class Tally:
    """The cases a clause's check ran, and what each failing one observed."""

    total: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return self.total - len(self.failures)

    def message(self) -> str:
        if not self.failures:
            return f"{self.passed}/{self.total} cases pass"
        lines = [f"{len(self.failures)} of {self.total} cases fail ({self.passed}/{self.total} pass):"]
        lines += [f"  {failure}" for failure in self.failures[:MAX_SHOWN]]
        if len(self.failures) > MAX_SHOWN:
            lines.append(f"  ... and {len(self.failures) - MAX_SHOWN} more failing cases")
        return "\n".join(lines)


def clause_check(cases: list[Case], tally: Tally) -> Check:
    """A ``check(target, trial)`` that runs ``cases`` in order and counts them in ``tally``.

    Every case runs; when some fail, the check raises a finding of the first failure's type
    with :meth:`Tally.message`, and leaves in ``trial.calls`` only the calls of the first
    failing case (the runner's numpy reproducer makes those again)."""

    def check(target: Target, trial: Trial) -> None:
        tally.total, tally.failures = 0, []
        first: tuple[Finding, int, int] | None = None
        for case in cases:
            tally.total += 1
            start = len(trial.calls)
            try:
                check_case(target, trial, case)
            except Finding as finding:
                tally.failures.append(f"{case.label()}: {finding}")
                first = first or (finding, start, len(trial.calls))
        if first is not None:
            failure, start, end = first
            del trial.calls[end:]
            del trial.calls[:start]
            raise type(failure)(tally.message()) from failure

    return check


def command(directory: str | Path, options: RunOptions) -> str:
    """The command line that reproduces a vectors check: ``bnspec check``'s target and flags
    (:meth:`~bnspec.spec.session.RunOptions.command`) after ``bnspec vectors check DIR``."""
    return f"bnspec vectors check {shlex.quote(str(directory))}{options.command().removeprefix('bnspec check')}"


def read_set(directory: str | Path, manifest: dict[str, Any], profile: str,
             clause_ids: list[str]) -> dict[str, list[Case]]:
    """The decoded cases of ``clause_ids`` that apply under ``profile``: the common files and the
    profile's own.  Every file is read before anything runs: VectorsError for a malformed one."""
    if profile not in manifest["profiles"]:
        raise VectorsError(f"the set in {directory} has no files for the profile {profile!r}")
    return {c: read_clause(directory, [f for f in manifest["files"]
                                       if f["clause"] == c and f["profile"] in (None, profile)])
            for c in clause_ids}


def run(session: Session, directory: str | Path, cases: dict[str, list[Case]],
        progress: Callable[[ClauseResult], None] | None = None) -> list[ClauseResult]:
    """Check each clause's ``cases`` (from :func:`read_set`) against the session's target.

    Each result carries the cases' count in its message and the vectors command in its
    ``reproduce``; ``progress`` is called after each clause."""
    again = command(directory, session.options)
    results = []
    for clause_id, clause_cases in cases.items():
        tally = Tally()
        result = session.run_clause(REGISTRY[clause_id], replay=[], check=clause_check(clause_cases, tally))
        message = tally.message() if result.status is Status.PASS else result.message
        result = dataclasses.replace(result, message=message, reproduce=f"{again} --clause {clause_id}")
        results.append(result)
        if progress:
            progress(result)
    return results
