"""Open SDG progress measure, Statistics Canada method (``open_sdg``).

Source: the Statistics Canada method as implemented in Open SDG's sdg-build (``ProgressMeasure``,
``SeriesProgress.get_score``).

Open SDG progress measure (Statistics Canada method, as in sdg-build's ``ProgressMeasure``).

Base = ``base_year`` or the next available year; at least two observations from there. Observed
CAGR base→latest. With a target: required CAGR from the base value to the target over
base→target year, p = sign(base)·d·observed/|required|; p ≥ 0.95 substantial, ≥ 0.60 moderate,
≥ 0 limited progress, else deterioration. Without a target: v = sign(base)·d·observed against
1.5 % / 0.5 % / 0. ``target_achieved`` when the latest value is on the right side of the target
(checked after the data requirement). A zero base or target is replaced by 0.001 with a warning;
opposite signs give ``insufficient_data`` (sdg-build's 'not_available').

Where the tracker departs from sdg-build, and why:

* A series whose base and latest values are both zero has not changed: the observed rate is 0
  (warning), so without a target it is limited progress and with a target it is judged against the
  target like any other standstill. sdg-build replaces only the zero base by 0.001, divides the zero
  latest value by it and reads a −100 % change: an all-zero series of a decreasing indicator comes out
  as substantial progress (and of an increasing one as deterioration) although nothing moved.
* At least two observations are needed, the base year and a later one, before any status — target
  achieved included. sdg-build checks the target before it checks the data, so a single observation
  in the base year that already meets the target gives target achieved there; here it gives
  insufficient_data, because one observation says nothing about progress. The report's method notes
  state both differences.

Score (sdg-build ``get_score``, piecewise linear and monotone): achieved → 5; with a target
p ≥ 0.6 → min(7.1429p − 4.2857, 5), else max(4.1667p − 2.5, −5) (0.6 → 0, 0.95 → 2.5, 0 → −2.5);
without a target v < 0 → max(125v − 2.5, −5), v ≥ 1.5 % → min(500v − 5, 5), v ≥ 0.5 % → 250v − 1.25,
else 500v − 2.5. The natural-limit coefficient of sdg-build is not implemented.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import polars as pl

from indicators.methods.common import (
    _NULL_F,
    _NULL_S,
    _REQUIRED,
    HORIZON_YEAR,
    INSUFFICIENT,
    MSG_BOTH_ZERO,
    MSG_NO_BASE,
    MSG_NO_OBS,
    MSG_OPPOSITE,
    MSG_SPAN,
    MSG_TARGET_EQUALS_BASE,
    MSG_TARGET_OPPOSITE,
    MSG_TARGET_YEAR_BASE,
    MSG_ZERO_BASE,
    MSG_ZERO_TARGET,
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
    to_points,
)

METHOD = "open_sdg"
VERSION = "open-sdg-statcan/1"


class OpenSdgStatus(StrEnum):
    """Open SDG (sdg-build ``ProgressMeasure``) categories; ``insufficient_data`` is its 'not_available'."""

    TARGET_ACHIEVED = "target_achieved"
    SUBSTANTIAL_PROGRESS = "substantial_progress"
    MODERATE_PROGRESS = "moderate_progress"
    LIMITED_PROGRESS = "limited_progress"
    DETERIORATION = "deterioration"
    INSUFFICIENT_DATA = INSUFFICIENT


class OpenSdgAssessment(Assessment):
    """Open SDG / Statistics Canada progress-measure result."""

    status: OpenSdgStatus


#: Ordinal rank of every status, worst = 0 (``insufficient_data`` has no rank).
RANK: dict[str, int] = {
    "deterioration": 0,
    "limited_progress": 1,
    "moderate_progress": 2,
    "substantial_progress": 3,
    "target_achieved": 4,
}

#: The symbol of every status.
SYMBOL: dict[str, str] = {
    "target_achieved": "✓",
    "substantial_progress": "↑",
    "moderate_progress": "↗",
    "limited_progress": "→",
    "deterioration": "↓",
    INSUFFICIENT: "·",
}

OPEN_SDG_TARGET_THRESHOLDS = {"high": 0.95, "med": 0.60, "low": 0.0}
OPEN_SDG_TREND_THRESHOLDS = {"high": 0.015, "med": 0.005, "low": 0.0}
OPEN_SDG_ZERO_REPLACEMENT = 0.001
OPEN_SDG_MIN_SPAN = 1

#: Method-specific columns of ``assess_frame`` (the same keys as ``Assessment.details``).
DETAILS: list[str] = ["base_value_used", "target_used", "span"]

#: The parameters that may be columns of the frame (or keywords) and their defaults.
FRAME_PARAMS: dict[str, Any] = {
    "target": None,
    "target_year": 2030,
    "base_year": 2015,
    "direction": _REQUIRED,
}
#: Keyword-only parameters of the frame form and their defaults.
FRAME_SCALARS: dict[str, Any] = {}


# --------------------------------------------------------------------------------------------------
# Scalar form
# --------------------------------------------------------------------------------------------------


def _open_sdg_score(achieved: bool, measure: float | None, with_target: bool) -> float | None:
    """sdg-build ``SeriesProgress.get_score``: a continuous, monotone −5…+5 score (5 when achieved)."""
    if achieved:
        return 5.0
    if measure is None:
        return None
    if with_target:
        if measure >= OPEN_SDG_TARGET_THRESHOLDS["med"]:
            return min(7.1429 * measure - 4.2857, 5.0)
        return max(4.1667 * measure - 2.5, -5.0)
    if measure < OPEN_SDG_TREND_THRESHOLDS["low"]:
        return max(125.0 * measure - 2.5, -5.0)
    if measure >= OPEN_SDG_TREND_THRESHOLDS["high"]:
        return min(500.0 * measure - 5.0, 5.0)
    if measure >= OPEN_SDG_TREND_THRESHOLDS["med"]:
        return 250.0 * measure - 1.25
    return 500.0 * measure - 2.5


def open_sdg(
    series: SeriesLike,
    *,
    target: float | None = None,
    target_year: int = 2030,
    base_year: int = 2015,
    direction: Direction,
) -> OpenSdgAssessment:
    """Open SDG progress measure (Statistics Canada method, as in sdg-build's ``ProgressMeasure``).

    The definition, its source and the tracker's departures from it are in the module docstring.
    """
    d = direction_sign(direction)
    target = None if target is None else float(target)
    thresholds = dict(OPEN_SDG_TREND_THRESHOLDS if target is None else OPEN_SDG_TARGET_THRESHOLDS)
    thresholds |= {"min_span": float(OPEN_SDG_MIN_SPAN), "zero_replacement": OPEN_SDG_ZERO_REPLACEMENT}
    w = _window(to_points(series), base_year)
    warnings = w.substitution()
    span = w.span
    enough = span is not None and span >= OPEN_SDG_MIN_SPAN
    lv = w.latest_value
    t_used = OPEN_SDG_ZERO_REPLACEMENT if target == 0 else target
    bv_used = OPEN_SDG_ZERO_REPLACEMENT if w.base_value == 0 else w.base_value
    if enough and w.base_value == 0:
        warnings.append(MSG_ZERO_BASE)
    if enough and target == 0:
        warnings.append(MSG_ZERO_TARGET)
    both_zero = w.base_value == 0 and lv == 0
    if enough and both_zero:
        warnings.append(MSG_BOTH_ZERO)
    opposite = bv_used is not None and lv is not None and ((bv_used > 0 > lv) or (bv_used < 0 < lv))
    s = -1 if bv_used is not None and bv_used < 0 else 1
    horizon = None if w.base_year is None else target_year - w.base_year
    observed: float | None = None
    required: float | None = None
    ratio: float | None = None
    if enough and not opposite:
        assert bv_used is not None and lv is not None and span is not None
        observed = 0.0 if both_zero else compound_rate(lv / bv_used, span)
    target_ok = t_used is not None and bv_used is not None and t_used / bv_used > 0
    if enough and target_ok and horizon is not None and horizon > 0:
        assert t_used is not None and bv_used is not None
        required = compound_rate(t_used / bv_used, horizon)
    if observed is not None and required is not None and required != 0:
        ratio = s * d * observed / abs(required)
    achieved = t_used is not None and lv is not None and reaches(lv, t_used, d, w.decimals)
    measure = (None if observed is None else s * d * observed) if target is None else ratio

    status: OpenSdgStatus
    reason: str | None = None
    if lv is None:
        status, reason = OpenSdgStatus.INSUFFICIENT_DATA, MSG_NO_OBS
    elif w.base_year is None:
        status, reason = OpenSdgStatus.INSUFFICIENT_DATA, MSG_NO_BASE.format(base_year)
    elif not enough:
        status, reason = OpenSdgStatus.INSUFFICIENT_DATA, MSG_SPAN.format(OPEN_SDG_MIN_SPAN, span)
    elif achieved:
        status = OpenSdgStatus.TARGET_ACHIEVED
    elif opposite:
        status, reason = OpenSdgStatus.INSUFFICIENT_DATA, MSG_OPPOSITE
    elif target is not None and not target_ok:
        status, reason = OpenSdgStatus.INSUFFICIENT_DATA, MSG_TARGET_OPPOSITE
    elif target is not None and (horizon is None or horizon <= 0):
        status, reason = (
            OpenSdgStatus.INSUFFICIENT_DATA,
            MSG_TARGET_YEAR_BASE.format(target_year, w.base_year),
        )
    elif target is not None and required == 0:
        status, reason = OpenSdgStatus.INSUFFICIENT_DATA, MSG_TARGET_EQUALS_BASE
    else:
        assert measure is not None
        if measure >= thresholds["high"]:
            status = OpenSdgStatus.SUBSTANTIAL_PROGRESS
        elif measure >= thresholds["med"]:
            status = OpenSdgStatus.MODERATE_PROGRESS
        elif measure >= thresholds["low"]:
            status = OpenSdgStatus.LIMITED_PROGRESS
        else:
            status = OpenSdgStatus.DETERIORATION
    if reason is not None:
        warnings.append(reason)
    insufficient = status == OpenSdgStatus.INSUFFICIENT_DATA
    score = None if insufficient else _open_sdg_score(achieved, measure, target is not None)
    return OpenSdgAssessment(
        method="open_sdg",
        version=VERSION,
        direction=direction,
        requested_base_year=base_year,
        base_year=w.base_year,
        base_value=w.base_value,
        latest_year=w.latest_year,
        latest_value=lv,
        target_year=target_year,
        target_value=target,
        observed_rate=observed,
        required_rate=required,
        ratio=ratio,
        measure=measure,
        thresholds=thresholds,
        status=status,
        symbol=SYMBOL[status],
        score=score,
        n_points=w.n_points,
        warnings=tuple(warnings),
        details={"base_value_used": bv_used, "target_used": t_used, "span": span},
    )


# --------------------------------------------------------------------------------------------------
# Frame form
# --------------------------------------------------------------------------------------------------


def _frame_open_sdg(g: pl.LazyFrame) -> pl.LazyFrame:
    lv, bv, t = c("latest_value"), c("base_value"), c("target")
    zero = OPEN_SDG_ZERO_REPLACEMENT
    g = g.with_columns(
        span=c("latest_year") - c("base_year"),
        horizon=c("target_year") - c("base_year"),
        d=_dsign(),
        target_used=pl.when(t == 0).then(zero).otherwise(t),
        base_value_used=pl.when(bv == 0).then(zero).otherwise(bv),
    )
    bvu, tu = c("base_value_used"), c("target_used")
    enough = c("span") >= OPEN_SDG_MIN_SPAN
    opposite = ((bvu > 0) & (lv < 0)) | ((bvu < 0) & (lv > 0))
    target_ok = tu.is_not_null() & (tu / bvu > 0)
    g = g.with_columns(
        s=pl.when(bvu < 0).then(-1.0).otherwise(1.0),
        opposite=opposite.fill_null(False),
        target_ok=target_ok.fill_null(False),
        achieved=(tu.is_not_null() & reaches_expr(lv, tu, c("d"), c("decimals"))).fill_null(False),
    )
    g = g.with_columns(
        observed_rate=pl.when(enough & ~c("opposite") & (bv == 0) & (lv == 0))
        .then(0.0)
        .when(enough & ~c("opposite"))
        .then(_compound_expr(lv / bvu, c("span"))),
        required_rate=pl.when(enough & c("target_ok") & (c("horizon") > 0)).then(
            _compound_expr(tu / bvu, c("horizon"))
        ),
    )
    g = g.with_columns(
        ratio=pl.when(c("required_rate") != 0).then(
            c("s") * c("d") * c("observed_rate") / c("required_rate").abs()
        ),
    )
    g = g.with_columns(
        measure=pl.when(t.is_null()).then(c("s") * c("d") * c("observed_rate")).otherwise(c("ratio"))
    )
    has_target = t.is_not_null()
    reason = (
        pl.when(lv.is_null())
        .then(pl.lit(MSG_NO_OBS))
        .when(c("base_year").is_null())
        .then(pl.format(MSG_NO_BASE, c("requested_base_year")))
        .when(~enough)
        .then(pl.format(MSG_SPAN, pl.lit(OPEN_SDG_MIN_SPAN), c("span")))
        .when(c("achieved"))
        .then(_NULL_S)
        .when(c("opposite"))
        .then(pl.lit(MSG_OPPOSITE))
        .when(has_target & ~c("target_ok"))
        .then(pl.lit(MSG_TARGET_OPPOSITE))
        .when(has_target & (c("horizon") <= 0))
        .then(pl.format(MSG_TARGET_YEAR_BASE, c("target_year"), c("base_year")))
        .when(has_target & (c("required_rate") == 0))
        .then(pl.lit(MSG_TARGET_EQUALS_BASE))
    )
    high = (
        pl.when(has_target)
        .then(OPEN_SDG_TARGET_THRESHOLDS["high"])
        .otherwise(OPEN_SDG_TREND_THRESHOLDS["high"])
    )
    med = (
        pl.when(has_target)
        .then(OPEN_SDG_TARGET_THRESHOLDS["med"])
        .otherwise(OPEN_SDG_TREND_THRESHOLDS["med"])
    )
    status = (
        pl.when(lv.is_null() | c("base_year").is_null() | ~enough)
        .then(pl.lit(INSUFFICIENT))
        .when(c("achieved"))
        .then(pl.lit("target_achieved"))
        .when(c("reason").is_not_null() | c("measure").is_null())
        .then(pl.lit(INSUFFICIENT))
        .when(c("measure") >= high)
        .then(pl.lit("substantial_progress"))
        .when(c("measure") >= med)
        .then(pl.lit("moderate_progress"))
        .when(c("measure") >= 0.0)
        .then(pl.lit("limited_progress"))
        .otherwise(pl.lit("deterioration"))
    )
    m = c("measure")
    score = (
        pl.when(c("status") == INSUFFICIENT)
        .then(_NULL_F)
        .when(c("status") == "target_achieved")
        .then(5.0)
        .when(has_target & (m >= OPEN_SDG_TARGET_THRESHOLDS["med"]))
        .then(pl.min_horizontal(7.1429 * m - 4.2857, pl.lit(5.0)))
        .when(has_target)
        .then(pl.max_horizontal(4.1667 * m - 2.5, pl.lit(-5.0)))
        .when(m < OPEN_SDG_TREND_THRESHOLDS["low"])
        .then(pl.max_horizontal(125.0 * m - 2.5, pl.lit(-5.0)))
        .when(m >= OPEN_SDG_TREND_THRESHOLDS["high"])
        .then(pl.min_horizontal(500.0 * m - 5.0, pl.lit(5.0)))
        .when(m >= OPEN_SDG_TREND_THRESHOLDS["med"])
        .then(250.0 * m - 1.25)
        .otherwise(500.0 * m - 2.5)
    )
    g = g.with_columns(reason=reason).with_columns(status=status).with_columns(score=score)
    return g.with_columns(
        _symbol(SYMBOL),
        _warnings(
            _substitution(),
            pl.when(enough & (bv == 0)).then(pl.lit(MSG_ZERO_BASE)),
            pl.when(enough & (t == 0)).then(pl.lit(MSG_ZERO_TARGET)),
            pl.when(enough & (bv == 0) & (lv == 0)).then(pl.lit(MSG_BOTH_ZERO)),
            c("reason"),
        ),
        target_value=t,
    )


def _requested(scalars: dict[str, Any]) -> pl.Expr:
    """The requested base year of every series: its ``base_year`` parameter."""
    return _param(FRAME_PARAMS, "base_year")


def _frame(g: pl.LazyFrame, scalars: dict[str, Any]) -> pl.LazyFrame:
    return _frame_open_sdg(g)


def _thresholds(has_target: bool) -> dict[str, float]:
    return dict(OPEN_SDG_TARGET_THRESHOLDS if has_target else OPEN_SDG_TREND_THRESHOLDS)


def _engine_columns() -> list[pl.Expr]:
    """The target year defaults to the horizon (an indicator with a target value but no year)."""
    return [pl.col("target"), pl.col("target_year").fill_null(HORIZON_YEAR)]


SPEC = MethodSpec(
    method=METHOD,
    version=VERSION,
    scalar=open_sdg,
    status_rank=RANK,
    symbols=SYMBOL,
    detail_columns=DETAILS,
    frame_params=FRAME_PARAMS,
    requested=_requested,
    frame=_frame,
    frame_scalars=FRAME_SCALARS,
    thresholds=_thresholds,
    engine_columns=_engine_columns,
)
