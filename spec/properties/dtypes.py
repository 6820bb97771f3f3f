"""Properties of the dtypes: the results' dtype (BN-DTYPE-1 forward's, BN-DTYPE-2 backward's),
and low-precision inputs -- float32, float16 and bfloat16 against the exact results of the
very values passed (the oracle, :mod:`bnspec.spec.oracle`), sums that overflow float16, and
variances that must never come out negative.

Each claim is two clauses, one per function, on the same draws: forward's output (BN-DTYPE-1,
BN-F32-1, BN-F16-1, BN-BF16-1, BN-F16-2, BN-VAR-1) and backward's gradients (BN-DTYPE-2,
BN-F32-2, BN-F16-3, BN-BF16-2, BN-F16-4, BN-VAR-2), so that a target with forward alone (an
inference engine) is checked on the first.  The draw of each pair is one function here, and
the comparison with the exact results is :func:`_forward_exact` or :func:`_backward_exact`.

The dtype policy.  The accuracy clauses (BN-F32-*, BN-F16-*, BN-BF16-*, BN-VAR-*) judge
values only: each result is read at its own precision (as float64) and must be within the
tolerance of the *input's* dtype, whatever dtype it comes in -- a wider result (float64 for
float32 input) is never failed for being more accurate, and a narrower one (float16 for
float32 input) fails only because its values are not accurate enough.  BN-DTYPE-1 and
BN-DTYPE-2 alone judge the dtype (SHOULDs), in each dtype the target declares.

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

F32, F32_GRAD = ("forward", "dtype:float32"), ("backward", "dtype:float32")
F16, F16_GRAD = ("forward", "dtype:float16"), ("backward", "dtype:float16")
BF16, BF16_GRAD = ("forward", "dtype:bfloat16"), ("backward", "dtype:bfloat16")


#: Magnitudes below which drawn values are set to 0 before the cast to a low-precision
#: dtype, so that no product of three of them (gamma * inv_std * grad) falls into the
#: dtype's subnormal range, where precision is absolute, not relative -- the same choice
#: as strategies.SMALLEST_MAGNITUDE for float64: flushing subnormals is a platform's
#: choice, outside what a BN specification decides.
#: bfloat16 has float32's exponent range, hence float32's threshold; float64 draws are
#: flushed by the strategies already, hence 0.
SMALLEST_MAGNITUDE = {"float64": 0.0, "float32": 2.0**-20, "float16": 2.0**-6, "bfloat16": 2.0**-20}

#: The largest |mu| / sigma that BN-DTYPE-1 and BN-DTYPE-2 draw, lowered to
#: :func:`~bnspec.spec.tolerances.offset_ratio` of each declared low-precision dtype so that
#: every value stays finite in each of them (float16's 65504): its values are not judged.
DTYPE_OFFSET_RATIO = 1e2


def _flush(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` in ``dtype``, entries smaller than :data:`SMALLEST_MAGNITUDE` set to 0."""
    return np.where(np.abs(a) < SMALLEST_MAGNITUDE[dtype.name], 0.0, a).astype(dtype)


def _cast(x: draws.Layer, dtype: np.dtype) -> draws.Layer:
    return draws.Layer(_flush(x.z, dtype), _flush(x.gamma, dtype), _flush(x.beta, dtype), x.eps)


def _checkable(target: Target) -> list[str]:
    """The dtype names the target declares, in its order, bfloat16 only where ml_dtypes gives it a
    numpy dtype (:mod:`bnspec.spec.bfloat16`)."""
    return [name for name in target.dtypes if name != bfloat16.NAME or bfloat16.dtype() is not None]


def _numpy_dtype(name: str) -> np.dtype:
    """The numpy dtype of a name of :data:`bnspec.spec.protocol.DTYPES` (bfloat16 is ml_dtypes')."""
    return bfloat16.required() if name == bfloat16.NAME else np.dtype(name)


def _dtype_case(target: Target, draw: draws.Draw) -> tuple[draws.Layer, list[tuple[np.dtype, draws.Layer]]]:
    """BN-DTYPE-1's and BN-DTYPE-2's example: one draw, and its cast to every declared dtype (only the
    dtype is judged, so each example checks them all)."""
    dtypes = [_numpy_dtype(name) for name in _checkable(target)]
    ratio = min([DTYPE_OFFSET_RATIO] + [offset_ratio(d) for d in dtypes if d != np.float64])
    x = draws.layer(draw, max_offset_ratio=ratio)
    casts = [(dtype, _cast(x, dtype)) for dtype in dtypes]
    for _, cast in casts:
        draw.assume(draws.legal(cast.z), "the cast's flush to 0 made a unit constant (BN-DEG-1's input)")
    return x, casts


@proves("BN-DTYPE-1")
def dtype_preserved(target: Target, trial: Trial) -> None:
    _, casts = _dtype_case(target, trial.draw)
    for dtype, cast in casts:
        out = target.forward(cast.z, cast.gamma, cast.beta, cast.eps)
        trial.equal(f"dtype of forward's output for {dtype} input", out.dtype, dtype)


@proves("BN-DTYPE-2", needs=("backward",))
def gradient_dtypes_preserved(target: Target, trial: Trial) -> None:
    x, casts = _dtype_case(target, trial.draw)
    grad = trial.draw(draws.upstream(x.n, x.m), "grad")
    for dtype, cast in casts:
        gradients = target.backward(cast.z, cast.gamma, cast.beta, cast.eps, _flush(grad, dtype))
        for name, value in zip(("dz", "dgamma", "dbeta"), gradients, strict=True):
            trial.equal(f"dtype of backward's {name} for {dtype} input", value.dtype, dtype)


def _returned_as(value: np.ndarray, dtype: np.dtype) -> str:
    """' (returned as DTYPE)' where a result's dtype is not the input's, for the failure message."""
    return "" if value.dtype == dtype else f" (returned as {value.dtype})"


def _wide(x: draws.Layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z, gamma and beta of ``x`` in float64, for the exact results and the scales."""
    return x.z.astype(np.float64), x.gamma.astype(np.float64), x.beta.astype(np.float64)


def _forward_exact(target: Target, trial: Trial, x: draws.Layer, dtype: np.dtype, what: str) -> None:
    """forward at ``x`` (already in ``dtype``) against the exact result of those values, within the
    tolerance of the input's ``dtype``; the scale is computed in float64.  Values only (the module's
    dtype policy): the result is compared as float64 whatever its dtype, which is BN-DTYPE-1's to judge."""
    z, gamma, beta = _wide(x)
    out = target.forward(x.z, x.gamma, x.beta, x.eps)
    hi, _ = oracle.forward(z, gamma, beta, x.eps)
    scale = scales.output(z, gamma, beta, x.eps)
    trial.close(f"forward({what} z, gamma, beta, eps) against its exact result{_returned_as(out, dtype)}", out, hi,
                low_precision_tolerance("value", dtype, x.m, scale, np.abs(hi) + np.abs(gamma)))


def _backward_exact(target: Target, trial: Trial, x: draws.Layer, grad: np.ndarray, dtype: np.dtype,
                    what: str) -> None:
    """backward at ``x`` and ``grad`` (already in ``dtype``) against the exact gradients of those
    values, as :func:`_forward_exact` (the dtype is BN-DTYPE-2's to judge)."""
    z, gamma, _ = _wide(x)
    g64 = grad.astype(np.float64)
    exact = oracle.backward(z, gamma, x.eps, g64)
    gradient_scales = (scales.dz(z, gamma, x.eps, g64), scales.dgamma(z, x.eps, g64), scales.dbeta(g64))
    observed = target.backward(x.z, x.gamma, x.beta, x.eps, grad)
    for name, value, (hi, _), scale in zip(("dz", "dgamma", "dbeta"), observed, exact, gradient_scales,
                                           strict=True):
        trial.close(f"{name} for {what} input against its exact result{_returned_as(value, dtype)}", value, hi,
                    low_precision_tolerance("gradient", dtype, x.m, scale, np.abs(hi) + scale / x.m))


def _flushed_grad(draw: draws.Draw, x: draws.Layer, dtype: np.dtype) -> np.ndarray:
    """An upstream gradient for ``x``, in ``dtype``, flushed as the inputs are."""
    return _flush(draw(draws.upstream(x.n, x.m), "grad"), dtype)


def _low_precision_case(draw: draws.Draw, dtype: np.dtype, max_m: int) -> draws.Layer:
    # At most ORACLE_ELEMENTS elements: the exact oracle is pure Python.
    x = _cast(draws.layer(draw, max_m=max_m, max_offset_ratio=offset_ratio(dtype),
                          max_elements=draws.ORACLE_ELEMENTS), dtype)
    draw.assume(draws.legal(x.z), "the cast's flush to 0 made a unit constant (BN-DEG-1's input)")
    return x


def _forward_accurate(target: Target, trial: Trial, dtype: np.dtype, max_m: int = 12) -> None:
    """BN-F32-1, BN-F16-1, BN-BF16-1: forward on a drawn input in ``dtype`` against its exact result."""
    _forward_exact(target, trial, _low_precision_case(trial.draw, dtype, max_m), dtype, dtype.name)


def _gradients_accurate(target: Target, trial: Trial, dtype: np.dtype, max_m: int = 12) -> None:
    """BN-F32-2, BN-F16-3, BN-BF16-2: backward on the same draws against its exact gradients."""
    x = _low_precision_case(trial.draw, dtype, max_m)
    _backward_exact(target, trial, x, _flushed_grad(trial.draw, x, dtype), dtype, dtype.name)


@proves("BN-F32-1", needs=F32)
def float32_is_accurate(target: Target, trial: Trial) -> None:
    _forward_accurate(target, trial, np.dtype(np.float32))


@proves("BN-F32-2", needs=F32_GRAD)
def float32_gradients_are_accurate(target: Target, trial: Trial) -> None:
    _gradients_accurate(target, trial, np.dtype(np.float32))


@proves("BN-F16-1", needs=F16)
def float16_is_accurate(target: Target, trial: Trial) -> None:
    _forward_accurate(target, trial, np.dtype(np.float16))


@proves("BN-F16-3", needs=F16_GRAD)
def float16_gradients_are_accurate(target: Target, trial: Trial) -> None:
    _gradients_accurate(target, trial, np.dtype(np.float16))


#: The largest m BN-BF16-1 and BN-BF16-2 draw (m = 2 stays favoured).  Sums of m bfloat16 values kept in
#: bfloat16 (numpy's pairwise sums) lose a few u_bf16 |mu| / sigma of the output per doubling of m,
#: which at m <= 12 and |mu| / sigma <= 4 (bfloat16's offset ratio) stays within the 4 u_bf16
#: |output| the result's roundings are allowed -- measured on BFloat16AccumulationBN's forward:
#: at most 3.5 x the tolerance at m = 12, a median of 1.5 to 29 x at m = 256 to 512 and
#: |mu| / sigma of 1 to 4, while float32 accumulation stays under 0.25 x at every m.
BF16_MAX_M = 512


@proves("BN-BF16-1", needs=BF16)
def bfloat16_is_accurate(target: Target, trial: Trial) -> None:
    # bfloat16.required(): the runner makes the clause n/a without ml_dtypes
    _forward_accurate(target, trial, bfloat16.required(), max_m=BF16_MAX_M)


@proves("BN-BF16-2", needs=BF16_GRAD)
def bfloat16_gradients_are_accurate(target: Target, trial: Trial) -> None:
    _gradients_accurate(target, trial, bfloat16.required(), max_m=BF16_MAX_M)


def _long_float16_case(trial: Trial) -> tuple[draws.Layer, np.random.Generator, str]:
    """BN-F16-2's and BN-F16-4's example: m examples of magnitude ~offset, so that the sum (and any
    square) exceeds float16's 65504; with the generator of its noise (BN-F16-4's upstream gradient
    comes from it) and what it is, for the failure messages."""
    m = trial.draw(st.integers(256, 512), "m")
    n = trial.draw(st.integers(1, 3), "n")
    offset = trial.draw(hnp_column(n, 250.0, 1000.0), "offset")
    # Large arrays from a drawn seed: hypothesis draws only small examples efficiently.
    rng = np.random.default_rng(trial.draw(st.integers(0, 2**32 - 1), "noise_seed"))
    z = (offset + rng.uniform(-8.0, 8.0, size=(n, m))).astype(np.float16)
    gamma, beta = trial.draw(draws.gammas(n), "gamma"), trial.draw(draws.betas(n), "beta")
    f16 = np.dtype(np.float16)
    x = draws.Layer(z, _flush(gamma, f16), _flush(beta, f16), trial.draw(draws.eps_values(), "eps"))
    return x, rng, f"float16 (sum of {m} values near 300 or more)"


@proves("BN-F16-2", needs=F16, max_examples=15)
def float16_sums_do_not_overflow(target: Target, trial: Trial) -> None:
    x, _, what = _long_float16_case(trial)
    _forward_exact(target, trial, x, np.dtype(np.float16), what)


@proves("BN-F16-4", needs=F16_GRAD, max_examples=15)
def float16_gradient_sums_do_not_overflow(target: Target, trial: Trial) -> None:
    x, rng, what = _long_float16_case(trial)
    grad = rng.uniform(-1.0, 1.0, size=x.z.shape).astype(np.float16)
    _backward_exact(target, trial, x, grad, np.dtype(np.float16), what)


def hnp_column(n: int, lo: float, hi: float) -> st.SearchStrategy[np.ndarray]:
    """An ``n x 1`` column in [lo, hi] of either sign."""
    return draws.column(n, lo, hi).map(lambda c: c * np.where(np.arange(n)[:, None] % 2 == 0, 1.0, -1.0))


def _nearly_constant_case(target: Target, draw: draws.Draw) -> tuple[draws.Layer, np.dtype, str]:
    """BN-VAR-1's and BN-VAR-2's example, in one of the declared dtypes: units nearly constant far from 0
    (gamma = 1), with what it is, for the failure messages."""
    dtype = _numpy_dtype(draw(st.sampled_from(_checkable(target)), "dtype"))
    n = draw(st.integers(1, 4), "n")
    m = draw(st.integers(2, 64), "m")
    # A unit nearly constant far from 0: sigma / |mu| at the dtype's resolution, so that
    # E[z^2] - E[z]^2 cancels to rounding noise of either sign, far larger than eps.
    offset = draw(hnp_column(n, 10.0, 1000.0), "offset")
    ulps = draw(draws.matrix(n, m, -4.0, 4.0).map(np.round), "noise_in_ulps")
    z = (offset + ulps * np.spacing(offset.astype(dtype)).astype(np.float64)).astype(dtype)
    draw.assume(draws.legal(z), "noise rounded to one value left a constant unit (BN-DEG-1's input)")
    beta = draw(draws.betas(n), "beta")
    gamma, beta = np.ones((n, 1), dtype), _flush(beta, dtype)
    eps = draw(st.sampled_from([1e-8, 1e-5]) if dtype != np.float16 else st.sampled_from([1e-3, 1e-2]), "eps")
    return draws.Layer(z, gamma, beta, eps), dtype, f"{dtype} (units nearly constant far from 0)"


@proves("BN-VAR-1")
def variance_never_negative(target: Target, trial: Trial) -> None:
    x, dtype, what = _nearly_constant_case(target, trial.draw)
    _forward_exact(target, trial, x, dtype, what)


@proves("BN-VAR-2", needs=("backward",))
def gradients_variance_never_negative(target: Target, trial: Trial) -> None:
    x, dtype, what = _nearly_constant_case(target, trial.draw)
    _backward_exact(target, trial, x, _flushed_grad(trial.draw, x, dtype), dtype, what)
