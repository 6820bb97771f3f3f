"""The pytest plugin: run bnspec's clauses as tests in your own project.

    pytest --bnspec-target=my_package.bn:MyBatchNorm [--bnspec-profile=torch]

(or ``BNSPEC_TARGET=...``).  Each clause becomes one test whose id is the
clause's ID; a failing clause fails its test with the same report as
``bnspec check``; a clause that does not apply is skipped with the reason.
Without a target the plugin adds nothing.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from . import report
from .clauses import all_clauses
from .runner import DEFAULT_MAX_EXAMPLES, Options, run_clause
from .target import Target, TargetError, load


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("bnspec", "batch-norm conformance (bnspec)")
    group.addoption("--bnspec-target", default=os.environ.get("BNSPEC_TARGET"),
                    help="implementation to check: 'reference', 'module:attribute' or 'file.py:attribute'")
    group.addoption("--bnspec-profile", default=os.environ.get("BNSPEC_PROFILE"), help="conventions to expect")
    group.addoption("--bnspec-max-examples", type=int, default=DEFAULT_MAX_EXAMPLES, help="examples per clause")
    group.addoption("--bnspec-seed", type=int, default=0, help="hypothesis seed")


class ClauseItem(pytest.Item):
    def __init__(self, *, clause: Any, target: Target, options: Options, flags: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clause, self.target, self.options, self.flags = clause, target, options, flags

    def runtest(self) -> None:
        result = run_clause(self.clause, self.target, self.options)
        result.run_flags = self.flags
        if result.status == "n/a":
            pytest.skip(f"{self.clause.id} not applicable: {result.message}")
        if result.status != "pass":
            raise ClauseFailed(report.details(result))

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, ClauseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[str, int, str]:
        return "bnspec", 0, f"bnspec::{self.clause.id}"


class ClauseFailed(Exception):
    """A clause did not hold; the message is bnspec's failure report."""


class ClauseCollector(pytest.Collector):
    def __init__(self, *, target: Target, options: Options, flags: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target, self.options, self.flags = target, options, flags

    def collect(self) -> list[pytest.Item]:
        return [ClauseItem.from_parent(self, name=c.id, clause=c, target=self.target, options=self.options,
                                       flags=self.flags) for c in all_clauses()]


def pytest_collection_modifyitems(session: Any, config: Any, items: list) -> None:
    spec = config.getoption("--bnspec-target")
    if not spec:
        return
    try:
        target = load(spec, config.getoption("--bnspec-profile"))
    except TargetError as error:
        raise pytest.UsageError(f"--bnspec-target: {error}") from None
    options = Options(max_examples=config.getoption("--bnspec-max-examples"), seed=config.getoption("--bnspec-seed"))
    flags = report.run_flags(config.getoption("--bnspec-profile"), options.max_examples)
    collector = ClauseCollector.from_parent(session, name=f"bnspec[{spec}]", target=target, options=options,
                                            flags=flags)
    items.extend(collector.collect())
