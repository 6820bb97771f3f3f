"""Standalone numpy reproducers of a failure: a script that demonstrates it, without bnspec.

:func:`script` writes a Python script that (1) loads the implementation as a
learner would, without bnspec (:func:`loader`: a file by its path, a module
by ``importlib``, an ``exec:`` program through a small JSON-lines client;
only the reference and the bundled adapters, which *are* bnspec code, import
it); (2) makes every call of the failing example again, with every argument
written out exactly (identical repeated calls are merged; for the purity
clauses each argument is printed before and after its call); (3) states the
check that failed -- the observed and required values, from the property's
formula where it gave one (``Trial.close(..., observed_src=, required_src=)``),
else written out -- prints them with 17 significant digits, the worst
absolute error and the tolerance, and ends in the ``assert`` that fails
exactly as the clause did.  The script's variables are named as the
counterexample names them (:func:`bnspec.spec.counterexample.named`).
"""

from __future__ import annotations

import ast
import inspect
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import bfloat16
from .counterexample import NamedCall, named
from .errors import Cause
from .layouts import from_impl_source, in_memory
from .process.protocol import EXEC_PREFIX
from .protocol import FUNCTIONS, Layout, Role
from .reproducer_parts import EXEC_CLIENT, HELPERS, PURITY_HELPERS, SOURCE_HELPERS
from .target import Call
from .trial import Claim

#: The names a source may use besides the script's variables (numpy and the helpers of SOURCE_HELPERS).
SOURCE_NAMES = frozenset({"np", "mean", "var", "z_norm", "abs", "float", "len"})


@dataclass(frozen=True)
class Failure:
    """What a reproducer needs of a failing clause: its calls, and the check that failed."""

    clause_id: str
    target: str
    layout: Layout
    calls: list[Call]
    claim: Claim | None = None
    cause: Cause | None = None
    message: str = ""
    computed_by: str = ""  # where the required value came from (the property's dotted name)
    cwd: str = ""  # the folder bnspec ran in: relative targets are found from there


# -- values ------------------------------------------------------------------------------


def _items(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_items(v) for v in value) + "]"
    if isinstance(value, float) and not np.isfinite(value):
        return "np.nan" if np.isnan(value) else ("np.inf" if value > 0 else "-np.inf")
    return repr(value)


def literal(value: Any) -> str:
    """Python source that rebuilds ``value`` exactly (floats round-trip through repr);
    ValueError for a value that has none."""
    if isinstance(value, np.ndarray) and bfloat16.is_bfloat16(value.dtype):  # exact through float64
        return f"np.array({_items(value.astype(np.float64).tolist())}, dtype=ml_dtypes.bfloat16)"
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        return f"np.array({_items(value.tolist())}, dtype=np.{value.dtype})"
    if isinstance(value, bool | np.bool_ | int | np.integer | str) or value is None:
        return repr(value.item() if isinstance(value, np.generic) else value)
    if isinstance(value, float | np.floating):
        return _items(float(value))
    if isinstance(value, np.dtype):
        return "ml_dtypes.bfloat16" if bfloat16.is_bfloat16(value) else f"np.dtype({value.name!r})"
    if isinstance(value, tuple | list):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else (
            f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
    raise ValueError(f"no Python literal for a {type(value).__name__}")


def _literal_or_none(value: Any) -> str | None:
    try:
        return literal(value)
    except ValueError:
        return None


def _needs_ml_dtypes(failure: Failure) -> bool:
    values = [v for call in failure.calls for _, v in call.args]
    if failure.claim is not None:
        values += [failure.claim.observed, failure.claim.required]
    return any(bfloat16.is_bfloat16(v.dtype if isinstance(v, np.ndarray) else v)
               for v in values if isinstance(v, np.ndarray | np.dtype))


# -- loading the implementation ------------------------------------------------------------


def loader(target: str, cwd: str) -> list[str]:
    """Lines that bind ``impl`` to the implementation ``target`` names, loaded as bnspec loads it
    (:func:`bnspec.spec.target.resolve`) but without bnspec."""
    if target.startswith(EXEC_PREFIX):
        return [EXEC_CLIENT, f"impl = Program({target.removeprefix(EXEC_PREFIX)!r}, cwd={cwd!r})"]
    if target == "reference":
        return ["import bnspec.reference as impl  # the reference is the implementation here"]
    from .adapters import ADAPTERS

    bundled = target in ADAPTERS
    location, _, attribute = (ADAPTERS[target] if bundled else target).partition(":")
    if location.endswith(".py") or "/" in location:
        path = os.path.normpath(os.path.join(cwd, location))
        lines = ["import importlib.util",
                 f"module_spec = importlib.util.spec_from_file_location('implementation', {path!r})",
                 "module = importlib.util.module_from_spec(module_spec)",
                 "sys.modules['implementation'] = module",
                 "module_spec.loader.exec_module(module)",
                 "impl = module"]
    else:
        lines = ["import importlib",
                 *([] if bundled else [f"sys.path.insert(0, {cwd!r})  # where bnspec ran: its modules are found"]),
                 f"impl = importlib.import_module({location!r})" + ("  # bnspec's adapter" if bundled else "")]
    lines += [f"impl = getattr(impl, {part!r})" for part in attribute.split(".") if part]
    lines.append("impl = impl() if isinstance(impl, type) else impl  # a class: constructed with no arguments")
    return lines


# -- the calls -------------------------------------------------------------------------------


def _memory_lines(entries: list[NamedCall], layout: Layout) -> list[str]:
    """The definition of ``laid_out``, which gives an array the memory order bnspec gave it (none when
    every array was C-contiguous)."""
    memories = {entry.call.memory for entry in entries} - {"contiguous"}
    if not memories:
        return []
    (memory,) = memories  # an example lays out every array of every call one way
    axis = "a.ndim - 1" if layout is Layout.CHANNELS_LAST else str(layout.unit_axis(2))
    return ["", inspect.getsource(in_memory), "",
            "def laid_out(a):",
            f'    """a as bnspec passed it: the same values in {memory} memory order."""',
            f"    return in_memory(a, {memory!r}, {axis}) if isinstance(a, np.ndarray) else a"]


def _call_lines(entries: list[NamedCall], purity: bool) -> list[str]:
    lines = []
    for entry in entries:
        function, result = entry.call.function, f"result{entry.index}"
        lines.append(f"# call {entry.index} of {len(entries)}")
        lines += [f"{variable} = {literal(value)}" for variable, first, (_, value)
                  in zip(entry.names, entry.new, entry.call.args, strict=True) if first]
        laid = entry.call.memory != "contiguous"
        arguments = ", ".join(f"laid_out({v})" if laid else v for v in entry.names)
        if entry.same_as is not None:
            lines.append(f"{result} = result{entry.same_as}  # the same call as call {entry.same_as}")
        elif purity:
            copies = ", ".join((f"laid_out({v})" if laid else f"{v}.copy()") if isinstance(value, np.ndarray) else v
                               for v, (_, value) in zip(entry.names, entry.call.args, strict=True))
            lines += [f"arguments{entry.index} = [{copies}]  # its own copies, as bnspec passes them",
                      f"{result} = impl.{function}(*arguments{entry.index})",
                      f"modified{entry.index} = before_after({function!r}, {entry.names!r}, [{arguments}], "
                      f"arguments{entry.index})"]
        else:
            lines += [f"{result} = impl.{function}({arguments})", f"print({result + ' ='!r}, show({result}))"]
    return lines


def _in_units_first(entries: list[NamedCall], layout: Layout) -> list[str]:
    """Lines that rebind the arrays to the lecture's layout, in which the sources are written."""
    if layout is Layout.UNITS_FIRST:
        return []

    def moved(name: str, role: Role) -> str:
        return from_impl_source(layout, name, role)

    lines = ["# the check is stated in the lecture's layout: z is units x examples, per-unit arrays units x 1"]
    done: set[str] = set()
    for entry in entries:
        signature = FUNCTIONS[entry.call.function]
        for name, slot in zip(entry.names, signature.arguments, strict=True):
            if slot.role is not Role.SCALAR and name not in done:
                done.add(name)
                lines.append(f"{name} = {moved(name, slot.role)}")
        result = f"result{entry.index}"
        if len(signature.results) == 1:
            lines.append(f"{result} = {moved(result, signature.results[0].role)}")
        else:
            parts = ", ".join(moved(f"{result}[{i}]", slot.role) for i, slot in enumerate(signature.results))
            lines.append(f"{result} = ({parts})")
    return lines


# -- the check ---------------------------------------------------------------------------------


def _usable(source: str | None, names: set[str]) -> bool:
    """Whether ``source`` is an expression over the script's ``names`` (else the value is written out)."""
    if not source:
        return False
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        return False
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} <= names | SOURCE_NAMES


def _value(name: str, source: str | None, value: Any, usable: bool, note: str) -> str:
    if usable:
        return f"{name} = {source}"
    written = _literal_or_none(value)
    return f"{name} = {written}  # {note}" if written is not None else f"{name} = None  # {note} (not writable)"


def _close(claim: Claim, failure: Failure, observed_ok: bool, required_ok: bool) -> list[str]:
    by = failure.computed_by or f"{failure.clause_id}'s property"
    return [
        f"# {claim.what}",
        f"MESSAGE = {claim.message!r}",
        _value("observed", claim.observed_src, claim.observed, observed_ok,
               f"what {by} derived from the results above"),
        _value("required", claim.required_src, claim.required, required_ok, f"computed by {by}"),
        f"atol = {literal(claim.atol)}  # the {claim.tolerance_kind} tolerance (bnspec/spec/tolerances.py)",
        "print('observed:', show(observed))",
        "print('required:', show(required))",
        "assert np.shape(observed) == np.shape(required), MESSAGE",
        "error = np.abs(np.asarray(observed, dtype=np.float64) - np.asarray(required, dtype=np.float64))",
        "tolerance = np.broadcast_to(atol, error.shape)",
        "worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.where(np.isnan(error), np.inf, error)), "
        "error.shape))",
        "print(f'worst absolute error {error[worst]:.17g} at index {worst}, tolerance there {tolerance[worst]:.17g}')",
        "assert (error <= atol).all(), MESSAGE  # |observed - required| <= atol, elementwise, as bnspec checks",
    ]


def _claim_lines(claim: Claim, failure: Failure, names: set[str]) -> list[str]:
    observed_ok, required_ok = _usable(claim.observed_src, names), _usable(claim.required_src, names)
    if claim.kind == "close":
        return _close(claim, failure, observed_ok, required_ok)
    if claim.kind == "holds":
        if observed_ok:
            return [f"assert {claim.observed_src}, {claim.message!r}"]
        return [f"# {failure.clause_id}'s property found its condition false on the results above",
                "condition = False", f"assert condition, {claim.message!r}"]
    lines = [f"# {claim.what}",
             _value("observed", claim.observed_src, claim.observed, observed_ok, "as the property observed it"),
             _value("required", claim.required_src, claim.required, required_ok, "as the property requires it"),
             "print('observed:', repr(observed))", "print('required:', repr(required))"]
    return [*lines, f"assert observed == required, {claim.message!r}"]


def _purity_lines(failure: Failure, entries: list[NamedCall]) -> list[str]:
    """BN-PURE-1: no call modified an argument; BN-PURE-2: each pair of calls on the same inputs gave the
    same results (bnspec stops at the first that does not: the last call, or the last pair)."""
    message = failure.claim.message if failure.claim else failure.message
    if failure.clause_id == "BN-PURE-1":
        modified = " + ".join(f"modified{e.index}" for e in entries)
        return [f"assert not ({modified}), {message!r}"]
    pairs = [(e.index - 1, e.index) for e in entries[1::2]]
    checks = ", ".join(f"'{entries[b - 1].call.function} (calls {a} and {b})': same(result{a}, result{b})"
                       for a, b in pairs)
    return [f"same_results = {{{checks}}}", "print('the same results for the same inputs:', same_results)",
            f"assert all(same_results.values()), {message!r}"]


def _protocol_lines(failure: Failure, entry: NamedCall) -> list[str]:
    """The last call's results checked against the protocol: arrays of a floating dtype and their shapes."""
    signature = FUNCTIONS[entry.call.function]
    shaped_by = dict(entry.call.args)[signature.shaped_by]
    shapes = [failure.layout.result_shape(slot.role, shaped_by.shape) for slot in signature.results]
    result = f"result{entry.index}"
    return [
        f"expected = {shapes!r}  # the shapes of {signature.text()} in the {failure.layout.value} layout",
        f"results = [{result}] if len(expected) == 1 else list({result}) if isinstance({result}, tuple | list) "
        f"else [{result}]",
        "assert len(results) == len(expected) and all(isinstance(r, np.ndarray) and r.dtype.kind in 'fV' "
        f"and r.shape == s for r, s in zip(results, expected)), {failure.message!r}",
    ]


def _names(entries: list[NamedCall]) -> set[str]:
    """The script's variables: the arguments' and ``result1..k``."""
    return {v for e in entries for v in e.names} | {f"result{e.index}" for e in entries}


def _has_sources(failure: Failure, entries: list[NamedCall]) -> bool:
    """Whether the failing check comes with a formula the script can evaluate."""
    claim = failure.claim
    return claim is not None and any(_usable(s, _names(entries)) for s in (claim.observed_src, claim.required_src))


def _ending(failure: Failure, entries: list[NamedCall], purity: bool) -> list[str]:
    if not entries:
        return []
    if purity and failure.cause is Cause.VIOLATION:
        return _purity_lines(failure, entries)
    claim = failure.claim
    if claim is not None:
        names = _names(entries)
        sources = _has_sources(failure, entries)
        return [*(_in_units_first(entries, failure.layout) if sources else []), *_claim_lines(claim, failure, names)]
    if failure.cause is Cause.PROTOCOL:
        return _protocol_lines(failure, entries[-1])
    return [f"# in bnspec's run the last call ended the clause: {failure.message[:300]}".replace("\n", " ")]


def script(failure: Failure) -> str:
    """The reproducer of ``failure``: a standalone script (see the module docstring)."""
    purity = failure.clause_id.startswith("BN-PURE-")
    entries = named(failure.calls, merge=not purity)
    where = failure.target.removeprefix(EXEC_PREFIX)
    written_out = failure.claim is not None and not purity and not _has_sources(failure, entries)
    after_fix = ("the check's values are written out: after a fix, run bnspec check again" if written_out
                 else "it runs through once the implementation is fixed")
    lines = [
        f'"""{failure.clause_id} fails on {where}: the failing example again, in plain numpy.',
        "",
        "Run it with python: it ends in an AssertionError (or the implementation's own error) while the",
        f'implementation still breaks the clause; {after_fix}."""',
        "import sys",
        "",
        "import numpy as np",
        *(["import ml_dtypes  # numpy's bfloat16"] if _needs_ml_dtypes(failure) else []),
        "",
        *loader(failure.target, failure.cwd or os.getcwd()),
        "",
        HELPERS,
        *([SOURCE_HELPERS] if _has_sources(failure, entries) else []),
        *([PURITY_HELPERS] if purity else []),
        *_memory_lines(entries, failure.layout),
        "",
        *_call_lines(entries, purity),
        "",
        *_ending(failure, entries, purity),
    ]
    return "\n".join(lines).rstrip() + "\n"
