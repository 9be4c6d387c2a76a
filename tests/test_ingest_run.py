"""Ingest runs against a real local HTTP server: last good data kept, secrets kept out, 304s, locks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, MetaData, select, text
from werkzeug import Request, Response

from ingest.catalogue import Catalogue, parse_catalogue
from ingest.http import LiveFetcher
from ingest.run import DatasetOutcome
from ingest.run import ingest as run_ingest
from storage import read
from storage.locks import job_lock
from storage.rawstore import RawStore
from storage.validators import DbValidatorCache

SNAPSHOT = Path(__file__).resolve().parent.parent / "data" / "snapshot"
EUROSTAT_BODY = (SNAPSHOT / "eurostat" / "cei_wm011.json").read_bytes()
FINGRID_BODY = (SNAPSHOT / "fingrid_emission_factor" / "page_1.json").read_bytes()
SECRET = "fingrid-key-7f3a9c-do-not-leak"
SOURCES = {
    "eurostat": {"publisher": "Eurostat", "licence": "reuse", "attribution": "Eurostat", "homepage": "h"},
    "fingrid": {"publisher": "Fingrid", "licence": "CC BY 4.0", "attribution": "Fingrid", "homepage": "h"},
}


def catalogue(server: HTTPServer) -> Catalogue:
    calendar = {"frequency": "annual", "lag_days": 500}
    return parse_catalogue(
        {
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
    )


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
