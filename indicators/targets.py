"""Targets by rule: derived from the same data release they are measured against, never typed in."""

from __future__ import annotations

import polars as pl

from indicators.catalogue import AbsoluteTarget, ChangeDerivation, Indicator, ReductionTarget
from indicators.trajectory import target_from_base_expr

TARGET_SCHEMA = pl.Schema(
    {
        "indicator": pl.String(),
        "area": pl.String(),
        "kind": pl.String(),
        "year": pl.Int64(),
        "value": pl.Float64(),
        "base_year": pl.Int64(),
        "base_value": pl.Float64(),
        "reduction": pl.Float64(),
        "source": pl.String(),
        "snapshot_ids": pl.List(pl.Int64()),
        "vintage": pl.Datetime("us"),
    }
)


def _reduced(base: pl.Expr, reduction: float, *, change: bool) -> pl.Expr:
    """The base value reduced (target_from_base_expr); of a % change on a base year, its level (100 + the
    change, the base year being 100) reduced, as a change again."""
    if change:
        return target_from_base_expr(base + 100.0, pl.lit(reduction)) - 100.0
    return target_from_base_expr(base, pl.lit(reduction))


def targets_frame(indicator: Indicator, observed: pl.DataFrame) -> pl.DataFrame:
    """Every target of the indicator for every area it applies to.

    A reduction target is value(base_year) × (1 − reduction) of the same series, computed as
    trajectory.target_from_base does (the one derivation: 1060 → 212.0, not 211.99999999999994); an
    area without a base-year value gets no target (never a guess). On a series that is itself the % change
    on a fixed base year (ghg_change_on_1990) the same commitment is the change it means: the level
    100 + value(base_year) reduced, less 100 (−80 % on 1990 is −80.0 on the 1990 series, whose 1990 value
    is 0); its base value is the series' own. Absolute targets apply to the listed areas, or to every area
    the indicator has.
    """
    series = observed.filter(pl.col("indicator") == indicator.id)
    change = isinstance(
        indicator.derive, ChangeDerivation
    )  # a % change on a fixed base (the catalogue's check)
    parts = []
    for target in indicator.targets:
        scoped = series if target.areas is None else series.filter(pl.col("area").is_in(target.areas))
        if isinstance(target, ReductionTarget):
            base = scoped.filter(pl.col("period") == str(target.base_year), pl.col("value").is_not_null())
            parts.append(
                base.select(
                    pl.lit(indicator.id).alias("indicator"),
                    "area",
                    pl.lit(target.kind).alias("kind"),
                    pl.lit(target.year, dtype=pl.Int64).alias("year"),
                    _reduced(pl.col("value"), target.reduction, change=change).alias("value"),
                    pl.lit(target.base_year, dtype=pl.Int64).alias("base_year"),
                    pl.col("value").alias("base_value"),
                    pl.lit(target.reduction).alias("reduction"),
                    pl.lit(target.source).alias("source"),
                    "snapshot_ids",
                    "vintage",
                )
            )
        elif isinstance(target, AbsoluteTarget):
            areas = scoped.group_by("area").agg(
                pl.col("snapshot_ids").list.explode(keep_nulls=False, empty_as_null=False).unique().sort(),
                pl.col("vintage").max(),
            )
            parts.append(
                areas.select(
                    pl.lit(indicator.id).alias("indicator"),
                    "area",
                    pl.lit(target.kind).alias("kind"),
                    pl.lit(target.year, dtype=pl.Int64).alias("year"),
                    pl.lit(target.value).alias("value"),
                    pl.lit(None, dtype=pl.Int64).alias("base_year"),
                    pl.lit(None, dtype=pl.Float64).alias("base_value"),
                    pl.lit(None, dtype=pl.Float64).alias("reduction"),
                    pl.lit(target.source).alias("source"),
                    "snapshot_ids",
                    "vintage",
                )
            )
    if not parts:
        return pl.DataFrame(schema=TARGET_SCHEMA)
    return pl.concat([p.cast(TARGET_SCHEMA) for p in parts]).sort("area", "year")
