"""The per-resident comparison chart: emissions per resident across cities."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Final

import altair as alt
import polars as pl

from report import theme as th
from report.charts.common import (
    CAPITAL_REGION,
    Col,
    _area_key,
    _check_lang,
    _check_meta,
    _finish,
    _frame,
    _layer,
    _pct_change,
    _titled,
    _unique,
    _year_tip,
    label_expr,
    text_width,
    vega_string,
    wrap_px,
)
from report.charts.provisional import provisional_texts
from report.i18n import (
    NOT_AVAILABLE,
    format_change,
    format_number,
    format_percent,
    label,
    t,
)
from report.ranking import rank_decimals
from report.theme import ChartMeta

_WIDTH: Final = 480  # the plot's width in px
_PHONE_WIDTH: Final = 200
_PHONE_NOTE_PX: Final = 120
_PHONE_NAMES_PX: Final = 100  # a phone's column of names and groups beside the plot, before it narrows it
_STEP: Final = 26  # px per row
_LABEL_DX: Final = 4  # px between a bar's end and its value
_TAG_LINE_PX: Final = 12  # the line height of a city's name and its group's under it (two in a row's _STEP)
PER_RESIDENT_FRAME: Final[Mapping[str, Col]] = {
    "area": Col("str", "the area: a key such as 'espoo', a municipality code such as '049', or a name"),
    "year": Col("int", "the calendar year"),
    "value": Col("num", "emissions per resident in t CO2e"),
}


def per_resident_comparison(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    highlight: str = "espoo",
    year: int | None = None,
    provisional_years: Sequence[int] = (),
    phone: bool = False,
    least_decimals: int = 1,
) -> alt.LayerChart:
    """Per-resident emissions in one year: the highlighted city against the capital region and large cities.
    phone: the phone's layout (report.phone), its plot _PHONE_WIDTH wide beside the cities' short names.
    least_decimals: the fewest decimals the values print with (at least one): the weekly report passes the
    highlighted city's decimals on the indicator's site page (report.ranking.area_decimals), so both print
    the same figure.

    frame: one row per area and year —
        area (str: 'espoo', 'helsinki', … or a Statistics Finland code '049'; other names are shown as
        given), year (int), value (float, t CO2e per resident; Syke's ALas data).
    year defaults to the latest year with a value for the highlighted area; the tooltip shows the change
    from each area's first year in the frame. A rule marks the median of the other areas.
    """
    name = "per_resident_comparison"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, PER_RESIDENT_FRAME)
    _unique(name, "frame", f, ["area", "year"])
    rows = [(_area_key(str(r["area"])), int(r["year"]), float(r["value"])) for r in f.rows(named=True)]
    hl = _area_key(highlight)
    hl_years = sorted(y for a, y, _ in rows if a == hl)
    if not hl_years:
        raise ValueError(f"{name}: highlighted area {highlight!r} has no rows in `frame`")
    yr = hl_years[-1] if year is None else year
    current = {a: v for a, y, v in rows if y == yr}
    if hl not in current:
        raise ValueError(f"{name}: highlighted area {highlight!r} has no value for {yr}")
    others = {a: v for a, v in current.items() if a != hl}
    if not others:
        raise ValueError(f"{name}: `frame` has no other areas for {yr} to compare {highlight!r} against")
    first: dict[str, tuple[int, float]] = {}
    for a, y, v in sorted(rows, key=lambda r: r[1]):
        first.setdefault(a, (y, v))
    groups = {
        "highlight": label("area", hl, lang),
        "capital": t("per_resident.group_capital", lang),
        "other": t("per_resident.group_other", lang),
    }

    def group(a: str) -> str:
        if a == hl:
            return groups["highlight"]
        return groups["capital"] if a in CAPITAL_REGION else groups["other"]

    def change_text(a: str, v: float) -> str:
        y0, v0 = first[a]
        if y0 >= yr or v0 == 0:
            return NOT_AVAILABLE
        pct = format_change(_pct_change(v, v0), lang)
        return f"{pct} ({y0}–{yr})"

    ordered = sorted(current, key=lambda a: (current[a], label("area", a, lang)))
    df = pl.DataFrame(
        [
            {
                "area_key": a,
                "area": label("area", a, lang),
                "year": yr,
                "value": current[a],
                "group": group(a),
                "change": change_text(a, current[a]),
            }
            for a in ordered
        ]
    )
    median = statistics.median(others.values())
    # each city's group ("Helsinki" / "capital region"): the bars' shades are not its only sign (WCAG 1.4.1)
    tags = {
        label("area", a, lang): t(
            f"per_resident.group_tag_{'capital' if a in CAPITAL_REGION else 'other'}", lang
        )
        for a in ordered
        if a != hl
    }
    area_order = [label("area", a, lang) for a in ordered]
    # one decimal (least_decimals), or more where the ranking needs it: two cities that differ never print
    # the same
    least = max(least_decimals, 1)
    places = rank_decimals([current[a] for a in ordered], lang, least=least, most=max(least, 3))
    value_format = f",.{places}f"
    # the x scale leaves room for every value label inside the plot, measured; the median is drawn row by
    # row and left out of a row whose label it would strike through (2,55 / 2,58 … beside the median)
    label_px = {a: text_width(format_number(current[a], lang, places)) for a in ordered}
    # a phone's plot gives up what the widest name or group in the column beside it takes past its share
    widest = max(text_width(text) for text in [*area_order, *tags.values()])
    width = _PHONE_WIDTH - max(0, math.ceil(widest - _PHONE_NAMES_PX)) if phone else _WIDTH
    far = max(current[a] * width / (width - _LABEL_DX - 2 - label_px[a]) for a in ordered)

    def px(value: float) -> float:
        return value / far * width

    struck = {
        a for a in ordered if px(current[a]) - 2 <= px(median) <= px(current[a]) + _LABEL_DX + label_px[a] + 2
    }
    # each city's group written under its name; the highlighted city's name alone, in bold
    highlighted = f"datum.label === {vega_string(groups['highlight'])}"
    city_axis = alt.Axis(
        labelExpr=label_expr({city: (city, tag) for city, tag in tags.items()}),
        labelLineHeight=_TAG_LINE_PX,
        # a label of two lines moved up half a line: the pair centred on its bar
        labelOffset=alt.ExprRef(f"{highlighted} ? 0 : {-_TAG_LINE_PX / 2}"),
        labelFontWeight=alt.ExprRef(f"{highlighted} ? 'bold' : 'normal'"),
    )
    y_enc = alt.Y("area:N", sort=area_order, title=None, axis=city_axis)
    x_title = t("axis.per_resident", lang)
    group_domain = [groups["highlight"], groups["capital"], groups["other"]]
    bars = (
        alt.Chart(df)
        .mark_bar(height={"band": 0.7})
        .encode(
            y=y_enc,
            x=alt.X(
                "value:Q",
                title=x_title,
                axis=alt.Axis(format=",.1f"),
                scale=alt.Scale(zero=True, domain=[0.0, far], nice=False),
            ),
            color=alt.Color(
                "group:N",
                title=None,
                scale=alt.Scale(
                    domain=group_domain, range=[th.OKABE_ITO["blue"], th.DARK_NEUTRAL, th.NEUTRAL]
                ),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("area:N", title=t("label.area", lang)),
                _year_tip(lang),
                alt.Tooltip("value:Q", title=t("label.per_resident", lang), format=value_format),
                alt.Tooltip("change:N", title=t("label.change_since_first", lang)),
            ],
        )
    )
    values = (
        alt.Chart(df)
        .mark_text(align="left", dx=_LABEL_DX)
        .encode(y=y_enc, x=alt.X("value:Q", title=x_title), text=alt.Text("value:Q", format=value_format))
    )
    median_df = pl.DataFrame([{"median": median}])
    median_text = t("per_resident.median_label", lang, value=format_number(median, lang, places))
    rule_rows = pl.DataFrame(
        [{"area": label("area", a, lang), "median": median} for a in ordered if a not in struck],
        schema={"area": pl.String, "median": pl.Float64},
    )
    rule = (
        alt.Chart(rule_rows)
        .mark_rule(strokeDash=[4, 3], color=th.TEXT_COLOUR)
        .encode(
            x=alt.X("median:Q", title=x_title),
            # from the top to the bottom of the row's band: one stretch of the dashed line per row
            y=alt.Y("area:N", sort=area_order, title=None, bandPosition=0),
            y2=alt.Y2("area:N", bandPosition=1),
        )
    )
    # a phone's: on lines of _PHONE_NOTE_PX at most, ending inside the drawing
    lines = wrap_px(median_text, _PHONE_NOTE_PX) if phone else [median_text]
    rule_text = (
        alt.Chart(median_df)
        .mark_text(
            text=lines if len(lines) > 1 else median_text,
            align="left",
            baseline="top",
            dx=4,
            y=-1 - 13 * len(lines),
            lineHeight=13,
            color=th.TEXT_COLOUR,
        )
        .encode(x=alt.X("median:Q", title=x_title))
    )
    chart = _layer([bars, values, rule, rule_text], meta, lang).properties(
        width=width, height=alt.Step(_STEP)
    )
    diff = _pct_change(current[hl], median) if median else 0.0
    if abs(diff) < 0.5:
        comparison = t("per_resident.same", lang)
    else:
        key = "per_resident.below" if diff < 0 else "per_resident.above"
        comparison = t(key, lang, pct=format_percent(abs(diff), lang))
    finding = _titled(
        "per_resident.title",
        hl,
        lang,
        value=format_number(current[hl], lang, places),
        year=yr,
        comparison=comparison,
    )
    description = t(
        "per_resident.description",
        lang,
        year=yr,
        n=len(current),
        area=label("area", hl, lang),
        value=format_number(current[hl], lang, places),
        rank=ordered.index(hl) + 1,
        median=format_number(median, lang, places),
        lowest=f"{label('area', ordered[0], lang)} {format_number(current[ordered[0]], lang, places)}",
        highest=f"{label('area', ordered[-1], lang)} {format_number(current[ordered[-1]], lang, places)}",
    )
    suffix, sentence = provisional_texts(provisional_years, yr, lang)
    finding, description = finding + suffix, description + sentence
    table = df.select("area_key", "area", "year", "value", "group", "change")
    return _finish(
        chart,
        name=name,
        finding=finding,
        description=description,
        meta=meta,
        lang=lang,
        table=table,
        decimals={"value": places},
    )
