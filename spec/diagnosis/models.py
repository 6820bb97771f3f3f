"""Known bugs as models: the lecture's formulas with one step changed.

A :class:`Model` implements the protocol (units first, ``n[l] x m``) under a
profile's conventions; every field left at its default keeps the correct
step, so ``Model(profile)`` is a correct batch norm of that profile (the
tests hold it to :mod:`bnspec.reference.batchnorm`).  Setting one field is one
known bug.  The diagnosis compares an implementation with each model on
inputs of its choosing, and runs the failing clauses against the model that
fits: the clauses the model fails too are the ones that bug explains.

Arithmetic is in ``work``'s dtype: at least float32 (float16 and bfloat16 are
widened, as a correct implementation does), float32 for everything when
``low_precision``; results are cast back to the input's dtype unless
``result_dtype`` says otherwise.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from .. import profiles
from ..profiles import Profile

Variance = Literal["biased", "unbiased", "one_pass"]
#: the profiles' running variances, and two bugs of the running update
RunningVar = profiles.RunningVar | Literal["std", "frozen"]
Weighs = profiles.MomentumWeighs
SingleExample = profiles.SingleExample


@dataclass(frozen=True)
class Model:
    """A batch norm that follows ``profile`` except for the steps its other fields change."""

    profile: Profile
    variance: Variance = "biased"
    eps_outside: bool = False  # (z - mu) / (sqrt(var) + eps)
    fixed_eps: float | None = None  # the eps argument ignored, this value used
    eval_as_training: bool = True  # forward_eval shares the training forward's normalization (and its bug)
    single_example: SingleExample | None = None  # m = 1 in training; None: the profile's
    center: bool = True
    axis: Literal["examples", "units"] = "examples"
    low_precision: bool = False  # every sum in float32, whatever the input
    narrow: tuple[str, ...] = ()  # the dtypes whose inputs are summed in themselves, not widened to float32
    nan_on_constant: bool = False  # 0 / 0 on a unit constant over the mini-batch
    dz_mean_term: bool = True
    dz_variance_term: bool = True
    dgamma_without_z_norm: bool = False  # dgamma = sum(grad)
    momentum_weighs: Weighs | None = None  # None: the profile's
    running_var: RunningVar | None = None  # None: the profile's
    eval_batch_statistics: bool = False
    eval_without_eps: bool = False
    affine: Literal["gamma, beta", "beta, gamma", "beta only"] = "gamma, beta"
    mutates_input: bool = False  # forward centres its z argument in place
    jitter: bool = False  # forward adds noise of one part in 1e15: different results for the same inputs
    result_dtype: Literal["input", "float64"] = "input"
    #: functions answered by the implementation itself (its Target, lecture layout): the model of a bug
    #: no formula names, confined to the function where it shows
    delegate: tuple[str, ...] = ()
    implementation: Any = field(default=None, compare=False, repr=False)

    # -- the steps ------------------------------------------------------------------

    def _work(self, dtype: np.dtype) -> np.dtype:
        if dtype.name in self.narrow:
            return dtype
        return np.dtype(np.float32) if self.low_precision else np.promote_types(dtype, np.float32)

    def _out(self, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return a.astype(np.float64 if self.result_dtype == "float64" else dtype)

    def _axis(self) -> int:
        return 1 if self.axis == "examples" else 0

    def _statistics(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``mu`` and ``sigma^2`` over the examples (biased, m - 1 or one pass).  A bug's overflow (a
        float16 sum) or 0 / 0 (m - 1 at m = 1) gives inf or NaN here, as the bug does, silently."""
        axis, m = self._axis(), z.shape[self._axis()]
        with np.errstate(all="ignore"):
            mu = z.mean(axis=axis, keepdims=True)
            if self.variance == "one_pass":
                return mu, (z * z).mean(axis=axis, keepdims=True) - mu * mu
            squares = np.square(z - mu).sum(axis=axis, keepdims=True)
            return mu, squares / (m - 1 if self.variance == "unbiased" else m)

    def _inv_std(self, var: np.ndarray, eps: float) -> np.ndarray:
        eps = eps if self.fixed_eps is None else self.fixed_eps
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.nan_on_constant:
                return np.where(var > 0, 1.0 / np.sqrt(var + eps), np.nan).astype(var.dtype)
            return 1.0 / (np.sqrt(var) + eps) if self.eps_outside else 1.0 / np.sqrt(var + eps)

    def _refuse_single_example(self, z: np.ndarray) -> None:
        """A profile that refuses m = 1 in training mode raises its exception (``bnspec profiles``)."""
        if z.shape[1] == 1 and (self.single_example or self.profile.single_example) == "raises":
            raise getattr(builtins, self.profile.refusal)("m = 1: no variance over a single example")

    def _affine(self, z_norm: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
        if self.affine == "beta, gamma":
            return beta * z_norm + gamma
        return z_norm + beta if self.affine == "beta only" else gamma * z_norm + beta

    def _normalize(self, z: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
        mu, var = self._statistics(z)
        inv_std = self._inv_std(var, eps)
        return (z - mu if self.center else z) * inv_std, inv_std

    # -- the protocol ---------------------------------------------------------------

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        """``gamma * z_norm + beta``."""
        if "forward" in self.delegate:
            return self.implementation.forward(z, gamma, beta, eps)
        self._refuse_single_example(z)
        work = self._work(z.dtype)
        z_norm, _ = self._normalize(z.astype(work), eps)
        if self.mutates_input:
            z -= z.mean(axis=1, keepdims=True).astype(z.dtype)
        out = self._affine(z_norm, gamma.astype(work), beta.astype(work))
        if self.jitter:
            out = out * (1.0 + 1e-15 * np.random.default_rng().standard_normal(out.shape))
        return self._out(out, z.dtype)

    def backward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``dz = inv_std * (dz_norm - mean(dz_norm) - z_norm * mean(dz_norm * z_norm))``, ``dgamma``, ``dbeta``."""
        if "backward" in self.delegate:
            return self.implementation.backward(z, gamma, beta, eps, grad)
        self._refuse_single_example(z)
        work = self._work(z.dtype)
        g = grad.astype(work)
        z_norm, inv_std = self._normalize(z.astype(work), eps)
        dz_norm = gamma.astype(work) * g
        inner = dz_norm
        if self.dz_mean_term:
            inner = inner - dz_norm.mean(axis=1, keepdims=True)
        if self.dz_variance_term:
            inner = inner - z_norm * (dz_norm * z_norm).mean(axis=1, keepdims=True)
        dgamma = g.sum(axis=1, keepdims=True) if self.dgamma_without_z_norm else \
            (g * z_norm).sum(axis=1, keepdims=True)
        return (self._out(inv_std * inner, z.dtype), self._out(dgamma, z.dtype),
                self._out(g.sum(axis=1, keepdims=True), z.dtype))

    def update_running(self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
                       ) -> tuple[np.ndarray, np.ndarray]:
        """``weight_old * old + (1 - weight_old) * batch`` for the mean and the profile's variance."""
        if "update_running" in self.delegate:
            return self.implementation.update_running(running_mean, running_var, z, momentum)
        work = self._work(z.dtype)
        x = z.astype(work)
        m = x.shape[self._axis()]
        mu, var = replace(self, variance="one_pass" if self.variance == "one_pass" else "biased")._statistics(x)
        kind = self.running_var or self.profile.running_var
        if kind == "unbiased" and m > 1:
            var = var * m / (m - 1)
        elif kind == "std":
            var = np.sqrt(var)
        weighs = self.momentum_weighs or self.profile.momentum_weighs
        old = momentum if weighs == "old" else 1.0 - momentum
        new_mean = old * running_mean.astype(work) + (1.0 - old) * mu
        new_var = running_var.astype(work) if kind == "frozen" else old * running_var.astype(work) + (1.0 - old) * var
        return self._out(new_mean, running_mean.dtype), self._out(new_var, running_var.dtype)

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        """``gamma * (z - running_mean) / sqrt(running_var + eps) + beta``."""
        if "forward_eval" in self.delegate:
            return self.implementation.forward_eval(z, gamma, beta, running_mean, running_var, eps)
        work = self._work(z.dtype)
        x = z.astype(work)
        mu, var = (self._statistics(x) if self.eval_batch_statistics
                   else (running_mean.astype(work), running_var.astype(work)))
        if self.eval_without_eps:
            inv_std = 1.0 / np.sqrt(var)
        elif self.eval_as_training:
            inv_std = self._inv_std(var, eps)
        else:
            inv_std = 1.0 / np.sqrt(var + eps)
        centered = x - mu if self.center or not self.eval_as_training else x
        return self._out(self._affine(centered * inv_std, gamma.astype(work), beta.astype(work)), z.dtype)
