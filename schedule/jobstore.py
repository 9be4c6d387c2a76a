"""The persisted schedule: APScheduler's SQLAlchemyJobStore in the tracker's database."""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime
from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Float,
    LargeBinary,
    Numeric,
    String,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import DBAPIError

from common.errors import one_line
from common.helsinki import HELSINKI
from kestava.status import JOBSTORE_TABLE
from schedule.jobs import JobSpec
from schedule.logs import duration
from storage import schema
from storage.engine import create_db_engine, driver_rows, once_more, parse_url

log = logging.getLogger("scheduler")
# the schedule table's columns as APScheduler's job store makes and reads them, and their types
SCHEDULE_COLUMNS: dict[str, tuple[type, ...]] = {
    "id": (String,),
    "next_run_time": (Float, Numeric),
    "job_state": (LargeBinary,),
}
_UNKNOWN = object()  # KestavaJobStore: the next run time is not known from the last update
_T = TypeVar("_T")


def jobstore_engine(database_url: str) -> Engine:
    """The job store's own engine. On SQLite its reads take no write lock and it waits long for one, so
    that a long load transaction neither stalls the scheduler loop nor (after the busy timeout) kills it.
    On PostgreSQL it runs in autocommit (APScheduler's job store writes one statement per transaction): no
    BEGIN and COMMIT round trips; its commits do not wait for the disk (synchronous_commit off, as
    synchronous=NORMAL on SQLite): a server crash may lose the last ~0.6 s of schedule updates, so that a
    job runs once more, never a run record (the tracker's own engine keeps synchronous commits); and a
    checkout does not ping the server first: KestavaJobStore runs a statement again on a new connection
    when the server dropped the old one (a restart), one round trip less per statement."""
    url = parse_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(database_url, connect_args={"timeout": 600})
        event.listen(engine, "connect", _sqlite_jobstore_pragmas)
        return engine
    given = url.query.get("options")
    options = " ".join([*([given] if isinstance(given, str) else given or ()), "-c synchronous_commit=off"])
    url = url.update_query_dict({"options": options})
    return create_db_engine(url, pre_ping=False, isolation_level="AUTOCOMMIT")


def _sqlite_jobstore_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # as storage.engine: readers and one writer side by side
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def schedule_table_fault(engine: Engine, table: str = JOBSTORE_TABLE) -> str | None:
    """What is wrong with the schedule table when it exists but is not one (its columns or their types),
    with how to fix it; None when it is missing, looks right, or cannot be inspected (the database fails)."""
    try:
        inspector = inspect(engine)
        if not inspector.has_table(table):
            return None
        columns = {column["name"]: column["type"] for column in inspector.get_columns(table)}
    except Exception:
        return None
    wrong = [
        name
        for name, types in SCHEDULE_COLUMNS.items()
        if name not in columns or not isinstance(columns[name], types)
    ]
    if not wrong:
        return None
    found = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    needed = "id (text), next_run_time (a number), job_state (binary)"
    return (
        f"the table {table} is not a schedule: it has the columns {found}, and the scheduler's job store "
        f"(APScheduler's) needs {needed}. Drop it, or rename it to keep it (ALTER TABLE {table} RENAME TO "
        f"{table}_old), and start again: the scheduler recreates it from the catalogue"
    )


class KestavaJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """APScheduler's SQLAlchemyJobStore with the statements of every firing (due jobs, the job's update,
    the next run time) built once, and each stored job state unpickled once while it stays due (the
    scheduler asks for the due jobs again and again, and the jobs due at one time are asked for each
    time). A job's update returns the earliest next run time of the other jobs with it, so that the
    scheduler loop's next question, the store's next run time (asked right after it has updated the due
    jobs, under its job stores' lock), is answered without a statement of its own. The statements of a
    firing run on one connection the store keeps between them (no pool checkout, check-in and reset per
    statement). Every operation is one statement: when its connection turns out dead (the database
    restarted since it was last used), it runs once more on a new one, so that the job store's engine
    needs no ping before each checkout."""

    def __init__(self, *, engine: Engine, tablename: str = JOBSTORE_TABLE) -> None:
        super().__init__(engine=engine, tablename=tablename)
        jobs = self.jobs_t
        self._due = (
            select(jobs.c.id, jobs.c.job_state)
            .where(jobs.c.next_run_time <= bindparam("due_at"))
            .order_by(jobs.c.next_run_time)
        )
        others = jobs.alias("others")
        self._update = (
            jobs.update()
            .where(jobs.c.id == bindparam("job_id"))
            .values(next_run_time=bindparam("new_next_run_time"), job_state=bindparam("new_job_state"))
            .returning(  # the other jobs' earliest next run time, in the same statement (NULL: paused)
                select(func.min(others.c.next_run_time))
                .where(others.c.id != bindparam("job_id"))
                .scalar_subquery()
            )
        )
        self._next = (
            select(jobs.c.next_run_time)
            .where(jobs.c.next_run_time.is_not(None))
            .order_by(jobs.c.next_run_time)
            .limit(1)
        )
        # PostgreSQL: the due jobs' query and the update on the driver's cursor (storage.engine.driver_rows)
        self._on_driver = engine.dialect.name == "postgresql"
        self._states: dict[bytes, dict[str, Any]] = {}  # the due jobs' states as last unpickled
        # per job, the state its last update here stored and its bytes: when the job falls due, the state
        # read back is those bytes (unless another process stored the job since), so it is not unpickled
        self._written: dict[str, tuple[bytes, dict[str, Any]]] = {}
        # the store's next run time (a UTC timestamp, None: no job scheduled) as the last operation, an
        # update, left it; _UNKNOWN after any other operation
        self._next_known: object = _UNKNOWN
        self._kept: Connection | None = None  # the connection of a firing's statements, between them
        self._kept_autocommit = False  # whether its driver connection commits each statement on its own
        self._kept_lock = threading.Lock()  # (APScheduler calls a store under its lock; JobStore's owner too)

    def _on_kept(self, work: Callable[[Connection], _T], *, begin: bool = True) -> _T:
        """work(connection) in a transaction of its own on the kept connection; once more on a new one
        when the server had dropped it (a restart). begin=False, for a statement on the driver's cursor
        (driver_rows, which begins nothing at SQLAlchemy's level): none when the driver's connection is
        in autocommit (jobstore_engine's on PostgreSQL), where SQLAlchemy's begin and commit send nothing
        to the server but cost Python on every firing."""

        def attempt() -> _T:
            with self._kept_lock:
                if self._kept is None or self._kept.closed or self._kept.invalidated:
                    self._kept = self.engine.connect()
                    driver = self._kept.connection.driver_connection
                    self._kept_autocommit = getattr(driver, "autocommit", False) is True
                connection = self._kept
                try:
                    if not begin and self._kept_autocommit:
                        return work(connection)
                    with connection.begin():
                        return work(connection)
                except DBAPIError as error:
                    if error.connection_invalidated:
                        self._kept = None
                        connection.close()
                    raise

        return once_more(attempt)

    def shutdown(self) -> None:
        """Close the kept connection and the engine."""
        with self._kept_lock:
            if self._kept is not None:
                self._kept.close()
                self._kept = None
        super().shutdown()

    def lookup_job(self, job_id: str) -> Job | None:
        """The stored job of that id, or None."""
        self._next_known = _UNKNOWN
        return once_more(lambda: super(KestavaJobStore, self).lookup_job(job_id))

    def get_next_run_time(self) -> datetime | None:
        """The earliest next run time of the stored jobs (None: no job is scheduled): as the update just
        made left it, else read."""
        known, self._next_known = self._next_known, _UNKNOWN
        if known is not _UNKNOWN:
            return cast("datetime | None", utc_timestamp_to_datetime(known))
        return self._on_kept(
            lambda connection: cast(
                "datetime | None", utc_timestamp_to_datetime(connection.execute(self._next).scalar())
            )
        )

    def get_all_jobs(self) -> list[Job]:
        """Every stored job, earliest next run first (paused jobs last)."""
        self._next_known = _UNKNOWN
        return once_more(lambda: super(KestavaJobStore, self).get_all_jobs())

    def add_job(self, job: Job) -> None:
        """Store a new job; ConflictingIdError when one of that id is stored."""
        self._next_known = _UNKNOWN
        once_more(lambda: super(KestavaJobStore, self).add_job(job))

    def remove_job(self, job_id: str) -> None:
        """Remove the job; JobLookupError when it is not stored."""
        self._next_known = _UNKNOWN
        once_more(lambda: super(KestavaJobStore, self).remove_job(job_id))

    def remove_all_jobs(self) -> None:
        """Remove every stored job."""
        self._next_known = _UNKNOWN
        once_more(lambda: super(KestavaJobStore, self).remove_all_jobs())

    def get_due_jobs(self, now: datetime) -> list[Job]:
        """The jobs due at now, earliest first (a job that cannot be restored is removed, as upstream)."""
        self._next_known = _UNKNOWN
        due_at = datetime_to_utc_timestamp(now)
        return self._restore(self._rows(self._due, {"due_at": due_at}))

    def _rows(self, statement: Executable, params: dict[str, Any]) -> Sequence[Any]:
        """The rows of one of a firing's statements on the kept connection; on PostgreSQL on the driver's
        cursor (storage.engine.driver_rows)."""
        if self._on_driver:  # (autocommit: each statement commits on its own, no transaction to begin)
            return self._on_kept(lambda connection: driver_rows(connection, statement, params), begin=False)
        return self._on_kept(lambda connection: connection.execute(statement, params).all())

    def _restore(self, rows: Sequence[Any]) -> list[Job]:
        """The due jobs from their rows (id, state); those that cannot be restored are removed."""
        known, self._states = self._states, {}
        jobs, failed = [], []
        for job_id, job_state in rows:
            try:
                state = known.get(job_state) or self._written_state(job_id, job_state)
                jobs.append(self._restored(state))
            except BaseException:
                self._logger.exception('Unable to restore job "%s" -- removing it', job_id)
                failed.append(job_id)
                continue
            self._states[job_state] = state
        if failed:
            self._on_kept(
                lambda connection: connection.execute(
                    self.jobs_t.delete().where(self.jobs_t.c.id.in_(failed))
                )
            )
        return jobs

    def _written_state(self, job_id: str, job_state: bytes) -> dict[str, Any]:
        """The job's state from its stored bytes: the state this store wrote as those very bytes (its last
        update of the job), else unpickled."""
        written = self._written.get(job_id)
        if written is not None and written[0] == job_state:
            return written[1]
        return cast("dict[str, Any]", pickle.loads(job_state))  # noqa: S301 (our own table, as upstream)

    def _restored(self, state: dict[str, Any]) -> Job:
        """A Job of its own from an unpickled state (the trigger, immutable, shared; kwargs copied)."""
        job: Job = Job.__new__(Job)
        job.__setstate__({**state, "kwargs": dict(state["kwargs"]), "jobstore": self})
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    def update_job(self, job: Job) -> None:
        """Store the job's new state and next run time; JobLookupError when it is not stored."""
        self._next_known = _UNKNOWN
        when = datetime_to_utc_timestamp(job.next_run_time)
        state = job.__getstate__()
        blob = pickle.dumps(state, self.pickle_protocol)
        params = {"job_id": job.id, "new_next_run_time": when, "new_job_state": blob}
        rows = self._rows(self._update, params)
        if not rows:
            raise JobLookupError(job.id)
        (row,) = rows
        self._written[job.id] = (blob, {**state, "kwargs": dict(state["kwargs"])})  # (not the job's own)
        times = [t for t in (when, row[0]) if t is not None]  # this job's and the others' earliest
        self._next_known = min(times) if times else None


@dataclass(frozen=True)
class Outage:
    """The job store unreadable or unwritable since `since` (aware UTC): failed operations, the last error."""

    since: datetime
    failures: int
    error: str


class LoopJobStore(KestavaJobStore):
    """The job store of the scheduler loop (serve), which never lets a database error escape into
    APScheduler's loop: there an error from an update (after a job was submitted) or from the next run
    time ended the loop's thread, and with it all scheduling, silently; and an error reading the due jobs
    was logged, multi-line, at every wake-up (every 10 s).

    Here a failed read of the due jobs finds none; a failed update is kept in memory and written first at
    the next wake-up (until it is, no job is read as due: a store that can be read but not written, e.g.
    a full disk, does not run the same jobs again and again); and while the store fails, the next run
    time is retry_s from the failure, so the loop tries again then. The first failure is logged, then
    once every log_every_s with the count, and the recovery; `outage` says since when it fails (the
    scheduler's watch alerts a long one)."""

    def __init__(
        self,
        *,
        engine: Engine,
        tablename: str = JOBSTORE_TABLE,
        retry_s: float = 10.0,
        log_every_s: float = 600.0,
    ) -> None:
        super().__init__(engine=engine, tablename=tablename)
        self.retry_s = retry_s
        self.log_every_s = log_every_s
        self.outage: Outage | None = None  # (replaced whole: read by the watch in another thread)
        self._unwritten: dict[str, Job] = {}  # updates that failed, by job id, to write first
        self._retry_at: datetime | None = None  # the next wake-up while the store fails
        self._logged_at = 0.0  # time.monotonic() of the last log line of the outage
        self._ping = select(self.jobs_t.c.id).limit(1)  # the watch's check of the database (ping)
        self.read_at = time.monotonic()  # of the last successful read of the due jobs or ping

    def get_due_jobs(self, now: datetime) -> list[Job]:
        """The due jobs (after writing the updates that failed); none while the store fails."""
        try:
            for job in list(self._unwritten.values()):
                with suppress(JobLookupError):  # removed since: nothing to write
                    super().update_job(job)
                del self._unwritten[job.id]
            due = super().get_due_jobs(now)
        except Exception as error:
            self._failed(error, "reading the due jobs" if not self._unwritten else "writing the schedule")
            return []
        self.read_at = time.monotonic()
        self._recovered()
        return due

    def update_job(self, job: Job) -> None:
        """Store the job's new state; when that fails, keep it to write at the next wake-up. A job removed
        meanwhile (by another process syncing the schedule) is left removed: in the loop, the
        JobLookupError would end its thread."""
        try:
            super().update_job(job)
        except JobLookupError:
            log.info("job store: %s was removed meanwhile (by another process); not updated", job.id)
        except Exception as error:
            self._unwritten[job.id] = job
            self._failed(error, f"updating {job.id}")

    def ping(self) -> None:
        """One cheap read of the job store, on the connection the loop keeps between its firings (the watch's,
        while the loop sleeps until its next job, hours overnight): a failure starts (or continues) the
        outage as the loop's would; a success ends an outage unless updates the loop could not write are
        still waiting for it."""
        try:
            self._rows(self._ping, {})
        except Exception as error:
            self._failed(error, "checking the database")
            return
        self.read_at = time.monotonic()
        if self.outage is not None and not self._unwritten:
            self._recovered()

    def get_next_run_time(self) -> datetime | None:
        """The earliest next run time; retry_s after a failure while the store fails."""
        if self._retry_at is None:
            try:
                return super().get_next_run_time()
            except Exception as error:
                self._failed(error, "reading the next run time")
        return self._retry_at

    def _failed(self, error: Exception, doing: str) -> None:
        now = datetime.now(UTC)
        self._retry_at = now + timedelta(seconds=self.retry_s)
        self._next_known = _UNKNOWN
        text = one_line(error)
        outage = self.outage
        self.outage = Outage(
            now if outage is None else outage.since, 1 if outage is None else outage.failures + 1, text
        )
        if outage is None:
            self._logged_at = time.monotonic()
            log.error(
                "job store: %s failed: %s; no job runs until it can be read and written again (tried "
                "every %s; logged again every %s while it lasts)",
                doing,
                text,
                duration(self.retry_s),
                duration(self.log_every_s),
                extra={"outcome": "jobstore-failed"},
            )
        elif time.monotonic() - self._logged_at >= self.log_every_s:
            self._logged_at = time.monotonic()
            log.error(
                "job store: still failing after %s (%d failed attempts): %s failed: %s",
                duration((now - self.outage.since).total_seconds()),
                self.outage.failures,
                doing,
                text,
                extra={"outcome": "jobstore-failed"},
            )

    def _recovered(self) -> None:
        outage, self.outage, self._retry_at = self.outage, None, None
        if outage is not None:
            log.warning(
                "job store: readable and writable again after %s (%d failed attempts)",
                duration((datetime.now(UTC) - outage.since).total_seconds()),
                outage.failures,
                extra={"outcome": "jobstore-recovered"},
            )


class JobStore:
    """The persisted schedule (APScheduler's SQLAlchemyJobStore), read and written without a running loop."""

    def __init__(self, database_url: str, table: str = JOBSTORE_TABLE) -> None:
        self.engine = jobstore_engine(database_url)
        self.holder = BackgroundScheduler(timezone=HELSINKI)  # never started: Job objects need one
        self.store = KestavaJobStore(engine=self.engine, tablename=table)
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
