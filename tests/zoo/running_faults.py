"""Faults of the running statistics and of inference mode."""

from __future__ import annotations

import numpy as np

from .base import CorrectBN


class MomentumSwappedBN(CorrectBN):
    """Momentum weighs the new batch value, ``(1 - momentum) * old + momentum * new``: the
    PyTorch convention used with a course/Keras/ONNX momentum of 0.9."""

    def ewa(self, old, new, momentum):
        return (1.0 - momentum) * old + momentum * new


class RunningVarNotUpdatedBN(CorrectBN):
    """Only the running mean is updated; the running variance is returned unchanged
    (a dropped second update op)."""

    def update_var(self, old, batch_var, momentum):
        return old.copy()


class UnbiasedRunningVarBN(CorrectBN):
    """Running variance fed the unbiased batch variance m/(m-1) * sigma^2 (PyTorch's
    choice), not the lecture profile's biased one."""

    def batch_var_for_running(self, z):
        m = z.shape[1]
        return self.statistics(z)[1] * (m / (m - 1))


class InPlaceRunningUpdateBN(CorrectBN):
    """Updates the caller's running buffers in place (``old *= momentum``), the
    framework-buffer style ported to a function that must return new arrays."""

    def ewa(self, old, new, momentum):
        old *= momentum
        old += (1.0 - momentum) * new
        return old


class EvalBatchStatsBN(CorrectBN):
    """Inference normalizes with the batch statistics: the model never switched to eval
    mode (a forgotten model.eval()), so predictions depend on the batch."""

    def eval_statistics(self, z, running_mean, running_var):
        return self.statistics(z)


class EvalWithoutEpsBN(CorrectBN):
    """Inference divides by sqrt(running_var) without eps, as chainer's
    fixed_batch_normalization did before chainer#2214."""

    def eval_inv_std(self, var, eps):
        return 1.0 / np.sqrt(var)


class EvalVarianceNotSqrtBN(CorrectBN):
    """Inference divides by running_var + eps instead of its square root (variance and
    standard deviation confused when folding the layer)."""

    def eval_inv_std(self, var, eps):
        return 1.0 / (var + eps)
