"""The tutorial's worked failure: a real run of ``bnspec check`` made when the site is built.

:func:`run` copies examples/learner_bn.py into a temporary folder as ``my_bn.py`` with one
classic mistake (examples/mistakes.py ``EPS_OUTSIDE_ROOT``: eps outside the square root), runs
``bnspec check my_bn.py --quiet --save-failures cases`` there, replays the first failure's case
against that file and against the file fixed, and keeps what each command printed.  The page
(docs/tutorial.md) shows the parts of that output through ``{{ tutorial("part") }}``
(:data:`PARTS`); nothing of it is written by hand.  The temporary folder's path is shown as
:data:`SHOWN_FOLDER`.  A part that the output no longer has fails the build.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import ROOT

#: The temporary folder of the build, as the page shows it.
SHOWN_FOLDER = "/home/learner/bn"
#: The clause whose failure the page walks through: the first the run reports.
CLAUSE = "BN-NORM-2"
#: The command the page runs, in the folder of my_bn.py.
CHECK = ("check", "my_bn.py", "--quiet", "--save-failures", "cases")
CASE = f"cases/{CLAUSE}-seed0.json"


def _mistake() -> tuple[str, str]:
    spec = importlib.util.spec_from_file_location("mistakes", ROOT / "examples" / "mistakes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EPS_OUTSIDE_ROOT


@dataclass(frozen=True)
class Run:
    mistaken_line: str  # the line of my_bn.py with the mistake
    check: str  # bnspec check's output
    check_status: int
    replay: str  # bnspec replay of the case against my_bn.py
    replay_status: int
    replay_fixed: str  # ... against the file fixed
    replay_fixed_status: int


def _bnspec(args: tuple[str, ...] | list[str], folder: Path) -> tuple[str, int]:
    # BNSPEC_JOBS as the environment sets it: a reader's default when the site is built alone, one process when
    # the test suite builds it (its workers already hold the cores); the output is the same either way.
    env = {**os.environ, "COLUMNS": "120"}
    done = subprocess.run([sys.executable, "-m", "bnspec.spec.cli", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    text = (done.stdout + done.stderr).replace(str(folder), SHOWN_FOLDER)
    return text, done.returncode


@functools.cache
def run() -> Run:
    """The commands' outputs (once per build, for both languages)."""
    correct, mistaken = _mistake()
    source = (ROOT / "examples" / "learner_bn.py").read_text(encoding="utf-8")
    if source.count(correct) != 1:
        raise ValueError(f"examples/learner_bn.py holds {correct!r} {source.count(correct)} times, not once")
    with tempfile.TemporaryDirectory(prefix="bnspec-tutorial-") as temporary:
        folder = Path(temporary).resolve()
        (folder / "my_bn.py").write_text(source.replace(correct, mistaken), encoding="utf-8")
        (folder / "my_bn_fixed.py").write_text(source, encoding="utf-8")
        check, status = _bnspec(CHECK, folder)
        replay, replay_status = _bnspec(["replay", CASE, "my_bn.py"], folder)
        fixed, fixed_status = _bnspec(["replay", CASE, "my_bn_fixed.py"], folder)
    line = next(text.strip() for text in source.replace(correct, mistaken).splitlines() if mistaken in text)
    return Run(line, check, status, replay, replay_status, fixed, fixed_status)


def _blocks(output: str) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """The output's root-cause lines, each failure's block by clause ID, and the closing lines."""
    head: list[str] = []
    blocks: dict[str, list[str]] = {}
    current: list[str] = head
    for line in output.splitlines():
        if line.startswith("--- "):
            current = blocks.setdefault(line.split()[1], [])
        current.append(line)
    last = blocks[next(reversed(blocks))] if blocks else head
    tail_start = next((i for i, line in enumerate(last) if line and line[0].isdigit() and " passed, " in line), None)
    tail = last[tail_start:] if tail_start is not None else []
    if tail_start is not None:
        del last[tail_start:]
    return [line for line in head if line.strip()], blocks, tail


def _until(lines: list[str], stop: str) -> list[str]:
    return lines[:next((i for i, line in enumerate(lines) if line.startswith(stop)), len(lines))]


def _reproducer(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith("reproduce with numpy:"))
    return [line.removeprefix("    ") for line in lines[start + 1:]]


def part(name: str) -> str:
    """One part of the run's output, as text (ValueError for an unknown part or one the output lacks)."""
    found = run()
    if (found.check_status, found.replay_status, found.replay_fixed_status) != (1, 1, 0):
        raise ValueError("the tutorial's run did not go as the page tells it (check and replay of my_bn.py fail, "
                         f"replay of the fixed file passes): exit statuses {found.check_status}, "
                         f"{found.replay_status}, {found.replay_fixed_status}\n{found.check[:3000]}")
    head, blocks, tail = _blocks(found.check)
    if CLAUSE not in blocks:
        raise ValueError(f"the run reports no failure of {CLAUSE}: the tutorial's walk-through needs it")
    failure = blocks[CLAUSE]
    parts = {
        "line": [found.mistaken_line],
        "root_cause": head,
        "failure": _until(failure, "reproduce with numpy:"),
        "reproducer": _reproducer(failure),
        "summary": [line for line in tail if not line.startswith("saved ")][:3] + [
            next((line for line in tail if line.startswith(f"saved {SHOWN_FOLDER}/{CASE}")), "")],
        "replay": found.replay.strip().splitlines()[-1:],
        "replay_fixed": found.replay_fixed.strip().splitlines()[-1:],
        "other_failures": [f"{len(blocks) - 1}"],
    }
    if name not in parts:
        raise ValueError(f"tutorial({name!r}): the parts are {', '.join(parts)}")
    text = "\n".join(line for line in parts[name] if line is not None).strip("\n")
    if not text.strip():
        raise ValueError(f"tutorial({name!r}): the run's output has no such part:\n{found.check[:2000]}")
    return text


#: The parts :func:`part` knows.
PARTS = ("line", "root_cause", "failure", "reproducer", "summary", "replay", "replay_fixed", "other_failures")


def block(name: str) -> str:
    """:func:`part` as a fenced code block (``other_failures``: the number alone, for a sentence)."""
    text = part(name)
    if name == "other_failures":
        return text
    if name in ("line", "reproducer"):
        return f"```python\n{text}\n```"
    # bnspec's output wraps (its lines run to hundreds of characters: observed and required must be in view).
    return f'<div class="bnspec-output" markdown>\n\n```text\n{text}\n```\n\n</div>'

