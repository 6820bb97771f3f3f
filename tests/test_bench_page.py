"""bench/run.py's pages: docs/bench.md and its Traditional Chinese twin are written from docs/bench/results.json
alone (``--report-only`` measures nothing), the same tables in every language, every word translated."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "bench" / "results.json"
LANGUAGE_PAGES = {"en": ROOT / "docs" / "bench.md", "zh-TW": ROOT / "docs" / "bench.zh-TW.md"}


@pytest.fixture(scope="module")
def bench():
    """bench/run.py as a module (it is a script: loaded from its path, under a name of its own)."""
    with pytest.MonkeyPatch.context() as patch:  # the script sets numpy's BLAS threads for its own process
        patch.setenv("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "1"))
        spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


@pytest.fixture
def results():
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def _table_rows(page: str) -> list[list[str]]:
    """The body rows of every table of a page, as cells (the title rows, followed by "|---", left out)."""
    lines = page.splitlines()
    return [line[2:-2].split(" | ") for line, after in zip(lines, [*lines[1:], ""], strict=True)
            if line.startswith("| ") and not after.startswith("|---")]


def _numbers(rows: list[list[str]]) -> list[list[list[str]]]:
    return [[re.findall(r"\d+(?:\.\d+)?", cell) for cell in row] for row in rows]


def test_the_committed_pages_are_the_generators_output(bench, results):
    """Neither page is edited by hand, and neither is stale: each is what `bench/run.py --report-only` writes."""
    for language, path in LANGUAGE_PAGES.items():
        assert path.read_text(encoding="utf-8") == bench.page(results, language), (
            f"{path.relative_to(ROOT)} differs from bench/run.py's output: run .venv/bin/python bench/run.py "
            "--report-only")


def test_every_language_shows_the_same_numbers(bench, results):
    english = _table_rows(bench.page(results, "en"))
    assert len(english) == 3 * len(results["cases"])  # times, ratios, peak memory: one row per case each
    for language in bench.LANGUAGES:
        assert _numbers(_table_rows(bench.page(results, language))) == _numbers(english), language


def test_the_memory_figures_are_in_a_table_of_their_own(bench, results):
    """The peak memory of every case, forward and backward, each implementation: a small table of its own."""
    for language in bench.LANGUAGES:
        rows = _table_rows(bench.page(results, language))
        for c in results["cases"]:
            mem = c["peak_memory_over_z"]
            figures = [f"{mem[name][call]:.2f}" for name in ("reference", "fast_bn")
                       for call in ("forward", "backward")]
            assert [f"{c['n']} x {c['m']}", c["dtype"], *figures] in rows, (language, c["n"], c["m"], c["dtype"])


def test_a_missing_word_is_an_error_not_english(bench, results, monkeypatch):
    words = dict(bench.WORDS["zh-TW"])
    del words["memory_note"]
    monkeypatch.setitem(bench.WORDS, "zh-TW", words)
    with pytest.raises(SystemExit, match="memory_note"):
        bench.page(results, "zh-TW")


def test_report_only_rewrites_every_page_without_measuring(bench, tmp_path, monkeypatch):
    def measured(*args, **kwargs):
        raise AssertionError("--report-only measured something")

    for name in ("machine", "case", "check_reference"):
        monkeypatch.setattr(bench, name, measured)
    output = tmp_path / "results.json"
    shutil.copyfile(RESULTS, output)
    assert bench.main(["--report-only", "--output", str(output), "--page", str(tmp_path / "bench.md")]) == 0
    for language, path in LANGUAGE_PAGES.items():
        assert (tmp_path / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), language
    assert output.read_bytes() == RESULTS.read_bytes()


def test_the_failing_run_is_the_learners_example_with_the_mistake(bench, monkeypatch):
    """The failing implementation timed against the reference is examples/learner_bn.py with the edit
    EPS_OUTSIDE_ROOT of examples/mistakes.py, the one home of that mistake (bnspec itself is not run here)."""
    spec = importlib.util.spec_from_file_location("mistakes_for_bench_test", ROOT / "examples" / "mistakes.py")
    assert spec is not None and spec.loader is not None
    mistakes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mistakes)
    correct, mistaken = mistakes.EPS_OUTSIDE_ROOT
    learner = (ROOT / "examples" / "learner_bn.py").read_text(encoding="utf-8")
    targets: dict[str, str] = {}

    def timed_check(bnspec, target, report):
        if target != "reference":
            targets[target] = Path(target).read_text(encoding="utf-8")
        return 1.0, 0 if target == "reference" else 1, [{"id": "BN-X", "seconds": 0.5, "status": "FAIL"}]

    monkeypatch.setattr(bench, "_timed_check", timed_check)
    check = bench.check_reference(runs=1)
    assert check["failing"]["exit_status"] == 1
    assert list(targets.values()) == [learner.replace(correct, mistaken)]
    assert learner.count(correct) == 1  # the edit changes the example: the failing file is not the passing one
