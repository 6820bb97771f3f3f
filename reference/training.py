"""Mini-batches, the training loop (L6, L11) and small separable data sets.

One training step on mini-batch ``X{t}``: forward propagation with BN using
the statistics of ``X{t}`` alone, back propagation to ``dW[l]``, ``dgamma[l]``,
``dbeta[l]`` (and ``db[l]`` in layers without BN), one optimizer step on every
parameter, then one update of the running statistics of each BN layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import arguments, network


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def minibatches(
    X: np.ndarray, Y: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffle the m examples (columns) and cut them into mini-batches (L6).

    Formula: with the permutation ``pi = rng.permutation(m)``, mini-batch
    ``t = 1, 2, ...`` holds the columns ``pi[(t-1) * batch_size : t * batch_size]``
    of ``X`` and ``Y``; the last one is smaller when ``batch_size`` does not
    divide m.  Every example appears exactly once.

    Shapes: ``X`` is ``n_x x m``, ``Y`` is ``n[L] x m``; returns a list of
    ``(X{t}, Y{t})`` pairs, ``n_x x m_t`` and ``n[L] x m_t``, new arrays.
    """
    X = arguments.matrix("X", X)
    Y = arguments.matrix("Y", Y, cols=X.shape[1], of="the examples of X")
    batch_size = arguments.count("batch_size", batch_size)
    order = _check_rng(rng).permutation(X.shape[1])
    starts = range(0, X.shape[1], batch_size)
    return [(X[:, order[s : s + batch_size]], Y[:, order[s : s + batch_size]]) for s in starts]


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`train` returns: the final parameters, running statistics and
    optimizer state, and the loss of every mini-batch step, in order."""

    params: dict[str, np.ndarray]
    running: dict[str, np.ndarray]
    opt_state: dict
    losses: list[float]


def train(
    spec: network.NetworkSpec,
    params: dict[str, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    optimizer: Any,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    bn: Any = None,
    running: dict[str, np.ndarray] | None = None,
) -> TrainingResult:
    """Mini-batch training (L11): for each epoch, for each mini-batch ``X{t}``::

        loss, grads = forward on X{t} (BN with X{t}'s statistics) + backward
        params, opt_state = optimizer.step(params, grads, opt_state)
        running = bn.update_running(running, Z[l] of X{t}, spec.momentum)

    Shapes: ``X`` is ``n_x x m``, ``Y`` is ``n[L] x m``.  ``optimizer`` is one
    of :mod:`optimizers` (anything with ``init`` and ``step``); ``running``
    defaults to :func:`network.init_running`.  The inputs are not modified.
    ``losses`` holds each step's loss, computed before that step's update.
    """
    spec = network.validate_spec(spec)
    network.validate_params(spec, params)
    X = arguments.matrix("X", X, rows=spec.n_x, of="spec.n_x")
    Y = arguments.matrix("Y", Y, rows=spec.layers[-1].units, cols=X.shape[1],
                         of="the output layer of spec and the examples of X")
    epochs = arguments.count("epochs", epochs, minimum=0)
    batch_size = arguments.count("batch_size", batch_size)
    _check_rng(rng)
    network.validate_bn(bn)
    if isinstance(optimizer, type):
        raise TypeError(f"optimizer: expected an instance, got the class {optimizer.__name__} (e.g. Adam(lr=0.01))")
    for method in ("init", "step"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(f"optimizer: expected an object with init and step; no {method!r}")
    running = network.init_running(spec) if running is None else network.validate_running(spec, running)
    opt_state = optimizer.init(params)
    losses: list[float] = []
    for _ in range(epochs):
        for X_t, Y_t in minibatches(X, Y, batch_size, rng):
            loss, grads, cache = network.loss_and_grads(spec, params, X_t, Y_t, bn=bn)
            params, opt_state = optimizer.step(params, grads, opt_state)
            running = network.update_running_stats(spec, running, cache, bn=bn)
            losses.append(loss)
    return TrainingResult(dict(params), dict(running), opt_state, losses)


def separable_data(
    rng: np.random.Generator, n_x: int = 2, m: int = 64, *, kind: str = "binary"
) -> tuple[np.ndarray, np.ndarray]:
    """A small data set that a linear model fits exactly (for training checks).

    - ``"binary"``: a random unit direction ``u``; classes alternate (then are
      shuffled), and each example is moved to distance ``|u.x| + 1`` on its
      class's side of the hyperplane ``u.x = 0``: a margin of 1.  ``Y`` is
      ``1 x m`` of 0/1.
    - ``"multiclass"``: 3 classes with centres at radius 3 and angles 0, 120,
      240 degrees in the first two coordinates, plus uniform noise in
      [-1, 1] per coordinate (within the centres' Voronoi cells, which are
      linear); needs ``n_x >= 2``.  ``Y`` is one-hot ``3 x m``.
    - ``"regression"``: ``Y = w X + 0.5 + 0.01 * noise`` with ``w ~ N(0, 1)``
      ``1 x n_x``; ``Y`` is ``1 x m``.

    Shapes: ``X`` is ``n_x x m`` (standard normal for "binary", before the
    move, and "regression"); all float64, drawn from ``rng`` only.
    """
    rng = _check_rng(rng)
    n_x = arguments.count("n_x", n_x)
    m = arguments.count("m", m)
    kind = arguments.choice("kind", kind, ("binary", "multiclass", "regression"), "kind of data")
    if kind == "binary":
        X = rng.standard_normal((n_x, m))
        u = rng.standard_normal((n_x, 1))
        u /= np.linalg.norm(u)
        labels = rng.permutation(np.arange(m) % 2)
        along = u.T @ X  # 1 x m: coordinate along u
        side = 2.0 * labels - 1.0
        X = X - u @ along + u @ (side * (np.abs(along) + 1.0))
        return X, labels[None, :].astype(np.float64)
    if kind == "multiclass":
        if n_x < 2:
            raise ValueError(f"n_x: multiclass data needs n_x >= 2, got {n_x}")
        labels = rng.permutation(np.arange(m) % 3)
        angles = 2.0 * np.pi * labels / 3.0
        X = rng.uniform(-1.0, 1.0, size=(n_x, m))
        X[0] += 3.0 * np.cos(angles)
        X[1] += 3.0 * np.sin(angles)
        return X, np.eye(3)[:, labels]
    X = rng.standard_normal((n_x, m))  # "regression"
    w = rng.standard_normal((1, n_x))
    return X, w @ X + 0.5 + 0.01 * rng.standard_normal((1, m))
