"""The peer chart: the home city ranked among its European peers on one indicator of one source."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Final

import altair as alt
import polars as pl

from ingest.peers import load_peers
from report import theme as th
from report.charts.common import (
    PHONE_PLOT_WIDTH,
    Col,
    _check_lang,
    _check_meta,
    _finish,
    _frame,
    _layer,
    _unique,
    given_ticks,
    label_expr,
    labels_above,
    text_width,
    vega_string,
    wrap_px,
)
from report.i18n import NOT_AVAILABLE, format_number, format_percent, t
from report.ranking import rank_decimals
from report.theme import ChartMeta

PEER_STANDINGS_FRAME: Final[Mapping[str, Col]] = {
    "area": Col("str", "the peer's area code (ingest/peers.toml)"),
    "year": Col("int", "the year of the value compared (each city's latest within the recency limit)"),
    "value": Col("num", "the indicator's value in that year"),
    "rank": Col(
        "int",
        "1 = best in the indicator's desired direction; ties share the better rank; null: shown, not ranked",
        nullable=True,
    ),
    "peers": Col("int", "how many cities are ranked, the home city among them"),
}
PEER_CHANGE_FRAME: Final[Mapping[str, Col]] = {
    "area": Col("str", "the peer's area code"),
    "base_year": Col("int", "the year the change is measured from"),
    "year": Col("int", "the year the change is measured to"),
    "change": Col("num", "the change from base_year to year, per cent"),
    "comparable": Col("bool", "whether the change covers the compared span (and may be ranked)"),
    "points": Col("bool", "the change is in percentage points (of an indicator in per cent)", required=False),
    "base_estimated": Col("bool", "the base year's figure is the source's estimate", required=False),
}
PEER_LEFT_OUT_FRAME: Final[Mapping[str, Col]] = {
    "area": Col("str", "a peer the standings do not show"),
    "latest_year": Col("int", "its latest figure's year; null: the source has none", nullable=True),
}
# every bar 3:1 or more against white (WCAG 1.4.11; the leaders' light grey was 1.7:1); the group is also
# written beside each city's name (group_tag), so the shades are not its only sign (WCAG 1.4.1)
GROUP_COLOURS: Final[Mapping[str, str]] = {
    "home": th.OKABE_ITO["blue"],
    "nordic": th.DARK_NEUTRAL,
    "leader": th.NEUTRAL,
}
# the peer chart's notes under its title wrap at this width
NOTE_WRAP: Final = 95
_WIDTH: Final = 420  # the plot's width in px
_LABEL_DX: Final = 4  # px between a bar's end and its value
_PHONE_BAR: Final = 14  # a bar's height (px) in the phone's layout, its city and change above it


def group_tag(group: str, lang: str) -> str:
    """The short name of a peer's group written beside its name ("Nordic", "leader"); the home city's is
    none (its name says it)."""
    return "" if group == "home" else t(f"peers.group_tag_{group}", lang)


def _ordinal(number: int) -> str:
    """An English ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def change_words(
    change: float,
    base_year: int,
    year: int,
    *,
    comparable: bool,
    per_resident: bool,
    lang: str,
    points: bool = False,
    base_estimated: bool = False,
    bare: bool = False,
) -> str:
    """A peer's change as the chart and the tables word it: "−39 % per resident since 1990" over the
    compared span, "+5 % 2016–2022 (other span, not ranked)" over another; `points`: a change of a
    percentage, in percentage points ("+0,3 %-yksikköä vuodesta 2012"); `base_estimated`: the base year's
    figure is the source's estimate, and the change says so ("… since 1990 (1990: estimate)"); `bare`: a
    change over the compared span as its number alone ("−39 %"), where a note under the title names the span
    (a phone's row, _span_noted)."""
    if points:
        pct = t("unit.percentage_points", lang, value=format_number(change, lang, 1, signed=True))
    else:
        pct = format_percent(change, lang, signed=True)
    if bare and comparable:
        words = pct
    elif not comparable:
        key = "peers.change_other_per_resident" if per_resident else "peers.change_other"
        words = t(key, lang, pct=pct, base=base_year, year=year)
    else:
        key = "peers.change_per_resident" if per_resident else "peers.change"
        words = t(key, lang, pct=pct, base=base_year)
    return f"{words} {t('peers.base_estimated', lang, year=base_year)}" if base_estimated else words


def value_ticks(maximum: float, far: float, width: int) -> list[float]:
    """An axis's tick values from 0 to the first round number (1, 2, 2.5 or 5 × 10ⁿ steps) at or above
    maximum, if the scale reaches it (far), else below it; at most one tick per 50 px of plot."""
    most = max(2, width // 50)
    for exponent in range(-3, 10):
        for mantissa in (1.0, 2.0, 2.5, 5.0):
            step = mantissa * 10.0**exponent
            count = math.ceil(maximum / step - 1e-9)
            if count > most:
                continue
            if count * step > far + 1e-9:
                count -= 1
            return [round(i * step, 6) for i in range(count + 1)]
    return [0.0, maximum]


def peer_comparison(
    standings: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    indicator: str,
    unit_text: str,
    source: str,
    changes: pl.DataFrame | None = None,
    per_resident: bool = False,
    left_out: pl.DataFrame | None = None,
    reported_units: Mapping[str, str] | None = None,
    phone: bool = False,
) -> alt.LayerChart:
    """The peers' latest values as ranked bars, the home city highlighted, each bar labelled with its
    value (its year when not the home city's) and, when `changes` has rows, its change (the trend).

    standings: indicators.peers.standings for one indicator of one source (PEER_STANDINGS_FRAME); the
    title states the home city's rank ("Espoo 7th of 14 cities …, OECD 2022"), and `meta.method` the
    method the figures follow. indicator: the indicator's name in lang; unit_text: its unit in lang.
    Notes under the title say what span the changes cover (PEER_CHANGE_FRAME; only `comparable` changes
    share it), which cities have newer figures than the home city, which peers are left out and why
    (`left_out`, PEER_LEFT_OUT_FRAME) and, with `reported_units` (area -> tCO2 / tCO2e / "tCO2 or
    tCO2e"), the unit each inventory was reported in. An unranked row (null rank) is drawn after the
    ranked ones and marked. `per_resident`: the changes are of a value per resident and say so.
    `phone`: the phone's layout (report.phone): each city's name and change written above its bar
    ("Oslo · −52 % per resident since 1990", wrapped at the plot's width), the plot a phone's column wide,
    where a column of names left of a 126 px plot and one of changes right of it, on three or four lines
    each, had crowded the bars.
    """
    name = "peer_comparison"
    _check_lang(name, lang)
    _check_meta(name, meta)
    f = _frame(name, "standings", standings, PEER_STANDINGS_FRAME)
    _unique(name, "standings", f, ["area"])
    if f.height == 0:
        raise ValueError(f"{name}: `standings` has no rows")
    peers = {peer.area: peer for peer in load_peers()}
    unknown = sorted(set(f.get_column("area")) - set(peers))
    if unknown:
        raise ValueError(f"{name}: areas {unknown} are not peers (ingest/peers.toml)")
    home = next(p.area for p in peers.values() if p.group == "home")
    if home not in set(f.get_column("area")):
        raise ValueError(f"{name}: the home city {home!r} has no row in `standings`")
    change_of: dict[str, dict[str, object]] = {}
    # a single year of figures has no changes: the chart is drawn without them
    if changes is not None and changes.height:
        c = _frame(name, "changes", changes, PEER_CHANGE_FRAME)
        _unique(name, "changes", c, ["area"])
        change_of = {str(r["area"]): r for r in c.rows(named=True)}
    units = dict(reported_units or {})
    # estimated base figures: said once in the notes when every change starts from one, else on each
    every_base_estimated = _every_base_estimated(change_of)

    year = int(f.filter(pl.col("area") == home).get_column("year")[0])
    first_year = int(f.get_column("year").min())  # type: ignore[arg-type]
    count = int(f.get_column("peers")[0])
    rows = sorted(
        f.rows(named=True),
        key=lambda r: (r["rank"] is None, r["rank"] or 0, peers[r["area"]].name[lang]),  # type: ignore[index]
    )
    places = rank_decimals([float(r["value"]) for r in rows], lang)
    present_groups = {peers[r["area"]].group for r in rows}
    groups = {g: t(f"peers.group_{g}", lang) for g in GROUP_COLOURS if g in present_groups}

    def change_text(area: str, bare: bool = False) -> str:
        if area not in change_of:
            return NOT_AVAILABLE
        r = change_of[area]
        return change_words(
            float(r["change"]),  # type: ignore[arg-type]
            int(r["base_year"]),  # type: ignore[call-overload]
            int(r["year"]),  # type: ignore[call-overload]
            comparable=bool(r["comparable"]),
            per_resident=per_resident,
            lang=lang,
            points=bool(r.get("points") or False),
            base_estimated=bool(r.get("base_estimated")) and not every_base_estimated,
            bare=bare,
        )

    def unit_mark(area: str, rank: object) -> str:
        marks = [t("peers.unit_co2_only", lang)] if units.get(area) == "tCO2" else []
        if rank is None:
            marks.append(t("peers.unranked", lang))
        return " · " + ", ".join(marks) if marks else ""

    df = pl.DataFrame(
        [
            {
                "area_key": r["area"],
                "area": peers[r["area"]].name[lang],  # type: ignore[index]
                "year": int(r["year"]),
                "value": float(r["value"]),
                "rank": r["rank"],
                "group": groups[peers[r["area"]].group],
                "change": change_text(r["area"]),
                "label": format_number(float(r["value"]), lang, places)
                + (f" ({r['year']})" if int(r["year"]) != year else "")
                + unit_mark(r["area"], r["rank"]),
            }
            for r in rows
        ],
        schema_overrides={"rank": pl.Int64},
    )
    order = df.get_column("area").to_list()
    named_peers = [(str(peers[r["area"]].name[lang]), peers[r["area"]]) for r in rows]  # type: ignore[index]
    # each city's name with its group's short name ("Oslo · Nordic"), the home city's alone and in bold
    tagged = {
        name: " · ".join(filter(None, (name, group_tag(peer.group, lang)))) for name, peer in named_peers
    }
    width = PHONE_PLOT_WIDTH if phone else _WIDTH
    city_axis = alt.Axis(
        labelExpr=label_expr({name: text for name, text in tagged.items() if text != name}),
        labelFontWeight=alt.ExprRef(
            f"datum.label === {vega_string(str(peers[home].name[lang]))} ? 'bold' : 'normal'"  # type: ignore[index]
        ),
    )
    y_enc = alt.Y("area:N", sort=order, title=None, axis=None if phone else city_axis)
    # each bar's value at its end, inside the plot: the x scale leaves room for the widest, measured
    far = max(
        float(r["value"]) * width / (width - _LABEL_DX - 4 - text_width(str(r["label"])))
        for r in df.iter_rows(named=True)
    )
    x_scale = alt.Scale(zero=True, domain=[0.0, far], nice=False)
    # the axis's ticks stop at the largest value's round number: the room left for the labels is no scale
    # (a share's axis ran to 120 %, the Covenant's to 12 t for at most 5.4)
    ticks = value_ticks(max(float(v) for v in df.get_column("value")), far, width)
    bars = (
        alt.Chart(df)
        .mark_bar(height=_PHONE_BAR if phone else {"band": 0.7})
        .encode(
            y=y_enc,
            x=alt.X("value:Q", title=unit_text, scale=x_scale, axis=alt.Axis(**given_ticks(ticks))),
            color=alt.Color(
                "group:N",
                title=None,
                scale=alt.Scale(domain=list(groups.values()), range=[GROUP_COLOURS[g] for g in groups]),
                legend=alt.Legend(orient="bottom", direction="horizontal"),
            ),
            tooltip=[
                alt.Tooltip("area:N", title=t("label.area", lang)),
                alt.Tooltip("year:O", title=t("label.year", lang)),
                alt.Tooltip("value:Q", title=unit_text, format=f",.{places}f"),
                alt.Tooltip("rank:Q", title=t("peers.rank", lang)),
                alt.Tooltip("change:N", title=t("peers.trend", lang)),
            ],
        )
    )
    changed = {
        str(r["area"]): str(r["change"]) for r in df.iter_rows(named=True) if r["area_key"] in change_of
    }
    labels = (
        alt.Chart(df)
        .mark_text(align="left", dx=_LABEL_DX, color=th.TEXT_COLOUR)
        .encode(
            # with the changes' column the y axes are resolved apart, and this layer draws none; without it
            # the layers share the bars' axis, which a null axis here would take away (the cities' names)
            y=alt.Y("area:N", sort=order, axis=None) if changed else y_enc,
            x=alt.X("value:Q", title=unit_text),
            text=alt.Text("label:N"),
        )
    )
    if phone:
        # over the span the title's note names ("Change per resident 1990–2022: …"), a row's change is its
        # number alone: the words repeated on every row had wrapped each onto a second line
        bare = {
            str(r["area"]): change_text(str(r["area_key"]), bare=_span_noted(change_of, home))
            for r in df.iter_rows(named=True)
            if r["area_key"] in change_of
        }
        lines = {
            area: wrap_px(f"{tagged[area]} · {bare[area]}" if area in bare else tagged[area], width)
            for area in order
        }
        above, step = labels_above(y_enc, "area", lines, mark_px=_PHONE_BAR)
        chart = _layer([bars, labels, above], meta, lang).properties(width=width, height=alt.Step(step))
    else:
        layers = [bars, labels]
        if changed:
            # the changes as a column of labels right of the plot (an axis: the page fits it in, never cut)
            expr = label_expr(changed, otherwise="''")
            layers.append(
                alt.Chart(df)
                .mark_tick(opacity=0)
                .encode(
                    y=alt.Y(
                        "area:N",
                        sort=order,
                        title=None,
                        axis=alt.Axis(
                            orient="right",
                            labelExpr=expr,
                            labelLimit=int(max(text_width(words) for words in changed.values())) + 8,
                            domain=False,
                            ticks=False,
                            grid=False,
                            labelColor=th.TEXT_COLOUR,
                        ),
                    ),
                    x=alt.X("value:Q", title=unit_text),
                )
            )
        chart = _layer(layers, meta, lang).properties(width=width, height=alt.Step(24))
        if changed:
            chart = chart.resolve_axis(y="independent")
    home_row = df.filter(pl.col("area_key") == home).row(0, named=True)
    when = str(year) if first_year == year else t("peers.years_span", lang, first=first_year, last=year)
    if count < 2:
        finding = t(
            "peers.title_alone",
            lang,
            area=home_row["area"],
            indicator=indicator[:1].lower() + indicator[1:],
            source=t(f"peers.source_{source}", lang),
            year=year,
        )
    else:
        finding = t(
            "peers.title",
            lang,
            area=home_row["area"],
            rank=_ordinal(int(home_row["rank"])) if lang == "en" else home_row["rank"],
            n=count,
            indicator=indicator[:1].lower() + indicator[1:],
            source=t(f"peers.source_{source}", lang),
            year=when,
        )
    notes = _notes(
        lang,
        home=home,
        home_name=str(home_row["area"]),
        year=year,
        rows=rows,
        names={a: str(p.name[lang]) for a, p in peers.items()},  # type: ignore[index]
        change_of=change_of,
        per_resident=per_resident,
        left_out=left_out,
        units=units,
    )
    description = t(
        "peers.description",
        lang,
        indicator=indicator,
        unit=unit_text,
        # "in 2022", or "latest figures from 2017–2020": never "in (latest figures …)"
        when=t("peers.when_year", lang, year=year)
        if first_year == year
        else t("peers.when_span", lang, first=first_year, last=year),
        n=count,
        area=home_row["area"],
        value=format_number(home_row["value"], lang, places),
        rank=home_row["rank"],
        best=f"{order[0]} {format_number(float(df.get_column('value')[0]), lang, places)}",
        source=t(f"peers.source_{source}", lang),
    )
    description = " ".join([description, *notes])
    table = df.select("area_key", "area", "year", "value", "rank", "group", "change")
    finished = _finish(
        chart,
        name=name,
        finding=finding,
        description=description,
        meta=meta,
        lang=lang,
        table=table,
        decimals={"value": places},
    )
    title = finished.title
    # the notes and the method, which the page shows below the chart too (chart_notes): on a phone only
    # there, where under the title they took 13 to 22 lines above the bars; a phone's subtitle keeps the
    # span its changes compare (its rows give their numbers alone), the demo notice and the sources
    below = [*notes, *([meta.method] if meta.method else [])]
    usermeta = finished.usermeta
    if below and isinstance(usermeta, dict):
        usermeta["kestava"]["notes"] = below
    if isinstance(title, alt.TitleParams):
        if phone:
            head = _span_head(change_of, home, per_resident, lang)
            title.subtitle = [*([head] if head else []), *th.subtitle_lines(replace(meta, method=""), lang)]
        elif notes:
            subtitle = [line for note in notes for line in th.wrap_title(note, NOTE_WRAP)]
            title.subtitle = [*subtitle, *title.subtitle]
    return finished


def _every_base_estimated(change_of: Mapping[str, Mapping[str, object]]) -> bool:
    """Whether there are changes and every one starts from a base figure the source estimated."""
    return bool(change_of) and all(r.get("base_estimated") for r in change_of.values())


def _span_noted(change_of: Mapping[str, Mapping[str, object]], home: str) -> bool:
    """Whether the notes under the title name the span the changes compare (the home city's change is over
    it): then a phone's rows give a change over that span as its number alone."""
    own = change_of.get(home)
    return own is not None and bool(own["comparable"])


def _span_head(
    change_of: Mapping[str, Mapping[str, object]], home: str, per_resident: bool, lang: str
) -> str | None:
    """The span the changes compare, alone ("Change per resident 1990–2022"), when the notes name it
    (_span_noted): a phone's subtitle keeps it, the numbers beside its bars being changes over it."""
    if not _span_noted(change_of, home):
        return None
    own = change_of[home]
    key = "peers.span_head_per_resident" if per_resident else "peers.span_head"
    return t(key, lang, base=own["base_year"], year=own["year"])


def _notes(
    lang: str,
    *,
    home: str,
    home_name: str,
    year: int,
    rows: list[dict[str, object]],
    names: Mapping[str, str],
    change_of: Mapping[str, Mapping[str, object]],
    per_resident: bool,
    left_out: pl.DataFrame | None,
    units: Mapping[str, str],
) -> list[str]:
    """The notes under the peer chart's title: the span compared, newer figures, who is left out, units."""
    notes = []
    head = _span_head(change_of, home, per_resident, lang)
    if head is not None:  # the same test as a phone's rows: the span is named here
        others = sum(1 for a, r in change_of.items() if a != home and not r["comparable"])
        notes.append(
            t("peers.note_span", lang, head=head)
            + (" " + t("peers.note_other_spans", lang, n=others) if others else "")
        )
    if _every_base_estimated(change_of):
        bases = sorted({int(str(r["base_year"])) for r in change_of.values()})
        notes.append(t("peers.note_base_estimated", lang, years=", ".join(map(str, bases))))
    count = sum(1 for r in rows if int(str(r["year"])) > year)
    if count:
        notes.append(t("peers.note_newer", lang, n=count, area=home_name, year=year))
    if left_out is not None and left_out.height:
        lo = _frame("peer_comparison", "left_out", left_out, PEER_LEFT_OUT_FRAME)
        rows_out = lo.sort("area").rows(named=True)
        none = [names.get(str(r["area"]), str(r["area"])) for r in rows_out if r["latest_year"] is None]
        old = [
            f"{names.get(str(r['area']), str(r['area']))} ({r['latest_year']})"
            for r in rows_out
            if r["latest_year"] is not None
        ]
        if old:
            notes.append(t("peers.note_left_out_old", lang, cities=", ".join(old)))
        if none:
            notes.append(t("peers.note_left_out_none", lang, cities=", ".join(none)))
    shown_units = {units[str(r["area"])] for r in rows if str(r["area"]) in units}
    if "tCO2 or tCO2e" in shown_units:
        notes.append(t("peers.note_unit_unknown", lang))
    if "tCO2" in shown_units:
        notes.append(t("peers.note_unit_co2", lang))
    return notes
