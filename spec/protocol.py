"""The implementation protocol, declared once.

A batch norm is checked through four functions (:class:`BatchNorm`).  Each
argument and result has a *role*: a batch array (``n[l] x m`` in the lecture's
layout: ``z``, ``grad``, the output, ``dz``), a per-unit array (``n[l] x 1``:
``gamma``, ``beta``, the running statistics, ``dgamma``, ``dbeta``) or a
scalar (``eps``, ``momentum``).  :data:`FUNCTIONS` is the table every other
part of bnspec reads: the target wrapper, ``--exec`` and ``--isolate``, the
purity checks, the golden vectors, the reproducers and the docs.

A target may declare ``layout`` (a :class:`~bnspec.spec.layouts.Layout`),
``spatial_dims`` (the spatial ranks a channel layout accepts), ``profile`` (a
profile's name, or a mapping of convention fields), ``dtypes`` (names from
:data:`DTYPES`), ``fixed_eps`` (the eps it computes with whatever eps it is
passed, see :mod:`bnspec.spec.eps`) and ``running_update``
(:data:`RunningUpdate`); :func:`declaration` reads and checks them.  Layouts
live in :mod:`bnspec.spec.layouts`: :meth:`~bnspec.spec.layouts.Layout.to_impl`
and :meth:`~bnspec.spec.layouts.Layout.from_impl` move an array between the
lecture's layout, which the properties always speak, and the implementation's.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args, runtime_checkable

import numpy as np

from .errors import ProtocolBreach, TargetError
from .layouts import Layout, Role, spatial_dims

__all__ = ["DTYPES", "FUNCTIONS", "NAMES", "BatchNorm", "Declaration", "Layout", "Role", "Signature",
           "Slot", "declaration", "declaration_of", "results"]


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


#: The dtype names a target may declare (bfloat16 is ml_dtypes').
DTYPES = ("float64", "float32", "float16", "bfloat16")
#: The dtypes expected when a target declares none: float64, and float32 (BN-DTYPE-1 speaks of it).
DEFAULT_DTYPES = ("float64", "float32")


#: How ``update_running`` gives its result: ``returned`` (the protocol's default: it returns the new
#: statistics and leaves its arguments alone) or ``in_place`` (a framework's layer: it also writes them
#: into the ``running_mean`` and ``running_var`` it was given, which then must hold what it returns).
RunningUpdate = Literal["returned", "in_place"]
RUNNING_UPDATES: tuple[RunningUpdate, ...] = get_args(RunningUpdate)


@dataclass(frozen=True)
class Declaration:
    """What a target says of itself: its functions, layout, spatial ranks, profile (a name, or a
    mapping of convention fields, see :func:`bnspec.spec.profiles.resolve`), dtypes, fixed eps (None: it
    computes with the eps it is passed, or bnspec detects otherwise, :mod:`bnspec.spec.eps`) and how
    it updates the running statistics."""

    functions: tuple[str, ...]
    layout: Layout = Layout.UNITS_FIRST
    profile: str | Mapping[str, Any] | None = None
    dtypes: tuple[str, ...] = DEFAULT_DTYPES
    dtypes_declared: bool = False
    fixed_eps: float | None = None
    spatial_dims: tuple[int, ...] = (0,)
    running_update: RunningUpdate = "returned"

    def as_dict(self) -> dict[str, Any]:
        """The declaration as the process protocol's handshake carries it."""
        return {"functions": list(self.functions), "layout": self.layout.value,
                "profile": dict(self.profile) if isinstance(self.profile, Mapping) else self.profile,
                "dtypes": list(self.dtypes) if self.dtypes_declared else None, "fixed_eps": self.fixed_eps,
                "spatial_dims": list(self.spatial_dims), "running_update": self.running_update}


def _fixed_eps(value: Any, where: str) -> float | None:
    """A declared ``fixed_eps`` as a float: a positive finite number (any real type but bool), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 < float(value) < math.inf):
        raise TargetError(f"{where}: fixed_eps must be a positive finite number (the eps it computes with, "
                          f"whatever eps it is passed), got {value!r:.100}")
    return float(value)


def declaration(functions: Any, layout: Any = None, profile: Any = None, dtypes: Any = None,
                where: str = "target", *, fixed_eps: Any = None, spatial: Any = None,
                running_update: Any = None) -> Declaration:
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
    if profile is not None and not isinstance(profile, str | Mapping):
        raise TargetError(f"{where}: profile must be a profile's name or a mapping of convention fields "
                          f"(see `bnspec profiles`), got {profile!r:.100}")
    if dtypes is not None and (isinstance(dtypes, str) or not isinstance(dtypes, list | tuple)
                               or not all(isinstance(d, str) and d in DTYPES for d in dtypes)):
        raise TargetError(f"{where}: dtypes must be a list of names drawn from {DTYPES}, got {dtypes!r:.100}")
    if running_update is not None and running_update not in RUNNING_UPDATES:
        raise TargetError(f"{where}: running_update must be one of {RUNNING_UPDATES}, got {running_update!r:.100}")
    ordered = tuple(f for f in NAMES if f in functions)
    return Declaration(ordered, chosen, dict(profile) if isinstance(profile, Mapping) else profile,
                       DEFAULT_DTYPES if dtypes is None else tuple(dtypes), dtypes is not None,
                       _fixed_eps(fixed_eps, where), spatial_dims(spatial, chosen, where),
                       running_update or "returned")


def declaration_of(impl: Any, where: str = "target") -> Declaration:
    """The declaration of a loaded Python object (module, instance).  Reading it runs the object's
    code (properties, ``__eq__``): whatever that raises, ``SystemExit`` included, is a
    :class:`TargetError` with one line, never the end of the run."""
    try:
        functions = [f for f in NAMES if callable(getattr(impl, f, None))]
        if not functions:
            raise TargetError(f"{where}: has none of the protocol's functions {NAMES}")
        return declaration(functions, getattr(impl, "layout", None), getattr(impl, "profile", None),
                           getattr(impl, "dtypes", None), where, fixed_eps=getattr(impl, "fixed_eps", None),
                           spatial=getattr(impl, "spatial_dims", None),
                           running_update=getattr(impl, "running_update", None))
    except TargetError:
        raise
    except BaseException as exc:  # noqa: B036 - the object's own code decides no exit status
        raise TargetError(f"{where}: reading its declarations raised {type(exc).__name__}: {exc}") from None


def _is_float_dtype(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or (dtype.kind == "V" and dtype.name == "bfloat16")  # ml_dtypes' bfloat16


def results(function: str, value: Any, layout: Layout, z_shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The results of ``function`` checked against the protocol and moved to the lecture's layout.

    ``value`` is what the implementation returned (one array, or a tuple of
    them); each must be a ``numpy.ndarray`` of a real floating dtype
    and the shape its role has in ``layout`` for the ``z`` it was given (``z_shape``), and is read as a base-class array
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
        expected = layout.result_shape(slot.role, z_shape)
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
