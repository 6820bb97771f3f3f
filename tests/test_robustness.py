"""The runner survives misbehaving implementations (tests/misbehaving/).

Each run must complete within its time bound, exit with status 1, and write a
JSON report that names the failing clause with a clear reason -- and the clause
after it must still run (BN-RUN-1 calls update_running only, which every
misbehaving implementation leaves correct).  Crashes, exits and runaway
allocations are checked under ``--isolate``, and every other misbehaviour too:
isolated, the verdict and the message are the ones given in process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from requirements import require_module

from bnspec.reference import batchnorm
from bnspec.spec import report
from bnspec.spec.clauses import REGISTRY
from bnspec.spec.cli import main
from bnspec.spec.errors import ProtocolBreach
from bnspec.spec.process.protocol import ImplementationError
from bnspec.spec.process.proxy import ProcessImpl
from bnspec.spec.runner import Options, run_clause
from bnspec.spec.session import RunOptions, Session
from bnspec.spec.target import Target

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
    (f"{M}.exits:InterruptsBN", "BN-SHAPE-1", [], "FAIL",
     "forward raised ImplementationError: KeyboardInterrupt: raised by the implementation"),
    # the child that hung is killed; the next clause (BN-RUN-1, which passes) gets a new one, started before its
    # time limit (ProcessImpl.prepare)
    (f"{M}.hangs:HangsBN", "BN-SHAPE-1", ["--timeout", "2"], "error", "timed out after 2 s"),
    # the same verdicts and messages as in process
    *(case for case in IN_PROCESS if "hangs" not in case[0]),
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
    assert "result1 = impl.forward(" in results[clause]["reproducer"]  # a numpy reproducer
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
    start = lines.index(report.COLUMNS)
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
    assert rows[1] == report.LEGEND and [row.split()[0] for row in rows[2:]] == ["BN-NORM-1", AFTER]
    assert "DEBUG" not in "\n".join(rows) and "DEBUG" not in err
    captured = results["BN-NORM-1"]["output"]
    for line in ("DEBUG forward: z has shape", "DEBUG stderr line", "DEBUG raw write to fd 1"):
        assert line in captured  # Python writes, stderr, and raw writes to fd 1
    assert "the implementation printed (captured):\n  | DEBUG" in out


def test_c_level_prints_and_reads_of_stdin_cannot_corrupt_the_protocol(tmp_path, capfd):
    for target in (f"{M}.prints:CChattyBN", f"{M}.prints:ReadsStdinBN"):
        status, results, _ = _check(tmp_path, target, "BN-SHAPE-1", ["--isolate"])
        assert status == 0 and {r["status"] for r in results.values()} == {"pass"}, results
    out, err = capfd.readouterr()
    assert "DEBUG C puts" not in out.split(report.HEADER)[0] and "DEBUG" not in err


def test_the_servers_output_is_the_clauses_output():
    with Session(RunOptions(f"{M}.prints:CChattyBN", isolate=True, max_examples=2)) as session:
        result = session.run_clause(REGISTRY["BN-SHAPE-1"])
    assert result.status == "pass" and "DEBUG C puts" in result.output


def test_a_timeout_in_isolation_kills_the_child():
    with Session(RunOptions(f"{M}.hangs:HangsBN", isolate=True, max_examples=3, timeout=0.5)) as session:
        proxy = session.subject.impl
        child = proxy._child
        result = session.run_clause(REGISTRY["BN-SHAPE-1"])
        assert result.status == "error" and "timed out" in result.message
        assert child.popen.poll() is not None and proxy._child is None
        session.subject.prepare()  # what the runner does before the next clause's time limit starts
        assert proxy._child is not None and proxy._child.alive() and proxy.restarts == 1


def test_a_target_that_cannot_load_in_isolation_is_a_usage_error(capsys):
    assert main(["check", "no_such_module_xyz:BN", "--isolate"]) == 2
    err = capsys.readouterr().err
    assert "--isolate 'no_such_module_xyz:BN' failed the handshake: target: cannot import 'no_such_module_xyz'" \
        in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["ReturnsNoneBN", "ReturnsListBN", "WrongShapeBN", "IntegerDtypeBN"])
def test_a_bad_result_gets_the_same_message_isolated(name):
    """The server checks each result with bnspec.spec.protocol.results: the same ProtocolBreach."""
    z = np.random.default_rng(0).normal(size=(3, 4))
    args = (z, np.ones((3, 1)), np.zeros((3, 1)), 1e-5)
    messages = []
    for isolate in (False, True):
        with Session(RunOptions(f"{M}.bad_returns:{name}", isolate=isolate)) as session:
            with pytest.raises(ProtocolBreach) as raised:
                Target(session.subject).forward(*args)
            messages.append(str(raised.value))
            assert isolate is False or session.subject.impl._child.alive()  # an answer, not a crash
    assert messages[0] == messages[1] and messages[0].startswith("forward returned ")


def test_the_isolated_server_speaks_the_exec_protocol():
    """The server is a program like any other: --exec runs it too."""
    with ProcessImpl.exec(f"{sys.executable} -m bnspec.spec.process.serve reference --memory-limit 0") as impl:
        assert impl.name == "reference" and impl.declaration.functions[0] == "forward"
        z = np.arange(6.0).reshape(2, 3)
        out = impl.forward(z, np.ones((2, 1)), np.zeros((2, 1)), 1e-5)
        np.testing.assert_array_equal(out, batchnorm.forward(z, np.ones((2, 1)), np.zeros((2, 1)), 1e-5))
        with pytest.raises(ValueError, match="eps: expected a number > 0"):
            impl.forward(z, np.ones((2, 1)), np.zeros((2, 1)), -1.0)


def test_a_keyboard_interrupt_in_the_child_is_an_error_reply_and_the_child_lives():
    with ProcessImpl.isolate(f"{M}.exits:InterruptsBN", 0) as impl:
        with pytest.raises(ImplementationError, match="^KeyboardInterrupt: raised by the implementation$"):
            impl.forward(np.ones((2, 3)), np.ones((2, 1)), np.zeros((2, 1)), 1e-5)
        assert impl._child.alive() and impl.restarts == 0


def test_closing_kills_the_whole_process_group(tmp_path):
    """A grandchild of the implementation (a subprocess it left running) ends with it."""
    script = tmp_path / "spawner.py"
    pid_file = tmp_path / "grandchild.pid"
    script.write_text(SPAWNER.format(pid_file=str(pid_file)))
    impl = ProcessImpl.exec(f"{sys.executable} {script}")
    grandchild = int(pid_file.read_text())
    os.kill(grandchild, 0)  # alive
    impl.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(grandchild):
        time.sleep(0.05)
    assert not _alive(grandchild)


SPAWNER = """
import json, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open({pid_file!r}, "w").write(str(child.pid))
for line in sys.stdin:
    request = json.loads(line)
    print(json.dumps({{"id": request["id"], "ok": True, "result": {{"protocol": "bnspec-exec", "version": 1,
                                                                   "functions": ["forward"]}}}}), flush=True)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not reaped by its dead parent yet) counts as ended
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


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


@require_module("ml_dtypes", "dev")
def test_bfloat16_arrays_cross_the_isolation_boundary_exactly():
    import ml_dtypes

    z = np.array([[1.5, -0.0078125, 3.0], [2.0, 0.25, -1.0]], dtype=ml_dtypes.bfloat16)
    gamma, beta = np.ones((2, 1), dtype=z.dtype), np.zeros((2, 1), dtype=z.dtype)
    with ProcessImpl.isolate("reference", 0) as impl:
        out = impl.forward(z, gamma, beta, 1e-3)
    expected = batchnorm.forward(z, gamma, beta, 1e-3)
    assert out.dtype == expected.dtype == z.dtype and out.tobytes() == expected.tobytes()


def test_the_isolated_target_declares_the_same_dtypes():
    """The declaration crosses too: under --isolate the float16 and bfloat16 clauses still apply."""
    with Session(RunOptions("reference", isolate=True)) as session:
        assert session.subject.dtypes == ("float64", "float32", "float16", "bfloat16")
        assert session.subject.declaration == isolation_free_reference().declaration
