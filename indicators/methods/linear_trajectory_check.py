"""Linear trajectory check (``linear_trajectory_check``).

Source: none beyond the definition below; the straight line from the base value to the target is the
tracker's own check, not a published assessment method.

Is the latest value at or better than the straight line from the base value to the target?

Give ``target`` or ``reduction`` (then target = base value × (1 − reduction), from the same series).
Base = ``base_year`` or the next available year (warning). The path value in the latest year is
``base·(1 − f) + target·f``, f = (latest − base)/(target_year − base), held at the target after the
target year. gap = latest − path (units), gap_pct = gap/path·100; ratio = share of the path's change
achieved, (latest − base)/(path − base). The direction defaults to 'increase' when the target is
above the base value, else 'decrease'. observed/required rates are the CAGRs base→latest and
base→target where defined (None for zero or sign-changing values).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import polars as pl

from indicators.methods.common import (
    _NULL_F,
    _REQUIRED,
    INSUFFICIENT,
    MSG_NO_BASE,
    MSG_NO_OBS,
    MSG_SPAN,
    MSG_TARGET_YEAR_BASE,
    Assessment,
    MethodSpec,
    _compound_expr,
    _dsign,
    _param,
    _substitution,
    _symbol,
    _warnings,
    _window,
    c,
)
from indicators.trajectory import (
    Direction,
    SeriesLike,
    compound_rate,
    direction_sign,
    reaches,
    reaches_expr,
    target_from_base,
    target_from_base_expr,
    to_points,
)

METHOD = "linear_trajectory_check"
VERSION = "linear-path/1"


class LinearStatus(StrEnum):
    """Position of the latest value relative to the straight line from base to target."""

    ON_PATH = "on_path"
    BEHIND_PATH = "behind_path"
    INSUFFICIENT_DATA = INSUFFICIENT


class LinearAssessment(Assessment):
    """Linear-trajectory check result."""

    status: LinearStatus


#: Ordinal rank of every status, worst = 0 (``insufficient_data`` has no rank).
RANK: dict[str, int] = {"behind_path": 0, "on_path": 1}

#: The symbol of every status.
SYMBOL: dict[str, str] = {"on_path": "✓", "behind_path": "✗", INSUFFICIENT: "·"}

LINEAR_MIN_SPAN = 1

#: Method-specific columns of ``assess_frame`` (the same keys as ``Assessment.details``).
DETAILS: list[str] = ["reduction", "path_value", "gap", "gap_pct", "span"]

#: The parameters that may be columns of the frame (or keywords) and their defaults.
FRAME_PARAMS: dict[str, Any] = {
    "base_year": _REQUIRED,
    "target": None,
    "reduction": None,
    "target_year": _REQUIRED,
    "direction": None,
}
#: Keyword-only parameters of the frame form and their defaults.
FRAME_SCALARS: dict[str, Any] = {}


# --------------------------------------------------------------------------------------------------
# Scalar form
# --------------------------------------------------------------------------------------------------


def _compound(start: float | None, end: float | None, years: int | None) -> float | None:
    if start is None or end is None or years is None or years <= 0:
        return None
    if start == 0 or end == 0 or (start > 0) != (end > 0):
        return None
    return compound_rate(end / start, years)


def linear_trajectory_check(
    series: SeriesLike,
    *,
    base_year: int,
    target: float | None = None,
    reduction: float | None = None,
    target_year: int,
    direction: Direction | None = None,
) -> LinearAssessment:
    """Is the latest value at or better than the straight line from the base value to the target?

    The definition, its source and the tracker's departures from it are in the module docstring.
    """
    if (target is None) == (reduction is None):
        raise ValueError("give exactly one of target and reduction")
    target = None if target is None else float(target)
    reduction = None if reduction is None else float(reduction)
    if direction is not None:
        direction_sign(direction)
    w = _window(to_points(series), base_year)
    warnings = w.substitution()
    lv, bv = w.latest_value, w.base_value
    tgt = (
        target
        if target is not None
        else (None if bv is None or reduction is None else target_from_base(bv, reduction))
    )
    if direction is None:
        direction = "increase" if tgt is not None and bv is not None and tgt > bv else "decrease"
    d = direction_sign(direction)
    span = w.span
    enough = span is not None and span >= LINEAR_MIN_SPAN
    horizon = None if w.base_year is None else target_year - w.base_year
    path: float | None = None
    gap: float | None = None
    gap_pct: float | None = None
    ratio: float | None = None
    if enough and horizon is not None and horizon > 0:
        assert bv is not None and lv is not None and tgt is not None and span is not None
        fraction = min(span, horizon) / horizon
        path = bv * (1.0 - fraction) + tgt * fraction
        gap = lv - path
        gap_pct = gap / path * 100.0 if path != 0 else None
        ratio = (lv - bv) / (path - bv) if path != bv else None
    observed = _compound(bv, lv, span) if enough else None
    required = _compound(bv, tgt, horizon) if enough else None
    status: LinearStatus
    reason: str | None = None
    if lv is None:
        status, reason = LinearStatus.INSUFFICIENT_DATA, MSG_NO_OBS
    elif w.base_year is None:
        status, reason = LinearStatus.INSUFFICIENT_DATA, MSG_NO_BASE.format(base_year)
    elif not enough:
        status, reason = LinearStatus.INSUFFICIENT_DATA, MSG_SPAN.format(LINEAR_MIN_SPAN, span)
    elif horizon is None or horizon <= 0:
        status, reason = LinearStatus.INSUFFICIENT_DATA, MSG_TARGET_YEAR_BASE.format(target_year, w.base_year)
    else:
        assert path is not None
        on_path = reaches(lv, path, d, w.decimals)
        status = LinearStatus.ON_PATH if on_path else LinearStatus.BEHIND_PATH
    if reason is not None:
        warnings.append(reason)
    return LinearAssessment(
        method="linear_trajectory_check",
        version=VERSION,
        direction=direction,
        requested_base_year=base_year,
        base_year=w.base_year,
        base_value=bv,
        latest_year=w.latest_year,
        latest_value=lv,
        target_year=target_year,
        target_value=tgt,
        observed_rate=observed,
        required_rate=required,
        ratio=ratio,
        measure=gap,
        thresholds={"min_span": float(LINEAR_MIN_SPAN)},
        status=status,
        symbol=SYMBOL[status],
        score=None,
        n_points=w.n_points,
        warnings=tuple(warnings),
        details={"reduction": reduction, "path_value": path, "gap": gap, "gap_pct": gap_pct, "span": span},
    )


# --------------------------------------------------------------------------------------------------
# Frame form
# --------------------------------------------------------------------------------------------------


def _frame_linear(g: pl.LazyFrame) -> pl.LazyFrame:
    lv, bv = c("latest_value"), c("base_value")
    g = g.with_columns(
        target_value=pl.when(c("target").is_not_null())
        .then(c("target"))
        .otherwise(target_from_base_expr(bv, c("reduction"))),
        span=c("latest_year") - c("base_year"),
        horizon=c("target_year") - c("base_year"),
    )
    tgt = c("target_value")
    g = g.with_columns(
        direction=pl.when(c("direction").is_not_null())
        .then(c("direction"))
        .when(tgt > bv)
        .then(pl.lit("increase"))
        .otherwise(pl.lit("decrease")),
    ).with_columns(d=_dsign())
    enough = c("span") >= LINEAR_MIN_SPAN
    ahead = enough & (c("horizon") > 0)
    fraction = pl.min_horizontal(c("span"), c("horizon")) / c("horizon")
    g = g.with_columns(path_value=pl.when(ahead).then(bv * (1.0 - fraction) + tgt * fraction))
    g = g.with_columns(gap=lv - c("path_value"))
    g = g.with_columns(
        gap_pct=pl.when(c("path_value") != 0).then(c("gap") / c("path_value") * 100.0),
        ratio=pl.when(c("path_value") != bv).then((lv - bv) / (c("path_value") - bv)),
    )

    def compound(end: pl.Expr, years: pl.Expr) -> pl.Expr:
        defined = enough & (years > 0) & (bv != 0) & (end != 0) & ((bv > 0) == (end > 0))
        return pl.when(defined).then(_compound_expr(end / bv, years))

    reason = (
        pl.when(lv.is_null())
        .then(pl.lit(MSG_NO_OBS))
        .when(c("base_year").is_null())
        .then(pl.format(MSG_NO_BASE, c("requested_base_year")))
        .when(~enough)
        .then(pl.format(MSG_SPAN, pl.lit(LINEAR_MIN_SPAN), c("span")))
        .when(c("horizon") <= 0)
        .then(pl.format(MSG_TARGET_YEAR_BASE, c("target_year"), c("base_year")))
    )
    status = (
        pl.when(c("reason").is_not_null() | c("path_value").is_null())
        .then(pl.lit(INSUFFICIENT))
        .when(reaches_expr(lv, c("path_value"), c("d"), c("decimals")))
        .then(pl.lit("on_path"))
        .otherwise(pl.lit("behind_path"))
    )
    g = g.with_columns(
        reason=reason,
        observed_rate=compound(lv, c("span")),
        required_rate=compound(tgt, c("horizon")),
    ).with_columns(status=status)
    return g.with_columns(
        _symbol(SYMBOL),
        _warnings(_substitution(), c("reason")),
        measure=c("gap"),
        score=_NULL_F,
    )


def _requested(scalars: dict[str, Any]) -> pl.Expr:
    """The requested base year of every series: its ``base_year`` parameter."""
    return _param(FRAME_PARAMS, "base_year")


def _frame(g: pl.LazyFrame, scalars: dict[str, Any]) -> pl.LazyFrame:
    missing = g.filter(c("target").is_null() & c("reduction").is_null()).head(1).collect()
    if missing.height:
        raise ValueError("every group needs a target or a reduction")
    return _frame_linear(g)


def _engine_columns() -> list[pl.Expr]:
    """The straight path runs from the base year to the target."""
    return [pl.col("target"), pl.col("target_year"), pl.col("base_year")]


SPEC = MethodSpec(
    method=METHOD,
    version=VERSION,
    scalar=linear_trajectory_check,
    status_rank=RANK,
    symbols=SYMBOL,
    detail_columns=DETAILS,
    frame_params=FRAME_PARAMS,
    requested=_requested,
    frame=_frame,
    frame_scalars=FRAME_SCALARS,
    needs_target=True,
    engine_columns=_engine_columns,
)
