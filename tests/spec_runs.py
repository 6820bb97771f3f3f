"""Running clauses from the tests: one place that builds subjects and options."""

from __future__ import annotations

from typing import Any

from hypothesis import settings

from bnspec.spec.clauses import REGISTRY
from bnspec.spec.runner import ClauseResult, Options, run_clause
from bnspec.spec.target import Subject, wrap


def options(shrink: bool = True, seed: int = 0) -> Options:
    """Runner options from the loaded hypothesis profile (ci or thorough)."""
    return Options(max_examples=settings.default.max_examples, seed=seed, shrink=shrink)


def subject_of(impl: Any, name: str = "impl", profile: str | None = None) -> Subject:
    """An implementation object as the runner sees it (its declarations read as `bnspec check` reads them)."""
    return wrap(impl, name, profile)


def run(clause_id: str, impl: Any, shrink: bool = True, profile: str | None = None) -> ClauseResult:
    return run_clause(REGISTRY[clause_id], subject_of(impl, type(impl).__name__, profile), options(shrink))
