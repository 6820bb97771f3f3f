"""Running clauses from the tests: one place that builds targets and options."""

from __future__ import annotations

from hypothesis import settings

from bnspec.spec import profiles
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.runner import ClauseResult, Options, run_clause
from bnspec.spec.target import Target


def options(shrink: bool = True, seed: int = 0) -> Options:
    """Runner options from the loaded hypothesis profile (ci or thorough)."""
    return Options(max_examples=settings.default.max_examples, seed=seed, shrink=shrink)


def target_of(impl, name: str = "impl") -> Target:
    return Target(impl=impl, spec=name, profile=profiles.get(getattr(impl, "profile", "lecture")),
                  layout=getattr(impl, "layout", "units_first"))


def run(clause_id: str, impl, shrink: bool = True) -> ClauseResult:
    return run_clause(REGISTRY[clause_id], target_of(impl, type(impl).__name__), options(shrink))
