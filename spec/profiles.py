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
      (z_norm = 0, the output is beta) or ``"raises"`` (ValueError).
    """

    name: str
    eps: float
    momentum_weighs: str
    running_var: str
    single_example: str
    sources: dict[str, str] = field(default_factory=dict)

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
    sources={
        "momentum_weighs": "the course's exponentially weighted averages (L12)",
        "running_var": "the mini-batch's variance as the lecture computes it, divided by m",
        "single_example": "the lecture's formulas at m = 1: sigma^2 = 0, z_norm = 0, output beta",
        "eps": "any eps > 0 is passed explicitly; 1e-5 when none is given",
    },
)

PROFILES: dict[str, Profile] = {p.name: p for p in (LECTURE,)}


def get(name: str) -> Profile:
    """The profile called ``name``; ValueError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"profile: unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
