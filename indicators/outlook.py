"""The outlook to a target: gap, required pace from now, trend projections (OLS and Theil–Sen), budget."""

from __future__ import annotations

import polars as pl

from indicators.trajectory import (
    Direction,
    InsufficientData,
    TrendMethod,
    budget_view,
    fit_trend,
    project,
    required_annual_rate,
    required_linear_change,
    year_target_reached,
)

TREND_METHODS: tuple[TrendMethod, ...] = ("ols", "theil_sen")
OUTLOOK_SCHEMA = pl.Schema(
    {
        "indicator": pl.String(),
        "area": pl.String(),
        "latest_year": pl.Int64(),
        "latest_value": pl.Float64(),
        "target_year": pl.Int64(),
        "target_value": pl.Float64(),
        "gap": pl.Float64(),
        "gap_pct": pl.Float64(),
        "required_rate": pl.Float64(),
        "required_change_per_year": pl.Float64(),
        "method": pl.String(),
        "status": pl.String(),
        "reason": pl.String(),
        "slope_per_year": pl.Float64(),
        "n_points": pl.Int64(),
        "projected_value": pl.Float64(),
        "projected_lower": pl.Float64(),
        "projected_upper": pl.Float64(),
        "year_reached": pl.Int64(),
        "path_total": pl.Float64(),
        "trend_total": pl.Float64(),
        "overshoot": pl.Float64(),
    }
)


def outlook(
    values: pl.DataFrame,
    direction: Direction = "decrease",
    bounds: tuple[float | None, float | None] = (None, None),
) -> pl.DataFrame:
    """For each (indicator, area) with observed values and a later target: one row per trend method.

    `values` is a frame like kestava.api.indicator_values (indicator, area, kind, year, value). The
    target is the first target after the latest observation. Columns: latest and target (year, value),
    gap (units and % of latest), required compound rate and linear change per year from now on, the
    trend's projected target-year value with its 95 % band (cut at the quantity's `bounds`,
    catalogue Indicator.value_bounds), the year the trend reaches the target,
    remaining cumulative amounts under the path and under the trend, and status ok or
    insufficient_data with the reason (fewer than 5 yearly values: never a guess). OUTLOOK_SCHEMA, also
    when there is no row.
    """
    rows: list[dict[str, object]] = []
    annual = values.filter(pl.col("year").is_not_null())
    observed = annual.filter(pl.col("kind") == "observed", pl.col("value").is_not_null())
    targets = annual.filter(pl.col("kind") == "target")
    for (indicator, area), series in observed.partition_by(["indicator", "area"], as_dict=True).items():
        points = series.sort("year").select("year", "value")
        latest_year, latest_value = points.row(-1)
        ahead = targets.filter(
            pl.col("indicator") == indicator, pl.col("area") == area, pl.col("year") > latest_year
        ).sort("year")
        if ahead.height == 0:
            continue
        target_year, target_value = ahead.select("year", "value").row(0)
        years = target_year - latest_year
        try:
            rate: float | None = required_annual_rate(latest_value, target_value, years)
        except ValueError:
            rate = None  # a zero or sign-changing target has no compound rate
        common = {
            "indicator": indicator,
            "area": area,
            "latest_year": latest_year,
            "latest_value": latest_value,
            "target_year": target_year,
            "target_value": target_value,
            "gap": latest_value - target_value,
            "gap_pct": (latest_value - target_value) / latest_value * 100 if latest_value else None,
            "required_rate": rate,
            "required_change_per_year": required_linear_change(latest_value, target_value, years),
        }
        for method in TREND_METHODS:
            fit = fit_trend(points, method=method)
            if isinstance(fit, InsufficientData):
                rows.append({**common, "method": method, "status": "insufficient_data", "reason": fit.reason})
                continue
            projection = project(fit, target_year, bounds=bounds)
            budget = budget_view(points, target_year=target_year, target_value=target_value, method=method)
            rows.append(
                {
                    **common,
                    "method": method,
                    "status": "ok",
                    "reason": None,
                    "slope_per_year": fit.slope,
                    "n_points": fit.n_points,
                    "projected_value": projection.value,
                    "projected_lower": projection.lower,
                    "projected_upper": projection.upper,
                    "year_reached": year_target_reached(fit, target_value, direction),
                    "path_total": budget.path_total,
                    "trend_total": budget.trend_total,
                    "overshoot": budget.overshoot,
                }
            )
    return pl.DataFrame(rows, schema=OUTLOOK_SCHEMA)
