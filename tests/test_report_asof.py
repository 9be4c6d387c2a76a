"""Reports for a past period use only what had been published by the period's end, and stay the same."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, select, update

from common.errors import NothingToReportError
from common.helsinki import HELSINKI
from indicators.engine import compute
from ingest.manifest import DEFAULT_SNAPSHOT_DIR
from ingest.run import ingest
from report import data as rd
from report import weekly
from report.i18n import format_date
from storage import read, schema
from storage.engine import open_database
from storage.rawstore import RawStore
from tests.conftest import BACKENDS, LoadedTemplates, forget_computed
from tests.test_revisions import revise_snapshot


def test_weekly_chart_of_a_past_period_has_no_later_weeks_or_fetches(loaded_engine: Engine) -> None:
    current = rd.weekly_frame(loaded_engine)
    snaps = read.snapshots(loaded_engine)
    fetched = {int(i): t for i, t in zip(snaps["id"], snaps["fetched_at"], strict=True)}
    latest_fetch = max(fetched[int(i)] for ids in current["snapshot_ids"] for i in ids)
    # the day after the last fetch: everything had been published, the chart is the current one
    after = (latest_fetch + timedelta(days=1)).date()
    assert rd.weekly_frame(loaded_engine, as_of=after).equals(current)
    # a period that ended before that fetch must not show what the fetch brought
    before = latest_fetch.date() - timedelta(days=1)
    try:
        past = rd.weekly_frame(loaded_engine, as_of=before)
    except rd.MissingDataError:
        return
    end = datetime.combine(before + timedelta(days=1), datetime.min.time())
    for year, week in past.select("year", "week").iter_rows():
        assert date.fromisocalendar(year, week, 7) <= before
    for ids in past["snapshot_ids"]:
        assert all(fetched[int(i)] < end for i in ids)
    assert past.height < current.height


def test_weekly_chart_before_any_fetch_is_missing_not_later_data(loaded_engine: Engine) -> None:
    snaps = read.snapshots(loaded_engine)
    first = min(snaps["fetched_at"]).replace(tzinfo=UTC).date()
    with pytest.raises(rd.MissingDataError, match="weekly"):
        rd.weekly_frame(loaded_engine, as_of=first - timedelta(days=2))
    assert isinstance(snaps, pl.DataFrame)


# --------------------------------------------------------------------------------------------------
# a closed period's whole report, regenerated after a later vintage

WEEKS_AGO = 3  # the first vintage is dated three weeks back; the report is for the week after it


def _date_back(engine: Engine, days: int) -> None:
    """Move every fetch, load and job of the database `days` back in time, as if it had happened then
    (row by row in Python: date arithmetic in SQL differs between SQLite and PostgreSQL)."""
    shift = timedelta(days=days)
    with engine.begin() as conn:
        for table, columns in (
            (schema.snapshot, ("fetched_at",)),
            (schema.payload, ("fetched_at",)),
            (schema.job_run, ("started_at", "finished_at")),
        ):
            for row in conn.execute(select(table.c.id, *(table.c[c] for c in columns))).all():
                moved = {c: row[i + 1] - shift for i, c in enumerate(columns) if row[i + 1] is not None}
                conn.execute(update(table).where(table.c.id == row[0]).values(moved))
        obs = schema.observation
        for snapshot_id, fetched_at in conn.execute(
            select(schema.snapshot.c.id, schema.snapshot.c.fetched_at)
        ):
            conn.execute(update(obs).where(obs.c.snapshot_id == snapshot_id).values(valid_from=fetched_at))


def _tables(folder: Path) -> dict[str, str]:
    """Every chart's data (CSV) of a written report, by file name."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.csv"))}


@pytest.fixture(scope="module", params=BACKENDS)
def regenerated(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    loaded_templates: LoadedTemplates,
) -> Iterator[dict[str, Any]]:
    """A closed week's and the current week's reports, before and after a later vintage."""
    folder = tmp_path_factory.mktemp("as-of")
    # the bundled snapshot as the run's template ingested it (its compute undone: it comes after the dating)
    with loaded_templates.copy(request.param, folder) as url:
        engine = open_database(url)
        raw = RawStore(folder / "raw")
        forget_computed(engine)
        _date_back(engine, 7 * WEEKS_AGO)
        assert not compute(engine).errors
        today = datetime.now(HELSINKI).date()
        closed = weekly.current_week(today - timedelta(days=7 * (WEEKS_AGO - 1)))
        before_any = weekly.current_week(today - timedelta(days=7 * (WEEKS_AGO + 2)))
        first = weekly.build_reports(engine, closed, ("fi", "en"), out_dir=folder / "first", images=False)
        first_tables = {lang: _tables(r.path.parent) for lang, r in first.items()}
        first_current = weekly.build_reports(
            engine, weekly.current_week(today), ("en",), out_dir=folder / "first", images=False
        )["en"]

        snapshot = folder / "snapshot"
        shutil.copytree(DEFAULT_SNAPSHOT_DIR, snapshot)
        revise_snapshot(snapshot)
        assert all(o.outcome == "success" for o in ingest(engine, raw, offline=True, snapshot_dir=snapshot))
        assert not compute(engine).errors
        again = weekly.build_reports(engine, closed, ("fi", "en"), out_dir=folder / "again", images=False)
        current = weekly.build_reports(
            engine, weekly.current_week(today), ("en",), out_dir=folder / "again", images=False
        )["en"]
        with pytest.raises(NothingToReportError) as refused:
            weekly.build_reports(engine, before_any, ("en",), out_dir=folder / "again", images=False)
        yield {
            "closed": closed,
            "first": first_tables,
            "again": {lang: _tables(r.path.parent) for lang, r in again.items()},
            "again_html": again["en"].path.read_text(encoding="utf-8"),
            "first_current": _tables(first_current.path.parent),
            "current": _tables(current.path.parent),
            "current_html": current.path.read_text(encoding="utf-8"),
            "before_any": (before_any, str(refused.value), folder / "again" / before_any.key),
        }
        engine.dispose()


def test_a_closed_week_regenerated_after_a_revision_has_the_same_numbers(regenerated: dict[str, Any]) -> None:
    first, again = regenerated["first"], regenerated["again"]
    for lang in ("fi", "en"):
        assert first[lang], "the closed week's report has chart tables"
        assert "emissions_trajectory.csv" in first[lang], sorted(first[lang])
        assert again[lang] == first[lang], lang


def test_the_current_week_shows_the_revision_the_closed_week_does_not(regenerated: dict[str, Any]) -> None:
    # the revision moved Espoo's emissions (test_revisions): the current report changed, so the equality
    # above is not equality by accident
    assert (
        regenerated["current"]["emissions_trajectory.csv"]
        != regenerated["first_current"]["emissions_trajectory.csv"]
    )
    assert (
        regenerated["again"]["en"]["emissions_trajectory.csv"]
        == regenerated["first_current"]["emissions_trajectory.csv"]
    )


def test_a_closed_report_says_its_figures_are_as_published_by_its_end(regenerated: dict[str, Any]) -> None:
    last_day = regenerated["closed"].last_day
    assert f"as they had been published by {format_date(last_day, 'en')}" in regenerated["again_html"]
    assert "as they had been published by" not in regenerated["current_html"]


def test_a_week_before_the_first_fetch_is_not_written_and_says_why(regenerated: dict[str, Any]) -> None:
    """Its report would show nothing (only what had been fetched by its end, and nothing had): none is
    written, and the reason names the week's end and the first fetch (it had been an empty report)."""
    week, reason, folder = regenerated["before_any"]
    assert reason.startswith(f"report {week.key} not written: it would show no data")
    assert f"ended on {week.last_day:%Y-%m-%d}" in reason and "first data were fetched on" in reason
    assert not folder.exists()
