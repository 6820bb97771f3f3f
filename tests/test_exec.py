"""`bnspec check --exec`: the process protocol, the JavaScript example (it conforms,
its broken variants do not), and a misbehaving process (it hangs, dies, breaks the
protocol) failing a clause without ending the run."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bnspec.spec.cli import main
from bnspec.spec.process import codec, protocol
from bnspec.spec.process.proxy import ChildFailure, ProcessImpl
from bnspec.spec.target import TargetError, load

ROOT = Path(__file__).resolve().parents[1]
JS = f"node {shlex.quote(str(ROOT / 'examples' / 'js' / 'batchnorm.js'))}"

# A stdlib-only implementation of the protocol that misbehaves on purpose: it declares
# forward (which misbehaves as MODE says) and forward_eval (which returns z unchanged).
CHILD = r'''
import json, sys, time
mode, layout = sys.argv[1], sys.argv[2]
while True:
    line = sys.stdin.readline()
    if not line:
        break
    request = json.loads(line)
    reply = {"id": request["id"], "ok": True}
    if request["call"] == "handshake":
        reply["result"] = {"protocol": "bnspec-exec", "version": 1, "functions": ["forward", "forward_eval"],
                           "layout": layout, "name": "misbehaving " + mode}
    elif request["call"] == "forward_eval":
        reply["result"] = [request["args"]["z"]]
    elif mode == "hang":
        time.sleep(60)
    elif mode == "die":
        print("dying on purpose", file=sys.stderr, flush=True)
        sys.exit(3)
    elif mode == "garbage":
        print("debug: forward called", flush=True)
        continue
    elif mode == "wrong-id":
        reply["id"] += 100
    elif mode == "refuse":
        reply = {"id": request["id"], "ok": False, "error": {"type": "ValueError", "message": "z: refused"}}
    elif mode == "own-error":
        reply = {"id": request["id"], "ok": False, "error": {"type": "Panic", "message": "index out of range"}}
    print(json.dumps(reply), flush=True)
    if mode == "one-shot" and request["call"] != "handshake":
        break
'''


@pytest.fixture
def child(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    def command(mode: str, layout: str = "units_first") -> str:
        return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {mode} {layout}"

    return command


def _layer(n: int = 2, m: int = 3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, m)), np.ones((n, 1)), np.zeros((n, 1)), 1e-5


# -- the JavaScript example ---------------------------------------------------------


def test_the_js_example_passes_every_clause(capsys):
    assert main(["check", "--exec", JS, "--strict", "--max-examples", "10", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert " 0 failed," in out and "0 errors" in out and "conforms" in out


@pytest.mark.parametrize(("fault", "clauses"), [
    ("eps-outside-sqrt", ["BN-NORM-2", "BN-FWD-REF", "BN-INV-3"]),
    ("unbiased-variance", ["BN-NORM-2", "BN-RUN-1", "BN-DEG-2"]),
])
def test_the_broken_js_variants_fail(fault, clauses, capsys):
    command = f"{JS} --fault {fault}"
    args = ["check", "--exec", command, "--max-examples", "10", "--quiet"]
    assert main(args + [a for c in clauses for a in ("--clause", c)]) == 1
    out = capsys.readouterr().out
    for clause_id in clauses:
        assert f"--- {clause_id} (MUST) FAIL" in out, out
    # the failure says how to rerun it, quoted for the shell, and reproduces it from Python
    assert f"bnspec check {shlex.quote('exec:' + command)} --max-examples 10 --clause {clauses[0]} --seed 0" in out
    assert f"impl = resolve({('exec:' + command)!r})" in out


def test_exec_runs_under_isolate_too(capsys):
    """--exec with --isolate: the proxy to the program runs in the isolated child."""
    base = ["check", "--isolate", "--clause", "BN-FWD-REF", "--max-examples", "5", "--quiet", "--exec"]
    assert main([*base, JS]) == 0
    assert main([*base, f"{JS} --fault eps-outside-sqrt"]) == 1
    assert "--isolate --memory-limit" in capsys.readouterr().out  # the reproduce line keeps it


def test_the_js_handshake_declares_the_lecture_profile_and_all_functions():
    target = load("exec:" + JS)
    try:
        assert target.profile.name == "lecture" and target.layout == "units_first"
        assert all(target.has(f) for f in protocol.SIGNATURES)
        z, gamma, beta, eps = _layer()
        z[0] = [0.0, 5e-324, -1e300]  # zero, the smallest subnormal and a huge value cross the pipe exactly:
        eps = 2.0**-20  # running_var + eps = 1, so forward_eval is z * 1 + 0
        out = target.forward_eval(z, gamma, beta, np.zeros((2, 1)), np.full((2, 1), 1 - eps), eps)
        assert out.tobytes() == z.tobytes()
        with pytest.raises(AssertionError, match="eps: expected a number > 0") as raised:
            target.forward(z, gamma, beta, -1.0)
        assert isinstance(raised.value.__cause__, ValueError)
    finally:
        target.impl.close()


def test_an_unknown_fault_is_a_usage_error(capsys):
    assert main(["check", "--exec", f"{JS} --fault nonsense"]) == 2
    err = capsys.readouterr().err
    assert "failed the handshake" in err and "--fault: expected one of" in err


# -- a misbehaving process -----------------------------------------------------------


def test_a_hung_call_is_killed_and_the_process_restarted(child):
    impl = ProcessImpl(child("hang"), call_timeout=0.5)
    try:
        first = impl._child
        start = time.monotonic()
        with pytest.raises(ChildFailure, match=r"no reply to forward \(request 1\) within 0.5 s"):
            impl.forward(*_layer())
        assert time.monotonic() - start < 5
        assert first is not None and first.popen.poll() is not None  # killed
        z = _layer()[0]
        np.testing.assert_array_equal(impl.forward_eval(z, *_layer()[1:3], np.zeros((2, 1)), np.ones((2, 1)), 1e-5), z)
        assert impl.restarts == 1
    finally:
        impl.close()


def test_a_dead_process_fails_the_call_and_is_restarted(child):
    impl = ProcessImpl(child("die"))
    try:
        with pytest.raises(ChildFailure, match=r"exited with status 3 .*\n?.*dying on purpose"):
            impl.forward(*_layer())
        z = _layer()[0]
        np.testing.assert_array_equal(impl.forward_eval(z, *_layer()[1:3], np.zeros((2, 1)), np.ones((2, 1)), 1e-5), z)
        assert impl.restarts == 1
    finally:
        impl.close()


def test_a_process_that_exits_between_calls_fails_the_next_call_then_restarts(child):
    impl = ProcessImpl(child("one-shot"))
    z, gamma, beta, _ = _layer()
    args = (z, gamma, beta, np.zeros((2, 1)), np.ones((2, 1)), 1e-5)
    try:
        np.testing.assert_array_equal(impl.forward_eval(*args), z)
        # (seen between the calls, or while sending the next request: it may still be exiting)
        with pytest.raises(ChildFailure, match="exited with status 0 (between two calls|before reading|instead of)"):
            impl.forward_eval(*args)
        np.testing.assert_array_equal(impl.forward_eval(*args), z)
        assert impl.restarts == 1
    finally:
        impl.close()


@pytest.mark.parametrize(("mode", "message"), [
    ("garbage", "is not JSON: b'debug: forward called'"),
    ("wrong-id", "the reply has id 101; the request had id 1"),
])
def test_a_broken_reply_fails_the_call(child, mode, message):
    impl = ProcessImpl(child(mode))
    try:
        with pytest.raises(ChildFailure, match=message.replace("(", r"\(").replace(")", r"\)")):
            impl.forward(*_layer())
    finally:
        impl.close()


def test_the_implementations_own_errors_keep_the_process(child):
    for mode, kind in (("refuse", ValueError), ("own-error", protocol.ImplementationError)):
        impl = ProcessImpl(child(mode))
        try:
            with pytest.raises(kind):
                impl.forward(*_layer())
            assert impl._child is not None and impl._child.alive() and impl.restarts == 0
        finally:
            impl.close()


def test_a_dead_process_fails_its_clause_and_the_run_goes_on(child, capsys):
    args = ["check", "--exec", child("die"), "--clause", "BN-SHAPE-1", "--clause", "BN-SHAPE-4",
            "--max-examples", "3"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert any(line.startswith("BN-SHAPE-1") and " FAIL " in line for line in out.splitlines()), out
    assert any(line.startswith("BN-SHAPE-4") and " pass " in line for line in out.splitlines()), out
    assert "exited with status 3" in out and "dying on purpose" in out


def test_the_clause_timeout_kills_a_hung_process(child, capsys):
    start = time.monotonic()
    assert main(["check", "--exec", child("hang"), "--clause", "BN-SHAPE-1", "--timeout", "1",
                 "--max-examples", "2", "--quiet"]) == 1
    assert time.monotonic() - start < 10
    out = capsys.readouterr().out
    assert "BN-SHAPE-1" in out and ("no reply to forward" in out or "timed out after 1 s" in out), out


def test_layout_and_missing_functions_come_from_the_handshake(child, capsys):
    target = load("exec:" + child("die", "batch_first"))
    try:
        assert target.layout == "batch_first" and not target.has("backward") and target.has("forward_eval")
    finally:
        target.impl.close()
    args = ["check", "--exec", child("die", "batch_first"), "--clause", "BN-SHAPE-4", "--clause", "BN-SHAPE-2",
            "--max-examples", "3"]
    assert main(args) == 0  # forward_eval echoes z, transposed to m x n and back; backward is n/a
    out = capsys.readouterr().out
    assert any(line.startswith("BN-SHAPE-2") and " n/a " in line for line in out.splitlines()), out


@pytest.mark.parametrize("argv", [
    ["check"],
    ["check", "reference", "--exec", "node x.js"],
    ["check", "--exec", "no-such-program-bnspec"],
    ["check", "--exec", f"{sys.executable} -c 'print(1)'"],
    ["check", "--exec", ""],
])
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "bnspec:" in capsys.readouterr().err


def test_a_failing_handshake_is_a_target_error():
    with pytest.raises(TargetError, match="failed the handshake: the process exited with status 0"):
        ProcessImpl(f"{sys.executable} -c pass")


# -- the exact encoding ------------------------------------------------------------


def test_arrays_round_trip_exactly():
    values = np.array([[0.0, -0.0, 5e-324, 1e308, -1.5], [0.1, 1 / 3, np.nextafter(1.0, 2.0), -2.0**-1022, 7.0]])
    singles = np.array([0.0, -0.0, 2.0**-149, 3.4028235e38, 0.1], dtype=np.float32)
    halves = np.array([0.0, -1.5, 2.0**-24, 65504.0], dtype=np.float16)
    for array in (values, singles, halves):
        back = codec.decode_array("a", codec.encode_array(array))
        assert back.dtype == array.dtype and back.tobytes() == array.tobytes()


def test_decoding_accepts_c99_forms_and_round_trip_decimals():
    data = ["0x1p-3", "-0X1.8P+1", "inf", "nan", 0.1, 3]
    back = codec.decode_array("a", {"dtype": "float64", "shape": [6], "data": data})
    assert back[:3].tolist() == [0.125, -3.0, np.inf] and np.isnan(back[3]) and back[4:].tolist() == [0.1, 3.0]


@pytest.mark.parametrize(("value", "message"), [
    ({"dtype": "float32", "shape": [1], "data": ["0x1.0000000000001p+0"]}, "is not a float32 value"),
    ({"dtype": "float64", "shape": [2, 2], "data": ["0x1p+0"]}, "data has 1 values; shape"),
    ({"dtype": "int32", "shape": [1], "data": ["0x1p+0"]}, "dtype 'int32'"),
    ({"dtype": "float64", "shape": [1], "data": [True]}, "got a boolean"),
    ({"dtype": "float64", "shape": [1], "data": ["1.5"]}, "is not a hex float"),
    ({"dtype": "float64", "shape": [1]}, "has no data"),
])
def test_decoding_refuses_what_is_not_exact(value, message):
    with pytest.raises(codec.CodecError, match=message):
        codec.decode_array("a", value)
