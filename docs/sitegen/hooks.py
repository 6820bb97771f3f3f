"""mkdocs hooks: the vendored KaTeX, the figures, and the directives of the pages.

- ``on_files`` adds KaTeX (installed from npm at a pinned version by ``make
  docs`` into build/npm/) under ``vendor/katex/`` -- formulas render offline,
  from the site alone -- and the figures drawn by :mod:`sitegen.figures` under
  ``figures/``.  It runs after the i18n plugin's own ``on_files`` (priority
  -200 < -100), so that each language's build gets its own copy.
- ``on_page_markdown`` expands ``{{ name(args) }}`` directives:
  ``clauses()`` -- the list of every clause; ``clauses("subject")`` -- every
  clause of a subject, as a whole page; ``clause_groups("subject")`` -- the
  same clauses without the page's title and introduction, for a page that
  introduces its subject in its own prose (spec/optimizer.md);
  ``protocol("kind")`` -- the protocol functions of a kind of target
  (``layer``, ``optimizer``); ``pinned("L6")`` -- the clauses that cite a source
  (:mod:`sitegen.spec_pages`); ``source("dotted.path")`` --
  the code of a function, class or module, pulled from its file with its line
  numbers and a link to its API entry; ``profiles()`` and ``matrix()`` -- the
  tables of the conformance page, ``profiles("optimizer")`` -- the profiles'
  forms of the optimizers alone, ``diagnoses()`` -- the diagnoses' vocabulary
  (:mod:`sitegen.conformance`).  An unknown
  directive, symbol, subject or kind fails the build.
- ``on_page_content`` drops the Sphinx roles (``:func:``) that the docstrings
  put before a name, which mkdocstrings shows as text.
- ``on_post_page`` drops the ``<link rel="alternate" hreflang>`` tags of the
  head: Material's script fetches ``sitemap.xml`` beside each of them, which
  only works with an absolute ``site_url`` (a site that works from any folder
  has none).  The language selector keeps its links to each page's translation.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

from bnspec.spec.clauses import KINDS

# mkdocs loads this hook by path: put docs/ on sys.path before importing sitegen (hence E402).
_DOCS = str(Path(__file__).resolve().parents[1])
if _DOCS not in sys.path:
    sys.path.insert(0, _DOCS)

from sitegen import ROOT, conformance, figures, links, source, spec_pages  # noqa: E402

#: Where `make docs` installs the npm package katex (see the Makefile's KATEX_VERSION).
KATEX_DIST = ROOT / "build" / "npm" / "node_modules" / "katex" / "dist"
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")

_DIRECTIVE = re.compile(r"\{\{\s*(\w+)\((.*?)\)\s*\}\}")
_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|exc|obj):(?=<code)")
_ALTERNATE = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')


@functools.cache
def _figures() -> dict[str, bytes]:
    return figures.render()  # once per build, whatever the number of languages


@event_priority(-200)
def on_files(files, config):
    if not (KATEX_DIST / KATEX_FILES[0]).is_file():
        raise PluginError(f"KaTeX is not installed in {KATEX_DIST}: run `make docs` (it installs the npm package)")
    wanted = [*KATEX_FILES, *(f"fonts/{p.name}" for p in sorted((KATEX_DIST / "fonts").iterdir()))]
    for name in wanted:
        files.append(File.generated(config, f"vendor/katex/{name}", abs_src_path=str(KATEX_DIST / name)))
    for name, svg in _figures().items():
        files.append(File.generated(config, f"figures/{name}", content=svg))
    return files


def _language(page) -> str:
    return "zh-TW" if ".zh-TW." in page.file.src_uri else "en"


def _source_block(dotted: str, page_uri: str, language: str) -> str:
    try:
        found = source.snippet(dotted)
    except ValueError as error:
        raise PluginError(f"{page_uri}: {error}") from None
    label = "API 參考中的" if language == "zh-TW" else "in the API reference"
    link = links.api_link(dotted, page_uri)
    fence = "````" if "```" in found.code else "```"
    return (f'{fence}python title="{found.path.as_posix()}" linenums="{found.first_line}"\n{found.code}\n{fence}\n\n'
            f"<small>[`{dotted}`]({link}) {label}</small>\n")


def _expand(match: re.Match, page) -> str:
    name, raw = match.group(1), match.group(2).strip()
    args = [ast.literal_eval(a.strip()) for a in raw.split(",")] if raw else []
    language, uri = _language(page), page.file.src_uri
    if name == "clauses" and not args:
        return spec_pages.overview_page(language)
    if name == "clauses" and len(args) == 1:
        return spec_pages.subject_page(args[0], language)
    if name == "clause_groups" and len(args) == 1:
        try:
            return spec_pages.clause_groups(args[0], language)
        except ValueError as error:
            raise PluginError(f"{uri}: {error}") from None
    if name == "protocol" and len(args) == 1:
        if args[0] not in KINDS:
            raise PluginError(f"{uri}: protocol({args[0]!r}): the kinds are {KINDS}")
        return spec_pages.protocol_table(args[0], language)
    if name == "pinned" and len(args) == 1:
        try:
            return spec_pages.pinned(args[0], uri, language)
        except ValueError as error:
            raise PluginError(f"{uri}: {error}") from None
    if name == "source" and len(args) == 1:
        return _source_block(args[0], uri, language)
    if name == "profiles" and not args:
        return conformance.profiles_table(language, uri)
    if name == "profiles" and args == ["optimizer"]:
        return conformance.optimizer_forms_table(language)
    if name == "matrix" and not args:
        return conformance.matrix_section(uri, language)
    if name == "diagnoses" and not args:
        return conformance.diagnoses_table()
    raise PluginError(f"{uri}: unknown directive {match.group(0)!r}")


def on_page_markdown(markdown, page, config, files):
    return _DIRECTIVE.sub(lambda m: _expand(m, page), markdown)


def on_page_content(html, page, config, files):
    # The docstrings cite with Sphinx roles (:func:`x`), which mkdocstrings leaves as text before the code.
    return _ROLE.sub("", html)


def on_post_page(output, page, config):
    return _ALTERNATE.sub("", output)
