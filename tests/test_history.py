"""The specification's history (spec/history.py, spec/releases.json): the last release is the
package's version, released IDs stay stable or are mapped, and every kind of change is found."""

from __future__ import annotations

import copy
import sys
import tomllib
from pathlib import Path

import pytest

from bnspec.spec import about, history
from bnspec.spec.clauses import REGISTRY

ROOT = Path(__file__).resolve().parents[1]


def test_the_last_release_is_the_packages_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    recorded = history.releases()
    assert recorded[-1].version == version == about.version()
    assert [r.date for r in recorded] == sorted(r.date for r in recorded)
    for release in recorded:
        assert set(release.notes) == {"en", "zh-TW"}, f"{release.version}: a note in each language of the site"


def test_every_released_id_exists_or_is_mapped():
    for release in history.releases():
        for clause_id in release.spec["clauses"]:
            renamed = history.RENAMED.get(clause_id)
            assert clause_id in REGISTRY or renamed in REGISTRY or clause_id in history.RETIRED, (
                f"{clause_id} (released in {release.version}) is gone: map it in RENAMED or give RETIRED its reason")


def test_the_changelog_lists_what_is_not_released_yet(monkeypatch):
    sys.path.insert(0, str(ROOT / "docs"))
    from sitegen import changelog

    changed = _spec()
    changed["clauses"]["BN-NORM-1"] = "SHOULD"
    monkeypatch.setattr(history, "snapshot", lambda: changed)
    page = changelog.page("en", "changelog.md")
    assert page.index("## Unreleased") < page.index(f"## bnspec {about.version()}")
    assert "[BN-NORM-1](spec/layer.md#BN-NORM-1) MUST → SHOULD" in page
    assert "MUST → SHOULD" in changelog.page("zh-TW", "changelog.md")


def _spec():
    return copy.deepcopy(history.releases()[-1].spec)


def test_changes_finds_every_kind_of_change(monkeypatch):
    before, after = _spec(), _spec()
    del after["clauses"]["BN-NORM-1"]  # retired
    after["clauses"]["BN-NEW-1"] = "MUST"  # added
    after["clauses"]["BN-DTYPE-1"] = "MUST"  # re-levelled from SHOULD
    after["clauses"]["BN-NORM-9"] = after["clauses"].pop("BN-NORM-2")  # renamed
    after["tolerances"]["FD_RTOL"] = "1e-07"
    monkeypatch.setitem(history.RENAMED, "BN-NORM-2", "BN-NORM-9")
    found = history.changes(before, after)
    assert found.retired == ["BN-NORM-1"]
    assert found.added == ["BN-NEW-1"]
    assert found.relevelled == [("BN-DTYPE-1", "SHOULD", "MUST")]
    assert found.renamed == [("BN-NORM-2", "BN-NORM-9")]
    assert found.tolerances == [("FD_RTOL", before["tolerances"]["FD_RTOL"], "1e-07")]
    assert not history.changes(before, before)


def test_record_appends_a_release_and_refuses_a_version_twice(tmp_path):
    path = tmp_path / "releases.json"
    history.record("9.9.9", "2030-01-01", {"en": "n", "zh-TW": "n"}, path)
    assert [r.version for r in history.releases(path)] == ["9.9.9"]
    assert history.releases(path)[0].spec == history.snapshot()
    with pytest.raises(ValueError, match="version"):
        history.record("9.9.9", "2030-01-02", {"en": "n", "zh-TW": "n"}, path)
