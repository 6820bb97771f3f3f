"""The reference's accuracy against the exact oracle (:mod:`bnspec.spec.oracle`).

Each error is measured in units of ``eps * cond * scale``: ``eps`` is float64's
*machine epsilon* 2u = 2^-52 (not BN's eps), ``cond`` the condition of the
quantity and ``scale`` its natural magnitude, both computed from the exact
statistics of the drawn input.  The bound in those units is
``tolerances.ACCURACY``; ``docs/numerics.md`` derives the conditions:

- forward: ``cond = 1 + |mu| / sqrt(sigma^2 + eps)`` (a relative change u of the
  inputs moves the mean by u|mu|, hence z_norm by u|mu| / sqrt(sigma^2 + eps)),
  scale ``|gamma| (1 + |z_norm|) + |beta|`` per element;
- dz: the same cond, scale ``|gamma| inv_std (|g| + (1 + |z_norm|)(mean|g| + mean|g z_norm|))``
  (a shift of z_norm by u cond moves dz by ``|gamma| inv_std u cond (|M| + |z_norm| |mean g|)``);
- dgamma: cond, scale ``sum |g| (1 + |z_norm|)``; dbeta: a plain sum of grad, cond 1,
  scale ``sum |g|``;
- the running mean: ``|momentum * old| + (1 - momentum)(|mu| + sigma)``; the running
  variance: ``|momentum * old| + (1 - momentum)(sigma^2 + sigma |mu| + eps mu^2)``
  (sigma^2 (1 + |mu| / sigma) is the variance's own condition-weighted size; eps mu^2
  the rounding of the data's mean, all that remains for a constant unit).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import assertions as check
from .. import oracle
from .. import strategies as draws
from ..tolerances import ACCURACY, machine_epsilon, units_tolerance
from . import proves

EPS64 = machine_epsilon(np.float64)


def _exact_moments(z):
    stats = oracle.statistics(z)
    return stats[0][:, :1], stats[0][:, 1:]


def _condition(mu, var, eps):
    return 1.0 + np.abs(mu) / np.sqrt(var + eps)


def _within(what, difference, scale, bound):
    units, why = ACCURACY[bound]
    check.close(f"{what} minus the exact result", difference, np.zeros_like(difference),
                units_tolerance(units, np.float64, scale),
                f"{units:g} x machine eps x cond x scale, {bound} accuracy")


def forward_scale(z, gamma, beta, eps):
    """``cond * (|gamma| (1 + |z_norm|) + |beta|)`` per element, from the exact statistics."""
    mu, var = _exact_moments(z)
    z_norm = (z - mu) / np.sqrt(var + eps)
    return _condition(mu, var, eps) * (np.abs(gamma) * (1 + np.abs(z_norm)) + np.abs(beta))


def backward_scales(z, gamma, eps, grad):
    """``(dz, dgamma, dbeta)`` scales, condition included (see the module's docstring)."""
    mu, var = _exact_moments(z)
    inv_std = 1.0 / np.sqrt(var + eps)
    cond = _condition(mu, var, eps)
    z_norm = (z - mu) * inv_std
    mean_g = np.abs(grad).mean(axis=1, keepdims=True)
    mean_gz = np.abs(grad * z_norm).mean(axis=1, keepdims=True)
    dz = cond * np.abs(gamma) * inv_std * (np.abs(grad) + (1 + np.abs(z_norm)) * (mean_g + mean_gz))
    dgamma = cond * (np.abs(grad) * (1 + np.abs(z_norm))).sum(axis=1, keepdims=True)
    return dz, dgamma, np.abs(grad).sum(axis=1, keepdims=True)


def running_scales(running_mean, running_var, z, momentum):
    """``(mean, variance)`` scales of one running update."""
    mu, var = _exact_moments(z)
    sigma = np.sqrt(var)
    mean = np.abs(momentum * running_mean) + (1 - momentum) * (np.abs(mu) + sigma)
    variance = np.abs(momentum * running_var) + (1 - momentum) * (var + sigma * np.abs(mu) + EPS64 * mu**2)
    return mean, variance


@proves("BN-ACC-1")
def forward_is_accurate(target, draw):
    x = draws.layer(draw)
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    _within("forward(z, gamma, beta, eps)", oracle.difference(out, oracle.forward(x.z, x.gamma, x.beta, x.eps)),
            forward_scale(x.z, x.gamma, x.beta, x.eps), "forward")


@proves("BN-ACC-2", needs=("backward",))
def backward_is_accurate(target, draw):
    x = draws.layer(draw)
    grad = draw(draws.upstream(x.n, x.m), "grad")
    observed = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    exact = oracle.backward(x.z, x.gamma, x.eps, grad)
    for name, value, truth, scale in zip(("dz", "dgamma", "dbeta"), observed, exact,
                                         backward_scales(x.z, x.gamma, x.eps, grad), strict=True):
        _within(name, oracle.difference(value, truth), scale, "backward")


@proves("BN-ACC-3", needs=("update_running",))
def running_update_is_accurate(target, draw):
    x = draws.layer(draw)
    running_mean = draw(draws.column(x.n, -1e3, 1e3, special=(0.0,)), "running_mean")
    running_var = draw(draws.column(x.n, 1e-4, 1e4, special=(1.0,)), "running_var")
    momentum = draw(st.one_of(st.sampled_from([0.0, 0.9, 0.99, 0.1]), st.floats(0.0, 1.0)).map(draws.attribute),
                    "momentum")
    new_mean, new_var = target.update_running(running_mean, running_var, x.z, momentum)
    exact = oracle.update_running(running_mean, running_var, x.z, momentum)
    mean_scale, var_scale = running_scales(running_mean, running_var, x.z, momentum)
    _within("the new running mean", oracle.difference(new_mean, oracle.column(exact, 0)), mean_scale, "running")
    _within("the new running variance", oracle.difference(new_var, oracle.column(exact, 1)), var_scale, "running")

