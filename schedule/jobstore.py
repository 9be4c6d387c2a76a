"""The persisted schedule: APScheduler's SQLAlchemyJobStore in the tracker's database."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url

from kestava.status import JOBSTORE_TABLE
from schedule.jobs import JobSpec
from schedule.triggers import HELSINKI
from storage import schema
from storage.engine import create_db_engine

log = logging.getLogger("scheduler")


def jobstore_engine(database_url: str) -> Engine:
    """The job store's own engine. On SQLite its reads take no write lock and it waits long for one, so
    that a long load transaction neither stalls the scheduler loop nor (after the busy timeout) kills it.
    On PostgreSQL it runs in autocommit (APScheduler's job store writes one statement per transaction): no
    BEGIN and COMMIT round trips."""
    if make_url(database_url).get_backend_name() == "sqlite":
        engine = create_engine(database_url, connect_args={"timeout": 600})
        event.listen(engine, "connect", _sqlite_jobstore_pragmas)
        return engine
    return create_db_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")


def _sqlite_jobstore_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # as storage.engine: readers and one writer side by side
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class JobStore:
    """The persisted schedule (APScheduler's SQLAlchemyJobStore), read and written without a running loop."""

    def __init__(self, database_url: str, table: str = JOBSTORE_TABLE) -> None:
        self.engine = jobstore_engine(database_url)
        self.holder = BackgroundScheduler(timezone=HELSINKI)  # never started: Job objects need one
        self.store = SQLAlchemyJobStore(engine=self.engine, tablename=table)
        try:
            self.store.start(self.holder, "default")
        except Exception:  # another process created the table at the same moment
            self.store.start(self.holder, "default")

    def close(self) -> None:
        self.store.shutdown()

    def jobs(self) -> dict[str, Job]:
        return {job.id: job for job in self.store.get_all_jobs()}

    def put(self, spec: JobSpec, next_run_time: datetime | None) -> None:
        job = Job(
            self.holder,
            id=spec.id,
            func=spec.func,
            args=spec.args,
            kwargs={},
            trigger=spec.trigger,
            executor="default",
            name=spec.id,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            next_run_time=next_run_time,
        )
        try:  # the job is stored already but on the first start: one update, no failed insert first
            self.store.update_job(job)
        except JobLookupError:
            try:
                self.store.add_job(job)
            except ConflictingIdError:  # another process stored it in between
                self.store.update_job(job)

    def remove(self, job_id: str) -> None:
        with suppress(JobLookupError):
            self.store.remove_job(job_id)


def _has_run(engine: Engine, job: str) -> bool:
    """Whether a run of job has ever finished (one still running elsewhere does not count)."""
    run = schema.job_run
    with engine.connect() as conn:
        query = select(run.c.id).where(run.c.job == job, run.c.outcome != "running").limit(1)
        return conn.execute(query).first() is not None


def sync_jobs(
    store: JobStore, specs: Sequence[JobSpec], now: datetime, *, start_now: Callable[[JobSpec], bool]
) -> dict[str, str]:
    """Make the stored jobs match specs (replacing changed ones, removing gone ones); id -> what was done.

    A job whose trigger did not change keeps its stored next run time, so a run that fell due while the
    scheduler was down still runs (once) on start; a new or changed job gets its trigger's next fire
    time, or now when start_now(spec) says so.
    """
    stored = store.jobs()
    done: dict[str, str] = {}
    for spec in specs:
        job = stored.pop(spec.id, None)
        same_trigger = job is not None and repr(job.trigger) == repr(spec.trigger)
        if job is not None and same_trigger:
            next_run = job.next_run_time
            unchanged = job.func_ref == spec.func and tuple(job.args) == spec.args
            unchanged = (
                unchanged and job.misfire_grace_time is None and job.coalesce and job.max_instances == 1
            )
            if unchanged:
                done[spec.id] = "kept"
                continue
            done[spec.id] = "updated"
        else:
            next_run = now if start_now(spec) else spec.trigger.get_next_fire_time(None, now)
            done[spec.id] = "added" if job is None else "rescheduled"
        store.put(spec, next_run)
    for job_id in stored:
        store.remove(job_id)
        done[job_id] = "removed"
    changed = {k: v for k, v in done.items() if v != "kept"}
    if changed:
        log.info("job store: %s", ", ".join(f"{k} {v}" for k, v in sorted(changed.items())))
    return done
