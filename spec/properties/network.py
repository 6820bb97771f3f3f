"""Properties of BN inside a network: the reference network with the target's
BN plugged in between Z and A (L1, L2, L7, L10-L12, paper §3.3)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from hypothesis import strategies as st

from bnspec.reference import network as net
from bnspec.reference import optimizers, training
from bnspec.reference.layers import ACTIVATIONS

from .. import strategies as draws
from ..errors import ClauseViolation
from ..target import Target
from ..tolerances import FD_RTOL, TRAINING_DECREASE, Tolerance, tolerance
from ..trial import Trial
from . import Check, proves, scales

LAYER = ("forward", "backward")
SMOOTH = ("tanh", "sigmoid", "identity")  # finite differences need no kinks


#: A BN layer's input in a drawn network is legal with this margin (see strategies.constant_units): no
#: unit's range is within 2^-20 of its magnitude in the reference's forward pass, so that a conforming
#: implementation's roundings in the layers before cannot make a unit constant.
NEARLY_CONSTANT = 2.0**-20


def _legal_bn_inputs(spec: net.NetworkSpec, params: dict[str, np.ndarray], X: np.ndarray) -> bool:
    """Whether every BN layer's Z (``n[l] x m``) in the reference's forward pass is a legal input:
    a ReLU dead on every example, or a layer of them, feeds the next BN layer a constant unit,
    which is BN-DEG-1's subject, not the network clauses'."""
    _, cache = net.forward(spec, params, X)
    return all(draws.legal(cache["layers"][l - 1]["Z"], NEARLY_CONSTANT) for l in _bn_layers(spec))


def _network(draw: draws.Draw, activations: tuple[str, ...] = tuple(ACTIVATIONS),
             force_bn: bool = True) -> tuple[net.NetworkSpec, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A spec of 1-3 hidden layers (at least one with BN) and a sigmoid output, its
    parameters (He init from a drawn seed) and a binary data set, such that every BN
    layer's input is legal (:func:`_legal_bn_inputs`; hypothesis draws again otherwise)."""
    hidden = draw(st.integers(1, 3), "hidden_layers")
    layers = []
    for l in range(hidden):
        units = draw(st.integers(1, 4), f"n[{l + 1}]")
        bn = True if (force_bn and l == 0) else draw(st.booleans(), f"batch_norm[{l + 1}]")
        layers.append(net.LayerSpec(units, draw(st.sampled_from(activations), f"g[{l + 1}]"), bn))
    layers.append(net.LayerSpec(1, "sigmoid", draw(st.booleans(), "batch_norm[L]")))
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.1]), "eps")
    spec = net.NetworkSpec(n_x=draw(st.integers(1, 3), "n_x"), layers=tuple(layers), eps=eps)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), "seed"))
    m = draw(st.integers(3, 8), "m")
    X, Y = training.separable_data(rng, spec.n_x, m)
    params = net.init_params(spec, rng)
    for key in params:  # non-trivial gamma and beta
        if key.startswith(("gamma", "beta")):
            params[key] = params[key] + rng.uniform(-0.5, 0.5, params[key].shape)
    draw.assume(_legal_bn_inputs(spec, params, X), "a BN layer's input has a constant unit (BN-DEG-1's input)")
    return spec, params, X, Y


def _blame_bn(check_fn: Check) -> Check:
    """The reference network refuses what a plugged-in BN returns wrong with an error
    naming ``bn``: that is the implementation's failure.  The target has already checked
    each result's type, shape and dtype against the protocol (a ProtocolBreach), so what
    is left is a NaN or an infinity, which the clause's claim excludes."""

    @functools.wraps(check_fn)
    def wrapped(target: Target, trial: Trial) -> None:
        try:
            check_fn(target, trial)
        except (ValueError, TypeError) as error:
            if str(error).startswith("bn"):
                raise ClauseViolation(f"in the network: {error}") from error
            raise

    return wrapped


def _bn_layers(spec: net.NetworkSpec) -> list[int]:
    return [l for l, layer in enumerate(spec.layers, start=1) if layer.batch_norm]


def _loss_scale(loss: float) -> float:
    return abs(loss) + 1.0


def _condition(spec: net.NetworkSpec, cache: dict[str, Any]) -> float:
    """The worst condition of a BN layer's normalization in this forward pass:
    each layer's errors reach the loss multiplied by it."""
    conds = [float(scales.condition(cache["layers"][l - 1]["Z"], spec.eps).max()) for l in _bn_layers(spec)]
    return max(conds, default=1.0)


def _zero_if_not_finite(value: np.ndarray) -> np.ndarray:
    return np.nan_to_num(value, nan=0.0, posinf=0.0, neginf=0.0)


class _ShapesOnly:
    """The target as NET-SHAPE-1 plugs it in: its results (type, shape and dtype checked by the
    target) with every non-finite value set to 0.  The reference network refuses a NaN, but a NaN
    of the right shape satisfies a statement about shapes: values are other clauses' business."""

    def __init__(self, target: Target) -> None:
        self._target = target

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        return _zero_if_not_finite(self._target.forward(z, gamma, beta, eps))

    def backward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                 grad: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dz, dgamma, dbeta = self._target.backward(z, gamma, beta, eps, grad)
        return _zero_if_not_finite(dz), _zero_if_not_finite(dgamma), _zero_if_not_finite(dbeta)

    def update_running(self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray,
                       momentum: float) -> tuple[np.ndarray, np.ndarray]:
        mean, var = self._target.update_running(running_mean, running_var, z, momentum)
        return _zero_if_not_finite(mean), _zero_if_not_finite(var)

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        return _zero_if_not_finite(self._target.forward_eval(z, gamma, beta, running_mean, running_var, eps))


@proves("NET-SHAPE-1", needs=LAYER, max_examples=20)
@_blame_bn
def parameter_shapes(target: Target, trial: Trial) -> None:
    spec, params, X, Y = _network(trial.draw)
    _, grads, _ = net.loss_and_grads(spec, params, X, Y, bn=_ShapesOnly(target))
    n_prev = spec.n_x
    for l, layer in enumerate(spec.layers, start=1):
        n = layer.units
        trial.equal(f"shape of W{l}", params[f"W{l}"].shape, (n, n_prev))
        names = ("gamma", "beta") if layer.batch_norm else ("b",)
        trial.equal(f"parameters of layer {l} besides W", sorted(k[:-len(str(l))] for k in params
                    if k.endswith(str(l)) and not k.startswith("W") and k[:-len(str(l))].isalpha()), sorted(names))
        for name in ("W",) + names:
            trial.equal(f"shape of d{name}{l}", grads[f"d{name}{l}"].shape, params[f"{name}{l}"].shape)
        n_prev = n
    trial.equal("gradients returned", sorted(grads), sorted(f"d{k}" for k in params))


@proves("NET-FWD-1", needs=("forward",), max_examples=20)
@_blame_bn
def between_z_and_a(target: Target, trial: Trial) -> None:
    spec, params, X, _ = _network(trial.draw)
    Z_L, _ = net.forward(spec, params, X, bn=target)
    A = X
    for l, layer in enumerate(spec.layers, start=1):
        Z = params[f"W{l}"] @ A + (0 if layer.batch_norm else params[f"b{l}"])
        if layer.batch_norm:
            Z = target.forward(Z, params[f"gamma{l}"], params[f"beta{l}"], spec.eps)
        A = Z if l == len(spec.layers) else ACTIVATIONS[layer.activation].forward(Z)
    trial.close("the network's Z~[L] against Z = W A, Z~ = BN(Z), A = g(Z~) layer by layer", Z_L, A,
                tolerance("network", np.float64, X.shape[1], np.abs(A) + 1))


@proves("NET-BIAS-1", needs=LAYER, max_examples=20)
@_blame_bn
def bias_before_bn_does_nothing(target: Target, trial: Trial) -> None:
    spec, params, X, Y = _network(trial.draw)
    l = trial.draw(st.sampled_from(_bn_layers(spec)), "layer_with_bias")
    biased = dict(params)
    biased[f"b{l}"] = trial.draw(st.floats(-3, 3), "b") * np.ones((spec.layers[l - 1].units, 1))
    loss, grads, _ = net.loss_and_grads(spec, params, X, Y, bn=target)
    loss_b, grads_b, cache_b = net.loss_and_grads(spec, biased, X, Y, bn=target)
    m, cond = X.shape[1], _condition(spec, cache_b)
    trial.close("loss with b before the BN layer against without", np.array(loss_b), np.array(loss),
                tolerance("network", np.float64, m, cond * _loss_scale(loss)))
    for key, value in grads.items():
        trial.close(f"{key} with b before the BN layer against without", grads_b[key], value,
                    tolerance("network", np.float64, m, cond * (np.abs(value) + np.abs(value).max() + 1)))
    trial.close(f"db{l}", grads_b[f"db{l}"], np.zeros_like(grads_b[f"db{l}"]),
                tolerance("network", np.float64, m, cond * (np.abs(grads_b[f"dW{l}"]).max() + 1)))


@proves("NET-SCALE-1", needs=LAYER, max_examples=20)
@_blame_bn
def scale_invariance_in_a_network(target: Target, trial: Trial) -> None:
    spec, params, X, Y = _network(trial.draw)
    c = trial.draw(st.sampled_from([0.5, 2.0, 8.0, 0.125]), "c")  # powers of two: c^2 eps stays exact
    scaled = dict(params)
    for l in _bn_layers(spec):
        scaled[f"W{l}"] = c * params[f"W{l}"]
    scaled_spec = net.NetworkSpec(spec.n_x, spec.layers, eps=spec.eps * c**2, momentum=spec.momentum)
    loss, grads, cache = net.loss_and_grads(spec, params, X, Y, bn=target)
    loss_c, grads_c, _ = net.loss_and_grads(scaled_spec, scaled, X, Y, bn=target)
    m, cond = X.shape[1], _condition(spec, cache)
    trial.close("loss with c W[l], c^2 eps against the original", np.array(loss_c), np.array(loss),
                tolerance("network", np.float64, m, cond * _loss_scale(loss)))
    bn_weights = {f"dW{l}" for l in _bn_layers(spec)}
    for key, value in grads.items():
        factor = c if key in bn_weights else 1.0
        trial.close(f"{key} (times c for a BN layer's W) against the original", factor * grads_c[key], value,
                    tolerance("network", np.float64, m, cond * (np.abs(value) + np.abs(value).max() + 1)))


@proves("NET-GRAD-1", needs=LAYER, max_examples=20)
@_blame_bn
def backpropagation_is_the_gradient(target: Target, trial: Trial) -> None:
    spec, params, X, Y = _network(trial.draw, activations=SMOOTH)
    _, grads, _ = net.loss_and_grads(spec, params, X, Y, bn=target)
    rng = np.random.default_rng(trial.draw(st.integers(0, 2**32 - 1), "direction_seed"))
    direction = {k: rng.choice([-1.0, 1.0], p.shape) * rng.uniform(0.1, 1.0, p.shape) for k, p in params.items()}

    def loss_at(t: float) -> float:
        moved = {k: p + t * direction[k] for k, p in params.items()}
        return net.loss_and_grads(spec, moved, X, Y, bn=target)[0]

    # BN of a unit with a small spread curves on the scale of that spread: a small step
    # keeps Richardson's O(t^4) error below the tolerance; rounding adds u / t ~ 1e-11.
    step = 1e-5
    central = [(loss_at(h) - loss_at(-h)) / (2 * h) for h in (step, step / 2)]
    fd = (4 * central[1] - central[0]) / 3
    terms = np.array([(grads[f"d{k}"] * v).sum() for k, v in direction.items()])
    floor = float(tolerance("network", np.float64, X.shape[1], 5 * _loss_scale(loss_at(0.0)) / step).atol)
    # Not of the K u cond scale form: relative to the finite difference (FD_RTOL, see
    # tolerances) plus the rounding floor above, hence built here, with no units.
    tol = Tolerance(np.asarray(FD_RTOL * (abs(fd) + np.abs(terms).sum()) + floor), "finite differences")
    trial.close("<grad of the loss, v> against the directional finite difference", np.array(terms.sum()),
                np.array(fd), tol)


@proves("NET-EVAL-1", needs=("forward", "update_running", "forward_eval"), max_examples=20)
@_blame_bn
def inference_on_single_examples(target: Target, trial: Trial) -> None:
    spec, params, X, _ = _network(trial.draw)
    running = net.init_running(spec)
    for _ in range(3):
        _, cache = net.forward(spec, params, X, bn=target)
        running = net.update_running_stats(spec, running, cache, bn=target)
    whole = net.predict(spec, params, X, running, bn=target)
    i = trial.draw(st.integers(0, X.shape[1] - 1), "example")
    alone = net.predict(spec, params, X[:, i:i + 1], running, bn=target)
    trial.close(f"prediction for example {i} alone against inside the batch", alone[:, 0], whole[:, i],
                tolerance("network", np.float64, 1, np.abs(whole[:, i]) + 1))


OPTIMIZERS = {
    "gradient descent": optimizers.GradientDescent(lr=0.1),
    "momentum": optimizers.Momentum(lr=0.1, momentum=0.9),
    "RMSprop": optimizers.RMSprop(lr=0.01, rho=0.9),
    "Adam": optimizers.Adam(lr=0.01, beta1=0.9, beta2=0.999),
}


@proves("TRAIN-1", needs=("forward", "backward", "update_running"), max_examples=3)
@_blame_bn
def training_lowers_the_loss(target: Target, trial: Trial) -> None:
    seed = trial.draw(st.integers(0, 2**32 - 1), "seed")
    spec = net.NetworkSpec(2, (net.LayerSpec(4, "relu", True), net.LayerSpec(1, "sigmoid")))
    X, Y = training.separable_data(np.random.default_rng(seed), 2, 64)
    for name, optimizer in OPTIMIZERS.items():
        params = net.init_params(spec, np.random.default_rng(seed))
        before = net.loss_and_grads(spec, params, X, Y, bn=target)[0]
        result = training.train(spec, params, X, Y, optimizer, epochs=10, batch_size=16,
                                rng=np.random.default_rng(seed), bn=target)
        after = net.loss_and_grads(spec, result.params, X, Y, bn=target)[0]
        trial.holds(after < (1 - TRAINING_DECREASE) * before,
                    f"training with {name}: the loss went from {before:.6g} to {after:.6g}; required a decrease")
