"""``--jobs``: the clauses run in worker processes give the results one process gives, in clause order, and a
worker that dies leaves its clause as bnspec's error while the others go on (bnspec.spec.parallel)."""

from __future__ import annotations

from bnspec.spec.session import RunOptions, Session

FAULT = "zoo.forward_faults:NoCenteringBN"  # tests/ is on sys.path, which the workers inherit
CLAUSES = ["BN-NORM", "BN-AFFINE", "BN-RUN-1", "OPT-GD-1"]

#: A batch norm that ends its process in update_running (in process, nothing can report that clause but the
#: worker's parent).
DIES = '''
import os
from bnspec.reference import batchnorm

forward, backward, forward_eval = batchnorm.forward, batchnorm.backward, batchnorm.forward_eval

def update_running(running_mean, running_var, z, momentum):
    os._exit(3)
'''


def _run(target: str, jobs: int) -> list[tuple[str, str]]:
    with Session(RunOptions(target, max_examples=10, jobs=jobs, shrink=False)) as session:
        return [(r.clause.id, r.status.value) for r in session.run(session.clauses(CLAUSES))]


def test_workers_give_the_results_of_one_process_in_clause_order():
    one = _run(FAULT, 1)
    assert "FAIL" in {status for _, status in one} and "pass" in {status for _, status in one}
    assert _run(FAULT, 2) == one


def test_a_worker_that_dies_leaves_its_clause_as_an_error_and_the_others_run(tmp_path):
    module = tmp_path / "dies.py"
    module.write_text(DIES)
    statuses = dict(_run(str(module), 2))
    assert statuses["BN-RUN-1"] == "error"
    assert {s for cid, s in statuses.items() if cid.startswith(("BN-NORM", "BN-AFFINE"))} == {"pass"}


def test_a_bad_jobs_setting_is_a_one_line_usage_error():
    import os
    import subprocess
    import sys

    for setting in (["--jobs", "0"], []):
        env = dict(os.environ, BNSPEC_JOBS="many")
        done = subprocess.run([sys.executable, "-m", "bnspec.spec.cli", "check", "reference", "--clause",
                               "BN-SHAPE-1", *setting], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert ("--jobs" if setting else "BNSPEC_JOBS") in done.stderr
