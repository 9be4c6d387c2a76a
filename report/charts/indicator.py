"""The indicator chart of the public site: one area's history, estimates, projection and target."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Final, Literal

import altair as alt
import polars as pl

from common.flags import flag_meanings
from report import theme as th
from report.charts.common import (
    _YEAR_T,
    Col,
    _check_lang,
    _check_meta,
    _finish,
    _frame,
    _gap_labels,
    _gap_rows,
    _gap_sentence,
    _gaps,
    _layer,
    _pct_change,
    gap_too_narrow,
    text_width,
)
from report.i18n import (
    decimals_showing,
    format_change,
    format_number,
    format_period,
    format_period_range,
    format_quantity,
    shown_decimals,
    t,
)
from report.theme import ChartMeta

LABEL_GAP: Final = 8  # px between two axis labels, at least
LEGEND_COLUMNS: Final = 4  # entries in a row of the legend

INDICATOR_FRAME: Final[Mapping[str, Col]] = {
    "period": Col("str", "the period as stored: '2023', '2026-W45', '2026-11-02'"),
    "date": Col("date", "the period's first day (the x position)"),
    "kind": Col(
        "str",
        "observed, estimate, projection, target, path (two points: base and target) or path_from_latest (the"
        " engine's straight line from the latest observed value to the target)",
    ),
    "value": Col("num", "the value in the indicator's unit"),
    "lower": Col("num", "lower bound of a projection or estimate band", nullable=True, required=False),
    "upper": Col("num", "upper bound of a projection or estimate band", nullable=True, required=False),
    "flags": Col("str", "an observed value's source flags (common.flags)", nullable=True, required=False),
}
KINDS: Final[tuple[str, ...]] = ("observed", "estimate", "projection", "target", "path", "path_from_latest")
# the colours of the report's trajectory chart (theme.SERIES_COLOURS), whose names differ from this chart's
# kinds: this chart's "path" (from the base year) is the trajectory's "base_path", and its
# "path_from_latest" (required from the latest year) the trajectory's "path"
KIND_COLOURS: Final[Mapping[str, str]] = {
    "observed": th.SERIES_COLOURS["history"],
    "estimate": th.SERIES_COLOURS["history"],
    "projection": th.SERIES_COLOURS["projection"],
    "target": th.SERIES_COLOURS["target"],
    "path": th.SERIES_COLOURS["base_path"],
    "path_from_latest": th.SERIES_COLOURS["path"],
}
# how the title states the change since the first period: "relative" (a per cent of the first value), "points"
# (the difference, for a percentage: "+18.8 percentage points") or "none" (a series that is itself a change
# or a difference: a change of a change means nothing)
ChangeKind = Literal["relative", "points", "none"]
CHANGE_KINDS: Final[tuple[str, ...]] = ("relative", "points", "none")
_ISO_WEEK: Final = re.compile(r"(\d{4})-W(\d{2})")
# what the legend names, each with the mark the chart draws: the kinds, and an observed value its source
# flags provisional (a lighter point) or a period not all in yet (a weekly or daily series: hollow)
MARKS: Final[tuple[str, ...]] = ("observed", "provisional", "incomplete", *KINDS[1:])
MARK_NAMES: Final[Mapping[str, str]] = {
    **{k: f"site.kind_{k}" for k in KINDS},
    "provisional": "trajectory.provisional",
    "incomplete": "flag.incomplete",
}
# a series of fewer dates than this prints each date's year on the time axis
DATED_TICKS: Final = 3
# a line's symbol: a stroke twice a point's width, long enough to show its dash pattern
_LINE_SYMBOL: Final = "M-2,0H2"
MARK_SYMBOLS: Final[Mapping[str, str]] = {
    "observed": "circle",
    "provisional": "circle",
    "incomplete": "circle",
    "estimate": "circle",  # hollow, as the report's trajectory draws the tracker's own estimate
    "projection": _LINE_SYMBOL,
    "target": "diamond",
    "path": _LINE_SYMBOL,
    "path_from_latest": _LINE_SYMBOL,
}
MARK_STROKES: Final[Mapping[str, str]] = {
    **KIND_COLOURS,
    "provisional": KIND_COLOURS["observed"],
    "incomplete": KIND_COLOURS["observed"],
}
# a point's fill: hollow ones the background's colour inside their coloured stroke; a line has none
MARK_FILLS: Final[Mapping[str, str]] = {
    "observed": KIND_COLOURS["observed"],
    "provisional": th.OKABE_ITO["sky_blue"],
    "incomplete": th.BACKGROUND,
    "estimate": th.BACKGROUND,
    "projection": "transparent",
    "target": KIND_COLOURS["target"],
    "path": "transparent",
    "path_from_latest": "transparent",
}
MARK_DASHES: Final[Mapping[str, list[int]]] = {
    "observed": [1, 0],
    "provisional": [1, 0],
    "incomplete": [1, 0],
    "estimate": [1, 0],
    "projection": list(th.SERIES_DASHES["projection"]),
    "target": [1, 0],  # a point
    "path": list(th.SERIES_DASHES["base_path"]),
    "path_from_latest": list(th.SERIES_DASHES["path"]),
}


def _shown(value: float | None) -> int:
    """The decimals the report prints a value with (report.i18n.shown_decimals; 0 for a missing one)."""
    return 0 if value is None else shown_decimals(value)


def _change_text(first: float, latest: float, change: str, lang: str) -> str | None:
    """The change from first to latest as the title states it, None when it states none: a percentage's
    in percentage points; a relative change only from a positive first value (from zero or below a per
    cent of it means nothing)."""
    if change == "none":
        return None
    if change == "points":
        return t("site.percentage_points", lang, value=format_number(latest - first, lang, 1, signed=True))
    if first <= 0:
        return None
    return format_change(_pct_change(latest, first), lang)


def _since(period: str, lang: str) -> str:
    """Since a week or a day, as the title of a weekly or daily series says it ("viikosta 44/2026
    lähtien", "sedan vecka 44/2026", "since week 44/2026")."""
    if week := _ISO_WEEK.fullmatch(period.strip()):
        return t("site.since_week", lang, week=int(week.group(2)), year=int(week.group(1)))
    return t("site.since_period", lang, period=format_period(period, lang))


def indicator_history(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    name: str,
    area_name: str,
    unit_text: str,
    zero: bool = True,
    change: str = "relative",
    observed_as: str = "observed",
    decimals: int | None = None,
) -> alt.LayerChart:
    """One indicator for one area over time: observed values as a solid line, estimates hollow, the trend
    projection in its band, the straight path from the base year to the target dotted, the path required
    from the latest observed value to the target dashed, and the target as a marked point, each in the
    colour and dash of the report's trajectory chart (theme.SERIES_COLOURS); the title states the latest
    value and the change since the first period.

    frame: INDICATOR_FRAME rows of one indicator and one area (kinds other than KINDS are refused).
    zero: the value axis starts at 0 (as the report's charts do), so that a cut is drawn in proportion;
    False for a series measured against another reference (an index, 1990 = 100). The legend gives each
    kind the mark it is drawn with (shape and fill of a point, dash of a line); an observed value its
    source flags provisional is a lighter point, one of a period not all in yet (a weekly or daily series)
    a hollow one, each with its own legend entry and a sentence in the alt text.
    change: how the title states the change since the first period
    (CHANGE_KINDS: "points" for a percentage, "none" for a series that is itself a change or a difference).
    Values are printed as the report prints them (report.i18n.shown_decimals), in the title, the tooltips
    and the table alike. A projection for a period that has an estimate (the engine stores the trend's
    past years both ways) is the estimate: one row, the dashed line starting from it (from the latest
    observed value when there is no estimate).
    observed_as: what the series' own values are called in the legend, tooltips and table: "observed", or
    for a value derived from a target or an assumption (indicators.query.DERIVED_VALUE_KINDS) that kind,
    drawn as an observed value is but never named an observation.
    decimals: the places the page prints the indicator's values with where it ranks them (the site's
    comparison table: report.site.content.ranking_decimals), so that the title, tooltips and table print
    the latest value as the ranking does ("2.22 t", not "2.2 t" above "2.22"); None: each value's own
    (report.i18n.shown_decimals).
    """
    chart_name = "indicator_history"

    def places(value: float | None) -> int:
        """The decimals a value is printed with: the page's (report.i18n.decimals_showing), else its own."""
        return _shown(value) if decimals is None or value is None else decimals_showing(value, decimals)

    _check_lang(chart_name, lang)
    _check_meta(chart_name, meta)
    f = _frame(chart_name, "frame", frame, INDICATOR_FRAME)
    if change not in CHANGE_KINDS:
        raise ValueError(f"{chart_name}: change must be one of {CHANGE_KINDS}, got {change!r}")
    unknown = sorted(set(f.get_column("kind")) - set(KINDS))
    if unknown:
        raise ValueError(f"{chart_name}: unknown kinds {unknown}; expected some of {KINDS}")
    for column in ("lower", "upper"):
        if column not in f.columns:
            f = f.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    if "flags" not in f.columns:
        f = f.with_columns(pl.lit(None, dtype=pl.String).alias("flags"))
    # what the source's flags tell a reader, in the chart's language (observed values only)
    observed_kind = pl.col("kind") == "observed"
    texts = f.filter(observed_kind).get_column("flags").drop_nulls().unique().to_list()
    meanings = {text: flag_meanings(text) for text in texts}
    notes = {text: "; ".join(t(f"flag.{m}", lang) for m in found) for text, found in meanings.items()}
    provisional = {text: "provisional" in found for text, found in meanings.items()}
    incomplete = {text: "incomplete" in found for text, found in meanings.items()}
    f = f.with_columns(
        pl.when(observed_kind)
        .then(pl.col("flags").replace_strict(notes, default="", return_dtype=pl.String))
        .fill_null("")
        .alias("note"),
        pl.when(observed_kind)
        .then(pl.col("flags").replace_strict(provisional, default=False, return_dtype=pl.Boolean))
        .fill_null(False)
        .alias("provisional"),
        pl.when(observed_kind)
        .then(pl.col("flags").replace_strict(incomplete, default=False, return_dtype=pl.Boolean))
        .fill_null(False)
        .alias("incomplete"),
    )
    f = f.filter(pl.col("value").is_not_null()).sort("date")
    # the engine's estimate of a past year is its projection of that year: one row, the estimate's
    estimated = f.filter(pl.col("kind") == "estimate").get_column("period")
    f = f.filter(~((pl.col("kind") == "projection") & pl.col("period").is_in(estimated.implode())))
    observed = f.filter(pl.col("kind") == "observed")
    if observed.height == 0:
        raise ValueError(f"{chart_name}: `frame` has no observed value")
    kind_names = {k: t(f"site.kind_{k}", lang) for k in KINDS} | {
        "observed": t(f"site.kind_{observed_as}", lang)
    }
    # a gap of missing years (an annual series) breaks the observed line: never bridged as if measured
    annual = f.get_column("period").str.contains(r"^\d{4}$").all()
    year = pl.col("period").cast(pl.Int64, strict=False)
    segment = (
        ((year.diff().fill_null(1) > 1).cum_sum().over("kind")).alias("segment")
        if annual
        else pl.lit(0, dtype=pl.UInt32).alias("segment")
    )
    df = f.with_columns(
        segment,
        pl.col("kind").replace_strict(kind_names).alias("kind_name"),
        # the legend's entry: an observed value's own when a flag changes how it is drawn
        pl.when(pl.col("incomplete"))
        .then(pl.lit("incomplete"))
        .when(pl.col("provisional"))
        .then(pl.lit("provisional"))
        .otherwise(pl.col("kind"))
        .alias("mark"),
        pl.col("value")
        .map_elements(lambda v: format_number(v, lang, places(v)), return_dtype=pl.Utf8)
        .alias("shown"),
        # a week or a day as the page names it ("viikko 45/2026", "30.9.2026"), never the stored "2026-W45"
        pl.col("period")
        .map_elements(lambda p: format_period(p, lang), return_dtype=pl.Utf8)
        .alias("period_text"),
    )
    # years for an annual series; a weekly or daily one by its days ("30.11." fi/sv, "30 Nov" en, the
    # chart's locale naming the month): "%Y" labelled every tick of a few weeks "2026". The days keep
    # their year where the dates span years or are few (Traficom's stock on one reference date a release:
    # its one point said "30 Sept" under a title naming the year)
    dates = f.get_column("date")
    with_year = dates.dt.year().n_unique() > 1 or dates.n_unique() < DATED_TICKS
    day_format = "%-d %b" if lang == "en" else "%-d.%-m."
    if with_year:
        day_format += " %Y" if lang == "en" else "%Y"
    # labels closer than LABEL_GAP px count as overlapping and are thinned ("21.11.23.11." touched)
    x = alt.X(
        "date:T",
        title=None,
        axis=alt.Axis(format="%Y" if annual else day_format, labelOverlap=True, labelSeparation=LABEL_GAP),
    )
    y = alt.Y("value:Q", title=unit_text, scale=alt.Scale(zero=zero))
    tips = [
        alt.Tooltip("period_text:N", title=t("label.year" if annual else "label.period", lang)),
        alt.Tooltip("kind_name:N", title=t("site.kind", lang)),
        alt.Tooltip("shown:N", title=unit_text),
    ]
    any_note = bool((df.get_column("note") != "").any())
    if any_note:  # provisional, the source's estimate, a break in series…: how to read the value
        tips.append(alt.Tooltip("note:N", title=t("site.note", lang)))
    # the legend names what the chart draws (a weekly series without a target lists no target), each with
    # its mark: stroke, fill, shape and dash share one domain, so Vega-Lite merges them into one legend
    drawn = set(df.get_column("mark"))
    shown = [m for m in MARKS if m in drawn]
    mark_names = {m: t(MARK_NAMES[m], lang) for m in MARKS} | {"observed": kind_names["observed"]}
    df = df.with_columns(pl.col("mark").replace_strict(mark_names).alias("legend"))
    domain = [mark_names[m] for m in shown]
    # in rows of LEGEND_COLUMNS entries: in one row the legend ran wider than the plot
    legend = alt.Legend(
        orient="bottom", direction="horizontal", columns=LEGEND_COLUMNS, symbolStrokeWidth=1.6, symbolSize=64
    )

    def scale(values: Mapping[str, str] | Mapping[str, list[int]]) -> alt.Scale:
        """The legend's scale: each drawn entry's value."""
        return alt.Scale(domain=domain, range=[values[m] for m in shown])

    stroke = alt.Stroke("legend:N", title=None, scale=scale(MARK_STROKES), legend=legend)
    fill = alt.Fill("legend:N", title=None, scale=scale(MARK_FILLS), legend=legend)
    shape = alt.Shape("legend:N", title=None, scale=scale(MARK_SYMBOLS), legend=legend)
    dash = alt.StrokeDash("legend:N", title=None, scale=scale(MARK_DASHES), legend=legend)
    base = alt.Chart(df)
    layers: list[alt.Chart] = []
    band = df.filter(pl.col("kind").is_in(["projection", "estimate"]) & pl.col("lower").is_not_null())
    if band.height:
        layers.append(
            alt.Chart(band)
            .mark_area(opacity=th.BAND_OPACITY, color=KIND_COLOURS["projection"])
            .encode(x=x, y=alt.Y("lower:Q", title=unit_text), y2=alt.Y2("upper:Q"))
        )
    # the observed line one colour through its flagged points (a colour by entry would cut it there)
    layers.append(
        base.transform_filter(alt.datum.kind == "observed")
        .mark_line(color=KIND_COLOURS["observed"])
        .encode(x=x, y=y, detail=alt.Detail("segment:N"), tooltip=tips)
    )
    if df.filter(pl.col("kind") == "projection").height:
        # the dashed line runs from the estimates (the trend's past years) on into the projection, one line
        # (its entry for every row: by kind it was two, the estimate's a lone point); with no estimate from
        # the latest observed value, so that no gap opens before the trend
        trend = df.filter(pl.col("kind").is_in(["estimate", "projection"]))
        if not trend.filter(pl.col("kind") == "estimate").height:
            trend = pl.concat([df.filter(pl.col("kind") == "observed").tail(1), trend])
        layers.append(
            alt.Chart(trend.with_columns(legend=pl.lit(mark_names["projection"])))
            .mark_line()
            .encode(x=x, y=y, stroke=stroke, strokeDash=dash, tooltip=tips)
        )
    for path in ("path", "path_from_latest"):
        if df.filter(pl.col("kind") == path).height:
            layers.append(
                base.transform_filter(alt.datum.kind == path)
                .mark_line(strokeWidth=1.5)
                .encode(x=x, y=y, stroke=stroke, strokeDash=dash, tooltip=tips)
            )
    for kind, size in (("observed", 36), ("estimate", 60), ("target", 110)):
        if df.filter(pl.col("kind") == kind).height:
            layers.append(
                base.transform_filter(alt.datum.kind == kind)
                .mark_point(filled=True, size=size, strokeWidth=1.5, opacity=1)
                .encode(x=x, y=y, stroke=stroke, fill=fill, shape=shape, tooltip=tips)
            )
    # years no source covers, on an annual series: "no data 1991–1999" in the gap, as the report's charts
    # write it (the site drew the gap with nothing in it)
    observed_years = {int(r["period"]): float(r["value"]) for r in observed.iter_rows(named=True) if annual}
    # where a gap is narrower than its note (a phone's plot), the note is upright, kept inside the plot
    for (start, end), row in zip(_gaps(sorted(observed_years)), _gap_rows(observed_years), strict=True):
        room = f"scale('x', datetime({end + 1}, 0, 1)) - scale('x', datetime({start - 1}, 0, 1))"
        narrow = gap_too_narrow(room, row["years"], lang)
        half = math.ceil(
            max(text_width(line) for line in t("gap.label", lang, years=row["years"]).split("\n")) / 2
        )
        at = "scale('y', datum.value)"
        layers.append(
            _gap_labels(
                [row],
                alt.X(f"{_YEAR_T}:T", title=None),
                y,
                lang,
                angle=alt.ExprRef(f"{narrow} ? 270 : 0"),
                y_offset=alt.ExprRef(f"{narrow} ? clamp({at}, {half + 1}, height - {half + 1}) - {at} : 0"),
            )
        )
    chart = _layer(layers, meta, lang).properties(width=560, height=260)
    first, latest = observed.row(0, named=True), observed.row(-1, named=True)
    # the value with its unit as the locale writes it ("10.5%" en, "10,5 %" fi/sv, "712 kt CO₂e")
    value = format_quantity(latest["value"], unit_text, lang, places(latest["value"]))
    first_period, latest_period = format_period(first["period"], lang), format_period(latest["period"], lang)
    latest_provisional = bool(latest["provisional"])
    change_text = (
        _change_text(first["value"], latest["value"], change, lang)
        if first["period"] != latest["period"]
        else None
    )
    if change_text is not None:
        finding = t(
            # "vuodesta 1990", but a week or a day is no year: "viikosta 44/2026 lähtien"
            "site.chart_title_change" if annual else "site.chart_title_change_period",
            lang,
            area=area_name,
            name=name,
            value=value,
            period=latest_period,
            change=change_text,
            first=first_period,
            since=_since(first["period"], lang),
        )
    else:
        finding = t(
            "site.chart_title",
            lang,
            area=area_name,
            name=name,
            value=value,
            period=latest_period,
        )
    if latest_provisional:
        finding += t("trajectory.title_provisional", lang)
    description = t(
        "site.chart_description",
        lang,
        name=name,
        area=area_name,
        observations=t("site.observations_one", lang)
        if observed.height == 1
        else t("site.observations", lang, n=format_number(observed.height, lang)),
        span=format_period_range(first["period"], latest["period"], lang),
        value=value,
    )
    description += _gap_sentence(list(observed_years), lang)
    for period in observed.filter(pl.col("provisional")).get_column("period").to_list():
        description += " " + t("site.description_provisional", lang, period=format_period(period, lang))
    for period in observed.filter(pl.col("incomplete")).get_column("period").to_list():
        description += " " + t("site.description_incomplete", lang, period=format_period(period, lang))
    table = df.select("period", "kind_name", "value", "lower", "upper", *(["note"] if any_note else []))
    return _finish(
        chart,
        name=chart_name,
        finding=finding,
        description=description,
        meta=meta,
        lang=lang,
        table=table,
        decimals=None if decimals is None else dict.fromkeys(("value", "lower", "upper"), decimals),
    )
