"""The accuracy oracle and the accuracy clauses (BN-ACC-*): the oracle agrees with
mpmath at 100 digits, each clause rejects a less accurate reference patched in (the
one-pass variance), and the reference reports its worst error in units of eps * cond.

The plain two-pass statistics (the rounded mean subtracted, no correction) are not
a fault these clauses catch reliably: their extra error, u log2(m) |mu| / sigma, is
about one epsilon times the condition; docs/numerics.md gives the measurements."""

from __future__ import annotations

import dataclasses

import mpmath
import numpy as np
import pytest
from spec_runs import options

from bnspec.reference import batchnorm
from bnspec.spec import oracle
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.runner import run_clause
from bnspec.spec.target import load
from bnspec.spec.tolerances import ACCURACY


def _mp_forward_backward(z, gamma, beta, eps, grad):
    """The formulas at 100 digits with mpmath, unit by unit (an independent oracle)."""
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


def test_oracle_agrees_with_mpmath():
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


def _one_pass(z, out):
    """The one-pass variance E[z^2] - E[z]^2, clamped at 0."""
    mu = z.mean(axis=1, keepdims=True)
    var = np.maximum(np.square(z).mean(axis=1, keepdims=True) - np.square(mu), 0.0)
    return mu, np.subtract(z, mu, out=out), np.zeros_like(mu), var


CAUGHT_BY = [
    ((batchnorm, "_centered", _one_pass), "BN-ACC-1"),
    ((batchnorm, "_centered", _one_pass), "BN-ACC-2"),
    ((batchnorm, "_centered", _one_pass), "BN-ACC-3"),
]


@pytest.mark.parametrize(("patch", "clause_id"), CAUGHT_BY, ids=[f"{p[2].__name__}-{c}" for p, c in CAUGHT_BY])
def test_less_accurate_reference_is_caught(monkeypatch, patch, clause_id):
    owner, name, wrong = patch
    monkeypatch.setattr(owner, name, wrong)
    result = run_clause(REGISTRY[clause_id], load("reference"), dataclasses.replace(options(), shrink=False))
    assert result.status == "FAIL", f"{wrong.__doc__} passed {clause_id}"


@pytest.mark.parametrize(("clause_id", "kind"), [("BN-ACC-1", "forward"), ("BN-ACC-2", "backward"),
                                                 ("BN-ACC-3", "running")])
def test_reference_is_accurate_and_reports_its_error_in_units_of_eps_cond(clause_id, kind):
    """The worst error is reported, nonzero, in the units of the clause's own bound (1 machine
    epsilon x cond for forward; 2 for backward and the running update, derived in tolerances.ACCURACY)."""
    result = run_clause(REGISTRY[clause_id], load("reference"), options())
    assert result.status == "pass", result.message
    assert result.worst_units is not None and 0.0 < result.worst_units <= ACCURACY[kind][0]


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
