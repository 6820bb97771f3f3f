"""Purity: no protocol function modifies its inputs; results are reproducible."""

from __future__ import annotations

import numpy as np

from .. import assertions as check
from .. import strategies as draws
from ..target import ImplementationFailure
from . import proves


def _calls(target, draw):
    """Each available protocol function with arguments in the implementation's layout."""
    x = draws.layer(draw, max_offset_ratio=1e4)
    grad = draw(draws.upstream(x.n, x.m), "grad")
    running_mean = draw(draws.column(x.n, -5.0, 5.0), "running_mean")
    running_var = draw(draws.column(x.n, 0.1, 5.0), "running_var")
    units = {"z": (x.z, False), "gamma": (x.gamma, True), "beta": (x.beta, True), "grad": (grad, False),
             "running_mean": (running_mean, True), "running_var": (running_var, True)}
    arrays = {name: target.to_impl_layout(value, per_unit) for name, (value, per_unit) in units.items()}
    signatures = {
        "forward": ("z", "gamma", "beta", x.eps),
        "backward": ("z", "gamma", "beta", x.eps, "grad"),
        "update_running": ("running_mean", "running_var", "z", 0.9),
        "forward_eval": ("z", "gamma", "beta", "running_mean", "running_var", x.eps),
    }
    for function, signature in signatures.items():
        if target.has(function):
            yield function, [arrays[a] if isinstance(a, str) else a for a in signature], signature


def _invoke(target, function, args):
    try:
        return target.raw(function)(*args)
    except Exception as exc:
        raise ImplementationFailure(f"{function} raised {type(exc).__name__}: {exc}") from exc


@proves("BN-PURE-1", needs=())
def inputs_untouched(target, draw):
    for function, args, names in _calls(target, draw):
        before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        _invoke(target, function, args)
        for name, was, now in zip(names, before, args, strict=True):
            if isinstance(was, np.ndarray):
                check.holds(np.array_equal(was, now),
                            f"{function} modified its argument {name}: the arrays differ after the call")


def _same(a, b):
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(p, q) for p, q in zip(a, b, strict=True))
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b, equal_nan=True)


@proves("BN-PURE-2", needs=())
def deterministic(target, draw):
    for function, args, _ in _calls(target, draw):
        first = _invoke(target, function, [a.copy() if isinstance(a, np.ndarray) else a for a in args])
        second = _invoke(target, function, [a.copy() if isinstance(a, np.ndarray) else a for a in args])
        check.holds(_same(first, second), f"{function} returned different results for the same inputs")
