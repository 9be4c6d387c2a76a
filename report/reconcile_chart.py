"""The cross-source check chart: how far HSY's total is from Syke's, per city and year, with the tolerance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import altair as alt
import polars as pl
from sqlalchemy import Engine

from indicators import query
from indicators.catalogue import IndicatorCatalogue, ReconcileDerivation, load_indicator_catalogue
from report import theme as th
from report.charts import (
    Col,
    _area_key,
    _check_lang,
    _check_meta,
    _finish,
    _frame,
    _gap_labels,
    _gap_rows,
    _gap_sentence,
    _layer,
    _unique,
    _x_year,
    _year_tip,
    _years,
    given_ticks,
)
from report.data import ESPOO, MissingDataError
from report.i18n import format_percent, label, t
from report.theme import ChartMeta

NAME: Final = "cross_source_checks"
INDICATOR: Final = "reconcile_ghg_hsy_syke"
AREAS: Final[tuple[str, ...]] = (ESPOO, "091", "092", "235")  # the four HSY cities, Espoo highlighted
# the other cities: Okabe-Ito hues apart from the highlight's blue, and a dash each (colour is not the
# only cue)
_OTHER_COLOURS: Final[tuple[str, ...]] = (
    th.VERMILLION_TEXT,
    th.OKABE_ITO["bluish_green"],
    th.OKABE_ITO["reddish_purple"],
    th.ORANGE_MARK,
    th.OKABE_ITO["black"],
)
_OTHER_DASHES: Final[tuple[list[int], ...]] = ([6, 3], [2, 2], [8, 3, 2, 3], [4, 4], [1, 3])
_PHONE_WIDTH: Final = 250  # the plot's width in a phone's layout (px), the y axis beside it
RECONCILE_FRAME: Final[Mapping[str, Col]] = {
    "area": Col("str", "the area: a key such as 'espoo', a municipality code such as '049', or a name"),
    "year": Col("int", "the calendar year"),
    "value": Col("num", "the difference in per cent of the reference source"),
    "tolerance": Col("num", "the declared tolerance in percentage points (either way)"),
}


def reconciliation_frame(
    engine: Engine,
    *,
    indicator: str = INDICATOR,
    areas: Sequence[str] | None = None,
    catalogue: IndicatorCatalogue | None = None,
) -> pl.DataFrame:
    """area, year, value (% difference), tolerance, snapshot_ids: a reconciliation indicator by year."""
    check = (catalogue or load_indicator_catalogue()).get(indicator)
    if not isinstance(check.derive, ReconcileDerivation):
        raise ValueError(f"{NAME}: indicator {indicator!r} is not a reconcile derivation")
    frame = query.indicator_values(
        indicator, area=list(areas) if areas else None, kind="observed", engine=engine
    )
    frame = frame.filter(pl.col("value").is_not_null() & pl.col("year").is_not_null())
    if frame.height == 0:
        raise MissingDataError(f"no stored observed values of {indicator}; ingest and compute first")
    return frame.select(
        "area", "year", "value", pl.lit(check.derive.tolerance).alias("tolerance"), "snapshot_ids"
    ).sort("area", "year")


def cross_source_checks(
    frame: pl.DataFrame, *, meta: ChartMeta, lang: str = "fi", highlight: str = "espoo", phone: bool = False
) -> alt.LayerChart:
    """HSY's total against Syke's ALas total: one line per city of the difference in % of Syke's, a band
    for the declared tolerance and a rule at zero; the highlighted city drawn strongest. phone: the phone's
    layout (report.phone): the cities' legend below the plot, not right of it, the plot _PHONE_WIDTH wide.

    frame: one row per area and year — area (str: 'espoo' or a municipality code), year (int), value
    (float, the difference in per cent), tolerance (float, percentage points, the same on every row).
    """
    _check_lang(NAME, lang)
    _check_meta(NAME, meta)
    f = _frame(NAME, "frame", frame, RECONCILE_FRAME)
    _unique(NAME, "frame", f, ["area", "year"])
    tolerances = f.get_column("tolerance").unique().to_list()
    if len(tolerances) != 1:
        raise ValueError(f"{NAME}: `frame` has several tolerances {sorted(tolerances)}; expected one")
    tolerance = float(tolerances[0])
    if tolerance <= 0:
        raise ValueError(f"{NAME}: the tolerance must be positive, got {tolerance}")
    rows = [(_area_key(str(r["area"])), int(r["year"]), float(r["value"])) for r in f.rows(named=True)]
    hl = _area_key(highlight)
    if not any(a == hl for a, _, _ in rows):
        hl = sorted(rows)[0][0]
    first, last = min(y for _, y, _ in rows), max(y for _, y, _ in rows)
    # a run of consecutive years is one stretch of line: a missing year breaks it, never bridged
    run, previous = 0, ("", 0)
    records = []
    for a, yr, v in sorted(rows):
        if (a, yr - 1) != previous:
            run += 1
        previous = (a, yr)
        records.append(
            {
                "area_key": a,
                "area": label("area", a, lang),
                "year": yr,
                "value": v,
                "outside": abs(v) > tolerance + 1e-9,
                "run": run,
            }
        )
    df = pl.DataFrame(records)
    axis_title = t("reconcile_chart.axis", lang)
    x = _x_year(first, last)
    # the axis reaches past the band, so that its edge shows (±25 % band, axis to ±35 %)
    step = 5 if tolerance <= 10 else 10
    top = max(tolerance, max(abs(v) for _, _, v in rows))
    reach = (int(top // step) + 1) * step
    y = alt.Y(
        "value:Q",
        title=axis_title,
        scale=alt.Scale(domain=[-reach, reach], nice=False),
        # "+10", "0", "−10": a plus sign on rises, none on zero
        axis=alt.Axis(
            format=",.0f",
            **given_ticks(range(-reach, reach + 1, step)),
            labelExpr="datum.value > 0 ? '+' + datum.label : datum.label",
            labelOverlap=False,  # the values are chosen: every one is labelled, "0" too
        ),
    )
    band_df = pl.DataFrame([{"year": first, "year_end": last, "low": -tolerance, "high": tolerance}])
    band = _years(
        alt.Chart(band_df)
        .mark_rect(opacity=0.25, color=th.LIGHT_NEUTRAL)
        .encode(x=x, x2=alt.X2("year_end_t:T"), y=alt.Y("low:Q", title=axis_title), y2=alt.Y2("high:Q"))
    ).transform_calculate(year_end_t="datetime(datum.year_end, 0, 1)")
    zero = alt.Chart(pl.DataFrame([{"zero": 0.0}])).mark_rule(color=th.TEXT_COLOUR).encode(y=alt.Y("zero:Q"))
    areas = [label("area", a, lang) for a in dict.fromkeys(a for a, _, _ in sorted(rows)) if a != hl]
    # the highlighted city solid blue; each other its own colour and dash, told apart in the legend
    domain = [label("area", hl, lang), *areas]
    legend = alt.Legend(
        orient="bottom" if phone else "right",
        direction="horizontal" if phone else alt.Undefined,
        symbolType="stroke",
        symbolStrokeWidth=2.5,
        symbolSize=400,
    )
    colour_scale = alt.Scale(domain=domain, range=[th.OKABE_ITO["blue"], *_OTHER_COLOURS[: len(areas)]])
    colour = alt.Color("area:N", title=t("label.area", lang), scale=colour_scale, legend=legend)
    dash = alt.StrokeDash(
        "area:N",
        title=t("label.area", lang),
        scale=alt.Scale(domain=domain, range=[[1, 0], *_OTHER_DASHES[: len(areas)]]),
        legend=legend,
    )
    tips = [
        alt.Tooltip("area:N", title=t("label.area", lang)),
        _year_tip(lang),
        alt.Tooltip("value:Q", title=axis_title, format="+.1f"),
    ]
    lines = _years(
        alt.Chart(df)
        .mark_line()
        .encode(
            x=x,
            y=y,
            color=colour,
            strokeDash=dash,
            detail=alt.Detail("run:N"),
            strokeWidth=alt.StrokeWidthValue(
                1.6, condition={"test": f"datum.area_key == '{hl}'", "value": 3}
            ),
            tooltip=tips,
        )
    )
    points = _years(
        alt.Chart(df)
        # opaque: Vega-Lite's default 0.7 took the points below 3:1 on white (WCAG 1.4.11)
        .mark_point(filled=True, size=30, opacity=1)
        .encode(x=x, y=y, color=alt.Color("area:N", scale=colour_scale, legend=None), tooltip=tips)
    )
    layers = [band, zero, lines, points]
    # years no city has: "no data 1991–2004" in the gap, above the band, as the other charts write it
    years = sorted({yr for _, yr, _ in rows})
    gap_rows = [{**r, "value": (tolerance + reach) / 2} for r in _gap_rows(dict.fromkeys(years, 0.0))]
    if gap_rows:
        layers.append(_gap_labels(gap_rows, x, alt.Y("value:Q", title=axis_title), lang))
    chart = _layer(layers, meta, lang).properties(width=_PHONE_WIDTH if phone else 560, height=280)
    latest = max((yr, v) for a, yr, v in rows if a == hl)
    within = abs(latest[1]) <= tolerance + 1e-9
    fmt = {
        "area": label("area", hl, lang),
        "year": latest[0],
        "pct": format_percent(abs(latest[1]), lang),
        "direction": t("reconcile_chart.below" if latest[1] < 0 else "reconcile_chart.above", lang),
        "tolerance": format_percent(tolerance, lang),
    }
    finding = t("reconcile_chart.title_within" if within else "reconcile_chart.title_breach", lang, **fmt)
    outside = df.filter(pl.col("outside")).height
    description = t(
        "reconcile_chart.description", lang, first=first, last=last, n=df.height, outside=outside, **fmt
    ) + _gap_sentence(years, lang)
    table = df.select(
        "area_key", "area", "year", pl.col("value").alias("difference"), pl.lit(tolerance).alias("tolerance")
    )
    return _finish(
        chart, name=NAME, finding=finding, description=description, meta=meta, lang=lang, table=table
    )
