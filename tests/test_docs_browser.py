"""The built site in headless Chromium (Debian's /usr/bin/chromium), served from
127.0.0.1 with no other network: every formula rendered by KaTeX (no raw TeX
left), no console error, warning or failed load, no request leaving the local
server; a screenshot of a clause page is saved to build/docs-browser/."""

from __future__ import annotations

import functools
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from cdp import CHROMIUM, Browser
from docs_site import ROOT, built_site
from requirements import require_program

# Without Chromium every test here is skipped (failed under BNSPEC_REQUIRE_ALL=1), before the site is built.
pytestmark = require_program(CHROMIUM, "install Debian's chromium: `apt-get install -y chromium`, as .ci/run does")

SCREENSHOTS = ROOT / "build" / "docs-browser"
PAGES = ("", "lecture/", "spec/layer/", "spec/network/", "zh-TW/spec/layer/", "zh-TW/lecture/", "conformance/",
         "api/reference/")
RAW_TEX = ("\\(", "\\)", "\\[", "\\]", "$$")

# What each page reports: formulas, those rendered by KaTeX, and raw TeX delimiters left in the text
# outside KaTeX's own output (whose MathML annotation keeps the source on purpose).
PROBE = """(() => {
  const formulas = [...document.querySelectorAll('.arithmatex')];
  const unrendered = formulas.filter(f => !f.querySelector('.katex')).map(f => f.textContent.slice(0, 80));
  const clone = document.querySelector('article') ? document.querySelector('article').cloneNode(true) : document.body;
  clone.querySelectorAll('.katex, pre, code').forEach(e => e.remove());
  return {formulas: formulas.length, katex: document.querySelectorAll('.katex').length, unrendered,
          text: clone.textContent};
})()"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    site = built_site(tmp_path_factory)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Browser(tmp_path_factory.mktemp("chromium"))
    yield chromium.page()
    chromium.close()


@pytest.mark.parametrize("uri", PAGES)
def test_page_renders_its_formulas_offline_without_errors(server, browser, uri):
    browser.navigate(server + uri)
    report = browser.evaluate(PROBE)
    assert browser.problems() == []
    # data: URLs (Material's inline icons) are part of the page; any other request must go to the local server.
    outside = [u for u in browser.requested_urls()
               if urlsplit(u).scheme != "data" and urlsplit(u).hostname != "127.0.0.1"]
    assert outside == [], f"requests leaving the site: {outside}"
    assert report["unrendered"] == [], f"formulas left as TeX: {report['unrendered']}"
    assert report["katex"] >= report["formulas"]
    assert not [t for t in RAW_TEX if t in report["text"]], "raw TeX delimiters in the page's text"
    if uri in ("lecture/", "spec/layer/", "zh-TW/spec/layer/"):
        assert report["formulas"] > 5


def test_screenshot_of_a_clause_page(server, browser):
    browser.navigate(server + "spec/layer/")  # a new document whatever the page before (a fragment alone is not)
    assert browser.evaluate("(() => { document.getElementById('BN-NORM-2').scrollIntoView(); return scrollY > 0; })()")
    assert browser.evaluate("document.querySelectorAll('.katex').length") > 0
    time.sleep(0.5)  # let the header's scroll transition finish
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "clause-page.png"
    browser.screenshot(shot)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 20_000
