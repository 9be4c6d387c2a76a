"""The sectors-over-time chart: emissions by sector as stacked areas."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Final

import altair as alt
import polars as pl

from ingest.catalogue import load_catalogue
from report import theme as th
from report.charts.common import (
    PHONE_COLUMN,
    _check_lang,
    _check_meta,
    _finish,
    _gap_labels,
    _gap_rows,
    _gap_sentence,
    _gaps,
    _layer,
    _sector_rows,
    _x_year,
    _year_tip,
    _years,
    gap_too_narrow,
    label_expr,
    text_width,
)
from report.charts.provisional import provisional_texts
from report.i18n import (
    format_number,
    format_percent,
    label,
    t,
)
from report.theme import ChartMeta

_BAR_PX: Final = 14  # the narrowest a lone year's column is drawn (px)
# the phone's layout: the y axis with its title and the padding (px), the plot the rest of a phone's column
_PHONE_AXIS_PX: Final = 80
_HEIGHT: Final = 320  # the plot's height (px)
# a band is named at its right end where it is at least this tall there (px): one 11 px line and a gap, so
# two neighbouring names never overlap; a thinner band is found by its place in the legend, which lists the
# sectors from the top of the stack down
_NAMED_BAND_PX: Final = 14
_BAND_STROKE_PX: Final = 1.0  # the white line between two bands: neighbouring colours need not contrast
_LINE_PX: Final = 13  # a name's line (11 px text) that a band holds inside it on a phone
_INSIDE_DX: Final = 4  # px between a name inside its band and the plot's right end


@cache
def subsector_groups() -> dict[str, str]:
    """Every fine sector key of the datasets' sector tables (ingest/catalogue.toml) -> its main sector."""
    return {rule.sector: rule.group for d in load_catalogue().datasets.values() for rule in d.sectors}


def _sector_scale(keys: Sequence[str], colours: Mapping[str, str], lang: str) -> alt.Scale:
    return alt.Scale(domain=[label("sector", k, lang) for k in keys], range=[colours[k] for k in keys])


def nice_maximum(maximum: float, count: int = 10) -> float:
    """The top of a linear scale from 0 to maximum made "nice" as Vega makes it (d3's scale.nice with its
    default 10 ticks): where a stacked chart's y axis ends, so a band's height in px is known here."""
    if maximum <= 0:
        return maximum
    stop, previous = maximum, 0.0
    for _ in range(10):  # d3 repeats until the step no longer changes
        raw = stop / count
        power = math.floor(math.log10(raw))
        error = raw / 10**power
        factor = (
            10
            if error >= math.sqrt(50)
            else 5
            if error >= math.sqrt(10)
            else 2
            if error >= math.sqrt(2)
            else 1
        )
        step = factor * 10.0**power
        if step == previous:
            break
        stop, previous = math.ceil(stop / step - 1e-9) * step, step
    return stop


def _band_bounds(sectors: Sequence[str], year_values: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """Each sector's band in one year's stack (sectors from the bottom up): its bottom and top (kt)."""
    bounds: dict[str, tuple[float, float]] = {}
    below = 0.0
    for sector in sectors:
        bounds[sector] = (below, below + year_values[sector])
        below += year_values[sector]
    return bounds


def _phone_legend(labelled: Mapping[str, str], width: int) -> alt.Legend:
    """A phone's legend below the plot (width px, where it starts): each sector's name, the labelled ones
    (name -> "name share") with their share, in one column in the stack's order (two columns had not kept
    it: Vega fills a grid of entries in an order of its own)."""
    return alt.Legend(
        orient="bottom", direction="vertical", columns=1, labelExpr=label_expr(labelled), titleLimit=width
    )


def sector_area(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    provisional_years: Sequence[int] = (),
    phone: bool = False,
) -> alt.LayerChart:
    """Emissions by sector over time as stacked areas, largest sector at the bottom, each band named with
    its share at its right end where it is tall enough there, the legend
    listing the sectors from the top of the stack down, a white line between two bands: a band is found
    without telling its colour (WCAG 1.4.1). phone: the phone's layout (report.phone): the plot as wide as
    a phone's column leaves beside the y axis, the named bands' shares in the legend below it and their
    names inside the bands instead of labels right of the plot (which had left a 150 px plot for 35 years).

    frame: one row per year and sector —
        year (int), sector (str key; known keys are translated and keep their colour in every chart,
        unknown keys are shown as given in grey), value (float, kt CO2e, >= 0).
    A missing year–sector pair counts as zero in the stack.
    """
    name = "sector_area"
    _check_lang(name, lang)
    _check_meta(name, meta)
    rows = _sector_rows(name, frame)
    years = sorted({y for y, _, _ in rows})
    latest = years[-1]
    values = {(y, s): v for y, s, v in rows}
    sectors_all = {s for _, s, _ in rows}
    sectors = sorted(sectors_all, key=lambda s: (-values.get((latest, s), 0.0), s))
    order = {s: i for i, s in enumerate(sectors)}
    totals = {y: sum(values.get((y, s), 0.0) for s in sectors) for y in years}
    # a run of consecutive years is one area; missing years between runs are a gap, not interpolated
    run_of: dict[int, int] = {}
    for previous, year in zip([years[0], *years[:-1]], years, strict=True):
        run_of[year] = run_of.get(previous, 0) + int(year - previous > 1)
    run_sizes = {r: list(run_of.values()).count(r) for r in set(run_of.values())}
    data = [
        {
            "year": y,
            "sector": label("sector", s, lang),
            "sector_key": s,
            "value": values.get((y, s), 0.0),
            "share": values.get((y, s), 0.0) / totals[y] if totals[y] else 0.0,
            "order": order[s],
            "run": run_of[y],
        }
        for y in years
        for s in sectors
    ]
    df = pl.DataFrame(data)
    width = PHONE_COLUMN - _PHONE_AXIS_PX if phone else 560
    # every band tall enough at the latest year is named with its share of that year: beside the plot's
    # right end, or on a phone in the legend and inside the band
    kt_per_px = nice_maximum(max(totals.values())) / _HEIGHT
    total_latest = totals[latest]
    named = [
        s for s in sectors if total_latest and values.get((latest, s), 0.0) >= _NAMED_BAND_PX * kt_per_px
    ]
    labelled = {
        label("sector", s, lang): f"{label('sector', s, lang)} "
        + format_percent(values.get((latest, s), 0.0) / total_latest * 100, lang)
        for s in named
    }
    x = _x_year(years[0], latest)
    colours = th.sector_colours(sectors, subsector_groups())
    # the legend lists the sectors in the stack's order from its top, the largest (the bottom) last
    colour = alt.Color(
        "sector:N",
        title=t("sector_area.legend_phone_order", lang, year=latest)
        if phone
        else t("sector_area.legend_order", lang),
        scale=_sector_scale(sectors[::-1], colours, lang),
        legend=_phone_legend(labelled, width) if phone else alt.Legend(orient="right", direction="vertical"),
    )
    y_title = t("axis.emissions_kt", lang)
    stacked = {
        "x": x,
        "y": alt.Y("value:Q", title=y_title, stack="zero", axis=alt.Axis(format=",.0f")),
        "color": colour,
        "order": alt.Order("order:Q", sort="ascending"),
        "tooltip": [
            _year_tip(lang),
            alt.Tooltip("sector:N", title=t("label.sector", lang)),
            alt.Tooltip("value:Q", title=t("label.emissions_kt", lang), format=",.0f"),
            alt.Tooltip("share:Q", title=t("label.share", lang), format=".0%"),
        ],
    }
    area = (
        _years(alt.Chart(df.filter(pl.col("run").replace_strict(run_sizes) > 1)))
        .mark_area(opacity=1, line={"color": "white", "strokeWidth": _BAND_STROKE_PX})
        .encode(detail=alt.Detail("run:N"), **stacked)
    )
    # the named bands' names at the middle of their band's right end: right of the plot, or on a phone
    # inside the band (its name only; its share is in the legend), in a colour readable on the band's
    # band where its name runs (on a phone: only where the band holds the name's line over all its length)
    bounds = {y: _band_bounds(sectors, {s: values.get((y, s), 0.0) for s in sectors}) for y in years}
    px_per_year = width / max(latest - years[0], 1)
    labels = []
    for s in sectors:
        name_ = label("sector", s, lang)
        if name_ not in labelled:
            continue
        low, high = bounds[latest][s]
        mid = (low + high) / 2
        if phone:
            reach = (text_width(name_, bold=True) + _INSIDE_DX) / px_per_year  # years the name spans
            half_line = _LINE_PX / 2 * kt_per_px
            if not all(
                y in bounds and bounds[y][s][0] <= mid - half_line and mid + half_line <= bounds[y][s][1]
                for y in range(math.floor(latest - reach), latest + 1)
            ):
                continue
        text = name_ if phone else labelled[name_]
        labels.append(
            {"year": latest, "sector": name_, "mid": mid, "label": text, "ink": th.text_on(colours[s])}
        )
    layers: list[alt.Chart] = [area]
    # a year alone between gaps (1990 before 2000): a stacked column a year wide (a readable _BAR_PX at
    # least, on a phone too), drawn into the gap after it, not a sliver or an area of no width
    span = max(latest - years[0], 1)
    bar = f"max({_BAR_PX}, width / {span})"
    lone = sorted(set(df.filter(pl.col("run").replace_strict(run_sizes) == 1).get_column("year")))
    for year in lone:
        side = -1 if year == latest else 1  # the last year's column is drawn into the gap before it
        layers.append(
            _years(alt.Chart(df.filter(pl.col("year") == year)))
            .mark_bar(
                width=alt.ExprRef(bar),
                xOffset=alt.ExprRef(f"{side} * {bar} / 2"),
                opacity=1,
                stroke="white",
                strokeWidth=_BAND_STROKE_PX,
            )
            .encode(**stacked)
        )
    if labels:
        written = _years(alt.Chart(pl.DataFrame(labels)))
        if phone:
            written = written.mark_text(align="right", dx=-_INSIDE_DX, fontWeight="bold", fontSize=11).encode(
                color=alt.Color("ink:N", scale=None)
            )
        else:
            written = written.mark_text(align="left", dx=6, fontWeight="bold", fontSize=11)
        layers.append(
            written.encode(x=x, y=alt.Y("mid:Q", title=y_title, stack=None), text=alt.Text("label:N"))
        )
    gap_rows = _gap_rows({y: totals[y] / 2 for y in years})
    for (first, last), row in zip(_gaps(years), gap_rows, strict=True):
        # written in the free part of the gap, beside a lone year's column drawn into it; upright where
        # that is narrower than its text (on a phone), never cut at the plot's edge or over the column
        into = int(first - 1 in lone) + int(last + 1 == latest and latest in lone)  # columns drawn in it
        shift = int(first - 1 in lone) - int(last + 1 == latest and latest in lone)
        room = f"width * {last - first + 2} / {span} - {into} * {bar}"
        layers.append(
            _gap_labels(
                [row],
                x,
                alt.Y("value:Q", title=y_title, stack=None),
                lang,
                angle=alt.ExprRef(f"{gap_too_narrow(room, row['years'], lang)} ? 270 : 0"),
                x_offset=alt.ExprRef(f"{shift} * {bar} / 2"),
            )
        )
    chart = _layer(layers, meta, lang).properties(width=width, height=_HEIGHT)
    top = sectors[0]
    top_share = values.get((latest, top), 0.0) / total_latest * 100 if total_latest else 0.0
    finding = t(
        "sector_area.title",
        lang,
        sector=label("sector", top, lang),
        year=latest,
        share=format_percent(top_share, lang),
    )
    description = t(
        "sector_area.description",
        lang,
        first=years[0],
        latest=latest,
        n=len(sectors),
        total=format_number(total_latest, lang),
        largest=", ".join(
            f"{label('sector', s, lang)} {format_number(values.get((latest, s), 0.0), lang)} kt"
            for s in sectors[:3]
        ),
    ) + _gap_sentence(years, lang)
    suffix, sentence = provisional_texts(provisional_years, latest, lang)
    finding, description = finding + suffix, description + sentence
    table = df.select("year", "sector_key", "sector", "value", "share")
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )
