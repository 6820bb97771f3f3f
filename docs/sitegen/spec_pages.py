"""The specification pages, generated from the clause registry (never copied).

``spec/index.md`` lists every clause; ``spec/<subject>.md`` holds each clause
of that subject (``layer``, ``network``, ``optimizer``), grouped by ID prefix,
under a heading whose anchor is the clause's ID exactly (``#BN-SHAPE-1``,
``#OPT-ADAM-1``): level, the kind of target it is about where that is not a
layer, statement, the formula rendered by KaTeX, the sources (lecture claims
link to the walk-through), the reference code that implements it and the
property that checks it (both in the API reference, with their source), and the faulty
implementations of the tests it catches (conformance/zoo.md, :mod:`sitegen.zoo`).
:func:`subject_page` is a whole page (``{{ clauses("layer") }}``);
:func:`clause_groups` only its clauses, for a page that introduces its subject
in its own prose (``{{ clause_groups("optimizer") }}``, spec/optimizer.md);
:func:`protocol_table` the functions of one kind of target
(``{{ protocol("optimizer") }}``).  The Traditional Chinese pages take each
statement from :mod:`bnspec.spec.clauses.zh_tw` (English where it has none yet).
"""

from __future__ import annotations

import re
from typing import Any

from bnspec.spec.clauses import Clause, all_clauses
from bnspec.spec.clauses.zh_tw import STATEMENTS, TITLES
from bnspec.spec.protocol import FUNCTIONS, Kind, Layout, Role

from . import links, zoo

_TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Specification",
        "subjects": {"layer": "The layer", "network": "The network", "optimizer": "The optimizer"},
        "about": {
            "layer": "The protocol functions of the implementation under test (any subset: a missing one makes "
                     "its clauses \"not applicable\"). Shapes in each layout, for n units and m examples:",
            "network": "The reference network with the implementation's BN plugged in between Z and A (L1). "
                       "[OPT-NET-1](#OPT-NET-1), below, belongs to the optimizer protocol: the same "
                       "network, its BN the reference's, trained with the implementation's optimizer (L4). It runs "
                       "for a target of kind `optimizer`; that protocol's other clauses are on "
                       "[the optimizer's page](optimizer.md).",
        },
        "level": "Level", "subject": "Subject", "kind": "Kind", "sources": "Sources", "implements": "Implemented by",
        "property": "Checked by", "catches": "Catches", "none": "no property registered", "clause": "Clause",
        "title_col": "Title",
        "intro": (
            "Every clause has a stable ID, a level ([RFC 2119](https://www.rfc-editor.org/rfc/rfc2119): **MUST** or "
            "**SHOULD**), a statement, its formula and its sources: the lecture's claims (L1-L12, see "
            "[the walk-through](../lecture.md)), sections of Ioffe & Szegedy (2015) or, for the optimizers, of "
            "Kingma & Ba (2015) and Tieleman & Hinton (2012), or a convention. These pages "
            "are generated from the clause registry (`spec/clauses/`) at every build.\n\n"
            "**Two protocols.** A target of kind `layer` is a batch norm ([the layer](layer.md), "
            "[the network](network.md)); a target of kind `optimizer` is one step of each optimizer that trains "
            "it ([the optimizer](optimizer.md), and OPT-NET-1 on the network's page). A run shows the clauses "
            "of its target's kinds; `bnspec check reference` runs both.\n\n"
            "**Anchors.** A clause's anchor is its ID exactly, in capitals: `spec/layer.md#BN-SHAPE-1` "
            "(`/spec/layer/#BN-SHAPE-1` in the built site). Each clause links to the reference code that "
            "implements it and to the property (`spec/properties/`) that checks it, both in the API reference "
            "with their source. `bnspec check TARGET --clause ID` runs one clause."),
    },
    "zh-TW": {
        "title": "規格",
        "subjects": {"layer": "批次標準化層", "network": "網路", "optimizer": "最佳化器"},
        "about": {
            "layer": "受測實作的協定函式（可只實作其中一部分：缺少的函式使其條款「不適用」）。"
                     "n 個單元、m 個樣本時，各佈局下的形狀：",
            "network": "參考網路，在 Z 與 A 之間插入受測實作的批次標準化（L1）。"
                       "下方的 [OPT-NET-1](#OPT-NET-1) 屬於最佳化器協定：同一個網路、其批次標準化用參考實作的，"
                       "以受測實作的最佳化器訓練（L4）。它在種類為 `optimizer` 的目標上執行；"
                       "該協定的其他條款在[最佳化器的頁面](optimizer.md)。",
        },
        "level": "等級", "subject": "主題", "kind": "種類", "sources": "來源", "implements": "實作",
        "property": "由性質檢查", "catches": "能抓出", "none": "尚未登錄性質", "clause": "條款", "title_col": "標題",
        "intro": (
            "每個條款都有固定的 ID、等級（[RFC 2119](https://www.rfc-editor.org/rfc/rfc2119)：**MUST** 或 "
            "**SHOULD**）、一句陳述、公式與來源：講座的論點（L1-L12，見[逐步解說](../lecture.md)）、"
            "Ioffe 與 Szegedy（2015）的章節（最佳化器則為 Kingma 與 Ba（2015）、Tieleman 與 Hinton（2012）），"
            "或慣例。這些頁面在每次建置時由條款登錄表（`spec/clauses/`）產生。\n\n"
            "**兩個協定。** 種類為 `layer` 的目標是一個批次標準化（[批次標準化層](layer.md)、[網路](network.md)）；"
            "種類為 `optimizer` 的目標是訓練它的各種最佳化器的一步（[最佳化器](optimizer.md)，以及網路頁面上的 "
            "OPT-NET-1）。一次執行只列出目標所屬種類的條款；`bnspec check reference` 兩者都執行。\n\n"
            "**錨點。** 條款的錨點就是它的 ID（大寫）：`spec/layer.md#BN-SHAPE-1`。每個條款都連到實作它的參考程式碼"
            "與檢查它的性質（`spec/properties/`），兩者都在 API 參考中並附原始碼。"
            "`bnspec check TARGET --clause ID` 只執行一個條款。"),
    },
}

_PAPER = re.compile(r"^paper\s+(.*)$")


def plain(text: str) -> str:
    """Plain text as Markdown: no emphasis or code from ``*``, ``_`` or backticks (``__call__`` stays as is),
    no attribute list from braces (``{float16, float32}`` stays), no link from brackets, no HTML from ``<``."""
    for char in "\\*_`{}[]":
        text = text.replace(char, "\\" + char)
    return text.replace("<", "&lt;")


def english(text: str, language: str) -> str:
    """Text that stays English on a page of another language (data, docstrings, the frameworks' findings as
    written), marked ``lang="en"`` there: readers' tools and the browser test tell it from untranslated prose."""
    return text if language == "en" else f'<span lang="en">{text}</span>'


def statement(clause: Clause, language: str) -> str:
    """The clause's statement in ``language`` (English where no translation exists yet)."""
    return STATEMENTS.get(clause.id, clause.statement) if language == "zh-TW" else clause.statement


def title(clause: Clause, language: str) -> str:
    """The clause's title in ``language`` (zh-TW: :data:`bnspec.spec.clauses.zh_tw.TITLES`)."""
    return TITLES[clause.id] if language == "zh-TW" else clause.title


def _source(text: str, page: str) -> str:
    link = links.claim_link(text, page)
    if link:
        return f"[{text}]({link})"
    paper = _PAPER.match(text)
    if paper:
        return "Ioffe & Szegedy (2015), " + paper.group(1).replace("Alg.", "Algorithm")
    return text


def _code(dotted: str, page: str, entry: str | None = None) -> str:
    """``dotted`` as code, linked to its API entry (or to ``entry``'s, where it has none of its own)."""
    return f"[`{dotted.removeprefix('bnspec.')}`]({links.api_link(entry or dotted, page)})"


def clause_block(clause: Clause, page: str, language: str) -> str:
    t = _TEXT[language]
    prop = links.property_of(clause.id)
    checked = _code(prop.qualname, page, links.property_entry(prop)) if prop else f"*{t['none']}*"
    implements = ", ".join(_code(d, page) for d in clause.implements) or "—"
    # the kind of target the clause runs for, where it is not a layer (OPT-NET-1 on the network page too)
    kind = f" · {t['kind']}: `{clause.kind}`" if clause.kind != "layer" else ""
    # the faulty implementations of the tests that this clause must reject (a clause no one targets: no line)
    caught = ", ".join(f"[`{f.name}`]({zoo.fault_link(f, page)})" for f in zoo.catching(clause.id))
    return "\n".join([
        f"### {clause.id} · {plain(title(clause, language))} {{ #{clause.id} }}",
        "",
        f"**{clause.level}** · {t['subject']}: `{clause.subject}`{kind}",
        "",
        plain(statement(clause, language)),
        "",
        "$$",
        clause.formula,
        "$$",
        "",
        f"- **{t['sources']}:** " + "; ".join(_source(s, page) for s in clause.sources),
        f"- **{t['implements']}:** {implements}",
        f"- **{t['property']}:** {checked}",
        *([f"- **{t['catches']}:** {caught}"] if caught else []),
        "",
    ])


def protocol_table(kind: Kind = "layer", language: str = "en") -> str:
    """The protocol functions of one kind of target, read from :data:`bnspec.spec.protocol.FUNCTIONS`
    (its one declaration): a layer's with the shape of each argument role in each layout; an optimizer's
    with its arrays (all of the parameter's shape and dtype, in any layout) and its scalars."""
    if kind == "optimizer":
        return _optimizer_table(language)
    layouts = list(Layout)
    rows = ["| function | " + " | ".join(f"`{layout.value}`" for layout in layouts) + " |",
            "|---|" + "---|" * len(layouts)]
    for signature in FUNCTIONS.values():
        if signature.kind != kind:
            continue
        cells = []
        for layout in layouts:
            args = ", ".join(f"{slot.name} {layout.letters(slot.role)}" for slot in signature.arguments)
            results = ", ".join(f"{slot.name} {layout.letters(slot.role)}" for slot in signature.results)
            cells.append(f"({args}) → ({results})")
        rows.append(f"| `{signature.text()}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _optimizer_table(language: str) -> str:
    head = ("| 函式 | 陣列（與 p 同形狀、同 dtype，每個結果亦然） | 純量 |" if language == "zh-TW" else
            "| function | arrays (p's shape and dtype, as every result) | scalars |")
    rows = [head, "|---|---|---|"]
    for signature in FUNCTIONS.values():
        if signature.kind != "optimizer":
            continue
        arrays = ", ".join(f"`{s.name}`" for s in signature.arguments if s.role is Role.PARAM)
        scalars = ", ".join(f"`{s.name}`" for s in signature.arguments if s.role is Role.SCALAR)
        rows.append(f"| `{signature.text()}` | {arrays} | {scalars} |")
    return "\n".join(rows)


def clause_groups(subject: str, language: str) -> str:
    """Every clause of ``subject``, under a heading per ID prefix (``## OPT-ADAM``)."""
    page = f"spec/{subject}.md"
    parts: list[str] = []
    group = None
    for clause in all_clauses():
        if clause.subject != subject:
            continue
        if clause.group != group:
            group = clause.group
            parts += [f"## {group}", ""]
        parts.append(clause_block(clause, page, language))
    if not parts:
        raise ValueError(f"subject: no clause is about {subject!r}")
    return "\n".join(parts)


def subject_page(subject: str, language: str) -> str:
    t = _TEXT[language]
    parts = [f"# {t['subjects'].get(subject, subject)}", "", t["about"].get(subject, ""), ""]
    if subject == "layer":
        parts += [protocol_table("layer"), ""]
    parts.append(clause_groups(subject, language))
    return "\n".join(parts)


def overview_page(language: str) -> str:
    t = _TEXT[language]
    page = "spec/index.md"
    rows = [f"| {t['clause']} | {t['level']} | {t['title_col']} | {t['subject']} |", "|---|---|---|---|"]
    for clause in all_clauses():
        subject = t["subjects"].get(clause.subject, clause.subject)
        subject_link = links.relative(page, links.clause_page(clause))
        rows.append(f"| [{clause.id}]({links.clause_link(clause, page)}) | {clause.level} | "
                    f"{plain(title(clause, language))} | [{subject}]({subject_link}) |")
    return "\n".join([f"# {t['title']}", "", t["intro"], "", *rows, ""])


def pinned(source: str, page: str, language: str) -> str:
    """The clauses that cite ``source`` (a lecture claim such as ``L6``, or a
    paper section such as ``paper Alg. 1``), as a list of links: what pins a
    step of the walk-through, read from the registry."""
    label = "由這些條款規定" if language == "zh-TW" else "Pinned by"
    cited = [c for c in all_clauses() if source in c.sources]
    if not cited:
        raise ValueError(f"source: no clause cites {source!r}")
    items = [f"[{c.id}]({links.clause_link(c, page)}) {c.level} — {plain(statement(c, language))}" for c in cited]
    return "\n".join([f'!!! abstract "{label} ({source})"', "", *(f"    - {item}" for item in items), ""])
