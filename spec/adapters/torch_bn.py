"""PyTorch's own batch norm behind the bnspec protocol (``bnspec check torch``).

Every function calls ``torch.nn.functional.batch_norm`` -- the function behind
``torch.nn.BatchNorm1d`` -- and never recomputes any of BN itself:

- ``forward``: ``batch_norm(..., training=True)``, given deliberately wrong
  running buffers (mean 3, variance 7, fresh per call) that a training-mode
  output must ignore;
- ``backward``: ``torch.autograd.grad`` of ``sum(grad * batch_norm(...))``
  with respect to z, gamma and beta;
- ``update_running``: ``batch_norm(..., training=True, momentum=momentum)`` on
  copies of the buffers, which it updates in place (PyTorch's convention:
  ``momentum`` weighs the *new* value and the variance is unbiased -- the
  ``torch`` profile);
- ``forward_eval``: ``batch_norm(..., training=False)`` with the given buffers.

Layout ``batch_first``: z is ``m x n`` (PyTorch's ``(N, C)``), the per-unit
arrays are 1-D of length n.  Tensors keep z's dtype (float64 stays float64,
float32 stays float32); every array is copied before it reaches torch
(``torch.from_numpy`` shares memory and ``batch_norm`` writes into the running
buffers).  Importing this module without PyTorch raises ImportError.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch.nn import functional

#: clause ID -> why PyTorch genuinely fails it under the torch profile (none found).
FINDINGS: dict[str, str] = {}


def _tensor(array: np.ndarray, dtype: torch.dtype | None = None, requires_grad: bool = False) -> torch.Tensor:
    """A torch tensor holding a private copy of ``array`` (optionally cast to ``dtype``)."""
    tensor = torch.from_numpy(np.array(array, copy=True))
    if dtype is not None:
        tensor = tensor.to(dtype)
    return tensor.requires_grad_(requires_grad)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().numpy().copy()


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run PyTorch single-threaded inside, restoring the caller's setting after.

    The protocol's arrays hold tens of elements: an intra-op thread team only
    adds overhead, and on a busy machine its spin-waiting made ``bnspec check
    torch`` 4-6x slower (51-76 s of CPU against 12 s single-threaded).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class TorchBN:
    """The protocol's four functions mapped onto ``torch.nn.functional.batch_norm``."""

    layout = "batch_first"
    profile = "torch"

    def _train(self, z: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float) -> torch.Tensor:
        # Fresh, non-trivial running buffers: a training-mode output that used them would be wrong.
        n = z.shape[1]
        running_mean = torch.full((n,), 3.0, dtype=z.dtype)
        running_var = torch.full((n,), 7.0, dtype=z.dtype)
        return functional.batch_norm(z, running_mean, running_var, gamma, beta, training=True, eps=float(eps))

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        zt = _tensor(z)
        with torch.no_grad(), _one_thread():
            return _numpy(self._train(zt, _tensor(gamma, zt.dtype), _tensor(beta, zt.dtype), eps))

    def backward(
        self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        zt = _tensor(z, requires_grad=True)
        gt, bt = _tensor(gamma, zt.dtype, True), _tensor(beta, zt.dtype, True)
        with _one_thread():
            out = self._train(zt, gt, bt, eps)
            dz, dgamma, dbeta = torch.autograd.grad((_tensor(grad, zt.dtype) * out).sum(), (zt, gt, bt))
        return _numpy(dz), _numpy(dgamma), _numpy(dbeta)

    def update_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        zt = _tensor(z)
        mean, var = _tensor(running_mean, zt.dtype), _tensor(running_var, zt.dtype)
        with torch.no_grad(), _one_thread():
            functional.batch_norm(zt, mean, var, training=True, momentum=float(momentum))  # updates mean, var in place
        return _numpy(mean).astype(running_mean.dtype), _numpy(var).astype(running_var.dtype)

    def forward_eval(
        self,
        z: np.ndarray,
        gamma: np.ndarray,
        beta: np.ndarray,
        running_mean: np.ndarray,
        running_var: np.ndarray,
        eps: float,
    ) -> np.ndarray:
        zt = _tensor(z)
        stats = _tensor(running_mean, zt.dtype), _tensor(running_var, zt.dtype)
        affine = _tensor(gamma, zt.dtype), _tensor(beta, zt.dtype)
        with torch.no_grad(), _one_thread():
            return _numpy(functional.batch_norm(zt, *stats, *affine, training=False, eps=float(eps)))
