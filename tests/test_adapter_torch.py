"""PyTorch's BatchNorm1d/2d/3d beyond the clauses: every spatial rank and memory order the runner
draws reaches torch as drawn and gives what ``F.batch_norm`` gives on a contiguous copy; a
channels-last array runs as a channels_last tensor; frozen BN's gradients; the variants."""

from __future__ import annotations

import numpy as np
import pytest
from requirements import need_extra, require_extra

need_extra("torch")  # else the whole file is skipped (failed under BNSPEC_REQUIRE_ALL=1)
import torch  # noqa: E402
from torch.nn import functional  # noqa: E402

from bnspec.spec.adapters import torch_bn  # noqa: E402
from bnspec.spec.clauses import all_clauses  # noqa: E402
from bnspec.spec.layouts import MEMORIES, SPATIAL_RANKS, Arrangement, Layout, Role  # noqa: E402
from bnspec.spec.runner import Options, run_clause  # noqa: E402
from bnspec.spec.target import wrap  # noqa: E402

#: torch is imported, and its adapter run, by one xdist worker (as in test_adapters.py).
pytestmark = [pytest.mark.xdist_group("torch"), require_extra("torch")]

LAYOUT = Layout.CHANNELS_FIRST
C, M = 3, 24  # 24 = 3 * 2 * 2 * 2: N >= 2 and every spatial size >= 2 at each rank up to 3
EPS, MOMENTUM = 1e-3, 0.3


def _draw(seed: int = 0) -> dict[str, np.ndarray]:
    """Lecture-layout arrays (units by examples; per-unit C x 1), mean far from 0 and unequal scales."""
    rng = np.random.default_rng(seed)
    per_unit = {name: rng.normal(size=(C, 1)) for name in ("gamma", "beta", "running_mean")}
    return {"z": rng.normal(5.0, [[0.5], [2.0], [4.0]], size=(C, M)), "grad": rng.normal(size=(C, M)),
            "running_var": rng.uniform(0.5, 2.0, size=(C, 1)), **per_unit}


def _as_given(arrays: dict[str, np.ndarray], arrangement: Arrangement) -> dict[str, np.ndarray]:
    """The arrays as the runner hands them to the adapter under ``arrangement``."""
    return {name: LAYOUT.to_impl(a, Role.BATCH if name in ("z", "grad") else Role.PER_UNIT, arrangement)
            for name, a in arrays.items()}


def _t(a: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).requires_grad_(requires_grad)


@pytest.mark.parametrize("memory", MEMORIES)
@pytest.mark.parametrize("rank", SPATIAL_RANKS)
def test_every_rank_and_memory_order_gives_what_f_batch_norm_gives_on_a_contiguous_copy(rank, memory):
    a = _as_given(_draw(rank), Arrangement(rank, 0, memory))
    assert a["z"].ndim == 2 + rank and a["z"].shape[1] == C
    assert memory == "contiguous" or not a["z"].flags.c_contiguous  # the order is really the one drawn
    bn = torch_bn.TorchBN()
    z = _t(a["z"], True)
    gamma, beta = _t(a["gamma"], True), _t(a["beta"], True)
    mean, var = _t(a["running_mean"]), _t(a["running_var"])

    out = functional.batch_norm(z, mean.clone(), var.clone(), gamma, beta, training=True, eps=EPS)
    grads = torch.autograd.grad(out, (z, gamma, beta), _t(a["grad"]))
    updated_mean, updated_var = mean.clone(), var.clone()
    functional.batch_norm(z.detach(), updated_mean, updated_var, training=True, momentum=MOMENTUM)
    out_eval = functional.batch_norm(z, mean, var, gamma, beta, training=False, eps=EPS)
    grads_eval = torch.autograd.grad(out_eval, (z, gamma, beta), _t(a["grad"]))

    given = (a["z"], a["gamma"], a["beta"])
    stats = (a["running_mean"], a["running_var"])
    pairs = [(bn.forward(*given, EPS), out),
             *zip(bn.backward(*given, EPS, a["grad"]), grads, strict=True),
             *zip(bn.update_running(*stats, a["z"], MOMENTUM), (updated_mean, updated_var), strict=True),
             (bn.forward_eval(*given, *stats, EPS), out_eval),
             *zip(bn.backward_eval(*given, *stats, EPS, a["grad"]), grads_eval, strict=True)]
    for i, (got, want) in enumerate(pairs):
        # ATen's generic path (Fortran order, strided) sums in another order than its contiguous kernel
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=f"result {i}")


@pytest.mark.parametrize("rank", [2, 3])
def test_channels_last_memory_reaches_torch_as_channels_last_without_a_copy(rank):
    a = _as_given(_draw(), Arrangement(rank, 0, "permuted"))
    seen: list[tuple[torch.nn.Module, torch.Tensor]] = []

    def record(module: torch.nn.Module, inputs: tuple) -> None:
        if isinstance(module, torch_bn.Layer):
            seen.append((module, inputs[0]))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(record)
    try:
        torch_bn.TorchBN().forward(a["z"], a["gamma"], a["beta"], EPS)
    finally:
        handle.remove()
    ((module, z),) = seen
    layer, fmt = (torch.nn.BatchNorm2d, torch.channels_last) if rank == 2 else (
        torch.nn.BatchNorm3d, torch.channels_last_3d)
    assert type(module) is layer and z.ndim == 2 + rank
    assert z.is_contiguous(memory_format=fmt) and not z.is_contiguous()
    assert z.data_ptr() == a["z"].ctypes.data  # torch.from_numpy: the runner's own buffer


def test_backward_eval_is_frozen_bn():
    """In eval mode y = gamma * (z - mu_r) / sqrt(var_r + eps) + beta, where the running mu_r and
    var_r are constants, not statistics of z: y is an elementwise affine map of z, dy/dz =
    gamma / sqrt(var_r + eps) with no term through a batch mean or variance, so by the chain rule
    dz = gamma / sqrt(var_r + eps) * grad; likewise dgamma = sum(grad * (z - mu_r) / sqrt(var_r + eps))
    and dbeta = sum(grad), summed over N and every spatial position."""
    a = _as_given(_draw(), Arrangement(2, 0, "contiguous"))
    at_channel = (1, -1, 1, 1)  # a per-channel (C,) array broadcast against (N, C, H, W)
    gamma, mu, var = (a[k].reshape(at_channel) for k in ("gamma", "running_mean", "running_var"))
    scale = 1 / np.sqrt(var + EPS)
    dz, dgamma, dbeta = torch_bn.TorchBN().backward_eval(a["z"], a["gamma"], a["beta"], a["running_mean"],
                                                         a["running_var"], EPS, a["grad"])
    np.testing.assert_allclose(dz, gamma * scale * a["grad"], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(dgamma, (a["grad"] * (a["z"] - mu) * scale).sum(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(dbeta, a["grad"].sum(axis=(0, 2, 3)), rtol=1e-12)
    trained = torch_bn.TorchBN().backward(a["z"], a["gamma"], a["beta"], EPS, a["grad"])[0]
    assert np.abs(trained - dz).max() > 1e-3  # training mode's dz goes through the batch statistics


def test_variants_map_their_options():
    """The variants written for declarations the spec does not read yet (not in ADAPTERS)."""
    a = _as_given(_draw(), Arrangement(1, 0, "contiguous"))
    z, gamma, beta, mean, var = (a[k] for k in ("z", "gamma", "beta", "running_mean", "running_var"))
    ones, zeros = np.ones(C), np.zeros(C)
    plain = torch_bn.TorchBN()
    # affine=False: gamma and beta are ignored; no gradient for parameters it has not
    affine_false = torch_bn.TorchAffineFalseBN()
    assert np.array_equal(affine_false.forward(z, gamma, beta, EPS), plain.forward(z, ones, zeros, EPS))
    assert not np.any(affine_false.backward(z, gamma, beta, EPS, a["grad"])[1:])
    # track_running_stats=False: eval mode uses the batch's statistics; no update_running
    batch = torch_bn.TorchBatchStatisticsBN()
    assert np.array_equal(batch.forward_eval(z, gamma, beta, mean, var, EPS), plain.forward(z, gamma, beta, EPS))
    assert batch.update_running is None
    # momentum=None: a fresh layer's first cumulative average is the batch's own statistics
    new_mean, new_var = torch_bn.TorchCumulativeBN().update_running(mean, var, z, MOMENTUM)
    np.testing.assert_allclose(new_mean, z.mean(axis=(0, 2)), rtol=1e-13)
    np.testing.assert_allclose(new_var, z.var(axis=(0, 2), ddof=1), rtol=1e-13)


def test_the_affine_free_layer_conforms_but_for_the_float16_mean():
    """BatchNormNd(affine=False), declared ``affine = False``: every clause passes or is n/a (with the
    declaration's reason) but its FINDINGS, which fail.  It is no bundled adapter: the golden vectors hold
    no case with gamma = 1 and beta = 0 (see torch_bn's docstring)."""
    subject = wrap(torch_bn.TorchAffineFalseBN(), "bnspec.spec.adapters.torch_bn:TorchAffineFalseBN")
    results = {c.id: run_clause(c, subject, Options(max_examples=10)) for c in all_clauses()}
    failing = {i for i, r in results.items() if r.status not in ("pass", "n/a")}
    assert failing == set(torch_bn.TorchAffineFalseBN.FINDINGS), {i: results[i].message[:300] for i in failing}
    assert results["BN-NOAFFINE-1"].status == "pass"
