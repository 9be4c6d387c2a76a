"""The scheduler: DST-proof triggers, retries, locks, coalesced missed runs, and real scheduler processes."""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.cron import CronTrigger
from psycopg.errors import ReadOnlySqlTransaction
from pytest_httpserver import HTTPServer
from rich.console import Console
from sqlalchemy import Engine, create_engine, event, func, literal, select, text
from sqlalchemy.exc import IntegrityError, InternalError, InvalidRequestError
from werkzeug import Request, Response

import scheduler
import storage.engine
from common.config import get_settings
from indicators.engine import ComputeSummary
from ingest.catalogue import Catalogue, load_catalogue, parse_catalogue
from ingest.run import DatasetOutcome
from kestava.alerts import Alert, Alerter, AlertSettings, Problem
from kestava.status import JOBSTORE_TABLE
from scheduler import HELSINKI, Runners, Runtime
from storage import schema
from storage.engine import driver_rows, open_database, unpinged
from storage.jobs import finish_run, start_run
from storage.load import LoadResult
from storage.locks import BusyError, HeldLock, held_locks, job_lock
from storage.rawstore import RawStore
from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parent.parent


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fires(trigger: Any, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time of trigger from start (inclusive) to end, as APScheduler would compute them."""
    out: list[datetime] = []
    previous = None
    now = start
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or fire > end:
            return out
        out.append(fire.astimezone(UTC))
        previous = now = fire


# ------------------------------------------------------------------------------------ triggers and DST


def test_daily_job_fires_at_the_same_local_time_across_both_dst_changes() -> None:
    trigger = scheduler.cron("15 6 * * *")
    spring = fires(trigger, utc(2026, 3, 27, 12), utc(2026, 3, 30, 12))
    assert spring == [utc(2026, 3, 28, 4, 15), utc(2026, 3, 29, 3, 15), utc(2026, 3, 30, 3, 15)]
    autumn = fires(trigger, utc(2026, 10, 23, 12), utc(2026, 10, 26, 12))
    assert autumn == [utc(2026, 10, 24, 3, 15), utc(2026, 10, 25, 4, 15), utc(2026, 10, 26, 4, 15)]
    assert {f.astimezone(HELSINKI).strftime("%H:%M") for f in spring + autumn} == {"06:15"}


def test_a_time_in_the_skipped_spring_hour_fires_once() -> None:
    trigger = scheduler.cron("30 3 * * *")  # 03:00-04:00 does not exist on 29 March 2026
    day = fires(trigger, utc(2026, 3, 28, 22), utc(2026, 3, 29, 21, 59))  # the local day 29 March
    assert day == [utc(2026, 3, 29, 1, 30)]  # once, an hour later on the clock (04:30 EEST)
    assert fires(trigger, utc(2026, 3, 29, 22), utc(2026, 3, 30, 21)) == [utc(2026, 3, 30, 0, 30)]


def test_a_time_in_the_repeated_autumn_hour_fires_once() -> None:
    day = (utc(2026, 10, 24, 21), utc(2026, 10, 25, 21, 59))  # the local day 25 October (25 hours)
    plain = CronTrigger.from_crontab("30 3 * * *", timezone=HELSINKI)
    assert fires(plain, *day) == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)]  # APScheduler: twice
    trigger = scheduler.cron("30 3 * * *")
    assert fires(trigger, *day) == [utc(2026, 10, 25, 0, 30)]  # ours: once, the first 03:30 (EEST)
    assert fires(trigger, utc(2026, 10, 25, 1), utc(2026, 10, 26, 12)) == [utc(2026, 10, 26, 1, 30)]
    hourly = scheduler.cron("0 * * * *")
    assert len(fires(hourly, *day)) == 24  # the wall clock shows each hour once


def test_weekly_report_fires_monday_0700_helsinki_exactly() -> None:
    (weekly,) = [
        s for s in scheduler.catalogue_jobs(parse_catalogue(catalogue_dict())) if s.id == "report:weekly"
    ]
    spring = fires(weekly.trigger, utc(2026, 3, 20), utc(2026, 4, 1))
    assert spring == [utc(2026, 3, 23, 5, 0), utc(2026, 3, 30, 4, 0)]  # EET, then EEST
    autumn = fires(weekly.trigger, utc(2026, 10, 16), utc(2026, 10, 28))
    assert autumn == [utc(2026, 10, 19, 4, 0), utc(2026, 10, 26, 5, 0)]
    assert all(f.astimezone(HELSINKI).isoweekday() == 1 for f in spring + autumn)


def test_half_year_report_runs_in_january_and_july_for_the_previous_half() -> None:
    (half,) = [
        s for s in scheduler.catalogue_jobs(parse_catalogue(catalogue_dict())) if s.id == "report:half"
    ]
    assert fires(half.trigger, utc(2026, 6, 1), utc(2027, 6, 1)) == [
        utc(2026, 7, 2, 4, 30),
        utc(2027, 1, 2, 5, 30),
    ]
    assert scheduler.previous_half(date(2027, 1, 2)) == "2026-H2"
    assert scheduler.previous_half(date(2026, 7, 2)) == "2026-H1"


def test_the_half_year_job_writes_its_three_languages_in_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Written one language after another, the Finnish council report linked to no other language and the
    Swedish one not to the English (a report links to those that exist or are written in the same run):
    the job writes them in one run, as the weekly job does; one language alone is one report."""
    from report import weekly
    from schedule.runners import default_half_year_report

    runs: list[tuple[str, tuple[str, ...]]] = []

    def build_reports(
        engine: Any, period: weekly.ReportPeriod, langs: Sequence[str], **_: Any
    ) -> dict[str, Any]:
        runs.append((period.key, tuple(langs)))
        return {}

    def build_report(engine: Any, period: weekly.ReportPeriod, *, lang: str, **_: Any) -> Any:
        runs.append((period.key, (lang,)))
        return weekly.ReportResult(Path("report.html"), [], {})

    monkeypatch.setattr(weekly, "build_reports", build_reports)
    monkeypatch.setattr(weekly, "build_report", build_report)
    nothing: Any = None  # no database or lock: the two builders above stand in for the writing
    default_half_year_report(nothing, "2026-H2", "all", lock=nothing)
    assert runs == [("2026-H2", ("fi", "sv", "en"))]
    default_half_year_report(nothing, "2026-H2", "sv", lock=nothing)
    assert runs[1:] == [("2026-H2", ("sv",))]


def test_catalogue_cadences_use_standard_cron_weekdays() -> None:
    assert scheduler.crontab_day_of_week("1") == "mon"  # APScheduler 3 alone would read 1 as Tuesday
    assert scheduler.crontab_day_of_week("0") == scheduler.crontab_day_of_week("7") == "sun"
    assert scheduler.crontab_day_of_week("1-5") == "mon,tue,wed,thu,fri"
    assert scheduler.crontab_day_of_week("*/2") == "sun,tue,thu,sat"
    assert scheduler.crontab_day_of_week("5-7") == "sun,fri,sat"
    assert scheduler.crontab_day_of_week("0-7") == scheduler.crontab_day_of_week("*") == "*"
    with pytest.raises(ValueError, match="not both"):
        scheduler.cron("0 6 1 * 1")
    with pytest.raises(ValueError):
        scheduler.crontab_day_of_week("8")
    hsy = scheduler.cron("15 6 * * 1")  # hsy_emissions: Mondays
    assert fires(hsy, utc(2026, 3, 1), utc(2026, 3, 10)) == [utc(2026, 3, 2, 4, 15), utc(2026, 3, 9, 4, 15)]


def test_triggers_survive_the_job_store_pickle() -> None:
    trigger = scheduler.cron("30 3 * * *")
    again = pickle.loads(pickle.dumps(trigger))
    assert type(again) is scheduler.WallClockCronTrigger and repr(again) == repr(trigger)
    day = (utc(2026, 10, 24, 21), utc(2026, 10, 25, 21, 59))
    assert fires(again, *day) == fires(trigger, *day)


def test_the_loops_second_question_is_answered_without_computing_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # APScheduler's loop: Job._get_run_times(now), then get_next_fire_time(run_times[-1], now), with the
    # same two objects. The second answer is the first's; any other question is computed, and every answer
    # is the trigger's own (a fresh trigger, never asked before, over a year with both DST changes).
    computed: list[tuple[datetime | None, datetime]] = []
    plain = CronTrigger.get_next_fire_time

    def counted(self: CronTrigger, previous: datetime | None, now: datetime) -> datetime | None:
        computed.append((previous, now))
        return plain(self, previous, now)  # type: ignore[no-any-return]

    monkeypatch.setattr(CronTrigger, "get_next_fire_time", counted)
    for expression in ("30 3 * * *", "15 6 * * 1", "0 * * * *", "0 8 2 1,7 *"):
        trigger = scheduler.cron(expression)
        job = Job.__new__(Job)
        job.trigger = trigger
        job.next_run_time = trigger.get_next_fire_time(None, datetime(2026, 1, 1, tzinfo=HELSINKI))
        while job.next_run_time is not None and job.next_run_time < datetime(2027, 1, 1, tzinfo=HELSINKI):
            now = job.next_run_time + timedelta(seconds=(job.next_run_time.minute % 3) * 40)  # late too
            computed.clear()
            run_times = job._get_run_times(now)
            asked = len(computed)
            following = trigger.get_next_fire_time(run_times[-1], now)
            assert len(computed) == asked  # answered from the last call
            assert following == scheduler.cron(expression).get_next_fire_time(run_times[-1], now)
            assert trigger.get_next_fire_time(run_times[-1], now + timedelta(0)) == following
            assert len(computed) > asked  # an equal but other `now`: computed again
            job.next_run_time = following
    state = pickle.dumps(trigger)  # the last answer is not part of the stored trigger
    assert pickle.loads(state)._last is None and b"_last" not in state


def test_accelerated_jobs_keep_their_weekly_order() -> None:
    specs = scheduler.catalogue_jobs(parse_catalogue(catalogue_dict()))
    now = datetime(2026, 5, 5, 12, tzinfo=HELSINKI)
    fast = scheduler.accelerate(specs, 2.0, now)
    ordered = sorted(fast, key=lambda s: s.trigger.get_next_fire_time(None, now))
    assert [s.id for s in ordered] == [
        "ingest:a",
        "ingest:b",
        "ingest:c",
        "report:weekly",
        "health",
        "report:half",
    ]
    first, second = (s.trigger.get_next_fire_time(None, now) for s in ordered[:2])
    assert first is not None and second is not None and timedelta(0) < second - first < timedelta(seconds=2)


# ------------------------------------------------------------------------------ in-process job functions


def catalogue_dict(
    cadences: dict[str, str] | None = None, base: str = "https://example.test"
) -> dict[str, Any]:
    cadences = cadences or {"a": "0 5 * * *", "b": "0 6 * * *", "c": "0 7 * * *"}
    return {
        "sources": {"s": {"publisher": "S", "licence": "CC BY 4.0", "attribution": "S", "homepage": "h"}},
        "datasets": {
            name: {
                "title": name,
                "source": "s",
                "protocol": "ckan_xlsx",
                "url": f"{base}/{name}",
                "cadence": cadence,
                "calendar": {"frequency": "annual", "lag_days": 3650, "grace_days": 30},
            }
            for name, cadence in cadences.items()
        },
    }


@dataclass
class Work:
    """Stand-in job work: records calls, writes job_run like the real ingest, outcomes scripted."""

    outcomes: dict[str, list[str]] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    compute_errors: list[BaseException] = field(default_factory=list)
    failed_indicators: list[dict[str, str]] = field(default_factory=list)  # per compute: id → reason

    def ingest(self, runtime: Runtime, dataset_id: str, trigger: str) -> DatasetOutcome:
        self.calls.append(("ingest", dataset_id, trigger))
        planned = self.outcomes.get(dataset_id)
        outcome = planned.pop(0) if planned else "unchanged"
        if outcome == "raise":
            raise ConnectionError("database unreachable (password=hunter2-secret)")
        if outcome == "misuse":  # SQLAlchemy used wrongly: a bug, not the database's error
            raise InvalidRequestError("a statement built wrong")
        if outcome == "read_only":  # as psycopg answers a write on a read-only database, through SQLAlchemy
            raise InternalError(
                "WITH run AS (INSERT INTO job_run (job, started_at) VALUES (%(job)s, now())) SELECT 1",
                {"job": f"ingest:{dataset_id}"},
                ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"),
            )
        if outcome == "busy":
            return DatasetOutcome(dataset_id, "busy", 0.0, error="busy")
        added = 3 if outcome == "success" else 0
        error = None if outcome in ("success", "unchanged") else f"{dataset_id}: {outcome} on purpose"
        run_id = start_run(runtime.engine, f"ingest:{dataset_id}", dataset_id=dataset_id, trigger=trigger)
        finish_run(runtime.engine, run_id, outcome, error=error, rows_added=added)
        result = LoadResult(dataset_id, 1, False, added) if outcome == "success" else None
        return DatasetOutcome(dataset_id, outcome, 0.0, result=result, error=error)

    def compute(self, engine: Engine, datasets: Sequence[str], *, lock: HeldLock) -> ComputeSummary:
        assert not lock.lost  # the job's lock is passed on to its writer
        self.calls.append(("compute", tuple(datasets)))
        if self.compute_errors:
            raise self.compute_errors.pop(0)
        return ComputeSummary(errors=self.failed_indicators.pop(0) if self.failed_indicators else {})

    def weekly(self, engine: Engine, lang: str, *, lock: HeldLock) -> None:
        self.calls.append(("report:weekly", lang))

    def half(self, engine: Engine, half: str, lang: str, *, lock: HeldLock) -> None:
        self.calls.append(("report:half", half, lang))

    def site(self, engine: Engine, *, lock: HeldLock) -> None:
        self.calls.append(("site",))

    def runners(self) -> Runners:
        return Runners(self.ingest, self.compute, self.weekly, self.half, site=self.site)


class Collect:
    """An alert channel that keeps what it is sent."""

    name = "collect"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    scheduler.set_runtime(None)


def make_runtime(
    engine: Engine, db_url: str, tmp_path: Path, work: Work, catalogue: Catalogue | None = None
) -> tuple[Runtime, Collect]:
    channel = Collect()
    runtime = Runtime(
        engine=engine,
        database_url=db_url,
        raw_store=RawStore(tmp_path / "raw"),
        catalogue=catalogue or parse_catalogue(catalogue_dict()),
        alerter=Alerter(engine, AlertSettings(alert_failures=2), channels=[channel], secrets=[]),
        runners=work.runners(),
        retry_wait_s=0.01,
        busy_wait_s=0.0,
    )
    scheduler.set_runtime(runtime)
    return runtime, channel


def make_offline_runtime(engine: Engine, db_url: str, tmp_path: Path, work: Work) -> tuple[Runtime, Collect]:
    """make_runtime with the real catalogue and the real ingest, offline (compute and site are work's)."""
    runtime, channel = make_runtime(engine, db_url, tmp_path, work, catalogue=load_catalogue())
    runtime.runners = Runners(compute=work.compute, site=work.site)
    runtime.offline = True
    return runtime, channel


def runs(engine: Engine, job: str) -> list[tuple[str, str]]:
    run = schema.job_run
    with engine.connect() as conn:
        return [
            (r.outcome, r.trigger)
            for r in conn.execute(
                select(run.c.outcome, run.c.trigger).where(run.c.job == job).order_by(run.c.id)
            )
        ]


def test_failed_ingest_is_retried_with_backoff_and_alerted(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    work = Work(outcomes={"a": ["failed", "failed", "failed", "failed", "failed", "success"]})
    _runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    assert scheduler.run_ingest_job("a") == "failed"
    assert runs(engine, "ingest:a") == [("failed", "scheduler"), ("failed", "retry"), ("failed", "retry")]
    assert channel.alerts == []  # one failed run (of three attempts); the threshold is two runs
    assert scheduler.run_ingest_job("a") == "success"  # failed, failed, then success on the third attempt
    assert [c for c in work.calls if c[0] == "compute"] == [("compute", ("a",))]
    assert channel.alerts == []
    work.outcomes["a"] = ["failed"] * 6
    scheduler.run_ingest_job("a")
    scheduler.run_ingest_job("a")
    (alert,) = channel.alerts
    assert alert.key == "failing:ingest:a" and "failed 2 runs since " in alert.message
    work.outcomes["a"] = ["unchanged"]
    assert scheduler.run_ingest_job("a") == "unchanged"
    assert [a.state for a in channel.alerts] == ["problem", "resolved"]


def test_an_unchanged_offline_ingest_records_its_run_and_clears_a_problem_another_process_opened(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    work = Work()
    runtime, channel = make_offline_runtime(engine, db_url, tmp_path, work)
    assert scheduler.run_ingest_job("statfin_population") == "success"
    channel.alerts.clear()  # the snapshot's data are late by today's calendar: not what this test is about
    other = Alerter(engine, AlertSettings(), channels=[Collect()], secrets=[])  # another process
    other.problem(Problem("failing", "ingest:statfin_population", "failing elsewhere", job="ingest:x"))
    other.problem(
        Problem("rejected", "statfin_population", "rejected elsewhere", dataset="statfin_population")
    )
    assert scheduler.run_ingest_job("statfin_population") == "unchanged"
    assert runs(engine, "ingest:statfin_population") == [("success", "scheduler"), ("unchanged", "scheduler")]
    assert {(a.key, a.state) for a in channel.alerts} == {
        ("failing:ingest:statfin_population", "resolved"),
        ("rejected:statfin_population", "resolved"),
    }
    assert runtime.alerter.open_problems() == ["late:statfin_population"]  # not the ingest's to clear
    assert scheduler.run_ingest_job("statfin_population") == "unchanged"  # nothing open: no all-clear
    assert len(channel.alerts) == 2


def test_rejected_payload_is_not_retried_and_alerted_at_once(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    work = Work(outcomes={"b": ["rejected"]})
    _runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    assert scheduler.run_ingest_job("b") == "rejected"
    assert work.calls == [("ingest", "b", "scheduler")]
    (alert,) = channel.alerts
    assert alert.key == "rejected:b" and "b: rejected on purpose" in alert.message


def test_an_ingests_first_attempt_is_retried_as_the_retrying_would_have_made_it(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first attempt runs outside the retrying (an unchanged firing builds none); one that raised or
    failed is handed to it as its own first attempt: logged, waited on, retried as 'retry', and not retried
    once the scheduler stops."""
    work = Work(outcomes={"a": ["raise", "success"], "b": ["failed", "unchanged"], "c": ["unchanged"]})
    runtime, _channel = make_runtime(engine, db_url, tmp_path, work)
    with caplog.at_level(logging.WARNING, logger="scheduler"):
        assert scheduler.run_ingest_job("a") == "success"
        assert scheduler.run_ingest_job("b") == "unchanged"
        assert scheduler.run_ingest_job("c") == "unchanged"
    ingests = [c[1:] for c in work.calls if c[0] == "ingest"]
    assert ingests == [
        ("a", "scheduler"),
        ("a", "retry"),
        ("b", "scheduler"),
        ("b", "retry"),
        ("c", "scheduler"),
    ]
    retried = [r.getMessage() for r in caplog.records if "did not succeed" in r.getMessage()]
    assert retried == [
        # why, where the attempt raised; an attempt that returned "failed" has said why itself
        "ingest:a: attempt 1 of 3 did not succeed (ConnectionError: database unreachable "
        "(password=hunter2-secret)); retrying in 0.0 s",
        "ingest:b: attempt 1 of 3 did not succeed; retrying in 0.0 s",
    ]
    assert runs(engine, "ingest:b") == [("failed", "scheduler"), ("unchanged", "retry")]

    def failing_then_stopping(runtime: Runtime, dataset_id: str, trigger: str) -> DatasetOutcome:
        work.calls.append(("ingest", dataset_id, trigger))
        runtime.stop.set()
        return DatasetOutcome(dataset_id, "failed", 0.0, error="failed on purpose")

    runtime.runners = Runners(ingest=failing_then_stopping)
    assert scheduler.run_ingest_job("c") == "failed"  # not tried again: the scheduler is stopping
    assert [c for c in work.calls if c[0] == "ingest"][-1:] == [("ingest", "c", "scheduler")]
    assert len([c for c in work.calls if c[0] == "ingest"]) == 6


def test_a_crashing_job_is_logged_and_alerted_not_raised(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work = Work(outcomes={"c": ["raise", "raise", "raise"]})
    runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    runtime.alerter.secrets = ["hunter2-secret"]
    assert scheduler.run_ingest_job("c") == "failed"
    assert len(work.calls) == 3  # exceptions are retried as well
    (alert,) = channel.alerts
    assert alert.key == "failing:ingest:c" and "crashed: ConnectionError" in alert.message
    assert "hunter2-secret" not in alert.message
    assert "ingest:c: crashed" in caplog.text


def test_a_job_the_database_refuses_is_one_line_saying_so_not_a_crash_with_its_sql(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only database had filled the log with four SQL statements and their parameters, the retries
    had said "did not succeed" without why, and the alert had read "ingest:x crashed: InternalError …
    [SQL: …]"."""
    work = Work(outcomes={"c": ["read_only"] * 3})
    _runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    with caplog.at_level(logging.DEBUG, logger="scheduler"):
        assert scheduler.run_ingest_job("c") == "failed"
    reason = "ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction"
    (alert,) = channel.alerts
    assert alert.key == "failing:ingest:c"
    assert alert.message.startswith(f"ingest:c could not use the database: {reason}")
    assert "[SQL" not in alert.message and "INSERT INTO job_run" not in alert.message
    retried = [r.getMessage() for r in caplog.records if "did not succeed" in r.getMessage()]
    assert retried and all(f"did not succeed ({reason})" in line for line in retried)
    shown = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not any("[SQL" in r.getMessage() or r.exc_info for r in shown)
    assert f"ingest:c: could not use the database: {reason}" in caplog.text


def test_sqlalchemy_used_wrongly_is_a_crash_with_its_traceback_not_the_databases_error(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work = Work(outcomes={"c": ["misuse"] * 3})
    _runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    assert scheduler.run_ingest_job("c") == "failed"
    (alert,) = channel.alerts
    assert alert.message.startswith("ingest:c crashed: InvalidRequestError: a statement built wrong")
    crashed = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert crashed and crashed[-1].exc_info is not None  # the traceback, at ERROR


def test_compute_only_after_changes_and_catches_up_what_is_pending(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    work = Work(outcomes={"a": ["unchanged", "success"], "b": ["success"]})
    runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    scheduler.run_ingest_job("a")
    assert not [c for c in work.calls if c[0] == "compute"] and scheduler.pending_datasets(engine) == []
    runtime.chain_compute = False  # as in --once: changes pile up …
    scheduler.run_ingest_job("a")
    scheduler.run_ingest_job("b")
    assert scheduler.pending_datasets(engine) == ["a", "b"]
    assert scheduler.run_weekly_report_job("sv") == "success"  # … and the report computes them first
    # the site follows the report (once: not also after the compute the report runs first)
    assert work.calls[-3:] == [("compute", ("a", "b")), ("report:weekly", "sv"), ("site",)]
    assert scheduler.pending_datasets(engine) == []
    assert runs(engine, "compute") == [("success", "scheduler")]
    assert runs(engine, "report:weekly") == [("success", "scheduler")]
    assert runs(engine, "site") == [("success", "scheduler")]
    assert channel.alerts == []


def test_indicators_that_fail_are_alerted_and_all_clear_once_they_compute(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    reason = "indicator broken_sum (datasets hsy_emissions): derive: ComputeError: no column 'x'"
    work = Work(
        outcomes={"a": ["success", "success", "success"]},
        failed_indicators=[{"broken_sum": reason}, {"broken_sum": reason}, {}],
    )
    _runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    scheduler.run_ingest_job("a")
    (alert,) = channel.alerts
    assert alert.key == "indicators:compute" and alert.state == "problem"
    assert "1 indicator(s) could not be computed" in alert.message and reason in alert.message
    assert runs(engine, "compute") == [("success", "scheduler")]  # the others were computed and stored
    scheduler.run_ingest_job("a")
    assert len(channel.alerts) == 1  # the same problem is not alerted twice a day
    scheduler.run_ingest_job("a")
    assert [(a.key, a.state) for a in channel.alerts] == [
        ("indicators:compute", "problem"),
        ("indicators:compute", "resolved"),
    ]


def test_a_fresh_start_computing_before_every_first_ingest_alerts_nothing(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """A fresh start chains a compute after each first ingest: an indicator whose other input dataset is
    not loaded yet waits for it (no alert, no all-clear), and is computed once that dataset is loaded."""
    work = Work()
    runtime, channel = make_offline_runtime(engine, db_url, tmp_path, work)
    runtime.runners = Runners(site=work.site)  # the real ingest and the real compute
    assert scheduler.run_ingest_job("eurostat_urb_cenv") == "success"  # waste; the population is not loaded
    assert runs(engine, "compute") == [("success", "scheduler")]
    assert [a.key for a in channel.alerts if a.kind == "indicators"] == []
    state = schema.indicator_state
    with engine.connect() as conn:
        failed = conn.execute(select(state.c.indicator_id).where(state.c.error.is_not(None))).scalars().all()
    assert failed == []  # kestava status shows no failed indicator either
    assert scheduler.run_ingest_job("eurostat_urb_cpop1") == "success"
    assert [a.key for a in channel.alerts if a.kind == "indicators"] == []
    with engine.connect() as conn:
        computed = dict(conn.execute(select(state.c.indicator_id, state.c.error)).all())
    assert "peer_waste_per_resident_ua" in computed and computed["peer_waste_per_resident_ua"] is None


def test_compute_failures_retry_but_import_errors_do_not(engine: Engine, db_url: str, tmp_path: Path) -> None:
    work = Work(outcomes={"a": ["success", "success"]}, compute_errors=[RuntimeError("database hiccup")])
    runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    scheduler.run_ingest_job("a")
    assert runs(engine, "compute") == [("failed", "scheduler"), ("success", "retry")]
    work.compute_errors.append(ModuleNotFoundError("No module named 'indicators.engine'"))
    runtime.alerter.settings.alert_failures = 1
    scheduler.run_ingest_job("a")
    assert runs(engine, "compute")[2:] == [("failed", "scheduler")]  # not retried: it will not fix itself
    assert scheduler.pending_datasets(engine) == ["a"]  # left pending for the next compute
    (alert,) = channel.alerts
    assert alert.key == "failing:compute" and "ModuleNotFoundError" in alert.message


def test_a_compute_that_lost_its_lock_writes_nothing_and_is_not_retried(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    from tests.test_cli_locks import steal

    work = Work(outcomes={"a": ["success"]})
    runtime, _channel = make_runtime(engine, db_url, tmp_path, work)

    def losing(engine: Engine, datasets: Sequence[str], *, lock: HeldLock) -> None:
        work.calls.append(("compute", tuple(datasets)))
        steal(engine, "compute")  # the lock the scheduler took and passed on is lost meanwhile
        with engine.begin() as conn:
            lock.check(conn)  # as indicators.engine.compute does before its commit

    runtime.runners = Runners(ingest=work.ingest, compute=losing, site=work.site)
    scheduler.run_ingest_job("a")
    assert runs(engine, "compute") == [("failed", "scheduler")]  # not retried: it would write unlocked
    assert [call for call in work.calls if call[0] == "compute"] == [("compute", ("a",))]


def test_jobs_are_lock_guarded_also_against_a_manual_run(engine: Engine, db_url: str, tmp_path: Path) -> None:
    cat = parse_catalogue(catalogue_dict())
    work = Work()
    runtime, _channel = make_runtime(engine, db_url, tmp_path, work, cat)
    runtime.runners = Runners(
        compute=work.compute, weekly_report=work.weekly, half_year_report=work.half, site=work.site
    )
    with job_lock(engine, "ingest:a", holder="kestava ingest by hand"):
        assert scheduler.run_ingest_job("a") == "busy"  # the real ingest.run path
    assert runs(engine, "ingest:a") == [("busy", "scheduler")]  # recorded, and not retried
    with job_lock(engine, "report:weekly", holder="another scheduler"):
        assert scheduler.run_weekly_report_job() == "busy"
    with job_lock(engine, "report:half", holder="another scheduler"):
        assert scheduler.run_half_year_report_job() == "busy"
    assert runs(engine, "report:weekly") == [("busy", "scheduler")]
    assert work.calls == []
    (engine_row,) = runs(engine, "report:half")
    assert engine_row == ("busy", "scheduler")
    assert scheduler.run_half_year_report_job("en") == "success"
    half = scheduler.previous_half(datetime.now(HELSINKI).date())
    assert work.calls == [("report:half", half, "en"), ("site",)]


def test_a_stopping_scheduler_starts_no_new_job(engine: Engine, db_url: str, tmp_path: Path) -> None:
    work = Work()
    runtime, _ = make_runtime(engine, db_url, tmp_path, work)
    runtime.stop.set()
    assert scheduler.run_ingest_job("a") == "skipped"
    assert scheduler.run_weekly_report_job() == "skipped"
    assert scheduler.run_health_job() == "skipped"
    assert work.calls == []


def test_a_run_skipped_at_the_stop_stays_due(engine: Engine, db_url: str, tmp_path: Path) -> None:
    runtime, _ = make_runtime(engine, db_url, tmp_path, Work())
    specs = scheduler.catalogue_jobs(runtime.catalogue)
    later = datetime.now(HELSINKI) + timedelta(days=1)
    store = scheduler.JobStore(db_url)
    try:
        scheduler.sync_jobs(store, specs, datetime.now(HELSINKI), start_now=lambda _s: False)
    finally:
        store.close()
    runtime.stop.set()
    assert scheduler.run_ingest_job("b") == "skipped"  # submitted just before the stop, not started
    scheduler._keep_due(runtime, specs)
    times = store_times(db_url)
    due, untouched = times["ingest:b"], times["ingest:a"]
    assert due is not None and due <= datetime.now(HELSINKI)
    assert untouched is not None and datetime.now(HELSINKI) < untouched < later


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_runs_and_locks_of_dead_processes_are_reaped(engine: Engine) -> None:
    host = socket.gethostname()
    gone, alive = dead_pid(), os.getppid()
    with engine.begin() as conn:
        for job, pid in (("ingest:a", gone), ("ingest:b", alive), ("ingest:c", gone)):
            conn.execute(
                schema.job_run.insert().values(
                    job=job,
                    trigger="scheduler",
                    started_at=datetime(2026, 1, 1),
                    outcome="running",
                    host=host if job != "ingest:c" else "another-host",
                    pid=pid,
                )
            )
        for name, pid in (("ingest:a", gone), ("ingest:b", alive)):
            conn.execute(
                schema.job_lock.insert().values(
                    name=name,
                    holder=f"{host}:{pid}:1",
                    acquired_at=datetime(2026, 1, 1),
                    expires_at=datetime(2099, 1, 1),
                )
            )
    assert scheduler.reap_orphans(engine) == (1, 1)
    assert runs(engine, "ingest:a") == [("failed", "scheduler")]
    assert runs(engine, "ingest:b") == [("running", "scheduler")]  # its process lives
    assert runs(engine, "ingest:c") == [("running", "scheduler")]  # another host: cannot tell
    with engine.connect() as conn:
        error = conn.execute(
            select(schema.job_run.c.error).where(schema.job_run.c.job == "ingest:a")
        ).scalar()
        names = list(conn.execute(select(schema.job_lock.c.name)).scalars())
    assert error is not None and error.startswith(f"interrupted: process {gone}")
    assert names == ["ingest:b"]
    with job_lock(engine, "ingest:a"):
        pass
    if engine.dialect.name == "sqlite":  # PostgreSQL locks are advisory locks, not lease rows
        with pytest.raises(BusyError), job_lock(engine, "ingest:b"):
            pass


def store_times(db_url: str) -> dict[str, datetime | None]:
    store = scheduler.JobStore(db_url)
    try:
        return {job_id: job.next_run_time for job_id, job in store.jobs().items()}
    finally:
        store.close()


def test_sync_applies_catalogue_edits_and_keeps_pending_runs(db_url: str, engine: Engine) -> None:
    now = datetime(2026, 5, 5, 12, tzinfo=HELSINKI)
    specs = scheduler.catalogue_jobs(parse_catalogue(catalogue_dict()))
    store = scheduler.JobStore(db_url)
    try:
        assert set(
            scheduler.sync_jobs(store, specs, now, start_now=lambda s: s.id == "ingest:c").values()
        ) == {"added"}
        overdue = now - timedelta(days=3)
        (spec_a,) = [s for s in specs if s.id == "ingest:a"]
        store.put(spec_a, overdue)  # the machine was down for three days
        edited = scheduler.catalogue_jobs(
            parse_catalogue(catalogue_dict({"a": "0 5 * * *", "b": "0 9 * * *"}))
        )
        done = scheduler.sync_jobs(store, edited, now + timedelta(hours=1), start_now=lambda _s: False)
    finally:
        store.close()
    assert done["ingest:a"] == "kept" and done["ingest:b"] == "rescheduled" and done["ingest:c"] == "removed"
    times = store_times(db_url)
    assert times["ingest:a"] == overdue  # the pending run is not lost by replacing the job
    assert times["ingest:b"] == datetime(2026, 5, 6, 9, tzinfo=HELSINKI)
    assert "ingest:c" not in times and times["report:weekly"] == datetime(2026, 5, 11, 7, tzinfo=HELSINKI)


def test_the_job_store_restores_what_apschedulers_own_does(db_url: str, engine: Engine) -> None:
    now = datetime(2026, 5, 5, 12, tzinfo=HELSINKI)
    specs = scheduler.catalogue_jobs(parse_catalogue(catalogue_dict({"a": "0 5 * * *", "b": "0 5 * * *"})))
    store = scheduler.JobStore(db_url)
    upstream = SQLAlchemyJobStore(engine=create_engine(db_url), tablename=JOBSTORE_TABLE)
    upstream.start(store.holder, "upstream")

    def due(job_store: Any, at: datetime) -> list[tuple[Any, ...]]:
        jobs = job_store.get_due_jobs(at)
        return [(j.id, j.next_run_time, repr(j.trigger), j.func_ref, j.args, j.kwargs) for j in jobs]

    try:
        scheduler.sync_jobs(store, specs, now, start_now=lambda _s: False)
        at = datetime(2026, 5, 6, 5, tzinfo=HELSINKI)
        first = due(store.store, at)
        assert [job[0] for job in first] == ["ingest:a", "ingest:b"] and first == due(upstream, at)
        again = store.store.get_due_jobs(at)  # the same states: unpickled once, each job its own
        assert due(store.store, at) == first and again[0] is not store.store.get_due_jobs(at)[0]
        assert again[0].kwargs is not store.store.get_due_jobs(at)[0].kwargs
        (spec_a,) = [s for s in specs if s.id == "ingest:a"]
        store.put(spec_a, datetime(2026, 5, 7, 5, tzinfo=HELSINKI))  # a new state: read anew
        assert [job[0] for job in due(store.store, at)] == ["ingest:b"] and due(store.store, at) == due(
            upstream, at
        )
        with engine.begin() as conn:  # a state that cannot be restored is removed, as upstream does
            table = upstream.jobs_t
            conn.execute(table.update().where(table.c.id == "ingest:b").values(job_state=b"not a pickle"))
        assert due(store.store, at) == []
        assert "ingest:b" not in store.jobs()
    finally:
        store.close()
        upstream.shutdown()


def test_a_job_this_store_updated_is_restored_without_unpickling_as_upstream_restores_it(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = scheduler.catalogue_jobs(parse_catalogue(catalogue_dict({"a": "0 5 * * *", "b": "0 5 * * *"})))
    store = scheduler.JobStore(db_url)
    other = scheduler.JobStore(db_url)  # another process's store
    upstream = SQLAlchemyJobStore(engine=create_engine(db_url), tablename=JOBSTORE_TABLE)
    upstream.start(store.holder, "upstream")
    loads: list[bytes] = []
    unpickle = pickle.loads

    def counted(data: bytes) -> Any:
        loads.append(data)
        return unpickle(data)

    monkeypatch.setattr(pickle, "loads", counted)

    def due(job_store: Any, at: datetime) -> list[tuple[Any, ...]]:
        jobs = job_store.get_due_jobs(at)
        return [(j.id, j.next_run_time, repr(j.trigger), j.func_ref, j.args, j.kwargs) for j in jobs]

    try:
        now = datetime(2026, 5, 5, 12, tzinfo=HELSINKI)
        scheduler.sync_jobs(store, specs, now, start_now=lambda _s: False)
        spec_a, spec_b = [s for s in specs if s.id in ("ingest:a", "ingest:b")]
        at = datetime(2026, 5, 6, 5, tzinfo=HELSINKI)
        store.put(spec_a, at)
        store.put(spec_b, at)
        expected = due(upstream, at)
        loads.clear()
        assert due(store.store, at) == expected and loads == []  # the states this store wrote
        assert [job[0] for job in expected] == ["ingest:a", "ingest:b"]
        (job_a, _) = store.store.get_due_jobs(at)
        job_a.kwargs["x"] = 1  # a restored job's kwargs are its own
        assert due(store.store, at) == expected
        later = at + timedelta(minutes=1)
        other.put(spec_b, later)  # stored since by another process: unpickled
        expected = due(upstream, later)
        loads.clear()
        assert due(store.store, later) == expected and len(loads) == 1
    finally:
        store.close()
        other.close()
        upstream.shutdown()


def test_the_next_run_time_after_an_update_is_the_one_stored(db_url: str, engine: Engine) -> None:
    """The store's next run time right after a job's update comes with the update (no statement of its
    own) and is what APScheduler's own job store reads; after any other operation it is read again."""
    specs = scheduler.catalogue_jobs(parse_catalogue(catalogue_dict({"a": "0 5 * * *", "b": "0 9 * * *"})))
    spec_a, spec_b = [s for s in specs if s.id in ("ingest:a", "ingest:b")]
    store = scheduler.JobStore(db_url)
    upstream = SQLAlchemyJobStore(engine=create_engine(db_url), tablename=JOBSTORE_TABLE)
    upstream.start(store.holder, "upstream")
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def next_run(expected_statements: int) -> datetime | None:
        statements.clear()
        when = store.store.get_next_run_time()
        assert len(statements) == expected_statements and when == upstream.get_next_run_time()
        return when

    try:
        now = datetime(2026, 5, 5, 12, tzinfo=HELSINKI)
        scheduler.sync_jobs(store, specs, now, start_now=lambda _s: False)
        (job_a,) = store.store.get_due_jobs(datetime(2026, 5, 6, 5, tzinfo=HELSINKI))
        soon, later = datetime(2026, 5, 6, 4, tzinfo=HELSINKI), datetime(2026, 12, 1, tzinfo=HELSINKI)
        health = datetime(2026, 5, 6, 8, tzinfo=HELSINKI)  # the others' earliest
        for when, expected in [(soon, soon), (later, health), (None, health)]:  # earliest, later, paused
            job_a._modify(next_run_time=when)
            store.store.update_job(job_a)
            assert next_run(0) == expected  # with the update
            assert next_run(1) == expected  # asked again: read
        store.put(spec_b, None)  # every ingest paused; the health check and the reports still scheduled
        assert next_run(0) == upstream.get_next_run_time() is not None
        store.remove("ingest:a")  # after any other operation, read
        assert next_run(1) is not None
        store.put(spec_a, soon)  # an update that finds no job, then an insert: read
        assert next_run(1) == soon
        for job in store.store.get_all_jobs():
            job._modify(next_run_time=None)
            store.store.update_job(job)
        assert next_run(0) is None  # nothing scheduled
        with pytest.raises(JobLookupError):
            store.store.update_job(
                Job(
                    store.holder,
                    id="gone",
                    func=spec_a.func,
                    args=spec_a.args,
                    kwargs={},
                    trigger=spec_a.trigger,
                    executor="default",
                    name="gone",
                    misfire_grace_time=None,
                    coalesce=True,
                    max_instances=1,
                    next_run_time=soon,
                )
            )
        assert next_run(1) is None
    finally:
        store.close()
        upstream.shutdown()


def test_a_database_restart_between_firings_fails_no_firing(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """PostgreSQL: the tracker's engine pings on checkout; the job store's and the ingest reads' (unpinged),
    which do not, run a statement again on a new connection. Terminating every backend of the three
    between two firings is a restart."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a server restart is PostgreSQL's")
    work = Work()
    runtime, channel = make_offline_runtime(engine, db_url, tmp_path, work)
    (spec,) = [s for s in scheduler.catalogue_jobs(runtime.catalogue) if s.id == "ingest:statfin_population"]
    store = scheduler.JobStore(db_url)
    backends: list[int] = []
    for pool_of in (engine, unpinged(engine), store.engine):
        event.listen(
            pool_of, "checkout", lambda dbapi, _record, _proxy: backends.append(dbapi.info.backend_pid)
        )
    at = datetime(2026, 5, 6, 7, tzinfo=HELSINKI)

    def firing() -> str:
        assert [job.id for job in store.store.get_due_jobs(at)] == [spec.id]
        outcome = scheduler.run_ingest_job("statfin_population")
        store.put(spec, at)  # still due: the next firing finds it again
        return outcome

    try:
        store.put(spec, at)
        assert firing() == "success"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for pid in backends:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        assert len(set(backends)) >= 3  # the tracker's, the ingest reads' and the job store's at least
        assert firing() == "unchanged"
        assert store.store.get_next_run_time() == at  # with the update
        assert store.store._kept is not None
        kept = store.store._kept.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        with admin.connect() as conn:  # the job store's kept connection dropped again: its next read
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": kept})
        admin.dispose()
        assert [job.id for job in store.store.get_due_jobs(at)] == [spec.id]
        assert store.store.get_next_run_time() == at  # read (after the due jobs)
    finally:
        store.close()
    assert runs(engine, "ingest:statfin_population") == [("success", "scheduler"), ("unchanged", "scheduler")]
    assert [a.kind for a in channel.alerts if a.kind == "failing"] == []


def test_a_statement_on_the_driver_is_one_sqlalchemy_runs(db_url: str, engine: Engine) -> None:
    """storage.engine.driver_rows (the job store's due jobs and update, the unchanged run's record, on
    PostgreSQL): the rows SQLAlchemy's execute gives, with its parameters' conversions (the job state's
    bytes as the driver's Binary) and constants; the statement seen by statement listeners; a driver error
    raised as SQLAlchemy raises it (the connection usable after it; a dropped one invalidated: the
    restart test above); a statement it cannot write out once refused."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the job store runs its statements on the driver on PostgreSQL")
    specs = scheduler.catalogue_jobs(parse_catalogue(catalogue_dict({"a": "0 5 * * *", "b": "0 5 * * *"})))
    store = scheduler.JobStore(db_url)
    seen: list[str] = []
    try:
        scheduler.sync_jobs(
            store, specs, datetime(2026, 5, 5, 12, tzinfo=HELSINKI), start_now=lambda _s: False
        )
        jobs = store.store
        with store.engine.connect() as conn:
            due_at = datetime(2026, 5, 6, 5, tzinfo=HELSINKI).timestamp()
            expected = [tuple(row) for row in conn.execute(jobs._due, {"due_at": due_at})]
            assert [row[0] for row in expected] == ["ingest:a", "ingest:b"]
            event.listen(conn, "before_cursor_execute", lambda *args: seen.append(args[2]))
            assert driver_rows(conn, jobs._due, {"due_at": due_at}) == expected
            assert len(seen) == 1 and seen[0].startswith("SELECT apscheduler_jobs.id")
            state = b"\x80" + bytes(range(256))  # any bytes: stored and read back as they are
            update = {"job_id": "ingest:a", "new_next_run_time": 1.0, "new_job_state": state}
            assert driver_rows(conn, jobs._update, update) == [(due_at,)]  # the others' earliest
            assert driver_rows(conn, jobs._due, {"due_at": 1.0}) == [("ingest:a", state)]
            with pytest.raises(IntegrityError) as raised:  # job_state is NOT NULL
                driver_rows(conn, jobs._update, {**update, "new_job_state": None})
            assert not raised.value.connection_invalidated and not conn.invalidated
            assert driver_rows(conn, jobs._due, {"due_at": 1.0}) == [("ingest:a", state)]  # (a new cursor:
            driver, cursor = conn.connection.info[storage.engine._CURSOR]  # SQLAlchemy closed the failed one)
            assert driver is conn.connection.driver_connection and not cursor.closed
            assert driver_rows(conn, jobs._due, {"due_at": 1.0}) == [("ingest:a", state)]
            assert conn.connection.info[storage.engine._CURSOR][1] is cursor  # one cursor, kept and reused
            cursor.close()  # (closed by anyone): a new one
            assert driver_rows(conn, jobs._due, {"due_at": 1.0}) == [("ingest:a", state)]
            assert conn.connection.info[storage.engine._CURSOR][1] is not cursor
            assert driver_rows(conn, select(func.count()).select_from(jobs.jobs_t), {}) == [(len(specs),)]
            no_rows = jobs.jobs_t.update().where(jobs.jobs_t.c.id == "ingest:a").values(next_run_time=2.0)
            assert driver_rows(conn, no_rows, {}) == []  # a statement that returns none
            assert driver_rows(conn, select(jobs.jobs_t.c.id).where(literal(False)), {}) == []  # no row
            with pytest.raises(ValueError, match="expanding"):
                driver_rows(conn, jobs.jobs_t.delete().where(jobs.jobs_t.c.id.in_(["x"])), {})
            for n in range(100):  # statements made per call (not its use) are not all kept
                assert driver_rows(conn, select(literal(n)), {}) == [(n,)]
            assert len(storage.engine._WRITTEN[conn.dialect]) <= storage.engine._WRITTEN_MAX
    finally:
        store.close()


def test_the_job_stores_firing_statements_commit_each_and_begin_nothing_on_postgresql(
    db_url: str, engine: Engine
) -> None:
    """The due jobs' query and a job's update (every firing) on PostgreSQL: SQLAlchemy begins and commits
    nothing around them (the store's connection is in autocommit, each statement commits on its own);
    another connection sees the update at once, on both backends."""
    specs = scheduler.catalogue_jobs(parse_catalogue(catalogue_dict({"a": "0 5 * * *"})))
    store = scheduler.JobStore(db_url)
    begun: list[str] = []
    try:
        scheduler.sync_jobs(
            store, specs, datetime(2026, 5, 5, 12, tzinfo=HELSINKI), start_now=lambda _s: False
        )
        at = datetime(2026, 5, 6, 5, tzinfo=HELSINKI)
        event.listen(store.engine, "begin", lambda _conn: begun.append("begin"))
        event.listen(store.engine, "commit", lambda _conn: begun.append("commit"))
        (job,) = [job for job in store.store.get_due_jobs(at) if job.id == "ingest:a"]
        later = datetime(2026, 5, 7, 5, tzinfo=HELSINKI)
        job._modify(next_run_time=later)
        store.store.update_job(job)
        assert store_times(db_url)["ingest:a"] == later  # committed: another connection sees it
        assert begun == ([] if engine.dialect.name == "postgresql" else ["begin", "commit"] * 2)
    finally:
        store.close()


def test_the_job_stores_commits_do_not_wait_for_the_disk_but_the_run_records_do(
    db_url: str, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's synchronous_commit (SQLite's job store has synchronous=NORMAL)")
    jobstore = scheduler.jobstore_engine(db_url)
    try:
        with jobstore.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
            assert conn.execute(text("SELECT count(*) FROM alert_state")).scalar() == 0  # the schema
        with engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
    finally:
        jobstore.dispose()


def test_list_shows_every_job_and_its_next_run(db_url: str, engine: Engine, tmp_path: Path) -> None:
    runtime, _ = make_runtime(engine, db_url, tmp_path, Work())
    specs = scheduler.catalogue_jobs(runtime.catalogue)
    store = scheduler.JobStore(db_url)
    try:
        scheduler.sync_jobs(store, specs[:2], datetime.now(HELSINKI), start_now=lambda _s: False)
        (spec_a,) = [s for s in specs if s.id == "ingest:a"]
        store.put(spec_a, datetime(2026, 1, 5, 5, 0, tzinfo=HELSINKI))
    finally:
        store.close()
    out = io.StringIO()
    scheduler.list_jobs(runtime, specs, Console(file=out, width=200))
    text_ = out.getvalue()
    for spec in specs:
        assert spec.id in text_
    assert "2026-01-05 05:00 EET" in text_ and "overdue: runs on start" in text_
    assert "not in the job store yet" in text_  # ingest:c and the reports: shown with their next fire


def test_missed_runs_are_coalesced_into_one_on_restart(db_url: str, engine: Engine, tmp_path: Path) -> None:
    cat = parse_catalogue(catalogue_dict({"a": "0 3 * * *"}))
    specs = [s for s in scheduler.catalogue_jobs(cat) if s.kind == "ingest"]
    store = scheduler.JobStore(db_url)
    try:  # a job store as a scheduler left it, then three days of downtime
        scheduler.sync_jobs(store, specs, datetime.now(HELSINKI), start_now=lambda _s: False)
        store.put(specs[0], datetime.now(HELSINKI) - timedelta(days=3, hours=1))
    finally:
        store.close()
    work = Work(outcomes={"a": ["success"]})
    runtime, _ = make_runtime(engine, db_url, tmp_path, work, cat)
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.serve, args=(runtime, specs), kwargs={"install_signals": False, "stop": stop}
    )
    thread.start()
    try:
        wait_for(lambda: len(work.calls) >= 2, 15)  # the ingest and its compute
        time.sleep(1.0)  # would a second (or third) missed run follow?
    finally:
        stop.set()
        thread.join(30)
    assert [c[:2] for c in work.calls] == [("ingest", "a"), ("compute", ("a",)), ("site",)]
    next_run = store_times(db_url)["ingest:a"]
    assert next_run is not None and next_run > datetime.now(HELSINKI)
    assert next_run.astimezone(HELSINKI).strftime("%H:%M") == "03:00"


# --------------------------------------------------------------------------------- scheduler processes


def wait_for(condition: Callable[[], bool], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


HOOKS = textwrap.dedent(
    '''
    """Scheduler test hooks: job work that appends to a file (HOOK_LOG) and records job_run."""

    import os
    import time
    from datetime import timedelta
    from pathlib import Path

    from sqlalchemy import text

    from ingest.run import DatasetOutcome
    from storage.jobs import finish_run, start_run
    from storage.load import LoadResult
    from storage.locks import BusyError, held_locks, job_lock

    LOG = Path(os.environ["HOOK_LOG"])
    FAIL = set(filter(None, os.environ.get("HOOK_FAIL", "").split(",")))
    SLEEP = dict(item.split("=") for item in filter(None, os.environ.get("HOOK_SLEEP", "").split(",")))
    LEASE = timedelta(seconds=float(os.environ.get("HOOK_LEASE", "600")))
    # jobs that take SQLite's write lock only once the job store has written their next run time (APScheduler
    # writes it after handing the run to its pool: a run that took the lock first held that write off)
    AFTER_STORE = set(filter(None, os.environ.get("HOOK_AFTER_STORE", "").split(",")))


    def store_moved_on(runtime, job):
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from schedule.jobstore import JobStore

        store = JobStore(runtime.database_url)
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                moved = store.jobs()[job].next_run_time
                if moved is not None and moved > datetime.now(ZoneInfo("Europe/Helsinki")):
                    return
                time.sleep(0.05)
        finally:
            store.close()


    def note(line):
        with LOG.open("a") as out:
            out.write(line + "\\n")


    def ingest(runtime, dataset_id, trigger):
        engine, job = runtime.engine, f"ingest:{dataset_id}"
        try:
            lock = job_lock(engine, job, lease=LEASE)
            lock.__enter__()
        except BusyError as busy:
            run = start_run(engine, job, dataset_id=dataset_id, trigger=trigger)
            finish_run(engine, run, "busy", error=str(busy))
            return DatasetOutcome(dataset_id, "busy", 0.0, error=str(busy))
        try:
            note(f"start {job} {trigger}")
            run = start_run(engine, job, dataset_id=dataset_id, trigger=trigger)
            if dataset_id in FAIL:
                finish_run(engine, run, "failed", error="HTTP 503 Service Unavailable")
                return DatasetOutcome(dataset_id, "failed", 0.0, error="HTTP 503 Service Unavailable")
            if dataset_id in AFTER_STORE:
                store_moved_on(runtime, job)
            with engine.begin() as conn:  # one transaction: all five rows or none
                query = text("SELECT count(*) FROM hook_rows WHERE dataset = :d")
                have = conn.execute(query, {"d": dataset_id})
                added = 0
                if not have.scalar():
                    rows = [{"d": dataset_id, "n": n} for n in range(1, 6)]
                    conn.execute(text("INSERT INTO hook_rows (dataset, n) VALUES (:d, :n)"), rows)
                    added = 5
                note(f"in-transaction {job}")
                time.sleep(float(SLEEP.get(dataset_id, 0)))
            outcome = "success" if added else "unchanged"
            finish_run(engine, run, outcome, rows_added=added)
            note(f"end {job} {outcome}")
            result = LoadResult(dataset_id, 0, not added, added)
            return DatasetOutcome(dataset_id, outcome, 0.0, result=result)
        finally:
            lock.__exit__(None, None, None)


    def compute(engine, datasets):
        note("compute " + ",".join(datasets))


    def weekly_report(engine, lang):
        note(f"report:weekly {lang}")


    def half_year_report(engine, half, lang):
        note(f"report:half {half} {lang}")


    def site(engine):
        note("site")
    '''
)

CATALOGUE_TOML = """
[sources.s]
publisher = "S"
licence = "CC BY 4.0"
attribution = "S"
homepage = "https://example.test"
"""


def dataset_toml(name: str, cadence: str, protocol: str = "ckan_xlsx", url: str = "", extra: str = "") -> str:
    return textwrap.dedent(
        f"""
        [datasets.{name}]
        title = "{name}"
        source = "s"
        protocol = "{protocol}"
        url = "{url or "https://example.test/" + name}"
        cadence = "{cadence}"
        calendar = {{ frequency = "annual", lag_days = 3650, grace_days = 30 }}
        {extra}
        """
    )


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text().splitlines() if self.log_path.exists() else []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"message": line})
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        self.popen.send_signal(sig)
        return self.popen.wait(timeout)


@dataclass
class Rig:
    """A temporary tracker for scheduler processes: database, catalogue, hooks, environment."""

    tmp: Path
    db_url: str
    catalogue: Path
    env: dict[str, str]
    processes: list[Process] = field(default_factory=list)

    @property
    def hook_log(self) -> list[str]:
        path = Path(self.env["HOOK_LOG"])
        return path.read_text().splitlines() if path.exists() else []

    def start(self, *args: str, **env: str) -> Process:
        log_path = self.tmp / f"scheduler-{len(self.processes)}.log"
        with log_path.open("wb") as stderr:
            popen = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "scheduler.py"),
                    "--database-url",
                    self.db_url,
                    "--catalogue",
                    str(self.catalogue),
                    "--log-json",
                    *args,
                ],
                cwd=self.tmp,
                env={**self.env, **env},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        process = Process(popen, log_path)
        self.processes.append(process)
        return process


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(db_url: str, datasets: str, **env: str) -> Rig:
        (tmp_path / "sched_hooks.py").write_text(HOOKS)
        (tmp_path / "sched_hooks_no_ingest.py").write_text(
            '"""Stand-in compute and reports only."""\n'
            "from sched_hooks import compute, half_year_report, site, weekly_report\n"
        )
        catalogue = tmp_path / "catalogue.toml"
        catalogue.write_text(CATALOGUE_TOML + datasets)
        engine = open_database(db_url)
        with engine.begin() as conn:
            conn.execute(
                text("CREATE TABLE hook_rows (dataset VARCHAR(64), n INTEGER, PRIMARY KEY (dataset, n))")
            )
        engine.dispose()
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("KESTAVA_", "FINGRID_")) and k not in ("PYTHONPATH", "HOOK_LOG")
        }
        made.append(
            Rig(
                tmp_path,
                db_url,
                catalogue,
                {
                    **base,
                    "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
                    "KESTAVA_DATA_DIR": str(tmp_path / "data"),
                    "KESTAVA_SCHEDULER_RETRY_WAIT": "0.05",
                    "HOOK_LOG": str(tmp_path / "hooks.log"),
                    **env,
                },
            )
        )
        return made[-1]

    yield make
    for rig_ in made:
        for process in rig_.processes:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait()


def job_runs(db_url: str) -> list[Any]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(schema.job_run).order_by(schema.job_run.c.id)).all())
    finally:
        engine.dispose()


def hook_rows(db_url: str) -> list[tuple[str, int]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [
                tuple(r) for r in conn.execute(text("SELECT dataset, n FROM hook_rows ORDER BY dataset, n"))
            ]
    finally:
        engine.dispose()


SECRET = "fg-test-key-7f3a9c2d"


@pytest.mark.slow
def test_scheduler_process_runs_in_order_retries_alerts_and_stops_cleanly(
    tmp_path: Path, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    db_url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    setup = rig(
        db_url,
        dataset_toml("a", "0 5 * * *") + dataset_toml("b", "0 6 * * *") + dataset_toml("c", "0 7 * * *"),
        KESTAVA_SCHEDULER_ACCELERATE="2",
        KESTAVA_SCHEDULER_HOOKS="sched_hooks",
        KESTAVA_ALERT_WEBHOOK_URL=httpserver.url_for("/hook"),
        KESTAVA_ALERT_FAILURES="2",
        FINGRID_API_KEY=SECRET,
        HOOK_FAIL="b",
        HOOK_SLEEP="c=1",
    )
    process = setup.start("--grace", "20")

    def alerted() -> bool:
        return any(json.loads(r.get_data())["key"] == "failing:ingest:b" for r, _ in httpserver.log)

    def c_running() -> bool:
        log = setup.hook_log
        return log.count("in-transaction ingest:c") > sum(line.startswith("end ingest:c") for line in log)

    wait_for(alerted, 30, "the failing-job alert")
    wait_for(c_running, 10, "ingest:c to be mid-transaction")
    assert process.stop(signal.SIGTERM) == 0  # ingest:c is mid-transaction: it is let finish

    log = setup.hook_log
    assert log.count("in-transaction ingest:c") == sum(line.startswith("end ingest:c") for line in log)
    starts = [line.split()[1] if line.startswith("start") else line.split()[0] for line in log]
    jobs = [job for job in starts if job.startswith("ingest:")]
    assert list(dict.fromkeys(jobs)) == ["ingest:a", "ingest:b", "ingest:c"], log  # staggered in cron order
    assert log.index("report:weekly all") > log.index("start ingest:c scheduler")  # all languages by default
    assert any(line.startswith("report:half ") for line in log)
    assert jobs.count("ingest:a") >= 2 and jobs.count("ingest:c") >= 2  # b failing stops nothing
    assert log.index("compute a") > log.index("end ingest:a success")  # compute follows the change
    b_attempts = [line for line in log if line.startswith("start ingest:b")]
    assert b_attempts[:3] == ["start ingest:b scheduler", "start ingest:b retry", "start ingest:b retry"]

    alert = next(json.loads(r.get_data()) for r, _ in httpserver.log if b"failing:ingest:b" in r.get_data())
    assert alert["state"] == "problem" and "HTTP 503" in alert["message"]
    runs_ = job_runs(db_url)
    assert [r for r in runs_ if r.outcome == "running"] == []
    assert {r.trigger for r in runs_ if r.job == "ingest:b"} == {"scheduler", "retry"}
    assert [r.job for r in runs_ if r.job == "health"] and hook_rows(db_url) == [
        ("a", n) for n in range(1, 6)
    ] + [("c", n) for n in range(1, 6)]
    entries = process.log()
    stopped = [e for e in entries if e.get("message") == "scheduler stopped"]
    assert stopped and stopped[0]["outcome"] == "stopped"
    finished = [e for e in entries if e.get("job") == "ingest:a" and e.get("outcome") == "success"]
    logged = {
        "dataset",
        "duration_s",
        "rows_added",
        "rows_revised",
        "rows_confirmed",
        "rows_reflagged",
        "trigger",
    }
    assert finished and logged <= set(finished[0])
    assert SECRET not in process.log_path.read_text()


@pytest.mark.slow
def test_sigterm_past_the_grace_period_rolls_the_running_job_back(
    tmp_path: Path, rig: Callable[..., Rig]
) -> None:
    db_url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    setup = rig(
        db_url, dataset_toml("slow", "0 5 * * *"), KESTAVA_SCHEDULER_ACCELERATE="1", HOOK_SLEEP="slow=60"
    )
    process = setup.start("--grace", "1", KESTAVA_SCHEDULER_HOOKS="sched_hooks")
    wait_for(lambda: "in-transaction ingest:slow" in setup.hook_log, 20, "the slow job")
    started = time.monotonic()
    assert process.stop(signal.SIGTERM) == scheduler.EXIT_FORCED
    assert time.monotonic() - started < 10
    messages = [e.get("message", "") for e in process.log()]
    assert any("grace period over: abandoning ingest:slow" in m for m in messages)
    assert hook_rows(db_url) == []  # nothing half-written
    engine = open_database(db_url)
    try:
        scheduler.reap_orphans(engine)  # what the next start does
    finally:
        engine.dispose()
    assert [r.outcome for r in job_runs(db_url) if r.job == "ingest:slow"] == ["failed"]


@pytest.mark.slow
def test_sigkill_mid_ingest_then_restart(db_url: str, rig: Callable[..., Rig]) -> None:
    lease = 1.0
    setup = rig(
        db_url,
        dataset_toml("k", "0 5 * * *"),
        KESTAVA_SCHEDULER_ACCELERATE="1",
        KESTAVA_SCHEDULER_HOOKS="sched_hooks",
        HOOK_LEASE=str(lease),
    )
    first = setup.start(HOOK_SLEEP="k=60")
    wait_for(lambda: "in-transaction ingest:k" in setup.hook_log, 20, "the ingest to be mid-transaction")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL

    assert hook_rows(db_url) == []  # the open transaction rolled back: nothing half-written
    assert [r.outcome for r in job_runs(db_url) if r.job == "ingest:k"] == ["running"]
    engine = open_database(db_url)
    try:
        # free at once: PostgreSQL released the advisory lock when the connection died; on SQLite the
        # lease names a process on this machine that no longer runs, so the next holder takes it over
        with job_lock(engine, "ingest:k", lease=timedelta(seconds=lease)):
            pass
    finally:
        engine.dispose()

    second = setup.start()
    wait_for(lambda: "end ingest:k success" in setup.hook_log, 20, "the ingest to run again")
    assert second.stop(signal.SIGINT) == 0  # Ctrl-C stops it as cleanly as SIGTERM
    assert any(e.get("message", "").startswith("SIGINT received") for e in second.log())
    assert hook_rows(db_url) == [("k", n) for n in range(1, 6)]  # all rows, once
    outcomes = [(r.outcome, r.error) for r in job_runs(db_url) if r.job == "ingest:k"]
    assert outcomes[0][0] == "failed" and "interrupted" in (outcomes[0][1] or "")
    assert ("success", None) in outcomes and all(o != "running" for o, _ in outcomes)


SYKE_CSV = "kt;kt_tuuli;GWh;hinku_laskenta;päästökauppa;vuosi;taso_3;taso_4;taso_5\n" + "".join(
    f"{10 + i},5;{10 + i},0;{50 + i},0;On;Ei;{2015 + i};Kul;;\n" for i in range(5)
)


@pytest.fixture
def upstream() -> Iterator[HTTPServer]:
    """A threaded local upstream: a Syke file, a Fingrid API that refuses (echoing the key) and a webhook."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)

    def fingrid(request: Request) -> Response:
        echoed = request.headers.get("x-api-key", "")
        return Response(
            f'{{"message": "invalid api key {echoed}"}}', status=403, content_type="application/json"
        )

    server.expect_request("/syke/kunta_49.csv").respond_with_data(
        SYKE_CSV.encode(), content_type="text/csv; charset=utf-8"
    )
    server.expect_request("/fingrid/265/data").respond_with_handler(fingrid)
    server.expect_request("/hook", method="POST").respond_with_data("ok")
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A private schema on the test PostgreSQL server (as the db_url fixture's PostgreSQL case)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


@pytest.mark.slow
def test_two_processes_race_for_a_dataset_with_the_real_ingest(
    pg_url: str, upstream: HTTPServer, rig: Callable[..., Rig]
) -> None:
    """Process A is held (by a table lock) in the middle of its load, i.e. holding ingest:syke_race; a
    second process B then runs the same job: the real ingest path must find the lock and report busy."""
    db_url = pg_url
    base = upstream.url_for("").rstrip("/")
    datasets = dataset_toml(
        "syke_race",
        "0 3 * * *",
        "syke_csv",
        f"{base}/syke/kunta_{{municipality}}.csv",
        'options = { municipalities = ["049"] }',
    ) + dataset_toml(
        "fingrid_secret",
        "30 5 * * *",
        "fingrid",
        f"{base}/fingrid/{{dataset}}/data",
        'options = { dataset = 265, days = 2, page_size = 100 }\nsecret_env = "FINGRID_API_KEY"',
    )
    setup = rig(
        db_url,
        datasets,
        KESTAVA_SCHEDULER_HOOKS="sched_hooks_no_ingest",  # stand-in compute and reports, the real ingest
        KESTAVA_ALERT_WEBHOOK_URL=f"{base}/hook",
        KESTAVA_ALERT_FAILURES="1",
        FINGRID_API_KEY=SECRET,
    )
    scheduler.JobStore(db_url).close()  # the job store table exists, as after any earlier start
    gate = create_engine(db_url)
    with gate.connect() as conn:
        conn.execute(text("LOCK TABLE snapshot IN EXCLUSIVE MODE"))  # loads wait; reads go on
        one = setup.start("--once")
        wait_for(lambda: bool(held_locks(conn, ["ingest:syke_race"])), 30, "process A to hold the lock")
        two = setup.start("--once")
        assert two.popen.wait(60) in (0, 1)  # B ran every due job while A held the dataset
        conn.rollback()  # A's load goes on
    gate.dispose()
    codes = {one.popen.wait(60), two.popen.returncode}
    assert 1 in codes  # fingrid failed (in at least one of them)

    runs_ = job_runs(db_url)
    syke = sorted(r.outcome for r in runs_ if r.job == "ingest:syke_race")
    assert syke == ["busy", "success"]  # exactly one ingested, the other reported busy
    engine = open_database(db_url)
    try:
        with engine.connect() as conn:
            observations = conn.execute(select(func.count()).select_from(schema.observation)).scalar()
            snapshots = conn.execute(select(func.count()).select_from(schema.snapshot)).scalar()
    finally:
        engine.dispose()
    assert (observations, snapshots) == (15, 1)  # 5 years x 3 measures, loaded once
    assert "compute syke_race" in setup.hook_log

    fingrid = [r for r in runs_ if r.job == "ingest:fingrid_secret"]
    assert {r.outcome for r in fingrid} <= {"failed", "busy"} and any(r.outcome == "failed" for r in fingrid)
    assert all(SECRET not in (r.error or "") for r in fingrid)
    assert any("403" in (r.error or "") for r in fingrid)
    alerts = [json.loads(r.get_data()) for r, _ in upstream.log if r.path == "/hook"]
    assert any(a["key"] == "failing:ingest:fingrid_secret" for a in alerts)
    assert all(SECRET not in json.dumps(a) for a in alerts)
    for process in (one, two):
        assert SECRET not in process.log_path.read_text()
    assert [r for r in runs_ if r.outcome == "running"] == []


def test_a_site_build_that_fails_is_recorded_and_alerted(engine: Engine, db_url: str, tmp_path: Path) -> None:
    from schedule.site_job import run_site

    work = Work(outcomes={"a": ["success"]})
    runtime, channel = make_runtime(engine, db_url, tmp_path, work)

    def broken(engine: Engine, *, lock: HeldLock) -> None:
        raise OSError("No space left on device")

    runtime.runners = Runners(compute=work.compute, site=broken)
    runtime.alerter.settings.alert_failures = 1
    assert run_site(runtime) == "failed"
    assert runs(engine, "site")[0] == ("failed", "scheduler")  # then retried, as every job
    assert {outcome for outcome, _ in runs(engine, "site")} == {"failed"}
    (alert,) = channel.alerts
    assert alert.key == "failing:site" and "No space left on device" in alert.message


def test_the_health_check_records_its_run_in_one_write_when_it_ends(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    work = Work()
    make_runtime(engine, db_url, tmp_path, work)
    writes: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "INSERT INTO job_run" in statement or statement.lstrip().startswith("UPDATE job_run"):
            writes.append("INSERT" if "INSERT INTO job_run" in statement else "UPDATE")

    engines = {engine, unpinged(engine)}  # (the record's connection is not pinged first: one on SQLite)
    for one in engines:
        event.listen(one, "before_cursor_execute", note)
    try:
        before = datetime.now(UTC).replace(tzinfo=None)
        assert scheduler.run_health_job() == "success"
    finally:
        for one in engines:
            event.remove(one, "before_cursor_execute", note)
    assert writes == ["INSERT"]
    run = schema.job_run
    with engine.connect() as conn:
        (row,) = conn.execute(select(run).where(run.c.job == "health")).all()
    assert row.outcome == "success" and row.trigger == "scheduler"
    assert before <= row.started_at <= row.finished_at


# the schema version, freshness, alerted today, the record, the open problems (close_retired), pending
# compute
@pytest.mark.parametrize("dropped", [0, 1, 2, 3, 4, 5])
def test_the_health_checks_unpinged_reads_run_once_more_when_the_server_dropped_their_connection(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, dropped: int
) -> None:
    """PostgreSQL: the health check's reads and its record take connections without a ping; the one the
    server dropped (terminated as a restart does, just before its use) costs one retry, not the check, its
    record or its alerts."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a server restart is PostgreSQL's")
    work = Work()
    _runtime, channel = make_offline_runtime(engine, db_url, tmp_path, work)
    assert scheduler.run_ingest_job("statfin_population") == "success"
    assert scheduler.run_health_job() == "success"
    late = [a.key for a in channel.alerts if a.key.startswith("late:")]
    assert late  # the snapshot's data are late by today's calendar: the check reads what it alerted today
    checkouts: list[int] = []

    def drop(dbapi: Any, _record: Any, _proxy: Any) -> None:
        checkouts.append(dbapi.info.backend_pid)
        if len(checkouts) == dropped + 1:
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dbapi.info.backend_pid})
            admin.dispose()
            time.sleep(0.2)  # the backend is gone before its connection is used

    event.listen(unpinged(engine), "checkout", drop)
    try:
        with caplog.at_level(logging.INFO):
            assert scheduler.run_health_job() == "success"
    finally:
        event.remove(unpinged(engine), "checkout", drop)
    assert len(checkouts) == 7  # five reads and the record, one of them twice
    assert "once more on a new one" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [a.key for a in channel.alerts if a.key.startswith("late:")] == late  # not alerted twice a day
    assert runs(engine, "health") == [("success", "scheduler"), ("success", "scheduler")]


def test_the_health_check_gives_the_all_clear_of_problems_of_jobs_no_longer_in_the_catalogue(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    runtime, channel = make_runtime(engine, db_url, tmp_path, Work())
    other = Alerter(engine, AlertSettings(), channels=[Collect()], secrets=[])  # when CDP was enabled
    other.problem(Problem("failing", "ingest:cdp_city_emissions", "failed twice", job="ingest:cdp"))
    other.problem(Problem("rejected", "cdp_city_emissions", "rejected", dataset="cdp_city_emissions"))
    other.problem(Problem("failing", "ingest:a", "failing", job="ingest:a"))  # a still is in the catalogue
    assert scheduler.run_health_job() == "success"
    assert sorted((a.key, a.state) for a in channel.alerts) == [
        ("failing:ingest:cdp_city_emissions", "resolved"),
        ("rejected:cdp_city_emissions", "resolved"),
    ]
    assert "no longer in the catalogue" in channel.alerts[0].message
    assert runtime.alerter.open_problems() == ["failing:ingest:a"]


def test_the_health_check_alerts_a_disk_short_of_space_once_a_day_and_gives_the_all_clear_when_freed(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, channel = make_runtime(engine, db_url, tmp_path, Work())
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KESTAVA_MIN_FREE_DISK_GB", "1e9")  # no disk has a billion GB free
    get_settings.cache_clear()
    try:
        assert scheduler.run_health_job() == "success"
        assert scheduler.run_health_job() == "success"  # the same day: not alerted again
        disk = [a for a in channel.alerts if a.kind == "disk"]
        assert [(a.key, a.state) for a in disk] == [(f"disk:{tmp_path / 'data'}", "problem")]
        assert "GB free, below the minimum of" in disk[0].message
        assert "[Kestävä] DISK:" in disk[0].title
        assert runtime.alerter.open_problems() == [f"disk:{tmp_path / 'data'}"]

        monkeypatch.setenv("KESTAVA_MIN_FREE_DISK_GB", "0")  # space freed (the check off counts as freed)
        get_settings.cache_clear()
        assert scheduler.run_health_job() == "success"
        resolved = [a for a in channel.alerts if a.kind == "disk" and a.state == "resolved"]
        assert [a.key for a in resolved] == [f"disk:{tmp_path / 'data'}"]
        assert resolved[0].message == "Free space is above the minimum again."
        assert runtime.alerter.open_problems() == []
        assert runs(engine, "health") == [("success", "scheduler")] * 3

        # a folder the tracker no longer writes to (moved by configuration) is all-cleared, not left open
        monkeypatch.setenv("KESTAVA_MIN_FREE_DISK_GB", "1e9")
        get_settings.cache_clear()
        channel.alerts.clear()
        runtime.alerter.problem(Problem("disk", "/srv/old-data", "disk space: /srv/old-data: low"))
        assert scheduler.run_health_job() == "success"
        gone = [(a.key, a.state) for a in channel.alerts if a.key == "disk:/srv/old-data"]
        assert gone == [("disk:/srv/old-data", "problem"), ("disk:/srv/old-data", "resolved")]
        assert runtime.alerter.open_problems() == [f"disk:{tmp_path / 'data'}"]
    finally:
        get_settings.cache_clear()


def test_a_run_that_ends_well_gives_the_all_clear_of_its_job_alerted_as_hung(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    runtime, channel = make_runtime(engine, db_url, tmp_path, Work(outcomes={"a": ["success"]}))
    runtime.alerter.problem(Problem("hung", "ingest:a", "running for 400 min", job="ingest:a"))
    assert scheduler.run_ingest_job("a") == "success"
    assert [(a.key, a.state) for a in channel.alerts] == [
        ("hung:ingest:a", "problem"),
        ("hung:ingest:a", "resolved"),
    ]
    assert runtime.alerter.open_problems() == []
