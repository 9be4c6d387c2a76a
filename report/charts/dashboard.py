"""The progress dashboard chart: every indicator's status by assessment method."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any, Final

import altair as alt
import polars as pl

from report import theme as th
from report.charts.common import (
    LEVELS,
    METHOD_ALIASES,
    METHODS,
    PHONE_PLOT_WIDTH,
    STATUS_LEVELS,
    Col,
    _check_lang,
    _check_meta,
    _finish,
    _frame,
    _layer,
    _unique,
    at_px,
    indicator_label,
    text_width,
    wrap_px,
)
from report.i18n import (
    NOT_AVAILABLE,
    format_fraction,
    format_percent,
    t,
)
from report.theme import ChartMeta

# decimals of the rates (% a year) and of the German model's deviation (%), wherever the dashboard shows them
RATE_DECIMALS: Final = 1
DASHBOARD_FRAME: Final[Mapping[str, Col]] = {
    "indicator": Col("str", "the indicator name as displayed (or a key in the 'indicator' catalogue)"),
    "sdg": Col("str", "the SDG target code, e.g. '13.2'"),
    "method": Col("str", f"the assessment method, one of {list(METHODS)}"),
    "status": Col("str", "the status key the method gave (see report.charts.STATUS_LEVELS)"),
    "observed_rate": Col("num", "the observed average change in % a year", nullable=True),
    "required_rate": Col("num", "the required average change in % a year", nullable=True),
    "ratio": Col("num", "observed/required pace as a fraction (1.0 = exactly on pace)", nullable=True),
    "deviation": Col(
        "num",
        "the German model's deviation: % of the remaining distance the trend would still miss",
        nullable=True,
        required=False,
    ),
    "base_year": Col("int", "the first year of the assessment period", nullable=True),
    "latest_year": Col("int", "the last year of the assessment period", nullable=True),
    # the ids the downloads begin with (report.chart_ids), when the caller has them (report.data has)
    "indicator_id": Col("str", "the indicator's id in the catalogue", required=False),
    "area": Col("str", "the code of the area assessed", required=False),
    # whether the indicator has a quantified target (report.data has it): the methods assess one without a
    # target by its trend's direction only, which the grid and the title say apart
    "has_target": Col("bool", "whether any method assessed the indicator against a target", required=False),
}


# the phone's layout: the height of a row (px), and the space left of the status cells for the methods' names
_PHONE_ROW: Final = 22
_PHONE_CELL_PAD: Final = 6


def progress_dashboard(
    frame: pl.DataFrame, *, meta: ChartMeta, lang: str = "fi", phone: bool = False
) -> alt.LayerChart:
    """Every indicator's status by every assessment method, as a colour-blind-safe grid with text cells.

    frame: one row per indicator and method —
        indicator (str: a display name, or an indicator id of indicators/catalogue.toml such as
        'ghg_total', shown by its name in `lang`), sdg (str, e.g. '13.2'; may be empty), method (str:
        'eurostat', 'opensdg', 'sdsn', 'german', 'linear', or the engine's names 'eurostat_sdg',
        'open_sdg', 'sdsn_trend', 'german_strategy', 'linear_trajectory_check'), status (str key from
        STATUS_LEVELS), observed_rate, required_rate (float, % a year, nullable), ratio (float,
        observed/required pace, nullable), deviation (float, optional: the German model's deviation in
        % of the remaining distance, nullable), base_year, latest_year (int, nullable); optional
        indicator_id and area (the code), carried to the chart's table as indicator_key and area_key
        for the downloads' ids. A missing indicator–method pair is shown as "not assessed".
    The rates and the deviation are shown with one decimal in the tooltips, and the chart's table and
    downloads give them the same (RATE_DECIMALS).
    Cell colour is the status's level (achieved → good → moderate → weak → wrong direction, blue to
    vermillion); the status name is written in the cell and the reason is in the tooltip.
    phone: the phone's layout (report.phone): the grid stacked, each indicator's name (wrapped) above a row
    per method, its name beside its status cell; PHONE_PLOT_WIDTH wide.
    """
    name = "progress_dashboard"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, DASHBOARD_FRAME)
    f = f.with_columns(pl.col("method").cast(pl.String).replace(dict(METHOD_ALIASES)))
    if "deviation" not in f.columns:
        f = f.with_columns(pl.lit(None, dtype=pl.Float64).alias("deviation"))
    _unique(name, "frame", f, ["indicator", "method"])
    rows = f.rows(named=True)
    for r in rows:
        if r["method"] not in METHODS:
            raise ValueError(f"{name}: unknown method {r['method']!r}; expected one of {list(METHODS)}")
        if r["status"] not in STATUS_LEVELS:
            raise ValueError(
                f"{name}: unknown status {r['status']!r} for {r['indicator']!r}; "
                f"expected one of {sorted(STATUS_LEVELS)}"
            )
    indicators: dict[str, str] = {}
    keys: dict[str, tuple[str | None, str | None]] = {}  # an indicator's (indicator_key, area_key)
    trend_only: set[str] = set()  # the indicators without a target, when the frame says (has_target)
    for r in rows:
        indicators.setdefault(str(r["indicator"]), str(r["sdg"]))
        keys.setdefault(str(r["indicator"]), (r.get("indicator_id"), r.get("area")))
        if r.get("has_target") is False:
            trend_only.add(str(r["indicator"]))
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    by_key = {(str(r["indicator"]), str(r["method"])): r for r in rows}
    # the caller's row order (report.data.dashboard_frame: the catalogue's display order, headline first)
    ind_order = list(indicators)
    level_labels = {lv: t(f"level.{lv}", lang) for lv in LEVELS}

    def rate(v: float | None) -> str:
        if v is None:
            return NOT_AVAILABLE
        return t("unit.per_year", lang, value=format_percent(v, lang, RATE_DECIMALS, signed=True))

    cells: list[dict[str, Any]] = []
    for ind in ind_order:
        row_label = f"{indicators[ind]} {indicator_label(ind, lang)}".strip()
        if ind in trend_only:  # "significant progress" on a trend alone is not progress to a target
            row_label = t("dashboard.trend_only", lang, name=row_label)
        for m in methods:
            cell = by_key.get((ind, m))
            status = str(cell["status"]) if cell else "not_assessed"
            level = STATUS_LEVELS[status]
            status_label = t(f"status.{status}", lang)
            by, ly = (cell["base_year"], cell["latest_year"]) if cell else (None, None)
            cells.append(
                {
                    "indicator": ind,
                    "indicator_key": keys[ind][0],
                    "area_key": keys[ind][1],
                    "sdg": indicators[ind],
                    "row": row_label,
                    "method_key": m,
                    "method": t(f"method.{m}", lang),
                    "status_key": status,
                    "status": status_label,
                    "cell_text": "\n".join(textwrap.wrap(status_label, 20)),
                    "level_key": level,
                    "level": level_labels[level],
                    "text_colour": th.text_on(th.LEVEL_COLOURS[level]),  # WCAG AA: black on vermillion
                    "observed_rate": cell["observed_rate"] if cell else None,
                    "required_rate": cell["required_rate"] if cell else None,
                    "ratio": cell["ratio"] if cell else None,
                    "deviation": cell["deviation"] if cell else None,
                    "base_year": by,
                    "latest_year": ly,
                    "observed_text": rate(cell["observed_rate"] if cell else None),
                    "required_text": rate(cell["required_rate"] if cell else None),
                    "ratio_text": format_fraction(cell["ratio"] if cell else None, lang),
                    "deviation_text": format_percent(cell["deviation"], lang, RATE_DECIMALS)
                    if cell and cell["deviation"] is not None
                    else NOT_AVAILABLE,
                    "years_text": f"{by}\u2009→\u2009{ly}"
                    if by is not None and ly is not None
                    else NOT_AVAILABLE,
                }
            )
    df = pl.DataFrame(
        cells,
        schema_overrides={
            "observed_rate": pl.Float64,
            "required_rate": pl.Float64,
            "ratio": pl.Float64,
            "deviation": pl.Float64,
            "base_year": pl.Int64,
            "latest_year": pl.Int64,
        },
    )
    row_order = list(dict.fromkeys(c["row"] for c in cells))
    method_order = [t(f"method.{m}", lang) for m in methods]
    x = alt.X(
        "method:N",
        sort=method_order,
        title=None,
        axis=alt.Axis(orient="top", labelAngle=0, labelFontWeight="bold"),
    )
    y = alt.Y("row:N", sort=row_order, title=None, axis=alt.Axis(labelLimit=380))
    tips = [
        alt.Tooltip("row:N", title=t("label.indicator", lang)),
        alt.Tooltip("method:N", title=t("label.method", lang)),
        alt.Tooltip("status:N", title=t("label.status", lang)),
        alt.Tooltip("observed_text:N", title=t("label.observed_rate", lang)),
        alt.Tooltip("required_text:N", title=t("label.required_rate", lang)),
        alt.Tooltip("ratio_text:N", title=t("label.ratio", lang)),
        alt.Tooltip("deviation_text:N", title=t("label.deviation", lang)),
        alt.Tooltip("years_text:N", title=t("label.period", lang)),
    ]
    colour = alt.Color(
        "level:N",
        title=t("dashboard.legend", lang),
        scale=alt.Scale(
            domain=[level_labels[lv] for lv in LEVELS], range=[th.LEVEL_COLOURS[lv] for lv in LEVELS]
        ),
        legend=alt.Legend(orient="bottom", direction="horizontal", columns=3),
    )
    if phone:
        chart = _layer(_stacked(cells, method_order, colour, tips), meta, lang).properties(
            width=PHONE_PLOT_WIDTH, height=alt.Step(_PHONE_ROW)
        )
    else:
        rect = (
            alt.Chart(df)
            .mark_rect(stroke="white", strokeWidth=2)
            .encode(x=x, y=y, color=colour, tooltip=tips)
        )
        text = (
            alt.Chart(df)
            .mark_text(fontSize=11, lineBreak="\n", lineHeight=13)
            .encode(
                x=x,
                y=y,
                text=alt.Text("cell_text:N"),
                fill=alt.Fill("text_colour:N", scale=None),
                tooltip=tips,
            )
        )
        chart = _layer([rect, text], meta, lang).properties(width=alt.Step(150), height=alt.Step(40))
    assessed = [c for c in cells if c["level_key"] != "none"]
    good = [c for c in assessed if c["level_key"] in ("achieved", "good")]
    away = [c for c in assessed if c["level_key"] == "away"]
    # the title counts indicators, not indicator × method cells, and leads with the first (headline) row
    levels_of: dict[str, list[str]] = {}
    for c in assessed:
        levels_of.setdefault(c["indicator"], []).append(c["level_key"])
    on_track = [i for i, lv in levels_of.items() if all(x in ("achieved", "good") for x in lv)]
    first = ind_order[0]
    first_levels = levels_of.get(first, [])
    first_counts = {
        "first": indicator_label(first, lang),
        "first_good": sum(x in ("achieved", "good") for x in first_levels),
        "first_total": len(first_levels),
    }
    if trend_only:
        # the indicators with a target counted apart from those whose statuses read a trend's direction
        targeted = [i for i in levels_of if i not in trend_only]
        finding = t(
            "dashboard.title_targets",
            lang,
            **first_counts,
            good=sum(i in on_track for i in targeted),
            total=len(targeted),
            trend_good=sum(i in on_track for i in levels_of if i in trend_only),
            trend_total=len(levels_of) - len(targeted),
        )
    else:
        finding = t("dashboard.title", lang, **first_counts, good=len(on_track), total=len(levels_of))
    description = t(
        "dashboard.description",
        lang,
        indicators=len(ind_order),
        methods=", ".join(method_order),
        good=len(good),
        away=len(away),
        total=len(assessed),
    )
    table = df.select(
        "indicator",
        *(["indicator_key", "area_key"] if "indicator_id" in f.columns else []),
        "sdg",
        "method_key",
        "method",
        "status_key",
        "status",
        "level_key",
        "level",
        "observed_rate",
        "required_rate",
        "ratio",
        "deviation",
        "base_year",
        "latest_year",
    )
    return _finish(
        chart,
        name=name,
        finding=finding,
        description=description,
        meta=meta,
        lang=lang,
        table=table,
        decimals=dict.fromkeys(("observed_rate", "required_rate", "deviation"), RATE_DECIMALS),
    )


def _stacked(
    cells: list[dict[str, Any]], methods: list[str], colour: alt.Color, tips: list[alt.Tooltip]
) -> list[alt.Chart]:
    """The phone's layers of the dashboard: per indicator its name (bold, wrapped at PHONE_PLOT_WIDTH) on a
    row or more, then a row per method, its name at the left and its status cell beside it."""
    name_px = max(text_width(m) for m in methods) + 2 * _PHONE_CELL_PAD
    heads: list[dict[str, str]] = []
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for c in cells:
        if c["indicator"] not in seen:
            seen.add(c["indicator"])
            if heads:  # a blank row between indicators
                heads.append({"slot": f"gap {len(heads)}", "text": ""})
            for line in wrap_px(c["row"], PHONE_PLOT_WIDTH, bold=True):
                heads.append({"slot": f"head {len(heads)}", "text": line})
        heads.append({"slot": f"cell {len(heads)}", "text": ""})
        rows.append({**c, "slot": heads[-1]["slot"]})
    # every row in order, the blank ones and the cells' too: the headings' layer holds the headings only
    y = alt.Y("slot:N", scale=alt.Scale(domain=[h["slot"] for h in heads]), title=None, axis=None)
    head_frame = pl.DataFrame([h for h in heads if h["text"]])
    shown = ("row", "method", "status", "observed_text", "required_text", "ratio_text", "deviation_text")
    cell_frame = pl.DataFrame(rows).select("slot", *shown, "years_text", "level", "text_colour")
    return [
        alt.Chart(head_frame)
        .mark_text(align="left", fontWeight="bold", fontSize=11)
        .encode(y=y, x=at_px(alt.XValue, 0), text=alt.Text("text:N")),
        alt.Chart(cell_frame)
        .mark_text(align="left", fontSize=11)
        .encode(y=y, x=at_px(alt.XValue, 0), text=alt.Text("method:N")),
        alt.Chart(cell_frame)
        .mark_rect(stroke="white", strokeWidth=2)
        .encode(
            y=y,
            x=at_px(alt.XValue, name_px),
            x2=at_px(alt.X2Value, PHONE_PLOT_WIDTH),
            color=colour,
            tooltip=tips,
        ),
        alt.Chart(cell_frame)
        .mark_text(align="left", fontSize=11)
        .encode(
            y=y,
            x=at_px(alt.XValue, name_px + _PHONE_CELL_PAD),
            text=alt.Text("status:N"),
            fill=alt.Fill("text_colour:N", scale=None),
            tooltip=tips,
        ),
    ]
