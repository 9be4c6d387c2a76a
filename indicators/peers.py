"""Where the home city stands among its European peers: ranks within one source, totals across sources."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final, Literal

import polars as pl

from common.units import conversion_factor
from indicators.catalogue import IndicatorCatalogue, load_indicator_catalogue
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
CHANGES_COLUMNS: Final[tuple[str, ...]] = ("area", "base_year", "year", "change", "comparable")


# How many years before the newest year the source has for any peer a peer's latest value may lie and
# still be compared (the recency limit): OECD models every city for the same years (0); cities report to
# Eurostat and to the Covenant of Mayors when they choose, so their latest figures are of different years
# (each row keeps its own year).
YEAR_WINDOW: Final[dict[str, int]] = {"oecd": 0, "urban_audit": 3, "covenant": 4, "cdp": 2}

_EMPTY_STANDINGS: Final = {
    "area": pl.Utf8,
    "year": pl.Int64,
    "value": pl.Float64,
    "rank": pl.Int64,
    "peers": pl.Int64,
    "is_home": pl.Boolean,
}


def _present(values: pl.DataFrame) -> pl.DataFrame:
    return values.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())


def standings(
    values: pl.DataFrame,
    *,
    direction: Direction,
    home: str,
    year: int | None = None,
    window: int = 0,
    unranked: Collection[str] = (),
) -> pl.DataFrame:
    """The peers' latest values, ranked: rank 1 is the best in the indicator's desired direction.

    values: area, year, value (one source, one method). Every area's latest value is compared, keeping
    its own year, if that year lies within `window` years of the newest year in `values` (or of `year`,
    when given: later values are then left out). The newest year is the source's, not the home city's:
    a peer that has published a newer figure is compared on it (the chart marks its year), and when the
    home city stops reporting the comparison still moves on; the home city itself is always shown, on
    its latest value however old. Areas in `unranked` (e.g. a figure in another unit) are shown with a
    null rank and not counted. `peers` counts the cities ranked, the home city among them. Ties share
    the better rank. Empty when the home city has no value at all.
    """
    present = _present(values)
    if year is not None:
        present = present.filter(pl.col("year") <= year)
    if present.filter(pl.col("area") == home).height == 0:
        return pl.DataFrame(schema=_EMPTY_STANDINGS)
    newest = int(present.get_column("year").max()) if year is None else year  # type: ignore[arg-type]
    if present.select(pl.struct("area", "year").is_duplicated().any()).item():
        raise ValueError(
            "peer standings: an area has several values in one year; one per area and year expected"
        )
    latest = present.sort("year").group_by("area", maintain_order=True).last()
    shown = latest.filter((pl.col("year") >= newest - window) | (pl.col("area") == home))
    is_ranked = ~pl.col("area").is_in(list(unranked))
    ranked = (
        pl.when(is_ranked)
        .then(pl.col("value").rank(method="min", descending=direction == "increase").over(is_ranked))
        .cast(pl.Int64)
    )
    return (
        shown.select(
            pl.col("area"),
            pl.col("year").cast(pl.Int64),
            pl.col("value").cast(pl.Float64),
            ranked.alias("rank"),
            is_ranked.sum().cast(pl.Int64).alias("peers"),
            (pl.col("area") == home).alias("is_home"),
        )
        .sort(
            pl.col("rank").is_null(),
            "rank",
            "value",
            "area",
            descending=[False, False, direction == "increase", False],
        )
        .select(STANDINGS_COLUMNS)
    )


def left_out(values: pl.DataFrame, ranked: pl.DataFrame, areas: Sequence[str]) -> pl.DataFrame:
    """The peers of `areas` the standings do not show, and why: area, latest_year (null: the source has
    no value of theirs at all; else their latest figure is older than the recency limit)."""
    latest = _present(values).group_by("area").agg(pl.col("year").max().cast(pl.Int64).alias("latest_year"))
    missing = [a for a in areas if a not in set(ranked.get_column("area").to_list())]
    return (
        pl.DataFrame({"area": missing}, schema={"area": pl.Utf8})
        .join(latest, on="area", how="left")
        .select("area", "latest_year")
    )


def common_base_year(values: pl.DataFrame, ranked: pl.DataFrame, home: str) -> int | None:
    """The base year the peers' changes are measured and ranked from: one year for all.

    Among the years before the home city's ranked year in which the home city has a value, the one in
    which the most peers ranked on the same year as the home city also have a value (ties: the earliest,
    the longest span). Changes over different spans (Espoo since 1990, a city since its 2005 baseline)
    say different things and are not ranked against each other; with one base year and one end year every
    ranked change covers the same span. None when the home city has a single year.
    """
    present = _present(values)
    mine = ranked.filter(pl.col("area") == home)
    if mine.height == 0:
        return None
    end = int(mine.get_column("year").item())
    candidates: list[int] = sorted(
        present.filter((pl.col("area") == home) & (pl.col("year") < end))
        .get_column("year")
        .unique()
        .to_list()
    )
    if not candidates:
        return None
    same_end = ranked.filter(
        (pl.col("year") == end) & (pl.col("area") != home) & pl.col("rank").is_not_null()
    )
    at = present.filter(pl.col("area").is_in(same_end.get_column("area").to_list()))
    counts = {c: at.filter(pl.col("year") == c).height for c in candidates}
    best = max(counts.values())
    return int(min(c for c in candidates if counts[c] == best))


def changes(values: pl.DataFrame, ranked: pl.DataFrame, home: str, *, points: bool = False) -> pl.DataFrame:
    """Each shown peer's change, in per cent, to the year it is ranked on: the trend beside the rank; with
    `points` (the indicator is itself a percentage) in percentage points, as a change of a share is read.

    The change runs from the common base year (common_base_year) where the peer has a value then; it is
    `comparable` (may be ranked against the home city's) only when it also ends in the home city's year,
    so every comparable change covers the same span. A peer without a value in the base year gets its
    change from its own first year, shown but not comparable (marked, unranked). A peer with one year
    only, an unranked row, or a zero base value (in per cent) has no row. Columns: area, base_year, year,
    change, comparable, points.
    """
    present = _present(values)
    base_year = common_base_year(values, ranked, home)
    mine = ranked.filter(pl.col("area") == home)
    end = int(mine.get_column("year").item()) if mine.height else None
    rows = []
    for r in ranked.filter(pl.col("rank").is_not_null()).iter_rows(named=True):
        area, year = str(r["area"]), int(r["year"])
        own = present.filter((pl.col("area") == area) & (pl.col("year") < year)).sort("year")
        if own.height == 0:
            continue
        at_base = own.filter(pl.col("year") == base_year) if base_year is not None else own.clear()
        start = at_base.row(0, named=True) if at_base.height else own.row(0, named=True)
        if start["value"] == 0 and not points:
            continue
        rows.append(
            {
                "area": area,
                "base_year": int(start["year"]),
                "year": year,
                "change": float(r["value"]) - float(start["value"])
                if points
                else (float(r["value"]) / float(start["value"]) - 1) * 100,
                "comparable": bool(at_base.height) and year == end,
                "points": points,
            }
        )
    schema = {
        "area": pl.Utf8,
        "base_year": pl.Int64,
        "year": pl.Int64,
        "change": pl.Float64,
        "comparable": pl.Boolean,
        "points": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema).sort("area")


def peer_indicators() -> list[str]:
    """The catalogue's peer-comparison indicators, in display order."""
    catalogue = load_indicator_catalogue()
    found = [i.id for i in catalogue.indicators.values() if i.peers is not None]
    return sorted(found, key=catalogue.display_key)


def comparison_indicators(catalogue: IndicatorCatalogue | None = None) -> frozenset[str]:
    """The indicators that only serve the peer comparison: every indicator with a `peers` source, those it
    is derived from (a ratio's numerator and denominator) and the others read from the same datasets (a
    source's total beside its per-resident figure). The engine makes no projections or nowcasts of these:
    the tracker's trend lines for other cities are not the source's figures (the downloads would name the
    source beside them) and nothing here uses them: peers are compared on observed values only."""
    catalogue = catalogue or load_indicator_catalogue()
    found = {i.id for i in catalogue.indicators.values() if i.peers is not None}
    while True:
        datasets = {
            dataset
            for i in found
            if (dataset := getattr(catalogue.get(i).derive, "dataset", None)) is not None
        }
        parts = {
            part
            for i in found
            for part in (
                getattr(catalogue.get(i).derive, "numerator", None),
                getattr(catalogue.get(i).derive, "denominator", None),
            )
            if part is not None
        }
        grown = (
            found
            | parts
            | {i.id for i in catalogue.indicators.values() if getattr(i.derive, "dataset", None) in datasets}
        )
        if grown == found:
            return frozenset(found)
        found = grown


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
