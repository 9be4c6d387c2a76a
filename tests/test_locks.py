"""Job locks: one holder at a time, across processes, and a crashed holder's lock does not last forever."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, event, func, select, text, update

from ingest.run import ingest
from kestava.alerts import Alerter, AlertSettings, Problem
from storage import read, schema
from storage.alert_state import ClosedProblem
from storage.engine import autocommit, open_database
from storage.load import DatasetInfo, latest_digests, load_snapshot
from storage.locks import (
    BusyError,
    HeldLock,
    LockLostError,
    advisory_key,
    held_locks,
    held_locks_and_digests,
    held_locks_digests_and_namespace,
    job_lock,
    record_unchanged_if_current,
)
from storage.rawstore import RawStore
from tests.conftest import make_payload

ROOT = Path(__file__).resolve().parent.parent


def test_second_holder_is_refused_until_release(engine: Engine) -> None:
    with job_lock(engine, "ingest:hsy_emissions", holder="a"):
        with pytest.raises(BusyError) as caught, job_lock(engine, "ingest:hsy_emissions", holder="b"):
            pass
        assert "busy" in str(caught.value)
        with job_lock(engine, "ingest:syke_emissions", holder="b"):
            pass  # another name is independent
    with job_lock(engine, "ingest:hsy_emissions", holder="b"):
        pass


HOLD_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timedelta
    from storage.engine import open_database
    from storage.locks import job_lock
    engine = open_database(sys.argv[1])
    with job_lock(engine, "ingest:x", lease=timedelta(seconds=float(sys.argv[2]))):
        print("HELD", flush=True)
        time.sleep(120)
    """
)


@pytest.mark.slow
def test_lock_of_a_killed_holder_is_released(engine: Engine, db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "hold.py"
    script.write_text(HOLD_SCRIPT)
    lease = 1.5
    process = subprocess.Popen(
        [sys.executable, str(script), db_url, str(lease)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "HELD"
    with pytest.raises(BusyError), job_lock(engine, "ingest:x", lease=timedelta(seconds=lease)):
        pass
    time.sleep(lease * 1.5)  # a live holder renews its lease: still busy after the lease has run out
    with pytest.raises(BusyError), job_lock(engine, "ingest:x", lease=timedelta(seconds=lease)):
        pass
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    deadline = time.monotonic() + lease * 4
    while True:
        try:
            with job_lock(engine, "ingest:x", lease=timedelta(seconds=lease)):
                break
        except BusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_trackers_in_different_postgresql_schemas_do_not_block_each_other(tmp_path: Path) -> None:
    from storage.engine import open_database
    from tests.conftest import fresh_database

    with fresh_database("postgresql", tmp_path) as first, fresh_database("postgresql", tmp_path) as second:
        one, two = open_database(first), open_database(second)
        try:
            with job_lock(one, "ingest:hsy_emissions", holder="a"):
                with job_lock(two, "ingest:hsy_emissions", holder="b"):
                    pass  # another schema: not blocked
                with pytest.raises(BusyError), job_lock(one, "ingest:hsy_emissions", holder="c"):
                    pass  # the same schema is still guarded
        finally:
            one.dispose()
            two.dispose()


def test_the_locks_held_and_the_digests_are_read_in_one_statement(engine: Engine, tmp_path: Path) -> None:
    (outcome,) = ingest(engine, RawStore(tmp_path / "raw"), ["statfin_population"], offline=True)
    assert outcome.outcome == "success"
    names, datasets = ["ingest:statfin_population", "ingest:other"], ["statfin_population", "other"]
    digests = latest_digests(engine, datasets)
    assert list(digests) == ["statfin_population"]
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with autocommit(engine) as conn:
        assert held_locks_and_digests(conn, names, datasets) == (set(), digests)
        with job_lock(engine, "ingest:statfin_population"):
            assert held_locks_and_digests(conn, names, datasets) == ({"ingest:statfin_population"}, digests)
            assert held_locks(conn, names) == {"ingest:statfin_population"}
        assert held_locks_and_digests(conn, names, []) == (set(), {})
    reads = [s for s in statements if "snapshot" in s]
    assert len(reads) == 3  # one statement per call


def test_an_unchanged_run_is_recorded_only_against_the_newest_digest_and_a_free_lock(
    engine: Engine, tmp_path: Path
) -> None:
    (outcome,) = ingest(engine, RawStore(tmp_path / "raw"), ["statfin_population"], offline=True)
    assert outcome.outcome == "success"
    digest = latest_digests(engine, ["statfin_population"])["statfin_population"]
    at = datetime(2026, 5, 6, 7)
    run: dict[str, object] = {"job": "ingest:statfin_population", "dataset_id": "statfin_population"}
    run |= {"trigger": "test", "started_at": at, "finished_at": at}
    alerter = Alerter(engine, AlertSettings(), channels=[], secrets=[])
    alerter.problem(
        Problem("failing", "ingest:statfin_population", "failing", job="ingest:statfin_population")
    )
    with autocommit(engine) as conn:
        _, _, namespace = held_locks_digests_and_namespace(conn, [], [])
        assert (namespace is None) == (engine.dialect.name == "sqlite")

        def record(known: str) -> list[ClosedProblem] | None:
            keys = ["failing:ingest:statfin_population", "rejected:statfin_population"]
            return record_unchanged_if_current(
                conn,
                run,
                digest=known,
                lock="ingest:statfin_population",
                namespace=namespace,
                close=keys,
                closed_at=at,
            )

        assert record("0" * 64) is None  # not the newest digest
        with job_lock(engine, "ingest:statfin_population", holder="another run"):
            assert record(digest) is None  # a run holds the lock
        assert alerter.open_problems() == ["failing:ingest:statfin_population"]
        (closed,) = record(digest) or []
        assert closed.key == "failing:ingest:statfin_population" and closed.closed_at == at
        assert record(digest) == []  # recorded again, nothing left open
    runs = read.job_runs(engine)
    assert runs["outcome"].to_list() == ["unchanged", "unchanged", "success"]
    assert runs["trigger"].to_list()[:2] == ["test", "test"] and alerter.open_problems() == []


# --- a lease that cannot be renewed (storage.locks._renew, HeldLock) ---


def _sqlite_with_short_busy_timeout(tmp_path: Path) -> tuple[Engine, Path]:
    """A migrated SQLite database whose connections give up on a write lock after 0.1 s (30 s normally):
    a competing write longer than that makes a renewal fail with "database is locked"."""
    path = tmp_path / "locks.sqlite3"
    engine = open_database(f"sqlite:///{path}")
    engine.dispose()
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=100"))
    return engine, path


@contextmanager
def _competing_write(path: Path, seconds: float) -> Iterator[threading.Thread]:
    """Another job's write transaction, holding SQLite's write lock for `seconds`, in a thread."""
    taken = threading.Event()

    def write() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    taken.wait()
    try:
        yield writer
    finally:
        writer.join()


def _take_expired_lease(engine: Engine, name: str, holder: str) -> bool:
    """What a second run's job_lock does with an expired lease: take it."""
    with engine.begin() as conn:
        taken = conn.execute(
            update(schema.job_lock)
            .where(
                schema.job_lock.c.name == name,
                schema.job_lock.c.expires_at < datetime.now(UTC).replace(tzinfo=None),
            )
            .values(holder=holder)
        ).rowcount
    return taken == 1


ONE_ROW = pl.DataFrame(
    {"area": ["049"], "period": ["2024"], "value": [1.0], "flag": [None], "unit": ["kt CO2e"]},
    schema={
        "area": pl.String,
        "period": pl.String,
        "value": pl.Float64,
        "flag": pl.String,
        "unit": pl.String,
    },
)


def test_a_failed_renewal_is_retried_and_the_lease_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine, path = _sqlite_with_short_busy_timeout(tmp_path)
    lease = timedelta(seconds=1.5)  # renewed every 0.5 s
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, "storage.locks"), job_lock(engine, "ingest:x", lease=lease) as held:
        with _competing_write(path, 1.0):  # the renewal at 0.5 s finds the database locked
            pass
        time.sleep(max(0.0, 2.2 - (time.monotonic() - started)))  # past the first lease's end
        assert not held.lost
        assert not _take_expired_lease(engine, "ingest:x", "a second run")
        with pytest.raises(BusyError), job_lock(engine, "ingest:x", lease=lease, holder="a second run"):
            pass
        held.check()
    failures = [r for r in caplog.records if "lease renewal" in r.getMessage()]
    assert failures and "database is locked" in failures[0].getMessage()
    engine.dispose()


def test_a_lease_that_cannot_be_kept_is_lost_and_the_load_aborts(
    tmp_path: Path, dataset_info: DatasetInfo, raw_store: RawStore, caplog: pytest.LogCaptureFixture
) -> None:
    engine, path = _sqlite_with_short_busy_timeout(tmp_path)
    lease = timedelta(seconds=1)
    data = ONE_ROW
    with caplog.at_level(logging.WARNING, "storage.locks"), job_lock(engine, "ingest:x", lease=lease) as held:
        with _competing_write(path, 1.6):  # longer than the lease: every renewal fails until it runs out
            pass
        assert held.lost
        assert _take_expired_lease(engine, "ingest:x", "a second run")  # which may now run
        with pytest.raises(LockLostError, match="ingest:x: the lock was lost") as lost:
            load_snapshot(
                engine,
                dataset_info,
                [make_payload(b"v1")],
                data,
                reader_version="t/1",
                raw_store=raw_store,
                lock=held,
            )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.snapshot)).scalar_one() == 0
    assert any("lease lost" in r.getMessage() for r in caplog.records)
    assert "OperationalError: database is locked" in str(lost.value) and "\n" not in str(lost.value)
    engine.dispose()


def test_a_load_under_a_lock_taken_meanwhile_writes_nothing(
    engine: Engine, dataset_info: DatasetInfo, raw_store: RawStore
) -> None:
    """The check in the load's own transaction: on SQLite the lease row is another run's, on PostgreSQL
    the session that held the advisory lock is gone (the server released the lock)."""
    data = ONE_ROW
    with job_lock(engine, "ingest:x") as held:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                key = advisory_key("ingest:x", str(conn.execute(text("SELECT current_schema()")).scalar()))
                unsigned = key & 0xFFFFFFFFFFFFFFFF
                pid = conn.execute(
                    text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND classid = :high AND objid = :low AND objsubid = 1"
                    ),
                    {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF},
                ).scalar_one()
                assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            else:
                conn.execute(update(schema.job_lock).values(holder="a second run"))
        with pytest.raises(LockLostError):
            load_snapshot(
                engine,
                dataset_info,
                [make_payload(b"v1")],
                data,
                reader_version="t/1",
                raw_store=raw_store,
                lock=held,
            )
        assert held.lost
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(schema.snapshot)).scalar_one() == 0


def test_an_ingest_whose_lock_was_lost_fails_and_loads_nothing(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextmanager
    def losing_lock(engine: Engine, name: str, **kwargs: Any) -> Iterator[HeldLock]:
        with job_lock(engine, name, **kwargs) as held:
            held.lose("its lease ran out after 3 failed renewals")  # as the heartbeat does
            yield held

    monkeypatch.setattr("ingest.run.job_lock", losing_lock)
    (outcome,) = ingest(engine, RawStore(tmp_path / "raw"), ["statfin_population"], offline=True)
    assert outcome.outcome == "failed"
    assert outcome.error is not None and "ingest:statfin_population: the lock was lost" in outcome.error
    assert read.snapshots(engine, "statfin_population").height == 0
    assert read.job_runs(engine, "ingest:statfin_population")["outcome"].to_list() == ["failed"]
