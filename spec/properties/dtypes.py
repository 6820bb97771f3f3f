"""Properties of low-precision inputs: float32, float16 and bfloat16 against the exact results of
the very values passed (the oracle, :mod:`bnspec.spec.oracle`), sums that overflow
float16, and variances that must never come out negative.

A clause on a dtype applies to a target that declares it (``dtypes``, see
:attr:`bnspec.spec.target.Target.dtypes`); on a declared dtype any exception is a
failure.  The tolerances: ``tolerances.tolerance`` for float32 (float32's u, the
condition-scaled kinds of float64), ``tolerances.low_precision_tolerance`` for
float16 and bfloat16 (float32 accumulation plus a few roundings of the result
to the input's dtype).  bfloat16 inputs are ml_dtypes' (:mod:`bnspec.spec.bfloat16`).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import bfloat16, oracle
from .. import strategies as draws
from ..target import Target
from ..tolerances import low_precision_tolerance, offset_ratio
from ..trial import Trial
from . import proves, scales

F32 = ("forward", "backward", "dtype:float32")
F16 = ("forward", "backward", "dtype:float16")
BF16 = ("forward", "backward", "dtype:bfloat16")


#: Magnitudes below which drawn values are set to 0 before the cast to a low-precision
#: dtype, so that no product of three of them (gamma * inv_std * grad) falls into the
#: dtype's subnormal range, where precision is absolute, not relative -- the same choice
#: as strategies.SMALLEST_MAGNITUDE for float64: flushing subnormals is a platform's
#: choice, outside what a BN specification decides.
#: bfloat16 has float32's exponent range, hence float32's threshold.
SMALLEST_MAGNITUDE = {"float32": 2.0**-20, "float16": 2.0**-6, "bfloat16": 2.0**-20}


def _flush(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` in ``dtype``, entries smaller than :data:`SMALLEST_MAGNITUDE` set to 0."""
    return np.where(np.abs(a) < SMALLEST_MAGNITUDE[dtype.name], 0.0, a).astype(dtype)


def _cast(x: draws.Layer, dtype: np.dtype) -> draws.Layer:
    return draws.Layer(_flush(x.z, dtype), _flush(x.gamma, dtype), _flush(x.beta, dtype), x.eps)


def _exact_checks(target: Target, trial: Trial, x: draws.Layer, grad: np.ndarray, dtype: np.dtype,
                  what: str) -> None:
    """forward and backward at ``x`` (already in ``dtype``) against the exact results of
    those values, within the dtype's tolerance; the scales are computed in float64."""
    z, gamma, beta = (a.astype(np.float64) for a in (x.z, x.gamma, x.beta))
    g64 = grad.astype(np.float64)
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    trial.equal(f"dtype of forward's output for {what} input", out.dtype, dtype)
    hi, _ = oracle.forward(z, gamma, beta, x.eps)
    scale = scales.output(z, gamma, beta, x.eps)
    trial.close(f"forward({what} z, gamma, beta, eps) against its exact result", out, hi,
                low_precision_tolerance("value", dtype, x.m, scale, np.abs(hi) + np.abs(gamma)))
    exact = oracle.backward(z, gamma, x.eps, g64)
    gradient_scales = (scales.dz(z, gamma, x.eps, g64), scales.dgamma(z, x.eps, g64), scales.dbeta(g64))
    observed = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    for name, value, (hi, _), scale in zip(("dz", "dgamma", "dbeta"), observed, exact, gradient_scales,
                                           strict=True):
        trial.equal(f"dtype of backward's {name} for {what} input", value.dtype, dtype)
        trial.close(f"{name} for {what} input against its exact result", value, hi,
                    low_precision_tolerance("gradient", dtype, x.m, scale, np.abs(hi) + scale / x.m))


def _low_precision_case(draw: draws.Draw, dtype: np.dtype, max_m: int = 12) -> tuple[draws.Layer, np.ndarray]:
    x = _cast(draws.layer(draw, max_m=max_m, max_offset_ratio=offset_ratio(dtype)), dtype)
    grad = _flush(draw(draws.upstream(x.n, x.m), "grad"), dtype)
    return x, grad


@proves("BN-F32-1", needs=F32)
def float32_is_accurate(target: Target, trial: Trial) -> None:
    dtype = np.dtype(np.float32)
    x, grad = _low_precision_case(trial.draw, dtype)
    _exact_checks(target, trial, x, grad, dtype, "float32")


@proves("BN-F16-1", needs=F16)
def float16_is_accurate(target: Target, trial: Trial) -> None:
    dtype = np.dtype(np.float16)
    x, grad = _low_precision_case(trial.draw, dtype)
    _exact_checks(target, trial, x, grad, dtype, "float16")


@proves("BN-BF16-1", needs=BF16)
def bfloat16_is_accurate(target: Target, trial: Trial) -> None:
    dtype = bfloat16.required()  # the runner makes the clause n/a without ml_dtypes
    x, grad = _low_precision_case(trial.draw, dtype)
    _exact_checks(target, trial, x, grad, dtype, "bfloat16")


@proves("BN-F16-2", needs=F16, max_examples=15)
def float16_sums_do_not_overflow(target: Target, trial: Trial) -> None:
    # m examples of magnitude ~offset: the sum (and any square) exceeds float16's 65504.
    m = trial.draw(st.integers(256, 512), "m")
    n = trial.draw(st.integers(1, 3), "n")
    offset = trial.draw(hnp_column(n, 250.0, 1000.0), "offset")
    # Large arrays from a drawn seed: hypothesis draws only small examples efficiently.
    rng = np.random.default_rng(trial.draw(st.integers(0, 2**32 - 1), "noise_seed"))
    z = (offset + rng.uniform(-8.0, 8.0, size=(n, m))).astype(np.float16)
    gamma, beta = trial.draw(draws.gammas(n), "gamma"), trial.draw(draws.betas(n), "beta")
    f16 = np.dtype(np.float16)
    x = draws.Layer(z, _flush(gamma, f16), _flush(beta, f16), trial.draw(draws.eps_values(), "eps"))
    grad = rng.uniform(-1.0, 1.0, size=(n, m)).astype(np.float16)
    _exact_checks(target, trial, x, grad, np.dtype(np.float16), f"float16 (sum of {m} values near 300 or more)")


def hnp_column(n: int, lo: float, hi: float) -> st.SearchStrategy[np.ndarray]:
    """An ``n x 1`` column in [lo, hi] of either sign."""
    return draws.column(n, lo, hi).map(lambda c: c * np.where(np.arange(n)[:, None] % 2 == 0, 1.0, -1.0))


@proves("BN-VAR-1", needs=("forward", "backward"))
def variance_never_negative(target: Target, trial: Trial) -> None:
    checked = ("float64", "float32", "float16") + ((bfloat16.NAME,) if bfloat16.dtype() is not None else ())
    name = trial.draw(st.sampled_from([d for d in target.dtypes if d in checked]), "dtype")
    dtype = bfloat16.required() if name == bfloat16.NAME else np.dtype(name)
    n = trial.draw(st.integers(1, 4), "n")
    m = trial.draw(st.integers(2, 64), "m")
    # A unit nearly constant far from 0: sigma / |mu| at the dtype's resolution, so that
    # E[z^2] - E[z]^2 cancels to rounding noise of either sign, far larger than eps.
    offset = trial.draw(hnp_column(n, 10.0, 1000.0), "offset")
    ulps = trial.draw(draws.matrix(n, m, -4.0, 4.0).map(np.round), "noise_in_ulps")
    z = (offset + ulps * np.spacing(offset.astype(dtype)).astype(np.float64)).astype(dtype)
    beta = trial.draw(draws.betas(n), "beta")
    gamma, beta = np.ones((n, 1), dtype), beta.astype(dtype) if dtype == np.float64 else _flush(beta, dtype)
    eps = trial.draw(st.sampled_from([1e-8, 1e-5]) if dtype != np.float16 else st.sampled_from([1e-3, 1e-2]), "eps")
    x = draws.Layer(z, gamma, beta, eps)
    grad = trial.draw(draws.upstream(n, m), "grad")
    grad = grad.astype(dtype) if dtype == np.float64 else _flush(grad, dtype)
    _exact_checks(target, trial, x, grad, dtype, f"{dtype} (units nearly constant far from 0)")
