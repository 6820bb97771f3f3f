"""Profiles: named sets of conventions that change what a clause expects.

A profile never changes a tolerance.  ``lecture`` is the canonical profile and
the default; the conformance kit adds the frameworks' profiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bnspec.reference import batchnorm


@dataclass(frozen=True)
class Profile:
    """The conventions a BN implementation follows, each with its source.

    - ``momentum_weighs``: ``"old"`` when ``new = momentum * old + (1 - momentum)
      * batch`` (the course, ONNX, Keras, Flax), ``"new"`` when the momentum is
      the weight of the batch statistic (PyTorch, MLX, tinygrad).
    - ``running_var``: ``"biased"`` (divide by m) or ``"unbiased"`` (by m - 1,
      the paper's Algorithm 2).
    - ``single_example``: what training-mode BN does at m = 1: ``"beta"``
      (z_norm = 0, the output is beta) or ``"raises"``.
    - ``refusal``: with ``"raises"``, the exception the framework raises at
      m = 1 (a builtin exception's name; any other exception fails BN-DEG-2).
    - ``feature_axis``: where the framework keeps the units (documentation; the
      adapter maps it onto the protocol's layout).
    - ``sources``: where each value comes from.
    """

    name: str
    eps: float
    momentum_weighs: str
    running_var: str
    single_example: str
    feature_axis: str = "rows (n x m, units first)"
    sources: dict[str, str] = field(default_factory=dict)
    refusal: str = "ValueError"

    def expected_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The running statistics this profile requires after one update.

        The lecture's formula lives in :func:`bnspec.reference.batchnorm.update_running`;
        a profile maps its conventions onto it: a momentum that weighs the new
        value becomes ``1 - momentum``, and an unbiased estimator scales the
        batch variance by ``m / (m - 1)``, which by linearity equals updating
        ``running_var * (m - 1) / m`` and scaling the result back.
        """
        weight_old = momentum if self.momentum_weighs == "old" else 1.0 - momentum
        if self.running_var == "biased":
            return batchnorm.update_running(running_mean, running_var, z, weight_old)
        m = z.shape[1]
        k = m / (m - 1)
        new_mean, scaled_var = batchnorm.update_running(running_mean, running_var / k, z, weight_old)
        return new_mean, scaled_var * k

    def momentum_for(self, weight_old: float) -> float:
        """The momentum argument that gives the old value the weight ``weight_old``."""
        return weight_old if self.momentum_weighs == "old" else 1.0 - weight_old

    def converged(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The running statistics after feeding ``z`` forever: its mean and the
        profile's estimate of its variance."""
        n = z.shape[0]
        forget = 0.0 if self.momentum_weighs == "old" else 1.0
        return self.expected_running(np.zeros((n, 1)), np.ones((n, 1)), z, forget)


LECTURE = Profile(
    name="lecture",
    eps=batchnorm.DEFAULT_EPS,
    momentum_weighs="old",
    running_var="biased",
    single_example="beta",
    feature_axis="rows (n x m, units first)",
    sources={
        "momentum_weighs": "the course's exponentially weighted averages (L12): v = momentum * v + (1 - momentum) x",
        "running_var": "the mini-batch's variance as the lecture computes it, divided by m (L6)",
        "single_example": "the lecture's formulas at m = 1: sigma^2 = 0, z_norm = 0, output beta",
        "eps": "any eps > 0 is passed explicitly; 1e-5 when none is given",
    },
)

PAPER = Profile(
    name="paper",
    eps=batchnorm.DEFAULT_EPS,
    momentum_weighs="old",
    running_var="unbiased",
    single_example="beta",
    feature_axis="rows (n x m, units first)",
    sources={
        "running_var": "Ioffe & Szegedy 2015, Algorithm 2: Var[x] = m / (m - 1) E_B[sigma_B^2]",
        "momentum_weighs": "Algorithm 2 averages over mini-batches; as a moving average, the lecture's form",
        "single_example": "Algorithm 1 at m = 1: sigma_B^2 = 0, the output is beta",
        "eps": "the paper leaves eps to the implementation; 1e-5",
    },
)


def _framework(
    name: str, eps_default: float, weighs: str, var: str, single: str, axis: str, refusal: str = "ValueError",
    **sources: str,
) -> Profile:
    return Profile(name, eps_default, weighs, var, single, axis, sources, refusal)


TORCH = _framework(
    "torch", 1e-5, "new", "unbiased", "raises", "1 (N, C)",
    eps="torch.nn.BatchNorm1d(eps=1e-05)",
    momentum_weighs="BatchNorm1d docs: x_new = (1 - momentum) x_old + momentum x_t, momentum=0.1",
    running_var="BatchNorm1d docs: the running variance is updated with the unbiased estimator",
    single_example="F.batch_norm raises ValueError 'Expected more than 1 value per channel when training'",
)
KERAS = _framework(
    "keras", 1e-3, "old", "biased", "beta", "-1 (N, C)",
    eps="keras.layers.BatchNormalization(epsilon=0.001)",
    momentum_weighs="moving_mean = moving_mean * momentum + mean(batch) * (1 - momentum), momentum=0.99",
    running_var="moving_var updated with the batch's variance (ops.moments: divide by m)",
    single_example="a batch of one normalizes to 0: the output is beta",
)
FLAX = _framework(
    "flax", 1e-5, "old", "biased", "beta", "-1 (N, C)",
    eps="flax.nnx.BatchNorm(epsilon=1e-5)",
    momentum_weighs="ra_mean = momentum * ra_mean + (1 - momentum) * mean, momentum=0.99",
    running_var="flax.nnx.BatchNorm: var = E[x^2] - E[x]^2 over the batch (divide by m)",
    single_example="a batch of one normalizes to 0: the output is beta",
)
ONNX = _framework(
    "onnx", 1e-5, "old", "biased", "beta", "1 (N, C)",
    eps="ONNX BatchNormalization: epsilon default 1e-5",
    momentum_weighs="ONNX BatchNormalization-15: running_mean = input_mean * momentum + current_mean * (1 - momentum)",
    running_var="ONNX BatchNormalization-15: current_var = ReduceVar(X) (population variance)",
    single_example="the operator's formulas at m = 1: the output is beta",
)
MLX = _framework(
    "mlx", 1e-5, "new", "unbiased", "raises", "-1 (N, C)",
    eps="mlx.nn.BatchNorm(eps=1e-5)",
    momentum_weighs="mlx.nn.BatchNorm: running = (1 - momentum) running + momentum batch, momentum=0.1",
    running_var="follows PyTorch's convention (unbiased running variance)",
    single_example="mlx.nn.BatchNorm raises ValueError('BatchNorm training requires more than one value per "
    "channel.') in training mode at m = 1 (BatchNorm.__call__, mlx 0.32.4)",
)
TINYGRAD = _framework(
    "tinygrad", 1e-5, "new", "unbiased", "raises", "1 (N, C)", "ZeroDivisionError",
    eps="tinygrad.nn.BatchNorm(eps=1e-5)",
    momentum_weighs="tinygrad.nn.BatchNorm: running = (1 - momentum) running + momentum batch, momentum=0.1",
    running_var="follows PyTorch's convention (unbiased running variance)",
    single_example="nn.BatchNorm with track_running_stats=True (the default) raises ZeroDivisionError in training "
    "mode at m = 1: its running-variance update multiplies by the Bessel factor x.numel() / (x.numel() - "
    "x.shape[1]) = m / (m - 1) (tinygrad/nn/__init__.py, BatchNorm.__call__, tinygrad 0.14.0)",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (LECTURE, PAPER, TORCH, KERAS, FLAX, ONNX, MLX, TINYGRAD)}


def get(name: str) -> Profile:
    """The profile called ``name``; ValueError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"profile: unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
