"""The one message of the reports: the headline indicator first, one row order in every language."""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine

from indicators.catalogue import load_indicator_catalogue
from report import data as rd


def test_catalogue_declares_the_headline_indicator() -> None:
    catalogue = load_indicator_catalogue()
    headline = [i for i, e in catalogue.indicators.items() if e.headline]
    assert headline == ["ghg_total"]
    # a breakdown follows its parent, before the next indicator of the catalogue
    keys = sorted(
        ["ghg_per_resident", "ghg_by_subsector.road_transport", "ghg_by_subsector", "ghg_total"],
        key=catalogue.display_key,
    )
    assert keys == ["ghg_total", "ghg_per_resident", "ghg_by_subsector", "ghg_by_subsector.road_transport"]


def test_dashboard_rows_lead_with_espoo_total_in_every_language(loaded_engine: Engine) -> None:
    orders = {}
    for lang in ("fi", "sv", "en"):
        frame = rd.dashboard_frame(loaded_engine, lang)
        ids = frame.select("indicator_id").unique(maintain_order=True)["indicator_id"].to_list()
        assert ids[0] == "ghg_total"
        assert frame.filter(pl.col("indicator_id") == "ghg_total")["area"].unique().to_list() == [rd.ESPOO]
        # breakdowns of one parent are contiguous: no other indicator between them
        parents = [i.split(".", 1)[0] for i in ids]
        seen: list[str] = []
        for parent in parents:
            if not seen or seen[-1] != parent:
                assert parent not in seen, f"{parent} interleaved with other indicators: {ids}"
                seen.append(parent)
        orders[lang] = ids
    assert orders["fi"] == orders["sv"] == orders["en"]
