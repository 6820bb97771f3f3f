"""The suite's xdist groups hold: under `make test`'s `-n 2 --dist loadgroup`, tests marked with one
`xdist_group` run on one worker.  The site's tests rely on it (one build, no worker waiting on another's
lock), and so do the adapters' (one framework loaded per worker).  pytest 9.2 with pytest-xdist 3.8
silently dropped the groups (pytest-dev/pytest-xdist#1386): this test is what notices."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap


def test_a_group_runs_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(textwrap.dedent("""
        import pytest

        pytestmark = pytest.mark.xdist_group("together")


        @pytest.mark.parametrize("i", range(6))
        def test_member(i):
            pass
    """))
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p",
                           "no:cacheprovider", "test_grouped.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    workers = re.findall(r"\[(gw\d+)\].*PASSED", done.stdout)
    assert len(workers) == 6 and len(set(workers)) == 1, done.stdout
