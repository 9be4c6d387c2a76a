"""The sectors-over-time chart: emissions by sector as stacked areas."""

from __future__ import annotations

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
    text_width,
    vega_string,
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
# a legend entry's symbol and the gap to its label, and the gap between two columns (px, Vega's)
_LEGEND_ENTRY_PX: Final = 23
_LEGEND_COLUMN_GAP_PX: Final = 10


@cache
def subsector_groups() -> dict[str, str]:
    """Every fine sector key of the datasets' sector tables (ingest/catalogue.toml) -> its main sector."""
    return {rule.sector: rule.group for d in load_catalogue().datasets.values() for rule in d.sectors}


def _sector_scale(keys: Sequence[str], lang: str) -> alt.Scale:
    colours = th.sector_colours(keys, subsector_groups())
    return alt.Scale(domain=[label("sector", k, lang) for k in keys], range=[colours[k] for k in keys])


def _phone_legend(labelled: Mapping[str, str], names: Sequence[str], width: int) -> alt.Legend:
    """A phone's legend below the plot (width px, where it starts): each sector's name, the labelled ones
    (name -> "name share") with their share; in two columns (filled downwards) where both fit the plot's
    width, else one."""
    expr = "datum.label"
    for name, text in labelled.items():
        expr = f"datum.label === {vega_string(name)} ? {vega_string(text)} : {expr}"
    shown = [labelled.get(name, name) for name in names]
    half = (len(shown) + 1) // 2
    columns = (
        max(text_width(text) for text in shown[:half]),
        max(text_width(text) for text in shown[half:] or [""]),
    )
    fits = sum(columns) + 2 * _LEGEND_ENTRY_PX + _LEGEND_COLUMN_GAP_PX <= width
    return alt.Legend(orient="bottom", direction="vertical", columns=2 if fits else 1, labelExpr=expr)


def sector_area(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    label_count: int = 3,
    provisional_years: Sequence[int] = (),
    phone: bool = False,
) -> alt.LayerChart:
    """Emissions by sector over time as stacked areas, largest sector at the bottom, the largest labelled.
    phone: the phone's layout (report.phone): the plot as wide as a phone's column leaves beside the y
    axis, the largest sectors' shares in the legend below it instead of in labels right of the plot (which
    had left a 150 px plot for 35 years).

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
    # the largest sectors' shares of the latest year: beside the plot's right end, or on a phone in the legend
    total_latest = totals[latest]
    shares = {
        s: values.get((latest, s), 0.0) / total_latest if total_latest else 0.0
        for s in sectors
        if order[s] < label_count
    }
    labelled = {
        label("sector", s, lang): f"{label('sector', s, lang)} {format_percent(share * 100, lang)}"
        for s, share in shares.items()
        if share >= 0.04
    }
    x = _x_year(years[0], latest)
    colour = alt.Color(
        "sector:N",
        title=t("sector_area.legend_phone", lang, year=latest) if phone else t("label.sector", lang),
        scale=_sector_scale(sectors, lang),
        legend=_phone_legend(labelled, [label("sector", s, lang) for s in sectors], width)
        if phone
        else alt.Legend(orient="bottom", columns=3),
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
        .mark_area(line={"color": "white", "strokeWidth": 0.6})
        .encode(detail=alt.Detail("run:N"), **stacked)
    )
    # right-end labels for the largest sectors, at the middle of their band (a phone's legend has them)
    labels = []
    below = 0.0
    for s in sectors:
        v = values.get((latest, s), 0.0)
        if not phone and label("sector", s, lang) in labelled:
            labels.append({"year": latest, "mid": below + v / 2, "label": labelled[label("sector", s, lang)]})
        below += v
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
            .mark_bar(width=alt.ExprRef(bar), xOffset=alt.ExprRef(f"{side} * {bar} / 2"))
            .encode(**stacked)
        )
    if labels:
        layers.append(
            _years(alt.Chart(pl.DataFrame(labels)))
            .mark_text(align="left", dx=6, fontWeight="bold", fontSize=11)
            .encode(x=x, y=alt.Y("mid:Q", title=y_title, stack=None), text=alt.Text("label:N"))
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
    chart = _layer(layers, meta, lang).properties(width=width, height=320)
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
