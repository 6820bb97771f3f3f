"""A profile changes what is expected, never the tolerance."""

from __future__ import annotations

import pytest
from spec_runs import run
from zoo.running_faults import MomentumSwappedBN, UnbiasedRunningVarBN

from bnspec.reference import batchnorm
from bnspec.spec import profiles


class TorchConventionBN(MomentumSwappedBN, UnbiasedRunningVarBN):
    """Running statistics as PyTorch keeps them: momentum weighs the new batch, variance unbiased."""


def _run(clause_id, impl, profile):
    return run(clause_id, impl, profile=profile)


@pytest.mark.parametrize("clause_id", ["BN-RUN-1", "BN-RUN-2"])
def test_the_profile_decides_the_running_statistics(clause_id):
    assert _run(clause_id, TorchConventionBN(), "torch").status == "pass"
    assert _run(clause_id, TorchConventionBN(), "lecture").status == "FAIL"
    assert _run(clause_id, batchnorm, "torch").status == "FAIL"


def test_the_paper_profile_wants_the_unbiased_running_variance():
    assert _run("BN-RUN-1", UnbiasedRunningVarBN(), "paper").status == "pass"
    assert _run("BN-RUN-1", batchnorm, "paper").status == "FAIL"


def test_a_raising_profile_requires_a_value_error_at_m_1():
    assert _run("BN-DEG-2", batchnorm, "torch").status == "FAIL"  # the reference returns beta


def test_every_profile_names_the_source_of_every_convention():
    for profile in profiles.PROFILES.values():
        assert profile.momentum_weighs in ("old", "new") and profile.running_var in ("biased", "unbiased")
        assert profile.single_example in ("beta", "raises") and profile.eps > 0
        for key in ("eps", "momentum_weighs", "running_var", "single_example"):
            assert profile.sources.get(key), f"{profile.name} gives no source for {key}"
    with pytest.raises(ValueError, match="^profile: unknown"):
        profiles.get("nonsense")
