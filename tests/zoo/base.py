"""A correct batch norm built from small steps, for the faulty zoo to override.

Layout "units_first": ``z`` is ``n x m`` (units x examples); ``gamma``,
``beta``, the running statistics and ``dgamma``/``dbeta`` are ``n x 1``.
Statistics are plain two-pass (mean, then the mean of squared deviations),
biased (divide by m), with eps inside the square root.  Every step is its own
method so that each fault in the zoo overrides exactly one of them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np

#: The eps used when none is given.
DEFAULT_EPS = 1e-5

#: Axis of the examples in the units_first layout (statistics run along it).
EXAMPLES = 1


def refuse_bad_arguments(z, gamma, beta, eps, units_axis: int) -> None:
    """Raise ValueError on the arguments forward must refuse (the SHOULDs BN-INPUT-1 to -3): eps <= 0
    (or NaN), z not 2-D, a gamma or beta whose entries are not one per unit (broadcasting would make a
    result up).  A NaN or an infinity in z is let through: it propagates to its unit (BN-INPUT-4)."""
    if np.ndim(z) != 2:
        raise ValueError(f"z must be 2-D, got shape {np.shape(z)}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    n = np.shape(z)[units_axis]
    for name, p in (("gamma", gamma), ("beta", beta)):
        if np.size(p) != n:
            raise ValueError(f"{name} must have one entry per unit ({n}), got shape {np.shape(p)}")


class CorrectBN:
    """A correct, from-scratch batch norm in the lecture's layout."""

    layout = "units_first"
    profile = "lecture"
    # float16 and bfloat16 (ml_dtypes) accumulated in float32 (work_dtype)
    dtypes = ("float64", "float32", "float16", "bfloat16")

    # ---------------------------------------------------------------- numerics

    def work_dtype(self, dtype: np.dtype) -> np.dtype:
        """Accumulate in at least float32 (float16 and bfloat16 are widened, float64 kept)."""
        return np.promote_types(dtype, np.float32)

    def working(self, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """``a`` in the working dtype (the same object when already there)."""
        return np.asarray(a).astype(dtype, copy=False)

    # -------------------------------------------------------------- statistics

    def mean(self, z: np.ndarray) -> np.ndarray:
        """Per-unit mean over the examples, ``n x 1``."""
        return z.mean(axis=EXAMPLES, keepdims=True)

    def variance(self, z: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Per-unit biased variance, second pass over the deviations."""
        return np.square(z - mu).mean(axis=EXAMPLES, keepdims=True)

    def statistics(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, sigma^2)`` of this mini-batch."""
        mu = self.mean(z)
        return mu, self.variance(z, mu)

    def train_statistics(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The statistics the training-mode forward normalizes with."""
        return self.statistics(z)

    # ----------------------------------------------------------- normalization

    def center(self, z: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """``z - mu`` as a new array."""
        return z - mu

    def inv_std(self, var: np.ndarray, eps: float) -> np.ndarray:
        """``1 / sqrt(sigma^2 + eps)``."""
        return 1.0 / np.sqrt(var + eps)

    def normalize(self, z: np.ndarray, mu: np.ndarray, var: np.ndarray, eps: float) -> np.ndarray:
        """``z_norm = (z - mu) / sqrt(sigma^2 + eps)``."""
        return self.center(z, mu) * self.inv_std(var, eps)

    def affine(self, z_norm: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """``z~ = gamma * z_norm + beta``."""
        return gamma * z_norm + beta

    # ------------------------------------------------------------ training mode

    def forward(self, z, gamma, beta, eps=DEFAULT_EPS):
        """Training-mode batch norm with this mini-batch's statistics."""
        refuse_bad_arguments(z, gamma, beta, eps, units_axis=0)
        work = self.work_dtype(z.dtype)
        x = self.working(z, work)
        mu, var = self.train_statistics(x)
        z_norm = self.normalize(x, mu, var, eps)
        out = self.affine(z_norm, self.working(gamma, work), self.working(beta, work))
        return out.astype(z.dtype, copy=False)

    # ---------------------------------------------------------------- backward

    def reduce_examples(self, a: np.ndarray) -> np.ndarray:
        """Sum over the examples, keeping the ``n x 1`` column shape."""
        return a.sum(axis=EXAMPLES, keepdims=True)

    def dgamma(self, grad: np.ndarray, z_norm: np.ndarray) -> np.ndarray:
        """``dgamma = sum_i grad * z_norm``."""
        return self.reduce_examples(grad * z_norm)

    def dbeta(self, grad: np.ndarray) -> np.ndarray:
        """``dbeta = sum_i grad``."""
        return self.reduce_examples(grad)

    def dz_norm(self, grad: np.ndarray, gamma: np.ndarray) -> np.ndarray:
        """``dz_norm = gamma * grad``."""
        return gamma * grad

    def backward_inv_std(self, var: np.ndarray, eps: float) -> np.ndarray:
        """The ``1 / sqrt(sigma^2 + eps)`` factor of dz (the forward's)."""
        return self.inv_std(var, eps)

    def mean_term(self, dz_norm: np.ndarray) -> np.ndarray:
        """Gradient through mu: ``mean(dz_norm)``."""
        return dz_norm.mean(axis=EXAMPLES, keepdims=True)

    def variance_term(self, dz_norm: np.ndarray, z_norm: np.ndarray) -> np.ndarray:
        """Gradient through sigma^2: ``z_norm * mean(dz_norm * z_norm)``."""
        return z_norm * (dz_norm * z_norm).mean(axis=EXAMPLES, keepdims=True)

    def dz(self, dz_norm: np.ndarray, z_norm: np.ndarray, inv_std: np.ndarray) -> np.ndarray:
        """``dz = inv_std * (dz_norm - mean term - variance term)``."""
        return inv_std * (dz_norm - self.mean_term(dz_norm) - self.variance_term(dz_norm, z_norm))

    def backward(self, z, gamma, beta, eps, grad):
        """``(dz, dgamma, dbeta)``: gradients of ``sum(grad * forward(...))``."""
        work = self.work_dtype(z.dtype)
        x = self.working(z, work)
        g = self.working(grad, work)
        mu, var = self.statistics(x)
        z_norm = self.normalize(x, mu, var, eps)
        dz_norm = self.dz_norm(g, self.working(gamma, work))
        dz = self.dz(dz_norm, z_norm, self.backward_inv_std(var, eps))
        grads = (dz, self.dgamma(g, z_norm), self.dbeta(g))
        return tuple(a.astype(z.dtype, copy=False) for a in grads)

    # ------------------------------------------------------ running statistics

    def batch_var_for_running(self, z: np.ndarray) -> np.ndarray:
        """The batch variance fed to the running average (biased, lecture)."""
        return self.statistics(z)[1]

    def ewa(self, old: np.ndarray, new: np.ndarray, momentum: float) -> np.ndarray:
        """``momentum * old + (1 - momentum) * new`` (momentum weighs the old)."""
        return momentum * old + (1.0 - momentum) * new

    def update_var(self, old: np.ndarray, batch_var: np.ndarray, momentum: float) -> np.ndarray:
        """The running variance's step."""
        return self.ewa(old, batch_var, momentum)

    def update_running(self, running_mean, running_var, z, momentum):
        """One exponentially weighted step of the running mean and variance."""
        if z.shape[EXAMPLES] == 0:  # no example, no statistic: left unchanged (BN-EMPTY-3), never NaN
            return running_mean.copy(), running_var.copy()
        work = self.work_dtype(z.dtype)
        x = self.working(z, work)
        new_mean = self.ewa(self.working(running_mean, work), self.mean(x), momentum)
        new_var = self.update_var(
            self.working(running_var, work), self.batch_var_for_running(x), momentum
        )
        return new_mean.astype(running_mean.dtype, copy=False), new_var.astype(
            running_var.dtype, copy=False
        )

    # --------------------------------------------------------------- inference

    def eval_statistics(self, z, running_mean, running_var):
        """The statistics inference normalizes with: the running estimates."""
        return running_mean, running_var

    def eval_inv_std(self, var: np.ndarray, eps: float) -> np.ndarray:
        """``1 / sqrt(running_var + eps)``."""
        return self.inv_std(var, eps)

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps=DEFAULT_EPS):
        """Inference-mode batch norm with the running estimates."""
        work = self.work_dtype(z.dtype)
        x = self.working(z, work)
        mu, var = self.eval_statistics(
            x, self.working(running_mean, work), self.working(running_var, work)
        )
        z_norm = self.center(x, mu) * self.eval_inv_std(var, eps)
        out = self.affine(z_norm, self.working(gamma, work), self.working(beta, work))
        return out.astype(z.dtype, copy=False)


# --------------------------------------------------------------------------
# The learner's batch_first example, as a zoo member
# --------------------------------------------------------------------------

LEARNER_PATH = Path(__file__).resolve().parents[2] / "examples" / "learner_bn.py"
_learner: ModuleType | None = None


def load_learner() -> ModuleType:
    """Import ``examples/learner_bn.py`` by its path (it is not a package)."""
    global _learner
    if _learner is None:
        spec = importlib.util.spec_from_file_location("zoo_learner_bn", LEARNER_PATH)
        assert spec is not None and spec.loader is not None, LEARNER_PATH
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _learner = module
    return _learner


class BatchFirstLearnerBN:
    """The learner's correct numpy batch norm, in the batch_first layout (m x n).

    The wrapper adds what the learner's example leaves out, the SHOULD edge cases: the refusals of
    :func:`refuse_bad_arguments` and the running statistics left unchanged by an empty mini-batch."""

    layout = "batch_first"
    profile = "lecture"
    dtypes = ("float64", "float32", "float16", "bfloat16")  # the learner widens both to float32 (_work)

    def forward(self, z, gamma, beta, eps=DEFAULT_EPS):
        refuse_bad_arguments(z, gamma, beta, eps, units_axis=1)
        return load_learner().forward(z, gamma, beta, eps)

    def backward(self, z, gamma, beta, eps, grad):
        return load_learner().backward(z, gamma, beta, eps, grad)

    def update_running(self, running_mean, running_var, z, momentum):
        if z.shape[0] == 0:  # batch_first: m is axis 0 (BN-EMPTY-3)
            return running_mean.copy(), running_var.copy()
        return load_learner().update_running(running_mean, running_var, z, momentum)

    def forward_eval(self, z, gamma, beta, running_mean, running_var, eps=DEFAULT_EPS):
        return load_learner().forward_eval(z, gamma, beta, running_mean, running_var, eps)
