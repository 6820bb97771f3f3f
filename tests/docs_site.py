"""The documentation site for the docs tests: built once per test session, and read.

:func:`built_site` runs ``mkdocs build --strict`` into the session's temporary
folder.  Under pytest-xdist every worker asks for it; a file lock in the
folder shared by the workers makes the first one build and the others reuse
that build.  :func:`parse` reads a page's ids, links and resources with the
standard library's HTML parser.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from requirements import missing_program, need_extra, need_path

ROOT = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).with_name("mkdocs")
#: The mark of every test module that reads the built site: under pytest-xdist (`--dist loadgroup`) they all
#: run on one worker, so that the other never waits on the build's lock (half a minute) and goes on with the
#: rest of the suite.
ON_THE_SITES_WORKER = pytest.mark.xdist_group("docs-site")
#: Where `make docs` (and `make test`) installs the npm package katex; docs/sitegen/hooks.py copies it into the site.
KATEX = ROOT / "build" / "npm" / "node_modules" / "katex" / "dist"


def built_site(tmp_path_factory) -> Path:
    """The site built from this tree, shared by the session's workers.  Skipped (failed under
    BNSPEC_REQUIRE_ALL=1) without the docs extra or KaTeX."""
    need_extra("docs")
    need_path(KATEX, "`make docs` installs KaTeX from npm" + (
        "; npm is not installed either" if missing_program("npm", "") else ""))
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    site = shared / "docs-site"
    with open(shared / "docs-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        log = shared / "docs-site.log"
        if not (site / "index.html").is_file():
            if log.is_file():  # an earlier worker's build failed: report it again, do not rebuild
                raise AssertionError(f"mkdocs build --strict failed:\n{log.read_text()}")
            env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
            env.pop("BNSPEC_DOCS_MATRIX", None)  # the committed matrix only
            done = subprocess.run([str(MKDOCS), "build", "--strict", "--site-dir", str(site)], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                log.write_text(done.stdout + done.stderr)
                raise AssertionError(f"mkdocs build --strict failed:\n{done.stdout}{done.stderr}")
    return site


def page_file(site: Path, uri: str) -> Path:
    """The HTML file of a page URL relative to the site (``spec/layer/`` -> spec/layer/index.html)."""
    path = site / uri
    return path / "index.html" if uri.endswith("/") or uri == "" else path


#: Elements and attributes that make a browser fetch something.
RESOURCE_ATTRIBUTES = {"script": ("src",), "link": ("href",), "img": ("src", "srcset"), "iframe": ("src",),
                       "source": ("src", "srcset"), "video": ("src", "poster"), "audio": ("src",),
                       "embed": ("src",), "object": ("data",), "image": ("href", "xlink:href"),
                       "use": ("href", "xlink:href"), "track": ("src",), "input": ("src",)}


@dataclass
class Page:
    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)  # <a href>
    resources: list[tuple[str, str]] = field(default_factory=list)  # (tag, URL) the browser would load
    inline_styles: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if values.get("id"):
            self.page.ids.add(values["id"])
        if tag == "a" and values.get("href"):
            self.page.links.append(values["href"])
        for name in RESOURCE_ATTRIBUTES.get(tag, ()):
            if values.get(name) and not (tag == "link" and values.get("rel") in ("canonical", "alternate")):
                self.page.resources.append((tag, values[name]))
        if values.get("style"):
            self.page.inline_styles.append(values["style"])
        self.in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        (self.page.inline_styles if self.in_style else self.page.text).append(data)


def parse(path: Path) -> Page:
    parser = _Parser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.page
