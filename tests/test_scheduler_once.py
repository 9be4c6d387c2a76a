"""`scheduler.py --once` when the database refuses to store the schedule (its disk full): one line, an
alert, the other jobs still run, exit 1, and the cause recorded."""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

import scheduler
from ingest.catalogue import parse_catalogue
from ingest.run import DatasetOutcome
from schedule.jobstore import JobStore
from schedule.runtime import Runtime
from storage import schema
from storage.jobs import start_run
from tests.test_scheduler import Work, catalogue_dict, make_runtime


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
    runtime, channel = make_runtime(engine, db_url, tmp_path, work, parse_catalogue(catalogue_dict()))
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
