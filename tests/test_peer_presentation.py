"""Peer charts as the reader gets them: each states its own indicator's method, and its table prints
the numbers as the chart labels them."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from indicators.catalogue import load_indicator_catalogue
from indicators.peers import changes, standings
from report.charts import ChartMeta, chart_table, peer_comparison
from report.i18n import format_number, t
from report.peers import change_text, method_text
from report.weekly import _build_chart

EMISSION_WORDS = ("emission", "päästö", "utsläpp", "EDGAR", "kraftverk", "power plant", "voimalaitos")


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_oecd_air_green_and_transport_charts_do_not_state_the_emission_model(lang: str) -> None:
    catalogue = load_indicator_catalogue()
    peers = {i.id: i.peers for i in catalogue.indicators.values() if i.peers is not None}
    oecd = {indicator for indicator, source in peers.items() if source == "oecd"}
    emissions = {indicator for indicator in oecd if "ghg" in indicator}
    others = oecd - emissions
    assert emissions and {"peer_pm25_oecd", "peer_no2_oecd", "peer_green_area_oecd"} <= others
    for indicator in emissions:  # the emission model's text, as before
        assert "EDGAR" in method_text(indicator, "oecd", lang)
    for indicator in others:
        text = method_text(indicator, "oecd", lang)
        assert not any(word.lower() in text.lower() for word in EMISSION_WORDS), (indicator, text)
        assert "OECD" in text
    # the other sources keep their one text
    for indicator, source in peers.items():
        if source != "oecd":
            assert method_text(indicator, source, lang) == method_text("no_such_indicator", source, lang)


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_a_peer_charts_table_prints_the_values_as_the_chart_labels_them(lang: str) -> None:
    values = pl.DataFrame(
        [("049", 2022, 2.439), ("091", 2022, 3.1), ("stockholm", 2022, 2.17), ("aarhus", 2022, 2.25)],
        schema={"area": pl.Utf8, "year": pl.Int64, "value": pl.Float64},
        orient="row",
    )
    ranked = standings(values, direction="decrease", home="049")
    meta = ChartMeta(sources=("OECD",), licence="CC BY 4.0", vintage=date(2026, 12, 1), method="Method: test")

    def build() -> tuple[Any, list[int]]:
        chart = peer_comparison(ranked, meta=meta, lang=lang, indicator="x", unit_text="t", source="oecd")
        return chart, [1]

    result = _build_chart("peer_emissions_oecd", build, lang, None, renderer=None)
    assert result.table is not None
    data = chart_table(build()[0], keys=False)
    column = data.columns.index("value")
    printed = [row[column] for row in result.table.rows]
    # 2.17 and 2.25 differ at two decimals: the chart labels them so, and so must its table (at the
    # report's default rule both were "2.2", ranked 1st and 2nd side by side)
    expected = [format_number(v, lang, 2) for v in data.get_column("value")]
    assert printed == expected, printed
    assert len(set(printed)) == len(printed)


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_a_peer_tables_unit_header_is_the_unit_its_chart_names(lang: str) -> None:
    from report.peers import PEER_CHARTS, unit_text, units_by_city
    from report.weekly import table_units

    frame = pl.DataFrame({"area": ["049"], "value": [3.77]})
    covenant = next(name for name, indicator in PEER_CHARTS.items() if units_by_city(indicator))
    oecd = next(name for name, indicator in PEER_CHARTS.items() if indicator == "peer_ghg_per_resident_oecd")
    # each city chose t CO2 or t CO2e: the header must not claim "CO₂e" where the chart says "CO₂(e)"
    shown = table_units(covenant, frame, lang)["value"]
    assert "CO₂(e)" in shown and shown == unit_text(PEER_CHARTS[covenant], lang)
    assert "CO₂e" in table_units(oecd, frame, lang)["value"]


def _changes_from_1990(estimated: set[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Standings in 2022 and changes since 1990 of four peers; the 1990 figures of `estimated` areas are
    the source's estimates (OECD flags its 1990 values E)."""
    values = pl.DataFrame(
        [(a, y, v * (1.0 if y == 2022 else 2.0)) for a, v in PEERS_2022 for y in (1990, 2022)],
        schema={"area": pl.Utf8, "year": pl.Int64, "value": pl.Float64},
        orient="row",
    )
    ranked = standings(values.filter(pl.col("year") == 2022), direction="decrease", home="049")
    trends = changes(values, ranked, "049").with_columns(
        pl.col("area").is_in(sorted(estimated)).alias("base_estimated")
    )
    return ranked, trends


PEERS_2022 = [("049", 2.439), ("091", 3.1), ("stockholm", 2.17), ("aarhus", 2.25)]


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_a_change_from_an_estimated_base_says_so(lang: str) -> None:
    """OECD's 1990 figures are its estimates: "−57 % since 1990" said nothing of it. When every change
    starts from an estimate the chart says it once, in its notes; otherwise the changes that do say it."""
    meta = ChartMeta(sources=("OECD",), licence="CC BY 4.0", vintage=date(2026, 12, 1), method="Method: test")
    mark = t("peers.base_estimated", lang, year=1990)
    note = t("peers.note_base_estimated", lang, years="1990")
    for estimated in ({a for a, _ in PEERS_2022}, {"091"}):
        ranked, trends = _changes_from_1990(estimated)
        chart = peer_comparison(
            ranked, meta=meta, lang=lang, indicator="x", unit_text="t", source="oecd", changes=trends
        )
        shown = dict(chart_table(chart, keys=True).select("area_key", "change").iter_rows())
        notes = " ".join(chart.to_dict()["title"]["subtitle"])
        every = len(estimated) == len(PEERS_2022)
        assert (note in notes) == every, (estimated, notes)
        for area, words in shown.items():
            assert (mark in words) == (not every and area in estimated), (area, words)
    own = trends.filter(pl.col("area") == "091").row(0, named=True)
    assert change_text(own, lang).endswith(mark)  # the standings table's cell
