"""The report's peer section: chart frames, Espoo's standing on each peer indicator, its totals by source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import polars as pl
from sqlalchemy import Engine

from indicators.catalogue import load_indicator_catalogue
from indicators.peers import (
    RECONCILED,
    YEAR_WINDOW,
    changes,
    peer_areas,
    peer_indicators,
    reconciliation,
    standings,
)
from ingest.peers import home_peer, peer_by_area
from report import data as rd
from report.charts import indicator_label
from report.charts.per_resident import _rank_decimals
from report.i18n import format_number, format_percent, has, label, t

# chart name → the peer indicator it draws (the emissions per resident of each source)
PEER_CHARTS: Final[dict[str, str]] = {
    "peer_emissions_oecd": "peer_ghg_per_resident_oecd",
    "peer_emissions_covenant": "peer_ghg_per_resident_covenant",
}


def unit_text(indicator: str, lang: str) -> str:
    """The indicator's unit in lang, as charts and pages name it ([unit_name] of the translations)."""
    return label("unit_name", load_indicator_catalogue().get(indicator).unit, lang)


def method_text(indicator: str, source: str, lang: str) -> str:
    """The chart's method line in lang: the indicator's own ([peers] method_<indicator>) when its method
    differs from the rest of its source's (OECD's air quality, green area and transport access are not
    its emission model), else its source's (method_<source>)."""
    key = f"peers.method_{indicator}"
    return t(key, lang) if has(key) else t(f"peers.method_{source}", lang)


@dataclass(frozen=True)
class PeerFrames:
    """One peer indicator's standings in its latest year (with snapshot_ids) and the peers' trends."""

    indicator: str
    source: str
    standings: pl.DataFrame
    changes: pl.DataFrame


def _observed(engine: Engine, indicator: str) -> pl.DataFrame:
    values = rd._values(engine, indicator, None, "observed")
    return values.filter(pl.col("area").is_in(peer_areas()) & pl.col("year").is_not_null())


def peer_frames(engine: Engine, indicator: str) -> PeerFrames:
    """The standings and trends of one peer indicator; MissingDataError when the home city has no value."""
    entry = load_indicator_catalogue().get(indicator)
    if entry.peers is None:
        raise ValueError(f"{indicator} is not a peer indicator (no `peers` source in the catalogue)")
    values = _observed(engine, indicator)
    ranked = standings(
        values.select("area", "year", "value"),
        direction=entry.direction,
        home=home_peer().area,
        window=YEAR_WINDOW[entry.peers],
    )
    if ranked.height == 0:
        raise rd.MissingDataError(f"no value of {indicator} for the home city; ingest and compute first")
    ids = values.join(ranked.select("area", "year"), on=["area", "year"], how="semi").select(
        "area", "snapshot_ids"
    )
    return PeerFrames(
        indicator=indicator,
        source=entry.peers,
        standings=ranked.join(ids, on="area", how="left"),
        changes=changes(values.select("area", "year", "value"), ranked),
    )


def shared_peer_frames(engine: Engine, indicator: str, shared: dict[Any, Any] | None) -> PeerFrames:
    """peer_frames, read once per run when `shared` (a run's cache, the same for every language) is given."""
    if shared is None:
        return peer_frames(engine, indicator)
    key = ("peer_frames", indicator)
    if key not in shared:
        shared[key] = peer_frames(engine, indicator)
    found: PeerFrames = shared[key]
    return found


def standing_rows(engine: Engine, lang: str, shared: dict[Any, Any] | None = None) -> list[list[str]]:
    """Per peer indicator with data: indicator, source, year, the home city's value, rank of n, its change
    since its base year with that change's rank, and the best peer (frames from `shared` when given)."""
    names = peer_by_area()
    home = home_peer().area
    catalogue = load_indicator_catalogue()
    rows = []
    for indicator in peer_indicators():
        try:
            found = shared_peer_frames(engine, indicator, shared)
        except rd.MissingDataError:
            continue
        entry = catalogue.get(indicator)
        ranked = found.standings
        # the decimals the peer chart shows (enough to tell neighbours apart), so both say the same
        places = _rank_decimals(ranked.get_column("value").to_list(), lang)
        unit = label("unit_name", entry.unit, lang)

        def shown(value: float, places: int = places, unit: str = unit) -> str:
            return f"{format_number(value, lang, places)}\u00a0{unit}"

        mine = ranked.filter(pl.col("area") == home).row(0, named=True)
        best = ranked.row(0, named=True)
        change_text = "–"
        trend = found.changes
        if trend.filter(pl.col("area") == home).height:
            own = trend.filter(pl.col("area") == home).row(0, named=True)
            trend_ranked = standings(
                trend.select(
                    "area", pl.lit(int(mine["year"])).alias("year"), pl.col("change").alias("value")
                ),
                direction=entry.direction,
                home=home,
            )
            own_rank = trend_ranked.filter(pl.col("area") == home).row(0, named=True)
            change_text = t(
                "peers.change_ranked",
                lang,
                change=t(
                    "peers.change",
                    lang,
                    pct=format_percent(own["change"], lang, signed=True),
                    base=own["base_year"],
                ),
                rank=own_rank["rank"],
                n=own_rank["peers"],
            )
        rows.append(
            [
                indicator_label(indicator, lang),
                t(f"peers.source_{found.source}", lang),
                str(mine["year"]),
                shown(mine["value"]),
                t("peers.rank_of", lang, rank=mine["rank"], n=mine["peers"]),
                change_text,
                f"{names[best['area']].name[lang]} {shown(best['value'])}"  # type: ignore[index]
                + (f" ({best['year']})" if best["year"] != mine["year"] else ""),
            ]
        )
    return rows


def reconciliation_rows(engine: Engine, lang: str) -> list[list[str]]:
    """The home city's greenhouse-gas totals by source, side by side, each with its accounting boundary."""
    try:
        values = rd._values(engine, list(RECONCILED), home_peer().area, "observed")
    except rd.MissingDataError:
        return []
    found = reconciliation(values.filter(pl.col("year").is_not_null()))
    rows = []
    for r in found.iter_rows(named=True):
        common = (
            f"{format_number(r['common_value'], lang, 0)} ({r['common_year']})"
            if r["common_year"] is not None
            else "–"
        )
        rows.append(
            [
                indicator_label(str(r["indicator"]), lang),
                t(f"peers.boundary_{r['indicator']}", lang),
                f"{format_number(r['first_value'], lang, 0)} ({r['first_year']})",
                f"{format_number(r['latest_value'], lang, 0)} ({r['latest_year']})",
                common,
            ]
        )
    return rows


RECONCILIATION_COLUMNS: Final = ("source", "boundary", "first", "latest", "common")
STANDING_COLUMNS: Final = ("indicator", "source", "year", "value", "rank", "trend", "best")
__all__ = [
    "PEER_CHARTS",
    "RECONCILIATION_COLUMNS",
    "STANDING_COLUMNS",
    "PeerFrames",
    "peer_frames",
    "reconciliation_rows",
    "shared_peer_frames",
    "standing_rows",
    "unit_text",
]
