"""One word for one kind of value: the report's charts and tables and the site's name it alike."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from indicators.catalogue import ReductionTarget
from report import charts
from report.charts import ChartMeta, chart_table, indicator_history
from report.i18n import LANGS, t

META = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 12, 1))
TARGET = ReductionTarget(kind="reduction_from_base", base_year=1990, reduction=0.8, year=2030, source="t")
# the engine's nowcast of a finished year (indicators.engine), named as the tracker's own calculation so
# that it is not taken for a source's provisional figure (tests/test_reader_numbers.py)
NOWCAST = {
    "fi": "Seurannan oma arvio",
    "sv": "Uppföljningens egen uppskattning",
    "en": "Tracker's own estimate",
}


def _report_names(lang: str) -> tuple[dict[str, str], str, str]:
    """The report's trajectory chart with a nowcast year: the status its points legend gives each year,
    the header of its download's estimate column, and its title."""
    history = pl.DataFrame(
        {
            "year": [1990, 2022, 2023, 2024],
            "value": [1000.0, 750.0, 700.0, 690.0],
            "estimated": [False, False, False, True],
            "provisional": [False, False, True, False],
        }
    )
    chart = charts.emissions_trajectory(history, meta=META, target=TARGET, lang=lang)
    spec = chart.to_dict()
    points = next(
        rows
        for rows in spec["datasets"].values()
        if rows and {"year", "value", "status"} <= set(rows[0]) and len(rows) == history.height
    )
    statuses = {str(r["year"]): str(r["status"]) for r in points}
    headers = chart_table(chart, translated_headers=True).columns
    estimate_header = headers[chart_table(chart).columns.index("estimated")]
    return statuses, estimate_header, str(spec["title"]["text"])


def _site_names(lang: str) -> dict[str, str]:
    """The site's indicator chart of the same values: the kind its table names each period."""
    frame = pl.DataFrame(
        {
            "period": ["1990", "2022", "2023", "2024"],
            "date": [date(y, 1, 1) for y in (1990, 2022, 2023, 2024)],
            "kind": ["observed", "observed", "observed", "estimate"],
            "value": [1000.0, 750.0, 700.0, 690.0],
            "flags": [None, None, "p", None],
        }
    )
    chart = indicator_history(frame, meta=META, lang=lang, name="n", area_name="a", unit_text="kt")
    table = chart_table(chart)
    return dict(zip(table["period"].to_list(), table["kind_name"].to_list(), strict=True))


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_and_the_site_name_an_estimate_and_an_observation_alike(lang: str) -> None:
    report, estimate_header, title = _report_names(lang)
    site = _site_names(lang)
    assert report["2024"] == site["2024"] == estimate_header == NOWCAST[lang]
    assert report["2022"] == site["2022"]
    # the title of a chart with no published year, only nowcasts, says so with the same word
    latest_only = pl.DataFrame({"year": [1990, 2024], "value": [1000.0, 690.0], "estimated": [True, True]})
    spec = charts.emissions_trajectory(latest_only, meta=META, target=TARGET, lang=lang).to_dict()
    assert NOWCAST[lang].lower() in str(spec["title"]["text"]).lower()
    assert NOWCAST[lang].lower() not in title.lower()  # not where a published figure is the latest


@pytest.mark.parametrize("lang", LANGS)
def test_a_provisional_figure_has_one_name_in_the_legends_tables_and_notes(lang: str) -> None:
    names = {t(key, lang) for key in ("trajectory.provisional", "column.provisional", "flag.provisional")}
    assert len(names) == 1, names


def test_a_projection_row_of_the_report_is_no_estimate() -> None:
    """The trajectory's download marks only the nowcast years as estimates, each row with the kind the API
    gives it (a projection said "Ennakkoarvio: kyllä" beside the trend)."""
    history = pl.DataFrame({"year": [1990, 2023, 2024], "value": [1000.0, 700.0, 690.0]})
    history = history.with_columns(estimated=pl.Series([False, False, True]))
    projection = pl.DataFrame(
        {"year": [2025, 2026], "value": [680.0, 670.0], "lower": [600.0, 590.0], "upper": [760.0, 750.0]}
    )
    table = chart_table(charts.emissions_trajectory(history, projection, meta=META, target=TARGET))
    estimates = table.filter(pl.col("estimated"))
    assert estimates.select("year", "kind_key").rows() == [(2024, "estimate")]
    projected = table.filter(pl.col("kind_key") == "projection")
    assert {2025, 2026} <= set(projected["year"]) and not projected["estimated"].any()


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_and_the_site_name_the_trend_the_paths_and_the_target_alike(lang: str) -> None:
    """The report's emissions chart names its series as the site's charts name the same kinds: the trend
    projection (the report adds its band), the path from the latest value, the linear path from the base
    year (the report adds its years) and the target (the site said "Trendin jatke" where the report said
    "Trendiennuste")."""
    history = pl.DataFrame({"year": [1990, 2023, 2024], "value": [1000.0, 700.0, 690.0]})
    projection = pl.DataFrame(
        {"year": [2025, 2026], "value": [680.0, 670.0], "lower": [600.0, 590.0], "upper": [760.0, 750.0]}
    )
    chart = charts.emissions_trajectory(history, projection, meta=META, target=TARGET, lang=lang)
    table = chart_table(chart)
    series = dict(zip(table["kind_key"].to_list(), table["series"].to_list(), strict=True))
    site = {k: t(f"site.kind_{k}", lang) for k in ("projection", "path_from_latest", "path", "target")}
    assert series["projection"].startswith(site["projection"] + " ")
    assert series["path_from_latest"] == site["path_from_latest"]
    assert series["path"].split()[:2] == site["path"].split()[:2]  # "Tasainen polku 1990–2030"
    assert series["target"] == site["target"]


@pytest.mark.parametrize("lang", LANGS)
def test_an_indicator_named_with_brackets_gets_its_area_inside_them(lang: str) -> None:
    """The report's grid and the site's lists read "Net greenhouse gas emissions (national) (Finland)"; the
    area joins the name's own brackets, and a name without them gets its own."""
    from report.data import area_label, display_name

    finland = area_label("FI", lang)
    national = display_name("net_ghg_national", "FI", lang)
    assert national.endswith(f", {finland})") and national.count("(") == 1, national
    assert display_name("recycling_rate", "FI", lang).endswith(f" ({finland})")
    assert "(" not in display_name("ghg_total", "049", lang)
