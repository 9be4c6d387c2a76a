"""The health report and `kestava status`: dataset and job state, next runs, exit codes for monitoring."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import typer
from sqlalchemy import Engine, event, inspect, select
from sqlalchemy import text as sql
from typer.testing import CliRunner

import scheduler
from common.config import get_settings
from ingest import freshness as freshness_module
from ingest.catalogue import Catalogue, parse_catalogue
from kestava import status
from kestava.status import status_command, status_report
from storage import schema
from storage.engine import create_db_engine, open_database
from storage.jobs import finish_run, record_runs, start_run
from storage.load import DatasetInfo, SourceInfo, load_snapshot
from storage.rawstore import RawStore
from tests.conftest import make_payload

TODAY = date(2026, 3, 10)


def catalogue(lag_days: int = 100) -> Catalogue:
    dataset = {
        "source": "hsy",
        "protocol": "ckan_xlsx",
        "url": "https://example.test/a",
        "cadence": "15 6 * * 1",
        "calendar": {"frequency": "annual", "lag_days": lag_days, "grace_days": 30},
    }
    return parse_catalogue(
        {
            "sources": {"hsy": {"publisher": "HSY", "licence": "CC", "attribution": "HSY", "homepage": "h"}},
            "datasets": {"alpha": {"title": "A", **dataset}, "beta": {"title": "B", **dataset}},
        }
    )


def load(
    engine: Engine,
    raw_store: RawStore,
    dataset: str,
    period: str,
    *,
    demo: bool = False,
    fetched: datetime | None = None,
) -> None:
    """A snapshot of dataset with one value for period, live (or demo: the bundled snapshot's kind, loaded
    beside live data as KESTAVA_ALLOW_MIXED_DATA allows), fetched at fetched (aware; default now)."""
    info = DatasetInfo(dataset, dataset, "ckan_xlsx", SourceInfo("hsy", "HSY", "CC", "HSY", "h"))
    data = pl.DataFrame(
        {"area": ["049"], "period": [period], "value": [1.0], "flag": [None], "unit": ["kt CO2e"]},
        schema={
            "area": pl.String,
            "period": pl.String,
            "value": pl.Float64,
            "flag": pl.String,
            "unit": pl.String,
        },
    )
    body = f"{period} demo".encode() if demo else period.encode()
    payload = dataclasses.replace(make_payload(body, fetched), is_demo=demo)
    load_snapshot(engine, info, [payload], data, reader_version="t/1", raw_store=raw_store, allow_mixed=True)


def record(
    engine: Engine, job: str, outcome: str, error: str | None = None, dataset: str | None = None
) -> None:
    run_id = start_run(engine, job, dataset_id=dataset, trigger="test")
    finish_run(engine, run_id, outcome, error=error)


def test_an_empty_database_is_not_ok(engine: Engine) -> None:
    report = status_report(engine, catalogue(), TODAY)
    assert [d.dataset for d in report.datasets] == ["alpha", "beta"]
    assert all(d.state == "never" and d.next_run is None for d in report.datasets)
    assert report.jobs == () and not report.scheduler_known
    assert not report.ok
    assert report.problems == ["alpha: never", "beta: never"]


def test_status_reports_success_failure_staleness_and_next_runs(engine: Engine, raw_store: RawStore) -> None:
    cat = catalogue()
    load(engine, raw_store, "alpha", "2025")
    record(engine, "ingest:alpha", "success", dataset="alpha")
    load(engine, raw_store, "beta", "2024")
    record(engine, "ingest:beta", "unchanged", dataset="beta")
    record(engine, "ingest:beta", "failed", "beta: HTTP 503 Service Unavailable", dataset="beta")
    record(engine, "compute", "success")
    record(engine, "report:weekly", "failed", "ModuleNotFoundError: report.weekly")
    record(engine, "report:weekly", "busy", "report:weekly: busy")  # busy does not hide the failure
    store = scheduler.JobStore(str(engine.url.render_as_string(hide_password=False)))
    try:
        now = datetime(2026, 3, 10, 12, 0, tzinfo=scheduler.HELSINKI)
        scheduler.sync_jobs(store, scheduler.catalogue_jobs(cat), now, start_now=lambda _s: False)
    finally:
        store.close()

    report = status_report(engine, cat, TODAY, now=now)
    alpha, beta = report.datasets
    assert (alpha.state, alpha.latest_period, alpha.last_outcome) == ("fresh", "2025", "success")
    assert alpha.last_success is not None and alpha.last_failure is None and alpha.ok
    assert alpha.next_run == datetime(2026, 3, 16, 6, 15, tzinfo=scheduler.HELSINKI)  # next Monday
    assert (beta.state, beta.last_outcome) == ("failed", "failed")
    assert beta.last_success is not None and beta.last_failure is not None
    assert beta.last_error == "beta: HTTP 503 Service Unavailable"
    jobs = {j.job: j for j in report.jobs}
    assert (
        jobs["compute"].ok and jobs["compute"].last_outcome == "success" and jobs["compute"].next_run is None
    )
    assert (
        not jobs["report:weekly"].ok
        and jobs["report:weekly"].last_error == "ModuleNotFoundError: report.weekly"
    )
    assert jobs["report:weekly"].next_run == datetime(2026, 3, 16, 7, 0, tzinfo=scheduler.HELSINKI)
    assert jobs["report:half"].last_outcome is None and jobs["report:half"].ok
    assert jobs["health"].next_run is not None
    assert report.scheduler_known and not report.ok
    assert report.problems == [
        "beta: failed (beta: HTTP 503 Service Unavailable)",
        "ingest:beta: failed (beta: HTTP 503 Service Unavailable)",
        "report:weekly: failed (ModuleNotFoundError: report.weekly)",
    ]
    document = json.loads(json.dumps(report.to_dict()))
    assert document["ok"] is False and document["today"] == "2026-03-10"
    assert (
        document["datasets"][0]["next_run"] == "2026-03-16T04:15:00+00:00"
    )  # in UTC, as every time of --json
    assert document["datasets"][0]["last_success"].endswith("+00:00")


def test_a_schedule_left_far_behind_means_the_scheduler_is_down(engine: Engine, raw_store: RawStore) -> None:
    cat = catalogue(lag_days=3650)
    for dataset in ("alpha", "beta"):
        load(engine, raw_store, dataset, "2025")
        record(engine, f"ingest:{dataset}", "success", dataset=dataset)
    store = scheduler.JobStore(str(engine.url.render_as_string(hide_password=False)))
    try:
        synced = datetime(2026, 3, 10, 12, 0, tzinfo=scheduler.HELSINKI)
        scheduler.sync_jobs(store, scheduler.catalogue_jobs(cat), synced, start_now=lambda _s: False)
    finally:
        store.close()
    assert status_report(engine, cat, TODAY, now=synced).ok  # next runs ahead: all well
    a_week_later = status_report(engine, cat, TODAY, now=synced + timedelta(days=7))
    assert not a_week_later.ok
    overdue = [j.job for j in a_week_later.jobs if j.overdue]
    assert overdue == ["health", "ingest:alpha", "ingest:beta", "report:weekly"]  # not report:half (July)
    assert "ingest:alpha: overdue since 2026-03-16 06:15 (is the scheduler running?)" in a_week_later.problems


def test_late_dataset_is_not_ok(engine: Engine, raw_store: RawStore) -> None:
    load(engine, raw_store, "alpha", "2023")
    load(engine, raw_store, "beta", "2025")
    record(engine, "ingest:alpha", "success", dataset="alpha")
    record(engine, "ingest:beta", "success", dataset="beta")
    report = status_report(engine, catalogue(), TODAY)
    assert [d.state for d in report.datasets] == ["late", "fresh"]
    assert report.problems == ["alpha: late"]


@pytest.fixture
def settings_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def use(url: str, cat: Catalogue) -> None:
        monkeypatch.setenv("KESTAVA_DATABASE_URL", url)
        monkeypatch.setattr(status, "load_catalogue", lambda: cat)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def invoke(*args: str) -> Any:
    app = typer.Typer()
    app.command()(status_command)
    return CliRunner().invoke(app, list(args))


def test_status_command_exit_codes(db_url: str, raw_store: RawStore, settings_for: Any) -> None:
    lenient = catalogue(lag_days=3650)  # whatever today is, 2025 data count as fresh
    settings_for(db_url, lenient)
    # no tracker database yet: status says so (exit 2) and creates nothing (no file, no schema)
    result = invoke("--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert "no database at" in error or "holds no tracker database" in error
    assert "kestava migrate" in error
    probe = create_db_engine(db_url)
    try:
        if db_url.startswith("sqlite"):
            assert not Path(db_url.removeprefix("sqlite:///")).exists()
        else:
            assert not inspect(probe).has_table("alembic_version")
    finally:
        probe.dispose()

    engine = open_database(db_url)
    result = invoke("--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["problems"] == ["alpha: never", "beta: never"]
    try:
        for dataset in ("alpha", "beta"):
            load(engine, raw_store, dataset, "2025")
            record(engine, f"ingest:{dataset}", "success", dataset=dataset)
    finally:
        engine.dispose()
    result = invoke()
    assert result.exit_code == 0, result.output
    # Finnish by default, as every command (the JSON's fields are language-independent)
    assert "OK: kaikki aineistot ovat ajan tasalla" in result.stdout and "alpha" in result.stdout
    assert "OK: every dataset is fresh" in invoke("--lang", "en").stdout
    result = invoke("--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"] is True


def test_sources_exits_as_status_does_on_the_same_state(
    db_url: str, raw_store: RawStore, settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kestava sources` keeps the epilog's exit codes as `status` decides a dataset's state: 1 while any
    is late, failing or never fetched (its table or JSON printed all the same), 0 when all are fresh."""
    import logging

    import ingest.catalogue
    from kestava.cli import app

    lenient = catalogue(lag_days=3650)
    settings_for(db_url, lenient)
    monkeypatch.setattr(ingest.catalogue, "load_catalogue", lambda: lenient)  # the one sources reads
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # the CLI configures logging on the runner's stderr
    runner = CliRunner()
    engine = open_database(db_url)
    try:
        load(engine, raw_store, "alpha", "2025")
        record(engine, "ingest:alpha", "success", dataset="alpha")
        for args in ([], ["--json"]):
            sources, health = runner.invoke(app, ["sources", *args]), runner.invoke(app, ["status", *args])
            assert (sources.exit_code, health.exit_code) == (1, 1), sources.output
        rows = {row["dataset"]: row["state"] for row in json.loads(sources.stdout)}
        assert rows == {"alpha": "fresh", "beta": "never"}  # the JSON still printed, and only the JSON
        table = runner.invoke(app, ["sources", "--lang", "fi"])
        assert "alpha" in table.stdout and "ONGELMIA (1):" in table.stdout
        assert "beta: Ei vielä haettu" in table.stdout and "alpha: " not in table.stdout
        load(engine, raw_store, "beta", "2025")
        record(engine, "ingest:beta", "failed", error="HTTP 503", dataset="beta")
        failing = runner.invoke(app, ["sources", "--lang", "en"])
        assert failing.exit_code == 1 and "beta: failed (HTTP 503)" in failing.stdout, failing.stdout
        record(engine, "ingest:beta", "success", dataset="beta")
        for args in ([], ["--json"]):
            sources, health = runner.invoke(app, ["sources", *args]), runner.invoke(app, ["status", *args])
            assert (sources.exit_code, health.exit_code) == (0, 0), sources.output
        assert "ONGELMIA" not in runner.invoke(app, ["sources", "--lang", "fi"]).stdout
    finally:
        engine.dispose()
        root.handlers[:], root.level = handlers, level


def test_a_disk_short_of_free_space_is_a_problem_in_every_language_and_in_the_json(
    db_url: str, raw_store: RawStore, settings_for: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lenient = catalogue(lag_days=3650)
    settings_for(db_url, lenient)
    monkeypatch.setenv("KESTAVA_DATA_DIR", str(tmp_path / "data"))
    engine = open_database(db_url)
    try:
        for dataset in ("alpha", "beta"):
            load(engine, raw_store, dataset, "2025")
            record(engine, f"ingest:{dataset}", "success", dataset=dataset)
    finally:
        engine.dispose()
    result = invoke("--json")
    assert result.exit_code == 0, result.output  # the default minimum (2 GB) is met here
    (disk,) = [d for d in json.loads(result.stdout)["disks"] if d["folder"] == str(tmp_path / "data")]
    assert disk["low"] is False and disk["free_gb"] >= 2

    monkeypatch.setenv("KESTAVA_MIN_FREE_DISK_GB", "1e9")  # a billion GB: no disk has that much free
    get_settings.cache_clear()
    result = invoke("--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False
    (problem,) = document["problems"]
    assert problem.startswith(f"disk space: {tmp_path / 'data'}: ") and "below the minimum of" in problem
    assert "KESTAVA_MIN_FREE_DISK_GB" in problem
    words = {"fi": ("Levytila", "vapaana", "vähimmäismäärän"), "sv": ("Diskutrymme", "ledigt", "minimum")}
    for lang, (title, free, below) in words.items():
        result = invoke("--lang", lang)
        assert result.exit_code == 1
        assert title in result.stdout and free in result.stdout and below in result.stdout, result.stdout
        assert "below the minimum" not in result.stdout


def test_status_command_unreachable_database(settings_for: Any) -> None:
    settings_for("postgresql+psycopg://nobody:topsecret@127.0.0.1:1/none?connect_timeout=2", catalogue())
    result = invoke("--json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False and "status unknown" in document["error"]
    assert "topsecret" not in result.output
    # one line, saying what to check: not the driver's class name, its hint lines and SQLAlchemy's link
    assert "\n" not in document["error"] and "KESTAVA_DATABASE_URL" in document["error"]
    assert "OperationalError" not in document["error"] and "sqlalche.me" not in document["error"]
    plain = invoke()
    assert plain.exit_code == 2
    assert plain.output.startswith("error: status unknown: cannot read postgresql+psycopg://nobody:***@")
    assert plain.output.count("\n") == 1 and "topsecret" not in plain.output


def test_status_json_on_a_bug_is_still_json_and_exit_3(
    settings_for: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bug is not an unreachable database (exit 3, not 2), and a monitor reading --json still gets JSON."""
    from sqlalchemy.exc import InvalidRequestError

    settings_for(f"sqlite:///{tmp_path / 'none.sqlite3'}", catalogue())

    def misused(*_args: object, **_kwargs: object) -> None:
        raise InvalidRequestError("a statement built wrong")

    monkeypatch.setattr(status, "open_any_schema", misused)
    from kestava.cli import app  # the command line's own handler of errors

    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    assert document == {
        "ok": False,
        "error": "status unknown: unexpected InvalidRequestError: a statement built wrong",
    }


def test_json_timestamps_are_utc() -> None:
    moment = datetime(2026, 1, 1, 12, 0)
    assert status._jsonable({"t": moment, "d": date(2026, 1, 1)}) == {
        "t": "2026-01-01T12:00:00+00:00",
        "d": "2026-01-01",
    }
    assert status._jsonable([datetime(2026, 1, 1, tzinfo=UTC)]) == ["2026-01-01T00:00:00+00:00"]
    # the scheduler's next run is kept in Helsinki's time: written in UTC as every other time
    helsinki = datetime(2026, 12, 7, 15, 36, tzinfo=ZoneInfo("Europe/Helsinki"))
    assert status._jsonable({"next_run": helsinki}) == {"next_run": "2026-12-07T13:36:00+00:00"}


def test_status_in_finnish_and_swedish_names_outcomes_and_problems_in_that_language(
    engine: Engine, raw_store: RawStore
) -> None:
    from io import StringIO

    from rich.console import Console

    load(engine, raw_store, "alpha", "2025")
    record(engine, "ingest:alpha", "success", dataset="alpha")
    record(engine, "ingest:beta", "failed", error="HTTP 503", dataset="beta")
    report = status_report(engine, catalogue(lag_days=3650), today=TODAY)
    words = {
        "fi": ("onnistui", "epäonnistui", "ONGELMIA"),
        "sv": ("lyckades", "misslyckades", "PROBLEM"),
        "en": ("success", "failed", "PROBLEMS"),
    }
    for lang, (success, failed, problems) in words.items():
        out = StringIO()
        status.render(report, Console(file=out, width=200, color_system=None), lang)
        text = out.getvalue()
        assert success in text and failed in text and problems in text, (lang, text)
        if lang != "en":
            assert " success " not in text and "beta: failed" not in text, (lang, text)
            assert f"ingest:beta: {failed} (HTTP 503)" in text, text
    # monitoring reads the English lines whatever the language of the tables
    assert "ingest:beta: failed (HTTP 503)" in report.problems


def test_freshness_reads_again_after_every_new_snapshot_or_run(engine: Engine, raw_store: RawStore) -> None:
    from ingest.freshness import freshness

    lenient = catalogue(lag_days=3650)
    load(engine, raw_store, "alpha", "2024")
    record(engine, "ingest:alpha", "success", dataset="alpha")
    first = freshness(engine, lenient, TODAY).filter(pl.col("dataset") == "alpha").row(0, named=True)
    assert (first["latest_period"], first["state"]) == ("2024", "fresh")
    assert freshness(engine, lenient, TODAY).equals(freshness(engine, lenient, TODAY))  # read once, same rows
    load(engine, raw_store, "alpha", "2025")  # a new snapshot: the newest period moves
    assert (
        freshness(engine, lenient, TODAY).filter(pl.col("dataset") == "alpha")["latest_period"].item()
        == "2025"
    )
    record(engine, "ingest:alpha", "failed", error="HTTP 500", dataset="alpha")  # a new run: the state moves
    assert freshness(engine, lenient, TODAY).filter(pl.col("dataset") == "alpha")["state"].item() == "failed"


def test_freshness_reads_of_the_runs_each_datasets_newest_and_newest_fetch_as_every_run_gives_them(
    engine: Engine,
) -> None:
    """The freshness read of the job runs returns, per dataset, its newest finished ingest run and its
    newest that fetched: what going through every run ever made, oldest first, leaves."""
    at = datetime(2026, 5, 1)
    histories = {
        "a": ["success", "failed", "unchanged", "failed", "rejected"],
        "b": ["unchanged", "success"],
        "c": ["failed", "busy"],
    }
    for step in range(5):
        for dataset, outcomes in histories.items():
            if step < len(outcomes):
                when = at + timedelta(hours=step)
                row = {"job": f"ingest:{dataset}", "dataset_id": dataset, "outcome": outcomes[step]}
                record_runs(engine, [{**row, "started_at": when, "finished_at": when, "error": f"{step}"}])
    start_run(engine, "ingest:a", dataset_id="a")  # still running: not a finished run
    record_runs(engine, [{"job": "compute", "outcome": "success", "started_at": at, "finished_at": at}])

    def last(runs: list[tuple[str, datetime | None, str, str | None]]) -> tuple[dict[str, Any], ...]:
        last_run = {dataset: (outcome, error) for dataset, _, outcome, error in runs}
        fetched = {d: f for d, f, outcome, _ in runs if outcome in ("success", "unchanged") and f is not None}
        return last_run, fetched

    with engine.connect() as conn:
        read = freshness_module._ingest_runs(conn)
        run = schema.job_run
        every = conn.execute(
            select(run.c.dataset_id, run.c.finished_at, run.c.outcome, run.c.error)
            .where(run.c.dataset_id.is_not(None), run.c.outcome != "running", run.c.job.like("ingest:%"))
            .order_by(run.c.id)
        ).all()
    assert len(read) == 4 and len(every) == 9  # a: two rows; b: its newest fetched; c: never fetched
    assert last(read) == last([(r[0], r[1], r[2], r[3]) for r in every])
    assert last(read)[0]["a"] == ("rejected", "4") and last(read)[1]["a"] == at + timedelta(hours=2)


def test_a_job_the_catalogue_no_longer_defines_is_listed_as_retired_never_as_a_problem(
    engine: Engine, raw_store: RawStore
) -> None:
    lenient = catalogue(lag_days=3650)
    for dataset in ("alpha", "beta"):
        load(engine, raw_store, dataset, "2025")
        record(engine, f"ingest:{dataset}", "success", dataset=dataset)
    # an opt-in dataset, switched on once, failed, then switched off again: its ingest is never run again
    record(engine, "ingest:cdp_city_emissions", "failed", "HTTP 503", dataset="cdp_city_emissions")
    record(engine, "probe", "failed", "drift")  # no dataset declares a probe any more
    report = status_report(engine, lenient, TODAY)
    assert report.ok and report.problems == []
    jobs = {j.job: j for j in report.jobs}
    assert jobs["ingest:cdp_city_emissions"].retired and jobs["probe"].retired
    assert not jobs["ingest:alpha"].retired
    document = json.loads(json.dumps(report.to_dict()))
    (cdp,) = [j for j in document["jobs"] if j["job"] == "ingest:cdp_city_emissions"]
    assert cdp["retired"] is True and cdp["last_outcome"] == "failed" and cdp["ok"] is True
    # a job the catalogue still defines that fails is still a problem
    record(engine, "ingest:beta", "failed", "HTTP 500", dataset="beta")
    assert status_report(engine, lenient, TODAY).problems == [
        "beta: failed (HTTP 500)",
        "ingest:beta: failed (HTTP 500)",
    ]


def test_a_run_still_running_past_the_job_time_limit_is_a_problem(
    engine: Engine, raw_store: RawStore
) -> None:
    lenient = catalogue(lag_days=3650)
    for dataset in ("alpha", "beta"):
        load(engine, raw_store, dataset, "2025")
        record(engine, f"ingest:{dataset}", "success", dataset=dataset)
    started = datetime(2026, 3, 10, 8, 0)  # naive UTC, as stored
    start_run(engine, "ingest:alpha", dataset_id="alpha", started_at=started)  # never finishes
    within = status_report(engine, lenient, TODAY, now=datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    assert within.ok  # running for an hour, within the default limit
    past = status_report(
        engine, lenient, TODAY, now=datetime(2026, 3, 10, 9, 0, tzinfo=UTC), job_time_limit_min=30
    )
    assert not past.ok
    assert past.problems == ["ingest:alpha: running since 2026-03-10 10:00, over the limit of 30 min (hung?)"]
    (alpha,) = [j for j in past.to_dict()["jobs"] if j["job"] == "ingest:alpha"]
    assert alpha["hung"] is True and alpha["last_outcome"] == "running" and alpha["ok"] is False


def _released_catalogue() -> Catalogue:
    """alpha, tracked by its periods, and gamma, tracked by its releases (periods are target years)."""
    dataset = {
        "source": "hsy",
        "protocol": "ckan_xlsx",
        "url": "https://example.test/a",
        "cadence": "15 6 * * 1",
    }
    return parse_catalogue(
        {
            "sources": {"hsy": {"publisher": "HSY", "licence": "CC", "attribution": "HSY", "homepage": "h"}},
            "datasets": {
                "alpha": {"title": "A", **dataset, "calendar": {"frequency": "annual", "lag_days": 3650}},
                "gamma": {
                    "title": "G",
                    **dataset,
                    "calendar": {"frequency": "annual", "lag_days": 3650, "tracks": "releases"},
                },
            },
        }
    )


def test_a_release_tracked_dataset_says_release_seen_in_status_and_sources(
    db_url: str, raw_store: RawStore, settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gamma's newest "period" 2030 is a target year: status and sources print the day its release was seen
    (loaded today), named so in each language, never as a period; alpha keeps its period 2025."""
    from io import StringIO

    from rich.console import Console

    from kestava.cli import app

    cat = _released_catalogue()
    settings_for(db_url, cat)
    monkeypatch.setattr("ingest.catalogue.load_catalogue", lambda: cat)
    engine = open_database(db_url)
    try:
        load(engine, raw_store, "alpha", "2025")
        load(engine, raw_store, "gamma", "2030")
        report = status_report(engine, cat, today=date.today())
    finally:
        engine.dispose()
    seen = date.today()
    gamma = next(d for d in report.datasets if d.dataset == "gamma")
    assert (gamma.tracks, gamma.latest_period) == ("releases", seen.isoformat())
    expected = {
        "fi": f"julkaisu havaittu {seen.day}.{seen.month}.{seen.year}",
        "sv": f"publicering noterad {seen.day}.{seen.month}.{seen.year}",  # Finland-Swedish, as fi
        "en": f"release seen {seen.day} {seen:%b} {seen.year}",
    }
    for lang, text in expected.items():
        out = StringIO()
        status.render(report, Console(file=out, width=250, color_system=None), lang)
        rows = {line.split()[0]: line for line in out.getvalue().splitlines() if "│" in line}
        assert text in rows["gamma"] and seen.isoformat() not in rows["gamma"], (lang, rows)
        assert "2025" in rows["alpha"] and "havaittu" not in rows["alpha"], (lang, rows)
        listed = CliRunner().invoke(app, ["sources", "--lang", lang])
        assert listed.exit_code == 0, listed.output
        lines = {line.split()[1]: line for line in listed.stdout.splitlines() if line.startswith("│")}
        assert text in lines["gamma"] and "2025" in lines["alpha"], (lang, lines)
    found = {r["dataset"]: r for r in json.loads(CliRunner().invoke(app, ["sources", "--json"]).stdout)}
    assert (found["gamma"]["tracks"], found["alpha"]["tracks"]) == ("releases", "periods")


def test_a_failure_recorded_for_want_of_data_never_loaded_shows_as_waiting_once_a_compute_saw_it(
    engine: Engine,
) -> None:
    from indicators.catalogue import load_indicator_catalogue
    from indicators.engine import FAILED_HASH, compute

    indicators = load_indicator_catalogue()
    indicator = sorted(indicators.indicators)[0]
    datasets = sorted(indicators.datasets_of(indicator))
    with engine.begin() as conn:  # what an older compute recorded before the first ingest of its data
        conn.execute(
            schema.indicator_state.insert().values(
                indicator_id=indicator,
                input_hash=FAILED_HASH,
                computed_at=datetime(2026, 3, 1),
                error=f"derive: {datasets[0]}: no observations",
            )
        )
    before = status_report(engine, catalogue(), TODAY)
    assert [i.indicator for i in before.indicators] == [indicator]  # shown failed by the old record
    summary = compute(engine, catalogue=indicators, today=TODAY)  # nothing loaded: every indicator waits
    assert indicator in summary.waiting and not summary.errors
    report = status_report(engine, catalogue(), TODAY)
    assert report.indicators == ()
    assert not any("failed" in line for line in report.problems)
    (waiting,) = report.waiting  # only the indicator with a record: the others have none to supersede
    assert waiting.indicator == indicator and all(d in waiting.why for d in datasets)
    assert "waiting for a first load" in waiting.why
    document = report.to_dict()
    assert document["failed_indicators"] == [] and document["waiting_indicators"][0]["indicator"] == indicator
    compute(engine, catalogue=indicators, today=TODAY)  # still waiting: the record is left as it is
    assert status_report(engine, catalogue(), TODAY).waiting == report.waiting
    from io import StringIO

    from rich.console import Console

    titles = {"fi": "odottavat aineistonsa", "sv": "väntar på den första", "en": "waiting for a"}
    for lang, title in titles.items():
        out = StringIO()
        status.render(report, Console(file=out, width=250, color_system=None), lang)
        shown = out.getvalue()
        assert title in shown and indicator in shown and datasets[0] in shown, (lang, shown)


def test_status_at_cron_mails_80_columns_keeps_each_id_whole(engine: Engine, raw_store: RawStore) -> None:
    """At 80 columns (cron's mail) the ids had been cut mid-word ("hsy_emiss" / "ions")."""
    from io import StringIO

    from rich.console import Console

    long_id = "eurostat_urb_cenv_emissions"
    wide = catalogue(lag_days=3650)
    wide = wide.model_copy(
        update={"datasets": {long_id: wide.datasets["alpha"].model_copy(update={"id": long_id})}}
    )
    record(engine, f"ingest:{long_id}", "failed", error="HTTP 503 Service Unavailable", dataset=long_id)
    report = status_report(engine, wide, today=TODAY)
    out = StringIO()
    status.render(report, Console(file=out, width=80, color_system=None), "en")
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    for whole in (long_id, f"ingest:{long_id}"):
        assert any(line.split()[:1] == [whole] for line in lines), (whole, out.getvalue())


def _rendered(report: status.StatusReport, width: int, lang: str = "en") -> str:
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    status.render(report, Console(file=out, width=width, color_system=None), lang)
    return out.getvalue()


def _unfolded(text: str) -> str:
    """The table's text with its rules and line breaks gone, so that a folded cell reads whole again."""
    return "".join(text.replace("│", " ").split())


def test_status_at_80_columns_keeps_words_and_times_whole_and_every_error_readable(
    engine: Engine, raw_store: RawStore
) -> None:
    """Cron's mail is 80 columns wide: the tables had cut "2026-1" / "2-07" and "Myöhäs" / "sä"."""
    error = "HTTP 503 Service Unavailable from https://example.test/a after 3 attempts [pid 4242] retry later"
    load(engine, raw_store, "alpha", "2025")
    record(engine, "ingest:alpha", "success", dataset="alpha")
    record(engine, "ingest:beta", "failed", error=error, dataset="beta")
    report = status_report(engine, catalogue(lag_days=3650), today=TODAY)
    for lang in ("fi", "sv", "en"):
        text = _rendered(report, 80, lang)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= 80, text
        stamps = [status.when(d.last_success) for d in report.datasets if d.last_success]
        stamps += [status.when(d.last_failure) for d in report.datasets if d.last_failure]
        for stamp in stamps:  # the date and the time each whole, on one line or the date above the time
            day, minute = stamp.split()
            assert any(day in line for line in lines) and any(minute in line for line in lines), text
        for label in {status.state_label(d.state, lang) for d in report.datasets}:
            for word in label.split():
                assert any(word in line for line in lines), (word, text)
        # the message folds where it must, nothing of it lost, its brackets not taken for markup
        assert _unfolded(error) in _unfolded(text), text


def test_status_leaves_out_empty_columns_and_says_which(engine: Engine, raw_store: RawStore) -> None:
    load(engine, raw_store, "alpha", "2025")
    record(engine, "ingest:alpha", "success", dataset="alpha")
    report = status_report(engine, catalogue(lag_days=3650), today=TODAY)
    text = _rendered(report, 200)
    header = next(line for line in text.splitlines() if line.startswith("Dataset "))
    assert "Last success" in header and "Last failure" not in header and "Error" not in header, text
    assert "Empty columns left out: Last failure, Error" in text, text
    # nothing scheduled: said once per table, instead of a column repeating it on every row
    assert "Next run: not scheduled" in text and "Next run" not in header, text
    record(engine, "ingest:alpha", "failed", error="HTTP 500", dataset="alpha")
    failed = _rendered(status_report(engine, catalogue(lag_days=3650), today=TODAY), 200)
    header = next(line for line in failed.splitlines() if line.startswith("Dataset "))
    assert "Last failure" in header and "Error" in header and "HTTP 500" in failed, failed
    assert "Empty columns left out" not in failed.split("Jobs")[0], failed


def test_status_narrower_than_its_ids_lists_each_row_as_lines(engine: Engine, raw_store: RawStore) -> None:
    """Too narrow for the table with each id and word whole: one block per row, every value in it."""
    load(engine, raw_store, "alpha", "2025")
    record(engine, "ingest:alpha", "success", dataset="alpha")
    record(engine, "ingest:beta", "failed", error="HTTP 503 Service Unavailable", dataset="beta")
    report = status_report(engine, catalogue(lag_days=3650), today=TODAY)
    text = _rendered(report, 36)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 36, text
    assert "┃" not in text.split("Disk space")[0], text  # the disks' table is narrow enough to stay one
    assert "ingest:beta" in lines and "beta" in lines, text
    beta = lines.index("beta")
    block = lines[beta + 1 : lines.index("Next run: not scheduled")]  # the caption ends the table
    assert all(line.startswith("  ") for line in block), text
    # "  Heading:  value", a value's further lines aligned under its first
    headings = [line.split(":")[0].strip() for line in block if not line.startswith("   ")]
    assert headings[:3] == ["State", "Last failure", "Error"], text
    for cell in (
        "State: Fetch or load failed",
        f"Last failure: {status.when(report.datasets[1].last_failure)}",
        "Error: HTTP 503 Service Unavailable",
    ):
        assert _unfolded(cell) in _unfolded("\n".join(block)), (cell, text)


def _words(text: str) -> str:
    """Printed text with its line breaks (Rich folds a long line at the console's width) read as spaces."""
    return " ".join(text.split())


def test_status_says_whether_the_database_holds_demo_or_live_data_or_none_or_both(
    db_url: str, raw_store: RawStore, settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A production database given the demo snapshot by mistake shows as demo, in every language and in the
    JSON; nothing loaded is 'empty'; both kinds (only with KESTAVA_ALLOW_MIXED_DATA) 'mixed'."""
    settings_for(db_url, catalogue(lag_days=3650))
    engine = open_database(db_url)
    try:
        document = json.loads(invoke("--json").stdout)
        assert document["data"] == {"kind": "empty", "held": []}
        assert "Tietokannan aineisto: tyhjä (mitään ei ole vielä ladattu)" in _words(invoke().stdout)

        demo_at = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # 10.30 in Helsinki
        load(engine, raw_store, "alpha", "2025", demo=True, fetched=demo_at)
        load(engine, raw_store, "beta", "2025", demo=True, fetched=demo_at + timedelta(hours=1))
        document = json.loads(invoke("--json").stdout)
        assert document["data"] == {
            "kind": "demo",
            "held": [{"demo": True, "snapshots": 2, "since": "2026-12-01T08:30:00+00:00"}],
        }
        lines = {lang: _words(invoke("--lang", lang).stdout) for lang in ("fi", "sv", "en")}
        assert "Tietokannan aineisto: demo (pakattu demo-aineisto" in lines["fi"]
        assert "2 aineistoversiota, ensimmäinen haettu 2026-12-01 10:30" in lines["fi"]
        assert "Databasens data: demo" in lines["sv"] and "2 dataversioner" in lines["sv"]
        assert "Data in the database: demo (the bundled demo snapshot" in lines["en"]
        assert "2 snapshots, the first fetched 2026-12-01 10:30" in lines["en"]

        live_at = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
        load(engine, raw_store, "alpha", "2025", demo=False, fetched=live_at)
        document = json.loads(invoke("--json").stdout)
        assert document["data"]["kind"] == "mixed"
        assert [(h["demo"], h["snapshots"]) for h in document["data"]["held"]] == [(True, 2), (False, 1)]
        english = _words(invoke("--lang", "en").stdout)
        assert "Data in the database: both demo and live" in english
        assert "demo 2 snapshots (since 2026-12-01 10:30), live 1 (since 2026-12-02 08:00)" in english
        # unless KESTAVA_ALLOW_MIXED_DATA allows it, both kinds are a problem: the scheduler refuses to start
        refused = "mixed:database: the database holds both demo and live data"
        assert document["ok"] is False and any(p.startswith(refused) for p in document["problems"])
        assert invoke().exit_code == 1 and "mixed:database: tietokannassa on sekä demo-" in _words(
            invoke().stdout
        )
        monkeypatch.setenv("KESTAVA_ALLOW_MIXED_DATA", "true")
        get_settings.cache_clear()
        document = json.loads(invoke("--json").stdout)
        assert document["data"]["kind"] == "mixed" and document["ok"] is True, document["problems"]
    finally:
        engine.dispose()


def test_a_database_of_live_data_shows_live_read_in_one_statement(
    engine: Engine, raw_store: RawStore
) -> None:
    """status_report reads the kinds once (storage.data_kind.held_data), no query of its own besides."""
    load(engine, raw_store, "alpha", "2025", demo=False, fetched=datetime(2026, 3, 1, tzinfo=UTC))
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        report = status_report(engine, catalogue(), TODAY, disks=())
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert report.data_kind == "live" and report.to_dict()["data"]["kind"] == "live"
    assert [h.snapshots for h in report.held] == [1] and report.held[0].demo is False
    # held_data's count of the snapshots by kind, once (freshness reads each dataset's newest one's kind)
    assert len([s for s in statements if "GROUP BY snapshot.is_demo" in s]) == 1, statements
    assert "Data in the database: live (fetched from the sources): 1 snapshots" in _rendered(report, 200)


def _at_revision(url: str, revision: str) -> None:
    """The database at url made by the migrations up to revision (an older tracker's), or, for a revision
    this tracker does not have, migrated and then stamped with it (a newer tracker's migration)."""
    from alembic import command as alembic_command

    from storage.engine import alembic_config, head_revision

    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            alembic_command.upgrade(config, min(revision, head_revision()))
            if revision > head_revision():
                connection.execute(sql("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    finally:
        engine.dispose()


def test_status_shows_a_current_schema_as_such(db_url: str, settings_for: Any) -> None:
    from storage.engine import head_revision

    settings_for(db_url, catalogue(lag_days=3650))
    _at_revision(db_url, head_revision())
    result = invoke("--json")
    assert result.exit_code == 1, result.output  # never fetched: a problem, but read
    head = head_revision()
    assert json.loads(result.stdout)["schema"] == {"state": "current", "database": head, "tracker": head}
    assert f"Tietokannan rakenne: ajan tasalla (versio {head})" in _words(invoke().stdout)
    assert f"Database schema: current (version {head})" in _words(invoke("--lang", "en").stdout)


@pytest.mark.parametrize("revision", ["0003", "0099"], ids=["behind", "newer"])
def test_status_shows_a_schema_behind_or_newer_and_what_to_do(
    db_url: str, settings_for: Any, revision: str
) -> None:
    """Behind (an upgrade not yet migrated): the command that migrates. Newer (the code rolled back after
    a newer tracker migrated the database): why, and what to do. Nothing else is read (this code's reads
    are of its own schema): exit 2, as before, the JSON with the schema's state."""
    from storage.engine import head_revision

    settings_for(db_url, catalogue(lag_days=3650))
    _at_revision(db_url, revision)
    head, state = head_revision(), "behind" if revision < head_revision() else "newer"
    result = invoke("--json")
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False and "datasets" not in document
    assert document["schema"] == {"state": state, "database": revision, "tracker": head}
    assert document["error"].startswith("status unknown: the database at ")
    texts = {lang: invoke("--lang", lang) for lang in ("fi", "sv", "en")}
    assert all(r.exit_code == 2 and "Traceback" not in r.output for r in texts.values())
    fi, sv, en = (_words(texts[lang].stdout) for lang in ("fi", "sv", "en"))
    assert "error: status unknown: the database at " in texts["fi"].output  # the one-line error as before
    # the error line on stderr names both versions but does not say again what the schema line just said
    # (why, what to do): it had repeated the line's advice in English, nearly word for word
    advice_en = en.split(f"{head}: ", 1)[1]
    errors = set()
    for lang, result in texts.items():
        assert "error:" not in result.stdout
        (error,) = result.stderr.strip().splitlines()
        assert error.startswith("error: status unknown: ") and revision in error and head in error, error
        for advice in (_words(result.stdout).split(f"{head}: ", 1)[1], advice_en):
            runs = [" ".join(advice.split()[i : i + 4]) for i in range(len(advice.split()) - 3)]
            assert runs and not [run for run in runs if run in _words(error)], (lang, error)
        unsaid = ("data are kept", "pending") if state == "behind" else ("rolled back", "restore", "backup")
        assert not [phrase for phrase in unsaid if phrase in error], error
        errors.add(error)
    assert len(errors) == 1  # in English whatever the tables' language, as every command's error line
    if state == "behind":
        assert f"this version of the tracker needs {head}: run `kestava migrate`" in document["error"]
        assert f"Tietokannan rakenne: versio {revision}, tämä seurannan versio tarvitsee version {head}" in fi
        assert "migraatioita odottaa, aja `kestava migrate`" in fi
        assert "migreringar väntar, kör `kestava migrate`" in sv
        assert "migrations pending, run `kestava migrate` (the data are kept)" in en
    else:
        assert "this code was rolled back, or is older than the tracker that migrated it" in document["error"]
        assert f"Tietokannan rakenne: versio {revision}, uudempi kuin tämän seurannan {head}" in fi
        assert "koodi on palautettu vanhempaan" in fi and "varmuuskopio" in fi
        assert "koden har återställts" in sv and "säkerhetskopia" in sv
        assert f"version {revision}, newer than this tracker's {head}: the code was rolled back" in en
        assert "upgrade this tracker to that version, or restore the database's backup" in en
