"""A report whose period has no data is not written: the first council report of a tracker installed after
the half-year ended (the scheduler's first `--once` had published an empty one), a week before the first
fetch, an empty database. The scheduler records the run unchanged with the reason, once, and says so."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

import scheduler
from common.config import get_settings
from common.errors import EXIT_USAGE, NothingToReportError
from kestava.cli import app
from report import weekly
from schedule.runners import Runners
from storage import schema
from storage.jobs import now_utc
from tests.conftest import insert_snapshot_row
from tests.test_scheduler import Work, make_runtime, runs


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A data folder (and so a report folder) of the test's own."""
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KESTAVA_REPORT_DIR", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    scheduler.set_runtime(None)


def _fetched(engine: Engine, at: datetime) -> None:
    """A snapshot fetched at `at` (naive UTC): the database's first data."""
    with engine.begin() as conn:
        insert_snapshot_row(conn, at, is_demo=False)


def test_what_the_report_would_lack_is_said_and_a_period_with_data_is_not_refused(engine: Engine) -> None:
    half = weekly.parse_half("2026-H1")
    assert "the database holds no data yet" in (weekly.nothing_to_report(engine, half) or "")
    _fetched(engine, datetime(2026, 11, 23, 5, 40))
    later = datetime(2027, 1, 2, 6, 0)  # the scheduler's job for 2026-H2, on 2 January 2027
    reason = weekly.nothing_to_report(engine, half, now=later)
    assert reason is not None and reason.startswith("report 2026-H1 not written: it would show no data")
    assert "ended on 2026-06-30" in reason and "first data were fetched on 2026-11-23" in reason
    assert weekly.nothing_to_report(engine, weekly.parse_half("2026-H2"), now=later) is None
    # the half-year still going reads the database itself: its data are there
    assert weekly.nothing_to_report(engine, half, now=datetime(2026, 6, 29)) is None
    with pytest.raises(NothingToReportError, match="report 2026-H1 not written"):
        weekly.build_report(engine, half, lang="en", images=False)
    assert not (get_settings().reports / "2026-H1").exists()


def test_the_scheduled_council_report_of_a_half_year_before_the_first_fetch_is_not_written(
    engine: Engine, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first `--once` of a tracker installed in December: report:half builds the previous half-year's
    report as published by its end, when the tracker had fetched nothing. Nothing is published, the run is
    recorded unchanged with the reason (not retried, not alerted, no site rebuild), and the log says so."""
    _fetched(engine, now_utc() - timedelta(minutes=5))  # installed just now: the previous half has nothing
    work = Work()
    runtime, channel = make_runtime(engine, db_url, tmp_path, work)
    runtime.runners = Runners(compute=work.compute, site=work.site)  # the real council report
    half = scheduler.previous_half(datetime.now(scheduler.HELSINKI).date())
    with caplog.at_level(logging.INFO, logger="scheduler"):
        assert scheduler.run_half_year_report_job() == "unchanged"
    assert runs(engine, "report:half") == [("unchanged", "scheduler")]  # once: no retry brings data
    with engine.connect() as conn:
        error = conn.execute(
            select(schema.job_run.c.error).where(schema.job_run.c.job == "report:half")
        ).scalar()
    assert error is not None and error.startswith(f"report {half} not written: it would show no data")
    assert not (get_settings().reports / half).exists()
    assert ("site",) not in work.calls and channel.alerts == []
    said = [
        r.getMessage() for r in caplog.records if r.name == "scheduler" and "report:half" in r.getMessage()
    ]
    assert any("report:half: unchanged in" in line and f"report {half} not written" in line for line in said)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_command_refuses_a_period_with_no_data_naming_why_and_records_nothing(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    _fetched(engine, datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5))
    half = weekly.current_half().previous()
    result = CliRunner().invoke(
        app,
        ["report", "--half", half.key, "--lang", "en"],
        env={"KESTAVA_DATABASE_URL": url, "COLUMNS": "300"},
    )
    assert result.exit_code == EXIT_USAGE, result.output
    text = " ".join(result.output.split())
    assert f"error: report {half.key} not written: it would show no data" in text
    assert f"ended on {half.last_day:%Y-%m-%d}" in text
    assert runs(engine, "report:half") == []  # a period without data is no failure of the job
    assert not (get_settings().reports / half.key).exists()
