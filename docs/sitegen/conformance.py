"""The conformance page's tables: the profiles (spec/profiles.py) and the matrix
(docs/conformance/matrix.json, written by ``bnspec matrix``).  The profiles'
forms of the optimizers are also the optimizer page's table (spec/optimizer.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bnspec.spec.clauses import REGISTRY
from bnspec.spec.profiles import PROFILES

from . import ROOT, links, spec_pages

#: The committed matrix; BNSPEC_DOCS_MATRIX points the build at another file (to preview a fresh
#: `bnspec matrix --output DIR` without touching docs/conformance/).
MATRIX = Path(os.environ.get("BNSPEC_DOCS_MATRIX", ROOT / "docs" / "conformance" / "matrix.json"))

_CONVENTIONS = ("eps", "momentum_weighs", "running_var", "single_example")
#: The profile fields of the optimizer protocol (:mod:`bnspec.spec.optimizer_forms`).
_FORMS = ("momentum_form", "rmsprop_eps", "adam_eps")
_WORDS = {
    "en": {"profile": "profile", "eps": "eps default", "momentum_weighs": "momentum weighs the",
           "running_var": "running variance", "single_example": "at m = 1", "feature_axis": "feature axis",
           "convention": "convention", "value": "value", "source": "source", "clause": "clause", "level": "level",
           "missing": "The matrix has not been generated in this tree yet: `make matrix` runs every installed "
                      "framework and writes `docs/conformance/matrix.json`.",
           "versions": "Versions", "machine": "Machine", "deviations": "Deviations",
           "none": "No deviation: every clause that applies passes under each target's profile.",
           "not_run": "not run",
           "newer": "Clauses added since the matrix was generated (`make matrix`)",
           "examples": "examples per clause", "seed": "seed",
           "momentum_form": "momentum", "rmsprop_eps": "RMSprop's eps", "adam_eps": "Adam's eps",
           "forms": "**The optimizers.** The profiles that state their framework's form of each optimizer, the "
                    "conventions of the [optimizer protocol]({link}) (the other profiles keep the lecture's "
                    "forms):"},
    "zh-TW": {"profile": "設定檔", "eps": "eps 預設值", "momentum_weighs": "momentum 加權於",
              "running_var": "移動變異數", "single_example": "m = 1 時", "feature_axis": "特徵軸",
              "convention": "慣例", "value": "值", "source": "出處", "clause": "條款", "level": "等級",
              "missing": "此樹中尚未產生矩陣：`make matrix` 會執行每個已安裝的框架並寫入 "
                         "`docs/conformance/matrix.json`。",
              "versions": "版本", "machine": "機器", "deviations": "偏差",
              "none": "沒有偏差：在各目標的設定檔下，每個適用的條款都通過。",
              "not_run": "未執行",
              "newer": "矩陣產生之後新增的條款（`make matrix`）", "examples": "每個條款的範例數", "seed": "種子",
              "momentum_form": "動量法", "rmsprop_eps": "RMSprop 的 eps", "adam_eps": "Adam 的 eps",
              "forms": "**最佳化器。** 載明其框架各最佳化器形式的設定檔，即[最佳化器協定]({link})的慣例"
                       "（其他設定檔沿用講座的形式）："},
}


def _cell(text: object) -> str:
    return spec_pages.plain(str(text)).replace("|", "\\|").replace("\n", " ")


def profiles_table(language: str = "en", page_uri: str = "conformance/index.md") -> str:
    """Every profile's conventions, then every convention with its source; then the optimizers' forms
    (:func:`optimizer_forms_table`)."""
    w = _WORDS[language]
    head = ["profile", "eps", "momentum_weighs", "running_var", "single_example", "feature_axis"]
    lines = ["| " + " | ".join(w[h] for h in head) + " |", "|" + "---|" * len(head)]
    for p in PROFILES.values():
        lines.append(f"| `{p.name}` | {p.eps:g} | {p.momentum_weighs} | {p.running_var} | {p.single_example} | "
                     f"{_cell(p.feature_axis)} |")
    lines += ["", f"| {w['profile']} | {w['convention']} | {w['value']} | {w['source']} |", "|---|---|---|---|"]
    for p in PROFILES.values():
        for key in _CONVENTIONS:
            value = f"{p.eps:g}" if key == "eps" else getattr(p, key)
            lines.append(f"| `{p.name}` | `{key}` | {value} | {_cell(p.sources.get(key, '—'))} |")
    link = links.relative(page_uri, "spec/optimizer.md") + "#forms"
    return "\n".join(lines) + "\n\n" + w["forms"].format(link=link) + "\n\n" + optimizer_forms_table(language)


def optimizer_forms_table(language: str = "en") -> str:
    """The form of momentum, RMSprop and Adam in each profile that states them (a source for one of
    the fields: the lecture and the frameworks whose optimizers bnspec checks or that train with
    them), then each of those values with its source."""
    w = _WORDS[language]
    stated = [p for p in PROFILES.values() if any(key in p.sources for key in _FORMS)]
    lines = ["| " + " | ".join([w["profile"], *(f"{w[key]} (`{key}`)" for key in _FORMS)]) + " |",
             "|" + "---|" * (len(_FORMS) + 1)]
    lines += [f"| `{p.name}` | " + " | ".join(f"`{getattr(p, key)}`" for key in _FORMS) + " |" for p in stated]
    lines += ["", f"| {w['profile']} | {w['convention']} | {w['value']} | {w['source']} |", "|---|---|---|---|"]
    for p in stated:
        for key in _FORMS:
            lines.append(f"| `{p.name}` | `{key}` | {getattr(p, key)} | {_cell(p.sources.get(key, '—'))} |")
    return "\n".join(lines) + "\n"


def diagnoses_table() -> str:
    """The diagnoses' vocabulary: every id and its explanation (:mod:`bnspec.spec.diagnosis.vocabulary`)."""
    from bnspec.spec.diagnosis.vocabulary import EXPLANATIONS, BugId

    lines = ["| id | what the implementation does, and the fix |", "|---|---|"]
    lines += [f"| `{bug.value}` | {_cell(EXPLANATIONS[bug])} |" for bug in BugId]
    return "\n".join(lines) + "\n"


def _status(cell: dict, anchor: str) -> str:
    status = cell["status"]
    return f"[**{status}**](#{anchor})" if "finding" in cell else status


def _deviation_anchor(target: str, clause_id: str) -> str:
    return f"deviation-{target}-{clause_id}"


def matrix_section(page_uri: str, language: str = "en") -> str:
    """The matrix as a table (one column per installed target), the versions, and
    every deviation with the adapter's explanation (its module's FINDINGS)."""
    w = _WORDS[language]
    if not MATRIX.is_file():
        return f'!!! note "matrix.json"\n    {w["missing"]}\n'
    matrix = json.loads(MATRIX.read_text(encoding="utf-8"))
    columns = [c for c in matrix["columns"] if c["installed"]]
    head = [w["clause"], w["level"], *(f"{c['target']} (`{c['profile']}`)" for c in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for clause_id in matrix["clauses"]:
        clause = REGISTRY.get(clause_id)
        name = f"[{clause_id}]({links.clause_link(clause, page_uri)})" if clause else clause_id
        level = clause.level if clause else ""
        cells = [_status(c["clauses"][clause_id], _deviation_anchor(c["target"], clause_id))
                 if clause_id in c["clauses"] else "—" for c in columns]
        lines.append(f"| {name} | {level} | " + " | ".join(cells) + " |")
    newer = [c for c in REGISTRY if c not in matrix["clauses"]]
    if newer:
        lines += ["", f"*{w['newer']}:* " + ", ".join(
            f"[{c}]({links.clause_link(REGISTRY[c], page_uri)})" for c in newer)]
    options = matrix.get("options", {})
    lines += ["", f"**{w['machine']}:** " + ", ".join(f"{k} {v}" for k, v in matrix.get("machine", {}).items())
              + f"; {options.get('max_examples')} {w['examples']}, {w['seed']} {options.get('seed')}.", ""]
    lines.append(f"**{w['versions']}:** " + "; ".join(
        f"{c['target']}: " + ", ".join(f"{k} {v}" for k, v in c["versions"].items()) for c in matrix["columns"]))
    lines += ["", f"### {w['deviations']}", ""]
    found = False
    for c in columns:
        for clause_id, cell in c["clauses"].items():
            if "finding" in cell:
                found = True
                anchor = _deviation_anchor(c["target"], clause_id)
                lines.append(f"- **{c['target']} {clause_id}**{{ #{anchor} }} — {cell['status']}: "
                             f"{_cell(cell['finding'])}")
    for c in matrix["columns"]:
        if not c["installed"]:
            found = True
            lines.append(f"- **{c['target']}** — {w['not_run']}: {_cell(c.get('reason', ''))}")
    if not found:
        lines.append(w["none"])
    return "\n".join(lines) + "\n"
