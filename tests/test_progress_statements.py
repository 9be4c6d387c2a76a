"""How the progress statuses and their rates read: each number consistent with its heading, in fi/sv/en.

The expected numbers are derived here from the stored observed series and the catalogue's targets with
the methods' published definitions (FIGURES.md, "Progress-assessment methods"), not read back from the
engine's assessments.
"""

from __future__ import annotations

import math
from datetime import date

import polars as pl
from sqlalchemy import Engine

from indicators import query
from report import charts
from report import data as rd
from report.charts import STATUS_LEVELS
from report.i18n import LANGS, t
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
# 6. the dashboard's title counts by the methods that assessed each indicator


def test_dashboard_title_says_by_every_method_that_assessed_it() -> None:
    rows = [
        ("ghg_total", "eurostat", "significant_progress"),
        ("ghg_total", "linear", "behind_path"),
        ("recycling_rate", "eurostat", "significant_progress"),
        ("recycling_rate", "opensdg", "substantial_progress"),
    ]
    frame = pl.DataFrame(
        [
            {
                "indicator": i,
                "sdg": "13.2",
                "method": m,
                "status": s,
                "observed_rate": None,
                "required_rate": None,
                "ratio": None,
                "base_year": 2019,
                "latest_year": 2024,
            }
            for i, m, s in rows
        ],
        schema_overrides={"observed_rate": pl.Float64, "required_rate": pl.Float64, "ratio": pl.Float64},
    )
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
