"""A dataset is up to date when the areas the tracker uses of it are: Eurostat's net GHG emissions are read
for Finland (net_ghg_national lists no areas: the home areas), so EU-27's newer year does not count."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from sqlalchemy import Engine

from indicators import query
from indicators.catalogue import HOME_AREAS, load_indicator_catalogue
from ingest.catalogue import load_catalogue
from ingest.freshness import freshness, judged_areas
from kestava.alerts import Alerter, alert_late_sources
from kestava.status import status_report, used_areas
from report import data as rd
from storage.jobs import finish_run, start_run
from storage.load import DatasetInfo, SourceInfo, load_snapshot
from storage.rawstore import RawStore
from tests.conftest import make_payload

DATASET = "eurostat_sdg_13_10"


def test_the_areas_used_of_a_dataset_are_its_indicators_areas_or_the_home_areas() -> None:
    """net_ghg_national (Eurostat sdg_13_10) names no areas: Espoo's and Finland's are the ones it is read
    for; HSY's are the areas its indicators list (Espoo, the other three cities, the region)."""
    areas = load_indicator_catalogue().dataset_areas()
    assert HOME_AREAS == ("049", "FI")
    assert areas[DATASET] == {"049", "FI"}
    assert areas["hsy_emissions"] == {"049", "091", "092", "235", "PKS"}
    assert judged_areas({"FI", "EU27_2020"}, areas[DATASET]) == ["FI"]
    assert judged_areas({"EU27_2020"}, {"FI"}) == ["EU27_2020"]  # none used stored: judged on what is
    assert judged_areas({"FI", "EU27_2020"}, None) == ["EU27_2020", "FI"]


def _load_net_ghg(engine: Engine, raw_store: RawStore, rows: list[tuple[str, str]] | None = None) -> None:
    """sdg_13_10 as its connector stores it (area, period): by default Finland to 2022, EU-27 to 2023."""
    if rows is None:
        rows = [("FI", str(year)) for year in range(2018, 2023)] + [
            ("EU27_2020", str(y)) for y in range(2018, 2024)
        ]
    data = pl.DataFrame(
        {
            "area": [area for area, _ in rows],
            "src_crf": ["TOTXMEMONIA"] * len(rows),
            "period": [period for _, period in rows],
            "value": [70.0] * len(rows),
            "flag": [None] * len(rows),
            "unit": ["index"] * len(rows),
        },
        schema={
            c: pl.Float64 if c == "value" else pl.String
            for c in ("area", "src_crf", "period", "value", "flag", "unit")
        },
    )
    source = SourceInfo(
        "eurostat", "Eurostat", "reuse with acknowledgement", "Eurostat", "https://ec.europa.eu/"
    )
    info = DatasetInfo(DATASET, "Net greenhouse gas emissions", "eurostat_jsonstat", source)
    load_snapshot(engine, info, [make_payload(b"sdg_13_10")], data, reader_version="t/1", raw_store=raw_store)
    run_id = start_run(engine, f"ingest:{DATASET}", dataset_id=DATASET, trigger="test")
    finish_run(engine, run_id, "success")


def _a_day_expecting(year: int) -> date:
    """A day on which the dataset's calendar expects the year `year` published (and no later one)."""
    calendar = load_catalogue().dataset(DATASET).calendar
    day = date(year + 1, 1, 1)
    while calendar.expected_latest_period_end(day) < date(year, 12, 31):
        day += timedelta(days=1)
    assert calendar.expected_latest_period_end(day) == date(year, 12, 31)
    return day


def test_eu27s_newer_year_does_not_make_finlands_series_up_to_date(
    engine: Engine, raw_store: RawStore
) -> None:
    """When 2023 is due, Finland's series (to 2022) is late, whatever EU-27 has: the API, the report's and
    the site's freshness (report.data.freshness_frame) all say so, and name the area judged."""
    _load_net_ghg(engine, raw_store)
    today = _a_day_expecting(2023)
    judged = query.freshness(today, engine=engine).filter(pl.col("dataset") == DATASET).row(0, named=True)
    assert (judged["latest_period"], judged["latest_period_end"], judged["state"]) == (
        "2022",
        date(2022, 12, 31),
        "late",
    )
    assert judged["areas"] == ["FI"]
    # every area alike (no areas given) was the old reading: EU-27's 2023 made it fresh
    every = freshness(engine, load_catalogue(), today).filter(pl.col("dataset") == DATASET)
    assert every.select("latest_period", "state").row(0) == ("2023", "fresh")
    for lang, finland in (("fi", "Suomi"), ("sv", "Finland"), ("en", "Finland")):
        shown = (
            rd.freshness_frame(engine, today, lang).filter(pl.col("dataset_id") == DATASET).row(0, named=True)
        )
        assert (shown["status"], shown["last_period_end"], shown["areas"]) == (
            "late",
            date(2022, 12, 31),
            ["FI"],
        )
        text = rd.of_areas("31.12.2022", shown["areas"], lang)
        assert text == f"31.12.2022 ({finland})", text
    # while 2022 is the year due, Finland's series is up to date on its own year
    earlier = query.freshness(_a_day_expecting(2022), engine=engine).filter(pl.col("dataset") == DATASET)
    assert earlier.select("latest_period", "state").row(0) == ("2022", "fresh")


def test_status_sources_and_alerts_judge_on_the_areas_used_as_the_report_does(
    engine: Engine, raw_store: RawStore
) -> None:
    """`kestava status`, `kestava sources` and the late-source alerts said Eurostat's net emissions were up
    to date (EU-27's 2023) while the report and the site said late (Finland's 2022)."""
    _load_net_ghg(engine, raw_store)
    today = _a_day_expecting(2023)
    report = status_report(engine, load_catalogue(), today, disks=())
    (row,) = [d for d in report.datasets if d.dataset == DATASET]
    assert (row.state, row.latest_period) == ("late", "2022")
    on_time = alert_late_sources(Alerter(engine, channels=[]), load_catalogue(), today, [DATASET])
    assert DATASET not in {subject for _, subject in on_time}
    listed = freshness(engine, load_catalogue(), today, used_areas()).filter(pl.col("dataset") == DATASET)
    assert listed.select("latest_period", "state").row(0) == ("2022", "late")  # what `sources` lists


def test_the_areas_named_beside_the_newest_period_are_those_that_have_it(
    engine: Engine, raw_store: RawStore
) -> None:
    """Of the areas judged, only those that have the newest period are named beside it: "31.12.2022
    (Suomi)", not "(Espoo, Suomi)" when Espoo's series ends a year earlier."""
    rows = [("FI", str(year)) for year in range(2018, 2023)] + [("049", str(y)) for y in range(2018, 2022)]
    _load_net_ghg(engine, raw_store, rows)
    judged = query.freshness(_a_day_expecting(2022), engine=engine).filter(pl.col("dataset") == DATASET)
    assert judged.select("latest_period", "areas").row(0) == ("2022", ["FI"])
