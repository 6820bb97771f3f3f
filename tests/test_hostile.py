"""Verdicts that cannot be faked, files that are data, reports that are never lost.

Each case is an implementation, a file or an option that once gave a wrong exit status, ran code it
should not, damaged a file or lost a report; each asserts the exit status, that no traceback is
printed, and (where reports are asked for) that they exist and parse.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_vectors import resign

ROOT = Path(__file__).resolve().parents[1]
BNSPEC = [sys.executable, "-m", "bnspec.spec.cli"]


def _bnspec(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*BNSPEC, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def _target(tmp_path: Path, source: str, name: str = "impl.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def _no_traceback(done: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr


LEARNER = (ROOT / "examples" / "learner_bn.py").read_text()


# -- loading never decides the exit status ---------------------------------------------------------

LOADING = {
    "sys.exit(0) at import": "import sys\nsys.exit(0)\n",
    "KeyboardInterrupt at import": "raise KeyboardInterrupt\n",
    "a custom BaseException at import": "class Stop(BaseException):\n    pass\nraise Stop('no')\n",
    "SystemExit in the constructor": LEARNER + "\nclass Impl:\n    def __init__(self):\n        raise SystemExit(0)\n",
    "SystemExit from the profile": LEARNER.replace('profile = "lecture"', "")
    + "\nclass Impl:\n    forward = staticmethod(forward)\n    @property\n    def profile(self):\n"
      "        raise SystemExit(0)\n",
    "SystemExit from the profile's __str__": LEARNER.replace('profile = "lecture"', "")
    + "\nclass Exits:\n    def __str__(self):\n        raise SystemExit(0)\nprofile = Exits()\n",
    "dtypes = 5": LEARNER + "\ndtypes = 5\n",
    "dtypes = 'float64'": LEARNER + "\ndtypes = 'float64'\n",
    "a layout whose __eq__ raises": LEARNER.replace('layout = "batch_first"', "")
    + "\nclass Odd(str):\n    def __eq__(self, other):\n        raise RuntimeError('eq')\n"
      "    __hash__ = str.__hash__\nlayout = Odd('batch_first')\n",
}


@pytest.mark.parametrize("source", LOADING.values(), ids=list(LOADING))
def test_whatever_loading_raises_is_a_usage_error(tmp_path, source):
    target = _target(tmp_path, source)
    if "class Impl" in source:
        target += ":Impl"
    done = _bnspec("check", target, "--clause", "BN-SHAPE-1", "--max-examples", "2",
                   "--json", str(tmp_path / "r.json"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("bnspec: ") and done.stderr.count("\n") == 1, done.stderr
    _no_traceback(done)


# -- results are plain arrays ------------------------------------------------------------------------

LIES = {
    "an ndarray subclass that reports the input's dtype": LEARNER + """
class Liar(np.ndarray):
    requested = None

    @property
    def dtype(self):
        return self.requested if self.requested is not None else np.ndarray.dtype.__get__(self)


def _lie(value, dtype):
    lie = np.asarray(value, dtype=np.float64).view(Liar)
    lie.requested = dtype
    return lie


_forward, _backward = forward, backward


def forward(z, gamma, beta, eps=1e-5):  # computed in float64, reported in z's dtype
    return _lie(_forward(z.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64), eps), z.dtype)


def backward(z, gamma, beta, eps, grad):
    wide = (a.astype(np.float64) for a in (z, gamma, beta))
    return tuple(_lie(r, z.dtype) for r in _backward(*wide, eps, grad.astype(np.float64)))
""",
    "a masked array that hides wrong values": """
        import numpy as np
        def forward(z, gamma, beta, eps):
            return np.ma.masked_array(np.zeros_like(z), mask=np.ones(z.shape, dtype=bool))
        """,
    "np.matrix": """
        import numpy as np
        def forward(z, gamma, beta, eps):
            mu = z.mean(axis=1, keepdims=True)
            return np.asmatrix((z - mu) / np.sqrt(z.var(axis=1, keepdims=True) + eps) * gamma + beta)
        """,
}


NO_TOLIST = LEARNER + """
class NoList(np.ndarray):
    def tolist(self):
        raise RuntimeError("no tolist")


_forward = forward


def forward(z, gamma, beta, eps=1e-5):
    return _forward(z, gamma, beta, eps).view(NoList)
"""


@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "isolated"])
def test_a_subclass_whose_tolist_raises_is_read_as_its_values(tmp_path, isolate):
    target = _target(tmp_path, NO_TOLIST)
    done = _bnspec("check", target, "--clause", "BN-NORM", "--clause", "BN-SHAPE-1", "--max-examples", "10",
                   "--json", str(tmp_path / "r.json"), *(["--isolate"] if isolate else []))
    assert done.returncode == 0, done.stdout + done.stderr  # the values are right: the subclass is no fault
    assert {r["status"] for r in json.loads((tmp_path / "r.json").read_text())["results"]} == {"pass"}
    _no_traceback(done)


EPS_OUTSIDE = LEARNER.replace("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")
PATCHES = {
    "numpy.abs patched": EPS_OUTSIDE + "\nnp.abs = lambda x: np.zeros_like(x)\n",
    "bnspec's assertions patched": EPS_OUTSIDE + "\nimport bnspec.spec.assertions as _checks\n"
                                                 "_checks.compare = lambda *args: (0.0, '')\n",
}


@pytest.mark.parametrize("source", PATCHES.values(), ids=list(PATCHES))
def test_patching_the_checker_fools_only_the_cooperative_mode(tmp_path, source):
    target = _target(tmp_path, source)
    args = ("check", target, "--clause", "BN-NORM", "--max-examples", "20")
    # in process the implementation is cooperative code: the trust model (docs/robustness.md) says it can
    # patch numpy or bnspec; this pins that documented limit, so a change to it is seen and documented
    assert _bnspec(*args).returncode == 0
    done = _bnspec(*args, "--isolate", "--json", str(tmp_path / "r.json"))
    assert done.returncode == 1, done.stdout + done.stderr  # its patches stay in its own process
    assert "FAIL" in {r["status"] for r in json.loads((tmp_path / "r.json").read_text())["results"]}
    _no_traceback(done)


@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "isolated"])
@pytest.mark.parametrize("source", LIES.values(), ids=list(LIES))
def test_a_result_that_is_not_a_plain_array_never_conforms(tmp_path, source, isolate):
    target = _target(tmp_path, source)
    # --strict: the liar's float64 values are read as float64, which only the dtype clause (a SHOULD) judges
    done = _bnspec("check", target, "--clause", "BN-NORM", "--clause", "BN-F32", "--clause", "BN-SHAPE-1",
                   "--clause", "BN-DTYPE-1", "--strict", "--max-examples", "10", *(["--isolate"] if isolate else []))
    assert done.returncode == 1, done.stdout + done.stderr
    _no_traceback(done)


# -- case files are data -------------------------------------------------------------------------------


def _case(tmp_path: Path, **fields) -> Path:
    content = {"format": "bnspec-case/1", "clause": "BN-SHAPE-1", "target": "reference", "profile": "lecture",
               "seed": 0, "max_examples": 40, "status": "FAIL", "message": "",
               "draws": [["n", 1], ["m", {"float": "0x1p+1"}]], "calls": [], "reproducer": ""}
    content.update(fields)
    path = tmp_path / "case.json"
    path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize("kind", ["a .py file", "an exec: command"])
def test_replay_never_runs_the_target_a_case_file_names(tmp_path, kind):
    marker = tmp_path / "ran"
    evil = _target(tmp_path, f"open({str(marker)!r}, 'w').write('ran')\n", "evil.py")
    case = _saved_case(tmp_path)
    case.write_text(json.dumps({**json.loads(case.read_text()),
                                "target": evil if kind == "a .py file" else f"exec:{sys.executable} {evil}"}))
    done = _bnspec("replay", str(case))
    assert done.returncode == 2 and "--trust-target" in done.stderr and not marker.exists(), done.stderr
    _no_traceback(done)
    done = _bnspec("replay", str(case), "--trust-target")
    assert marker.exists(), done.stdout + done.stderr  # only on the user's word
    _no_traceback(done)


def _saved_case(tmp_path: Path) -> Path:
    """A real case file: the learner's batch norm with eps outside the square root fails BN-NORM-2."""
    target = _target(tmp_path, LEARNER.replace("np.sqrt(var + eps)", "(np.sqrt(var) + eps)"), "eps_outside.py")
    done = _bnspec("check", target, "--clause", "BN-NORM-2", "--max-examples", "10", "--save-failures",
                   str(tmp_path / "cases"))
    assert done.returncode == 1, done.stdout + done.stderr
    return tmp_path / "cases" / "BN-NORM-2-seed0.json"


def _edit_draw(label: str, value):
    def edit(content):
        for draw in content["draws"]:
            if draw[0] == label:
                draw[1] = value(draw[1])
    return edit


OUT_OF_DOMAIN = {
    "NaN in z": _edit_draw("z", lambda z: {**z, "data": ["nan", *z["data"][1:]]}),
    "eps < 0": _edit_draw("eps", lambda eps: {"float": "-0x1p-10"}),
    "eps < 0 under another profile": lambda content: (_edit_draw("eps", lambda eps: {"float": "-0x1p-10"})(content),
                                                      content.update(profile="torch")),
}


@pytest.mark.parametrize("edit", OUT_OF_DOMAIN.values(), ids=list(OUT_OF_DOMAIN))
def test_a_case_outside_the_clauses_domain_is_refused_not_blamed(tmp_path, edit):
    path = _saved_case(tmp_path)
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))
    done = _bnspec("replay", str(path), "reference")  # the reference used to "still fail" it
    assert done.returncode == 2 and "outside BN-NORM-2's domain" in done.stderr, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    _no_traceback(done)


@pytest.mark.parametrize("fields", [{"clause": ["BN-SHAPE-1"]}, {"target": None}, {"target": 5},
                                    {"seed": "zero"}, {"profile": 7},
                                    {"draws": "DEEP"}],
                         ids=["clause-list", "target-missing", "target-number", "seed-string", "profile-number",
                              "deep-nesting"])
def test_a_malformed_case_file_is_one_line_and_exit_2(tmp_path, fields):
    if "draws" in fields:  # json.dumps itself cannot write 50000 levels: write the text by hand
        path = _case(tmp_path)
        text = path.read_text().replace('"draws": [["n", 1], ["m", {"float": "0x1p+1"}]]',
                                        '"draws": [["z", ' + "[" * 50000 + "]" * 50000 + "]]")
        path.write_text(text)
    else:
        path = _case(tmp_path, **fields)
    done = _bnspec("replay", str(path), "reference")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    _no_traceback(done)


# -- options ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option", [["--timeout", "inf"], ["--timeout", "nan"], ["--timeout", "0"],
                                    ["--max-examples", "0"], ["--isolate", "--memory-limit", "99999999999"]])
def test_out_of_range_options_are_usage_errors(option):
    done = _bnspec("check", "reference", "--clause", "BN-SHAPE-1", *option)
    assert done.returncode == 2 and done.stderr.startswith("bnspec: "), done.stderr
    _no_traceback(done)


def test_the_reference_under_a_short_limit_and_many_examples_times_out_and_is_never_failed(tmp_path):
    done = _bnspec("check", "reference", "--clause", "BN-PURE-1", "--clause", "BN-NORM-1", "--clause", "BN-NORM-2",
                   "--max-examples", "100000", "--timeout", "2", "--json", str(tmp_path / "r.json"), timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert [(r["status"], r["cause"]) for r in results] == [("error", "timeout")] * 3, results
    _no_traceback(done)


# -- reports -----------------------------------------------------------------------------------------------

PRINTS_BADLY = LEARNER.replace('def forward(z, gamma, beta, eps=1e-5):\n',
                               'def forward(z, gamma, beta, eps=1e-5):\n    print("\\ud800\\x01 odd")\n')


def test_reports_survive_lone_surrogates_and_control_characters(tmp_path):
    target = _target(tmp_path, PRINTS_BADLY.replace("np.sqrt(var + eps)", "(np.sqrt(var) + eps)"))
    done = _bnspec("check", target, "--clause", "BN-NORM-2", "--max-examples", "10",
                   "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["results"][0]["status"] == "FAIL"
    ET.parse(tmp_path / "r.xml")


def _null_device(tmp_path: Path) -> str:
    """A null device of the test's own where it may make one (as root), so that a bnspec that replaced
    device nodes would replace that one and not the machine's /dev/null; else /dev/null itself."""
    if os.geteuid() == 0:
        node = tmp_path / "null"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        return str(node)
    return "/dev/null"


def test_a_device_a_symlink_and_the_umask_are_respected(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("{}")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    device = _null_device(tmp_path)
    done = _bnspec("check", "reference", "--clause", "BN-SHAPE-1", "--max-examples", "2",
                   "--json", device, "--junit", str(link))
    assert done.returncode == 0, done.stdout + done.stderr
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert link.is_symlink() and ET.parse(real).getroot().tag == "testsuite"
    fresh = tmp_path / "fresh.json"
    done = subprocess.run(["sh", "-c", f"umask 022 && exec {' '.join(BNSPEC)} check reference --clause BN-SHAPE-1 "
                                       f"--max-examples 2 --json {fresh}"], capture_output=True, text=True)
    assert done.returncode == 0 and stat.S_IMODE(fresh.stat().st_mode) == 0o644, done.stderr


def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    done = _bnspec("check", "reference", "--clause", "BN-SHAPE-1", "--max-examples", "2", "--json", str(fifo))
    reader.join(timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert json.loads(received[0])["results"][0]["status"] == "pass"


@pytest.mark.parametrize("option", ["--json", "--save-failures"])
def test_output_paths_are_checked_before_the_first_clause(tmp_path, option):
    wrong = tmp_path if option == "--json" else _target(tmp_path, "", "a_file.json")
    done = _bnspec("check", "reference", option, str(wrong))
    assert done.returncode == 2 and ("is a folder" in done.stderr or "is not a folder" in done.stderr), done.stderr
    assert "BN-SHAPE-1" not in done.stdout
    _no_traceback(done)


def test_a_broken_pipe_loses_no_report_and_keeps_the_verdict(tmp_path):
    report = tmp_path / "r.json"
    command = " ".join([*BNSPEC, "check", "reference", "--clause", "BN-SHAPE", "--max-examples", "2", "--json",
                        str(report)])
    done = subprocess.run(["bash", "-c", f"{command} | head -1; exit ${{PIPESTATUS[0]}}"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(report.read_text())["results"]) == 4
    _no_traceback(done)


def test_save_failures_never_overwrites_an_earlier_case(tmp_path):
    target = _target(tmp_path, LEARNER.replace("np.sqrt(var + eps)", "(np.sqrt(var) + eps)"))
    for _ in range(2):
        _bnspec("check", target, "--clause", "BN-NORM-2", "--max-examples", "10", "--save-failures",
                str(tmp_path / "cases"))
    assert sorted(p.name for p in (tmp_path / "cases").iterdir()) == ["BN-NORM-2-seed0-2.json",
                                                                      "BN-NORM-2-seed0.json"]


def test_an_implementation_that_changes_folder_does_not_move_the_reports(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = _target(tmp_path, LEARNER.replace('def forward(z, gamma, beta, eps=1e-5):\n',
                                               f'def forward(z, gamma, beta, eps=1e-5):\n'
                                               f'    import os; os.chdir({str(elsewhere)!r})\n'))
    done = _bnspec("check", target, "--clause", "BN-SHAPE-1", "--max-examples", "2", "--json", "r.json",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "r.json").exists() and not (elsewhere / "r.json").exists()


# -- what a protocol call raises, and what it leaves behind ---------------------------------------------

def _in_forward(line: str) -> str:
    """The learner's batch norm with ``line`` run at the start of every forward call."""
    return LEARNER.replace("def forward(z, gamma, beta, eps=1e-5):\n",
                           f"def forward(z, gamma, beta, eps=1e-5):\n    {line}\n")


@pytest.mark.parametrize("line", ["raise KeyboardInterrupt('from the implementation')",
                                  "import asyncio; raise asyncio.CancelledError()",
                                  "raise type('Stop', (BaseException,), {})('custom')"],
                         ids=["KeyboardInterrupt", "CancelledError", "custom BaseException"])
def test_a_base_exception_from_a_protocol_call_fails_its_clause_and_the_run_goes_on(tmp_path, line):
    target = _target(tmp_path, _in_forward(line))
    done = _bnspec("check", target, "--clause", "BN-SHAPE-1", "--clause", "BN-NORM-1", "--max-examples", "5",
                   "--json", str(tmp_path / "r.json"))
    assert done.returncode == 1, done.stdout + done.stderr
    statuses = [r["status"] for r in json.loads((tmp_path / "r.json").read_text())["results"]]
    assert statuses == ["FAIL", "FAIL"]
    _no_traceback(done)


def test_a_bare_except_cannot_swallow_the_time_limit(tmp_path):
    # the first timeout is swallowed; the repeated one ends the clause (a one-shot timer would wait 60 s)
    target = _target(tmp_path, _in_forward(
        "import time\n    try:\n        time.sleep(30)\n    except:\n        pass\n"
        "    time.sleep(30)"))
    done = _bnspec("check", target, "--clause", "BN-SHAPE-1", "--max-examples", "2", "--timeout", "1",
                   "--json", str(tmp_path / "r.json"), timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert (result["status"], result["cause"]) == ("error", "timeout")


def test_the_implementations_numpy_error_settings_do_not_reach_the_checks(tmp_path):
    target = _target(tmp_path, _in_forward("np.seterr(all='raise')"))
    done = _bnspec("check", target, "--clause", "BN-NORM", "--clause", "BN-INV-1", "--max-examples", "20")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_thread_left_running_does_not_keep_bnspec_alive(tmp_path):
    target = _target(tmp_path, _in_forward(
        "import threading, time; threading.Thread(target=time.sleep, args=(600,)).start()"))
    done = subprocess.run([sys.executable, "-c", "from bnspec.spec.cli import entry; entry()", "check", target,
                           "--clause", "BN-SHAPE-1", "--max-examples", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


# -- golden vectors take their expectations from the specification ------------------------------------

ZEROS = """
import numpy as np
def forward(z, gamma, beta, eps):
    return np.zeros_like(z)
"""


def _loosen(document):
    for case in document["cases"]:
        for output in case["expect"].get("outputs", []):
            if "tolerance" in output:
                output["tolerance"]["atol"]["data"] = ["0x1p+100"] * len(output["tolerance"]["atol"]["data"])


def _nan(document):
    for case in document["cases"]:
        for output in case["expect"].get("outputs", []):
            if "values" in output:
                output["values"]["data"] = ["nan"] * len(output["values"]["data"])


def _remove(document):
    for case in document["cases"]:
        for output in case["expect"].get("outputs", []):
            output.pop("values", None)


def _trim(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = [f for f in manifest["files"] if f["clause"] != "BN-FWD-REF"]
    manifest["clauses"].remove("BN-FWD-REF")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def _escape(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][0]["path"] = "../" + manifest["files"][0]["path"]
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


@pytest.mark.parametrize("forge", ["loosened atol", "NaN values", "removed values", "trimmed manifest",
                                   "path outside the set"])
def test_a_forged_vector_set_is_refused_not_checked_against(tmp_path, forge):
    folder = tmp_path / "set"
    assert _bnspec("vectors", "export", str(folder)).returncode == 0
    relative = "cases/common/BN-FWD-REF.json"
    {"loosened atol": lambda: resign(folder, relative, _loosen),
     "NaN values": lambda: resign(folder, relative, _nan),
     "removed values": lambda: resign(folder, relative, _remove),
     "trimmed manifest": lambda: _trim(folder),
     "path outside the set": lambda: _escape(folder)}[forge]()
    done = _bnspec("vectors", "check", str(folder), _target(tmp_path, ZEROS))
    assert done.returncode == 2 and "export the set again" in done.stderr, done.stdout + done.stderr
    _no_traceback(done)


def test_the_implementations_own_alarm_neither_ends_the_run_nor_cancels_the_time_limit(tmp_path):
    alarm = _target(tmp_path, _in_forward("import signal, time; signal.alarm(1); time.sleep(1.5)"), "alarm.py")
    done = _bnspec("check", alarm, "--clause", "BN-SHAPE-1", "--max-examples", "2", "--json", str(tmp_path / "a.json"))
    assert done.returncode == 0, done.stdout + done.stderr  # SIGALRM's default action used to kill bnspec
    cancel = _target(tmp_path, _in_forward("import signal, time; signal.alarm(0); time.sleep(60)"), "cancel.py")
    done = _bnspec("check", cancel, "--clause", "BN-SHAPE-1", "--max-examples", "2", "--timeout", "1",
                   "--json", str(tmp_path / "c.json"), timeout=50)
    result = json.loads((tmp_path / "c.json").read_text())["results"][0]
    assert done.returncode == 1 and (result["status"], result["cause"]) == ("error", "timeout")


def test_an_implementation_that_closes_sys_stdout_is_still_captured(tmp_path):
    target = _target(tmp_path, _in_forward("import sys; print('before'); sys.stdout.close()"))
    done = _bnspec("check", target, "--clause", "BN-SHAPE-1", "--max-examples", "2", "--json", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "before" in json.loads((tmp_path / "r.json").read_text())["results"][0]["output"]
    _no_traceback(done)
