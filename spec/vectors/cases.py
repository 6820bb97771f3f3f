"""The golden cases, made by the properties themselves.

A case is one call of a protocol function with its expected outputs.  Nothing
here computes an expected value, a scale or a tolerance: each case comes from
running a clause's own property (:mod:`bnspec.spec.properties`) once on pinned
draws (:class:`PinnedDraw`), against the reference, and recording what it
checks (:class:`Claims`): the calls it makes are the cases, and each
comparison it makes of a result -- the required values and the tolerance, from
:mod:`bnspec.spec.tolerances` at the scales of
:mod:`bnspec.spec.properties.scales` or the oracle's for the dtype clauses --
is that output's expectation.  The inputs are the property's too: its draws
build them (the layer from the strategies' numpy recipe,
:func:`bnspec.spec.strategies.layer` at size "large", from a pinned seed; a
cast and a flush to float32 or float16 where the property makes one; a constant
unit where the property makes one), and what the vectors pin are the draws
themselves: sizes, seeds, eps (rounded by
:func:`~bnspec.spec.strategies.attribute`, as the strategies draw it), and the
few values a property draws outside the layer (an upstream gradient from a seed
in :data:`~bnspec.spec.strategies.UPSTREAM`, running statistics in the ranges of
:mod:`bnspec.spec.properties.running`).

Cases are made in the lecture's layout (z is ``n x m``, per-unit arrays
``n x 1``) and moved to a channel layout by :func:`relayout`.  A case is a plain
dict (see :mod:`bnspec.spec.vectors.schema`) with arrays as numpy arrays;
:mod:`bnspec.spec.vectors.files` encodes them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnspec.reference import batchnorm

from .. import strategies as draws
from ..layouts import Arrangement, Layout, Role
from ..properties import load_all, running
from ..protocol import FUNCTIONS
from ..strategies import Draw
from ..target import Subject, Target, wrap
from ..tolerances import KINDS
from ..trial import Trial

Case = dict[str, Any]

#: Tries of a situation before its pinned draws are given up: a try that the property's own
#: assumptions refuse (a cast to float16 that flushes a unit to a constant) moves the seeds on by
#: :data:`RETRY_STRIDE`.
TRIES, RETRY_STRIDE = 20, 1000


class OutsideDomain(Exception):
    """The pinned draws are outside the property's domain (one of its ``assume`` refused them)."""


class PinnedDraw(Draw):
    """A :class:`~bnspec.spec.strategies.Draw` that answers each label with a pinned value (the
    strategy is not consulted: the value is the draw).  A label without a pinned value is the
    vectors' own error; an ``assume`` that fails is :class:`OutsideDomain`."""

    def __init__(self, pins: Mapping[str, Any]) -> None:
        super().__init__(None)
        self._pins = pins

    def __call__(self, strategy: Any, label: str) -> Any:
        if label not in self._pins:
            raise KeyError(f"the property draws {label!r}, which the situation does not pin")
        value = self._pins[label]
        self.values[label] = value
        self.sequence.append((label, value))
        return value

    def assume(self, condition: bool, why: str) -> None:
        if not condition:
            raise OutsideDomain(why)


# -- the situations: what the vectors pin ---------------------------------------------------


def _upstream(seed: int, n: int, m: int) -> np.ndarray:
    """The upstream gradient :func:`bnspec.spec.strategies.upstream` draws for ``seed`` (the matrix its
    numpy recipe fills), moved on to the next seed until it passes the strategy's filter."""
    for offset in range(TRIES):
        grad = draws._uniform(seed + offset, (n, m), *draws.UPSTREAM)
        if m < 2 or draws._varied(grad):
            return grad
    raise OutsideDomain("no varied upstream gradient")


@functools.cache
def _matrix_range() -> tuple[float, float]:
    """The default range of :func:`bnspec.spec.strategies.matrix` (W and A_prev of BN-EVAL-3)."""
    import inspect

    parameters = inspect.signature(draws.matrix).parameters
    return parameters["lo"].default, parameters["hi"].default


@dataclass(frozen=True)
class Situation:
    """A named input: the draws a property asks for, pinned.

    The layer is :func:`bnspec.spec.strategies.layer`'s large draw (its numpy recipe) with ``n``
    units, ``m`` examples and the seed ``seed``, at the property's own offset ratio and
    degeneracy; or, with ``units``, z from those unit structures ``(spread, offset ratio,
    noise pattern, constant)`` by the strategies' own recipe (gamma and beta still the large
    draw's).  ``pinned`` adds or replaces draws by label.  ``variants``: the property runs once per
    unit with that label pinned to the unit's index (BN-DEG-1's ``constant_unit``), and the runs'
    checks of the same call are merged into one case."""

    name: str
    seed: int
    n: int
    m: int
    eps: float = 1e-5
    units: tuple[tuple[float, float, str, bool], ...] | None = None
    pinned: Mapping[str, Any] = field(default_factory=dict)
    variants: str | None = None

    def pins(self, attempt: int = 0) -> dict[str, Any]:
        seed = self.seed + attempt * RETRY_STRIDE
        n, m = self.n, self.m
        layer = {"size": "large", "n": n, "m": m, "layer_seed": seed, "eps": draws.attribute(self.eps)}
        x = draws.layer(PinnedDraw(layer))  # gamma and beta as the large draw makes them, for the small one
        pins: dict[str, Any] = dict(layer, gamma=x.gamma, beta=x.beta)
        if self.units is not None:
            pins.update(size="small", z=draws._batch(self.units, seed, m))
        rng = np.random.default_rng([seed, 1])  # the other draws: a stream of their own
        k = 1 + seed % 4
        pins.update(
            grad=_upstream(int(rng.integers(2**32)), n, m),
            running_mean=draws._numpy_column(rng, n, *running.RUNNING_MEAN),
            running_var=draws._numpy_column(rng, n, *running.RUNNING_VAR),
            momentum=draws.attribute(running.MOMENTA[seed % len(running.MOMENTA)] if seed % 3
                                     else float(rng.uniform(0.0, 1.0))),
            n_prev=k,
            W=draws._uniform(int(rng.integers(2**32)), (n, k), *_matrix_range()),
            A_prev=draws._uniform(int(rng.integers(2**32)), (k, m), *_matrix_range()),
            constant_unit=0,
        )
        pins.update(self.pinned)
        return pins

    def runs(self, attempt: int, dtype: str | None) -> Iterator[dict[str, Any]]:
        """The pinned draws of each run (one, or one per variant), with the dtype's name pinned."""
        pins = dict(self.pins(attempt), **({"dtype": dtype} if dtype else {}))
        pins.update({label: value(dtype) for label, value in pins.items() if callable(value)})
        if self.variants is None:
            yield pins
            return
        for index in range(self.n):
            yield dict(pins, **{self.variants: index})


# -- running a property against the reference, recording what it checks ----------------------


@dataclass
class _Record:
    """One call the property made: its function, its arguments (lecture layout) and its results."""

    function: str
    args: tuple[Any, ...]
    results: tuple[np.ndarray, ...]


@dataclass
class Recorder(Target):
    """The reference as a target, recording every call with its results (the very arrays the
    property receives, so that its checks can be matched with them by identity)."""

    records: list[_Record] = field(default_factory=list)

    def call(self, function: str, *args: Any) -> Any:
        result = super().call(function, *args)
        results = result if isinstance(result, tuple) else (result,)
        frozen = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)
        self.records.append(_Record(function, frozen, results))
        return result


@dataclass(frozen=True)
class _Claim:
    kind: str  # close, equal, holds
    what: str
    observed: Any
    required: Any = None
    tolerance: Any = None


@dataclass
class Claims(Trial):
    """A trial that records the property's checks instead of judging them."""

    claims: list[_Claim] = field(default_factory=list)

    def close(self, what: str, observed: np.ndarray, required: np.ndarray, tol: Any, **sources: Any) -> None:
        self.claims.append(_Claim("close", what, observed, required, tol))

    def equal(self, what: str, observed: object, required: object, **sources: Any) -> None:  # type: ignore[override]
        self.claims.append(_Claim("equal", what, observed, required))

    def holds(self, condition: bool, message: str, **sources: Any) -> None:  # type: ignore[override]
        self.claims.append(_Claim("holds", message, condition))


@functools.cache
def reference(profile: str, dtype: str | None) -> Subject:
    """The reference as a subject under ``profile``, declaring only ``dtype`` (None: its own)."""
    subject = wrap(batchnorm, "reference", profile)
    if dtype is None:
        return subject
    declared = dataclasses.replace(subject.declaration, dtypes=(dtype,), dtypes_declared=True)
    return dataclasses.replace(subject, declaration=declared)


@dataclass
class _Output:
    """What the property's checks require of one result."""

    values: np.ndarray
    atol: np.ndarray
    covered: np.ndarray
    kind: str = ""
    units: float | None = None
    what: str = ""
    dtype: str | None = None


def _locate(records: list[_Record], observed: Any) -> tuple[int, int, int | None]:
    """(call, result, row) of the result a check compares: the result itself (row None), or one row
    of it (``result[row]``, as BN-DEG-1 checks the constant unit's)."""
    for r in range(len(records) - 1, -1, -1):
        for k, result in enumerate(records[r].results):
            if observed is result:
                return r, k, None
            if (isinstance(observed, np.ndarray) and observed.shape == result.shape[1:]
                    and np.shares_memory(observed, result)):
                row = (observed.ctypes.data - result.ctypes.data) // result.strides[0]
                if 0 <= row < len(result) and observed.ctypes.data == result[row].ctypes.data:
                    return r, k, int(row)
    raise ValueError("the property compares a value that is neither a result of its calls nor a row of "
                     "one: its clause cannot be stated as golden vectors")


def _expectations(records: list[_Record], claims: list[_Claim], subject: Subject,
                  into: dict[tuple[int, int], _Output], raises: set[int]) -> None:
    """Attach each recorded check to the result (or row) it is about."""
    dtyped: dict[int, int] = {}
    for claim in claims:
        if claim.kind == "close":
            r, k, row = _locate(records, claim.observed)
            result = records[r].results[k]
            out = into.setdefault((r, k), _Output(np.zeros(result.shape), np.zeros(result.shape),
                                                  np.zeros(result.shape, dtype=bool)))
            where = (slice(None),) if row is None else (row,)
            shape = out.values[where].shape
            out.values[where] = np.broadcast_to(np.asarray(claim.required, dtype=np.float64), shape)
            out.atol[where] = np.broadcast_to(np.asarray(claim.tolerance.atol, dtype=np.float64), shape)
            out.covered[where] = True
            out.kind, out.units = claim.tolerance.kind, claim.tolerance.units
            out.what = claim.what if row is None else ""
        elif claim.kind == "equal" and isinstance(claim.required, np.dtype):
            # a dtype check: of the latest call's results, in order (BN-DTYPE-1, BN-DTYPE-2)
            r = len(records) - 1
            k = dtyped.get(r, 0)
            dtyped[r] = k + 1
            result = records[r].results[k]
            out = into.setdefault((r, k), _Output(np.zeros(result.shape), np.zeros(result.shape),
                                                  np.zeros(result.shape, dtype=bool)))
            out.dtype = claim.required.name
        elif claim.kind == "holds" and not claim.observed:
            if subject.profile.single_example != "raises":
                raise ValueError(f"the property requires a refusal the reference does not make: {claim.what}")
            raises.add(len(records) - 1)
        # shapes (equal of tuples) are stated for every output anyway


def _tolerance_record(out: _Output) -> dict[str, Any]:
    kind = KINDS.get(out.kind)
    return {"kind": out.kind, "reason": kind.reason if kind else "", "units": out.units, "atol": out.atol}


def _outputs(function: str, results: tuple[np.ndarray, ...], expected: dict[int, _Output]) -> list[dict[str, Any]]:
    outputs = []
    for k, (slot, result) in enumerate(zip(FUNCTIONS[function].results, results, strict=True)):
        record: dict[str, Any] = {"name": slot.name, "shape": list(result.shape)}
        out = expected.get(k)
        if out is not None and out.dtype:
            record["dtype"] = out.dtype
        if out is not None and out.covered.any():
            if not out.covered.all():
                raise ValueError(f"{function}'s {slot.name} is checked in part only: not a golden vector")
            record.update(values=out.values, tolerance=_tolerance_record(out),
                          claim=out.what or f"{function}'s {slot.name}")
        outputs.append(record)
    return outputs


def _same_call(a: _Record, b: _Record) -> bool:
    return a.function == b.function and all(
        (isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y))
        or (not isinstance(x, np.ndarray) and x == y) for x, y in zip(a.args, b.args, strict=True))


def _run(clause_id: str, situation: Situation, subject: Subject, dtype: str | None) -> tuple[
        list[_Record], dict[tuple[int, int], _Output], set[int], int]:
    """The property of ``clause_id`` run on the situation's pinned draws (every variant), its calls
    merged: (calls, expectations by (call, result), calls that must raise, the attempt that fit)."""
    check = load_all()[clause_id].check
    for attempt in range(TRIES):
        records: list[_Record] = []
        expected: dict[tuple[int, int], _Output] = {}
        raises: set[int] = set()
        try:
            for pins in situation.runs(attempt, dtype):
                target, trial = Recorder(subject), Claims(PinnedDraw(pins))
                check(target, trial)
                # this run's calls, matched with the calls of earlier runs (variants repeat them)
                index = []
                for record in target.records:
                    same = next((i for i, r in enumerate(records) if _same_call(r, record)), None)
                    if same is None:
                        records.append(record)
                        same = len(records) - 1
                    index.append(same)
                own: dict[tuple[int, int], _Output] = {}
                mine: set[int] = set()
                _expectations(target.records, trial.claims, subject, own, mine)
                for (r, k), out in own.items():
                    _merge(expected, (index[r], k), out)
                raises |= {index[r] for r in mine}
        except OutsideDomain:
            continue
        return records, expected, raises, attempt
    raise ValueError(f"{clause_id}, {situation.name!r}: no seed in {TRIES} tries fits the property's domain")


def _merge(expected: dict[tuple[int, int], _Output], key: tuple[int, int], out: _Output) -> None:
    have = expected.get(key)
    if have is None:
        expected[key] = out
        return
    new = out.covered & ~have.covered
    have.values[new], have.atol[new], have.covered[new] = out.values[new], out.atol[new], True
    have.kind, have.units = have.kind or out.kind, have.units if have.kind else out.units
    have.dtype = have.dtype or out.dtype
    have.what = have.what if have.what == out.what else ""  # checked in parts (rows): the claim is the output's


def cases(clause_id: str, situations: tuple[Situation, ...], profile: str = "lecture",
          dtype: str | None = None) -> list[Case]:
    """The cases of ``clause_id``: its property run on each situation against the reference (under
    ``profile``, declaring only ``dtype``), one case per call it makes."""
    subject = reference(profile, dtype)
    out = []
    for situation in situations:
        records, expected, raises, attempt = _run(clause_id, situation, subject, dtype)
        for r, record in enumerate(records):
            args = dict(zip(FUNCTIONS[record.function].argument_names, record.args, strict=True))
            case: Case = {"name": situation.name, "seed": situation.seed + attempt * RETRY_STRIDE,
                          "call": record.function, "args": args}
            if r in raises:
                case["expect"] = {"raises": subject.profile.refusal}
            else:
                own = {k: o for (i, k), o in expected.items() if i == r}
                case["expect"] = {"outputs": _outputs(record.function, record.results, own)}
            out.append(case)
    return out


# -- layouts ----------------------------------------------------------------------------------


#: The spatial ranks the cases of a channel layout's files cycle through (case i: 1 + i % 3).
SPATIAL_RANKS = (1, 2, 3)


def arrangement_of(index: int) -> Arrangement:
    """How case ``index`` of a channel layout's file lays its arrays out: 1 to 3 spatial dims, the first
    factorization of m into N * prod(S) (:func:`bnspec.spec.layouts.factorizations`), C order."""
    return Arrangement(spatial_rank=SPATIAL_RANKS[index % len(SPATIAL_RANKS)])


def relayout(case: Case, layout: Layout, arrangement: Arrangement) -> Case:
    """``case`` (lecture layout) with every array in ``layout`` as ``arrangement`` lays it out."""
    signature = FUNCTIONS[case["call"]]
    args = {slot.name: layout.to_impl(case["args"][slot.name], slot.role, arrangement)
            for slot in signature.arguments}
    moved = dict(case, args=args)
    if "outputs" in case["expect"]:
        outputs = []
        z_shape = args["z"].shape
        for slot, output in zip(signature.results, case["expect"]["outputs"], strict=True):
            shaped = dict(output, shape=list(layout.result_shape(slot.role, z_shape)))
            if "values" in output:
                shaped["values"] = layout.to_impl(output["values"], slot.role, arrangement)
                shaped["tolerance"] = dict(output["tolerance"],
                                           atol=layout.to_impl(output["tolerance"]["atol"], slot.role, arrangement))
            outputs.append(shaped)
        moved["expect"] = {"outputs": outputs}
    return moved


def to_lecture(layout: Layout, value: Any, role: Role) -> Any:
    """An array of a case file in ``layout`` back in the lecture's layout (a scalar as it is)."""
    return layout.from_impl(value, role) if isinstance(value, np.ndarray) else value


# -- a case's own example, for bnspec check ---------------------------------------------------


def draws_of(clause_id: str, name: str, seed: int, profile: str = "lecture",
             dtype: str | None = None) -> list[list[tuple[str, Any]]]:
    """The draws of the property's example(s) that made a case -- of ``clause_id``, its situation
    ``name`` at ``seed``, under ``profile``, in ``dtype`` (None: the float64 files of a clause that is
    not about dtypes) -- in the order the property asks for them: what ``bnspec check`` replays
    (:func:`bnspec.spec.runner.run_clause` with ``replay``) to run its property on that very example
    against any target.  One list per run (a situation with ``variants`` has one per unit)."""
    from . import COMMON, PER_DTYPE, PER_PROFILE

    situations = COMMON.get(clause_id) or PER_PROFILE.get(clause_id) or PER_DTYPE[clause_id][0]
    situation = next(s for s in situations if s.name == name)
    check = load_all()[clause_id].check
    subject = reference(profile, dtype)
    sequences = []
    for pins in situation.runs((seed - situation.seed) // RETRY_STRIDE, dtype):
        trial = Claims(PinnedDraw(pins))
        check(Recorder(subject), trial)
        sequences.append(list(trial.draws))
    return sequences
