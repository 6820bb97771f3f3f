"""The site's search (docs/sitegen/search.py), typed into Material's search box in headless
Chromium, on the built site served from a folder of 127.0.0.1: each language searches its own
pages only (each loads its own index), a clause ID finds its clause first, a Chinese word is found
inside the sentences jieba cut, and no result shows raw TeX.  Then the index's functions on tiny
indexes, without a browser."""

from __future__ import annotations

import json
import re
import sys
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from cdp import CHROMIUM
from docs_site import ON_THE_SITES_WORKER, ROOT
from mkdocs.exceptions import PluginError
from requirements import require_program

from bnspec.spec.clauses import REGISTRY

sys.path.insert(0, str(ROOT / "docs"))
from sitegen import search  # noqa: E402

pytestmark = ON_THE_SITES_WORKER

needs_chromium = require_program(CHROMIUM, "install Debian's chromium: `apt-get install -y chromium`, as .ci/run does")

#: The page each language searches from, and what it searches: a clause ID; Chinese words that the lecture
#: page holds only inside longer runs of characters, which jieba cuts (把偏差修正併入, 偏移會被抵銷); words
#: whose sections hold formulas.
SEARCHES = {"": ("spec/layer/", ("BN-NORM-1", "偏差", "examples", "variance")),
            "zh-TW/": ("zh-TW/lecture/", ("BN-NORM-1", "偏差", "抵銷", "小批次", "variance"))}
RAW_TEX = re.compile(r"\\[()\[\]]|\$\$|\\[A-Za-z]{2,}")

CLEAR = """(() => { const input = document.querySelector('.md-search__input');
  input.value = ''; input.focus(); input.dispatchEvent(new KeyboardEvent('keyup')); })()"""
RESULTS = """(() => ({meta: document.querySelector('.md-search-result__meta').textContent,
  placeholder: JSON.parse(document.getElementById('__config').textContent).translations['search.result.placeholder'],
  items: [...document.querySelectorAll('.md-search-result__item')].map(item => ({
    links: [...item.querySelectorAll('a.md-search-result__link')].map(a => a.href),
    previews: [...item.querySelectorAll('article')].map(article => {  // the text, code left out
      const text = article.cloneNode(true);
      text.querySelectorAll('code, pre').forEach(code => code.remove());
      return text.textContent; })}))}))()"""

# Every clause ID asked of Material's search worker directly (the one the page uses, on the index the page
# loads; its messages: 0 set up, 2 query): the location of the first result, and of the clause's section.
ASK_WORKER = """(async ids => {
  const config = JSON.parse(document.getElementById('__config').textContent);
  const index = await (await fetch(new URL('search/search_index.json', new URL(config.base, location)))).json();
  const worker = new Worker(config.search);
  const ask = message => new Promise(resolve => {
    worker.onmessage = event => resolve(event.data); worker.postMessage(message); });
  await ask({type: 0, data: {...index, options: {suggest: false}}});
  const found = {};
  for (const id of ids) {
    const first = (await ask({type: 2, data: id})).data.items[0];
    found[id] = [first && first[0].location, (index.docs.find(d => d.location.endsWith('#' + id)) || {}).location];
  }
  worker.terminate();
  return found;
})(%s)"""


def _wait(page, done, what: str) -> dict:
    """The rendered results once ``done(results)`` holds for a few polls in a row (they stopped changing)."""
    last, steady, deadline = None, 0, time.monotonic() + 30
    while time.monotonic() < deadline:
        results = page.evaluate(RESULTS)
        steady = steady + 1 if results == last and done(results) else 0
        if steady == 2:
            return results
        last = results
        time.sleep(0.03)
    raise TimeoutError(f"{what}: {last}")


def _type(page, query: str) -> dict:
    """Type ``query`` into the emptied search box (as an input method does: the text, then a key's
    release, which Material listens to) and return the rendered results."""
    page.evaluate(CLEAR)
    _wait(page, lambda results: results["meta"] == results["placeholder"], "the search box was not emptied")
    page.call("Input.insertText", text=query)
    page.call("Input.dispatchKeyEvent", type="keyUp", key="End", code="End", windowsVirtualKeyCode=35)
    return _wait(page, lambda results: results["meta"] != results["placeholder"], f"no results for {query!r}")


@pytest.fixture(scope="module")
def found(site_url, browser):
    """(the site's URL, language root -> {"index": the index URLs its page fetched, "problems": the
    page's console errors and failed loads, "results": query -> results, "clauses": clause ID -> [the
    first result's location, the clause's]}); one browser, one page per language."""
    answers = {}
    for root, (start, queries) in SEARCHES.items():
        browser.navigate(site_url + start)
        results = {query: _type(browser, query) for query in queries}
        answers[root] = {"results": results, "problems": browser.problems(),
                         "index": [u for u in browser.requested_urls() if u.endswith(search.INDEX_PATH)]}
        answers[root]["clauses"] = browser.call("Runtime.evaluate", expression=ASK_WORKER % json.dumps(
            list(REGISTRY)), awaitPromise=True, returnByValue=True)["result"]["value"]
    return site_url, answers


def _links(answer: dict) -> list[str]:
    return [link for results in answer["results"].values() for item in results["items"] for link in item["links"]]


@needs_chromium
@pytest.mark.parametrize("root", SEARCHES)
def test_each_language_loads_its_own_index(found, root):
    url, answers = found
    assert answers[root]["index"] == [url + root + search.INDEX_PATH]
    assert answers[root]["problems"] == []


@needs_chromium
@pytest.mark.parametrize("root", SEARCHES)
def test_a_clause_id_finds_its_clause_first(found, root):
    url, answers = found
    first = answers[root]["results"]["BN-NORM-1"]["items"][0]["links"]
    page, section = urlsplit(first[0]), urlsplit(first[1])
    layer = urlsplit(url + root + "spec/layer/").path
    assert (page.path, section.path, section.fragment) == (layer, layer, "BN-NORM-1"), f"first result: {first}"


@needs_chromium
@pytest.mark.parametrize("root", SEARCHES)
def test_every_clause_id_finds_its_section_first(found, root):
    url, answers = found
    clauses = answers[root]["clauses"]
    assert clauses.keys() == REGISTRY.keys()
    assert {id: locations for id, locations in clauses.items() if locations[0] != locations[1]
            or not locations[1].endswith("#" + id)} == {}


@needs_chromium
def test_each_language_finds_its_own_pages_only(found):
    url, answers = found
    english, chinese = _links(answers[""]), _links(answers["zh-TW/"])
    assert english and chinese
    assert [link for link in english if not link.startswith(url) or link.startswith(url + "zh-TW/")] == []
    assert [link for link in chinese if not link.startswith(url + "zh-TW/")] == []


@needs_chromium
@pytest.mark.parametrize("query", ["偏差", "抵銷"])
def test_chinese_words_find_the_lecture(found, query):
    url, answers = found
    pages = {urlsplit(item["links"][0]).path for item in answers["zh-TW/"]["results"][query]["items"]}
    assert urlsplit(url + "zh-TW/lecture/").path in pages, pages


@needs_chromium
def test_no_preview_shows_raw_tex(found):
    url, answers = found
    previews = [text for answer in answers.values() for results in answer["results"].values()
                for item in results["items"] for text in item["previews"]]
    assert [text for text in previews if RAW_TEX.search(text)] == []
    # the formulas are there, as text: the searches above do reach sections with formulas
    assert sum("μ" in text or "σ" in text for text in previews) >= 5


# -- the functions, on tiny indexes --------------------------------------------------------

CONFIG = {"lang": ["en"], "separator": "[\\s\\-]+", "pipeline": [], "fields": {}}
DOCS = [{"location": "", "title": "bnspec", "text": "<p>The spec.</p>"},
        {"location": "spec/layer/#BN-NORM-1", "title": "BN-NORM-1", "text": "<p>mean 0</p>"},
        {"location": "zh-TW/", "title": "bnspec", "text": "<p>\u200b規格\u200b</p>"},
        {"location": "zh-TW/spec/layer/#BN-NORM-1", "title": "BN-NORM-1", "text": "<p>\u200b平均\u200b為\u200b 0</p>"}]


def test_split_index_gives_each_language_its_entries_relative_to_its_root():
    parts = search.split_index({"config": CONFIG, "docs": DOCS}, ["zh-TW/"])
    assert parts[""] == {"config": CONFIG, "docs": DOCS[:2]}
    assert parts["zh-TW/"]["config"] == CONFIG
    assert [d["location"] for d in parts["zh-TW/"]["docs"]] == ["", "spec/layer/#BN-NORM-1"]
    assert [d["text"] for d in parts["zh-TW/"]["docs"]] == [d["text"] for d in DOCS[2:]]
    assert search.split_index({"config": CONFIG, "docs": DOCS[:2]}, ["zh-TW/"]).keys() == {""}


@pytest.mark.parametrize(("tex", "text"), [
    ("\\gamma", "γ"),
    ("n^{[l]} \\times m", "n^[l] × m"),
    ("z_{\\mathrm{norm}}^{(i)} = \\frac{z^{(i)} - \\mu}{\\sqrt{\\sigma^2 + \\varepsilon}}",
     "z_norm^(i) = (z^(i) − μ)/√(σ^2 + ε)"),
    ("\\mu = \\frac{1}{m}\\sum_{i=1}^{m} z^{(i)},", "μ = 1/m Σ_(i=1)^m z^(i),"),
    ("\\tilde z \\le \\overline{|z|}", "z̃ ≤ overline(|z|)"),
    ("a &lt; \\operatorname{Var}(b)", "a &lt; Var(b)"),
])
def test_formula_text(tex, text):
    assert search.formula_text(tex) == text


def test_clean_entry_writes_formulas_as_text_outside_code_and_moves_an_attributes_value():
    entry = {"location": "api/#X", "title": "<code>X = {'BN-NORM-1': 1}</code>  <code>module-attribute</code>",
             "text": "<p>\\(\\gamma\\) and \\[ \\beta \\]</p><pre><code>re.compile(r'\\(')</code></pre>"}
    cleaned, count = search.clean_entry(entry)
    assert count == 2
    assert cleaned["title"] == "<code>X</code>  <code>module-attribute</code>"
    assert cleaned["text"] == "<code>{'BN-NORM-1': 1}</code> <p>γ and β</p><pre><code>re.compile(r'\\(')</code></pre>"
    assert search.has_raw_tex(entry["text"]) and not search.has_raw_tex(cleaned["text"])


def test_set_base_points_a_translated_page_at_its_language():
    html = '<script id="__config" type="application/json">{"annotate": null, "base": "../..", "x": 1}</script>'
    assert '"base": ".."' in search.set_base(html, "zh-TW/lecture", "zh-TW")
    assert '"base": "."' in search.set_base(html.replace("../..", ".."), "zh-TW", "zh-TW")
    with pytest.raises(PluginError):
        search.set_base(html.replace("../..", "."), "zh-TW/lecture", "zh-TW")


def _config(site, docs):
    index = SimpleNamespace(generate_search_index=lambda prev: json.dumps({"config": CONFIG, "docs": docs}))
    languages = [SimpleNamespace(locale="en", default=True, build=True),
                 SimpleNamespace(locale="zh-TW", default=False, build=True)]
    return SimpleNamespace(site_dir=str(site), plugins={"search": SimpleNamespace(search_index=index),
                                                        "i18n": SimpleNamespace(config=SimpleNamespace(
                                                            languages=languages))})


def test_write_indexes_after_each_build(tmp_path):
    page = tmp_path / "zh-TW" / "spec" / "layer" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text('<script id="__config" type="application/json">{"base": "../../.."}</script>')
    search.write_indexes(_config(tmp_path, DOCS[2:]))  # the zh-TW build
    written = json.loads((tmp_path / "zh-TW" / search.INDEX_PATH).read_text())
    assert [(d["location"], d.get("tags")) for d in written["docs"]] == [("", None),
                                                                       ("spec/layer/#BN-NORM-1", ["BN-NORM-1"])]
    assert '"base": "../.."' in page.read_text()
    assert not (tmp_path / search.INDEX_PATH).exists()
    # the i18n plugin's merge, which drops translated entries equal to English ones: the English entries only
    search.write_indexes(_config(tmp_path, DOCS[:3]))
    english = json.loads((tmp_path / search.INDEX_PATH).read_text())["docs"]
    assert english == [DOCS[0], {**DOCS[1], "tags": ["BN-NORM-1"]}]  # a clause's section tagged with its ID
    assert json.loads((tmp_path / "zh-TW" / search.INDEX_PATH).read_text()) == written


def test_write_indexes_refuses_unsegmented_chinese(tmp_path):
    with pytest.raises(PluginError, match="jieba"):
        search.write_indexes(_config(tmp_path, [{**d, "text": d["text"].replace("\u200b", "")} for d in DOCS[2:]]))
