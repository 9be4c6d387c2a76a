"""The weekly mover chart: electricity emission factor by ISO week."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Final

import altair as alt
import polars as pl

from common.flags import flag_meanings
from report import theme as th
from report.charts.common import (
    Col,
    _check_lang,
    _check_meta,
    _finish,
    _frame,
    _layer,
    _pct_change,
    _unique,
    _years_text,
)
from report.i18n import (
    format_number,
    format_percent,
    format_period_range,
    series_precision,
    shown_decimals,
    t,
)
from report.theme import ChartMeta

WEEKLY_FRAME: Final[Mapping[str, Col]] = {
    "year": Col("int", "the ISO year"),
    "week": Col("int", "the ISO week number, 1–53"),
    "value": Col("num", "the mean emission factor of consumed electricity in gCO2/kWh"),
    "flags": Col(
        "str",
        "the value's stored source flags (common.flags; 'partial': the week is not all in yet)",
        nullable=True,
        required=False,
    ),
}


def _week_domain(weeks: Sequence[int]) -> list[int]:
    """The x domain of the weeks with data: first to last (one week alone: a week either side)."""
    if weeks[0] < weeks[-1]:
        return [weeks[0], weeks[-1]]
    return [weeks[0] - 1, weeks[0] + 1]


def _week_ticks(weeks: Sequence[int], most: int = 13) -> list[int]:
    """Axis labels at weeks that have data: all of them when few, else every n-th ending at the last."""
    step = -(-len(weeks) // most)
    return sorted(weeks[::-1][::step])


def _week_before(year: int, week: int) -> tuple[int, int]:
    """The ISO (year, week) before the given one (week 1 of 2026 → the last week of 2025)."""
    if week > 1:
        return year, week - 1
    iso = (date(year, 1, 4) - timedelta(days=7)).isocalendar()  # 4 January is always in ISO week 1
    return iso.year, iso.week


def week_dates(year: int, week: int, lang: str) -> str:
    """An ISO week's Monday to Sunday as the language writes a span of days ("16.–22.11.2026", "16–22 Nov
    2026")."""
    monday, sunday = date.fromisocalendar(year, week, 1), date.fromisocalendar(year, week, 7)
    return format_period_range(monday.isoformat(), sunday.isoformat(), lang)


def weekly_mover(
    frame: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    current_year: int | None = None,
) -> alt.LayerChart:
    """The electricity emission factor by ISO week: one line per year, the current year emphasised.

    frame: one row per ISO year and week — year (int), week (int, 1–53), value (float, gCO2/kWh).
    current_year defaults to the latest year. The x axis spans the weeks that have data (not 1–53). Like
    with like: the title names the current year's latest complete week with its dates, its change from the
    complete week before it (a week between that is not all in is skipped, and said so) and the mean of the
    earlier years' complete values of that week; a newer week not all in yet is drawn and marked, not
    compared.
    """
    name = "weekly_mover"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "frame", frame, WEEKLY_FRAME)
    _unique(name, "frame", f, ["year", "week"])
    rows = [(int(r["year"]), int(r["week"]), float(r["value"])) for r in f.rows(named=True)]
    # weeks whose data are not all in yet (Fingrid's "partial"): marked, as the site marks them
    partial = {
        (int(r["year"]), int(r["week"]))
        for r in f.rows(named=True)
        if "incomplete" in flag_meanings(r.get("flags"))
    }
    bad = [r for r in rows if not 1 <= r[1] <= 53]
    if bad:
        raise ValueError(f"{name}: week {bad[0][1]} in {bad[0][0]} is outside 1–53")
    years = sorted({y for y, _, _ in rows})
    weeks = sorted({w for _, w, _ in rows})  # the axis spans these, not 1–53
    cur = years[-1] if current_year is None else current_year
    if cur not in years:
        raise ValueError(f"{name}: no rows for current_year {cur}; years present: {years}")
    earlier = [y for y in years if y != cur]
    n = len(earlier)
    greys = [
        "#{0:02X}{0:02X}{0:02X}".format(int(0xD4 - (0xD4 - 0x80) * (i / (n - 1) if n > 1 else 1)))
        for i in range(n)
    ]
    colour = alt.Color(
        "year_label:N",
        title=t("label.year", lang),
        scale=alt.Scale(domain=[str(y) for y in earlier] + [str(cur)], range=[*greys, th.OKABE_ITO["blue"]]),
        # one year alone needs no legend: the title names it
        legend=alt.Legend(orient="right") if earlier else None,
    )
    incomplete_text = t("flag.incomplete", lang)
    df = pl.DataFrame(
        [
            {
                "year": y,
                "year_label": str(y),
                "week": w,
                "value": v,
                "incomplete": (y, w) in partial,
                "period_note": incomplete_text if (y, w) in partial else "",
            }
            for y, w, v in sorted(rows)
        ]
    )
    x = alt.X(
        "week:Q",
        title=t("axis.iso_week", lang),
        scale=alt.Scale(domain=_week_domain(weeks), nice=False, zero=False),
        axis=alt.Axis(format="d", values=_week_ticks(weeks), labelOverlap=True),
    )
    y_axis = alt.Y("value:Q", title=t("axis.emission_factor", lang), axis=alt.Axis(format=",.0f"))
    # the latest value's decimals by the report's one rule (report.i18n.shown_decimals), for every value
    # of the chart: its title, label, tooltips, table and downloads, so that 59.1 reads "59,1" in each
    places = shown_decimals(
        max((w, v) for y, w, v in rows if y == cur)[1], series_precision(v for _, _, v in rows)
    )
    tips = [
        alt.Tooltip("year_label:N", title=t("label.year", lang)),
        alt.Tooltip("week:O", title=t("label.week", lang)),
        alt.Tooltip("value:Q", title=t("label.emission_factor", lang), format=f",.{places}f"),
        *([alt.Tooltip("period_note:N", title=t("column.note", lang))] if partial else []),
    ]
    past = df.filter(pl.col("year") != cur)
    now = df.filter(pl.col("year") == cur)
    layers: list[alt.Chart] = []
    if past.height:
        layers.append(
            alt.Chart(past)
            .mark_line(strokeWidth=1.3)
            .encode(x=x, y=y_axis, color=colour, detail=alt.Detail("year:N"), tooltip=tips)
        )
    layers += [
        alt.Chart(now).mark_line(strokeWidth=3).encode(x=x, y=y_axis, color=colour),
        alt.Chart(now.filter(~pl.col("incomplete")))
        .mark_point(filled=True, size=28)
        .encode(x=x, y=y_axis, color=colour, tooltip=tips),
    ]
    if now.filter(pl.col("incomplete")).height:
        # an incomplete week: a hollow point, named beside it ("Incomplete period"), as the site marks it
        open_weeks = now.filter(pl.col("incomplete"))
        layers += [
            alt.Chart(open_weeks)
            .mark_point(
                filled=True,
                size=70,
                fill=th.BACKGROUND,
                stroke=th.OKABE_ITO["blue"],  # the ring: a fill alone leaves a pale patch on the line
                strokeWidth=2,
                opacity=1,
            )
            .encode(x=x, y=y_axis, tooltip=tips),
            alt.Chart(open_weeks)
            .mark_text(dy=-12, fontSize=11, fontStyle="italic", color=th.MUTED_TEXT)
            .encode(x=x, y=y_axis, text=alt.Text("period_note:N")),
        ]
    # like with like: the title's week is the current year's latest complete week (a week not all in yet is
    # drawn and marked, never compared), set against the complete week before it and the earlier years'
    # complete values of that week, each named with its dates
    newest_week = max(w for y, w, _ in rows if y == cur)
    complete = sorted((y, w, v) for y, w, v in rows if (y, w) not in partial)
    own = [(w, v) for y, w, v in complete if y == cur]
    last_week, last_value = own[-1] if own else max((w, v) for y, w, v in rows if y == cur)
    last_incomplete = not own  # the year has no complete week: its latest, marked as not all in

    def number(value: float) -> str:
        return format_number(value, lang, places)

    end_df = pl.DataFrame([{"week": last_week, "value": last_value, "label": f"{cur}: {number(last_value)}"}])
    layers.append(
        alt.Chart(end_df)
        .mark_text(align="left", dx=7, fontWeight="bold", color=th.OKABE_ITO["blue"])
        .encode(x=x, y=y_axis, text=alt.Text("label:N"))
    )
    chart = _layer(layers, meta, lang).properties(width=560, height=300)
    same_week = [v for y, w, v in complete if y != cur and w == last_week]
    # week on week: the ISO week before the title's (week 1 follows the previous ISO year's last week), or,
    # where that week is not all in, the complete week before it (the skipped weeks said); a week with no
    # value ends the search: no change is claimed across a gap
    values = {(y, w): v for y, w, v in rows}
    previous: tuple[int, int, float] | None = None
    skipped: list[int] = []
    step = _week_before(cur, last_week)
    while not last_incomplete and step in values:
        if step not in partial:
            previous = (*step, values[step])
            break
        skipped.insert(0, step[1])
        step = _week_before(*step)
    change, change_sentence = "", ""
    if previous is not None:
        prev_year, prev_week, prev_value = previous
        # the difference of the two values as printed, so that "59.1 … 71.5" reads "−12.4", not "−12.3"
        delta = format_number(
            round(last_value, places) - round(prev_value, places), lang, places, signed=True
        )
        prev_dates = week_dates(prev_year, prev_week, lang)
        change = t("weekly.change", lang, delta=delta, prev_week=prev_week, prev_dates=prev_dates)
        change_sentence = t(
            "weekly.description_change",
            lang,
            prev_week=prev_week,
            prev_year=prev_year,
            prev_dates=prev_dates,
            prev=number(prev_value),
            delta=delta,
        )
        if skipped:  # the week just before is not all in: compared with the complete one before it
            change_sentence += t("weekly.description_skipped", lang, weeks=", ".join(map(str, skipped)))
    fmt = {
        "week": last_week,
        "year": cur,
        "dates": week_dates(cur, last_week, lang),
        "value": number(last_value),
        "change": change,
    }
    if same_week and statistics.fmean(same_week) > 0:
        mean = statistics.fmean(same_week)
        diff = _pct_change(last_value, mean)
        direction = t("weekly.lower" if diff < 0 else "weekly.higher", lang)
        finding = t("weekly.title", lang, pct=format_percent(abs(diff), lang), direction=direction, **fmt)
        mean_sentence = t("weekly.description_mean", lang, mean=number(mean))
    else:
        finding = t("weekly.title_plain", lang, **fmt)
        # no earlier year has this week: said so, not "the mean was – gCO₂/kWh"
        mean_sentence = t(
            "weekly.description_no_earlier" if not earlier else "weekly.description_no_mean", lang
        )
    if last_incomplete:  # the year's only weeks are not all in yet: its latest, said so
        finding += f" ({incomplete_text.lower()})"
        mean_sentence = t("weekly.description_incomplete", lang, week=last_week) + mean_sentence
    elif newest_week != last_week:  # a newer week is drawn, not all in yet: not compared
        mean_sentence += t("weekly.description_newer_incomplete", lang, week=newest_week, complete=last_week)
    description = (
        t("weekly.description", lang, years=_years_text(years[0], years[-1]), **fmt)
        + mean_sentence
        + change_sentence
    )
    return _finish(
        chart,
        name=name,
        finding=finding,
        description=description,
        meta=meta,
        lang=lang,
        # the table and the downloads name the incomplete week as the chart does
        table=df.select("year", "week", "value", *([pl.col("period_note").alias("note")] if partial else [])),
        decimals={"value": places},
    )
