"""`bnspec check` rejects every implementation of the zoo (exit 1) and accepts
every correct one (exit 0), as a user would run it."""

from __future__ import annotations

import pytest
from zoo.registry import CORRECT, FAULTY

from bnspec.spec.cli import main


def _target(cls: type) -> str:
    return f"{cls.__module__}:{cls.__name__}"


@pytest.mark.parametrize("fault", FAULTY, ids=[f.__name__ for f in FAULTY])
def test_check_rejects_the_fault(fault, capsys):
    # --strict: SHOULD clauses count too; --fail-fast: the first failure settles the exit status.
    assert main(["check", _target(fault), "--quiet", "--strict", "--fail-fast", "--max-examples", "15"]) == 1
    assert "does not conform" in capsys.readouterr().out


@pytest.mark.parametrize("impl", CORRECT, ids=[c.__name__ for c in CORRECT])
def test_check_accepts_the_correct_implementation(impl, capsys):
    assert main(["check", _target(impl), "--quiet", "--strict", "--max-examples", "15"]) == 0
    assert "conforms" in capsys.readouterr().out
