"""The report's peer section: chart frames, Espoo's standing on each peer indicator, its totals by source."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Final

import altair as alt
import polars as pl
from sqlalchemy import Engine

from common.flags import has_meaning, is_provisional
from indicators.catalogue import load_indicator_catalogue
from indicators.peers import (
    RECONCILED,
    YEAR_WINDOW,
    changes,
    left_out,
    peer_areas,
    peer_indicators,
    reconciliation,
    standings,
)
from ingest.catalogue import load_catalogue
from ingest.peers import home_peer, load_peers, peer_by_area
from report import data as rd
from report.charts import indicator_label, peer_comparison
from report.charts.peers import change_words
from report.i18n import format_number, format_quantity, has, label, t
from report.ranking import rank_decimals
from report.theme import ChartMeta
from storage import read

# chart name → the peer indicator it draws (the emissions per resident of each source)
PEER_CHARTS: Final[dict[str, str]] = {
    "peer_emissions_oecd": "peer_ghg_per_resident_oecd",
    "peer_emissions_covenant": "peer_ghg_per_resident_covenant",
}


def units_by_city(indicator: str) -> bool:
    """Whether each city chose the unit of its figures (its dataset records a `reported_unit`: Covenant of
    Mayors inventories are t CO2 or t CO2e, stored alike as t CO2e)."""
    dataset = getattr(load_indicator_catalogue().get(indicator).derive, "dataset", None)
    spec = load_catalogue().datasets.get(str(dataset)) if dataset is not None else None
    return spec is not None and "reported_unit" in spec.options


def unit_text(indicator: str, lang: str) -> str:
    """The indicator's unit in lang, as charts and pages name it ([unit_name] of the translations); where
    each city chose t CO2 or t CO2e (units_by_city), "t CO₂(e)", as the chart's note explains, never a
    "t CO₂e" the figures may not be."""
    text = label("unit_name", load_indicator_catalogue().get(indicator).unit, lang)
    return text.replace("CO₂e", "CO₂(e)") if units_by_city(indicator) else text


def method_text(indicator: str, source: str, lang: str) -> str:
    """The chart's method line in lang: the indicator's own ([peers] method_<indicator>) when its method
    differs from the rest of its source's (OECD's air quality, green area and transport access are not
    its emission model), else its source's (method_<source>)."""
    key = f"peers.method_{indicator}"
    return t(key, lang) if has(key) else t(f"peers.method_{source}", lang)


@dataclass(frozen=True)
class PeerFrames:
    """One peer indicator's standings (with snapshot_ids), the peers' trends, who was left out and why,
    and, for a source whose figures come in more than one unit, the unit each city reported."""

    indicator: str
    source: str
    standings: pl.DataFrame
    changes: pl.DataFrame
    left_out: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"area": pl.Utf8, "latest_year": pl.Int64})
    )
    reported_units: dict[str, str] = field(default_factory=dict)
    # (area, year) of the values their source calls provisional (OECD's newest year, flagged "P")
    provisional: frozenset[tuple[str, int]] = frozenset()


def _observed(engine: Engine, indicator: str) -> pl.DataFrame:
    values = rd._values(engine, indicator, None, "observed")
    return values.filter(pl.col("area").is_in(peer_areas()) & pl.col("year").is_not_null())


def unit_kind(written: str) -> str:
    """`tCO2`, `tCO2e` or `tCO2 or tCO2e` (not stated) for a Covenant inventory's reported_unit."""
    head = written.split(" per ")[0].strip()
    return head if head in ("tCO2", "tCO2e") else "tCO2 or tCO2e"


def reported_units(engine: Engine, indicator: str) -> dict[str, str]:
    """Per area, the unit its latest inventory was reported in (unit_kind), where the indicator's dataset
    records one (`reported_unit`: Covenant of Mayors inventories are t CO2 or t CO2e as each city chose);
    keyed by "area/year". Empty for other sources."""
    derive = load_indicator_catalogue().get(indicator).derive
    dataset = getattr(derive, "dataset", None)
    if dataset is None:
        return {}
    observations = read.observations(engine, dataset, area=peer_areas())
    if "reported_unit" not in observations.columns:
        return {}
    for column, wanted in getattr(derive, "filter", {}).items():
        if column in observations.columns:
            observations = observations.filter(pl.col(column) == wanted)
    return {
        f"{r['area']}/{r['period']}": unit_kind(str(r["reported_unit"]))
        for r in observations.select("area", "period", "reported_unit").unique().iter_rows(named=True)
        if r["reported_unit"] is not None
    }


def peer_frames(engine: Engine, indicator: str) -> PeerFrames:
    """The standings and trends of one peer indicator; MissingDataError when the home city has no value.

    Where the cities reported in different units (Covenant inventories in t CO2 or t CO2e), a city whose
    unit is known to differ from the home city's is shown but not ranked (standings' `unranked`).
    """
    entry = load_indicator_catalogue().get(indicator)
    if entry.peers is None:
        raise ValueError(f"{indicator} is not a peer indicator (no `peers` source in the catalogue)")
    values = _observed(engine, indicator)
    home = home_peer().area
    plain = values.select("area", "year", "value")
    units_by_year = reported_units(engine, indicator)
    first = standings(plain, direction=entry.direction, home=home, window=YEAR_WINDOW[entry.peers])
    if first.height == 0:
        raise rd.MissingDataError(f"no value of {indicator} for the home city; ingest and compute first")
    units = {
        str(r["area"]): units_by_year[key]
        for r in first.iter_rows(named=True)
        if (key := f"{r['area']}/{r['year']}") in units_by_year
    }
    mine = units.get(home)
    other_unit = [
        area for area, unit in units.items() if mine in KNOWN_UNITS and unit in KNOWN_UNITS and unit != mine
    ]
    ranked = standings(
        plain, direction=entry.direction, home=home, window=YEAR_WINDOW[entry.peers], unranked=other_unit
    )
    ids = values.join(ranked.select("area", "year"), on=["area", "year"], how="semi").select(
        "area", "snapshot_ids"
    )
    covered = [p.area for p in load_peers() if entry.peers in p.sources]
    # a change from a base year whose figure the source estimated says so (OECD's 1990 values, flagged E)
    estimated = values.filter(has_meaning(pl.col("flags"), "estimated")).select(
        "area", pl.col("year").alias("base_year"), pl.lit(True).alias("base_estimated")
    )
    trends = changes(plain, ranked, home, points=entry.unit == "%")
    trends = trends.join(estimated, on=["area", "base_year"], how="left", maintain_order="left").with_columns(
        pl.col("base_estimated").fill_null(False)
    )
    return PeerFrames(
        indicator=indicator,
        source=entry.peers,
        standings=ranked.join(ids, on="area", how="left"),
        changes=trends,
        left_out=left_out(plain, ranked, covered),
        reported_units=units,
        provisional=frozenset(
            (str(area), int(year))
            for area, year in values.filter(is_provisional(pl.col("flags"))).select("area", "year").rows()
        ),
    )


KNOWN_UNITS: Final = ("tCO2", "tCO2e")


def shared_peer_frames(engine: Engine, indicator: str, shared: dict[Any, Any] | None) -> PeerFrames:
    """peer_frames, read once per run when `shared` (a run's cache, the same for every language) is given."""
    if shared is None:
        return peer_frames(engine, indicator)
    key = ("peer_frames", indicator)
    if key not in shared:
        shared[key] = peer_frames(engine, indicator)
    found: PeerFrames = shared[key]
    return found


def per_resident(indicator: str) -> bool:
    """Whether the indicator is a value per resident (its change is labelled so)."""
    return load_indicator_catalogue().get(indicator).unit.endswith("per resident")


def change_text(row: dict[str, Any], lang: str, *, per_resident: bool = False) -> str:
    """A change row (indicators.peers.changes) as the chart words it (report.charts.peers.change_words)."""
    return change_words(
        float(row["change"]),
        int(row["base_year"]),
        int(row["year"]),
        comparable=bool(row["comparable"]),
        per_resident=per_resident,
        lang=lang,
        points=bool(row.get("points") or False),
        base_estimated=bool(row.get("base_estimated") or False),
    )


def peer_chart(found: PeerFrames, *, meta: ChartMeta, lang: str, phone: bool = False) -> alt.LayerChart:
    """The peer chart of one indicator's frames, with its notes (span, newer figures, left out, units); its
    title names the indicator by its short name, the source beside it. phone: the phone's layout (each
    city's name and change above its bar)."""
    return peer_comparison(
        found.standings,
        meta=meta,
        lang=lang,
        indicator=load_indicator_catalogue().get(found.indicator).short(lang),
        unit_text=unit_text(found.indicator, lang),
        source=found.source,
        changes=found.changes,
        per_resident=per_resident(found.indicator),
        left_out=found.left_out,
        reported_units=found.reported_units,
        phone=phone,
    )


def change_ranks(frames: PeerFrames) -> pl.DataFrame:
    """The comparable changes ranked (standings over the `change` values, same direction as the
    indicator): area, rank, peers. Only changes over the one compared span are ranked."""
    entry = load_indicator_catalogue().get(frames.indicator)
    comparable = frames.changes.filter(pl.col("comparable"))
    if comparable.height == 0:
        return pl.DataFrame(schema={"area": pl.Utf8, "rank": pl.Int64, "peers": pl.Int64})
    return standings(
        comparable.select("area", "year", pl.col("change").alias("value")),
        direction=entry.direction,
        home=home_peer().area,
    ).select("area", "rank", "peers")


def standing_rows(engine: Engine, lang: str, shared: dict[Any, Any] | None = None) -> list[list[str]]:
    """Per peer indicator with data: indicator, source, year (and how many peers have newer figures), the
    home city's value, rank of n, its change since the common base year with that change's rank among the
    changes over the same span, and the best peer (frames from `shared` when given)."""
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
        places = rank_decimals(ranked.get_column("value").to_list(), lang)

        # the unit as the chart's axis names it ("t CO₂(e)" where each city chose t CO2 or t CO2e)
        unit = unit_text(indicator, lang) if units_by_city(indicator) else entry.unit

        def shown(value: float, places: int = places, unit: str = unit) -> str:
            return format_quantity(value, unit, lang, places)  # "91.9%" en, "91,9 %" fi/sv, "2.1 t CO₂e …"

        mine = ranked.filter(pl.col("area") == home).row(0, named=True)
        best = ranked.row(0, named=True)
        change_cell = "–"
        trend = found.changes
        if trend.filter(pl.col("area") == home).height:
            own = trend.filter(pl.col("area") == home).row(0, named=True)
            ranks = change_ranks(found).filter(pl.col("area") == home)
            ranked_change = bool(own["comparable"] and ranks.height and int(ranks["peers"][0]) > 1)
            estimated = bool(own.get("base_estimated"))
            # a ranked change says an estimated base in its rank's bracket: "… (1990: estimate; rank 3 of 19)"
            change_cell = change_text(
                {**own, "base_estimated": estimated and not ranked_change},
                lang,
                per_resident=per_resident(indicator),
            )
            if ranked_change:
                change_cell = t(
                    "peers.change_ranked_base_estimated" if estimated else "peers.change_ranked",
                    lang,
                    change=change_cell,
                    rank=ranks["rank"][0],
                    n=ranks["peers"][0],
                    year=own["base_year"],
                )
        newer = ranked.filter(pl.col("year") > mine["year"]).height
        # a year the source calls provisional says so, as the indicator's site page does
        year_cell = (
            t("peers.year_provisional", lang, year=mine["year"])
            if (home, int(mine["year"])) in found.provisional
            else str(mine["year"])
        )
        year_cell += f" ({t('peers.newer_count', lang, n=newer)})" if newer else ""
        rows.append(
            [
                indicator_label(indicator, lang),
                t(f"peers.source_{found.source}", lang),
                year_cell,
                shown(mine["value"]),
                t("peers.rank_of", lang, rank=mine["rank"], n=mine["peers"]),
                change_cell,
                f"{names[best['area']].name[lang]} {shown(best['value'])}"  # type: ignore[index]
                + (f" ({best['year']})" if best["year"] != mine["year"] else ""),
            ]
        )
    return rows


def section_snapshot_ids(engine: Engine, shared: dict[Any, Any] | None = None) -> list[int]:
    """The snapshots behind the peer section's two tables (every peer indicator's standings and the home
    city's totals by source), for the report's sources and traceability."""
    ids: set[int] = set()
    for indicator in peer_indicators():
        try:
            ids.update(rd.snapshot_ids_of(shared_peer_frames(engine, indicator, shared).standings))
        except rd.MissingDataError:
            continue
    with contextlib.suppress(rd.MissingDataError):  # no totals yet: nothing of theirs to cite
        ids.update(rd.snapshot_ids_of(rd._values(engine, list(RECONCILED), home_peer().area, "observed")))
    return sorted(ids)


def reconciliation_rows(engine: Engine, lang: str) -> list[list[str]]:
    """The home city's greenhouse-gas totals by source, side by side, each with its accounting boundary."""
    try:
        values = rd._values(engine, list(RECONCILED), home_peer().area, "observed")
    except rd.MissingDataError:
        return []
    found = reconciliation(values.filter(pl.col("year").is_not_null()))
    # the years a source calls provisional say so, as the headline and the charts say of HSY's newest
    provisional = set(
        values.filter(is_provisional(pl.col("flags")) & pl.col("year").is_not_null())
        .select("indicator", "year")
        .iter_rows()
    )

    def cell(indicator: str, value: float, year: int) -> str:
        if (indicator, year) in provisional:
            return f"{format_number(value, lang, 0)} ({t('peers.year_provisional', lang, year=year)})"
        return f"{format_number(value, lang, 0)} ({year})"

    rows = []
    for r in found.iter_rows(named=True):
        indicator = str(r["indicator"])
        common = cell(indicator, r["common_value"], r["common_year"]) if r["common_year"] is not None else "–"
        rows.append(
            [
                indicator_label(indicator, lang),
                t(f"peers.boundary_{indicator}", lang),
                cell(indicator, r["first_value"], r["first_year"]),
                cell(indicator, r["latest_value"], r["latest_year"]),
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
    "change_ranks",
    "change_text",
    "peer_chart",
    "peer_frames",
    "per_resident",
    "reconciliation_rows",
    "reported_units",
    "shared_peer_frames",
    "standing_rows",
    "unit_text",
    "units_by_city",
]
