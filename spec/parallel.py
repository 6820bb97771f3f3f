"""A session's clauses run in worker processes: ``bnspec check --jobs N``.

Each clause is a function of the target, the options and the seed alone, so the
clauses can run side by side.  Each worker is a fresh Python process (``spawn``:
nothing of this process, a framework's threads included, is copied) that loads
the target with the session's own options and runs the clauses it is sent, one
at a time, through the one clause runner; the results come back in clause order,
and ``progress`` sees them in that order as soon as every earlier one is in.

A worker that ends without a result (the implementation crashed its process)
leaves that clause as bnspec's error, never a verdict, and the other workers go
on; when none is left the rest run in this process.  Ctrl-C ends the workers.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any, cast

from .clauses import REGISTRY, Clause
from .errors import Cause, Status, UserInterrupt
from .runner import ClauseResult, passed, printed_output

if TYPE_CHECKING:
    from .session import RunOptions, Session


def _interrupted(signum: int, frame: Any) -> None:
    raise UserInterrupt(signum)


def _work(options: RunOptions, conn: Connection) -> None:
    """A worker: load the target, then run each clause ID received until None.  Ended by the parent
    (SIGTERM) or by Ctrl-C, it ends quietly, its session's processes closed."""
    from .session import Session

    signal.signal(signal.SIGTERM, _interrupted)  # between clauses too (a clause's runner sets its own)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        with Session(options) as session:
            session.discard_printed()  # the target's output at import: the parent's first result carries it
            conn.send("ready")
            while (clause_id := conn.recv()) is not None:
                conn.send(session.run_clause(REGISTRY[clause_id]))
    except (UserInterrupt, KeyboardInterrupt, EOFError, BrokenPipeError):  # the parent is done with it
        pass


def _end(workers: dict[Connection, Any], finished: bool) -> None:
    """End the workers: told to stop when the run finished (each is idle), else -- interrupted, or stopped
    at a failure -- ended at once (SIGTERM: their sessions close the implementations' processes); killed if
    they outlive :data:`WORKER_GRACE`."""
    for conn, process in workers.items():
        if not process.is_alive():
            continue
        if finished:
            try:
                conn.send(None)
            except OSError:
                process.terminate()
        else:
            process.terminate()
    for process in workers.values():
        process.join(timeout=WORKER_GRACE)
        if process.is_alive():
            process.kill()
            process.join()


#: Seconds a worker has to end once told to (its running clause's time, or closing an implementation's
#: process) before it is killed.
WORKER_GRACE = 30.0


def _lost(clause: Clause, exitcode: int | None) -> ClauseResult:
    return ClauseResult(clause, Status.ERROR, 0.0, f"the worker process running this clause ended without a "
                        f"result (exit status {exitcode}): rerun with --jobs 1 to see the implementation's "
                        f"failure", Cause.INTERNAL)


def run(session: Session, clauses: list[Clause], jobs: int, progress: Callable[[ClauseResult], None] | None,
        fail_fast: bool, strict: bool) -> list[ClauseResult]:
    """``session``'s clauses in ``min(jobs, len(clauses))`` workers (see the module docstring)."""
    context = multiprocessing.get_context("spawn")
    workers: dict[Connection, Any] = {}  # -> its multiprocessing process
    for _ in range(min(jobs, len(clauses))):
        parent, child = context.Pipe()
        process = context.Process(target=_work, args=(session.options, child), daemon=True)
        process.start()
        child.close()
        workers[parent] = process
    pending = list(range(len(clauses)))
    running: dict[Connection, int] = {}
    done: dict[int, ClauseResult] = {}
    ordered: list[ClauseResult] = []
    finished = False
    try:
        while len(ordered) < len(clauses) and (pending or running) and workers:
            for ready in wait(list(workers)):
                conn = cast(Connection, ready)  # wait() returns the objects it was given
                try:
                    message = conn.recv()
                except EOFError:  # the worker ended
                    process = workers.pop(conn)
                    process.join()
                    if conn in running:
                        index = running.pop(conn)
                        done[index] = _lost(clauses[index], process.exitcode)
                    continue
                if isinstance(message, ClauseResult):
                    index = running.pop(conn)
                    done[index] = replace(message, clause=clauses[index])
                if pending:
                    running[conn] = pending.pop(0)
                    conn.send(clauses[running[conn]].id)
            while len(ordered) in done:  # the results in order, as soon as the earlier ones are in
                result = done.pop(len(ordered))
                if not ordered and session.printed:  # what the target printed at import, once
                    result = replace(result, output=printed_output(session.take_printed(), result.output))
                ordered.append(result)
                if progress:
                    progress(result)
                if fail_fast and not passed([result], strict):  # the workers' clauses are not wanted
                    return ordered
        finished = True
    finally:
        _end(workers, finished)
    # no worker left (each crashed): the rest in this process
    for index in range(len(ordered), len(clauses)):
        result = done.pop(index) if index in done else session.run_clause(clauses[index])
        ordered.append(result)
        if progress:
            progress(result)
        if fail_fast and not passed([result], strict):
            break
    return ordered
