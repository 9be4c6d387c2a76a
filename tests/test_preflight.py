"""Start failures as cron's `scheduler.py --once` meets them run after run: alerted once (then at the
alerts' repeat interval), not each run; an all-clear at the first start that succeeds; a schedule table
that is not one alerted as such (`invalid:schedule`), not as an unreachable database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, create_engine, select, text

import scheduler
from kestava.alerts import Alerter, AlertSettings, Problem
from kestava.status import JOBSTORE_TABLE
from schedule.alert_ledger import LEDGER_NAME, AlertLedger
from schedule.preflight import StartupError
from storage import schema
from storage.engine import head_revision, open_database
from tests.test_scheduler import Collect, Rig, Work, dataset_toml, job_runs, make_runtime, rig, wait_for

__all__ = ["rig"]  # the fixture, imported for these tests


@pytest.fixture(autouse=True)
def _forget_runtime() -> Iterator[None]:
    yield
    scheduler.set_runtime(None)


DEAD_DATABASE = "postgresql+psycopg://kestava:pa55-w0rd-kept@127.0.0.1:9/kestava"  # nothing listens on 9


def _once(setup: Rig, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """scheduler.py --once in the rig (hooks doing the jobs' work), as cron runs it: its exit code and log."""
    process = setup.start("--once", *args, **env)
    code = process.popen.wait(120)
    return subprocess.CompletedProcess(process.popen.args, code, "", process.log_path.read_text())


def _alerts(httpserver: HTTPServer) -> list[tuple[str, str]]:
    """(key, state) of each alert the webhook got, in order."""
    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    return [(body["key"], body["state"]) for body in bodies]


def _setup(rig: Callable[..., Rig], db_url: str, httpserver: HTTPServer) -> Rig:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return rig(
        db_url,
        dataset_toml("k", "0 5 * * *"),
        KESTAVA_SCHEDULER_HOOKS="sched_hooks",
        KESTAVA_ALERT_WEBHOOK_URL=httpserver.url_for("/hook"),
    )


# SQLite only: the setting is refused before any database is opened; what the runs' ledger keeps is moved
# into alert_state on both backends in test_alert_recovery
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_invalid_setting_is_alerted_once_by_cron_runs_and_cleared_by_the_first_that_starts(
    db_url: str, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    setup = _setup(rig, db_url, httpserver)
    for _ in range(3):  # cron: every few minutes, each run a new process
        assert _once(setup, KESTAVA_JOB_TIME_LIMIT_MIN="six hours").returncode == 1
    assert _alerts(httpserver) == [("invalid:configuration", "problem")]
    assert (setup.tmp / "data" / LEDGER_NAME).exists()  # kept without the database
    assert _once(setup).returncode == 0  # fixed: the first start that succeeds clears it
    assert _once(setup).returncode == 0
    assert _alerts(httpserver) == [
        ("invalid:configuration", "problem"),
        ("invalid:configuration", "resolved"),
    ]
    assert not (setup.tmp / "data" / LEDGER_NAME).exists()  # merged into alert_state, closed there
    engine = open_database(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(schema.alert_state)).one()
    finally:
        engine.dispose()
    assert row.problem_key == "invalid:configuration" and row.resolved_at is not None


def test_a_database_cron_cannot_open_is_alerted_once_and_cleared_when_it_opens(
    db_url: str, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    setup = _setup(rig, db_url, httpserver)
    setup.db_url = DEAD_DATABASE
    for _ in range(2):
        assert _once(setup).returncode == 1
    assert _alerts(httpserver) == [("unreachable:database", "problem")]
    setup.db_url = db_url
    assert _once(setup).returncode == 0
    assert _alerts(httpserver) == [("unreachable:database", "problem"), ("unreachable:database", "resolved")]
    body = json.loads(httpserver.log[-1][0].get_data())
    assert "pa55-w0rd-kept" not in json.dumps(body)


def _stamp(db_url: str, revision: str) -> None:
    """Set the database's schema version, as a newer tracker's migration (or its restore) leaves it."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    finally:
        engine.dispose()


def test_a_database_of_a_newer_tracker_is_alerted_schema_newer_once_by_cron_runs_each_exiting_4(
    db_url: str, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    """A rolled-back tracker's cron runs meet a database a newer tracker migrated: not "unreachable", and
    no retry (waiting does not change a schema): one line naming both versions, the alert schema:newer once
    (then at the alerts' repeat interval), exit 4; the all-clear at the first start that succeeds."""
    setup = _setup(rig, db_url, httpserver)
    _stamp(db_url, "0099")
    for _ in range(2):
        result = _once(setup)
        assert result.returncode == 4, result.stderr
        assert "Traceback" not in result.stderr
    assert _alerts(httpserver) == [("schema:newer", "problem")]
    message = json.loads(httpserver.log[0][0].get_data())["message"]
    assert f"schema version 0099, newer than this tracker's {head_revision()}" in message
    assert "does not try again" in message and "It exited (status 4)" in message
    assert "upgrade this tracker" in message and "restore" in message and "unreachable" not in message
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    refused = [line["message"] for line in lines if line["level"] == "error"]
    assert len(refused) == 1 and "schema version 0099" in refused[0], refused
    assert not any("attempt" in line["message"] for line in lines)  # not retried as an outage is
    assert job_runs(db_url) == []  # nothing ran, nothing written
    _stamp(db_url, head_revision())  # the tracker upgraded again (or the backup restored)
    assert _once(setup).returncode == 0
    assert _alerts(httpserver) == [("schema:newer", "problem"), ("schema:newer", "resolved")]


def test_a_serving_scheduler_stops_at_once_with_exit_4_on_a_database_of_a_newer_tracker(
    db_url: str, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    """Serving (systemd), the scheduler does not wait and retry for a newer tracker's database as for an
    unreachable one: it alerts schema:newer and exits 4 (the README's unit: RestartPreventExitStatus=4)."""
    setup = _setup(rig, db_url, httpserver)
    _stamp(db_url, "0099")
    process = setup.start()
    assert process.popen.wait(60) == 4
    assert _alerts(httpserver) == [("schema:newer", "problem")]


def test_a_schedule_table_that_is_not_one_is_alerted_as_such_and_cleared_once_replaced(
    db_url: str, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    setup = _setup(rig, db_url, httpserver)
    engine = open_database(db_url)
    try:
        with engine.begin() as conn:  # someone else's table of that name
            conn.execute(text(f"CREATE TABLE {JOBSTORE_TABLE} (x INTEGER)"))
        result = _once(setup)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert _alerts(httpserver) == [("invalid:schedule", "problem")]
        message = json.loads(httpserver.log[0][0].get_data())["message"]
        assert JOBSTORE_TABLE in message and "next_run_time" in message and "columns x" in message
        assert f"ALTER TABLE {JOBSTORE_TABLE} RENAME" in message and "unreachable" not in message
        assert job_runs(db_url) == []
        with engine.begin() as conn:  # the operator does as the alert says
            conn.execute(text(f"ALTER TABLE {JOBSTORE_TABLE} RENAME TO {JOBSTORE_TABLE}_old"))
    finally:
        engine.dispose()
    assert _once(setup).returncode == 0
    assert _alerts(httpserver) == [("invalid:schedule", "problem"), ("invalid:schedule", "resolved")]


def test_a_schedule_the_database_cannot_be_reached_for_stays_unreachable_database(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    runtime, _channel = make_runtime(engine, db_url, tmp_path, Work())
    runtime.database_url = DEAD_DATABASE  # the job store's own connection fails; the tables are fine
    with pytest.raises(StartupError) as refused:
        scheduler.run_once(runtime, scheduler.catalogue_jobs(runtime.catalogue), install_signals=False)
    assert refused.value.problem == ("unreachable", "database")
    assert "kestava:***@127.0.0.1:9/kestava" in str(refused.value) and "pa55-w0rd-kept" not in str(
        refused.value
    )


def test_a_stored_job_that_does_not_unpickle_is_replaced_from_the_catalogue_not_alerted(
    db_url: str, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    setup = _setup(rig, db_url, httpserver)
    assert _once(setup).returncode == 0
    engine = open_database(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {JOBSTORE_TABLE} SET job_state = :junk"), {"junk": b"not a pickle"})
        assert _once(setup).returncode == 0
        with engine.connect() as conn:
            kept = conn.execute(text(f"SELECT count(*) FROM {JOBSTORE_TABLE}")).scalar()
    finally:
        engine.dispose()
    assert kept and _alerts(httpserver) == []


def test_problems_alerted_without_the_database_join_its_record_once_it_is_back(
    engine: Engine, tmp_path: Path
) -> None:
    ledger = AlertLedger(tmp_path / LEDGER_NAME)
    settings = AlertSettings()
    channel = Collect()
    clock_at = datetime(2026, 3, 10, 9, 0)
    without = Alerter(
        create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite3'}"),
        settings,
        channels=[channel],
        secrets=[],
        clock=lambda: clock_at,
        unrecorded=ledger,
    )
    problem = Problem("invalid", "configuration", "KESTAVA_X: not a number")
    assert without.problem(problem)  # no alert_state: alerted, kept in the ledger
    again = Alerter(
        engine, settings, channels=[channel], secrets=[], clock=lambda: clock_at, unrecorded=ledger
    )
    assert again.merge_unrecorded() == ["invalid:configuration"]
    assert ledger.load() == {}
    clock_at += timedelta(hours=2)
    assert not again.problem(problem)  # the same day: not due again, though now it is recorded
    clock_at += timedelta(days=1)
    assert again.problem(problem)  # the next day: the daily repeat, saying since when
    assert "Still open since 2026-03-10" in channel.alerts[-1].text
    assert again.resolved("invalid", "configuration", "fixed")
    assert [(a.key, a.state) for a in channel.alerts] == [
        ("invalid:configuration", "problem"),
        ("invalid:configuration", "problem"),
        ("invalid:configuration", "resolved"),
    ]


def test_a_serving_scheduler_that_starts_gives_the_all_clear_of_what_refused_starts_alerted(
    db_url: str, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    setup = _setup(rig, db_url, httpserver)
    assert setup.start(KESTAVA_JOB_TIME_LIMIT_MIN="six hours").popen.wait(120) == 1  # systemd's first try
    assert _alerts(httpserver) == [("invalid:configuration", "problem")]
    process = setup.start()  # fixed, served
    try:
        wait_for(lambda: ("invalid:configuration", "resolved") in _alerts(httpserver), 60, "the all-clear")
    finally:
        assert process.stop() == 0
    assert _alerts(httpserver) == [
        ("invalid:configuration", "problem"),
        ("invalid:configuration", "resolved"),
    ]


HOLD_THE_LEDGER = """
import sys, time
from datetime import datetime
from pathlib import Path
from schedule.alert_ledger import AlertLedger
ledger = AlertLedger(Path(sys.argv[1]))
with ledger.locked():
    kept = ledger.load()
    Path(sys.argv[2]).touch()  # holding the lock, having read the ledger
    time.sleep(1.0)
    seen = datetime(2026, 3, 10, 8, 0)
    ledger.save({**kept, "invalid:catalogue": (seen, seen)})
"""


def test_two_starts_at_once_keep_both_their_problems_in_the_ledger(tmp_path: Path) -> None:
    """Two cron runs refused at once (no database) each load the ledger, add their problem and save it.
    Without a lock between processes the later save dropped the earlier one's problem, alerted again at
    the next run as if new; with it, the second waits for the first and both problems are kept."""
    path = tmp_path / LEDGER_NAME
    ready = tmp_path / "holding"
    other = subprocess.Popen([sys.executable, "-c", HOLD_THE_LEDGER, str(path), str(ready)])
    try:
        wait_for(ready.exists, 30, "the other run holding the ledger")
        channel = Collect()
        alerter = Alerter(
            create_engine("sqlite://"),
            AlertSettings(),
            channels=[channel],
            secrets=[],
            clock=lambda: datetime(2026, 3, 10, 9, 0),
            unrecorded=AlertLedger(path),
        )
        assert alerter.problem_unrecorded(Problem("invalid", "configuration", "KESTAVA_X: not a number"))
    finally:
        assert other.wait(30) == 0
    assert set(AlertLedger(path).load()) == {"invalid:catalogue", "invalid:configuration"}
    assert [a.key for a in channel.alerts] == ["invalid:configuration"]
