"""Ingest runs against a real local HTTP server: last good data kept, secrets kept out, 304s, locks."""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, MetaData, create_engine, event, func, select, text
from werkzeug import Request, Response

import ingest.run as ingest_run
from common.payload import Fetcher, Payload
from ingest.catalogue import Catalogue, DatasetSpec, load_catalogue, parse_catalogue
from ingest.connector import Connector, parse_flagged
from ingest.errors import FetchError, ValidationError
from ingest.http import LiveFetcher
from ingest.replay import ReplayFetcher
from ingest.run import DatasetOutcome
from ingest.run import ingest as run_ingest
from storage import read, schema
from storage.alert_state import AllClear
from storage.engine import autocommit, unpinged
from storage.jobs import record_runs
from storage.load import latest_digests
from storage.locks import HeldLock, held_locks, job_lock
from storage.orphans import reap_orphans
from storage.rawstore import RawStore
from storage.validators import DbValidatorCache
from tests.conftest import PG_ADMIN_URL

SNAPSHOT = Path(__file__).resolve().parent.parent / "data" / "snapshot"
EUROSTAT_BODY = (SNAPSHOT / "eurostat" / "cei_wm011.json").read_bytes()
FINGRID_BODY = (SNAPSHOT / "fingrid_emission_factor" / "page_1.json").read_bytes()
SECRET = "fingrid-key-7f3a9c-do-not-leak"
SOURCES = {
    "eurostat": {"publisher": "Eurostat", "licence": "reuse", "attribution": "Eurostat", "homepage": "h"},
    "fingrid": {"publisher": "Fingrid", "licence": "CC BY 4.0", "attribution": "Fingrid", "homepage": "h"},
}


def catalogue(server: HTTPServer) -> Catalogue:
    """The test catalogue: Eurostat's recycling rate and Fingrid's emission factor on the local server."""
    return parse_catalogue(catalogue_document(server))


def catalogue_document(server: HTTPServer) -> dict[str, Any]:
    """The test catalogue as the TOML document it would be."""
    calendar = {"frequency": "annual", "lag_days": 500}
    return {
        "sources": SOURCES,
        "datasets": {
            "recycling": {
                "title": "Recycling rate",
                "source": "eurostat",
                "protocol": "eurostat",
                "url": server.url_for("/eurostat/cei_wm011"),
                "options": {"geo": ["FI", "EU27_2020"], "since": "2000"},
                "cadence": "0 13 * * *",
                "calendar": calendar,
            },
            "emission_factor": {
                "title": "Fingrid 265",
                "source": "fingrid",
                "protocol": "fingrid",
                "url": server.url_for("/api/datasets/{dataset}/data"),
                "options": {
                    "dataset": 265,
                    "days": 28,
                    "page_size": 20000,
                    "reference_date": "2026-11-23",
                },
                "cadence": "30 5 * * *",
                "calendar": {"frequency": "daily", "lag_days": 1},
                "secret_env": "FINGRID_API_KEY",
            },
        },
    }


def ingest(
    engine: Engine, raw: RawStore, datasets: list[str] | None = None, *, catalogue: Catalogue
) -> list[DatasetOutcome]:
    """The real ingest with a live fetcher whose retries wait milliseconds, not seconds."""
    fetcher = LiveFetcher(DbValidatorCache(engine, raw), backoff_base=0.01, backoff_max=0.02, max_attempts=2)
    return run_ingest(engine, raw, datasets or [], catalogue=catalogue, fetcher=fetcher)


@pytest.fixture
def raw(tmp_path: Path) -> RawStore:
    return RawStore(tmp_path / "raw")


@pytest.fixture
def server(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    yield httpserver
    httpserver.clear()


def etag_handler(body: bytes, etag: str) -> Callable[[Request], Response]:
    def handle(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, status=200, content_type="application/json", headers={"ETag": etag})

    return handle


def test_unchanged_upstream_costs_one_304_and_writes_nothing(
    engine: Engine, raw: RawStore, server: HTTPServer
) -> None:
    server.expect_request("/eurostat/cei_wm011").respond_with_handler(etag_handler(EUROSTAT_BODY, '"v1"'))
    cat = catalogue(server)
    first = ingest(engine, raw, ["recycling"], catalogue=cat)[0]
    assert first.outcome == "success" and first.result is not None and first.result.added > 0
    second = ingest(engine, raw, ["recycling"], catalogue=cat)[0]
    assert (second.outcome, second.payloads, second.not_modified) == ("unchanged", 1, 1)
    assert len(read.snapshots(engine, "recycling")) == 1
    runs = read.job_runs(engine, "ingest:recycling")
    assert runs["outcome"].to_list() == ["unchanged", "success"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (EUROSTAT_BODY.replace(b'"geo"', b'"country"'), "geo"),
        (b"<!DOCTYPE html><html><body>Service maintenance</body></html>", "body"),
        (EUROSTAT_BODY[: len(EUROSTAT_BODY) // 2], "body"),
    ],
    ids=["renamed-dimension", "html-with-200", "truncated-json"],
)
def test_rejected_payload_keeps_the_last_good_data(
    engine: Engine, raw: RawStore, server: HTTPServer, bad: bytes, field: str
) -> None:
    cat = catalogue(server)
    server.expect_oneshot_request("/eurostat/cei_wm011").respond_with_data(
        EUROSTAT_BODY, content_type="application/json"
    )
    assert ingest(engine, raw, ["recycling"], catalogue=cat)[0].outcome == "success"
    good = read.observations(engine, "recycling").sort("series_id", "period")
    server.expect_oneshot_request("/eurostat/cei_wm011").respond_with_data(
        bad, content_type="application/json"
    )
    outcome = ingest(engine, raw, ["recycling"], catalogue=cat)[0]
    assert outcome.outcome == "rejected", outcome.error
    assert outcome.error is not None and outcome.error.startswith("recycling: ") and field in outcome.error
    assert len(read.snapshots(engine, "recycling")) == 1
    assert read.observations(engine, "recycling").sort("series_id", "period").equals(good)
    assert read.job_runs(engine, "ingest:recycling")["error"].to_list()[0] == outcome.error


def assert_secret_stored_nowhere(engine: Engine, raw: RawStore) -> None:
    """SECRET in no row of any table and in no raw payload, as stored and as read back (a payload may be
    stored compressed)."""
    dump: list[str] = []
    with engine.connect() as conn:
        tables = MetaData()
        tables.reflect(conn)
        for table in tables.sorted_tables:
            dump.extend(str(row) for row in conn.execute(select(table)))
    assert dump and not any(SECRET in row for row in dump)
    for path in raw.root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes()
            assert SECRET.encode() not in raw.read(path.relative_to(raw.root).as_posix())


def test_api_key_is_sent_but_never_stored_or_logged(
    engine: Engine,
    raw: RawStore,
    server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FINGRID_API_KEY", SECRET)
    seen: list[str | None] = []

    def handle(request: Request) -> Response:
        seen.append(request.headers.get("x-api-key"))
        return Response(FINGRID_BODY, status=200, content_type="application/json")

    server.expect_request("/api/datasets/265/data").respond_with_handler(handle)
    server.expect_request("/eurostat/cei_wm011").respond_with_data(b"{}", status=500)
    caplog.set_level(logging.DEBUG)
    cat = catalogue(server)
    outcomes = {o.dataset_id: o for o in ingest(engine, raw, catalogue=cat)}
    assert outcomes["emission_factor"].outcome == "success" and seen == [SECRET]
    assert outcomes["recycling"].outcome == "failed"
    # a failing request with the key in it: the error must not carry the key either
    server.clear()
    server.expect_request("/api/datasets/265/data").respond_with_data(f"bad key {SECRET}", status=403)
    failed = ingest(engine, raw, ["emission_factor"], catalogue=cat)[0]
    assert failed.outcome == "failed" and SECRET not in (failed.error or "")
    assert SECRET not in caplog.text
    assert_secret_stored_nowhere(engine, raw)


def test_busy_dataset_is_reported_not_run(engine: Engine, raw: RawStore, server: HTTPServer) -> None:
    server.expect_request("/eurostat/cei_wm011").respond_with_data(
        EUROSTAT_BODY, content_type="application/json"
    )
    with job_lock(engine, "ingest:recycling", holder="someone else"):
        outcome = ingest(engine, raw, ["recycling"], catalogue=catalogue(server))[0]
    assert outcome.outcome == "busy" and "busy" in (outcome.error or "")
    assert len(server.log) == 0  # nothing was fetched
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from snapshot")).scalar_one() == 0
    assert json.loads(json.dumps(read.job_runs(engine)["outcome"].to_list())) == ["busy"]


def test_unchanged_datasets_are_recorded_in_one_insert_without_taking_their_locks(
    engine: Engine, raw: RawStore, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINGRID_API_KEY", SECRET)
    server.expect_request("/eurostat/cei_wm011").respond_with_data(
        EUROSTAT_BODY, content_type="application/json"
    )
    server.expect_request("/api/datasets/265/data").respond_with_data(
        FINGRID_BODY, content_type="application/json"
    )
    cat = catalogue(server)
    first = ingest(engine, raw, catalogue=cat)
    assert [o.outcome for o in first] == ["success", "success"]

    locked: list[str] = []

    def counting_lock(engine: Engine, name: str, **kwargs: Any) -> AbstractContextManager[HeldLock]:
        locked.append(name)
        return job_lock(engine, name, **kwargs)

    monkeypatch.setattr("ingest.run.job_lock", counting_lock)
    again = ingest(engine, raw, catalogue=cat)
    assert [(o.dataset_id, o.outcome, o.payloads) for o in again] == [
        ("recycling", "unchanged", 1),
        ("emission_factor", "unchanged", 1),
    ]
    assert locked == []
    runs = read.job_runs(engine)
    assert runs.height == 4
    newest = runs.head(2).sort("job")
    assert newest.select("job", "dataset_id", "outcome", "trigger").rows() == [
        ("ingest:emission_factor", "emission_factor", "unchanged", "cli"),
        ("ingest:recycling", "recycling", "unchanged", "cli"),
    ]
    assert newest["finished_at"].is_not_null().all()
    assert (newest["finished_at"] >= newest["started_at"]).all()
    assert len(read.snapshots(engine, "recycling")) == 1


def test_changed_payload_is_loaded_under_the_lock(
    engine: Engine, raw: RawStore, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.expect_request("/eurostat/cei_wm011").respond_with_data(
        EUROSTAT_BODY, content_type="application/json"
    )
    cat = catalogue(server)
    assert ingest(engine, raw, ["recycling"], catalogue=cat)[0].outcome == "success"
    server.clear()
    changed = EUROSTAT_BODY.replace(b'"0":30.0', b'"0":30.5', 1)
    server.expect_request("/eurostat/cei_wm011").respond_with_data(changed, content_type="application/json")
    locked: list[str] = []

    def counting_lock(engine: Engine, name: str, **kwargs: Any) -> AbstractContextManager[HeldLock]:
        locked.append(name)
        return job_lock(engine, name, **kwargs)

    monkeypatch.setattr("ingest.run.job_lock", counting_lock)
    outcome = ingest(engine, raw, ["recycling"], catalogue=cat)[0]
    assert outcome.outcome == "success" and outcome.result is not None and outcome.result.revised == 1
    assert locked == ["ingest:recycling"]
    assert len(server.log) == 1  # the look-ahead's fetch was loaded, not fetched again
    runs = read.job_runs(engine, "ingest:recycling")
    assert runs["outcome"].to_list() == ["success", "success"]


def test_a_load_by_another_run_between_fetch_and_lock_means_fetching_again(
    engine: Engine, raw: RawStore, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look-ahead fetched v2; before it got the lock another run loaded v3: v2 must not be loaded."""
    cat = catalogue(server)
    bodies = {"now": EUROSTAT_BODY}

    def handle(request: Request) -> Response:
        return Response(bodies["now"], status=200, content_type="application/json")

    server.expect_request("/eurostat/cei_wm011").respond_with_handler(handle)
    assert ingest(engine, raw, ["recycling"], catalogue=cat)[0].outcome == "success"
    v2 = EUROSTAT_BODY.replace(b'"0":30.0', b'"0":30.5', 1)
    v3 = EUROSTAT_BODY.replace(b'"0":30.0', b'"0":31.5', 1)
    bodies["now"] = v2
    other_run: list[DatasetOutcome] = []
    calls: list[str] = []

    def lock_after_another_run(engine: Engine, name: str, **kwargs: Any) -> AbstractContextManager[HeldLock]:
        calls.append(name)
        if len(calls) == 1:  # the outer run is about to lock: the other run loads first
            bodies["now"] = v3
            other_run.extend(ingest(engine, raw, ["recycling"], catalogue=cat))
        return job_lock(engine, name, **kwargs)

    monkeypatch.setattr("ingest.run.job_lock", lock_after_another_run)
    outcome = ingest(engine, raw, ["recycling"], catalogue=cat)[0]
    assert [o.outcome for o in other_run] == ["success"]
    assert outcome.outcome == "unchanged"  # fetched again under the lock: v3, already loaded
    assert len(read.snapshots(engine, "recycling")) == 3 - 1  # v1 and v3; v2 never loaded
    values = read.observations(engine, "recycling").filter(pl.col("period") == "2000")["value"].to_list()
    assert 31.5 in values and 30.5 not in values


def test_the_environment_chooses_the_syke_municipalities(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KESTAVA_SYKE_MUNICIPALITIES overrides the catalogue (and the snapshot): "all" asks for the whole
    country, which the bundled seven-municipality snapshot cannot answer; a list asks for just those."""
    from common.config import get_settings

    monkeypatch.setenv("KESTAVA_SYKE_MUNICIPALITIES", "049, 91")
    get_settings.cache_clear()
    try:
        (outcome,) = run_ingest(engine, RawStore(tmp_path / "raw"), ["syke_emissions"], offline=True)
        assert outcome.outcome == "success", outcome.error
        assert set(read.observations(engine, "syke_emissions")["area"]) == {"049", "091"}
        monkeypatch.setenv("KESTAVA_SYKE_MUNICIPALITIES", "all")
        get_settings.cache_clear()
        (whole,) = run_ingest(engine, RawStore(tmp_path / "raw2"), ["syke_emissions"], offline=True)
        assert whole.outcome == "failed"
        assert "kunta_5.csv" in (whole.error or "")  # Alajärvi (005), the first asked for, is not recorded
    finally:
        get_settings.cache_clear()


def test_a_database_restart_during_the_fetch_costs_no_run_record(
    engine: Engine, raw: RawStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection read before the fetch is kept for the record after it; when the server (PostgreSQL)
    dropped it meanwhile (as a restart does), the run is recorded on a fresh one, not lost."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a server restart is PostgreSQL's")
    assert [o.outcome for o in run_ingest(engine, raw, ["statfin_population"], offline=True)] == ["success"]
    checked_out: list[int] = []
    for pool_of in (engine, unpinged(engine)):  # the reads' connection is the unpinged engine's
        event.listen(
            pool_of, "checkout", lambda dbapi, _record, _proxy: checked_out.append(dbapi.info.backend_pid)
        )
    fetch = ReplayFetcher.get

    def fetch_after_a_restart(fetcher: ReplayFetcher, *args: Any, **kwargs: Any) -> Any:
        if checked_out:  # every connection this ingest holds goes, as in a restart of the server
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for pid in checked_out:
                    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            admin.dispose()
            checked_out.clear()
        return fetch(fetcher, *args, **kwargs)

    monkeypatch.setattr(ReplayFetcher, "get", fetch_after_a_restart)
    (outcome,) = run_ingest(engine, raw, ["statfin_population"], offline=True)
    assert outcome.outcome == "unchanged"
    assert read.job_runs(engine)["outcome"].to_list()[:2] == ["unchanged", "success"]


def test_the_reads_before_the_fetch_do_not_wait_for_a_load_holding_the_write_lock(engine: Engine) -> None:
    """SQLite: autocommit's statements commit one by one, without BEGIN IMMEDIATE, so the lock check and
    the digests read while another run's load holds the write lock (before, they waited for it)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    with engine.begin() as load:  # BEGIN IMMEDIATE: a load in progress
        load.execute(text("DELETE FROM job_lock"))
        started = time.monotonic()
        with autocommit(engine) as conn:
            assert held_locks(conn, ["ingest:a"]) == set() and latest_digests(conn, ["a"]) == {}
        assert time.monotonic() - started < 5  # the busy timeout is 30 s


def test_an_unchanged_run_record_alone_commits_without_waiting_for_the_disk(engine: Engine) -> None:
    """PostgreSQL: record_runs(durable=False) turns synchronous_commit off for its own transaction only (in
    autocommit, the statement's); the default, and the session's setting after it, stay on."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's synchronous_commit")
    at = datetime(2026, 5, 6, 7)
    row = {"job": "ingest:a", "dataset_id": "a", "outcome": "unchanged", "started_at": at, "finished_at": at}
    for durable, close, setting in [
        (False, [], "off"),
        (False, ["failing:ingest:a"], "off"),
        (True, [], "on"),
    ]:
        with engine.begin() as conn:
            assert record_runs(conn, [row], close=close, durable=durable) == []
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == setting
    with autocommit(engine) as conn:
        record_runs(conn, [row], durable=False)
        assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
    assert read.job_runs(engine)["outcome"].to_list() == ["unchanged"] * 4


def test_an_ingest_records_its_unchanged_runs_without_waiting_for_the_disk_but_a_failure_with_it(
    engine: Engine, raw: RawStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [o.outcome for o in run_ingest(engine, raw, ["statfin_population"], offline=True)] == ["success"]
    durable: list[bool] = []
    original = record_runs

    def spying(*args: Any, **kwargs: Any) -> Any:
        durable.append(kwargs["durable"])
        return original(*args, **kwargs)

    monkeypatch.setattr(ingest_run, "record_runs", spying)
    assert [o.outcome for o in run_ingest(engine, raw, ["statfin_population"], offline=True)] == ["unchanged"]

    def failing(*_args: Any, **_kwargs: Any) -> Any:
        raise FetchError("statfin_population", "request", "an answer", "none")

    monkeypatch.setattr(ReplayFetcher, "get", failing)
    assert [o.outcome for o in run_ingest(engine, raw, ["statfin_population"], offline=True)] == ["failed"]
    assert durable == [False, True]
    assert read.job_runs(engine)["outcome"].to_list()[:2] == ["failed", "unchanged"]


def test_a_database_restart_between_runs_costs_the_unpinged_reads_one_retry_not_the_run(
    engine: Engine, raw: RawStore, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL: the reads before the fetch take a connection without pinging the server; when the
    server dropped it since the last run (as a restart does), they run once more on a new one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a server restart is PostgreSQL's")
    assert [o.outcome for o in run_ingest(engine, raw, ["statfin_population"], offline=True)] == ["success"]
    twin = unpinged(engine)
    with twin.connect() as conn:  # the pooled connection the next run's reads will take
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()
    checked_out: list[int] = []
    event.listen(twin, "checkout", lambda dbapi, _record, _proxy: checked_out.append(dbapi.info.backend_pid))
    with caplog.at_level(logging.INFO, logger="storage.engine"):
        (outcome,) = run_ingest(engine, raw, ["statfin_population"], offline=True)
    assert outcome.outcome == "unchanged"
    assert checked_out[0] == pid and pid not in checked_out[1:]  # the dead one, then a new one
    assert "once more on a new one" in caplog.text
    assert read.job_runs(engine)["outcome"].to_list()[:2] == ["unchanged", "success"]


def test_the_unpinged_engine_is_made_once_and_disposed_with_its_engine(engine: Engine) -> None:
    """PostgreSQL: one twin per engine, in autocommit from connect, its pooled connections closed when the
    engine is disposed (no connection left open to a database the caller is done with); SQLite: the engine."""
    if engine.dialect.name != "postgresql":
        assert unpinged(engine) is engine
        return
    twin = unpinged(engine)
    assert unpinged(engine) is twin and twin is not engine
    with autocommit(engine, ping=False) as conn:
        assert conn.engine is twin
        assert conn.execute(text("SHOW transaction_isolation")).scalar()  # a statement outside BEGIN
        assert conn.connection.driver_connection.autocommit  # type: ignore[union-attr]
    assert twin.pool.checkedin() == 1  # type: ignore[attr-defined]
    engine.dispose()
    assert twin.pool.checkedin() == 0  # type: ignore[attr-defined]


def test_a_known_digest_makes_an_unchanged_run_one_statement_and_a_held_lock_or_a_new_snapshot_its_full_path(
    engine: Engine, raw: RawStore
) -> None:
    """After an ingest of one dataset has read its newest digest, the next fetches first and records its
    unchanged run in one statement (two on SQLite: the record, then the all-clear), written only while
    the digest is still the newest and no run holds the lock; otherwise it reads and decides afresh."""
    dataset = "statfin_population"
    clear = AllClear(keys=lambda d: [f"failing:ingest:{d}"], clock=lambda: datetime(2026, 5, 6, 7))
    assert [o.outcome for o in run_ingest(engine, raw, [dataset], offline=True)] == ["success"]
    assert [o.outcome for o in run_ingest(engine, raw, [dataset], offline=True)] == ["unchanged"]  # reads
    statements: list[str] = []
    for pool_of in {engine, unpinged(engine)}:  # (one engine on SQLite)
        event.listen(pool_of, "before_cursor_execute", lambda *args: statements.append(args[2]))
    (quick,) = run_ingest(engine, raw, [dataset], offline=True, all_clear=clear)
    assert quick.outcome == "unchanged" and quick.cleared == ()
    assert len(statements) == (1 if engine.dialect.name == "postgresql" else 2)
    assert read.job_runs(engine)["outcome"].to_list()[:1] == ["unchanged"]
    with job_lock(engine, f"ingest:{dataset}", holder="another run"):  # held: the full path finds it busy
        assert [o.outcome for o in run_ingest(engine, raw, [dataset], offline=True)] == ["busy"]
    ingest_run._KNOWN[engine].digests[dataset] = "0" * 64  # another digest known: fetched and read afresh
    statements.clear()
    assert [o.outcome for o in run_ingest(engine, raw, [dataset], offline=True)] == ["unchanged"]
    assert len(statements) > 2
    outcomes = read.job_runs(engine)["outcome"].to_list()
    assert outcomes[:4] == ["unchanged", "busy", "unchanged", "unchanged"] and len(outcomes) == 5
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.snapshot)).scalar() == 1


# ------------------------------------------------------------------------------------ a slow fetch


def _running(engine: Engine, job: str) -> list[tuple[int, int | None]]:
    """The (id, pid) of the job's runs recorded as running."""
    run = schema.job_run
    with engine.connect() as conn:
        rows = conn.execute(
            select(run.c.id, run.c.pid).where(run.c.job == job, run.c.outcome == "running")
        ).all()
    return [(int(i), None if p is None else int(p)) for i, p in rows]


def _wait_for(found: Callable[[], bool], seconds: float = 20.0) -> bool:
    """Poll until found() or seconds pass; whether it was found."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found():
            return True
        time.sleep(0.05)
    return False


def test_a_slow_fetch_is_recorded_as_running_and_its_run_finished_once(
    engine: Engine, raw: RawStore, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look-ahead fetch outlasting FETCH_VISIBLE_AFTER_S shows as a running run while it goes on (the
    server answers only once it has seen it), and that very run gets the outcome: changed, unchanged,
    failed; no second record."""
    monkeypatch.setattr(ingest_run, "FETCH_VISIBLE_AFTER_S", 0.1, raising=False)
    job = "ingest:recycling"
    seen: list[bool] = []
    status = {"code": 200}

    def slow(_request: Request) -> Response:
        seen.append(_wait_for(lambda: bool(_running(engine, job)), seconds=5))
        if status["code"] != 200:
            return Response("down", status=status["code"])
        return Response(EUROSTAT_BODY, status=200, content_type="application/json")

    server.expect_request("/eurostat/cei_wm011").respond_with_handler(slow)
    cat = catalogue(server)

    assert ingest(engine, raw, ["recycling"], catalogue=cat)[0].outcome == "success"
    assert ingest(engine, raw, ["recycling"], catalogue=cat)[0].outcome == "unchanged"
    status["code"] = 503
    assert ingest(engine, raw, ["recycling"], catalogue=cat)[0].outcome == "failed"

    assert seen and all(seen)  # every request came while its run showed as running
    assert _running(engine, job) == []
    assert read.job_runs(engine, job)["outcome"].to_list() == ["failed", "unchanged", "success"]


_KILLED_INGEST = """
import json, sys
import ingest.run as run
from ingest.catalogue import parse_catalogue
from pathlib import Path
from storage.engine import open_database
from storage.rawstore import RawStore
run.FETCH_VISIBLE_AFTER_S = 0.1
url, document, raw = sys.argv[1:4]
cat = parse_catalogue(json.loads(document))
run.ingest(open_database(url), RawStore(Path(raw)), ["recycling"], catalogue=cat)
"""


def test_a_process_killed_during_a_slow_fetch_leaves_a_run_the_next_command_closes_as_interrupted(
    db_url: str, engine: Engine, tmp_path: Path, server: HTTPServer
) -> None:
    released = threading.Event()

    def hanging(_request: Request) -> Response:
        released.wait(30)
        return Response(EUROSTAT_BODY, status=200, content_type="application/json")

    server.expect_request("/eurostat/cei_wm011").respond_with_handler(hanging)
    document = json.dumps(catalogue_document(server), default=str)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_INGEST, db_url, document, str(tmp_path / "raw")],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait_for(lambda: bool(_running(engine, "ingest:recycling"))), (
            "no running run during the fetch"
        )
        ((_, pid),) = _running(engine, "ingest:recycling")
        assert pid == child.pid
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        released.set()
        if child.poll() is None:
            child.kill()
            child.wait(10)

    assert reap_orphans(engine) == (1, 0)  # what the next command (or the scheduler's start) does first

    runs = read.job_runs(engine, "ingest:recycling")
    assert runs["outcome"].to_list() == ["failed"]
    assert str(runs["error"][0]).startswith(f"interrupted: process {child.pid} on {socket.gethostname()}")


# ------------------------------------------------------------------- an HTML page refused by the fetcher

LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Kirjaudu</title></head><body>Login required</body></html>"


def test_an_html_page_the_fetcher_refuses_is_kept_as_a_rejected_snapshot_that_cannot_be_accepted(
    engine: Engine, raw: RawStore, server: HTTPServer
) -> None:
    from ingest.acceptance import AcceptError, accept
    from storage.rejections import rejections

    cat = catalogue(server)
    url = server.url_for("/eurostat/cei_wm011")
    server.expect_oneshot_request("/eurostat/cei_wm011").respond_with_data(
        EUROSTAT_BODY, content_type="application/json"
    )
    assert ingest(engine, raw, ["recycling"], catalogue=cat)[0].outcome == "success"
    good = read.observations(engine, "recycling").sort("series_id", "period")
    # a login wall answers the data URL with HTTP 200, twice (the same page: one rejected snapshot)
    server.expect_request("/eurostat/cei_wm011").respond_with_data(LOGIN_PAGE, content_type="text/html")

    before = datetime.now(UTC)
    outcome = ingest(engine, raw, ["recycling"], catalogue=cat)[0]
    after = datetime.now(UTC)

    assert outcome.outcome == "rejected", outcome
    (kept,) = rejections(engine, "recycling")
    error = outcome.error or ""
    assert error.startswith("recycling: content-type: expected JSON/CSV/XLSX, not an HTML page")
    assert f"kept as rejected snapshot {kept.short} (`kestava accept recycling` lists it)" in error
    assert "HTML page" in error and "cannot be accepted" in error
    assert (outcome.payloads, outcome.not_modified, outcome.kept_as) == (1, 0, kept.sha256)
    assert not kept.acceptable and [v["kind"] for v in kept.violations] == ["html"]
    # the page byte for byte, with its provenance: what was asked, where it came from and when
    (record,) = kept.payloads
    assert raw.get(str(record["sha256"])) == LOGIN_PAGE
    assert record["sha256"] == hashlib.sha256(LOGIN_PAGE).hexdigest()
    assert (record["method"], record["status"]) == ("GET", 200)
    assert record["url"] == url and str(record["final_url"]).startswith(url)
    assert record["headers"]["content-type"].startswith("text/html")
    assert before <= datetime.fromisoformat(str(record["fetched_at"])) <= after
    # nothing loaded; the run recorded rejected with the note
    assert read.observations(engine, "recycling").sort("series_id", "period").equals(good)
    assert read.job_runs(engine, "ingest:recycling")["outcome"].to_list() == ["rejected", "success"]
    assert read.job_runs(engine, "ingest:recycling")["error"][0] == error

    with pytest.raises(AcceptError, match="the fetcher refused it as an HTML page"):
        accept(engine, cat, "recycling", kept.short, by="Ops", why="looks fine", raw_store=raw)
    assert rejections(engine, "recycling")[0].accepted_at is None

    again = ingest(engine, raw, ["recycling"], catalogue=cat)[0]
    assert again.outcome == "rejected" and again.kept_as == kept.sha256
    (same,) = rejections(engine, "recycling")
    assert same.times == 2


def test_a_failed_fetch_or_a_page_over_the_cap_keeps_nothing(
    engine: Engine, raw: RawStore, server: HTTPServer
) -> None:
    from ingest.acceptance import KEPT_PAGE_BYTES
    from storage.rejections import rejections

    cat = catalogue(server)
    server.expect_oneshot_request("/eurostat/cei_wm011").respond_with_data(b"down", status=503)
    server.expect_oneshot_request("/eurostat/cei_wm011").respond_with_data(b"down", status=503)
    failed = ingest(engine, raw, ["recycling"], catalogue=cat)[0]
    assert (failed.outcome, failed.payloads, failed.kept_as) == ("failed", 0, None)

    huge = b"<!DOCTYPE html><html><body>" + b"x" * KEPT_PAGE_BYTES + b"</body></html>"
    server.expect_oneshot_request("/eurostat/cei_wm011").respond_with_data(huge, content_type="text/html")
    refused = ingest(engine, raw, ["recycling"], catalogue=cat)[0]
    assert (refused.outcome, refused.payloads, refused.kept_as) == ("rejected", 1, None)
    assert f"The page ({len(huge)} bytes) is not kept" in (refused.error or "")

    assert rejections(engine, "recycling") == []
    assert not raw.root.exists() or not [p for p in raw.root.rglob("*") if p.is_file()]


def test_a_refused_page_is_kept_without_the_api_key(
    engine: Engine, raw: RawStore, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.rejections import rejections

    monkeypatch.setenv("FINGRID_API_KEY", SECRET)
    page = f"<html><body>Avain {SECRET} ei kelpaa</body></html>".encode()
    server.expect_request("/api/datasets/265/data").respond_with_data(page, content_type="text/html")

    outcome = ingest(engine, raw, ["emission_factor"], catalogue=catalogue(server))[0]

    assert outcome.outcome == "rejected" and SECRET not in (outcome.error or "")
    (kept,) = rejections(engine, "emission_factor")
    (record,) = kept.payloads
    assert raw.get(str(record["sha256"])) == page.replace(SECRET.encode(), b"***")
    assert_secret_stored_nowhere(engine, raw)


class _ReadsOtherColumns(Connector):
    """A connector whose reading names one more dimension than the catalogue declares."""

    protocol: ClassVar[str] = "ckan_xlsx"
    reader_version: ClassVar[str] = "test"

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        return []

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        row = {"area": "049", "period": "2024", "value": 1.0, "flag": None, "unit": "kt CO2e"}
        dims = {d: "x" for d in spec.dimensions if d not in row}
        return pl.DataFrame([{**row, **dims, "new_column": "y"}], schema_overrides={"flag": pl.String})


def test_a_reading_with_other_dimensions_than_the_catalogue_declares_is_refused() -> None:
    """An empty observations answer takes its columns from the catalogue: a reading must keep to them."""
    spec = load_catalogue().datasets["hsy_emissions"]
    with pytest.raises(
        ValidationError, match="hsy_emissions: dimensions: expected the catalogue's area, measure"
    ):
        parse_flagged(_ReadsOtherColumns(), spec, [])
    assert "new_column" in parse_flagged(_ReadsOtherColumns(), spec.model_copy(update={"dimensions": ()}), [])
