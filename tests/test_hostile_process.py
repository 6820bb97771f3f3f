"""Hostile programs behind ``--exec`` and hostile targets behind ``--isolate``.

The process boundary is where untrusted code is checked, so each case here is a
program that once hung bnspec, exhausted its memory, gave a traceback, lost the
real error or outlived it.  Each asserts the exit status, that the JSON report
exists and parses (where the run gets that far) and that no traceback is printed.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BNSPEC = [sys.executable, "-m", "bnspec.spec.cli"]

# A stdlib-only program that speaks the protocol (forward returns z unchanged) and misbehaves as
# its first argument says; its second argument is a file for the pids it wants checked afterwards.
PROGRAM = r'''
import json, os, signal, subprocess, sys, time
mode, pids = sys.argv[1], sys.argv[2]
HANDSHAKE = {"protocol": "bnspec-exec", "version": 1, "functions": ["forward"], "name": mode}
if mode == "slow-handshake":
    time.sleep(60)
if mode == "deep-handshake":
    sys.stdout.write('{"id": 0, "ok": true, "result": ' + "[" * 100000 + "]" * 100000 + "}\n")
    sys.stdout.flush()
    time.sleep(60)
if mode == "unhashable-handshake":
    HANDSHAKE.update(functions=[["forward"]], layout={"units": "first"}, profile=[1])
if mode in ("spawns", "ignores-sigterm"):
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(pids, "w") as out:
        out.write(f"{os.getpid()} {grandchild.pid}")
if mode == "ignores-sigterm":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
for line in sys.stdin:
    request = json.loads(line)
    if request["call"] == "handshake":
        print(json.dumps({"id": 0, "ok": True, "result": HANDSHAKE}), flush=True)
        continue
    if mode == "huge-reply":  # 100 MB on one line
        sys.stdout.write('{"id": %d, "ok": true, "result": [{"dtype": "float64", "shape": [1], "data": ["'
                         % request["id"] + "0" * 100_000_000 + '"]}]}\n')
        sys.stdout.flush()
        continue
    if mode == "closes-stdout":  # alive, but nothing will ever come
        os.close(1)
        time.sleep(600)
    if mode in ("spawns", "ignores-sigterm"):
        time.sleep(600)
    print(json.dumps({"id": request["id"], "ok": True, "result": [request["args"]["z"]]}), flush=True)
'''


@pytest.fixture
def program(tmp_path):
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)

    def command(mode: str) -> str:
        return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {mode} {tmp_path / 'pids'}"

    return command


def _no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr


def _check(tmp_path: Path, *args: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run([*BNSPEC, "check", *args, "--max-examples", "2", "--json", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=timeout)
    _no_traceback(done)
    return done, time.monotonic() - start


def _result(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "r.json").read_text())["results"][0]


def _ended(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its reaper has ended
                if stat.read().split(") ")[1][0] == "Z":
                    return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.05)
    return False


# -- --exec ------------------------------------------------------------------------------------------


def test_a_huge_reply_is_refused_at_the_cap_not_read_for_ever(tmp_path, program):
    done, seconds = _check(tmp_path, "--exec", program("huge-reply"), "--clause", "BN-SHAPE-1")
    assert done.returncode == 1, done.stdout + done.stderr
    result = _result(tmp_path)
    assert result["status"] == "FAIL" and "longer than 64 MiB" in result["message"], result
    assert seconds < 30  # was read quadratically and reported as "no reply within 30 s"


@pytest.mark.parametrize("mode", ["deep-handshake", "unhashable-handshake"])
def test_a_malformed_handshake_is_one_line_and_exit_2(tmp_path, program, mode):
    done, _ = _check(tmp_path, "--exec", program(mode), "--clause", "BN-SHAPE-1")
    assert done.returncode == 2 and done.stderr.startswith("bnspec: ") and done.stderr.count("\n") == 1, done.stderr


def test_the_handshake_is_bounded_by_the_timeout(tmp_path, program):
    done, seconds = _check(tmp_path, "--exec", program("slow-handshake"), "--timeout", "1")
    assert done.returncode == 2 and "no reply within 1 s" in done.stderr, done.stderr
    assert seconds < 15  # the handshake used to wait at least 30 s


def test_a_program_that_closes_stdout_but_lives_is_ended(tmp_path, program):
    done, seconds = _check(tmp_path, "--exec", program("closes-stdout"), "--clause", "BN-SHAPE-1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert _result(tmp_path)["status"] == "FAIL" and seconds < 30


@pytest.mark.parametrize("mode", ["spawns", "ignores-sigterm"])
def test_sigterm_ends_bnspec_the_program_and_its_children_and_keeps_the_reports(tmp_path, program, mode):
    report = tmp_path / "r.json"
    bnspec = subprocess.Popen([*BNSPEC, "check", "--exec", program(mode), "--clause", "BN-SHAPE",
                               "--max-examples", "2", "--json", str(report)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pids = tmp_path / "pids"
    deadline = time.monotonic() + 60
    while not (pids.exists() and len(pids.read_text().split()) == 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # into the first call, which hangs
    bnspec.send_signal(signal.SIGTERM)
    out, err = bnspec.communicate(timeout=30)
    assert bnspec.returncode == 128 + signal.SIGTERM, out + err
    assert "Traceback" not in out + err and "interrupted by SIGTERM" in out + err
    assert json.loads(report.read_text())["meta"]["stopped"] == "interrupted by SIGTERM"
    for pid in map(int, pids.read_text().split()):
        assert _ended(pid), f"process {pid} outlived bnspec"


# -- --isolate -----------------------------------------------------------------------------------------

LEARNER = (ROOT / "examples" / "learner_bn.py").read_text()


def _target(tmp_path: Path, source: str) -> str:
    path = tmp_path / "impl.py"
    path.write_text(textwrap.dedent(source))
    return str(path)


def test_an_enormous_broadcast_result_costs_the_parent_nothing(tmp_path):
    # 3e9 elements that cost the child nothing: refused by shape in the child, never described to the parent
    target = _target(tmp_path, """
        import numpy as np
        def forward(z, gamma, beta, eps):
            return np.broadcast_to(np.float64(0), (300_000, 10_000))
        """)
    done, seconds = _check(tmp_path, target, "--isolate", "--memory-limit", "100", "--clause", "BN-SHAPE-1")
    assert done.returncode == 1 and "shape" in _result(tmp_path)["message"], done.stdout + done.stderr
    assert seconds < 60


def test_an_exception_of_its_own_class_keeps_its_message_isolated(tmp_path):
    target = _target(tmp_path, LEARNER.replace(
        "def forward(z, gamma, beta, eps=1e-5):\n",
        "class Oops(Exception):\n    pass\n\n\ndef forward(z, gamma, beta, eps=1e-5):\n"
        "    raise Oops('the real message')\n"))
    done, _ = _check(tmp_path, target, "--isolate", "--clause", "BN-SHAPE-1")
    result = _result(tmp_path)
    assert done.returncode == 1 and "Oops: the real message" in result["message"], result
    assert "hidden state" not in result["message"]  # a new stand-in class per call made hypothesis say so


def test_what_the_isolated_implementation_started_ends_with_the_run(tmp_path):
    pids = tmp_path / "pids"
    target = _target(tmp_path, LEARNER + f"""
import subprocess, sys
_grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open({str(pids)!r}, "w").write(str(_grandchild.pid))
""")
    done, _ = _check(tmp_path, target, "--isolate", "--clause", "BN-SHAPE-1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _ended(int(pids.read_text())), "the isolated implementation's subprocess outlived bnspec"
