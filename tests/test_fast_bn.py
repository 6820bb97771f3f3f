"""examples/fast_bn.py, the tuned kernel that used to be the reference's, is checked like any
other implementation: every clause passes, and its speed tricks change no bit of its results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnspec.spec.target import resolve

ROOT = Path(__file__).resolve().parents[1]
FAST_BN = ROOT / "examples" / "fast_bn.py"


def _fast_bn():
    return resolve(str(FAST_BN))  # loaded as `bnspec check examples/fast_bn.py` loads it


def test_fast_bn_conforms():
    """`bnspec check examples/fast_bn.py` as a user runs it: every clause, exit status 0."""
    done = subprocess.run([sys.executable, "-m", "bnspec.spec.cli", "check", str(FAST_BN), "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_fast_bn_imports_nothing_from_bnspec():
    source = FAST_BN.read_text()
    assert "bnspec" not in "".join(line for line in source.splitlines() if line.startswith(("import", "from")))


@pytest.mark.parametrize("m", [3, 100, 1000, 9000])
def test_the_ufunc_buffer_setting_changes_no_bit_of_the_results(m, monkeypatch):
    """_row_arithmetic cuts numpy's ufunc buffer to a row for speed; buffering moves values, never
    rounds them.  The buffer is restored after each call."""
    fast = _fast_bn()
    rng = np.random.default_rng(m)
    z, grad = rng.normal(3.0, 2.0, size=(2, 5, m))
    gamma, beta = rng.normal(size=(2, 5, 1))
    mean, var = rng.normal(size=(5, 1)), rng.uniform(0.5, 2.0, size=(5, 1))

    def results():
        return (fast.forward(z, gamma, beta, 1e-5), *fast.backward(z, gamma, beta, 1e-5, grad),
                fast.forward_eval(z, gamma, beta, mean, var, 1e-5))

    bufsize = np.getbufsize()
    tuned = results()
    assert np.getbufsize() == bufsize
    monkeypatch.setattr(fast, "_row_arithmetic", lambda m: np.errstate(all="ignore"))
    for tuned_result, plain in zip(tuned, results(), strict=True):
        assert np.array_equal(tuned_result, plain)


def test_blocks_of_rows_change_the_results_by_an_ulp_at_most(monkeypatch):
    """Forward and backward run block by block over the units; one block gives the same results
    but for the order in which BLAS sums a row, which may depend on the row's place in the block
    (a difference in the last bit: not bit for bit, as the kernel's docstring once claimed)."""
    fast = _fast_bn()
    rng = np.random.default_rng(1)
    z, grad = rng.normal(-5.0, 3.0, size=(2, 300, 64))
    gamma, beta = rng.normal(size=(2, 300, 1))
    monkeypatch.setattr(fast, "BLOCK_BYTES", 64 * 8 * 7)  # blocks of 7 rows
    blocked = (fast.forward(z, gamma, beta, 1e-5), *fast.backward(z, gamma, beta, 1e-5, grad))
    monkeypatch.setattr(fast, "BLOCK_BYTES", 1 << 30)
    whole = (fast.forward(z, gamma, beta, 1e-5), *fast.backward(z, gamma, beta, 1e-5, grad))
    for a, b in zip(blocked, whole, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-14 * np.abs(b).max())
