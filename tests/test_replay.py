"""Reproducibility: the same seed gives the same run; a saved failure replays.

- ``bnspec check TARGET --seed S`` twice gives the same JSON report, except the
  times (the reference on every clause, a faulty implementation on clauses it
  fails and passes): no clause is flaky.
- ``--save-failures DIR`` writes each failing clause's minimal example as a JSON
  case file with exact values; ``bnspec replay FILE TARGET`` exits 1 while it
  still fails and 0 once the target passes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bnspec.spec import cases
from bnspec.spec.cli import main
from bnspec.spec.process import codec

FAULTY = "zoo.forward_faults:UnbiasedVarianceBN"
FAULTY_CLAUSES = ["--clause", "BN-NORM-2", "--clause", "BN-AFFINE-1", "--clause", "BN-RUN-1", "--clause", "BN-SHAPE-1"]


def _report(path: Path) -> dict:
    content = json.loads(path.read_text())
    for result in content["results"]:
        del result["seconds"]
    return content


@pytest.mark.parametrize(("target", "options"), [
    ("reference", ["--max-examples", "3"]),
    (FAULTY, ["--max-examples", "10", *FAULTY_CLAUSES]),
], ids=["reference", "faulty"])
def test_the_same_seed_gives_the_same_run(tmp_path, target, options):
    runs = []
    for name in ("first.json", "second.json"):
        main(["check", target, "--seed", "7", "--quiet", "--json", str(tmp_path / name), *options])
        runs.append(_report(tmp_path / name))
    assert runs[0] == runs[1]
    if target == FAULTY:
        statuses = {r["id"]: r["status"] for r in runs[0]["results"]}
        assert statuses == {"BN-NORM-2": "FAIL", "BN-AFFINE-1": "pass", "BN-RUN-1": "FAIL", "BN-SHAPE-1": "pass"}


def _saved(tmp_path: Path, target: str, clause: str, *extra: str) -> Path:
    folder = tmp_path / "cases"
    assert main(["check", target, "--clause", clause, "--seed", "3", "--max-examples", "10", "--quiet",
                 "--save-failures", str(folder), *extra]) == 1
    (path,) = folder.glob("*.json")
    return path


def test_a_saved_failure_replays_and_passes_once_fixed(tmp_path, capsys):
    path = _saved(tmp_path, FAULTY, "BN-NORM-2")
    case = json.loads(path.read_text())
    assert case["format"] == cases.FORMAT and case["clause"] == "BN-NORM-2" and case["target"] == FAULTY
    assert case["profile"] == "lecture" and case["seed"] == 3 and case["status"] == "FAIL"
    assert [label for label, _ in case["draws"]][:5] == ["arrangement", "size", "n", "m", "z"]
    assert case["calls"] and case["calls"][0]["function"] == "forward"
    assert "bnspec replay" in capsys.readouterr().out
    assert main(["replay", str(path)]) == 2  # a file is data: its own target runs only on the user's word
    assert "--trust-target" in capsys.readouterr().err
    assert main(["replay", str(path), FAULTY]) == 1  # the faulty target, named on the command line: still fails
    out = capsys.readouterr().out
    assert "BN-NORM-2" in out and "still fails" in out and "reproduce with numpy" in out
    assert main(["replay", str(path), "reference"]) == 0  # a correct implementation passes it
    assert "now passes" in capsys.readouterr().out


def test_the_replayed_failure_is_the_saved_one(tmp_path, capsys):
    path = _saved(tmp_path, FAULTY, "BN-NORM-2")
    first = capsys.readouterr().out
    assert main(["replay", str(path), "--trust-target"]) == 1
    observed = [line for line in first.splitlines() if line.startswith("observed:")]
    assert observed and observed[0] in capsys.readouterr().out  # the same numbers, to the last digit


def test_a_crash_replays_under_isolation(tmp_path, capsys):
    path = _saved(tmp_path, "misbehaving.crashes:SegfaultBN", "BN-SHAPE-1", "--isolate")
    assert main(["replay", str(path), "misbehaving.crashes:SegfaultBN", "--isolate"]) == 1
    assert "SIGSEGV" in capsys.readouterr().out


def test_a_case_that_no_longer_fits_its_property_is_a_usage_error(tmp_path, capsys):
    path = _saved(tmp_path, FAULTY, "BN-NORM-2")
    case = json.loads(path.read_text())
    case["draws"][0][0] = "units"
    path.write_text(json.dumps(case))
    assert main(["replay", str(path), FAULTY]) == 2
    assert "no longer fits" in capsys.readouterr().err
    path.write_text("not json")
    assert main(["replay", str(path), FAULTY]) == 2
    path.write_bytes(b"\x80\x04\x95")  # a pickle's first bytes are refused as an unreadable case, never loaded
    assert main(["replay", str(path), FAULTY]) == 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_saved_values_are_exact(dtype):
    info = np.finfo(dtype)
    values = np.array([[0.1, -0.0, np.nan], [-np.inf, info.smallest_subnormal, info.max]], dtype=dtype)
    drawn = [("z", values), ("eps", 1e-5), ("n", 3), ("dtype", "float32"), ("permutation", [2, 0, 1])]
    back = [(label, codec.decode_value(json.loads(json.dumps(codec.encode_value(v))))) for label, v in drawn]
    assert back[0][1].dtype == values.dtype and back[0][1].tobytes() == values.tobytes()
    assert back[1:] == drawn[1:]
