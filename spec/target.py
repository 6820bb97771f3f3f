"""The implementation under test: loading it and calling it through the protocol.

:class:`Subject` is a loaded implementation with its declaration
(:mod:`bnspec.spec.protocol`) and its profile; a run session holds one.
:class:`Target` is the subject as one example of a clause sees it: it speaks
the lecture's ``n x m`` whatever the implementation's layout, turns what the
implementation does wrong -- an exception, a non-array, a wrong shape or dtype
-- into a :class:`~bnspec.spec.errors.Finding` that names the function and
what it returned, and logs every call in the example's list, so that a failure
can be reproduced with plain numpy.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from . import eps as eps_probe
from . import profiles, protocol
from .clauses import Kind
from .errors import Finding, ImplementationRaised, Interruption, TargetError, UserInterrupt
from .layouts import Arrangement, Memory
from .process.proxy import ProcessImpl
from .protocol import FUNCTIONS, Declaration, Layout, Role

__all__ = ["Call", "Subject", "Target", "TargetError", "load", "resolve", "wrap"]


@dataclass(frozen=True)
class Subject:
    """A loaded implementation (or a proxy of one in another process), its declaration and profile."""

    impl: Any
    spec: str
    declaration: Declaration
    profile: profiles.Profile

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The kinds of target it is (``layer``, ``optimizer``): its clauses are those kinds'."""
        return self.declaration.kinds

    @property
    def layout(self) -> Layout:
        return self.declaration.layout

    @property
    def dtypes(self) -> tuple[str, ...]:
        """The floating dtypes the implementation declares it accepts (default float64, float32)."""
        return self.declaration.dtypes

    def prepare(self) -> None:
        """Before a clause's time limit starts: bring a process-backed implementation's process up
        again if a crash or a timeout ended it (its start-up is not the next clause's work)."""
        if isinstance(self.impl, ProcessImpl):
            self.impl.prepare()

    def has(self, need: str) -> bool:
        """Whether the implementation has the protocol function ``need``, or (``"dtype:NAME"``)
        declares the dtype NAME.  A declaration is read, never probed by calling."""
        if need.startswith("dtype:"):
            return need.removeprefix("dtype:") in self.dtypes
        return need in self.declaration.functions

    @cached_property
    def fixed_eps(self) -> float | None:
        """The eps the implementation computes with whatever eps it is passed: the declared
        ``fixed_eps``, else the one :func:`bnspec.spec.eps.in_effect` detects (None: it follows its
        argument, the probe cannot tell, or there is no forward).  The probe calls forward, so it runs
        when a clause first asks (:meth:`Target.eps_in_effect`), under that clause's time limit and
        output capture, and once per subject: a clause's time limit that interrupts it leaves nothing
        cached."""
        if self.declaration.fixed_eps is not None:
            return self.declaration.fixed_eps
        return eps_probe.in_effect(Target(self).forward) if self.has("forward") else None


@dataclass(frozen=True)
class Call:
    """One call made to the implementation, with the arguments it received (in its layout)."""

    function: str
    args: list[tuple[str, Any]]
    memory: Memory = "contiguous"  # how the arrays lay in memory (the copies in args are C-contiguous)


@dataclass
class Target:
    """The subject as one example sees it (always ``n x m`` inside); every call is logged in ``calls``.
    ``arrangement`` says how this example's arrays are laid out for the implementation (its spatial
    shape and memory order, :class:`~bnspec.spec.layouts.Arrangement`)."""

    subject: Subject
    calls: list[Call] = field(default_factory=list)
    arrangement: Arrangement | None = None

    def __post_init__(self) -> None:
        if self.arrangement is None:  # the plainest the implementation accepts: its smallest spatial rank
            self.arrangement = Arrangement(spatial_rank=self.subject.declaration.spatial_dims[0])

    # -- what the properties read ------------------------------------------------

    @property
    def spec(self) -> str:
        return self.subject.spec

    @property
    def profile(self) -> profiles.Profile:
        return self.subject.profile

    @property
    def layout(self) -> Layout:
        return self.subject.layout

    @property
    def dtypes(self) -> tuple[str, ...]:
        return self.subject.dtypes

    def has(self, need: str) -> bool:
        return self.subject.has(need)

    def eps_in_effect(self, eps: float) -> float:
        """The eps the implementation computes with when it is passed ``eps``: its fixed eps
        (:attr:`Subject.fixed_eps`, declared or detected) or ``eps`` itself.  A clause whose statement
        holds for any eps sizes its tolerances and finite-difference steps with it, so that an
        implementation that ignores eps fails only the clauses about eps's value."""
        fixed = self.subject.fixed_eps
        return eps if fixed is None else fixed

    # -- calls -------------------------------------------------------------------

    def call(self, function: str, *args: Any) -> Any:
        """``function(*args)`` with the arguments in the lecture's layout: the checked results, moved back
        (one array, or a tuple).  Raises a :class:`~bnspec.spec.errors.Finding` for anything the
        implementation does wrong."""
        signature = FUNCTIONS[function]
        moved = [self.to_impl_layout(value, slot.role) for slot, value in zip(signature.arguments, args, strict=True)]
        shape = moved[signature.argument_names.index(signature.shaped_by)].shape
        value = self.invoke(function, moved)
        checked = protocol.results(function, value, self.layout, shape)
        return checked[0] if len(checked) == 1 else checked

    def invoke(self, function: str, args: list[Any]) -> Any:
        """The implementation's own ``function`` on ``args`` as given (its layout, no copies, so that a
        mutation can be observed); logged with copies of the arguments as they were before the call."""
        names = FUNCTIONS[function].argument_names
        self.calls.append(Call(function, [(name, a.copy() if isinstance(a, np.ndarray) else a)
                                          for name, a in zip(names, args, strict=True)], self.layout_memory))
        errors = np.geterr()  # an implementation that calls np.seterr changes nothing for the checks
        try:
            return getattr(self.subject.impl, function)(*args)
        except (Finding, Interruption, UserInterrupt):  # bnspec's own: a time limit, Ctrl-C
            raise
        except SystemExit as exc:  # sys.exit() inside the implementation: a failure, never the end of the run
            raise ImplementationRaised(f"{function} called sys.exit({exc.code!r}) (SystemExit)") from exc
        except BaseException as exc:  # noqa: B036 - its own error, KeyboardInterrupt and CancelledError included
            raise ImplementationRaised(f"{function} raised {type(exc).__name__}: {exc}") from exc
        finally:
            np.seterr(**errors)

    @property
    def layout_memory(self) -> Memory:
        return self.arrangement.memory if self.arrangement else "contiguous"

    def to_impl_layout(self, value: Any, role: Role) -> Any:
        """``value`` (units first) in the implementation's layout and this example's arrangement, a
        fresh array (a scalar as it is)."""
        return self.layout.to_impl(value, role, self.arrangement or Arrangement())

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        return self.call("forward", z, gamma, beta, eps)

    def backward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                 grad: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.call("backward", z, gamma, beta, eps, grad)

    def update_running(self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray,
                       momentum: float) -> tuple[np.ndarray, np.ndarray]:
        return self.call("update_running", running_mean, running_var, z, momentum)

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        return self.call("forward_eval", z, gamma, beta, running_mean, running_var, eps)

    def backward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                      running_var: np.ndarray, eps: float, grad: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.call("backward_eval", z, gamma, beta, running_mean, running_var, eps, grad)

    def update_cumulative(self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray,
                          num_batches: int) -> tuple[np.ndarray, np.ndarray]:
        return self.call("update_cumulative", running_mean, running_var, z, num_batches)

    def gd(self, p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray:
        return self.call("gd", p, dp, lr)

    def momentum(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float
                 ) -> tuple[np.ndarray, np.ndarray]:
        return self.call("momentum", p, dp, v, lr, momentum)

    def rmsprop(self, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float
                ) -> tuple[np.ndarray, np.ndarray]:
        return self.call("rmsprop", p, dp, s, lr, rho, eps)

    def adam(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: int, lr: float, beta1: float,
             beta2: float, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.call("adam", p, dp, v, s, t, lr, beta1, beta2, eps)


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
    """The Python object a TARGET string names: ``reference``, a bundled adapter's name,
    ``module:attribute`` or ``path/to/file.py[:attribute]`` (a class is constructed with no
    arguments).  ``exec:`` targets are loaded by the run session, not here."""
    if spec == "reference":
        import bnspec.reference

        return bnspec.reference
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
    except BaseException as exc:  # noqa: B036 - SystemExit or KeyboardInterrupt at import decides no exit status
        raise TargetError(f"target: cannot import {location!r}: {type(exc).__name__}: {exc}") from None
    for part in filter(None, attribute.split(".")):
        try:
            obj = getattr(obj, part)
        except BaseException:  # noqa: B036 - a module __getattr__ that raises anything: no such attribute
            raise TargetError(f"target: {location!r} has no attribute {attribute!r}") from None
    if inspect.isclass(obj):
        try:
            obj = obj()
        except BaseException as exc:  # noqa: B036 - as at import
            raise TargetError(f"target: cannot construct {spec!r} with no arguments: "
                              f"{type(exc).__name__}: {exc}") from None
    return obj


def wrap(impl: Any, spec: str, profile: str | None = None) -> Subject:
    """A loaded implementation as a :class:`Subject`.  A proxy of an implementation in another
    process carries its ``declaration``; any other object is read with
    :func:`~bnspec.spec.protocol.declaration_of`.  ``profile`` (a name, see
    :func:`~bnspec.spec.profiles.resolve`) overrides the declared one (default ``lecture``)."""
    try:  # a proxy's own attribute; read without running the object's attribute hooks
        declared = vars(impl).get("declaration")
    except TypeError:  # an object without __dict__
        declared = None
    if not isinstance(declared, Declaration):
        declared = protocol.declaration_of(impl, f"target {spec!r}")
    try:  # --profile overrides; a declared profile is a name or a mapping of convention fields
        chosen = (profiles.resolve(profile, "--profile", by="--profile") if profile else
                  profiles.resolve(declared.profile or "lecture", f"target {spec!r}: profile"))
    except ValueError as exc:
        raise TargetError(str(exc)) from None
    return Subject(impl=impl, spec=spec, declaration=declared, profile=chosen)


def load(spec: str, profile: str | None = None) -> Subject:
    """The :class:`Subject` of ``spec`` (see :func:`resolve`), in this process."""
    return wrap(resolve(spec), spec, profile)
