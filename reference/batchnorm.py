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
algorithm (never ``E[z^2] - E[z]^2``); float64 by default, float32 stays
float32, float16 is accumulated in float32 and returned as float16.
"""

from __future__ import annotations

import numpy as np

from . import arguments

#: This module satisfies the protocol in the lecture's layout and conventions.
layout = "units_first"
profile = "lecture"

#: The eps used when none is given (PyTorch's and ONNX's default).
DEFAULT_EPS = 1e-5


# --------------------------------------------------------------------------
# Statistics of a mini-batch (L6)
# --------------------------------------------------------------------------


def batch_statistics(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance of each unit over the mini-batch.

    Formula: ``mu = (1/m) sum_i z(i)``, ``sigma^2 = (1/m) sum_i (z(i) - mu)^2``.

    Shapes: ``z`` is ``n x m``; ``mu`` and ``sigma^2`` are ``n x 1``.

    Numerics: the corrected two-pass algorithm (Bjorck): a first pass for the
    mean, then the deviations ``d = z - mu0`` and the correction
    ``c = mean(d)``, which removes the rounding error of the first mean:
    ``mu = mu0 + c``, ``sigma^2 = mean(d^2) - c^2``.  Its error does not grow
    with the offset ``|mu| / sigma`` the way the one-pass formula's does.
    """
    z = arguments.matrix("z", z)
    return _statistics(z.astype(arguments.working_dtype(z.dtype), copy=False))


def _statistics(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu0 = z.mean(axis=1, keepdims=True)
    d = z - mu0
    correction = d.mean(axis=1, keepdims=True)
    var = np.square(d).mean(axis=1, keepdims=True) - np.square(correction)
    # Rounding can leave a tiny negative number for a constant unit.
    np.maximum(var, 0.0, out=var)
    return mu0 + correction, var


# --------------------------------------------------------------------------
# Training mode: forward and backward
# --------------------------------------------------------------------------


def _normalize(z: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """``z_norm = (z - mu) / sqrt(sigma^2 + eps)`` and ``inv_std = 1/sqrt(sigma^2 + eps)``."""
    mu, var = _statistics(z)
    inv_std = 1.0 / np.sqrt(var + eps)
    return (z - mu) * inv_std, inv_std


def _normalize_backward(dz_norm: np.ndarray, z_norm: np.ndarray, inv_std: np.ndarray) -> np.ndarray:
    """Derivative of ``_normalize``: dz from dz_norm.

    With ``z_norm = (z - mu) * inv_std`` and mu, sigma^2 depending on every
    example of the unit, the chain rule through mu and sigma^2 collapses to
    ``dz = inv_std * (dz_norm - mean(dz_norm) - z_norm * mean(dz_norm * z_norm))``
    (means over the m examples).  At m = 1, z_norm = 0 and dz_norm - mean = 0,
    so dz = 0.
    """
    mean_d = dz_norm.mean(axis=1, keepdims=True)
    mean_dx = (dz_norm * z_norm).mean(axis=1, keepdims=True)
    return inv_std * (dz_norm - mean_d - z_norm * mean_dx)


def _affine(z_norm: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``z~ = gamma * z_norm + beta`` (L8)."""
    return gamma * z_norm + beta


def _affine_backward(
    grad: np.ndarray, z_norm: np.ndarray, gamma: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Derivative of ``_affine``: ``dz_norm = gamma * grad``,
    ``dgamma = sum_i grad * z_norm``, ``dbeta = sum_i grad``."""
    dgamma = (grad * z_norm).sum(axis=1, keepdims=True)
    dbeta = grad.sum(axis=1, keepdims=True)
    return gamma * grad, dgamma, dbeta


def _check_layer(z, gamma, beta, eps) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    z = arguments.matrix("z", z)
    n = z.shape[0]
    gamma = arguments.column("gamma", gamma, n)
    beta = arguments.column("beta", beta, n)
    eps = arguments.positive("eps", eps)
    work = arguments.working_dtype(z.dtype)
    return z.astype(work, copy=False), gamma.astype(work), beta.astype(work), eps


def forward(z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Batch norm in training mode: ``Z~ = BN(Z; gamma, beta)`` (L1, L6, L8).

    Formula: ``z~ = gamma * (z - mu) / sqrt(sigma^2 + eps) + beta`` with ``mu``
    and the biased ``sigma^2`` of this mini-batch alone, per unit.

    Shapes: ``z`` is ``n[l] x m``; ``gamma``, ``beta`` are ``n[l] x 1``; the
    result is ``n[l] x m`` in z's dtype.

    Numerics: corrected two-pass statistics; eps > 0 inside the square root,
    so a unit constant over the mini-batch gives ``z_norm = 0`` and the output
    ``beta``; at ``m = 1`` the output is ``beta`` (clause BN-DEG-2).

    Raises:
        TypeError, ValueError: naming the argument, for non-arrays, wrong
            dtypes or shapes, non-finite values, or ``eps <= 0``.
    """
    out_dtype = z.dtype if isinstance(z, np.ndarray) else None
    z, gamma, beta, eps = _check_layer(z, gamma, beta, eps)
    z_norm, _ = _normalize(z, eps)
    return _affine(z_norm, gamma, beta).astype(out_dtype, copy=False)


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

    Numerics: recomputes the forward statistics (two-pass); ``beta`` does not
    enter the gradients but is part of the protocol's signature.
    """
    out_dtype = z.dtype if isinstance(z, np.ndarray) else None
    z, gamma, beta, eps = _check_layer(z, gamma, beta, eps)
    grad = arguments.matrix("grad", grad, rows=z.shape[0], cols=z.shape[1]).astype(z.dtype, copy=False)
    z_norm, inv_std = _normalize(z, eps)
    dz_norm, dgamma, dbeta = _affine_backward(grad, z_norm, gamma)
    dz = _normalize_backward(dz_norm, z_norm, inv_std)
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
    running_mean = arguments.column("running_mean", running_mean, n)
    running_var = arguments.column("running_var", running_var, n)
    if (running_var < 0).any():
        raise ValueError("running_var: a variance cannot be negative")
    momentum = arguments.fraction("momentum", momentum)
    work = arguments.working_dtype(z.dtype)
    mu, var = _statistics(z.astype(work, copy=False))
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
    running_mean = arguments.column("running_mean", running_mean, n).astype(z.dtype)
    running_var = arguments.column("running_var", running_var, n).astype(z.dtype)
    if (running_var < 0).any():
        raise ValueError("running_var: a variance cannot be negative")
    scale, shift = eval_affine(gamma, beta, running_mean, running_var, eps)
    return (scale * z + shift).astype(out_dtype, copy=False)


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
    gamma = arguments.column("gamma", gamma, n)
    beta = arguments.column("beta", beta, n)
    running_mean = arguments.column("running_mean", running_mean, n)
    running_var = arguments.column("running_var", running_var, n)
    if (running_var < 0).any():
        raise ValueError("running_var: a variance cannot be negative")
    eps = arguments.positive("eps", eps)
    scale, shift = eval_affine(gamma, beta, running_mean, running_var, eps)
    return scale * W, shift
