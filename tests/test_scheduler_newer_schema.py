"""A database a newer tracker migrated while the scheduler runs (`kestava migrate` elsewhere, or this code
rolled back under it): the daily health check, or a job's database error, finds it; nothing more is
recorded there, `schema:newer` is alerted naming both versions (the database without its password), and
the scheduler stops as a refused start does, with exit status 4. A database error on a current schema is
recorded and alerted as ever."""

from __future__ import annotations

import json
import logging
import sqlite3
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, make_url, select, text
from sqlalchemy.exc import OperationalError

import scheduler
import storage.engine
from indicators.engine import ComputeSummary
from schedule.alert_ledger import LEDGER_NAME
from scheduler import Runners
from storage import schema
from storage.engine import head_revision, safe_url
from storage.locks import HeldLock
from tests.conftest import fresh_database
from tests.test_scheduler import (
    Collect,
    Rig,
    Work,
    dataset_toml,
    job_runs,
    make_offline_runtime,
    make_runtime,
    rig,
    runs,
)
from tests.test_scheduler_watch import alerts, serving, spec
from tests.test_scheduler_watch import make_runtime as webhook_runtime

__all__ = ["rig"]  # the fixture, imported for the process test

NEWER = f"{int(head_revision()) + 1:04d}"  # the next migration, which this code does not have
PASSWORD = "pa55-w0rd-kept"


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    scheduler.set_runtime(None)


def stamp(engine: Engine, revision: str) -> None:
    """Set the schema version, as a newer tracker's `kestava migrate` leaves it."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


def alert_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(schema.alert_state)).all())


def sent(channel: Collect) -> list[tuple[str, str]]:
    return [(a.key, a.state) for a in channel.alerts]


def assert_stopped_on_the_newer_schema(runtime: scheduler.Runtime, channel: Collect, engine: Engine) -> str:
    """The stop asked for with exit 4, schema:newer alerted once (nothing in alert_state): its message."""
    assert runtime.stop.is_set() and runtime.exit_code == 4
    assert sent(channel) == [("schema:newer", "problem")]
    assert alert_rows(engine) == []
    message = channel.alerts[0].message
    assert f"schema version {NEWER}, newer than this tracker's {head_revision()}" in message
    assert "upgrade this tracker" in message and "exits (status 4)" in message
    return message


def test_the_health_check_finds_a_newer_trackers_schema_records_nothing_and_stops_the_scheduler(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Also when the tracker was upgraded in place: the migrations on disk are then the newer tracker's,
    the code running is not."""
    work = Work()
    runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":  # named in the alert without its password
        runtime.database_url = url.set(password=PASSWORD).render_as_string(hide_password=False)
    stamp(engine, NEWER)  # migrated by a newer tracker after this runtime opened the database
    monkeypatch.setattr(storage.engine, "head_revision", lambda: NEWER)  # its files now on disk
    with caplog.at_level(logging.INFO, logger="scheduler"):
        assert scheduler.run_health_job() == "refused"
    message = assert_stopped_on_the_newer_schema(runtime, channel, engine)
    assert f"the database at {safe_url(runtime.database_url)}" in message and PASSWORD not in message
    assert "health found it" in message
    assert runs(engine, "health") == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and f"schema version {NEWER}" in errors[0], errors
    assert scheduler.run_ingest_job("a") == "skipped"  # no further firing
    assert work.calls == [] and runs(engine, "ingest:a") == []


def _failing_compute(migrate: bool, calls: list[Sequence[str]]) -> Callable[..., ComputeSummary]:
    def compute(engine: Engine, datasets: Sequence[str], *, lock: HeldLock) -> ComputeSummary:
        calls.append(tuple(datasets))
        if migrate:
            stamp(engine, NEWER)  # a newer tracker's `kestava migrate` ran meanwhile ...
        raise OperationalError(  # ... and this code's statement no longer fits the table
            "INSERT INTO indicator_value …",
            {},
            sqlite3.OperationalError("table indicator_value has no column named unit_v2"),
        )

    return compute


def _compute_failing(
    engine: Engine, db_url: str, tmp_path: Path, *, migrate: bool
) -> tuple[scheduler.Runtime, Collect, Work, list[Sequence[str]]]:
    """A runtime whose ingest of "a" succeeds and whose compute fails on a database error (_failing_compute),
    each failure alerted: the runtime, its alert channel, the ingest's work and the compute's calls."""
    work = Work(outcomes={"a": ["success"]})
    runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    runtime.alerter.settings.alert_failures = 1
    calls: list[Sequence[str]] = []
    runtime.runners = Runners(ingest=work.ingest, compute=_failing_compute(migrate, calls), site=work.site)
    return runtime, channel, work, calls


def test_a_compute_failing_on_a_newer_trackers_schema_records_nothing_more_and_stops(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    runtime, channel, work, calls = _compute_failing(engine, db_url, tmp_path, migrate=True)
    assert scheduler.run_ingest_job("a") == "refused"
    assert calls == [("a",)]  # not retried
    assert runs(engine, "compute") == [("running", "scheduler")]  # its start, recorded before; no more
    assert ("site",) not in work.calls
    message = assert_stopped_on_the_newer_schema(runtime, channel, engine)
    assert "compute found it" in message and "no column named unit_v2" in message


def test_a_compute_failing_on_the_database_of_a_current_schema_is_recorded_and_alerted_as_ever(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    runtime, channel, _work, calls = _compute_failing(engine, db_url, tmp_path, migrate=False)
    assert scheduler.run_ingest_job("a") == "success"  # the ingest's outcome; its compute failed
    assert len(calls) == 3
    assert runs(engine, "compute") == [("failed", "scheduler"), ("failed", "retry"), ("failed", "retry")]
    (alert,) = channel.alerts
    assert alert.key == "failing:compute" and "no column named unit_v2" in alert.message
    assert [row.problem_key for row in alert_rows(engine)] == ["failing:compute"]
    assert not runtime.stop.is_set() and runtime.exit_code is None


def test_an_ingest_raising_a_database_error_on_a_newer_trackers_schema_is_not_retried_and_stops(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    work = Work(outcomes={"c": ["read_only"] * 3})
    runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    stamp(engine, NEWER)
    assert scheduler.run_ingest_job("c") == "refused"
    assert len(work.calls) == 1 and runs(engine, "ingest:c") == []
    message = assert_stopped_on_the_newer_schema(runtime, channel, engine)
    assert "ingest:c found it" in message and "ReadOnlySqlTransaction" in message


def test_the_real_ingest_failing_on_a_newer_trackers_tables_is_not_retried_and_stops(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """The ingest records its own failure (ingest.run), saying it was the database's; no retry, no alert
    of it, no compute follows."""
    work = Work()
    runtime, channel = make_offline_runtime(engine, db_url, tmp_path, work)
    with engine.begin() as conn:  # a newer tracker's migration: the table renamed, the version its own
        conn.execute(text("ALTER TABLE observation RENAME TO observation_v2"))
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER})
    assert scheduler.run_ingest_job("statfin_population") == "refused"
    assert runs(engine, "ingest:statfin_population") == [("failed", "scheduler")]
    assert runs(engine, "compute") == [] and work.calls == []
    message = assert_stopped_on_the_newer_schema(runtime, channel, engine)
    assert "ingest:statfin_population found it" in message and "observation" in message


def test_a_serving_scheduler_stops_with_exit_4_when_its_health_check_finds_a_newer_schema(
    engine: Engine, db_url: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    """serve() stops without a signal (as a refused start, exit 4): the loop ends, nothing recorded."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    runtime = webhook_runtime(db_url, tmp_path, httpserver.url_for("/hook"))
    stamp(runtime.engine, NEWER)
    specs = [spec("health", "scheduler:run_health_job", 0.3), spec("tick", "tests.test_scheduler_watch:tick")]
    _stop, finished = serving(runtime, specs)
    try:
        assert finished() == 4
    finally:
        runtime.engine.dispose()
    assert alerts(httpserver) == [("schema:newer", "problem")]
    assert [run.job for run in job_runs(db_url)] == []


MIGRATING_HOOKS = textwrap.dedent(
    """
    \"\"\"The test hooks, each ingest followed by a newer tracker's `kestava migrate`.\"\"\"

    import os

    from sqlalchemy import text

    from sched_hooks import compute, half_year_report, site, weekly_report  # noqa: F401
    from sched_hooks import ingest as ingest_only


    def ingest(runtime, dataset_id, trigger):
        outcome = ingest_only(runtime, dataset_id, trigger)
        with runtime.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": os.environ["NEWER"]})
        return outcome
    """
)


def test_once_exits_4_when_the_database_is_migrated_by_a_newer_tracker_while_it_runs(
    tmp_path: Path, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    """cron's --once: the ingest runs, a newer tracker migrates meanwhile, the health check finds it: no
    report runs, exit 4, the alert kept in the ledger for the all-clear of the first start that works."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    with fresh_database("sqlite", tmp_path) as db_url:
        setup = rig(
            db_url,
            dataset_toml("k", "0 5 * * *"),
            KESTAVA_SCHEDULER_HOOKS="sched_migrating_hooks",
            KESTAVA_ALERT_WEBHOOK_URL=httpserver.url_for("/hook"),
            NEWER=NEWER,
        )
        (tmp_path / "sched_migrating_hooks.py").write_text(MIGRATING_HOOKS)
        process = setup.start("--once")
        assert process.popen.wait(60) == 4
        lines = process.log()
        assert not any("Traceback" in line.get("message", "") for line in lines)
        errors = [line["message"] for line in lines if line.get("level") == "error"]
        assert len(errors) == 1 and f"schema version {NEWER}, newer than this" in errors[0], errors
        assert alerts(httpserver) == [("schema:newer", "problem")]
        message = json.loads(httpserver.log[0][0].get_data())["message"]
        assert f"schema version {NEWER}, newer than this tracker's {head_revision()}" in message
        assert [(run.job, run.outcome) for run in job_runs(db_url)] == [("ingest:k", "success")]
        assert [line for line in setup.hook_log if line.startswith("report")] == []
        assert (tmp_path / "data" / LEDGER_NAME).exists()
