"""The sector waterfall chart: change from the base year to the latest year by sector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import altair as alt
import polars as pl

from report import theme as th
from report.charts.common import (
    PHONE_PLOT_WIDTH,
    _check_lang,
    _check_meta,
    _finish,
    _layer,
    _pct_change,
    _sector_rows,
    labels_above,
    text_width,
    wrap_px,
)
from report.charts.provisional import provisional_texts
from report.i18n import (
    NOT_AVAILABLE,
    format_change,
    format_number,
    label,
    series_precision,
    shown_decimals,
    t,
)
from report.theme import ChartMeta

_PHONE_BAR: Final = 14  # a bar's height (px) in the phone's layout, its label above it


def sector_waterfall(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    base_year: int,
    lang: str = "fi",
    latest_year: int | None = None,
    provisional_years: Sequence[int] = (),
    phone: bool = False,
) -> alt.LayerChart:
    """Change from the base year to the latest year by sector: start bar, sector deltas by sign, end bar.

    frame: the same long frame as sector_area — year (int), sector (str key), value (float, kt CO2e).
    base_year: the base year of the commitment, as the indicator catalogue declares it
    (report.data.reduction_target): no default, so the chart starts where the headline's target does.
    Both years must list the same sectors (add an explicit 0 row for a sector absent in one of them).
    Deltas are sorted from the largest cut to the largest increase; cuts are blue, increases vermillion.
    phone: the phone's layout (report.phone): each step's name wrapped above its bar, the plot
    PHONE_PLOT_WIDTH wide and its x range leaving room for the values right of the bars.
    """
    name = "sector_waterfall"
    _check_lang(name, lang)
    _check_meta(name, meta)
    rows = _sector_rows(name, frame)
    years = {y for y, _, _ in rows}
    end_year = max(years) if latest_year is None else latest_year
    for y, arg in ((base_year, "base_year"), (end_year, "latest_year")):
        if y not in years:
            raise ValueError(f"{name}: no rows for {arg} {y}; years present: {sorted(years)}")
    if end_year <= base_year:
        raise ValueError(f"{name}: latest_year ({end_year}) must be after base_year ({base_year})")
    start = {s: v for y, s, v in rows if y == base_year}
    end = {s: v for y, s, v in rows if y == end_year}
    if set(start) != set(end):
        odd = sorted(set(start) ^ set(end))
        raise ValueError(
            f"{name}: sectors {odd} appear in only one of {base_year} and {end_year}; "
            "add explicit 0 rows so the change is unambiguous"
        )
    deltas = sorted(((s, end[s] - start[s]) for s in start), key=lambda p: (p[1], p[0]))
    total_start, total_end = sum(start.values()), sum(end.values())
    total_cut = sum(d for _, d in deltas if d < 0)
    # every figure at its series' published precision, as the report's tables print them (−81,4, not −81)
    precision = series_precision([*start.values(), *end.values()])

    def shown(value: float, *, signed: bool = False) -> str:
        return format_number(value, lang, shown_decimals(value, precision), signed=signed)

    kinds = {
        "total": t("waterfall.kind_total", lang),
        "decrease": t("waterfall.kind_decrease", lang),
        "increase": t("waterfall.kind_increase", lang),
    }
    steps: list[dict[str, Any]] = [
        {
            "step": t("waterfall.total_label", lang, year=base_year),
            "sector_key": None,
            "kind": kinds["total"],
            "start": 0.0,
            "end": total_start,
            "change": None,
            "share_of_cut": None,
            "text": shown(total_start),
        }
    ]
    running = total_start
    for s, d in deltas:
        steps.append(
            {
                "step": label("sector", s, lang),
                "sector_key": s,
                "kind": kinds["increase" if d > 0 else "decrease"],
                "start": running,
                "end": running + d,
                "change": d,
                "share_of_cut": d / total_cut if d < 0 and total_cut else None,
                "text": shown(d, signed=True),
            }
        )
        running += d
    steps.append(
        {
            "step": t("waterfall.total_label", lang, year=end_year),
            "sector_key": None,
            "kind": kinds["total"],
            "start": 0.0,
            "end": total_end,
            "change": None,
            "share_of_cut": None,
            "text": shown(total_end),
        }
    )
    df = pl.DataFrame(
        [
            {
                **s,
                "lo": min(s["start"], s["end"]),
                "hi": max(s["start"], s["end"]),
                "start_text": shown(s["start"]),
                "end_text": shown(s["end"]),
            }
            for s in steps
        ],
        schema_overrides={"sector_key": pl.String, "change": pl.Float64, "share_of_cut": pl.Float64},
    )
    order = [s["step"] for s in steps]
    kind_colours = {
        "total": th.NEUTRAL,
        "decrease": th.OKABE_ITO["blue"],
        "increase": th.OKABE_ITO["vermillion"],
    }
    present = set(df.get_column("kind").to_list())
    drawn = [k for k in kind_colours if kinds[k] in present]
    y_enc = alt.Y("step:N", sort=order, title=None, axis=None if phone else alt.Axis(labelLimit=220))
    x_scale = alt.Scale(zero=True)
    if phone:
        # the values are written right of the bars: the x range leaves room for the widest
        room = max(text_width(str(s["text"])) for s in steps) + 8
        far = max(max(s["start"], s["end"]) for s in steps)
        x_scale = alt.Scale(domain=[0.0, far * PHONE_PLOT_WIDTH / (PHONE_PLOT_WIDTH - room)], nice=False)
    x_title = t("axis.emissions_kt", lang)
    tips = [
        alt.Tooltip("step:N", title=t("label.item", lang)),
        alt.Tooltip("start_text:N", title=t("label.from", lang)),
        alt.Tooltip("end_text:N", title=t("label.to", lang)),
        alt.Tooltip("text:N", title=t("label.change_kt", lang)),
    ]
    bars = (
        alt.Chart(df)
        .mark_bar(height=_PHONE_BAR if phone else {"band": 0.72})
        .encode(
            y=y_enc,
            x=alt.X("lo:Q", title=x_title, axis=alt.Axis(format=",.0f"), scale=x_scale),
            x2=alt.X2("hi:Q"),
            color=alt.Color(
                "kind:N",
                title=None,
                # the legend names only the kinds drawn: no "Increase" when no sector grew
                scale=alt.Scale(
                    domain=[kinds[k] for k in drawn],
                    range=[kind_colours[k] for k in drawn],
                ),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=tips,
        )
    )
    texts = (
        alt.Chart(df)
        .mark_text(align="left", dx=5, fontSize=11)
        .encode(y=y_enc, x=alt.X("hi:Q", title=x_title), text=alt.Text("text:N"), tooltip=tips)
    )
    if phone:
        lines = {str(s["step"]): wrap_px(str(s["step"]), PHONE_PLOT_WIDTH) for s in steps}
        above, step = labels_above(y_enc, "step", lines, mark_px=_PHONE_BAR)
        chart = _layer([bars, texts, above], meta, lang).properties(
            width=PHONE_PLOT_WIDTH, height=alt.Step(step)
        )
    else:
        chart = _layer([bars, texts], meta, lang).properties(width=520, height=alt.Step(30))
    cut_sector, cut = deltas[0]
    span = {"base": base_year, "latest": end_year}
    if cut < 0:
        finding = t(
            "waterfall.title",
            lang,
            sector=label("sector", cut_sector, lang),
            delta=shown(cut, signed=True),
            **span,
        )
    else:
        finding = t("waterfall.title_no_cut", lang, **span)
    description = t(
        "waterfall.description",
        lang,
        start=shown(total_start),
        end=shown(total_end),
        change=format_change(_pct_change(total_end, total_start), lang) if total_start else NOT_AVAILABLE,
        steps="; ".join(f"{label('sector', s, lang)} {shown(d, signed=True)}" for s, d in deltas),
        **span,
    )
    suffix, sentence = provisional_texts(provisional_years, end_year, lang)
    finding, description = finding + suffix, description + sentence
    table = df.select("step", "sector_key", "kind", "start", "end", "change", "share_of_cut")
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )
