"""Records job runs: what ran, when, triggered by whom, with what outcome, error and row counts."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, update

from storage import schema

OUTCOMES = ("running", "success", "unchanged", "failed", "rejected", "busy")


def now_utc() -> datetime:
    """The current time as naive UTC (the database convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def start_run(engine: Engine, job: str, *, dataset_id: str | None = None, trigger: str = "cli") -> int:
    """Record that a job has started; returns the run id."""
    with engine.begin() as conn:
        result = conn.execute(
            insert(schema.job_run).values(
                job=job,
                dataset_id=dataset_id,
                trigger=trigger,
                started_at=now_utc(),
                outcome="running",
                host=socket.gethostname(),
                pid=os.getpid(),
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_run(
    engine: Engine,
    run_id: int,
    outcome: str,
    *,
    error: str | None = None,
    rows_added: int = 0,
    rows_revised: int = 0,
    rows_unchanged: int = 0,
    snapshot_id: int | None = None,
) -> None:
    """Record how a job ended."""
    if outcome not in OUTCOMES:
        raise ValueError(f"job outcome: expected one of {OUTCOMES}, got {outcome!r}")
    with engine.begin() as conn:
        conn.execute(
            update(schema.job_run)
            .where(schema.job_run.c.id == run_id)
            .values(
                finished_at=now_utc(),
                outcome=outcome,
                error=error,
                rows_added=rows_added,
                rows_revised=rows_revised,
                rows_unchanged=rows_unchanged,
                snapshot_id=snapshot_id,
            )
        )
