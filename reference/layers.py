"""The dense layer and the activations, as small pure numpy functions.

Shapes follow the lecture (L1, L10): ``W[l]`` is ``n[l] x n[l-1]``, ``A[l-1]``
is ``n[l-1] x m``, ``Z[l]`` and ``A[l]`` are ``n[l] x m``, ``b[l]`` is
``n[l] x 1``.  Each derivative sits beside the formula it differentiates.
Nothing here modifies its inputs; float64 in gives float64 out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import arguments

#: The slope of ``leaky_relu`` for ``z < 0``.
LEAKY_SLOPE = 0.01


# --------------------------------------------------------------------------
# Dense layer: Z = W A (+ b)   (L1; no b in a layer with BN, L7)
# --------------------------------------------------------------------------


def dense(W: np.ndarray, A: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """The linear part of a layer: ``Z[l] = W[l] A[l-1] + b[l]``.

    Shapes: ``W`` is ``n[l] x n[l-1]``, ``A`` is ``n[l-1] x m``, ``b`` is
    ``n[l] x 1`` (broadcast over the m examples) or ``None`` -- a layer with BN
    has no bias (L7), so then ``Z[l] = W[l] A[l-1]``.  Returns ``Z`` ``n[l] x m``.

    Numerics: one matrix product (numpy's BLAS), dtype promoted from the inputs.

    Raises:
        TypeError, ValueError: naming the argument, for non-arrays, non-float
            dtypes, mismatched shapes or non-finite values.
    """
    W = arguments.matrix("W", W)
    A = arguments.matrix("A", A, rows=W.shape[1], of="the columns of W")
    b = None if b is None else arguments.column("b", b, W.shape[0], of="the rows of W")
    Z = W @ A
    return Z if b is None else Z + b


def dense_backward(
    dZ: np.ndarray, W: np.ndarray, A: np.ndarray, with_bias: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Derivative of :func:`dense`: from ``dZ = dLoss/dZ[l]`` to its inputs.

    Formulas: ``dW = dZ A^T``, ``dA = W^T dZ``, ``db = sum_i dZ(i)`` (a sum over
    the examples, because ``b`` is broadcast to each of them).  The ``1/m`` of
    the mean loss is already inside ``dZ`` (see :mod:`losses`).

    Shapes: ``dZ`` is ``n[l] x m``, ``W`` is ``n[l] x n[l-1]``, ``A`` is
    ``n[l-1] x m``.  Returns ``(dW, dA, db)``: ``n[l] x n[l-1]``,
    ``n[l-1] x m`` and ``n[l] x 1``, or ``db = None`` when ``with_bias`` is
    False (a layer with BN, L11: no ``db[l]`` any more).
    """
    W = arguments.matrix("W", W)
    A = arguments.matrix("A", A, rows=W.shape[1], of="the columns of W")
    dZ = arguments.matrix("dZ", dZ, rows=W.shape[0], cols=A.shape[1], of="the rows of W and the columns of A")
    with_bias = arguments.flag("with_bias", with_bias)
    db = dZ.sum(axis=1, keepdims=True) if with_bias else None
    return dZ @ A.T, W.T @ dZ, db


# --------------------------------------------------------------------------
# Activations: A = g(Z), and g'(Z) right beside it
# --------------------------------------------------------------------------


def _relu(Z: np.ndarray) -> np.ndarray:
    """``g(z) = max(z, 0)``."""
    return np.maximum(Z, 0.0)


def _relu_prime(Z: np.ndarray) -> np.ndarray:
    """``g'(z) = 1 if z > 0 else 0`` (0 at the kink z = 0)."""
    return (Z > 0).astype(Z.dtype)


def _leaky_relu(Z: np.ndarray) -> np.ndarray:
    """``g(z) = z if z > 0 else 0.01 z``."""
    return np.where(Z > 0, Z, LEAKY_SLOPE * Z)


def _leaky_relu_prime(Z: np.ndarray) -> np.ndarray:
    """``g'(z) = 1 if z > 0 else 0.01`` (0.01 at the kink z = 0)."""
    return np.where(Z > 0, 1.0, LEAKY_SLOPE).astype(Z.dtype)


def _tanh(Z: np.ndarray) -> np.ndarray:
    """``g(z) = tanh(z)``."""
    return np.tanh(Z)


def _tanh_prime(Z: np.ndarray) -> np.ndarray:
    """``g'(z) = 1 - tanh(z)^2``."""
    return 1.0 - np.square(np.tanh(Z))


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """``sigma(z) = 1 / (1 + exp(-z))``, elementwise; ``Z`` and the result ``n x m``.

    Numerics: with ``e = exp(-|z|)`` (never overflows), ``sigma(z) = 1/(1+e)``
    for ``z >= 0`` and ``e/(1+e)`` for ``z < 0``: no overflow warning for large
    ``|z|``, and tiny values for large negative z are kept instead of being
    rounded from ``1 - 1``.
    """
    return _sigmoid(arguments.matrix("Z", Z))


def _sigmoid(Z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0, e) / (1.0 + e)


def _sigmoid_prime(Z: np.ndarray) -> np.ndarray:
    """``g'(z) = sigma(z) (1 - sigma(z))``, with ``1 - sigma(z) = sigma(-z)``."""
    return _sigmoid(Z) * _sigmoid(-Z)


def _identity(Z: np.ndarray) -> np.ndarray:
    """``g(z) = z`` (a new array)."""
    return Z.copy()


def _identity_prime(Z: np.ndarray) -> np.ndarray:
    """``g'(z) = 1``."""
    return np.ones_like(Z)


@dataclass(frozen=True)
class Activation:
    """An elementwise activation ``A = g(Z)`` with its derivative ``g'``.

    ``forward(Z) -> A`` and ``backward(Z, dA) -> dZ = dA * g'(Z)`` take and
    return ``n[l] x m`` arrays; both validate their arguments.  ``g`` and
    ``g_prime`` are the raw elementwise functions (no checks).
    """

    name: str
    g: Callable[[np.ndarray], np.ndarray]
    g_prime: Callable[[np.ndarray], np.ndarray]

    def forward(self, Z: np.ndarray) -> np.ndarray:
        """``A = g(Z)``; ``Z`` and ``A`` are ``n[l] x m``."""
        return self.g(arguments.matrix("Z", Z))

    def backward(self, Z: np.ndarray, dA: np.ndarray) -> np.ndarray:
        """``dZ = dA * g'(Z)`` (chain rule, elementwise); all ``n[l] x m``."""
        Z = arguments.matrix("Z", Z)
        dA = arguments.matrix("dA", dA, rows=Z.shape[0], cols=Z.shape[1], of="Z")
        return dA * self.g_prime(Z)


#: The hidden-layer activations by name.
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", _relu, _relu_prime),
    "leaky_relu": Activation("leaky_relu", _leaky_relu, _leaky_relu_prime),
    "tanh": Activation("tanh", _tanh, _tanh_prime),
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_prime),
    "identity": Activation("identity", _identity, _identity_prime),
}


def activation(name: str) -> Activation:
    """The :class:`Activation` called ``name`` (one of :data:`ACTIVATIONS`).

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is not a known activation.
    """
    return ACTIVATIONS[arguments.choice("name", name, tuple(ACTIVATIONS), "activation")]
