"""SDSN trend dashboards (``sdsn_trend``).

Source: the trend arrows of the SDSN SDG dashboards (Sustainable Development Solutions Network).

SDSN dashboard trend: pace of the normalised score against the pace needed to reach the threshold.

Score = 100·(x − lower_bound)/(green_threshold − lower_bound), clipped to 0…100, so 100 = the
achievement (green) threshold. ``lower_bound`` defaults to the worst value observed in the series
(the status does not depend on it unless values fall below it and are clipped). Observed pace =
(score_latest − score_base)/(latest − base) with base = ``base_year`` or the next available year;
required pace = (100 − score_base)/(target_year − base). ratio = observed/required: ≥ 1 on track,
≥ 0.5 moderately improving, ≥ 0 stagnating, < 0 decreasing; a latest score of 100 is 'achieved'
(SDSN's "maintaining SDG achievement"). ``red_threshold`` only sets the dashboard colour
(green/yellow/orange/red; yellow and orange split at the midpoint). ``score`` is the latest
normalised score.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import polars as pl

from indicators.methods.common import (
    _NULL_F,
    _NULL_S,
    _REQUIRED,
    INSUFFICIENT,
    MSG_ACHIEVEMENT_LOST,
    MSG_NO_BASE,
    MSG_NO_OBS,
    MSG_SPAN,
    MSG_TARGET_YEAR_BASE,
    Assessment,
    MethodSpec,
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
    direction_sign,
    reaches,
    reaches_expr,
    to_points,
)

METHOD = "sdsn_trend"
VERSION = "sdsn-trend/1"


class SdsnStatus(StrEnum):
    """SDSN dashboard trend categories."""

    ACHIEVED = "achieved"  # SDSN: "maintaining SDG achievement"
    ON_TRACK = "on_track"
    MODERATELY_IMPROVING = "moderately_improving"
    STAGNATING = "stagnating"
    DECREASING = "decreasing"
    INSUFFICIENT_DATA = INSUFFICIENT


class SdsnAssessment(Assessment):
    """SDSN trend-dashboard result."""

    status: SdsnStatus


#: Ordinal rank of every status, worst = 0 (``insufficient_data`` has no rank).
RANK: dict[str, int] = {
    "decreasing": 0,
    "stagnating": 1,
    "moderately_improving": 2,
    "on_track": 3,
    "achieved": 4,
}

#: The symbol of every status.
SYMBOL: dict[str, str] = {
    "achieved": "↑",
    "on_track": "↑",
    "moderately_improving": "↗",
    "stagnating": "→",
    "decreasing": "↓",
    INSUFFICIENT: "·",
}

SDSN_THRESHOLDS = {"on_track": 1.0, "moderately_improving": 0.5, "stagnating": 0.0}
SDSN_MIN_SPAN = 1

#: Method-specific columns of ``assess_frame`` (the same keys as ``Assessment.details``).
DETAILS: list[str] = ["lower_bound", "score_base", "score_latest", "colour", "span"]

#: The parameters that may be columns of the frame (or keywords) and their defaults.
FRAME_PARAMS: dict[str, Any] = {
    "green_threshold": _REQUIRED,
    "red_threshold": None,
    "lower_bound": None,
    "target_year": 2030,
    "base_year": 2015,
    "direction": _REQUIRED,
}
#: Keyword-only parameters of the frame form and their defaults.
FRAME_SCALARS: dict[str, Any] = {}


# --------------------------------------------------------------------------------------------------
# Scalar form
# --------------------------------------------------------------------------------------------------


def _sdsn_normalise(value: float, lower: float, green: float, degenerate: bool) -> float:
    if degenerate:
        return 100.0
    return min(max(100.0 * (value - lower) / (green - lower), 0.0), 100.0)


def _sdsn_colour(value: float, green: float, red: float, d: int) -> str:
    if d * (value - green) >= 0:
        return "green"
    if d * (value - red) < 0:
        return "red"
    if d * (value - (green + red) / 2.0) >= 0:
        return "yellow"
    return "orange"


def sdsn_trend(
    series: SeriesLike,
    *,
    green_threshold: float,
    red_threshold: float | None = None,
    lower_bound: float | None = None,
    target_year: int = 2030,
    base_year: int = 2015,
    direction: Direction,
) -> SdsnAssessment:
    """SDSN dashboard trend: pace of the normalised score against the pace needed to reach the threshold.

    The definition, its source and the tracker's departures from it are in the module docstring.
    """
    d = direction_sign(direction)
    if lower_bound is not None and d * (green_threshold - lower_bound) <= 0:
        raise ValueError("lower_bound must lie on the worse side of green_threshold")
    if red_threshold is not None and d * (green_threshold - red_threshold) <= 0:
        raise ValueError("red_threshold must lie on the worse side of green_threshold")
    points = to_points(series)
    w = _window(points, base_year)
    warnings = w.substitution()
    span = w.span
    enough = span is not None and span >= SDSN_MIN_SPAN
    lower: float | None = None if lower_bound is None else float(lower_bound)
    if lower is None and points:
        values = [v for _, v in points]
        lower = max(values) if d < 0 else min(values)
    degenerate = lower is not None and d * (green_threshold - lower) <= 0
    thresholds = dict(SDSN_THRESHOLDS) | {
        "green_threshold": green_threshold,
        "min_span": float(SDSN_MIN_SPAN),
    }
    if red_threshold is not None:
        thresholds["red_threshold"] = red_threshold
    if lower is not None:
        thresholds["lower_bound"] = lower
    lv, bv = w.latest_value, w.base_value
    score_latest = (
        None if lv is None or lower is None else _sdsn_normalise(lv, lower, green_threshold, degenerate)
    )
    score_base = (
        None if bv is None or lower is None else _sdsn_normalise(bv, lower, green_threshold, degenerate)
    )
    horizon = None if w.base_year is None else target_year - w.base_year
    observed: float | None = None
    required: float | None = None
    ratio: float | None = None
    if enough:
        assert score_latest is not None and score_base is not None and span is not None
        observed = (score_latest - score_base) / span
        if horizon is not None and horizon > 0:
            required = (100.0 - score_base) / horizon
            if required > 0:
                ratio = observed / required
    status: SdsnStatus
    reason: str | None = None
    if lv is None:
        status, reason = SdsnStatus.INSUFFICIENT_DATA, MSG_NO_OBS
    elif w.base_year is None:
        status, reason = SdsnStatus.INSUFFICIENT_DATA, MSG_NO_BASE.format(base_year)
    elif not enough:
        status, reason = SdsnStatus.INSUFFICIENT_DATA, MSG_SPAN.format(SDSN_MIN_SPAN, span)
    elif horizon is None or horizon <= 0:
        status, reason = SdsnStatus.INSUFFICIENT_DATA, MSG_TARGET_YEAR_BASE.format(target_year, w.base_year)
    elif (score_latest is not None and score_latest >= 100.0) or reaches(lv, green_threshold, d, w.decimals):
        status = SdsnStatus.ACHIEVED
    elif ratio is None:
        status, reason = SdsnStatus.DECREASING, MSG_ACHIEVEMENT_LOST
    elif ratio >= thresholds["on_track"]:
        status = SdsnStatus.ON_TRACK
    elif ratio >= thresholds["moderately_improving"]:
        status = SdsnStatus.MODERATELY_IMPROVING
    elif ratio >= thresholds["stagnating"]:
        status = SdsnStatus.STAGNATING
    else:
        status = SdsnStatus.DECREASING
    if reason is not None:
        warnings.append(reason)
    colour = (
        None if red_threshold is None or lv is None else _sdsn_colour(lv, green_threshold, red_threshold, d)
    )
    return SdsnAssessment(
        method="sdsn_trend",
        version=VERSION,
        direction=direction,
        requested_base_year=base_year,
        base_year=w.base_year,
        base_value=bv,
        latest_year=w.latest_year,
        latest_value=lv,
        target_year=target_year,
        target_value=green_threshold,
        observed_rate=observed,
        required_rate=required,
        ratio=ratio,
        measure=ratio,
        thresholds=thresholds,
        status=status,
        symbol=SYMBOL[status],
        score=score_latest,
        n_points=w.n_points,
        warnings=tuple(warnings),
        details={
            "lower_bound": lower,
            "score_base": score_base,
            "score_latest": score_latest,
            "colour": colour,
            "span": span,
        },
    )


# --------------------------------------------------------------------------------------------------
# Frame form
# --------------------------------------------------------------------------------------------------


def _frame_sdsn(g: pl.LazyFrame) -> pl.LazyFrame:
    lv, bv, green = c("latest_value"), c("base_value"), c("green_threshold")
    g = g.with_columns(
        span=c("latest_year") - c("base_year"),
        horizon=c("target_year") - c("base_year"),
        d=_dsign(),
    )
    g = g.with_columns(
        lower_bound=pl.when(c("lower_bound").is_not_null())
        .then(c("lower_bound"))
        .when(c("d") < 0)
        .then(c("value_max"))
        .otherwise(c("value_min")),
    )
    lower = c("lower_bound")
    degenerate = c("d") * (green - lower) <= 0

    def normalise(x: pl.Expr) -> pl.Expr:
        return (
            pl.when(x.is_null() | lower.is_null())
            .then(_NULL_F)
            .when(degenerate)
            .then(100.0)
            .otherwise((100.0 * (x - lower) / (green - lower)).clip(0.0, 100.0))
        )

    enough = c("span") >= SDSN_MIN_SPAN
    g = g.with_columns(score_latest=normalise(lv), score_base=normalise(bv))
    g = g.with_columns(
        observed_rate=pl.when(enough).then((c("score_latest") - c("score_base")) / c("span")),
        required_rate=pl.when(enough & (c("horizon") > 0)).then((100.0 - c("score_base")) / c("horizon")),
    )
    g = g.with_columns(ratio=pl.when(c("required_rate") > 0).then(c("observed_rate") / c("required_rate")))
    reason = (
        pl.when(lv.is_null())
        .then(pl.lit(MSG_NO_OBS))
        .when(c("base_year").is_null())
        .then(pl.format(MSG_NO_BASE, c("requested_base_year")))
        .when(~enough)
        .then(pl.format(MSG_SPAN, pl.lit(SDSN_MIN_SPAN), c("span")))
        .when(c("horizon") <= 0)
        .then(pl.format(MSG_TARGET_YEAR_BASE, c("target_year"), c("base_year")))
        .when((c("score_latest") >= 100.0) | reaches_expr(lv, green, c("d"), c("decimals")))
        .then(_NULL_S)
        .when(c("ratio").is_null())
        .then(pl.lit(MSG_ACHIEVEMENT_LOST))
    )
    status = (
        pl.when(lv.is_null() | c("base_year").is_null() | ~enough | (c("horizon") <= 0))
        .then(pl.lit(INSUFFICIENT))
        .when((c("score_latest") >= 100.0) | reaches_expr(lv, green, c("d"), c("decimals")))
        .then(pl.lit("achieved"))
        .when(c("ratio").is_null())
        .then(pl.lit("decreasing"))
        .when(c("ratio") >= SDSN_THRESHOLDS["on_track"])
        .then(pl.lit("on_track"))
        .when(c("ratio") >= SDSN_THRESHOLDS["moderately_improving"])
        .then(pl.lit("moderately_improving"))
        .when(c("ratio") >= SDSN_THRESHOLDS["stagnating"])
        .then(pl.lit("stagnating"))
        .otherwise(pl.lit("decreasing"))
    )
    red = c("red_threshold")
    colour = (
        pl.when(red.is_null() | lv.is_null())
        .then(_NULL_S)
        .when(c("d") * (lv - green) >= 0)
        .then(pl.lit("green"))
        .when(c("d") * (lv - red) < 0)
        .then(pl.lit("red"))
        .when(c("d") * (lv - (green + red) / 2.0) >= 0)
        .then(pl.lit("yellow"))
        .otherwise(pl.lit("orange"))
    )
    g = g.with_columns(reason=reason, status=status, colour=colour)
    return g.with_columns(
        _symbol(SYMBOL),
        _warnings(_substitution(), c("reason")),
        target_value=green,
        measure=c("ratio"),
        score=c("score_latest"),
    )


def _requested(scalars: dict[str, Any]) -> pl.Expr:
    """The requested base year of every series: its ``base_year`` parameter."""
    return _param(FRAME_PARAMS, "base_year")


def _frame(g: pl.LazyFrame, scalars: dict[str, Any]) -> pl.LazyFrame:
    checks = g.select(
        lower=(_dsign() * (c("green_threshold") - c("lower_bound")) <= 0).any(),
        red=(_dsign() * (c("green_threshold") - c("red_threshold")) <= 0).any(),
    ).collect()
    if checks.item(0, "lower"):
        raise ValueError("lower_bound must lie on the worse side of green_threshold")
    if checks.item(0, "red"):
        raise ValueError("red_threshold must lie on the worse side of green_threshold")
    return _frame_sdsn(g)


def _thresholds(has_target: bool) -> dict[str, float]:
    return dict(SDSN_THRESHOLDS)


def _engine_columns() -> list[pl.Expr]:
    """SDSN's green threshold is the indicator's target."""
    return [pl.col("target").alias("green_threshold"), pl.col("target_year")]


SPEC = MethodSpec(
    method=METHOD,
    version=VERSION,
    scalar=sdsn_trend,
    status_rank=RANK,
    symbols=SYMBOL,
    detail_columns=DETAILS,
    frame_params=FRAME_PARAMS,
    requested=_requested,
    frame=_frame,
    frame_scalars=FRAME_SCALARS,
    needs_target=True,
    thresholds=_thresholds,
    engine_columns=_engine_columns,
    rate_unit="score_points",
)
