"""Progress-assessment methods as pure functions with full records, plus a vectorised polars form."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from indicators.trajectory import (
    Direction,
    Point,
    SeriesLike,
    compound_rate,
    direction_sign,
    first_at_or_after,
    published_decimals,
    reaches,
    reaches_expr,
    target_from_base,
    target_from_base_expr,
    to_points,
    value_decimals_expr,
)

Period = Literal["short", "long"]
Detail = int | float | str | None

# --------------------------------------------------------------------------------------------------
# Versions, statuses, symbols, thresholds
# --------------------------------------------------------------------------------------------------

METHOD_VERSIONS: dict[str, str] = {
    "eurostat_sdg": "eurostat-sdg/1",
    "open_sdg": "open-sdg-statcan/1",
    "sdsn_trend": "sdsn-trend/1",
    "german_strategy": "german-dns/1",
    "linear_trajectory_check": "linear-path/1",
}

INSUFFICIENT = "insufficient_data"


class EurostatStatus(StrEnum):
    """Eurostat SDG monitoring categories (with and without a quantified target)."""

    SIGNIFICANT_PROGRESS = "significant_progress"
    MODERATE_PROGRESS = "moderate_progress"
    INSUFFICIENT_PROGRESS = "insufficient_progress"
    MOVEMENT_AWAY = "movement_away"
    MODERATE_MOVEMENT_AWAY = "moderate_movement_away"
    SIGNIFICANT_MOVEMENT_AWAY = "significant_movement_away"
    INSUFFICIENT_DATA = INSUFFICIENT


class OpenSdgStatus(StrEnum):
    """Open SDG (sdg-build ``ProgressMeasure``) categories; ``insufficient_data`` is its 'not_available'."""

    TARGET_ACHIEVED = "target_achieved"
    SUBSTANTIAL_PROGRESS = "substantial_progress"
    MODERATE_PROGRESS = "moderate_progress"
    LIMITED_PROGRESS = "limited_progress"
    DETERIORATION = "deterioration"
    INSUFFICIENT_DATA = INSUFFICIENT


class SdsnStatus(StrEnum):
    """SDSN dashboard trend categories."""

    ACHIEVED = "achieved"  # SDSN: "maintaining SDG achievement"
    ON_TRACK = "on_track"
    MODERATELY_IMPROVING = "moderately_improving"
    STAGNATING = "stagnating"
    DECREASING = "decreasing"
    INSUFFICIENT_DATA = INSUFFICIENT


class GermanStatus(StrEnum):
    """German sustainability strategy weather categories."""

    ON_TRACK = "on_track"
    NEARLY_ON_TRACK = "nearly_on_track"
    OFF_TRACK = "off_track"
    MOVING_AWAY = "moving_away"
    INSUFFICIENT_DATA = INSUFFICIENT


class LinearStatus(StrEnum):
    """Position of the latest value relative to the straight line from base to target."""

    ON_PATH = "on_path"
    BEHIND_PATH = "behind_path"
    INSUFFICIENT_DATA = INSUFFICIENT


#: Ordinal rank of every status, worst = 0, per method (``insufficient_data`` has no rank).
STATUS_RANK: dict[str, dict[str, int]] = {
    "eurostat_sdg": {
        "movement_away": 0,
        "significant_movement_away": 0,
        "moderate_movement_away": 1,
        "insufficient_progress": 1,
        "moderate_progress": 2,
        "significant_progress": 3,
    },
    "open_sdg": {
        "deterioration": 0,
        "limited_progress": 1,
        "moderate_progress": 2,
        "substantial_progress": 3,
        "target_achieved": 4,
    },
    "sdsn_trend": {
        "decreasing": 0,
        "stagnating": 1,
        "moderately_improving": 2,
        "on_track": 3,
        "achieved": 4,
    },
    "german_strategy": {"moving_away": 0, "off_track": 1, "nearly_on_track": 2, "on_track": 3},
    "linear_trajectory_check": {"behind_path": 0, "on_path": 1},
}

SYMBOLS: dict[str, dict[str, str]] = {
    "eurostat_sdg": {
        "significant_progress": "↑",
        "moderate_progress": "↗",
        "insufficient_progress": "↘",
        "moderate_movement_away": "↘",
        "movement_away": "↓",
        "significant_movement_away": "↓",
        INSUFFICIENT: "·",
    },
    "open_sdg": {
        "target_achieved": "✓",
        "substantial_progress": "↑",
        "moderate_progress": "↗",
        "limited_progress": "→",
        "deterioration": "↓",
        INSUFFICIENT: "·",
    },
    "sdsn_trend": {
        "achieved": "↑",
        "on_track": "↑",
        "moderately_improving": "↗",
        "stagnating": "→",
        "decreasing": "↓",
        INSUFFICIENT: "·",
    },
    "german_strategy": {
        "on_track": "☀",
        "nearly_on_track": "🌤",
        "off_track": "☁",
        "moving_away": "⛈",
        INSUFFICIENT: "·",
    },
    "linear_trajectory_check": {"on_path": "✓", "behind_path": "✗", INSUFFICIENT: "·"},
}

#: (period length in years, minimum span between first and latest observation used)
EUROSTAT_PERIODS: dict[str, tuple[int, int]] = {"short": (5, 3), "long": (15, 10)}
EUROSTAT_TARGET_THRESHOLDS = {"significant": 0.95, "moderate": 0.60, "insufficient": 0.0}
EUROSTAT_TREND_THRESHOLDS = {"significant": 0.01, "moderate": 0.0, "moderate_away": -0.01}
OPEN_SDG_TARGET_THRESHOLDS = {"high": 0.95, "med": 0.60, "low": 0.0}
OPEN_SDG_TREND_THRESHOLDS = {"high": 0.015, "med": 0.005, "low": 0.0}
OPEN_SDG_ZERO_REPLACEMENT = 0.001
OPEN_SDG_MIN_SPAN = 1
SDSN_THRESHOLDS = {"on_track": 1.0, "moderately_improving": 0.5, "stagnating": 0.0}
SDSN_MIN_SPAN = 1
GERMAN_WINDOW = 5
GERMAN_MIN_SPAN = 3
GERMAN_MIN_POINTS = 4
GERMAN_THRESHOLDS = {"on_track": 0.05, "nearly_on_track": 0.20}
LINEAR_MIN_SPAN = 1

# Warning texts; placeholders are filled with whole numbers (years, spans) only, by str.format in the
# scalar functions and by pl.format in assess_frame, so both forms produce identical warnings.
MSG_NO_OBS = "no observations"
MSG_BASE_SUBSTITUTED = "base year {} missing; used {}"
MSG_NO_BASE = "no observation in or after base year {}"
MSG_SPAN = "needs at least {} years between the first and the latest observation used, has {}"
MSG_POINTS = "needs at least {} observations from {} to the latest year, has {}"
MSG_RATE_UNDEFINED = "growth rate undefined for zero or sign-changing values"
MSG_TARGET_UNDEFINED = "required growth rate undefined for a zero target or a target of opposite sign"
MSG_TARGET_YEAR_BASE = "target year {} not after base year {}"
MSG_TARGET_YEAR_LATEST = "target year {} not after latest year {}"
MSG_TARGET_MET = "target already met in {}"
MSG_BASE_BEYOND = "base value already on the target side; the latest value is not"
MSG_ZERO_BASE = "base value is zero; replaced by 0.001"
MSG_ZERO_TARGET = "target is zero; replaced by 0.001"
MSG_BOTH_ZERO = (
    "base and latest values are both zero: no change (not −100 % against the 0.001 put in for the base)"
)
MSG_OPPOSITE = "base and latest values have opposite signs"
MSG_TARGET_OPPOSITE = "target and base value have opposite signs"
MSG_TARGET_EQUALS_BASE = "target equals the base value; the required growth rate is zero"
MSG_ACHIEVEMENT_LOST = "threshold met in the base year but not in the latest year"


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


class Assessment(BaseModel):
    """Every input and output of one progress assessment of one series.

    ``observed_rate``/``required_rate`` are in the method's own unit (compound rate per year for
    Eurostat/Open SDG/linear, score points per year for SDSN, units per year for the German method).
    ``ratio`` is observed/required pace where defined; ``measure`` is the number actually compared to
    ``thresholds``; ``details`` holds method-specific intermediate numbers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str
    version: str
    direction: Direction
    requested_base_year: int | None
    base_year: int | None
    base_value: float | None
    latest_year: int | None
    latest_value: float | None
    target_year: int | None
    target_value: float | None
    observed_rate: float | None
    required_rate: float | None
    ratio: float | None
    measure: float | None
    thresholds: dict[str, float]
    status: str
    symbol: str
    score: float | None
    n_points: int
    warnings: tuple[str, ...]
    details: dict[str, Detail]


class EurostatAssessment(Assessment):
    """Eurostat SDG monitoring result."""

    status: EurostatStatus


class OpenSdgAssessment(Assessment):
    """Open SDG / Statistics Canada progress-measure result."""

    status: OpenSdgStatus


class SdsnAssessment(Assessment):
    """SDSN trend-dashboard result."""

    status: SdsnStatus


class GermanAssessment(Assessment):
    """German sustainability strategy result."""

    status: GermanStatus


class LinearAssessment(Assessment):
    """Linear-trajectory check result."""

    status: LinearStatus


# --------------------------------------------------------------------------------------------------
# Shared scalar helpers
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    """Latest observation and the base observation (requested year or the next available one)."""

    latest_year: int | None
    latest_value: float | None
    requested: int | None
    base_year: int | None
    base_value: float | None
    n_points: int
    span: int | None
    decimals: int = 0  # the series' published precision (trajectory.published_decimals)

    def substitution(self) -> list[str]:
        if self.base_year is not None and self.base_year != self.requested:
            return [MSG_BASE_SUBSTITUTED.format(self.requested, self.base_year)]
        return []


def _window(points: Sequence[Point], requested: int | Callable[[int], int]) -> _Window:
    if not points:
        return _Window(None, None, requested if isinstance(requested, int) else None, None, None, 0, None)
    latest_year, latest_value = points[-1]
    wanted = requested if isinstance(requested, int) else requested(latest_year)
    base = first_at_or_after(points, wanted)
    if base is None:
        decimals = published_decimals(v for _, v in points)
        return _Window(latest_year, latest_value, wanted, None, None, 0, None, decimals)
    n_points = sum(1 for year, _ in points if base[0] <= year <= latest_year)
    decimals = published_decimals(v for _, v in points)
    span = latest_year - base[0]
    return _Window(latest_year, latest_value, wanted, base[0], base[1], n_points, span, decimals)


def _ge(value: float | None, threshold: float) -> bool:
    return value is not None and value >= threshold


# --------------------------------------------------------------------------------------------------
# Eurostat
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
        version=METHOD_VERSIONS["eurostat_sdg"],
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
        symbol=SYMBOLS["eurostat_sdg"][status],
        score=None,
        n_points=w.n_points,
        warnings=tuple(warnings),
        details={"period": period, "span": span},
    )


# --------------------------------------------------------------------------------------------------
# Open SDG (Statistics Canada)
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
        version=METHOD_VERSIONS["open_sdg"],
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
        symbol=SYMBOLS["open_sdg"][status],
        score=score,
        n_points=w.n_points,
        warnings=tuple(warnings),
        details={"base_value_used": bv_used, "target_used": t_used, "span": span},
    )


# --------------------------------------------------------------------------------------------------
# SDSN trend dashboards
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
        version=METHOD_VERSIONS["sdsn_trend"],
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
        symbol=SYMBOLS["sdsn_trend"][status],
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
# German sustainability strategy
# --------------------------------------------------------------------------------------------------


def german_strategy(
    series: SeriesLike,
    *,
    target: float,
    target_year: int,
    direction: Direction,
) -> GermanAssessment:
    """German sustainability strategy (weather symbols): linear extrapolation of the recent mean change.

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
        version=METHOD_VERSIONS["german_strategy"],
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
        symbol=SYMBOLS["german_strategy"][status],
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
# Linear trajectory check
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

    Give ``target`` or ``reduction`` (then target = base value × (1 − reduction), from the same series).
    Base = ``base_year`` or the next available year (warning). The path value in the latest year is
    ``base·(1 − f) + target·f``, f = (latest − base)/(target_year − base), held at the target after the
    target year. gap = latest − path (units), gap_pct = gap/path·100; ratio = share of the path's change
    achieved, (latest − base)/(path − base). The direction defaults to 'increase' when the target is
    above the base value, else 'decrease'. observed/required rates are the CAGRs base→latest and
    base→target where defined (None for zero or sign-changing values).
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
        version=METHOD_VERSIONS["linear_trajectory_check"],
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
        symbol=SYMBOLS["linear_trajectory_check"][status],
        score=None,
        n_points=w.n_points,
        warnings=tuple(warnings),
        details={"reduction": reduction, "path_value": path, "gap": gap, "gap_pct": gap_pct, "span": span},
    )


# --------------------------------------------------------------------------------------------------
# Vectorised form
# --------------------------------------------------------------------------------------------------

_PARAM_TYPES: dict[str, pl.DataType] = {
    "target": pl.Float64(),
    "target_year": pl.Int64(),
    "base_year": pl.Int64(),
    "direction": pl.String(),
    "green_threshold": pl.Float64(),
    "red_threshold": pl.Float64(),
    "lower_bound": pl.Float64(),
    "reduction": pl.Float64(),
}


class SeriesError(ValueError):
    """A problem with one series of an assessed frame; ``key`` holds its key columns and values."""

    def __init__(self, problem: str, key: dict[str, Any]) -> None:
        self.problem, self.key = problem, key
        named = ", ".join(f"{column}={value!r}" for column, value in key.items())
        super().__init__(f"{problem} for {named}" if named else problem)


_REQUIRED = object()

#: Per method: the parameters that may be columns of the frame (or scalars) and their defaults.
_FRAME_PARAMS: dict[str, dict[str, Any]] = {
    "eurostat_sdg": {"target": None, "target_year": None, "direction": _REQUIRED},
    "open_sdg": {"target": None, "target_year": 2030, "base_year": 2015, "direction": _REQUIRED},
    "sdsn_trend": {
        "green_threshold": _REQUIRED,
        "red_threshold": None,
        "lower_bound": None,
        "target_year": 2030,
        "base_year": 2015,
        "direction": _REQUIRED,
    },
    "german_strategy": {"target": _REQUIRED, "target_year": _REQUIRED, "direction": _REQUIRED},
    "linear_trajectory_check": {
        "base_year": _REQUIRED,
        "target": None,
        "reduction": None,
        "target_year": _REQUIRED,
        "direction": None,
    },
}

_FRAME_SCALARS: dict[str, dict[str, Any]] = {"eurostat_sdg": {"period": "short"}}

_OUTPUT_COLUMNS = [
    "method",
    "version",
    "direction",
    "requested_base_year",
    "base_year",
    "base_value",
    "latest_year",
    "latest_value",
    "target_year",
    "target_value",
    "observed_rate",
    "required_rate",
    "ratio",
    "measure",
    "status",
    "symbol",
    "score",
    "n_points",
    "warnings",
]

#: Method-specific columns of ``assess_frame`` (the same keys as ``Assessment.details``).
DETAIL_COLUMNS: dict[str, list[str]] = {
    "eurostat_sdg": ["period", "span"],
    "open_sdg": ["base_value_used", "target_used", "span"],
    "sdsn_trend": ["lower_bound", "score_base", "score_latest", "colour", "span"],
    "german_strategy": ["projected_value", "remaining_distance", "deviation", "span"],
    "linear_trajectory_check": ["reduction", "path_value", "gap", "gap_pct", "span"],
}

c = pl.col
_F = pl.Float64
_NULL_F = pl.lit(None, dtype=_F)
_NULL_I = pl.lit(None, dtype=pl.Int64)
_NULL_S = pl.lit(None, dtype=pl.String)


def _prepare_frame(
    frame: pl.DataFrame, method: str, keys: Sequence[str] | None, params: dict[str, Any]
) -> tuple[pl.LazyFrame, list[str]]:
    """Resolve the parameters (column, keyword or default) and mask missing values; no data pass yet."""
    for column in ("year", "value"):
        if column not in frame.columns:
            raise ValueError(f"frame lacks the column {column!r}")
    spec = _FRAME_PARAMS[method]
    unknown = set(params) - set(spec) - set(_FRAME_SCALARS.get(method, {}))
    if unknown:
        raise TypeError(f"{method} does not take parameter(s) {sorted(unknown)}")
    if keys is None:
        keys = [col for col in frame.columns if col not in {"year", "value", *spec}]
    keys = list(keys)
    lf = frame.lazy()
    if not keys:
        lf = lf.with_columns(_group=pl.lit(0))
        keys = ["_group"]
    valid = c("value").is_not_null() & c("value").cast(_F).is_not_nan()
    columns = [
        pl.when(valid).then(c("year").cast(pl.Int64)).alias("_year"),
        pl.when(valid).then(c("value").cast(_F)).alias("_value"),
    ]
    for name, default in spec.items():
        dtype = _PARAM_TYPES[name]
        if name in frame.columns:
            if name in params:
                raise TypeError(f"{name!r} is both a column of the frame and a parameter")
            expr = c(name).cast(dtype)
        elif name in params:
            expr = pl.lit(params[name], dtype=dtype)
        elif default is _REQUIRED:
            raise TypeError(f"{method} needs {name!r} as a column of the frame or as a parameter")
        else:
            expr = pl.lit(default, dtype=dtype)
        columns.append(expr.alias(f"_p_{name}"))
    return lf.select(*keys, *columns), keys


def _param(method: str, name: str) -> pl.Expr:
    """A group's parameter: its first non-null value, else the scalar function's default."""
    default = _FRAME_PARAMS[method][name]
    expr = c(f"_p_{name}").drop_nulls().first()
    if default is not None and default is not _REQUIRED:
        expr = expr.fill_null(pl.lit(default, dtype=_PARAM_TYPES[name]))
    return expr


def _aggregate(lf: pl.LazyFrame, keys: list[str], method: str, requested: pl.Expr) -> pl.DataFrame:
    """One group_by pass: latest and base observations (base = requested year or the next available).

    All expressions are evaluated per group inside the aggregation (``requested`` may use the group's
    latest year or parameter), so there is no window function and no Python loop over groups. The
    aggregated frame (one row per series) is collected and validated: duplicate years and unknown
    directions raise ValueError.
    """
    year, value = c("_year"), c("_value")
    latest = year.max()
    base = pl.when(year >= requested).then(year).min()
    params = [name for name in _FRAME_PARAMS[method] if name != "base_year"]
    g = (
        lf.group_by(keys)
        .agg(
            latest_year=latest,
            latest_value=value.filter(year == latest).first(),
            requested_base_year=requested,
            base_year=base,
            base_value=value.filter(year == base).first(),
            n_points=((year >= base) & (year <= latest)).sum().cast(pl.Int64),
            value_max=value.max(),
            value_min=value.min(),
            decimals=value_decimals_expr(value).max().fill_null(0),
            _duplicate=year.filter(year.is_duplicated() & year.is_not_null()).min(),
            **{name: _param(method, name) for name in params},
        )
        .collect()
    )

    def key(row: dict[str, Any]) -> dict[str, Any]:
        return {k: row[k] for k in keys if k != "_group"}

    duplicates = g.filter(c("_duplicate").is_not_null())
    if duplicates.height:
        row = duplicates.sort(keys).row(0, named=True)
        raise SeriesError(f"duplicate year {row['_duplicate']}", key(row))
    for name, default in _FRAME_PARAMS[method].items():
        column = "requested_base_year" if name == "base_year" else name
        missing = g.filter(c(column).is_null())
        if default is _REQUIRED and missing.height:
            raise SeriesError(f"{method}: {name} is missing", key(missing.sort(keys).row(0, named=True)))
    if "direction" in params:
        seen = set(g.get_column("direction").unique().to_list())
        allowed = {"decrease", "increase"} | ({None} if _FRAME_PARAMS[method]["direction"] is None else set())
        if not seen <= allowed:
            raise ValueError(
                f"direction must be 'decrease' or 'increase', got {sorted(map(str, seen - allowed))}"
            )
    return g.drop("_duplicate")


def _compound_expr(quotient: pl.Expr, years: pl.Expr) -> pl.Expr:
    """``trajectory.compound_rate`` as a polars expression: exp(ln(q)/years) − 1, the same operations."""
    return (quotient.log() / years).exp() - 1.0


def _warnings(*items: pl.Expr) -> pl.Expr:
    return pl.concat_list([item.cast(pl.String) for item in items]).list.drop_nulls().alias("warnings")


def _substitution() -> pl.Expr:
    return pl.when(c("base_year").is_not_null() & (c("base_year") != c("requested_base_year"))).then(
        pl.format(MSG_BASE_SUBSTITUTED, c("requested_base_year"), c("base_year"))
    )


def _dsign() -> pl.Expr:
    return pl.when(c("direction") == "increase").then(1.0).otherwise(-1.0)


def _symbol(method: str) -> pl.Expr:
    return c("status").replace_strict(SYMBOLS[method], return_dtype=pl.String).alias("symbol")


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
        _symbol("eurostat_sdg"),
        _warnings(_substitution(), c("reason")),
        target_value=t,
        score=_NULL_F,
        period=pl.lit(period),
    )


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
        _symbol("open_sdg"),
        _warnings(
            _substitution(),
            pl.when(enough & (bv == 0)).then(pl.lit(MSG_ZERO_BASE)),
            pl.when(enough & (t == 0)).then(pl.lit(MSG_ZERO_TARGET)),
            pl.when(enough & (bv == 0) & (lv == 0)).then(pl.lit(MSG_BOTH_ZERO)),
            c("reason"),
        ),
        target_value=t,
    )


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
        _symbol("sdsn_trend"),
        _warnings(_substitution(), c("reason")),
        target_value=green,
        measure=c("ratio"),
        score=c("score_latest"),
    )


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
        _symbol("german_strategy"),
        _warnings(_substitution(), c("reason")),
        target_value=t,
        measure=c("deviation"),
        score=_NULL_F,
    )


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
        _symbol("linear_trajectory_check"),
        _warnings(_substitution(), c("reason")),
        measure=c("gap"),
        score=_NULL_F,
    )


def assess_frame(
    frame: pl.DataFrame,
    method: str,
    *,
    keys: Sequence[str] | None = None,
    **params: Any,
) -> pl.DataFrame:
    """Assess every series of a long frame at once with polars expressions (no Python loop per group).

    ``frame`` has ``year`` and ``value`` plus key columns (default: every other column that is not a
    parameter of the method) and, optionally, per-row parameter columns named like the scalar
    function's keywords (``target``, ``target_year``, ``direction``, ``base_year``, ``green_threshold``,
    ``red_threshold``, ``lower_bound``, ``reduction``); the first non-null value per group is used. A
    parameter that is not a column may be passed as a keyword and applies to every group; ``period`` for
    ``eurostat_sdg`` is keyword-only. Output: one row per group with the keys, the common ``Assessment``
    fields (without ``thresholds``, see the module constants) and the method's ``DETAIL_COLUMNS``; the
    numbers and statuses equal those of the scalar functions. For ``linear_trajectory_check`` a row's
    ``target`` takes precedence over ``reduction``. Duplicate (key, year) observations raise ValueError
    naming the year; missing values are ignored; groups without observations report insufficient_data.
    """
    if method not in _FRAME_PARAMS:
        raise ValueError(f"unknown method {method!r}; expected one of {sorted(_FRAME_PARAMS)}")
    scalars = {
        **_FRAME_SCALARS.get(method, {}),
        **{k: v for k, v in params.items() if k in _FRAME_SCALARS.get(method, {})},
    }
    column_params = {k: v for k, v in params.items() if k not in scalars}
    lf, key_columns = _prepare_frame(frame, method, keys, column_params)

    if method == "eurostat_sdg":
        period = str(scalars["period"])
        if period not in EUROSTAT_PERIODS:
            raise ValueError(f"period must be 'short' or 'long', got {period!r}")
        requested = c("_year").max() - EUROSTAT_PERIODS[period][0]
    elif method == "german_strategy":
        requested = c("_year").max() - GERMAN_WINDOW
    else:
        requested = _param(method, "base_year")
    g = _aggregate(lf, key_columns, method, requested).lazy()

    if method == "eurostat_sdg":
        if g.filter(c("target").is_not_null() & c("target_year").is_null()).head(1).collect().height:
            raise ValueError("a target needs a target_year")
        g = _frame_eurostat(g, period)
    elif method == "open_sdg":
        g = _frame_open_sdg(g)
    elif method == "sdsn_trend":
        checks = g.select(
            lower=(_dsign() * (c("green_threshold") - c("lower_bound")) <= 0).any(),
            red=(_dsign() * (c("green_threshold") - c("red_threshold")) <= 0).any(),
        ).collect()
        if checks.item(0, "lower"):
            raise ValueError("lower_bound must lie on the worse side of green_threshold")
        if checks.item(0, "red"):
            raise ValueError("red_threshold must lie on the worse side of green_threshold")
        g = _frame_sdsn(g)
    elif method == "german_strategy":
        g = _frame_german(g)
    else:
        missing = g.filter(c("target").is_null() & c("reduction").is_null()).head(1).collect()
        if missing.height:
            raise ValueError("every group needs a target or a reduction")
        g = _frame_linear(g)

    g = g.with_columns(method=pl.lit(method), version=pl.lit(METHOD_VERSIONS[method]))
    out_keys = [k for k in key_columns if k != "_group"]
    columns = [*out_keys, *_OUTPUT_COLUMNS, *DETAIL_COLUMNS[method]]
    return g.select(columns).sort(out_keys or "method").collect()
