"""The data freshness chart: each dataset's newest period and last fetch against its publication calendar."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Final

import altair as alt
import polars as pl

from report import theme as th
from report.charts.common import (
    FRESHNESS_STATUSES,
    PHONE_PLOT_WIDTH,
    Col,
    _check_lang,
    _check_meta,
    _finish,
    _frame,
    _layer,
    _unique,
    label_expr,
    labels_above,
    text_width,
    vega_string,
    wrap_px,
)
from report.i18n import (
    NOT_AVAILABLE,
    format_date,
    format_datetime,
    label,
    t,
)
from report.theme import ChartMeta

FRESHNESS_FRAME: Final[Mapping[str, Col]] = {
    "dataset": Col("str", "the dataset id or title as displayed"),
    "status": Col("str", f"the freshness status, one of {list(FRESHNESS_STATUSES)}"),
    "last_period_end": Col("date", "the end date of the newest published period held", nullable=True),
    "expected_period_end": Col("date", "the end of the newest period the publication calendar expects"),
    "last_fetch": Col(
        "datetime", "when the dataset was last fetched successfully (loaded or unchanged)", nullable=True
    ),
    "source": Col("str", "the publisher's short name", nullable=True, required=False),
    "dataset_id": Col("str", "the dataset id the downloads begin with (report.chart_ids)", required=False),
    "frequency": Col(
        "str", "the calendar frequency: annual, monthly, weekly or daily", nullable=True, required=False
    ),
    "tracks": Col(
        "str",
        'what last_period_end is: "periods", the end of the newest period; "releases", the day a release was '
        "last seen (a dataset whose periods are target years)",
        nullable=True,
        required=False,
    ),
}
# a row label wider than this (px) is written on two lines, split after its source ("OECD:")
_LABEL_WRAP_PX: Final = 280
_LINE_HEIGHT: Final = 13
_PHONE_MARK: Final = 14  # a row's markers' height (px) in the phone's layout, its label above them
_PHONE_RULE_GAP: Final = 10  # px between a phone's row label and the dashed rule of today
_PHONE_TOP_PADDING: Final = 0.6  # rows' steps above the first row on a phone, for the "as of" date
_SEVERITY: Final[Mapping[str, int]] = {"failed": 0, "never": 1, "late": 2, "due": 3, "fresh": 4}


def _label_lines(text: str) -> list[str]:
    """A dataset's row label as lines: two, after the source's colon, when one line is wider than
    _LABEL_WRAP_PX; else one."""
    head, colon, rest = text.partition(": ")
    if not colon or text_width(text) <= _LABEL_WRAP_PX:
        return [text]
    return [head + ":", rest]


def _row_axis(labels: list[str]) -> alt.Axis:
    """The y axis of the dataset rows: long labels on two lines, labelLimit the widest line measured, so
    no label is cut ("…") in any language."""
    wrapped = {name: lines for name in labels if len(lines := _label_lines(name)) > 1}
    widest = max(text_width(line) for name in labels for line in wrapped.get(name, [name]))
    is_wrapped = f"indexof([{', '.join(vega_string(name) for name in wrapped)}], datum.label) >= 0"
    return alt.Axis(
        labelLimit=int(widest) + 8,
        labelExpr=label_expr(wrapped),
        labelLineHeight=_LINE_HEIGHT,
        # a two-line label centred on its row (Vega puts the first line there)
        labelOffset={"condition": {"test": is_wrapped, "value": -_LINE_HEIGHT / 2}, "value": 0},
    )


def last_period_text(end: date | None, tracks: str | None, lang: str) -> str:
    """A dataset's newest period as the freshness displays write it: the day its newest period ends, or for
    a dataset tracked by its releases (tracks "releases") the day a release was seen ("julkaisu havaittu
    6.12.2026"), which is no period of its data."""
    if end is None:
        return NOT_AVAILABLE
    if tracks == "releases":
        return t("freshness.release_seen", lang, date=format_date(end, lang))
    return format_date(end, lang)


def expected_period_text(expected: date | None, tracks: str | None, lang: str) -> str:
    """The newest period the calendar requires, as last_period_text writes the period held: for a dataset
    tracked by its releases a release after that day ("julkaisu 8.12.2023 jälkeen"), not a period that
    ends then (beside "julkaisu havaittu 7.12.2026" it read as a period of the data)."""
    if expected is None:
        return NOT_AVAILABLE
    if tracks == "releases":
        return t("freshness.release_after", lang, date=format_date(expected, lang))
    return format_date(expected, lang)


def _iso_day(d: date | datetime) -> str:
    return (d.date() if isinstance(d, datetime) else d).isoformat()


def data_freshness(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    as_of: date | None = None,
    phone: bool = False,
) -> alt.LayerChart:
    """Each dataset's newest published period and last fetch against its publication calendar.

    frame: one row per dataset —
        dataset (str), status (str: 'fresh', 'due', 'late', 'failed'), last_period_end (date, null when
        nothing is held yet), expected_period_end (date), last_fetch (date or datetime, nullable),
        source (str, optional), frequency (str: 'annual', 'monthly', 'weekly', 'daily'; optional), tracks
        (str, optional: 'releases' where last_period_end is the day a release was seen, written so in the
        tooltip and in the table's release_seen column, not as a period).
    Status is colour and shape; the triangle marks the period the calendar expects, the square the last
    fetch, the dashed rule `as_of` (default: meta.vintage). Problems are listed first.
    phone: the phone's layout (report.phone): each dataset's name and status wrapped above its row, the
    plot PHONE_PLOT_WIDTH wide.
    """
    name = "data_freshness"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, FRESHNESS_FRAME)
    _unique(name, "frame", f, ["dataset"])
    today = meta.vintage if as_of is None else as_of
    rows = f.rows(named=True)
    for r in rows:
        if r["status"] not in FRESHNESS_STATUSES:
            raise ValueError(
                f"{name}: unknown status {r['status']!r} for {r['dataset']!r}; "
                f"expected {list(FRESHNESS_STATUSES)}"
            )
    rows = sorted(rows, key=lambda r: (_SEVERITY[r["status"]], str(r["dataset"])))
    status_labels = {s: t(f"freshness.status_{s}", lang) for s in FRESHNESS_STATUSES}
    data = []
    for r in rows:
        last, expected, fetched = r["last_period_end"], r["expected_period_end"], r["last_fetch"]
        freq, released = r.get("frequency"), r.get("tracks") == "releases"
        data.append(
            {
                "dataset": str(r["dataset"]),
                "dataset_key": r.get("dataset_id"),
                "source": str(r.get("source") or NOT_AVAILABLE),
                "status_key": r["status"],
                "status": status_labels[r["status"]],
                # a release-tracked dataset's day is no period: its own column in the table
                "last_period_end": None if released else last,
                "release_seen": last if released else None,
                "expected_period_end": expected,
                "last_fetch": fetched,
                "marker_x": _iso_day(last if last is not None else expected),
                "last_x": _iso_day(last) if last is not None else None,
                "expected_x": _iso_day(expected),
                "last_text": last_period_text(last, r.get("tracks"), lang),
                "expected_text": format_date(expected, lang),
                "fetch_text": (
                    format_datetime(fetched, lang)
                    if isinstance(fetched, datetime)
                    else format_date(fetched, lang)
                    if fetched is not None
                    else NOT_AVAILABLE
                ),
                "frequency": label("frequency", str(freq), lang) if freq else NOT_AVAILABLE,
            }
        )
    df = pl.DataFrame(
        data,
        schema_overrides={
            "last_period_end": pl.Date,
            "release_seen": pl.Date,
            "last_fetch": pl.Datetime("us")
            if any(isinstance(d["last_fetch"], datetime) for d in data)
            else pl.Date,
            "last_x": pl.String,
        },
    )
    plot = df.drop("last_period_end", "release_seen", "expected_period_end", "last_fetch")
    dates = [d for r in rows for d in (r["last_period_end"], r["expected_period_end"], r["last_fetch"]) if d]
    day_list = [d.date() if isinstance(d, datetime) else d for d in dates] + [today]
    lo, hi = min(day_list), max(day_list)
    pad = max(20, (hi - lo).days // 12)
    x_scale = alt.Scale(
        type="utc",
        domain=[
            _iso_day(lo.fromordinal(lo.toordinal() - pad)),
            _iso_day(hi.fromordinal(hi.toordinal() + pad)),
        ],
    )
    x_title = t("axis.date", lang)
    plot = plot.with_columns(edge=pl.lit(x_scale.domain[1]))

    # a span of years: a tick at each new year ("2021"), not "Oct 2020" at whatever month d3 picks
    years = (hi - lo).days >= 2 * 365
    axis = (
        # each year's label right of its 1 January tick, over the year it names: a period ending
        # 31.12.2023 sits at the end of "2023", not under a "2024" centred on the tick
        alt.Axis(
            format="%Y",
            tickCount={"interval": "year", "step": 1},
            labelOverlap=True,
            labelAlign="left",
            labelFlush=False,
            labelPadding=4,
            labelOffset=3,
        )
        if years
        else alt.Axis(format="%b %Y", labelOverlap=True)
    )

    def x(field: str) -> alt.X:
        return alt.X(f"{field}:T", title=x_title, scale=x_scale, axis=axis)

    names = [str(r["dataset"]) for r in rows]
    # a phone's: room above the first row's label for the "as of" date over the rule
    y_scale = alt.Scale(paddingOuter=_PHONE_TOP_PADDING) if phone else alt.Undefined
    y = alt.Y("dataset:N", sort=names, title=None, axis=None if phone else _row_axis(names), scale=y_scale)
    tips = [
        alt.Tooltip("dataset:N", title=t("label.dataset", lang)),
        alt.Tooltip("source:N", title=t("label.source", lang)),
        alt.Tooltip("status:N", title=t("label.status", lang)),
        alt.Tooltip("frequency:N", title=t("label.frequency", lang)),
        alt.Tooltip("last_text:N", title=t("label.last_period", lang)),
        alt.Tooltip("expected_text:N", title=t("label.expected_period", lang)),
        alt.Tooltip("fetch_text:N", title=t("label.last_fetch", lang)),
    ]
    kinds = {"expected": t("freshness.marker_expected", lang), "fetch": t("freshness.marker_fetch", lang)}
    marker_rows = []
    for r, d in zip(rows, data, strict=True):
        marker_rows.append({"dataset": d["dataset"], "marker": kinds["expected"], "x": d["expected_x"]})
        if r["last_fetch"] is not None:
            marker_rows.append(
                {"dataset": d["dataset"], "marker": kinds["fetch"], "x": _iso_day(r["last_fetch"])}
            )
    status_domain = [status_labels[s] for s in FRESHNESS_STATUSES]
    today_df = pl.DataFrame([{"x": _iso_day(today)}])
    layers: list[alt.Chart] = [
        alt.Chart(plot.filter(pl.col("last_x").is_not_null()))
        .mark_rule(color=th.LIGHT_NEUTRAL, strokeWidth=3)
        .encode(y=y, x=x("last_x"), x2=alt.X2("expected_x:T")),
        alt.Chart(today_df).mark_rule(strokeDash=[4, 3], color=th.MUTED_TEXT).encode(x=x("x")),
        alt.Chart(today_df)
        .mark_text(
            text=t("freshness.as_of", lang, date=format_date(today, lang)),
            baseline="bottom",
            # a phone's: ending at the rule, inside the narrow drawing
            align="right" if phone else "center",
            dy=-4,
            y=0,
            color=th.MUTED_TEXT,
            fontSize=11,
        )
        .encode(x=x("x")),
        alt.Chart(pl.DataFrame(marker_rows))
        .mark_point(filled=False, size=70, color=th.TEXT_COLOUR, strokeWidth=1.4)
        .encode(
            y=y,
            x=x("x"),
            shape=alt.Shape(
                "marker:N",
                title=t("freshness.legend_markers", lang),
                scale=alt.Scale(
                    domain=[kinds["expected"], kinds["fetch"]], range=["triangle-down", "square"]
                ),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=[*tips[:1], alt.Tooltip("marker:N", title=t("label.marker", lang))],
        ),
        alt.Chart(plot)
        .mark_point(filled=True, size=150, opacity=1)
        .encode(
            y=y,
            x=x("marker_x"),
            color=alt.Color(
                "status:N",
                title=t("label.status", lang),
                scale=alt.Scale(
                    domain=status_domain, range=[th.FRESHNESS_COLOURS[s] for s in FRESHNESS_STATUSES]
                ),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=tips,
        ),
        # the status in words at the right edge: colour is never the only cue
        alt.Chart(plot)
        .mark_text(align="left", dx=10, fontSize=11)
        .encode(
            y=y,
            x=alt.X("edge:T", title=x_title, scale=x_scale),
            text=alt.Text("status:N"),
            tooltip=tips,
        ),
    ]
    if phone:
        # the status is written after the name, above the row, not right of the plot
        # wrapped to end left of the dashed rule of today, which they would cross
        domain_lo, domain_hi = (date.fromisoformat(day[:10]) for day in x_scale.domain)
        rule_px = (today - domain_lo).days / (domain_hi - domain_lo).days * PHONE_PLOT_WIDTH
        room = max(rule_px - _PHONE_RULE_GAP, PHONE_PLOT_WIDTH / 2)
        lines = {d["dataset"]: wrap_px(f"{d['dataset']} · {d['status']}", room) for d in data}
        above, step = labels_above(y, "dataset", lines, mark_px=_PHONE_MARK)
        layers = [*layers[:-1], above]
        chart = _layer(layers, meta, lang).properties(width=PHONE_PLOT_WIDTH, height=alt.Step(step))
    else:
        step = 36 if any(len(_label_lines(n)) > 1 for n in names) else 30  # room for two-line labels
        chart = _layer(layers, meta, lang).properties(width=560, height=alt.Step(step))
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in FRESHNESS_STATUSES}
    attention = counts["late"] + counts["failed"] + counts["never"]
    fmt = {"fresh": counts["fresh"], "n": len(rows), "bad": attention}
    finding = t("freshness.title_attention" if attention else "freshness.title", lang, **fmt)
    description = t(
        "freshness.description",
        lang,
        date=format_date(today, lang),
        n=len(rows),
        **{s: counts[s] for s in FRESHNESS_STATUSES},
        problems=", ".join(
            f"{d['dataset']} ({d['status']})" for d in data if d["status_key"] in ("late", "failed", "never")
        )
        or NOT_AVAILABLE,
    )
    table = df.select(
        "dataset",
        *(["dataset_key"] if "dataset_id" in f.columns else []),
        "source",
        "status_key",
        "status",
        "last_period_end",
        "release_seen",
        "expected_period_end",
        "last_fetch",
    )
    return _finish(
        chart, name=name, finding=finding, description=description, meta=meta, lang=lang, table=table
    )
