"""The lecture's whole training step against PyTorch's: same network, same
mini-batches, same optimizer, k = 5 steps, then every parameter and running
statistic compared.

The network is 2 -> 4 (relu, BN) -> 3 (tanh, BN) -> 1 (sigmoid output): in
PyTorch ``nn.Linear(bias=False)`` before each ``nn.BatchNorm1d`` (L7: the bias
cancels, so a BN layer has W, gamma, beta and no b), the activation after it,
and ``F.binary_cross_entropy_with_logits`` averaged over the mini-batch (the
reference's fused sigmoid + BCE).  The reference's ``W[l]`` is
``n[l] x n[l-1]``, exactly ``nn.Linear.weight``'s ``out x in``; ``X`` is
``n_x x m`` there and ``m x n_x`` here.

Conventions mapped (each exact in real arithmetic, so only rounding remains):

- BN's running statistics: the reference's ``momentum`` weighs the *old* value,
  PyTorch's the *new* one, so ``BatchNorm1d(momentum=1 - spec.momentum)``.
  The running mean is then the same sum.  The running variance is not: PyTorch
  averages the *unbiased* batch variance ``m / (m - 1) sigma^2`` (BatchNorm1d
  docs), the reference the biased ``sigma^2``.  With the initial value 1 and
  ``rho = spec.momentum`` after k updates with mini-batches of equal size m::

      torch     = rho^k + (1 - rho) sum_i rho^(k-i) * m/(m-1) * sigma_i^2
      reference = rho^k + (1 - rho) sum_i rho^(k-i) *            sigma_i^2

  so ``reference = rho^k + (torch - rho^k) * (m - 1) / m``: the test converts
  PyTorch's value with this formula and compares.
- The optimizers: see :data:`OPTIMIZERS`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from requirements import need_module

need_module("torch", "torch")  # else the whole file is skipped (failed under BNSPEC_REQUIRE_ALL=1)
import torch  # noqa: E402 (after the skip)
from torch import nn  # noqa: E402
from torch.nn import functional  # noqa: E402

from bnspec.reference import network as net  # noqa: E402
from bnspec.reference import optimizers, training  # noqa: E402

SPEC = net.NetworkSpec(
    n_x=2,
    layers=(net.LayerSpec(4, "relu", batch_norm=True), net.LayerSpec(3, "tanh", batch_norm=True),
            net.LayerSpec(1, "sigmoid")),
)
STEPS, BATCH = 5, 16  # one epoch of 80 examples: k = 5 steps with mini-batches of equal size m = 16
SEED = 0

#: Relative to each array's largest entry.  float64 rounds at u = 1.1e-16; PyTorch and
#: numpy sum in different orders and Adam arranges its update differently, so each step
#: differs by a few u relative to the arrays' magnitudes; over 5 steps of this small,
#: well-conditioned network the observed worst is 3e-15, 3e4 times below 1e-10.  A
#: convention mismatch moves results by orders of magnitude more: the naive momentum
#: mapping by 12 relative, the unconverted running variance by 8e-2 (the two tests at
#: the end), anything else that differs in real arithmetic by far more than 1e-10.
RTOL = 1e-10

TorchOptimizer = Callable[[list], torch.optim.Optimizer]


def _momentum_sgd(lr: float, momentum: float) -> TorchOptimizer:
    """The course's momentum as ``torch.optim.SGD``.

    Course: ``v_0 = 0``, ``v_t = m v_(t-1) + (1 - m) g_t``, ``p -= lr v_t``, hence
    ``v_t = (1 - m) sum_i m^(t-i) g_i``.
    torch.optim.SGD(momentum=m, dampening=0): ``b_1 = g_1`` (the buffer starts at the
    first gradient, undampened), ``b_t = m b_(t-1) + g_t``, ``p -= lr' b_t``, hence
    ``b_t = sum_i m^(t-i) g_i``, so ``b_t = v_t / (1 - m)`` at every step t >= 1
    and ``lr' = lr (1 - m)`` gives the same step, exactly in real arithmetic.
    (``dampening=m`` with ``lr`` follows the course's recurrence from the second step
    on, but its ``b_1 = g_1`` is ``v_1 / (1 - m)``: every ``b_t`` keeps the excess
    ``m^t g_1``, 0.59 g_1 after 5 steps at m = 0.9 -- see
    test_naive_momentum_mapping_is_caught.)
    """
    return lambda params: torch.optim.SGD(params, lr=lr * (1.0 - momentum), momentum=momentum, dampening=0.0)


#: test id -> (the reference's optimizer, the same optimizer in PyTorch).
OPTIMIZERS: dict[str, tuple[object, TorchOptimizer]] = {
    # p -= lr dp: plain SGD.
    "gradient-descent": (optimizers.GradientDescent(lr=0.1), lambda params: torch.optim.SGD(params, lr=0.1)),
    "momentum": (optimizers.Momentum(lr=0.1, momentum=0.9), _momentum_sgd(0.1, 0.9)),
    # torch.optim.RMSprop: s = alpha s + (1 - alpha) g^2, p -= lr g / (sqrt(s) + eps), s_0 = 0 --
    # eps outside the root, as the course's; rho is alpha.
    "rmsprop": (optimizers.RMSprop(lr=0.01, rho=0.9, eps=1e-8),
                lambda params: torch.optim.RMSprop(params, lr=0.01, alpha=0.9, eps=1e-8)),
    # torch.optim.Adam: the same moments and bias corrections, p -= lr v_hat / (sqrt(s_hat) + eps)
    # (eps outside the root, after the bias correction), computed as
    # p -= (lr / (1 - beta1^t)) v / (sqrt(s) / sqrt(1 - beta2^t) + eps): equal in real arithmetic.
    "adam": (optimizers.Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8),
             lambda params: torch.optim.Adam(params, lr=0.01, betas=(0.9, 0.999), eps=1e-8)),
}

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(array, dtype=torch.float64)  # a copy


def torch_network(spec: net.NetworkSpec, params: dict[str, np.ndarray]) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """The network in PyTorch with the reference's parameters copied in, and the
    reference's names for its parameters and buffers (as views of the live tensors)."""
    modules: list[nn.Module] = []
    named: dict[str, torch.Tensor] = {}
    n_prev = spec.n_x
    for l, layer in enumerate(spec.layers, start=1):  # noqa: E741 (the lecture's l)
        linear = nn.Linear(n_prev, layer.units, bias=not layer.batch_norm, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(_tensor(params[f"W{l}"]))
            named[f"W{l}"] = linear.weight
            if linear.bias is not None:
                linear.bias.copy_(_tensor(params[f"b{l}"][:, 0]))
                named[f"b{l}"] = linear.bias
        modules.append(linear)
        if layer.batch_norm:
            bn = nn.BatchNorm1d(layer.units, eps=spec.eps, momentum=1.0 - spec.momentum, dtype=torch.float64)
            with torch.no_grad():
                bn.weight.copy_(_tensor(params[f"gamma{l}"][:, 0]))
                bn.bias.copy_(_tensor(params[f"beta{l}"][:, 0]))
            assert bn.running_mean is not None and bn.running_var is not None  # track_running_stats=True
            named.update({f"gamma{l}": bn.weight, f"beta{l}": bn.bias,
                          f"running_mean{l}": bn.running_mean, f"running_var{l}": bn.running_var})
            modules.append(bn)
        if l < len(spec.layers):
            modules.append(ACTIVATIONS[layer.activation]())
        n_prev = layer.units
    return nn.Sequential(*modules), named


def _as_reference(key: str, tensor: torch.Tensor) -> np.ndarray:
    """A torch parameter or buffer in the reference's shape (per-unit arrays n x 1)."""
    value = tensor.detach().numpy().copy()
    return value if key.startswith("W") else value[:, None]


def train_torch(make_optimizer: TorchOptimizer, X: np.ndarray, Y: np.ndarray) -> tuple[dict[str, np.ndarray], list]:
    """The same STEPS training steps in PyTorch; the final parameters and running
    statistics under the reference's names, and each step's loss."""
    params = net.init_params(SPEC, np.random.default_rng(SEED))
    model, named = torch_network(SPEC, params)
    model.train()
    optimizer = make_optimizer(list(model.parameters()))
    losses = []
    for X_t, Y_t in training.minibatches(X, Y, BATCH, np.random.default_rng(SEED)):  # the reference's order
        optimizer.zero_grad()
        # The forward pass also updates BN's running statistics with this mini-batch's Z (pre-step
        # parameters), as the reference does after its optimizer step with the cached Z.
        loss = functional.binary_cross_entropy_with_logits(model(_tensor(X_t.T)), _tensor(Y_t.T))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {key: _as_reference(key, tensor) for key, tensor in named.items()}, losses


def train_reference(optimizer: object, X: np.ndarray, Y: np.ndarray) -> training.TrainingResult:
    params = net.init_params(SPEC, np.random.default_rng(SEED))
    return training.train(SPEC, params, X, Y, optimizer, epochs=1, batch_size=BATCH, rng=np.random.default_rng(SEED))


def unbiased_to_biased(torch_var: np.ndarray, steps: int) -> np.ndarray:
    """PyTorch's running variance converted to the reference's (module docstring)."""
    forgotten = SPEC.momentum**steps  # what remains of the initial running_var = 1
    return forgotten + (torch_var - forgotten) * (BATCH - 1) / BATCH


def _assert_close(what: str, observed: np.ndarray, required: np.ndarray) -> None:
    error = float(np.abs(observed - required).max())
    scale = float(np.abs(required).max())
    assert error <= RTOL * scale, f"{what}: max error {error:.3g} exceeds {RTOL:g} x max|reference| {scale:.3g}"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Single-threaded PyTorch for these tiny tensors (a thread team only spins on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, Y = training.separable_data(np.random.default_rng(SEED), SPEC.n_x, STEPS * BATCH)
    return X, Y


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_steps_match_the_reference(name, data):
    reference_optimizer, make_optimizer = OPTIMIZERS[name]
    X, Y = data
    expected = train_reference(reference_optimizer, X, Y)
    observed, losses = train_torch(make_optimizer, X, Y)
    assert len(expected.losses) == len(losses) == STEPS
    _assert_close("the losses of the 5 steps", np.array(losses), np.array(expected.losses))
    assert set(observed) == set(expected.params) | set(expected.running)
    for key, value in expected.params.items():
        _assert_close(f"{name}: {key} after {STEPS} steps", observed[key], value)
    for key, value in expected.running.items():
        if key.startswith("running_var"):
            _assert_close(f"{name}: {key} (converted from unbiased) after {STEPS} steps",
                          unbiased_to_biased(observed[key], STEPS), value)
        else:
            _assert_close(f"{name}: {key} after {STEPS} steps", observed[key], value)


def test_naive_momentum_mapping_is_caught(data):
    """SGD(momentum=m, dampening=m) with the same lr is *not* the course's momentum
    (its first step is undampened): the comparison must see the difference."""
    X, Y = data
    expected = train_reference(optimizers.Momentum(lr=0.1, momentum=0.9), X, Y)
    observed, _ = train_torch(lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, dampening=0.9), X, Y)
    with pytest.raises(AssertionError):
        for key, value in expected.params.items():
            _assert_close(key, observed[key], value)


def test_unconverted_running_variance_is_caught(data):
    """Without the m / (m - 1) conversion PyTorch's running variance differs."""
    X, Y = data
    expected = train_reference(optimizers.GradientDescent(lr=0.1), X, Y)
    observed, _ = train_torch(lambda params: torch.optim.SGD(params, lr=0.1), X, Y)
    with pytest.raises(AssertionError):
        _assert_close("running_var1", observed["running_var1"], expected.running["running_var1"])
