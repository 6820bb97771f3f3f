"""The batch-norm layer as small pure numpy functions, in the lecture's layout.

``Z`` is ``n[l] x m`` (units x examples); ``gamma``, ``beta``, the running
statistics and the parameter gradients are ``n[l] x 1`` (L10).  For each unit,
over the ``m`` examples of the mini-batch (L6)::

    mu      = (1/m) sum_i z(i)
    sigma^2 = (1/m) sum_i (z(i) - mu)^2                  (biased: divide by m)
    z_norm  = (z - mu) / sqrt(sigma^2 + eps)             (eps inside the root)
    z~      = gamma * z_norm + beta                      (L8)

The four functions ``forward``, ``backward``, ``update_running`` and
``forward_eval`` are also *the implementation protocol*: any object that has
them (this module included) can be checked with ``bnspec check``.  Each
derivative sits beside the formula it differentiates.

Numerical choices: statistics are computed with the corrected two-pass
algorithm (never ``E[z^2] - E[z]^2``) and the mean is never rounded on its
own; the per-unit factors are computed one precision wider and rounded once;
float64 by default, float32 stays float32, float16 and bfloat16 are
accumulated in float32 and returned in their own dtype.  ``docs/numerics.md``
derives the resulting accuracy (clauses BN-ACC-*).

Speed: forward and backward work on blocks of rows that stay in the core's
cache (:data:`BLOCK_BYTES`), with in-place ufuncs and ``out=`` buffers, row
sums and dot products by BLAS, and numpy's ufunc buffer cut to a row
(:func:`_row_arithmetic`); no Python loop runs over units or examples.
``make bench`` compares them with PyTorch (``docs/bench.md``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import numpy as np

from . import arguments

#: This module satisfies the protocol in the lecture's layout and conventions.
layout = "units_first"
profile = "lecture"
#: The dtypes it accepts (clauses BN-F32-*, BN-F16-*, BN-BF16-*): float16 and bfloat16
#: (ml_dtypes' numpy dtype) are accumulated in float32.
dtypes = ("float64", "float32", "float16", "bfloat16")

#: The eps used when none is given (PyTorch's and ONNX's default).
DEFAULT_EPS = 1e-5


# --------------------------------------------------------------------------
# Statistics of a mini-batch (L6)
# --------------------------------------------------------------------------


#: numpy >= 2.0 computes row dot products with BLAS; older numpy falls back to einsum.
_VECDOT = getattr(np, "vecdot", None)


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_i a(i) b(i)`` for each row, ``n x 1`` (one BLAS dot per row where numpy has ``vecdot``)."""
    dots = _VECDOT(a, b) if _VECDOT is not None else np.einsum("ij,ij->i", a, b)
    return dots[:, None]


def _row_sums(a: np.ndarray) -> np.ndarray:
    """``sum_i a(i)`` for each row, ``n x 1``: one BLAS matrix-vector product with a vector of ones.

    Three to four times faster than ``np.add.reduce`` along the rows at the
    lecture's sizes; like the pairwise sum it replaces, it sums in the work dtype.
    """
    return np.matmul(a, _ones(a.shape[1], a.dtype))[:, None]


@functools.lru_cache(maxsize=16)
def _ones(m: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of m ones (kept: allocating it cost a tenth of a small forward)."""
    ones = np.ones(m, dtype)
    ones.flags.writeable = False
    return ones


def batch_statistics(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance of each unit over the mini-batch.

    Formula: ``mu = (1/m) sum_i z(i)``, ``sigma^2 = (1/m) sum_i (z(i) - mu)^2``.

    Shapes: ``z`` is ``n x m``; ``mu`` and ``sigma^2`` are ``n x 1``.

    Numerics: the corrected two-pass algorithm (Bjorck), see :func:`_centered`.
    Its error does not grow with the offset ``|mu| / sigma`` the way the
    one-pass formula's does.
    """
    z = arguments.matrix("z", z)
    z = z.astype(arguments.working_dtype(z.dtype), copy=False)
    mu0, _, correction, var = _centered(z, np.empty_like(z))
    return mu0 + correction, var


def _centered(z: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The corrected two-pass statistics: ``(mu0, d, c, sigma^2)``.

    A first pass gives the rounded mean ``mu0``; the deviations
    ``d = z - mu0`` are written into ``out`` (``n x m``, returned as ``d``);
    their mean ``c`` is the rounding error of ``mu0``, so that ``mu = mu0 + c``
    and ``z - mu = d - c`` exactly up to c's own (tiny) error;
    ``sigma^2 = mean(d^2) - c^2``.  ``mu0``, ``c`` and ``sigma^2`` are ``n x 1``.
    The callers never round ``mu0 + c`` before centring: at an offset
    ``|mu| / sigma`` that rounding alone would cost ``u |mu| / sigma``.
    Four passes over ``n x m`` values, one of them a write, two of them BLAS.
    """
    m = z.shape[1]
    mu0 = _row_sums(z) / m
    d = np.subtract(z, mu0, out=out)
    correction = _row_sums(d) / m
    var = _row_dot(d, d) / m - np.square(correction)
    # Rounding can leave a tiny negative number for a constant unit.
    np.maximum(var, 0.0, out=var)
    return mu0, d, correction, var


def _wide(dtype: np.dtype) -> type:
    """The dtype of the per-unit (``n x 1``) arithmetic: one step wider than the work's.

    The per-unit factors (``1 / sqrt(sigma^2 + eps)``, ``gamma`` times it, the
    shifts) cost n operations against the n x m of the passes, so they are
    computed in long double (float64 for float32 work) and rounded once: each
    is then within u/2 of its value instead of a few u.  Where long double is
    float64 (e.g. on ARM) this changes nothing but the accuracy margin.
    """
    return np.longdouble if dtype == np.float64 else np.float64


def _inv_std(var: np.ndarray, eps: float) -> np.ndarray:
    """``1 / sqrt(sigma^2 + eps)``, ``n x 1`` (eps inside the square root), in the wide dtype."""
    return 1.0 / np.sqrt(var.astype(_wide(var.dtype)) + eps)


# --------------------------------------------------------------------------
# Training mode: forward and backward
# --------------------------------------------------------------------------


def _affine(d: np.ndarray, correction: np.ndarray, inv_std: np.ndarray, gamma: np.ndarray,
            beta: np.ndarray) -> np.ndarray:
    """``z~ = gamma * z_norm + beta`` (L8), with ``z_norm = (d - c) * inv_std``, in place in ``d``.

    Computed as ``d * a + (beta - c * a)`` with ``a = gamma * inv_std`` per unit
    (rounded once from the wide dtype): two passes over ``d``, and the mean
    never rounded on its own.
    """
    a = gamma * inv_std
    np.multiply(d, a.astype(d.dtype), out=d)
    d += (beta - correction * a).astype(d.dtype)
    return d


def _affine_backward(
    grad: np.ndarray, d: np.ndarray, correction: np.ndarray, inv_std: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Derivative of ``_affine``: ``dgamma = sum_i grad * z_norm``, ``dbeta = sum_i grad``
    (and ``dz_norm = gamma * grad``, folded into :func:`_normalize_backward`).

    With ``z_norm = (d - c) inv_std``: ``dgamma = inv_std (sum_i grad d - c sum_i grad)``.
    Returns ``(dgamma, dbeta, mean(grad * z_norm))``, all ``n x 1``, the last in the wide dtype.
    """
    m = d.shape[1]
    dbeta = _row_sums(grad)
    sum_gz = inv_std * (_row_dot(grad, d) - correction * dbeta.astype(inv_std.dtype))
    return sum_gz.astype(d.dtype), dbeta, sum_gz / m


def _normalize_backward(grad: np.ndarray, d: np.ndarray, correction: np.ndarray, inv_std: np.ndarray,
                        gamma: np.ndarray, mean_g: np.ndarray, mean_gz: np.ndarray,
                        scratch: np.ndarray) -> np.ndarray:
    """Derivative of the normalization: dz from ``dz_norm = gamma * grad``, in place in ``d``.

    With ``z_norm = (z - mu) * inv_std`` and mu, sigma^2 depending on every
    example of the unit, the chain rule through mu and sigma^2 collapses to
    ``dz = inv_std * (dz_norm - mean(dz_norm) - z_norm * mean(dz_norm * z_norm))``
    (means over the m examples).  Per unit this is affine in ``grad`` and ``d``:
    ``dz = a grad + k d + k0`` with ``a = gamma inv_std``,
    ``k = -a inv_std mean(grad z_norm)``, ``k0 = -a mean(grad) - k c`` (each
    rounded once from the wide dtype); three passes over ``d``, the product
    ``a grad`` written into ``scratch`` (d's shape).  At m = 1, d = 0 and
    ``k0 = -a grad``, so dz = 0.
    """
    a = gamma * inv_std
    k = -a * inv_std * mean_gz
    np.multiply(d, k.astype(d.dtype), out=d)
    d += (-a * mean_g - k * correction).astype(d.dtype)
    d += np.multiply(grad, a.astype(d.dtype), out=scratch)
    return d


#: numpy's default ufunc buffer, in values.
DEFAULT_BUFSIZE = 8192


@contextlib.contextmanager
def _row_arithmetic(m: int) -> Iterator[None]:
    """numpy's settings for forward's and backward's arithmetic on rows of ``m`` values.

    - Warnings off: the inputs' entries are checked on the results instead
      (:func:`bnspec.reference.arguments.finite_result`), which raise a
      ValueError naming the input, not a RuntimeWarning from inside numpy.
    - A ufunc buffer no longer than a row (``np.setbufsize``): broadcasting
      an ``n x 1`` per-unit array over rows shorter than the buffer (8192
      values by default) sends every value through numpy's buffers, and each
      such pass costs two to three times a plain one; with the buffer cut to
      the row, each row runs as one unbuffered loop.  Buffering moves values,
      never rounds them: the results are the same bit for bit
      (``tests/test_reference_batchnorm.py``).
    """
    with np.errstate(all="ignore"):
        previous = np.setbufsize(min(DEFAULT_BUFSIZE, max(16, m - m % 16)))
        try:
            yield
        finally:
            np.setbufsize(previous)  # numpy < 2 does not restore it on leaving errstate


#: Bytes of one block of rows (units) that forward and backward process at a time: the
#: block's deviations, output and scratch stay in the core's L2 cache across the six to ten
#: passes each block needs, instead of streaming n x m values from memory on every pass.
BLOCK_BYTES = 1 << 19


def _row_blocks(z: np.ndarray) -> list[slice]:
    """Consecutive slices of z's rows (units), each about ``BLOCK_BYTES`` (at least one row).

    The units are independent (clause BN-LOC-1), so processing them block by
    block gives the same result, bit for bit, as processing them all at once.
    """
    n, m = z.shape
    step = max(1, BLOCK_BYTES // (m * z.itemsize))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def _check_layer(z, gamma, beta, eps) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The layer's arguments in the work dtype; z's entries are checked on the results
    (:func:`bnspec.reference.arguments.finite_result`)."""
    z = arguments.matrix("z", z, finite=False)
    n = z.shape[0]
    gamma = arguments.column("gamma", gamma, n, of="z")
    beta = arguments.column("beta", beta, n, of="z")
    eps = arguments.positive("eps", eps)
    work = arguments.working_dtype(z.dtype)
    if z.dtype == gamma.dtype == beta.dtype == work:  # nothing to convert (the common case, kept cheap)
        return z, gamma, beta, eps
    return z.astype(work, copy=False), gamma.astype(work, copy=False), beta.astype(work, copy=False), eps


def forward(z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Batch norm in training mode: ``Z~ = BN(Z; gamma, beta)`` (L1, L6, L8).

    Formula: ``z~ = gamma * (z - mu) / sqrt(sigma^2 + eps) + beta`` with ``mu``
    and the biased ``sigma^2`` of this mini-batch alone, per unit.

    Shapes: ``z`` is ``n[l] x m``; ``gamma``, ``beta`` are ``n[l] x 1``; the
    result is ``n[l] x m`` in z's dtype.

    Numerics: corrected two-pass statistics, the mean never rounded on its own
    (:func:`_centered`); eps > 0 inside the square root, so a unit constant
    over the mini-batch gives ``z_norm = 0`` and the output ``beta``; at
    ``m = 1`` the output is ``beta`` (clause BN-DEG-2).  Speed: one ``n x m``
    array is allocated (the result) and seven passes read it or z, the
    last the check that every output is finite (which stands for the check
    of z's entries, see :mod:`bnspec.reference.arguments`).

    Raises:
        TypeError, ValueError: naming the argument, for non-arrays, wrong
            dtypes or shapes, non-finite values, ``eps <= 0``, or finite
            values so large that the output overflows.
    """
    out_dtype = z.dtype if isinstance(z, np.ndarray) else None
    z, gamma, beta, eps = _check_layer(z, gamma, beta, eps)
    out = np.empty_like(z)
    with _row_arithmetic(z.shape[1]):
        for rows in _row_blocks(z):
            _, d, correction, var = _centered(z[rows], out[rows])
            _affine(d, correction, _inv_std(var, eps), gamma[rows], beta[rows])
            arguments.finite_result(d, "the output", z=z[rows])
    return out.astype(out_dtype, copy=False)


def backward(
    z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``sum(grad * forward(z, gamma, beta, eps))``, in closed form.

    Formulas (per unit, means over the m examples)::

        dbeta  = sum_i grad(i)
        dgamma = sum_i grad(i) * z_norm(i)
        dz     = gamma / sqrt(sigma^2 + eps)
                 * (grad - mean(grad) - z_norm * mean(grad * z_norm))

    Shapes: ``z`` and ``grad`` are ``n[l] x m``; ``gamma``, ``beta`` are
    ``n[l] x 1``.  Returns ``(dz, dgamma, dbeta)``: ``dz`` is ``n[l] x m``,
    ``dgamma`` and ``dbeta`` are ``n[l] x 1``, all in z's dtype.

    Numerics: recomputes the forward statistics (corrected two-pass) from z;
    ``beta`` does not enter the gradients but is part of the protocol's
    signature.  Speed: dz is computed in place in the deviations' buffer, plus
    one scratch block of rows (see :data:`BLOCK_BYTES`); the entries of z and
    grad are checked on the results.

    Raises:
        TypeError, ValueError: as :func:`forward`, and for a ``grad`` of
            another shape than z's or with non-finite values.
    """
    out_dtype = z.dtype if isinstance(z, np.ndarray) else None
    z, gamma, beta, eps = _check_layer(z, gamma, beta, eps)
    grad = arguments.matrix("grad", grad, rows=z.shape[0], cols=z.shape[1], of="z",
                            finite=False).astype(z.dtype, copy=False)
    m = z.shape[1]
    dz, dgamma, dbeta = np.empty_like(z), np.empty_like(gamma), np.empty_like(gamma)
    blocks = _row_blocks(z)
    scratch = np.empty_like(z[blocks[0]])
    with _row_arithmetic(z.shape[1]):
        for rows in blocks:
            _, d, correction, var = _centered(z[rows], dz[rows])
            inv_std = _inv_std(var, eps)
            dgamma[rows], dbeta[rows], mean_gz = _affine_backward(grad[rows], d, correction, inv_std)
            _normalize_backward(grad[rows], d, correction, inv_std, gamma[rows], dbeta[rows] / m, mean_gz,
                                scratch[: d.shape[0]])
            arguments.finite_result(d, "dz", z=z[rows], grad=grad[rows])
        arguments.finite_result(np.hstack((dgamma, dbeta)), "dgamma or dbeta", z=z, grad=grad)
    return (
        dz.astype(out_dtype, copy=False),
        dgamma.astype(out_dtype, copy=False),
        dbeta.astype(out_dtype, copy=False),
    )


# --------------------------------------------------------------------------
# Running statistics and inference (L12, paper Algorithm 2)
# --------------------------------------------------------------------------


def update_running(
    running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
) -> tuple[np.ndarray, np.ndarray]:
    """One step of the exponentially weighted averages of the batch statistics.

    Formula: ``new = momentum * old + (1 - momentum) * batch_statistic`` for the
    mean and for the biased variance ``sigma^2`` of this mini-batch (the
    course's convention, shared by ONNX, Keras and Flax; ``momentum`` weighs
    the *old* value).

    Shapes: ``running_mean``, ``running_var`` are ``n[l] x 1``; ``z`` is
    ``n[l] x m``.  Returns new ``n[l] x 1`` arrays; the inputs are not modified.

    Raises:
        ValueError: ``momentum`` outside [0, 1], a negative ``running_var``,
            mismatched shapes or non-finite values.
    """
    z = arguments.matrix("z", z)
    n = z.shape[0]
    running_mean = arguments.column("running_mean", running_mean, n, of="z")
    running_var = arguments.nonnegative("running_var", arguments.column("running_var", running_var, n, of="z"))
    momentum = arguments.fraction("momentum", momentum)
    work = arguments.working_dtype(z.dtype)
    z = z.astype(work, copy=False)
    mu0, _, correction, var = _centered(z, np.empty_like(z))
    mu = mu0 + correction
    new_mean = momentum * running_mean.astype(work) + (1.0 - momentum) * mu
    new_var = momentum * running_var.astype(work) + (1.0 - momentum) * var
    return new_mean.astype(running_mean.dtype), new_var.astype(running_var.dtype)


def eval_affine(
    gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Inference BN as one affine map per unit: ``z~ = scale * z + shift``.

    Formula: ``scale = gamma / sqrt(running_var + eps)``,
    ``shift = beta - scale * running_mean``.  All shapes ``n[l] x 1``.
    """
    gamma = arguments.matrix("gamma", gamma, cols=1)
    n = gamma.shape[0]
    beta = arguments.column("beta", beta, n, of="gamma")
    running_mean = arguments.column("running_mean", running_mean, n, of="gamma")
    running_var = arguments.nonnegative("running_var", arguments.column("running_var", running_var, n, of="gamma"))
    eps = arguments.positive("eps", eps)
    return _eval_affine(gamma, beta, running_mean, running_var, eps)


def _eval_affine(gamma, beta, running_mean, running_var, eps: float) -> tuple[np.ndarray, np.ndarray]:
    scale = gamma / np.sqrt(running_var + eps)
    return scale, beta - scale * running_mean


def forward_eval(
    z: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = DEFAULT_EPS,
) -> np.ndarray:
    """Batch norm in inference mode, with the running estimates (L12).

    Formula: ``z~ = gamma * (z - running_mean) / sqrt(running_var + eps) + beta``,
    computed as the per-unit affine map of :func:`eval_affine`; each example is
    transformed on its own, so ``m = 1`` is an ordinary input.

    Shapes: ``z`` is ``n[l] x m``; the other arrays are ``n[l] x 1``; the result
    is ``n[l] x m`` in z's dtype.
    """
    out_dtype = z.dtype if isinstance(z, np.ndarray) else None
    z, gamma, beta, eps = _check_layer(z, gamma, beta, eps)
    n = z.shape[0]
    running_mean = arguments.column("running_mean", running_mean, n, of="z").astype(z.dtype)
    running_var = arguments.column("running_var", running_var, n, of="z").astype(z.dtype)
    arguments.nonnegative("running_var", running_var)
    scale, shift = _eval_affine(gamma, beta, running_mean, running_var, eps)
    with _row_arithmetic(z.shape[1]):
        out = np.multiply(z, scale)
        out += shift
    arguments.finite_result(out, "the output", z=z)
    return out.astype(out_dtype, copy=False)


def fold_into_dense(
    W: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = DEFAULT_EPS,
) -> tuple[np.ndarray, np.ndarray]:
    """Fold inference BN into the preceding dense layer ``Z = W A``.

    Formula: ``W' = diag(scale) W``, ``b' = shift`` with ``(scale, shift)`` from
    :func:`eval_affine`, so that ``W' A + b' = forward_eval(W A, ...)``.

    Shapes: ``W`` is ``n[l] x n[l-1]``; the others ``n[l] x 1``.  Returns
    ``(W', b')`` with shapes ``n[l] x n[l-1]`` and ``n[l] x 1``.
    """
    W = arguments.matrix("W", W)
    n = W.shape[0]
    gamma = arguments.column("gamma", gamma, n, of="the rows of W")
    beta = arguments.column("beta", beta, n, of="the rows of W")
    running_mean = arguments.column("running_mean", running_mean, n, of="the rows of W")
    running_var = arguments.nonnegative("running_var",
                                        arguments.column("running_var", running_var, n, of="the rows of W"))
    eps = arguments.positive("eps", eps)
    scale, shift = _eval_affine(gamma, beta, running_mean, running_var, eps)
    return scale * W, shift
