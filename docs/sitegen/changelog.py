"""The changelog page: every release of the specification and what it changed, computed from
the records of :mod:`bnspec.spec.history` (spec/releases.json), newest first, with the changes
not yet released at the top."""

from __future__ import annotations

from bnspec.spec import about, history
from bnspec.spec.clauses import REGISTRY

from . import links

_WORDS = {
    "en": {"unreleased": "Unreleased", "unreleased_note": "Changes in this tree since the last release.",
           "first": "The specification at this release: {count} clauses ({must} MUST, {should} SHOULD).",
           "added": "Clauses added", "retired": "Clauses retired", "renamed": "Clauses renamed",
           "relevelled": "Clauses re-levelled", "tolerances": "Tolerances changed",
           "tolerance_table": "Tolerances at this release", "name": "tolerance", "value": "value",
           "none": "No clause or tolerance changed.", "was": "was", "now": "now", "none_value": "none"},
    "zh-TW": {"unreleased": "尚未發布", "unreleased_note": "此樹自上一個版本以來的變更。",
              "first": "此版本的規格：共 {count} 條條款（MUST {must} 條、SHOULD {should} 條）。",
              "added": "新增的條款", "retired": "移除的條款", "renamed": "改名的條款",
              "relevelled": "改變等級的條款", "tolerances": "改變的容許誤差",
              "tolerance_table": "此版本的容許誤差", "name": "容許誤差", "value": "值",
              "none": "沒有條款或容許誤差改變。", "was": "原為", "now": "現為", "none_value": "無"},
}


def _clause(clause_id: str, page_uri: str) -> str:
    found = REGISTRY.get(clause_id)
    return f"[{clause_id}]({links.clause_link(found, page_uri)})" if found else f"`{clause_id}`"


def _changes(found: history.Changes, page_uri: str, language: str) -> list[str]:
    w = _WORDS[language]
    if not found:
        return [w["none"]]
    lines = []
    if found.added:
        lines.append(f"- **{w['added']}:** " + ", ".join(_clause(c, page_uri) for c in found.added))
    if found.retired:
        lines.append(f"- **{w['retired']}:** " + ", ".join(
            f"`{c}` ({history.RETIRED.get(c, '')})" for c in found.retired))
    if found.renamed:
        lines.append(f"- **{w['renamed']}:** " + ", ".join(
            f"`{old}` → {_clause(new, page_uri)}" for old, new in found.renamed))
    if found.relevelled:
        lines.append(f"- **{w['relevelled']}:** " + ", ".join(
            f"{_clause(c, page_uri)} {old} → {new}" for c, old, new in found.relevelled))
    if found.tolerances:
        lines.append(f"- **{w['tolerances']}:** " + "; ".join(
            f"`{name}` {w['was']} {old or w['none_value']}, {w['now']} {new or w['none_value']}"
            for name, old, new in found.tolerances))
    return lines


def page(language: str, page_uri: str) -> str:
    """The releases, newest first; the first release lists its whole specification's size and tolerances."""
    w = _WORDS[language]
    recorded = history.releases()
    lines: list[str] = []
    pending = history.unreleased()
    if pending:
        lines += [f"## {w['unreleased']}", "", w["unreleased_note"], "", *_changes(pending, page_uri, language), ""]
    for index in range(len(recorded) - 1, -1, -1):
        release = recorded[index]
        lines += [f"## {about.DISTRIBUTION} {release.version} — {release.date} {{ #{release.version} }}", "",
                  release.notes[language], ""]
        if index:
            lines += _changes(history.changes(recorded[index - 1].spec, release.spec), page_uri, language)
        else:
            levels = list(release.spec["clauses"].values())
            lines.append(w["first"].format(count=len(levels), must=levels.count("MUST"),
                                           should=levels.count("SHOULD")))
            lines += ["", f"| {w['name']} | {w['value']} |", "|---|---|"]
            lines += [f"| `{name}` | {value} |" for name, value in release.spec["tolerances"].items()]
        lines.append("")
    return "\n".join(lines)
