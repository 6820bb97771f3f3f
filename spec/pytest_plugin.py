"""The pytest plugin: run bnspec's clauses as tests in your own project.

    pytest --bnspec-target=my_package.bn:MyBatchNorm [--bnspec-profile=torch]

(or ``BNSPEC_TARGET=...``).  Each clause becomes one test item whose ID
carries the clause's ID (``bnspec[TARGET]::BN-NORM-1``), so ``-k``, ``-x``,
``--lf`` and ``--collect-only`` work as for any test; a failing clause fails
its item with the same report as ``bnspec check``; a clause that does not
apply is skipped with the reason.

The plugin is loaded whenever pytest starts in an environment where bnspec is
installed, so importing it costs nothing: the runner, hypothesis and the
target are loaded only when a target is given.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .clauses import Clause
    from .session import Session

_SESSION = pytest.StashKey["Session"]()


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("bnspec", "batch-norm conformance (bnspec)")
    group.addoption("--bnspec-target", default=os.environ.get("BNSPEC_TARGET"),
                    help="implementation to check: 'reference', 'module:attribute' or 'file.py:attribute'")
    group.addoption("--bnspec-profile", default=os.environ.get("BNSPEC_PROFILE"), help="conventions to expect")
    group.addoption("--bnspec-max-examples", type=int, default=None, help="examples per clause (default 40)")
    group.addoption("--bnspec-seed", type=int, default=0, help="hypothesis seed")


class ClauseFailed(Exception):
    """A clause did not hold; the message is bnspec's failure report."""


class ClauseItem(pytest.Item):
    """One clause run against the session's target."""

    def __init__(self, *, clause: Clause, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clause = clause

    def runtest(self) -> None:
        from . import report
        from .errors import Status

        result = self.config.stash[_SESSION].run_clause(self.clause)
        if result.status is Status.NOT_APPLICABLE:
            pytest.skip(f"{self.clause.id} not applicable: {result.message}")
        if result.status is not Status.PASS:
            raise ClauseFailed(report.details(result))

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, ClauseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[str, int, str]:
        return "bnspec", 0, f"bnspec::{self.clause.id}"


class ClauseCollector(pytest.Collector):
    """The clauses for the session's target, one item each."""

    def collect(self) -> list[pytest.Item]:
        session = self.config.stash[_SESSION]
        return [ClauseItem.from_parent(self, name=c.id, clause=c) for c in session.clauses()]


def _session(config: Any, spec: str) -> Session:
    from .errors import UsageError
    from .runner import DEFAULT_MAX_EXAMPLES
    from .session import RunOptions, Session

    max_examples = config.getoption("--bnspec-max-examples") or DEFAULT_MAX_EXAMPLES
    options = RunOptions(spec, profile=config.getoption("--bnspec-profile"), max_examples=max_examples,
                         seed=config.getoption("--bnspec-seed"))
    try:
        return Session(options)
    except UsageError as error:
        raise pytest.UsageError(f"--bnspec-target: {error}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    """Add the clauses before ``-k``, ``--lf`` and the other plugins select among the items."""
    spec = config.getoption("--bnspec-target")
    if not spec:
        return
    config.stash[_SESSION] = _session(config, spec)
    name = f"bnspec[{spec}]"
    collector = ClauseCollector.from_parent(session, name=name, nodeid=name)
    items[:0] = collector.collect()


def pytest_unconfigure(config: Any) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()
