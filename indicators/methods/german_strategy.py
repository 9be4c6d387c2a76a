"""German sustainability strategy, weather symbols (``german_strategy``).

Source: Statistisches Bundesamt, "Nachhaltige Entwicklung in Deutschland – Indikatorenbericht", notes on
the weather symbols (summarised in FIGURES.md).

German sustainability strategy (weather symbols): linear extrapolation of the recent mean change.

Mean change = mean of the last five annual changes = (latest − value in latest−5)/5; if latest−5 is
missing the next available year is used and the span shrinks accordingly (at least 3 years). The
published rule (Statistisches Bundesamt, "Nachhaltige Entwicklung in Deutschland – Indikatorenbericht",
notes on the weather symbols; summarised in FIGURES.md) rates the mean of the last five annual changes
and needs at least four observations in that window: with fewer (e.g. two or three points spanning
three years) the status is insufficient_data, whatever the span.
Projected = latest + mean change·(target_year − latest). Deviation = (target − projected) /
(target − latest), the share of the remaining distance that would still be missing: ≤ 5 % on track
(overshooting counts as on track), ≤ 20 % nearly on track, more but moving in the right direction
off track, a mean change in the wrong direction moving away. A target already met in the latest
year is on track if the projection still meets it, else moving away. ratio = mean change / required
linear change (= 1 − deviation). Works for a zero target.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import polars as pl

from indicators.methods.common import (
    _NULL_F,
    _REQUIRED,
    INSUFFICIENT,
    MSG_NO_OBS,
    MSG_POINTS,
    MSG_SPAN,
    MSG_TARGET_MET,
    MSG_TARGET_YEAR_LATEST,
    Assessment,
    MethodSpec,
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
    direction_sign,
    reaches,
    reaches_expr,
    to_points,
)

METHOD = "german_strategy"
VERSION = "german-dns/1"


class GermanStatus(StrEnum):
    """German sustainability strategy weather categories."""

    ON_TRACK = "on_track"
    NEARLY_ON_TRACK = "nearly_on_track"
    OFF_TRACK = "off_track"
    MOVING_AWAY = "moving_away"
    INSUFFICIENT_DATA = INSUFFICIENT


class GermanAssessment(Assessment):
    """German sustainability strategy result."""

    status: GermanStatus


#: Ordinal rank of every status, worst = 0 (``insufficient_data`` has no rank).
RANK: dict[str, int] = {"moving_away": 0, "off_track": 1, "nearly_on_track": 2, "on_track": 3}

#: The symbol of every status.
SYMBOL: dict[str, str] = {
    "on_track": "☀",
    "nearly_on_track": "🌤",
    "off_track": "☁",
    "moving_away": "⛈",
    INSUFFICIENT: "·",
}

GERMAN_WINDOW = 5
GERMAN_MIN_SPAN = 3
GERMAN_MIN_POINTS = 4
GERMAN_THRESHOLDS = {"on_track": 0.05, "nearly_on_track": 0.20}

#: Method-specific columns of ``assess_frame`` (the same keys as ``Assessment.details``).
DETAILS: list[str] = ["projected_value", "remaining_distance", "deviation", "span"]

#: The parameters that may be columns of the frame (or keywords) and their defaults.
FRAME_PARAMS: dict[str, Any] = {"target": _REQUIRED, "target_year": _REQUIRED, "direction": _REQUIRED}
#: Keyword-only parameters of the frame form and their defaults.
FRAME_SCALARS: dict[str, Any] = {}


# --------------------------------------------------------------------------------------------------
# Scalar form
# --------------------------------------------------------------------------------------------------


def german_strategy(
    series: SeriesLike,
    *,
    target: float,
    target_year: int,
    direction: Direction,
) -> GermanAssessment:
    """German sustainability strategy (weather symbols): linear extrapolation of the recent mean change.

    The definition, its source and the tracker's departures from it are in the module docstring.
    """
    d = direction_sign(direction)
    thresholds = dict(GERMAN_THRESHOLDS) | {
        "window_years": float(GERMAN_WINDOW),
        "min_span": float(GERMAN_MIN_SPAN),
        "min_points": float(GERMAN_MIN_POINTS),
    }
    w = _window(to_points(series), lambda latest: latest - GERMAN_WINDOW)
    warnings = w.substitution()
    span = w.span
    long_enough = span is not None and span >= GERMAN_MIN_SPAN
    enough = long_enough and w.n_points >= GERMAN_MIN_POINTS
    lv, bv = w.latest_value, w.base_value
    horizon = None if w.latest_year is None else target_year - w.latest_year
    mean_change: float | None = None
    projected: float | None = None
    required: float | None = None
    deviation: float | None = None
    ratio: float | None = None
    remaining = None if lv is None else target - lv
    met = lv is not None and reaches(lv, target, d, w.decimals)
    if enough:
        assert lv is not None and bv is not None and span is not None and horizon is not None
        mean_change = (lv - bv) / span
        if horizon > 0:
            projected = lv + mean_change * horizon
            assert remaining is not None
            required = remaining / horizon
            if not met:
                deviation = (target - projected) / remaining
                ratio = mean_change / required if required != 0 else None
    status: GermanStatus
    reason: str | None = None
    if lv is None:
        status, reason = GermanStatus.INSUFFICIENT_DATA, MSG_NO_OBS
    elif not long_enough:
        status, reason = GermanStatus.INSUFFICIENT_DATA, MSG_SPAN.format(GERMAN_MIN_SPAN, span)
    elif not enough:
        points = MSG_POINTS.format(GERMAN_MIN_POINTS, w.base_year, w.n_points)
        status, reason = GermanStatus.INSUFFICIENT_DATA, points
    elif horizon is None or horizon <= 0:
        status, reason = (
            GermanStatus.INSUFFICIENT_DATA,
            MSG_TARGET_YEAR_LATEST.format(target_year, w.latest_year),
        )
    elif met:
        assert projected is not None
        reason = MSG_TARGET_MET.format(w.latest_year)
        kept = reaches(projected, target, d, w.decimals)
        status = GermanStatus.ON_TRACK if kept else GermanStatus.MOVING_AWAY
    else:
        assert mean_change is not None and deviation is not None
        if d * mean_change < 0:
            status = GermanStatus.MOVING_AWAY
        elif deviation <= thresholds["on_track"]:
            status = GermanStatus.ON_TRACK
        elif deviation <= thresholds["nearly_on_track"]:
            status = GermanStatus.NEARLY_ON_TRACK
        else:
            status = GermanStatus.OFF_TRACK
    if reason is not None:
        warnings.append(reason)
    return GermanAssessment(
        method="german_strategy",
        version=VERSION,
        direction=direction,
        requested_base_year=w.requested,
        base_year=w.base_year,
        base_value=bv,
        latest_year=w.latest_year,
        latest_value=lv,
        target_year=target_year,
        target_value=target,
        observed_rate=mean_change,
        required_rate=required,
        ratio=ratio,
        measure=deviation,
        thresholds=thresholds,
        status=status,
        symbol=SYMBOL[status],
        score=None,
        n_points=w.n_points,
        warnings=tuple(warnings),
        details={
            "projected_value": projected,
            "remaining_distance": remaining,
            "deviation": deviation,
            "span": span,
        },
    )


# --------------------------------------------------------------------------------------------------
# Frame form
# --------------------------------------------------------------------------------------------------


def _frame_german(g: pl.LazyFrame) -> pl.LazyFrame:
    lv, bv, t = c("latest_value"), c("base_value"), c("target")
    g = g.with_columns(
        span=c("latest_year") - c("base_year"),
        horizon=c("target_year") - c("latest_year"),
        d=_dsign(),
        remaining_distance=t - lv,
    )
    long_enough = c("span") >= GERMAN_MIN_SPAN
    enough = long_enough & (c("n_points") >= GERMAN_MIN_POINTS)
    ahead = enough & (c("horizon") > 0)
    g = g.with_columns(
        observed_rate=pl.when(enough).then((lv - bv) / c("span")),
        met=reaches_expr(lv, t, c("d"), c("decimals")).fill_null(False),
    )
    g = g.with_columns(
        projected_value=pl.when(ahead).then(lv + c("observed_rate") * c("horizon")),
        required_rate=pl.when(ahead).then(c("remaining_distance") / c("horizon")),
    )
    g = g.with_columns(
        deviation=pl.when(ahead & ~c("met")).then((t - c("projected_value")) / c("remaining_distance")),
        ratio=pl.when(ahead & ~c("met") & (c("required_rate") != 0)).then(
            c("observed_rate") / c("required_rate")
        ),
    )
    reason = (
        pl.when(lv.is_null())
        .then(pl.lit(MSG_NO_OBS))
        .when(~long_enough)
        .then(pl.format(MSG_SPAN, pl.lit(GERMAN_MIN_SPAN), c("span")))
        .when(~enough)
        .then(pl.format(MSG_POINTS, pl.lit(GERMAN_MIN_POINTS), c("base_year"), c("n_points")))
        .when(c("horizon") <= 0)
        .then(pl.format(MSG_TARGET_YEAR_LATEST, c("target_year"), c("latest_year")))
        .when(c("met"))
        .then(pl.format(MSG_TARGET_MET, c("latest_year")))
    )
    status = (
        pl.when(lv.is_null() | ~enough | (c("horizon") <= 0))
        .then(pl.lit(INSUFFICIENT))
        .when(c("met") & reaches_expr(c("projected_value"), t, c("d"), c("decimals")))
        .then(pl.lit("on_track"))
        .when(c("met"))
        .then(pl.lit("moving_away"))
        .when(c("d") * c("observed_rate") < 0)
        .then(pl.lit("moving_away"))
        .when(c("deviation") <= GERMAN_THRESHOLDS["on_track"])
        .then(pl.lit("on_track"))
        .when(c("deviation") <= GERMAN_THRESHOLDS["nearly_on_track"])
        .then(pl.lit("nearly_on_track"))
        .otherwise(pl.lit("off_track"))
    )
    g = g.with_columns(reason=reason, status=status)
    return g.with_columns(
        _symbol(SYMBOL),
        _warnings(_substitution(), c("reason")),
        target_value=t,
        measure=c("deviation"),
        score=_NULL_F,
    )


def _requested(scalars: dict[str, Any]) -> pl.Expr:
    """The requested base year of every series: its latest year minus the window."""
    return c("_year").max() - GERMAN_WINDOW


def _frame(g: pl.LazyFrame, scalars: dict[str, Any]) -> pl.LazyFrame:
    return _frame_german(g)


def _thresholds(has_target: bool) -> dict[str, float]:
    return dict(GERMAN_THRESHOLDS)


SPEC = MethodSpec(
    method=METHOD,
    version=VERSION,
    scalar=german_strategy,
    status_rank=RANK,
    symbols=SYMBOL,
    detail_columns=DETAILS,
    frame_params=FRAME_PARAMS,
    requested=_requested,
    frame=_frame,
    frame_scalars=FRAME_SCALARS,
    needs_target=True,
    thresholds=_thresholds,
    rate_unit="indicator_unit",
)
