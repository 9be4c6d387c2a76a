"""Assessments as of an earlier data vintage, and why a status changed: new data or revised history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import polars as pl
from sqlalchemy import Engine

from indicators.catalogue import IndicatorCatalogue, load_indicator_catalogue
from indicators.engine import assessments, derive_for

KEYS = ["indicator", "area", "method"]


def assess_as_of(
    engine: Engine,
    as_of: date | datetime | None,
    indicators: Sequence[str] | None = None,
    catalogue: IndicatorCatalogue | None = None,
) -> pl.DataFrame:
    """Assess with the data the tracker held at `as_of` (None: current data); nothing is stored."""
    catalogue = catalogue or load_indicator_catalogue()
    assessed = [i for i in catalogue.indicators if catalogue.get(i).assess]
    wanted = list(indicators) if indicators is not None else assessed  # [] is none of them
    derived, _errors = derive_for(engine, catalogue, wanted, as_of)
    return assessments(catalogue, derived)


def values_as_of(
    engine: Engine,
    as_of: date | datetime,
    indicators: Sequence[str],
    catalogue: IndicatorCatalogue | None = None,
) -> pl.DataFrame:
    """The indicators' own values (indicator, area, period, value, unit, flags, snapshot_ids, vintage) as
    derived from the data the tracker held at `as_of`: what an assessment of that vintage was made from,
    as the observations keep every version with the time it was fetched (valid_from, valid_to)."""
    derived, _errors = derive_for(engine, catalogue or load_indicator_catalogue(), list(indicators), as_of)
    frames = [frame for frame in derived.values() if frame.height]
    if not frames:
        return pl.DataFrame(
            schema={
                "indicator": pl.String(),
                "area": pl.String(),
                "unit": pl.String(),
                "snapshot_ids": pl.List(pl.Int64()),
                "vintage": pl.Datetime("us"),
            }
        )
    return pl.concat(frames, how="diagonal_relaxed")


def explain_changes(
    engine: Engine,
    before: date | datetime,
    after: date | datetime | None = None,
    indicators: Sequence[str] | None = None,
    catalogue: IndicatorCatalogue | None = None,
    areas: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Statuses that differ between two vintages, each with its cause; only `areas` when given (the
    values are derived for every area, as totals need them, but assessed for those areas only).

    The cause is found by re-assessing the newer vintage restricted to the periods the older one had:
    if that alone changes the status, history was revised; if adding the newer periods changes it
    (again), new data did; both can hold. Columns: indicator, area, method, status_before,
    status_after, status_on_old_periods, cause.
    """
    catalogue = catalogue or load_indicator_catalogue()
    assessed = [i for i in catalogue.indicators if catalogue.get(i).assess]
    wanted = list(indicators) if indicators is not None else assessed  # [] is none of them
    empty = pl.DataFrame(
        schema={
            c: pl.String() for c in [*KEYS, "status_before", "status_after", "status_on_old_periods", "cause"]
        }
    )
    keep = pl.col("area").is_in(list(areas)) if areas is not None else pl.lit(True)
    old_derived, _ = derive_for(engine, catalogue, wanted, before)
    old_derived = {i: frame.filter(keep) for i, frame in old_derived.items()}
    old = assessments(catalogue, old_derived)
    if old.height == 0:  # nothing was assessed before (a first run): no status can have changed
        return empty
    new_derived, _ = derive_for(engine, catalogue, wanted, after)
    new_derived = {i: frame.filter(keep) for i, frame in new_derived.items()}
    new = assessments(catalogue, new_derived)
    restricted = {}
    for indicator_id, frame in new_derived.items():
        periods = old_derived.get(indicator_id)
        if periods is None:
            continue
        known = periods.filter(pl.col("value").is_not_null()).select("indicator", "area", "period")
        restricted[indicator_id] = frame.join(known, on=["indicator", "area", "period"], how="semi")
    on_old_periods = assessments(catalogue, restricted)
    if new.height == 0:
        return empty
    merged = (
        new.select(*KEYS, pl.col("status").alias("status_after"))
        .join(old.select(*KEYS, pl.col("status").alias("status_before")), on=KEYS, how="left")
        .join(
            on_old_periods.select(*KEYS, pl.col("status").alias("status_on_old_periods")), on=KEYS, how="left"
        )
        .filter(pl.col("status_after").ne_missing(pl.col("status_before")))
    )
    revised = pl.col("status_on_old_periods").ne_missing(pl.col("status_before"))
    new_data = pl.col("status_after").ne_missing(pl.col("status_on_old_periods"))
    cause = (
        pl.when(pl.col("status_before").is_null())
        .then(pl.lit("newly assessed"))
        .when(revised & new_data)
        .then(pl.lit("new data and revised history"))
        .when(revised)
        .then(pl.lit("revised history"))
        .otherwise(pl.lit("new data"))
    )
    return (
        merged.with_columns(cause.alias("cause"))
        .select(*KEYS, "status_before", "status_after", "status_on_old_periods", "cause")
        .sort(KEYS)
    )
