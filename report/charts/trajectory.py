"""The emissions trajectory chart: an area's history against the path to its target, and the trend."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, Final

import altair as alt
import polars as pl

from indicators.catalogue import ReductionTarget
from indicators.trajectory import target_from_base
from report import theme as th
from report.charts.common import (
    PHONE_LINE_HEIGHT,
    Col,
    _area_key,
    _band_row,
    _check_lang,
    _check_meta,
    _dash,
    _finish,
    _frame,
    _gap_labels,
    _gap_rows,
    _gap_sentence,
    _gaps,
    _layer,
    _pct_change,
    _titled,
    _unique,
    _x_year,
    _year_tip,
    _years,
    gap_too_narrow,
    text_width,
)
from report.i18n import (
    NOT_AVAILABLE,
    format_change,
    format_number,
    format_percent,
    label,
    t,
)
from report.theme import ChartMeta

TRAJECTORY_HISTORY: Final[Mapping[str, Col]] = {
    "year": Col("int", "the calendar year"),
    "value": Col("num", "total emissions in kt CO2e"),
    "estimated": Col("bool", "True for a nowcast/preliminary year", required=False),
    "provisional": Col("bool", "True where the source calls a published figure provisional", required=False),
    "lower": Col("num", "an estimated year's lower band bound in kt CO2e", nullable=True, required=False),
    "upper": Col("num", "an estimated year's upper band bound in kt CO2e", nullable=True, required=False),
}
TRAJECTORY_PROJECTION: Final[Mapping[str, Col]] = {
    "year": Col("int", "the projected year"),
    "value": Col("num", "the central trend projection in kt CO2e"),
    "lower": Col("num", "the lower bound of the uncertainty band in kt CO2e"),
    "upper": Col("num", "the upper bound of the uncertainty band in kt CO2e"),
}


def emissions_trajectory(
    history: pl.DataFrame,
    projection: pl.DataFrame | None = None,
    *,
    meta: ChartMeta,
    target: ReductionTarget,
    lang: str = "fi",
    area: str = "espoo",
    band_level: float = 0.95,
) -> alt.LayerChart:
    """History of an area's emissions against the straight path to its target, with the trend projection.

    history: one row per year —
        year (int), value (float, kt CO2e), estimated (bool, optional: True marks nowcast years, drawn
        hollow with a dashed line; absent means every year is observed), provisional (bool, optional: a
        published figure its source calls provisional, drawn in a lighter fill and named in the title and
        the text), lower, upper (float, optional, nullable: an estimated year's band). Missing years are a
        gap in the line, labelled, never bridged as if measured.
    projection (optional): one row per projected year —
        year (int), value (float, central projection, kt CO2e), lower, upper (float, the band_level
        prediction band, 95 % by default). It is joined to the last history year so the band starts from
        the latest value: with no spread at a measured value, with its own band at an estimate (an
        estimate without a band: from the latest measured year).
    target: the commitment, as the indicator catalogue declares it (report.data.reduction_target): no
    default, so the chart states the same target as the headline. Its value is derived from the same data:
    value(base_year) × (1 − reduction), drawn as a rule with a label; the required path runs straight from
    the latest published year (the latest year when every year is an estimate) to (target year, target
    value), as the headline's required rate does.
    """
    name = "emissions_trajectory"
    _check_lang(name, lang)
    _check_meta(name, meta)
    base_year, target_year, target_reduction = target.base_year, target.year, target.reduction
    h = _frame(name, "history", history, TRAJECTORY_HISTORY)
    _unique(name, "history", h, ["year"])
    if not 0.0 < target_reduction < 1.0:
        raise ValueError(f"{name}: target_reduction must be between 0 and 1, got {target_reduction}")
    if target_year <= base_year:
        raise ValueError(f"{name}: target_year ({target_year}) must be after base_year ({base_year})")
    rows = sorted(h.rows(named=True), key=lambda r: int(r["year"]))
    hist = [(int(r["year"]), float(r["value"]), bool(r.get("estimated") or False)) for r in rows]
    provisional = {int(r["year"]) for r in rows if r.get("provisional") and not r.get("estimated")}
    # an estimated year's own band (a nowcast is uncertain: the projection band starts from it, not from 0)
    est_bands = {
        int(r["year"]): (float(r["lower"]), float(r["upper"]))
        for r in rows
        if r.get("estimated") and r.get("lower") is not None and r.get("upper") is not None
    }
    for year, (lower, upper) in est_bands.items():
        value = next(v for y, v, _ in hist if y == year)
        if not lower <= value <= upper:
            raise ValueError(f"{name}: `history` row for {year} needs lower <= value <= upper")
    base_value = next((v for y, v, _ in hist if y == base_year), None)
    if base_value is None or base_value <= 0:
        raise ValueError(
            f"{name}: `history` needs a positive value for base_year {base_year} to derive the target"
        )
    area_key = _area_key(area)
    target_value = target_from_base(base_value, target_reduction)  # the one derivation: 1060 → 212.0
    latest_year, latest_value, latest_est = hist[-1]
    # the title's finding is about the latest published value; a nowcast only when nothing is published
    found_year, found_value, found_est = ([h for h in hist if not h[2]] or hist)[-1]
    first_year = hist[0][0]
    # an observed value has the word the site's charts and tables give it (one word for one thing)
    obs_label, est_label = t("site.kind_observed", lang), t("site.kind_estimate", lang)
    prov_label = t("trajectory.provisional", lang)
    # the point legend: published, provisional (only when a year is), estimate
    statuses = [obs_label, *([prov_label] if provisional else []), est_label]
    level_text = format_percent(band_level * 100, lang)
    series = {
        "history": t("trajectory.series_history", lang),
        "projection": t("trajectory.series_projection", lang, level=level_text),
        "path": t("trajectory.series_path", lang),
        "base_path": t("trajectory.series_base_path", lang, base_year=base_year, target_year=target_year),
        "target": t("trajectory.series_target", lang),
    }
    colours = dict(th.SERIES_COLOURS)  # as the site's indicator charts draw them (theme.SERIES_COLOURS)
    # each series' line as drawn: the legend shows the same dashes (a strokeDash legend with its colour)
    dashes = {key: list(dash) for key, dash in th.SERIES_DASHES.items()} | {"estimate": _dash(True)}
    series["estimate"] = est_label
    colours["estimate"] = colours["history"]
    # a line segment touching an estimated year is dashed: a series of its own in the lines' legend
    estimate_line = any(y1 - y0 == 1 and (e0 or e1) for (y0, _, e0), (y1, _, e1) in itertools.pairwise(hist))

    table_rows: list[dict[str, Any]] = [
        {
            "series": series["history"],
            "year": y,
            "value": v,
            "lower": est_bands.get(y, (None, None))[0],
            "upper": est_bands.get(y, (None, None))[1],
            "estimated": e,
            "provisional": y in provisional,
            "kind_key": "estimate" if e else "observed",
        }
        for y, v, e in hist
    ]
    proj_rows: list[dict[str, Any]] = []
    if not 0.0 < band_level < 1.0:
        raise ValueError(f"{name}: band_level must be between 0 and 1, got {band_level}")
    if projection is not None:
        p = _frame(name, "projection", projection, TRAJECTORY_PROJECTION)
        _unique(name, "projection", p, ["year"])
        proj_rows = sorted(p.rows(named=True), key=lambda r: int(r["year"]))
        for r in proj_rows:
            if not float(r["lower"]) <= float(r["value"]) <= float(r["upper"]):
                raise ValueError(f"{name}: `projection` row for {r['year']} needs lower <= value <= upper")
        if int(proj_rows[0]["year"]) > latest_year:
            # the band starts from the latest year: with no spread at a measured value, with its own band at
            # an estimate; an estimate without a band starts it from the latest measured year instead
            observed = [(y, v) for y, v, e in hist if not e]
            if not latest_est:
                proj_rows.insert(0, _band_row(latest_year, latest_value, latest_value, latest_value))
            elif latest_year in est_bands:
                proj_rows.insert(0, _band_row(latest_year, latest_value, *est_bands[latest_year]))
            elif observed:
                year, value = observed[-1]
                proj_rows.insert(0, _band_row(year, value, value, value))
        projected_years = {int(r["year"]) for r in p.iter_rows(named=True)}
        table_rows += [
            # a projection is no preliminary estimate: its own kind. The row the band starts from (the
            # latest value, an estimate's own band) is drawn, not listed: that year has its row above, and
            # a second one said the 2025 estimate twice, once as the series' and once as the projection's
            {
                "series": series["projection"],
                "estimated": False,
                "kind_key": "projection",
                **{k: r[k] for k in TRAJECTORY_PROJECTION},
            }
            for r in proj_rows
            if int(r["year"]) in projected_years
        ]
    path_rows: list[dict[str, Any]] = []
    # the required path starts where the headline's required rate does: the latest published value (a
    # nowcast only when nothing is published), never an estimate after it
    if found_year < target_year:
        path_rows = [
            {"year": found_year, "value": found_value},
            {"year": target_year, "value": target_value},
        ]
        table_rows += [
            {
                "series": series["path"],
                "lower": None,
                "upper": None,
                "estimated": False,
                "kind_key": "path_from_latest",
                **r,
            }
            for r in path_rows
        ]
    # the straight line from the base year the linear-path status compares with (its value in any year)
    base_path_rows = [{"year": base_year, "value": base_value}, {"year": target_year, "value": target_value}]
    table_rows += [
        {
            "series": series["base_path"],
            "lower": None,
            "upper": None,
            "estimated": False,
            "kind_key": "path",
            **r,
        }
        for r in base_path_rows
    ]
    table_rows.append(
        {
            "series": series["target"],
            "year": target_year,
            "value": target_value,
            "lower": None,
            "upper": None,
            "estimated": False,
            "kind_key": "target",
        }
    )
    used = (
        ["history"]
        + (["estimate"] if estimate_line else [])
        + (["projection"] if proj_rows else [])
        + (["path"] if path_rows else [])
        + ["base_path", "target"]
    )
    series_legend = alt.Legend(
        orient="bottom",
        direction="horizontal",
        symbolType="stroke",
        columns=3,
        symbolStrokeWidth=2,
        symbolSize=500,  # a stroke long enough (about 22 px) to show each dash pattern
    )
    colour = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=[series[k] for k in used], range=[colours[k] for k in used]),
        legend=series_legend,
    )
    series_dash = alt.StrokeDash(
        "series:N",
        title=None,
        scale=alt.Scale(domain=[series[k] for k in used], range=[dashes[k] for k in used]),
        legend=series_legend,
    )
    last_x = max(target_year, int(proj_rows[-1]["year"]) if proj_rows else target_year)
    x = _x_year(min(first_year, base_year), last_x)
    y_title = t("axis.emissions_kt", lang)
    y_val = alt.Y("value:Q", title=y_title)
    value_tip = alt.Tooltip("value:Q", title=t("label.emissions_kt", lang), format=",.0f")

    # history line as two-point segments, so a segment touching an estimated year is dashed; the dash
    # and the point fill share one legend (same field and title): solid+filled vs dashed+hollow
    status_title = t("trajectory.legend_status", lang)
    status_legend = alt.Legend(
        orient="top",  # above the plot, never over a point (inside, the Swedish labels covered 2019)
        direction="horizontal",
        symbolType="circle",
        symbolStrokeColor=colours["history"],
        symbolStrokeWidth=1.6,
    )
    seg_rows = []
    for i, ((y0, v0, e0), (y1, v1, e1)) in enumerate(itertools.pairwise(hist)):
        if y1 - y0 > 1:
            continue  # missing years are a gap, not a line as if measured
        kind = series["estimate"] if (e0 or e1) else series["history"]
        seg_rows += [
            {"segment": i, "year": y0, "value": v0, "series": kind},
            {"segment": i, "year": y1, "value": v1, "series": kind},
        ]
    layers: list[alt.Chart] = []
    if proj_rows:
        proj_df = pl.DataFrame(proj_rows).with_columns(series=pl.lit(series["projection"]))
        band = _years(alt.Chart(proj_df)).mark_area(opacity=th.BAND_OPACITY, color=colours["projection"])
        layers.append(
            band.encode(
                x=x,
                y=alt.Y("lower:Q", title=y_title),
                y2=alt.Y2("upper:Q"),
                tooltip=[
                    _year_tip(lang),
                    alt.Tooltip("lower:Q", title=t("label.lower", lang), format=",.0f"),
                    alt.Tooltip("upper:Q", title=t("label.upper", lang), format=",.0f"),
                ],
            )
        )
        layers.append(
            _years(alt.Chart(proj_df))
            .mark_line(strokeWidth=2)
            .encode(x=x, y=y_val, color=colour, strokeDash=series_dash, tooltip=[_year_tip(lang), value_tip])
        )
    if path_rows:
        path_df = pl.DataFrame(path_rows).with_columns(series=pl.lit(series["path"]))
        layers.append(
            _years(alt.Chart(path_df))
            .mark_line(strokeWidth=1.8)
            .encode(x=x, y=y_val, color=colour, strokeDash=series_dash)
        )
    base_path_df = pl.DataFrame(base_path_rows).with_columns(series=pl.lit(series["base_path"]))
    layers.append(
        _years(alt.Chart(base_path_df))
        .mark_line(strokeWidth=1.6)
        .encode(x=x, y=y_val, color=colour, strokeDash=series_dash, tooltip=[_year_tip(lang), value_tip])
    )
    if seg_rows:
        layers.append(
            _years(alt.Chart(pl.DataFrame(seg_rows)))
            .mark_line(strokeWidth=2.4)
            .encode(
                x=x,
                y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=",.0f")),
                color=colour,
                detail=alt.Detail("segment:N"),
                strokeDash=series_dash,
            )
        )

    def point_status(year: int, estimated: bool) -> str:
        return est_label if estimated else prov_label if year in provisional else obs_label

    point_df = pl.DataFrame([{"year": y, "value": v, "status": point_status(y, e)} for y, v, e in hist])
    fills = {obs_label: colours["history"], prov_label: th.OKABE_ITO["sky_blue"], est_label: "#FFFFFF"}
    layers.append(
        _years(alt.Chart(point_df))
        .mark_point(filled=True, size=46, stroke=colours["history"], strokeWidth=1.6, fillOpacity=1)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=y_title, axis=alt.Axis(format=",.0f"), scale=alt.Scale(zero=True)),
            fill=alt.Fill(
                "status:N",
                title=status_title,
                scale=alt.Scale(domain=statuses, range=[fills[s] for s in statuses]),
                legend=status_legend,
            ),
            tooltip=[
                _year_tip(lang),
                value_tip,
                alt.Tooltip("status:N", title=t("trajectory.legend_status", lang)),
            ],
        )
    )
    target_text = t(
        "trajectory.target_label",
        lang,
        year=target_year,
        value=format_number(target_value, lang),
        pct=format_percent(-target_reduction * 100, lang),
        base=base_year,
    )
    target_df = pl.DataFrame([{"year": target_year, "value": target_value, "series": series["target"]}])
    left_year = min(first_year, base_year)
    span = max(last_x - left_year, 1)
    # on a narrow plot (a phone's) the label would run on to where the paths and the band converge on the
    # target, past the last observed year: there it is written on two lines, "Tavoite 2030" above its value
    breaks = target_text.count(": ")
    short = f"width * {latest_year - left_year} / {span} < {text_width(target_text, bold=True) + 8:.0f}"
    layers += [
        # the target as its legend shows it: a dotted line (no extra marker the legend would not name)
        alt.Chart(target_df)
        .mark_rule(strokeWidth=1.5)
        .encode(y=y_val, color=colour, strokeDash=series_dash, tooltip=[_year_tip(lang), value_tip]),
        # its label at the left end of the line, where no other line runs (near the target year the
        # paths and the band converge on it)
        _years(alt.Chart(target_df.with_columns(year=pl.lit(left_year))))
        .mark_text(
            text=target_text,
            lineBreak=alt.ExprRef(f"{short} ? ': ' : '\\n'"),
            align="left",
            baseline="bottom",
            dx=4,
            dy=alt.ExprRef(f"{short} ? {-4 - PHONE_LINE_HEIGHT * breaks} : -4"),
            lineHeight=PHONE_LINE_HEIGHT,
            fontWeight="bold",
            color=th.TEXT_COLOUR,
        )
        .encode(x=x, y=y_val),
    ]
    gap_rows = _gap_rows({y: v for y, v, _ in hist})
    for (first, last), row in zip(_gaps([y for y, _, _ in hist]), gap_rows, strict=True):
        # level in the gap's middle where it fits; on a narrow plot upright, halfway down from the straight
        # path to the target, where no line runs (at the ends' height it lay over the path and 1990's point)
        middle = row["year"] + row["month"] / 12
        along = min(max((middle - base_year) / max(target_year - base_year, 1), 0.0), 1.0)
        path = base_value + (target_value - base_value) * along
        narrow = gap_too_narrow(f"width * {last - first + 2} / {span}", row["years"], lang)
        layers.append(
            _gap_labels(
                [{**row, "low": (path + target_value) / 2}],
                x,
                y_val,
                lang,
                angle=alt.ExprRef(f"{narrow} ? 270 : 0"),
                y_offset=alt.ExprRef(f"{narrow} ? scale('y', datum.low) - scale('y', datum.value) : 0"),
            )
        )
    chart = _layer(layers, meta, lang).properties(width=620, height=340)

    found_change = _pct_change(found_value, base_value)
    verb = "fell" if found_change < 0 else "rose"
    finding = _titled(
        f"trajectory.title_{verb}",
        area_key,
        lang,
        pct=format_change(abs(found_change), lang, signed=False),
        base=base_year,
        latest=found_year,
    )
    if found_est:
        finding += t("trajectory.title_estimated", lang)
    elif found_year in provisional:
        finding += t("trajectory.title_provisional", lang)
    # the alt text states the latest published value as fact and every estimate as an estimate
    description = t(
        "trajectory.description_estimated_only" if found_est else "trajectory.description",
        lang,
        area=label("area", area_key, lang),
        first=first_year,
        latest=found_year,
        latest_value=format_number(found_value, lang),
        base=base_year,
        base_value=format_number(base_value, lang),
        change=format_change(found_change, lang),
        target_year=target_year,
        target=format_number(target_value, lang),
    )
    for year, value, estimated in hist:
        if not estimated or (found_est and year == found_year):
            continue
        band = est_bands.get(year)
        description += " " + t(
            "trajectory.description_estimate" if band else "trajectory.description_estimate_noband",
            lang,
            year=year,
            value=format_number(value, lang),
            level=level_text,
            lower=format_number(band[0], lang) if band else NOT_AVAILABLE,
            upper=format_number(band[1], lang) if band else NOT_AVAILABLE,
        )
    for year in sorted(provisional):
        description += " " + t("trajectory.description_provisional", lang, year=year)
    if proj_rows:
        end = proj_rows[-1]
        description += " " + t(
            "trajectory.description_projection",
            lang,
            year=int(end["year"]),
            value=format_number(float(end["value"]), lang),
            level=level_text,
            lower=format_number(float(end["lower"]), lang),
            upper=format_number(float(end["upper"]), lang),
        )
    description += _gap_sentence([y for y, _, _ in hist], lang)
    table = pl.DataFrame(
        table_rows,
        schema={
            "series": pl.String,
            "year": pl.Int64,
            "value": pl.Float64,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "estimated": pl.Boolean,
            "provisional": pl.Boolean,
            # the kind of each row as kestava.api and the export name it (a key: not shown on the page)
            "kind_key": pl.String,
        },
    ).with_columns(pl.col("provisional").fill_null(False))
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )
