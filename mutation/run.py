"""`make mutation`: the suite's power, measured by mutation testing of examples/learner_bn.py.

cosmic-ray (https://github.com/sixty-north/cosmic-ray) makes every mutant of the example -- one operator
replaced, one number moved by +-1 -- and runs ``bnspec check`` on each; a mutant is *killed* when the check
exits non-zero (a clause failed), *survives* when it conforms.  A survivor is either equivalent to the original
(no input the protocol allows tells them apart) or a hole in the suite.

How the run is laid out (everything under build/mutation/, git-ignored, recreated on each run):

- ``session/``: a copy of the example, the configuration (mutation/cosmic-ray.toml with the workers' URLs filled
  in) and cosmic-ray's session database; the unmutated copy is checked there first (the baseline must conform);
- ``worker-0/``, ``worker-1/``, ...: one ``cosmic-ray http-worker`` each, on a free localhost port, each with its
  own copy of the example: cosmic-ray mutates a copy in place and restores it after the test, so the workers
  never share a file and the working tree's examples/learner_bn.py is never written (checked at the end).

``cosmic-ray exec`` then sends each mutant to a free worker (the http distributor: mutants run in parallel, one
per worker), with the per-mutant timeout of the configuration; a mutant still running then is stopped and counted
as a *timeout* (cosmic-ray counts it killed; this page reports it apart).

The results go to docs/mutation/results.json (every mutant, its outcome and the clause that killed it) and the
page docs/mutation.md with its translations (docs/mutation.zh-TW.md), rendered by mutation/page.py: the words of
each language in its ``WORDS``, the survivors' reasons in mutation/reasons.py (in every language: a missing
translation stops the writing), the numbers and the tables from the results.  This module holds the rest: the
run, the description of each mutant and of its outcome, the reasons' verdicts and counts, the writing of the
files and the command line.  Run: ``.venv/bin/python mutation/run.py`` (or ``make mutation``);
``--report-only`` rewrites the pages and the JSON's reasons from the existing results.json without running
anything (after editing mutation/reasons.py or the words in mutation/page.py);
``--from-session`` rebuilds both from the last run's session database (build/mutation/); ``--spec REV`` checks
against the spec as committed at REV (a ``git archive`` export first on PYTHONPATH) instead of the working tree's;
``--limit N`` is a smoke test: N mutants only, in build/mutation-limit/, nothing written to docs/.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import hashlib
import io
import json
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from page import UNEXPLAINED, WORDS, check_translations, percent, render
from reasons import EQUIVALENT, NOT_KILLED_YET, REASONS
from sitegen.pages import translation

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "mutation"
EXAMPLE = ROOT / "examples" / "learner_bn.py"
CONFIG = HERE / "cosmic-ray.toml"
WORKDIR = ROOT / "build" / "mutation"
SMOKE_WORKDIR = ROOT / "build" / "mutation-limit"  # --limit: never overwrites the last full run's session
PAGE = ROOT / "docs" / "mutation.md"  # the English page; each translation beside it (docs/sitegen/pages.py translation)
RESULTS = ROOT / "docs" / "mutation" / "results.json"
BIN = Path(sys.executable).parent  # the venv's bin/: cosmic-ray and bnspec (not resolved: a venv's python is a link)
MODULE = "learner_bn.py"

_CLAUSE_LINE = re.compile(r"^--- (\S+) \((?:MUST|SHOULD)\) (\w+):", re.MULTILINE)
_OBSERVED_LINE = re.compile(r"^observed: (.*)$", re.MULTILINE)


# ---------------------------------------------------------------------------------------------------------------
# Running cosmic-ray
# ---------------------------------------------------------------------------------------------------------------


def tool_env(spec_src: Path | None) -> dict[str, str]:
    """The environment of cosmic-ray and of the checks it runs: the venv's bin/ first on PATH (the configured
    command says plain ``bnspec``), numpy's BLAS on one thread so that parallel workers do not oversubscribe
    the cores, and with ``--spec REV`` the snapshot's src/ first on PYTHONPATH (ahead of the editable install's
    path entry, so ``bnspec`` is the snapshot's)."""
    env = dict(os.environ)
    if spec_src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(spec_src), env.get("PYTHONPATH", "")]))
    env["PATH"] = str(BIN) + os.pathsep + env.get("PATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def git(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """A read-only git command (no optional locks: it never rewrites the index)."""
    return subprocess.run(["git", "--no-optional-locks", "-C", str(ROOT), *args], **kwargs)


def spec_snapshot(rev: str, into: Path) -> tuple[Path, dict]:
    """--spec REV: the spec, the reference and src/ as committed at REV, exported with ``git archive`` (read
    only) into ``into``; returns the snapshot's src/ and what to record about it."""
    commit = git("rev-parse", "--verify", f"{rev}^{{commit}}", capture_output=True, text=True, check=True)
    commit_id = commit.stdout.strip()
    into.mkdir(parents=True)
    archive = git("archive", "--format=tar", commit_id, "spec", "reference", "src", capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="tar")
    return into / "src", {"source": f"git archive of {rev}", "commit": commit_id, "dirty": False}


def spec_worktree() -> dict:
    """The working tree's spec (the editable install): its commit, and whether spec/, reference/ or src/ differ."""
    commit = git("rev-parse", "HEAD", capture_output=True, text=True)
    dirty = git("diff", "--quiet", "HEAD", "--", "spec", "reference", "src").returncode != 0
    return {"source": "working tree", "commit": commit.stdout.strip() or None, "dirty": dirty}


def clause_titles(env: dict[str, str]) -> dict[str, str]:
    """ID -> title of every clause of the spec the run checks against (read in the checks' environment)."""
    code = ("import json; from bnspec.spec.clauses import all_clauses; "
            "print(json.dumps({c.id: c.title for c in all_clauses()}))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mutation: the worker on port {port} exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"mutation: no worker listening on port {port} after {seconds:g} s")


def write_config(path: Path, config: dict, urls: list[str]) -> None:
    """The configuration with the workers' URLs (TOML by hand: the values are strings, numbers and lists)."""
    tool = config["cosmic-ray"]
    lines = [
        "[cosmic-ray]",
        f"module-path = {json.dumps(tool['module-path'])}",
        f"excluded-modules = {json.dumps(tool.get('excluded-modules', []))}",
        f"timeout = {float(tool['timeout'])!r}",
        f"test-command = {json.dumps(tool['test-command'])}",
        "",
        "[cosmic-ray.distributor]",
        'name = "http"',
        "",
        "[cosmic-ray.distributor.http]",
        f"worker-urls = {json.dumps(urls)}",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def skip_all_but(session: Path, limit: int) -> None:
    """--limit: mark every work item but ``limit`` of them (spread over the file) skipped, as cosmic-ray's own
    filters (cr-filter-*) do."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = sorted(db.pending_work_items,
                       key=lambda w: (w.mutations[0].start_pos, w.mutations[0].operator_name))
        step = max(1, len(items) // max(1, limit))
        keep = {w.job_id for w in items[::step][:limit]}
        for item in items:
            if item.job_id not in keep:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="--limit"))


def run_tool(workers: int, limit: int | None, spec_rev: str | None, workdir: Path) -> tuple[list, dict]:
    """Run cosmic-ray on copies of the example; return ``cosmic-ray dump``'s records and the run's metadata."""
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    tool = config["cosmic-ray"]
    if tool["module-path"] != MODULE:
        raise SystemExit(f"mutation: {CONFIG} must mutate {MODULE!r} (run.py copies the example under that name)")
    cosmic_ray = str(BIN / "cosmic-ray")

    if workdir.exists():
        shutil.rmtree(workdir)
    if spec_rev is None:
        spec_src, spec = None, spec_worktree()
    else:
        spec_src, spec = spec_snapshot(spec_rev, workdir / "spec-snapshot")
    env = tool_env(spec_src)
    print(f"mutation: the spec: {spec['source']} (commit {spec['commit']}"
          f"{', with uncommitted changes' if spec['dirty'] else ''})", flush=True)
    session_dir = workdir / "session"
    worker_dirs = [workdir / f"worker-{i}" for i in range(workers)]
    for folder in (session_dir, *worker_dirs):
        folder.mkdir(parents=True)
        shutil.copyfile(EXAMPLE, folder / MODULE)
    ports = [free_port() for _ in worker_dirs]
    config_file = session_dir / "cosmic-ray.toml"
    write_config(config_file, config, [f"http://127.0.0.1:{port}" for port in ports])
    session = session_dir / "session.sqlite"

    # The baseline: the unmutated copy must conform, else every mutant is "killed" for nothing.
    print(f"mutation: baseline: {tool['test-command']}", flush=True)
    start = time.perf_counter()
    baseline = subprocess.run(shlex.split(tool["test-command"]), cwd=session_dir, env=env,
                              capture_output=True, text=True)
    baseline_seconds = time.perf_counter() - start
    if baseline.returncode != 0:
        print(baseline.stdout + baseline.stderr, file=sys.stderr)
        raise SystemExit(f"mutation: the unmutated example does not conform (exit {baseline.returncode}); "
                         "fix the example or the spec first")
    print(f"mutation: baseline conforms in {baseline_seconds:.1f} s", flush=True)

    subprocess.run([cosmic_ray, "init", str(config_file), str(session)], cwd=session_dir, env=env, check=True)
    if limit is not None:
        skip_all_but(session, limit)

    logs = [open(folder / "worker.log", "w", encoding="utf-8") for folder in worker_dirs]
    procs = [subprocess.Popen([cosmic_ray, "http-worker", "--port", str(port)], cwd=folder, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
             for folder, port, log in zip(worker_dirs, ports, logs, strict=True)]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_for_port(port, proc)
        print(f"mutation: {workers} workers up; cosmic-ray exec (log: {workdir.relative_to(ROOT)}/exec.log)",
              flush=True)
        load_start = os.getloadavg()[0]
        start = time.perf_counter()
        with open(workdir / "exec.log", "w", encoding="utf-8") as exec_log:
            subprocess.run([cosmic_ray, "exec", str(config_file), str(session)], cwd=session_dir, env=env,
                           stdout=exec_log, stderr=subprocess.STDOUT, check=True)
        wall = time.perf_counter() - start
        load_end = os.getloadavg()[0]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()

    # cosmic-ray restores each copy after its test: check that it did.
    pristine = EXAMPLE.read_bytes()
    restored = all((folder / MODULE).read_bytes() == pristine for folder in (session_dir, *worker_dirs))
    if not restored:
        print("mutation: WARNING: a worker's copy was left mutated (build/mutation/worker-*/learner_bn.py)",
              file=sys.stderr)

    dump = subprocess.run([cosmic_ray, "dump", str(session)], cwd=session_dir, env=env, check=True,
                          capture_output=True, text=True)
    records = [json.loads(line) for line in dump.stdout.splitlines() if line.strip()]
    meta = {
        "tool": "cosmic-ray",
        "version": version("cosmic-ray"),
        "config": str(CONFIG.relative_to(ROOT)),
        "test_command": tool["test-command"],
        "test_command_cwd": "a copy of examples/learner_bn.py (build/mutation/worker-N/learner_bn.py)",
        "timeout_seconds": float(tool["timeout"]),
        "workers": workers,
        "distributor": "http",
        "cores": os.cpu_count(),
        "baseline_seconds": round(baseline_seconds, 1),
        "wall_seconds": round(wall, 1),
        "load_average_1min": [round(load_start, 1), round(load_end, 1)],
        "copies_restored": restored,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "hypothesis": version("hypothesis"),
        "example_sha256": hashlib.sha256(pristine).hexdigest(),
        "spec": spec,
        "clause_titles": clause_titles(env),
    }
    return records, meta


# ---------------------------------------------------------------------------------------------------------------
# Describing the mutants
# ---------------------------------------------------------------------------------------------------------------


def operator_label(name: str) -> str:
    """``core/ReplaceBinaryOperator_Div_FloorDiv`` -> ``Div -> FloorDiv``; ``core/NumberReplacer`` -> ``Number``."""
    short = name.removeprefix("core/")
    for prefix in ("ReplaceBinaryOperator_", "ReplaceComparisonOperator_", "ReplaceUnaryOperator_"):
        if short.startswith(prefix):
            return " -> ".join(short.removeprefix(prefix).split("_"))
    return {"NumberReplacer": "Number +-1"}.get(short, short)


def describe(source: str, mutation: dict) -> dict:
    """The mutated line(s), before and after, computed by cosmic-ray's own mutator on the pristine source."""
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    operator = get_operator(mutation["operator_name"])(**(mutation.get("operator_args") or {}))
    mutated = mutate_code(source, operator, mutation["occurrence"])
    before_lines, after_lines = source.splitlines(), (mutated or source).splitlines()
    changes = [op for op in difflib.SequenceMatcher(a=before_lines, b=after_lines, autojunk=False).get_opcodes()
               if op[0] != "equal"]
    before = after = ""
    if changes:
        _, b1, b2, a1, a2 = changes[0]
        before = " / ".join(line.strip() for line in before_lines[b1:b2])
        after = " / ".join(line.strip() for line in after_lines[a1:a2])
    function = mutation.get("definition_name") or "<module>"
    return {
        "key": f"{function}: {before} -> {after}",
        "function": function,
        "line": mutation["start_pos"][0],
        "column": mutation["start_pos"][1],
        "operator": mutation["operator_name"],
        "operator_label": operator_label(mutation["operator_name"]),
        "occurrence": mutation["occurrence"],
        "before": before,
        "after": after,
    }


def _how(observed: str) -> str:
    """How a killed mutant showed itself, from the ``observed:`` line of its first failing clause."""
    if re.search(r"\braised \w", observed) or "sys.exit" in observed:
        return "raised an exception"
    if re.search(r"returned .* of (shape|dtype)|returned \w+ for|must return", observed):
        return "wrong shape, dtype or type"
    return "wrong values"


def outcome_of(result: dict | None) -> dict:
    """What became of a mutant, from its cosmic-ray WorkResult: ``outcome`` (killed, timeout, survived,
    incompetent, skipped, error or pending) and for a killed one the clause that failed first, its status, what
    it observed and how the mutant showed itself."""
    none = {"killed_by": None, "killed_status": None, "killed_how": None, "observed": None}
    if result is None:
        return {"outcome": "pending", **none}
    worker = result["worker_outcome"]
    if worker == "skipped":
        return {"outcome": "skipped", **none}
    output = result.get("output") or ""
    if worker != "normal":
        return {"outcome": "error", **none, "output": output}
    test = result["test_outcome"]
    if test == "survived":
        return {"outcome": "survived", **none}
    if test == "killed":
        if output == "timeout":  # cosmic_ray.testing.run_tests's marker for a test command it had to stop
            return {"outcome": "timeout", **none}
        clause = _CLAUSE_LINE.search(output)
        observed = _OBSERVED_LINE.search(output)
        text = observed.group(1).strip() if observed else ""
        return {"outcome": "killed", "killed_by": clause.group(1) if clause else None,
                "killed_status": clause.group(2) if clause else None,
                "killed_how": _how(text) if observed else None, "observed": text[:400] or None}
    return {"outcome": "incompetent", **none, "output": output}


def build_results(records: list, meta: dict) -> dict:
    source = EXAMPLE.read_text(encoding="utf-8")
    mutants = []
    for work_item, result in records:
        mutation = work_item["mutations"][0]
        record = describe(source, mutation)
        record.update(outcome_of(result))
        mutants.append(record)
    mutants.sort(key=lambda r: (r["line"], r["column"], r["operator"], r["occurrence"]))
    # Stable keys: two mutants with the same description (none today) are told apart by their order.
    seen: Counter[str] = Counter()
    for record in mutants:
        seen[record["key"]] += 1
        if seen[record["key"]] > 1:
            record["key"] += f" [{seen[record['key']]}]"
    return {"meta": meta, "mutants": mutants}


def apply_reasons(results: dict) -> dict:
    """Attach the hand-written reasons to the survivors, and recount."""
    mutants = [m for m in results["mutants"] if m["outcome"] != "skipped"]
    survivors = [m for m in mutants if m["outcome"] == "survived"]
    for m in results["mutants"]:
        m.pop("verdict", None)
        m.pop("reason", None)
    for m in survivors:
        verdict, texts = REASONS.get(m["key"], (UNEXPLAINED, {"en": WORDS["en"]["no_reason"]}))
        m["verdict"], m["reason"] = verdict, texts["en"]
    outcomes = Counter(m["outcome"] for m in mutants)
    verdicts = Counter(m["verdict"] for m in survivors)
    total = len(mutants)
    killed, timeouts = outcomes["killed"], outcomes["timeout"]
    equivalent = verdicts[EQUIVALENT]
    results["summary"] = {
        "mutants": total,
        "killed": killed,
        "timeouts": timeouts,
        "survived": outcomes["survived"],
        "survived_equivalent": equivalent,
        "survived_not_killed_yet": verdicts[NOT_KILLED_YET],
        "survived_unexplained": verdicts[UNEXPLAINED],
        "incompetent_or_error": outcomes["incompetent"] + outcomes["error"] + outcomes["pending"],
        "kill_rate": round((killed + timeouts) / total, 4) if total else None,
        "kill_rate_non_equivalent": (round((killed + timeouts) / (total - equivalent), 4)
                                     if total > equivalent else None),
    }
    keys = {m["key"] for m in survivors}
    results["stale_reasons"] = sorted(k for k in REASONS if k not in keys)
    return results


# ---------------------------------------------------------------------------------------------------------------
# Writing the results and the pages
# ---------------------------------------------------------------------------------------------------------------


def write(results: dict) -> None:
    """Write the results and the page of every language (none if a translation is missing)."""
    check_translations()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    for language in WORDS:
        translation(PAGE, language).write_text(render(results, language), encoding="utf-8")
    print(f"mutation: wrote {', '.join(str(translation(PAGE, language).relative_to(ROOT)) for language in WORDS)} and "
          f"{RESULTS.relative_to(ROOT)}")


def print_summary(results: dict) -> None:
    """The counts, the kill rates and the survivors to look at (not killed yet, unexplained, stale), on stdout."""
    s = results["summary"]
    print(f"mutation: {s['mutants']} mutants: {s['killed']} killed, {s['timeouts']} timeouts, {s['survived']} "
          f"survived ({s['survived_equivalent']} equivalent, {s['survived_not_killed_yet']} not killed yet, "
          f"{s['survived_unexplained']} unexplained), {s['incompetent_or_error']} not run; kill rate "
          f"{percent(s['kill_rate'], WORDS['en'])}, {percent(s['kill_rate_non_equivalent'], WORDS['en'])} "
          "without the equivalent ones")
    for m in results["mutants"]:
        if m.get("verdict") in (UNEXPLAINED, NOT_KILLED_YET):
            print(f"  {m['verdict']}: line {m['line']} {m['key']!r}")
    for key in results["stale_reasons"]:
        print(f"  stale reason: {key!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the pages (docs/mutation.md, docs/mutation.zh-TW.md) from "
                             "docs/mutation/results.json with the current reasons")
    parser.add_argument("--limit", type=int, default=None,
                        help="smoke test: run only this many mutants, write nothing to docs/")
    parser.add_argument("--from-session", action="store_true",
                        help="rebuild docs/mutation/results.json and the page from the last run's session "
                             "(build/mutation/session/session.sqlite) without running anything")
    parser.add_argument("--spec", metavar="REV", default=None,
                        help="check against the spec as committed at git revision REV (exported with git archive "
                             "into build/mutation/) instead of the working tree's")
    args = parser.parse_args(argv)

    if args.report_only:
        results = apply_reasons(json.loads(RESULTS.read_text(encoding="utf-8")))
        write(results)
        print_summary(results)
        return 0

    digest = hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    if args.from_session:
        meta = json.loads(RESULTS.read_text(encoding="utf-8"))["meta"]
        if meta["example_sha256"] != digest:
            raise SystemExit("mutation: examples/learner_bn.py changed since the last run: run the mutants again")
        dump = subprocess.run([str(BIN / "cosmic-ray"), "dump", str(WORKDIR / "session" / "session.sqlite")],
                              check=True, capture_output=True, text=True)
        records = [json.loads(line) for line in dump.stdout.splitlines() if line.strip()]
        results = apply_reasons(build_results(records, meta))
        write(results)
        print_summary(results)
        return 0
    workdir = WORKDIR if args.limit is None else SMOKE_WORKDIR
    records, meta = run_tool(args.workers, args.limit, args.spec, workdir)
    if hashlib.sha256(EXAMPLE.read_bytes()).hexdigest() != digest:
        raise SystemExit("mutation: examples/learner_bn.py changed during the run; results discarded")
    results = apply_reasons(build_results(records, meta))
    if args.limit is None:
        write(results)
    else:
        (workdir / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        print(f"mutation: --limit: results in {(workdir / 'results.json').relative_to(ROOT)} only")
    print_summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
