"""Running the schedule: serve (blocking), --once (every due job now) and --list."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.util import ref_to_obj
from rich.console import Console
from rich.table import Table

from common.errors import one_line
from common.helsinki import HELSINKI
from common.secrets import redact
from kestava.alerts import Problem
from kestava.status import JOBSTORE_TABLE, scheduled_runs
from schedule.catchup import catch_up, catch_up_site, lost_site
from schedule.compute_job import pending_datasets, run_compute
from schedule.jobs import JobSpec
from schedule.jobstore import (
    JobStore,
    LoopJobStore,
    _has_run,
    jobstore_engine,
    schedule_table_fault,
    sync_jobs,
)
from schedule.orphans import reap_orphans
from schedule.preflight import SCHEDULE, StartupError, started, step
from schedule.runtime import Runtime, running_jobs, set_runtime
from schedule.schema_guard import REFUSED, NewerSchemaFoundError
from schedule.shutdown import (
    DEFAULT_GRACE_S,
    EXIT_FAILED,
    EXIT_OK,
    _keep_due,
    _mark_abandoned,
    _Signals,
    _stop_on_signal,
    _watchdog,
)
from schedule.site_job import run_site
from schedule.watch import DATABASE, Watch
from storage.engine import safe_url

log = logging.getLogger("scheduler")
_KIND_ORDER = {"ingest": 0, "health": 1, "report": 2, "probe": 3}
SCHEDULER = ("stopped", "scheduler")  # (kind, subject) of the problem of a scheduler loop that died


class _Scheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's BackgroundScheduler whose loop, should anything end its thread, says so (`died`,
    `death`) instead of ending it silently while the process lives on and never runs a job again."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        self.died = threading.Event()
        self.death = ""

    def _main_loop(self) -> None:
        try:
            super()._main_loop()
        except BaseException as error:
            self.death = f"{type(error).__name__}: {error}"
            log.exception("the scheduler loop ended: %s", self.death, extra={"outcome": "failed"})
        finally:
            if self.state != STATE_STOPPED:
                self.died.set()


def _on_event(event: JobEvent, watch: Watch | None = None) -> None:
    if event.code == EVENT_JOB_MAX_INSTANCES:
        log.warning(
            "%s: previous run still going; this run skipped", event.job_id, extra={"job": event.job_id}
        )
        if watch is not None:
            watch.skipped(event.job_id)  # alerted by the watch's thread, not in the loop's
    elif event.code == EVENT_JOB_MISSED:
        log.warning("%s: run missed", event.job_id, extra={"job": event.job_id})
    elif event.code == EVENT_JOB_ERROR:
        log.error(
            "%s: raised %r", event.job_id, getattr(event, "exception", None), extra={"job": event.job_id}
        )


def _start_now(runtime: Runtime, accelerated: bool) -> Callable[[JobSpec], bool]:
    """New ingest jobs that never ran start at once (not when accelerated: that keeps the test order)."""

    def start_now(spec: JobSpec) -> bool:
        return not accelerated and spec.kind == "ingest" and not _has_run(runtime.engine, spec.id)

    return start_now


def serve(
    runtime: Runtime,
    specs: Sequence[JobSpec],
    *,
    grace_s: float = DEFAULT_GRACE_S,
    workers: int = 4,
    accelerated: bool = False,
    install_signals: bool = True,
    stop: threading.Event | None = None,
) -> int:
    """Run the schedule until SIGTERM/SIGINT (or `stop`, in tests), or a job stops it (Runtime.request_stop:
    a newer tracker's database, schedule.schema_guard); returns the exit code: the one that job asked for
    (4), else 1 when the scheduler loop died (alerted, the running jobs given their grace), for a
    supervisor to restart it.

    The loop's job store (LoopJobStore) keeps database errors out of the loop and retries; the watch
    (schedule.watch) alerts a job store failing too long, and hung or skipped runs."""
    set_runtime(runtime)
    with _job_store_step(runtime):
        reap_orphans(runtime.engine)
        store = JobStore(runtime.database_url)
        try:
            now = datetime.now(HELSINKI)
            start_now = _start_now(runtime, accelerated)
            synced = sync_jobs(store, specs, now, start_now=start_now)
            catch_up(runtime.engine, store, specs, now, synced, start_now=start_now)  # runs a stop lost
        finally:
            store.close()
    executor = ThreadPoolExecutor(workers)
    loop_store = LoopJobStore(
        engine=jobstore_engine(runtime.database_url),
        tablename=JOBSTORE_TABLE,
        retry_s=runtime.store_retry_s,
        log_every_s=runtime.log_every_s,
    )
    watch = Watch(runtime, loop_store)
    scheduler = _Scheduler(
        jobstores={"default": loop_store, "memory": MemoryJobStore()},
        executors={"default": executor},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=HELSINKI,
    )
    scheduler.add_listener(
        lambda event: _on_event(event, watch), EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED
    )
    with _job_store_step(runtime):
        pending, site_lost = pending_datasets(runtime.engine), catch_up_site(runtime.engine)
    if pending:  # e.g. killed between an ingest and its compute
        scheduler.add_job(
            "scheduler:run_compute_job",
            "date",
            id="compute:catch-up",
            jobstore="memory",
            misfire_grace_time=None,
        )
    elif site_lost:  # a rebuild a stop lost (else the compute's catch-up rebuilds it)
        scheduler.add_job(
            "scheduler:run_site_job",
            "date",
            id="site:catch-up",
            jobstore="memory",
            misfire_grace_time=None,
        )
    signals = _Signals()
    if install_signals:
        signals.install()
    with _job_store_step(runtime):  # the loop's store checks its table: the database may be gone by now
        scheduler.start()
    watch.start()
    log.info(
        "scheduler started: %d jobs, database %s, pid %d",
        len(specs),
        safe_url(runtime.database_url),
        os.getpid(),
        extra={"outcome": "started"},
    )
    runtime.alerter.resolved(*SCHEDULER, f"The scheduler runs again (pid {os.getpid()}).")
    # it read and wrote its schedule: what refused starts alerted is over, the database's outage too
    started(runtime.alerter, f"The scheduler started (pid {os.getpid()}).")
    runtime.alerter.resolved(*DATABASE, "The scheduler reads and writes its schedule.")
    died = False
    while signals.count == 0 and not runtime.stop.is_set() and not (stop is not None and stop.is_set()):
        if scheduler.died.wait(0.2):
            died = True
            break
    watch.stop()
    if died:
        message = (
            f"The scheduler loop ended ({scheduler.death or 'unknown'}): no job would run again. The "
            "scheduler stops (exit 1) for its supervisor (systemd) to start it again."
        )
        log.error("%s", message, extra={"outcome": "failed"})
        runtime.alerter.problem(Problem(*SCHEDULER, message))
    log.info(
        "%s: stopping; waiting up to %.0f s for %s",
        "the loop died" if died else _stop_reason(runtime, signals),
        grace_s,
        ", ".join(running_jobs()) or "no running job",
        extra={"outcome": "stopping"},
    )
    done = threading.Event()
    watchdog = threading.Thread(
        target=_watchdog, args=(runtime, grace_s, signals, done), name="shutdown-watchdog", daemon=True
    )
    watchdog.start()
    scheduler.shutdown(wait=False)  # no new jobs from here on (no pause first: it would lose overdue runs)
    runtime.stop.set()  # running jobs cut retry back-offs short and leave compute pending
    executor.shutdown(wait=True)  # the running jobs finish (the watchdog bounds the wait)
    done.set()
    _keep_due(runtime, specs)
    log.info("scheduler stopped", extra={"outcome": "stopped"})
    if runtime.exit_code is not None:  # a job stopped it (4: the database of a newer tracker)
        return runtime.exit_code
    return EXIT_FAILED if died else EXIT_OK


def _stop_reason(runtime: Runtime, signals: _Signals) -> str:
    """Why serve stops: a signal, a job (Runtime.request_stop), or `stop` (tests)."""
    if signals.count:
        return f"{signals.name} received"
    if runtime.exit_code is not None:
        return f"a job stopped the scheduler (exit {runtime.exit_code})"
    return "stop received"


def run_once(
    runtime: Runtime,
    specs: Sequence[JobSpec],
    *,
    grace_s: float = DEFAULT_GRACE_S,
    install_signals: bool = True,
) -> int:
    """Run every due job now, in order (ingests, health, reports), then exit; 1 if any failed, the status a
    job asked for when it stopped the run (Runtime.request_stop: 4, a newer tracker's database), which
    then writes nothing more to the database (no next run times, no all-clear).

    Due: its next run time in the job store has passed, or it is not in the store yet, or no run of it
    has finished yet (one still running elsewhere is then met with its lock: recorded as busy).
    """
    set_runtime(runtime)
    runtime.chain_compute = False  # one compute after all the due ingests (health and reports catch up first)
    signals = _Signals()
    done = threading.Event()
    if install_signals:
        signals.install()
        threading.Thread(target=_stop_on_signal, args=(runtime, grace_s, signals, done), daemon=True).start()
    outcomes: dict[str, str] = {}
    unwritten: str | None = None  # why the schedule could not be written (the first failure)
    written = 0  # jobs whose next run time was stored after their run
    store: JobStore | None = None
    try:
        with _job_store_step(runtime):
            reap_orphans(runtime.engine)
            store = JobStore(runtime.database_url)
            now = datetime.now(HELSINKI)
            stored = store.jobs()
            due = [
                spec
                for spec in specs
                if spec.id not in stored
                or (stored[spec.id].next_run_time is not None and stored[spec.id].next_run_time <= now)
                or not _has_run(runtime.engine, spec.id)
            ]
            synced = sync_jobs(store, specs, now, start_now=lambda _spec: False)
            lost = catch_up(runtime.engine, store, specs, now, synced, start_now=lambda _spec: False)
            due += [spec for spec in specs if spec.id in lost and spec not in due]
            site_lost = catch_up_site(runtime.engine)  # rebuilt at the end, unless a compute or report did
            stored = store.jobs()
        started(runtime.alerter, "scheduler.py --once started.")

        def order(spec: JobSpec) -> tuple[int, float, str]:
            job = stored.get(spec.id)
            when = job.next_run_time.timestamp() if job is not None and job.next_run_time else 0.0
            return _KIND_ORDER.get(spec.kind, 9), when, spec.id

        log.info("--once: %d due job(s): %s", len(due), ", ".join(s.id for s in sorted(due, key=order)))
        for spec in sorted(due, key=order):
            if runtime.stop.is_set():
                break
            outcomes[spec.id] = str(ref_to_obj(spec.func)(*spec.args))
            if runtime.exit_code is not None:  # a job stopped the run (schedule.schema_guard)
                break
            if unwritten is None:  # after a failure, the rest is run without writing the schedule
                unwritten = _put_next(runtime, store, spec)
                written += unwritten is None
        try:
            if not runtime.stop.is_set():
                compute = run_compute(runtime)  # anything left pending (e.g. by a killed run)
                if compute != "unchanged":
                    outcomes["compute"] = compute
                if site_lost is not None and lost_site(runtime.engine) is not None:
                    outcomes["site"] = run_site(runtime)
        except NewerSchemaFoundError as found:  # (alerted, the stop requested)
            outcomes[str(found)] = REFUSED
    finally:
        if store is not None:
            store.close()
        done.set()
    failed = sorted(job for job, outcome in outcomes.items() if outcome in ("failed", "rejected"))
    if runtime.exit_code is not None:
        log.info(
            "--once stopped by a job after %d job(s); exit %d",
            len(outcomes),
            runtime.exit_code,
            extra={"outcome": "stopped"},
        )
        return runtime.exit_code
    if unwritten is not None:  # runs left 'running' because their end could not be recorded: say why
        _mark_abandoned(runtime.engine, f"interrupted: its end could not be recorded: {unwritten}")
    elif written:  # it read and wrote its schedule: a database outage alerted before is over
        runtime.alerter.resolved(*DATABASE, "scheduler.py --once read and wrote its schedule.")
    log.info(
        "--once finished: %d job(s) run%s%s",
        len(outcomes),
        f"; failed: {', '.join(failed)}" if failed else "",
        f"; the schedule could not be written: {unwritten}" if unwritten else "",
        extra={"outcome": "failed" if failed or unwritten else "success"},
    )
    return EXIT_FAILED if failed or unwritten else EXIT_OK


@contextmanager
def _job_store_step(runtime: Runtime) -> Iterator[None]:
    """A failure of the block (reading or writing the schedule before any job runs) as a StartupError
    naming the database (without its password): alerted as `invalid:schedule` when the schedule table
    is not one (schedule_table_fault: what is wrong, how to fix it), else as `unreachable:database`."""
    where = f"cannot read or write the schedule in the database {safe_url(runtime.database_url)}"
    try:
        with step(where, runtime.secrets, problem=DATABASE):
            yield
    except StartupError as error:
        fault = schedule_table_fault(runtime.engine, JOBSTORE_TABLE)
        if fault is None:
            raise
        message = redact(
            f"cannot read the schedule in the database {safe_url(runtime.database_url)}: {fault}",
            runtime.secrets,
        )
        raise StartupError(message, SCHEDULE) from error.__cause__


def _put_next(runtime: Runtime, store: JobStore, spec: JobSpec) -> str | None:
    """Store the job's next run time after its run; when the database refuses (its disk full, gone), log
    one line and alert `unreachable:database`: the cause (None when written)."""
    try:
        store.put(spec, spec.trigger.get_next_fire_time(None, datetime.now(HELSINKI)))
    except Exception as error:
        cause = redact(one_line(error), runtime.secrets)
        full = " (the disk is full)" if _disk_full(cause) else ""
        message = (
            f"--once cannot write its schedule in the database {safe_url(runtime.database_url)}{full}: "
            f"{cause}. The jobs still due run without it (they run again at the next --once); exit 1."
        )
        log.error("%s", message, extra={"job": spec.id, "outcome": "jobstore-failed"})
        runtime.alerter.problem(Problem(*DATABASE, message))
        return cause
    return None


def _disk_full(cause: str) -> bool:
    """Whether a database error says its disk is full (SQLite's, PostgreSQL's)."""
    lowered = cause.lower()
    return "disk is full" in lowered or "no space left" in lowered or "disk full" in lowered


def list_jobs(runtime: Runtime, specs: Sequence[JobSpec], console: Console) -> None:
    """Print every job with its schedule and next run time (Europe/Helsinki) from the job store."""
    with _job_store_step(runtime):
        stored = scheduled_runs(runtime.engine) or {}
    now = datetime.now(HELSINKI)
    table = Table(title="Scheduled jobs (times Europe/Helsinki)")
    for name in ("job", "schedule", "next run", "note"):
        table.add_column(name)
    for spec in specs:
        if spec.id in stored:
            when = stored[spec.id]
            note = "paused" if when is None else "overdue: runs on start" if when <= now else ""
        else:
            when = spec.trigger.get_next_fire_time(None, now)
            note = "not in the job store yet"
        table.add_row(spec.id, spec.schedule, f"{when:%Y-%m-%d %H:%M %Z}" if when else "–", note)
    for job_id in sorted(set(stored) - {s.id for s in specs}):
        table.add_row(job_id, "–", "–", "no longer in the catalogue (removed on start)")
    console.print(table)
