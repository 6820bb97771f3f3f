"""`bnspec check --exec`: the process protocol, the JavaScript example (it conforms,
its broken variants do not), a misbehaving process (it hangs, dies, breaks the
protocol) failing a clause without ending the run, and the exact codec."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from requirements import require_module, require_program

from bnspec.spec import protocol as declared_protocol
from bnspec.spec.cli import main
from bnspec.spec.errors import ClauseTimeout, ImplementationCrashed, ImplementationRaised, ProtocolBreach, TargetError
from bnspec.spec.process import codec, protocol
from bnspec.spec.process.proxy import ProcessImpl
from bnspec.spec.session import RunOptions, Session, target_of
from bnspec.spec.target import Target

ROOT = Path(__file__).resolve().parents[1]
JS = f"node {shlex.quote(str(ROOT / 'examples' / 'js' / 'batchnorm.js'))}"
#: The JavaScript example's tests: skipped without node (failed under BNSPEC_REQUIRE_ALL=1).
NODE = require_program("node", "install Node.js, e.g. apt-get install -y nodejs")

# A stdlib-only implementation of the protocol that misbehaves on purpose: it declares
# forward (which misbehaves as MODE says) and forward_eval (which returns z unchanged).
CHILD = r'''
import json, sys, time
mode, layout = sys.argv[1], sys.argv[2]
ERRORS = {
    "refuse": {"type": "ValueError", "message": "z: refused"},
    "own-error": {"type": "Panic", "message": "index out of range"},
    "breach": {"type": "ProtocolBreach", "message": "forward returned a string for output"},
    "exit": {"type": "SystemExit", "message": "4", "code": 4},
    "interrupt": {"type": "KeyboardInterrupt", "message": ""},
}
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
    elif mode in ERRORS:
        reply = {"id": request["id"], "ok": False, "error": ERRORS[mode]}
    elif mode == "mutates":  # forward_eval's z, reported as forward's mutated z (and z as the output)
        reply["result"] = [request["args"]["z"]]
        reply["mutated"] = {"z": dict(request["args"]["z"], data=["0x1p+0"] * len(request["args"]["z"]["data"]))}
    elif mode == "bad-mutated":
        reply["result"] = [request["args"]["z"]]
        reply["mutated"] = {"output": request["args"]["z"]}
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


@NODE
def test_the_js_example_passes_every_clause(capsys):
    assert main(["check", "--exec", JS, "--strict", "--max-examples", "10", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert " 0 failed," in out and "0 errors" in out and "conforms" in out


@NODE
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
    assert f"bnspec check --exec {shlex.quote(command)} --max-examples 10 --clause {clauses[0]} --seed 0" in out
    assert "reproduce with numpy:" in out


@NODE
def test_exec_with_isolate_runs_the_program_as_it_is():
    """--exec with --isolate: the program is already its own process; the verdicts do not change."""
    base = ["check", "--isolate", "--clause", "BN-FWD-REF", "--max-examples", "5", "--quiet", "--exec"]
    assert main([*base, JS]) == 0
    assert main([*base, f"{JS} --fault eps-outside-sqrt"]) == 1


@NODE
def test_the_js_handshake_declares_the_lecture_profile_and_the_four_functions():
    with Session(RunOptions(target_of(None, JS))) as session:
        target = Target(session.subject)
        assert target.profile.name == "lecture" and target.layout == "units_first"
        assert session.subject.declaration.functions == declared_protocol.CORE  # the variants' functions are optional
        z, gamma, beta, eps = _layer()
        z[0] = [0.0, 5e-324, -1e300]  # zero, the smallest subnormal and a huge value cross the pipe exactly:
        eps = 2.0**-20  # running_var + eps = 1, so forward_eval is z * 1 + 0
        out = target.forward_eval(z, gamma, beta, np.zeros((2, 1)), np.full((2, 1), 1 - eps), eps)
        assert out.tobytes() == z.tobytes()
        with pytest.raises(ImplementationRaised, match="forward raised ValueError: eps: expected a number > 0") \
                as raised:
            target.forward(z, gamma, beta, -1.0)
        assert isinstance(raised.value.__cause__, ValueError)


@NODE
def test_an_unknown_fault_is_a_usage_error(capsys):
    assert main(["check", "--exec", f"{JS} --fault nonsense"]) == 2
    err = capsys.readouterr().err
    assert "failed the handshake: the implementation's process exited with status 2" in err
    assert "--fault: expected one of" in err and len(err.strip().splitlines()) == 1  # one line


# -- a misbehaving process -----------------------------------------------------------


def _eval_args(z):
    return (z, *_layer()[1:3], np.zeros((2, 1)), np.ones((2, 1)), 1e-5)


def test_a_hung_call_is_killed_and_the_process_restarted(child):
    impl = ProcessImpl.exec(child("hang"), call_timeout=0.5)
    try:
        first = impl._child
        start = time.monotonic()
        # a limit given (--timeout) is the clause's: past it, the clause's timeout
        with pytest.raises(ClauseTimeout, match=r"timed out after 0.5 s \(forward \(request 1\): no reply within"):
            impl.forward(*_layer())
        assert time.monotonic() - start < 5
        assert first is not None and first.popen.poll() is not None  # killed
        z = _layer()[0]
        np.testing.assert_array_equal(impl.forward_eval(*_eval_args(z)), z)
        assert impl.restarts == 1
    finally:
        impl.close()


def test_a_dead_process_fails_the_call_and_is_restarted(child, capsys):
    impl = ProcessImpl.exec(child("die"))
    try:
        with pytest.raises(ImplementationCrashed, match=r"exited with status 3 .*\n?.*dying on purpose"):
            impl.forward(*_layer())
        assert "dying on purpose" in capsys.readouterr().out  # its stderr is echoed into the clause's output
        z = _layer()[0]
        np.testing.assert_array_equal(impl.forward_eval(*_eval_args(z)), z)
        assert impl.restarts == 1
    finally:
        impl.close()


def test_a_process_that_exits_between_calls_fails_the_next_call_then_restarts(child):
    impl = ProcessImpl.exec(child("one-shot"))
    z = _layer()[0]
    try:
        np.testing.assert_array_equal(impl.forward_eval(*_eval_args(z)), z)
        # (seen between the calls, or while sending the next request: it may still be exiting)
        with pytest.raises(ImplementationCrashed,
                           match="exited with status 0 (between two calls|before reading|before replying)"):
            impl.forward_eval(*_eval_args(z))
        np.testing.assert_array_equal(impl.forward_eval(*_eval_args(z)), z)
        assert impl.restarts == 1
    finally:
        impl.close()


@pytest.mark.parametrize(("mode", "message"), [
    ("garbage", "the reply is not JSON: b'debug: forward called'"),
    ("wrong-id", "the reply has id 101; the request had id 1"),
    ("bad-mutated", "the reply's 'mutated' must map arguments of forward to arrays"),
])
def test_a_broken_reply_fails_the_call_and_ends_the_process(child, mode, message):
    impl = ProcessImpl.exec(child(mode))
    try:
        first = impl._child
        with pytest.raises(ProtocolBreach, match=message.replace("(", r"\(").replace(")", r"\)")):
            impl.forward(*_layer())
        assert first is not None and first.popen.poll() is not None and impl._child is None
    finally:
        impl.close()


@pytest.mark.parametrize(("mode", "kind", "message"), [
    ("refuse", ValueError, "z: refused"),
    ("own-error", protocol.ImplementationError, "Panic: index out of range"),
    ("interrupt", protocol.ImplementationError, "KeyboardInterrupt: "),  # never a real Ctrl-C here
    ("breach", ProtocolBreach, "forward returned a string for output"),
    ("exit", SystemExit, "4"),
])
def test_the_implementations_own_errors_keep_the_process(child, mode, kind, message):
    impl = ProcessImpl.exec(child(mode))
    try:
        with pytest.raises(kind) as raised:
            impl.forward(*_layer())
        assert type(raised.value) is kind and str(raised.value) == message
        assert impl._child is not None and impl._child.alive() and impl.restarts == 0
    finally:
        impl.close()
    assert type(protocol.raised({"type": "Panic", "message": ""})) is protocol.ImplementationError  # one class


def test_the_mutated_field_is_copied_into_the_callers_arrays(child):
    with ProcessImpl.exec(child("mutates")) as impl:
        z, gamma, beta, eps = _layer()
        before = z.copy()
        np.testing.assert_array_equal(impl.forward(z, gamma, beta, eps), before)
        np.testing.assert_array_equal(z, np.ones_like(z))


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
    assert "BN-SHAPE-1" in out and ("no reply within 1 s" in out or "timed out after 1 s" in out), out


def test_layout_and_missing_functions_come_from_the_handshake(child, capsys):
    with Session(RunOptions(target_of(None, child("die", "batch_first")))) as session:
        subject = session.subject
        assert subject.layout == "batch_first" and not subject.has("backward") and subject.has("forward_eval")
        assert not hasattr(subject.impl, "backward") and callable(subject.impl.forward_eval)
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


@pytest.mark.parametrize(("command", "message"), [
    # whether the exit comes before or after bnspec writes the request is the scheduler's choice
    (f"{sys.executable} -c pass", "failed the handshake: the implementation's process exited with status 0 "
                                  "before (replying|reading the request)"),
    ("no-such-program-bnspec", "cannot start the process"),
    ("'unclosed", "--exec: cannot split"),
])
def test_a_program_that_does_not_start_or_answer_is_a_target_error(command, message):
    with pytest.raises(TargetError, match=message):
        ProcessImpl.exec(command)


def test_a_bad_declaration_is_a_target_error(child):
    with pytest.raises(TargetError, match="failed the handshake: its declaration: layout 'diagonal'"):
        ProcessImpl.exec(child("die", "diagonal"))


# -- the exact encoding (the one codec: the protocol, the vectors, the case files) -------------


def test_arrays_round_trip_exactly():
    values = np.array([[0.0, -0.0, 5e-324, 1e308, -1.5], [0.1, 1 / 3, np.nextafter(1.0, 2.0), -2.0**-1022, 7.0]])
    singles = np.array([0.0, -0.0, 2.0**-149, 3.4028235e38, 0.1], dtype=np.float32)
    halves = np.array([0.0, -1.5, 2.0**-24, 65504.0], dtype=np.float16)
    integers = np.array([[-(2**63), 2**63 - 1]], dtype=np.int64)
    flags = np.array([True, False, True])
    for array in (values, singles, halves, integers, flags, np.zeros((0, 3)), np.array(2.5)):
        back = codec.decode_array("a", json.loads(json.dumps(codec.encode_array(array))))
        assert back.dtype == array.dtype and back.shape == array.shape and back.tobytes() == array.tobytes()


@require_module("ml_dtypes", "dev")
def test_bfloat16_arrays_go_by_name_exactly():
    import ml_dtypes

    value = np.array([[1.5, -0.0078125, 3.0e38, np.inf]], dtype=ml_dtypes.bfloat16)
    encoded = codec.encode_array(value)
    assert encoded["dtype"] == "bfloat16" and encoded["data"][0] == "0x1.8000000000000p+0"
    back = codec.decode_array("a", encoded)
    assert back.dtype == value.dtype and back.tobytes() == value.tobytes()
    with pytest.raises(codec.CodecError, match="is not a bfloat16 value"):
        codec.decode_array("a", {"dtype": "bfloat16", "shape": [1], "data": ["0x1.001p+0"]})


def test_decoding_accepts_c99_forms_and_round_trip_decimals():
    data = ["0x1p-3", "-0X1.8P+1", "inf", "nan", 0.1, 3]
    back = codec.decode_array("a", {"dtype": "float64", "shape": [6], "data": data})
    assert back[:3].tolist() == [0.125, -3.0, np.inf] and np.isnan(back[3]) and back[4:].tolist() == [0.1, 3.0]


@pytest.mark.parametrize(("value", "message"), [
    ({"dtype": "float32", "shape": [1], "data": ["0x1.0000000000001p+0"]}, "is not a float32 value"),
    ({"dtype": "float64", "shape": [2, 2], "data": ["0x1p+0"]}, "data has 1 values; shape"),
    ({"dtype": "complex64", "shape": [1], "data": ["0x1p+0"]}, "dtype 'complex64'"),
    ({"dtype": "object", "shape": [1], "data": [1]}, "dtype 'object'"),
    ({"dtype": "int32", "shape": [1], "data": ["0x1p+0"]}, "is not of dtype int32"),
    ({"dtype": "int8", "shape": [1], "data": [300]}, "out of the range of int8"),
    ({"dtype": "bool", "shape": [1], "data": [1]}, "is not of dtype bool"),
    ({"dtype": "float64", "shape": [1], "data": [True]}, "got a boolean"),
    ({"dtype": "float64", "shape": [1], "data": ["1.5"]}, "is not a hex float"),
    ({"dtype": "float64", "shape": [1]}, "has no data"),
])
def test_decoding_refuses_what_is_not_exact(value, message):
    with pytest.raises(codec.CodecError, match=message):
        codec.decode_array("a", value)


def test_saved_values_round_trip_with_their_types():
    values = [None, True, 3, "float32", 0.1, float("nan"), -0.0, [2, 0, 1], (1.5, (None, "x")),
              np.float32(1.5), np.int64(7), np.bool_(False), np.arange(6, dtype=np.int32).reshape(2, 3),
              np.array([[1.0, np.inf]], dtype=np.float16)]
    back = codec.decode_value(json.loads(json.dumps(codec.encode_value(values), allow_nan=False)))
    assert back[:5] == values[:5] and np.isnan(back[5]) and str(back[6]) == "-0.0"
    assert back[7] == [2, 0, 1] and back[8] == (1.5, (None, "x"))
    assert back[9:12] == [1.5, 7, False] and [type(v) for v in back[9:12]] == [float, int, bool]
    for was, now in zip(values[12:], back[12:], strict=True):
        assert now.dtype == was.dtype and now.tobytes() == was.tobytes()
    for unsaved in (1 + 2j, {"a": 1}, np.array([None]), object()):
        with pytest.raises(codec.CodecError):
            codec.encode_value(unsaved)
    with pytest.raises(codec.CodecError, match="is not an encoded value"):
        codec.decode_value({"array": 0})


def test_the_first_case_files_values_are_still_read():
    """bnspec-case/1 as first written: lists as {"list": ...}, dtypes as numpy's type strings."""
    old = {"list": [{"dtype": "<f8", "shape": [2], "data": ["0x1.8p+0", "-inf"]},
                    {"dtype": "<i8", "shape": [1], "data": [4]}, {"dtype": "|b1", "shape": [1], "data": [True]},
                    {"tuple": [{"float": "0x1.0p-3"}]}]}
    floats, integers, flags, pair = codec.decode_value(old)
    assert floats.dtype == np.float64 and floats.tolist() == [1.5, -np.inf]
    assert integers.dtype == np.int64 and flags.dtype == np.bool_ and pair == (0.125,)
