"""The circular economy chart: municipal waste per resident and its recycling rate against the EU targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import altair as alt
import polars as pl

from report import theme as th
from report.charts.common import (
    CIRCULAR_INDICATORS,
    Col,
    HConcatChart,
    VConcatChart,
    _area_key,
    _check_lang,
    _check_meta,
    _finish,
    _frame,
    _layer,
    _titled,
    _unique,
    _x_year,
    _year_tip,
    _years,
)
from report.charts.provisional import provisional_texts
from report.i18n import (
    format_number,
    format_percent,
    label,
    series_precision,
    shown_decimals,
    t,
)
from report.theme import ChartMeta

CIRCULAR_FRAME: Final[Mapping[str, Col]] = {
    "indicator": Col("str", f"the indicator, one of {list(CIRCULAR_INDICATORS)}"),
    "area": Col("str", "the area: Eurostat geo code ('FI', 'EU27_2020') or a key such as 'fi'"),
    "year": Col("int", "the calendar year"),
    "value": Col("num", "kg per resident (waste_per_resident) or % (recycling_rate, 0–100)"),
}


_PANEL_WIDTH: Final = 300
_PHONE_PANEL_WIDTH: Final = 250


def _percent(value: float, lang: str, precision: int | None = None) -> str:
    """A rate as the report prints it everywhere (report.i18n.shown_decimals): 41.4 % stays "41,4 %"; with
    its series' precision (series_precision), 30.0 in a series published to one decimal is "30,0 %"."""
    return format_percent(value, lang, shown_decimals(value, precision))


def circular_economy(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    targets: Mapping[int, float],
    lang: str = "fi",
    area: str = "fi",
    comparison: str = "eu27_2020",
    provisional_years: Sequence[int] = (),
    phone: bool = False,
) -> alt.HConcatChart | alt.VConcatChart:
    """Municipal waste per resident and its recycling rate against the EU targets: two panels (phone: the
    phone's layout, report.phone, one above the other and narrower, _PHONE_PANEL_WIDTH).

    frame: one row per indicator, area and year —
        indicator (str: 'waste_per_resident' in kg per resident, 'recycling_rate' in % 0–100),
        area (str: 'FI', 'EU27_2020' or another area; highlighted `area` blue, `comparison` orange,
        any other grey), year (int), value (float).
    targets: recycling-rate targets in % by year, as the indicator catalogue declares them with their legal
        sources (report.data.absolute_targets of 'recycling_rate'; no default).
    """
    name = "circular_economy"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, CIRCULAR_FRAME)
    _unique(name, "frame", f, ["indicator", "area", "year"])
    rows = [
        (str(r["indicator"]), _area_key(str(r["area"])), int(r["year"]), float(r["value"]))
        for r in f.rows(named=True)
    ]
    unknown = sorted({i for i, _, _, _ in rows} - set(CIRCULAR_INDICATORS))
    if unknown:
        raise ValueError(f"{name}: unknown indicator(s) {unknown}; expected {list(CIRCULAR_INDICATORS)}")
    hl, cmp = _area_key(area), _area_key(comparison)
    for ind in CIRCULAR_INDICATORS:
        if not any(i == ind and a == hl for i, a, _, _ in rows):
            raise ValueError(f"{name}: no {ind!r} rows for area {area!r}")
    if not targets:
        raise ValueError(f"{name}: `targets` must name at least one year")
    areas = [hl] + ([cmp] if any(a == cmp for _, a, _, _ in rows) else [])
    areas += sorted({a for _, a, _, _ in rows} - set(areas))
    target_label = t("circular.series_target", lang)
    domain = [label("area", a, lang) for a in areas] + [target_label]
    # every line and point at 3:1 or more on white (WCAG 1.4.11): the comparison's orange darkened
    # (ORANGE_MARK; Okabe-Ito's was 2.3:1), greys no lighter than NEUTRAL (LIGHT_NEUTRAL was 1.7:1)
    greys = [th.NEUTRAL, th.DARK_NEUTRAL, "#3D3D3D"]
    palette = [th.OKABE_ITO["blue"], th.ORANGE_MARK if cmp in areas else greys[0]]
    rng = [*(palette + [greys[i % len(greys)] for i in range(len(areas))])[: len(areas)], th.TEXT_COLOUR]
    colour = alt.Color(
        "area:N",
        title=None,
        scale=alt.Scale(domain=domain, range=rng),
        legend=alt.Legend(orient="bottom", direction="horizontal"),
    )
    data = [
        {
            "indicator": i,
            "area_key": a,
            "area": label("area", a, lang),
            "year": y,
            "value": v,
            "plot_value": v / 100 if i == "recycling_rate" else v,
        }
        for i, a, y, v in sorted(rows, key=lambda r: (r[0], r[1], r[2]))
    ]
    df = pl.DataFrame(data)
    width = _PHONE_PANEL_WIDTH if phone else _PANEL_WIDTH

    def panel(ind: str, y_axis: alt.Y, fmt: str, extra: list[alt.Chart], last_year: int) -> alt.LayerChart:
        sub = df.filter(pl.col("indicator") == ind)
        years = sub.get_column("year")
        x = _x_year(int(years.min()), max(int(years.max()), last_year), width=width)  # type: ignore[arg-type]
        tips = [
            alt.Tooltip("area:N", title=t("label.area", lang)),
            _year_tip(lang),
            alt.Tooltip("plot_value:Q", title=t(f"circular.tooltip_{ind}", lang), format=fmt),
        ]
        base = _years(alt.Chart(sub))
        lines = [
            base.mark_line().encode(x=x, y=y_axis, color=colour),
            base.mark_point(filled=True, size=30, opacity=1).encode(
                x=x, y=y_axis, color=colour, tooltip=tips
            ),
        ]
        layers = lines + [e.encode(x=x) for e in extra]
        return _layer(layers, meta, lang).properties(
            width=width,
            height=260,
            title=alt.TitleParams(t(f"circular.panel_{ind}", lang), fontSize=13),
        )

    waste_y = alt.Y("plot_value:Q", title=t("axis.waste_kg", lang), axis=alt.Axis(format=",.0f"))
    rate_y = alt.Y(
        "plot_value:Q",
        title=t("axis.recycling_rate", lang),
        axis=alt.Axis(format=".0%"),
        scale=alt.Scale(domain=[0, max(0.8, max(targets.values()) / 100 + 0.1)]),
    )
    target_df = pl.DataFrame(
        [
            {
                "year": y,
                "plot_value": v / 100,
                "area": target_label,
                "label": _percent(v, lang),
            }
            for y, v in sorted(targets.items())
        ]
    )
    target_tips = [_year_tip(lang), alt.Tooltip("label:N", title=target_label)]
    target_layers = [
        _years(alt.Chart(target_df))
        .mark_line(strokeDash=[4, 3], strokeWidth=1.4)
        .encode(y=rate_y, color=colour),
        _years(alt.Chart(target_df))
        .mark_point(shape="diamond", filled=True, size=90)
        .encode(y=rate_y, color=colour, tooltip=target_tips),
        _years(alt.Chart(target_df))
        .mark_text(dy=-12, fontWeight="bold", fontSize=11)
        .encode(y=rate_y, text=alt.Text("label:N")),
    ]
    panels = (
        panel("waste_per_resident", waste_y, ",.0f", [], 0),
        panel("recycling_rate", rate_y, ".1%", target_layers, max(targets)),
    )
    # one colour legend for both panels; given to the constructor, as resolve_scale() would set it on a
    # copy (common.HConcatChart: a concatenation whose copies do not deep-copy its panels)
    shared = alt.Resolve(scale=alt.ScaleResolveMap(color="shared"))
    chart: alt.HConcatChart | alt.VConcatChart = (
        VConcatChart(vconcat=panels, spacing=28, resolve=shared)
        if phone
        else HConcatChart(hconcat=panels, spacing=28, resolve=shared)
    )

    # the figures in words at their series' published precision, as the table prints them
    rate_precision = series_precision(v for i, _, _, v in rows if i == "recycling_rate")
    waste_precision = series_precision(v for i, _, _, v in rows if i == "waste_per_resident")
    rec = sorted((y, v) for i, a, y, v in rows if i == "recycling_rate" and a == hl)
    rec_year, rec_value = rec[-1]
    upcoming = [y for y in sorted(targets) if y >= rec_year]
    target_year = upcoming[0] if upcoming else max(targets)
    finding = _titled(
        "circular.title",
        hl,
        lang,
        value=_percent(rec_value, lang, rate_precision),
        year=rec_year,
        target_year=target_year,
        target=_percent(targets[target_year], lang),
    )
    waste = sorted((y, v) for i, a, y, v in rows if i == "waste_per_resident" and a == hl)
    description = t(
        "circular.description",
        lang,
        area=label("area", hl, lang),
        waste_year=waste[-1][0],
        waste=format_number(waste[-1][1], lang, shown_decimals(waste[-1][1], waste_precision)),
        rate_year=rec_year,
        rate=_percent(rec_value, lang, rate_precision),
        targets=", ".join(f"{_percent(v, lang)} ({y})" for y, v in sorted(targets.items())),
    )
    suffix, sentence = provisional_texts(provisional_years, rec_year, lang)
    finding, description = finding + suffix, description + sentence
    table = pl.concat(
        [
            df.select(
                pl.col("indicator").alias("indicator_key"),
                pl.col("indicator").replace_strict(
                    {i: t(f"circular.panel_{i}", lang) for i in CIRCULAR_INDICATORS}, return_dtype=pl.String
                ),
                "area_key",
                "area",
                "year",
                "value",
            ),
            pl.DataFrame(
                [
                    {
                        "indicator_key": "recycling_target",
                        "indicator": target_label,
                        "area_key": None,
                        "area": target_label,
                        "year": y,
                        "value": v,
                    }
                    for y, v in sorted(targets.items())
                ],
                schema={
                    "indicator_key": pl.String,
                    "indicator": pl.String,
                    "area_key": pl.String,
                    "area": pl.String,
                    "year": pl.Int64,
                    "value": pl.Float64,
                },
            ),
        ],
        how="vertical_relaxed",
    )
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )
