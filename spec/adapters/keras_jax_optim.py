"""The ``keras`` optimizer adapter's in-process half: Keras 3's own optimizers on JAX, in *this* process.

:class:`~bnspec.spec.adapters.keras_optim.KerasOptimizer` serves :class:`KerasJaxOptimizer` in a child
process (its docstring has the mapping and Keras' conventions, with their sources).  Keras must run on the
JAX backend: importing this module sets ``KERAS_BACKEND=jax`` unless it is already set (ImportError if
Keras was set up with another backend, as TensorFlow's import does) and turns on ``jax_enable_x64`` for
float64.

Each function is one ``optimizer.stateless_apply(optimizer_variables, [dp], [p])`` inside ``jax.jit``, on
an optimizer built once per (function, dtype, length) on one ``keras.Variable``: its ``iterations``
variable gets t - 1, its ``learning_rate`` variable lr, its slots v / s, and the attributes its
``update_step`` reads (``rho``, ``beta_1``, ``beta_2``, ``epsilon``) are set to the traced Python floats
while the program is traced (and put back after): one program serves every lr, t, rho, beta and eps.
SGD's ``momentum`` is the exception: ``SGD.update_step`` branches on it in Python (``if self.momentum !=
0:``), so each momentum value gets an optimizer and a program of its own, made by
``keras.optimizers.SGD(momentum=...)`` (whose check of momentum it goes through).  Every op of these
update steps is elementwise or on scalars: p, dp and the state reach Keras raveled (C order) into a
zero-padded 1-d array whose length is the next power of two, one program per length, and the results are
cut back to p's shape.  A compile costs 0.05 to 0.2 s, a call 35 to 70 us on a (3, 4) p (0.3 to 1.6 ms
on a (256, 256) one).

XLA contracts the compiled step's multiply-adds into fused multiply-adds (``m * momentum - g * lr`` is
one FMA): the results are what Keras' own ``jax.jit(optimizer.stateless_apply)`` gives (its JAX trainer
compiles the train step so), bit for bit, and differ from an eager ``optimizer.apply_gradients`` by up to
a few ulps of the largest term.  ``compiled = False`` runs ``stateless_apply`` op by op instead, bit for
bit an eager ``apply_gradients`` (1 to 2.5 ms a call on a (3, 4) p).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .keras_on_jax import jax, keras


def padded_length(size: int) -> int:
    """The length of the 1-d variable an array of ``size`` elements reaches Keras as: a power of two."""
    return 1 << max(size - 1, 0).bit_length()


class _Program:
    """A Keras optimizer built on one 1-d ``keras.Variable`` of ``length`` elements, and its step.

    ``slots``: the optimizer's attributes holding the state, in the protocol's order (each a list of one
    variable, or an empty list where the optimizer keeps none); ``hyper``: the attributes ``update_step``
    reads that are traced."""

    def __init__(self, optimizer: Any, dtype: np.dtype, length: int, slots: tuple[str, ...],
                 hyper: tuple[str, ...], compiled: bool) -> None:
        self.optimizer = optimizer
        optimizer.build([keras.Variable(np.zeros(length, dtype), dtype=dtype.name)])
        self.slots = [slot[0] for slot in (getattr(optimizer, name) for name in slots) if slot]
        self.hyper = hyper
        self.step = jax.jit(self._step) if compiled else self._step

    def _step(self, p: Any, dp: Any, lr: Any, iterations: Any, state: list[Any], hyper: tuple[Any, ...]
              ) -> tuple[Any, list[Any]]:
        opt = self.optimizer
        given = {id(opt._iterations): iterations, id(opt._learning_rate): lr}
        given.update((id(slot), value) for slot, value in zip(self.slots, state, strict=True))
        saved = [getattr(opt, name) for name in self.hyper]
        for name, value in zip(self.hyper, hyper, strict=True):
            setattr(opt, name, value)
        try:
            (p_new,), new = opt.stateless_apply([given[id(v)] for v in opt.variables], [dp], [p])
        finally:
            for name, value in zip(self.hyper, saved, strict=True):
                setattr(opt, name, value)
        new_by_id = {id(v): value for v, value in zip(opt.variables, new, strict=True)}
        return p_new, [new_by_id[id(slot)] for slot in self.slots]


def _flat(a: Any, length: int, dtype: np.dtype) -> np.ndarray:
    out = np.zeros(length, dtype)
    out[: np.size(a)] = np.ravel(a)
    return out


def _back(x: Any, like: np.ndarray) -> np.ndarray:
    return np.asarray(x)[: like.size].reshape(like.shape).copy()


class KerasJaxOptimizer:
    """The optimizer protocol on ``keras.optimizers.SGD``, ``RMSprop`` and ``Adam`` in *this* process, whose
    Keras must run on JAX (profile ``keras``)."""

    kind = "optimizer"
    profile = "keras"
    dtypes = ("float64", "float32")
    #: False: ``stateless_apply`` runs op by op, as an eager ``apply_gradients`` (no FMA; see the module).
    compiled = True

    def __init__(self) -> None:
        self._programs: dict[tuple[Any, ...], _Program] = {}

    def _run(self, key: tuple[Any, ...], make: Callable[[], Any], slots: tuple[str, ...], names: tuple[str, ...],
             p: np.ndarray, dp: np.ndarray, state: tuple[np.ndarray, ...], lr: float, t: Any,
             hyper: tuple[float, ...]) -> tuple[np.ndarray, ...]:
        p = np.asarray(p)
        dtype, length = p.dtype, padded_length(p.size)
        program = self._programs.get((*key, dtype.name, length, self.compiled))
        if program is None:
            program = _Program(make(), dtype, length, slots, names, self.compiled)
            self._programs[(*key, dtype.name, length, self.compiled)] = program
        # The int iteration variable gets t - 1 converted as Keras converts a value given to it (1.5 -> 1).
        iterations = np.asarray(t - 1).astype(program.optimizer._iterations.dtype)
        given = [_flat(a, length, dtype) for a in state[: len(program.slots)]]
        p_new, new = program.step(_flat(p, length, dtype), _flat(dp, length, dtype), lr, iterations, given, hyper)
        if not program.slots:  # Keras keeps no state (SGD with momentum 0): the state is left as given.
            return _back(p_new, p), *(np.array(a, dtype, copy=True) for a in state)
        return _back(p_new, p), *(_back(x, p) for x in new)

    def gd(self, p: np.ndarray, dp: np.ndarray, lr: float) -> np.ndarray:
        """``keras.optimizers.SGD(learning_rate=lr)``: one step, ``p - dp * lr``."""
        (p_new,) = self._run(("gd",), keras.optimizers.SGD, (), (), p, dp, (), lr, 1, ())
        return p_new

    def momentum(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, lr: float, momentum: float
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``keras.optimizers.SGD(learning_rate=lr, momentum=momentum)``: one step; v is its ``momentums``
        slot, the velocity ``v * momentum - dp * lr``, and ``p + v_new`` the new p (at momentum 0 Keras keeps
        no velocity: ``p - dp * lr``, v as given)."""
        p_new, v_new = self._run(("momentum", repr(momentum)), lambda: keras.optimizers.SGD(momentum=momentum),
                                 ("momentums",), (), p, dp, (v,), lr, 1, ())
        return p_new, v_new

    def rmsprop(self, p: np.ndarray, dp: np.ndarray, s: np.ndarray, lr: float, rho: float, eps: float
                ) -> tuple[np.ndarray, np.ndarray]:
        """``keras.optimizers.RMSprop(learning_rate=lr, rho=rho, epsilon=eps)``: one step; s is its
        ``_velocities`` slot; ``p - lr * dp / sqrt(s_new + eps)``."""
        p_new, s_new = self._run(("rmsprop",), keras.optimizers.RMSprop, ("_velocities",), ("rho", "epsilon"),
                                 p, dp, (s,), lr, 1, (rho, eps))
        return p_new, s_new

    def adam(self, p: np.ndarray, dp: np.ndarray, v: np.ndarray, s: np.ndarray, t: float, lr: float,
             beta1: float, beta2: float, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``keras.optimizers.Adam(learning_rate=lr, beta_1=beta1, beta_2=beta2, epsilon=eps)``: step t (its
        ``iterations`` is t - 1); v is its ``_momentums`` slot, s its ``_velocities``."""
        p_new, v_new, s_new = self._run(("adam",), keras.optimizers.Adam, ("_momentums", "_velocities"),
                                        ("beta_1", "beta_2", "epsilon"), p, dp, (v, s), lr, t, (beta1, beta2, eps))
        return p_new, v_new, s_new
