"""Batch norm from scratch in numpy, written after the lecture.

Layout "batch_first", as course notebooks use: ``z`` is ``m x n`` (one row per
example, one column per unit); ``gamma``, ``beta``, the running mean and
variance, ``dgamma`` and ``dbeta`` are 1-D arrays of shape ``(n,)``.  Every
statistic is taken per unit, i.e. down the columns (``axis=0``).

No cache is kept between calls: ``backward`` recomputes what it needs from
``z``, so each function can be read (and checked) on its own.
"""

import numpy as np

layout = "batch_first"
profile = "lecture"


def _work(z):
    # Compute in at least float32 (float16 inputs are widened, float64 kept).
    return np.promote_types(z.dtype, np.float32)


def _normalize(z, eps):
    """Return z_norm and 1/sqrt(var + eps) for an m x n mini-batch."""
    m = z.shape[0]
    # Step 1: the mean of each unit over the m examples.
    mu = np.sum(z, axis=0) / m
    # Step 2: the deviations from that mean.
    centered = z - mu
    # Step 3: the variance, as the mean of the squared deviations (divide by m).
    var = np.sum(centered**2, axis=0) / m
    # Step 4: one over the standard deviation, with eps inside the square root.
    inv_std = 1.0 / np.sqrt(var + eps)
    # Step 5: the normalized values, mean 0 and variance ~1 per unit.
    return centered * inv_std, inv_std


def forward(z, gamma, beta, eps=1e-5):
    """Training mode: normalize with this mini-batch's mean and variance."""
    work = _work(z)
    z_norm, _ = _normalize(z.astype(work), eps)
    # Step 6: scale by gamma and shift by beta (both learned, one per unit).
    out = gamma.astype(work) * z_norm + beta.astype(work)
    return out.astype(z.dtype)


def backward(z, gamma, beta, eps, grad):
    """Gradients of sum(grad * forward(z, gamma, beta, eps)).

    Returns (dz, dgamma, dbeta); beta is not needed but kept in the signature.
    """
    work = _work(z)
    m = z.shape[0]
    grad = grad.astype(work)
    # Recompute the forward pass' normalized values.
    z_norm, inv_std = _normalize(z.astype(work), eps)
    # The parameters: z~ = gamma * z_norm + beta, summed over the examples.
    dbeta = np.sum(grad, axis=0)
    dgamma = np.sum(grad * z_norm, axis=0)
    # Back through the scale: the gradient reaching z_norm.
    dz_norm = gamma.astype(work) * grad
    # Back through the normalization.  mu and var depend on every example, so
    # besides the direct path we subtract the mean of dz_norm (path through mu)
    # and z_norm times the mean of dz_norm * z_norm (path through var).
    mean_dz_norm = np.sum(dz_norm, axis=0) / m
    mean_dz_norm_z_norm = np.sum(dz_norm * z_norm, axis=0) / m
    dz = inv_std * (dz_norm - mean_dz_norm - z_norm * mean_dz_norm_z_norm)
    return dz.astype(z.dtype), dgamma.astype(z.dtype), dbeta.astype(z.dtype)


def update_running(running_mean, running_var, z, momentum):
    """One step of the exponentially weighted averages of mean and variance.

    new = momentum * old + (1 - momentum) * batch value, with the biased
    batch variance.  Returns new arrays; the old ones are left untouched.
    """
    work = _work(z)
    z = z.astype(work)
    m = z.shape[0]
    # The statistics of this mini-batch (two passes, divide by m).
    batch_mean = np.sum(z, axis=0) / m
    batch_var = np.sum((z - batch_mean) ** 2, axis=0) / m
    # Blend them into the running estimates.
    new_mean = momentum * running_mean.astype(work) + (1 - momentum) * batch_mean
    new_var = momentum * running_var.astype(work) + (1 - momentum) * batch_var
    return new_mean.astype(running_mean.dtype), new_var.astype(running_var.dtype)


def forward_eval(z, gamma, beta, running_mean, running_var, eps=1e-5):
    """Inference: normalize with the running estimates instead of the batch's."""
    work = _work(z)
    z_norm = (z.astype(work) - running_mean.astype(work)) / np.sqrt(running_var.astype(work) + eps)
    out = gamma.astype(work) * z_norm + beta.astype(work)
    return out.astype(z.dtype)
