"""An L-layer network with batch norm between ``Z[l]`` and ``A[l]`` (L1).

Per layer ``l = 1 .. L`` (``A[0] = X``): ``Z[l] = W[l] A[l-1]`` (``+ b[l]`` only
without BN, L7); ``Z~[l] = BN(Z[l]; gamma[l], beta[l])`` in layers with BN;
``A[l] = g[l](Z~[l])`` in hidden layers.  The output layer's ``Z~[L]`` (``Z[L]``
without BN) goes to the fused loss of :mod:`losses`.  Parameters, running
statistics and gradients are dicts keyed with 1-based layer numbers (L2, L10,
L11): ``"W1"``, ``"b1"`` or ``"gamma1"``/``"beta1"``; ``"running_mean1"``,
``"running_var1"``; ``"dW1"``, ``"db1"`` or ``"dgamma1"``/``"dbeta1"``.  BN is
pluggable: any ``bn`` with ``forward``, ``backward``, ``update_running``,
``forward_eval`` in the ``n x m`` layout (``None``: :mod:`batchnorm`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import arguments, batchnorm, losses
from .layers import ACTIVATIONS, dense, dense_backward

_BN_FUNCTIONS = ("forward", "backward", "update_running", "forward_eval")
Shapes = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class LayerSpec:
    """One layer: ``units = n[l]``, its activation ``g[l]``, and whether BN sits
    between ``Z[l]`` and ``g[l]``."""

    units: int
    activation: str
    batch_norm: bool = False


@dataclass(frozen=True)
class NetworkSpec:
    """``n_x = n[0]`` inputs; the layers, the last being the output layer (its
    activation one of :data:`losses.OUTPUTS`); BN's ``eps``; the ``momentum`` of
    the running averages (the weight of the old value)."""

    n_x: int
    layers: tuple[LayerSpec, ...]
    eps: float = batchnorm.DEFAULT_EPS
    momentum: float = 0.9


def validate_spec(spec: NetworkSpec) -> NetworkSpec:
    """Return ``spec`` if it describes a network, else raise naming the field.

    Rules: ``n_x >= 1``; at least one layer; each ``units >= 1``; hidden
    activations from :data:`layers.ACTIVATIONS`, the output's from
    :data:`losses.OUTPUTS` (softmax needs ``units >= 2``); ``batch_norm`` a
    bool; ``eps > 0``; ``momentum`` in [0, 1].
    """
    if not isinstance(spec, NetworkSpec):
        raise TypeError(f"spec: expected a NetworkSpec, got {type(spec).__name__}")
    arguments.count("spec.n_x", spec.n_x)
    if not isinstance(spec.layers, tuple | list):
        kind = type(spec.layers).__name__
        raise TypeError(f"spec.layers: expected a tuple of LayerSpec, got {kind}")
    if len(spec.layers) == 0:
        raise ValueError("spec.layers: expected at least one layer (the output layer), got none")
    last = len(spec.layers) - 1
    for i, layer in enumerate(spec.layers):
        where = f"spec.layers[{i}]"
        if not isinstance(layer, LayerSpec):
            raise TypeError(f"{where}: expected a LayerSpec, got {type(layer).__name__}")
        arguments.count(f"{where}.units", layer.units)
        allowed = losses.OUTPUTS if i == last else tuple(ACTIVATIONS)
        if not isinstance(layer.activation, str) or layer.activation not in allowed:
            kind = "output" if i == last else "hidden-layer"
            raise ValueError(
                f"{where}.activation: unknown {kind} activation {layer.activation!r}; "
                f"expected one of {', '.join(map(repr, allowed))}"
            )
        if not isinstance(layer.batch_norm, bool):
            kind = type(layer.batch_norm).__name__
            raise TypeError(f"{where}.batch_norm: expected a bool, got {kind}")
    if spec.layers[last].activation == "softmax" and spec.layers[last].units < 2:
        raise ValueError(f"spec.layers[{last}].units: softmax output needs >= 2 units, got 1")
    arguments.positive("spec.eps", spec.eps)
    arguments.fraction("spec.momentum", spec.momentum)
    return spec


def _shapes(spec: NetworkSpec) -> tuple[Shapes, Shapes, Shapes]:
    """Shapes of the required and the optional parameters, and of the running
    statistics: ``W[l]`` ``n[l] x n[l-1]``; the others ``n[l] x 1``."""
    required: Shapes = {}
    optional: Shapes = {}
    running: Shapes = {}
    n_prev = spec.n_x
    for l, layer in enumerate(spec.layers, start=1):  # noqa: E741 (the lecture's l)
        n = layer.units
        required[f"W{l}"] = (n, n_prev)
        if layer.batch_norm:
            optional[f"b{l}"] = (n, 1)  # tolerated: it cancels (L7)
            required[f"gamma{l}"] = required[f"beta{l}"] = (n, 1)
            running[f"running_mean{l}"] = running[f"running_var{l}"] = (n, 1)
        else:
            required[f"b{l}"] = (n, 1)
        n_prev = n
    return required, optional, running


def _check_entries(name: str, value: Any, required: Shapes, optional: Shapes) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}: expected a dict of numpy arrays, got {type(value).__name__}")
    missing = [k for k in required if k not in value]
    if missing:
        raise ValueError(f"{name}: missing {', '.join(map(repr, missing))}")
    extra = [k for k in value if k not in required and k not in optional]
    if extra:
        raise ValueError(f"{name}: unexpected {', '.join(map(repr, extra))} for this spec")
    for key, (rows, cols) in {**required, **optional}.items():
        if key in value:
            arguments.matrix(f"{name}[{key!r}]", value[key], rows=rows, cols=cols, of="spec")
            if key.startswith("running_var"):
                arguments.nonnegative(f"{name}[{key!r}]", value[key])


def validate_params(spec: NetworkSpec, params: Any) -> dict[str, np.ndarray]:
    """Return ``params`` if it holds exactly the parameters ``spec`` describes, else
    raise naming the entry: ``W[l]`` ``n[l] x n[l-1]``; ``b[l]`` ``n[l] x 1`` in layers
    without BN (optional, L7, in layers with BN); ``gamma[l]``, ``beta[l]`` ``n[l] x 1``
    in layers with BN; all finite floating arrays."""
    required, optional, _ = _shapes(validate_spec(spec))
    _check_entries("params", params, required, optional)
    return params


def validate_running(spec: NetworkSpec, running: Any) -> dict[str, np.ndarray]:
    """Return ``running`` if it holds ``running_mean[l]`` and ``running_var[l]``
    (``n[l] x 1``, the variance >= 0) for each BN layer of ``spec`` and nothing else."""
    _, _, shapes = _shapes(validate_spec(spec))
    _check_entries("running", running, shapes, {})
    return running


def validate_bn(bn: Any) -> Any:
    """The BN to plug in: ``bn`` if it has the protocol's four functions
    (``None``: :mod:`batchnorm`), else TypeError naming ``bn``."""
    bn = batchnorm if bn is None else bn
    if isinstance(bn, type):
        raise TypeError(f"bn: expected a module or an instance, got the class {bn.__name__} (construct it)")
    for fn in _BN_FUNCTIONS:
        if not callable(getattr(bn, fn, None)):
            raise TypeError(f"bn: expected an object with {', '.join(_BN_FUNCTIONS)}; no {fn!r}")
    return bn


_check_bn = validate_bn


def _bn_result(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """An array returned by the plugged-in BN, checked for shape and finiteness."""
    return arguments.matrix(f"{name} result", np.asarray(value), rows=shape[0], cols=shape[1])


def _check_cache(spec: NetworkSpec, cache: Any, *, need_training: bool) -> list[dict]:
    """The cache's entries, each checked: ``A_prev`` ``n[l-1] x m``, ``Z`` and ``Z_tilde``
    ``n[l] x m``, one m throughout."""
    if not isinstance(cache, Mapping) or not isinstance(cache.get("layers"), list):
        raise TypeError("cache: expected the cache returned by forward")
    entries = cache["layers"]
    if len(entries) != len(spec.layers):
        raise ValueError(f"cache: has {len(entries)} layers, spec has {len(spec.layers)}")
    arguments.flag("cache['training']", cache.get("training"))
    if need_training and not cache["training"]:
        raise ValueError("cache: backward needs a training-mode forward (training=True)")
    m, n_prev = None, spec.n_x
    for i, (layer, entry) in enumerate(zip(spec.layers, entries, strict=True)):
        where = f"cache['layers'][{i}]"
        if not isinstance(entry, Mapping):
            raise TypeError(f"{where}: expected a dict with 'A_prev', 'Z' and 'Z_tilde'")
        for key, rows in (("A_prev", n_prev), ("Z", layer.units), ("Z_tilde", layer.units)):
            if key not in entry:
                raise ValueError(f"{where}: missing {key!r}")
            m = arguments.matrix(f"{where}[{key!r}]", entry[key], rows=rows, cols=m, of="spec").shape[1]
        n_prev = layer.units
    return entries


def init_params(spec: NetworkSpec, rng: np.random.Generator, init: str = "he") -> dict:
    """Initial parameters: ``W[l] ~ N(0, c / n[l-1])`` with ``c = 2`` for
    ``init="he"`` and ``c = 1`` for ``"xavier"``; ``b[l] = 0`` (layers without
    BN); ``gamma[l] = 1``, ``beta[l] = 0`` (layers with BN).  Shapes: ``W[l]``
    ``n[l] x n[l-1]``, the others ``n[l] x 1``; float64, drawn from ``rng``."""
    required, _, _ = _shapes(validate_spec(spec))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
    scales = {"he": 2.0, "xavier": 1.0}
    init = arguments.choice("init", init, tuple(scales), "initialization")
    return {
        key: rng.standard_normal(shape) * np.sqrt(scales[init] / shape[1])
        if key.startswith("W")
        else np.full(shape, 1.0 if key.startswith("gamma") else 0.0)
        for key, shape in required.items()
    }


def init_running(spec: NetworkSpec) -> dict[str, np.ndarray]:
    """Initial running statistics of each BN layer: ``running_mean[l] = 0``,
    ``running_var[l] = 1``, both ``n[l] x 1`` float64."""
    _, _, shapes = _shapes(validate_spec(spec))
    return {k: np.full(s, 0.0 if "mean" in k else 1.0) for k, s in shapes.items()}


def forward(spec, params, X, *, bn=None, running=None, training=True) -> tuple[np.ndarray, dict]:
    """Forward propagation through all L layers; returns ``(Z_L, cache)``.

    Per layer: ``Z[l] = W[l] A[l-1]`` (``+ b[l]`` if ``params`` has it); with BN
    ``Z~[l] = bn.forward(Z[l], gamma[l], beta[l], spec.eps)`` on this mini-batch
    (``training=True``, L6) or ``bn.forward_eval(Z[l], gamma[l], beta[l],
    running_mean[l], running_var[l], spec.eps)`` (``training=False``, needs
    ``running``); ``A[l] = g[l](Z~[l])`` in hidden layers.

    Shapes: ``X`` is ``n_x x m``; ``Z_L`` is ``n[L] x m``, the output layer's
    ``Z~[L]`` before its activation.  ``cache``: ``{"training": bool,
    "layers": [{"A_prev", "Z", "Z_tilde"} per layer]}``.
    """
    spec, bn = validate_spec(spec), _check_bn(bn)
    _, _, running_shapes = _shapes(spec)
    validate_params(spec, params)
    X = arguments.matrix("X", X, rows=spec.n_x, of="spec.n_x")
    training = arguments.flag("training", training)
    if running is not None:
        validate_running(spec, running)
    elif not training and running_shapes:
        raise ValueError("running: required when training=False (the network has BN layers)")
    A, entries = X, []
    for l, layer in enumerate(spec.layers, start=1):  # noqa: E741 (the lecture's l)
        Z_tilde = Z = dense(params[f"W{l}"], A, params.get(f"b{l}"))
        if layer.batch_norm:
            gamma, beta = params[f"gamma{l}"], params[f"beta{l}"]
            if training:
                Z_tilde = _bn_result("bn.forward", bn.forward(Z, gamma, beta, spec.eps), Z.shape)
            else:
                stats = running[f"running_mean{l}"], running[f"running_var{l}"]
                out = bn.forward_eval(Z, gamma, beta, *stats, spec.eps)
                Z_tilde = _bn_result("bn.forward_eval", out, Z.shape)
        entries.append({"A_prev": A, "Z": Z, "Z_tilde": Z_tilde})
        if l < len(spec.layers):
            A = ACTIVATIONS[layer.activation].g(Z_tilde)
    return Z_tilde, {"training": training, "layers": entries}


def backward(spec, params, cache, dZ_L, *, bn=None) -> dict[str, np.ndarray]:
    """Back-propagation from ``dZ_L = dLoss/dZ~[L]`` to every parameter (L11).

    From ``l = L`` down to 1: ``dZ~[l] = dA[l] * g'[l](Z~[l])`` (hidden layers);
    with BN ``(dZ[l], dgamma[l], dbeta[l]) = bn.backward(Z[l], gamma[l],
    beta[l], spec.eps, dZ~[l])``, else ``dZ[l] = dZ~[l]``; then ``dW[l] =
    dZ[l] A[l-1]^T``, ``db[l] = sum_i dZ[l]`` (only if ``params`` has ``b[l]``),
    ``dA[l-1] = W[l]^T dZ[l]``.  ``dZ_L`` is ``n[L] x m``; each gradient
    ``"d" + key`` has its parameter's shape; BN layers get no ``db``.
    """
    spec, bn = validate_spec(spec), _check_bn(bn)
    validate_params(spec, params)
    entries = _check_cache(spec, cache, need_training=True)
    m = entries[-1]["Z"].shape[1]
    dZ_tilde = dA = arguments.matrix("dZ_L", dZ_L, rows=spec.layers[-1].units, cols=m,
                                     of="the output layer of spec and the examples in cache")
    grads: dict[str, np.ndarray] = {}
    for l in range(len(spec.layers), 0, -1):  # noqa: E741 (the lecture's l)
        layer, entry = spec.layers[l - 1], entries[l - 1]
        if l < len(spec.layers):
            dZ_tilde = ACTIVATIONS[layer.activation].backward(entry["Z_tilde"], dA)
        dZ = dZ_tilde
        if layer.batch_norm:
            gamma, beta = params[f"gamma{l}"], params[f"beta{l}"]
            dZ, dgamma, dbeta = bn.backward(entry["Z"], gamma, beta, spec.eps, dZ_tilde)
            dZ = _bn_result("bn.backward dz", dZ, entry["Z"].shape)
            grads[f"dgamma{l}"] = _bn_result("bn.backward dgamma", dgamma, gamma.shape)
            grads[f"dbeta{l}"] = _bn_result("bn.backward dbeta", dbeta, beta.shape)
        dW, dA, db = dense_backward(dZ, params[f"W{l}"], entry["A_prev"], f"b{l}" in params)
        grads[f"dW{l}"] = dW
        if db is not None:
            grads[f"db{l}"] = db
    return {f"d{key}": grads[f"d{key}"] for key in params}


def loss_and_grads(spec, params, X, Y, *, bn=None) -> tuple[float, dict[str, np.ndarray], dict]:
    """Training-mode :func:`forward` on the mini-batch ``X`` (``n_x x m``), the
    fused loss of the output layer against ``Y`` (``n[L] x m``, see
    :func:`losses.loss_and_grad`), and :func:`backward`.  Returns
    ``(loss, grads, cache)`` with the loss the mean over the m examples."""
    spec = validate_spec(spec)
    X = arguments.matrix("X", X, rows=spec.n_x, of="spec.n_x")
    arguments.matrix("Y", Y, rows=spec.layers[-1].units, cols=X.shape[1],
                     of="the output layer of spec and the examples of X")
    Z_L, cache = forward(spec, params, X, bn=bn, training=True)
    loss, dZ_L = losses.loss_and_grad(spec.layers[-1].activation, Z_L, Y)
    return loss, backward(spec, params, cache, dZ_L, bn=bn), cache


def update_running_stats(spec, running, cache, *, bn=None) -> dict[str, np.ndarray]:
    """New running statistics after one mini-batch (L12): for each BN layer
    ``(running_mean[l], running_var[l]) = bn.update_running(running_mean[l],
    running_var[l], Z[l], spec.momentum)`` with ``Z[l]`` (``n[l] x m``) from
    ``cache``.  All entries ``n[l] x 1``; ``running`` is not modified."""
    spec, bn = validate_spec(spec), _check_bn(bn)
    _, _, shapes = _shapes(spec)
    validate_running(spec, running)
    entries = _check_cache(spec, cache, need_training=False)
    new = dict(running)
    for l, layer in enumerate(spec.layers, start=1):  # noqa: E741 (the lecture's l)
        if layer.batch_norm:
            keys = f"running_mean{l}", f"running_var{l}"
            out = bn.update_running(new[keys[0]], new[keys[1]], entries[l - 1]["Z"], spec.momentum)
            for key, value in zip(keys, out, strict=True):
                new[key] = _bn_result("bn.update_running", value, shapes[key])
    return new


def predict(spec, params, X, running, *, bn=None) -> np.ndarray:
    """Inference: ``A[L] = g[L](Z~[L])`` with BN in inference mode (the running
    statistics, L12), so each example is processed on its own.  ``X`` is
    ``n_x x m``; the result ``n[L] x m`` (probabilities for sigmoid/softmax)."""
    Z_L, _ = forward(spec, params, X, bn=bn, running=running, training=False)
    return losses.output_activation(spec.layers[-1].activation, Z_L)
