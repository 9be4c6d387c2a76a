"""Runs left behind by killed commands are closed as interrupted, and never look hung.

Real `kestava` processes and real kills, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from ingest.catalogue import load_catalogue
from kestava.status import status_report
from storage import schema
from storage.engine import open_database
from tests.conftest import BACKENDS, fresh_database

KESTAVA = Path(sys.executable).with_name("kestava")


@pytest.fixture(params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh, migrated database of one backend and the environment for `kestava` on it."""
    with fresh_database(request.param, tmp_path) as url:
        open_database(url).dispose()
        yield url, {**os.environ, "KESTAVA_DATABASE_URL": url, "KESTAVA_DATA_DIR": str(tmp_path / "data")}


def kestava(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KESTAVA), *args], env=environment, capture_output=True, text=True, timeout=600, check=False
    )


def runs(engine: Engine, job: str) -> list[tuple[str, str, str | None]]:
    run = schema.job_run
    with engine.connect() as conn:
        rows = conn.execute(
            select(run.c.outcome, run.c.trigger, run.c.error).where(run.c.job == job).order_by(run.c.id)
        ).all()
    return [(str(outcome), str(trigger), error) for outcome, trigger, error in rows]


RECORD_AND_WAIT = textwrap.dedent(
    """
    import sys, time
    from storage.engine import open_database
    from storage.jobs import start_run
    engine = open_database(sys.argv[1])
    print(start_run(engine, sys.argv[2]), flush=True)
    time.sleep(300)
    """
)


def test_a_killed_commands_run_shows_interrupted_and_the_next_command_closes_it(
    env: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """A `kestava report` killed (-9) leaves its run 'running': status shows it interrupted, not hung
    (writing nothing), and the next command that records runs closes it as the scheduler's start does."""
    url, environment = env
    script = tmp_path / "record.py"
    script.write_text(RECORD_AND_WAIT)
    process = subprocess.Popen(
        [sys.executable, str(script), url, "report:weekly"],
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    run_id = int(process.stdout.readline())
    process.kill()
    process.wait(timeout=30)
    engine = open_database(url)
    run = schema.job_run
    try:
        with engine.begin() as conn:  # killed a day ago: long past the job time limit
            conn.execute(
                update(run)
                .where(run.c.id == run_id)
                .values(started_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1))
            )
        found = status_report(engine, load_catalogue(), date.today(), job_time_limit_min=360, disks=())
        (job,) = [j for j in found.jobs if j.job == "report:weekly"]
        expected = (
            f"interrupted: process {process.pid} on {socket.gethostname()} ended without finishing this run"
        )
        assert (job.last_outcome, job.last_error, job.hung) == ("failed", expected, False)
        assert f"report:weekly: failed ({expected})" in found.problems
        assert not any("hung" in line for line in found.problems)
        assert runs(engine, "report:weekly") == [("running", "cli", None)]  # status wrote nothing
        shown = kestava(environment, "status")
        assert "interrupted" in shown.stdout and "hung" not in shown.stdout, shown.stdout

        done = kestava(environment, "compute")  # any command that records runs
        assert "Traceback" not in done.stderr, done.stderr
        assert runs(engine, "report:weekly") == [("failed", "cli", expected)]
        if engine.dialect.name == "sqlite":  # and the dead process's lease would be dropped with it
            with engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(schema.job_lock)).scalar_one() == 0
    finally:
        engine.dispose()


def test_the_run_of_a_live_process_is_not_closed(env: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, environment = env
    script = tmp_path / "record.py"
    script.write_text(RECORD_AND_WAIT)
    process = subprocess.Popen(
        [sys.executable, str(script), url, "site"], env=environment, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    try:
        process.stdout.readline()
        kestava(environment, "compute")
        engine = open_database(url)
        try:
            assert runs(engine, "site") == [("running", "cli", None)]
            found = status_report(engine, load_catalogue(), date.today(), disks=())
            (job,) = [j for j in found.jobs if j.job == "site"]
            assert job.last_outcome == "running" and job.ok
        finally:
            engine.dispose()
    finally:
        process.kill()
        process.wait(timeout=30)
