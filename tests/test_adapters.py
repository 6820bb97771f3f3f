"""Every clause against every bundled adapter, under the adapter's own profile.

Each clause must pass (or be n/a), except those the adapter's ``FINDINGS``
explain (:func:`bnspec.spec.matrix.findings`), which must FAIL here: an
explanation never outlives its deviation.  An adapter whose framework is missing
is skipped (tests/requirements.py); ``make test`` installs every framework and
sets BNSPEC_REQUIRE_ALL=1: there a missing one fails, it is never skipped.

The conformance runs draw :data:`EXAMPLES` examples per clause: a framework
call costs about a millisecond and each new shape a compilation, so the default
run of every adapter (40 examples) is ``make matrix``, whose committed results
``test_matrix.py`` checks: there every FAIL must be a finding.  A finding is
proven with the matrix's own options (seed 0, 40 examples): some show only on
a few draws (flax-fast-variance's BN-GRAD-1), and the run stops at the first
failure anyway.
"""

from __future__ import annotations

import sys

import pytest
from requirements import is_installed, require_extra

from bnspec.spec import matrix, report
from bnspec.spec.adapters import ADAPTERS, EXTRAS
from bnspec.spec.clauses import REGISTRY, all_clauses
from bnspec.spec.runner import Options, run_clause
from bnspec.spec.target import Target, TargetError, load

CLAUSES = all_clauses()
#: examples per clause here (see the module's docstring): 5, as ``make test`` must stay within its 10 minutes
#: on 2 cores -- Flax, Keras and tinygrad compile a program per new shape, and at 10 examples their runs
#: alone took some 300 s of the suite's worker time; ``make matrix`` runs 40 and test_matrix.py holds its
#: results to the findings.
EXAMPLES = 5
#: one xdist group per adapter (``make test`` runs ``--dist loadgroup``): each framework is
#: imported, and each shape compiled, by one worker only.
#: And a missing framework skips (fails under BNSPEC_REQUIRE_ALL=1) its adapter's cases, which then
#: claim no findings: reading them imports the adapter, hence the framework.
MARKS = {name: [pytest.mark.xdist_group(name), require_extra(EXTRAS[name])] for name in ADAPTERS}
FINDINGS = {name: matrix.findings(name) if is_installed(EXTRAS[name]) else {} for name in ADAPTERS}
CASES = [pytest.param(name, clause, id=f"{name}-{clause.id}", marks=MARKS[name])
         for name in ADAPTERS for clause in CLAUSES if clause.id not in FINDINGS[name]]
FINDING_CASES = [pytest.param(name, REGISTRY[cid], id=f"{name}-{cid}", marks=MARKS[name])
                 for name in ADAPTERS for cid in FINDINGS[name]]

_loaded: dict[str, Target] = {}


def _target(name: str) -> Target:
    """One target per adapter and worker: the frameworks' compiled programs are reused across clauses."""
    if name not in _loaded:
        _loaded[name] = load(name)
    return _loaded[name]


@pytest.mark.parametrize(("name", "clause"), CASES)
def test_adapter_conforms_under_its_profile_except_its_findings(name, clause):
    result = run_clause(clause, _target(name), Options(max_examples=EXAMPLES))
    assert result.status in ("pass", "n/a"), f"{name}:\n{report.details(result)}"


@pytest.mark.parametrize(("name", "clause"), FINDING_CASES)
def test_every_finding_still_fails(name, clause):
    # the options of `make matrix`, where the findings were observed; no shrinking: the failure is all this needs
    result = run_clause(clause, _target(name), Options(shrink=False))
    assert result.status == "FAIL", (
        f"{name}: {clause.id} is explained as a deviation but now {result.status}s: remove its explanation "
        f"from the adapter's FINDINGS ({matrix.findings(name)[clause.id][:100]}...)")


@pytest.mark.parametrize("name", [pytest.param(n, marks=MARKS[n]) for n in ADAPTERS])
def test_adapter_declares_its_layout_its_profile_and_explains_findings(name):
    target = _target(name)
    if "layer" in target.kinds:  # frameworks' layouts (an optimizer's arrays have any shape: it has none)
        assert target.layout.value == target.impl.layout and target.layout != "units_first"
    assert target.profile.name == target.impl.profile
    for clause_id, why in matrix.findings(name).items():
        assert clause_id in REGISTRY, (name, clause_id)
        assert len(why) > 40, (name, clause_id)


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_a_missing_framework_is_a_usage_error_naming_its_extra(name, monkeypatch):
    framework = EXTRAS[name]
    module = ADAPTERS[name].partition(":")[0]
    monkeypatch.setitem(sys.modules, framework, None)  # `import <framework>` now raises ImportError
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(TargetError, match=rf"bnspec\[{framework}\]"):
        load(name)
