"""Freshness is measured from a dataset's newest period by its end date, of its calendar's frequency."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine

from ingest.catalogue import load_catalogue
from ingest.freshness import freshness, newest_period, period_end, period_kind
from storage.jobs import finish_run, start_run
from storage.load import DatasetInfo, SourceInfo, load_snapshot
from storage.rawstore import RawStore
from tests.conftest import make_payload


@pytest.mark.parametrize(
    ("period", "kind", "end"),
    [
        ("2025", "annual", date(2025, 12, 31)),
        ("2025-H1", "half-yearly", date(2025, 6, 30)),
        ("2025-Q4", "quarterly", date(2025, 12, 31)),
        ("2024-02", "monthly", date(2024, 2, 29)),
        ("2026-W47", "weekly", date(2026, 11, 22)),
        ("2026-W53", "weekly", date(2027, 1, 3)),
        ("2026-11-17", "daily", date(2026, 11, 17)),
    ],
)
def test_every_period_form_has_its_kind_and_end(period: str, kind: str, end: date) -> None:
    assert (period_kind(period), period_end(period)) == (kind, end)


def test_the_newest_period_is_by_end_date_and_of_the_calendars_frequency() -> None:
    # as text "2026-W47" > "2026-11-17", "2026-Q1" > "2026-12", "2026-H1" > "2026-12"
    assert newest_period(["2026-11-17", "2026-W47"], "daily") == "2026-11-17"  # a partial week is no news
    assert newest_period(["2026-W46", "2026-11-17"], "weekly") == "2026-W46"
    assert newest_period(["2026-12", "2026-Q1"], "annual") == "2026-12"  # no year: the one ending last
    assert newest_period(["2025-12", "2026-H1", "2025"], "monthly") == "2025-12"
    assert newest_period(["2024", "2025-Q2"], "annual") == "2024"
    assert newest_period(["2025-W01", "2024-12-30"], "daily") == "2024-12-30"
    assert newest_period([], "daily") is None


def _load_fingrid_shaped(engine: Engine, raw_store: RawStore, last_day: date) -> None:
    """Fingrid 265 as its connector reads it: a daily mean per day of the 28-day window and a weekly mean
    per ISO week it touches, the current one partial."""
    days = [last_day - timedelta(days=n) for n in range(27, -1, -1)]
    weeks = sorted({f"{d.isocalendar().year}-W{d.isocalendar().week:02d}" for d in days})
    periods = [d.isoformat() for d in days] + weeks
    measures = ["daily_mean"] * len(days) + ["weekly_mean"] * len(weeks)
    data = pl.DataFrame(
        {
            "area": ["FI"] * len(periods),
            "measure": measures,
            "period": periods,
            "value": [80.0] * len(periods),
            "flag": [None] * len(periods),
            "unit": ["gCO2/kWh"] * len(periods),
        },
        schema={
            c: pl.Float64 if c == "value" else pl.String
            for c in ("area", "measure", "period", "value", "flag", "unit")
        },
    )
    source = SourceInfo("fingrid", "Fingrid", "CC BY 4.0", "Fingrid", "https://data.fingrid.fi/")
    info = DatasetInfo("fingrid_emission_factor", "Fingrid 265", "fingrid", source)
    body = f"fingrid to {last_day}".encode()
    load_snapshot(engine, info, [make_payload(body)], data, reader_version="t/1", raw_store=raw_store)
    run_id = start_run(engine, "ingest:fingrid_emission_factor", dataset_id=info.id, trigger="test")
    finish_run(engine, run_id, "success")


def test_fingrid_going_quiet_is_late_when_its_calendar_says(engine: Engine, raw_store: RawStore) -> None:
    """Daily rows to Tuesday 2026-11-17 and the partial week 2026-W47 (ending Sunday 11-22): the calendar
    (lag 1 day, grace 2) expects 11-18 from 11-22 on; the partial week must not keep it fresh to 11-27."""
    catalogue = load_catalogue()
    assert catalogue.dataset("fingrid_emission_factor").calendar.frequency == "daily"
    _load_fingrid_shaped(engine, raw_store, date(2026, 11, 17))
    rows = {}
    for today in (date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 26)):
        frame = freshness(engine, catalogue, today).filter(pl.col("dataset") == "fingrid_emission_factor")
        rows[today] = frame.select("latest_period", "latest_period_end", "state").row(0)
        assert frame["tracks"].item() == "periods"
    assert rows == {
        date(2026, 11, 21): ("2026-11-17", date(2026, 11, 17), "fresh"),
        date(2026, 11, 22): ("2026-11-17", date(2026, 11, 17), "late"),
        date(2026, 11, 26): ("2026-11-17", date(2026, 11, 17), "late"),
    }


def test_a_dataset_of_target_years_is_fresh_by_its_release_not_by_its_2050_period(
    engine: Engine, raw_store: RawStore
) -> None:
    """Covenant targets: periods are target years (2030, 2050), never "a period ended in 2050": the
    calendar tracks releases, the last change of the content, expected again within lag + grace days."""
    catalogue = load_catalogue()
    calendar = catalogue.dataset("covenant_targets").calendar
    assert calendar.tracks == "releases"
    data = pl.DataFrame(
        {
            "area": ["049", "049"],
            "measure": ["reduction", "reduction"],
            "period": ["2030", "2050"],
            "value": [80.0, 100.0],
            "flag": [None, None],
            "unit": ["%", "%"],
        },
        schema={
            c: pl.Float64 if c == "value" else pl.String
            for c in ("area", "measure", "period", "value", "flag", "unit")
        },
    )
    source = SourceInfo("covenant", "JRC", "CC BY 4.0", "JRC", "https://example.test/")
    info = DatasetInfo("covenant_targets", "Covenant targets", "gcom_xlsx", source)
    load_snapshot(engine, info, [make_payload(b"targets")], data, reader_version="t/1", raw_store=raw_store)
    loaded = freshness(engine, catalogue, date.today()).filter(pl.col("dataset") == "covenant_targets")
    period, end, state, tracks = loaded.select("latest_period", "latest_period_end", "state", "tracks").row(0)
    assert end is not None and end <= date.today() and period == end.isoformat()  # the release seen
    assert tracks == "releases"  # so displays say "release seen", not a newest period (2026 data)
    assert state == "fresh"
    later = date.today() + timedelta(days=calendar.lag_days + calendar.grace_days + 1)
    stale = freshness(engine, catalogue, later).filter(pl.col("dataset") == "covenant_targets")
    assert stale.select("latest_period_end", "state").row(0) == (end, "late")
