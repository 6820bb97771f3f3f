"""The site's search: one index per language, clause IDs found, Chinese segmented, formulas as text.

**How Material finds its index.**  Every page carries a ``<script id="__config">`` whose ``base``
is the relative path from the page to the site's root.  Material's bundle resolves it against the
page's address and fetches ``search/search_index.json`` from that base; the search worker builds
its lunr index from it, and each result links to ``new URL(location, base)``.  mkdocs-static-i18n
builds each language into the same site (the zh-TW pages under ``zh-TW/``, their ``base`` the
site's root), then merges the entries of every language into that one index -- dropping the
zh-TW entries equal to English ones, such as the API pages, which are kept in English.

**One index per language** (:func:`write_indexes`, called by the ``on_post_build`` hook after the
i18n plugin's, so after each language's build and after the merge): the root index keeps the
English entries only, and each translation gets its own, ``zh-TW/search/search_index.json``,
with the locations relative to ``zh-TW/`` -- taken from the search plugin when the zh-TW build
ends, so that it holds every page of the zh-TW site, the API pages included.  The ``base`` of
every page under ``zh-TW/`` is then set to that root (``..`` from ``zh-TW/lecture/``), so that the
page loads the zh-TW index and resolves its results under ``zh-TW/``.  Nothing else that reads
``base`` is on in this site (instant navigation and its sitemap, versions), and every path stays
relative: the site works from any folder, offline.

**Clause IDs.**  Material splits the *query* with lunr's query lexer, whose term separator is
lunr's default ``[\\s\\-]+`` whatever the configured one (Material replaces the tokenizer's
separator, not the lexer's): ``BN-NORM-1`` is always searched as ``bn norm 1*``.  A separator
that kept ``BN-NORM-1`` whole in the index would therefore make the clause unfindable by its ID;
the separator (``plugins: search: separator`` in mkdocs.yml) splits at hyphens, like the lexer.
The parts alone do not single the clause out: BN-NORM-2's zh-TW heading also holds ``bn``,
``norm`` and ``1`` (變異數為 1), and the API's attribute headings, whose title is the attribute's
whole value (``STATEMENTS = {'BN-SHAPE-1': ...}``), name every clause.  So :func:`clean_entry`
gives the entry of a clause's section its ID as a tag -- the field Material weighs most (a
million times the text, a thousand times the title), shown as a label beside the result: the
clause whose ID has every part of the query comes first, then the clauses that share some (the
rest of BN-NORM, then the other BN clauses).  It also keeps an attribute's name in the title and
moves its value to the text, where it is still found but no longer outweighs the headings.

**Chinese.**  Material's search plugin cuts the Han runs of every entry with jieba (when jieba is
installed: the ``docs`` extra) and joins the words with zero-width spaces, which the separator
splits at; the worker segments a Chinese query with the words of the index.  Without jieba the
zh-TW index would hold whole sentences as single words, so :func:`write_indexes` fails the
build when the zh-TW entries are not segmented.

**Formulas.**  Each entry is the text of a section, formulas included as their TeX source
(``\\(\\gamma\\)``), which the result previews show raw.  :func:`formula_text` writes each formula
as readable text (``γ``, ``(z − μ)/√(σ^2 + ε)``) outside code.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

from bnspec.spec.clauses import REGISTRY

log = logging.getLogger("mkdocs.plugins.bnspec.search")

try:  # jieba prints its progress on stderr at debug level; the build's log is enough
    import jieba

    jieba.setLogLevel(logging.WARNING)
except ImportError:  # write_indexes reports it when it matters: a translation with Chinese text
    pass

#: Where Material fetches the index, relative to a page's ``base``.
INDEX_PATH = "search/search_index.json"

_CONFIG_BASE = re.compile(r'(<script id="__config" type="application/json">\{[^<]*?"base": ")([^"]*)(")')
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CODE = re.compile(r"(<pre>.*?</pre>|<code>.*?</code>)", re.S)
_FORMULA = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.S)
_ATTRIBUTE_TITLE = re.compile(r"^<code>([A-Za-z_][\w.]*(?:: [^=<]+)?) = (.*?)</code>(.*)$", re.S)

# -- formulas as text -------------------------------------------------------------

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "partial": "∂", "nabla": "∇", "infty": "∞", "cdots": "⋯", "dots": "…", "ldots": "…", "sum": "Σ",
    "prod": "Π", "top": "⊤", "langle": "⟨", "rangle": "⟩", "lvert": "|", "rvert": "|", "vert": "|", "|": "‖",
    "{": "{", "}": "}", "%": "%", "&": "&amp;", "_": "_", "#": "#",
    # the operators and relations, spaced
    **{name: f" {symbol} " for name, symbol in (
        ("times", "×"), ("cdot", "·"), ("le", "≤"), ("leq", "≤"), ("ge", "≥"), ("geq", "≥"), ("ne", "≠"),
        ("neq", "≠"), ("approx", "≈"), ("equiv", "≡"), ("lesssim", "≲"), ("gtrsim", "≳"), ("ll", "≪"),
        ("gg", "≫"), ("in", "∈"), ("notin", "∉"), ("ni", "∋"), ("to", "→"), ("rightarrow", "→"),
        ("leftarrow", "←"), ("Rightarrow", "⇒"), ("Leftarrow", "⇐"), ("mapsto", "↦"), ("pm", "±"),
        ("mp", "∓"), ("odot", "⊙"), ("circ", "∘"), ("mid", "|"))},
}
_SPACES = {",", ";", ":", " ", "quad", "qquad", "\\"}
_IGNORED = {"!", "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "textstyle",
            "displaystyle", "limits", "nolimits"}
_STYLES = {"mathrm", "text", "textrm", "mathbf", "mathcal", "mathbb", "mathit", "mathsf", "mathtt", "texttt",
           "operatorname", "boldsymbol", "bm"}
_ACCENTS = {"tilde": "\u0303", "widetilde": "\u0303", "hat": "\u0302", "widehat": "\u0302", "bar": "\u0304",
            "overline": "\u0305", "vec": "\u20d7", "dot": "\u0307"}
_FRACTIONS = {"frac", "tfrac", "dfrac"}
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|&(?:[a-z]+|#\d+);|([{}^_&~])|(\s+)|(.)", re.S)


class _Formula:
    """A recursive reader of one formula's TeX, writing it as text."""

    def __init__(self, tex: str) -> None:
        self.tokens = [m for m in _TOKEN.finditer(tex)]
        self.i = 0

    def text(self, until_brace: bool = False) -> str:
        out = []
        while self.i < len(self.tokens):
            if until_brace and self.tokens[self.i].group(2) == "}":
                self.i += 1
                break
            out.append(self.atom())
        return "".join(out)

    def argument(self) -> str:
        """The next group ``{...}`` or single token, as text (spaces before it skipped)."""
        while self.i < len(self.tokens) and self.tokens[self.i].group(3):
            self.i += 1
        return self.atom() if self.i < len(self.tokens) else ""

    def atom(self) -> str:
        token = self.tokens[self.i]
        self.i += 1
        command, special, space = token.group(1), token.group(2), token.group(3)
        if command is not None:
            return self.command(command)
        if special == "{":
            return self.text(until_brace=True)
        if special in ("^", "_"):
            return special + _grouped(self.argument())
        if special in ("&", "~") or space:
            return " "
        if special == "}":  # unbalanced: dropped
            return ""
        return token.group(0)  # a character, or an HTML entity kept whole (&lt;)

    def command(self, name: str) -> str:
        if name in _SYMBOLS:
            return _SYMBOLS[name]
        if name in _SPACES:
            return " "
        if name in _IGNORED:
            return ""
        if name in _STYLES:
            return self.argument()
        if name in _ACCENTS:  # over one letter, the combining accent; over more, the accent's name
            argument = self.argument().strip()
            return argument + _ACCENTS[name] if len(argument) == 1 else f"{name}({argument})"
        if name in _FRACTIONS:  # spaced from what is around it, the spaces dropped before punctuation
            numerator = self.argument()
            return f" {_grouped(numerator)}/{_grouped(self.argument())} "
        if name == "sqrt":
            return "√" + _grouped(self.argument())
        return name  # \max, \log, \Var...: the name


def _grouped(text: str) -> str:
    """``text`` in parentheses unless it is a word, one symbol (accents included), a root or
    already in brackets."""
    text = text.strip()
    core = text.removeprefix("√")
    if re.fullmatch(r"\w+|.[\u0300-\u036f\u20d7]?", core) or _enclosed(core):
        return text
    return f"({text})"


def _enclosed(text: str) -> bool:
    """Whether ``text`` is one bracketed group: ``(a + b)``, not ``(a) + (b)``."""
    closing = {"(": ")", "[": "]"}.get(text[:1])
    depth = 0
    for k, c in enumerate(text):
        depth += (c == text[0]) - (c == closing)
        if depth == 0:
            return k == len(text) - 1
    return False


def formula_text(tex: str) -> str:
    """The TeX of one formula written as readable text: ``\\frac{z - \\mu}{\\sqrt{\\sigma^2 + \\varepsilon}}``
    -> ``(z − μ)/√(σ^2 + ε)``; Greek letters and operators as their characters, fonts and sizes
    dropped, an unknown command as its name."""
    text = re.sub(r"\s+", " ", _Formula(tex).text().replace(" - ", " − "))
    text = re.sub(r"(?<=[\w)])([ΣΠ])", r" \1", text)  # a sum after a factor: 1/m Σ
    return re.sub(r"([(\[]) | (?=[,.;)\]])", r"\1", text).strip()


def _formulas_as_text(html: str) -> tuple[str, int]:
    """``html`` (an entry's title or text) with each formula outside code as text, and how many."""
    count = 0

    def replace(match: re.Match) -> str:
        nonlocal count
        count += 1
        return formula_text(match.group(1) if match.group(1) is not None else match.group(2))

    parts = _CODE.split(html)
    for k in range(0, len(parts), 2):  # the even parts are outside code
        parts[k] = _FORMULA.sub(replace, parts[k])
    return "".join(parts), count


def clean_entry(entry: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """An index entry as the search should see it: a clause's section tagged with the clause's ID
    (its anchor), an API attribute's value moved from the title to the text (``<code>NAME =
    VALUE</code>`` -> title ``<code>NAME</code>``), every formula written as text
    (:func:`formula_text`).  Returns the new entry and the number of formulas rewritten."""
    entry = dict(entry)
    anchor = entry["location"].partition("#")[2]
    if anchor in REGISTRY:
        entry["tags"] = [*entry.get("tags", []), anchor]
    attribute = _ATTRIBUTE_TITLE.match(entry["title"])
    if attribute:
        name, value, rest = attribute.groups()
        entry["title"] = f"<code>{name}</code>{rest}"
        entry["text"] = f"<code>{value}</code> {entry['text']}".rstrip()
    entry["title"], in_title = _formulas_as_text(entry["title"])
    entry["text"], in_text = _formulas_as_text(entry["text"])
    return entry, in_title + in_text


def has_raw_tex(html: str) -> bool:
    """Whether ``html`` holds a TeX delimiter or command outside code."""
    outside = "".join(_CODE.split(html)[0::2])
    return bool(re.search(r"\\[()\[\]]|\$\$|\\[A-Za-z]{2,}\b", outside))


# -- one index per language -------------------------------------------------------


def split_index(index: dict[str, Any], roots: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The index ``{"config", "docs"}`` split by language: ``root -> index`` for the default
    language (root ``""``) and each translation root of ``roots`` (``"zh-TW/"``) that has entries,
    each with its locations relative to its root and the same config.  Entries are kept in order
    (Material needs a page's entry before its sections')."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in index["docs"]:
        root = next((r for r in roots if doc["location"].startswith(r)), "")
        groups.setdefault(root, []).append({**doc, "location": doc["location"][len(root):]})
    return {root: {"config": index["config"], "docs": docs} for root, docs in groups.items()}


def translation_roots(config) -> list[str]:
    """The folders of the translations built by the i18n plugin (``["zh-TW/"]``); none without it."""
    i18n = config.plugins.get("i18n")
    if i18n is None:
        return []
    return [f"{lang.locale}/" for lang in i18n.config.languages if lang.build and not lang.default]


def _search_plugin(config):
    for name in ("material/search", "search"):
        if name in config.plugins:
            return config.plugins[name]
    raise PluginError("search: Material's search plugin is not configured (plugins: - search)")


def set_base(html: str, page_dir: str, root: str) -> str:
    """A page's HTML (in folder ``page_dir`` of the site) with its ``__config`` base turned from the
    site's root to the translation's root ``root`` (``zh-TW``), both as relative paths; a page
    already turned is left as it is.  PluginError if the page has no such base."""
    old = posixpath.relpath(".", page_dir or ".")
    new = posixpath.relpath(root, page_dir or ".")
    found = [m.group(2) for m in _CONFIG_BASE.finditer(html)]
    if len(found) != 1 or found[0] not in (old, new):
        raise PluginError(f"search: {page_dir}/: expected one __config with base {old!r}, found {found}")
    return _CONFIG_BASE.sub(lambda m: m.group(1) + new + m.group(3), html)


def _segmented(docs: Iterable[dict[str, Any]]) -> bool:
    """Whether the Chinese of these entries is cut into words (Material's jieba step): none has
    Chinese, or some hold the zero-width spaces between the words (a one-word text has none)."""
    chinese = [doc["title"] + doc["text"] for doc in docs if _HAN.search(doc["title"] + doc["text"])]
    return not chinese or any("\u200b" in text for text in chinese)


def _write(site: Path, root: str, index: dict[str, Any]) -> None:
    docs, formulas, with_tex = [], 0, 0
    for doc in index["docs"]:
        cleaned, count = clean_entry(doc)
        docs.append(cleaned)
        formulas, with_tex = formulas + count, with_tex + (count > 0)
    left = sum(has_raw_tex(doc["title"]) or has_raw_tex(doc["text"]) for doc in docs)
    path = site / root / INDEX_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": index["config"], "docs": docs}, ensure_ascii=False,
                               separators=(",", ":")), encoding="utf-8")
    log.info(f"search: {path.relative_to(site).as_posix()}: {len(docs)} entries; {formulas} formulas in "
             f"{with_tex} of them written as text, {left} with TeX left")


def _point_pages(site: Path, root: str) -> None:
    """Turn the ``base`` of every page under ``root`` to ``root`` (HTML without Material's config skipped)."""
    turned = 0
    for page in sorted((site / root).rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        if 'id="__config"' in html:
            page.write_text(set_base(html, page.parent.relative_to(site).as_posix(), root.rstrip("/")),
                            encoding="utf-8")
            turned += 1
    if not turned:
        raise PluginError(f"search: no page under {root} holds Material's __config")


def write_indexes(config) -> None:
    """Write this build's search index(es) and point the translation's pages at theirs.

    Runs at the end of each language's build.  The search plugin's entries are then either that
    build's own (one language) or, after the last build, the i18n plugin's merge of all of them:
    from a merge only the default language's entries are taken, the translation's having been
    written, whole, at the end of its own build."""
    site = Path(config.site_dir)
    index = json.loads(_search_plugin(config).search_index.generate_search_index(None))
    by_root = split_index(index, translation_roots(config))
    if len(by_root) > 1:  # the merge: the default language's only
        by_root = {"": by_root[""]} if "" in by_root else {}
    for root, part in by_root.items():
        if root and not _segmented(part["docs"]):
            raise PluginError(f"search: the {root} entries are not cut into words: install jieba "
                              "(the docs extra), which Material's search plugin uses for Chinese")
        _write(site, root, part)
        if root:
            _point_pages(site, root)
