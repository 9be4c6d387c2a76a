"""Job locks: one holder at a time, across processes, and a crashed holder's lock does not last forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from ingest.run import ingest
from kestava.alerts import Alerter, AlertSettings, Problem
from storage import read
from storage.alert_state import ClosedProblem
from storage.engine import autocommit
from storage.load import latest_digests
from storage.locks import (
    BusyError,
    held_locks,
    held_locks_and_digests,
    held_locks_digests_and_namespace,
    job_lock,
    record_unchanged_if_current,
)
from storage.rawstore import RawStore

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
