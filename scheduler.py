"""The unattended scheduler: ingests every catalogue dataset on its cadence, then computes and reports.

    python scheduler.py                 # run (blocking) until SIGTERM / SIGINT
    python scheduler.py --once          # run every due job now and exit (for cron users)
    python scheduler.py --list          # every job with its next run time (Europe/Helsinki)

Jobs (ids are also the job_run names and the job lock names):
  ingest:<dataset>  each catalogue dataset on its own `cadence` (cron, Europe/Helsinki); after a run that
                    changed data, `compute` recomputes what the changed datasets affect
  health            daily 08:00: alerts sources later than their publication calendar, catches up compute
  report:weekly     Mondays 07:00
  report:half       2 January and 2 July 07:30, for the previous half year
  probe             Sundays 05:00, when the catalogue declares probes: `kestava probe` of those datasets
                    (live, writes no data); drift is alerted, an all-clear follows a clean probe

Cadences are standard cron (minute hour day month day-of-week; 0 or 7 = Sunday, 1 = Monday), translated for
APScheduler 3 (whose own day numbers start from Monday = 0); a time in the repeated autumn hour fires once.

Job state lives in the tracker's database (APScheduler SQLAlchemyJobStore, table apscheduler_jobs), so a
restart resumes the schedule; a run missed while the machine was down runs once on restart (coalesce,
no misfire grace limit). Catalogue edits apply on the next start (jobs are replaced; a job whose trigger
did not change keeps its pending run time, so an overdue run is not lost by the replacement).

Testing hooks (environment variables or the matching options):
  KESTAVA_SCHEDULER_ACCELERATE=N  replace every cron trigger by an IntervalTrigger of N seconds, the jobs
                                  staggered within each interval in the order their real schedules fire
                                  in a week (ingest jobs never run are then not started at once)
  KESTAVA_SCHEDULER_HOOKS=module  take job functions from that module where it defines them:
                                  ingest(runtime, dataset_id, trigger) -> ingest.run.DatasetOutcome
                                  (must record job_run like ingest.run.ingest), compute(engine, datasets),
                                  weekly_report(engine, lang), half_year_report(engine, half, lang)
  KESTAVA_SCHEDULER_RETRY_WAIT=S  first backoff between attempts (default 30 s, doubling)
  KESTAVA_SCHEDULER_LOCK_LEASE=S  lease of the compute/report locks on SQLite (default 600 s)
  KESTAVA_SCHEDULER_BUSY_WAIT=S   how long a compute waits for another compute to finish (default 600 s)
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import ref_to_obj
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.engine import make_url
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from ingest.catalogue import Catalogue, load_catalogue
from ingest.probe import ProbeResult, probe, reference_frame
from ingest.run import DatasetOutcome, ingest
from kestava.alerts import RETRY_TRIGGER, Alerter, Problem, check_freshness, check_run, redact, secret_values
from kestava.config import get_settings
from kestava.logs import configure_logging
from kestava.status import JOBSTORE_TABLE, scheduled_runs
from storage import schema
from storage.engine import create_db_engine, open_database, safe_url
from storage.jobs import finish_run, now_utc, start_run
from storage.locks import BusyError, job_lock
from storage.rawstore import RawStore

__all__ = [
    "HELSINKI",
    "JobSpec",
    "Runners",
    "Runtime",
    "WallClockCronTrigger",
    "catalogue_jobs",
    "pending_datasets",
    "reap_orphans",
    "run_compute_job",
    "run_half_year_report_job",
    "run_health_job",
    "run_ingest_job",
    "run_once",
    "run_probe_job",
    "run_weekly_report_job",
    "serve",
    "sync_jobs",
]

log = logging.getLogger("scheduler")
HELSINKI = ZoneInfo("Europe/Helsinki")
WEEKLY_REPORT_CRON = "0 7 * * 1"  # Mondays 07:00
HALF_YEAR_REPORT_CRON = "30 7 2 1,7 *"  # 2 January and 2 July 07:30, for the previous half
HEALTH_CRON = "0 8 * * *"
PROBE_CRON = "0 5 * * 0"  # Sundays 05:00: the weekly live probe (ingest/probe.py)
DEFAULT_GRACE_S = 300.0
EXIT_OK, EXIT_FAILED, EXIT_FORCED = 0, 1, 3
ENV_ACCELERATE = "KESTAVA_SCHEDULER_ACCELERATE"
ENV_HOOKS = "KESTAVA_SCHEDULER_HOOKS"
ENV_RETRY_WAIT = "KESTAVA_SCHEDULER_RETRY_WAIT"
ENV_LOCK_LEASE = "KESTAVA_SCHEDULER_LOCK_LEASE"
ENV_BUSY_WAIT = "KESTAVA_SCHEDULER_BUSY_WAIT"
# A fixed Monday: accelerated jobs keep the order in which their real schedules fire in a week.
_ORDER_REFERENCE = datetime(2026, 1, 5, tzinfo=HELSINKI)
_PROCESS_STARTED = now_utc()
_KIND_ORDER = {"ingest": 0, "health": 1, "report": 2, "probe": 3}


# --------------------------------------------------------------------------------------------- triggers


class WallClockCronTrigger(CronTrigger):  # type: ignore[misc]
    """A cron trigger on the wall clock: a time in the repeated autumn hour fires once, not twice.

    (In spring a time inside the skipped hour fires once, an hour later on the clock, as in CronTrigger.)
    """

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        fire: datetime | None = super().get_next_fire_time(previous_fire_time, now)
        for _ in range(4):  # (CronTrigger computes wrongly inside the repeated hour: it can go backwards)
            if fire is None or not _second_occurrence(fire, self.timezone):
                return fire
            after = fire.astimezone(UTC)
            while _second_occurrence(after, self.timezone):  # to the end of the repeated hour
                after += timedelta(minutes=1)
            fire = super().get_next_fire_time(None, after.astimezone(self.timezone))
        return fire


def _second_occurrence(moment: datetime, zone: Any) -> bool:
    """Whether moment is the second pass of a wall-clock time that happens twice (fall back)."""
    local = moment.astimezone(zone)
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_day_of_week(field: str) -> str:
    """A standard cron day-of-week field (0 or 7 = Sunday, 1 = Monday, names, ranges, steps) as the
    day names APScheduler 3 understands (its own numbers start from 0 = Monday, so "1" would be Tuesday).
    """

    def day(token: str) -> int:
        token = token.strip().lower()
        if token[:3] in _CRON_DAYS and not token.isdigit():
            return _CRON_DAYS.index(token[:3])
        if not token.isdigit() or int(token) > 7:
            raise ValueError(f"cron day of week: expected 0-7 or sun-sat, got {token!r}")
        return int(token)  # 7 (Sunday) kept as 7 here so that ranges such as 5-7 work

    days: set[int] = set()
    for item in field.split(","):
        spec, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"cron day of week: bad step in {item!r}")
        if spec == "*":
            first, last = 0, 6
        elif "-" in spec:
            low, high = spec.split("-", 1)
            first, last = day(low), day(high)
            if last < first:  # mon-sun, fri-mon
                last += 7
        else:
            first = last = day(spec)
            if step_text:
                last = max(first, 6)
        days.update(d % 7 for d in range(first, last + 1, step))
    if not days:
        raise ValueError(f"cron day of week: {field!r} matches no day")
    if days == set(range(7)):
        return "*"
    return ",".join(_CRON_DAYS[d] for d in sorted(days))


def cron(expression: str) -> WallClockCronTrigger:
    """A five-field standard cron expression (minute hour day month day-of-week), Europe/Helsinki time."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expression!r}: expected 5 fields, got {len(fields)}")
    minute, hour, day, month, day_of_week = fields
    if day != "*" and day_of_week != "*":
        # cron runs when either matches, APScheduler only when both do: refuse rather than differ
        raise ValueError(f"cron expression {expression!r}: restrict day of month or day of week, not both")
    return WallClockCronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_day_of_week(day_of_week),
        timezone=HELSINKI,
    )


# ------------------------------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class JobSpec:
    """A job the scheduler keeps: id (= job_run and lock name), function reference, args and trigger."""

    id: str
    func: str  # "module:function", resolved by APScheduler (the SQL job store pickles the reference)
    args: tuple[str, ...]
    trigger: BaseTrigger
    kind: str  # ingest, health, report
    schedule: str  # the cron expression (or the accelerated interval), for --list


ALL_LANGS = "all"  # the reports in every language (fi, sv, en), the default


def catalogue_jobs(catalogue: Catalogue, *, report_lang: str = ALL_LANGS) -> list[JobSpec]:
    """Every job: one ingest per catalogue dataset, the health check and the two reports."""
    specs = []
    for d in catalogue.datasets.values():
        try:
            trigger = cron(d.cadence)
        except ValueError as error:
            raise ValueError(f"catalogue: dataset {d.id!r}: cadence: {error}") from None
        specs.append(
            JobSpec(f"ingest:{d.id}", "scheduler:run_ingest_job", (d.id,), trigger, "ingest", d.cadence)
        )
    specs.append(JobSpec("health", "scheduler:run_health_job", (), cron(HEALTH_CRON), "health", HEALTH_CRON))
    if any(d.probe is not None for d in catalogue.datasets.values()):
        specs.append(JobSpec("probe", "scheduler:run_probe_job", (), cron(PROBE_CRON), "probe", PROBE_CRON))
    specs.append(
        JobSpec(
            "report:weekly",
            "scheduler:run_weekly_report_job",
            (report_lang,),
            cron(WEEKLY_REPORT_CRON),
            "report",
            WEEKLY_REPORT_CRON,
        )
    )
    specs.append(
        JobSpec(
            "report:half",
            "scheduler:run_half_year_report_job",
            (report_lang,),
            cron(HALF_YEAR_REPORT_CRON),
            "report",
            HALF_YEAR_REPORT_CRON,
        )
    )
    return specs


def accelerate(specs: Sequence[JobSpec], seconds: float, now: datetime) -> list[JobSpec]:
    """Every trigger replaced by an IntervalTrigger of `seconds`, staggered in real-schedule order."""

    def first_fire(spec: JobSpec) -> datetime:
        fire = spec.trigger.get_next_fire_time(None, _ORDER_REFERENCE)
        return fire if fire is not None else datetime.max.replace(tzinfo=UTC)

    ordered = sorted(specs, key=lambda s: (first_fire(s), s.id))
    step = seconds / (len(ordered) + 1)
    return [
        JobSpec(
            s.id,
            s.func,
            s.args,
            IntervalTrigger(
                seconds=seconds, start_date=now + timedelta(seconds=step * (rank + 1)), timezone=HELSINKI
            ),
            s.kind,
            f"every {seconds:g} s (accelerated; really {s.schedule})",
        )
        for rank, s in enumerate(ordered)
    ]


# ------------------------------------------------------------------------------------ runtime and hooks

IngestRunner = Callable[["Runtime", str, str], DatasetOutcome]
ComputeRunner = Callable[[Engine, Sequence[str]], object]
WeeklyReportRunner = Callable[[Engine, str], object]
HalfYearReportRunner = Callable[[Engine, str, str], object]
ProbeRunner = Callable[[Catalogue], list[ProbeResult]]


def default_ingest(runtime: Runtime, dataset_id: str, trigger: str) -> DatasetOutcome:
    """ingest.run.ingest for one dataset (it takes the ingest:<dataset> lock and records job_run)."""
    (outcome,) = ingest(
        runtime.engine,
        runtime.raw_store,
        [dataset_id],
        offline=runtime.offline,
        snapshot_dir=runtime.snapshot_dir,
        catalogue=runtime.catalogue,
        trigger=trigger,
    )
    return outcome


def default_probe(catalogue: Catalogue) -> list[ProbeResult]:
    """ingest.probe.probe of the datasets with a probe block (live; writes nothing)."""
    snapshot_dir = get_settings().snapshot_dir  # the reference shapes, as `kestava probe` uses them
    return probe(
        [d.id for d in catalogue.datasets.values() if d.probe is not None],
        catalogue=catalogue,
        reference=lambda spec: reference_frame(spec, snapshot_dir),
    )


def default_compute(engine: Engine, datasets: Sequence[str]) -> object:
    """indicators.engine.compute for what the changed datasets affect."""
    return importlib.import_module("indicators.engine").compute(engine, datasets=list(datasets))


def default_weekly_report(engine: Engine, lang: str) -> object:
    """report.weekly.write_weekly_report for the current week; lang "all": fi, sv and en (changes once)."""
    weekly = importlib.import_module("report.weekly")
    if lang == ALL_LANGS:
        return weekly.write_weekly_reports(engine, weekly.LANGS)
    return weekly.write_weekly_report(engine, lang=lang)


def default_half_year_report(engine: Engine, half: str, lang: str) -> object:
    """report.weekly.write_half_year_report for a half year such as 2026-H2; lang "all": fi, sv and en."""
    weekly = importlib.import_module("report.weekly")
    langs = weekly.LANGS if lang == ALL_LANGS else (lang,)
    return [weekly.write_half_year_report(engine, half=half, lang=one) for one in langs]


@dataclass(frozen=True)
class Runners:
    """The work behind the jobs; replaced in tests (KESTAVA_SCHEDULER_HOOKS) without touching the schedule."""

    ingest: IngestRunner = default_ingest
    compute: ComputeRunner = default_compute
    weekly_report: WeeklyReportRunner = default_weekly_report
    half_year_report: HalfYearReportRunner = default_half_year_report
    probe: ProbeRunner = default_probe

    @classmethod
    def from_module(cls, name: str | None) -> Runners:
        """Defaults, overridden by the functions a hooks module defines (ingest, compute, …)."""
        if not name:
            return cls()
        module = importlib.import_module(name)
        defaults = cls()
        return cls(
            ingest=getattr(module, "ingest", defaults.ingest),
            compute=getattr(module, "compute", defaults.compute),
            weekly_report=getattr(module, "weekly_report", defaults.weekly_report),
            half_year_report=getattr(module, "half_year_report", defaults.half_year_report),
            probe=getattr(module, "probe", defaults.probe),
        )


@dataclass
class Runtime:
    """What the job functions work with in this process (jobs themselves carry only simple args)."""

    engine: Engine
    database_url: str
    raw_store: RawStore
    catalogue: Catalogue
    alerter: Alerter
    runners: Runners = field(default_factory=Runners)
    offline: bool = False
    snapshot_dir: Path | None = None
    trigger: str = "scheduler"  # job_run.trigger of a run's first attempt
    retry_attempts: int = 3
    retry_wait_s: float = 30.0
    lock_lease: timedelta = timedelta(minutes=10)
    busy_wait_s: float = 600.0
    chain_compute: bool = True  # compute right after an ingest that changed data (--once computes at the end)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def secrets(self) -> list[str]:
        return self.alerter.secrets


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()
_running: dict[str, float] = {}
_skipped: set[str] = set()  # jobs that were submitted but not started because the scheduler stopped
_running_lock = threading.Lock()


def set_runtime(runtime: Runtime | None) -> None:
    """Install the runtime the job functions use (None to forget it)."""
    global _runtime
    with _runtime_lock:
        _runtime = runtime
    with _running_lock:
        _skipped.clear()


def current_runtime() -> Runtime:
    """The installed runtime, or one built from the settings on first use."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = build_runtime()
        return _runtime


def build_runtime(
    database_url: str | None = None,
    *,
    catalogue: Catalogue | None = None,
    offline: bool = False,
    runners: Runners | None = None,
    trigger: str = "scheduler",
    retry_wait_s: float | None = None,
    lock_lease_s: float | None = None,
    busy_wait_s: float | None = None,
    engine: Engine | None = None,
) -> Runtime:
    """A runtime from the settings (KESTAVA_*), with the given overrides."""
    settings = get_settings()
    url = database_url or settings.resolved_database_url()
    engine = engine or open_database(url)
    return Runtime(
        engine=engine,
        database_url=url,
        raw_store=RawStore(settings.raw_dir),
        catalogue=catalogue or load_catalogue(),
        alerter=Alerter(engine),
        runners=runners or Runners.from_module(os.environ.get(ENV_HOOKS)),
        offline=offline,
        snapshot_dir=settings.snapshot_dir,
        trigger=trigger,
        retry_wait_s=_env_float(ENV_RETRY_WAIT, 30.0) if retry_wait_s is None else retry_wait_s,
        lock_lease=timedelta(
            seconds=_env_float(ENV_LOCK_LEASE, 600.0) if lock_lease_s is None else lock_lease_s
        ),
        busy_wait_s=_env_float(ENV_BUSY_WAIT, 600.0) if busy_wait_s is None else busy_wait_s,
    )


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


@contextmanager
def _in_flight(job: str) -> Iterator[None]:
    with _running_lock:
        _running[job] = time.monotonic()
    try:
        yield
    finally:
        with _running_lock:
            _running.pop(job, None)


def running_jobs() -> list[str]:
    """The jobs running in this process now."""
    with _running_lock:
        return sorted(_running)


def _log_job(
    job: str,
    outcome: str,
    seconds: float,
    *,
    trigger: str,
    dataset: str | None = None,
    rows_added: int = 0,
    rows_revised: int = 0,
    error: str | None = None,
) -> None:
    level = logging.ERROR if outcome in ("failed", "rejected") else logging.INFO
    log.log(
        level,
        "%s: %s in %.2f s%s",
        job,
        outcome,
        seconds,
        f": {error}" if error else "",
        extra={
            "job": job,
            "dataset": dataset,
            "duration_s": round(seconds, 3),
            "rows_added": rows_added,
            "rows_revised": rows_revised,
            "outcome": outcome,
            "trigger": trigger,
        },
    )


def _retrying(runtime: Runtime, job: str, **options: Any) -> Retrying:
    """3 attempts (default) with exponential backoff, the waits cut short when the scheduler stops."""

    def before_sleep(state: RetryCallState) -> None:
        assert state.next_action is not None
        log.warning(
            "%s: attempt %d of %d did not succeed; retrying in %.1f s",
            job,
            state.attempt_number,
            runtime.retry_attempts,
            state.next_action.sleep,
            extra={"job": job, "outcome": "retry"},
        )

    return Retrying(
        stop=stop_after_attempt(runtime.retry_attempts) | stop_when_event_set(runtime.stop),
        wait=wait_exponential(multiplier=runtime.retry_wait_s, min=runtime.retry_wait_s),
        sleep=lambda seconds: _pause(runtime, seconds),
        before_sleep=before_sleep,
        **options,
    )


def _skip(job: str) -> str:
    """A job not started because the scheduler is stopping (kept due for the next start)."""
    with _running_lock:
        _skipped.add(job)
    log.info("%s: not started, the scheduler is stopping", job, extra={"job": job, "outcome": "skipped"})
    return "skipped"


def _pause(runtime: Runtime, seconds: float) -> None:
    """Sleep, but wake up when the scheduler is told to stop."""
    runtime.stop.wait(seconds)


def _today() -> date:
    return datetime.now(HELSINKI).date()


# ------------------------------------------------------------------------------------------ ingest job


def _guarded(runtime: Runtime, job: str, body: Callable[[], str], dataset: str | None = None) -> str:
    """Run a job's body unless the scheduler is stopping; anything it raises is logged and alerted."""
    if runtime.stop.is_set():
        return _skip(job)
    with _in_flight(job):
        try:
            return body()
        except Exception as error:  # e.g. the database is unreachable: never take the scheduler down
            message = redact(f"{type(error).__name__}: {error}", runtime.secrets)
            log.exception(
                "%s: crashed: %s", job, message, extra={"job": job, "dataset": dataset, "outcome": "failed"}
            )
            runtime.alerter.problem(
                Problem("failing", job, f"{job} crashed: {message}", dataset=dataset, job=job)
            )
            return "failed"


def run_ingest_job(dataset_id: str) -> str:
    """Scheduled job: ingest one dataset (retrying failures), alert, then compute if data changed."""
    runtime = current_runtime()
    return _guarded(runtime, f"ingest:{dataset_id}", lambda: _ingest_job(runtime, dataset_id), dataset_id)


def _ingest_job(runtime: Runtime, dataset_id: str) -> str:
    job = f"ingest:{dataset_id}"
    started = time.monotonic()
    outcome = _ingest_with_retries(runtime, dataset_id)
    result = outcome.result
    added, revised = (result.added, result.revised) if result else (0, 0)
    _log_job(
        job,
        outcome.outcome,
        time.monotonic() - started,
        trigger=runtime.trigger,
        dataset=dataset_id,
        rows_added=added,
        rows_revised=revised,
        error=redact(outcome.error, runtime.secrets) if outcome.error else None,
    )
    check_run(runtime.alerter, job, outcome.outcome, outcome.error, dataset=dataset_id)
    if outcome.outcome == "success" and added + revised > 0:
        check_freshness(runtime.alerter, runtime.catalogue, _today(), [dataset_id])
        if runtime.stop.is_set():
            log.info("compute left pending: the scheduler is stopping", extra={"job": "compute"})
        elif runtime.chain_compute:
            run_compute(runtime)
    return outcome.outcome


def _ingest_with_retries(runtime: Runtime, dataset_id: str) -> DatasetOutcome:
    """Up to retry_attempts ingests while it fails or raises (never for 'rejected' or 'busy')."""
    attempts = 0

    def attempt() -> DatasetOutcome:
        nonlocal attempts
        attempts += 1
        trigger = runtime.trigger if attempts == 1 else RETRY_TRIGGER
        return runtime.runners.ingest(runtime, dataset_id, trigger)

    retrying = _retrying(
        runtime,
        f"ingest:{dataset_id}",
        retry=retry_if_result(lambda o: isinstance(o, DatasetOutcome) and o.outcome == "failed")
        | retry_if_exception(lambda e: not isinstance(e, ImportError)),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )
    outcome: DatasetOutcome = retrying(attempt)
    return outcome


# ----------------------------------------------------------------------------------- compute and reports


def pending_datasets(engine: Engine) -> list[str]:
    """Datasets changed by an ingest that finished after the last successful compute started."""
    run = schema.job_run
    with engine.connect() as conn:
        last = conn.execute(
            select(func.max(run.c.started_at)).where(run.c.job == "compute", run.c.outcome == "success")
        ).scalar()
        query = (
            select(run.c.dataset_id)
            .distinct()
            .where(
                run.c.job.like("ingest:%"),
                run.c.outcome == "success",
                (run.c.rows_added + run.c.rows_revised) > 0,
                run.c.dataset_id.is_not(None),
            )
        )
        if last is not None:
            query = query.where(run.c.finished_at >= last)
        return sorted(conn.execute(query).scalars())


def _lock_or_none(runtime: Runtime, name: str, wait_s: float) -> tuple[ExitStack | None, str | None]:
    """Take the job lock, waiting up to wait_s while another run holds it; (None, why) when still busy."""
    deadline = time.monotonic() + wait_s
    delay = 1.0
    while True:
        stack = ExitStack()
        try:
            stack.enter_context(job_lock(runtime.engine, name, lease=runtime.lock_lease))
        except BusyError as busy:
            stack.close()
            left = deadline - time.monotonic()
            if left <= 0 or runtime.stop.is_set():
                return None, str(busy)
            runtime.stop.wait(min(delay, left))
            delay = min(delay * 2, 30.0)
        else:
            return stack, None


def _record_busy(runtime: Runtime, job: str, why: str, started: float) -> str:
    run_id = start_run(runtime.engine, job, trigger=runtime.trigger)
    finish_run(runtime.engine, run_id, "busy", error=why)
    _log_job(job, "busy", time.monotonic() - started, trigger=runtime.trigger, error=why)
    return "busy"


def _run_recorded(runtime: Runtime, job: str, work: Callable[[], object]) -> tuple[str, str | None]:
    """Run work with retries, each attempt recorded in job_run; (outcome, error). Call under the lock."""
    attempts = 0

    def attempt() -> None:
        nonlocal attempts
        attempts += 1
        run_id = start_run(runtime.engine, job, trigger=runtime.trigger if attempts == 1 else RETRY_TRIGGER)
        try:
            work()
        except Exception as error:
            message = redact(f"{type(error).__name__}: {error}", runtime.secrets)
            finish_run(runtime.engine, run_id, "failed", error=message)
            log.error(
                "%s: attempt %d failed: %s", job, attempts, message, extra={"job": job, "outcome": "failed"}
            )
            raise
        finish_run(runtime.engine, run_id, "success")

    retrying = _retrying(
        runtime, job, retry=retry_if_exception(lambda e: not isinstance(e, ImportError)), reraise=True
    )
    try:
        retrying(attempt)
    except Exception as error:
        return "failed", redact(f"{type(error).__name__}: {error}", runtime.secrets)
    return "success", None


def _compute(runtime: Runtime, datasets: Sequence[str]) -> None:
    """The compute runner. Indicators it could not compute are logged and alerted (kind "indicators");
    the run itself succeeded, and the others were stored. A compute with none failing gives the all-clear
    (a failed indicator is retried by every compute until it succeeds)."""
    summary = runtime.runners.compute(runtime.engine, datasets)
    errors = getattr(summary, "errors", None)
    if isinstance(errors, dict) and errors:
        listed = redact(
            "; ".join(f"{name}: {text}" for name, text in sorted(errors.items())[:10]), runtime.secrets
        )
        log.warning(
            "compute: %d indicator(s) not computed: %s",
            len(errors),
            listed,
            extra={"job": "compute", "outcome": "partial"},
        )
        message = (
            f"{len(errors)} indicator(s) could not be computed; their previous values stay in place "
            f"(kestava status lists them): {listed}"
        )
        runtime.alerter.problem(Problem("indicators", "compute", message, job="compute"))
    else:
        runtime.alerter.resolve_many([("indicators", "compute")], "every indicator computed again.")


def run_compute(runtime: Runtime, *, wait_s: float | None = None) -> str:
    """Recompute what the pending changed datasets affect, under the `compute` lock; 'unchanged' if none."""
    if not pending_datasets(runtime.engine):
        return "unchanged"
    job = "compute"
    started = time.monotonic()
    lock, why = _lock_or_none(runtime, job, runtime.busy_wait_s if wait_s is None else wait_s)
    if lock is None:
        return _record_busy(runtime, job, why or "busy", started)
    with lock:
        datasets = pending_datasets(runtime.engine)  # again, now that no other compute runs
        if not datasets:
            return "unchanged"
        outcome, error = _run_recorded(runtime, job, lambda: _compute(runtime, datasets))
    _log_job(job, outcome, time.monotonic() - started, trigger=runtime.trigger, error=error)
    log.info("compute covered %s", ", ".join(datasets), extra={"job": job, "outcome": outcome})
    check_run(runtime.alerter, job, outcome, error)
    return outcome


def run_compute_job() -> str:
    """Scheduled job: compute whatever is pending (used to catch up after a restart)."""
    runtime = current_runtime()
    return _guarded(runtime, "compute", lambda: run_compute(runtime))


def _run_report(runtime: Runtime, job: str, work: Callable[[], object]) -> str:
    def body() -> str:
        started = time.monotonic()
        run_compute(runtime)  # the report reflects every change loaded so far
        lock, why = _lock_or_none(runtime, job, 0.0)
        if lock is None:
            return _record_busy(runtime, job, why or "busy", started)
        with lock:
            outcome, error = _run_recorded(runtime, job, work)
        _log_job(job, outcome, time.monotonic() - started, trigger=runtime.trigger, error=error)
        check_run(runtime.alerter, job, outcome, error)
        return outcome

    return _guarded(runtime, job, body)


def run_weekly_report_job(lang: str = ALL_LANGS) -> str:
    """Scheduled job: the weekly report (after any pending compute)."""
    runtime = current_runtime()
    return _run_report(runtime, "report:weekly", lambda: runtime.runners.weekly_report(runtime.engine, lang))


def previous_half(today: date) -> str:
    """The half year before the one today falls in: 2026-H2 in January 2027, 2027-H1 in July 2027."""
    return f"{today.year - 1}-H2" if today.month <= 6 else f"{today.year}-H1"


def run_half_year_report_job(lang: str = ALL_LANGS) -> str:
    """Scheduled job: the half-yearly council report for the previous half year."""
    runtime = current_runtime()
    half = previous_half(_today())
    return _run_report(
        runtime, "report:half", lambda: runtime.runners.half_year_report(runtime.engine, half, lang)
    )


def run_health_job() -> str:
    """Scheduled job: alert late sources (all-clear those on time again) and catch up pending compute."""
    runtime = current_runtime()

    def body() -> str:
        started = time.monotonic()
        run_id = start_run(runtime.engine, "health", trigger=runtime.trigger)
        check_freshness(runtime.alerter, runtime.catalogue, _today())
        finish_run(runtime.engine, run_id, "success")
        _log_job("health", "success", time.monotonic() - started, trigger=runtime.trigger)
        run_compute(runtime)
        return "success"

    return _guarded(runtime, "health", body)


def run_probe_job() -> str:
    """Scheduled job: the weekly live probe; drift is recorded as a failed run and alerted at once."""
    runtime = current_runtime()

    def body() -> str:
        if runtime.offline:  # the probe is live by nature: a replay has nothing to compare
            log.info("probe: not run offline", extra={"job": "probe", "outcome": "skipped"})
            return "skipped"
        started = time.monotonic()
        run_id = start_run(runtime.engine, "probe", trigger=runtime.trigger)
        results = runtime.runners.probe(runtime.catalogue)
        drifted = [r for r in results if r.drift]
        found = "; ".join(
            f"{r.dataset_id}: {check.what}: {check.found}" for r in drifted for check in r.drifts()[:2]
        )
        error = redact(found, runtime.secrets) or None
        outcome = "failed" if drifted else "success"
        finish_run(runtime.engine, run_id, outcome, error=error)
        _log_job("probe", outcome, time.monotonic() - started, trigger=runtime.trigger, error=error)
        if drifted:
            names = ", ".join(r.dataset_id for r in drifted)
            runtime.alerter.problem(
                Problem(
                    "drift",
                    "probe",
                    f"kestava probe found drift in {names} (run `kestava probe` for the table): {error}",
                    job="probe",
                )
            )
        else:
            runtime.alerter.resolved("drift", "probe", f"kestava probe: {len(results)} datasets as expected.")
        return outcome

    return _guarded(runtime, "probe", body)


# ------------------------------------------------------------------------------------ orphans and store


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


def jobstore_engine(database_url: str) -> Engine:
    """The job store's own engine. On SQLite its reads take no write lock and it waits long for one, so
    that a long load transaction neither stalls the scheduler loop nor (after the busy timeout) kills it."""
    if make_url(database_url).get_backend_name() == "sqlite":
        engine = create_engine(database_url, connect_args={"timeout": 600})
        event.listen(engine, "connect", _sqlite_jobstore_pragmas)
        return engine
    return create_db_engine(database_url)


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
        try:
            self.store.add_job(job)
        except ConflictingIdError:
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


# -------------------------------------------------------------------------------------- process control


class _Signals:
    """Counts SIGTERM/SIGINT; the handler only records (all work happens in normal threads)."""

    def __init__(self) -> None:
        self.count = 0
        self.name = ""

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        self.name = signal.Signals(signum).name

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self.handle)
        signal.signal(signal.SIGINT, self.handle)


def _watchdog(runtime: Runtime, grace_s: float, signals: _Signals, done: threading.Event) -> None:
    """After the grace period (or a second signal) abandon the running jobs: exit at once, so that their
    open transactions roll back and nothing is half-written; their job_run rows are marked failed."""
    deadline = time.monotonic() + grace_s
    first = signals.count
    while not done.wait(0.2):
        if time.monotonic() < deadline and signals.count <= first:
            continue
        jobs = running_jobs()
        reason = "grace period over" if time.monotonic() >= deadline else f"second {signals.name}"
        log.error(
            "%s: abandoning %s; their uncommitted work rolls back",
            reason,
            ", ".join(jobs) or "the running jobs",
            extra={"outcome": "forced"},
        )
        marker = threading.Thread(target=_mark_abandoned, args=(runtime.engine,), daemon=True)
        marker.start()
        marker.join(2.0)
        log.error("scheduler stopped (forced)", extra={"outcome": "forced"})
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_FORCED)


def _mark_abandoned(engine: Engine) -> None:
    run = schema.job_run
    try:
        with engine.begin() as conn:
            conn.execute(
                update(run)
                .where(
                    run.c.outcome == "running", run.c.pid == os.getpid(), run.c.host == socket.gethostname()
                )
                .values(outcome="failed", finished_at=now_utc(), error="interrupted: abandoned at shutdown")
            )
    except Exception as error:  # e.g. SQLite still locked by the abandoned transaction
        log.warning("could not mark abandoned runs: %s", type(error).__name__)


def _on_event(event: JobEvent) -> None:
    if event.code == EVENT_JOB_MAX_INSTANCES:
        log.warning(
            "%s: previous run still going; this run skipped", event.job_id, extra={"job": event.job_id}
        )
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
    """Run the schedule until SIGTERM/SIGINT (or `stop`, in tests); returns the exit code."""
    set_runtime(runtime)
    reap_orphans(runtime.engine)
    store = JobStore(runtime.database_url)
    try:
        sync_jobs(store, specs, datetime.now(HELSINKI), start_now=_start_now(runtime, accelerated))
    finally:
        store.close()
    executor = ThreadPoolExecutor(workers)
    scheduler = BackgroundScheduler(
        jobstores={
            "default": SQLAlchemyJobStore(
                engine=jobstore_engine(runtime.database_url), tablename=JOBSTORE_TABLE
            ),
            "memory": MemoryJobStore(),
        },
        executors={"default": executor},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=HELSINKI,
    )
    scheduler.add_listener(_on_event, EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    if pending_datasets(runtime.engine):  # e.g. killed between an ingest and its compute
        scheduler.add_job(
            "scheduler:run_compute_job",
            "date",
            id="compute:catch-up",
            jobstore="memory",
            misfire_grace_time=None,
        )
    signals = _Signals()
    if install_signals:
        signals.install()
    scheduler.start()
    log.info(
        "scheduler started: %d jobs, database %s, pid %d",
        len(specs),
        safe_url(runtime.database_url),
        os.getpid(),
        extra={"outcome": "started"},
    )
    while signals.count == 0 and not (stop is not None and stop.is_set()):
        time.sleep(0.2)
    log.info(
        "%s received: stopping; waiting up to %.0f s for %s",
        signals.name or "stop",
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
    return EXIT_OK


def _keep_due(runtime: Runtime, specs: Sequence[JobSpec]) -> None:
    """Runs submitted just before the stop but not started stay due, so the next start runs them."""
    with _running_lock:
        skipped = set(_skipped)
        _skipped.clear()
    wanted = [spec for spec in specs if spec.id in skipped]
    if not wanted:
        return
    store = JobStore(runtime.database_url)
    try:
        for spec in wanted:
            store.put(spec, datetime.now(HELSINKI))
            log.info(
                "%s: not started before the stop; due again at the next start",
                spec.id,
                extra={"job": spec.id},
            )
    finally:
        store.close()


def run_once(
    runtime: Runtime,
    specs: Sequence[JobSpec],
    *,
    grace_s: float = DEFAULT_GRACE_S,
    install_signals: bool = True,
) -> int:
    """Run every due job now, in order (ingests, health, reports), then exit; 1 if any failed.

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
    reap_orphans(runtime.engine)
    store = JobStore(runtime.database_url)
    outcomes: dict[str, str] = {}
    try:
        now = datetime.now(HELSINKI)
        stored = store.jobs()
        due = [
            spec
            for spec in specs
            if spec.id not in stored
            or (stored[spec.id].next_run_time is not None and stored[spec.id].next_run_time <= now)
            or not _has_run(runtime.engine, spec.id)
        ]
        sync_jobs(store, specs, now, start_now=lambda _spec: False)
        stored = store.jobs()

        def order(spec: JobSpec) -> tuple[int, float, str]:
            job = stored.get(spec.id)
            when = job.next_run_time.timestamp() if job is not None and job.next_run_time else 0.0
            return _KIND_ORDER.get(spec.kind, 9), when, spec.id

        log.info("--once: %d due job(s): %s", len(due), ", ".join(s.id for s in sorted(due, key=order)))
        for spec in sorted(due, key=order):
            if runtime.stop.is_set():
                break
            outcomes[spec.id] = str(ref_to_obj(spec.func)(*spec.args))
            store.put(spec, spec.trigger.get_next_fire_time(None, datetime.now(HELSINKI)))
        if not runtime.stop.is_set():
            compute = run_compute(runtime)  # anything left pending (e.g. by a killed run)
            if compute != "unchanged":
                outcomes["compute"] = compute
    finally:
        store.close()
        done.set()
    failed = sorted(job for job, outcome in outcomes.items() if outcome in ("failed", "rejected"))
    log.info(
        "--once finished: %d job(s) run%s",
        len(outcomes),
        f"; failed: {', '.join(failed)}" if failed else "",
        extra={"outcome": "failed" if failed else "success"},
    )
    return EXIT_FAILED if failed else EXIT_OK


def _stop_on_signal(runtime: Runtime, grace_s: float, signals: _Signals, done: threading.Event) -> None:
    while not done.wait(0.2):
        if signals.count:
            log.info("%s received: finishing the running job, skipping the rest", signals.name)
            runtime.stop.set()
            _watchdog(runtime, grace_s, signals, done)
            return


def list_jobs(runtime: Runtime, specs: Sequence[JobSpec], console: Console) -> None:
    """Print every job with its schedule and next run time (Europe/Helsinki) from the job store."""
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


# ------------------------------------------------------------------------------------------------- CLI


class _RedactingFormatter(logging.Formatter):
    """Wraps a formatter and masks secret values in everything it writes (message, fields, traceback)."""

    def __init__(self, inner: logging.Formatter, secrets: Sequence[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = [*secrets, *(json.dumps(s)[1:-1] for s in secrets)]

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), self.secrets)


def setup_logging(*, json_lines: bool, verbose: bool, secrets: Sequence[str]) -> None:
    """kestava.logs (JSON lines on request) at INFO, with secrets masked in every line."""
    configure_logging(json_lines=json_lines, verbose=verbose)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    for handler in root.handlers:
        handler.setFormatter(_RedactingFormatter(handler.formatter or logging.Formatter(), secrets))


app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0] if __doc__ else None)


@app.command()
def main(
    once: Annotated[bool, typer.Option("--once", help="Run every due job now, then exit.")] = False,
    list_only: Annotated[bool, typer.Option("--list", help="Print every job and its next run time.")] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="SQLAlchemy URL (default: KESTAVA_DATABASE_URL or the SQLite file)."
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Ingest from the bundled snapshot (demo).")
    ] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Write logs as JSON lines to stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
    catalogue_path: Annotated[
        Path | None, typer.Option("--catalogue", help="Another catalogue.toml (default: the bundled one).")
    ] = None,
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds a running job may take to finish after SIGTERM/SIGINT.")
    ] = DEFAULT_GRACE_S,
    workers: Annotated[int, typer.Option("--workers", help="Jobs that may run at the same time.")] = 4,
    report_lang: Annotated[
        str, typer.Option("--report-lang", help="Language of the reports: fi, sv, en or all (the default).")
    ] = ALL_LANGS,
    accelerate_s: Annotated[
        float | None,
        typer.Option(
            "--accelerate", envvar=ENV_ACCELERATE, help="Testing: every trigger an interval of N s."
        ),
    ] = None,
    hooks: Annotated[
        str | None,
        typer.Option("--hooks", envvar=ENV_HOOKS, help="Testing: module with replacement job work."),
    ] = None,
) -> None:
    """Kestävä Espoo scheduler: ingest on each dataset's cadence, compute, report, alert."""
    catalogue = load_catalogue(catalogue_path.resolve()) if catalogue_path else load_catalogue()
    extra_secret_names = [d.secret_env for d in catalogue.datasets.values() if d.secret_env]
    setup_logging(json_lines=log_json, verbose=verbose, secrets=secret_values(extra_names=extra_secret_names))
    url = database_url or get_settings().resolved_database_url()
    try:
        runtime = build_runtime(
            url,
            catalogue=catalogue,
            offline=offline,
            runners=Runners.from_module(hooks),
            trigger="once" if once else "scheduler",
        )
    except Exception as error:
        log.error("cannot open %s: %s: %s", safe_url(url), type(error).__name__, error)
        raise typer.Exit(code=EXIT_FAILED) from None
    specs = catalogue_jobs(catalogue, report_lang=report_lang)
    accelerated = accelerate_s is not None and accelerate_s > 0
    if accelerate_s is not None and accelerate_s > 0:
        specs = accelerate(specs, accelerate_s, datetime.now(HELSINKI))
        log.warning("accelerated schedule: every job every %g s (testing only)", accelerate_s)
    try:
        if list_only:
            list_jobs(runtime, specs, Console())
            code = EXIT_OK
        elif once:
            code = run_once(runtime, specs, grace_s=grace)
        else:
            code = serve(runtime, specs, grace_s=grace, workers=workers, accelerated=accelerated)
    finally:
        runtime.engine.dispose()
    raise typer.Exit(code=code)


if __name__ == "__main__":
    # Run under the importable name `scheduler`, so the job references stored in the database
    # ("scheduler:run_ingest_job") resolve to this same module and its runtime.
    import scheduler as _scheduler

    _scheduler.app()
