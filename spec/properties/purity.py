"""Purity: no protocol function modifies its inputs; results are reproducible.

The calls are built from the protocol's declaration (:data:`bnspec.spec.protocol.FUNCTIONS`):
each argument gets the value drawn under its name, moved to the implementation's layout as its
role requires, and goes to the implementation's own function as it is (``target.invoke``: no
copy, so that a modification can be seen).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .. import strategies as draws
from ..protocol import FUNCTIONS, Role, Signature
from ..target import Target
from ..trial import Trial
from . import proves

#: The momentum of the update_running calls (a constant: purity does not depend on it).
MOMENTUM = 0.9


def _calls(target: Target, draw: draws.Draw) -> Iterator[tuple[Signature, list[Any]]]:
    """Each protocol function the target has, with fresh arguments in the implementation's layout."""
    x = draws.layer(draw, max_offset_ratio=1e4)
    grad = draw(draws.upstream(x.n, x.m), "grad")
    running_mean = draw(draws.column(x.n, -5.0, 5.0), "running_mean")
    running_var = draw(draws.column(x.n, 0.1, 5.0), "running_var")
    values: dict[str, Any] = {"z": x.z, "gamma": x.gamma, "beta": x.beta, "grad": grad,
                              "running_mean": running_mean, "running_var": running_var,
                              "eps": x.eps, "momentum": MOMENTUM}
    for name, signature in FUNCTIONS.items():
        if target.has(name):
            yield signature, [values[slot.name] if slot.role is Role.SCALAR
                              else target.to_impl_layout(values[slot.name], slot.role)
                              for slot in signature.arguments]


def _copies(args: list[Any]) -> list[Any]:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


@proves("BN-PURE-1", needs=())
def inputs_untouched(target: Target, trial: Trial) -> None:
    for signature, args in _calls(target, trial.draw):
        before = _copies(args)
        target.invoke(signature.name, args)
        for slot, was, now in zip(signature.arguments, before, args, strict=True):
            if not isinstance(was, np.ndarray):
                continue
            trial.holds(now.shape == was.shape and now.dtype == was.dtype,
                        f"{signature.name} modified its argument {slot.name}: shape {was.shape} and dtype "
                        f"{was.dtype} before the call, shape {now.shape} and dtype {now.dtype} after")
            changed = ~_same_elements(was, now)
            trial.holds(not changed.any(), f"{signature.name} modified its argument {slot.name}: "
                                           f"{int(changed.sum())} of {was.size} elements differ after the call")


def _same_elements(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise (flattened): the same bits, or both NaN (any payload).  Arrays of the same shape and dtype."""
    flat_a, flat_b = np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)
    if a.dtype.hasobject:
        return np.array([_same(p, q) for p, q in zip(flat_a.tolist(), flat_b.tolist(), strict=True)], dtype=bool)
    width = a.dtype.itemsize
    bits = (flat_a.view(np.uint8).reshape(-1, width) == flat_b.view(np.uint8).reshape(-1, width)).all(axis=1)
    try:
        both_nan = np.isnan(flat_a) & np.isnan(flat_b)
    except TypeError:  # a dtype without NaN (integers, booleans)
        return bits
    return bits | both_nan


def _same(a: Any, b: Any) -> bool:
    """Whether two results are the same: arrays of one shape and dtype bit for bit (NaN equal to
    NaN), sequences and mappings item by item, any other values by equality (``None`` is ``None``)."""
    if isinstance(a, np.ndarray | np.generic) or isinstance(b, np.ndarray | np.generic):
        if not (isinstance(a, np.ndarray | np.generic) and isinstance(b, np.ndarray | np.generic)):
            return False
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool(_same_elements(a, b).all())
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:  # both NaN
        return True
    try:
        return a is b or bool(a == b)
    except Exception:  # an equality that does not answer: not the same
        return False


def _difference(signature: Signature, first: Any, second: Any) -> str:
    """Which result differs, by the protocol's names when the results have the protocol's arity."""
    names = signature.result_names
    pairs = isinstance(first, tuple | list) and isinstance(second, tuple | list)
    if len(names) > 1 and pairs and len(first) == len(second) == len(names):
        differing = [name for name, p, q in zip(names, first, second, strict=True) if not _same(p, q)]
        return f" ({', '.join(differing)} differ{'s' if len(differing) == 1 else ''})"
    return ""


@proves("BN-PURE-2", needs=())
def deterministic(target: Target, trial: Trial) -> None:
    for signature, args in _calls(target, trial.draw):
        first = target.invoke(signature.name, _copies(args))
        second = target.invoke(signature.name, _copies(args))
        trial.holds(_same(first, second), f"{signature.name} returned different results for the same inputs"
                                          f"{_difference(signature, first, second)}")
