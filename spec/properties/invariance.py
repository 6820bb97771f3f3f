"""Invariances and locality: the bias cancels (L7), scale invariance (paper
§3.3), units are independent (L10), examples exchangeable and each mini-batch
normalized on its own (L6)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import assertions as check
from .. import strategies as draws
from ..tolerances import tolerance
from . import proves, scales

BACKWARD = ("forward", "backward")


def _worse(z1, z2, eps):
    return np.maximum(scales.condition(z1, eps), scales.condition(z2, eps))


def _bias(draw, x):
    spread = np.sqrt(np.var(x.z, axis=1, keepdims=True) + x.eps)
    return draw(draws.column(x.n, -1e3, 1e3, special=(1.0, -1.0)), "b") * spread


@proves("BN-INV-1")
def bias_cancels(target, draw):
    x = draws.layer(draw)
    shifted = x.z + _bias(draw, x)
    cond = _worse(x.z, shifted, x.eps)
    check.close(
        "forward(z + b, ...) against forward(z, ...)",
        target.forward(shifted, x.gamma, x.beta, x.eps), target.forward(x.z, x.gamma, x.beta, x.eps),
        tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, x.eps, cond)), "pair",
    )


@proves("BN-INV-2", needs=BACKWARD)
def bias_cancels_in_gradients(target, draw):
    x = draws.layer(draw)
    shifted = x.z + _bias(draw, x)
    grad = draw(draws.upstream(x.n, x.m), "grad")
    cond = _worse(x.z, shifted, x.eps)
    moved = target.backward(shifted, x.gamma, x.beta, x.eps, grad)
    base = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    tols = (scales.dz(x.z, x.gamma, x.eps, grad, cond), scales.dgamma(x.z, x.eps, grad, cond), scales.dbeta(grad))
    for name, a, b, scale in zip(("dz", "dgamma", "dbeta"), moved, base, tols, strict=True):
        check.close(f"{name} at z + b against {name} at z", a, b, tolerance("pair", np.float64, x.m, 2 * scale), "pair")


def _scale_factor(draw):
    # A power of two, from 2^-10 to 2^10: c z and c^2 eps are then exact, so the
    # comparison sees the implementation's rounding only, and eps / c^2 stays
    # representable in float32 where eps is (see strategies.attribute).
    return draw(st.integers(-10, 10).map(lambda k: 2.0**k), "c")


@proves("BN-INV-3")
def scale_invariance(target, draw):
    x = draws.layer(draw)
    c = _scale_factor(draw)
    cond = _worse(x.z, c * x.z, x.eps / c**2)
    check.close(
        "forward(c z, gamma, beta, eps) against forward(z, gamma, beta, eps / c^2)",
        target.forward(c * x.z, x.gamma, x.beta, x.eps), target.forward(x.z, x.gamma, x.beta, x.eps / c**2),
        tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, x.eps / c**2, cond)), "pair",
    )


@proves("BN-INV-4", needs=BACKWARD)
def gradient_scales(target, draw):
    x = draws.layer(draw)
    c = _scale_factor(draw)
    grad = draw(draws.upstream(x.n, x.m), "grad")
    dz_c, dgamma_c, dbeta_c = target.backward(c * x.z, x.gamma, x.beta, c**2 * x.eps, grad)
    dz, dgamma, dbeta = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    cond = _worse(x.z, c * x.z, x.eps)
    check.close("c * dz at (c z, c^2 eps) against dz at (z, eps)", c * dz_c, dz,
                tolerance("pair", np.float64, x.m, 2 * scales.dz(x.z, x.gamma, x.eps, grad, cond)), "pair")
    check.close("dgamma at (c z, c^2 eps) against dgamma at (z, eps)", dgamma_c, dgamma,
                tolerance("pair", np.float64, x.m, 2 * scales.dgamma(x.z, x.eps, grad, cond)), "pair")
    check.close("dbeta at (c z, c^2 eps) against dbeta at (z, eps)", dbeta_c, dbeta,
                tolerance("pair", np.float64, x.m, 2 * scales.dbeta(grad)), "pair")


@proves("BN-LOC-1", needs=BACKWARD)
def units_independent(target, draw):
    x = draws.layer(draw, max_n=5)
    unit = draw(st.integers(0, x.n - 1), "changed_unit")
    other = draw(draws.batches(1, x.m), "new_values")
    changed = x.z.copy()
    changed[unit] = other[0]
    keep = np.arange(x.n) != unit
    grad = draw(draws.upstream(x.n, x.m), "grad")
    cond = _worse(x.z, changed, x.eps)
    scale = scales.output(x.z, x.gamma, x.beta, x.eps, cond)
    check.close(
        f"forward of the units other than {unit} after changing unit {unit}",
        target.forward(changed, x.gamma, x.beta, x.eps)[keep], target.forward(x.z, x.gamma, x.beta, x.eps)[keep],
        tolerance("pair", np.float64, x.m, scale[keep]), "pair",
    )
    dz_changed = target.backward(changed, x.gamma, x.beta, x.eps, grad)[0]
    dz = target.backward(x.z, x.gamma, x.beta, x.eps, grad)[0]
    check.close(
        f"dz of the units other than {unit} after changing unit {unit}", dz_changed[keep], dz[keep],
        tolerance("pair", np.float64, x.m, 2 * scales.dz(x.z, x.gamma, x.eps, grad, cond)[keep]), "pair",
    )


@proves("BN-LOC-2", needs=BACKWARD)
def examples_exchangeable(target, draw):
    x = draws.layer(draw)
    order = np.array(draw(st.permutations(range(x.m)), "permutation"))
    grad = draw(draws.upstream(x.n, x.m), "grad")
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    check.close(
        "forward(z[:, p]) against forward(z)[:, p]", target.forward(x.z[:, order], x.gamma, x.beta, x.eps),
        out[:, order], tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, x.eps)), "pair",
    )
    dz, dgamma, dbeta = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    dz_p, dgamma_p, dbeta_p = target.backward(x.z[:, order], x.gamma, x.beta, x.eps, grad[:, order])
    check.close("dz of the permuted mini-batch against dz[:, p]", dz_p, dz[:, order],
                tolerance("pair", np.float64, x.m, 2 * scales.dz(x.z, x.gamma, x.eps, grad)), "pair")
    check.close("dgamma of the permuted mini-batch", dgamma_p, dgamma,
                tolerance("pair", np.float64, x.m, 2 * scales.dgamma(x.z, x.eps, grad)), "pair")
    check.close("dbeta of the permuted mini-batch", dbeta_p, dbeta,
                tolerance("pair", np.float64, x.m, 2 * scales.dbeta(grad)), "pair")


@proves("BN-LOC-3")
def this_minibatch_alone(target, draw):
    x = draws.layer(draw)
    first = target.forward(x.z, x.gamma, x.beta, x.eps)
    other = draw(draws.batches(x.n, draw(st.integers(2, 8), "m_other")), "z_other")
    for _ in range(3):
        if target.has("update_running"):
            running_var = np.full((x.n, 1), 1e3)
            target.update_running(np.full((x.n, 1), 1e3), running_var, other, 0.5)
        target.forward(other, x.gamma, x.beta, x.eps)
    again = target.forward(x.z, x.gamma, x.beta, x.eps)
    check.close(
        "forward(z) after other mini-batches and running-statistics updates, against forward(z) before",
        again, first, tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, x.eps)), "pair",
    )
