"""The peer chart: the home city ranked among its European peers on one indicator of one source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import altair as alt
import polars as pl

from ingest.peers import load_peers
from report import theme as th
from report.charts.common import Col, _check_lang, _check_meta, _finish, _frame, _layer, _unique
from report.charts.per_resident import _rank_decimals
from report.i18n import NOT_AVAILABLE, format_number, format_percent, t
from report.theme import ChartMeta

PEER_STANDINGS_FRAME: Final[Mapping[str, Col]] = {
    "area": Col("str", "the peer's area code (ingest/peers.toml)"),
    "year": Col("int", "the year of the value ranked (the home city's latest, or a peer's latest before it)"),
    "value": Col("num", "the indicator's value in that year"),
    "rank": Col("int", "1 = best in the indicator's desired direction; ties share the better rank"),
    "peers": Col("int", "how many peers have a value that year"),
}
PEER_CHANGE_FRAME: Final[Mapping[str, Col]] = {
    "area": Col("str", "the peer's area code"),
    "base_year": Col("int", "the year the change is measured from"),
    "change": Col("num", "the change since base_year, per cent"),
}
GROUP_COLOURS: Final[Mapping[str, str]] = {
    "home": th.OKABE_ITO["blue"],
    "nordic": th.NEUTRAL,
    "leader": th.LIGHT_NEUTRAL,
}


def _ordinal(number: int) -> str:
    """An English ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def peer_comparison(
    standings: pl.DataFrame,
    *,
    meta: ChartMeta,
    lang: str = "fi",
    indicator: str,
    unit_text: str,
    source: str,
    changes: pl.DataFrame | None = None,
) -> alt.LayerChart:
    """The peers' values in one year as ranked bars, the home city highlighted, each bar labelled with its
    value and, when `changes` is given, the change since its base year (the trend).

    standings: indicators.peers.standings for one indicator of one source (PEER_STANDINGS_FRAME); the
    title states the home city's rank ("Espoo 7th of 14 peers …, OECD 2022"), and `meta.method` the
    method the figures follow. indicator: the indicator's name in lang; unit_text: its unit in lang.
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
    change_of: dict[str, tuple[int, float]] = {}
    if changes is not None:
        c = _frame(name, "changes", changes, PEER_CHANGE_FRAME)
        _unique(name, "changes", c, ["area"])
        change_of = {str(r["area"]): (int(r["base_year"]), float(r["change"])) for r in c.rows(named=True)}

    year = int(f.filter(pl.col("area") == home).get_column("year")[0])
    first_year = int(f.get_column("year").min())  # type: ignore[arg-type]
    count = int(f.get_column("peers")[0])
    rows = sorted(f.rows(named=True), key=lambda r: (r["rank"], peers[r["area"]].name[lang]))  # type: ignore[index]
    places = _rank_decimals([float(r["value"]) for r in rows], lang)
    groups = {g: t(f"peers.group_{g}", lang) for g in GROUP_COLOURS}

    def change_text(area: str) -> str:
        if area not in change_of:
            return NOT_AVAILABLE
        base, pct = change_of[area]
        return t("peers.change", lang, pct=format_percent(pct, lang, signed=True), base=base)

    df = pl.DataFrame(
        [
            {
                "area_key": r["area"],
                "area": peers[r["area"]].name[lang],  # type: ignore[index]
                "year": int(r["year"]),
                "value": float(r["value"]),
                "rank": int(r["rank"]),
                "group": groups[peers[r["area"]].group],
                "change": change_text(r["area"]),
                "label": format_number(float(r["value"]), lang, places)
                + (f" ({r['year']})" if int(r["year"]) != year else "")
                + (f" · {change_text(r['area'])}" if r["area"] in change_of else ""),
            }
            for r in rows
        ]
    )
    order = df.get_column("area").to_list()
    y_enc = alt.Y("area:N", sort=order, title=None)
    bars = (
        alt.Chart(df)
        .mark_bar(height={"band": 0.7})
        .encode(
            y=y_enc,
            x=alt.X("value:Q", title=unit_text, scale=alt.Scale(zero=True)),
            color=alt.Color(
                "group:N",
                title=None,
                scale=alt.Scale(domain=list(groups.values()), range=list(GROUP_COLOURS.values())),
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
    labels = (
        alt.Chart(df)
        .mark_text(align="left", dx=4, color=th.TEXT_COLOUR)
        .encode(y=y_enc, x=alt.X("value:Q", title=unit_text), text="label:N")
    )
    chart = _layer([bars, labels], meta, lang).properties(width=420, height=alt.Step(24))
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
    description = t(
        "peers.description",
        lang,
        indicator=indicator,
        unit=unit_text,
        year=when,
        n=count,
        area=home_row["area"],
        value=format_number(home_row["value"], lang, places),
        rank=home_row["rank"],
        best=f"{order[0]} {format_number(float(df.get_column('value')[0]), lang, places)}",
        source=t(f"peers.source_{source}", lang),
    )
    table = df.select("area_key", "area", "year", "value", "rank", "group", "change")
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
