"""The implementation under test: loading it and calling it through the protocol.

The protocol is the four functions of :mod:`bnspec.reference.batchnorm`:
``forward``, ``backward``, ``update_running`` and ``forward_eval``.  A target
may declare ``layout = "batch_first"`` (z is ``m x n``, per-unit arrays are 1-D
of length n, as frameworks and course notebooks use) and ``profile = "<name>"``.

:class:`Target` hides the layout from the properties, which always speak the
lecture's ``n x m``, and turns anything the implementation does wrong -- an
exception, a non-array, a wrong shape or dtype -- into an
:class:`ImplementationFailure` that names the function and what it returned.
It logs every call, so that a failure can be reproduced with plain numpy.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import profiles
from .bfloat16 import is_bfloat16

PROTOCOL = ("forward", "backward", "update_running", "forward_eval")
#: The dtypes every implementation is expected to accept unless it declares ``dtypes``:
#: float64 (the spec's default) and float32 (clause BN-DTYPE-1 already requires it).
DEFAULT_DTYPES = ("float64", "float32")
#: the protocol functions' argument names, in order.
ARGUMENTS = {
    "forward": ("z", "gamma", "beta", "eps"),
    "backward": ("z", "gamma", "beta", "eps", "grad"),
    "update_running": ("running_mean", "running_var", "z", "momentum"),
    "forward_eval": ("z", "gamma", "beta", "running_mean", "running_var", "eps"),
}
LAYOUTS = ("units_first", "batch_first")


class TargetError(Exception):
    """The target cannot be loaded (a usage error: exit status 2)."""


class ImplementationFailure(AssertionError):
    """The implementation raised, or returned something the protocol forbids."""


@dataclass
class Call:
    """One call made to the implementation, with the arguments it received."""

    function: str
    args: list[tuple[str, Any]]


@dataclass
class Target:
    """An implementation wrapped for the properties (always ``n x m`` inside)."""

    impl: Any
    spec: str
    profile: profiles.Profile
    layout: str = "units_first"
    calls: list[Call] = field(default_factory=list)

    @property
    def is_reference(self) -> bool:
        from bnspec.reference import batchnorm

        return self.impl is batchnorm

    @property
    def dtypes(self) -> tuple[str, ...]:
        """The floating dtypes the implementation declares it accepts (its ``dtypes``
        attribute, names such as ``"float16"``); :data:`DEFAULT_DTYPES` when it declares none."""
        declared = getattr(self.impl, "dtypes", None)
        return DEFAULT_DTYPES if declared is None else tuple(str(d) for d in declared)

    def has(self, function: str) -> bool:
        """Whether the implementation has a protocol ``function``, or (``"dtype:NAME"``)
        declares the dtype NAME.  A declaration is read, never probed by calling: an
        exception on a declared dtype is a failure, not a reason for "n/a"."""
        if function.startswith("dtype:"):
            return function.removeprefix("dtype:") in self.dtypes
        return callable(getattr(self.impl, function, None))

    # -- layout --------------------------------------------------------------

    def _to_impl(self, value: Any, per_unit: bool) -> Any:
        if not isinstance(value, np.ndarray) or self.layout == "units_first":
            return value.copy() if isinstance(value, np.ndarray) else value
        return value[:, 0].copy() if per_unit else np.ascontiguousarray(value.T)

    def _from_impl(self, function: str, what: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
        per_unit = what not in ("output", "dz")
        expected = shape if self.layout == "units_first" else ((shape[0],) if per_unit else shape[::-1])
        if not isinstance(value, np.ndarray):
            raise ImplementationFailure(
                f"{function} returned {type(value).__name__} for {what}; "
                f"the protocol requires a numpy.ndarray of shape {expected}"
            )
        if value.dtype.kind != "f" and not is_bfloat16(value.dtype):  # ml_dtypes' bfloat16 is of kind "V"
            raise ImplementationFailure(
                f"{function} returned {what} of dtype {value.dtype}; "
                "the protocol requires a real floating dtype"
            )
        if value.shape != expected:
            raise ImplementationFailure(
                f"{function} returned {what} of shape {value.shape}; the protocol requires "
                f"{expected} ({self.layout} layout)"
            )
        if self.layout == "units_first":
            return value
        return value.reshape(shape) if per_unit else value.T

    def _call(self, function: str, named: list[tuple[str, Any, bool]]) -> Any:
        args = [self._to_impl(value, per_unit) for _, value, per_unit in named]
        self.calls.append(Call(function, [(name, a) for (name, _, _), a in zip(named, args, strict=True)]))
        try:
            return getattr(self.impl, function)(*args)
        except ImplementationFailure:
            raise
        except SystemExit as exc:  # sys.exit() inside the implementation: a failure, never the end of the run
            raise ImplementationFailure(f"{function} called sys.exit({exc.code!r}) (SystemExit)") from exc
        except Exception as exc:  # the implementation's own error on valid input
            raise ImplementationFailure(f"{function} raised {type(exc).__name__}: {exc}") from exc

    def _pair(self, function: str, result: Any) -> tuple[Any, Any]:
        if not isinstance(result, tuple | list) or len(result) != 2:
            raise ImplementationFailure(f"{function} must return a pair, got {type(result).__name__}")
        return result[0], result[1]

    # -- the protocol, in the lecture's layout --------------------------------

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        named = [("z", z, False), ("gamma", gamma, True), ("beta", beta, True), ("eps", eps, False)]
        out = self._call("forward", named)
        return self._from_impl("forward", "output", out, z.shape)

    def backward(
        self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        result = self._call(
            "backward",
            [("z", z, False), ("gamma", gamma, True), ("beta", beta, True), ("eps", eps, False), ("grad", grad, False)],
        )
        if not isinstance(result, tuple | list) or len(result) != 3:
            raise ImplementationFailure(
                f"backward must return a triple (dz, dgamma, dbeta), got {type(result).__name__}"
            )
        n = z.shape[0]
        return (
            self._from_impl("backward", "dz", result[0], z.shape),
            self._from_impl("backward", "dgamma", result[1], (n, 1)),
            self._from_impl("backward", "dbeta", result[2], (n, 1)),
        )

    def update_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        result = self._call(
            "update_running",
            [("running_mean", running_mean, True), ("running_var", running_var, True), ("z", z, False),
             ("momentum", momentum, False)],
        )
        n = z.shape[0]
        mean, var = self._pair("update_running", result)
        return (
            self._from_impl("update_running", "running_mean", mean, (n, 1)),
            self._from_impl("update_running", "running_var", var, (n, 1)),
        )

    def forward_eval(
        self,
        z: np.ndarray,
        gamma: np.ndarray,
        beta: np.ndarray,
        running_mean: np.ndarray,
        running_var: np.ndarray,
        eps: float,
    ) -> np.ndarray:
        out = self._call(
            "forward_eval",
            [
                ("z", z, False), ("gamma", gamma, True), ("beta", beta, True),
                ("running_mean", running_mean, True), ("running_var", running_var, True), ("eps", eps, False),
            ],
        )
        return self._from_impl("forward_eval", "output", out, z.shape)

    def raw(self, function: str) -> Any:
        """The implementation's own function, called without copies (to observe mutation).

        Each call is still logged, with copies of its arguments as they were before
        the call, so that a failure's numpy reproducer makes it again."""
        own = getattr(self.impl, function)
        names = ARGUMENTS.get(function, ())

        def logged(*args: Any) -> Any:
            named = [(names[i] if i < len(names) else f"arg{i}", a.copy() if isinstance(a, np.ndarray) else a)
                     for i, a in enumerate(args)]
            self.calls.append(Call(function, named))
            return own(*args)

        return logged

    def to_impl_layout(self, value: np.ndarray, per_unit: bool) -> np.ndarray:
        """``value`` (units first) in the implementation's layout, a fresh array."""
        return self._to_impl(value, per_unit)


# -- loading ---------------------------------------------------------------------


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise TargetError(f"target: no such file {str(path)!r}")
    name = f"bnspec_target_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise TargetError(f"target: cannot import {str(path)!r}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def _importable_from_cwd() -> None:
    """Let ``module:attribute`` name a module of the current folder, as ``python -m`` and
    pytest do: the console script ``bnspec`` does not put the folder on ``sys.path``."""
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)


def resolve(spec: str) -> Any:
    """The object a TARGET string names (see :func:`load`)."""
    if spec == "reference":
        from bnspec.reference import batchnorm

        return batchnorm
    if spec.startswith("exec:"):  # an implementation in another process (bnspec check --exec)
        from .process.proxy import ProcessImpl

        return ProcessImpl(spec.removeprefix("exec:"))
    from .adapters import ADAPTERS, EXTRAS

    if spec in ADAPTERS:
        try:
            return resolve(ADAPTERS[spec])
        except TargetError as error:
            raise TargetError(f"{error} (install the framework with: pip install 'bnspec[{EXTRAS[spec]}]')") from None
    location, _, attribute = spec.partition(":")
    try:
        if location.endswith(".py") or "/" in location:
            obj = _import_file(Path(location))
        else:
            _importable_from_cwd()
            obj = importlib.import_module(location)
    except TargetError:
        raise
    except Exception as exc:
        raise TargetError(f"target: cannot import {location!r}: {type(exc).__name__}: {exc}") from exc
    for part in filter(None, attribute.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"target: {location!r} has no attribute {attribute!r}") from None
    if inspect.isclass(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise TargetError(f"target: cannot construct {spec!r} with no arguments: {exc}") from exc
    return obj


def load(spec: str, profile: str | None = None) -> Target:
    """Load the implementation named by ``spec`` and wrap it.

    ``spec`` is ``reference``, ``module:attribute`` or ``path/to/file.py:attribute``
    (the attribute may be omitted: the module itself), or ``exec:COMMAND`` (a
    program that speaks :mod:`bnspec.spec.process.protocol`); a class is
    constructed with no arguments.  ``profile`` overrides the target's own ``profile``
    attribute (default ``lecture``).
    """
    return wrap(resolve(spec), spec, profile)


def wrap(impl: Any, spec: str, profile: str | None = None) -> Target:
    """Wrap a loaded implementation (or a proxy of one, see :mod:`bnspec.spec.isolation`) as :func:`load` does."""
    layout = getattr(impl, "layout", "units_first")
    if layout not in LAYOUTS:
        raise TargetError(f"target: layout {layout!r} is not one of {LAYOUTS}")
    if not any(callable(getattr(impl, f, None)) for f in PROTOCOL):
        raise TargetError(f"target: {spec!r} has none of the protocol's functions {PROTOCOL}")
    name = str(profile or getattr(impl, "profile", "lecture"))
    try:
        chosen = profiles.get(name)
    except ValueError as exc:
        raise TargetError(str(exc)) from None
    return Target(impl=impl, spec=spec, profile=chosen, layout=layout)
