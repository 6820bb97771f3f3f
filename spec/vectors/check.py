"""Run a set of golden vectors against a target.

Each case calls one protocol function with the case's inputs (through
:class:`~bnspec.spec.target.Target`, which maps the lecture's layout onto the
implementation's) and compares every expected output: its shape, its dtype
where given, its values within the case's ``atol`` where given; or requires the
error the case names.  A clause passes when all its cases pass, is "n/a" when
the target lacks the function of every case.
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import assertions
from ..clauses import REGISTRY, Clause
from ..process import codec, protocol
from ..target import ImplementationFailure, Target
from .files import read_cases


@dataclass
class CaseFailure:
    path: str
    index: int
    name: str
    message: str

    def describe(self) -> str:
        return f"case {self.index} {self.name!r} in {self.path}: {self.message}"


@dataclass
class VectorResult:
    clause: Clause
    status: str = "n/a"
    passed: int = 0
    total: int = 0
    seconds: float = 0.0
    failures: list[CaseFailure] = field(default_factory=list)


def _arguments(case: dict[str, Any]) -> list[Any]:
    args = case["args"]
    out = []
    for name in protocol.SIGNATURES[case["call"]]:
        value = args[name]
        out.append(codec.decode_array(name, value) if isinstance(value, dict) else codec.decode_scalar(name, value))
    return out


def _compare(call: str, expected: dict[str, Any], observed: np.ndarray) -> None:
    what = f"{call}'s {expected['name']}"
    assertions.equal(f"shape of {what}", tuple(observed.shape), tuple(expected["shape"]))
    if "dtype" in expected:
        assertions.equal(f"dtype of {what}", observed.dtype.name, expected["dtype"])
    if "values" in expected:
        tolerance = expected["tolerance"]
        assertions.close(what, observed, codec.decode_array("values", expected["values"]),
                         codec.decode_array("atol", tolerance["atol"]), tolerance["kind"])


def run_case(target: Target, case: dict[str, Any], profile_name: str) -> str | None:
    """None when ``case`` holds, else what was observed against what is required."""
    call = case["call"]
    raises = case["expect"].get("raises")
    try:
        result = getattr(target, call)(*_arguments(case))
    except ImplementationFailure as failure:
        refusal = getattr(builtins, raises, None) if raises else None
        if isinstance(refusal, type) and isinstance(failure.__cause__, refusal):
            return None
        required = f"the {profile_name} profile requires {raises}" if raises else "required its outputs"
        return f"{failure}; {required}"
    if raises:
        return f"{call} returned; the {profile_name} profile requires {raises}"
    results = list(result) if isinstance(result, tuple) else [result]
    try:
        for expected, observed in zip(case["expect"]["outputs"], results, strict=True):
            _compare(call, expected, observed)
    except AssertionError as violation:
        return str(violation)
    return None


def run_clause(directory: str | Path, clause_id: str, entries: list[dict[str, Any]], target: Target) -> VectorResult:
    """Every case of ``clause_id`` in the files ``entries`` of the manifest."""
    result = VectorResult(REGISTRY[clause_id])
    start = time.perf_counter()
    applicable = 0
    for entry in entries:
        document = read_cases(directory, entry)
        for index, case in enumerate(document["cases"]):
            if not target.has(case["call"]):
                continue
            applicable += 1
            message = run_case(target, case, target.profile.name)
            if message is None:
                result.passed += 1
            else:
                result.failures.append(CaseFailure(entry["path"], index, case["name"], message))
    result.total = applicable
    result.seconds = time.perf_counter() - start
    if applicable:
        result.status = "FAIL" if result.failures else "pass"
    return result


def passed(results: list[VectorResult], strict: bool = False) -> bool:
    """Every MUST clause (``strict``: every clause) passed or is n/a."""
    levels = ("MUST", "SHOULD") if strict else ("MUST",)
    return all(r.status in ("pass", "n/a") for r in results if r.clause.level in levels)
