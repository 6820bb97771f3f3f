"""tinygrad's own batch norm, ``tinygrad.nn.BatchNorm``, behind the protocol.

Every function builds an ``nn.BatchNorm(n, eps=..., momentum=...)`` (default
``affine=True, track_running_stats=True``), puts the protocol's arrays in its
``weight``, ``bias``, ``running_mean`` and ``running_var``, and calls it:

- ``forward``: in training mode (``Context(TRAINING=1)``, what ``Tensor.train()``
  was in older tinygrad), with *non-trivial* running statistics (mean 3.0,
  variance 7.0), so that an output that wrongly used them would be caught;
- ``backward``: the same call, then ``Tensor.backward()`` of
  ``(grad * out).sum()``; returns the ``.grad`` of z, weight and bias;
- ``update_running``: a training-mode call of ``nn.BatchNorm(n, momentum=momentum)``;
  returns the module's ``running_mean`` and ``running_var`` afterwards;
- ``forward_eval``: the module in inference mode (``TRAINING=0``), which
  normalizes with its running statistics.

tinygrad's BatchNorm is channels first, for any number of spatial dims:
``nn.BatchNorm2d = BatchNorm3d = BatchNorm``, whose ``calc_stats`` reduces over
``tuple(x for x in range(x.ndim) if x != 1)`` and reshapes the statistics to
``[1, -1, *([1]*(x.ndim-2))]``, and whose running variance's Bessel factor is
``x.numel()/(x.numel()-x.shape[1])``, i.e. m / (m - 1) with m = N * prod(S)
(tinygrad/nn/__init__.py).  Hence ``layout = "channels_first"`` with spatial ranks
0 to 3: ``z`` is ``(N, C, *S)`` and the per-channel arrays ``(C,)``.  float64 stays
float64 and float32 stays float32 (the per-unit arrays are given z's dtype).  z
(and grad) reach tinygrad as a flat C-ordered copy in the packed input tensor
(see Speed), reshaped there to ``(N, C, *S)``: any memory order is accepted.

Device: tinygrad's ``DEV`` if it is set in the environment; else ``CPU`` when a
``clang`` is on the PATH (tinygrad's CPU device compiles every kernel, and its
own worker programs, with ``clang --target=...``, which gcc cannot stand in for);
else ``PYTHON``, tinygrad's pure-Python emulator, which needs nothing and
supports float64 but interprets every element of every kernel in Python, so a
call's cost grows with z's size (tens of times CPU's on the large draws; ``make
test`` installs Debian's clang for this reason).
All calls run inside ``Context(DEV=DEVICE, PARALLEL=0)``: the process
environment is left alone, and kernels are compiled in-process (tinygrad's
compile pool restarts its workers every 16 kernels, which costs more than it
saves for kernels this small).

Speed: tinygrad compiles kernels per shape and schedules every call (tens of ms
even for cached kernels).  The runner draws a new factorization ``N * prod(S)`` of
m for nearly every example, so the adapter hands tinygrad one shape per (m,
spatial rank, C): z's examples refolded into the first factorization of m with
that many spatial dims (``compiled_layer.folded_shape``, N >= 2 and every S_i >=
2 where m allows), the positions of ``(N, *S)`` kept in their C order
(``compiled_layer.refold``; the results are refolded back).  nn.BatchNorm
reduces over every axis but 1, so each channel's values, and the rank of z,
reach it unchanged; ``fold_examples = False`` passes the drawn shape instead.
Each (function, shape, dtype) gets a ``TinyJit`` (tinygrad's own replay of captured kernels) with all of a call's
numbers packed into one input tensor -- eps and momentum included, so that a new
eps does not compile new kernels.  A tensor eps or momentum enters
nn.BatchNorm's own arithmetic where the Python float would
(``batch_var.add(self.eps)``, ``(1 - self.momentum) * running + ...``), in z's
dtype.  Checked against un-jitted calls on separate tensors with Python floats:
forward and forward_eval agree bit for bit; dgamma and the running statistics
may differ by an ulp or two (kernels fuse differently, and tinygrad folds a
constant momentum's arithmetic at graph time), far inside every tolerance.
``update_running`` at m = 1, where nn.BatchNorm's Bessel factor
``numel / (numel - C)`` divides by zero, runs un-jitted with a Python float
momentum, so that it fails as a user's call would.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tinygrad import Tensor, TinyJit, nn
from tinygrad.helpers import Context

from .compiled_layer import folded_shape, refold

#: The tinygrad device every call runs on (see the module's docstring).
_CC = os.environ.get("CC", "clang")
DEVICE = os.environ.get("DEV") or ("CPU" if "clang" in os.path.basename(_CC) and shutil.which(_CC) else "PYTHON")
#: Running statistics handed to the training-mode module by forward and backward.
FORWARD_RUNNING_MEAN = 3.0
FORWARD_RUNNING_VAR = 7.0
_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))

#: Clauses tinygrad fails under the ``tinygrad`` profile, and why: two SHOULDs on edge cases (the evidence:
#: ``bnspec check tinygrad``, seed 0, 40 examples, channels_first z).  (At m = 1 its nn.BatchNorm raises
#: ZeroDivisionError, a convention the profile records.)
FINDINGS: dict[str, str] = {
    "BN-EMPTY-3": "update_running with m = 0 returns running_mean [nan] for [0.] (and a NaN variance): nn.BatchNorm "
                  "assigns (1 - momentum) * running_mean + momentum * batch_mean with x.mean over no element, "
                  "0/0 = NaN (and the Bessel factor numel / (numel - C) is 0 / -C), where PyTorch leaves the "
                  "running statistics unchanged.",
    "BN-INPUT-1": "forward with eps = 0 returns a result, and so does a negative eps (z = [[1.1], [-1.1]], "
                  "eps = -1e-3: 1.0004135 = 1.1 / sqrt(1.21 - 0.001)): nn.BatchNorm checks no eps and computes "
                  "batch_var.add(self.eps).rsqrt() with it as given.",
}

_JITS: dict[tuple, Any] = {}


def _unpack(packed: Tensor, shapes: Sequence[tuple[int, ...]]) -> list[Tensor]:
    """Slice the one packed input tensor back into the call's arrays."""
    parts, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(packed[start:start + size].reshape(shape))
        start += size
    return parts


def _module(n: int, dtype: Any, eps: Any = 1e-5, momentum: Any = 0.1) -> nn.BatchNorm:
    """``nn.BatchNorm(n)`` with its running statistics in ``dtype`` (3.0 and 7.0)."""
    bn = nn.BatchNorm(n, eps=eps, momentum=momentum)
    bn.running_mean = Tensor.full((n,), FORWARD_RUNNING_MEAN, dtype=dtype).contiguous()
    bn.running_var = Tensor.full((n,), FORWARD_RUNNING_VAR, dtype=dtype).contiguous()
    return bn


def _forward(shape: tuple[int, ...]) -> Callable[[Tensor], Tensor]:
    n = shape[1]

    def run(packed: Tensor) -> Tensor:
        z, gamma, beta, eps = _unpack(packed, [shape, (n,), (n,), (1,)])
        bn = _module(n, z.dtype, eps=eps)
        bn.weight, bn.bias = gamma, beta
        with Context(TRAINING=1):
            return bn(z).realize()

    return run


def _backward(shape: tuple[int, ...]) -> Callable[[Tensor], tuple[Tensor, Tensor, Tensor]]:
    n = shape[1]

    def run(packed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        z, gamma, beta, eps, grad = _unpack(packed, [shape, (n,), (n,), (1,), shape])
        bn = _module(n, z.dtype, eps=eps)
        bn.weight, bn.bias = gamma, beta
        with Context(TRAINING=1):
            (grad * bn(z)).sum().backward()
        grads = []
        for tensor in (z, gamma, beta):
            assert tensor.grad is not None
            grads.append(tensor.grad.contiguous())
        Tensor.realize(*grads)
        dz, dgamma, dbeta = grads
        return dz, dgamma, dbeta

    return run


def _update(shape: tuple[int, ...]) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    n = shape[1]

    def run(packed: Tensor) -> tuple[Tensor, Tensor]:
        z, running_mean, running_var, momentum = _unpack(packed, [shape, (n,), (n,), (1,)])
        bn = nn.BatchNorm(n, momentum=momentum)
        bn.running_mean, bn.running_var = running_mean.contiguous(), running_var.contiguous()
        with Context(TRAINING=1):
            bn(z)
        # .contiguous(): a TinyJit replays the kernels that produce its outputs; the
        # assigned buffers themselves would be returned stale.
        new_mean, new_var = bn.running_mean.contiguous(), bn.running_var.contiguous()
        Tensor.realize(new_mean, new_var)
        return new_mean, new_var

    return run


def _evaluate(shape: tuple[int, ...]) -> Callable[[Tensor], Tensor]:
    n = shape[1]

    def run(packed: Tensor) -> Tensor:
        z, gamma, beta, running_mean, running_var, eps = _unpack(packed, [shape, (n,), (n,), (n,), (n,), (1,)])
        bn = nn.BatchNorm(n, eps=eps)
        bn.weight, bn.bias, bn.running_mean, bn.running_var = gamma, beta, running_mean, running_var
        with Context(TRAINING=0):
            return bn(z).realize()

    return run


_BUILDERS: dict[str, Callable[[tuple[int, ...]], Callable[[Tensor], Any]]] = {
    "forward": _forward, "backward": _backward, "update_running": _update, "forward_eval": _evaluate,
}


def _numpy(*tensors: Tensor) -> tuple[np.ndarray, ...]:
    """Fresh numpy copies (a TinyJit reuses its output buffers on the next call)."""
    return tuple(np.array(t.numpy(), copy=True) for t in tensors)


class TinygradBN:
    """The protocol on tinygrad's nn.BatchNorm (no-argument constructor)."""

    layout = "channels_first"
    #: nn.BatchNorm takes (N, C, *S) for any number of spatial dims: bnspec draws 0 to 3.
    spatial_dims = (0, 1, 2, 3)
    profile = "tinygrad"
    #: One TinyJit per (m, spatial rank), not per drawn factorization (see the module's docstring).
    fold_examples = True

    def _shape(self, z: Any) -> tuple[int, ...]:
        """The shape z reaches tinygrad in (:func:`~bnspec.spec.adapters.compiled_layer.folded_shape`)."""
        shape = tuple(np.shape(z))
        return folded_shape(shape, 1) if self.fold_examples else shape

    def _pack(self, z: Any, per_unit: Sequence[Any], scalars: Sequence[float], tail: Sequence[Any] = ()) -> np.ndarray:
        z = np.asarray(z)
        if z.ndim < 2:  # nn.BatchNorm fails on it too (its running update reads x.shape[1])
            raise ValueError(f"z: expected (N, C, *S), got shape {z.shape}")
        if z.dtype not in _DTYPES:
            raise TypeError(f"z: dtype {z.dtype} is not supported (float64 or float32)")
        n = z.shape[1]
        shape = self._shape(z)
        parts = [refold(z, shape, 1).ravel()]  # C order, whatever z's memory order
        for value in per_unit:
            value = np.asarray(value)
            if value.shape != (n,):
                raise ValueError(f"per-unit array: expected shape ({n},), got {value.shape}")
            parts.append(value)
        parts.append(np.asarray(scalars, dtype=np.float64))
        for value in tail:
            value = np.asarray(value)
            if value.shape != z.shape:
                raise ValueError(f"grad: expected shape {z.shape}, got {value.shape}")
            parts.append(refold(value, shape, 1).ravel())
        return np.concatenate([p.astype(z.dtype, copy=False) for p in parts])

    @staticmethod
    def _run(function: str, shape: tuple[int, ...], packed: np.ndarray) -> tuple[np.ndarray, ...]:
        key = (function, tuple(shape), packed.dtype.str)
        with Context(DEV=DEVICE, PARALLEL=0):
            jit = _JITS.get(key)
            if jit is None:
                jit = _JITS[key] = TinyJit(_BUILDERS[function](tuple(shape)))
            out = jit(Tensor(packed))
            return _numpy(*(out if isinstance(out, tuple) else (out,)))

    def forward(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        (out,) = self._run("forward", self._shape(z), self._pack(z, [gamma, beta], [eps]))
        return refold(out, np.shape(z), 1)

    def backward(
        self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dz, dgamma, dbeta = self._run("backward", self._shape(z), self._pack(z, [gamma, beta], [eps], [grad]))
        return refold(dz, np.shape(z), 1), dgamma, dbeta

    def update_running(
        self, running_mean: np.ndarray, running_var: np.ndarray, z: np.ndarray, momentum: float
    ) -> tuple[np.ndarray, np.ndarray]:
        packed = self._pack(z, [running_mean, running_var], [momentum])
        shape = np.shape(z)
        n = shape[1]
        if math.prod(shape[:1] + shape[2:]) == 1:  # m = N * prod(S) = 1: un-jitted, a Python float momentum,
            # nn.BatchNorm's own m = 1 behaviour
            with Context(DEV=DEVICE, PARALLEL=0):
                bn = nn.BatchNorm(n, momentum=float(momentum))
                bn.running_mean = Tensor(np.array(running_mean, dtype=packed.dtype))
                bn.running_var = Tensor(np.array(running_var, dtype=packed.dtype))
                with Context(TRAINING=1):
                    bn(Tensor(np.array(z, dtype=packed.dtype)))
                new_mean, new_var = _numpy(bn.running_mean, bn.running_var)
                return new_mean, new_var
        new_mean, new_var = self._run("update_running", self._shape(z), packed)
        return new_mean, new_var

    def forward_eval(self, z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                     running_var: np.ndarray, eps: float) -> np.ndarray:
        packed = self._pack(z, [gamma, beta, running_mean, running_var], [eps])
        (out,) = self._run("forward_eval", self._shape(z), packed)
        return refold(out, np.shape(z), 1)
