"""Purity: no protocol function modifies its inputs; results are reproducible.

An implementation that declares ``running_update = "in_place"`` (a framework's layer) may have
``update_running`` write the new statistics into the ``running_mean`` and ``running_var`` it is
given: what it wrote must be what it returned, bit for bit; any other modification still fails.

The calls are built from the protocol's declaration (:data:`bnspec.spec.protocol.FUNCTIONS`):
each argument gets the value drawn under its name, moved to the implementation's layout as its
role requires, and goes to the implementation's own function as it is (``target.invoke``: no
copy, so that a modification can be seen).  What a call returns is checked as every call's
results are (:func:`bnspec.spec.protocol.results`): a result that is not the array the protocol
requires -- ``None``, a list, a wrong shape -- is a protocol breach, never compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import protocol
from .. import strategies as draws
from ..protocol import FUNCTIONS, Role, Signature
from ..target import Target
from ..trial import Trial
from . import proves

#: The momentum of the update_running calls (a constant: purity does not depend on it).
MOMENTUM = 0.9
#: The count of the update_cumulative calls (batches already averaged; a constant likewise).
NUM_BATCHES = 3


@dataclass(frozen=True)
class _Call:
    """One protocol function with its arguments in the implementation's layout, for ``z`` of ``n x m``."""

    signature: Signature
    args: list[Any]
    n: int
    m: int

    def results(self, target: Target, value: Any) -> tuple[np.ndarray, ...]:
        """What the call returned, checked against the protocol (ProtocolBreach otherwise) and copied,
        so that a later call cannot change it."""
        z_shape = self.args[self.signature.argument_names.index(self.signature.shaped_by)].shape
        checked = protocol.results(self.signature.name, value, target.layout, z_shape)
        return tuple(np.array(a, copy=True) for a in checked)


def _calls(target: Target, draw: draws.Draw) -> Iterator[_Call]:
    """Each protocol function the target has, with fresh arguments in the implementation's layout."""
    x = draws.layer(draw, max_offset_ratio=1e4)
    grad = draw(draws.upstream(x.n, x.m), "grad")
    running_mean = draw(draws.column(x.n, -5.0, 5.0), "running_mean")
    running_var = draw(draws.column(x.n, 0.1, 5.0), "running_var")
    values: dict[str, Any] = {"z": x.z, "gamma": x.gamma, "beta": x.beta, "grad": grad,
                              "running_mean": running_mean, "running_var": running_var,
                              "eps": x.eps, "momentum": MOMENTUM, "num_batches": NUM_BATCHES}
    for name, signature in FUNCTIONS.items():
        if signature.kind == "layer" and target.has(name):
            yield _Call(signature, [values[slot.name] if slot.role is Role.SCALAR
                                    else target.to_impl_layout(values[slot.name], slot.role)
                                    for slot in signature.arguments], x.n, x.m)


def _copies(args: list[Any]) -> list[Any]:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


#: The arguments an update declared ``running_update = "in_place"`` may overwrite, each with the result
#: it must then hold (:data:`bnspec.spec.protocol.RunningUpdate`).
IN_PLACE = {"update_running": ("running_mean", "running_var")}


def _not_written(now: np.ndarray, returned: np.ndarray) -> int:
    """How many elements of the argument ``now`` differ from the result ``returned`` (a checked array, read
    as its base class), bit for bit in the argument's dtype, NaN equal to NaN; all when the shapes differ."""
    returned = np.ndarray.view(returned, np.ndarray)
    if returned.shape != now.shape:
        return now.size
    return int((~_same_elements(now, returned.astype(now.dtype, copy=False))).sum())


@proves("BN-PURE-1", needs=())
def inputs_untouched(target: Target, trial: Trial) -> None:
    in_place = target.subject.declaration.running_update == "in_place"
    for call in _calls(target, trial.draw):
        signature, args = call.signature, call.args
        before = _copies(args)
        value = target.invoke(signature.name, args)
        call.results(target, value)  # the protocol's check: a result that is no array is a breach
        returned = dict(zip(signature.result_names, value if len(signature.results) > 1 else (value,), strict=True))
        for slot, was, now in zip(signature.arguments, before, args, strict=True):
            if not isinstance(was, np.ndarray):
                continue
            trial.holds(now.shape == was.shape and now.dtype == was.dtype,
                        f"{signature.name} modified its argument {slot.name}: shape {was.shape} and dtype "
                        f"{was.dtype} before the call, shape {now.shape} and dtype {now.dtype} after")
            changed = ~_same_elements(was, now)
            if not changed.any():
                continue
            writable = slot.name in IN_PLACE.get(signature.name, ())
            differ = _not_written(now, returned[slot.name]) if writable else was.size
            wrote_result = writable and differ == 0
            if in_place and writable:
                trial.holds(wrote_result, f"{signature.name} wrote into its argument {slot.name} (declared "
                                          f"running_update = 'in_place'), but {differ} of {was.size} elements "
                                          f"differ from the {slot.name} it returned")
                continue
            hint = (f"; it wrote the {slot.name} it returned: an update that keeps its result in the arrays it "
                    "is given declares running_update = 'in_place'") if wrote_result else ""
            trial.holds(False, f"{signature.name} modified its argument {slot.name}: "
                               f"{int(changed.sum())} of {was.size} elements differ after the call{hint}")


def _same_elements(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise (flattened): the same bits, or both NaN (any payload).  Arrays of the same shape and dtype."""
    flat_a, flat_b = np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)
    width = a.dtype.itemsize
    bits = (flat_a.view(np.uint8).reshape(-1, width) == flat_b.view(np.uint8).reshape(-1, width)).all(axis=1)
    try:
        both_nan = np.isnan(flat_a) & np.isnan(flat_b)
    except TypeError:  # a dtype without NaN (integers, booleans)
        return bits
    return bits | both_nan


def _differences(signature: Signature, first: tuple[np.ndarray, ...], second: tuple[np.ndarray, ...]) -> list[str]:
    """Each result of two calls that is not the same, bit for bit (NaN equal to NaN), by its protocol name.
    The results are checked arrays: one shape and dtype per result, as the protocol fixes them."""
    differing = []
    for name, a, b in zip(signature.result_names, first, second, strict=True):
        if a.dtype != b.dtype:
            differing.append(f"{name} (dtype {a.dtype}, then {b.dtype})")
            continue
        changed = ~_same_elements(a, b)
        if changed.any():
            differing.append(f"{name} ({int(changed.sum())} of {a.size} elements)")
    return differing


@proves("BN-PURE-2", needs=())
def deterministic(target: Target, trial: Trial) -> None:
    for call in _calls(target, trial.draw):
        name = call.signature.name
        first = call.results(target, target.invoke(name, _copies(call.args)))
        second = call.results(target, target.invoke(name, _copies(call.args)))
        differing = _differences(call.signature, first, second)
        trial.holds(not differing, f"{name} returned different results for the same inputs: "
                                   f"{', '.join(differing)} differ{'s' if len(differing) == 1 else ''}")
