"""The batch-norm layer as small pure numpy functions, to be read beside the lecture.

``Z`` is ``n[l] x m`` (units x examples); ``gamma``, ``beta``, the running
statistics and the parameter gradients are ``n[l] x 1`` (L10).  For each unit,
over the ``m`` examples of the mini-batch (L6)::

    mu      = (1/m) sum_i z(i)
    sigma^2 = (1/m) sum_i (z(i) - mu)^2                  (biased: divide by m)
    z_norm  = (z - mu) / sqrt(sigma^2 + eps)             (eps inside the root)
    z~      = gamma * z_norm + beta                      (L8)

Each step is a function, its derivative beside it.  ``forward``, ``backward``,
``update_running`` and ``forward_eval`` are also *the implementation protocol*
that ``bnspec check`` checks, with the variants frameworks ship:
``backward_eval`` (frozen BN) and ``update_cumulative`` (PyTorch's
``momentum=None``).  Numerical care only where correctness needs it:
corrected two-pass statistics, the variance clamped at 0, eps inside the square
root, float16 and bfloat16 computed in float32 (``docs/numerics.md``).
"""

from __future__ import annotations

import numpy as np

from . import arguments

#: This module satisfies the protocol in the lecture's layout and conventions.
layout = "units_first"
profile = "lecture"
#: The dtypes it accepts: float16 and bfloat16 (ml_dtypes' dtype) are computed in float32.
dtypes = ("float64", "float32", "float16", "bfloat16")
#: z in float16 or bfloat16 with float32 gamma, beta and running statistics (autocast) is computed in float32.
mixed_precision = ("float16", "bfloat16")
#: The eps used when none is given (PyTorch's and ONNX's default).
DEFAULT_EPS = 1e-5


def _mean(x: np.ndarray) -> np.ndarray:
    """``(1/m) sum_i x(i)`` for each unit: ``n x m`` -> ``n x 1``."""
    return np.mean(x, axis=1, keepdims=True)


def _statistics(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corrected two-pass statistics: ``(mu, z - mu, sigma^2)``.

    ``mu0 = mean(z)`` is the mean, rounded; the deviations ``d = z - mu0`` have the mean
    ``c``, that rounding's error.  So ``mu = mu0 + c``, ``z - mu = d - c`` and
    ``sigma^2 = mean(d^2) - c^2``: their errors do not grow with the offset |mu| / sigma,
    where the one-pass ``mean(z^2) - mu^2`` loses all digits at |mu| / sigma = 1e8.
    A constant unit can round to a tiny negative variance: it is clamped at 0.
    """
    mu0 = _mean(z)
    d = z - mu0
    c = _mean(d)
    return mu0 + c, d - c, np.maximum(_mean(d * d) - c * c, 0.0)


def _normalize(z: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """``z_norm = (z - mu) / sqrt(sigma^2 + eps)`` and ``inv_std = 1 / sqrt(sigma^2 + eps)``."""
    _, centered, var = _statistics(z)
    inv_std = 1.0 / np.sqrt(var + eps)
    return centered * inv_std, inv_std


def _normalize_backward(dz_norm: np.ndarray, z_norm: np.ndarray, inv_std: np.ndarray) -> np.ndarray:
    """Derivative of :func:`_normalize`: dz from ``dz_norm``.  mu and sigma^2 depend on every
    example of the unit; the chain rule through them collapses to
    ``dz = inv_std * (dz_norm - mean(dz_norm) - z_norm * mean(dz_norm * z_norm))``.
    The mean's term makes dz sum to 0 over the mini-batch (L7); at m = 1, dz = 0."""
    return inv_std * (dz_norm - _mean(dz_norm) - z_norm * _mean(dz_norm * z_norm))


def _affine(z_norm: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``z~ = gamma * z_norm + beta`` (L8): one scale and one shift per unit."""
    return gamma * z_norm + beta


def _affine_backward(grad: np.ndarray, z_norm: np.ndarray, gamma: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Derivative of :func:`_affine`: ``dz_norm = gamma * grad``, ``dgamma = sum_i grad * z_norm``,
    ``dbeta = sum_i grad``."""
    return gamma * grad, np.sum(grad * z_norm, axis=1, keepdims=True), np.sum(grad, axis=1, keepdims=True)


def _layer_arguments(z, gamma, beta, eps) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The layer's arguments checked, its arrays in the dtype the arithmetic runs in: z's,
    or float32 for float16 and bfloat16 (:func:`bnspec.reference.arguments.working_dtype`)."""
    z = arguments.matrix("z", z)
    gamma = arguments.column("gamma", gamma, z.shape[0], of="z")
    beta = arguments.column("beta", beta, z.shape[0], of="z")
    work = arguments.working_dtype(z.dtype)
    return z.astype(work), gamma.astype(work), beta.astype(work), arguments.positive("eps", eps)


def _running_arguments(running_mean, running_var, n: int, of: str) -> tuple[np.ndarray, np.ndarray]:
    """The running statistics checked: ``n x 1`` each, the variance nonnegative."""
    running_mean = arguments.column("running_mean", running_mean, n, of=of)
    return running_mean, arguments.nonnegative("running_var", arguments.column("running_var", running_var, n, of=of))


def batch_statistics(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean ``mu = (1/m) sum_i z(i)`` and biased variance ``sigma^2 = (1/m) sum_i (z(i) - mu)^2``
    of each unit over the mini-batch (L6): ``n[l] x m`` -> two ``n[l] x 1`` arrays in the work dtype,
    by the corrected two-pass algorithm (:func:`_statistics`), never ``E[z^2] - E[z]^2``."""
    z = arguments.matrix("z", z)
    with np.errstate(all="ignore"):  # an overflow of the squares is reported below, naming z
        mu, _, var = _statistics(z.astype(arguments.working_dtype(z.dtype)))
    return mu, arguments.finite_result(var, "the variance", z=z)


def forward(z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Batch norm in training mode: ``z~ = gamma * (z - mu) / sqrt(sigma^2 + eps) + beta`` per unit,
    with ``mu`` and the biased ``sigma^2`` of this mini-batch alone (L1, L6, L8).

    Shapes: ``z`` is ``n[l] x m``, ``gamma`` and ``beta`` ``n[l] x 1``; the result ``n[l] x m`` in z's dtype.
    Numerics: corrected two-pass statistics; eps > 0 inside the square root, so a unit constant
    over the mini-batch (any unit at m = 1) gives ``z_norm = 0``, the output beta.

    Raises:
        TypeError, ValueError: naming the argument: non-arrays, wrong dtypes or shapes, non-finite
            values, ``eps <= 0``, finite values so large that the output overflows.
    """
    z_work, gamma, beta, eps = _layer_arguments(z, gamma, beta, eps)
    with np.errstate(all="ignore"):  # an overflow (float16's included) is reported below, naming the inputs
        z_norm, _ = _normalize(z_work, eps)
        out = _affine(z_norm, gamma, beta).astype(z.dtype)
    return arguments.finite_result(out, "the output", z=z)


def backward(z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dz, dgamma, dbeta)`` of ``sum(grad * forward(z, gamma, beta, eps))`` (L11)::

        dbeta  = sum_i grad(i)
        dgamma = sum_i grad(i) * z_norm(i)
        dz     = gamma / sqrt(sigma^2 + eps) * (grad - mean(grad) - z_norm * mean(grad * z_norm))

    Shapes: ``z``, ``grad``, ``dz`` are ``n[l] x m``, the others ``n[l] x 1``; results in z's dtype.
    Numerics: the statistics are recomputed from z (nothing is cached between calls); ``beta``
    does not enter the gradients but is part of the protocol's signature.

    Raises:
        TypeError, ValueError: as :func:`forward`, and for a bad ``grad``.
    """
    z_work, gamma, beta, eps = _layer_arguments(z, gamma, beta, eps)
    grad = arguments.matrix("grad", grad, rows=z.shape[0], cols=z.shape[1], of="z")
    with np.errstate(all="ignore"):  # an overflow (float16's included) is reported below, naming the inputs
        z_norm, inv_std = _normalize(z_work, eps)
        dz_norm, dgamma, dbeta = _affine_backward(grad.astype(z_work.dtype), z_norm, gamma)
        dz = _normalize_backward(dz_norm, z_norm, inv_std).astype(z.dtype)
        dgamma, dbeta = dgamma.astype(z.dtype), dbeta.astype(z.dtype)
    for result, what in ((dz, "dz"), (dgamma, "dgamma"), (dbeta, "dbeta")):
        arguments.finite_result(result, what, z=z, grad=grad)
    return dz, dgamma, dbeta


def update_running(running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One step of the exponentially weighted averages (L12): ``new = momentum * old + (1 - momentum)
    * batch_statistic`` for the mean and the biased variance (the course's convention, ONNX's,
    Keras' and Flax's: ``momentum`` weighs the old value).

    Shapes: ``z`` is ``n[l] x m``; the running statistics and the results ``n[l] x 1``, in their dtypes.
    Raises TypeError, ValueError as :func:`forward`, and for ``momentum`` outside [0, 1] or a
    negative ``running_var``.
    """
    mu, var = batch_statistics(z)  # z's variance must be finite: refused by name otherwise
    running_mean, running_var = _running_arguments(running_mean, running_var, mu.shape[0], "z")
    momentum = arguments.fraction("momentum", momentum)
    with np.errstate(all="ignore"):  # an overflow is reported below, naming the inputs
        new_mean = (momentum * running_mean.astype(mu.dtype) + (1.0 - momentum) * mu).astype(running_mean.dtype)
        new_var = (momentum * running_var.astype(mu.dtype) + (1.0 - momentum) * var).astype(running_var.dtype)
    inputs = {"running_mean": running_mean, "running_var": running_var, "z": z}
    return (arguments.finite_result(new_mean, "the running mean", **inputs),
            arguments.finite_result(new_var, "the running variance", **inputs))


def eval_affine(gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray,
                eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Inference BN as one affine map per unit, ``z~ = scale * z + shift``:
    ``scale = gamma / sqrt(running_var + eps)``, ``shift = beta - scale * running_mean``.
    All shapes ``n[l] x 1``."""
    gamma = arguments.matrix("gamma", gamma, cols=1)
    beta = arguments.column("beta", beta, gamma.shape[0], of="gamma")
    running_mean, running_var = _running_arguments(running_mean, running_var, gamma.shape[0], "gamma")
    with np.errstate(all="ignore"):  # an overflow is reported below, naming the inputs
        scale = gamma / np.sqrt(running_var + arguments.positive("eps", eps))
        shift = beta - scale * running_mean
    inputs = {"gamma": gamma, "beta": beta, "running_mean": running_mean, "running_var": running_var}
    return (arguments.finite_result(scale, "the scale", **inputs),
            arguments.finite_result(shift, "the shift", **inputs))


def forward_eval(z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                 running_var: np.ndarray, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Batch norm in inference mode (L12): ``z~ = gamma * (z - running_mean) / sqrt(running_var + eps)
    + beta``, the per-unit affine map of :func:`eval_affine`, each example on its own.  Shapes: ``z``
    is ``n[l] x m`` (m = 1 included), the others ``n[l] x 1``; the result ``n[l] x m`` in z's dtype."""
    z_work, gamma, beta, eps = _layer_arguments(z, gamma, beta, eps)
    running_mean, running_var = _running_arguments(running_mean, running_var, z.shape[0], "z")
    work = z_work.dtype
    with np.errstate(all="ignore"):  # an overflow (float16's included) is reported below, naming the inputs
        scale, shift = eval_affine(gamma, beta, running_mean.astype(work), running_var.astype(work), eps)
        out = (scale * z_work + shift).astype(z.dtype)
    return arguments.finite_result(out, "the output", z=z)


def fold_into_dense(W: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                    running_var: np.ndarray, eps: float = DEFAULT_EPS) -> tuple[np.ndarray, np.ndarray]:
    """Fold inference BN into the preceding dense layer ``Z = W A``: ``W' = diag(scale) W``, ``b' = shift``
    with ``(scale, shift)`` from :func:`eval_affine`, so that ``W' A + b' = forward_eval(W A, ...)``.
    Shapes: ``W`` and ``W'`` are ``n[l] x n[l-1]``, the others ``n[l] x 1``."""
    W = arguments.matrix("W", W)
    gamma = arguments.column("gamma", gamma, W.shape[0], of="the rows of W")
    beta = arguments.column("beta", beta, W.shape[0], of="the rows of W")
    running_mean, running_var = _running_arguments(running_mean, running_var, W.shape[0], "the rows of W")
    scale, shift = eval_affine(gamma, beta, running_mean, running_var, eps)
    with np.errstate(all="ignore"):  # an overflow is reported below, naming the inputs
        folded = scale * W
    return arguments.finite_result(folded, "the folded W", W=W, gamma=gamma, running_var=running_var), shift


# -- the variants frameworks ship -----------------------------------------------------------------


def _normalize_eval(z: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray, eps: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Inference's normalization with the running statistics: ``z_norm = (z - running_mean) * inv_std``
    and ``inv_std = 1 / sqrt(running_var + eps)``, each example on its own."""
    inv_std = 1.0 / np.sqrt(running_var + eps)
    return (z - running_mean) * inv_std, inv_std


def _normalize_eval_backward(dz_norm: np.ndarray, inv_std: np.ndarray) -> np.ndarray:
    """Derivative of :func:`_normalize_eval`: ``dz = inv_std * dz_norm``.  The running statistics are
    constants, so there is no mean term and no variance term: compare :func:`_normalize_backward`."""
    return inv_std * dz_norm


def backward_eval(z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                  running_var: np.ndarray, eps: float, grad: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dz, dgamma, dbeta)`` of ``sum(grad * forward_eval(z, gamma, beta, running_mean,
    running_var, eps))``: frozen BN, inference mode inside training (fine-tuning with the statistics
    frozen).  ``z~ = gamma * z_norm + beta`` with ``z_norm = (z - running_mean) / sqrt(running_var + eps)``
    (:func:`_normalize_eval`, then :func:`_affine`), so by their derivatives::

        dbeta  = sum_i grad(i)
        dgamma = sum_i grad(i) * (z(i) - running_mean) / sqrt(running_var + eps)
        dz     = gamma / sqrt(running_var + eps) * grad

    Shapes: ``z``, ``grad``, ``dz`` are ``n[l] x m`` (m = 1 included), the others ``n[l] x 1``; results in
    z's dtype.  Numerics: in the work dtype (float32 for float16 and bfloat16), z - running_mean before
    the scaling, as forward_eval's statistics are subtracted.

    Raises:
        TypeError, ValueError: as :func:`forward_eval`, and for a bad ``grad``.
    """
    z_work, gamma, beta, eps = _layer_arguments(z, gamma, beta, eps)
    running_mean, running_var = _running_arguments(running_mean, running_var, z.shape[0], "z")
    grad = arguments.matrix("grad", grad, rows=z.shape[0], cols=z.shape[1], of="z")
    work = z_work.dtype
    with np.errstate(all="ignore"):  # an overflow (float16's included) is reported below, naming the inputs
        z_norm, inv_std = _normalize_eval(z_work, running_mean.astype(work), running_var.astype(work), eps)
        dz_norm, dgamma, dbeta = _affine_backward(grad.astype(work), z_norm, gamma)
        dz = _normalize_eval_backward(dz_norm, inv_std).astype(z.dtype)
        dgamma, dbeta = dgamma.astype(z.dtype), dbeta.astype(z.dtype)
    for result, what in ((dz, "dz"), (dgamma, "dgamma"), (dbeta, "dbeta")):
        arguments.finite_result(result, what, z=z, grad=grad)
    return dz, dgamma, dbeta


def update_cumulative(running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, num_batches: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The cumulative average of the batch statistics (PyTorch's ``momentum=None``): with ``k =
    num_batches`` mini-batches already averaged into the running statistics, this one's mean and
    biased variance enter with the weight ``1 / (k + 1)``::

        new = old + (batch_statistic - old) / (k + 1) = (k / (k + 1)) * old + (1 / (k + 1)) * batch_statistic

    that is :func:`update_running` with ``momentum = k / (k + 1)`` (the weight of the old value).  From
    ``num_batches = 0`` (the old values are discarded), k updates give the mean of the k mini-batches'
    statistics.  Shapes as :func:`update_running`.

    Raises TypeError, ValueError as :func:`update_running`, and for ``num_batches`` that is not a count.
    """
    k = arguments.whole("num_batches", num_batches, minimum=0)
    return update_running(running_mean, running_var, z, k / (k + 1))
