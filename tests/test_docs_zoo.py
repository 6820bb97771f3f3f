"""The faulty implementations' page (conformance/zoo.md) and the specification's "Catches" lines, in the
built site: every faulty implementation of the tests is on the page with exactly the clauses its tests
require to fail on it, and every clause lists exactly the faults that name it.

docs/sitegen/zoo.py reads the tests' data without importing them; here it is imported, as the tests
themselves use it, and the site is held to it."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from posixpath import normpath
from typing import Any
from urllib.parse import urlsplit

import pytest
import test_layouts
from docs_site import ON_THE_SITES_WORKER, built_site, page_file
from test_diagnosis import ZOO as DIAGNOSED
from test_meta_zoo import CAUGHT_BY
from test_optimizer_zoo import ZOO as OPTIMIZER_FAULTS
from test_variants import CAUGHT_BY as VARIANT_FAULTS
from zoo.registry import FAULTY

from bnspec.spec.clauses import SUBJECTS, all_clauses

pytestmark = ON_THE_SITES_WORKER

LANGUAGES = ("", "zh-TW/")
ZOO_PAGE = "conformance/zoo/"
_RUN = re.compile(r"""\brun\(\s*["']([A-Z0-9-]+)["']""")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return built_site(tmp_path_factory)


class _Sections(HTMLParser):
    """The article's sections: heading id -> its links (resolved href, text) and its text; the h2 of each h3."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: dict[str, list[tuple[str, str]]] = {}
        self.text: dict[str, list[str]] = {}
        self.parent: dict[str, str] = {}
        self.current = self.h2 = ""
        self.anchor: list[str] | None = None
        self.href = ""

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in ("h2", "h3") and values.get("id"):
            self.current = values["id"]
            self.links.setdefault(self.current, [])
            self.text.setdefault(self.current, [])
            if tag == "h2":
                self.h2 = self.current
            else:
                self.parent[self.current] = self.h2
        if tag == "a" and self.current:
            self.anchor, self.href = [], values.get("href") or ""

    def handle_endtag(self, tag):
        if tag == "a" and self.anchor is not None:
            self.links[self.current].append((self.href, "".join(self.anchor)))
            self.anchor = None
        if tag == "article":  # the footer's links are no section's
            self.current = ""

    def handle_data(self, data):
        if self.current:
            self.text[self.current].append(data)
            if self.anchor is not None:
                self.anchor.append(data)


def _sections(site: Path, uri: str) -> _Sections:
    parser = _Sections()
    parser.feed(page_file(site, uri).read_text(encoding="utf-8"))
    return parser


def _target(uri: str, href: str) -> tuple[str, str]:
    """The page (relative to the site, ``spec/layer/``) and fragment a link of page ``uri`` points at."""
    parts = urlsplit(href)
    return normpath(f"{uri}{parts.path}") + "/" if parts.path else uri, parts.fragment


def _words(text: str) -> str:
    return " ".join(text.split())


def _layout_cases() -> list[tuple[dict[str, Any], Callable[..., Any]]]:
    """tests/test_layouts.py's cases over a ``fault``: (argument -> value, the test)."""
    cases: list[tuple[dict[str, Any], Callable[..., Any]]] = []
    for _, test in inspect.getmembers(test_layouts, inspect.isfunction):
        for mark in getattr(test, "pytestmark", []):
            names = mark.args[0] if isinstance(mark.args[0], tuple) else (mark.args[0],)
            if mark.name == "parametrize" and "fault" in names:
                cases += [(dict(zip(names, v if len(names) > 1 else (v,), strict=True)), test) for v in mark.args[1]]
    return cases


def _layout_faults() -> dict[str, set[str]]:
    """tests/test_layouts.py's faults, and the clauses their tests run."""
    found: dict[str, set[str]] = {}
    for case, test in _layout_cases():
        found.setdefault(case["fault"].__name__, set()).update(_RUN.findall(inspect.getsource(test)))
    return found


def _expected() -> dict[str, set[str]]:
    """Every faulty implementation of the tests -> the clauses its tests require to fail on it."""
    expected = {f.__name__: set(CAUGHT_BY[f]) for f in FAULTY}
    expected |= {f.__name__: set(ids) for f, ids in VARIANT_FAULTS.items()}
    expected |= {f.impl.__name__: set(f.fails) for f in OPTIMIZER_FAULTS}
    expected |= _layout_faults()
    return expected


def _fault_sections(page: _Sections) -> set[str]:
    return {h3 for h3, h2 in page.parent.items() if h2 != "correct"}


def test_the_tests_data_is_read_whole():
    """No two faults share a name (the page's anchor), each is caught by some clause, and the layouts' are found."""
    expected, layouts = _expected(), _layout_faults()
    assert len(layouts) >= 4 and len(expected) == len(FAULTY) + len(VARIANT_FAULTS) + len(OPTIMIZER_FAULTS) + len(
        layouts)
    assert all(expected.values()), [name for name, ids in expected.items() if not ids]


@pytest.mark.parametrize("prefix", LANGUAGES)
def test_every_fault_is_on_the_page_with_its_clauses_and_code(site, prefix):
    uri = prefix + ZOO_PAGE
    page = _sections(site, uri)
    expected = _expected()
    assert _fault_sections(page) == set(expected), f"{uri}: the faults shown are not the tests' faults"
    classes = {f.__name__: f for f in FAULTY} | {f.__name__: f for f in VARIANT_FAULTS} | {
        f.impl.__name__: f.impl for f in OPTIMIZER_FAULTS}
    for name, clauses in expected.items():
        shown = {fragment for href, _ in page.links[name]
                 for target, fragment in [_target(uri, href)] if target.startswith(f"{prefix}spec/")}
        assert shown == clauses, f"{uri}#{name}: the clauses linked are {sorted(shown)}, the tests' {sorted(clauses)}"
        text = _words("".join(page.text[name]))
        assert re.search(rf"class {name}\b[(:]", text), f"{uri}#{name}: no code"
        if name in classes:
            summary = _words((inspect.getdoc(classes[name]) or "").split("\n\n")[0]).replace("``", "")
            assert summary in text, f"{uri}#{name}: no description {summary!r}"


@pytest.mark.parametrize("prefix", LANGUAGES)
def test_each_clause_lists_the_faults_it_catches_and_each_link_resolves(site, prefix):
    catches: dict[str, set[str]] = {}
    for name, clauses in _expected().items():
        for clause_id in clauses:
            catches.setdefault(clause_id, set()).add(name)
    zoo_ids = _fault_sections(_sections(site, prefix + ZOO_PAGE))
    for subject in SUBJECTS:
        uri = f"{prefix}spec/{subject}/"
        page = _sections(site, uri)
        for clause in (c for c in all_clauses() if c.subject == subject):
            targets = [_target(uri, href) for href, _ in page.links[clause.id]]
            listed = {fragment for target, fragment in targets if target == prefix + ZOO_PAGE}
            assert listed <= zoo_ids, f"{uri}#{clause.id}: links to no fault {sorted(listed - zoo_ids)}"
            assert listed == catches.get(clause.id, set()), f"{uri}#{clause.id} lists {sorted(listed)}"


@pytest.mark.parametrize("prefix", LANGUAGES)
def test_the_diagnosis_and_the_message_that_name_a_fault_are_shown(site, prefix):
    uri = prefix + ZOO_PAGE
    page = _sections(site, uri)
    named = {key.split(":")[1]: bug.value for key, bug in DIAGNOSED.items()}
    named |= {case["fault"].__name__: case["bug"].value for case, _ in _layout_cases() if "bug" in case}
    assert len(named) >= 15
    for name, bug in named.items():
        diagnosis = [text for href, text in page.links[name] if _target(uri, href)[0] == f"{prefix}diagnosis/"]
        assert diagnosis == [bug], f"{uri}#{name}: the diagnosis is {diagnosis}, the tests' {bug!r}"
    quoted = "「{}」" if prefix else "“{}”"  # the message line's quotes, not the docstring's
    for fault in OPTIMIZER_FAULTS:
        text = _words("".join(page.text[fault.impl.__name__]))
        said = _words(fault.unnamed) if fault.unnamed else quoted.format(fault.says)
        assert said in text, f"{uri}#{fault.impl.__name__}: no {said!r}"
