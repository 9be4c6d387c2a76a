"""The commands that write take the scheduler's job locks and check them before they write; runs left behind
by killed commands are closed as interrupted, and never look hung.

Real `kestava` processes, real locks (held by this test process as another run would hold them) and real
kills, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select, text, update

from indicators.engine import compute
from ingest.catalogue import load_catalogue
from ingest.run import ingest
from kestava.cli import explain
from kestava.status import status_report
from storage import schema
from storage.engine import open_database
from storage.locks import LockLostError, advisory_key, job_lock
from storage.rawstore import RawStore
from tests.conftest import BACKENDS, LoadedTemplates, forget_computed, fresh_database

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


@pytest.mark.parametrize(
    ("command", "lock", "job"),
    [
        (["compute", "--force"], "compute", "compute"),
        (["compute", "statfin_population"], "compute", "compute:selected"),
        (["report", "--lang", "en"], "report:weekly", "report:weekly"),
        (["report", "--half", "2026-H1"], "report:half", "report:half"),
        (["site", "--lang", "en"], "site", "site"),
    ],
)
def test_a_writing_command_whose_job_lock_is_held_is_busy_in_one_line(
    env: tuple[str, dict[str, str]], tmp_path: Path, command: list[str], lock: str, job: str
) -> None:
    url, environment = env
    engine = open_database(url)
    out = tmp_path / "out"
    extra = ["--out", str(out)] if command[0] in ("report", "site") else []
    try:
        with job_lock(engine, lock, holder="the scheduler's run"):
            done = kestava(environment, *command, *extra)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"{job}: not run: {lock}: busy, already running by the scheduler's run" in lines[0]
        ((outcome, trigger, error),) = runs(engine, job)  # PostgreSQL adds the holder's backend pid
        assert (outcome, trigger) == ("busy", "cli")
        assert error is not None and error.startswith(f"{lock}: busy, already running by the scheduler's run")
        assert not out.exists()  # nothing published
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(schema.indicator_value)).scalar_one() == 0
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def ingested_env(
    request: pytest.FixtureRequest, tmp_path: Path, loaded_templates: LoadedTemplates
) -> Iterator[tuple[str, dict[str, str]]]:
    """A database of one backend holding the bundled snapshot as ingested, nothing computed yet (a copy of
    the run's template), and the environment for `kestava` on it."""
    data = tmp_path / "data"
    with loaded_templates.copy(request.param, data) as url:
        engine = open_database(url)
        try:
            forget_computed(engine)
        finally:
            engine.dispose()
        yield url, {**os.environ, "KESTAVA_DATABASE_URL": url, "KESTAVA_DATA_DIR": str(data)}


@pytest.mark.slow
def test_two_computes_at_once_never_crash(ingested_env: tuple[str, dict[str, str]]) -> None:
    """The audit's reproduction: two `kestava compute --force` on one database. Each either computes or is
    busy (exit 1, one line); neither dies with a unique violation (exit 3)."""
    _, environment = ingested_env
    for _trial in range(3):
        processes = [
            subprocess.Popen(
                [str(KESTAVA), "compute", "--force"],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=600), p.communicate()[1]) for p in processes]
        assert all(code in (0, 1) for code, _ in results), results
        assert any(code == 0 for code, _ in results), results
        for code, stderr in results:
            if code == 1:
                assert "compute: busy, already running by" in stderr and "Traceback" not in stderr, stderr


def steal(engine: Engine, name: str) -> None:
    """What a lost lock looks like to its holder: on SQLite another run has the lease, on PostgreSQL the
    session holding the advisory lock is gone (the server released the lock)."""
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:
            conn.execute(update(schema.job_lock).values(holder="a second run"))
        return
    held = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = :high AND objid = :low AND objsubid = 1"
    )
    with engine.begin() as conn:
        key = advisory_key(name, str(conn.execute(text("SELECT current_schema()")).scalar()))
        unsigned = key & 0xFFFFFFFFFFFFFFFF
        where = {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF}
        pid = conn.execute(held, where).scalar_one()
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    # pg_terminate_backend only signals the session: on a busy server it may hold the lock a moment longer
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.begin() as conn:
            if conn.execute(held, where).first() is None:
                return
        time.sleep(0.02)
    raise AssertionError(f"{name}: the terminated session still holds the advisory lock after 10 s")


def test_a_compute_that_lost_its_lock_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    outcomes = ingest(engine, RawStore(tmp_path / "raw"), ["statfin_population"], offline=True)
    assert all(o.ok for o in outcomes)
    with job_lock(engine, "compute") as held:
        steal(engine, "compute")
        with pytest.raises(LockLostError, match="compute: the lock was lost"):
            compute(engine, force=True, lock=held)
    with engine.connect() as conn:
        for table in (schema.indicator_value, schema.indicator_state, schema.assessment):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
    with engine.begin() as conn:  # the run that took it finishes
        conn.execute(delete(schema.job_lock))
    with job_lock(engine, "compute") as held:  # the same under a lock still held: written
        summary = compute(engine, force=True, lock=held)
    assert summary.values_written > 0


def test_a_lost_lock_is_one_line_and_exit_1_not_a_bug() -> None:
    assert explain(LockLostError("compute", "its lease was taken by another run")) == (
        1,
        "compute: the lock was lost while this run held it (its lease was taken by another run); "
        "nothing was written",
    )


def test_a_site_build_that_lost_its_lock_publishes_nothing(engine: Engine, tmp_path: Path) -> None:
    from report.site.build import build_site
    from tests.site_fakes import PlaceholderRenderer

    site = tmp_path / "site"
    with PlaceholderRenderer() as renderer, job_lock(engine, "site") as held:
        steal(engine, "site")
        with pytest.raises(LockLostError, match="site: the lock was lost"):
            build_site(engine, site, langs=("en",), renderer=renderer, lock=held)
    assert not site.exists() and not [
        p for p in tmp_path.iterdir() if p.name.startswith(".site.") and p.is_dir()
    ]


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
