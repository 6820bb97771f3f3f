"""`make bench`: the speed and memory of the reference, of the tuned kernel examples/fast_bn.py and of
PyTorch, and the time of `bnspec check reference`.

For each shape ``(n, m)`` (n units, m examples) and dtype, in one run:

- the reference's ``forward`` + ``backward`` (bnspec.reference.batchnorm: the lecture's
  formulas as plain numpy, written to be read, not tuned) on ``z`` in its natural layout,
  units first ``n x m`` (statistics along the contiguous axis 1);
- the same two calls of ``examples/fast_bn.py``, a standalone implementation of the
  protocol tuned for speed (cache-sized blocks of rows, BLAS row sums, numpy's ufunc
  buffer cut to a row), on the same ``z``;
- PyTorch's ``torch.nn.functional.batch_norm`` forward in training mode plus its
  autograd backward, on the same values in *its* natural layout, batch first
  ``m x n`` (statistics along axis 0): same data size, each library in the layout it
  is written for;
- ``z.copy()``, the memory-bandwidth floor of any pass over the data.

Timings interleave the four, each sample the mean of enough calls to last about
20 ms, and keep the fastest sample (the least disturbed by other processes).
PyTorch runs on one thread (``torch.set_num_threads(1)``), as numpy's ufuncs do, and
numpy's BLAS (fast_bn's row sums and dot products) is held to one thread too
(``OPENBLAS_NUM_THREADS=1``, set before numpy loads); PyTorch's time with its default
thread count is recorded too.  Memory: the peak of the bytes numpy
allocates during one call (tracemalloc), divided by ``z.nbytes`` -- the outputs
included (forward returns one n x m array, backward one n x m and two n x 1).

Then ``bnspec check`` is run as a command and timed, five times in turn on the
reference (it passes) and on a failing implementation (the learner's example with eps
outside the square root): the medians, the ratio failing / passing, and the reference's
slowest clauses, read from its JSON.  Results go to ``docs/bench/results.json`` and the
page ``docs/bench.md``.  Run: ``.venv/bin/python bench/run.py`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# One thread for numpy's BLAS as for PyTorch (see above): set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 -- after the thread setting, which numpy reads when it loads

ROOT = Path(__file__).resolve().parents[1]
FAST_BN = ROOT / "examples" / "fast_bn.py"
SHAPES = ((64, 256), (512, 1024), (1024, 8192))
DTYPES = ("float64", "float32")
EPS = 1e-5
#: the tuned kernel (examples/fast_bn.py) must stay within this factor of PyTorch at every shape;
#: the reference has no speed target: it is written to be read beside the lecture.
TARGET_RATIO = 1.5


def fast_bn():
    """examples/fast_bn.py, loaded from its path as `bnspec check` loads a file target."""
    from bnspec.spec.target import resolve

    return resolve(str(FAST_BN))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import torch

    return {
        "cpu": cpu_model(), "cores": os.cpu_count(), "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
        "torch_default_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _calls_per_sample(function, budget: float = 0.02) -> int:
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, int(budget / once))


def fastest(functions: dict, samples: int) -> dict:
    """Seconds per call of each function: interleaved samples, the fastest kept."""
    counts = {name: _calls_per_sample(f) for name, f in functions.items()}
    best = {name: float("inf") for name in functions}
    for _ in range(samples):
        for name, f in functions.items():
            start = time.perf_counter()
            for _ in range(counts[name]):
                f()
            best[name] = min(best[name], (time.perf_counter() - start) / counts[name])
    return best


def peak_bytes(function) -> int:
    function()  # warm up: first-call allocations (caches) are not the call's own
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def case(n: int, m: int, dtype: str, samples: int) -> dict:
    import torch

    from bnspec.reference import batchnorm as ref

    fast = fast_bn()
    rng = np.random.default_rng(0)
    z = rng.normal(3.0, 2.0, size=(n, m)).astype(dtype)
    grad = rng.normal(size=(n, m)).astype(dtype)
    gamma, beta = rng.normal(size=(n, 1)).astype(dtype), rng.normal(size=(n, 1)).astype(dtype)
    x = torch.from_numpy(np.ascontiguousarray(z.T))  # batch first, m x n
    g = torch.from_numpy(np.ascontiguousarray(grad.T))
    weight = torch.from_numpy(gamma[:, 0].copy()).requires_grad_()
    bias = torch.from_numpy(beta[:, 0].copy()).requires_grad_()

    def reference():
        ref.forward(z, gamma, beta, EPS)
        ref.backward(z, gamma, beta, EPS, grad)

    def tuned():
        fast.forward(z, gamma, beta, EPS)
        fast.backward(z, gamma, beta, EPS, grad)

    def pytorch():
        leaf = x.detach().requires_grad_()
        torch.nn.functional.batch_norm(leaf, None, None, weight, bias, training=True, eps=EPS).backward(g)
        weight.grad = bias.grad = None

    def copy():
        z.copy()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = fastest({"reference": reference, "fast_bn": tuned, "torch": pytorch, "copy": copy}, samples)
    finally:
        torch.set_num_threads(threads)
    times["torch_default_threads"] = fastest({"t": pytorch}, max(3, samples // 2))["t"]
    return {
        "n": n, "m": m, "dtype": dtype, "bytes": int(z.nbytes),
        "seconds": times,
        "ratio_to_torch": times["reference"] / times["torch"],
        "fast_bn_ratio_to_torch": times["fast_bn"] / times["torch"],
        "fast_bn_ratio_to_torch_default_threads": times["fast_bn"] / times["torch_default_threads"],
        "ratio_to_copy": times["reference"] / times["copy"],
        "fast_bn_ratio_to_copy": times["fast_bn"] / times["copy"],
        "torch_ratio_to_copy": times["torch"] / times["copy"],
        "peak_memory_over_z": {
            name: {"forward": peak_bytes(lambda impl=impl: impl.forward(z, gamma, beta, EPS)) / z.nbytes,
                   "backward": peak_bytes(lambda impl=impl: impl.backward(z, gamma, beta, EPS, grad)) / z.nbytes}
            for name, impl in (("reference", ref), ("fast_bn", fast))
        },
    }


#: the failing run timed against the passing one: the learner's example with eps outside the square root.
FAILING = ("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")


def _timed_check(bnspec: Path, target: str, report: Path) -> tuple[float, int, list[dict]]:
    start = time.perf_counter()
    done = subprocess.run([str(bnspec), "check", target, "--json", str(report)], capture_output=True, text=True,
                          cwd=ROOT)
    return time.perf_counter() - start, done.returncode, json.loads(report.read_text())["results"]


def check_reference(runs: int = 5) -> dict:
    """Run `bnspec check` as a user does, on the reference (it passes) and on the learner's example with
    eps outside the square root (it fails 15 clauses), in turn, ``runs`` times: the medians, the median
    of the pairwise ratios failing / passing, and the reference's slowest clauses."""
    bnspec = Path(sys.executable).with_name("bnspec")
    with tempfile.TemporaryDirectory() as folder:
        failing = Path(folder) / "eps_outside_sqrt.py"
        failing.write_text((ROOT / "examples" / "learner_bn.py").read_text().replace(*FAILING))
        passes, fails = [], []
        for _ in range(runs):
            passes.append(_timed_check(bnspec, "reference", Path(folder) / "pass.json"))
            fails.append(_timed_check(bnspec, str(failing), Path(folder) / "fail.json"))
    results = passes[-1][2]
    slowest = sorted(results, key=lambda r: r["seconds"], reverse=True)[:5]
    return {"exit_status": passes[-1][1], "wall_seconds": statistics.median(p[0] for p in passes),
            "clause_seconds": sum(r["seconds"] for r in results), "runs": runs,
            "slowest": [{"id": r["id"], "seconds": r["seconds"]} for r in slowest],
            "failing": {"exit_status": fails[-1][1], "wall_seconds": statistics.median(f[0] for f in fails),
                        "failed": sum(r["status"] == "FAIL" for r in fails[-1][2]),
                        "ratio_to_passing": statistics.median(f[0] / p[0] for f, p in zip(fails, passes,
                                                                                            strict=True))}}


def page(results: dict) -> str:
    """docs/bench.md from the results."""
    mach = results["machine"]
    lines = [
        "# Speed of the reference",
        "",
        "Generated by `make bench` (`bench/run.py`) from `docs/bench/results.json`; do not edit by hand.",
        "",
        f"Machine: {mach['cpu']}, {mach['cores']} cores, {mach['system']}; Python {mach['python']}, "
        f"numpy {mach['numpy']}, PyTorch {mach['torch']}. Load average at the start: "
        f"{', '.join(f'{v:.1f}' for v in mach['load_average'] or [])}.",
        "",
        "One training step of BN, `forward` + `backward`, by three implementations: the reference "
        "(`reference/batchnorm.py`, the lecture's formulas in plain numpy, written to be read beside the lecture and "
        "never tuned); `examples/fast_bn.py`, a standalone implementation of the protocol tuned for speed (blocks of "
        "rows that stay in cache, BLAS row sums, numpy's ufunc buffer cut to a row; `tests/test_fast_bn.py` checks "
        "it with the whole specification); and PyTorch's `torch.nn.functional.batch_norm` forward in training mode "
        "plus its autograd backward. The two numpy ones take `z` as `n x m` (units first, their natural layout), "
        "PyTorch the same values as `m x n` (batch first, its natural layout): the same data size, each library in "
        "the layout it is written for. PyTorch runs on one thread, as numpy's ufuncs do, and numpy's BLAS is held "
        "to one thread too (PyTorch's time on its default "
        f"{mach['torch_default_threads']} threads is the last column). *copy* is `z.copy()`, the memory-bandwidth "
        "floor of one pass over the data. The ratios come from the same run, timings interleaved, fastest sample "
        f"kept. Target: fast_bn within {TARGET_RATIO}x of PyTorch at every shape; the reference has none.",
        "",
        "| n x m | dtype | reference | fast_bn | PyTorch | reference / PyTorch | fast_bn / PyTorch | copy | "
        "reference / copy | fast_bn / copy | PyTorch / copy | peak memory forward / backward (x z): reference, "
        "fast_bn | fast_bn / PyTorch, default threads |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in results["cases"]:
        t, mem = c["seconds"], c["peak_memory_over_z"]
        verdict = "" if c["fast_bn_ratio_to_torch"] <= TARGET_RATIO else " (over target)"
        lines.append(
            f"| {c['n']} x {c['m']} | {c['dtype']} | {t['reference'] * 1e3:.3f} ms | {t['fast_bn'] * 1e3:.3f} ms | "
            f"{t['torch'] * 1e3:.3f} ms | {c['ratio_to_torch']:.2f} | **{c['fast_bn_ratio_to_torch']:.2f}**{verdict} | "
            f"{t['copy'] * 1e3:.3f} ms | {c['ratio_to_copy']:.1f} | {c['fast_bn_ratio_to_copy']:.1f} | "
            f"{c['torch_ratio_to_copy']:.1f} | {mem['reference']['forward']:.2f} / {mem['reference']['backward']:.2f}, "
            f"{mem['fast_bn']['forward']:.2f} / {mem['fast_bn']['backward']:.2f} | "
            f"{c['fast_bn_ratio_to_torch_default_threads']:.2f} |")
    fixed = results["fixed_cost"]
    lines += [
        "",
        f"Fixed cost of one call, measured on a 1 x 2 float32 input: reference {fixed['reference'] * 1e6:.0f} us, "
        f"fast_bn {fixed['fast_bn'] * 1e6:.0f} us, PyTorch {fixed['torch'] * 1e6:.0f} us. Each numpy call costs "
        "about half a microsecond whatever the size (the reference's argument checks, the per-unit arithmetic, the "
        "passes); where PyTorch's whole call costs less than that, as at the smallest shape in float32, a ratio is "
        "that fixed cost, not the arithmetic.",
    ]
    check = results["check_reference"]
    lines += [
        "",
        "Peak memory counts everything numpy allocates during one call, the outputs included: forward returns one "
        "`n x m` array (1.0), backward one `n x m` array and two `n x 1` columns. The reference allocates each "
        "step's `n x m` result (the deviations, `z_norm`, the products), as the formulas read; fast_bn works in "
        "place in its outputs and one scratch block.",
        "",
        f"`bnspec check reference` (every clause, default settings; the median of {check['runs']} runs): "
        f"**{check['wall_seconds']:.1f} s** wall ({check['clause_seconds']:.1f} s in the clauses), exit status "
        f"{check['exit_status']}; target under 10 s on 2 cores. Slowest clauses: "
        + ", ".join(f"{s['id']} {s['seconds']:.2f} s" for s in check["slowest"]) + ".",
        "",
        f"A failing run, the learner's example with eps outside the square root ({check['failing']['failed']} "
        f"clauses fail, each shrunk, then diagnosed): **{check['failing']['wall_seconds']:.1f} s** wall, exit "
        f"status {check['failing']['exit_status']}; **{check['failing']['ratio_to_passing']:.2f}** times the "
        "passing run (the median of the ratios of runs made in turn); target at most 2.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--samples", type=int, default=15, help="interleaved samples per shape (default 15)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "bench" / "results.json")
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "bench.md")
    args = parser.parse_args(argv)
    results = {"machine": machine(), "target_ratio": TARGET_RATIO,
               "cases": [case(n, m, dtype, args.samples) for dtype in DTYPES for n, m in SHAPES],
               "fixed_cost": case(1, 2, "float32", args.samples)["seconds"],
               "check_reference": check_reference()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    args.page.write_text(page(results))
    for c in results["cases"]:
        print(f"{c['n']:>5} x {c['m']:<5} {c['dtype']}: reference/torch {c['ratio_to_torch']:.2f}, "
              f"fast_bn/torch {c['fast_bn_ratio_to_torch']:.2f}, reference/copy {c['ratio_to_copy']:.1f}, "
              f"memory {c['peak_memory_over_z']}")
    check = results["check_reference"]
    print(f"bnspec check reference: {check['wall_seconds']:.1f} s; failing run "
          f"{check['failing']['wall_seconds']:.1f} s ({check['failing']['ratio_to_passing']:.2f} x)")
    return 0 if all(c["fast_bn_ratio_to_torch"] <= TARGET_RATIO for c in results["cases"]) else 1


if __name__ == "__main__":
    sys.exit(main())
