"""Reports for a past period use only what had been published by the period's end (weekly chart data)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import Engine

from report import data as rd
from storage import read


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
