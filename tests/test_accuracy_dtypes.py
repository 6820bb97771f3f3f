"""How a target declares its dtypes, and what the low-precision clauses do with it:
an undeclared dtype makes its clauses n/a (the declaration is read, never probed), a
declared dtype that raises or errs is a failure, and the report shows each numeric
clause's worst error in units of eps * cond."""

from __future__ import annotations

import numpy as np
from requirements import require_module
from spec_runs import run
from zoo.base import CorrectBN

from bnspec.spec import report


class NoDeclaration(CorrectBN):
    dtypes = None  # the class attribute unset: the defaults apply


class RefusesFloat16(CorrectBN):
    """Declares float16 but refuses it (a TypeError): a failure, never n/a."""

    def forward(self, z, gamma, beta, eps=1e-5):
        if z.dtype == np.float16:
            raise TypeError("z: float16 is not supported")
        return super().forward(z, gamma, beta, eps)


def test_undeclared_dtype_is_not_applicable_with_the_reason():
    result = run("BN-F16-1", NoDeclaration())
    assert result.status == "n/a"
    assert "does not declare float16" in result.message and "float64, float32" in result.message


def test_a_declared_dtype_that_raises_fails():
    result = run("BN-F16-1", RefusesFloat16(), shrink=False)
    assert result.status == "FAIL" and "TypeError" in result.message


def test_float32_is_expected_by_default():
    assert run("BN-F32-1", NoDeclaration()).status == "pass"


def test_report_shows_the_worst_error_in_units_of_eps_cond():
    numeric, shape = run("BN-F32-1", CorrectBN()), run("BN-SHAPE-1", CorrectBN())
    assert numeric.worst_units is not None and numeric.worst_units > 0
    assert shape.worst_units is None
    assert report.accuracy(numeric) == f"{numeric.worst_units:.3g}" and report.accuracy(shape) == "-"
    assert report.accuracy(numeric) in report.row(numeric)
    assert numeric.as_dict()["worst_error_eps_cond"] == numeric.worst_units


def test_bfloat16_without_ml_dtypes_is_not_applicable_with_the_reason(monkeypatch):
    from bnspec.spec import bfloat16

    monkeypatch.setattr(bfloat16, "dtype", lambda: None)
    result = run("BN-BF16-1", CorrectBN())
    assert result.status == "n/a"
    assert "ml-dtypes" in result.message


@require_module("ml_dtypes", "dev")
def test_a_bfloat16_failure_reproduces_with_ml_dtypes():
    """The reproducer of a bfloat16 failure builds its arrays with ml_dtypes (numpy has no np.bfloat16)
    and rebuilds them exactly."""
    from zoo.dtype_faults import BFloat16AccumulationBN

    result = run("BN-BF16-1", BFloat16AccumulationBN())
    assert result.status == "FAIL"
    assert "import ml_dtypes" in result.reproducer and "dtype=ml_dtypes.bfloat16" in result.reproducer
    assert "np.bfloat16" not in result.reproducer
    script = result.reproducer.split("\n")  # its imports and the first call's arguments, without the target
    namespace: dict = {}
    exec("\n".join(line for line in script if line.startswith(("import ", "z =", "gamma =", "beta =", "eps ="))),
         namespace)
    z, first = namespace["z"], dict(result.calls[0].args)["z"]
    assert z.dtype == first.dtype and np.array_equal(z.astype(np.float64), first.astype(np.float64))
