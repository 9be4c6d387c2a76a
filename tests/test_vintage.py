"""Vintage-aware assessment: as of an earlier vintage, and whether new data or a revision changed a status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import Engine

from indicators.vintage import assess_as_of, explain_changes
from storage.load import DatasetInfo, SourceInfo, load_snapshot
from storage.rawstore import RawStore
from tests.conftest import make_payload

HSY = DatasetInfo(
    "hsy_emissions", "HSY", "ckan_xlsx", SourceInfo("hsy", "HSY", "CC BY 4.0", "HSY", "https://hri.fi")
)
T0 = datetime(2025, 6, 1, tzinfo=UTC)
T1, T2 = T0 + timedelta(days=30), T0 + timedelta(days=400)


def espoo(values: dict[int, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "area": ["049"] * len(values),
            "period": [str(y) for y in values],
            "value": list(values.values()),
            "flag": [None] * len(values),
            "unit": ["kt CO2e"] * len(values),
            "measure": ["emissions"] * len(values),
            "sector1": ["Liikenne"] * len(values),
        },
        schema_overrides={"flag": pl.String},
    )


def eurostat_status(frame: pl.DataFrame) -> str:
    row = frame.filter(
        pl.col("indicator") == "ghg_total", pl.col("area") == "049", pl.col("method") == "eurostat_sdg"
    )
    return str(row["status"].item())


def test_status_changes_are_explained_by_revision_or_new_data(engine: Engine, raw_store: RawStore) -> None:
    history = {1990: 1000.0, 2015: 900.0, 2016: 890.0, 2017: 880.0, 2018: 870.0, 2019: 860.0, 2020: 850.0}
    load_snapshot(
        engine, HSY, [make_payload(b"a", T0)], espoo(history), reader_version="t", raw_store=raw_store
    )
    # revision: 2015 was 1 300, not 900 (no new year)
    revised = {**history, 2015: 1300.0}
    load_snapshot(
        engine, HSY, [make_payload(b"b", T1)], espoo(revised), reader_version="t", raw_store=raw_store
    )
    # new data: 2021 arrives
    newer = {**revised, 2021: 400.0}
    load_snapshot(
        engine, HSY, [make_payload(b"c", T2)], espoo(newer), reader_version="t", raw_store=raw_store
    )

    hour = timedelta(hours=1)
    a, b, c = (assess_as_of(engine, t, ["ghg_total"]) for t in (T0 + hour, T1 + hour, None))
    # Eurostat, short term, target 1000 × 0.2 = 200 by 2030:
    # A: base 2015 = 900 → (850/900)^(1/5) − 1 ≈ −1.1 %/yr vs required (200/900)^(1/15) − 1 ≈ −9.5 % → 0.12
    assert eurostat_status(a) == "insufficient_progress"
    # B: base 1300 → −8.1 %/yr vs required (200/1300)^(1/15) − 1 ≈ −11.7 % → 0.69
    assert eurostat_status(b) == "moderate_progress"
    # C: base 2016 = 890 → (400/890)^(1/5) − 1 ≈ −14.8 %/yr vs required (200/890)^(1/14) − 1 ≈ −10.1 % → 1.47
    assert eurostat_status(c) == "significant_progress"

    by_revision = explain_changes(engine, T0 + hour, T1 + hour, ["ghg_total"])
    row = by_revision.filter(pl.col("method") == "eurostat_sdg").row(0, named=True)
    assert (row["status_before"], row["status_after"], row["cause"]) == (
        "insufficient_progress",
        "moderate_progress",
        "revised history",
    )
    by_new_data = explain_changes(engine, T1 + hour, None, ["ghg_total"])
    row = by_new_data.filter(pl.col("method") == "eurostat_sdg").row(0, named=True)
    assert (row["status_before"], row["status_after"], row["cause"]) == (
        "moderate_progress",
        "significant_progress",
        "new data",
    )
    both = explain_changes(engine, T0 + hour, None, ["ghg_total"])
    assert both.filter(pl.col("method") == "eurostat_sdg")["cause"].item() == "new data and revised history"
    # restricted to areas: the same flips for Espoo, none for an area that is not asked for
    only_espoo = explain_changes(engine, T0 + hour, None, ["ghg_total"], areas=["049"])
    assert only_espoo.sort(["method"]).equals(both.filter(pl.col("area") == "049").sort(["method"]))
    assert explain_changes(engine, T0 + hour, None, ["ghg_total"], areas=["091"]).height == 0
