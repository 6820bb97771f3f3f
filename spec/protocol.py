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
passed, see :mod:`bnspec.spec.eps`), ``running_update``
(:data:`RunningUpdate`), and the variants frameworks ship (:class:`Declaration`
says what each means; :mod:`bnspec.spec.properties.variants` which clauses each
brings in or takes out): ``affine`` (False: no gamma and beta),
``eval_statistics`` (:data:`EvalStatistics`), ``cumulative_average`` (True:
``update_running`` ignores its momentum) and ``mixed_precision`` (names from
:data:`MIXED_DTYPES`); :func:`declaration` reads and checks them.

Besides the lecture's four functions (:data:`CORE`), a target may have the
variants' (:data:`VARIANTS`): ``backward_eval``, the gradients through
inference-mode BN (frozen BN when fine-tuning), and ``update_cumulative``, the
cumulative average of the batch statistics (PyTorch's ``momentum=None``) with
the count of batches already averaged passed as ``num_batches``.  Layouts
live in :mod:`bnspec.spec.layouts`: :meth:`~bnspec.spec.layouts.Layout.to_impl`
and :meth:`~bnspec.spec.layouts.Layout.from_impl` move an array between the
lecture's layout, which the properties always speak, and the implementation's.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Protocol, get_args, runtime_checkable

import numpy as np

from .clauses import KINDS, Kind
from .errors import ProtocolBreach, TargetError
from .layouts import Layout, Role, spatial_dims

__all__ = ["CORE", "DTYPES", "FUNCTIONS", "MIXED_DTYPES", "NAMES", "OPTIMIZER", "VARIANTS", "BatchNorm", "Declaration",
           "EvalStatistics", "Kind", "Layout", "Optimizer", "Role", "Signature", "Slot", "declaration",
           "declaration_of", "functions_of", "results"]


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
    kind: Kind = "layer"

    @property
    def argument_names(self) -> tuple[str, ...]:
        return tuple(slot.name for slot in self.arguments)

    @property
    def result_names(self) -> tuple[str, ...]:
        return tuple(slot.name for slot in self.results)

    @cached_property  # read on every call to the implementation
    def shaped_by(self) -> str:
        """The argument whose shape fixes the results' shapes: ``z`` (a layer's), ``p`` (an optimizer's)."""
        return next(slot.name for slot in self.arguments if slot.role in (Role.BATCH, Role.PARAM))

    def text(self) -> str:
        """``forward(z, gamma, beta, eps) -> output``, as the docs and messages show it."""
        results = ", ".join(self.result_names)
        shown = results if len(self.results) == 1 else f"({results})"
        return f"{self.name}({', '.join(self.argument_names)}) -> {shown}"


_B, _U, _S, _P = Role.BATCH, Role.PER_UNIT, Role.SCALAR, Role.PARAM
_ROLES = {"z": _B, "grad": _B, "output": _B, "dz": _B, "eps": _S, "momentum": _S, "num_batches": _S,
          # the optimizers': the parameter, its gradient and its state, and their hyperparameters
          "p": _P, "dp": _P, "v": _P, "s": _P, "t": _S, "lr": _S, "rho": _S, "beta1": _S, "beta2": _S}


def _signature(name: str, arguments: str, results: str, kind: Kind = "layer") -> Signature:
    return Signature(name, tuple(Slot(a, _ROLES.get(a, _U)) for a in arguments.split()),
                     tuple(Slot(r, _ROLES.get(r, _U)) for r in results.split()), kind)


#: The protocol's functions, in the order of the specification.
FUNCTIONS: dict[str, Signature] = {
    s.name: s
    for s in (
        _signature("forward", "z gamma beta eps", "output"),
        _signature("backward", "z gamma beta eps grad", "dz dgamma dbeta"),
        _signature("update_running", "running_mean running_var z momentum", "running_mean running_var"),
        _signature("forward_eval", "z gamma beta running_mean running_var eps", "output"),
        # the variants frameworks ship (see the module's docstring)
        _signature("backward_eval", "z gamma beta running_mean running_var eps grad", "dz dgamma dbeta"),
        _signature("update_cumulative", "running_mean running_var z num_batches", "running_mean running_var"),
        # the optimizer protocol (kind "optimizer"): one step of each of the lecture's optimizers (L4)
        _signature("gd", "p dp lr", "p", "optimizer"),
        _signature("momentum", "p dp v lr momentum", "p v", "optimizer"),
        _signature("rmsprop", "p dp s lr rho eps", "p s", "optimizer"),
        _signature("adam", "p dp v s t lr beta1 beta2 eps", "p v s", "optimizer"),
    )
}
NAMES: tuple[str, ...] = tuple(FUNCTIONS)


def functions_of(kind: Kind) -> tuple[str, ...]:
    """The protocol functions of one kind of target, in the order of the specification."""
    return tuple(name for name, signature in FUNCTIONS.items() if signature.kind == kind)


#: The lecture's four functions, the variants' (each optional like every function), and the optimizers'.
CORE: tuple[str, ...] = functions_of("layer")[:4]
VARIANTS: tuple[str, ...] = functions_of("layer")[4:]
OPTIMIZER: tuple[str, ...] = functions_of("optimizer")


@runtime_checkable
class BatchNorm(Protocol):
    """The functions of a batch norm (any subset: a missing one makes its clauses "n/a").

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

    def backward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                      running_var: np.ndarray, eps: float, grad: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    def update_cumulative(self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray,
                          num_batches: float) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class Optimizer(Protocol):
    """One step of each of the lecture's optimizers (any subset; a target of kind ``optimizer``).

    ``p`` is a parameter of any shape; its gradient ``dp`` and the state ``v``, ``s`` have its shape
    and dtype, and so has every result.  The functions are pure: new arrays, the inputs untouched.
    The lecture's formulas are :mod:`bnspec.reference.optimizers`'; a profile may state another form
    of each (:mod:`bnspec.spec.profiles`).
    """

    def gd(self, p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray: ...

    def momentum(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float
                 ) -> tuple[np.ndarray, np.ndarray]: ...

    def rmsprop(self, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float
                ) -> tuple[np.ndarray, np.ndarray]: ...

    def adam(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: int, lr: float, beta1: float,
             beta2: float, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


#: The dtype names a target may declare (bfloat16 is ml_dtypes').
DTYPES = ("float64", "float32", "float16", "bfloat16")
#: The dtypes expected when a target declares none: float64, and float32 (BN-DTYPE-1 speaks of it).
DEFAULT_DTYPES = ("float64", "float32")


#: How ``update_running`` gives its result: ``returned`` (the protocol's default: it returns the new
#: statistics and leaves its arguments alone) or ``in_place`` (a framework's layer: it also writes them
#: into the ``running_mean`` and ``running_var`` it was given, which then must hold what it returns).
RunningUpdate = Literal["returned", "in_place"]
RUNNING_UPDATES: tuple[RunningUpdate, ...] = get_args(RunningUpdate)

#: What inference mode normalizes with: ``running`` (the protocol's default: the running statistics
#: forward_eval is passed) or ``batch`` (PyTorch's ``track_running_stats=False``: the batch's own
#: statistics, whatever running statistics it is passed -- forward_eval is forward).
EvalStatistics = Literal["running", "batch"]
EVAL_STATISTICS: tuple[EvalStatistics, ...] = get_args(EvalStatistics)
#: The dtypes of z a target may declare in ``mixed_precision`` (gamma, beta and the running statistics
#: then come in float32, as under PyTorch's autocast).
MIXED_DTYPES = ("float16", "bfloat16")


@dataclass(frozen=True)
class Declaration:
    """What a target says of itself: its functions, layout, spatial ranks, profile (a name, or a
    mapping of convention fields, see :func:`bnspec.spec.profiles.resolve`), dtypes, fixed eps (None: it
    computes with the eps it is passed, or bnspec detects otherwise, :mod:`bnspec.spec.eps`), how
    it updates the running statistics, and the variants frameworks ship:

    - ``affine`` (default True).  False: the layer has no gamma and beta (PyTorch's ``affine=False``,
      Keras' ``center=False, scale=False``).  bnspec then passes gamma = 1 and beta = 0 to every call
      (the implementation may ignore them); backward and backward_eval still return dgamma and dbeta,
      arrays of gamma's shape and a floating dtype as the protocol requires of every result (zeros
      will do), whose values are not judged.  The clauses whose statement is about other gamma and
      beta, or that judge dgamma or dbeta, are n/a.
    - ``eval_statistics`` (:data:`EvalStatistics`, default ``running``).  ``batch``: inference
      normalizes with the batch's own statistics (PyTorch's ``track_running_stats=False``), so
      forward_eval equals forward and backward_eval equals backward whatever running statistics they
      are passed; the clauses of the running statistics are n/a.
    - ``cumulative_average`` (default False).  True: ``update_running`` ignores its momentum and keeps
      the cumulative average of the batch statistics (PyTorch's ``momentum=None``).  The protocol's
      update_running carries no count of the batches already averaged, so it can only be the
      average's first step: the batch's own statistics, whatever running statistics and momentum it
      is passed.  The average itself is ``update_cumulative``'s, which is passed the count.
    - ``mixed_precision`` (names from :data:`MIXED_DTYPES`, default none): the target accepts z in
      each dtype named with gamma, beta and the running statistics in float32 (PyTorch's autocast).
    """

    functions: tuple[str, ...]
    layout: Layout = Layout.UNITS_FIRST
    profile: str | Mapping[str, Any] | None = None
    dtypes: tuple[str, ...] = DEFAULT_DTYPES
    dtypes_declared: bool = False
    fixed_eps: float | None = None
    spatial_dims: tuple[int, ...] = (0,)
    running_update: RunningUpdate = "returned"
    affine: bool = True
    eval_statistics: EvalStatistics = "running"
    cumulative_average: bool = False
    mixed_precision: tuple[str, ...] = ()
    kinds: tuple[Kind, ...] = ("layer",)

    def as_dict(self) -> dict[str, Any]:
        """The declaration as the process protocol's handshake carries it."""
        return {"functions": list(self.functions), "layout": self.layout.value,
                "profile": dict(self.profile) if isinstance(self.profile, Mapping) else self.profile,
                "dtypes": list(self.dtypes) if self.dtypes_declared else None, "fixed_eps": self.fixed_eps,
                "spatial_dims": list(self.spatial_dims), "running_update": self.running_update,
                "affine": self.affine, "eval_statistics": self.eval_statistics,
                "cumulative_average": self.cumulative_average, "mixed_precision": list(self.mixed_precision),
                "kind": list(self.kinds)}


def _fixed_eps(value: Any, where: str) -> float | None:
    """A declared ``fixed_eps`` as a float: a positive finite number (any real type but bool), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 < float(value) < math.inf):
        raise TargetError(f"{where}: fixed_eps must be a positive finite number (the eps it computes with, "
                          f"whatever eps it is passed), got {value!r:.100}")
    return float(value)


def _flag(value: Any, name: str, default: bool, meaning: str, where: str) -> bool:
    """A declared True or False (numpy's bool too; never a truthy stand-in), or ``default`` for None."""
    if value is None:
        return default
    if not isinstance(value, bool | np.bool_):
        raise TargetError(f"{where}: {name} must be True or False ({meaning}), got {value!r:.100}")
    return bool(value)


def _mixed(value: Any, where: str) -> tuple[str, ...]:
    """A declared ``mixed_precision``: names from :data:`MIXED_DTYPES`, each once, in the order given."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple) \
            or not all(isinstance(d, str) and d in MIXED_DTYPES for d in value):
        raise TargetError(f"{where}: mixed_precision must be a list of names drawn from {MIXED_DTYPES} (the "
                          f"dtypes of z it accepts with float32 gamma, beta and running statistics), "
                          f"got {value!r:.100}")
    return tuple(dict.fromkeys(value))


def declaration(functions: Any, layout: Any = None, profile: Any = None, dtypes: Any = None,
                where: str = "target", *, fixed_eps: Any = None, spatial: Any = None,
                running_update: Any = None, affine: Any = None, eval_statistics: Any = None,
                cumulative_average: Any = None, mixed_precision: Any = None, kind: Any = None) -> Declaration:
    """Check a target's declarations; :class:`TargetError` naming the one that is wrong.  The target's
    kinds are those of its functions; a declared ``kind`` (a name of :data:`KINDS`, or a list of them)
    keeps the functions of those kinds only, and must find at least one."""
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
    if eval_statistics is not None and (not isinstance(eval_statistics, str) or eval_statistics not in EVAL_STATISTICS):
        raise TargetError(f"{where}: eval_statistics must be one of {EVAL_STATISTICS} (what inference normalizes "
                          f"with), got {eval_statistics!r:.100}")
    if eval_statistics == "batch" and cumulative_average:
        raise TargetError(f"{where}: cumulative_average = True averages running statistics, which "
                          f"eval_statistics = 'batch' says it does not keep")
    ordered, kinds = _of_kinds(functions, kind, where)
    return Declaration(ordered, chosen, dict(profile) if isinstance(profile, Mapping) else profile,
                       DEFAULT_DTYPES if dtypes is None else tuple(dtypes), dtypes is not None,
                       _fixed_eps(fixed_eps, where), spatial_dims(spatial, chosen, where),
                       running_update or "returned",
                       _flag(affine, "affine", True, "False: no gamma and beta", where),
                       eval_statistics or "running",
                       _flag(cumulative_average, "cumulative_average", False,
                             "True: update_running ignores its momentum", where),
                       _mixed(mixed_precision, where), kinds)


def _of_kinds(functions: list[str] | tuple[str, ...], kind: Any, where: str
              ) -> tuple[tuple[str, ...], tuple[Kind, ...]]:
    """The functions of the declared kinds (every kind if none is declared), in the specification's
    order, and those kinds."""
    declared: tuple[Any, ...] = KINDS if kind is None else (kind,) if isinstance(kind, str) else \
        tuple(kind) if isinstance(kind, list | tuple) else (kind,)
    if not declared or not all(isinstance(k, str) and k in KINDS for k in declared):
        raise TargetError(f"{where}: kind must be one of {KINDS}, or a list of them, got {kind!r:.100}")
    ordered = tuple(f for f in NAMES if f in functions and FUNCTIONS[f].kind in declared)
    if not ordered:
        wanted = [f for f in NAMES if FUNCTIONS[f].kind in declared]
        raise TargetError(f"{where}: declares kind {kind!r:.100} but has none of its functions {tuple(wanted)}")
    return ordered, tuple(k for k in KINDS if any(FUNCTIONS[f].kind == k for f in ordered))


def _data(impl: Any, name: str) -> Any:
    """The variant declaration ``name`` of ``impl``, or None: a method of that name -- an implementation's
    own step, as an ``affine(z_norm, gamma, beta)`` or an ``eval_statistics(...)`` helper -- declares
    nothing (a declaration is a value: True or False, a name, a list of names)."""
    value = getattr(impl, name, None)
    return None if callable(value) else value


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
                           running_update=getattr(impl, "running_update", None),
                           affine=_data(impl, "affine"), eval_statistics=_data(impl, "eval_statistics"),
                           cumulative_average=_data(impl, "cumulative_average"),
                           mixed_precision=_data(impl, "mixed_precision"), kind=_data(impl, "kind"))
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
