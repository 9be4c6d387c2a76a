"""Demo and live data are never mixed in one database: the first load decides what a database holds, a load
of the other kind is refused naming both (the commands before any fetch, each load in its transaction, the
scheduler at start and per load), unless KESTAVA_ALLOW_MIXED_DATA says it is a test database."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, create_engine, func, select
from typer.testing import CliRunner

import scheduler
from common.config import get_settings
from common.errors import EXIT_USAGE, MixedDataError
from ingest.catalogue import load_catalogue
from ingest.http import LiveFetcher
from ingest.run import ingest
from kestava.cli import app
from schedule.runners import Runners
from storage import schema
from storage.data_kind import ALLOW_SETTING, check_data_kind, refuse_mixing
from storage.load import DatasetInfo, load_snapshot
from storage.rawstore import RawStore
from storage.validators import DbValidatorCache
from tests.conftest import insert_snapshot_row, make_payload
from tests.test_preflight import _alerts, _once, _setup
from tests.test_reconciliation import syke_csv
from tests.test_scheduler import Rig, Work, make_runtime, rig, runs
from tests.test_vintage import HSY, espoo

__all__ = ["rig"]  # the fixture, imported for these tests

SYKE = dataclasses.replace(HSY, id="syke_emissions", title="Syke", protocol="syke_csv")


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A data folder of the test's own, and no allowance from the environment."""
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(ALLOW_SETTING, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    scheduler.set_runtime(None)


def _load(
    engine: Engine, raw_store: RawStore, *, demo: bool, dataset: DatasetInfo = HSY, body: bytes = b"a"
) -> None:
    payload = dataclasses.replace(make_payload(body, datetime(2026, 12, 1, tzinfo=UTC)), is_demo=demo)
    load_snapshot(engine, dataset, [payload], espoo({2020: 850.0}), reader_version="t", raw_store=raw_store)


def _snapshots(engine: Engine) -> list[tuple[str, bool]]:
    snap = schema.snapshot
    with engine.connect() as conn:
        return [(r.dataset_id, r.is_demo) for r in conn.execute(select(snap).order_by(snap.c.id))]


@pytest.mark.parametrize("first_demo", [True, False], ids=["demo-then-live", "live-then-demo"])
def test_a_load_of_the_other_kind_is_refused_naming_both_and_nothing_is_written(
    engine: Engine, raw_store: RawStore, first_demo: bool
) -> None:
    _load(engine, raw_store, demo=first_demo)
    _load(engine, raw_store, demo=first_demo, dataset=SYKE, body=b"b")  # the same kind: loaded
    with pytest.raises(MixedDataError) as refused:
        _load(engine, raw_store, demo=not first_demo, body=b"c")
    message = str(refused.value)
    held, loading = ("demo", "live") if first_demo else ("live", "demo")
    assert message.startswith(f"hsy_emissions: not loaded: the database holds {held} data")
    assert "2 snapshot(s) since 2026-12-01" in message and f"this would load {loading} data" in message
    assert "never mixed in one database" in message and "nothing was loaded" in message
    assert f"{ALLOW_SETTING}=true" in message and "database of their own" in message
    assert _snapshots(engine) == [("hsy_emissions", first_demo), ("syke_emissions", first_demo)]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.observation)).scalar_one() == 2


def test_a_database_holding_both_refuses_either_and_the_setting_allows_both(
    engine: Engine, raw_store: RawStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database mixed before this check existed (the audit's production database after `kestava run`):
    every load is refused, saying it holds both; KESTAVA_ALLOW_MIXED_DATA=true (a test database) allows."""
    _load(engine, raw_store, demo=True)
    monkeypatch.setenv(ALLOW_SETTING, "true")
    get_settings.cache_clear()
    _load(engine, raw_store, demo=False, dataset=SYKE, body=b"b")
    monkeypatch.delenv(ALLOW_SETTING)
    get_settings.cache_clear()
    for demo in (True, False):
        with pytest.raises(
            MixedDataError,
            match=r"holds demo data .* and live data .*\(both: loaded before this check existed",
        ):
            _load(engine, raw_store, demo=demo, body=b"c")
        with pytest.raises(MixedDataError, match="give the live data a new database of their own"):
            check_data_kind(engine, demo=demo)
    check_data_kind(engine, demo=True, allowed=True)  # allowed explicitly: no refusal
    assert len(_snapshots(engine)) == 2


def _demo_snapshot(url: str) -> None:
    """The bundled demo snapshot's kind of row in the database at url, as `kestava run` would leave it."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            insert_snapshot_row(conn, datetime(2026, 12, 7, 8, 0), is_demo=True)
    finally:
        engine.dispose()


def test_the_commands_refuse_before_any_fetch_in_one_line(engine: Engine, raw_store: RawStore) -> None:
    """`kestava ingest --live` into a database of demo data (and the demo snapshot into one of live data):
    one line naming both, exit 2, nothing fetched or recorded; with the setting, the demo loads."""
    url = engine.url.render_as_string(hide_password=False)
    _demo_snapshot(url)
    runner = CliRunner()
    env = {"KESTAVA_DATABASE_URL": url, "COLUMNS": "400"}
    get_settings.cache_clear()
    live = runner.invoke(app, ["ingest", "--live", "hsy_emissions"], env=env)
    assert live.exit_code == EXIT_USAGE, live.output
    text = " ".join(live.output.split())
    assert text.startswith("error: the database at ") and "holds demo data" in text
    assert "this would load live data" in text and "Traceback" not in live.output
    with engine.connect() as conn:  # not fetched: no run was even recorded
        assert conn.execute(select(func.count()).select_from(schema.job_run)).scalar_one() == 0
    with engine.begin() as conn:
        conn.execute(schema.snapshot.update().values(is_demo=False))  # now a database of live data
    get_settings.cache_clear()
    demo = runner.invoke(app, ["ingest", "hsy_emissions"], env=env)
    assert demo.exit_code == EXIT_USAGE, demo.output
    assert "holds live data" in " ".join(demo.output.split()) and "this would load demo data" in demo.output
    get_settings.cache_clear()  # (read once a process: each command is a process of its own)
    allowed = runner.invoke(app, ["ingest", "hsy_emissions"], env={**env, ALLOW_SETTING: "true"})
    assert allowed.exit_code == 0, allowed.output
    assert ("hsy_emissions", True) in _snapshots(engine)


@pytest.fixture
def syke_server(httpserver: HTTPServer) -> Iterator[str]:
    """Syke's Espoo file on a local server; the URL template the catalogue takes."""
    httpserver.expect_request(re.compile(r"^/kunta_0?49\.csv$")).respond_with_data(
        syke_csv(1.0), content_type="text/csv; charset=utf-8"
    )
    yield httpserver.url_for("/kunta_{municipality}.csv")
    httpserver.clear()


def test_a_live_load_into_a_demo_database_fails_its_run_unretried_and_is_alerted_once(
    engine: Engine, db_url: str, tmp_path: Path, syke_server: str
) -> None:
    """The scheduler (live) finds demo data loaded meanwhile (a `kestava run` on the new production database):
    each changed dataset's load is refused and its run recorded failed with the reason, not retried, and
    alerted once as mixed:database (not as the dataset's failing ingest)."""
    raw = RawStore(tmp_path / "raw")
    assert all(o.ok for o in ingest(engine, raw, ["hsy_emissions"], offline=True))  # demo data
    base = load_catalogue()
    options = {**base.dataset("syke_emissions").options, "municipalities": ["049"]}
    syke = base.dataset("syke_emissions").model_copy(update={"url": syke_server, "options": options})
    catalogue = base.model_copy(update={"datasets": {"syke_emissions": syke}})
    fetcher = LiveFetcher(DbValidatorCache(engine, raw), backoff_base=0.01, backoff_max=0.02, max_attempts=2)
    (outcome,) = ingest(engine, raw, ["syke_emissions"], catalogue=catalogue, fetcher=fetcher)
    assert outcome.outcome == "failed" and outcome.mixing is not None
    assert outcome.error is not None and outcome.error.startswith("syke_emissions: not loaded: the database")
    assert runs(engine, "ingest:syke_emissions") == [("failed", "cli")]

    work = Work()
    runtime, channel = make_runtime(engine, db_url, tmp_path, work, catalogue)
    runtime.runners = Runners(compute=work.compute, site=work.site)  # the real ingest
    for _ in range(2):
        assert scheduler.run_ingest_job("syke_emissions") == "failed"
    assert runs(engine, "ingest:syke_emissions") == [("failed", "cli"), *[("failed", "scheduler")] * 2]
    assert [(a.key, a.state) for a in channel.alerts] == [("mixed:database", "problem")]
    assert "holds demo data" in channel.alerts[0].message
    assert not [call for call in work.calls if call[0] == "compute"]
    assert ("syke_emissions", False) not in _snapshots(engine)


def test_the_scheduler_does_not_start_fetching_live_into_a_demo_database(
    db_url: str, httpserver: HTTPServer, rig: Callable[..., Rig]
) -> None:
    """Cron's `--once` (live) on a database of demo data: one line naming both, alerted mixed:database once,
    exit 4 (the unit does not restart it); with --offline (the demo snapshot) it starts and clears it."""
    setup = _setup(rig, db_url, httpserver)
    _demo_snapshot(db_url)
    for _ in range(2):
        result = _once(setup)
        assert result.returncode == 4, result.stderr
    assert _alerts(httpserver) == [("mixed:database", "problem")]
    message = json.loads(httpserver.log[0][0].get_data())["message"]
    assert "holds demo data" in message and "this would load live data" in message
    assert "It exited (status 4)" in message
    errors = [json.loads(line)["message"] for line in result.stderr.splitlines()]
    assert len([m for m in errors if "holds demo data" in m]) == 1, errors
    assert _once(setup, "--offline").returncode == 0
    assert _alerts(httpserver) == [("mixed:database", "problem"), ("mixed:database", "resolved")]


def test_on_postgresql_a_live_load_waits_for_a_demo_load_under_way_and_is_then_refused(
    engine: Engine, raw_store: RawStore
) -> None:
    """Two first loads of the two kinds at once must not both find the database empty: on PostgreSQL a live
    load waits for the lock a demo load holds until it commits (SQLite's loads take the write lock at BEGIN
    IMMEDIATE, one at a time, already), then sees its snapshot and is refused."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's loads run one at a time (BEGIN IMMEDIATE)")
    refused: list[BaseException] = []

    def live_load() -> None:
        try:
            _load(engine, raw_store, demo=False, dataset=SYKE)
        except BaseException as error:
            refused.append(error)

    with engine.connect() as other:
        transaction = other.begin()
        refuse_mixing(other, demo=True, lock=True)  # a demo load under way: the database was empty
        insert_snapshot_row(other, datetime(2026, 12, 7, 8, 0), is_demo=True)
        thread = threading.Thread(target=live_load)
        thread.start()
        thread.join(2.0)
        assert thread.is_alive()  # waiting for the demo load's transaction
        transaction.commit()
    thread.join(60)
    assert not thread.is_alive() and len(refused) == 1 and isinstance(refused[0], MixedDataError)
    assert _snapshots(engine) == [("d", True)]
