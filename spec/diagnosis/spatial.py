"""Spatial batch norm's own bugs: statistics over the wrong axes of an ``(N, C, *S)`` or ``(N, *S, C)`` z.

In a channel layout every position of every sample is an example of its
channel (:mod:`bnspec.spec.layouts`).  Two bugs keep the arrays' shapes and
take the statistics over part of those examples only:

- **per position** -- over the N samples alone, one mean and variance per
  channel *and* spatial position (a reduction over axis 0 only);
- **per sample** -- over the spatial positions alone, one per channel and
  sample (an instance norm).

A :class:`Regrouped` model is the profile's correct :class:`~.models.Model`
applied to the regrouped batch: each group of examples that shares the bug's
statistics becomes a unit of its own, ``gamma`` and ``beta`` repeated for it,
and ``dgamma``, ``dbeta`` summed back per channel.  Its functions take the
implementation's layout -- the groups depend on the spatial shape, which only
the implementation's ``z`` carries -- so a clause replayed against it gets the
very arrangement the implementation got.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..layouts import Layout, Role
from .models import Model

Grouping = Literal["per_position", "per_sample"]
GROUPINGS: tuple[Grouping, ...] = ("per_position", "per_sample")


@dataclass(frozen=True)
class Regrouped:
    """The correct batch norm of ``model`` with its training statistics taken ``grouping``-wise, in
    the implementation's ``layout``; inference and the running update stay correct."""

    model: Model
    grouping: Grouping
    layout: Layout

    def _lecture(self, a: np.ndarray, role: Role) -> np.ndarray:
        return self.layout.from_impl(a, role)

    def _sizes(self, z: np.ndarray) -> tuple[int, int]:
        """``(samples, positions)`` of the implementation's z."""
        axis = self.layout.unit_axis(z.ndim)
        samples = z.shape[0]
        return samples, math.prod(s for i, s in enumerate(z.shape) if i not in (0, axis))

    def _to_groups(self, x: np.ndarray, samples: int, positions: int) -> np.ndarray:
        """``n x m`` (examples sample-major) to ``(n * groups) x (m / groups)``: one row per group."""
        n = x.shape[0]
        cube = x.reshape(n, samples, positions)
        if self.grouping == "per_position":
            return cube.transpose(0, 2, 1).reshape(n * positions, samples)
        return cube.reshape(n * samples, positions)

    def _from_groups(self, x: np.ndarray, n: int, samples: int, positions: int) -> np.ndarray:
        if self.grouping == "per_position":
            return x.reshape(n, positions, samples).transpose(0, 2, 1).reshape(n, samples * positions)
        return x.reshape(n, samples * positions)

    def _repeat(self, a: np.ndarray, samples: int, positions: int) -> np.ndarray:
        return np.repeat(a, positions if self.grouping == "per_position" else samples, axis=0)

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        samples, positions = self._sizes(z)
        x, g, b = self._lecture(z, Role.BATCH), self._lecture(gamma, Role.PER_UNIT), self._lecture(beta, Role.PER_UNIT)
        out = self.model.forward(self._to_groups(x, samples, positions), self._repeat(g, samples, positions),
                                 self._repeat(b, samples, positions), eps)
        return self.layout.like(self._from_groups(out, x.shape[0], samples, positions), Role.BATCH, z.shape)

    def backward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        samples, positions = self._sizes(z)
        x, g, b = self._lecture(z, Role.BATCH), self._lecture(gamma, Role.PER_UNIT), self._lecture(beta, Role.PER_UNIT)
        n = x.shape[0]
        upstream = self._to_groups(self._lecture(grad, Role.BATCH), samples, positions)
        dz, dgamma, dbeta = self.model.backward(self._to_groups(x, samples, positions),
                                                self._repeat(g, samples, positions),
                                                self._repeat(b, samples, positions), eps, upstream)
        dgamma, dbeta = (self.layout.like(d.reshape(n, -1).sum(axis=1, keepdims=True), Role.PER_UNIT, z.shape)
                         for d in (dgamma, dbeta))
        return self.layout.like(self._from_groups(dz, n, samples, positions), Role.BATCH, z.shape), dgamma, dbeta

    def update_running(self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
                       ) -> tuple[np.ndarray, np.ndarray]:
        mean, var = self.model.update_running(self._lecture(running_mean, Role.PER_UNIT),
                                              self._lecture(running_var, Role.PER_UNIT),
                                              self._lecture(z, Role.BATCH), momentum)
        return self.layout.like(mean, Role.PER_UNIT, z.shape), self.layout.like(var, Role.PER_UNIT, z.shape)

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        g, b, mean, var = (self._lecture(a, Role.PER_UNIT) for a in (gamma, beta, running_mean, running_var))
        out = self.model.forward_eval(self._lecture(z, Role.BATCH), g, b, mean, var, eps)
        return self.layout.like(out, Role.BATCH, z.shape)
