"""Health for monitoring: per dataset last success, failure, staleness and next run; per job outcome."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine, Select, bindparam, column, func, inspect, select, table

from common.config import Settings, get_settings
from common.diskspace import BYTES_PER_GB, DiskSpace, disk_space
from common.errors import KestavaError, first_line, is_database_error
from common.helsinki import HELSINKI
from common.indicator_marks import WAITING_HASH
from ingest.catalogue import Catalogue, load_catalogue
from ingest.freshness import freshness_rows
from kestava.fitted_table import FittedColumn, fitted_table
from storage import schema
from storage.data_kind import Held, held_data, held_kind
from storage.engine import SchemaState, open_any_schema, safe_url
from storage.newest_runs import dataset_ids, newest_run_ids

__all__ = [
    "JOBSTORE_TABLE",
    "DatasetStatus",
    "IndicatorFailure",
    "IndicatorWaiting",
    "JobStatus",
    "StatusReport",
    "dataset_problem",
    "dataset_state_ok",
    "disk_report",
    "retired_job",
    "status_command",
    "status_report",
]

JOBSTORE_TABLE = "apscheduler_jobs"  # the scheduler's APScheduler SQLAlchemyJobStore table
PROBLEM_OUTCOMES = ("failed", "rejected")
EXIT_OK, EXIT_PROBLEM, EXIT_UNKNOWN = 0, 1, 2
OVERDUE_AFTER = timedelta(hours=1)  # a scheduled run this late means nothing is running the schedule


log = logging.getLogger(__name__)


def used_areas() -> Mapping[str, frozenset[str]] | None:
    """Per dataset the areas the indicators use of it, on which its freshness is judged as the report and
    the site judge it (IndicatorCatalogue.dataset_areas: Finland's 2022, not EU-27's 2023); None, every
    area, when the indicator catalogue cannot be read: status still reports, with a warning that says so
    (the catalogue's own error is compute's to report)."""
    from indicators.catalogue import load_indicator_catalogue  # pydantic only: no polars for `status`

    try:
        return load_indicator_catalogue().dataset_areas()
    except (OSError, ValueError, KeyError) as error:  # KeyError: it names a dataset the catalogue has not
        log.warning("freshness judged on every area: the indicator catalogue cannot be read (%s)", error)
        return None


def dataset_state_ok(state: str) -> bool:
    """Whether a dataset in this freshness state (ingest.freshness: fresh, late, failed, never) is well: any
    other than fresh is a problem, and makes `kestava status` and `kestava sources` exit 1."""
    return state == "fresh"


def dataset_problem(dataset: str, state: str, error: str | None, lang: str) -> str:
    """A dataset's problem line: its state as the reports name it in lang (in English its code, as
    monitoring reads it), with the error of a failure."""
    named = state_label(state, lang) if lang != "en" else state
    return f"{dataset}: {named}" + (f" ({error})" if error and state == "failed" else "")


@dataclass(frozen=True)
class DatasetStatus:
    """One dataset: freshness against its publication calendar, last success and failure, next run."""

    dataset: str
    state: str  # fresh, late, failed, never (ingest.freshness)
    latest_period: str | None
    expected_period_end: date | None
    last_outcome: str | None
    last_success: datetime | None  # naive UTC; freshness' last fetch: its newest ingest run that fetched
    last_failure: datetime | None  # naive UTC
    last_error: str | None  # the error of the last failure
    next_run: datetime | None  # Europe/Helsinki, from the scheduler's job store
    # "periods": latest_period is the newest period published; "releases": the day (YYYY-MM-DD) a release
    # was last seen (the content changed), for a dataset whose periods are target years (ingest.freshness)
    tracks: str = "periods"

    @property
    def ok(self) -> bool:
        return dataset_state_ok(self.state)


@dataclass(frozen=True)
class JobStatus:
    """One job (ingest:<dataset>, compute, report:weekly, …): its last recorded run and next run."""

    job: str
    last_outcome: str | None
    last_started: datetime | None  # naive UTC
    last_finished: datetime | None  # naive UTC
    last_error: str | None
    next_run: datetime | None  # Europe/Helsinki
    overdue: bool = False  # its next run is long past: the scheduler is not running
    retired: bool = False  # the catalogue no longer defines it (e.g. an opt-in dataset switched off)
    hung: bool = False  # its last run is still running after the job time limit
    busy_since: datetime | None = None  # naive UTC: the first of its runs since the last that found it busy
    busy_holder: str | None = None  # who held its lock then (the last busy run's error)
    blocked: bool = False  # busy since longer than the job time limit: another run holds its lock

    @property
    def ok(self) -> bool:
        return self.retired or (
            self.last_outcome not in PROBLEM_OUTCOMES
            and not self.overdue
            and not self.hung
            and not self.blocked
        )

    def busy_note(self, lang: str) -> str:
        """'busy since … (held by …)' in lang when its runs since its last one found its lock held, or ''."""
        if self.busy_since is None:
            return ""
        from report.i18n import t

        holder = self.busy_holder or t("cli_status.another_run", lang)
        return t("cli_status.busy_since", lang, since=when(self.busy_since), holder=holder)


@dataclass(frozen=True)
class IndicatorFailure:
    """An indicator whose last compute failed: when, and why (its datasets, the step and the error)."""

    indicator: str
    computed_at: datetime  # naive UTC
    error: str


@dataclass(frozen=True)
class IndicatorWaiting:
    """An indicator not computed yet, and no failure: an input dataset was never loaded (named in why)."""

    indicator: str
    since: datetime  # naive UTC: when a compute found it waiting
    why: str


@dataclass(frozen=True)
class StatusReport:
    """Everything `kestava status` shows; ok is False when any dataset is not fresh or any job failing."""

    today: date
    datasets: tuple[DatasetStatus, ...]
    jobs: tuple[JobStatus, ...]
    scheduler_known: bool  # whether the scheduler's job store table exists
    indicators: tuple[IndicatorFailure, ...] = ()  # indicators whose last compute failed
    waiting: tuple[IndicatorWaiting, ...] = ()  # indicators waiting for a first load of their data
    job_time_limit_min: float = 360.0  # a run still running longer is hung (Settings.job_time_limit_min)
    disks: tuple[DiskSpace, ...] = ()  # the file systems written to (disk_report)
    # the kinds of data the database holds (storage.data_kind.held_data; empty: nothing loaded)
    held: tuple[Held, ...] = ()
    schema: SchemaState | None = None  # its schema's version against this tracker's (None: not given)
    mixed_allowed: bool = False  # KESTAVA_ALLOW_MIXED_DATA: a database of both kinds is then not a problem

    @property
    def data_kind(self) -> str:
        """empty, demo, live or mixed (storage.data_kind.held_kind)."""
        return held_kind(self.held)

    @property
    def ok(self) -> bool:
        return (
            all(d.ok for d in self.datasets)
            and all(j.ok for j in self.jobs)
            and not self.indicators
            and not any(disk.low for disk in self.disks)
            and not self.refused_mix
        )

    @property
    def refused_mix(self) -> bool:
        """Demo and live data in one database that KESTAVA_ALLOW_MIXED_DATA does not allow: the scheduler
        refuses to start on it (mixed:database), so it is a problem here too."""
        return self.data_kind == "mixed" and not self.mixed_allowed

    @property
    def problems(self) -> list[str]:
        """One line per problem, for monitoring (English; `problem_lines` in another language)."""
        return self.problem_lines("en")

    def problem_lines(self, lang: str) -> list[str]:
        """One line per problem in lang (fi, sv or en): states and outcomes as the reports name them."""
        from report.i18n import t

        lines = [dataset_problem(d.dataset, d.state, d.last_error, lang) for d in self.datasets if not d.ok]
        lines += [
            f"{j.job}: {outcome_label(j.last_outcome, lang) if lang != 'en' else j.last_outcome}"
            + (f" ({j.last_error})" if j.last_error else "")
            for j in self.jobs
            if j.last_outcome in PROBLEM_OUTCOMES and not j.retired
        ]
        limit = f"{self.job_time_limit_min:g}"
        lines += [
            f"{j.job}: {t('cli_status.running_too_long', lang, since=when(j.last_started), minutes=limit)}"
            for j in self.jobs
            if j.hung and not j.retired
        ]
        lines += [f"{j.job}: {j.busy_note(lang)}" for j in self.jobs if j.blocked and not j.retired]
        lines += [
            f"{j.job}: {t('cli_status.overdue_since', lang, since=when(j.next_run))}"
            for j in self.jobs
            if j.overdue and not j.retired
        ]
        lines += [
            t("cli_status.indicator_failed", lang, indicator=i.indicator, error=i.error)
            for i in self.indicators
        ]
        lines += [disk_problem(disk, lang) for disk in self.disks if disk.low]
        if self.refused_mix:
            lines.append(t("cli_status.mixed_refused", lang))
        return lines

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (timestamps ISO 8601; naive ones are UTC and marked so)."""
        document: dict[str, Any] = _jsonable(
            {
                "ok": self.ok,
                "today": self.today,
                "problems": self.problems,
                "scheduler_known": self.scheduler_known,
                "datasets": [asdict(d) | {"ok": d.ok} for d in self.datasets],
                "jobs": [asdict(j) | {"ok": j.ok} for j in self.jobs],
                "failed_indicators": [asdict(i) for i in self.indicators],
                "waiting_indicators": [asdict(i) for i in self.waiting],
                "disks": [disk.as_dict() for disk in self.disks],
                "data": {"kind": self.data_kind, "held": [asdict(h) for h in self.held]},
                "schema": None if self.schema is None else self.schema.as_dict(),
            }
        )
        return document


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):  # every time in UTC (next_run was Helsinki's, +02:00)
        return (value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def scheduled_runs(engine: Engine, table_name: str = JOBSTORE_TABLE) -> dict[str, datetime | None] | None:
    """Job id -> next run time (Europe/Helsinki; None when paused) from the job store; None without one."""
    if not inspect(engine).has_table(table_name):
        return None
    jobs = table(table_name, column("id"), column("next_run_time"))
    with engine.connect() as conn:
        rows = conn.execute(select(jobs.c.id, jobs.c.next_run_time)).all()
    return {
        str(job_id): None
        if next_run is None
        else datetime.fromtimestamp(float(next_run), UTC).astimezone(HELSINKI)
        for job_id, next_run in rows
    }


def retired_job(job: str, catalogue: Catalogue) -> bool:
    """Whether job (a job_run name) is one the catalogue no longer defines: the ingest of a dataset not
    in it (removed, or an opt-in switched off) or the probe when no dataset declares one. Its old runs
    are history, not a problem (schedule.jobs.catalogue_jobs defines the current jobs)."""
    kind, _, dataset = job.partition(":")
    if kind == "ingest":
        return dataset not in catalogue.datasets
    if job == "probe":
        return not any(d.probe is not None for d in catalogue.datasets.values())
    return False


def disk_report(engine: Engine, settings: Settings | None = None) -> tuple[DiskSpace, ...]:
    """Free space of each file system the tracker writes to: the data folder (raw payloads), the
    reports, the public site and, on SQLite, the database file's folder."""
    settings = settings or get_settings()
    folders = [settings.data_dir, settings.raw_dir, settings.reports, settings.site]
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        folders.append(Path(str(engine.url.database)).parent)
    return disk_space(folders, round(settings.min_free_disk_gb * BYTES_PER_GB))


def disk_problem(disk: DiskSpace, lang: str) -> str:
    """The problem line of a file system low on space, in lang (fi, sv or en)."""
    from report.i18n import format_number, t

    return t(
        "cli_status.disk_low",
        lang,
        folder=disk.folder,
        free=format_number(disk.free_bytes / BYTES_PER_GB, lang, 1),
        minimum=format_number(disk.minimum_bytes / BYTES_PER_GB, lang, 1),
    )


def status_report(
    engine: Engine,
    catalogue: Catalogue,
    today: date,
    *,
    now: datetime | None = None,
    job_time_limit_min: float | None = None,
    disks: tuple[DiskSpace, ...] | None = None,
    schema_state: SchemaState | None = None,
) -> StatusReport:
    """The health of every catalogue dataset and every job that has run or is scheduled.

    A job whose last run is still running after job_time_limit_min (default: the setting
    KESTAVA_JOB_TIME_LIMIT_MIN) is hung, a problem. A job the catalogue no longer defines (retired_job)
    is listed as retired and is never a problem.

    A scheduled job whose next run is more than OVERDUE_AFTER in the past counts as a problem: the
    scheduler (or the cron running `scheduler.py --once`) is not running.

    A file system the tracker writes to with less free space than KESTAVA_MIN_FREE_DISK_GB is a problem
    (disks: default disk_report's).

    What kinds of data the database holds (demo, live) is read in the same connection (held_data);
    schema_state, its schema's version as the database was opened (open_any_schema), is shown as given.
    """
    now = now or datetime.now(UTC)
    limit = get_settings().job_time_limit_min if job_time_limit_min is None else job_time_limit_min
    hung_before = now.astimezone(UTC).replace(tzinfo=None) - timedelta(
        minutes=limit
    )  # a run started before and still running
    fresh = {row["dataset"]: row for row in freshness_rows(engine, catalogue, today, used_areas())}
    stored = scheduled_runs(engine)
    next_runs = stored or {}
    with engine.connect() as conn:
        held = tuple(held_data(conn))  # demo, live, both or none: one read of the snapshots' kinds
        # per dataset its last failure (failed or rejected) of an ingest (its last success is freshness'
        # last fetch), and per job its last run that was not busy, with the busy runs after it: each read
        # one index probe per dataset or job (storage.newest_runs), however many runs the history holds
        failed_ids: dict[int, str] = {}  # the id of each dataset's last failed or rejected ingest run
        for dataset, failed_id in conn.execute(_PER_DATASET):
            if failed_id is not None:
                failed_ids[failed_id] = dataset
        last_failure = {
            failed_ids[run_id]: (finished_at, error)
            for run_id, finished_at, error in conn.execute(_RUNS_ENDED, {"ids": list(failed_ids)})
        }
        rows = conn.execute(_LATEST).all()
        latest = [_interrupted(*row[1:]) for row in rows]
        ran = {row[1]: row[0] for row in rows}  # job: the id of its last run that was not busy
        busy: dict[str, tuple[datetime, str | None]] = {}
        for job, error in conn.execute(_BUSY_NOW):  # jobs whose newest run found its lock held
            first = conn.execute(_BUSY_SINCE, {"job": job, "ran": ran.get(job, 0)}).scalar()
            if first is not None:
                busy[job] = (first, error)
        state = schema.indicator_state
        unfinished = conn.execute(
            select(state.c.indicator_id, state.c.input_hash, state.c.computed_at, state.c.error)
            .where(state.c.error.is_not(None))
            .order_by(state.c.indicator_id)
        ).all()
    # a waiting record supersedes a failure recorded before its datasets were known never to have loaded
    failed_indicators = tuple(
        IndicatorFailure(indicator, at, error)
        for indicator, mark, at, error in unfinished
        if mark != WAITING_HASH
    )
    waiting_indicators = tuple(
        IndicatorWaiting(indicator, at, error)
        for indicator, mark, at, error in unfinished
        if mark == WAITING_HASH
    )
    datasets = []
    for spec in catalogue.datasets.values():
        row = fresh.get(spec.id, {})
        failure_at, failure_error = last_failure.get(spec.id, (None, None))
        datasets.append(
            DatasetStatus(
                dataset=spec.id,
                state=row.get("state") or "never",
                latest_period=row.get("latest_period"),
                expected_period_end=row.get("expected_period_end"),
                last_outcome=row.get("last_outcome"),
                last_success=row.get("last_fetch"),
                last_failure=failure_at,
                last_error=failure_error,
                next_run=next_runs.get(f"ingest:{spec.id}"),
                tracks=row.get("tracks") or spec.calendar.tracks,
            )
        )
    jobs = {
        job: JobStatus(
            job,
            outcome,
            started,
            finished,
            error if outcome in PROBLEM_OUTCOMES else None,
            None,
            retired=retired_job(job, catalogue),
            hung=outcome == "running" and started is not None and started < hung_before,
        )
        for job, outcome, started, finished, error in latest
    }
    for job, (first, error) in busy.items():
        base = jobs.get(job) or JobStatus(
            job, None, None, None, None, None, retired=retired_job(job, catalogue)
        )
        jobs[job] = replace(base, busy_since=first, busy_holder=_holder(error), blocked=first < hung_before)
    for job_id, next_run in next_runs.items():
        known = jobs.get(job_id)
        overdue = next_run is not None and next_run < now - OVERDUE_AFTER
        jobs[job_id] = (
            JobStatus(job_id, None, None, None, None, next_run, overdue, retired_job(job_id, catalogue))
            if known is None
            else replace(known, next_run=next_run, overdue=overdue)
        )
    return StatusReport(
        today=today,
        datasets=tuple(datasets),
        jobs=tuple(jobs[name] for name in sorted(jobs)),
        scheduler_known=stored is not None,
        indicators=failed_indicators,
        waiting=waiting_indicators,
        job_time_limit_min=limit,
        disks=disk_report(engine) if disks is None else disks,
        held=held,
        schema=schema_state,
        mixed_allowed=get_settings().allow_mixed_data,
    )


_run = schema.job_run
# per job its last run that was not busy (its id first), by job
_ran = newest_run_ids("ran", not_outcome="busy")
_LATEST = (
    select(_run.c.id, _run.c.job, _run.c.outcome, _run.c.started_at, _run.c.finished_at, _run.c.error)
    .add_columns(_run.c.host, _run.c.pid)
    .where(_run.c.id.in_(select(_ran.c.id)))
    .order_by(_run.c.job)
)
# the jobs whose newest run was busy, and its error (naming the holder); then per such job, when the first
# of its busy runs after its last run that was not busy started (all its runs after that one are busy)
_newest = newest_run_ids("newest")
_BUSY_NOW = select(_run.c.job, _run.c.error).where(
    _run.c.id.in_(select(_newest.c.id)), _run.c.outcome == "busy"
)
_BUSY_SINCE = (  # one group: not min() alone, which PostgreSQL may read along the index of started_at
    select(func.min(_run.c.started_at))
    .where(_run.c.job == bindparam("job"), _run.c.id > bindparam("ran"))
    .group_by(_run.c.job)
)


def _per_dataset() -> Select[Any]:
    """Per dataset_id of job_run: the id of its last failed or rejected ingest run (null without one)."""
    datasets = dataset_ids("datasets")
    dataset = datasets.c.dataset_id
    failed = _run.alias("failed_run")
    last_failed = (  # one group: not max() alone, which PostgreSQL may read backwards along the primary key
        select(func.max(failed.c.id))
        .where(
            failed.c.dataset_id == dataset,
            failed.c.outcome.in_(PROBLEM_OUTCOMES),
            failed.c.job.like("ingest:%"),
        )
        .group_by(failed.c.dataset_id)
        .scalar_subquery()
    )
    return (
        select(dataset.label("dataset_id"), last_failed.label("failed_id"))
        .where(dataset.is_not(None))
        .order_by(dataset)
    )


_PER_DATASET = _per_dataset()
# those runs' end and error, by id (not joined: PostgreSQL joined them by hashing all of job_run)
_RUNS_ENDED = select(_run.c.id, _run.c.finished_at, _run.c.error).where(
    _run.c.id.in_(bindparam("ids", expanding=True))
)
_HELD_BY = re.compile(r"busy, already running by (.+)$")


def _holder(error: str | None) -> str | None:
    """The lock's holder a busy run's error names (storage.locks.BusyError), or the error itself."""
    found = _HELD_BY.search(error or "")
    return found.group(1) if found else error


def _interrupted(
    job: str,
    outcome: str,
    started: datetime | None,
    finished: datetime | None,
    error: str | None,
    host: str | None,
    pid: int | None,
) -> tuple[str, str, datetime | None, datetime | None, str | None]:
    """A job's last run as status shows it: one still 'running' whose process, of this host, no longer
    exists (killed) is shown as the next writing command or scheduler start will close it (storage.orphans):
    failed, interrupted, not hung. Nothing is written."""
    if outcome == "running":
        from storage.orphans import INTERRUPTED_OUTCOME, interrupted_error, orphaned_run

        if orphaned_run(host, pid):
            return job, INTERRUPTED_OUTCOME, started, None, interrupted_error(pid, str(host))
    return job, outcome, started, finished, error


def when(moment: datetime | None) -> str:
    """A moment (naive ones are UTC, as stored) as Europe/Helsinki time, to the minute; – for none."""
    if moment is None:
        return "–"
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(HELSINKI)
    return f"{local:%Y-%m-%d %H:%M}"


def period_text(latest_period: str | None, tracks: str | None, lang: str) -> str:
    """A dataset's newest period as the command line prints it: as stored ("2024", "2026-W47"), or for a
    dataset tracked by its releases the day a release was seen ("release seen 6 Dec 2026"); – for none."""
    from report.i18n import format_date, t

    if not latest_period:
        return "–"
    if tracks == "releases":
        return t("freshness.release_seen", lang, date=format_date(date.fromisoformat(latest_period), lang))
    return latest_period


STATE_STYLE = {"fresh": "green", "late": "yellow", "failed": "red", "never": "yellow"}


def state_label(state: str, lang: str) -> str:
    """A dataset state (fresh, due, late, failed, never) in lang, as the reports name it."""
    from report.i18n import has, t

    key = f"freshness.status_{state}"
    return t(key, lang) if has(key) else state


def outcome_label(outcome: str | None, lang: str) -> str:
    """A job outcome (success, unchanged, running, busy, failed, rejected) in lang."""
    from report.i18n import has, t

    key = f"outcome.{outcome}"
    return t(key, lang) if outcome and has(key) else str(outcome)


# demo data, or none, in a database is worth a look (a production database given the demo by mistake)
KIND_STYLE = {"live": "green", "demo": "yellow", "empty": "yellow", "mixed": "yellow"}


def data_line(held: tuple[Held, ...], lang: str) -> str:
    """What kinds of data the database holds (held_data), in lang: empty, demo, live or both, each with its
    number of snapshots and when the first was fetched."""
    from report.i18n import format_number, t

    found: dict[str, object] = {}
    for h in held:
        kind = "demo" if h.demo else "live"
        found |= {f"{kind}_snapshots": format_number(h.snapshots, lang), f"{kind}_since": when(h.since)}
    return t(f"cli_status.data_{held_kind(held)}", lang, **found)


def schema_line(schema_state: SchemaState, lang: str) -> str:
    """The database's schema against this tracker's, in lang: current; behind (with the command that
    migrates it); newer (why, and what to do)."""
    from report.i18n import t

    return t(
        f"cli_status.schema_{schema_state.state}",
        lang,
        database=schema_state.database or "–",
        tracker=schema_state.tracker,
    )


def schema_error(schema_state: SchemaState, url: str) -> str:
    """The error line under a mismatched schema's line (schema_line: why, what to do): both versions."""
    if schema_state.state == "newer":
        return f"status unknown: {schema_state.versions(url)} (see above)"
    return f"status unknown: {schema_state.versions(url)}: run `kestava migrate`"


def render(report: StatusReport, console: Console, lang: str = "fi") -> None:
    """Print the report as tables fitted to the console's width and a verdict, in lang (fi, sv or en)."""
    from report.i18n import t

    def heading(key: str) -> str:
        return t(f"cli_status.{key}", lang)

    def column(key: str, *, whole: bool = False, free_text: bool = False) -> FittedColumn:
        return FittedColumn(heading(key), whole=whole, free_text=free_text)

    def left_out(columns: str) -> str:
        return t("cli_status.left_out", lang, columns=columns)

    # ids whole on their line (cron's 80 columns had cut "hsy_emiss" / "ions"); a time breaks only at its
    # space; an error message folds; columns with nothing in them are left out and named in the caption
    scheduled = report.scheduler_known
    not_scheduled = [f"{heading('next_run')}: {heading('not_scheduled')}"] if not scheduled else []
    dataset_columns = [
        column("dataset", whole=True),
        column("state"),
        column("latest_period"),
        column("last_success"),
        column("last_failure"),
        column("error", free_text=True),
        *([column("next_run")] if scheduled else []),
    ]
    dataset_rows = [
        [
            escape(d.dataset),
            f"[{STATE_STYLE.get(d.state, 'white')}]{escape(state_label(d.state, lang))}",
            escape(period_text(d.latest_period, d.tracks, lang)),
            when(d.last_success),
            when(d.last_failure),
            escape(d.last_error or ""),
            *([when(d.next_run)] if scheduled else []),
        ]
        for d in report.datasets
    ]
    title = t("cli_status.title_datasets", lang, date=report.today)
    console.print(
        fitted_table(console, title, dataset_columns, dataset_rows, left_out=left_out, notes=not_scheduled)
    )
    never_run, overdue, retired = heading("never_run"), heading("overdue"), heading("retired")
    job_columns = [
        column("job", whole=True),
        column("last_outcome"),
        column("started"),
        column("finished"),
        column("error", free_text=True),
        *([column("next_run")] if scheduled else []),
    ]
    job_rows = []
    for j in report.jobs:
        style = "white" if j.retired else "red" if not j.ok else "green" if j.last_outcome else "white"
        outcome = (
            (outcome_label(j.last_outcome, lang) if j.last_outcome else never_run)
            + (f" ({retired})" if j.retired else "")
            + (f"; {j.busy_note(lang)}" if j.busy_since is not None else "")
        )
        job_rows.append(
            [
                escape(j.job),
                f"[{style}]{escape(outcome)}",
                when(j.last_started),
                when(j.last_finished),
                escape(j.last_error or ""),
                *(
                    [when(j.next_run) + (f" [red]({escape(overdue)})" if j.overdue else "")]
                    if scheduled
                    else []
                ),
            ]
        )
    console.print(
        fitted_table(
            console, heading("title_jobs"), job_columns, job_rows, left_out=left_out, notes=not_scheduled
        )
    )
    # the indicators whose last compute failed, then those waiting for a first load of their data
    for title_key, columns, rows in (
        (
            "title_indicators",
            ("computed", "error"),
            [(i.indicator, i.computed_at, i.error) for i in report.indicators],
        ),
        (
            "title_waiting",
            ("waiting_since", "waiting_for"),
            [(w.indicator, w.since, w.why) for w in report.waiting],
        ),
    ):
        if not rows:
            continue
        indicator_columns = [
            column("indicator", whole=True),
            column(columns[0]),
            column(columns[1], free_text=True),
        ]
        indicator_rows = [[escape(indicator), when(moment), escape(text)] for indicator, moment, text in rows]
        console.print(
            fitted_table(console, heading(title_key), indicator_columns, indicator_rows, left_out=left_out)
        )
    if report.disks:
        from report.i18n import format_number

        disk_columns = [column("folder", whole=True), column("free_gb"), column("total_gb")]
        disk_rows = [
            [
                escape(str(disk.folder)),
                f"[{'red' if disk.low else 'green'}]{format_number(disk.free_bytes / BYTES_PER_GB, lang, 1)}",
                format_number(disk.total_bytes / BYTES_PER_GB, lang, 1),
            ]
            for disk in report.disks
        ]
        console.print(
            fitted_table(console, heading("title_disks"), disk_columns, disk_rows, left_out=left_out)
        )
    kind = report.data_kind
    console.print(data_line(report.held, lang), style=KIND_STYLE[kind], markup=False)
    if report.schema is not None:
        console.print(schema_line(report.schema, lang), markup=False)
    if report.ok:
        console.print(f"[green]{t('cli_status.ok', lang)}")
    else:
        console.print(f"[red]{t('cli_status.problems', lang, n=len(report.problems))}")
        for line in report.problem_lines(lang):
            console.print(f"  {line}", markup=False)


def _unreadable(error: Exception) -> bool:
    """Whether an error means the status cannot be read (the database unreachable, refusing, missing or of
    another schema, its URL unreadable), not a bug and not another file's."""
    return isinstance(error, KestavaError) or is_database_error(error)


def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the tables: fi (default), sv or en.")
    ] = "fi",
) -> None:
    """Health check for monitoring: exit 0 when all is well, 1 when anything is failing or stale.

    Exit 2 when the status cannot be read at all (e.g. the database is unreachable).
    """
    url = get_settings().resolved_database_url()
    schema_state: SchemaState | None = None
    try:
        engine, schema_state = open_any_schema(url)
        try:
            refused = schema_state.refusal(url)
            if refused is not None:  # behind or newer: nothing else is read (this code reads its own schema)
                raise refused
            report = status_report(
                engine, load_catalogue(), datetime.now(HELSINKI).date(), schema_state=schema_state
            )
        finally:
            engine.dispose()
    except Exception as error:
        if not _unreadable(error):
            if as_json:  # a monitor reading the JSON still gets it; the command line's one line on stderr
                found = f"status unknown: unexpected {type(error).__name__}: {first_line(error)}"
                sys.stdout.write(json.dumps({"ok": False, "error": found}) + "\n")
            raise  # a bug, or another file unreadable: the command line's handler says which (exit 3 or 2)
        message = (
            f"status unknown: {error}"  # its own message names the database and what to do
            if isinstance(error, KestavaError)
            else f"status unknown: cannot read {safe_url(url)}: {first_line(error)} "
            "(check KESTAVA_DATABASE_URL)"
        )
        mismatched = schema_state if schema_state is not None and schema_state.state != "current" else None
        if as_json:
            document: dict[str, Any] = {"ok": False, "error": message}
            if mismatched is not None:
                document["schema"] = mismatched.as_dict()
            sys.stdout.write(json.dumps(document) + "\n")
        else:
            if mismatched is not None:  # its state in lang, why and what to do; the error line short after it
                Console().print(schema_line(mismatched, lang), style="red", markup=False)
                message = schema_error(mismatched, url)
            Console(stderr=True).print(f"error: {message}", style="red", markup=False, soft_wrap=True)
        raise typer.Exit(code=EXIT_UNKNOWN) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) + "\n")
    else:
        render(report, Console(), lang)
    raise typer.Exit(code=EXIT_OK if report.ok else EXIT_PROBLEM)
