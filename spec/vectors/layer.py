"""Golden cases of the training-mode layer: shapes, dtype, the reference's
values, the invariances and the degenerate inputs (no profile changes them)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bnspec.reference import batchnorm as ref

from ..properties import scales
from ..tolerances import condition
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


def _bias(s: Situation, x: Any) -> np.ndarray:
    """b[l] of up to 1e3 spreads, per unit."""
    spread = np.sqrt(np.var(x.z, axis=1, keepdims=True) + x.eps)
    return np.random.default_rng(s.seed + 30_000).uniform(-1e3, 1e3, (x.n, 1)) * spread


def _worse(z1: np.ndarray, z2: np.ndarray, eps: float) -> np.ndarray:
    return np.maximum(condition(z1, eps), condition(z2, eps))


def bias_cancels() -> Cases:
    """forward(z + b) = the reference's forward(z)."""
    out = []
    for s in SITUATIONS:
        x = s.layer()
        shifted = x.z + _bias(s, x)
        scale = scales.output(x.z, x.gamma, x.beta, x.eps, _worse(x.z, shifted, x.eps))
        out.append(case(f"{s.name}, plus b", s.seed, "forward", layer_args(x, z=shifted),
                        [value("output", ref.forward(x.z, x.gamma, x.beta, x.eps), "pair", x.m, scale)]))
    return out


def bias_cancels_in_gradients() -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        shifted = x.z + _bias(s, x)
        grad = upstream(s.seed, x.z.shape)
        outputs = gradient_outputs(x, grad, "pair", 2.0, _worse(x.z, shifted, x.eps))
        out.append(case(f"{s.name}, plus b", s.seed, "backward", {**layer_args(x, z=shifted), "grad": grad}, outputs))
    return out


#: powers of two, so that c z and c^2 eps are exact (as the property draws them).
SCALE_FACTORS = (2.0, 0.5, 2.0**10, 2.0**-10)


def scale_invariance() -> Cases:
    """forward(c z, eps) = the reference's forward(z, eps / c^2)."""
    out = []
    for s in SITUATIONS:
        x = s.layer()
        c = SCALE_FACTORS[s.seed % len(SCALE_FACTORS)]
        eps = x.eps / c**2
        scale = scales.output(x.z, x.gamma, x.beta, eps, _worse(x.z, c * x.z, eps))
        out.append(case(f"{s.name}, c = {c:g}", s.seed, "forward", layer_args(x, z=c * x.z),
                        [value("output", ref.forward(x.z, x.gamma, x.beta, eps), "pair", x.m, scale)]))
    return out


def gradient_scales() -> Cases:
    """backward(c z, c^2 eps) = the reference's (dz / c, dgamma, dbeta) at (z, eps)."""
    out = []
    for s in SITUATIONS:
        x = s.layer()
        c = SCALE_FACTORS[s.seed % len(SCALE_FACTORS)]
        grad = upstream(s.seed, x.z.shape)
        dz, dgamma, dbeta = gradient_outputs(x, grad, "pair", 2.0, _worse(x.z, c * x.z, x.eps))
        dz = value("dz", dz["values"] / c, "pair", x.m,
                   2.0 * scales.dz(x.z, x.gamma, x.eps, grad, _worse(x.z, c * x.z, x.eps)) / c)
        args = {**layer_args(x, z=c * x.z, eps=c**2 * x.eps), "grad": grad}
        out.append(case(f"{s.name}, c = {c:g}", s.seed, "backward", args, [dz, dgamma, dbeta]))
    return out


def examples_exchangeable() -> Cases:
    """forward and backward of z[:, p] = the reference's, permuted."""
    out = []
    for s in SITUATIONS:
        x = s.layer()
        order = np.random.default_rng(s.seed + 40_000).permutation(x.m)
        grad = upstream(s.seed, x.z.shape)
        required = ref.forward(x.z, x.gamma, x.beta, x.eps)[:, order]
        out.append(case(f"{s.name}, examples permuted", s.seed, "forward", layer_args(x, z=x.z[:, order]),
                        [value("output", required, "pair", x.m, scales.output(x.z, x.gamma, x.beta, x.eps))]))
        dz, dgamma, dbeta = gradient_outputs(x, grad, "pair", 2.0)
        dz = value("dz", dz["values"][:, order], "pair", x.m, 2.0 * scales.dz(x.z, x.gamma, x.eps, grad))
        args = {**layer_args(x, z=x.z[:, order]), "grad": grad[:, order]}
        out.append(case(f"{s.name}, examples permuted", s.seed, "backward", args, [dz, dgamma, dbeta]))
    return out


def backward_reference() -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        grad = upstream(s.seed, x.z.shape)
        out.append(case(s.name, s.seed, "backward", {**layer_args(x), "grad": grad},
                        gradient_outputs(x, grad, "gradient")))
    return out


def _one_gradient(which: str) -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        grad = upstream(s.seed, x.z.shape)
        outputs = [o if o["name"] == which else shape_of(o["name"], o["values"])
                   for o in gradient_outputs(x, grad, "gradient")]
        out.append(case(s.name, s.seed, "backward", {**layer_args(x), "grad": grad}, outputs))
    return out


def dbeta_sums_grad() -> Cases:
    return _one_gradient("dbeta")


def dgamma_weighs_by_z_norm() -> Cases:
    return _one_gradient("dgamma")


CONSTANT = (
    Situation("every unit constant", 201, constant_units=(0, 1, 2)),
    Situation("constant units far from 0 (1e8)", 202, constant_units=(0, 1, 2), spread=1.0, offset_ratio=1e8),
    Situation("constant units, tiny eps 1e-8", 203, constant_units=(0, 1, 2), eps=1e-8),
    Situation("constant units, m = 2", 204, constant_units=(0, 1, 2), m=2),
    Situation("one constant unit", 205, n=1, m=6, constant_units=(0,), spread=1e3, offset_ratio=1e3),
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
