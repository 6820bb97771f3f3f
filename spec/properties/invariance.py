"""Invariances and locality: the bias cancels (L7), scale invariance (paper
§3.3), units are independent (L10), examples exchangeable and each mini-batch
normalized on its own (L6)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import strategies as draws
from ..target import Target
from ..tolerances import tolerance
from ..trial import Trial
from . import proves, scales

BACKWARD = ("forward", "backward")


def _worse(z1: np.ndarray, z2: np.ndarray, eps: float) -> np.ndarray:
    return np.maximum(scales.condition(z1, eps), scales.condition(z2, eps))


def _bias(draw: draws.Draw, x: draws.Layer) -> np.ndarray:
    spread = np.sqrt(np.var(x.z, axis=1, keepdims=True) + x.eps)
    return draw(draws.column(x.n, -1e3, 1e3, special=(1.0, -1.0)), "b") * spread


@proves("BN-INV-1")
def bias_cancels(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    shifted = x.z + _bias(trial.draw, x)
    eps = target.eps_in_effect(x.eps)  # the statement holds for any eps: sized at the one computed with
    cond = _worse(x.z, shifted, eps)
    trial.close(
        "forward(z + b, ...) against forward(z, ...)",
        target.forward(shifted, x.gamma, x.beta, x.eps), target.forward(x.z, x.gamma, x.beta, x.eps),
        tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, eps, cond)),
    )


@proves("BN-INV-2", needs=BACKWARD)
def bias_cancels_in_gradients(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    shifted = x.z + _bias(trial.draw, x)
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    eps = target.eps_in_effect(x.eps)  # the statement holds for any eps: sized at the one computed with
    cond = _worse(x.z, shifted, eps)
    moved = target.backward(shifted, x.gamma, x.beta, x.eps, grad)
    base = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    tols = (scales.dz(x.z, x.gamma, eps, grad, cond), scales.dgamma(x.z, eps, grad, cond), scales.dbeta(grad))
    for name, a, b, scale in zip(("dz", "dgamma", "dbeta"), moved, base, tols, strict=True):
        trial.close(f"{name} at z + b against {name} at z", a, b, tolerance("pair", np.float64, x.m, 2 * scale))


def _scale_factor(draw: draws.Draw) -> float:
    # A power of two, from 2^-10 to 2^10: c z and c^2 eps are then exact, so the
    # comparison sees the implementation's rounding only, and eps / c^2 stays
    # representable in float32 where eps is (see strategies.attribute).
    return draw(st.integers(-10, 10).map(lambda k: 2.0**k), "c")


@proves("BN-INV-3")
def scale_invariance(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    c = _scale_factor(trial.draw)
    cond = _worse(x.z, c * x.z, x.eps / c**2)
    trial.close(
        "forward(c z, gamma, beta, eps) against forward(z, gamma, beta, eps / c^2)",
        target.forward(c * x.z, x.gamma, x.beta, x.eps), target.forward(x.z, x.gamma, x.beta, x.eps / c**2),
        tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, x.eps / c**2, cond)),
    )


@proves("BN-INV-4", needs=BACKWARD)
def gradient_scales(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    c = _scale_factor(trial.draw)
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    dz_c, dgamma_c, dbeta_c = target.backward(c * x.z, x.gamma, x.beta, c**2 * x.eps, grad)
    dz, dgamma, dbeta = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    cond = _worse(x.z, c * x.z, x.eps)
    trial.close("c * dz at (c z, c^2 eps) against dz at (z, eps)", c * dz_c, dz,
                tolerance("pair", np.float64, x.m, 2 * scales.dz(x.z, x.gamma, x.eps, grad, cond)))
    trial.close("dgamma at (c z, c^2 eps) against dgamma at (z, eps)", dgamma_c, dgamma,
                tolerance("pair", np.float64, x.m, 2 * scales.dgamma(x.z, x.eps, grad, cond)))
    trial.close("dbeta at (c z, c^2 eps) against dbeta at (z, eps)", dbeta_c, dbeta,
                tolerance("pair", np.float64, x.m, 2 * scales.dbeta(grad)))


@proves("BN-LOC-1", needs=BACKWARD)
def units_independent(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw, max_n=5)
    unit = trial.draw(st.integers(0, x.n - 1), "changed_unit")
    other = trial.draw(draws.batches(1, x.m), "new_values")
    changed = x.z.copy()
    changed[unit] = other[0]
    keep = np.arange(x.n) != unit
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    eps = target.eps_in_effect(x.eps)  # the statement holds for any eps: sized at the one computed with
    cond = _worse(x.z, changed, eps)
    scale = scales.output(x.z, x.gamma, x.beta, eps, cond)
    trial.close(
        f"forward of the units other than {unit} after changing unit {unit} against before",
        target.forward(changed, x.gamma, x.beta, x.eps)[keep], target.forward(x.z, x.gamma, x.beta, x.eps)[keep],
        tolerance("pair", np.float64, x.m, scale[keep]),
    )
    dz_changed = target.backward(changed, x.gamma, x.beta, x.eps, grad)[0]
    dz = target.backward(x.z, x.gamma, x.beta, x.eps, grad)[0]
    trial.close(
        f"dz of the units other than {unit} after changing unit {unit} against before", dz_changed[keep], dz[keep],
        tolerance("pair", np.float64, x.m, 2 * scales.dz(x.z, x.gamma, eps, grad, cond)[keep]),
    )


@proves("BN-LOC-2", needs=BACKWARD)
def examples_exchangeable(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    order = np.array(trial.draw(st.permutations(range(x.m)), "permutation"))
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    eps = target.eps_in_effect(x.eps)  # the statement holds for any eps: sized at the one computed with
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    trial.close(
        "forward(z[:, p]) against forward(z)[:, p]", target.forward(x.z[:, order], x.gamma, x.beta, x.eps),
        out[:, order], tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, eps)),
    )
    dz, dgamma, dbeta = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    dz_p, dgamma_p, dbeta_p = target.backward(x.z[:, order], x.gamma, x.beta, x.eps, grad[:, order])
    trial.close("dz of the permuted mini-batch against dz[:, p]", dz_p, dz[:, order],
                tolerance("pair", np.float64, x.m, 2 * scales.dz(x.z, x.gamma, eps, grad)))
    trial.close("dgamma of the permuted mini-batch against dgamma", dgamma_p, dgamma,
                tolerance("pair", np.float64, x.m, 2 * scales.dgamma(x.z, eps, grad)))
    trial.close("dbeta of the permuted mini-batch against dbeta", dbeta_p, dbeta,
                tolerance("pair", np.float64, x.m, 2 * scales.dbeta(grad)))


@proves("BN-LOC-3")
def this_minibatch_alone(target: Target, trial: Trial) -> None:
    x = draws.layer(trial.draw)
    first = target.forward(x.z, x.gamma, x.beta, x.eps)
    other = trial.draw(draws.batches(x.n, trial.draw(st.integers(2, 8), "m_other")), "z_other")
    for _ in range(3):
        if target.has("update_running"):
            running_var = np.full((x.n, 1), 1e3)
            target.update_running(np.full((x.n, 1), 1e3), running_var, other, 0.5)
        target.forward(other, x.gamma, x.beta, x.eps)
    again = target.forward(x.z, x.gamma, x.beta, x.eps)
    trial.close(
        "forward(z) after other mini-batches and running-statistics updates, against forward(z) before",
        again, first,
        tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, target.eps_in_effect(x.eps))),
    )
