"""The documentation site: built with --strict from this tree, every clause anchored,
every code and property link pointing at a real symbol, nothing loaded from
outside the site, figures generated (not committed), the matrix and the
profiles rendered, every clause translated."""

from __future__ import annotations

import inspect
import json
import pkgutil
import re
import subprocess
import sys
from posixpath import normpath
from urllib.parse import urlsplit

import pytest
from docs_site import ON_THE_SITES_WORKER, ROOT, built_site, page_file, parse

from bnspec.spec.clauses import REGISTRY, SUBJECTS, all_clauses
from bnspec.spec.clauses.zh_tw import STATEMENTS
from bnspec.spec.profiles import PROFILES
from bnspec.spec.properties import load_all

sys.path.insert(0, str(ROOT / "docs"))
from sitegen import conformance  # noqa: E402

pytestmark = ON_THE_SITES_WORKER

LANGUAGES = ("", "zh-TW/")
EXTERNAL = re.compile(r"^(https?:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""", re.IGNORECASE)
CSS_IMPORT = re.compile(r"""@import\s+['"]([^'"]+)""", re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return built_site(tmp_path_factory)


def _html_files(site):
    return sorted(site.rglob("*.html"))


def _resolve(site, html_file, href):
    """The HTML file and fragment that a relative link from ``html_file`` points at."""
    parts = urlsplit(href)
    base = html_file.relative_to(site).parent.as_posix()
    target = normpath(f"{base}/{parts.path}") if parts.path else html_file.relative_to(site).as_posix()
    path = site / target
    return (path / "index.html" if path.is_dir() else path), parts.fragment


def test_every_clause_has_an_anchor_in_each_language(site):
    for prefix in LANGUAGES:
        for subject in SUBJECTS:
            ids = parse(page_file(site, f"{prefix}spec/{subject}/")).ids
            missing = [c.id for c in all_clauses() if c.subject == subject and c.id not in ids]
            assert not missing, f"{prefix}spec/{subject}/ has no anchor for {missing}"
        overview = parse(page_file(site, f"{prefix}spec/"))
        linked = {urlsplit(h).fragment for h in overview.links}
        assert set(REGISTRY) <= linked, f"{prefix}spec/ does not list {sorted(set(REGISTRY) - linked)}"


def _api_links(site):
    """Every link from a specification page into the API reference: (dotted path, target file, page)."""
    found = []
    for prefix in LANGUAGES:
        for subject in SUBJECTS:
            html = page_file(site, f"{prefix}spec/{subject}/")
            for href in parse(html).links:
                target, fragment = _resolve(site, html, href)
                if "/api/" in f"/{href}" and fragment.startswith("bnspec.") and not EXTERNAL.match(href):
                    found.append((fragment, target, html))
    return found


def test_code_links_point_at_existing_symbols(site):
    links = _api_links(site)
    linked = {dotted for dotted, _, _ in links}
    anchors = {target: parse(target).ids for target in {t for _, t, _ in links if t.is_file()}}
    for dotted, target, page in links:
        assert target in anchors, f"{page}: link to missing page {target}"
        assert dotted in anchors[target], f"{page}: {target} has no anchor #{dotted}"
    for dotted in linked:
        pkgutil.resolve_name(dotted)  # raises if the symbol does not exist
    implemented = {d for c in all_clauses() for d in c.implements}
    assert implemented <= linked, f"not linked: {sorted(implemented - linked)}"


def test_property_links_point_at_the_registered_functions(site):
    properties = load_all()
    linked = {dotted for dotted, _, _ in _api_links(site) if dotted.startswith("bnspec.spec.properties.")}
    for dotted in linked:
        assert inspect.isfunction(pkgutil.resolve_name(dotted)), f"{dotted} is not a function"
    expected = {p.qualname for clause_id, p in properties.items() if clause_id in REGISTRY}
    assert linked == expected


def test_no_page_loads_anything_from_outside_the_site(site):
    offenders = []
    for html in _html_files(site):
        page = parse(html)
        offenders += [f"{html.relative_to(site)}: <{tag}> {url}" for tag, url in page.resources if EXTERNAL.search(url)]
        for style in page.inline_styles:
            offenders += [f"{html.relative_to(site)}: style url({u})" for u in CSS_URL.findall(style)
                          if EXTERNAL.match(u)]
        assert "fonts.googleapis" not in html.read_text(encoding="utf-8"), html
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{css.relative_to(site)}: {u}" for u in CSS_URL.findall(text) + CSS_IMPORT.findall(text)
                      if EXTERNAL.match(u.strip())]
    assert not offenders, "\n".join(offenders)


def test_katex_is_served_by_the_site_and_formulas_are_marked(site):
    for name in ("vendor/katex/katex.min.js", "vendor/katex/katex.min.css", "vendor/katex/contrib/auto-render.min.js"):
        assert (site / name).is_file(), name
    assert list((site / "vendor/katex/fonts").glob("*.woff2"))
    html = page_file(site, "spec/layer/")
    scripts = [url for tag, url in parse(html).resources if tag == "script"]
    assert any(url.endswith("vendor/katex/katex.min.js") for url in scripts), scripts
    formulas = html.read_text(encoding="utf-8").count('class="arithmatex"')
    assert formulas >= sum(c.subject == "layer" for c in all_clauses())


def test_figures_are_generated_and_not_committed(site):
    for prefix in LANGUAGES:
        lecture = parse(page_file(site, f"{prefix}lecture/"))
        images = [url for tag, url in lecture.resources if tag == "img" and "figures/" in url]
        assert len(images) == 3, images
        for url in images:
            target, _ = _resolve(site, page_file(site, f"{prefix}lecture/"), url)
            assert target.read_bytes().lstrip().startswith(b"<?xml") and b"<svg" in target.read_bytes()[:2000]
    tracked = subprocess.run(["git", "ls-files", "docs"], cwd=ROOT, capture_output=True, text=True, check=True)
    images = [f for f in tracked.stdout.split() if f.endswith((".svg", ".png"))]
    assert not images, f"figures are generated, never committed: {images}"


def test_lecture_claims_have_anchors_and_cite_their_clauses(site):
    for prefix in LANGUAGES:
        html = page_file(site, f"{prefix}lecture/")
        page = parse(html)
        assert {f"L{i}" for i in range(1, 13)} <= page.ids
        cited = {_resolve(site, html, h)[1] for h in page.links if "spec/" in h}
        assert {c.id for c in all_clauses() if any(re.fullmatch(r"L\d+", s) for s in c.sources)} <= cited


def test_profiles_table_lists_every_convention_with_its_source(site):
    text = page_file(site, "conformance/").read_text(encoding="utf-8")
    for profile in PROFILES.values():
        assert f"<code>{profile.name}</code>" in text
        for source in profile.sources.values():
            assert _escaped(source) in text, source


def _escaped(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_matrix_is_rendered_once_committed(site):
    page = page_file(site, "conformance/")
    text = page.read_text(encoding="utf-8")
    if not conformance.MATRIX.is_file():
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "docs/conformance/matrix.json"], cwd=ROOT,
                                 capture_output=True)
        assert tracked.returncode != 0, "docs/conformance/matrix.json is committed but missing"
        assert "make matrix" in text
        return
    matrix = json.loads(conformance.MATRIX.read_text(encoding="utf-8"))
    ids = parse(page).ids
    for clause_id in matrix["clauses"]:
        assert f">{clause_id}</a>" in text, clause_id
    for column in matrix["columns"]:
        assert column["target"] in text
        for clause_id, cell in column.get("clauses", {}).items():
            if "detail" in cell:
                assert f"deviation-{column['target']}-{clause_id}" in ids
                assert _escaped(cell["detail"]) in text
        for key, cause in column.get("causes", {}).items():
            assert f"cause-{column['target']}-{key}" in ids and _escaped(cause) in text


def test_every_clause_has_a_traditional_chinese_statement():
    assert set(STATEMENTS) == set(REGISTRY), (
        f"missing: {sorted(set(REGISTRY) - set(STATEMENTS))}; unknown: {sorted(set(STATEMENTS) - set(REGISTRY))}")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    assert [i for i, s in STATEMENTS.items() if not cjk.search(s)] == []


def test_translated_statements_are_on_the_chinese_pages(site):
    for subject in SUBJECTS:
        text = "".join(parse(page_file(site, f"zh-TW/spec/{subject}/")).text)
        for clause in all_clauses():
            if clause.subject == subject:
                assert STATEMENTS[clause.id] in text, clause.id
