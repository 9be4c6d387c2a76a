"""The analyst API returns documented polars frames from whatever database it is pointed at."""

from __future__ import annotations

import json
import tomllib
import warnings
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from sqlalchemy import Engine, event

from common.errors import DatabaseMissingError
from indicators.lookup import UnknownCodeError
from indicators.query import VALUE_KINDS, known_note_indicators
from ingest.catalogue import load_catalogue
from kestava import api
from storage import read
from storage.notes import add_note


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
    with pytest.raises(ValueError, match="lang: expected one of fi, sv, en, got 'de'"):
        api.area_names("de")


def test_a_call_looks_its_areas_up_once(loaded_engine: Engine) -> None:
    """Each function resolves the areas asked (a name, a number) to their codes in one lookup: its query
    and its warnings take them as they are. The lookup statements are counted as the database gets them."""
    lookups: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("SELECT DISTINCT indicator_value.area"):
            lookups.append(statement)

    calls: dict[str, Callable[[], pl.DataFrame]] = {
        "indicator_values": lambda: api.indicator_values("ghg_total", area="Esbo", engine=loaded_engine),
        "outlook": lambda: api.outlook("ghg_total", area="Espoo", engine=loaded_engine),
        "sectors": lambda: api.sectors(49, engine=loaded_engine),
        "compare": lambda: api.compare("syke_ghg_per_resident", ["Espoo", 91], engine=loaded_engine),
    }
    event.listen(loaded_engine, "before_cursor_execute", count)
    try:
        for name, call in calls.items():
            lookups.clear()
            assert call().height, name
            # a code found among the stored ones (one statement), else every stored area read (a second)
            assert 1 <= len(lookups) <= 2, (name, lookups)
            assert len(set(lookups)) == len(lookups), (name, lookups)  # no statement made twice
    finally:
        event.remove(loaded_engine, "before_cursor_execute", count)


def test_english_names_are_statistics_finlands_english_ones() -> None:
    """English had fallen back to the Finnish names: "Pedersören kunta", "Närpiö", "Pietarsaari". Statistics
    Finland's English classification (kunta_1_20230101, lang=en) names nine municipalities in Swedish."""
    en, fi, sv = (api.area_names(lang) for lang in ("en", "fi", "sv"))
    assert (en["599"], en["545"], en["598"], en["499"]) == ("Pedersöre", "Närpes", "Jakobstad", "Korsholm")
    assert (fi["599"], sv["599"]) == ("Pedersören kunta", "Pedersöre")
    assert (en["049"], en["091"], en["478"]) == ("Espoo", "Helsinki", "Maarianhamina")  # as its list
    assert en["PKS"] == "Helsinki capital region"
    names = api.municipalities()
    assert names.columns == ["code", "name_fi", "name_sv", "name_en"]
    # the codes whose English name differs from the Finnish in that classification (a public copy of its
    # English list: data.stat.fi/api/classifications/v2/classifications/kunta_1_20230101/classificationItems
    # ?lang=en), each Swedish there; Parainen, Raasepori, Luoto, Maalahti and Uusikaarlepyy keep Finnish ones
    differing = names.filter(pl.col("name_en") != pl.col("name_fi"))
    assert sorted(differing["code"]) == ["149", "287", "288", "322", "499", "545", "598", "599", "946"]
    assert differing["name_en"].to_list() == differing["name_sv"].to_list()


def test_assessments_latest_and_catalogue(loaded_engine: Engine) -> None:
    latest = api.assessments("ghg_total", area="049", engine=loaded_engine)
    assert latest.height == 5 and latest["method"].n_unique() == 5
    cat = api.catalogue("en")
    assert cat.filter(pl.col("indicator") == "ghg_total")["name"].item() == "Greenhouse gas emissions"
    assert api.municipalities().height == 309
    # the range each value can take, where projections stop: an amount, a share, a change (unbounded)
    bounds = {r["indicator"]: (r["min"], r["max"]) for r in cat.iter_rows(named=True)}
    assert bounds["ghg_total"] == (0.0, None) and bounds["recycling_rate"] == (0.0, 100.0)
    assert bounds["ghg_change_on_1990"] == (None, None)
    # and no stored projection, of an indicator or of a sector, goes below its indicator's bound
    projected = api.indicator_values(
        ["ghg_total", "ghg_by_sector"], kind=["projection", "estimate"], engine=loaded_engine
    )
    below = projected.filter(pl.col("lower") < 0)
    assert projected.height and below.height == 0, below.head(3)
    assert projected.filter(pl.col("indicator").str.starts_with("ghg_by_sector.")).height


def test_sectors_of_several_areas_say_whose_they_are(loaded_engine: Engine) -> None:
    """Two cities' sectors came back without an area column: two transport rows a year, neither named."""
    both = api.sectors(["049", "Helsinki"], engine=loaded_engine)
    assert set(both.get_column("area")) == {"049", "091"}
    assert (
        both.filter(pl.col("area") == "049")
        .drop("area")
        .equals(api.sectors("049", engine=loaded_engine).drop("area"))
    )
    assert both.group_by("area", "sector", "year").len().get_column("len").max() == 1


def test_freshness_and_assess_at(loaded_engine: Engine) -> None:
    fresh = api.freshness(engine=loaded_engine)
    assert fresh.height == len(load_catalogue().datasets) == 20 and fresh["is_demo"].all()
    now = api.assess_at(None, ["ghg_total"], engine=loaded_engine)
    stored = api.assessments("ghg_total", engine=loaded_engine)
    joined = now.join(stored, on=["indicator", "area", "method"], suffix="_stored")
    assert joined.height == stored.height and (joined["status"] == joined["status_stored"]).all()


def fetch_span(engine: Engine) -> tuple[datetime, datetime]:
    """The first and the last fetch time of the stored snapshots (naive UTC)."""
    fetched = read.snapshots(engine).get_column("fetched_at")
    first, last = fetched.min(), fetched.max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    return first, last


def test_freshness_as_of_judges_the_data_as_they_stood_then(loaded_engine: Engine) -> None:
    """Before the first fetch no dataset had a period or a fetch (all "never"); after the last fetch the
    state is today's; a date means its end, as every as_of does."""
    first, last = fetch_span(loaded_engine)
    now = api.freshness(engine=loaded_engine)
    before = api.freshness(as_of=first - timedelta(seconds=1), engine=loaded_engine)
    assert set(before.get_column("state")) == {"never"}
    assert before.get_column("last_fetch").null_count() == before.height
    assert before.get_column("latest_period").null_count() == before.height
    for moment in (last + timedelta(minutes=5), last.date()):
        assert api.freshness(as_of=moment, engine=loaded_engine).equals(now), moment


def test_freshness_as_of_between_two_fetches_reads_only_the_later_ones_as_they_stood(
    loaded_engine: Engine,
) -> None:
    """At a moment between the demo's fetches, the datasets fetched by then are as they are now and the
    others were never fetched; the as-of state built from the current one for the datasets with no later
    snapshot is the one a full as-of read gives."""
    from ingest import freshness as ingest_freshness
    from storage.engine import autocommit

    fetched = read.snapshots(loaded_engine).group_by("dataset_id").agg(pl.col("fetched_at").max())
    moments = fetched.get_column("fetched_at").sort()
    middle = moments[len(moments) // 2]
    assert moments.min() < middle < moments.max(), "the demo's fetches are one after another"
    now = api.freshness(engine=loaded_engine)
    then = api.freshness(as_of=middle, engine=loaded_engine)
    later = set(fetched.filter(pl.col("fetched_at") > middle).get_column("dataset_id"))
    assert later and set(then.filter(pl.col("dataset").is_in(sorted(later))).get_column("state")) == {"never"}
    # the earlier ones' data as now (their ingest runs may have finished after the moment: not compared)
    earlier = pl.col("dataset").is_in(sorted(later)).not_()
    runs = ("last_fetch", "last_outcome", "last_error")
    assert then.filter(earlier).drop(runs).equals(now.filter(earlier).drop(runs))
    with autocommit(loaded_engine) as conn:
        full = ingest_freshness._read(conn, middle)
    assert ingest_freshness._stored(loaded_engine, middle) == full


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
        (
            lambda e: api.indicator_values("ghg_by_sector.transprt", engine=e),
            "unknown indicator 'ghg_by_sector.transprt'; nearest: ghg_by_sector.transport",
        ),
        (lambda e: api.assessments("ghg_by_sector.nope", engine=e), "unknown indicator 'ghg_by_sector.nope'"),
    ],
)
def test_unknown_area_indicator_or_dataset_is_an_error_naming_the_nearest(
    loaded_engine: Engine, call: Callable[[Engine], object], message: str
) -> None:
    with pytest.raises(UnknownCodeError) as caught:
        call(loaded_engine)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)  # analysts may catch it as a ValueError


def test_values_kinds_are_the_documented_ones(loaded_engine: Engine) -> None:
    kinds = set(api.indicator_values(engine=loaded_engine)["kind"].unique())
    assert kinds == set(VALUE_KINDS)  # what `kind` accepts is what compute writes


def test_a_missing_database_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite3"
    with pytest.raises(DatabaseMissingError, match="no database at"):
        api.connect(f"sqlite:///{missing}")
    assert not missing.exists()


def test_an_empty_answer_has_the_columns_of_a_full_one(loaded_engine: Engine) -> None:
    """Tampere (837) has Syke values but no HSY ones: nothing of ghg_total, and frames of the same shape."""
    full = api.indicator_values("ghg_total", area="049", engine=loaded_engine)
    with pytest.warns(api.NoValuesWarning, match="not for 837"):
        empty = api.indicator_values("ghg_total", area="Tampere", engine=loaded_engine)
    assert empty.height == 0 and empty.schema == full.schema
    full_sectors = api.sectors("049", engine=loaded_engine)
    with pytest.warns(api.NoValuesWarning, match="not for 837"):
        empty_sectors = api.sectors("837", engine=loaded_engine)
    assert empty_sectors.height == 0 and empty_sectors.schema == full_sectors.schema
    assert {"snapshot_ids", "vintage", "is_demo"} <= set(full_sectors.columns)
    full_outlook = api.outlook("ghg_total", area="049", engine=loaded_engine)
    with pytest.warns(api.NoValuesWarning, match="not for 837"):
        empty_outlook = api.outlook("ghg_total", area="837", engine=loaded_engine)
    assert empty_outlook.height == 0 and empty_outlook.schema == full_outlook.schema
    assert api.outlook("ghg_by_sector", engine=loaded_engine).schema == full_outlook.schema
    full_assessed = api.assessments("ghg_total", area="049", engine=loaded_engine)
    empty_assessed = api.assessments("ghg_total", area="837", engine=loaded_engine)
    assert empty_assessed.height == 0 and empty_assessed.columns == full_assessed.columns


def test_outlook_carries_unit_and_provenance(loaded_engine: Engine) -> None:
    found = api.outlook("ghg_total", area="049", engine=loaded_engine)
    values = api.indicator_values("ghg_total", area="049", kind=["observed", "target"], engine=loaded_engine)
    row = found.row(0, named=True)
    assert row["unit"] == "kt CO2e" and row["is_demo"] is True
    assert row["vintage"] == values["vintage"].max()
    assert row["snapshot_ids"] == sorted(set(values["snapshot_ids"].explode().drop_nulls()))


def test_rates_are_in_percent_as_the_report_shows_them(loaded_engine: Engine) -> None:
    """The dashboard shows a method's observed and required rates in % a year; the API gives the same."""
    from indicators import query
    from report import data as rd

    shown = rd.dashboard_frame(loaded_engine, "en").filter(pl.col("indicator_id") == "ghg_total")
    ours = api.assessments("ghg_total", area=rd.ESPOO, engine=loaded_engine)
    stored = query.assessments("ghg_total", area=rd.ESPOO, engine=loaded_engine)
    eurostat = ours.filter(pl.col("method") == "eurostat_sdg").row(0, named=True)
    on_page = shown.filter(pl.col("method") == "eurostat").row(0, named=True)
    assert eurostat["observed_rate"] == pytest.approx(on_page["observed_rate"], rel=1e-12)
    assert eurostat["required_rate"] == pytest.approx(on_page["required_rate"], rel=1e-12)
    raw = stored.filter(pl.col("method") == "eurostat_sdg")["observed_rate"].item()
    assert eurostat["observed_rate"] == pytest.approx(raw * 100, rel=1e-12)
    fresh = api.assess_at(None, "ghg_total", engine=loaded_engine).filter(
        pl.col("area") == rd.ESPOO, pl.col("method") == "eurostat_sdg"
    )
    assert fresh["observed_rate"].item() == pytest.approx(eurostat["observed_rate"], rel=1e-12)


def test_assessments_of_a_breakdown_are_its_parts(loaded_engine: Engine) -> None:
    parts = api.assessments("ghg_by_sector", area="049", engine=loaded_engine)
    assert parts.height > 0 and parts["indicator"].str.starts_with("ghg_by_sector.").all()
    one = api.assessments("ghg_by_sector.transport", area="049", engine=loaded_engine)
    assert set(one["indicator"]) == {"ghg_by_sector.transport"}
    assert one.height == parts.filter(pl.col("indicator") == "ghg_by_sector.transport").height
    fresh = api.assess_at(None, ["ghg_by_sector.transport"], engine=loaded_engine)
    assert set(fresh["indicator"]) == {"ghg_by_sector.transport"}


def test_one_code_given_as_a_string_is_one_code(loaded_engine: Engine) -> None:
    as_text = api.compare("syke_ghg_per_resident", "049", engine=loaded_engine)
    as_list = api.compare("syke_ghg_per_resident", ["049"], engine=loaded_engine)
    assert as_text.height > 0 and as_text.equals(as_list)
    assert set(api.assess_at(None, "ghg_total", engine=loaded_engine)["indicator"]) == {"ghg_total"}
    changes = api.status_changes(date(2020, 1, 1), indicators="ghg_total", engine=loaded_engine)
    assert set(changes["indicator"]) <= {"ghg_total"}


def test_dates_as_iso_text_and_a_municipality_number_without_zeros(loaded_engine: Engine) -> None:
    by_date = api.observations("statfin_population", area="049", as_of=date(2030, 1, 1), engine=loaded_engine)
    by_text = api.observations("statfin_population", area="49", as_of="2030-01-01", engine=loaded_engine)
    assert by_text.height > 0 and by_text.equals(by_date)
    values = api.indicator_values("ghg_total", area="49", kind="observed", engine=loaded_engine)
    assert set(values["area"]) == {"049"}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda e: api.indicator_values("ghg_total", kind="observd", engine=e),
            UnknownCodeError,
            "unknown kind 'observd'; nearest: observed",
        ),
        (
            lambda e: api.indicator_values("Kasvihuonekaasupäästöt", engine=e),
            UnknownCodeError,
            "that is the name of ghg_total; give the id",
        ),
        (lambda e: api.assess_at(None, ["ghg_totl"], engine=e), UnknownCodeError, "nearest: ghg_total"),
        (
            lambda e: api.status_changes(date(2020, 1, 1), indicators=["ghg_totl"], engine=e),
            UnknownCodeError,
            "nearest: ghg_total",
        ),
        (lambda e: api.assess_at("last summer", engine=e), ValueError, "as_of: expected a date"),
        (
            lambda e: api.observations("statfin_population", as_of="30.6.2025", engine=e),
            ValueError,
            "as_of: expected a date",
        ),
        (
            lambda e: api.status_changes(date(2027, 1, 1), date(2020, 1, 1), engine=e),
            ValueError,
            "is earlier than before",
        ),
        # arguments of a wrong type: named, not "'float' object is not iterable" or read as something else
        (
            lambda e: api.indicator_values("ghg_total", area=49.0, engine=e),  # type: ignore[arg-type]
            TypeError,
            "area: expected a code, a name or a municipality number, or a list of them; got 49.0 (float)",
        ),
        (
            lambda e: api.indicator_values("ghg_total", area=True, engine=e),  # not municipality 001
            TypeError,
            "area: expected a code, a name or a municipality number",
        ),
        (
            lambda e: api.indicator_values(5, engine=e),  # type: ignore[arg-type]
            TypeError,
            "indicator: expected text or a list of texts, got 5 (int)",
        ),
        (
            lambda e: api.assessments("ghg_total", latest="no", engine=e),  # type: ignore[arg-type]
            TypeError,
            "latest: expected True or False, got 'no'",
        ),
        (
            lambda e: api.observations("hsy_emissions", lang="de", engine=e),
            ValueError,
            "lang: expected one of fi, sv, en, got 'de'",
        ),
        (
            lambda e: api.compare("ghg_total", ["049"], lang="de", engine=e),
            ValueError,
            "lang: expected one of fi, sv, en, got 'de'",
        ),
    ],
)
def test_bad_arguments_name_the_argument_and_what_is_valid(
    loaded_engine: Engine, call: Callable[[Engine], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        call(loaded_engine)
    assert message in str(caught.value)


def test_a_date_and_a_time_on_that_day_are_ordered_as_they_are_read(loaded_engine: Engine) -> None:
    """A date means the end of that day wherever a vintage is read (observations' as_of includes what was
    fetched that day); the order check read it as the day's start, and refused a time earlier that day
    before the date as "after is earlier than before"."""
    day = fetch_span(loaded_engine)[1].date()
    morning = datetime.combine(day, datetime.min.time()) + timedelta(hours=1)
    api.status_changes(morning, day, engine=loaded_engine)  # the morning first: no error
    with pytest.raises(ValueError, match="is earlier than before"):
        api.status_changes(day, morning, engine=loaded_engine)


def _espoo_ghg(engine: Engine) -> dict[str, dict[str, Any]]:
    """ghg_total's assessments for Espoo by method, as the API gives them."""
    found = api.assessments("ghg_total", area="049", engine=engine)
    return {row["method"]: row for row in found.iter_rows(named=True)}


def test_each_method_s_rates_in_the_unit_it_names(loaded_engine: Engine) -> None:
    """Only the compound-rate methods' fractions are scaled to %; the German model's rates are in kt a
    year and SDSN's in score points a year, as those methods define them (their module docstrings)."""
    rows = _espoo_ghg(loaded_engine)
    german = rows["german_strategy"]
    assert german["rate_unit"] == "kt CO2e a year"
    span = german["latest_year"] - german["base_year"]
    mean_change = (german["latest_value"] - german["base_value"]) / span
    horizon = german["target_year"] - german["latest_year"]
    needed = (german["target_value"] - german["latest_value"]) / horizon
    assert german["observed_rate"] == pytest.approx(mean_change, rel=1e-9)
    assert german["required_rate"] == pytest.approx(needed, rel=1e-9)
    sdsn = rows["sdsn_trend"]
    assert sdsn["rate_unit"] == "score points a year"
    assert -100 <= sdsn["observed_rate"] <= 100 and 0 < sdsn["required_rate"] <= 100
    linear = rows["linear_trajectory_check"]
    assert linear["rate_unit"] == "% a year"
    years = linear["latest_year"] - linear["base_year"]
    compound = (linear["latest_value"] / linear["base_value"]) ** (1 / years) - 1
    assert linear["observed_rate"] == pytest.approx(compound * 100, rel=1e-9)
    assert {rows[m]["rate_unit"] for m in ("eurostat_sdg", "open_sdg")} == {"% a year"}


def test_the_german_models_rates_of_a_share_are_in_percentage_points(loaded_engine: Engine) -> None:
    """A % indicator's change a year is in percentage points: (latest − base) / years of a share. Said
    "% a year", as the compound-rate methods' relative rates are, the two read as one quantity."""
    rows = api.assessments("recycling_rate", area="FI", engine=loaded_engine)
    units = dict(rows.select("method", "rate_unit").iter_rows())
    assert units["german_strategy"] == "percentage points a year"
    assert units["eurostat_sdg"] == "% a year"
    german = rows.filter(pl.col("method") == "german_strategy").row(0, named=True)
    span = german["latest_year"] - german["base_year"]
    points = german["latest_value"] - german["base_value"]
    assert german["observed_rate"] == pytest.approx(points / span, rel=1e-9)


def test_pace_ratio_and_deviation_are_those_the_report_shows(loaded_engine: Engine) -> None:
    """The stored ratio is each method's own measure; the dashboard (and the export) show the linear
    path's ratio of compound rates and the German model's deviation in %: the API gives those too."""
    from report import data as rd

    rows = _espoo_ghg(loaded_engine)
    linear, german = rows["linear_trajectory_check"], rows["german_strategy"]
    base, latest, target = linear["base_value"], linear["latest_value"], linear["target_value"]
    observed = (latest / base) ** (1 / (linear["latest_year"] - linear["base_year"])) - 1
    required = (target / base) ** (1 / (linear["target_year"] - linear["base_year"])) - 1
    assert linear["pace_ratio"] == pytest.approx(observed / required, rel=1e-9)
    # the method's own measure (the share of the straight path's change achieved) is another number
    assert linear["method_measure"] != pytest.approx(linear["pace_ratio"])
    assert "ratio" not in rows["linear_trajectory_check"]  # one word, one number: pace_ratio
    projected = german["latest_value"] + german["observed_rate"] * (
        german["target_year"] - german["latest_year"]
    )
    gap = german["target_value"] - german["latest_value"]
    assert german["deviation_pct"] == pytest.approx(
        (german["target_value"] - projected) / gap * 100, rel=1e-9
    )
    assert german["pace_ratio"] is None
    shown = rd.dashboard_frame(loaded_engine, "en").filter(
        pl.col("indicator_id") == "ghg_total", pl.col("area") == "049"
    )
    on_page = {row["method"]: row for row in shown.iter_rows(named=True)}
    assert linear["pace_ratio"] == pytest.approx(on_page["linear"]["ratio"], rel=1e-12)
    assert german["deviation_pct"] == pytest.approx(on_page["german"]["deviation"], rel=1e-12)
    assert rows["eurostat_sdg"]["pace_ratio"] == pytest.approx(on_page["eurostat"]["ratio"], rel=1e-12)


def test_assess_at_before_any_data_is_empty_with_the_columns_and_types_of_a_full_one(
    loaded_engine: Engine,
) -> None:
    full = api.assess_at(None, "ghg_total", engine=loaded_engine)
    empty = api.assess_at(date(2000, 1, 1), "ghg_total", engine=loaded_engine)
    assert full.height > 0 and empty.height == 0 and empty.schema == full.schema
    assert full.schema["observed_rate"] == pl.Float64 and full.schema["vintage"] == pl.Datetime("us", "UTC")


def test_a_frame_s_types_do_not_depend_on_its_values(loaded_engine: Engine) -> None:
    """Targets have no bounds nor flags: still the types of the observed rows', so frames concatenate."""
    observed = api.indicator_values("ghg_total", area="049", kind="observed", engine=loaded_engine)
    targets = api.indicator_values("ghg_total", area="049", kind="target", engine=loaded_engine)
    assert targets.height > 0 and targets["lower"].is_null().all() and targets["flags"].is_null().all()
    assert targets.schema == observed.schema
    assert targets.schema["lower"] == pl.Float64 and targets.schema["flags"] == pl.String
    assert pl.concat([observed, targets]).height == observed.height + targets.height


def test_provisional_figures_keep_their_flags(loaded_engine: Engine) -> None:
    """HSY's newest year is provisional (the catalogue marks it 'p'): the outlook and sectors say so."""
    observed = api.indicator_values("ghg_total", area="049", kind="observed", engine=loaded_engine)
    newest = observed.filter(pl.col("year") == observed["year"].max()).row(0, named=True)
    found = api.outlook("ghg_total", area="049", engine=loaded_engine).row(0, named=True)
    assert found["latest_year"] == newest["year"] and found["latest_flags"] == newest["flags"]
    assert "p" in found["latest_flags"].split(",") and found["latest_provisional"] is True
    assert "provisional" in api.flag_meanings(found["latest_flags"])
    sectors = api.sectors("049", engine=loaded_engine)
    newest_sectors = sectors.filter(pl.col("year") == newest["year"])
    assert newest_sectors.height > 0 and newest_sectors["flags"].str.contains("p").all()
    with pytest.warns(api.NoValuesWarning):
        empty = api.outlook("ghg_total", area="837", engine=loaded_engine)
    assert empty.schema["latest_provisional"] == pl.Boolean


def test_arguments_in_the_forms_the_docs_promise(loaded_engine: Engine) -> None:
    by_text = api.freshness("2026-12-01", engine=loaded_engine)
    assert by_text.equals(api.freshness(date(2026, 12, 1), engine=loaded_engine))
    by_number = api.indicator_values("ghg_total", area=49, kind="observed", engine=loaded_engine)
    by_code = api.indicator_values("ghg_total", area="049", kind="observed", engine=loaded_engine)
    assert by_number.height > 0 and by_number.equals(by_code)
    several = api.assessments("ghg_total", area=[49, "091"], engine=loaded_engine)
    assert sorted(several["area"].unique()) == ["049", "091"]
    one = by_code["snapshot_ids"][0].to_list()[0]
    assert api.provenance(one, engine=loaded_engine).equals(api.provenance([one], engine=loaded_engine))
    with pytest.raises(TypeError, match="expected one indicator id"):
        api.outlook(["ghg_total"], engine=loaded_engine)  # type: ignore[arg-type]


def test_a_value_derived_from_a_target_or_an_assumption_is_not_observed(loaded_engine: Engine) -> None:
    """compensation_need is what the −80 % target leaves (20 % of 1990), the sink 21 % of 2019: neither is
    an observation, and `kind` says which they are."""
    ghg = api.indicator_values("ghg_total", area="049", kind="observed", engine=loaded_engine)
    of_year = dict(ghg.select("year", "value").iter_rows())
    need = api.indicator_values("compensation_need", engine=loaded_engine).row(0, named=True)
    assert need["kind"] == "target_derived" and need["value"] == pytest.approx(of_year[1990] * 0.2)
    sink = api.indicator_values("carbon_sink_estimate", engine=loaded_engine).row(0, named=True)
    assert sink["kind"] == "assumption" and sink["value"] == pytest.approx(of_year[2019] * 0.21)
    assumed = api.indicator_values(kind="assumption", engine=loaded_engine)
    assert assumed["indicator"].unique().to_list() == ["carbon_sink_estimate"]
    observed = api.indicator_values(kind="observed", engine=loaded_engine)
    assert not observed["indicator"].is_in(["compensation_need", "carbon_sink_estimate"]).any()


def test_an_unknown_kind_is_an_error_listing_the_kinds(loaded_engine: Engine) -> None:
    with pytest.raises(UnknownCodeError) as caught:
        api.indicator_values("ghg_total", kind="assessment", engine=loaded_engine)
    assert all(kind in str(caught.value) for kind in VALUE_KINDS), caught.value


def test_provenance_of_a_snapshot_that_does_not_exist_is_an_error_naming_it(loaded_engine: Engine) -> None:
    with pytest.raises(UnknownCodeError, match=r"unknown snapshot id\(s\) 99999:"):
        api.provenance([1, 99999], engine=loaded_engine)
    with pytest.raises(TypeError, match="expected integer snapshot ids"):
        api.provenance(["abc"], engine=loaded_engine)  # type: ignore[list-item]


def test_times_are_utc_and_an_argument_with_an_offset_is_converted(loaded_engine: Engine) -> None:
    values = api.indicator_values("ghg_total", area="049", kind="observed", engine=loaded_engine)
    assert values.schema["vintage"] == pl.Datetime("us", "UTC")
    assessed = api.assessments("ghg_total", area="049", engine=loaded_engine)
    assert assessed.schema["vintage"] == pl.Datetime("us", "UTC") and "as_of" not in assessed.columns
    fetched = api.provenance(values["snapshot_ids"][0].to_list(), engine=loaded_engine)["fetched_at"]
    assert fetched.dtype == pl.Datetime("us", "UTC")
    # one instant three ways: an offset, UTC, and a naive time (read as UTC) give the same statuses
    moment = values["vintage"].max()
    assert isinstance(moment, datetime) and moment.tzinfo is not None
    helsinki = moment.astimezone(ZoneInfo("Europe/Helsinki"))
    at_offset = api.assess_at(helsinki.isoformat(), "ghg_total", engine=loaded_engine)
    at_utc = api.assess_at(moment, "ghg_total", engine=loaded_engine)
    at_naive = api.assess_at(moment.replace(tzinfo=None), "ghg_total", engine=loaded_engine)
    assert at_offset.height > 0 and at_offset.equals(at_utc) and at_naive.equals(at_utc)
    # an hour before the data, in Helsinki time read as UTC would be after it: nothing assessed yet
    before = (moment - timedelta(hours=1)).astimezone(ZoneInfo("Europe/Helsinki"))
    assert api.assess_at(before, "ghg_total", engine=loaded_engine).height == 0


def test_assessments_carry_the_provenance_of_the_values_they_assessed(loaded_engine: Engine) -> None:
    assessed = api.assessments("syke_ghg_hinku", area=["091", "837"], engine=loaded_engine)
    areas = ["091", "837"]
    values = api.indicator_values("syke_ghg_hinku", area=areas, kind="observed", engine=loaded_engine)
    for row in assessed.iter_rows(named=True):
        own = values.filter(pl.col("area") == row["area"])
        assert row["unit"] == "kt CO2e"
        assert row["snapshot_ids"] == sorted(set(own["snapshot_ids"].explode().to_list()))
        assert row["is_demo"] is own["is_demo"].any()


def test_every_installed_package_says_it_is_typed() -> None:
    """PEP 561: without py.typed mypy treats `from kestava import api` in a notebook's script as untyped."""
    root = Path(__file__).resolve().parent.parent
    build = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    packages = build["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert "kestava" in packages and "report" in packages
    assert [p for p in packages if not (root / p / "py.typed").is_file()] == []


def test_the_api_functions_say_their_times_are_aware() -> None:
    """The query functions' docstrings say how times are stored (naive UTC); the API gives them aware."""
    for function in (api.indicator_values, api.outlook, api.sectors, api.freshness, api.status_changes):
        assert function.__doc__ and "naive UTC" not in function.__doc__, function.__name__
    assert "UTC-aware" in (api.indicator_values.__doc__ or "")


@pytest.mark.parametrize(
    ("dataset", "lang"),
    [
        ("hsy_emissions", None),
        ("hsy_emissions", "sv"),
        ("syke_emissions", None),
        ("syke_emissions", "en"),
        ("traficom_cars", "fi"),
        (["hsy_emissions", "statfin_population"], None),
    ],
)
def test_an_empty_observations_answer_has_the_columns_and_types_of_a_full_one(
    loaded_engine: Engine, dataset: str | list[str], lang: str | None
) -> None:
    """Before any snapshot nothing is current: the same columns, of the same types, as now."""
    full = api.observations(dataset, area="049", lang=lang, engine=loaded_engine)
    empty = api.observations(dataset, area="049", lang=lang, as_of=date(2000, 1, 1), engine=loaded_engine)
    assert full.height > 0 and empty.height == 0
    assert empty.schema == full.schema
    wanted = [dataset] if isinstance(dataset, str) else dataset
    declared = {d for i in wanted for d in load_catalogue().datasets[i].dimensions}
    assert declared <= set(empty.columns) and "key" not in empty.columns
    if dataset == "syke_emissions" and lang:
        assert {"taso_3_name", "taso_4_name", "taso_5_name"} <= set(empty.columns)


def test_every_dataset_s_series_have_the_dimensions_its_catalogue_entry_declares(
    loaded_engine: Engine,
) -> None:
    stored = read.observations(loaded_engine, expand=False).select("dataset", "key").unique()
    found: dict[str, set[tuple[str, ...]]] = {}
    for dataset_id, key in stored.iter_rows():
        found.setdefault(dataset_id, set()).add(tuple(sorted(json.loads(key))))
    catalogue = load_catalogue()
    assert set(found) == set(catalogue.datasets)
    for dataset_id, keys in found.items():
        assert keys == {tuple(sorted(catalogue.datasets[dataset_id].dimensions))}, dataset_id
    assert all(spec.dimensions for spec in [*catalogue.datasets.values(), *catalogue.disabled.values()])


@pytest.mark.parametrize(
    "call",
    [
        lambda e: api.indicator_values([], engine=e),
        lambda e: api.indicator_values("ghg_total", area=[], engine=e),
        lambda e: api.indicator_values("ghg_total", kind=[], engine=e),
        lambda e: api.assessments([], engine=e),
        lambda e: api.assessments("ghg_total", area=[], engine=e),
        lambda e: api.assess_at(None, [], engine=e),
        lambda e: api.compare("ghg_total", [], engine=e),
        lambda e: api.sectors([], engine=e),
        lambda e: api.outlook("ghg_total", area=[], engine=e),
        lambda e: api.observations([], engine=e),
        lambda e: api.observations("hsy_emissions", area=[], engine=e),
        lambda e: api.notes([], engine=e),
        lambda e: api.notes(area=[], engine=e),
        lambda e: api.provenance([], engine=e),
        lambda e: api.status_changes(date(2020, 1, 1), indicators=[], engine=e),
    ],
)
def test_an_empty_list_selects_nothing(loaded_engine: Engine, call: Callable[[Engine], pl.DataFrame]) -> None:
    """A list comprehension that comes out empty selects nothing, not everything (as None does)."""
    assert call(loaded_engine).height == 0


def test_an_empty_selection_has_the_columns_of_a_full_one(loaded_engine: Engine) -> None:
    full = api.indicator_values("ghg_total", area="049", engine=loaded_engine)
    assert api.indicator_values([], engine=loaded_engine).schema == full.schema
    assert api.indicator_values("ghg_total", area=[], engine=loaded_engine).schema == full.schema
    assessed = api.assessments("ghg_total", engine=loaded_engine)
    assert api.assessments(area=[], engine=loaded_engine).schema == assessed.schema
    assert (
        api.assess_at(None, [], engine=loaded_engine).schema
        == api.assess_at(None, "ghg_total", engine=loaded_engine).schema
    )


# ghg_total is computed for the areas its catalogue entry names (HSY's), Tampere not among them
TAMPERE_HAS_NO_HSY_VALUES = (
    "ghg_total: computed only for 049 (Espoo), 091 (Helsinki), 092 (Vantaa), 235 (Kauniainen), "
    "PKS (Pääkaupunkiseutu), not for 837 (Tampere)"
)


def test_an_area_asked_for_without_values_is_a_warning_saying_why(loaded_engine: Engine) -> None:
    """Tampere has no HSY values: `kestava export` says why, and so does the API, in the same words."""
    with pytest.warns(api.NoValuesWarning) as caught:
        both = api.compare("ghg_total", ["049", "Tampere"], engine=loaded_engine)
    assert set(both["area"]) == {"049"}
    # (only the API's own warnings: a ResourceWarning of a connection another test left open and that the
    # garbage collector closes here is recorded too)
    ours = [w for w in caught if issubclass(w.category, api.NoValuesWarning)]
    assert [str(w.message) for w in ours] == [TAMPERE_HAS_NO_HSY_VALUES]
    assert ours[0].filename == __file__  # pointing at the caller's line
    with pytest.warns(api.NoValuesWarning, match="not for 837 \\(Tampere\\)"):
        assert api.outlook("ghg_total", area="837", engine=loaded_engine).height == 0
    with pytest.warns(api.NoValuesWarning, match="not for 837"):
        api.sectors(["049", "837"], engine=loaded_engine)
    with pytest.warns(api.NoValuesWarning, match="not for 837"):
        api.indicator_values("ghg_total", area=[49, 837], engine=loaded_engine)
    # Finland has renewable_share values but no target: no outlook, and the warning says so
    assert api.indicator_values("renewable_share", area="FI", kind="observed", engine=loaded_engine).height
    with pytest.warns(
        api.NoValuesWarning, match=r"no target values for FI \(Suomi\); areas with target values: EU27"
    ):
        assert api.outlook("renewable_share", area="FI", engine=loaded_engine).height == 0


def test_areas_that_all_have_values_give_no_warning(loaded_engine: Engine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert api.compare("ghg_total", ["049", "091"], engine=loaded_engine).height > 0
        assert api.outlook("ghg_total", area="049", engine=loaded_engine).height > 0
        assert api.indicator_values("ghg_total", engine=loaded_engine).height > 0  # no area asked


def test_an_unknown_area_is_still_an_error(loaded_engine: Engine) -> None:
    with pytest.raises(UnknownCodeError, match="nearest: Tampere"):
        api.compare("ghg_total", ["049", "Tamper"], engine=loaded_engine)


def test_notes_of_an_indicator_with_a_breakdown_are_its_parts_notes_too(engine: Engine) -> None:
    """As indicator_values and assessments: 'ghg_by_sector' gives the notes on its parts."""
    known = known_note_indicators()
    transport = add_note(
        engine,
        "ghg_by_sector.transport",
        period="2024",
        lang="fi",
        body="Liikenne.",
        author="A B",
        known_indicators=known,
    )
    parent = add_note(
        engine,
        "ghg_by_sector",
        period="2024",
        lang="fi",
        body="Kaikki.",
        author="A B",
        known_indicators=known,
    )
    subsector = add_note(
        engine,
        "ghg_by_subsector.oil_heating",
        period="2024",
        lang="fi",
        body="Tie.",
        author="A B",
        known_indicators=known,
    )
    assert sorted(api.notes("ghg_by_sector", engine=engine)["id"]) == sorted([transport.id, parent.id])
    assert api.notes("ghg_by_sector.transport", engine=engine)["id"].to_list() == [transport.id]
    assert api.notes("ghg_by_subsector", engine=engine)["id"].to_list() == [subsector.id]
    assert api.notes([], engine=engine).height == 0


def test_assessment_figures_are_what_their_docstring_says(loaded_engine: Engine) -> None:
    """score, pace_ratio, method_measure and vintage as documented in api.assessments (methods' sources)."""
    assessed = api.assessments(engine=loaded_engine)
    by = {m: assessed.filter(pl.col("method") == m) for m in assessed["method"].unique()}
    open_sdg, sdsn = by["open_sdg"].drop_nulls("score"), by["sdsn_trend"].drop_nulls("score")
    assert open_sdg.height and open_sdg["score"].is_between(-5, 5).all()  # sdg-build's get_score
    assert sdsn.height and sdsn["score"].is_between(0, 100).all()  # the normalised score
    for method in ("eurostat_sdg", "german_strategy", "linear_trajectory_check"):
        assert by[method]["score"].is_null().all(), method
    # SDSN's pace ratio is of score points a year, as its rates are
    sdsn_paced = by["sdsn_trend"].drop_nulls("pace_ratio")
    assert sdsn_paced.height and set(sdsn_paced["rate_unit"]) == {"score points a year"}
    ratio = sdsn_paced["observed_rate"] / sdsn_paced["required_rate"]
    assert sdsn_paced["pace_ratio"].to_list() == pytest.approx(ratio.to_list(), rel=1e-9)
    # without a target neither ratio: the growth in the desired direction judged is details' measure
    trend_only = pl.concat([by["eurostat_sdg"], by["open_sdg"]]).filter(
        pl.col("target_value").is_null(), pl.col("observed_rate").is_not_null()
    )
    assert trend_only.height and trend_only["pace_ratio"].is_null().all()
    assert trend_only["method_measure"].is_null().all()
    for row in trend_only.iter_rows(named=True):
        sign = 1 if row["details"] and json.loads(row["details"])["direction"] == "increase" else -1
        base_sign = 1 if row["base_value"] > 0 else -1
        measure = json.loads(row["details"])["measure"]
        assert measure == pytest.approx(sign * base_sign * row["observed_rate"] / 100, rel=1e-9)
    # the vintage is the data's (the newest fetch behind the values), not when the assessment was made
    values = api.indicator_values("ghg_total", area="049", kind="observed", engine=loaded_engine)
    ghg = assessed.filter(pl.col("indicator") == "ghg_total", pl.col("area") == "049")
    assert set(ghg["vintage"]) == {values["vintage"].max()}
    assert (ghg["computed_at"] > ghg["vintage"]).all()


def test_provenance_gives_one_row_per_payload(loaded_engine: Engine) -> None:
    """Syke's emissions come from one file per municipality: one snapshot, several payloads, a row each."""
    [snapshot] = read.snapshots(loaded_engine, "syke_emissions")["id"].to_list()
    payloads = api.provenance(snapshot, engine=loaded_engine)
    assert payloads.height > 1 and payloads["url"].is_unique().all()
    assert payloads["snapshot_id"].unique().to_list() == [snapshot]
    assert payloads["seq"].to_list() == list(range(payloads.height))
