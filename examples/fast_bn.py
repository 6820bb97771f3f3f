"""A tuned numpy batch norm: the protocol at close to PyTorch's speed on one core.

A standalone implementation of the protocol (``forward``, ``backward``,
``update_running``, ``forward_eval``) that imports nothing from bnspec; check it
like any other with ``bnspec check examples/fast_bn.py``.  Layout "units_first",
as the lecture's: ``z`` is ``n x m`` (units x examples); ``gamma``, ``beta``, the
running statistics, ``dgamma`` and ``dbeta`` are ``n x 1``.  It was the
reference's kernel until the reference went back to the lecture's formulas
(``reference/batchnorm.py``); ``make bench`` compares the two with PyTorch.

Numerics (the same results as the reference, to a few roundings):

- corrected two-pass statistics (never ``E[z^2] - E[z]^2``), and the mean
  never rounded on its own: ``z - mu`` enters as ``d - c`` with ``d = z - mu0``
  and ``c = mean(d)``;
- the per-unit factors (``n`` values against the ``n x m`` of the passes) are
  computed one precision wider -- long double, float64 for float32 work -- and
  rounded once;
- float16 and bfloat16 (ml_dtypes' dtype, recognised by its name) are
  accumulated in float32 and returned in their own dtype.

Speed:

- forward and backward work on blocks of rows (units) that stay in the core's
  cache (:data:`BLOCK_BYTES`), in place, with ``out=`` buffers;
- row sums and dot products by BLAS: a matrix-vector product with a cached,
  read-only vector of ones, and ``np.vecdot``;
- numpy's ufunc buffer cut to one row while they run (:func:`_row_arithmetic`:
  buffering moves values, never rounds them, so the results are bit for bit
  those of the default buffer).  This is a *process-wide* numpy setting, set and
  restored around each call: not thread-safe, one reason the reference does
  without it.

No argument checks beyond what the arithmetic needs: a NaN or an infinity in the
output raises a ValueError (the input had one, or finite inputs overflowed).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import numpy as np

layout = "units_first"
profile = "lecture"
dtypes = ("float64", "float32", "float16", "bfloat16")

DEFAULT_EPS = 1e-5

#: Bytes of one block of rows (units) that forward and backward process at a time: the
#: block's deviations, output and scratch stay in the core's L2 cache across the six to ten
#: passes each block needs, instead of streaming n x m values from memory on every pass.
BLOCK_BYTES = 1 << 19
#: numpy's default ufunc buffer, in values.
DEFAULT_BUFSIZE = 8192
#: numpy >= 2.0 computes row dot products with BLAS; older numpy falls back to einsum.
_VECDOT = getattr(np, "vecdot", None)


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """float16 and bfloat16 (a dtype of kind "V" named "bfloat16") are computed in float32."""
    low = dtype == np.float16 or (dtype.kind == "V" and dtype.name == "bfloat16")
    return np.dtype(np.float32) if low else np.dtype(dtype)


def _wide(dtype: np.dtype) -> type:
    """The dtype of the per-unit (``n x 1``) arithmetic: one step wider than the work's.
    Where long double is float64 (e.g. on ARM) this changes nothing but the accuracy margin."""
    return np.longdouble if dtype == np.float64 else np.float64


def _finite(result: np.ndarray, what: str) -> np.ndarray:
    if not np.logical_and.reduce(np.isfinite(result), axis=None):
        raise ValueError(f"{what} is not finite: the input has NaN or infinite values, or overflows "
                         f"{result.dtype}")
    return result


@functools.lru_cache(maxsize=16)
def _ones(m: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of m ones (kept: allocating it cost a tenth of a small forward)."""
    ones = np.ones(m, dtype)
    ones.flags.writeable = False
    return ones


def _row_sums(a: np.ndarray) -> np.ndarray:
    """``sum_i a(i)`` for each row, ``n x 1``: one BLAS matrix-vector product with a vector of ones
    (three to four times faster than ``np.add.reduce`` along the rows at the bench's sizes)."""
    return np.matmul(a, _ones(a.shape[1], a.dtype))[:, None]


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_i a(i) b(i)`` for each row, ``n x 1`` (one BLAS dot per row where numpy has ``vecdot``)."""
    dots = _VECDOT(a, b) if _VECDOT is not None else np.einsum("ij,ij->i", a, b)
    return dots[:, None]


def _centered(z: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The corrected two-pass statistics ``(mu0, d, c, sigma^2)``: the rounded mean ``mu0``,
    ``d = z - mu0`` written into ``out``, ``c = mean(d)`` (the rounding error of ``mu0``, so
    that ``mu = mu0 + c``), ``sigma^2 = mean(d^2) - c^2`` clamped at 0."""
    m = z.shape[1]
    mu0 = _row_sums(z) / m
    d = np.subtract(z, mu0, out=out)
    correction = _row_sums(d) / m
    var = _row_dot(d, d) / m - np.square(correction)
    np.maximum(var, 0.0, out=var)
    return mu0, d, correction, var


def _inv_std(var: np.ndarray, eps: float) -> np.ndarray:
    """``1 / sqrt(sigma^2 + eps)``, ``n x 1``, in the wide dtype."""
    return 1.0 / np.sqrt(var.astype(_wide(var.dtype)) + eps)


@contextlib.contextmanager
def _row_arithmetic(m: int) -> Iterator[None]:
    """Warnings off (the results are checked instead) and a ufunc buffer no longer than a row:
    broadcasting an ``n x 1`` array over rows shorter than the buffer sends every value through
    numpy's buffers, two to three times the cost of a plain pass."""
    with np.errstate(all="ignore"):
        previous = np.setbufsize(min(DEFAULT_BUFSIZE, max(16, m - m % 16)))
        try:
            yield
        finally:
            np.setbufsize(previous)  # numpy < 2 does not restore it on leaving errstate


def _row_blocks(n: int, m: int, itemsize: int) -> list[slice]:
    """Consecutive slices of the rows (units), each about ``BLOCK_BYTES``.  The units are
    independent, so block by block gives the same result to the last bit or so: OpenBLAS may
    sum a row in another order depending on its place in the block (``tests/test_fast_bn.py``)."""
    step = max(1, BLOCK_BYTES // (m * itemsize))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def _inputs(z, gamma, beta):
    work = _work_dtype(z.dtype)
    return z.astype(work, copy=False), gamma.astype(work, copy=False), beta.astype(work, copy=False)


def forward(z, gamma, beta, eps=DEFAULT_EPS):
    """Training mode: ``gamma * (z - mu) / sqrt(sigma^2 + eps) + beta`` per unit, computed as
    ``d * a + (beta - c * a)`` with ``a = gamma / sqrt(sigma^2 + eps)`` (rounded once)."""
    x, gamma, beta = _inputs(z, gamma, beta)
    out = np.empty_like(x)
    with _row_arithmetic(x.shape[1]):
        for rows in _row_blocks(*x.shape, x.itemsize):
            _, d, correction, var = _centered(x[rows], out[rows])
            a = gamma[rows] * _inv_std(var, eps)
            np.multiply(d, a.astype(d.dtype), out=d)
            d += (beta[rows] - correction * a).astype(d.dtype)
            _finite(d, "the output")
    return out.astype(z.dtype, copy=False)


def backward(z, gamma, beta, eps, grad):
    """``(dz, dgamma, dbeta)`` of ``sum(grad * forward(z, gamma, beta, eps))``.

    ``dbeta = sum grad``, ``dgamma = inv_std (sum grad d - c sum grad)``, and
    ``dz = inv_std gamma (grad - mean(grad) - z_norm mean(grad z_norm))`` per unit,
    which is affine in ``grad`` and ``d``: ``dz = a grad + k d + k0`` with
    ``a = gamma inv_std``, ``k = -a inv_std mean(grad z_norm)``, ``k0 = -a mean(grad) - k c``
    (each rounded once from the wide dtype), computed in place in the deviations' buffer.
    """
    x, gamma, beta = _inputs(z, gamma, beta)
    grad = grad.astype(x.dtype, copy=False)
    n, m = x.shape
    dz, dgamma, dbeta = np.empty_like(x), np.empty_like(gamma), np.empty_like(gamma)
    blocks = _row_blocks(n, m, x.itemsize)
    scratch = np.empty_like(x[blocks[0]])
    with _row_arithmetic(m):
        for rows in blocks:
            g = grad[rows]
            _, d, correction, var = _centered(x[rows], dz[rows])
            inv_std = _inv_std(var, eps)
            dbeta[rows] = _row_sums(g)
            sum_gz = inv_std * (_row_dot(g, d) - correction * dbeta[rows].astype(inv_std.dtype))
            dgamma[rows] = sum_gz.astype(d.dtype)
            a = gamma[rows] * inv_std
            k = -a * inv_std * (sum_gz / m)
            np.multiply(d, k.astype(d.dtype), out=d)
            d += (-a * (dbeta[rows] / m) - k * correction).astype(d.dtype)
            d += np.multiply(g, a.astype(d.dtype), out=scratch[: d.shape[0]])
            _finite(d, "dz")
        _finite(np.hstack((dgamma, dbeta)), "dgamma or dbeta")
    return dz.astype(z.dtype, copy=False), dgamma.astype(z.dtype, copy=False), dbeta.astype(z.dtype, copy=False)


def update_running(running_mean, running_var, z, momentum):
    """``momentum * old + (1 - momentum) * batch statistic`` (biased variance); new arrays."""
    x = z.astype(_work_dtype(z.dtype), copy=False)
    mu0, _, correction, var = _centered(x, np.empty_like(x))
    mu = mu0 + correction
    new_mean = momentum * running_mean.astype(x.dtype) + (1.0 - momentum) * mu
    new_var = momentum * running_var.astype(x.dtype) + (1.0 - momentum) * var
    return new_mean.astype(running_mean.dtype), new_var.astype(running_var.dtype)


def forward_eval(z, gamma, beta, running_mean, running_var, eps=DEFAULT_EPS):
    """Inference: ``scale * z + shift`` per unit, ``scale = gamma / sqrt(running_var + eps)``,
    ``shift = beta - scale * running_mean``."""
    x, gamma, beta = _inputs(z, gamma, beta)
    scale = gamma / np.sqrt(running_var.astype(x.dtype) + eps)
    shift = beta - scale * running_mean.astype(x.dtype)
    with _row_arithmetic(x.shape[1]):
        out = np.multiply(x, scale)
        out += shift
    return _finite(out, "the output").astype(z.dtype, copy=False)
