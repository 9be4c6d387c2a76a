"""Where the home city stands among its European peers: ranks within one source, totals across sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import polars as pl

from common.units import conversion_factor
from indicators.catalogue import load_indicator_catalogue
from ingest.peers import home_peer, load_peers

Direction = Literal["decrease", "increase"]

# Espoo's greenhouse-gas totals as each source counts them, in the order the reconciliation shows them:
# HSY (the target's own series), Syke ALas, OECD (modelled, harmonised), Covenant of Mayors (self-reported).
RECONCILED: Final[tuple[str, ...]] = (
    "ghg_total",
    "syke_ghg_total",
    "peer_ghg_total_oecd",
    "peer_ghg_total_covenant",
)
RECONCILED_UNIT: Final = "kt CO2e"

STANDINGS_COLUMNS: Final[tuple[str, ...]] = ("area", "year", "value", "rank", "peers", "is_home")


# How many years before the home city's latest year a peer's latest value may lie and still be ranked:
# OECD models every city for the same years (0); cities report to Eurostat and to the Covenant of Mayors
# when they choose, so their latest figures are of different years (each row keeps its own year).
YEAR_WINDOW: Final[dict[str, int]] = {"oecd": 0, "urban_audit": 3, "covenant": 4, "cdp": 2}


def standings(
    values: pl.DataFrame, *, direction: Direction, home: str, year: int | None = None, window: int = 0
) -> pl.DataFrame:
    """The peers' values, ranked: rank 1 is the best in the indicator's desired direction.

    values: area, year, value (one source, one method). The year is `year`, else the latest year in which
    the home city has a value; each peer's latest value from that year back to `window` years before it
    is ranked (window 0: that year only), keeping its own year, and `peers` counts the peers ranked. Ties
    share the better rank. Empty when the home city has no value at all.
    """
    present = values.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
    if year is None:
        home_years = present.filter(pl.col("area") == home).get_column("year")
        if home_years.len() == 0:
            return pl.DataFrame(
                schema={
                    "area": pl.Utf8,
                    "year": pl.Int64,
                    "value": pl.Float64,
                    "rank": pl.Int64,
                    "peers": pl.Int64,
                    "is_home": pl.Boolean,
                }
            )
        year = int(home_years.max())  # type: ignore[arg-type]
    in_window = present.filter(pl.col("year").is_between(year - window, year))
    if window == 0 and in_window.select(pl.col("area").is_duplicated().any()).item():
        raise ValueError(f"peer standings: an area has several values in {year}; one per area expected")
    latest = in_window.sort("year").group_by("area", maintain_order=True).last()
    ranked = pl.col("value").rank(method="min", descending=direction == "increase").cast(pl.Int64)
    return (
        latest.select(
            pl.col("area"),
            pl.col("year").cast(pl.Int64),
            pl.col("value").cast(pl.Float64),
            ranked.alias("rank"),
            pl.len().cast(pl.Int64).alias("peers"),
            (pl.col("area") == home).alias("is_home"),
        )
        .sort("rank", "area")
        .select(STANDINGS_COLUMNS)
    )


def changes(values: pl.DataFrame, ranked: pl.DataFrame) -> pl.DataFrame:
    """Each ranked peer's change, in per cent, from its first year in this source to the year it is ranked
    with: the trend beside the rank (OECD's series all start in 1990; a Covenant signatory's first
    inventory is its own baseline).

    values: area, year, value; ranked: standings (area, year). A peer whose first year is its ranked year,
    or whose first value is zero, has no row. Columns: area, base_year, change.
    """
    present = values.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan()).sort("year")
    first = present.group_by("area").agg(
        pl.col("year").first().cast(pl.Int64).alias("base_year"), pl.col("value").first().alias("base")
    )
    latest = ranked.select("area", pl.col("year").alias("ranked_year"), pl.col("value").alias("latest"))
    return (
        first.join(latest, on="area", how="inner")
        .filter((pl.col("base_year") < pl.col("ranked_year")) & (pl.col("base") != 0))
        .select(
            "area",
            "base_year",
            ((pl.col("latest") / pl.col("base") - 1) * 100).alias("change"),
        )
        .sort("area")
    )


def peer_indicators() -> list[str]:
    """The catalogue's peer-comparison indicators, in display order."""
    catalogue = load_indicator_catalogue()
    found = [i.id for i in catalogue.indicators.values() if i.peers is not None]
    return sorted(found, key=catalogue.display_key)


def peer_areas() -> list[str]:
    """Every peer city's area code, the home city first."""
    home = home_peer().area
    return [home, *(peer.area for peer in load_peers() if peer.area != home)]


def reconciliation(values: pl.DataFrame, indicators: Sequence[str] = RECONCILED) -> pl.DataFrame:
    """The home city's greenhouse-gas totals by source, side by side: one row per source.

    values: indicator, area, year, value, unit (observed values; other areas are ignored). Each row gives the
    source's indicator, its accounting boundary, its first and latest year with their values, the value in the
    latest year every listed source has (`common_year`, null if none), all in kt CO2e. A source without data
    for the home city is left out.
    """
    catalogue = load_indicator_catalogue()
    home = home_peer().area
    rows = []
    frames = {}
    for indicator in indicators:
        found = values.filter(
            (pl.col("indicator") == indicator) & (pl.col("area") == home) & pl.col("value").is_not_null()
        ).sort("year")
        if found.height == 0:
            continue
        units = found.get_column("unit").unique().to_list()
        if len(units) != 1:
            raise ValueError(f"reconciliation: {indicator} for {home} has several units {units}")
        factor = conversion_factor(units[0], RECONCILED_UNIT)
        frames[indicator] = found.select("year", (pl.col("value") * factor).alias("value"))
    if not frames:
        return pl.DataFrame(
            schema={
                "indicator": pl.Utf8,
                "boundary": pl.Utf8,
                "first_year": pl.Int64,
                "first_value": pl.Float64,
                "latest_year": pl.Int64,
                "latest_value": pl.Float64,
                "common_year": pl.Int64,
                "common_value": pl.Float64,
            }
        )
    shared = set.intersection(*(set(frame.get_column("year").to_list()) for frame in frames.values()))
    common_year = max(shared) if shared and len(frames) > 1 else None
    for indicator, frame in frames.items():
        first, latest = frame.row(0, named=True), frame.row(-1, named=True)
        common = (
            frame.filter(pl.col("year") == common_year).get_column("value").item()
            if common_year is not None
            else None
        )
        rows.append(
            {
                "indicator": indicator,
                "boundary": catalogue.get(indicator).boundary,
                "first_year": int(first["year"]),
                "first_value": float(first["value"]),
                "latest_year": int(latest["year"]),
                "latest_value": float(latest["value"]),
                "common_year": common_year,
                "common_value": common,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"common_year": pl.Int64, "common_value": pl.Float64})
