"""The runner survives misbehaving implementations (tests/misbehaving/).

Each run must complete within its time bound, exit with status 1, and write a
JSON report that names the failing clause with a clear reason -- and the clause
after it must still run (BN-RUN-1 calls update_running only, which every
misbehaving implementation leaves correct).  Crashes, exits and runaway
allocations are checked under ``--isolate``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from bnspec.spec import isolation, report, wire
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.cli import main
from bnspec.spec.runner import Options, run_clause

M = "misbehaving"
AFTER = "BN-RUN-1"  # runs after the misbehaving clause: the run goes on
IN_PROCESS = [
    # target, failing clause, extra options, status, what the report says
    (f"{M}.raises:RaisesBN", "BN-SHAPE-1", [], "FAIL", "forward raised RuntimeError: forward is not implemented"),
    (f"{M}.bad_returns:ReturnsNoneBN", "BN-SHAPE-1", [], "FAIL", "forward returned NoneType for output"),
    (f"{M}.bad_returns:ReturnsListBN", "BN-SHAPE-1", [], "FAIL", "forward returned list for output"),
    (f"{M}.bad_returns:WrongShapeBN", "BN-SHAPE-1", [], "FAIL", "forward returned output of shape (1, 1)"),
    (f"{M}.bad_returns:IntegerDtypeBN", "BN-SHAPE-1", [], "FAIL", "output of dtype int64"),
    (f"{M}.bad_returns:ReturnsNaNBN", "BN-NORM-1", [], "FAIL", "observed nan"),
    (f"{M}.hangs:HangsBN", "BN-SHAPE-1", ["--timeout", "0.5"], "error", "timed out after 0.5 s"),
    (f"{M}.mutates:MutatesBN", "BN-PURE-1", [], "FAIL", "forward modified its argument z"),
    (f"{M}.exits:SysExitBN", "BN-SHAPE-1", [], "FAIL", "forward called sys.exit(3)"),
    (f"{M}.prints:ChattyNaNBN", "BN-NORM-1", [], "FAIL", "observed nan"),
]
ISOLATED = [
    (f"{M}.crashes:OsExitBN", "BN-SHAPE-1", [], "FAIL", "process exited with status 0"),
    (f"{M}.crashes:SegfaultBN", "BN-SHAPE-1", [], "FAIL", "killed by signal 11 (SIGSEGV)"),
    (f"{M}.crashes:AbortBN", "BN-SHAPE-1", [], "FAIL", "killed by signal 6 (SIGABRT)"),
    (f"{M}.hog:MemoryHogBN", "BN-SHAPE-1", ["--memory-limit", "200"], "FAIL", "forward raised MemoryError"),
    # 2 s: the next clause's time limit includes starting a new child (numpy's import, on a loaded machine).
    (f"{M}.hangs:HangsBN", "BN-SHAPE-1", ["--timeout", "2"], "error", "timed out after 2 s"),
    (f"{M}.exits:SysExitBN", "BN-SHAPE-1", [], "FAIL", "forward called sys.exit(3)"),
    (f"{M}.mutates:MutatesBN", "BN-PURE-1", [], "FAIL", "forward modified its argument z"),
    (f"{M}.bad_returns:ReturnsListBN", "BN-SHAPE-1", [], "FAIL", "forward returned list for output"),
]
#: seconds a run may take: it must end, not hang. The slowest (BN-PURE-1's shrinking) takes about 5 s alone;
#: the bound leaves room for a 2-core machine loaded by other jobs.
BOUND = 45.0


def _check(tmp_path: Path, target: str, clause: str, extra: list[str]) -> tuple[int, dict, float]:
    out = tmp_path / "report.json"
    start = time.monotonic()
    status = main(["check", target, "--clause", clause, "--clause", AFTER, "--max-examples", "5",
                   "--json", str(out), *extra])
    results = {r["id"]: r for r in json.loads(out.read_text())["results"]}
    return status, results, time.monotonic() - start


def _assert_reported(status, results, seconds, clause, kind, says):
    assert seconds < BOUND
    assert status == 1
    assert list(results) == [clause, AFTER]  # the run completed
    assert results[clause]["status"] == kind, results[clause]
    assert says in results[clause]["message"], results[clause]["message"]
    assert "result1 = impl.forward(z, gamma, beta, eps)" in results[clause]["reproducer"]  # a numpy reproducer
    assert results[clause]["seed"] == 0
    assert results[AFTER]["status"] == "pass", results[AFTER]


@pytest.mark.parametrize(("target", "clause", "extra", "kind", "says"), IN_PROCESS,
                         ids=[t.split(":")[1] for t, *_ in IN_PROCESS])
def test_misbehaviour_is_a_failing_clause(tmp_path, capsys, target, clause, extra, kind, says):
    _assert_reported(*_check(tmp_path, target, clause, extra), clause, kind, says)
    assert f"--- {clause} (MUST) {kind}" in capsys.readouterr().out


@pytest.mark.parametrize(("target", "clause", "extra", "kind", "says"), ISOLATED,
                         ids=[t.split(":")[1] for t, *_ in ISOLATED])
def test_isolated_misbehaviour_is_a_failing_clause(tmp_path, capsys, target, clause, extra, kind, says):
    # AFTER passing proves that a new child was started after the crash, exit or kill.
    _assert_reported(*_check(tmp_path, target, clause, ["--isolate", *extra]), clause, kind, says)
    assert f"--- {clause} (MUST) {kind}" in capsys.readouterr().out


def test_the_reference_passes_isolated(tmp_path):
    status, results, _ = _check(tmp_path, "reference", "BN-PURE-1", ["--isolate"])
    assert status == 0 and {r["status"] for r in results.values()} == {"pass"}


def _table_lines(out: str) -> list[str]:
    """The lines from the header to the end of the per-clause rows."""
    lines = out.splitlines()
    start = lines.index(report.HEADER)
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "isolated"])
def test_printing_is_captured_and_the_table_stays_readable(tmp_path, capfd, isolate):
    flags = ["--isolate"] if isolate else []
    assert main(["check", f"{M}.prints:ChattyBN", "--clause", "BN-SHAPE-1", "--clause", "BN-NORM-1",
                 "--max-examples", "5", *flags]) == 0  # printing alone breaks no clause
    out, err = capfd.readouterr()
    assert "DEBUG" not in out and "DEBUG" not in err
    status, results, _ = _check(tmp_path, f"{M}.prints:ChattyNaNBN", "BN-NORM-1", flags)
    out, err = capfd.readouterr()
    rows = _table_lines(out)
    assert [row.split()[0] for row in rows[1:]] == ["BN-NORM-1", AFTER]
    assert "DEBUG" not in "\n".join(rows) and "DEBUG" not in err
    captured = results["BN-NORM-1"]["output"]
    for line in ("DEBUG forward: z has shape", "DEBUG stderr line", "DEBUG raw write to fd 1"):
        assert line in captured  # Python writes, stderr, and raw writes to fd 1
    assert "the implementation printed (captured):\n  | DEBUG" in out


def test_a_timeout_in_isolation_kills_the_child():
    target = isolation.load(f"{M}.hangs:HangsBN")
    child = target.impl._child
    result = run_clause(REGISTRY["BN-SHAPE-1"], target, Options(max_examples=3, timeout=0.5))
    assert result.status == "error" and "timed out" in result.message
    assert child.process.poll() is not None and target.impl._child is None
    target.impl.close()


def test_a_target_that_cannot_load_in_isolation_is_a_usage_error(capsys):
    assert main(["check", "no_such_module_xyz:BN", "--isolate"]) == 2
    assert "cannot load 'no_such_module_xyz:BN' in the isolated process" in capsys.readouterr().err


# -- reports --------------------------------------------------------------------------


class _Interrupted(BaseException):
    pass


@pytest.mark.parametrize("writer", ["json", "junit"])
def test_a_report_killed_mid_write_leaves_the_old_file_whole(tmp_path, monkeypatch, writer):
    result = run_clause(REGISTRY["BN-SHAPE-1"], isolation_free_reference(), Options(max_examples=2))
    path = tmp_path / f"report.{writer}"
    path.write_text("the previous, complete report")
    real_fdopen = os.fdopen

    def dying_fdopen(fd, *args, **kwargs):
        handle = real_fdopen(fd, *args, **kwargs)
        real_write = handle.write

        def write(text):
            real_write(text[: len(text) // 2])
            handle.flush()
            raise _Interrupted("killed mid-write")

        handle.write = write
        return handle

    monkeypatch.setattr(os, "fdopen", dying_fdopen)
    with pytest.raises(_Interrupted):
        if writer == "json":
            report.write_json(path, [result], {"target": "reference"})
        else:
            report.write_junit(path, [result], "suite")
    assert path.read_text() == "the previous, complete report"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no half-written temporary file


def isolation_free_reference():
    from bnspec.spec.target import load

    return load("reference")


def test_no_file_input_is_ever_unpickled():
    root = Path(__file__).resolve().parents[1] / "spec"
    for source in root.rglob("*.py"):
        text = source.read_text()
        assert "import pickle" not in text and "allow_pickle=True" not in text, source
        assert "np.load(" not in text or "allow_pickle=False" in text, source


def test_the_isolation_messages_carry_any_result_without_pickle():
    class Odd:
        def __repr__(self):
            return "Odd()"

    values = [None, True, 3, 0.1, float("nan"), 1 + 2j, "text", [1.0, (2, None)], {"key": np.float32(1.5)},
              np.arange(6, dtype=np.int64).reshape(2, 3), np.array([[1.0, np.inf]], dtype=np.float16),
              np.array([None, 1], dtype=object), Odd()]
    back = wire.decode(wire.encode(values))
    assert back[:4] == values[:4] and np.isnan(back[4]) and back[5:8] == [1 + 2j, "text", [1.0, (2, None)]]
    assert type(back[8]["key"]) is np.float32 and back[8]["key"] == 1.5
    assert back[9].dtype == np.int64 and np.array_equal(back[9], values[9])
    assert back[10].dtype == np.float16 and back[10].tobytes() == values[10].tobytes()
    assert back[11].dtype == object and back[11].shape == (2,)  # the shape only: objects never cross
    assert type(back[12]).__name__ == "Odd" and repr(back[12]) == "Odd()"
    with pytest.raises(wire.WireError):
        wire.decode(b"\x80\x04\x95not a message")


def test_bfloat16_arrays_cross_the_isolation_boundary_exactly():
    import ml_dtypes

    value = np.array([[1.5, -0.0078125, 3.0e38]], dtype=ml_dtypes.bfloat16)
    back = wire.decode(wire.encode(value))
    assert back.dtype == value.dtype and back.tobytes() == value.tobytes()


def test_the_isolated_target_declares_the_same_dtypes():
    """The declaration crosses too: under --isolate the float16 and bfloat16 clauses still apply."""
    isolated = isolation.load("reference")
    try:
        assert isolated.dtypes == ("float64", "float32", "float16", "bfloat16")
    finally:
        isolated.impl.close()
