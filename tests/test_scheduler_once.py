"""`scheduler.py --once` when the database refuses to store the schedule (its disk full): one line, an
alert, the other jobs still run, exit 1, and the cause recorded; and when it cannot start (a bad catalogue
or setting, a job store it cannot read): one line naming what and where, an alert, exit 1, no traceback."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, make_url, select, text
from sqlalchemy.exc import OperationalError

import scheduler
from ingest.catalogue import parse_catalogue
from ingest.run import DatasetOutcome
from kestava.alerts import chat_inert
from kestava.status import JOBSTORE_TABLE
from schedule.jobstore import JobStore
from schedule.runtime import Runtime
from storage import schema
from storage.engine import open_database, safe_url
from storage.jobs import start_run
from tests.test_scheduler import ROOT, Work, catalogue_dict, job_runs, make_runtime


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    scheduler.set_runtime(None)


def test_once_with_a_full_disk_says_so_in_one_line_alerts_and_runs_the_rest(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = Work()
    same_time = {"a": "0 5 * * *", "b": "0 5 * * *", "c": "0 5 * * *"}  # run in id order at any hour
    runtime, channel = make_runtime(
        engine, db_url, tmp_path, work, parse_catalogue(catalogue_dict(same_time))
    )
    full = {"now": False}
    real_put, real_ingest = JobStore.put, work.ingest

    def put(self: JobStore, *args: object) -> None:
        if full["now"]:
            raise OperationalError(
                "UPDATE apscheduler_jobs …", {}, sqlite3.OperationalError("database or disk is full")
            )
        real_put(self, *args)  # type: ignore[arg-type]

    def ingest(runtime_: Runtime, dataset_id: str, trigger: str) -> DatasetOutcome:
        outcome = real_ingest(runtime_, dataset_id, trigger)
        if dataset_id == "a":  # the disk fills up: a's end is not recorded, nor is its next run time
            start_run(runtime_.engine, "ingest:a", dataset_id="a", trigger=trigger)
            full["now"] = True
        return outcome

    monkeypatch.setattr(JobStore, "put", put)
    runtime.runners = dataclasses.replace(runtime.runners, ingest=ingest)
    caplog.set_level(logging.INFO, logger="scheduler")
    assert (
        scheduler.run_once(runtime, scheduler.catalogue_jobs(runtime.catalogue), install_signals=False) == 1
    )
    assert [c[1] for c in work.calls if c[0] == "ingest"] == ["a", "b", "c"]  # the rest still ran
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    (error,) = [e for e in errors if "cannot write its schedule" in e]  # once, one line
    assert "\n" not in error and "(the disk is full)" in error and "database or disk is full" in error
    assert [a.key for a in channel.alerts] == ["unreachable:database"]
    finished = [r.getMessage() for r in caplog.records if r.getMessage().startswith("--once finished")]
    assert finished and "the schedule could not be written" in finished[0]
    with engine.connect() as conn:
        left = conn.execute(
            select(schema.job_run.c.outcome, schema.job_run.c.error).where(schema.job_run.c.job == "ingest:a")
        ).all()
    assert all(outcome != "running" for outcome, _ in left)
    assert any(
        "its end could not be recorded" in (err or "") and "disk is full" in (err or "") for _, err in left
    )


# ------------------------------------------------- failures before any job runs: real scheduler processes


def _once(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """scheduler.py --once as cron runs it (plain log lines on stderr)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KESTAVA_", "FINGRID_"))}
    return subprocess.run(
        [sys.executable, str(ROOT / "scheduler.py"), "--once", "--offline", *args],
        cwd=tmp_path,
        env={**base, "KESTAVA_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _refused(result: subprocess.CompletedProcess[str], *named: str) -> str:
    """The one error line of a start refused before any job ran (exit 1, no traceback), naming named."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "╭" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, result.stderr
    (error,) = errors
    assert "the scheduler cannot start: " in error and "--once: " not in result.stderr  # no job ran
    for name in named:
        assert name in error, error
    return error


def _alerts(httpserver: HTTPServer) -> list[dict[str, str]]:
    return [json.loads(request.get_data()) for request, _ in httpserver.log]


BAD_CADENCE = """
[sources.s]
publisher = "S"
licence = "CC BY 4.0"
attribution = "S"
homepage = "https://example.test"

[datasets.a]
title = "a"
source = "s"
protocol = "ckan_xlsx"
url = "https://example.test/a"
cadence = "0 99 * * *"
calendar = { frequency = "annual", lag_days = 3650, grace_days = 30 }
"""


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "No such file or directory"),
        ("this is [not toml\n", "TOMLDecodeError"),
        (BAD_CADENCE, "dataset 'a': cadence"),
    ],
    ids=["missing", "not-toml", "bad-cadence"],
)
def test_once_with_a_bad_catalogue_says_so_in_one_line_alerts_and_exits_1(
    tmp_path: Path, httpserver: HTTPServer, content: str | None, why: str
) -> None:
    httpserver.expect_request("/hook/t0ken-9f8e7d", method="POST").respond_with_data("ok")
    catalogue = tmp_path / "catalogue.toml"
    if content is not None:
        catalogue.write_text(content)
    result = _once(
        tmp_path,
        "--catalogue",
        str(catalogue),
        "--database-url",
        f"sqlite:///{tmp_path / 'k.sqlite3'}",
        KESTAVA_ALERT_WEBHOOK_URL=httpserver.url_for("/hook/t0ken-9f8e7d"),
    )
    error = _refused(result, str(catalogue), why)
    assert "t0ken-9f8e7d" not in result.stderr  # the webhook URL is a secret
    (alert,) = _alerts(httpserver)
    assert alert["key"] == "invalid:configuration" and alert["state"] == "problem"
    assert str(catalogue) in alert["message"] and why in alert["message"]
    assert alert["message"] == chat_inert(error.split("ERROR scheduler: ")[1])  # escaped for a chat


def test_once_with_an_invalid_setting_names_it_and_exits_1(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    hook = httpserver.url_for("/hook")
    result = _once(tmp_path, KESTAVA_JOB_TIME_LIMIT_MIN="six hours", KESTAVA_ALERT_WEBHOOK_URL=hook)
    _refused(result, "invalid settings", "KESTAVA_JOB_TIME_LIMIT_MIN", "valid number")
    assert "six hours" not in result.stderr  # a value is never repeated: it might be a secret
    (alert,) = _alerts(httpserver)
    assert alert["key"] == "invalid:configuration" and "KESTAVA_JOB_TIME_LIMIT_MIN" in alert["message"]
    # the alert channel's own settings invalid: said so, no alert, still one line and exit 1
    result = _once(tmp_path, KESTAVA_ALERT_FAILURES="two", KESTAVA_ALERT_WEBHOOK_URL=hook)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "KESTAVA_ALERT_FAILURES" in result.stderr and "no alert sent" in result.stderr
    assert len(_alerts(httpserver)) == 1


def test_once_whose_schedule_table_is_not_one_names_it_and_the_database_without_its_password(
    db_url: str, tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    url = make_url(db_url)
    if url.drivername.startswith("postgresql"):  # trust authentication: any password is taken
        url = url.set(password="pw-Secret-4711")
    engine = open_database(db_url)
    try:
        with engine.begin() as conn:  # a schedule table the job store cannot read
            conn.execute(text(f"DROP TABLE IF EXISTS {JOBSTORE_TABLE}"))
            conn.execute(text(f"CREATE TABLE {JOBSTORE_TABLE} (x INTEGER)"))
    finally:
        engine.dispose()
    shown = url.render_as_string(hide_password=False)
    result = _once(tmp_path, "--database-url", shown, KESTAVA_ALERT_WEBHOOK_URL=httpserver.url_for("/hook"))
    error = _refused(result, "cannot read the schedule in the database", safe_url(shown), "is not a schedule")
    assert "pw-Secret-4711" not in result.stderr
    (alert,) = _alerts(httpserver)
    assert alert["key"] == "invalid:schedule" and "pw-Secret-4711" not in json.dumps(alert)
    assert alert["message"] == chat_inert(error.split("ERROR scheduler: ")[1])
    assert job_runs(db_url) == []  # no job ran
