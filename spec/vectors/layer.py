"""Golden cases of the training-mode layer: shapes, dtype, the reference's
values, the invariances and the degenerate inputs (no profile changes them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bnspec.reference import batchnorm as ref

from ..properties import scales
from .cases import SITUATIONS, Situation, case, gradient_outputs, layer_args, shape_of, upstream, value

Cases = list[dict[str, Any]]


def forward_shapes() -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        out.append(case(s.name, s.seed, "forward", layer_args(x), [shape_of("output", x.z)]))
    return out


def backward_shapes() -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        grad = upstream(s.seed, x.z.shape)
        out.append(case(s.name, s.seed, "backward", {**layer_args(x), "grad": grad},
                        [shape_of("dz", x.z), shape_of("dgamma", x.gamma), shape_of("dbeta", x.beta)]))
    return out


def dtypes() -> Cases:
    out = []
    for s in SITUATIONS[:3]:
        x = s.layer()
        grad = upstream(s.seed, x.z.shape)
        for dtype in ("float64", "float32"):
            z, gamma, beta, g = (a.astype(dtype) for a in (x.z, x.gamma, x.beta, grad))
            args = {"z": z, "gamma": gamma, "beta": beta, "eps": x.eps}
            out.append(case(f"{s.name}, {dtype}", s.seed, "forward", args,
                            [{**shape_of("output", z), "dtype": dtype}]))
            out.append(case(f"{s.name}, {dtype}", s.seed, "backward", {**args, "grad": g},
                            [{**shape_of(name, a), "dtype": dtype} for name, a in
                             (("dz", z), ("dgamma", gamma), ("dbeta", beta))]))
    return out


def identity() -> Cases:
    """forward(z, sqrt(sigma^2 + eps), mu, eps) = z."""
    out = []
    for s in SITUATIONS:
        x = s.layer()
        mu, var = ref.batch_statistics(x.z)
        gamma = np.sqrt(var + x.eps)
        scale = scales.output(x.z, gamma, mu, x.eps)
        out.append(case(s.name, s.seed, "forward", {"z": x.z, "gamma": gamma, "beta": mu, "eps": x.eps},
                        [value("output", x.z, "value", x.m, scale)]))
    return out


def forward_reference() -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        required = ref.forward(x.z, x.gamma, x.beta, x.eps)
        out.append(case(s.name, s.seed, "forward", layer_args(x),
                        [value("output", required, "pair", x.m, scales.output(x.z, x.gamma, x.beta, x.eps))]))
    return out


def backward_reference() -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        grad = upstream(s.seed, x.z.shape)
        out.append(case(s.name, s.seed, "backward", {**layer_args(x), "grad": grad},
                        gradient_outputs(x, grad, "gradient")))
    return out


def dbeta_sums_grad() -> Cases:
    """dbeta = sum(grad) per unit (dz and dgamma: their shapes)."""
    out = []
    for s in SITUATIONS:
        x = s.layer()
        grad = upstream(s.seed, x.z.shape)
        outputs = [o if o["name"] == "dbeta" else shape_of(o["name"], o["values"])
                   for o in gradient_outputs(x, grad, "gradient")]
        out.append(case(s.name, s.seed, "backward", {**layer_args(x), "grad": grad}, outputs))
    return out


#: constant units at values whose square and mean round (1.1, 1370 at m = 7, 1.37e8): a one-pass
#: variance E[z^2] - E[z]^2 leaves a residue there, which constants at 0 or powers of ten hide.
CONSTANT = (
    Situation("every unit constant at 0", 200, constant_units=(0, 1, 2)),
    Situation("every unit constant at +-1.1", 201, constant_units=(0, 1, 2), offset_ratio=1.1),
    Situation("constant units far from 0 (+-1.37e8)", 202, constant_units=(0, 1, 2), spread=1.37, offset_ratio=1e8),
    Situation("constant units at +-1.1, tiny eps 1e-8", 203, constant_units=(0, 1, 2), offset_ratio=1.1, eps=1e-8),
    Situation("constant units at +-0.7, m = 2", 204, constant_units=(0, 1, 2), m=2, offset_ratio=0.7),
    Situation("one constant unit at +-1370, m = 7", 205, n=1, m=7, constant_units=(0,), spread=1e3,
              offset_ratio=1.37),
)


def constant_unit() -> Cases:
    """A constant unit: the output beta, the gradients the reference's."""
    out = []
    for s in CONSTANT:
        x = s.layer()
        required = np.broadcast_to(x.beta, x.z.shape).copy()
        out.append(case(s.name, s.seed, "forward", layer_args(x),
                        [value("output", required, "value", x.m, scales.output(x.z, x.gamma, x.beta, x.eps))]))
        grad = upstream(s.seed, x.z.shape)
        out.append(case(s.name, s.seed, "backward", {**layer_args(x), "grad": grad},
                        gradient_outputs(x, grad, "pair")))
    return out
