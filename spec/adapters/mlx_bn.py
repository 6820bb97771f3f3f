"""MLX's own batch norm, ``mlx.nn.BatchNorm``, behind the protocol.

Every function builds an ``mlx.nn.BatchNorm(n, eps=..., momentum=...)`` (default
``affine=True, track_running_stats=True``), puts the protocol's arrays in its
``weight``, ``bias``, ``running_mean`` and ``running_var``, and calls it:

- ``forward``: in training mode (``module.train()``, the default), with
  *non-trivial* running statistics (mean 3.0, variance 7.0), so that an output
  that wrongly used them would be caught;
- ``backward``: ``mlx.core.grad`` of ``sum(grad * module(z))`` with respect to z,
  weight and bias (``argnums=(0, 1, 2)``), the module in training mode;
- ``update_running``: a training-mode call of ``BatchNorm(n, momentum=momentum)``;
  returns the module's ``running_mean`` and ``running_var`` afterwards;
- ``forward_eval``: the module after ``module.eval()``, which normalizes with its
  running statistics.

MLX's BatchNorm is channels last: "The input shape is specified as ``NC`` or
``NLC`` [...] For four-dimensional arrays, the shape is ``NHWC``", and its
``__call__`` raises ValueError for fewer than 2 or more than 4 dims; the
statistics are taken over ``tuple(range(0, x.ndim - 1))``
(mlx/nn/layers/normalization.py).  Hence ``layout = "channels_last"`` with
spatial ranks 0 to 2: ``z`` is ``(N, C)``, ``(N, L, C)`` or ``(N, H, W, C)`` and
the per-channel arrays are ``(C,)``.  Arrays are made with
``mlx.core.array(np.ascontiguousarray(value), dtype=...)`` (MLX 0.32 reads a
non-contiguous numpy array right, but a C-contiguous copy does not depend on
it): float64 stays float64 (MLX computes float64 on its CPU device, the only
device of the Linux ``mlx[cpu]`` wheel) and float32 stays float32; the per-unit
arrays are given z's dtype.  An empty array (m = 0) is made with
``mx.zeros(shape, dtype)`` instead -- it has no values to copy: in MLX 0.32.4
(CPU) a reduction over an empty axis of ``mx.array(np.zeros((0, 3)))`` now and
then never finishes (its stream thread spins in ``reduction_op``'s ``nd_loop``:
30 ``mx.var(x, axis=(0,))`` hung in 4 of 6 runs, float64 and float32), where
the same reductions of ``mx.zeros((0, 3))`` finished in all 6, so that
BN-EMPTY-1 to -3 judge MLX's BatchNorm instead of hanging the run.  MLX is
lazy: converting a result with ``numpy.array`` evaluates it and copies it.  MLX
compiles nothing per shape (no ``mx.compile`` here): every shape the runner
draws reaches it as drawn.

Install on Linux with ``pip install "mlx[cpu]"``: the bare ``mlx`` wheel imports
``mlx.core`` against a ``libmlx.so`` that only the ``mlx-cpu`` (or ``mlx-cuda``)
package provides.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

#: Running statistics handed to the training-mode module by forward and backward.
FORWARD_RUNNING_MEAN = 3.0
FORWARD_RUNNING_VAR = 7.0
_DTYPES = {np.dtype(np.float64): mx.float64, np.dtype(np.float32): mx.float32}

#: Clauses MLX fails under the ``mlx`` profile, and why: one SHOULD on an edge case (the evidence:
#: ``bnspec check mlx``, seed 0, 40 examples, channels_last z).
FINDINGS: dict[str, str] = {
    "BN-EMPTY-3": "update_running with m = 0 returns running_mean [nan] for [0.] (and a NaN variance): "
                  "mlx.nn.BatchNorm refuses a batch of one value per channel (stats_size == 1) but not of none, "
                  "and updates (1 - momentum) * running_mean + momentum * mean with mx.mean over no element, "
                  "0/0 = NaN, where PyTorch leaves the running statistics unchanged.",
}


def _array(value: np.ndarray, dtype: Any) -> Any:
    """``value`` as an MLX array of ``dtype``, from a C-contiguous copy; an empty one (m = 0) made by
    ``mx.zeros`` of its shape (see the module's docstring)."""
    if value.size == 0:
        return mx.zeros(value.shape, dtype=dtype)
    return mx.array(np.ascontiguousarray(value), dtype=dtype)


def _arrays(z: Any, per_unit: list[Any], tail: list[Any] | None = None) -> tuple[Any, list[Any], list[Any]]:
    """z (N, *S, C), the per-channel arrays (C,) and any arrays of z's shape as MLX arrays of z's dtype."""
    z = np.asarray(z)
    if z.ndim < 1:  # a z of another rank reaches mlx.nn.BatchNorm, which refuses all but 2 to 4 dims
        raise ValueError(f"z: expected (N, *S, C), got shape {z.shape}")
    if z.dtype not in _DTYPES:
        raise TypeError(f"z: dtype {z.dtype} is not supported (float64 or float32)")
    dtype = _DTYPES[z.dtype]
    n = z.shape[-1]
    units = []
    for value in per_unit:
        value = np.asarray(value)
        if value.shape != (n,):
            raise ValueError(f"per-channel array: expected shape ({n},), got {value.shape}")
        units.append(_array(value, dtype))
    matrices = []
    for value in tail or []:
        value = np.asarray(value)
        if value.shape != z.shape:
            raise ValueError(f"grad: expected shape {z.shape}, got {value.shape}")
        matrices.append(_array(value, dtype))
    return _array(z, dtype), units, matrices


def _numpy(*arrays: Any) -> tuple[np.ndarray, ...]:
    return tuple(np.array(a, copy=True) for a in arrays)


def _training_module(n: int, eps: float, dtype: Any) -> nn.BatchNorm:
    bn = nn.BatchNorm(n, eps=eps)
    bn.running_mean = mx.full((n,), FORWARD_RUNNING_MEAN, dtype=dtype)
    bn.running_var = mx.full((n,), FORWARD_RUNNING_VAR, dtype=dtype)
    bn.train()
    return bn


class MlxBN:
    """The protocol on mlx.nn.BatchNorm (no-argument constructor)."""

    layout = "channels_last"
    #: mlx.nn.BatchNorm takes 2 to 4 dims: (N, C), (N, L, C), (N, H, W, C).
    spatial_dims = (0, 1, 2)
    profile = "mlx"

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        x, (weight, bias), _ = _arrays(z, [gamma, beta])
        bn = _training_module(x.shape[-1], eps, x.dtype)
        bn.weight, bn.bias = weight, bias
        (out,) = _numpy(bn(x))
        return out

    def backward(
        self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, (weight, bias), (upstream,) = _arrays(z, [gamma, beta], [grad])
        bn = _training_module(x.shape[-1], eps, x.dtype)

        def objective(x: Any, weight: Any, bias: Any) -> Any:
            bn.weight, bn.bias = weight, bias
            return mx.sum(upstream * bn(x))

        dz, dgamma, dbeta = _numpy(*mx.grad(objective, argnums=(0, 1, 2))(x, weight, bias))
        return dz, dgamma, dbeta

    def update_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        x, (mean, var), _ = _arrays(z, [running_mean, running_var])
        bn = nn.BatchNorm(x.shape[-1], momentum=momentum)
        bn.running_mean, bn.running_var = mean, var
        bn.train()
        bn(x)
        new_mean, new_var = _numpy(bn.running_mean, bn.running_var)
        return new_mean, new_var

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        x, (weight, bias, mean, var), _ = _arrays(z, [gamma, beta, running_mean, running_var])
        bn = nn.BatchNorm(x.shape[-1], eps=eps)
        bn.weight, bn.bias, bn.running_mean, bn.running_var = weight, bias, mean, var
        bn.eval()
        (out,) = _numpy(bn(x))
        return out
