"""The reference's BN layer against an independent, exact implementation of the
formulas (50-digit decimals), and its refusal of bad input."""

from __future__ import annotations

import warnings
from decimal import Decimal, getcontext

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from requirements import require_module

from bnspec.reference import batchnorm as bn
from bnspec.spec.tolerances import condition

getcontext().prec = 50
U = np.finfo(np.float64).eps / 2


def _exact_forward_backward(z, gamma, beta, eps, grad):
    """The lecture's formulas, unit by unit, in 50-digit decimal arithmetic."""
    out, dz = np.empty_like(z), np.empty_like(z)
    dgamma, dbeta = np.empty((z.shape[0], 1)), np.empty((z.shape[0], 1))
    for j, row in enumerate(z):
        x = [Decimal(float(v)) for v in row]
        g = [Decimal(float(v)) for v in grad[j]]
        m = Decimal(len(x))
        mu = sum(x) / m
        var = sum((v - mu) ** 2 for v in x) / m
        inv = 1 / (var + Decimal(eps)).sqrt()
        zn = [(v - mu) * inv for v in x]
        gam, bet = Decimal(float(gamma[j, 0])), Decimal(float(beta[j, 0]))
        out[j] = [float(gam * v + bet) for v in zn]
        mean_g = sum(g) / m
        mean_gz = sum(a * b for a, b in zip(g, zn, strict=True)) / m
        dz[j] = [float(gam * inv * (a - mean_g - b * mean_gz)) for a, b in zip(g, zn, strict=True)]
        dgamma[j, 0] = float(mean_gz * m)
        dbeta[j, 0] = float(sum(g))
    return out, dz, dgamma, dbeta


def _within(error, bound):
    error, bound = np.broadcast_arrays(error, bound)
    assert (error <= bound).all(), f"worst error {error.max():.3g}, bound {bound[np.argmax(error - bound)]:.3g}"


@st.composite
def layer_inputs(draw):
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 9))
    floats = st.floats(-3, 3, allow_subnormal=False)
    offset = draw(st.sampled_from([0.0, 10.0, -1e4, 1e6]))
    z = draw(hnp.arrays(np.float64, (n, m), elements=floats)) + offset
    gamma = draw(hnp.arrays(np.float64, (n, 1), elements=floats))
    beta = draw(hnp.arrays(np.float64, (n, 1), elements=floats))
    grad = draw(hnp.arrays(np.float64, (n, m), elements=floats))
    return z, gamma, beta, draw(st.sampled_from([1e-8, 1e-5, 1e-3, 1.0])), grad


@given(layer_inputs())
def test_forward_and_backward_agree_with_exact_arithmetic(case):
    z, gamma, beta, eps, grad = case
    out, dz, dgamma, dbeta = _exact_forward_backward(z, gamma, beta, eps, grad)
    cond = condition(z, eps)
    m = z.shape[1]
    # float64 precision: a few roundings, each u * (cond + |z_norm|) relative to the output's scale.
    scale = np.abs(gamma) * (cond + np.sqrt(m)) + np.abs(beta)
    _within(np.abs(bn.forward(z, gamma, beta, eps) - out), 8 * m * U * scale )
    got_dz, got_dgamma, got_dbeta = bn.backward(z, gamma, beta, eps, grad)
    inv = 1 / np.sqrt(z.var(axis=1, keepdims=True) + eps)
    gscale = np.abs(gamma) * inv * np.abs(grad).sum(axis=1, keepdims=True) * (cond + m)
    _within(np.abs(got_dz - dz), 8 * m * U * gscale )
    _within(np.abs(got_dgamma - dgamma),
                                 8 * m * U * np.abs(grad).sum(axis=1, keepdims=True) * (cond + np.sqrt(m)) )
    _within(np.abs(got_dbeta - dbeta), 4 * m * U * np.abs(grad).sum(axis=1, keepdims=True) )


def test_running_update_and_eval_formulas():
    z = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 3.0]])
    mean, var = bn.update_running(np.array([[1.0], [2.0]]), np.array([[1.0], [4.0]]), z, 0.75)
    np.testing.assert_allclose(mean, [[0.75 + 0.25 * 7 / 3], [1.5 + 0.25]], rtol=1e-15)
    np.testing.assert_allclose(var, [[0.75 + 0.25 * 14 / 9], [3.0 + 0.25 * 2.0]], rtol=1e-15)
    out = bn.forward_eval(z, np.array([[2.0], [1.0]]), np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]),
                          np.array([[3.0], [8.0]]), 1.0)
    np.testing.assert_allclose(out, [[1.0, 2.0, 4.0], [0.0, 0.0, 1.0]], rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_lower_precision_in_is_lower_precision_out(dtype):
    z = np.random.default_rng(0).normal(size=(3, 5)).astype(dtype)
    p = np.ones((3, 1), dtype)
    assert bn.forward(z, p, p, 1e-3).dtype == dtype
    assert all(a.dtype == dtype for a in bn.backward(z, p, p, 1e-3, z))
    assert all(a.dtype == dtype for a in bn.update_running(p, p, z, 0.9))
    assert bn.forward_eval(z, p, p, p, p, 1e-3).dtype == dtype


Z = np.arange(6.0).reshape(2, 3)
C = np.ones((2, 1))
BAD = [
    ("forward", (Z.tolist(), C, C, 1e-5), TypeError, "z"),
    ("forward", (Z.ravel(), C, C, 1e-5), ValueError, "z"),
    ("forward", (np.empty((2, 0)), C, C, 1e-5), ValueError, "z"),
    ("forward", (Z.astype(int), C, C, 1e-5), TypeError, "z"),
    ("forward", (Z.astype(complex), C, C, 1e-5), TypeError, "z"),
    ("forward", (np.where(Z > 2, np.nan, Z), C, C, 1e-5), ValueError, "z"),
    ("forward", (Z, np.ones((3, 1)), C, 1e-5), ValueError, "gamma"),
    ("forward", (Z, C, np.ones(2), 1e-5), ValueError, "beta"),
    ("forward", (Z, C, C, -1.0), ValueError, "eps"),
    ("forward", (Z, C, C, 0.0), ValueError, "eps"),
    ("forward", (Z, C, C, float("nan")), ValueError, "eps"),
    ("forward", (Z, C, C, "1e-5"), TypeError, "eps"),
    ("backward", (Z, C, C, 1e-5, Z[:, :2]), ValueError, "grad"),
    ("backward", (Z, C, C, 1e-5, None), TypeError, "grad"),
    ("update_running", (C, C, Z, 1.5), ValueError, "momentum"),
    ("update_running", (C, C, Z, -0.1), ValueError, "momentum"),
    ("update_running", (C, -C, Z, 0.9), ValueError, "running_var"),
    ("update_running", (np.ones((3, 1)), C, Z, 0.9), ValueError, "running_mean"),
    ("forward_eval", (Z, C, C, C, -C, 1e-5), ValueError, "running_var"),
    ("forward_eval", (Z, C, C, C, C * np.inf, 1e-5), ValueError, "running_var"),
    ("forward_eval", (Z, C, C, "x", C, 1e-5), TypeError, "running_mean"),
    ("batch_statistics", (Z[0],), ValueError, "z"),
    ("fold_into_dense", (Z, C, C, C, C, True), TypeError, "eps"),
]


@pytest.mark.parametrize(("function", "args", "error", "name"), BAD,
                         ids=[f"{f}-{n}-{i}" for i, (f, _, _, n) in enumerate(BAD)])
def test_bad_input_is_refused_naming_the_argument(function, args, error, name):
    with pytest.raises(error) as info:
        getattr(bn, function)(*args)
    assert str(info.value).startswith(f"{name}:"), str(info.value)


def test_constant_unit_and_single_example_are_defined():
    z = np.array([[3.0, 3.0, 3.0], [1.0, 2.0, 3.0]])
    beta = np.array([[0.5], [0.0]])
    out = bn.forward(z, np.ones((2, 1)), beta, 1e-5)
    assert np.array_equal(out[0], [0.5, 0.5, 0.5])
    single = bn.forward(z[:, :1], np.ones((2, 1)), beta, 1e-5)
    assert np.array_equal(single, beta)
    dz, dgamma, dbeta = bn.backward(z[:, :1], np.ones((2, 1)), beta, 1e-5, np.ones((2, 1)))
    assert np.array_equal(dz, np.zeros((2, 1))) and np.array_equal(dgamma, np.zeros((2, 1)))
    assert np.array_equal(dbeta, np.ones((2, 1)))


# Finite inputs whose arithmetic overflows float64: a unit of values near the largest float.
HUGE = np.array([[1e308, 1e308, -1e308]])
ONE, ZERO = np.ones((1, 1)), np.zeros((1, 1))


@pytest.mark.parametrize(("call", "name"), [
    (lambda: bn.forward(HUGE, ONE, ZERO, 1e-5), "z"),
    (lambda: bn.backward(HUGE, ONE, ZERO, 1e-5, np.ones_like(HUGE)), "z, grad"),
    (lambda: bn.forward_eval(HUGE, 4 * ONE, ZERO, ZERO, ONE, 1e-5), "z"),
    # computed in float32, the output fits; rounded to float16 (largest value 65504) it would be inf.
    (lambda: bn.forward(np.eye(1, 8, 1, np.float16), 6e4 * ONE.astype(np.float16), ZERO.astype(np.float16), 1e-5),
     "z"),
], ids=["forward", "backward", "forward_eval", "forward-float16"])
def test_overflow_is_refused_naming_the_inputs_not_returned_as_nan(call, name):
    with pytest.raises(ValueError, match=rf"^{name}: values too large"):
        call()


@pytest.mark.parametrize("function", ["forward", "backward", "forward_eval"])
def test_non_finite_input_raises_without_a_numpy_warning(function):
    """The entries of z are checked on the results: the arithmetic on a NaN must not warn first."""
    z = np.array([[1.0, np.nan, 2.0]])
    args = {"forward": (z, ONE, ZERO, 1e-5), "backward": (z, ONE, ZERO, 1e-5, np.ones_like(z)),
            "forward_eval": (z, ONE, ZERO, ZERO, ONE, 1e-5)}[function]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="^z: contains NaN"):
            getattr(bn, function)(*args)


def test_statistics_stay_accurate_far_from_zero():
    """Corrected two-pass: at |mu| / sigma = 1e8 the variance keeps its digits (the one-pass
    E[z^2] - E[z]^2 would return 0 or garbage here, an error of u (|mu| / sigma)^2 relative)."""
    z = 1e8 + np.array([[-3.0, -1.0, 1.0, 3.0], [0.5, -0.5, 0.5, -0.5]])
    mu, var = bn.batch_statistics(z)
    np.testing.assert_allclose(mu, [[1e8], [1e8]], rtol=0, atol=1e-8)
    np.testing.assert_allclose(var, [[5.0], [0.25]], rtol=1e-14)
    out = bn.forward(z, np.ones((2, 1)), np.zeros((2, 1)), 1e-12)
    np.testing.assert_allclose(out, (z - 1e8) / np.sqrt(var + 1e-12), rtol=1e-12)


def test_float16_sums_run_in_float32():
    """512 float16 values near 300 sum to about 150000, beyond float16's largest value 65504:
    accumulated in float32 the results stay finite and within a float16 rounding of float64's."""
    z = (300.0 + np.random.default_rng(3).normal(size=(2, 512))).astype(np.float16)
    ones, zeros = np.ones((2, 1), np.float16), np.zeros((2, 1), np.float16)
    out = bn.forward(z, ones, zeros, 1e-3)
    exact = bn.forward(z.astype(np.float64), ones.astype(np.float64), zeros.astype(np.float64), 1e-3)
    assert out.dtype == np.float16 and np.isfinite(out).all()
    np.testing.assert_allclose(out.astype(np.float64), exact, rtol=2**-10, atol=2**-10)
    mean, var = bn.update_running(zeros, ones, z, 0.0)
    assert mean.dtype == np.float16 and np.isfinite(mean).all() and np.isfinite(var).all()


@require_module("ml_dtypes", "dev")
def test_bfloat16_in_is_bfloat16_out():
    import ml_dtypes

    z = np.random.default_rng(4).normal(5.0, 2.0, size=(3, 6)).astype(ml_dtypes.bfloat16)
    p = np.ones((3, 1), ml_dtypes.bfloat16)
    out = bn.forward(z, p, p, 1e-3)
    assert out.dtype == z.dtype
    assert all(a.dtype == z.dtype for a in bn.backward(z, p, p, 1e-3, z))
    exact = bn.forward(z.astype(np.float64), np.ones((3, 1)), np.ones((3, 1)), 1e-3)
    np.testing.assert_allclose(out.astype(np.float64), exact, rtol=2**-7, atol=2**-7)


def test_no_process_wide_numpy_setting_is_touched(monkeypatch):
    """The reference changes no process-wide numpy setting, not even for the duration of a call
    (np.setbufsize would be seen by every thread); its error state is as it found it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the reference called np.setbufsize")

    monkeypatch.setattr(np, "setbufsize", refuse)
    z = np.random.default_rng(5).normal(size=(4, 20000))
    p = np.ones((4, 1))
    errors = np.geterr()
    bn.forward(z, p, p, 1e-5)
    bn.backward(z, p, p, 1e-5, z)
    bn.update_running(p, p, z, 0.9)
    bn.forward_eval(z, p, p, p, p, 1e-5)
    assert np.geterr() == errors


def test_finite_inputs_whose_running_update_or_folding_overflows_are_refused_by_name():
    z = np.array([[1e308, -1e308, 1e308]])
    with pytest.raises(ValueError, match="values too large: the variance"):
        bn.update_running(np.zeros((1, 1)), np.ones((1, 1)), z, 0.5)
    big = np.full((1, 1), 1e308)
    with pytest.raises(ValueError, match="values too large: the folded W"):
        bn.fold_into_dense(np.full((1, 2), 1e308), np.full((1, 1), 1e300), np.zeros((1, 1)), np.zeros((1, 1)),
                                  np.zeros((1, 1)), 1e-5)
    with pytest.raises(ValueError, match="values too large: the shift"):
        bn.eval_affine(np.ones((1, 1)), np.full((1, 1), -1e308), big, np.full((1, 1), 1e-300), 1e-300)
