"""Eurostat SDG monitoring (``eurostat_sdg``).

Source: Eurostat's SDG monitoring of the EU SDG indicator set; the status categories are Eurostat's,
with and without a quantified target.

Eurostat SDG monitoring assessment over the short (5-year) or long (15-year) period.

Base = the value in ``latest − 5`` (short) or ``latest − 15`` (long), or the next available year; at
least 3 (short) / 10 (long) years must lie between base and latest. Observed rate = CAGR base→latest.

* With a target: required rate = CAGR from the base value to the target over base→target year;
  ratio = observed/required; ≥ 0.95 significant progress, ≥ 0.60 moderate, ≥ 0 insufficient
  progress, < 0 movement away. A target already met in the latest year counts as significant
  progress (warning recorded); a base already beyond the target but a latest value that is not
  counts as movement away.
* Without a target: growth in the desired direction g = d·sign(base)·CAGR; g > 1 % significant
  progress, 0 ≤ g ≤ 1 % moderate progress, −1 % ≤ g < 0 moderate movement away, below that
  significant movement away.

A CAGR is undefined for zero or sign-changing values and for a zero target: those give
``insufficient_data`` with the reason (use ``german_strategy`` for zero targets).
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
    MSG_BASE_BEYOND,
    MSG_NO_OBS,
    MSG_RATE_UNDEFINED,
    MSG_SPAN,
    MSG_TARGET_MET,
    MSG_TARGET_UNDEFINED,
    MSG_TARGET_YEAR_BASE,
    Assessment,
    MethodSpec,
    Period,
    _compound_expr,
    _dsign,
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

METHOD = "eurostat_sdg"
VERSION = "eurostat-sdg/1"


class EurostatStatus(StrEnum):
    """Eurostat SDG monitoring categories (with and without a quantified target)."""

    SIGNIFICANT_PROGRESS = "significant_progress"
    MODERATE_PROGRESS = "moderate_progress"
    INSUFFICIENT_PROGRESS = "insufficient_progress"
    MOVEMENT_AWAY = "movement_away"
    MODERATE_MOVEMENT_AWAY = "moderate_movement_away"
    SIGNIFICANT_MOVEMENT_AWAY = "significant_movement_away"
    INSUFFICIENT_DATA = INSUFFICIENT


class EurostatAssessment(Assessment):
    """Eurostat SDG monitoring result."""

    status: EurostatStatus


#: Ordinal rank of every status, worst = 0 (``insufficient_data`` has no rank).
RANK: dict[str, int] = {
    "movement_away": 0,
    "significant_movement_away": 0,
    "moderate_movement_away": 1,
    "insufficient_progress": 1,
    "moderate_progress": 2,
    "significant_progress": 3,
}

#: The symbol of every status.
SYMBOL: dict[str, str] = {
    "significant_progress": "↑",
    "moderate_progress": "↗",
    "insufficient_progress": "↘",
    "moderate_movement_away": "↘",
    "movement_away": "↓",
    "significant_movement_away": "↓",
    INSUFFICIENT: "·",
}

#: (period length in years, minimum span between first and latest observation used)
EUROSTAT_PERIODS: dict[str, tuple[int, int]] = {"short": (5, 3), "long": (15, 10)}
EUROSTAT_TARGET_THRESHOLDS = {"significant": 0.95, "moderate": 0.60, "insufficient": 0.0}
EUROSTAT_TREND_THRESHOLDS = {"significant": 0.01, "moderate": 0.0, "moderate_away": -0.01}

#: Method-specific columns of ``assess_frame`` (the same keys as ``Assessment.details``).
DETAILS: list[str] = ["period", "span"]

#: The parameters that may be columns of the frame (or keywords) and their defaults.
FRAME_PARAMS: dict[str, Any] = {"target": None, "target_year": None, "direction": _REQUIRED}
#: Keyword-only parameters of the frame form and their defaults.
FRAME_SCALARS: dict[str, Any] = {"period": "short"}


# --------------------------------------------------------------------------------------------------
# Scalar form
# --------------------------------------------------------------------------------------------------


def eurostat_sdg(
    series: SeriesLike,
    *,
    target: float | None = None,
    target_year: int | None = None,
    direction: Direction,
    period: Period = "short",
) -> EurostatAssessment:
    """Eurostat SDG monitoring assessment over the short (5-year) or long (15-year) period.

    The definition, its source and the tracker's departures from it are in the module docstring.
    """
    d = direction_sign(direction)
    if period not in EUROSTAT_PERIODS:
        raise ValueError(f"period must be 'short' or 'long', got {period!r}")
    if target is not None and target_year is None:
        raise ValueError("a target needs a target_year")
    period_years, min_span = EUROSTAT_PERIODS[period]
    thresholds = dict(EUROSTAT_TREND_THRESHOLDS if target is None else EUROSTAT_TARGET_THRESHOLDS)
    thresholds |= {"period_years": float(period_years), "min_span": float(min_span)}
    w = _window(to_points(series), lambda latest: latest - period_years)
    warnings = w.substitution()

    span = w.span
    enough = span is not None and span >= min_span
    bv, lv = w.base_value, w.latest_value
    rate_defined = bv is not None and lv is not None and bv != 0 and lv != 0 and (bv > 0) == (lv > 0)
    observed: float | None = None
    required: float | None = None
    ratio: float | None = None
    s = -1 if bv is not None and bv < 0 else 1
    target_defined = (
        target is not None and bv is not None and target != 0 and bv != 0 and (target > 0) == (bv > 0)
    )
    horizon = None if target_year is None or w.base_year is None else target_year - w.base_year
    if enough and rate_defined:
        assert bv is not None and lv is not None and span is not None
        observed = compound_rate(lv / bv, span)
    if enough and target_defined and horizon is not None and horizon > 0:
        assert bv is not None and target is not None
        required = compound_rate(target / bv, horizon)
    if observed is not None and required is not None and required != 0:
        ratio = observed / required
    met = target is not None and lv is not None and reaches(lv, target, d, w.decimals)

    measure: float | None = None
    status: EurostatStatus
    if lv is None:
        status, reason = EurostatStatus.INSUFFICIENT_DATA, MSG_NO_OBS
    elif not enough:
        status, reason = EurostatStatus.INSUFFICIENT_DATA, MSG_SPAN.format(min_span, span)
    elif not rate_defined:
        status, reason = EurostatStatus.INSUFFICIENT_DATA, MSG_RATE_UNDEFINED
    elif target is None:
        assert observed is not None
        measure = d * s * observed
        reason = None
        if measure > thresholds["significant"]:
            status = EurostatStatus.SIGNIFICANT_PROGRESS
        elif measure >= thresholds["moderate"]:
            status = EurostatStatus.MODERATE_PROGRESS
        elif measure >= thresholds["moderate_away"]:
            status = EurostatStatus.MODERATE_MOVEMENT_AWAY
        else:
            status = EurostatStatus.SIGNIFICANT_MOVEMENT_AWAY
    elif not target_defined:
        status, reason = EurostatStatus.INSUFFICIENT_DATA, MSG_TARGET_UNDEFINED
    elif horizon is None or horizon <= 0:
        status, reason = (
            EurostatStatus.INSUFFICIENT_DATA,
            MSG_TARGET_YEAR_BASE.format(target_year, w.base_year),
        )
    else:
        assert required is not None
        measure = ratio
        if met:
            status, reason = EurostatStatus.SIGNIFICANT_PROGRESS, MSG_TARGET_MET.format(w.latest_year)
        elif d * s * required <= 0:
            status, reason = EurostatStatus.MOVEMENT_AWAY, MSG_BASE_BEYOND
        else:
            assert ratio is not None
            reason = None
            if ratio >= thresholds["significant"]:
                status = EurostatStatus.SIGNIFICANT_PROGRESS
            elif ratio >= thresholds["moderate"]:
                status = EurostatStatus.MODERATE_PROGRESS
            elif ratio >= thresholds["insufficient"]:
                status = EurostatStatus.INSUFFICIENT_PROGRESS
            else:
                status = EurostatStatus.MOVEMENT_AWAY
    if reason is not None:
        warnings.append(reason)
    return EurostatAssessment(
        method="eurostat_sdg",
        version=VERSION,
        direction=direction,
        requested_base_year=w.requested,
        base_year=w.base_year,
        base_value=bv,
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
        score=None,
        n_points=w.n_points,
        warnings=tuple(warnings),
        details={"period": period, "span": span},
    )


# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Frame form
# --------------------------------------------------------------------------------------------------


def _frame_eurostat(g: pl.LazyFrame, period: str) -> pl.LazyFrame:
    min_span = EUROSTAT_PERIODS[period][1]
    lv, bv, t = c("latest_value"), c("base_value"), c("target")
    g = g.with_columns(
        span=c("latest_year") - c("base_year"),
        horizon=c("target_year") - c("base_year"),
        d=_dsign(),
        s=pl.when(bv < 0).then(-1.0).otherwise(1.0),
    )
    enough = c("span") >= min_span
    rate_defined = (bv != 0) & (lv != 0) & ((bv > 0) == (lv > 0))
    target_defined = t.is_not_null() & (t != 0) & (bv != 0) & ((t > 0) == (bv > 0))
    g = g.with_columns(
        observed_rate=pl.when(enough & rate_defined).then(_compound_expr(lv / bv, c("span"))),
        required_rate=pl.when(enough & target_defined & (c("horizon") > 0)).then(
            _compound_expr(t / bv, c("horizon"))
        ),
        met=t.is_not_null() & reaches_expr(lv, t, c("d"), c("decimals")),
    )
    g = g.with_columns(
        ratio=pl.when(c("required_rate") != 0).then(c("observed_rate") / c("required_rate")),
        growth=c("d") * c("s") * c("observed_rate"),
    )
    th, tt = EUROSTAT_TARGET_THRESHOLDS, EUROSTAT_TREND_THRESHOLDS
    insufficient = pl.lit(INSUFFICIENT)
    reason = (
        pl.when(lv.is_null())
        .then(pl.lit(MSG_NO_OBS))
        .when(~enough)
        .then(pl.format(MSG_SPAN, pl.lit(min_span), c("span")))
        .when(~rate_defined)
        .then(pl.lit(MSG_RATE_UNDEFINED))
        .when(t.is_null())
        .then(_NULL_S)
        .when(~target_defined)
        .then(pl.lit(MSG_TARGET_UNDEFINED))
        .when(c("horizon") <= 0)
        .then(pl.format(MSG_TARGET_YEAR_BASE, c("target_year"), c("base_year")))
        .when(c("met"))
        .then(pl.format(MSG_TARGET_MET, c("latest_year")))
        .when(c("d") * c("s") * c("required_rate") <= 0)
        .then(pl.lit(MSG_BASE_BEYOND))
    )
    status = (
        pl.when(lv.is_null() | ~enough | ~rate_defined)
        .then(insufficient)
        .when(t.is_null() & (c("growth") > tt["significant"]))
        .then(pl.lit("significant_progress"))
        .when(t.is_null() & (c("growth") >= tt["moderate"]))
        .then(pl.lit("moderate_progress"))
        .when(t.is_null() & (c("growth") >= tt["moderate_away"]))
        .then(pl.lit("moderate_movement_away"))
        .when(t.is_null())
        .then(pl.lit("significant_movement_away"))
        .when(~target_defined | (c("horizon") <= 0))
        .then(insufficient)
        .when(c("met"))
        .then(pl.lit("significant_progress"))
        .when(c("d") * c("s") * c("required_rate") <= 0)
        .then(pl.lit("movement_away"))
        .when(c("ratio") >= th["significant"])
        .then(pl.lit("significant_progress"))
        .when(c("ratio") >= th["moderate"])
        .then(pl.lit("moderate_progress"))
        .when(c("ratio") >= th["insufficient"])
        .then(pl.lit("insufficient_progress"))
        .otherwise(pl.lit("movement_away"))
    )
    measure = (
        pl.when(lv.is_null() | ~enough | ~rate_defined)
        .then(_NULL_F)
        .when(t.is_null())
        .then(c("growth"))
        .when(~target_defined | (c("horizon") <= 0))
        .then(_NULL_F)
        .otherwise(c("ratio"))
    )
    g = g.with_columns(status=status, measure=measure, reason=reason)
    return g.with_columns(
        _symbol(SYMBOL),
        _warnings(_substitution(), c("reason")),
        target_value=t,
        score=_NULL_F,
        period=pl.lit(period),
    )


def _requested(scalars: dict[str, Any]) -> pl.Expr:
    """The requested base year of every series: its latest year minus the period length."""
    period = str(scalars["period"])
    if period not in EUROSTAT_PERIODS:
        raise ValueError(f"period must be 'short' or 'long', got {period!r}")
    return c("_year").max() - EUROSTAT_PERIODS[period][0]


def _frame(g: pl.LazyFrame, scalars: dict[str, Any]) -> pl.LazyFrame:
    if g.filter(c("target").is_not_null() & c("target_year").is_null()).head(1).collect().height:
        raise ValueError("a target needs a target_year")
    return _frame_eurostat(g, str(scalars["period"]))


def _thresholds(has_target: bool) -> dict[str, float]:
    return dict(EUROSTAT_TARGET_THRESHOLDS if has_target else EUROSTAT_TREND_THRESHOLDS)


SPEC = MethodSpec(
    method=METHOD,
    version=VERSION,
    scalar=eurostat_sdg,
    status_rank=RANK,
    symbols=SYMBOL,
    detail_columns=DETAILS,
    frame_params=FRAME_PARAMS,
    requested=_requested,
    frame=_frame,
    frame_scalars=FRAME_SCALARS,
    thresholds=_thresholds,
)
