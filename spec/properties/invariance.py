"""Invariances and locality: the bias cancels (L7), scale invariance (paper
§3.3), units are independent (L10), examples exchangeable and each mini-batch
normalized on its own (L6).

Each claim about the output and the gradients is two clauses, one per function:
forward's (BN-INV-1, BN-INV-3, BN-LOC-1, BN-LOC-2) and backward's (BN-INV-2,
BN-INV-4, BN-LOC-4, BN-LOC-5), so that a target with forward alone is checked
on the first; a pair of locality clauses shares its draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from .. import strategies as draws
from ..target import Target
from ..tolerances import tolerance
from ..trial import Trial
from . import proves, scales

#: What the gradient clauses call: backward alone (``eps_in_effect`` probes forward only where there is one).
BACKWARD = ("backward",)


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


@dataclass(frozen=True)
class _ChangedUnit:
    """BN-LOC-1's and BN-LOC-4's example: ``x``, and ``changed``, its z with the values of ``unit`` replaced;
    ``keep`` selects the other units, ``eps`` is the one the implementation computes with (the statements
    hold for any eps: the tolerances are sized at it) and ``cond`` the worse condition of the two inputs."""

    x: draws.Layer
    unit: int
    changed: np.ndarray
    keep: np.ndarray
    eps: float
    cond: np.ndarray


def _changed_unit(target: Target, draw: draws.Draw) -> _ChangedUnit:
    x = draws.layer(draw, max_n=5)
    unit = draw(st.integers(0, x.n - 1), "changed_unit")
    other = draw(draws.batches(1, x.m), "new_values")
    changed = x.z.copy()
    changed[unit] = other[0]
    eps = target.eps_in_effect(x.eps)
    return _ChangedUnit(x, unit, changed, np.arange(x.n) != unit, eps, _worse(x.z, changed, eps))


@proves("BN-LOC-1")
def units_independent(target: Target, trial: Trial) -> None:
    c = _changed_unit(target, trial.draw)
    x, keep = c.x, c.keep
    scale = scales.output(x.z, x.gamma, x.beta, c.eps, c.cond)
    trial.close(
        f"forward of the units other than {c.unit} after changing unit {c.unit} against before",
        target.forward(c.changed, x.gamma, x.beta, x.eps)[keep], target.forward(x.z, x.gamma, x.beta, x.eps)[keep],
        tolerance("pair", np.float64, x.m, scale[keep]),
    )


@proves("BN-LOC-4", needs=BACKWARD)
def units_independent_in_gradients(target: Target, trial: Trial) -> None:
    c = _changed_unit(target, trial.draw)
    x, keep = c.x, c.keep
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    dz_changed = target.backward(c.changed, x.gamma, x.beta, x.eps, grad)[0]
    dz = target.backward(x.z, x.gamma, x.beta, x.eps, grad)[0]
    trial.close(
        f"dz of the units other than {c.unit} after changing unit {c.unit} against before", dz_changed[keep],
        dz[keep], tolerance("pair", np.float64, x.m, 2 * scales.dz(x.z, x.gamma, c.eps, grad, c.cond)[keep]),
    )


def _permutation(draw: draws.Draw) -> tuple[draws.Layer, np.ndarray]:
    """BN-LOC-2's and BN-LOC-5's example: an input and a permutation of its examples."""
    x = draws.layer(draw)
    return x, np.array(draw(st.permutations(range(x.m)), "permutation"))


@proves("BN-LOC-2")
def examples_exchangeable(target: Target, trial: Trial) -> None:
    x, order = _permutation(trial.draw)
    eps = target.eps_in_effect(x.eps)  # the statement holds for any eps: sized at the one computed with
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    trial.close(
        "forward(z[:, p]) against forward(z)[:, p]", target.forward(x.z[:, order], x.gamma, x.beta, x.eps),
        out[:, order], tolerance("pair", np.float64, x.m, scales.output(x.z, x.gamma, x.beta, eps)),
    )


@proves("BN-LOC-5", needs=BACKWARD)
def examples_exchangeable_in_gradients(target: Target, trial: Trial) -> None:
    x, order = _permutation(trial.draw)
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    eps = target.eps_in_effect(x.eps)  # the statement holds for any eps: sized at the one computed with
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
