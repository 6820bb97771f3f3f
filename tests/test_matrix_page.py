"""The conformance page's matrix (docs/sitegen/conformance.py, docs/stylesheets/matrix.css): rendered
from a matrix file of the current format only, stamped with the bnspec that wrote it; every cell its
status and worst error in eps*cond units, every FAIL linked to its deviation; the deviations grouped by
root cause, each cause once per target.  In Chromium at 1400 px every target's column is visible; on a
phone the matrix scrolls sideways in its own box, the clause column held in place."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from cdp import CHROMIUM
from docs_site import ON_THE_SITES_WORKER, ROOT
from requirements import need_module, require_program

from bnspec.spec import matrix

sys.path.insert(0, str(ROOT / "docs"))
from sitegen import conformance  # noqa: E402

pytestmark = ON_THE_SITES_WORKER

CAUSE = "The layer rounds the batch mean to float16 before it centres z"
#: Three targets: two sharing a cause's key and text (stated once under each), one not installed.
DATA: dict[str, Any] = {
    "format": matrix.FORMAT, "bnspec": {"version": "9.9.9", "commit": "0123abcd"},
    "machine": {"python": "3.11"}, "options": {"max_examples": 5, "seed": 0},
    "clauses": ["BN-NORM-1", "BN-NORM-2", "BN-DEG-2", "BN-INPUT-1"],
    "columns": [
        {"target": "fw-a", "installed": True, "profile": "torch", "versions": {"fw": "1.0"},
         "causes": {"ROUNDS": CAUSE},
         "clauses": {
             "BN-NORM-1": {"status": "FAIL", "worst_error_eps_cond": 12.3, "detail": "Off by 12.",
                           "causes": ["ROUNDS"]},
             "BN-NORM-2": {"status": "FAIL", "worst_error_eps_cond": None, "detail": "", "causes": ["ROUNDS"]},
             "BN-DEG-2": {"status": "pass", "worst_error_eps_cond": 0.8},
             "BN-INPUT-1": {"status": "FAIL", "worst_error_eps_cond": None, "detail": "eps = 0 is taken.",
                            "causes": []}}},
        {"target": "fw-b", "installed": True, "profile": "flax", "versions": {"fw": "2.0"},
         "causes": {"ROUNDS": CAUSE},
         "clauses": {
             "BN-NORM-1": {"status": "FAIL", "worst_error_eps_cond": 2.1e4, "detail": "Off by 2e4.",
                           "causes": ["ROUNDS"]},
             "BN-NORM-2": {"status": "error", "worst_error_eps_cond": None, "detail": "Raised.",
                           "causes": ["ROUNDS"]},
             "BN-DEG-2": {"status": "n/a", "worst_error_eps_cond": None},
             "BN-INPUT-1": {"status": "pass", "worst_error_eps_cond": None}}},
        {"target": "fw-c", "installed": False, "reason": "no module named fw_c", "versions": {}},
    ],
}


def _section(tmp_path, monkeypatch, data: dict, language: str = "en") -> str:
    (tmp_path / "matrix.json").write_text(json.dumps(data))
    monkeypatch.setattr(conformance, "MATRIX", tmp_path / "matrix.json")
    page = "conformance/index.md" if language == "en" else f"conformance/index.{language}.md"
    return conformance.matrix_section(page, language)


def _html(text: str) -> str:
    """The section as the site renders its Markdown (mkdocs.yml's extensions that it uses)."""
    markdown = need_module("markdown", "docs")
    return markdown.markdown(text, extensions=["tables", "attr_list", "md_in_html", "toc"])


def test_each_cause_is_stated_once_per_target_before_the_clauses_it_explains(tmp_path, monkeypatch):
    html = _html(_section(tmp_path, monkeypatch, DATA))
    assert html.count(CAUSE) == 2  # once per target that quotes it
    for target, clauses in (("fw-a", ("BN-NORM-1", "BN-NORM-2")), ("fw-b", ("BN-NORM-1", "BN-NORM-2"))):
        group = re.search(rf'<p class="bn-cause" id="cause-{target}-ROUNDS">{CAUSE}\.</p>\s*<ul>(.*?)</ul>', html,
                          re.S)
        assert group, f"{target}: no paragraph of the cause followed by its clauses"
        assert all(f'id="deviation-{target}-{c}"' in group.group(1) for c in clauses), target
    assert "Off by 12." in html and "Off by 2e4." in html and "Raised." in html
    alone = re.search(r'<li><strong id="deviation-fw-a-BN-INPUT-1">BN-INPUT-1</strong> — FAIL: eps = 0 is '
                      r'taken\.</li>', html)
    assert alone and alone.start() < html.index('id="cause-fw-a-ROUNDS"'), "a finding of its own is one item"
    assert "no module named fw_c" in html


def test_every_cell_shows_its_status_and_worst_error_and_every_deviation_is_linked(tmp_path, monkeypatch):
    html = _html(_section(tmp_path, monkeypatch, DATA))
    table = html[html.index('<div class="bn-matrix"'):html.index("</table>")]
    for target, units in (("fw-a", "12"), ("fw-b", "2.1e4")):
        assert (f'<a href="#deviation-{target}-BN-NORM-1"><strong>FAIL</strong> '
                f'<span class="bn-units">({units})</span></a>') in table
    assert '<a href="#deviation-fw-b-BN-NORM-2"><strong>error</strong></a>' in table
    assert '<td>pass <span class="bn-units">(0.8)</span></td>' in table
    assert '<td><span class="bn-na">n/a</span></td>' in table
    explained = [(c["target"], cid) for c in DATA["columns"] for cid, cell in c.get("clauses", {}).items()
                 if "detail" in cell]
    links = re.findall(r'href="#(deviation-[^"]+)"', table)
    assert sorted(links) == sorted(f"deviation-{t}-{cid}" for t, cid in explained)
    assert all(f'id="{anchor}"' in html for anchor in links)
    assert re.search(r'<span class="bn-target">fw-a <small>\(torch\)</small></span>', table)


def test_the_matrix_names_the_bnspec_that_generated_it(tmp_path, monkeypatch):
    assert "Generated by bnspec 9.9.9 (commit 0123abcd)." in _section(tmp_path, monkeypatch, DATA)
    no_commit = {**DATA, "bnspec": {"version": "9.9.9", "commit": None}}
    assert "Generated by bnspec 9.9.9." in _section(tmp_path, monkeypatch, no_commit)
    assert "由 bnspec 9.9.9 (commit 0123abcd) 產生" in _section(tmp_path, monkeypatch, DATA, "zh-TW")


def test_a_page_in_chinese_marks_the_findings_english(tmp_path, monkeypatch):
    html = _html(_section(tmp_path, monkeypatch, DATA, "zh-TW"))
    assert '<div class="bn-matrix" lang="en">' in html and '<span lang="zh-TW">條款</span>' in html
    deviations = html[html.index('<div class="bn-deviations" lang="en">'):]
    assert CAUSE in deviations[:deviations.index("</div>")]
    assert '未執行：<span lang="en">no module named fw_c</span>' in html


def test_a_matrix_of_the_older_format_is_a_build_error_naming_make_matrix(tmp_path, monkeypatch):
    from mkdocs.exceptions import PluginError

    cell = {"status": "FAIL", "seconds": 0.1, "worst_error_over_tolerance": 3.0, "message": "observed 1",
            "finding": "the framework raises at m = 1"}
    old = {"machine": {"python": "3.11"}, "options": {"max_examples": 5, "seed": 0}, "clauses": ["BN-DEG-2"],
           "columns": [{"target": "torch", "installed": True, "profile": "torch", "versions": {"torch": "2"},
                        "clauses": {"BN-DEG-2": cell}}]}
    with pytest.raises(PluginError, match="make matrix"):
        _section(tmp_path, monkeypatch, old)


# --- in Chromium, on the built site (the committed matrix) ---------------------------------------------------

#: The matrix's geometry: the container's box and scroll extent, each header cell's box, the page's own width.
GEOMETRY = """(() => {
  const box = document.querySelector('.bn-matrix');
  const rect = e => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top}; };
  return {width: innerWidth, page: document.documentElement.scrollWidth, box: rect(box),
          scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
          heads: [...box.querySelectorAll('thead th')].map(rect)};
})()"""
#: After scrolling the matrix to its right end: the first clause cell's box, and whether it is what a reader
#: sees at its own centre (held in place and on top of the cells scrolled under it).
SCROLLED = """(() => {
  const box = document.querySelector('.bn-matrix');
  box.scrollLeft = box.scrollWidth;
  const cell = box.querySelector('tbody tr td:first-child');
  const r = cell.getBoundingClientRect();
  const seen = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  const last = [...box.querySelectorAll('thead th')].pop().getBoundingClientRect();
  return {scrolled: box.scrollLeft, left: r.left, box: box.getBoundingClientRect().left,
          boxRight: box.getBoundingClientRect().right, lastRight: last.right, onTop: cell.contains(seen)};
})()"""


def _installed_targets() -> int:
    data = json.loads(conformance.MATRIX.read_text(encoding="utf-8"))
    return sum(1 for c in data["columns"] if c["installed"])


@require_program(CHROMIUM, "install Debian's chromium: `apt-get install -y chromium`, as .ci/run does")
def test_every_target_column_is_visible_at_1400_px(site_url, browser):
    """No column hidden: the matrix's container needs no sideways scroll, and every header cell lies
    inside it and inside the window."""
    browser.navigate(site_url + "conformance/")
    found = browser.evaluate(GEOMETRY)
    assert found["width"] == 1400
    assert len(found["heads"]) == 1 + _installed_targets()
    assert found["scrollWidth"] <= found["clientWidth"], f"columns hidden: {found}"
    assert all(found["box"]["left"] <= h["left"] and h["right"] <= min(found["width"], found["box"]["left"]
               + found["clientWidth"] + 1) for h in found["heads"]), found
    assert browser.problems() == []


@require_program(CHROMIUM, "install Debian's chromium: `apt-get install -y chromium`, as .ci/run does")
def test_on_a_phone_the_matrix_scrolls_in_its_box_with_the_clause_column_in_place(site_url, browser):
    browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
    try:
        browser.navigate(site_url + "conformance/")
        found = browser.evaluate(GEOMETRY)
        assert found["width"] == 390
        assert found["page"] <= found["width"], "the page itself scrolls sideways"
        assert found["scrollWidth"] > found["clientWidth"]  # the matrix scrolls, inside its own box
        browser.evaluate("document.querySelector('.bn-matrix').scrollIntoView()")
        scrolled = browser.evaluate(SCROLLED)
        assert scrolled["scrolled"] > 0
        assert abs(scrolled["left"] - scrolled["box"]) <= 2, f"the clause column moved: {scrolled}"
        assert scrolled["onTop"], "the clause column is hidden under the scrolled cells"
        assert scrolled["lastRight"] <= scrolled["boxRight"] + 1, "the last target's column is out of reach"
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")
