"""Output layers with their losses, fused with the output activation.

The output layer's activation decides the loss:

=============  ===============================  ==========================
output         prediction ``A[L]``              loss (mean over m examples)
=============  ===============================  ==========================
``sigmoid``    ``sigma(Z[L])``                  binary cross-entropy
``softmax``    ``softmax(Z[L])`` (per column)   categorical cross-entropy
``identity``   ``Z[L]``                         ``(1/(2m)) sum (A - Y)^2``
=============  ===============================  ==========================

``Z[L]``, ``A[L]`` and ``Y`` are ``n[L] x m``.  The loss is computed from
``Z[L]`` directly (log-sigmoid via ``logaddexp``, log-softmax via log-sum-exp),
so it is finite for any finite ``Z[L]``; the fused gradient is
``dZ[L] = (A[L] - Y) / m`` in all three cases.
"""

from __future__ import annotations

import numpy as np

from . import arguments, layers

#: The output activations, each with its loss.
OUTPUTS = ("sigmoid", "softmax", "identity")

#: Tolerance on ``sum_k Y[k, i] = 1`` for the categorical cross-entropy.
_SUM_TOL = 1e-6


def _check_name(name: str) -> str:
    return arguments.choice("name", name, OUTPUTS, "output activation")


# --------------------------------------------------------------------------
# Predictions A[L]
# --------------------------------------------------------------------------


def _log_sum_exp(Z: np.ndarray) -> np.ndarray:
    """``log sum_k exp(z_k)`` per column (``1 x m``), shifted by the column max."""
    top = Z.max(axis=0, keepdims=True)
    return top + np.log(np.exp(Z - top).sum(axis=0, keepdims=True))


def _softmax(Z: np.ndarray) -> np.ndarray:
    """``softmax(z)_k = exp(z_k - max z) / sum_j exp(z_j - max z)`` per column."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def output_activation(name: str, Z_L: np.ndarray) -> np.ndarray:
    """The prediction ``A[L] = g[L](Z[L])`` of the output layer ``name``.

    Formulas: ``sigmoid``: ``1 / (1 + exp(-z))``; ``softmax``: per example
    (column) ``exp(z_k) / sum_j exp(z_j)``; ``identity``: ``z``.

    Shapes: ``Z_L`` and the result are ``n[L] x m``.

    Numerics: sigmoid via ``exp(-|z|)``, softmax with the column maximum
    subtracted first, so neither overflows.
    """
    name = _check_name(name)
    Z_L = arguments.matrix("Z_L", Z_L)
    if name == "sigmoid":
        return layers.sigmoid(Z_L)
    if name == "softmax":
        return _softmax(Z_L)
    return Z_L.copy()


# --------------------------------------------------------------------------
# Losses, each with dLoss/dZ[L] beside it
# --------------------------------------------------------------------------


def _binary_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    """``(1/m) sum -[y log sigma(z) + (1-y) log(1 - sigma(z))]``, with
    ``-log sigma(z) = logaddexp(0, -z)`` and ``-log(1 - sigma(z)) = logaddexp(0, z)``."""
    m = Z.shape[1]
    return float((Y * np.logaddexp(0.0, -Z) + (1.0 - Y) * np.logaddexp(0.0, Z)).sum() / m)


def _binary_cross_entropy_grad(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``dZ = (sigma(z) - y) / m``."""
    return (layers.sigmoid(Z) - Y) / Z.shape[1]


def _categorical_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    """``(1/m) sum_i -sum_k y_k log softmax(z)_k``, with
    ``-log softmax(z)_k = logsumexp(z) - z_k``."""
    m = Z.shape[1]
    return float((Y * (_log_sum_exp(Z) - Z)).sum() / m)


def _categorical_cross_entropy_grad(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``dZ = (softmax(z) - y) / m`` (uses ``sum_k y_k = 1``)."""
    return (_softmax(Z) - Y) / Z.shape[1]


def _mean_squared_error(Z: np.ndarray, Y: np.ndarray) -> float:
    """``(1/(2m)) sum_i sum_k (z_k - y_k)^2`` (the 1/2 cancels the square's 2)."""
    return float(np.square(Z - Y).sum() / (2 * Z.shape[1]))


def _mean_squared_error_grad(Z: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``dZ = (z - y) / m``."""
    return (Z - Y) / Z.shape[1]


_LOSSES = {
    "sigmoid": (_binary_cross_entropy, _binary_cross_entropy_grad),
    "softmax": (_categorical_cross_entropy, _categorical_cross_entropy_grad),
    "identity": (_mean_squared_error, _mean_squared_error_grad),
}


def _check_labels(name: str, Y: np.ndarray) -> None:
    if name == "sigmoid" and ((Y < 0).any() or (Y > 1).any()):
        raise ValueError("Y: binary cross-entropy expects labels in [0, 1]")
    if name == "softmax":
        sums = Y.sum(axis=0)
        if (Y < 0).any() or np.abs(sums - 1.0).max() > _SUM_TOL:
            raise ValueError(
                "Y: categorical cross-entropy expects each column to be one-hot "
                "(non-negative, summing to 1)"
            )


def loss_and_grad(name: str, Z_L: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """The loss of the output layer ``name`` and its gradient ``dLoss/dZ[L]``.

    Formulas (means over the m examples, sums over the ``n[L]`` output units):

    - ``sigmoid``, binary cross-entropy:
      ``(1/m) sum [y logaddexp(0, -z) + (1 - y) logaddexp(0, z)]``,
      ``dZ = (sigma(z) - y) / m``;
    - ``softmax``, categorical cross-entropy (``Y`` one-hot per column):
      ``(1/m) sum y_k (logsumexp(z) - z_k)``, ``dZ = (softmax(z) - y) / m``;
    - ``identity``, mean squared error with the 1/2:
      ``(1/(2m)) sum (z - y)^2``, ``dZ = (z - y) / m``.

    Shapes: ``Z_L`` and ``Y`` are ``n[L] x m``.  Returns ``(loss, dZ_L)``: a
    Python float and an ``n[L] x m`` array.

    Numerics: computed from ``Z[L]``, never from ``log(A[L])``, so saturated
    outputs give a large finite loss rather than ``inf`` or NaN.

    Raises:
        TypeError, ValueError: naming the argument, for an unknown ``name``,
            mismatched shapes, non-finite values, BCE labels outside [0, 1], or
            CE label columns that are not distributions.
    """
    name = _check_name(name)
    Z_L = arguments.matrix("Z_L", Z_L)
    Y = arguments.matrix("Y", Y, rows=Z_L.shape[0], cols=Z_L.shape[1], of="Z_L")
    _check_labels(name, Y)
    loss, grad = _LOSSES[name]
    return loss(Z_L, Y), grad(Z_L, Y)
