"""A failing example as its calls: the exact values the implementation received.

The runner logs every call an example makes (:class:`~bnspec.spec.target.Call`,
arguments copied before the call, in the implementation's own layout).  Here
they are named and shown: :func:`named` gives each argument a variable name,
the same one the reproducer (:mod:`bnspec.spec.reproducer`) defines, and
:func:`text` prints every call with every argument in full -- a float as its
``repr`` (the shortest decimal that reads back as the same float), an array
with every element to full precision -- which is what a learner compares with
their own prints.  Hypothesis' draws (multipliers, labels) stay in the case
file; they are not what the implementation saw.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import bfloat16
from .target import Call


@dataclass(frozen=True)
class NamedCall:
    """One logged call: its 1-based ``index``, the variable holding each argument, which of
    them this call defines first (``new``), and the earlier identical call it repeats."""

    index: int
    call: Call
    names: tuple[str, ...]
    new: tuple[bool, ...]
    same_as: int | None = None


def _fingerprint(value: Any) -> tuple:
    """What makes two arguments the same value: dtype, shape and bits of an array; type and repr otherwise."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    return (type(value).__name__, repr(value))


def named(calls: list[Call], merge: bool = True) -> list[NamedCall]:
    """Name every argument of ``calls``: the protocol's name (``z``) for its first value, then
    ``z_2``, ``z_3`` for other values; an argument equal to an earlier one reuses its variable.
    With ``merge``, a call identical to an earlier one is marked as its repeat."""
    variables: dict[tuple[str, tuple], str] = {}
    counts: dict[str, int] = {}
    seen_calls: dict[tuple, int] = {}
    out = []
    for index, call in enumerate(calls, start=1):
        names, new = [], []
        for name, value in call.args:
            key = (name, _fingerprint(value))
            first = key not in variables
            if first:
                counts[name] = counts.get(name, 0) + 1
                variables[key] = name if counts[name] == 1 else f"{name}_{counts[name]}"
            names.append(variables[key])
            new.append(first)
        signature = (call.function, tuple(names))
        same_as = seen_calls.get(signature) if merge else None
        seen_calls.setdefault(signature, index)
        out.append(NamedCall(index, call, tuple(names), tuple(new), same_as))
    return out


def dtype_name(value: np.ndarray) -> str:
    """The dtype's name, ``bfloat16`` for ml_dtypes' (numpy has no name of its own for it)."""
    return "bfloat16" if bfloat16.is_bfloat16(value.dtype) else value.dtype.name


def show(value: Any, indent: int = 0) -> str:
    """``value`` in full: a float as its repr, an array with every element to full precision
    (continuation lines indented by ``indent``)."""
    if isinstance(value, np.ndarray):
        shown = value.astype(np.float64) if bfloat16.is_bfloat16(value.dtype) else value
        text = np.array2string(shown, separator=", ", threshold=sys.maxsize, floatmode="unique",
                               max_line_width=110)
        return text.replace("\n", "\n" + " " * indent) + f"  ({dtype_name(value)}, shape {value.shape})"
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return repr(value)


def text(calls: list[Call], layout: str) -> str:
    """Every call of the failing example with the arguments the implementation received."""
    if not calls:
        return ""
    lines = [f"every call of the failing example, with the arguments the implementation received ({layout} layout):"]
    for entry in named(calls):
        head = f"call {entry.index} of {len(calls)}: {entry.call.function}({', '.join(entry.names)})"
        if entry.same_as is not None:
            lines.append(f"{head} -- the same call as call {entry.same_as}")
            continue
        lines.append(head)
        for variable, first, (_, value) in zip(entry.names, entry.new, entry.call.args, strict=True):
            if first:
                prefix = f"  {variable} = "
                lines.append(prefix + show(value, len(prefix)))
    return "\n".join(lines)
