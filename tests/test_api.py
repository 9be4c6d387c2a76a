"""The analyst API returns documented polars frames from whatever database it is pointed at."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import pytest
from sqlalchemy import Engine

from indicators.lookup import UnknownCodeError
from ingest.catalogue import load_catalogue
from kestava import api


def test_indicator_values_have_every_kind_and_provenance(loaded_engine: Engine) -> None:
    values = api.indicator_values("ghg_total", area="049", engine=loaded_engine)
    assert set(values["kind"].unique()) == {
        "observed",
        "target",
        "path",
        "path_from_latest",
        "projection",
        "estimate",
    }
    observed = values.filter(pl.col("kind") == "observed", pl.col("year") == 2023)
    assert observed["value"].item() == pytest.approx(742)
    assert observed["unit"].item() == "kt CO2e" and observed["is_demo"].item() is True
    ids = observed["snapshot_ids"].item().to_list()
    prov = api.provenance(ids, engine=loaded_engine)
    assert prov["dataset_id"].unique().to_list() == ["hsy_emissions"]
    assert prov["url"].str.contains("hri.fi").any()


def test_breakdown_and_sectors(loaded_engine: Engine) -> None:
    sectors = api.sectors("049", engine=loaded_engine)
    assert {"district_heat", "transport", "consumer_electricity"} <= set(sectors["sector"].unique())
    total = api.indicator_values("ghg_total", area="049", kind="observed", engine=loaded_engine)
    by_year = sectors.group_by("year").agg(pl.col("value").sum()).sort("year")
    joined = by_year.join(total.select("year", pl.col("value").alias("total")), on="year")
    assert (joined["value"] - joined["total"]).abs().to_list() == pytest.approx(
        [0.0] * joined.height, abs=1e-6
    )


def test_compare_names_areas_in_each_language(loaded_engine: Engine) -> None:
    frame = api.compare("syke_ghg_per_resident", ["049", "091"], lang="sv", engine=loaded_engine)
    assert set(frame["area_name"].unique()) == {"Esbo", "Helsingfors"}
    with pytest.raises(ValueError, match="language"):
        api.area_names("de")


def test_assessments_latest_and_catalogue(loaded_engine: Engine) -> None:
    latest = api.assessments("ghg_total", area="049", engine=loaded_engine)
    assert latest.height == 5 and latest["method"].n_unique() == 5
    cat = api.catalogue("en")
    assert cat.filter(pl.col("indicator") == "ghg_total")["name"].item() == "Greenhouse gas emissions"
    assert api.municipalities().height == 309


def test_freshness_and_assess_at(loaded_engine: Engine) -> None:
    fresh = api.freshness(engine=loaded_engine)
    assert fresh.height == len(load_catalogue().datasets) == 20 and fresh["is_demo"].all()
    now = api.assess_at(None, ["ghg_total"], engine=loaded_engine)
    stored = api.assessments("ghg_total", engine=loaded_engine)
    joined = now.join(stored, on=["indicator", "area", "method"], suffix="_stored")
    assert joined.height == stored.height and (joined["status"] == joined["status_stored"]).all()


def test_areas_by_name_in_finnish_or_swedish_give_the_code_s_values(loaded_engine: Engine) -> None:
    by_code = api.indicator_values("ghg_total", area="049", kind="observed", engine=loaded_engine)
    for name in ("Espoo", "esbo", "ESPOO"):
        by_name = api.indicator_values("ghg_total", area=name, kind="observed", engine=loaded_engine)
        assert by_name.equals(by_code)
    compared = api.compare("syke_ghg_per_resident", ["Esbo", "Helsinki"], lang="fi", engine=loaded_engine)
    assert set(compared["area"].unique()) == {"049", "091"}
    rows = api.observations("statfin_population", area="Esbo", engine=loaded_engine)
    assert set(rows["area"].unique()) == {"049"}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: api.indicator_values("ghg_total", area="Espo", engine=e), "nearest: Espoo (049)"),
        (lambda e: api.assessments("ghg_total", area="0499", engine=e), "area '0499' is not known"),
        (
            lambda e: api.indicator_values("ghg_totl", engine=e),
            "unknown indicator 'ghg_totl'; nearest: ghg_total",
        ),
        (lambda e: api.outlook("ghg_totl", engine=e), "nearest: ghg_total"),
        (
            lambda e: api.observations("hsy_emision", engine=e),
            "unknown dataset 'hsy_emision'; nearest: hsy_emissions",
        ),
        (lambda e: api.observations("hsy_emissions", area="Tamper", engine=e), "nearest: Tampere (837)"),
    ],
)
def test_unknown_area_indicator_or_dataset_is_an_error_naming_the_nearest(
    loaded_engine: Engine, call: Callable[[Engine], object], message: str
) -> None:
    with pytest.raises(UnknownCodeError) as caught:
        call(loaded_engine)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)  # analysts may catch it as a ValueError
