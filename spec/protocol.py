"""The implementation protocol, declared once.

A batch norm is checked through four functions (:class:`BatchNorm`).  Each
argument and result has a *role*: a batch array (``n[l] x m`` in the lecture's
layout: ``z``, ``grad``, the output, ``dz``), a per-unit array (``n[l] x 1``:
``gamma``, ``beta``, the running statistics, ``dgamma``, ``dbeta``) or a
scalar (``eps``, ``momentum``).  :data:`FUNCTIONS` is the table every other
part of bnspec reads: the target wrapper, ``--exec`` and ``--isolate``, the
purity checks, the golden vectors, the reproducers and the docs.

A target may declare ``layout`` (a :class:`Layout`), ``profile`` (a profile's
name), ``dtypes`` (names from :data:`DTYPES`) and ``fixed_eps`` (the eps it computes
with whatever eps it is passed, see :mod:`bnspec.spec.eps`); :func:`declaration` reads
and checks them.  The layout is handled here alone: :meth:`Layout.to_impl` and
:meth:`Layout.from_impl` move an array between the lecture's layout, which the
properties always speak, and the implementation's.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from .errors import ProtocolBreach, TargetError


class Role(StrEnum):
    """What an argument or result is, which fixes its shape in each layout."""

    BATCH = "batch"
    PER_UNIT = "per_unit"
    SCALAR = "scalar"


@dataclass(frozen=True)
class Slot:
    """One argument or result of a protocol function."""

    name: str
    role: Role


@dataclass(frozen=True)
class Signature:
    """A protocol function: its name, its arguments and its results, in order."""

    name: str
    arguments: tuple[Slot, ...]
    results: tuple[Slot, ...]

    @property
    def argument_names(self) -> tuple[str, ...]:
        return tuple(slot.name for slot in self.arguments)

    @property
    def result_names(self) -> tuple[str, ...]:
        return tuple(slot.name for slot in self.results)

    def text(self) -> str:
        """``forward(z, gamma, beta, eps) -> output``, as the docs and messages show it."""
        results = ", ".join(self.result_names)
        shown = results if len(self.results) == 1 else f"({results})"
        return f"{self.name}({', '.join(self.argument_names)}) -> {shown}"


_B, _U, _S = Role.BATCH, Role.PER_UNIT, Role.SCALAR


def _signature(name: str, arguments: str, results: str) -> Signature:
    roles = {"z": _B, "grad": _B, "output": _B, "dz": _B, "eps": _S, "momentum": _S}
    return Signature(name, tuple(Slot(a, roles.get(a, _U)) for a in arguments.split()),
                     tuple(Slot(r, roles.get(r, _U)) for r in results.split()))


#: The protocol's functions, in the order of the specification.
FUNCTIONS: dict[str, Signature] = {
    s.name: s
    for s in (
        _signature("forward", "z gamma beta eps", "output"),
        _signature("backward", "z gamma beta eps grad", "dz dgamma dbeta"),
        _signature("update_running", "running_mean running_var z momentum", "running_mean running_var"),
        _signature("forward_eval", "z gamma beta running_mean running_var eps", "output"),
    )
}
NAMES: tuple[str, ...] = tuple(FUNCTIONS)


@runtime_checkable
class BatchNorm(Protocol):
    """The four functions of a batch norm (any subset: a missing one makes its clauses "n/a").

    ``z`` is ``n[l] x m`` and the per-unit arrays ``n[l] x 1`` in the default
    layout; see :class:`Layout` for the others.
    """

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray: ...

    def backward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                 grad: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def update_running(self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray,
                       momentum: float) -> tuple[np.ndarray, np.ndarray]: ...

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray: ...


_Size = TypeVar("_Size", int, str)


class Layout(StrEnum):
    """Where the units are.  ``units_first`` (the lecture's): ``z`` is ``n x m`` and per-unit
    arrays ``n x 1``; ``batch_first`` (course notebooks, frameworks): ``z`` is ``m x n`` and
    per-unit arrays 1-D of length n."""

    UNITS_FIRST = "units_first"
    BATCH_FIRST = "batch_first"

    def shape(self, role: Role, n: _Size, m: _Size) -> tuple[_Size | int, ...]:
        """The shape of an array of ``role`` in this layout, for n units and m examples (numbers,
        or the letters themselves for the docs)."""
        if role is Role.BATCH:
            return (n, m) if self is Layout.UNITS_FIRST else (m, n)
        return (n, 1) if self is Layout.UNITS_FIRST else (n,)

    def sizes(self, z_shape: tuple[int, ...]) -> tuple[int, int]:
        """``(n, m)``, units and examples, from the shape of ``z`` in this layout."""
        rows, columns = z_shape
        return (rows, columns) if self is Layout.UNITS_FIRST else (columns, rows)

    def to_impl(self, value: Any, role: Role) -> Any:
        """``value`` (lecture layout) as the implementation receives it: a fresh C-contiguous array."""
        if not isinstance(value, np.ndarray):
            return value
        if self is Layout.UNITS_FIRST:
            return value.copy()
        return value[:, 0].copy() if role is Role.PER_UNIT else np.ascontiguousarray(value.T)

    def from_impl(self, value: np.ndarray, role: Role) -> np.ndarray:
        """A result already checked to have :meth:`shape`, back in the lecture's layout."""
        if self is Layout.UNITS_FIRST:
            return value
        return value.reshape(-1, 1) if role is Role.PER_UNIT else value.T


#: The dtype names a target may declare (bfloat16 is ml_dtypes').
DTYPES = ("float64", "float32", "float16", "bfloat16")
#: The dtypes expected when a target declares none: float64, and float32 (BN-DTYPE-1 speaks of it).
DEFAULT_DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class Declaration:
    """What a target says of itself: its functions, layout, profile name, dtypes and fixed eps
    (None: it computes with the eps it is passed, or bnspec detects otherwise, :mod:`bnspec.spec.eps`)."""

    functions: tuple[str, ...]
    layout: Layout = Layout.UNITS_FIRST
    profile: str | None = None
    dtypes: tuple[str, ...] = DEFAULT_DTYPES
    dtypes_declared: bool = False
    fixed_eps: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The declaration as the process protocol's handshake carries it."""
        return {"functions": list(self.functions), "layout": self.layout.value, "profile": self.profile,
                "dtypes": list(self.dtypes) if self.dtypes_declared else None, "fixed_eps": self.fixed_eps}


def _fixed_eps(value: Any, where: str) -> float | None:
    """A declared ``fixed_eps`` as a float: a positive finite number (any real type but bool), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 < float(value) < math.inf):
        raise TargetError(f"{where}: fixed_eps must be a positive finite number (the eps it computes with, "
                          f"whatever eps it is passed), got {value!r:.100}")
    return float(value)


def declaration(functions: Any, layout: Any = None, profile: Any = None, dtypes: Any = None,
                where: str = "target", *, fixed_eps: Any = None) -> Declaration:
    """Check a target's declarations; :class:`TargetError` naming the one that is wrong."""
    if not isinstance(functions, list | tuple) or not all(isinstance(f, str) for f in functions):
        raise TargetError(f"{where}: functions must be a list of names, got {functions!r:.100}")
    unknown = [f for f in functions if f not in FUNCTIONS]
    if unknown or not functions:
        raise TargetError(f"{where}: has none of the protocol's functions {NAMES}" if not functions else
                         f"{where}: {unknown[0]!r} is not a protocol function {NAMES}")
    try:
        chosen = Layout(layout if layout is not None else Layout.UNITS_FIRST)
    except (ValueError, TypeError):
        raise TargetError(f"{where}: layout {layout!r:.100} is not one of "
                         f"{tuple(v.value for v in Layout)}") from None
    if profile is not None and not isinstance(profile, str):
        raise TargetError(f"{where}: profile must be a profile's name (a string), got {profile!r:.100}")
    if dtypes is not None and (isinstance(dtypes, str) or not isinstance(dtypes, list | tuple)
                               or not all(isinstance(d, str) and d in DTYPES for d in dtypes)):
        raise TargetError(f"{where}: dtypes must be a list of names drawn from {DTYPES}, got {dtypes!r:.100}")
    ordered = tuple(f for f in NAMES if f in functions)
    return Declaration(ordered, chosen, profile, DEFAULT_DTYPES if dtypes is None else tuple(dtypes),
                       dtypes is not None, _fixed_eps(fixed_eps, where))


def declaration_of(impl: Any, where: str = "target") -> Declaration:
    """The declaration of a loaded Python object (module, instance).  Reading it runs the object's
    code (properties, ``__eq__``): whatever that raises, ``SystemExit`` included, is a
    :class:`TargetError` with one line, never the end of the run."""
    try:
        functions = [f for f in NAMES if callable(getattr(impl, f, None))]
        if not functions:
            raise TargetError(f"{where}: has none of the protocol's functions {NAMES}")
        return declaration(functions, getattr(impl, "layout", None), getattr(impl, "profile", None),
                           getattr(impl, "dtypes", None), where, fixed_eps=getattr(impl, "fixed_eps", None))
    except TargetError:
        raise
    except BaseException as exc:  # noqa: B036 - the object's own code decides no exit status
        raise TargetError(f"{where}: reading its declarations raised {type(exc).__name__}: {exc}") from None


def _is_float_dtype(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or (dtype.kind == "V" and dtype.name == "bfloat16")  # ml_dtypes' bfloat16


def results(function: str, value: Any, layout: Layout, n: int, m: int) -> tuple[np.ndarray, ...]:
    """The results of ``function`` checked against the protocol and moved to the lecture's layout.

    ``value`` is what the implementation returned (one array, or a tuple of
    them); each must be a ``numpy.ndarray`` of a real floating dtype
    and the shape its role has in ``layout``, and is read as a base-class array
    (masked arrays and ``np.matrix`` are refused).  :class:`ProtocolBreach` names
    the function, the result and what was wrong."""
    signature = FUNCTIONS[function]
    slots = signature.results
    if len(slots) == 1:
        values: tuple[Any, ...] = (value,)
    elif isinstance(value, tuple | list) and len(value) == len(slots):
        values = tuple(value)
    else:
        raise ProtocolBreach(f"{function} must return a {'pair' if len(slots) == 2 else 'triple'} "
                             f"({', '.join(signature.result_names)}), got {type(value).__name__}")
    checked = []
    for slot, result in zip(slots, values, strict=True):
        expected = layout.shape(slot.role, n, m)
        if not isinstance(result, np.ndarray):
            raise ProtocolBreach(f"{function} returned {type(result).__name__} for {slot.name}; the protocol "
                                 f"requires a numpy.ndarray of shape {expected}")
        if isinstance(result, np.ma.MaskedArray | np.matrix):  # a mask hides values; a matrix changes '*'
            raise ProtocolBreach(f"{function} returned a {type(result).__name__} for {slot.name}; the protocol "
                                 "requires a plain numpy.ndarray")
        # Any other subclass is read as the base class: its real dtype and values, not what it reports.
        result = result.view(np.ndarray)
        if not _is_float_dtype(result.dtype):
            raise ProtocolBreach(f"{function} returned {slot.name} of dtype {result.dtype}; the protocol "
                                 "requires a real floating dtype")
        if result.shape != expected:
            raise ProtocolBreach(f"{function} returned {slot.name} of shape {result.shape}; the protocol "
                                 f"requires {expected} ({layout.value} layout)")
        checked.append(layout.from_impl(result, slot.role))
    return tuple(checked)
