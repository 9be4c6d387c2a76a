"""What an export cites as a value's source: the payload that holds it, not the request that found it."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import Engine

from indicators.catalogue import load_indicator_catalogue
from ingest.catalogue import load_catalogue
from ingest.citation import area_of_url, is_data_request
from report.export import export_table

SYKE = "https://paastot.hiilineutraalisuomi.fi/Tulokset_taso_5/kunta_{municipality}.csv"
PX = "https://pxdata.stat.fi/PxWeb/api/v1/fi/StatFin/vaerak/11ra.px"
OECD = "https://sdmx.oecd.org/public/rest"
JRC = "https://jeodpp.jrc.ec.europa.eu/ftp/public/x"


def test_a_syke_file_names_its_municipality_in_either_written_form() -> None:
    base = SYKE.replace("{municipality}", "")
    assert area_of_url(SYKE, base.replace(".csv", "49.csv")) == "049"
    assert area_of_url(SYKE, base.replace(".csv", "049.csv")) == "049"
    assert area_of_url(SYKE, base.replace(".csv", "235.csv")) == "235"
    assert area_of_url(SYKE, "https://paastot.hiilineutraalisuomi.fi/asukasluvut_2025.csv") is None
    assert area_of_url("https://example.test/data.csv", "https://example.test/data.csv") is None


@pytest.mark.parametrize(
    ("dataset", "method", "url", "holds_values"),
    [
        ("hsy_emissions", "GET", "https://hri.fi/data/api/3/action/package_show", False),
        ("hsy_emissions", "GET", "https://hri.fi/data/dataset/x/resource/y/download/z_1990-2025.xlsx", True),
        ("statfin_population", "GET", PX, False),
        ("statfin_population", "POST", PX, True),
        (
            "oecd_ghg",
            "GET",
            f"{OECD}/dataflow/OECD.CFE.EDS/DSD_FUA_ENV@DF_GHG/1.5",
            False,
        ),
        (
            "oecd_ghg",
            "GET",
            f"{OECD}/data/OECD.CFE.EDS,DSD_FUA_ENV@DF_GHG,1.5/FI",
            True,
        ),
        ("covenant_inventories", "GET", f"{JRC}/2024_release/", False),
        (
            "covenant_inventories",
            "GET",
            f"{JRC}/df3_Monitoring.xlsx",
            True,
        ),
        (
            "syke_emissions",
            "GET",
            "https://paastot.hiilineutraalisuomi.fi/Tulokset_taso_5/kunta_49.csv",
            True,
        ),
        ("eurostat_sdg_13_10", "GET", "https://ec.europa.eu/eurostat/api/x/sdg_13_10", True),
    ],
)
def test_each_connector_says_which_of_its_requests_hold_values(
    dataset: str, method: str, url: str, holds_values: bool
) -> None:
    assert is_data_request(load_catalogue().datasets[dataset].protocol, method, url) is holds_values


def test_the_export_cites_the_file_each_value_came_from(loaded_engine: Engine) -> None:
    table = export_table(
        loaded_engine, load_indicator_catalogue(), ["syke_ghg_total", "ghg_total", "population"]
    )
    observed = table.filter(pl.col("kind") == "observed", pl.col("period") == "2020")

    def source(indicator: str, area: str) -> str:
        return str(observed.filter(pl.col("indicator") == indicator, pl.col("area") == area)["source"].item())

    # Syke: one file per municipality; Helsinki's value cites Helsinki's file, not the snapshot's first
    assert source("syke_ghg_total", "091").endswith("/kunta_91.csv")
    assert source("syke_ghg_total", "049").endswith("/kunta_49.csv")
    # HSY: the XLSX the values are read from, not the CKAN lookup that found it
    assert "package_show" not in source("ghg_total", "049") and source("ghg_total", "049").endswith(".xlsx")
    assert "package_show" not in source("ghg_total", "PKS")
    # every assessment row carries the provenance of the values it assessed
    assessed = table.filter(pl.col("kind") == "assessment", pl.col("indicator") == "syke_ghg_total")
    assert assessed.height
    assert assessed["source"].null_count() == 0 and assessed["snapshot_ids"].null_count() == 0
    assert assessed["is_demo"].to_list() == [True] * assessed.height
    espoo = assessed.filter(pl.col("area") == "049")["source"].to_list()
    assert espoo and all(text.endswith("/kunta_49.csv") for text in espoo)


def test_an_assumed_value_is_exported_as_the_assumption_it_is_not_as_the_sources_figure(
    loaded_engine: Engine,
) -> None:
    catalogue = load_indicator_catalogue()
    derive = catalogue.get("carbon_sink_estimate").derive
    assert derive.kind == "share_of_year"  # the catalogue's sink is a share of one year's emissions
    for lang, word in (("fi", "oletus"), ("sv", "antagande"), ("en", "assumption")):
        table = export_table(loaded_engine, catalogue, ["carbon_sink_estimate"], lang=lang)
        sink = table.filter(pl.col("kind") == "assumption")  # not an observation (indicators.query)
        assert sink.height == 1 and sink["period"].item() == str(derive.year)
        source = str(sink["source"].item())
        # the assumption comes first, then the figure it is taken of (HSY's XLSX), never HSY alone
        assert source.startswith(f"{word}: "), source
        assert str(derive.year) in source and source.rstrip().endswith(".xlsx"), source
        hsy_total = export_table(loaded_engine, catalogue, ["ghg_total"], area="049", lang=lang)
        cited = hsy_total.filter(pl.col("kind") == "observed", pl.col("period") == str(derive.year))
        assert source.endswith(str(cited["source"].item())), (source, cited["source"].item())


def test_a_value_derived_from_a_target_cites_the_target_then_the_base_value(loaded_engine: Engine) -> None:
    """compensation_need is 20 % of 1990 (the −80 % target), not HSY's figure: its source says so first."""
    catalogue = load_indicator_catalogue()
    for lang, words in (
        ("fi", "johdettu tavoitteesta: 20 % vuoden 1990 arvosta"),
        ("sv", "härlett ur målet: 20 % av värdet för 1990"),
        ("en", "derived from the target: 20 % of the 1990 value"),
    ):
        table = export_table(loaded_engine, catalogue, ["compensation_need"], lang=lang)
        need = table.row(0, named=True)
        assert table.height == 1 and need["kind"] == "target_derived" and need["period"] == "2030"
        source = str(need["source"])
        assert source.replace("\u00a0", "").replace(" %", "%").startswith(words.replace(" %", "%")), source
        hsy_total = export_table(loaded_engine, catalogue, ["ghg_total"], area="049", lang=lang)
        base = hsy_total.filter(pl.col("kind") == "observed", pl.col("period") == "1990")
        assert source.endswith(str(base["source"].item())), source
