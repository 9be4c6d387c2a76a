"""One indicator that raises while computing is recorded as its failure; the others are computed."""

from __future__ import annotations

import copy
import tomllib
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, select

from indicators.catalogue import CATALOGUE_PATH, IndicatorCatalogue, parse_indicator_catalogue
from indicators.engine import FAILED_HASH, assessments, compute, derive_for, isolated
from ingest.run import ingest
from storage import schema
from storage.rawstore import RawStore

TODAY = date(2026, 11, 27)
KEPT = ("ghg_total", "ghg_index", "population", "ghg_per_resident")


def small_catalogue(*, broken: bool) -> IndicatorCatalogue:
    """Four real indicators; with broken, a fifth whose filter compares the numeric value with text.

    The filter passes the catalogue's checks (value is a column of the dataset) but polars refuses the
    comparison when the sum runs: an exception that is not a DataError, raised inside derive.
    """
    with CATALOGUE_PATH.open("rb") as handle:
        raw = tomllib.load(handle)
    indicators = {key: raw["indicators"][key] for key in KEPT}
    if broken:
        entry = copy.deepcopy(raw["indicators"]["ghg_total"])
        entry.pop("headline", None)
        entry.pop("order", None)
        entry["name"] = {"fi": "rikki", "sv": "trasig", "en": "broken"}
        entry["derive"]["filter"] = {"measure": "emissions", "value": "abc"}
        indicators["broken_sum"] = entry
    return parse_indicator_catalogue({"indicators": indicators})


@pytest.fixture
def two_datasets(engine: Engine, tmp_path: Path) -> Engine:
    outcomes = ingest(
        engine, RawStore(tmp_path / "raw"), ["hsy_emissions", "statfin_population"], offline=True
    )
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return engine


def stored_values(engine: Engine, indicator: str) -> list[tuple[str, str, str, float]]:
    table = schema.indicator_value
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.area, table.c.period, table.c.kind, table.c.value)
            .where(table.c.indicator_id == indicator)
            .order_by(table.c.area, table.c.period, table.c.kind)
        ).all()
    return [(a, p, k, float(v)) for a, p, k, v in rows]


def test_an_indicator_that_raises_does_not_stop_the_others(two_datasets: Engine) -> None:
    engine = two_datasets
    summary = compute(engine, today=TODAY, catalogue=small_catalogue(broken=True))
    assert sorted(summary.computed) == sorted(KEPT)
    assert list(summary.errors) == ["broken_sum"]
    reason = summary.errors["broken_sum"]
    assert reason.startswith("indicator broken_sum (datasets hsy_emissions): derive: ")
    assert "cannot compare string with numeric" in reason
    # the others are as they would be without the broken one: Espoo's 2030 target is −80 % on 1990
    target = [
        v for a, p, k, v in stored_values(engine, "ghg_total") if (a, p, k) == ("049", "2030", "target")
    ]
    assert target == [pytest.approx(212, abs=1)]
    assert stored_values(engine, "broken_sum") == []
    state = schema.indicator_state
    with engine.connect() as conn:
        found = conn.execute(select(state.c.indicator_id, state.c.input_hash, state.c.error)).all()
    rows = {i: (h, e) for i, h, e in found}
    assert rows["broken_sum"] == (FAILED_HASH, reason)
    assert rows["ghg_total"][1] is None and len(rows["ghg_total"][0]) == 64
    # the failure is tried again on the next run; the computed indicators are unchanged
    again = compute(engine, today=TODAY, catalogue=small_catalogue(broken=True))
    assert list(again.errors) == ["broken_sum"] and again.computed == []
    assert sorted(again.unchanged) == sorted(KEPT)
    # also by a compute for datasets it does not read: one without errors means that none is failing
    other = compute(
        engine, datasets=["statfin_population"], today=TODAY, catalogue=small_catalogue(broken=True)
    )
    assert list(other.errors) == ["broken_sum"] and other.computed == []


def test_an_assessment_that_raises_drops_only_its_indicator(two_datasets: Engine) -> None:
    catalogue = small_catalogue(broken=False)
    derived, errors = derive_for(two_datasets, catalogue, list(KEPT))
    assert errors == {}
    # the same year twice in one series: the assessment methods refuse it (SeriesError)
    twice = {**derived, "ghg_index": pl.concat([derived["ghg_index"], derived["ghg_index"]])}
    result = isolated(catalogue, "assessments", lambda d: assessments(catalogue, d), twice, errors)
    assert list(errors) == ["ghg_index"]
    assert errors["ghg_index"].startswith(
        "indicator ghg_index (datasets hsy_emissions): assessments: SeriesError"
    )
    assert "duplicate year" in errors["ghg_index"]
    assert "ghg_index" not in result["indicator"].to_list()
    alone = assessments(catalogue, {i: f for i, f in derived.items() if i != "ghg_index"})
    order = ["indicator", "area", "method"]
    assert_frame_equal(result.sort(order), alone.sort(order), check_column_order=False)
