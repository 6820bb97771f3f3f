"""Every clause against PyTorch's own batch norm, through the bundled adapter.

Each clause must pass (or be n/a), except those the adapter's ``FINDINGS``
explain, which must still FAIL: an explanation never outlives its deviation.
"""

from __future__ import annotations

import sys

import pytest
from spec_runs import options

from bnspec.spec import report  # noqa: E402 (after the skip)
from bnspec.spec.adapters import torch_bn  # noqa: E402
from bnspec.spec.clauses import REGISTRY, all_clauses  # noqa: E402
from bnspec.spec.runner import run_clause  # noqa: E402
from bnspec.spec.target import Target, TargetError, load  # noqa: E402

CLAUSES = all_clauses()

#: clause ID -> why its property, not PyTorch, fails under the torch profile.


@pytest.fixture(scope="module")
def target() -> Target:
    return load("torch")


@pytest.mark.parametrize("clause", CLAUSES, ids=[c.id for c in CLAUSES])
def test_torch_conforms(clause, target):
    result = run_clause(clause, target, options())
    if clause.id in torch_bn.FINDINGS:
        assert result.status == "FAIL", (
            f"{clause.id} is explained as a PyTorch deviation in FINDINGS but now {result.status}s: "
            f"remove the explanation ({torch_bn.FINDINGS[clause.id]})"
        )
    else:
        assert result.status in ("pass", "n/a"), report.details(result)


def test_findings_name_clauses():
    for clause_id, explanation in torch_bn.FINDINGS.items():
        assert clause_id in REGISTRY, clause_id
        assert explanation.strip(), clause_id


def test_the_adapter_declares_its_layout_and_profile(target):
    assert target.layout == "batch_first"
    assert target.profile.name == "torch"


def test_missing_torch_is_a_usage_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.delitem(sys.modules, "bnspec.spec.adapters.torch_bn")
    with pytest.raises(TargetError, match=r"bnspec\[torch\]"):
        load("torch")
