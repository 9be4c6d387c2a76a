"""Runs and lock leases left behind by dead processes of this host: found, and closed as interrupted.

A run is recorded 'running' with the host and pid of its process (storage.jobs.start_run); a process killed
(kill -9, a power cut, the OOM killer) never records how it ended. Such a run, of this host, whose process
no longer exists, is an orphan: reap_orphans closes it as failed with an error beginning "interrupted:"
(the scheduler at start, and every `kestava` command that records runs before it writes), and
`kestava status` shows one not yet closed the same way (orphaned_run), without writing.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, select, update

from storage import schema
from storage.jobs import now_utc

log = logging.getLogger(__name__)
_PROCESS_STARTED = now_utc()
INTERRUPTED_OUTCOME = "failed"  # the outcome a reaped run is closed with; its error says "interrupted: …"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _orphaned(pid: int | None, since: datetime | None) -> bool:
    """A run or lock of this host whose process is gone (or is this process, but began before it)."""
    if pid is None:
        return False
    if pid == os.getpid():
        return since is not None and since < _PROCESS_STARTED
    return not _alive(pid)


def interrupted_error(pid: int | None, host: str) -> str:
    """The error an orphaned run is closed with."""
    return f"interrupted: process {pid} on {host} ended without finishing this run"


def orphaned_run(host: str | None, pid: int | None) -> bool:
    """Whether a run still recorded 'running' by host and pid is certainly an orphan, as a reader (which
    records no runs) sees it: of this host, and its process, another than this one, no longer exists. (The
    reaper also closes a run of this very pid begun before this process started: a pid reused, as in a
    container, where every start is pid 1.)"""
    return host == socket.gethostname() and pid is not None and pid != os.getpid() and not _alive(pid)


@dataclass(frozen=True)
class ReapedRun:
    """A run closed as interrupted."""

    id: int
    job: str
    pid: int | None


def reap_orphans(engine: Engine, logger: logging.Logger | None = None) -> tuple[int, int]:
    """Close runs left 'running' and drop lock leases by processes of this host that died; (runs, locks).
    Each is logged (a warning) on logger (default this module's)."""
    logger = logger or log
    host = socket.gethostname()
    run, lock = schema.job_run, schema.job_lock
    now = now_utc()
    with engine.begin() as conn:
        rows = conn.execute(
            select(run.c.id, run.c.job, run.c.pid, run.c.started_at).where(
                run.c.outcome == "running", run.c.host == host
            )
        ).all()
        dead_runs = [
            ReapedRun(row.id, row.job, row.pid) for row in rows if _orphaned(row.pid, row.started_at)
        ]
        for dead in dead_runs:
            conn.execute(
                update(run)
                .where(run.c.id == dead.id, run.c.outcome == "running")
                .values(outcome=INTERRUPTED_OUTCOME, finished_at=now, error=interrupted_error(dead.pid, host))
            )
        dead_locks = []
        for name, holder, acquired_at in conn.execute(select(lock.c.name, lock.c.holder, lock.c.acquired_at)):
            parts = str(holder).rsplit(":", 2)
            local = len(parts) == 3 and parts[0] == host and parts[1].isdigit()
            if local and _orphaned(int(parts[1]), acquired_at):
                dead_locks.append((name, holder))
        for name, holder in dead_locks:
            conn.execute(delete(lock).where(lock.c.name == name, lock.c.holder == holder))
    for dead in dead_runs:
        logger.warning(
            "%s: run %d of process %s was interrupted (killed or crashed); marked failed",
            dead.job,
            dead.id,
            dead.pid,
            extra={"job": dead.job, "outcome": INTERRUPTED_OUTCOME},
        )
    for name, holder in dead_locks:
        logger.warning("lock %s of dead process %s released", name, holder, extra={"job": name})
    return len(dead_runs), len(dead_locks)
