"""Alerts that recover and go quiet as operators expect: all-clears of problems alerted without alert state,
a scheduler starting without its database, blocked jobs, failures alerted by time, repeats backed off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, text

import kestava.alerts
import scheduler
from common.config import get_settings
from ingest.catalogue import parse_catalogue
from kestava.alerts import Alerter, AlertSettings, Problem, chat_inert, check_run
from kestava.status import status_report
from schedule.health_job import alert_low_disks
from schedule.site_job import run_site
from storage.jobs import finish_run, now_utc, start_run
from storage.locks import job_lock
from tests.test_scheduler import Collect, Work, catalogue_dict, make_runtime, runs

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 11:00 in Helsinki
HOLDER = "otherhost:4242:1"


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    scheduler.set_runtime(None)


def sent(channel: Collect) -> list[tuple[str, str]]:
    return [(a.key, a.state) for a in channel.alerts]


def without_alert_state(engine: Engine) -> None:
    """alert_state cannot be read or written (as when the database is locked or its disk full)."""
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE alert_state RENAME TO alert_state_away"))


def with_alert_state(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE alert_state_away RENAME TO alert_state"))


def record(engine: Engine, job: str, outcome: str, at: datetime, error: str | None = None) -> None:
    """A finished run of job started at (naive UTC)."""
    run_id = start_run(engine, job, trigger="scheduler", started_at=at)
    finish_run(engine, run_id, outcome, error=error)


# ------------------------------------------------- 1: all-clears of problems alerted without alert state


def test_a_run_closed_with_its_record_gives_the_all_clear_of_a_failure_alerted_without_alert_state(
    engine: Engine,
) -> None:
    channel = Collect()
    alerter = Alerter(engine, AlertSettings(), channels=[channel], secrets=[])
    without_alert_state(engine)
    assert alerter.problem(Problem("failing", "ingest:a", "crashed: database is locked", job="ingest:a"))
    with_alert_state(engine)
    check_run(alerter, "ingest:a", "unchanged", dataset="a", cleared=[])  # the record closed nothing
    assert sent(channel) == [("failing:ingest:a", "problem"), ("failing:ingest:a", "resolved")]
    check_run(alerter, "ingest:a", "unchanged", dataset="a", cleared=[])
    assert len(channel.alerts) == 2  # once


def test_the_health_check_gives_the_all_clear_of_a_low_disk_alerted_without_alert_state(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime, channel = make_runtime(engine, db_url, tmp_path, Work())
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KESTAVA_MIN_FREE_DISK_GB", "1e9")  # no disk has a billion GB free
    get_settings.cache_clear()
    try:
        without_alert_state(engine)  # the disk is full: nothing can be recorded
        alert_low_disks(runtime.alerter)
        with_alert_state(engine)
        disk = f"disk:{tmp_path / 'data'}"
        assert sent(channel) == [(disk, "problem")]
        monkeypatch.setenv("KESTAVA_MIN_FREE_DISK_GB", "0")  # space freed
        get_settings.cache_clear()
        assert scheduler.run_health_job() == "success"
        assert sent(channel) == [(disk, "problem"), (disk, "resolved")]
        assert channel.alerts[1].message == "Free space is above the minimum again."
    finally:
        get_settings.cache_clear()


# ---------------------------------------------------------- 2: the scheduler starting without its database


def test_the_scheduler_once_without_its_database_alerts_it_naming_the_database_without_its_password(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    url = "postgresql+psycopg://kestava:pa55-w0rd-kept@127.0.0.1:9/kestava"  # nothing listens on port 9
    env = {
        **os.environ,
        "KESTAVA_DATA_DIR": str(tmp_path),
        "KESTAVA_ALERT_WEBHOOK_URL": httpserver.url_for("/hook"),
    }
    env.pop("KESTAVA_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scheduler.py"), "--once", "--database-url", url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1
    (body,) = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert body["key"] == "unreachable:database" and body["state"] == "problem"
    # (escaped for a chat to show it as written: the masked password's asterisks are no emphasis)
    assert chat_inert("kestava:***@127.0.0.1:9/kestava") in body["message"]
    assert "pa55-w0rd-kept" not in json.dumps(body) and b"pa55-w0rd-kept" not in done.stderr


def test_the_scheduler_waits_for_its_database_alerts_the_outage_and_its_end(
    engine: Engine, db_url: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    from schedule.startup import open_runtime  # (here: the module is new)

    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    runtime, _ = make_runtime(engine, db_url, tmp_path, Work())
    attempts: list[int] = []

    def build() -> scheduler.Runtime:
        attempts.append(1)
        if len(attempts) < 4:
            raise ConnectionError("connection refused")
        return runtime

    settings = AlertSettings(
        alert_webhook_url=SecretStr(httpserver.url_for("/hook")), alert_database_min=0.0005
    )  # 30 ms
    opened = open_runtime(build, db_url, settings=settings, first_wait_s=0.02, max_wait_s=0.05)
    assert opened is runtime and len(attempts) == 4
    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    assert [(b["key"], b["state"]) for b in bodies] == [
        ("unreachable:database", "problem"),
        ("unreachable:database", "resolved"),
    ]
    assert "connection refused" in bodies[0]["message"]
    stop = threading.Event()
    stop.set()  # stopped while waiting: no runtime
    assert open_runtime(lambda: build_failing(), db_url, settings=settings, stop=stop) is None


def build_failing() -> scheduler.Runtime:
    raise ConnectionError("connection refused")


# ---------------------------------------------------------------------------- 3: a job blocked by a lock


def test_a_job_whose_lock_another_run_keeps_is_alerted_as_blocked_naming_the_holder_then_cleared(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    runtime, channel = make_runtime(engine, db_url, tmp_path, Work())
    with job_lock(engine, "site", holder=HOLDER):  # e.g. a hung command, alive
        assert [run_site(runtime) for _ in range(2)] == ["busy", "busy"]
        assert channel.alerts == []  # two busy runs: another run may just be finishing
        assert run_site(runtime) == "busy"
    (alert,) = channel.alerts
    assert alert.key == "blocked:site" and HOLDER in alert.message and "has not run since" in alert.message
    assert run_site(runtime) == "success"
    assert sent(channel) == [("blocked:site", "problem"), ("blocked:site", "resolved")]
    assert runs(engine, "site")[-1] == ("success", "scheduler")


def test_a_job_busy_for_longer_than_the_time_limit_is_alerted_at_its_first_busy_run(engine: Engine) -> None:
    channel = Collect()
    alerter = Alerter(engine, AlertSettings(), channels=[channel], secrets=[])
    record(
        engine,
        "ingest:a",
        "busy",
        now_utc() - timedelta(hours=7),
        f"ingest:a: busy, already running by {HOLDER}",
    )
    check_run(alerter, "ingest:a", "busy", "busy", dataset="a", busy_limit_min=360)
    assert sent(channel) == [("blocked:ingest:a", "problem")]


def test_status_shows_a_job_busy_since_its_first_busy_run_and_who_holds_it(engine: Engine) -> None:
    now = datetime.now(UTC)
    naive = now.replace(tzinfo=None)
    busy = f"ingest:a: busy, already running by {HOLDER}"
    record(engine, "ingest:a", "success", naive - timedelta(hours=10))
    record(engine, "ingest:a", "busy", naive - timedelta(hours=8), busy)
    record(engine, "ingest:a", "busy", naive - timedelta(hours=1), busy)
    record(engine, "ingest:b", "busy", naive - timedelta(hours=1), "ingest:b: busy, already running")
    catalogue = parse_catalogue(catalogue_dict())
    report = status_report(engine, catalogue, date.today(), now=now, job_time_limit_min=360, disks=())
    jobs = {j.job: j for j in report.jobs}
    a = jobs["ingest:a"]
    assert a.last_outcome == "success" and a.busy_since == naive - timedelta(hours=8)
    assert a.busy_holder == HOLDER and a.blocked and not a.ok
    assert any(
        line.startswith("ingest:a: busy since ") and f"(held by {HOLDER})" in line for line in report.problems
    )
    b = jobs["ingest:b"]  # busy for an hour only: shown, not a problem
    assert b.busy_since is not None and not b.blocked and b.ok
    assert "busy since" in b.busy_note("en")
    # in the status's language, as the rest of the table (fi: "varattu … alkaen")
    assert a.busy_note("fi").startswith("varattu ") and f"(lukon pitää {HOLDER})" in a.busy_note("fi")


# ------------------------------------------------------------------ 4: failures alerted after a time too


def test_a_failure_of_a_weekly_job_is_alerted_a_day_after_it_not_at_its_next_run(engine: Engine) -> None:
    channel = Collect()
    clock = Clock(T0)
    alerter = Alerter(engine, AlertSettings(), channels=[channel], clock=clock, secrets=[])
    start = T0.replace(tzinfo=None)
    for trigger in ("scheduler", "retry", "retry"):  # one run, three attempts
        run_id = start_run(engine, "ingest:a", dataset_id="a", trigger=trigger, started_at=start)
        finish_run(engine, run_id, "failed", error="HTTP 401 Unauthorized")
    check_run(alerter, "ingest:a", "failed", "HTTP 401 Unauthorized", dataset="a")
    assert channel.alerts == []  # one failed run: could be a blip
    clock.now = T0 + timedelta(hours=23)
    kestava.alerts.alert_failing_jobs(alerter)
    assert channel.alerts == []
    clock.now = T0 + timedelta(hours=24, minutes=1)  # the daily health check, a day later
    kestava.alerts.alert_failing_jobs(alerter)
    (alert,) = channel.alerts
    assert (
        alert.key == "failing:ingest:a"
        and "1 run since 2026-03-10 11:00 EET, none succeeding in between" in alert.message
    )
    assert "HTTP 401" in alert.message


def test_the_health_check_alerts_a_job_failing_since_more_than_a_day(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    _runtime, channel = make_runtime(engine, db_url, tmp_path, Work())
    record(engine, "ingest:a", "failed", now_utc() - timedelta(hours=25), "HTTP 503")
    record(engine, "probe", "failed", now_utc() - timedelta(hours=25), "drift")  # alerted as drift
    assert scheduler.run_health_job() == "success"
    assert sent(channel) == [("failing:ingest:a", "problem")]


# ------------------------------------------------------- 5: health and probe runs close their own problems


def test_a_successful_health_or_probe_run_gives_the_all_clear_of_its_crash_and_hang(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    runtime, channel = make_runtime(engine, db_url, tmp_path, Work())
    runtime.runners = replace(runtime.runners, probe=lambda catalogue: [])
    for job in ("health", "probe"):
        runtime.alerter.problem(Problem("failing", job, f"{job} crashed: ConnectionError", job=job))
        runtime.alerter.problem(Problem("hung", job, f"{job} running for 400 min", job=job))
    assert scheduler.run_health_job() == "success"
    assert scheduler.run_probe_job() == "success"
    resolved = sorted(key for key, state in sent(channel) if state == "resolved")
    assert resolved == ["failing:health", "failing:probe", "hung:health", "hung:probe"]
    assert runtime.alerter.open_problems() == []


# ----------------------------------------------------------------------- 6: repeats: daily, then weekly


def test_an_open_problem_is_repeated_daily_for_three_days_then_weekly_saying_since_when(
    engine: Engine,
) -> None:
    channel = Collect()
    clock = Clock(T0)
    alerter = Alerter(engine, AlertSettings(), channels=[channel], clock=clock, secrets=[])
    problem = Problem("late", "a", "a is late", dataset="a")
    days = []
    for day in range(17):
        clock.now = T0 + timedelta(days=day)
        if alerter.problems([problem]) + alerter.problem(problem):  # the batched read, then one claim
            days.append(day)
    assert days == [0, 1, 2, 9, 16]
    assert "Still open since 2026-03-10 11:00" in channel.alerts[3].text
    assert "Still open since" not in channel.alerts[0].text


def test_repeats_back_off_for_problems_alerted_without_alert_state_too(engine: Engine) -> None:
    channel = Collect()
    clock = Clock(T0)
    alerter = Alerter(engine, AlertSettings(), channels=[channel], clock=clock, secrets=[])
    problem = Problem("unreachable", "database", "down")
    days = []
    for day in range(10):
        clock.now = T0 + timedelta(days=day)
        if alerter.problem_unrecorded(problem):
            days.append(day)
    assert days == [0, 1, 2, 9]
