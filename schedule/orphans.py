"""Runs and lock leases left behind by dead processes of this host, closed at start."""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime

from sqlalchemy import Engine, delete, select, update

from storage import schema
from storage.jobs import now_utc

log = logging.getLogger("scheduler")
_PROCESS_STARTED = now_utc()


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


def reap_orphans(engine: Engine) -> tuple[int, int]:
    """Close runs left 'running' and drop lock leases by processes of this host that died; (runs, locks)."""
    host = socket.gethostname()
    run, lock = schema.job_run, schema.job_lock
    now = now_utc()
    with engine.begin() as conn:
        rows = conn.execute(
            select(run.c.id, run.c.job, run.c.pid, run.c.started_at).where(
                run.c.outcome == "running", run.c.host == host
            )
        ).all()
        dead_runs = [row for row in rows if _orphaned(row.pid, row.started_at)]
        for row in dead_runs:
            conn.execute(
                update(run)
                .where(run.c.id == row.id, run.c.outcome == "running")
                .values(
                    outcome="failed",
                    finished_at=now,
                    error=f"interrupted: process {row.pid} on {host} ended without finishing this run",
                )
            )
        dead_locks = []
        for name, holder, acquired_at in conn.execute(select(lock.c.name, lock.c.holder, lock.c.acquired_at)):
            parts = str(holder).rsplit(":", 2)
            local = len(parts) == 3 and parts[0] == host and parts[1].isdigit()
            if local and _orphaned(int(parts[1]), acquired_at):
                dead_locks.append((name, holder))
        for name, holder in dead_locks:
            conn.execute(delete(lock).where(lock.c.name == name, lock.c.holder == holder))
    for row in dead_runs:
        log.warning(
            "%s: run %d of process %s was interrupted (killed or crashed); marked failed",
            row.job,
            row.id,
            row.pid,
            extra={"job": row.job, "outcome": "failed"},
        )
    for name, holder in dead_locks:
        log.warning("lock %s of dead process %s released", name, holder, extra={"job": name})
    return len(dead_runs), len(dead_locks)
