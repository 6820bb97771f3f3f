"""The built site in headless Chromium (Debian's /usr/bin/chromium), served from a folder of
127.0.0.1 (``/docs-site/``, not the site_url's root: every link must be relative) with no other
network.  Every page of the navigation, in both languages: every formula rendered by KaTeX and no
raw TeX left anywhere a reader looks (the article and its tables, the navigation, the table of
contents, the title), no console error, warning or failed load, no request leaving the local
site_url, bnspec's version in the footer; each zh-TW page mostly Chinese text (the API reference
alone in English, under a notice).  Then a reader's paths: home -> tutorial -> clause page, and the
language switch keeping the anchor.  A screenshot of a clause page is saved to build/docs-browser/."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from cdp import CHROMIUM
from docs_site import ON_THE_SITES_WORKER, ROOT, built_site
from requirements import require_program

from bnspec.spec import about

# Without Chromium every test here is skipped (failed under BNSPEC_REQUIRE_ALL=1), before the site is built.
pytestmark = [require_program(CHROMIUM, "install Debian's chromium: `apt-get install -y chromium`, as .ci/run does"),
              ON_THE_SITES_WORKER]

SCREENSHOTS = ROOT / "build" / "docs-browser"
LANGUAGES = ("", "zh-TW/")


def _nav_files(nav) -> list[str]:
    found = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found += _nav_files(value) if isinstance(value, list) else [value]
    return found


def _uri(markdown: str) -> str:
    """A page's URL relative to the site (``spec/index.md`` -> ``spec/``, ``lecture.md`` -> ``lecture/``)."""
    path = markdown.removesuffix(".md")
    return "" if path == "index" else path.removesuffix("index") if path.endswith("/index") else path + "/"


#: Every page of mkdocs.yml's navigation, in each language.
NAV = [_uri(f) for f in _nav_files(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"])]
PAGES = [prefix + uri for prefix in LANGUAGES for uri in NAV]

# Raw TeX a reader could see: delimiters, a TeX command (\gamma, \frac), or a $ that opens one.
RAW_TEX = re.compile(r"\\[()\[\]]|\$\$|\\[A-Za-z]{2,}|\$\\")
# CJK ideographs and punctuation against Latin letters.  Identifiers are no language and a translated page keeps
# them: clause IDs (BN-NORM-2), CamelCase class names and snake_case names are left out of the count.
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
LATIN = re.compile(r"[A-Za-z]")
IDENTIFIER = re.compile(r"\b(?:[A-Z]{2,}(?:-[A-Z0-9]+)+|[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+|\w+_\w+)\b")
#: The least share of CJK among a zh-TW page's letters: the translated pages measure 0.55 (the layer's clauses,
#: with their code names) to 0.89; an English page under the zh-TW menu measures about 0.
MIN_CJK_SHARE = 0.5
#: The notice on a zh-TW page that falls back to English (docs/sitegen/hooks.py UNTRANSLATED).
UNTRANSLATED_MARK = "本頁沒有繁體中文版"

# What each page reports: formulas and those rendered by KaTeX; the text a reader sees in the article (tables
# included), the navigation and table of contents, the header, outside KaTeX's own output (whose MathML
# annotation keeps the source on purpose) and code; the article's prose, without what it declares English
# (lang="en": the frameworks' findings and sources, data quoted as their authors wrote it); the footer.
PROBE = """(() => {
  const formulas = [...document.querySelectorAll('.arithmatex')];
  const unrendered = formulas.filter(f => !f.querySelector('.katex')).map(f => f.textContent.slice(0, 80));
  const text = (selector, leave = '') => [...document.querySelectorAll(selector)].map(element => {
    const clone = element.cloneNode(true);
    clone.querySelectorAll('.katex, pre, code, script, style' + leave).forEach(e => e.remove());
    return clone.textContent;
  }).join('\\n');
  return {formulas: formulas.length, katex: document.querySelectorAll('.katex').length, unrendered,
          article: text('article'), prose: text('article', ', [lang="en"]'), navigation: text('.md-sidebar'),
          header: text('.md-header'),
          title: document.title, footer: text('.md-copyright')};
})()"""


def _html_pages(site: Path) -> set[str]:
    return {("" if p.parent == site else p.parent.relative_to(site).as_posix() + "/")
            for p in site.rglob("index.html")}


def test_the_navigation_lists_every_page(tmp_path_factory):
    site = built_site(tmp_path_factory)
    assert _html_pages(site) == set(PAGES), "a page of the site is missing from mkdocs.yml's nav, or the reverse"


def _cjk_share(text: str) -> float:
    text = IDENTIFIER.sub(" ", text)
    cjk, latin = len(CJK.findall(text)), len(LATIN.findall(text))
    return cjk / max(1, cjk + latin)


@pytest.mark.parametrize("uri", PAGES)
def test_page_renders_offline_without_errors_or_raw_tex(site_url, browser, uri):
    browser.navigate(site_url + uri)
    report = browser.evaluate(PROBE)
    assert browser.problems() == []
    # data: URLs (Material's inline icons) are part of the page; any other request must go to the local site_url.
    outside = [u for u in browser.requested_urls()
               if urlsplit(u).scheme != "data" and urlsplit(u).hostname != "127.0.0.1"]
    assert outside == [], f"requests leaving the site: {outside}"
    assert report["unrendered"] == [], f"formulas left as TeX: {report['unrendered']}"
    assert report["katex"] >= report["formulas"]
    for place in ("article", "navigation", "header", "title"):
        raw = [m.group(0) + report[place][m.end():m.end() + 30] for m in RAW_TEX.finditer(report[place])]
        assert raw == [], f"raw TeX in the {place}: {raw[:5]}"
    assert about.stamp() in report["footer"], f"no version in the footer: {report['footer']!r}"
    if uri.startswith("zh-TW/"):
        if UNTRANSLATED_MARK in report["article"]:
            assert uri.startswith("zh-TW/api/"), "an English page under the zh-TW menu (only the API reference may be)"
        else:
            share = _cjk_share(report["prose"])
            assert share >= MIN_CJK_SHARE, f"mostly English: {share:.2f} of the letters are CJK"


def _click(browser, selector: str) -> None:
    """Click the first element matching ``selector`` and wait for the page it opens."""
    browser.events.clear()
    assert browser.evaluate(f"(() => {{ const e = document.querySelector({selector!r}); if (!e) return false; "
                            "e.click(); return true; })()"), f"nothing matches {selector}"
    browser.wait_for("Page.loadEventFired")


@pytest.mark.parametrize("prefix", LANGUAGES)
def test_a_reader_goes_from_home_to_the_tutorial_to_a_clause(site_url, browser, prefix):
    browser.navigate(site_url + prefix)
    _click(browser, 'article a[href$="tutorial/"]')
    assert browser.evaluate("location.pathname").endswith(f"/{prefix}tutorial/")
    assert browser.evaluate("document.querySelectorAll('article pre').length") >= 5  # the run's output
    _click(browser, 'article a[href$="spec/layer/#BN-NORM-2"]')
    assert browser.evaluate("location.pathname + location.hash").endswith(f"/{prefix}spec/layer/#BN-NORM-2")
    time.sleep(0.3)  # the browser scrolls to the anchor after the load event
    assert browser.evaluate("(() => { const r = document.getElementById('BN-NORM-2').getBoundingClientRect(); "
                            "return r.top >= 0 && r.top < innerHeight; })()"), "the clause is not in view"
    assert browser.problems() == []


@pytest.mark.parametrize(("start", "other"), [("zh-TW/spec/layer/", "spec/layer/"), ("", "zh-TW/")])
def test_the_language_switch_keeps_the_place(site_url, browser, start, other):
    browser.navigate(site_url + start)  # a new document whatever the page before (a fragment alone is not)
    browser.evaluate("location.hash = 'BN-NORM-2'")
    hreflang = "en" if start.startswith("zh-TW/") else "zh-TW"
    _click(browser, f'a.md-select__link[hreflang="{hreflang}"]')
    assert browser.evaluate("location.href") == site_url + other + "#BN-NORM-2"
    assert browser.problems() == []


def test_screenshot_of_a_clause_page(site_url, browser):
    browser.navigate(site_url + "spec/layer/")  # a new document whatever the page before (a fragment alone is not)
    assert browser.evaluate("(() => { document.getElementById('BN-NORM-2').scrollIntoView(); return scrollY > 0; })()")
    assert browser.evaluate("document.querySelectorAll('.katex').length") > 0
    time.sleep(0.5)  # let the header's scroll transition finish
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "clause-page.png"
    browser.screenshot(shot)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000
