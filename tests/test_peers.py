"""Peer cities: the catalogue, the resolution of names to a source's codes, ranks, trends and the chart."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from indicators.catalogue import load_indicator_catalogue
from indicators.derive import DERIVED_SCHEMA
from indicators.engine import trajectories
from indicators.peers import (
    changes,
    common_base_year,
    comparison_indicators,
    left_out,
    reconciliation,
    standings,
)
from ingest.errors import ValidationError
from ingest.peers import Candidate, PinnedCode, home_peer, load_peers, resolve_codes
from report.charts import ChartMeta, chart_table, peer_comparison
from report.charts.common import PHONE_COLUMN, text_width
from report.charts.peers import change_words
from report.i18n import NOT_AVAILABLE

META = ChartMeta(sources=("OECD",), licence="CC BY 4.0", vintage=date(2026, 12, 1), method="Method: test")


def test_catalogue_has_one_home_city_and_every_named_peer() -> None:
    peers = load_peers()
    assert home_peer().area == "049"
    areas = {peer.area for peer in peers}
    # the peer set the issue declares: Nordic capitals and large cities, and European leaders
    for area in (
        "091",
        "092",
        "837",
        "853",
        "398",
        "stockholm",
        "oslo",
        "copenhagen",
        "reykjavik",
        "tallinn",
    ):
        assert area in areas
    assert {peer.group for peer in peers} == {"home", "nordic", "leader"}


def test_adding_a_peer_is_one_line(tmp_path: Path) -> None:
    text = Path("ingest/peers.toml").read_text(encoding="utf-8")
    line = (
        'porto = { name = { fi = "Porto", sv = "Porto", en = "Porto" }, country = "PT", group = "leader", '
        'sources = { oecd = "Porto" } }\n'
    )
    path = tmp_path / "peers.toml"
    path.write_text(text + line, encoding="utf-8")
    peers = load_peers(path)
    assert peers[-1].area == "porto"
    found = resolve_codes(
        "oecd_ghg", "oecd", [Candidate("FI005C", "Espoo/Esbo"), Candidate("PT002C", "Porto")], peers=peers
    )
    assert found == {"049": "FI005C", "porto": "PT002C"}


def test_names_resolve_within_the_country_by_any_part_of_the_label() -> None:
    candidates = [
        Candidate("FI005C", "Espoo/Esbo"),
        Candidate("FI001C", "Helsinki / Helsingfors"),
        Candidate("FI001F", "Helsinki"),  # the functional urban area, not the city
        Candidate("CH002C", "Zurich"),  # no accent in the label
        Candidate("SE001C", "Stockholm"),
        Candidate("US001C", "Stockholm"),  # same name, wrong country
    ]
    found = resolve_codes("oecd_ghg", "oecd", candidates, code_suffix="C")
    assert found == {"049": "FI005C", "091": "FI001C", "zurich": "CH002C", "stockholm": "SE001C"}


def test_the_country_column_wins_over_the_code_prefix() -> None:
    candidates = [
        Candidate("12345", "Espoo", "FI"),
        Candidate("777", "Oslo", "NO"),
        Candidate("778", "Oslo", "SE"),
    ]
    assert resolve_codes("covenant_inventories", "covenant", candidates) == {"049": "12345", "oslo": "777"}


def test_two_cities_of_one_name_are_an_error_naming_both() -> None:
    candidates = [Candidate("FI005C", "Espoo"), Candidate("FI099C", "Espoo/Esbo")]
    with pytest.raises(ValidationError) as error:
        resolve_codes("oecd_ghg", "oecd", candidates)
    assert "FI005C" in str(error.value) and "FI099C" in str(error.value) and "oecd_ghg" in str(error.value)


def test_a_missing_home_city_is_an_error_a_missing_peer_is_not_covered() -> None:
    with pytest.raises(ValidationError, match="home city espoo"):
        resolve_codes("oecd_ghg", "oecd", [Candidate("FI001C", "Helsinki")])
    assert resolve_codes("oecd_ghg", "oecd", [Candidate("FI005C", "Espoo")]) == {"049": "FI005C"}


def test_a_pinned_code_is_taken_as_it_is() -> None:
    peers = [
        peer.model_copy(update={"sources": {"oecd": PinnedCode(code="FI777C")}})
        if peer.area == "049"
        else peer
        for peer in load_peers()
    ]
    found = resolve_codes("oecd_ghg", "oecd", [Candidate("FI777C", "Something else")], peers=peers)
    assert found == {"049": "FI777C"}


def _values(rows: list[tuple[str, int, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"area": pl.Utf8, "year": pl.Int64, "value": pl.Float64}, orient="row")


def test_standings_rank_the_home_citys_latest_year_best_first() -> None:
    values = _values(
        [
            ("049", 2021, 3.0),
            ("049", 2022, 3.1),
            ("091", 2022, 3.4),
            ("stockholm", 2022, 2.2),
            ("oslo", 2022, 3.1),  # a tie with Espoo: both 2nd
            ("zurich", 2022, None),  # no value: not counted
        ]
    )
    ranked = standings(values, direction="decrease", home="049")
    assert ranked.get_column("year").unique().to_list() == [2022]
    assert dict(zip(ranked["area"], ranked["rank"], strict=True)) == {
        "stockholm": 1,
        "049": 2,
        "oslo": 2,
        "091": 4,
    }
    assert ranked.get_column("peers").unique().to_list() == [4]
    up = standings(values, direction="increase", home="049")
    assert dict(zip(up["area"], up["rank"], strict=True))["091"] == 1


def test_self_reported_sources_rank_each_peers_latest_year_within_the_window() -> None:
    values = _values(
        [
            ("049", 2016, 5.0),
            ("049", 2020, 3.8),
            ("091", 2017, 4.0),  # Helsinki's latest inventory, three years before Espoo's
            ("091", 2012, 6.0),
            ("stockholm", 2015, 2.0),  # six years before the newest (2021): outside a window of four
            ("oslo", 2021, 1.0),  # newer than Espoo's latest: compared on it
        ]
    )
    ranked = standings(values, direction="decrease", home="049", window=4)
    assert {r["area"]: (r["year"], r["rank"]) for r in ranked.iter_rows(named=True)} == {
        "oslo": (2021, 1),
        "049": (2020, 2),
        "091": (2017, 3),
    }
    assert ranked.get_column("peers").unique().to_list() == [3]
    out = left_out(values, ranked, ["049", "091", "stockholm", "oslo", "vienna"])
    assert dict(zip(out["area"], out["latest_year"], strict=True)) == {"stockholm": 2015, "vienna": None}


def test_a_peers_newer_figure_is_compared_and_a_peer_with_only_a_newer_figure_is_shown() -> None:
    # the audit's case: Espoo's latest is 2020; Helsinki has 2019 and 2022; Oslo only 2022
    values = _values([("049", 2020, 4.0), ("091", 2019, 5.0), ("091", 2022, 3.0), ("oslo", 2022, 3.5)])
    ranked = standings(values, direction="decrease", home="049", window=3)
    assert {r["area"]: (r["year"], r["value"], r["rank"]) for r in ranked.iter_rows(named=True)} == {
        "091": (2022, 3.0, 1),
        "oslo": (2022, 3.5, 2),
        "049": (2020, 4.0, 3),
    }


def test_the_comparison_moves_on_when_the_home_city_stops_reporting() -> None:
    values = _values([("049", 2015, 4.0), ("091", 2015, 6.0), ("091", 2023, 2.0), ("oslo", 2023, 5.0)])
    ranked = standings(values, direction="decrease", home="049", window=2)
    # the peers on their 2023 figures, Espoo still shown on its last one (2015)
    assert {r["area"]: (r["year"], r["rank"]) for r in ranked.iter_rows(named=True)} == {
        "091": (2023, 1),
        "049": (2015, 2),
        "oslo": (2023, 3),
    }


def test_an_unranked_area_is_shown_with_no_rank_and_not_counted() -> None:
    values = _values([("049", 2020, 4.0), ("091", 2020, 1.0), ("oslo", 2020, 5.0)])
    ranked = standings(values, direction="decrease", home="049", unranked=["091"])
    assert {r["area"]: r["rank"] for r in ranked.iter_rows(named=True)} == {"049": 1, "oslo": 2, "091": None}
    assert ranked.get_column("peers").unique().to_list() == [2]


def test_standings_of_a_home_city_without_values_are_empty() -> None:
    assert standings(_values([("091", 2022, 3.0)]), direction="decrease", home="049").height == 0


def test_changes_over_different_base_years_are_not_ranked_against_each_other() -> None:
    # the audit's Covenant case: Espoo's baseline 1990, Copenhagen's 2005; Helsinki also has 1990
    values = _values(
        [
            ("049", 1990, 10.0),
            ("049", 2020, 6.1),
            ("copenhagen", 2005, 5.0),
            ("copenhagen", 2020, 2.3),
            ("091", 1990, 8.0),
            ("091", 2020, 6.0),
            ("oslo", 2020, 2.0),  # one year only: no trend
        ]
    )
    ranked = standings(values, direction="decrease", home="049")
    found = {r["area"]: r for r in changes(values, ranked, "049").iter_rows(named=True)}
    assert set(found) == {"049", "091", "copenhagen"}
    # Espoo and Helsinki over the same span 1990–2020: 6.1/10 − 1 and 6/8 − 1
    assert (found["049"]["base_year"], found["049"]["change"]) == (1990, pytest.approx(-39.0))
    assert (found["091"]["base_year"], found["091"]["change"]) == (1990, pytest.approx(-25.0))
    assert found["049"]["comparable"] and found["091"]["comparable"]
    # Copenhagen's −54 % since 2005 is shown but not comparable with a change since 1990
    assert (found["copenhagen"]["base_year"], found["copenhagen"]["change"]) == (2005, pytest.approx(-54.0))
    assert not found["copenhagen"]["comparable"]


def test_a_share_changes_in_percentage_points_not_per_cent_of_itself() -> None:
    # green urban area 4.2 % → 4.5 %: +0.3 percentage points, not "+7 %"; a zero start is a change too
    values = _values([("049", 2012, 4.2), ("049", 2018, 4.5), ("091", 2012, 0.0), ("091", 2018, 1.5)])
    ranked = standings(values, direction="increase", home="049")
    found = {r["area"]: r for r in changes(values, ranked, "049", points=True).iter_rows(named=True)}
    assert found["049"]["change"] == pytest.approx(0.3) and found["049"]["points"]
    assert found["091"]["change"] == pytest.approx(1.5)
    words = {
        lang: change_words(0.3, 2012, 2018, comparable=True, per_resident=False, lang=lang, points=True)
        for lang in ("fi", "sv", "en")
    }
    assert words == {
        "fi": "+0,3\u00a0%-yksikköä vuodesta 2012",
        "sv": "+0,3\u00a0procentenheter sedan 2012",
        "en": "+0.3\u00a0percentage points since 2012",
    }
    # the same rows as a relative change, as for an amount: +7 %, and no change from a zero start
    relative = {r["area"]: r for r in changes(values, ranked, "049").iter_rows(named=True)}
    assert relative["049"]["change"] == pytest.approx(100 * (4.5 / 4.2 - 1)) and "091" not in relative


def test_the_common_base_year_is_the_one_most_peers_share_with_the_home_city() -> None:
    values = _values(
        [
            ("049", 1990, 10.0),
            ("049", 2005, 8.0),
            ("049", 2020, 6.0),
            ("091", 1990, 9.0),
            ("091", 2020, 7.0),
            ("copenhagen", 2005, 5.0),
            ("copenhagen", 2020, 2.5),
            ("oslo", 2005, 4.0),
            ("oslo", 2020, 3.0),
        ]
    )
    ranked = standings(values, direction="decrease", home="049")
    assert common_base_year(values, ranked, "049") == 2005  # two peers have 2005, one has 1990
    found = {r["area"]: r for r in changes(values, ranked, "049").iter_rows(named=True)}
    assert found["049"]["base_year"] == 2005 and found["049"]["change"] == pytest.approx(-25.0)
    assert found["oslo"]["comparable"] and found["copenhagen"]["comparable"]
    assert not found["091"]["comparable"] and found["091"]["base_year"] == 1990


def test_a_change_ending_in_another_year_than_the_home_citys_is_not_comparable() -> None:
    # Urban Audit waste: Espoo 2004–2019, Vantaa 2016–2019 and Helsinki 2004–2017
    values = _values(
        [
            ("049", 2004, 100.0),
            ("049", 2016, 96.0),
            ("049", 2019, 93.0),
            ("092", 2016, 50.0),
            ("092", 2019, 49.0),
            ("091", 2004, 200.0),
            ("091", 2017, 190.0),
        ]
    )
    ranked = standings(values, direction="decrease", home="049", window=3)
    found = {r["area"]: r for r in changes(values, ranked, "049").iter_rows(named=True)}
    # Vantaa is the only peer ending in 2019, and it starts in 2016: the span compared is 2016–2019
    assert found["049"]["base_year"] == 2016 and found["049"]["comparable"]
    assert found["092"]["base_year"] == 2016 and found["092"]["comparable"]
    assert found["092"]["change"] == pytest.approx(-2.0)
    assert not found["091"]["comparable"]


def test_reconciliation_puts_every_source_in_kt_with_a_common_year() -> None:
    values = pl.DataFrame(
        {
            "indicator": [
                "ghg_total",
                "ghg_total",
                "peer_ghg_total_oecd",
                "peer_ghg_total_oecd",
                "ghg_total",
            ],
            "area": ["049", "049", "049", "049", "091"],
            "year": [2016, 2022, 2016, 2021, 2016],
            "value": [900.0, 742.0, 1_367_949.0, 1_200_000.0, 5.0],
            "unit": ["kt CO2e", "kt CO2e", "t CO2e", "t CO2e", "kt CO2e"],
        }
    )
    rows = {r["indicator"]: r for r in reconciliation(values).iter_rows(named=True)}
    assert set(rows) == {"ghg_total", "peer_ghg_total_oecd"}
    assert rows["peer_ghg_total_oecd"]["common_year"] == 2016
    assert rows["peer_ghg_total_oecd"]["common_value"] == pytest.approx(1367.949)
    assert rows["ghg_total"]["latest_year"] == 2022 and rows["ghg_total"]["latest_value"] == 742.0


@pytest.mark.parametrize(
    ("lang", "title"),
    [
        ("en", "Espoo 2nd of 3 cities in emissions per resident, OECD 2022"),
        ("sv", "Esbo på plats 2 av 3 städer: utsläpp per invånare, OECD 2022"),
        ("fi", "Espoo sijalla 2/3 kaupungista: päästöt asukasta kohden, OECD 2022"),
    ],
)
def test_the_chart_states_the_rank_the_source_and_the_method(lang: str, title: str) -> None:
    ranked = standings(
        _values([("049", 2022, 3.1), ("091", 2022, 3.4), ("stockholm", 2022, 2.2)]),
        direction="decrease",
        home="049",
    )
    trend = pl.DataFrame(
        {"area": ["049"], "base_year": [1990], "year": [2022], "change": [-35.0], "comparable": [True]}
    )
    name = {"en": "Emissions per resident", "sv": "Utsläpp per invånare", "fi": "Päästöt asukasta kohden"}[
        lang
    ]
    chart = peer_comparison(
        ranked, meta=META, lang=lang, indicator=name, unit_text="t", source="oecd", changes=trend
    )
    spec = chart.to_dict()
    assert spec["title"]["text"] == title
    assert "Method: test" in spec["title"]["subtitle"]
    table = chart_table(chart)
    assert table.get_column("area_key").to_list() == ["stockholm", "049", "091"]
    assert table.get_column("rank").to_list() == [1, 2, 3]
    change = table.filter(pl.col("area_key") == "049").get_column("change").item()
    assert "1990" in change and "35" in change


def test_a_phone_chart_writes_each_city_and_its_change_above_its_bar_across_the_plot() -> None:
    """A phone's layout had the names left of a 126 px plot and the changes right of it on four lines
    each: there each row's city and change are written above its bar, wrapped at the plot's width, which
    is a phone's column less the padding. A change over the span the title's note names is its number
    alone (the wide chart's words repeated it on every row, wrapping each onto a second line); one over
    another span keeps the wide chart's words, which name it."""
    ranked = standings(
        _values([("049", 2022, 3.1), ("091", 2022, 3.4), ("stockholm", 2022, 2.2)]),
        direction="decrease",
        home="049",
    )
    trend = _changes([("049", 1990, 2022, -35.0, True), ("stockholm", 1990, 2019, -60.0, False)])
    common: dict[str, Any] = {
        "meta": META,
        "lang": "en",
        "indicator": "x",
        "unit_text": "t",
        "source": "oecd",
    }
    wide = peer_comparison(ranked, changes=trend, **common)
    phone = peer_comparison(ranked, changes=trend, phone=True, **common).to_dict()
    assert wide.to_dict()["width"] == 420
    assert PHONE_COLUMN - 60 <= phone["width"] <= PHONE_COLUMN
    # no column of names or changes beside the plot: the y axes are hidden, none resolved apart
    assert all(
        layer["encoding"]["y"].get("axis", {}) is None for layer in phone["layer"] if "y" in layer["encoding"]
    )
    assert "resolve" not in phone
    (above,) = [
        layer for layer in phone["layer"] if layer["encoding"].get("text", {}).get("field") == "row_label"
    ]
    written = {r["area"]: r["row_label"] for r in phone["datasets"][above["data"]["name"]]}
    table = chart_table(wide, keys=False)
    # each city's group written after its name (its bar's shade is not the only sign), the home city's none
    tags = {"home": "", "nordic": " · Nordic", "leader": " · leader"}
    group_of = {str(peer.name["en"]): peer.group for peer in load_peers()}
    for row in table.iter_rows(named=True):
        lines = written[row["area"]].split("\n")
        assert all(text_width(line) <= phone["width"] for line in lines), lines
        named = row["area"] + tags[group_of[row["area"]]]
        change = str(row["change"])
        over_the_noted_span = change.endswith(" since 1990")  # the span of the note under the title
        shown = change.split(" ", 1)[0] if over_the_noted_span else change  # "-35%"
        expected = named if change == NOT_AVAILABLE else f"{named} · {shown}"
        assert " ".join(lines) == expected
    assert written["Espoo"] == "Espoo · -35%"  # its change over the noted span, the number alone
    assert "(other span, not ranked)" in written["Stockholm"].replace("\n", " ")


def test_the_chart_refuses_areas_that_are_not_peers() -> None:
    ranked = standings(_values([("049", 2022, 3.1), ("564", 2022, 3.4)]), direction="decrease", home="049")
    with pytest.raises(ValueError, match="not peers"):
        peer_comparison(ranked, meta=META, lang="en", indicator="x", unit_text="t", source="oecd")


def _changes(rows: list[tuple[str, int, int, float, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "area": pl.Utf8,
            "base_year": pl.Int64,
            "year": pl.Int64,
            "change": pl.Float64,
            "comparable": pl.Boolean,
        },
        orient="row",
    )


def test_a_single_year_peer_indicator_still_gets_its_chart() -> None:
    values = _values([("049", 2022, 3.1), ("091", 2022, 3.4)])
    ranked = standings(values, direction="decrease", home="049")
    trend = changes(values, ranked, "049")
    assert trend.height == 0  # one year: no changes
    chart = peer_comparison(
        ranked, meta=META, lang="en", indicator="Green area", unit_text="m²", source="oecd", changes=trend
    )
    table = chart_table(chart)
    assert table.get_column("area_key").to_list() == ["049", "091"]
    assert set(table.get_column("change")) == {NOT_AVAILABLE}  # drawn without the change part


def test_the_chart_labels_changes_per_resident_and_marks_other_spans() -> None:
    ranked = standings(
        _values([("049", 2020, 3.8), ("copenhagen", 2020, 2.3), ("091", 2020, 4.0)]),
        direction="decrease",
        home="049",
    )
    trend = _changes(
        [
            ("049", 1990, 2020, -39.0, True),
            ("091", 1990, 2020, -25.0, True),
            ("copenhagen", 2005, 2020, -54.0, False),
        ]
    )
    chart = peer_comparison(
        ranked,
        meta=META,
        lang="en",
        indicator="Emissions per resident",
        unit_text="t",
        source="covenant",
        changes=trend,
        per_resident=True,
    )
    change = dict(zip(chart_table(chart)["area_key"], chart_table(chart)["change"], strict=True))
    assert change["049"] == "-39% per resident since 1990"
    assert change["copenhagen"] == "-54% per resident 2005–2020 (other span, not ranked)"
    subtitle = chart.to_dict()["title"]["subtitle"]
    assert any("1990–2020" in line and "per resident" in line for line in subtitle)


def test_the_chart_says_who_is_newer_and_who_is_left_out_and_only_legends_groups_drawn() -> None:
    values = _values([("049", 2020, 3.8), ("091", 2022, 4.0), ("092", 2010, 5.0)])
    ranked = standings(values, direction="decrease", home="049", window=4)
    out = left_out(values, ranked, ["049", "091", "092", "vienna"])
    chart = peer_comparison(
        ranked,
        meta=META,
        lang="en",
        indicator="Emissions per resident",
        unit_text="t",
        source="covenant",
        left_out=out,
        reported_units={"049": "tCO2e", "091": "tCO2"},
    )
    spec = chart.to_dict()
    text = " ".join(spec["title"]["subtitle"])
    assert "1 cities have newer figures than Espoo's 2020" in text
    assert "Vantaa (2010)" in text and "Vienna" in text
    assert "CO₂ only" in text
    legend = next(
        layer["encoding"]["color"]["scale"]["domain"]
        for layer in spec["layer"]
        if "color" in layer.get("encoding", {})
    )
    assert legend == ["Espoo", "Nordic cities"]  # no "European leaders": none is drawn


def test_tallinn_is_not_a_nordic_city_and_a_nordic_group_outside_the_nordics_is_refused(
    tmp_path: Path,
) -> None:
    peers = {peer.key: peer for peer in load_peers()}
    assert peers["tallinn"].group == "leader"
    text = Path("ingest/peers.toml").read_text(encoding="utf-8")
    path = tmp_path / "peers.toml"
    path.write_text(
        text
        + 'riga = { name = { fi = "Riika", sv = "Riga", en = "Riga" }, country = "LV", group = "nordic", '
        + "sources = {} }\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="riga"):
        load_peers(path)


def test_no_projections_or_nowcasts_of_peer_indicators() -> None:
    catalogue = load_indicator_catalogue()
    peers_only = comparison_indicators(catalogue)
    # every indicator with a peers source, and the totals read from the same datasets
    assert {"peer_ghg_per_resident_oecd", "peer_ghg_total_oecd", "peer_ghg_total_covenant"} <= peers_only
    assert {"peer_waste_total_ua", "peer_population_ua"} <= peers_only
    assert "ghg_total" not in peers_only
    points = [(year, 10.0 - 0.2 * (year - 2000)) for year in range(2000, 2023)]
    rows = [("peer_ghg_total_oecd", area, str(y), v) for area in ("049", "091") for y, v in points]
    frame = pl.DataFrame(
        {
            "indicator": [r[0] for r in rows],
            "area": [r[1] for r in rows],
            "period": [r[2] for r in rows],
            "value": [r[3] for r in rows],
            "unit": ["kt CO2e"] * len(rows),
            "flags": [None] * len(rows),
            "snapshot_ids": [[1]] * len(rows),
            "vintage": [datetime(2025, 6, 1)] * len(rows),
        },
        schema=DERIVED_SCHEMA,
    )
    assert trajectories(catalogue, {"peer_ghg_total_oecd": frame}).height == 0
