"""Golden cases of the running statistics, inference, and m = 1: the ones a
profile changes (the momentum's meaning, a biased or unbiased running
variance, what m = 1 does) take the profile as argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from bnspec.reference import batchnorm as ref

from ..profiles import Profile
from ..properties import scales
from ..strategies import attribute
from .cases import SITUATIONS, Situation, case, layer_args, running_state, shape_of, upstream, value

Cases = list[dict[str, Any]]

#: one momentum per situation, rounded to float32 as the properties draw it (an ONNX attribute is float32).
MOMENTA = tuple(attribute(m) for m in (0.9, 0.0, 1.0, 0.99, 0.1, 0.5, 0.25, 0.75, 0.9, 0.999))


def running_shapes() -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        mean, var = running_state(s.seed, x.n)
        args = {"running_mean": mean, "running_var": var, "z": x.z, "momentum": MOMENTA[0]}
        out.append(case(s.name, s.seed, "update_running", args,
                        [shape_of("running_mean", mean), shape_of("running_var", var)]))
    return out


def _eval_args(x: Any, mean: np.ndarray, var: np.ndarray, z: np.ndarray | None = None) -> dict[str, Any]:
    return {**layer_args(x, z=z), "running_mean": mean, "running_var": var}


def eval_shape() -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        mean, var = running_state(s.seed, x.n)
        out.append(case(s.name, s.seed, "forward_eval", _eval_args(x, mean, var), [shape_of("output", x.z)]))
        one = x.z[:, :1]
        out.append(case(f"{s.name}, one example", s.seed, "forward_eval", _eval_args(x, mean, var, one),
                        [shape_of("output", one)]))
    return out


def weighted_average(profile: Profile) -> Cases:
    """One update: the profile's weighted average of the old values and the batch's statistics."""
    out = []
    for s, momentum in zip(SITUATIONS, MOMENTA, strict=True):
        x = s.layer()
        mean, var = running_state(s.seed, x.n)
        want_mean, want_var = profile.expected_running(mean, var, x.z, momentum)
        args = {"running_mean": mean, "running_var": var, "z": x.z, "momentum": momentum}
        out.append(case(f"{s.name}, momentum {momentum:g}", s.seed, "update_running", args,
                        [value("running_mean", want_mean, "running", x.m, np.abs(mean) + scales.batch_mean(x.z)),
                         value("running_var", want_var, "running", x.m, var + scales.batch_var(x.z, x.eps))]))
    return out


SINGLE = (
    Situation("m = 1", 301, m=1),
    Situation("m = 1, n = 1", 302, n=1, m=1),
    Situation("m = 1 far from 0", 303, m=1, n=4, spread=1e3, offset_ratio=1e5),
    Situation("m = 1, tiny eps", 304, m=1, eps=1e-8),
)


def single_example(profile: Profile) -> Cases:
    """m = 1: the output beta, dz = 0, dgamma = 0, dbeta = grad; or the profile's refusal (an exception)."""
    out = []
    for s in SINGLE:
        x = s.layer()
        grad = upstream(s.seed, x.z.shape)
        if profile.single_example == "raises":
            out.append(case(s.name, s.seed, "forward", layer_args(x), raises=profile.refusal))
            out.append(case(s.name, s.seed, "backward", {**layer_args(x), "grad": grad}, raises=profile.refusal))
            continue
        scale = scales.output(x.z, x.gamma, x.beta, x.eps)
        out.append(case(s.name, s.seed, "forward", layer_args(x), [value("output", x.beta, "value", 1, scale)]))
        out.append(case(s.name, s.seed, "backward", {**layer_args(x), "grad": grad}, [
            value("dz", np.zeros_like(x.z), "gradient", 1, scales.dz(x.z, x.gamma, x.eps, grad)),
            value("dgamma", np.zeros_like(x.gamma), "gradient", 1, scales.dgamma(x.z, x.eps, grad)),
            value("dbeta", grad.copy(), "gradient", 1, scales.dbeta(grad))]))
    return out


def eval_formula() -> Cases:
    out = []
    for s in SITUATIONS:
        x = s.layer()
        mean, var = running_state(s.seed, x.n)
        required = ref.forward_eval(x.z, x.gamma, x.beta, mean, var, x.eps)
        out.append(case(s.name, s.seed, "forward_eval", _eval_args(x, mean, var),
                        [value("output", required, "value", 1, scales.inference_output(x, mean, var))]))
    return out


def eval_folds_into_dense() -> Cases:
    """forward_eval(W A) = W' A + b' with the reference's folded W', b'."""
    out = []
    for s in SITUATIONS:
        x = s.layer()
        mean, var = running_state(s.seed, x.n)
        rng = np.random.default_rng(s.seed + 50_000)
        k = 1 + s.seed % 4
        W, A = rng.uniform(-3, 3, (x.n, k)), rng.uniform(-3, 3, (k, x.m))
        W_folded, b_folded = ref.fold_into_dense(W, x.gamma, x.beta, mean, var, x.eps)
        magnitude = np.abs(W) @ np.abs(A)
        scale = (np.abs(x.gamma) * (magnitude + np.abs(mean) + np.sqrt(var + x.eps)) / np.sqrt(var + x.eps)
                 + np.abs(x.beta))
        out.append(case(f"{s.name}, Z = W A with n[l-1] = {k}", s.seed, "forward_eval",
                        _eval_args(x, mean, var, W @ A),
                        [value("output", W_folded @ A + b_folded, "pair", k, 2 * scale)]))
    return out
