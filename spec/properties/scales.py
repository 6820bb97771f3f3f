"""The natural magnitudes of BN's quantities, the ``scale`` of each tolerance.

See :mod:`bnspec.spec.tolerances` for how a scale becomes a tolerance.  All
scales are per unit (``n x 1``) unless said otherwise and include the condition
``cond = 1 + |mu| / sqrt(sigma^2 + eps)`` of the drawn input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bnspec.reference.batchnorm import batch_statistics

from .. import tolerances
from ..tolerances import unit_roundoff

if TYPE_CHECKING:
    from ..strategies import Layer


def condition(z: np.ndarray, eps: float) -> np.ndarray:
    return tolerances.condition(z, eps)


def inv_std(z: np.ndarray, eps: float) -> np.ndarray:
    """``1 / sqrt(sigma^2 + eps)`` per unit, float64."""
    _, var = batch_statistics(np.asarray(z, dtype=np.float64))
    return 1.0 / np.sqrt(var + eps)


def output(
    z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, cond: np.ndarray | None = None
) -> np.ndarray:
    """An output element: ``|gamma| (cond + sqrt(m)) + |beta|`` (|z_norm| <= sqrt(m))."""
    cond = condition(z, eps) if cond is None else cond
    return np.abs(gamma) * (cond + np.sqrt(z.shape[1])) + np.abs(beta)


def dz(z: np.ndarray, gamma: np.ndarray, eps: float, grad: np.ndarray, cond: np.ndarray | None = None) -> np.ndarray:
    """An element of dz: ``|gamma| / sqrt(sigma^2 + eps) * max|grad| * (cond + m)``."""
    cond = condition(z, eps) if cond is None else cond
    gmax = np.abs(grad).max(axis=1, keepdims=True)
    return np.abs(gamma) * inv_std(z, eps) * gmax * (cond + z.shape[1])


def dgamma(z: np.ndarray, eps: float, grad: np.ndarray, cond: np.ndarray | None = None) -> np.ndarray:
    """dgamma: ``sum|grad| * (cond + sqrt(m))``."""
    cond = condition(z, eps) if cond is None else cond
    return np.abs(grad).sum(axis=1, keepdims=True) * (cond + np.sqrt(z.shape[1]))


def dbeta(grad: np.ndarray) -> np.ndarray:
    """dbeta: ``sum|grad|``."""
    return np.abs(grad).sum(axis=1, keepdims=True)


def batch_mean(z: np.ndarray) -> np.ndarray:
    """The batch mean's magnitude: ``|mu| + sigma``."""
    mu, sigma2 = batch_statistics(z)
    return np.abs(mu) + np.sqrt(sigma2)


def batch_var(z: np.ndarray, eps: float) -> np.ndarray:
    """The batch variance's backward error: ``sigma^2 cond + u mu^2``.

    Perturbing each z by u|z| (backward stability) moves sigma^2 by about
    ``2 sigma u |mu|`` plus ``(u mu)^2`` -- the second term is all that remains
    for a constant unit.  The one-pass formula errs by ``u mu^2``, a factor 1/u
    beyond, and fails.  The m/(m - 1) factor covers unbiased profiles.
    """
    mu, sigma2 = batch_statistics(z)
    m = z.shape[1]
    return (sigma2 * condition(z, eps) + unit_roundoff(np.float64) * mu**2) * (m / max(m - 1, 1))


def inference_output(x: Layer, running_mean: np.ndarray, running_var: np.ndarray) -> np.ndarray:
    """An inference output of the drawn layer ``x``, elementwise (``n x m``):
    ``|gamma| (|z| + |running_mean|) / sqrt(running_var + eps) + |gamma| + |beta|``."""
    root = np.sqrt(running_var + x.eps)
    return np.abs(x.gamma) * (np.abs(x.z) + np.abs(running_mean) + root) / root + np.abs(x.beta)
