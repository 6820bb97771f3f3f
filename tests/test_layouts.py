"""The channel layouts: correct channels-first and channels-last batch norms conform, and one whose
statistics are taken over the wrong axes for its declared layout -- per position, per sample, over
the channels, or over NCHW's axes on NHWC data -- is rejected on its values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings
from spec_runs import options, run, subject_of
from zoo import layout_faults as faults

from bnspec.spec import report
from bnspec.spec.diagnosis import BugId, diagnose
from bnspec.spec.errors import Status
from bnspec.spec.layouts import Arrangement, Layout, Role, factorizations
from bnspec.spec.runner import passed
from bnspec.spec.session import RunOptions, Session


@pytest.mark.parametrize("name", ["ChannelsFirstBN", "ChannelsLastBN"])
def test_a_correct_batch_norm_in_a_channel_layout_conforms(name):
    with Session(RunOptions(f"zoo.layout_faults:{name}", max_examples=settings.default.max_examples,
                            shrink=False)) as session:
        results = session.run(session.clauses())
    failing = [r for r in results if r.status not in (Status.PASS, Status.NOT_APPLICABLE)]
    assert not failing, "\n".join(report.details(r) for r in failing)
    assert passed(results, strict=True)


@pytest.mark.parametrize("fault", [faults.PerPositionBN, faults.PerSampleBN, faults.OverChannelsBN,
                                   faults.ChannelsLastAsFirstBN])
def test_statistics_over_the_wrong_axes_are_rejected(fault):
    result = run("BN-FWD-REF", fault(), shrink=False)
    assert result.status is Status.FAIL, report.details(result)
    assert "mismatch" in result.message  # on its values: the shapes are right


def test_every_arrangement_moves_an_array_and_back_unchanged():
    rng = np.random.default_rng(0)
    z, gamma = rng.standard_normal((3, 24)), rng.standard_normal((3, 1))
    for layout in Layout:
        for rank in (0, 1, 2, 3) if layout.spatial else (0,):
            for memory in ("contiguous", "fortran", "permuted", "strided"):
                arrangement = Arrangement(rank, 5, memory)
                moved = layout.to_impl(z, Role.BATCH, arrangement)
                assert layout.sizes(moved.shape) == (3, 24)
                assert moved.ndim == (2 + rank if layout.spatial else 2)
                assert np.array_equal(layout.from_impl(moved, Role.BATCH), z)
                assert np.array_equal(layout.from_impl(layout.to_impl(gamma, Role.PER_UNIT, arrangement),
                                                       Role.PER_UNIT), gamma)


def test_a_channels_first_array_holds_each_channel_on_axis_1_in_every_memory_order():
    z = np.arange(2 * 12, dtype=np.float64).reshape(2, 12)  # channel 0 holds 0..11, channel 1 holds 12..23
    for memory in ("contiguous", "fortran", "permuted", "strided"):
        moved = Layout.CHANNELS_FIRST.to_impl(z, Role.BATCH, Arrangement(2, 0, memory))
        assert moved.shape[1] == 2 and set(moved[:, 0].ravel()) == set(range(12))
    permuted = Layout.CHANNELS_FIRST.to_impl(z, Role.BATCH, Arrangement(2, 0, "permuted"))
    assert permuted.strides[1] == permuted.itemsize  # channels-last memory: the channel axis is innermost
    last = Layout.CHANNELS_LAST.to_impl(z, Role.BATCH, Arrangement(2, 0, "contiguous"))
    assert last.shape[-1] == 2 and set(last[..., 1].ravel()) == set(range(12, 24))


def test_the_first_factorization_has_samples_and_positions_whenever_m_allows():
    assert factorizations(12, 2)[0] in {(3, 2, 2), (2, 3, 2), (2, 2, 3)}
    assert all(np.prod(shape) == 36 for shape in factorizations(36, 3))
    assert factorizations(7, 2)[0][0] == 7  # a prime m: all of it in N, the positions 1
    assert factorizations(0, 2) == ((0, 1, 1),)


def test_a_declared_spatial_rank_is_the_only_one_drawn():
    class Only2D(faults.ChannelsFirstBN):
        spatial_dims = (2,)

        def forward(self, z, gamma, beta, eps):
            assert z.ndim == 4, z.shape
            return super().forward(z, gamma, beta, eps)

    assert subject_of(Only2D()).declaration.spatial_dims == (2,)
    assert run("BN-FWD-REF", Only2D(), shrink=False).status is Status.PASS


@pytest.mark.parametrize(("fault", "bug"), [(faults.PerPositionBN, BugId.PER_POSITION_STATISTICS),
                                            (faults.PerSampleBN, BugId.PER_SAMPLE_STATISTICS)])
def test_the_diagnosis_names_statistics_over_part_of_the_examples(fault, bug):
    result = run("BN-FWD-REF", fault(), shrink=False)
    found = diagnose(subject_of(fault()), [result], options(shrink=False))
    assert [cause.id for cause in found.root_causes] == [bug], found.lines()
    assert found.root_causes[0].clauses == ("BN-FWD-REF",)  # its model fails the clause too
    assert "(N, *S) = " in found.root_causes[0].evidence
