"""Properties of backward (paper §3): shapes, finite differences along random
directions, the closed forms of dgamma and dbeta, and the identities of dz.

The statements of BN-GRAD-1 to BN-GRAD-6 hold for any eps: their tolerances and
finite-difference steps are sized with the eps the implementation computes with
(:meth:`~bnspec.spec.target.Target.eps_in_effect`), so that one that ignores its eps
argument fails only the clauses about eps's value (BN-GRAD-7, BN-GRAD-REF here)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bnspec.reference import batchnorm as ref

from .. import strategies as draws
from ..target import Target
from ..tolerances import FD_RTOL, FD_STEP, Tolerance, tolerance
from ..trial import Trial
from . import proves, scales

BACKWARD = ("forward", "backward")


def _gradient_case(
    target: Target, draw: draws.Draw, max_offset_ratio: float = draws.MAX_OFFSET_RATIO
) -> tuple[draws.Layer, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    x = draws.layer(draw, max_offset_ratio=max_offset_ratio)
    grad = draw(draws.upstream(x.n, x.m), "grad")
    return x, grad, target.backward(x.z, x.gamma, x.beta, x.eps, grad)


def _direction(draw: draws.Draw, shape: tuple[int, ...], label: str) -> np.ndarray:
    """A direction with no zero entry (each entry of either sign in [0.1, 1])."""
    magnitude = st.floats(0.1, 1.0)
    return draw(hnp.arrays(np.float64, shape, elements=st.one_of(magnitude, magnitude.map(lambda v: -v))), label)


def _directional(f: Callable[[float], float], step: float) -> float:
    """d/dt f(t) at 0 by central differences at t and t/2, Richardson-extrapolated (error O(t^4))."""

    def central(t: float) -> float:
        return (f(t) - f(-t)) / (2 * t)

    return (4 * central(step / 2) - central(step)) / 3


def _fd_check(trial: Trial, what: str, analytic: float, fd: float, terms: np.ndarray, f_scale: float,
              step: float) -> None:
    """|fd - analytic| <= FD_RTOL (|fd| + sum|terms|) + the differences' rounding floor.

    The floor: each f(t) is a sum of grad * output with output errors of a
    'value' check, divided by the step; Richardson combines five of them.
    """
    floor = float(tolerance("value", np.float64, 1, 5 * f_scale / step).atol)
    # Not of the K u cond scale form: relative to the finite difference (FD_RTOL, see
    # tolerances) plus the rounding floor above, hence built here, with no units.
    tol = Tolerance(np.asarray(FD_RTOL * (abs(fd) + np.abs(terms).sum()) + floor), "finite differences")
    trial.close(what, np.asarray(analytic), np.asarray(fd), tol)


def _objective_scale(x: draws.Layer, grad: np.ndarray, eps: float, gamma: np.ndarray | None = None,
                     beta: np.ndarray | None = None) -> float:
    """``sum |grad| * scales.output``: the magnitude of ``sum(grad * forward)``, at the eps in effect."""
    gamma = x.gamma if gamma is None else gamma
    beta = x.beta if beta is None else beta
    return float((np.abs(grad) * scales.output(x.z, gamma, beta, eps)).sum())


@proves("BN-SHAPE-2", needs=BACKWARD)
def gradient_shapes(target: Target, trial: Trial) -> None:
    x, _, (dz, dgamma, dbeta) = _gradient_case(target, trial.draw)
    trial.equal("shape of dz", dz.shape, x.z.shape)
    trial.equal("shape of dgamma", dgamma.shape, (x.n, 1))
    trial.equal("shape of dbeta", dbeta.shape, (x.n, 1))


@proves("BN-GRAD-1", needs=BACKWARD)
def dz_is_the_gradient(target: Target, trial: Trial) -> None:
    x, grad, (dz, _, _) = _gradient_case(target, trial.draw, draws.FD_OFFSET_RATIO)
    eps = target.eps_in_effect(x.eps)
    # steps relative to each unit's spread sqrt(sigma^2 + eps) as the implementation computes it
    v = _direction(trial.draw, x.z.shape, "direction") / scales.inv_std(x.z, eps)
    fd = _directional(lambda t: float((grad * target.forward(x.z + t * v, x.gamma, x.beta, x.eps)).sum()), FD_STEP)
    _fd_check(trial, "<dz, V> against the directional finite difference", float((dz * v).sum()), fd, dz * v,
              _objective_scale(x, grad, eps), FD_STEP)


@proves("BN-GRAD-2", needs=BACKWARD)
def dgamma_is_the_gradient(target: Target, trial: Trial) -> None:
    x, grad, (_, dgamma, _) = _gradient_case(target, trial.draw, draws.FD_OFFSET_RATIO)
    w = _direction(trial.draw, (x.n, 1), "direction")
    fd = _directional(lambda t: float((grad * target.forward(x.z, x.gamma + t * w, x.beta, x.eps)).sum()), 1.0)
    _fd_check(trial, "<dgamma, w> against the directional finite difference", float((dgamma * w).sum()), fd,
              dgamma * w, _objective_scale(x, grad, target.eps_in_effect(x.eps), gamma=np.abs(x.gamma) + 1), 1.0)


@proves("BN-GRAD-3", needs=BACKWARD)
def dbeta_is_the_gradient(target: Target, trial: Trial) -> None:
    x, grad, (_, _, dbeta) = _gradient_case(target, trial.draw, draws.FD_OFFSET_RATIO)
    w = _direction(trial.draw, (x.n, 1), "direction")
    fd = _directional(lambda t: float((grad * target.forward(x.z, x.gamma, x.beta + t * w, x.eps)).sum()), 1.0)
    _fd_check(trial, "<dbeta, w> against the directional finite difference", float((dbeta * w).sum()), fd,
              dbeta * w, _objective_scale(x, grad, target.eps_in_effect(x.eps), beta=np.abs(x.beta) + 1), 1.0)


@proves("BN-GRAD-4", needs=BACKWARD)
def dbeta_sums_grad(target: Target, trial: Trial) -> None:
    x, grad, (_, _, dbeta) = _gradient_case(target, trial.draw)
    trial.close("dbeta against sum(grad) per unit", dbeta, grad.sum(axis=1, keepdims=True),
                tolerance("gradient", np.float64, x.m, scales.dbeta(grad)))


def _z_norm(target: Target, x: draws.Layer) -> np.ndarray:
    return target.forward(x.z, np.ones((x.n, 1)), np.zeros((x.n, 1)), x.eps)


@proves("BN-GRAD-5", needs=BACKWARD)
def dgamma_weighs_by_z_norm(target: Target, trial: Trial) -> None:
    x, grad, (_, dgamma, _) = _gradient_case(target, trial.draw)
    required = (grad * _z_norm(target, x)).sum(axis=1, keepdims=True)
    trial.close("dgamma against sum(grad * z_norm) per unit", dgamma, required,
                tolerance("gradient", np.float64, x.m, scales.dgamma(x.z, target.eps_in_effect(x.eps), grad)))


@proves("BN-GRAD-6", needs=BACKWARD)
def dz_sums_to_zero(target: Target, trial: Trial) -> None:
    x, grad, (dz, _, _) = _gradient_case(target, trial.draw)
    scale = x.m * scales.dz(x.z, x.gamma, target.eps_in_effect(x.eps), grad)
    trial.close("sum(dz) per unit", dz.sum(axis=1, keepdims=True), np.zeros((x.n, 1)),
                tolerance("gradient", np.float64, x.m, scale))


@proves("BN-GRAD-7", needs=BACKWARD)
def dz_against_z_norm(target: Target, trial: Trial) -> None:
    x, grad, (dz, _, _) = _gradient_case(target, trial.draw)
    z_norm = _z_norm(target, x)
    _, var = ref.batch_statistics(x.z)
    # sum(dz z_norm) = gamma inv_std (1 - sigma^2 / (sigma^2 + eps)) sum(grad z_norm), since
    # sum(z_norm^2) = m sigma^2 / (sigma^2 + eps): the eps left over is what remains.
    required = x.gamma * x.eps / (var + x.eps) ** 1.5 * (grad * z_norm).sum(axis=1, keepdims=True)
    scale = x.m * np.sqrt(x.m) * scales.dz(x.z, x.gamma, x.eps, grad)
    trial.close("sum(dz * z_norm) per unit", (dz * z_norm).sum(axis=1, keepdims=True), required,
                tolerance("gradient", np.float64, x.m, scale))


@proves("BN-GRAD-REF", needs=BACKWARD)
def backward_agrees_with_reference(target: Target, trial: Trial) -> None:
    x, grad, (dz, dgamma, dbeta) = _gradient_case(target, trial.draw)
    ref_dz, ref_dgamma, ref_dbeta = ref.backward(x.z, x.gamma, x.beta, x.eps, grad)
    trial.close("dz against the reference", dz, ref_dz,
                tolerance("gradient", np.float64, x.m, scales.dz(x.z, x.gamma, x.eps, grad)), observed_src="result1[0]",
                required_src="gamma / np.sqrt(var(z) + eps) * (grad - mean(grad) - z_norm(z, eps) * "
                             "mean(grad * z_norm(z, eps)))")
    trial.close("dgamma against the reference", dgamma, ref_dgamma,
                tolerance("gradient", np.float64, x.m, scales.dgamma(x.z, x.eps, grad)),
                observed_src="result1[1]", required_src="(grad * z_norm(z, eps)).sum(axis=1, keepdims=True)")
    trial.close("dbeta against the reference", dbeta, ref_dbeta,
                tolerance("gradient", np.float64, x.m, scales.dbeta(grad)),
                observed_src="result1[2]", required_src="grad.sum(axis=1, keepdims=True)")
