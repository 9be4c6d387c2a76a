"""Peer cities: the catalogue, the resolution of names to a source's codes, ranks, trends and the chart."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from indicators.peers import changes, reconciliation, standings
from ingest.errors import ValidationError
from ingest.peers import Candidate, PinnedCode, home_peer, load_peers, resolve_codes
from report.charts import ChartMeta, chart_table, peer_comparison

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
            ("vienna", 2023, 1.0),  # a later year the home city lacks: not ranked
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
            ("stockholm", 2015, 2.0),  # five years before: outside a window of four
            ("oslo", 2021, 1.0),  # after Espoo's latest year: not ranked
        ]
    )
    ranked = standings(values, direction="decrease", home="049", window=4)
    assert {r["area"]: (r["year"], r["rank"]) for r in ranked.iter_rows(named=True)} == {
        "049": (2020, 1),
        "091": (2017, 2),
    }
    trend = {r["area"]: r["base_year"] for r in changes(values, ranked).iter_rows(named=True)}
    assert trend == {"049": 2016, "091": 2012}


def test_standings_of_a_home_city_without_values_are_empty() -> None:
    assert standings(_values([("091", 2022, 3.0)]), direction="decrease", home="049").height == 0


def test_changes_run_from_each_peers_first_year() -> None:
    values = _values(
        [("049", 1990, 10.0), ("049", 2022, 6.5), ("091", 2010, 4.0), ("091", 2022, 5.0), ("oslo", 2022, 2.0)]
    )
    ranked = standings(values, direction="decrease", home="049")
    found = {r["area"]: (r["base_year"], r["change"]) for r in changes(values, ranked).iter_rows(named=True)}
    assert found["049"] == (1990, pytest.approx(-35.0))
    assert found["091"] == (2010, pytest.approx(25.0))
    assert "oslo" not in found  # one year only: no trend


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
        ("en", "Espoo 2nd of 3 peers in emissions per resident, OECD 2022"),
        ("sv", "Esbo på plats 2 av 3 jämförelsestäder: utsläpp per invånare, OECD 2022"),
        ("fi", "Espoo sijalla 2/3 vertailukaupungeista: päästöt asukasta kohden, OECD 2022"),
    ],
)
def test_the_chart_states_the_rank_the_source_and_the_method(lang: str, title: str) -> None:
    ranked = standings(
        _values([("049", 2022, 3.1), ("091", 2022, 3.4), ("stockholm", 2022, 2.2)]),
        direction="decrease",
        home="049",
    )
    trend = pl.DataFrame({"area": ["049"], "base_year": [1990], "change": [-35.0]})
    name = {"en": "Emissions per resident", "sv": "Utsläpp per invånare", "fi": "Päästöt asukasta kohden"}[
        lang
    ]
    chart = peer_comparison(
        ranked, meta=META, lang=lang, indicator=name, unit_text="t", source="oecd", changes=trend
    )
    spec = chart.to_dict()
    assert spec["title"]["text"] == title
    assert spec["title"]["subtitle"][0] == "Method: test"
    table = chart_table(chart)
    assert table.get_column("area_key").to_list() == ["stockholm", "049", "091"]
    assert table.get_column("rank").to_list() == [1, 2, 3]
    change = table.filter(pl.col("area_key") == "049").get_column("change").item()
    assert "1990" in change and "35" in change


def test_the_chart_refuses_areas_that_are_not_peers() -> None:
    ranked = standings(_values([("049", 2022, 3.1), ("564", 2022, 3.4)]), direction="decrease", home="049")
    with pytest.raises(ValueError, match="not peers"):
        peer_comparison(ranked, meta=META, lang="en", indicator="x", unit_text="t", source="oecd")
