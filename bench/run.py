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
outside the square root: the edit ``EPS_OUTSIDE_ROOT`` of examples/mistakes.py): the
medians, the ratio failing / passing, and the reference's slowest clauses, read from its
JSON.  Results go to ``docs/bench/results.json`` and the
page ``docs/bench.md`` with its translations (``docs/bench.zh-TW.md``): the words of each language in
:data:`WORDS`, the numbers and the tables from the results.  Run: ``.venv/bin/python bench/run.py`` (or
``make bench``); ``--report-only`` measures nothing and rewrites the pages from the existing results.json
(``.venv/bin/python bench/run.py --report-only``, after editing the words).
"""

from __future__ import annotations

import argparse
import importlib.util
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
sys.path.insert(0, str(ROOT / "docs"))
from sitegen.pages import table, translation  # noqa: E402 -- the docs' folder is put on the path just above

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


def failing_edit() -> tuple[str, str]:
    """The failing run timed against the passing one: the learner's example with eps outside the square root,
    as the ``(correct, mistaken)`` edit of examples/learner_bn.py that examples/mistakes.py defines
    (``EPS_OUTSIDE_ROOT``; loaded from its path: examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("mistakes", ROOT / "examples" / "mistakes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EPS_OUTSIDE_ROOT


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
        correct, mistaken = failing_edit()
        source = (ROOT / "examples" / "learner_bn.py").read_text()
        if source.count(correct) != 1:
            raise SystemExit(f"bench: examples/learner_bn.py holds {correct!r} {source.count(correct)} times, not once")
        failing.write_text(source.replace(correct, mistaken))
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


#: The languages of the site (mkdocs-static-i18n's suffix files): one page each, from the same results.
LANGUAGES = ("en", "zh-TW")

#: The page's words, per language: its headings, sentences and column titles (a table's titles separated by
#: " | "); ``{name}`` fields are filled by :func:`page`, which builds the numbers and the tables from the results
#: once for every language.  A language must have every word the English page has (:func:`words`).
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Speed of the reference",
        "generated": "Generated by `make bench` (`bench/run.py`) from `docs/bench/results.json`; do not edit by hand.",
        "machine": "Machine: {cpu}, {cores} cores, {system}; Python {python}, numpy {numpy}, PyTorch {torch}. "
                   "Load average at the start: {load}.",
        "list_sep": ", ",
        "intro": "One training step of BN, `forward` + `backward`, by three implementations: the reference "
                 "(`reference/batchnorm.py`, the lecture's formulas in plain numpy, written to be read beside the "
                 "lecture and never tuned); `examples/fast_bn.py`, a standalone implementation of the protocol tuned "
                 "for speed (blocks of rows that stay in cache, BLAS row sums, numpy's ufunc buffer cut to a row; "
                 "`tests/test_fast_bn.py` checks it with the whole specification); and PyTorch's "
                 "`torch.nn.functional.batch_norm` forward in training mode plus its autograd backward. The two "
                 "numpy ones take `z` as `n x m` (units first, their natural layout), PyTorch the same values as "
                 "`m x n` (batch first, its natural layout): the same data size, each library in the layout it is "
                 "written for. PyTorch runs on one thread, as numpy's ufuncs do, and numpy's BLAS is held to one "
                 "thread too (fast_bn against PyTorch on its default {threads} threads is the last column of the "
                 "ratios). *copy* is `z.copy()`, the memory-bandwidth floor of one pass over the data. The ratios "
                 "come from the same run, timings interleaved, fastest sample kept. Target: fast_bn within "
                 "{target}x of PyTorch at every shape; the reference has none.",
        "times": "The time of one step, the fastest sample (*copy*: one `z.copy()`):",
        "times_head": "n x m | dtype | reference | fast_bn | PyTorch | copy",
        "ratios": "The ratios of those times (in bold, fast_bn / PyTorch: the one with a target):",
        "ratios_head": "n x m | dtype | reference / PyTorch | fast_bn / PyTorch | reference / copy | fast_bn / copy | "
                       "PyTorch / copy | fast_bn / PyTorch, default threads",
        "over": " (over target)",
        "fixed": "Fixed cost of one call, measured on a 1 x 2 float32 input: reference {reference:.0f} us, "
                 "fast_bn {fast_bn:.0f} us, PyTorch {torch:.0f} us. Each numpy call costs about half a microsecond "
                 "whatever the size (the reference's argument checks, the per-unit arithmetic, the passes); where "
                 "PyTorch's whole call costs less than that, as at the smallest shape in float32, a ratio is that "
                 "fixed cost, not the arithmetic.",
        "memory": "The peak memory of one call, in multiples of `z`'s size:",
        "memory_head": "n x m | dtype | reference forward | reference backward | fast_bn forward | fast_bn backward",
        "memory_note": "Peak memory counts everything numpy allocates during one call, the outputs included: "
                       "forward returns one `n x m` array (1.0), backward one `n x m` array and two `n x 1` "
                       "columns. The reference allocates each step's `n x m` result (the deviations, `z_norm`, the "
                       "products), as the formulas read; fast_bn works in place in its outputs and one scratch block.",
        "seconds": "{seconds:.2f} s",
        "check": "`bnspec check reference` (every clause, default settings; the median of {runs} runs): "
                 "**{wall:.1f} s** wall ({clauses:.1f} s in the clauses), exit status {status}; target under 10 s "
                 "on 2 cores. Slowest clauses: {slowest}.",
        "failing": "A failing run, the learner's example with eps outside the square root ({failed} clauses fail, "
                   "each shrunk, then diagnosed): **{wall:.1f} s** wall, exit status {status}; **{ratio:.2f}** "
                   "times the passing run (the median of the ratios of runs made in turn); target at most 2.",
    },
    "zh-TW": {
        "title": "參考實作的速度 { #speed-of-the-reference }",
        "generated": "由 `make bench`（`bench/run.py`）從 `docs/bench/results.json` 產生；請勿手動編輯。",
        "machine": "機器：{cpu}，{cores} 個核心，{system}；Python {python}、numpy {numpy}、PyTorch {torch}。"
                   "開始時的平均負載：{load}。",
        "list_sep": "、",
        "intro": "批次標準化的一個訓練步驟，`forward` + `backward`，由三個實作執行：參考實作"
                 "（`reference/batchnorm.py`，以單純的 numpy 寫成的講座公式，是為了對照講座閱讀而寫的，從未為速度"
                 "調校）；`examples/fast_bn.py`，一個為速度調校過的獨立協定實作（留在快取中的列區塊、以 BLAS 計算"
                 "列總和、把 numpy ufunc 的緩衝區縮成一列；`tests/test_fast_bn.py` 以整份規格檢查它）；以及 PyTorch "
                 "的 `torch.nn.functional.batch_norm` 訓練模式 forward 加上它的 autograd backward。兩個 numpy 實作"
                 "以 `n x m` 取得 `z`（單元在前，它們原本的佈局），PyTorch 則以 `m x n` 取得同樣的值（批次在前，"
                 "它原本的佈局）：資料大小相同，每個函式庫都用它原本設計的佈局。PyTorch 以單一執行緒執行，和 "
                 "numpy 的 ufunc 一樣，numpy 的 BLAS 也限制為單一執行緒（fast_bn 與以預設 {threads} 個執行緒執行的 "
                 "PyTorch 之比，在比值表的最後一欄）。*copy* 是 `z.copy()`，也就是把資料走過一遍的記憶體頻寬下限。"
                 "各比值出自同一次執行，計時交錯進行，取最快的樣本。目標：在每種形狀下，fast_bn 都在 PyTorch 的 "
                 "{target} 倍以內；參考實作沒有目標。",
        "times": "一個步驟的時間，取最快的樣本（*copy*：一次 `z.copy()`）：",
        "times_head": "n x m | dtype | 參考實作 | fast_bn | PyTorch | copy",
        "ratios": "這些時間的比值（粗體的 fast_bn / PyTorch 是訂有目標的那一項）：",
        "ratios_head": "n x m | dtype | 參考實作 / PyTorch | fast_bn / PyTorch | 參考實作 / copy | fast_bn / copy | "
                       "PyTorch / copy | fast_bn / PyTorch（預設執行緒數）",
        "over": "（超出目標）",
        "fixed": "單次呼叫的固定成本，以 1 x 2 的 float32 輸入量測：參考實作 {reference:.0f} us、fast_bn "
                 "{fast_bn:.0f} us、PyTorch {torch:.0f} us。不論資料大小，每次 numpy 呼叫大約花費半微秒（參考實作"
                 "的引數檢查、逐單元的運算、每一遍走訪）；在 PyTorch 整個呼叫的花費比這還少的地方，例如 float32 的"
                 "最小形狀，比值反映的是這個固定成本，而不是運算本身。",
        "memory": "一次呼叫的峰值記憶體，以 `z` 大小的倍數表示：",
        "memory_head": "n x m | dtype | 參考實作 forward | 參考實作 backward | fast_bn forward | fast_bn backward",
        "memory_note": "峰值記憶體計入 numpy 在一次呼叫中配置的一切，包括輸出：forward 回傳一個 `n x m` 陣列"
                       "（1.0），backward 回傳一個 `n x m` 陣列與兩個 `n x 1` 的行向量。參考實作依公式的寫法，為"
                       "每一步配置一個 `n x m` 的結果（偏差、`z_norm`、各乘積）；fast_bn 則在它的輸出與一個暫存區塊"
                       "中就地運算。",
        "seconds": "{seconds:.2f} 秒",
        "check": "`bnspec check reference`（所有條款，預設設定；{runs} 次執行的中位數）：實際經過時間 "
                 "**{wall:.1f} 秒**（條款中花了 {clauses:.1f} 秒），結束狀態碼 {status}；目標是在 2 個核心上少於 "
                 "10 秒。最慢的條款：{slowest}。",
        "failing": "一次失敗的執行，即把 eps 放在平方根外的學習者範例（{failed} 個條款失敗，每個都經過縮小，再加以"
                   "診斷）：實際經過時間 **{wall:.1f} 秒**，結束狀態碼 {status}；是通過的執行的 **{ratio:.2f}** 倍"
                   "（輪流進行的各次執行之比值的中位數）；目標是至多 2 倍。",
    },
}


def words(language: str) -> dict[str, str]:
    """The page's words in ``language``: a language without one of the English page's words is an error (the
    page is never completed in English)."""
    missing = sorted(set(WORDS["en"]) - set(WORDS[language]))
    if missing:
        raise SystemExit(f"bench: bench/run.py has no {language} words for {', '.join(missing)}")
    return WORDS[language]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def tables(results: dict, over: str) -> dict[str, list[list[str]]]:
    """The rows of the page's three tables (times, ratios, peak memory), the same in every language; ``over``
    (its own separator included) marks a fast_bn / PyTorch ratio above the target."""
    target = results.get("target_ratio", TARGET_RATIO)
    rows: dict[str, list[list[str]]] = {"times": [], "ratios": [], "memory": []}
    for c in results["cases"]:
        shape, t, mem = [f"{c['n']} x {c['m']}", c["dtype"]], c["seconds"], c["peak_memory_over_z"]
        verdict = "" if c["fast_bn_ratio_to_torch"] <= target else over
        rows["times"].append([*shape, *(_ms(t[name]) for name in ("reference", "fast_bn", "torch", "copy"))])
        rows["ratios"].append([*shape, f"{c['ratio_to_torch']:.2f}", f"**{c['fast_bn_ratio_to_torch']:.2f}**{verdict}",
                               f"{c['ratio_to_copy']:.1f}", f"{c['fast_bn_ratio_to_copy']:.1f}",
                               f"{c['torch_ratio_to_copy']:.1f}", f"{c['fast_bn_ratio_to_torch_default_threads']:.2f}"])
        rows["memory"].append([*shape, *(f"{mem[name][call]:.2f}" for name in ("reference", "fast_bn")
                                         for call in ("forward", "backward"))])
    return rows


def page(results: dict, language: str = "en") -> str:
    """The page of ``language`` (docs/bench.md, docs/bench.zh-TW.md) from the results: the words from
    :data:`WORDS`, the numbers and the tables (:func:`tables`) from the results alone."""
    w = words(language)
    mach, fixed, check = results["machine"], results["fixed_cost"], results["check_reference"]
    rows = tables(results, w["over"])
    lines = [f"# {w['title']}", "", w["generated"], ""]
    lines += [w["machine"].format(load=w["list_sep"].join(f"{v:.1f}" for v in mach["load_average"] or []), **mach), ""]
    lines += [w["intro"].format(threads=mach["torch_default_threads"],
                                target=results.get("target_ratio", TARGET_RATIO)), ""]
    for name in ("times", "ratios"):
        lines += [w[name], "", *table(w[f"{name}_head"], rows[name]), ""]
    lines += [w["fixed"].format(**{name: fixed[name] * 1e6 for name in ("reference", "fast_bn", "torch")}), ""]
    lines += [w["memory"], "", *table(w["memory_head"], rows["memory"]), "", w["memory_note"], ""]
    slowest = w["list_sep"].join(f"{s['id']} {w['seconds'].format(seconds=s['seconds'])}" for s in check["slowest"])
    lines += [w["check"].format(runs=check["runs"], wall=check["wall_seconds"], clauses=check["clause_seconds"],
                                status=check["exit_status"], slowest=slowest), ""]
    failing = check["failing"]
    lines += [w["failing"].format(failed=failing["failed"], wall=failing["wall_seconds"],
                                  status=failing["exit_status"], ratio=failing["ratio_to_passing"]), ""]
    return "\n".join(lines)


def write_pages(results: dict, page_file: Path) -> list[Path]:
    """Write the page of every language from the results; returns the files written."""
    written = []
    for language in LANGUAGES:
        path = translation(page_file, language)
        path.write_text(page(results, language), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--samples", type=int, default=15, help="interleaved samples per shape (default 15)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "bench" / "results.json",
                        help="the results (default docs/bench/results.json): written, or read with --report-only")
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "bench.md",
                        help="the English page (default docs/bench.md); each translation goes beside it "
                             "(docs/bench.zh-TW.md)")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: rewrite the pages, every language, from the existing results "
                             "(after editing their words)")
    args = parser.parse_args(argv)
    if args.report_only:
        results = json.loads(args.output.read_text(encoding="utf-8"))
        for path in write_pages(results, args.page):
            print(f"bench: wrote {path}")
        return 0
    results = {"machine": machine(), "target_ratio": TARGET_RATIO,
               "cases": [case(n, m, dtype, args.samples) for dtype in DTYPES for n, m in SHAPES],
               "fixed_cost": case(1, 2, "float32", args.samples)["seconds"],
               "check_reference": check_reference()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    write_pages(results, args.page)
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
