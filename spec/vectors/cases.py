"""The golden cases: for each clause that can be stated as inputs -> expected
outputs, fixed inputs (from fixed seeds) and the outputs the reference
computes, each with its tolerance from :mod:`bnspec.spec.tolerances` (the same
kind and scale as the clause's property, the scale from
:mod:`bnspec.spec.properties.scales`).  eps and momentum are rounded to float32
by :func:`bnspec.spec.strategies.attribute`, as the properties draw them.

Inputs are in the lecture's layout (z is ``n x m``, per-unit arrays ``n x 1``).
A case is a plain dict (see :mod:`bnspec.spec.vectors.schema`) with arrays as
numpy arrays; :mod:`bnspec.spec.vectors.files` encodes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bnspec.reference import batchnorm as ref

from ..profiles import Profile
from ..properties import scales
from ..protocol import FUNCTIONS
from ..strategies import Layer, attribute
from ..tolerances import KINDS, tolerance, unit_roundoff

F64 = np.float64


@dataclass(frozen=True)
class Situation:
    """A named input of the layer: n units, m examples, per unit ``offset * spread + spread * noise``;
    ``eps`` is rounded to float32 as the properties draw it (:func:`~bnspec.spec.strategies.attribute`)."""

    name: str
    seed: int
    n: int = 3
    m: int = 8
    spread: float = 1.0
    offset_ratio: float = 0.0
    eps: float = 1e-5
    constant_units: tuple[int, ...] = ()
    gamma: tuple[float, ...] | None = None

    def layer(self) -> Layer:
        rng = np.random.default_rng(self.seed)
        noise = rng.uniform(-3.0, 3.0, (self.n, self.m))
        noise[list(self.constant_units), :] = 0.0
        signs = rng.choice([-1.0, 1.0], (self.n, 1))
        z = signs * self.offset_ratio * self.spread + self.spread * noise
        gamma = np.array(self.gamma, dtype=F64).reshape(self.n, 1) if self.gamma else rng.uniform(-3, 3, (self.n, 1))
        beta = rng.uniform(-5.0, 5.0, (self.n, 1))
        return Layer(z, gamma, beta, attribute(self.eps))


#: The edge cases every value clause meets: m = 2, n = 1, offsets far from 0,
#: tiny and large eps, a constant unit, negative and zero gamma.
SITUATIONS = (
    Situation("ordinary: n = 3, m = 8", 101),
    Situation("m = 2", 102, m=2),
    Situation("n = 1, m = 5", 103, n=1, m=5),
    Situation("large offset: |mu| / sigma = 1e8 at sigma = 1e-3", 104, spread=1e-3, offset_ratio=1e8),
    Situation("large offset: |mu| / sigma = 1e6 at sigma = 1e3", 105, spread=1e3, offset_ratio=1e6),
    Situation("tiny eps 1e-8 at a small spread", 106, spread=1e-3, eps=1e-8),
    Situation("large eps 10 (eps dominates sigma^2)", 107, spread=0.5, eps=10.0),
    Situation("eps comparable to sigma^2", 108, spread=1e-2, eps=1e-4, m=12),
    Situation("a constant unit among others", 109, constant_units=(1,)),
    Situation("negative and zero gamma", 110, gamma=(-1.5, 0.0, 2.0)),
)


def _tolerance(kind: str, m: int, scale: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    """:func:`bnspec.spec.tolerances.tolerance` of the property, with its factor and reason for the record."""
    atol = tolerance(kind, F64, m, scale).atol
    return {"kind": kind, "factor": KINDS[kind].factor(m), "unit_roundoff": unit_roundoff(F64),
            "reason": KINDS[kind].reason, "atol": np.ascontiguousarray(np.broadcast_to(atol, shape))}


def shape_of(name: str, array: np.ndarray) -> dict[str, Any]:
    """An output checked for its shape only."""
    return {"name": name, "shape": list(array.shape)}


def value(name: str, required: np.ndarray, kind: str, m: int, scale: Any) -> dict[str, Any]:
    """An output checked for its shape and its values within ``tolerance(kind, float64, m, scale)``."""
    return {"name": name, "shape": list(required.shape), "values": required,
            "tolerance": _tolerance(kind, m, scale, required.shape)}


def case(name: str, seed: int, call: str, args: dict[str, Any], outputs: list[dict[str, Any]] | None = None,
         raises: str | None = None) -> dict[str, Any]:
    """A case of ``call``; its arguments in the order of the protocol (:data:`bnspec.spec.protocol.FUNCTIONS`)."""
    names = FUNCTIONS[call].argument_names
    if set(args) != set(names):
        raise ValueError(f"a case of {FUNCTIONS[call].text()} has the arguments {sorted(args)}")
    expect: dict[str, Any] = {"raises": raises} if raises else {"outputs": outputs}
    return {"name": name, "seed": seed, "call": call, "args": {a: args[a] for a in names}, "expect": expect}


def layer_args(x: Layer, z: np.ndarray | None = None) -> dict[str, Any]:
    return {"z": x.z if z is None else z, "gamma": x.gamma, "beta": x.beta, "eps": x.eps}


def upstream(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed + 10_000).uniform(-2.0, 2.0, shape)


def running_state(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 20_000)
    return rng.uniform(-1e3, 1e3, (n, 1)), 10.0 ** rng.uniform(-4, 4, (n, 1))


def gradient_outputs(x: Layer, grad: np.ndarray, kind: str) -> list[dict[str, Any]]:
    """dz, dgamma, dbeta of the reference at x, within tolerances of ``kind`` at the gradient scales."""
    dz, dgamma, dbeta = ref.backward(x.z, x.gamma, x.beta, x.eps, grad)
    return [value("dz", dz, kind, x.m, scales.dz(x.z, x.gamma, x.eps, grad)),
            value("dgamma", dgamma, kind, x.m, scales.dgamma(x.z, x.eps, grad)),
            value("dbeta", dbeta, kind, x.m, scales.dbeta(grad))]


CaseMaker = Callable[[], list[dict[str, Any]]]
ProfileCaseMaker = Callable[[Profile], list[dict[str, Any]]]
