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
counts the cases by dtype: "10/10 cases pass (float64 10/10)", or the failing
cases with what each observed against what is required.

Which files a target runs (:func:`files`): the common files and its profile's;
of a clause on dtypes (:data:`~bnspec.spec.vectors.PER_DTYPE`), the sets of the
dtypes it declares; and in its own layout where the set has one (a
channels_first target gets the channels_first files, and each case's N and
spatial dims as they are, if it accepts that spatial rank), else the lecture's.
Every case is decoded into the lecture's layout, and the target moves it to the
implementation's as ``bnspec check`` does: the outputs are compared in the
lecture's layout, with the same messages.
"""

from __future__ import annotations

import builtins
import dataclasses
import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..clauses import REGISTRY
from ..errors import Finding, ImplementationRaised, Status
from ..layouts import Arrangement, Layout, Role, factorizations
from ..process import codec
from ..properties import Check, load_all
from ..protocol import FUNCTIONS
from ..runner import ClauseResult, not_applicable
from ..session import RunOptions, Session
from ..target import Subject, Target
from ..tolerances import Tolerance
from ..trial import Trial
from . import PER_DTYPE
from .cases import to_lecture
from .files import VectorsError, read_cases

#: failing cases listed in a clause's message.
MAX_SHOWN = 5


@dataclass(frozen=True)
class Expected:
    """One output a case requires, in the lecture's layout: its shape, its dtype if given, its values
    within a tolerance if given (``claim``: what the clause's property compares, in its words)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype | None = None
    values: np.ndarray | None = None
    tolerance: Tolerance | None = None
    claim: str = ""


@dataclass(frozen=True)
class Case:
    """One decoded case, in the lecture's layout: a call of a protocol function, and its outputs or the
    exception it requires; the dtype of its file, and the spatial rank and factorization of m of a
    channel layout's file (``spatial``: None for the lecture's layout)."""

    path: str
    index: int
    name: str
    call: str
    args: tuple[Any, ...]
    outputs: tuple[Expected, ...] = ()
    raises: str | None = None
    dtype: str = "float64"
    spatial: tuple[int, int] | None = None
    seed: int = 0

    def label(self) -> str:
        return f"case {self.index} {self.name!r} in {self.path}"


# -- reading ---------------------------------------------------------------------


def _tolerance(record: dict[str, Any], layout: Layout, role: Role) -> Tolerance:
    """The case's tolerance as its property built it: atol, kind and units (eps * cond * scale)."""
    units = record["units"]
    return Tolerance(to_lecture(layout, codec.decode_array("atol", record["atol"]), role), str(record["kind"]),
                     None if units is None else codec.decode_scalar("units", units))


def _expected(record: dict[str, Any], layout: Layout, role: Role) -> Expected:
    values = record.get("values")
    if (values is None) != ("tolerance" not in record):
        raise ValueError(f"output {record['name']!r}: values and tolerance go together")
    shape = tuple(int(d) for d in record["shape"])
    return Expected(str(record["name"]), to_lecture(layout, np.empty(shape), role).shape,
                    np.dtype(record["dtype"]) if "dtype" in record else None,
                    None if values is None else to_lecture(layout, codec.decode_array("values", values), role),
                    None if values is None else _tolerance(record["tolerance"], layout, role),
                    str(record.get("claim", "")))


def _builtin_exception(name: Any) -> bool:
    refusal = getattr(builtins, name, None) if isinstance(name, str) else None
    return isinstance(refusal, type) and issubclass(refusal, Exception)


def _spatial(layout: Layout, z: np.ndarray) -> tuple[int, int] | None:
    """(spatial rank, factorization index) of a channel layout's z ``(N, C, *S)`` or ``(N, *S, C)``."""
    if not layout.spatial:
        return None
    examples = tuple(d for i, d in enumerate(z.shape) if i != layout.unit_axis(z.ndim))
    rank = len(examples) - 1
    return rank, factorizations(math.prod(examples), rank).index(examples)


def _case(path: str, index: int, record: dict[str, Any], layout: Layout, dtype: str) -> Case:
    call = record["call"]
    if call not in FUNCTIONS:
        raise ValueError(f"call {call!r} is not a protocol function {tuple(FUNCTIONS)}")
    signature = FUNCTIONS[call]
    given = record["args"]
    if set(given) != set(signature.argument_names):
        raise ValueError(f"args {sorted(given)} are not those of {signature.text()}")
    raw = {slot.name: codec.decode_array(slot.name, given[slot.name]) if isinstance(given[slot.name], dict)
           else codec.decode_scalar(slot.name, given[slot.name]) for slot in signature.arguments}
    args = tuple(to_lecture(layout, raw[slot.name], slot.role) for slot in signature.arguments)
    z = raw["z"]
    if not isinstance(z, np.ndarray):
        raise ValueError("z is not an array")
    case = Case(path, index, str(record["name"]), call, args, dtype=dtype, spatial=_spatial(layout, z),
                seed=int(record["seed"]))
    expect = record["expect"]
    if "raises" in expect:
        if not _builtin_exception(expect["raises"]):
            raise ValueError(f"raises {expect['raises']!r} is not a builtin exception")
        return dataclasses.replace(case, raises=expect["raises"])
    names = tuple(output["name"] for output in expect["outputs"])
    if names != signature.result_names:
        raise ValueError(f"outputs {list(names)} are not those of {signature.text()}")
    outputs = tuple(_expected(output, layout, slot.role)
                    for output, slot in zip(expect["outputs"], signature.results, strict=True))
    return dataclasses.replace(case, outputs=outputs)


def read_clause(directory: str | Path, entries: list[dict[str, Any]]) -> list[Case]:
    """Every case of the manifest's file entries ``entries``, decoded into the lecture's layout;
    VectorsError for a malformed one."""
    cases = []
    for entry in entries:
        document = read_cases(directory, entry)
        records = document.get("cases") if isinstance(document, dict) else None
        if not isinstance(records, list):
            raise VectorsError(f"{Path(directory) / entry['path']}: not a case file (no list of cases)")
        for index, record in enumerate(records):
            try:
                cases.append(_case(entry["path"], index, record, Layout(entry["layout"]), str(entry["dtype"])))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                detail = f"no {error}" if isinstance(error, KeyError) else str(error)
                raise VectorsError(f"{Path(directory) / entry['path']}: case {index} is malformed: {detail}") from None
    return cases


# -- checking --------------------------------------------------------------------


def _arranged(target: Target, case: Case) -> Target:
    """The target as ``case`` reaches it: a channel layout's file gives its own N and spatial dims to a
    target that accepts that spatial rank (a target of the file's layout gets the arrays as they are);
    otherwise the plainest arrangement, as a replay has."""
    if case.spatial is None:
        return target
    rank, split = case.spatial
    if not target.layout.spatial or rank not in target.subject.declaration.spatial_dims:
        return target
    return Target(target.subject, target.calls, Arrangement(rank, split))


def check_case(target: Target, trial: Trial, case: Case) -> None:
    """Call the case's function; require its exception, or each output's shape, dtype and values."""
    profile = target.profile.name
    try:
        result = _arranged(target, case).call(case.call, *case.args)
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
            trial.close(expected.claim or what, observed, expected.values, expected.tolerance)


@dataclass
class Tally:
    """The cases a clause's check ran, by dtype, and what each failing one observed."""

    total: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    failing: list[Case] = field(default_factory=list)

    def count(self, case: Case, failure: str | None) -> None:
        self.total[case.dtype] = self.total.get(case.dtype, 0) + 1
        if failure is not None:
            self.failed[case.dtype] = self.failed.get(case.dtype, 0) + 1
            self.failures.append(failure)
            self.failing.append(case)

    @property
    def cases(self) -> int:
        return sum(self.total.values())

    @property
    def passed(self) -> int:
        return self.cases - len(self.failures)

    def by_dtype(self) -> str:
        """'float64 10/10, float32 4/4': the passing cases of each dtype."""
        return ", ".join(f"{d} {n - self.failed.get(d, 0)}/{n}" for d, n in self.total.items())

    def message(self) -> str:
        if not self.failures:
            return f"{self.passed}/{self.cases} cases pass ({self.by_dtype()})"
        lines = [f"{len(self.failures)} of {self.cases} cases fail ({self.passed}/{self.cases} pass: "
                 f"{self.by_dtype()}):"]
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
        tally.total, tally.failed, tally.failures, tally.failing = {}, {}, [], []
        first: tuple[Finding, int, int] | None = None
        for case in cases:
            start = len(trial.calls)
            try:
                check_case(target, trial, case)
                tally.count(case, None)
            except Finding as finding:
                tally.count(case, f"{case.label()}: {finding}")
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


def files(manifest: dict[str, Any], subject: Subject, profile: str, clause_id: str,
          layout: Layout | None = None) -> list[dict[str, Any]]:
    """The manifest's files of ``clause_id`` that a target runs: the common files and the profile's, in
    each dtype the target declares -- the float64 files of a clause that is not about dtypes in any
    case, as ``bnspec check`` gives every target float64 inputs -- each in ``layout`` (default: the
    target's own, where the set has files in it, else the lecture's) or, where the set has no file in
    that layout (the float32 and float16 sets), in the lecture's, converted."""
    wanted = layout_of(manifest, subject, layout)
    chosen: dict[tuple[Any, str], dict[str, Any]] = {}
    for entry in manifest["files"]:
        if entry["clause"] != clause_id or entry["profile"] not in (None, profile):
            continue
        if entry["dtype"] not in subject.dtypes and (clause_id in PER_DTYPE or entry["dtype"] != "float64"):
            continue
        if entry["layout"] not in (wanted.value, Layout.UNITS_FIRST.value):
            continue
        key = (entry["profile"], entry["dtype"])
        if key not in chosen or entry["layout"] == wanted.value:
            chosen[key] = entry
    return list(chosen.values())


def layout_of(manifest: dict[str, Any], subject: Subject, layout: Layout | None) -> Layout:
    if layout is not None:
        return layout
    own = subject.layout
    return own if own.value in manifest["layouts"] and own.spatial else Layout.UNITS_FIRST


#: The results that ``affine = False`` leaves unjudged but for their shape (the protocol's rule: arrays of
#: gamma's shape, zeros will do).
_NO_AFFINE_RESULTS = ("dgamma", "dbeta")


def admitted(case: Case, subject: Subject) -> Case | None:
    """``case`` as the target's declaration admits it, or None where it does not, as ``bnspec check``'s
    properties draw for that declaration: a declared ``fixed_eps`` takes cases of that eps only;
    ``affine = False`` takes cases with gamma = 1 and beta = 0 only, and judges dgamma and dbeta by
    their shape alone."""
    declared = subject.declaration
    names = FUNCTIONS[case.call].argument_names
    given = dict(zip(names, case.args, strict=True))
    if declared.fixed_eps is not None and "eps" in given and float(given["eps"]) != declared.fixed_eps:
        return None
    if not declared.affine:
        if any(name in given and not np.all(np.asarray(given[name]) == value)
               for name, value in (("gamma", 1.0), ("beta", 0.0))):
            return None
        outputs = tuple(Expected(e.name, e.shape) if e.name in _NO_AFFINE_RESULTS else e for e in case.outputs)
        return dataclasses.replace(case, outputs=outputs)
    return case


def read_set(directory: str | Path, manifest: dict[str, Any], subject: Subject, clause_ids: list[str],
             layout: Layout | None = None, profile: str | None = None) -> dict[str, list[Case]]:
    """The decoded cases of ``clause_ids`` that apply to ``subject`` (:func:`files`), as its declaration
    admits them (:func:`admitted`).  Every file is read before anything runs: VectorsError for a
    malformed one."""
    profile = profile or subject.profile.name
    if profile not in manifest["profiles"]:
        raise VectorsError(f"the set in {directory} has no files for the profile {profile!r}")
    if layout is not None and layout.value not in manifest["layouts"]:
        raise VectorsError(f"the set in {directory} has no files in the layout {layout.value!r} "
                           f"(it has {', '.join(manifest['layouts'])})")
    chosen = {c: read_clause(directory, files(manifest, subject, profile, c, layout)) for c in clause_ids}
    return {c: [a for a in (admitted(case, subject) for case in cases) if a is not None]
            for c, cases in chosen.items()}


def run(session: Session, directory: str | Path, cases: dict[str, list[Case]],
        progress: Callable[[ClauseResult], None] | None = None,
        tallies: dict[str, Tally] | None = None) -> list[ClauseResult]:
    """Check each clause's ``cases`` (from :func:`read_set`) against the session's target.

    Each result carries the cases' count (by dtype) in its message and the vectors command in its
    ``reproduce``; ``progress`` is called after each clause; ``tallies`` receives each clause's
    :class:`Tally`.  A clause is n/a where ``bnspec check`` has it n/a (a function the clause needs is
    missing, or the declaration takes it out), or where no case is for the target (its dtypes have no
    set, its declaration admits none)."""
    again = command(directory, session.options)
    results = []
    properties = load_all()
    for clause_id, clause_cases in cases.items():
        tally = Tally()
        clause = REGISTRY[clause_id]
        reason = not_applicable(clause, properties[clause_id], session.subject)
        if reason or not clause_cases:
            result = ClauseResult(clause, Status.NOT_APPLICABLE, 0.0, reason or (
                f"no case in the dtypes the target declares ({', '.join(session.subject.dtypes)}) that its "
                f"declaration admits"))
        else:
            result = session.run_clause(clause, replay=[], check=clause_check(clause_cases, tally))
            message = tally.message() if result.status is Status.PASS else result.message
            result = dataclasses.replace(result, message=message)
        result = dataclasses.replace(result, reproduce=f"{again} --clause {clause_id}")
        results.append(result)
        if tallies is not None:
            tallies[clause_id] = tally
        if progress:
            progress(result)
    return results


def by_dtype(tallies: dict[str, Tally]) -> dict[str, dict[str, int]]:
    """The cases run and failed of each dtype, over every clause."""
    counts: dict[str, dict[str, int]] = {}
    for tally in tallies.values():
        for dtype, total in tally.total.items():
            count = counts.setdefault(dtype, {"cases": 0, "failed": 0})
            count["cases"] += total
            count["failed"] += tally.failed.get(dtype, 0)
    return counts
