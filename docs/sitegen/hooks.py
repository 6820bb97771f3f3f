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
  (:mod:`sitegen.conformance`); ``zoo()`` -- the faulty implementations of the
  tests and the clauses that catch them (:mod:`sitegen.zoo`); ``changelog()``
  -- the releases (:mod:`sitegen.changelog`); ``tutorial("part")`` -- a part of
  the tutorial's real run of ``bnspec check`` (:mod:`sitegen.tutorial`).  An
  unknown directive, symbol, subject or kind fails the build.  A directive
  that begins an indented line (in an admonition, a list) keeps its block there.
  On the zh-TW site, a page with no translation (the API reference) opens with
  a notice (:data:`UNTRANSLATED`).
- ``on_config`` puts bnspec's version and commit (:mod:`bnspec.spec.about`) in
  every page's footer.
- ``on_page_content`` drops the Sphinx roles (``:func:``) that the docstrings
  put before a name, which mkdocstrings shows as text.
- ``on_post_page`` drops the ``<link rel="alternate" hreflang>`` tags of the
  head: Material's script fetches ``sitemap.xml`` beside each of them, which
  only works with an absolute ``site_url`` (a site that works from any folder
  has none).  The language selector keeps its links to each page's translation,
  made relative where Material writes them from the site's root (the home
  pages); javascripts/language-switch.js carries the reader's anchor over.
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

from bnspec.spec import about
from bnspec.spec.clauses import KINDS

# mkdocs loads this hook by path: put docs/ on sys.path before importing sitegen (hence E402).
_DOCS = str(Path(__file__).resolve().parents[1])
if _DOCS not in sys.path:
    sys.path.insert(0, _DOCS)

from sitegen import ROOT, changelog, conformance, figures, links, search, source, spec_pages, tutorial, zoo  # noqa: E402

#: Where `make docs` installs the npm package katex (see the Makefile's KATEX_VERSION).
KATEX_DIST = ROOT / "build" / "npm" / "node_modules" / "katex" / "dist"
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")

_DIRECTIVE = re.compile(r"\{\{\s*(\w+)\((.*?)\)\s*\}\}")
_ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|exc|obj):(?=<code)")
_ALTERNATE = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')


@functools.cache
def _figures() -> dict[str, bytes]:
    return figures.render()  # once per build, whatever the number of languages


def on_config(config):
    # Every page's footer says which bnspec it documents (bnspec.spec.about: the version, the commit),
    # in words that read the same in both languages; the changelog page says how to cite a clause.
    config["copyright"] = about.stamp()
    return config


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
    entry = f"[`{dotted}`]({links.api_link(dotted, page_uri)})"
    # The caption under the code, in the word order of each language.
    caption = f"{entry} 在 API 參考中的條目" if language == "zh-TW" else f"{entry} in the API reference"
    fence = "````" if "```" in found.code else "```"
    return (f'{fence}python title="{found.path.as_posix()}" linenums="{found.first_line}"\n{found.code}\n{fence}\n\n'
            f"<small>{caption}</small>\n")


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
        return conformance.diagnoses_table(language)
    if name == "changelog" and not args:
        return changelog.page(language, uri)
    if name == "tutorial" and len(args) == 1:
        try:
            return tutorial.block(args[0])
        except ValueError as error:
            raise PluginError(f"{uri}: {error}") from None
    if name == "zoo" and not args:
        try:
            return zoo.page(language, uri)
        except ValueError as error:
            raise PluginError(f"{uri}: {error}") from None
    raise PluginError(f"{uri}: unknown directive {match.group(0)!r}")


def _indented(match: re.Match, page) -> str:
    """A directive's expansion, its lines after the first indented as the directive's line is when the
    directive begins that line (inside an admonition or a list item, a block must keep its indentation)."""
    text = _expand(match, page)
    start = match.string.rfind("\n", 0, match.start()) + 1
    prefix = match.string[start:match.start()]
    return text.replace("\n", "\n" + prefix) if prefix and not prefix.strip() else text


#: The notice on a page of the zh-TW site that has no translation (the i18n plugin's fallback: the API
#: reference, written from the code's English docstrings).
UNTRANSLATED = '!!! note "英文頁面"\n    本頁沒有繁體中文版，以下是英文原文：API 參考取自程式碼中的英文說明文件。\n'


def _build_language(config) -> str:
    """The language of the site being built (the i18n plugin builds one after the other)."""
    return "zh-TW" if str(config.theme["language"]).startswith("zh") else "en"


def on_page_markdown(markdown, page, config, files):
    expanded = _DIRECTIVE.sub(lambda m: _indented(m, page), markdown)
    if _build_language(config) == "zh-TW" and _language(page) == "en":
        title, newline, rest = expanded.partition("\n")
        return f"{title}\n\n{UNTRANSLATED}{newline}{rest}" if title.startswith("# ") else UNTRANSLATED + expanded
    return expanded


def on_page_content(html, page, config, files):
    # The docstrings cite with Sphinx roles (:func:`x`), which mkdocstrings leaves as text before the code.
    return _ROLE.sub("", html)


_ROOT_LINK = re.compile(r'(<a href=")/([^/"][^"]*|)(" hreflang="[^"]*" class="md-select__link")')


def on_post_page(output, page, config):
    # The language selector's links from the home pages are written from the site's root ("/zh-TW/"), which
    # breaks a site served from a folder: make them relative to the page, as every other link is.
    depth = page.file.dest_uri.count("/")  # from the site's root: zh-TW pages' dest_uri start with zh-TW/
    to_root = "/".join([".."] * depth) or "."
    output = _ROOT_LINK.sub(lambda m: f"{m.group(1)}{to_root}/{m.group(2)}{m.group(3)}", output)
    return _ALTERNATE.sub("", output)


@event_priority(-200)
def on_post_build(config):
    # After the i18n plugin's (-100), which builds the translations and merges their search entries: one index
    # per language, the translations' pages pointed at theirs (docs/sitegen/search.py).
    search.write_indexes(config)
