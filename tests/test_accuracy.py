"""The accuracy oracle and the reference's accuracy against it: the oracle agrees with mpmath
at 100 digits; under hypothesis, every forward, backward and running update of the reference
stays within the bound derived for its code (``tolerances.ACCURACY``, derived in
docs/numerics.md), and each search reports its worst error in units of machine eps * cond *
scale; a less accurate reference patched in (the one-pass variance, float32 statistics) fails.

Units: ``eps`` is float64's *machine epsilon* 2u = 2^-52 (not BN's eps), ``cond = 1 + |mu| /
sqrt(sigma^2 + eps)`` the condition of the drawn unit and ``scale`` the natural magnitude of
the quantity, both from the exact statistics:

- forward: ``|gamma| (1 + |z_norm|) + |beta|`` per element;
- dz: ``|gamma| inv_std (|g| + (1 + |z_norm|)(mean|g| + mean|g z_norm|))`` (a shift of z_norm by
  u cond moves dz by ``|gamma| inv_std u cond (|M| + |z_norm| |mean g|)``, and the two means
  are sums whose rounding is relative to mean|g| and mean|g z_norm|);
- dgamma: ``sum |g| (1 + |z_norm|)``; dbeta: ``sum |g|`` (a plain sum: cond 1);
- the running mean: ``|momentum * old| + (1 - momentum)(|mu| + sigma)``; the running
  variance: ``|momentum * old| + (1 - momentum)(sigma^2 + sigma |mu| + eps mu^2)``
  (sigma^2 (1 + |mu| / sigma) is the variance's own condition-weighted size; eps mu^2
  the rounding of the data's mean, all that remains for a constant unit).

These were the reference-only clauses BN-ACC-1..3: they test the reference's own numerics,
not an implementation of the protocol.  The plain two-pass statistics (the rounded mean
subtracted, no correction) are not a fault these bounds catch: their extra error, about
m u |mu| / sigma, is m / 2 in these units, below the bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from requirements import require_module

from bnspec.reference import batchnorm
from bnspec.spec import oracle
from bnspec.spec import strategies as draws
from bnspec.spec.tolerances import ACCURACY, machine_epsilon

EPS64 = machine_epsilon(np.float64)


def _mp_forward_backward(z, gamma, beta, eps, grad):
    """The formulas at 100 digits with mpmath, unit by unit (an independent oracle)."""
    import mpmath

    mpmath.mp.dps = 100
    out, dz, dgamma = np.empty(z.shape, object), np.empty(z.shape, object), []
    for j, row in enumerate(z):
        x, g = [mpmath.mpf(float(v)) for v in row], [mpmath.mpf(float(v)) for v in grad[j]]
        m = len(x)
        mu = mpmath.fsum(x) / m
        var = mpmath.fsum((v - mu) ** 2 for v in x) / m
        r = 1 / mpmath.sqrt(var + mpmath.mpf(eps))
        zn = [(v - mu) * r for v in x]
        mean_g, mean_gz = mpmath.fsum(g) / m, mpmath.fsum(a * b for a, b in zip(g, zn, strict=True)) / m
        out[j] = [mpmath.mpf(float(gamma[j, 0])) * v + mpmath.mpf(float(beta[j, 0])) for v in zn]
        dz[j] = [mpmath.mpf(float(gamma[j, 0])) * r * (a - mean_g - b * mean_gz) for a, b in zip(g, zn, strict=True)]
        dgamma.append(mean_gz * m)
    return out, dz, dgamma


@require_module("mpmath", "dev")
def test_oracle_agrees_with_mpmath():
    import mpmath

    rng = np.random.default_rng(7)
    for offset in (0.0, 1e4, -1e8):
        z = rng.normal(offset, 1.0, size=(3, 7))
        gamma, beta, grad = rng.normal(size=(3, 1)), rng.normal(size=(3, 1)), rng.normal(size=(3, 7))
        out, dz, dgamma = _mp_forward_backward(z, gamma, beta, 1e-5, grad)
        got_out = oracle.forward(z, gamma, beta, 1e-5)
        got_dz, got_dgamma, _ = oracle.backward(z, gamma, 1e-5, grad)
        for exact, (hi, lo) in ((out, got_out), (dz, got_dz)):
            for index in np.ndindex(hi.shape):
                # hi + lo carries the exact value to 2^-106 relative; mpmath's to 10^-95.
                assert abs(mpmath.mpf(hi[index]) + mpmath.mpf(lo[index]) - exact[index]) <= 1e-30 * (
                    abs(exact[index]) + 1e-300)
        for j, exact in enumerate(dgamma):
            value = mpmath.mpf(got_dgamma[0][j, 0]) + mpmath.mpf(got_dgamma[1][j, 0])
            assert abs(value - exact) <= 1e-30 * abs(exact)


def test_error_is_measured_beyond_the_rounding_of_the_exact_value():
    z = np.array([[0.1, 0.2, 0.7]])
    exact = oracle.forward(z, np.ones((1, 1)), np.zeros((1, 1)), 1e-5)
    assert np.all(exact[1] != 0.0)  # the exact values are not floats: lo carries the rest
    assert np.array_equal(oracle.difference(exact[0], exact), -exact[1])


def _exact_moments(z):
    stats = oracle.statistics(z)
    return stats[0][:, :1], stats[0][:, 1:]


def _condition(mu, var, eps):
    return 1.0 + np.abs(mu) / np.sqrt(var + eps)


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


def bound(quantity: str, m: int) -> float:
    """``tolerances.ACCURACY``'s bound for ``quantity`` at m examples, in units of eps * cond * scale."""
    base, per_example, _ = ACCURACY[quantity]
    return base + per_example * m


def _within(what, quantity, m, difference, scale) -> float:
    """The worst error in units of eps * cond * scale; fails beyond the bound (NaN fails too)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        units = np.where(scale > 0, np.abs(difference) / (EPS64 * scale), np.where(difference == 0, 0.0, np.inf))
    worst = float(np.max(units))
    assert worst <= bound(quantity, m), (
        f"{what} minus the exact result: {worst:.3g} x machine eps x cond x scale, beyond the bound "
        f"{bound(quantity, m):g} of {quantity} at m = {m} (tolerances.ACCURACY)")
    return worst


def forward_error(draw) -> dict[str, float]:
    x = draws.layer(draw)
    out = batchnorm.forward(x.z, x.gamma, x.beta, x.eps)
    exact = oracle.forward(x.z, x.gamma, x.beta, x.eps)
    return {"forward": _within("forward(z, gamma, beta, eps)", "forward", x.m, oracle.difference(out, exact),
                               forward_scale(x.z, x.gamma, x.beta, x.eps))}


def backward_error(draw) -> dict[str, float]:
    x = draws.layer(draw)
    grad = draw(draws.upstream(x.n, x.m), "grad")
    observed = batchnorm.backward(x.z, x.gamma, x.beta, x.eps, grad)
    exact = oracle.backward(x.z, x.gamma, x.eps, grad)
    scales = backward_scales(x.z, x.gamma, x.eps, grad)
    return {name: _within(name, name, x.m, oracle.difference(value, truth), scale)
            for name, value, truth, scale in zip(("dz", "dgamma", "dbeta"), observed, exact, scales, strict=True)}


def running_error(draw) -> dict[str, float]:
    x = draws.layer(draw)
    running_mean = draw(draws.column(x.n, -1e3, 1e3, special=(0.0,)), "running_mean")
    running_var = draw(draws.column(x.n, 1e-4, 1e4, special=(1.0,)), "running_var")
    momentum = draw(st.one_of(st.sampled_from([0.0, 0.9, 0.99, 0.1]), st.floats(0.0, 1.0)).map(draws.attribute),
                    "momentum")
    new_mean, new_var = batchnorm.update_running(running_mean, running_var, x.z, momentum)
    exact = oracle.update_running(running_mean, running_var, x.z, momentum)
    mean_scale, var_scale = running_scales(running_mean, running_var, x.z, momentum)
    return {"running_mean": _within("the new running mean", "running_mean", x.m,
                                    oracle.difference(new_mean, oracle.column(exact, 0)), mean_scale),
            "running_var": _within("the new running variance", "running_var", x.m,
                                   oracle.difference(new_var, oracle.column(exact, 1)), var_scale)}


CHECKS = {"forward": forward_error, "backward": backward_error, "running": running_error}


def search(check, **overrides) -> dict[str, float]:
    """Run ``check`` on the reference under hypothesis (the loaded profile's settings, as the
    clauses' runs had: 40 derandomized examples by default, 1000 under the thorough profile)
    and return each quantity's worst error in units of eps * cond * scale."""
    worst: dict[str, float] = {}

    @settings(**overrides)
    @given(st.data())
    def run(data):
        for quantity, units in check(draws.Draw(data)).items():
            worst[quantity] = max(worst.get(quantity, 0.0), units)

    run()
    return worst


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_reference_is_within_its_derived_bound_and_reports_its_error(check):
    """Every example within tolerances.ACCURACY's bound; the worst error, in units of eps * cond *
    scale, is nonzero (the measurement is live) and printed (pytest -s shows it)."""
    worst = search(CHECKS[check])
    print(f"{check}: worst error in units of machine eps x cond x scale: {worst}")
    assert worst and all(0.0 < units for units in worst.values()), worst


def _one_pass(z):
    """The one-pass variance E[z^2] - E[z]^2, clamped at 0."""
    mu = np.mean(z, axis=1, keepdims=True)
    return mu, z - mu, np.maximum(np.mean(z * z, axis=1, keepdims=True) - mu * mu, 0.0)


def _float32_statistics(z):
    """The statistics of float64 input computed in float32."""
    mu, centered, var = ORIGINAL_STATISTICS(z.astype(np.float32))
    return mu.astype(z.dtype), centered.astype(z.dtype), var.astype(z.dtype)


ORIGINAL_STATISTICS = batchnorm._statistics
CAUGHT = [(_one_pass, check) for check in sorted(CHECKS)] + [(_float32_statistics, "forward")]


@pytest.mark.parametrize(("wrong", "check"), CAUGHT, ids=[f"{w.__name__}-{c}" for w, c in CAUGHT])
def test_less_accurate_reference_is_caught(monkeypatch, wrong, check):
    monkeypatch.setattr(batchnorm, "_statistics", wrong)
    with pytest.raises(AssertionError):
        search(CHECKS[check], phases=(Phase.explicit, Phase.reuse, Phase.generate), report_multiple_bugs=False)


def test_layer_strategy_reaches_offsets_of_1e8():
    """The conformance clauses draw |mu| / sigma up to 1e8 (spec/strategies.py): hypothesis
    finds such a mini-batch, so the correct implementations' passes and the one-pass
    variance's rejection (OnePassVarianceBN in test_meta_zoo.py) cover that range."""
    from hypothesis import find, settings

    from bnspec.spec import strategies as draws

    def ratio(z):
        mu, var = batchnorm.batch_statistics(z)
        return float((np.abs(mu) / np.sqrt(var)).max()) if (var > 0).all() else 0.0

    z = find(draws.batches(1, 4), lambda z: 5e7 <= ratio(z) <= 2e8,
             settings=settings(max_examples=2000, database=None))
    assert draws.MAX_OFFSET_RATIO == 1e8 and 5e7 <= ratio(z) <= 2e8
