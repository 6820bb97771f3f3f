"""The Traditional Chinese (zh-TW) translations kept as data: every clause's title
(spec/clauses/zh_tw.py) and every diagnosis's explanation (spec/diagnosis/zh_tw.py)
is there, none is left for an id that no longer exists, and each reads as Chinese
rather than a copy of the English.  The statements' coverage is checked in
tests/test_docs_site.py, next to the pages that show them."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from bnspec.spec.clauses import REGISTRY, all_clauses
from bnspec.spec.clauses.zh_tw import TITLES
from bnspec.spec.diagnosis.vocabulary import EXPLANATIONS, BugId
from bnspec.spec.diagnosis.zh_tw import EXPLANATIONS as ZH_EXPLANATIONS

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: an ASCII word or identifier (gamma, z_norm, float32, forward_eval): one token each
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: English words that never belong in a Chinese sentence, identifiers or not
ENGLISH = re.compile(r"\b(the|of|is|are|and|or|to|in|into|with|by|for|not|on|at|be|its|from|over|each|every|than)\b")

Table = Mapping[str, str] | Mapping[BugId, str]
#: kind -> (id -> zh-TW text, id -> English text)
TRANSLATIONS: dict[str, tuple[Table, Table]] = {
    "title": (TITLES, {clause.id: clause.title for clause in all_clauses()}),
    "explanation": (ZH_EXPLANATIONS, EXPLANATIONS),
}


def reads_as_chinese(text: str) -> bool:
    """True when CJK characters outnumber the ASCII words and identifiers, and no English function word is left."""
    return len(CJK.findall(text)) > len(WORD.findall(text)) and not ENGLISH.search(text)


def test_every_clause_has_a_title_and_no_other_id():
    assert set(TITLES) == set(REGISTRY), (
        f"missing: {sorted(set(REGISTRY) - set(TITLES))}; unknown: {sorted(set(TITLES) - set(REGISTRY))}")


def test_every_bug_id_has_an_explanation_and_no_other_id():
    missing = [bug.value for bug in BugId if bug not in ZH_EXPLANATIONS]
    unknown = [key for key in ZH_EXPLANATIONS if not isinstance(key, BugId)]
    assert (missing, unknown) == ([], [])


@pytest.mark.parametrize("kind", TRANSLATIONS)
def test_translations_read_as_chinese(kind):
    translated, _ = TRANSLATIONS[kind]
    assert [key for key, text in translated.items() if not reads_as_chinese(text)] == []


@pytest.mark.parametrize("kind", TRANSLATIONS)
def test_the_english_texts_do_not_pass_as_chinese(kind):
    """The check above rejects each English original, so a text left untranslated (or copied) fails it."""
    _, english = TRANSLATIONS[kind]
    assert [key for key, text in english.items() if reads_as_chinese(text)] == []
