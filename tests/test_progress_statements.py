"""How the progress statuses and their rates read: each number consistent with its heading, in fi/sv/en.

The expected numbers are derived here from the stored observed series and the catalogue's targets with
the methods' published definitions (FIGURES.md, "Progress-assessment methods"), not read back from the
engine's assessments.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from indicators import query
from report import charts, weekly
from report import data as rd
from report.charts import STATUS_LEVELS
from report.i18n import LANGS, format_fraction, format_number, format_percent, t
from report.theme import ChartMeta

META = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 11, 27))
GERMAN_WINDOW = 5  # FIGURES.md: the mean of the last five annual changes


def _observed(engine: Engine, indicator: str, area: str) -> dict[int, float]:
    frame = query.indicator_values(indicator, area=area, kind="observed", engine=engine)
    frame = frame.filter(pl.col("indicator") == indicator, pl.col("year").is_not_null())
    return {int(y): float(v) for y, v in frame.select("year", "value").iter_rows()}


def _cagr(start: float, end: float, years: int) -> float:
    return float((end / start) ** (1 / years) - 1)


def _reduction_target(engine: Engine, indicator: str) -> tuple[int, float, int]:
    """(base year, target value, target year) from the catalogue's reduction rule and the stored series."""
    rule = rd.reduction_target(rd.ESPOO, indicator=indicator)
    series = _observed(engine, indicator, rd.ESPOO)
    return rule.base_year, series[rule.base_year] * (1 - rule.reduction), rule.year


def _dashboard_row(engine: Engine, lang: str, indicator: str, method: str) -> dict[str, object]:
    frame = rd.dashboard_frame(engine, lang)
    return frame.filter(pl.col("indicator_id") == indicator, pl.col("method") == method).row(0, named=True)


# ---------------------------------------------------------------------------------------------------------
# 1. the dashboard's pace ratio is the ratio of the rates beside it; the German model shows its deviation


def test_linear_path_pace_ratio_is_the_ratio_of_the_rates_shown(loaded_engine: Engine) -> None:
    series = _observed(loaded_engine, "ghg_total", rd.ESPOO)
    base_year, target, target_year = _reduction_target(loaded_engine, "ghg_total")
    latest = max(series)
    observed = _cagr(series[base_year], series[latest], latest - base_year)
    required = _cagr(series[base_year], target, target_year - base_year)
    assert required == pytest.approx(0.2 ** (1 / 40) - 1)  # FIGURES.md: ≈ −3.94 % a year
    row = _dashboard_row(loaded_engine, "en", "ghg_total", "linear")
    assert row["observed_rate"] == pytest.approx(observed * 100)
    assert row["required_rate"] == pytest.approx(required * 100)
    assert row["ratio"] == pytest.approx(observed / required)
    # the straight-line slopes' ratio (the share of the path's change achieved) is no longer shown as pace
    path = series[base_year] + (target - series[base_year]) * (latest - base_year) / (target_year - base_year)
    slopes = (series[latest] - series[base_year]) / (path - series[base_year])
    assert abs(slopes - observed / required) > 0.1
    # the reason says how far above the path the value is, in kt and as a share of the path's own value
    # ("373 kt (109.9%) above the path" read as 109.9 % of the path)
    reason = rd.status_frame(loaded_engine, "en", indicators=["ghg_total"])
    text = reason.filter(pl.col("method") == "linear_trajectory_check")["reason"].item()
    more = format_percent((series[latest] - path) / path * 100, "en", 1)
    assert f", {more} more than the path;" in text, text


def test_german_model_shows_its_deviation_not_a_pace_ratio(loaded_engine: Engine) -> None:
    series = _observed(loaded_engine, "ghg_total", rd.ESPOO)
    _, target, target_year = _reduction_target(loaded_engine, "ghg_total")
    latest = max(series)
    change = (series[latest] - series[latest - GERMAN_WINDOW]) / GERMAN_WINDOW
    projected = series[latest] + change * (target_year - latest)
    deviation = (target - projected) / (target - series[latest]) * 100
    for lang in LANGS:
        row = _dashboard_row(loaded_engine, lang, "ghg_total", "german")
        assert row["ratio"] is None
        assert row["deviation"] == pytest.approx(deviation)


def test_dashboard_table_and_csv_read_the_same_in_every_language(
    loaded_engine: Engine, tmp_path: Path
) -> None:
    series = _observed(loaded_engine, "ghg_total", rd.ESPOO)
    base_year, target, target_year = _reduction_target(loaded_engine, "ghg_total")
    latest = max(series)
    ratio = _cagr(series[base_year], series[latest], latest - base_year) / _cagr(
        series[base_year], target, target_year - base_year
    )
    change = (series[latest] - series[latest - GERMAN_WINDOW]) / GERMAN_WINDOW
    projected = series[latest] + change * (target_year - latest)
    deviation = (target - projected) / (target - series[latest]) * 100
    for lang in LANGS:
        frame = rd.dashboard_frame(loaded_engine, lang)
        name = frame.filter(pl.col("indicator_id") == "ghg_total")["indicator"][0]
        chart = charts.progress_dashboard(frame, meta=META, lang=lang)
        table = weekly.frame_table(
            charts.chart_table(chart, keys=False),
            "",
            lang,
            charts.chart_table(chart, translated_headers=True, keys=False).columns,
            charts.chart_decimals(chart),
        )
        headers = table.headers
        ratio_col = headers.index(t("column.ratio", lang))
        deviation_col = headers.index(t("column.deviation", lang))
        method_col = headers.index(t("column.method", lang))
        rows = [r for r in table.rows if r[0] == name]
        linear = next(r for r in rows if r[method_col] == t("method.linear", lang))
        german = next(r for r in rows if r[method_col] == t("method.german", lang))
        assert linear[ratio_col] == format_fraction(ratio, lang)
        assert german[ratio_col] == "\u2013" and linear[deviation_col] == "\u2013"
        assert german[deviation_col] == format_number(deviation, lang, 1)
        download, _ = weekly.download_frame(
            chart, weekly.float_decimals(chart), name="progress_dashboard", lang=lang
        )
        rows_of = [r for r in download.iter_rows(named=True) if r[t("column.indicator", lang)] == name]
        by_method = {r["method_id"]: r for r in rows_of}  # the API's method ids (report.chart_ids)
        # the ratio in percent, as the page shows it (its header says "(%)"; the download wrote 0.59), to
        # one decimal: never fewer than the page prints ("7.9 %" below 10 %)
        ratio_header = weekly.unit_header(t("column.ratio", lang), "%", lang)
        linear_row, german_row = by_method["linear_trajectory_check"], by_method["german_strategy"]
        assert linear_row[ratio_header] == pytest.approx(round(ratio * 100, 1))
        assert german_row[ratio_header] is None
        assert german_row[t("column.deviation", lang)] == pytest.approx(round(deviation, 1))


def test_dashboard_rates_have_the_same_decimals_on_the_page_and_in_the_csv() -> None:
    rates = {"eurostat": 0.18, "opensdg": -0.52, "linear": 0.24}
    frame = pl.DataFrame(
        [
            {
                "indicator": "municipal_waste_per_capita",
                "sdg": "11.6",
                "method": method,
                "status": "moderate_movement_away",
                "observed_rate": rate,
                "required_rate": None,
                "ratio": None,
                "base_year": 2019,
                "latest_year": 2024,
            }
            for method, rate in rates.items()
        ],
        schema_overrides={"required_rate": pl.Float64, "ratio": pl.Float64},
    )
    for lang in LANGS:
        chart = charts.progress_dashboard(frame, meta=META, lang=lang)
        shown = charts.chart_table(chart, keys=False)
        table = weekly.frame_table(shown, "", lang, None, charts.chart_decimals(chart))
        column = shown.columns.index("observed_rate")
        on_page = [r[column] for r in table.rows]
        download, _ = weekly.download_frame(
            chart, weekly.float_decimals(chart), name="progress_dashboard", lang=lang
        )
        in_csv = download[t("column.observed_rate", lang)].to_list()
        # one decimal, as the tooltips print the rates (unit.per_year with one decimal)
        assert on_page == [format_number(round(v, 1), lang, 1) for v in rates.values()]
        assert in_csv == [round(v, 1) for v in rates.values()]


def test_a_pace_ratio_reads_alike_in_the_table_the_tooltip_the_reason_and_the_csv() -> None:
    """One rounding per number: the table had printed 7.9 %, the tooltip and the council's reason 8 %, the
    CSV 8.0; and 58.94 % as 59 % on the page but 59.0 in the CSV."""
    ratios = {"eurostat_sdg": 0.5894, "open_sdg": 0.07894}  # in the grid's method order
    frame = pl.DataFrame(
        [
            {
                "indicator": "recycling_rate",
                "sdg": "12.5",
                "method": method,
                "status": "limited_progress" if method == "open_sdg" else "insufficient_progress",
                "observed_rate": 0.2,
                "required_rate": 3.1,
                "ratio": ratio,
                "base_year": 2015,
                "latest_year": 2023,
            }
            for method, ratio in ratios.items()
        ]
    )
    nbsp = "\u00a0"
    expected = {
        "fi": [f"59{nbsp}%", f"7,9{nbsp}%"],
        "sv": [f"59{nbsp}%", f"7,9{nbsp}%"],
        "en": ["59%", "7.9%"],
    }
    for lang in LANGS:
        chart = charts.progress_dashboard(frame, meta=META, lang=lang)
        shown = charts.chart_table(chart, keys=False)
        table = weekly.frame_table(shown, "", lang, None, charts.chart_decimals(chart))
        column = shown.columns.index("ratio")
        assert [r[column] for r in table.rows] == expected[lang]
        (cells,) = chart.to_dict()["datasets"].values()  # the tooltips' texts
        assert [cell["ratio_text"] for cell in cells] == expected[lang]
        reasons = [
            rd.assessment_reason({**row, "target_value": 65.0, "target_year": 2035, "n_points": 9}, lang)
            for row in frame.iter_rows(named=True)
        ]
        assert all(text in reason for text, reason in zip(expected[lang], reasons, strict=True))
        download, _ = weekly.download_frame(
            chart, weekly.float_decimals(chart), name="progress_dashboard", lang=lang
        )
        ratio_header = weekly.unit_header(t("column.ratio", lang), "%", lang)
        assert download[ratio_header].to_list() == [58.9, 7.9]


def test_the_council_status_table_follows_the_dashboard_order(loaded_engine: Engine) -> None:
    """Sorted by id, the council table had opened with circular material use and 20 sector rows before the
    headline emissions; it follows the dashboard: headline first, each breakdown after its parent, the
    methods as the grid's columns."""
    frame = rd.status_frame(loaded_engine, "sv")
    indicators = list(dict.fromkeys(frame["indicator_id"]))
    assert indicators[0] == "ghg_total"
    dashboard = list(dict.fromkeys(rd.dashboard_frame(loaded_engine, "sv")["indicator_id"]))
    assert [i for i in indicators if "." not in i] == [i for i in dashboard if i in indicators]
    parents = {i.split(".")[0] for i in indicators if "." in i}
    assert parents
    for parent in parents:  # a breakdown's parts together, right after the parent's own row if it has one
        places = [n for n, i in enumerate(indicators) if i.startswith(parent + ".")]
        assert places == list(range(places[0], places[-1] + 1))
        if parent in indicators:
            assert indicators.index(parent) == places[0] - 1
    methods = ["eurostat", "opensdg", "sdsn", "german", "linear"]
    for indicator in indicators:
        keys = frame.filter(pl.col("indicator_id") == indicator)["method_key"].to_list()
        assert keys == [m for m in methods if m in keys]


# ---------------------------------------------------------------------------------------------------------
# 2. a trend below zero is not stated as a value


def test_german_trend_below_zero_is_not_stated_as_a_value(loaded_engine: Engine) -> None:
    indicator = "syke_ghg_hinku"
    series = _observed(loaded_engine, indicator, rd.ESPOO)
    _, target, target_year = _reduction_target(loaded_engine, indicator)
    latest = max(series)
    change = (series[latest] - series[latest - GERMAN_WINDOW]) / GERMAN_WINDOW
    projected = series[latest] + change * (target_year - latest)
    assert projected < 0 < series[latest]  # the demo data's case: the straight line crosses zero
    reached = next(
        y for y in range(latest, target_year + 1) if series[latest] + change * (y - latest) <= target
    )
    words = {"fi": "nollan alle", "sv": "under noll", "en": "below zero"}
    for lang in LANGS:
        frame = rd.status_frame(loaded_engine, lang, indicators=[indicator])
        reason = frame.filter(pl.col("method") == "german_strategy")["reason"].item()
        assert rd.format_value(projected, "kt CO2e", lang) not in reason
        assert format_number(projected, lang) not in reason
        assert words[lang] in reason and str(target_year) in reason
        assert str(reached) in reason
        assert rd.format_value(target, "kt CO2e", lang) in reason
    # a projection above zero is still stated as the value the trend gives (ghg_total: 260 kt in 2030)
    series = _observed(loaded_engine, "ghg_total", rd.ESPOO)
    _, target, target_year = _reduction_target(loaded_engine, "ghg_total")
    latest = max(series)
    change = (series[latest] - series[latest - GERMAN_WINDOW]) / GERMAN_WINDOW
    projected = series[latest] + change * (target_year - latest)
    assert projected > 0
    en = rd.status_frame(loaded_engine, "en", indicators=["ghg_total"])
    reason = en.filter(pl.col("method") == "german_strategy")["reason"].item()
    assert rd.format_value(projected, "kt CO2e", "en") in reason


# ---------------------------------------------------------------------------------------------------------
# 3. every needed rate states its span


def test_needed_rates_state_their_span(loaded_engine: Engine) -> None:
    series = _observed(loaded_engine, "ghg_total", rd.ESPOO)
    _, target, target_year = _reduction_target(loaded_engine, "ghg_total")
    latest = max(series)
    spans = {"eurostat_sdg": latest - 5, "open_sdg": 2015}  # FIGURES.md: last 5 years; base year 2015
    wording = {
        "fi": "olisi tarvittu {rate} vuodessa vuodesta {start} vuoteen {end}",
        "sv": "skulle det ha behövts {rate} per år från {start} till {end}",
        "en": "would have needed {rate} a year from {start} to {end}",
    }
    for lang in LANGS:
        frame = rd.status_frame(loaded_engine, lang, indicators=["ghg_total"])
        for method, start in spans.items():
            reason = frame.filter(pl.col("method") == method)["reason"].item()
            rate = format_percent(
                _cagr(series[start], target, target_year - start) * 100, lang, 1, signed=True
            )
            assert wording[lang].format(rate=rate, start=start, end=target_year) in reason, reason


# ---------------------------------------------------------------------------------------------------------
# 4. the gap between two percentages is in percentage points


def test_gap_between_percentages_is_in_percentage_points(loaded_engine: Engine) -> None:
    series = _observed(loaded_engine, "recycling_rate", "FI")
    frame = rd.status_frame(loaded_engine, "en", indicators=["recycling_rate"])
    linear = frame.filter(pl.col("method") == "linear_trajectory_check").row(0, named=True)
    base_year, target_year = int(linear["base_year"]), int(linear["target_year"])
    target = rd.absolute_targets("recycling_rate", "FI")[target_year]
    latest = max(series)
    path = series[base_year] + (target - series[base_year]) * (latest - base_year) / (target_year - base_year)
    gap = abs(series[latest] - path)
    units = {"fi": "%-yksikköä", "sv": "procentenheter", "en": "percentage points"}
    for lang in LANGS:
        reason = (
            rd.status_frame(loaded_engine, lang, indicators=["recycling_rate"])
            .filter(pl.col("method") == "linear_trajectory_check")["reason"]
            .item()
        )
        expected = f"{format_number(gap, lang, 1)}\u00a0{units[lang]}"
        assert expected in reason, reason
        assert format_percent(gap, lang, 1) not in reason.replace(expected, "")


# ---------------------------------------------------------------------------------------------------------
# 5. one value reads the same in the title, the label, the table and the CSV


def test_recycling_rate_reads_the_same_in_the_circular_chart_as_on_the_site() -> None:
    frame = pl.DataFrame(
        {
            "indicator": ["recycling_rate", "recycling_rate", "waste_per_resident", "waste_per_resident"],
            "area": ["FI", "EU27_2020", "FI", "EU27_2020"],
            "year": [2023, 2023, 2023, 2023],
            "value": [41.4, 48.2, 598.0, 511.0],
        }
    )
    for lang in LANGS:
        chart = charts.circular_economy(frame, meta=META, targets={2025: 55.0, 2030: 60.0}, lang=lang)
        spec = chart.to_dict()
        title = spec["title"]["text"]
        text = " ".join(title) if isinstance(title, list) else str(title)
        site = rd.format_value(41.4, "%", lang)  # the indicator page's value
        assert site in text and site in spec["description"]
        assert format_percent(41, lang) + " " not in text + " "


def test_emission_factor_reads_the_same_in_title_label_table_and_csv() -> None:
    frame = pl.DataFrame({"year": [2026] * 4, "week": [44, 45, 46, 47], "value": [56.7, 71.5, 68.2, 59.1]})
    for lang in LANGS:
        chart = charts.weekly_mover(frame, meta=META, lang=lang)
        spec = chart.to_dict()
        title = spec["title"]["text"]
        text = " ".join(title) if isinstance(title, list) else str(title)
        site = format_number(59.1, lang, rd.shown_decimals(59.1))  # the site's "59.1 gCO₂/kWh"
        assert f"{site}\u00a0gCO" in text or f"{site} gCO" in text, text
        labels = [d["label"] for d in spec["datasets"].values() for d in d if "label" in d]
        assert f"2026: {site}" in labels
        # the change on the week before is the difference of the two values as printed (68.2 → 59.1)
        assert format_number(59.1 - 68.2, lang, 1, signed=True) in text
        shown = charts.chart_table(chart, keys=False)
        table = weekly.frame_table(shown, "", lang, None, charts.chart_decimals(chart))
        assert table.rows[-1][-1] == site
        download, _ = weekly.download_frame(
            chart, weekly.float_decimals(chart), name="weekly_mover", lang=lang
        )
        # the download heads the values with their unit, as the table on the page (it said "Arvo")
        value = {"fi": "Arvo (gCO₂/kWh)", "sv": "Värde (gCO₂/kWh)", "en": "Value (gCO₂/kWh)"}[lang]
        assert download[value].to_list()[-1] == 59.1


# ---------------------------------------------------------------------------------------------------------
# 6. the dashboard's title counts by the methods that assessed each indicator


def _dashboard_frame(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """A progress dashboard's frame of (indicator, method, status) rows, without rates, 2019–2024."""
    return pl.DataFrame(
        [
            {
                "indicator": indicator,
                "sdg": "13.2",
                "method": method,
                "status": status,
                "observed_rate": None,
                "required_rate": None,
                "ratio": None,
                "base_year": 2019,
                "latest_year": 2024,
            }
            for indicator, method, status in rows
        ],
        schema_overrides={"observed_rate": pl.Float64, "required_rate": pl.Float64, "ratio": pl.Float64},
    )


def test_dashboard_title_says_by_every_method_that_assessed_it() -> None:
    rows = [
        ("ghg_total", "eurostat", "significant_progress"),
        ("ghg_total", "linear", "behind_path"),
        ("recycling_rate", "eurostat", "significant_progress"),
        ("recycling_rate", "opensdg", "substantial_progress"),
    ]
    frame = _dashboard_frame(rows)
    # recycling_rate: good by both of the 2 methods that assessed it (of the 3 methods in the grid)
    wanted = {
        "fi": "1/2 indikaattoria edistyy riittävästi kaikilla menetelmillä, joilla se arvioitiin",
        "sv": "1 av 2 indikatorer gör tillräckliga framsteg enligt varje metod som bedömde dem",
        "en": "1 of 2 indicators make sufficient progress by every method that assessed them",
    }
    for lang in LANGS:
        spec = charts.progress_dashboard(frame, meta=META, lang=lang).to_dict()
        title = spec["title"]["text"]
        text = " ".join(title) if isinstance(title, list) else str(title)
        assert wanted[lang] in " ".join(text.split()), text


def test_dashboard_counts_the_indicators_without_a_target_apart_and_marks_their_rows() -> None:
    """The grid said "5 of 12 indicators make sufficient progress by every method": all five had no target
    and were judged by their trend's direction, while the only indicators with a target made none."""
    rows = [
        ("ghg_total", "eurostat", "insufficient_progress", True),
        ("ghg_total", "linear", "behind_path", True),
        ("ghg_per_resident", "eurostat", "significant_progress", False),
        ("ghg_per_resident", "opensdg", "substantial_progress", False),
    ]
    frame = _dashboard_frame([(i, m, status) for i, m, status, _ in rows]).with_columns(
        pl.Series("has_target", [target for *_, target in rows])
    )
    wanted = {
        "fi": ("tavoitteellisista 0/1 edistyy riittävästi", "tavoitteettomista 1/1 edistyy hyvin"),
        "sv": ("med mål gör 0 av 1 tillräckliga", "utan mål gör 1 av 1 goda framsteg"),
        "en": ("with a target, 0 of 1 make sufficient", "without one, 1 of 1 make good progress"),
    }
    for lang in LANGS:
        spec = charts.progress_dashboard(frame, meta=META, lang=lang).to_dict()
        text = " ".join(" ".join(spec["title"]["text"]).split())
        assert all(part in text for part in wanted[lang]), text
        labels = {r["indicator"]: r["row"] for d in spec["datasets"].values() for r in d if "row" in r}
        name = labels["ghg_per_resident"]
        assert name.endswith(t("dashboard.trend_only", lang, name="@").split("@", 1)[1]), name
        assert "(" not in labels["ghg_total"].split(" ", 1)[1], labels["ghg_total"]


def test_an_indicator_without_a_target_is_marked_by_every_method_in_the_report_and_on_the_site(
    loaded_engine: Engine,
) -> None:
    """Open SDG names its horizon (2030) for an indicator without a target value: the site took that for a
    target and called ghg_per_resident's "substantial progress" a verdict on one. Whether a status measured
    progress to a target is its target value (the catalogue gives ghg_total Espoo's −80 % and
    ghg_per_resident none)."""
    from report.site.content import SiteData, _statuses

    frame = rd.dashboard_frame(loaded_engine, "en")
    targets = dict(frame.select("indicator_id", "has_target").unique().iter_rows())
    assert targets["ghg_total"] is True and targets["ghg_per_resident"] is False
    for lang in LANGS:
        marked = t("site.status_no_target", lang, status="@").split("@", 1)[1]
        statuses = _statuses(SiteData(loaded_engine), lang, ["ghg_per_resident", "ghg_total"])
        assert len(statuses["ghg_per_resident"]) >= 2  # Eurostat and Open SDG
        assert all(s["status"].endswith(marked) for s in statuses["ghg_per_resident"]), statuses
        assert not any(s["status"].endswith(marked) for s in statuses["ghg_total"]), statuses


# ---------------------------------------------------------------------------------------------------------
# 7. a movement away from the target is never shown as progress


def test_movement_away_is_never_a_progress_level() -> None:
    away = {"movement_away", "moderate_movement_away", "significant_movement_away", "deterioration"}
    away |= {"decreasing", "moving_away"}
    assert {s for s in away if STATUS_LEVELS[s] != "away"} == set()
    frame = pl.DataFrame(
        {
            "indicator": ["municipal_waste_per_capita"],
            "sdg": ["11.6"],
            "method": ["eurostat"],
            "status": ["moderate_movement_away"],
            "observed_rate": [0.18],
            "required_rate": [None],
            "ratio": [None],
            "base_year": [2019],
            "latest_year": [2024],
        },
        schema_overrides={"required_rate": pl.Float64, "ratio": pl.Float64},
    )
    for lang in LANGS:
        table = charts.chart_table(charts.progress_dashboard(frame, meta=META, lang=lang))
        cell = table.row(0, named=True)
        assert cell["level"] == t("level.away", lang)
        assert cell["level"] != t("level.weak", lang)
        assert not math.isnan(cell["observed_rate"])


def test_the_export_states_the_assessments_pace_as_the_dashboard_does(loaded_engine: Engine) -> None:
    from indicators.catalogue import load_indicator_catalogue
    from report.export import export_table

    table = export_table(loaded_engine, load_indicator_catalogue(), ["ghg_total"], area=rd.ESPOO)
    assessed = table.filter(pl.col("kind") == "assessment")

    def exported(method: str) -> tuple[float, str]:
        row = assessed.filter(pl.col("method").str.starts_with(method)).row(0, named=True)
        return row["value"], row["unit"]

    linear = _dashboard_row(loaded_engine, "en", "ghg_total", "linear")
    value, unit = exported("linear_trajectory_check")
    assert value == pytest.approx(linear["ratio"]) and unit == "pace_ratio"  # kestava.api's name
    german = _dashboard_row(loaded_engine, "en", "ghg_total", "german")
    value, unit = exported("german_strategy")
    assert value == pytest.approx(german["deviation"]) and unit == "% deviation"
