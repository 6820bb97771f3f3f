"""The mutation pages: docs/mutation.md and its Traditional Chinese twin are rendered by mutation/page.py and
written by mutation/run.py from docs/mutation/results.json and mutation/reasons.py alone (``--report-only`` runs
nothing), the same tables in every language, and a word or a survivor's reason without its translation stops the
writing."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from test_bench_page import _table_rows  # the pages' tables, read the same way

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "mutation" / "results.json"
LANGUAGE_PAGES = {"en": ROOT / "docs" / "mutation.md", "zh-TW": ROOT / "docs" / "mutation.zh-TW.md"}


@pytest.fixture(scope="module")
def mutation():
    """mutation/run.py as a module (a script that imports page.py and reasons.py from its own folder)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / "mutation"))
        spec = importlib.util.spec_from_file_location("mutation_run", ROOT / "mutation" / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def page(mutation):
    """mutation/page.py, the module run.py renders the pages with (the same module object, not a second copy)."""
    return sys.modules[mutation.render.__module__]


@pytest.fixture
def results(mutation):
    return mutation.apply_reasons(json.loads(RESULTS.read_text(encoding="utf-8")))


def _survivor_key(results) -> str:
    return next(m["key"] for m in results["mutants"] if m["outcome"] == "survived")


def test_the_committed_pages_are_the_generators_output(page, results):
    """Neither page is edited by hand, and neither is stale: each is what `mutation/run.py --report-only`
    writes from the committed results and the current reasons."""
    for language, path in LANGUAGE_PAGES.items():
        assert path.read_text(encoding="utf-8") == page.render(results, language), (
            f"{path.relative_to(ROOT)} differs from mutation/run.py's output: run .venv/bin/python "
            "mutation/run.py --report-only")


def test_every_language_shows_the_same_numbers(page, results):
    """The tables come from the results once: the same rows, the same numbers, in every language."""
    def numbers(language):
        return [[re.findall(r"\d+(?:\.\d+)?", cell) for cell in row[:-1]]  # the last cell: a reason, a label
                for row in _table_rows(page.render(results, language))]

    assert numbers("en")
    for language in page.WORDS:
        assert numbers(language) == numbers("en"), language


def test_the_survivors_reasons_are_in_each_language(page, results):
    key = _survivor_key(results)
    for language in page.WORDS:
        reason = page.REASONS[key][1][language]
        assert page._cell(reason) in page.render(results, language), language


def test_a_missing_reason_translation_stops_the_writing(mutation, page, results, tmp_path, monkeypatch):
    """A reason given in English only is an error of the generator, never an English sentence on the
    Traditional Chinese page; and no page is written."""
    key = _survivor_key(results)
    verdict, texts = page.REASONS[key]
    monkeypatch.setitem(page.REASONS, key, (verdict, {"en": texts["en"]}))
    monkeypatch.setattr(mutation, "PAGE", tmp_path / "mutation.md")
    monkeypatch.setattr(mutation, "RESULTS", tmp_path / "results.json")
    with pytest.raises(SystemExit, match=r"zh-TW reason for"):
        page.render(results, "zh-TW")
    with pytest.raises(SystemExit, match=r"zh-TW reason for"):
        mutation.write(results)
    assert not list(tmp_path.iterdir())


def test_a_missing_word_stops_the_writing(page, results, monkeypatch):
    words = dict(page.WORDS["zh-TW"])
    del words["clause_intro"]
    monkeypatch.setitem(page.WORDS, "zh-TW", words)
    with pytest.raises(SystemExit, match="clause_intro"):
        page.render(results, "en")


def test_an_unexplained_survivor_says_so_in_each_language(mutation, page, results, monkeypatch):
    key = _survivor_key(results)
    monkeypatch.delitem(page.REASONS, key)
    results = mutation.apply_reasons(results)
    for language, words in page.WORDS.items():
        text = page.render(results, language)
        assert f"**{words[page.UNEXPLAINED]}** | {words['no_reason']} |" in text, language


def test_report_only_rewrites_every_page_from_the_results(mutation, tmp_path, monkeypatch):
    def run(*args, **kwargs):
        raise AssertionError("--report-only ran the mutants")

    monkeypatch.setattr(mutation, "run_tool", run)
    monkeypatch.setattr(mutation, "PAGE", tmp_path / "mutation.md")
    monkeypatch.setattr(mutation, "RESULTS", tmp_path / "results.json")
    monkeypatch.setattr(mutation, "ROOT", tmp_path)  # the paths it prints are relative to ROOT
    shutil.copyfile(RESULTS, tmp_path / "results.json")
    assert mutation.main(["--report-only"]) == 0
    for language, path in LANGUAGE_PAGES.items():
        assert (tmp_path / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), language
