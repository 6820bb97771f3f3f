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

MLX's BatchNorm is N x C (features last): ``z`` is m x n and the per-unit arrays
are 1-D of length n (``layout = "batch_first"``).  Arrays are made with
``mlx.core.array(value, dtype=...)``: float64 stays float64 (MLX computes float64
on its CPU device, the only device of the Linux ``mlx[cpu]`` wheel) and float32
stays float32; the per-unit arrays are given z's dtype.  MLX is lazy: converting
a result with ``numpy.array`` evaluates it and copies it.

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

#: Clauses MLX fails under the ``mlx`` profile, and why: none.
FINDINGS: dict[str, str] = {}


def _arrays(z: Any, per_unit: list[Any], tail: list[Any] | None = None) -> tuple[Any, list[Any], list[Any]]:
    """z, the per-unit arrays and any m x n arrays as MLX arrays of z's dtype."""
    z = np.asarray(z)
    if z.ndim != 2:
        raise ValueError(f"z: expected an m x n matrix, got shape {z.shape}")
    if z.dtype not in _DTYPES:
        raise TypeError(f"z: dtype {z.dtype} is not supported (float64 or float32)")
    dtype = _DTYPES[z.dtype]
    m, n = z.shape
    units = []
    for value in per_unit:
        value = np.asarray(value)
        if value.shape != (n,):
            raise ValueError(f"per-unit array: expected shape ({n},), got {value.shape}")
        units.append(mx.array(value, dtype=dtype))
    matrices = []
    for value in tail or []:
        value = np.asarray(value)
        if value.shape != (m, n):
            raise ValueError(f"grad: expected shape {(m, n)}, got {value.shape}")
        matrices.append(mx.array(value, dtype=dtype))
    return mx.array(z, dtype=dtype), units, matrices


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

    layout = "batch_first"
    profile = "mlx"

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        x, (weight, bias), _ = _arrays(z, [gamma, beta])
        bn = _training_module(x.shape[1], eps, x.dtype)
        bn.weight, bn.bias = weight, bias
        (out,) = _numpy(bn(x))
        return out

    def backward(
        self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, (weight, bias), (upstream,) = _arrays(z, [gamma, beta], [grad])
        bn = _training_module(x.shape[1], eps, x.dtype)

        def objective(x: Any, weight: Any, bias: Any) -> Any:
            bn.weight, bn.bias = weight, bias
            return mx.sum(upstream * bn(x))

        dz, dgamma, dbeta = _numpy(*mx.grad(objective, argnums=(0, 1, 2))(x, weight, bias))
        return dz, dgamma, dbeta

    def update_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        x, (mean, var), _ = _arrays(z, [running_mean, running_var])
        bn = nn.BatchNorm(x.shape[1], momentum=momentum)
        bn.running_mean, bn.running_var = mean, var
        bn.train()
        bn(x)
        new_mean, new_var = _numpy(bn.running_mean, bn.running_var)
        return new_mean, new_var

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        x, (weight, bias, mean, var), _ = _arrays(z, [gamma, beta, running_mean, running_var])
        bn = nn.BatchNorm(x.shape[1], eps=eps)
        bn.weight, bn.bias, bn.running_mean, bn.running_var = weight, bias, mean, var
        bn.eval()
        (out,) = _numpy(bn(x))
        return out
