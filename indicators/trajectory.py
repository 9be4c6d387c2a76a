"""Pure trajectory maths for yearly series: targets, linear paths, rates, trends, budgets and nowcasts."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

Direction = Literal["decrease", "increase"]
TrendMethod = Literal["ols", "theil_sen"]
Point = tuple[int, float]
SeriesLike = pl.DataFrame | Mapping[int, float | None] | Sequence[tuple[int, float | None]]

#: Default OLS/Theil–Sen window: the last ``TREND_MAX_POINTS`` observations, at least ``TREND_MIN_POINTS``.
TREND_MAX_POINTS = 10
TREND_MIN_POINTS = 5


class _Record(BaseModel):
    """Immutable result record; every input and intermediate number is a field."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class InsufficientDataError(ValueError):
    """Raised where a value would otherwise have to be guessed from too few observations."""


# --------------------------------------------------------------------------------------------------
# Series handling
# --------------------------------------------------------------------------------------------------


def _is_missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def to_points(series: SeriesLike) -> tuple[Point, ...]:
    """Normalise a series to ``((year, value), ...)`` sorted by year.

    Missing values (None/null or NaN) are dropped first; a year that then still occurs twice raises
    ValueError naming the year (two observations for one year are never averaged or picked silently).
    Accepts a polars DataFrame with ``year`` and ``value`` columns, a mapping year -> value, or a
    sequence of (year, value) pairs.
    """
    raw: list[tuple[int, float | None]]
    if isinstance(series, pl.DataFrame):
        missing = {"year", "value"} - set(series.columns)
        if missing:
            raise ValueError(f"series frame lacks column(s) {sorted(missing)}; needs 'year' and 'value'")
        raw = list(
            zip(
                series.get_column("year").cast(pl.Int64).to_list(),
                series.get_column("value").cast(pl.Float64).to_list(),
                strict=True,
            )
        )
    elif isinstance(series, Mapping):
        raw = list(series.items())
    else:
        raw = list(series)
    points: dict[int, float] = {}
    for year, value in raw:
        if year is None:
            raise ValueError("series has an observation without a year")
        if _is_missing(value):
            continue
        year_int = int(year)
        if year_int != year:
            raise ValueError(f"year {year!r} is not a whole year")
        if year_int in points:
            raise ValueError(f"duplicate year {year_int} in series")
        assert value is not None
        points[year_int] = float(value)
    return tuple(sorted(points.items()))


def first_at_or_after(points: Sequence[Point], year: int) -> Point | None:
    """The first observation in ``year`` or, if that year is missing, the next available year."""
    for point in points:
        if point[0] >= year:
            return point
    return None


def direction_sign(direction: str) -> int:
    """-1 for a desired decrease, +1 for a desired increase."""
    if direction == "decrease":
        return -1
    if direction == "increase":
        return 1
    raise ValueError(f"direction must be 'decrease' or 'increase', got {direction!r}")


# --------------------------------------------------------------------------------------------------
# Targets and linear paths
# --------------------------------------------------------------------------------------------------


class DerivedTarget(_Record):
    """A target derived from the base-year value of the same series."""

    base_year: int
    base_value: float
    reduction: float
    target_value: float


def target_from_base(base_value: float, reduction: float = 0.8) -> float:
    """Target = base value × (1 − reduction), computed as base − base·reduction; 1060 kt, −80 % → 212 kt.

    The one derivation of a reduction target; target_from_base_expr is the same operations for polars
    (indicators.targets and the methods' frame form use it). base·(1 − reduction) would give
    211.99999999999994 for 1060 and 0.8, because 1 − 0.8 is not exactly 0.2 in binary.
    """
    if not math.isfinite(base_value) or not math.isfinite(reduction):
        raise ValueError("base value and reduction must be finite numbers")
    return base_value - base_value * reduction


def target_from_base_expr(base_value: pl.Expr, reduction: pl.Expr) -> pl.Expr:
    """target_from_base as a polars expression: base − base·reduction, the same operations."""
    return base_value - base_value * reduction


# --------------------------------------------------------------------------------------------------
# Comparing at the published precision
# --------------------------------------------------------------------------------------------------

#: Cap on the decimals read from the data (beyond it a float's digits are binary noise, not publication).
MAX_DECIMALS = 12


def value_decimals(value: float) -> int:
    """Decimals a value shows in its shortest round-trip form: 742.3 → 1, 212.0 → 0, 1e-07 → 7."""
    mantissa, _, exponent = repr(float(value)).partition("e")
    fraction = mantissa.partition(".")[2]
    digits = 0 if fraction in ("", "0") else len(fraction)
    return min(max(digits - int(exponent or "0"), 0), MAX_DECIMALS)


def published_decimals(values: Iterable[float]) -> int:
    """The precision a series is published at, read from the data: the most decimals any value shows.

    The sources state no precision in their payloads that every protocol carries (HSY and Syke publish
    plain numbers), so the data's own digits are the declaration: a series published in whole kt has 0.
    """
    return max((value_decimals(v) for v in values), default=0)


def value_decimals_expr(value: pl.Expr) -> pl.Expr:
    """value_decimals as a polars expression (polars writes floats in the same shortest form).

    For a big frame use with_value_decimals: in one expression polars' common-subexpression elimination
    still makes the text once per use of it (about twice the time).
    """
    return _text_decimals(value.cast(pl.String))


def with_value_decimals(frame: pl.LazyFrame, value: pl.Expr, name: str) -> pl.LazyFrame:
    """frame with the column name: value_decimals_expr of value, its text made once, in a step of its own."""
    text = f"__{name}_text"
    return (
        frame.with_columns(value.cast(pl.String).alias(text))
        .with_columns(_text_decimals(pl.col(text)).alias(name))
        .drop(text)
    )


def _text_decimals(text: pl.Expr) -> pl.Expr:
    """value_decimals of each value's text (the float cast to String).

    Positions, not splits: the fraction runs from the "." to the "e" (or the end), and a fraction that
    is one "0" counts none. Not inside a group-by aggregation, where polars evaluates it per group.
    """
    e = text.str.find("e", literal=True)
    fraction = e.fill_null(text.str.len_bytes()) - text.str.find(".", literal=True) - 1  # null: no "."
    whole = (fraction == 1) & text.str.contains(".0", literal=True)
    digits = pl.when(fraction.is_null() | whole).then(0).otherwise(fraction)
    exponent = (
        pl.when(e.is_null()).then(0).otherwise(text.str.slice(e + 1).str.strip_prefix("+").cast(pl.Int64))
    )
    return (digits.cast(pl.Int64) - exponent).clip(0, MAX_DECIMALS)


def half_unit(decimals: int) -> float:
    """Half a unit of the last published digit: values closer than this are equal at that precision."""
    return 0.5 / 10.0**decimals


def reaches(value: float, target: float, sign: int, decimals: int) -> bool:
    """Whether value is on the target's side or equal to it at the published precision (sign: +1 when
    more is better, −1 when less is). 212.0 reaches 211.99999999999994 (decreasing, 0 decimals)."""
    return sign * (value - target) >= -half_unit(decimals)


def reaches_expr(value: pl.Expr, target: pl.Expr, sign: pl.Expr, decimals: pl.Expr) -> pl.Expr:
    """reaches as a polars expression, the same operations."""
    return sign * (value - target) >= -(0.5 / pl.lit(10.0).pow(decimals))


def target_for_series(series: SeriesLike, *, base_year: int = 1990, reduction: float = 0.8) -> DerivedTarget:
    """Derive the target from the series' own base-year value (strict: the base year must be observed).

    A target taken from another year would be a different target, so unlike growth rates no substitute
    year is used here; a missing base year raises InsufficientDataError.
    """
    observed = dict(to_points(series))
    if base_year not in observed:
        raise InsufficientDataError(f"base year {base_year} is not observed; cannot derive the target")
    base_value = observed[base_year]
    return DerivedTarget(
        base_year=base_year,
        base_value=base_value,
        reduction=reduction,
        target_value=target_from_base(base_value, reduction),
    )


def linear_value(
    base_year: int, base_value: float, target_year: int, target_value: float, year: int
) -> float:
    """Value of the straight line base→target in ``year`` (held at the target after the target year).

    Written as ``base·(1 − f) + target·f`` with ``f = (year − base_year)/(target_year − base_year)`` so
    that the path equals the base value and the target value exactly at its ends.
    """
    horizon = target_year - base_year
    if horizon <= 0:
        raise ValueError(f"target year {target_year} must be after base year {base_year}")
    fraction = min(year - base_year, horizon) / horizon
    return base_value * (1.0 - fraction) + target_value * fraction


def linear_path(base_year: int, base_value: float, target_year: int, target_value: float) -> pl.DataFrame:
    """Straight line from (base_year, base_value) to (target_year, target_value), every year inclusive."""
    horizon = target_year - base_year
    if horizon <= 0:
        raise ValueError(f"target year {target_year} must be after base year {base_year}")
    years = list(range(base_year, target_year + 1))
    values = [linear_value(base_year, base_value, target_year, target_value, year) for year in years]
    return pl.DataFrame({"year": years, "value": values}, schema={"year": pl.Int64, "value": pl.Float64})


def path_from_latest(series: SeriesLike, target_year: int, target_value: float) -> pl.DataFrame:
    """Straight line from the latest observation to the target, every year inclusive."""
    points = to_points(series)
    if not points:
        raise InsufficientDataError("series has no observations")
    latest_year, latest_value = points[-1]
    return linear_path(latest_year, latest_value, target_year, target_value)


# --------------------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------------------


def _check_compound(from_value: float, to_value: float, years: float) -> None:
    if years <= 0:
        raise ValueError(f"the number of years must be positive, got {years}")
    if from_value == 0 or to_value == 0:
        raise ValueError(
            "a compound annual rate is undefined for a zero start or end value; use the linear change"
        )
    if (from_value > 0) != (to_value > 0):
        raise ValueError("a compound annual rate is undefined between values of opposite sign")


def compound_rate(quotient: float, years: float) -> float:
    """``quotient^(1/years) − 1`` computed as ``exp(ln(quotient)/years) − 1`` (−1 for a zero quotient).

    Written with exp/log rather than ``**`` because the vectorised methods evaluate the same two
    operations in polars (whose ``pow`` special-cases some exponents), so both forms agree to the bit.
    """
    if quotient == 0:
        return -1.0
    return math.exp(math.log(quotient) / years) - 1.0


def cagr(start_value: float, end_value: float, years: float) -> float:
    """Compound annual growth rate ``(end/start)^(1/years) − 1``; ValueError where it is undefined."""
    _check_compound(start_value, end_value, years)
    return compound_rate(end_value / start_value, years)


def required_annual_rate(from_value: float, to_value: float, years: float) -> float:
    """Compound annual rate needed to go from ``from_value`` to ``to_value`` in ``years``.

    1990→2030 for −80 %: 0.2^(1/40) − 1 ≈ −3.94 % a year. Zero or sign-changing values raise ValueError.
    """
    return cagr(from_value, to_value, years)


def required_linear_change(from_value: float, to_value: float, years: float) -> float:
    """Constant absolute change per year needed (negative = a cut), ``(to − from)/years``."""
    if years <= 0:
        raise ValueError(f"the number of years must be positive, got {years}")
    return (to_value - from_value) / years


class RequiredPace(_Record):
    """The pace needed between two points, as a compound rate and as a linear change in units."""

    from_year: int
    from_value: float
    to_year: int
    to_value: float
    years: int
    compound_rate: float | None
    linear_change: float
    linear_cut: float
    note: str | None


def required_pace(from_year: int, from_value: float, to_year: int, to_value: float) -> RequiredPace:
    """Required compound rate (None where undefined, e.g. a zero target) and linear change per year."""
    years = to_year - from_year
    linear = required_linear_change(from_value, to_value, years)
    rate: float | None
    note: str | None = None
    try:
        rate = required_annual_rate(from_value, to_value, years)
    except ValueError as error:
        rate, note = None, str(error)
    return RequiredPace(
        from_year=from_year,
        from_value=from_value,
        to_year=to_year,
        to_value=to_value,
        years=years,
        compound_rate=rate,
        linear_change=linear,
        linear_cut=-linear,
        note=note,
    )


class Growth(_Record):
    """Compound annual growth between two observations, recording the years actually used."""

    requested_start_year: int
    start_year: int
    start_value: float
    end_year: int
    end_value: float
    years: int
    rate: float
    start_substituted: bool


def compound_growth(series: SeriesLike, start_year: int, end_year: int | None = None) -> Growth:
    """CAGR from ``start_year`` (or the next available year) to ``end_year`` (default: the latest).

    The end year, when given, must be observed. Raises ValueError on duplicates, InsufficientDataError
    without two usable observations, ValueError where the rate is undefined (zero/opposite signs).
    """
    points = to_points(series)
    if not points:
        raise InsufficientDataError("series has no observations")
    observed = dict(points)
    if end_year is None:
        end_year = points[-1][0]
    elif end_year not in observed:
        raise InsufficientDataError(f"end year {end_year} is not observed")
    start = first_at_or_after(points, start_year)
    if start is None or start[0] >= end_year:
        raise InsufficientDataError(f"no observation from {start_year} before the end year {end_year}")
    years = end_year - start[0]
    return Growth(
        requested_start_year=start_year,
        start_year=start[0],
        start_value=start[1],
        end_year=end_year,
        end_value=observed[end_year],
        years=years,
        rate=cagr(start[1], observed[end_year], years),
        start_substituted=start[0] != start_year,
    )


# --------------------------------------------------------------------------------------------------
# Student t quantile (exact for whole degrees of freedom)
# --------------------------------------------------------------------------------------------------


def _t_central_probability(t: float, df: int) -> float:
    """P(|T| ≤ t) for Student's t with whole ``df`` (Abramowitz & Stegun 26.7.3–26.7.4, finite sums)."""
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2 == 1:
        total = 0.0
        if df > 1:
            term = math.cos(theta)
            total = term
            for k in range(3, df - 1, 2):
                term *= cos2 * (k - 1) / k
                total += term
        return 2.0 / math.pi * (theta + math.sin(theta) * total)
    term = 1.0
    total = 1.0
    for k in range(2, df - 1, 2):
        term *= cos2 * (k - 1) / k
        total += term
    return math.sin(theta) * total


@cache
def t_quantile(probability: float, df: int) -> float:
    """Quantile of Student's t distribution with whole ``df`` ≥ 1.

    The CDF is the exact finite-sum form for whole degrees of freedom, inverted by bisection to machine
    precision, so no statistics library (and no normal approximation) is needed: t(0.975, 3) = 3.1824….
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if not 0.0 < probability < 1.0:
        raise ValueError(f"probability must be strictly between 0 and 1, got {probability}")
    if probability == 0.5:
        return 0.0
    if probability < 0.5:
        return -t_quantile(1.0 - probability, df)
    central = 2.0 * probability - 1.0
    low, high = 0.0, 1.0
    while _t_central_probability(high, df) < central:
        low, high = high, high * 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if mid in (low, high):
            break
        if _t_central_probability(mid, df) < central:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


# --------------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------------


class InsufficientData(_Record):
    """A trend that was not estimated because there were too few observations (never a guess)."""

    status: Literal["insufficient_data"] = "insufficient_data"
    method: TrendMethod
    n_points: int
    min_points: int
    reason: str


class TrendFit(_Record):
    """A straight-line fit to the last observations; the line passes through (center_year, center_value)."""

    status: Literal["ok"] = "ok"
    method: TrendMethod
    years: tuple[int, ...]
    values: tuple[float, ...]
    n_points: int
    slope: float
    intercept: float
    center_year: float
    center_value: float
    sxx: float
    residuals: tuple[float, ...]
    residual_se: float
    df: int

    def predict(self, year: float) -> float:
        """Value of the fitted line in ``year``."""
        return self.center_value + self.slope * (year - self.center_year)


def _window(points: Sequence[Point], max_points: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    used = points[-max_points:]
    return tuple(p[0] for p in used), tuple(p[1] for p in used)


def fit_trend(
    series: SeriesLike,
    *,
    method: TrendMethod = "ols",
    max_points: int = TREND_MAX_POINTS,
    min_points: int = TREND_MIN_POINTS,
) -> TrendFit | InsufficientData:
    """Fit a line to the last ``max_points`` observations (at least ``min_points``, else InsufficientData).

    ``ols``: least squares. ``theil_sen``: slope = median of all pairwise slopes, intercept = median of
    ``y − slope·x`` (robust to single outlier years). The residual standard error uses n − 2 degrees of
    freedom for both, so ``min_points`` must be at least 3.
    """
    if min_points < 3:
        raise ValueError("min_points must be at least 3 (a residual error needs n − 2 ≥ 1)")
    if max_points < min_points:
        raise ValueError("max_points must be at least min_points")
    points = to_points(series)
    years, values = _window(points, max_points)
    n = len(years)
    if n < min_points:
        return InsufficientData(
            method=method,
            n_points=n,
            min_points=min_points,
            reason=f"a trend needs at least {min_points} observations, the series has {n}",
        )
    x_mean = sum(years) / n
    y_mean = sum(values) / n
    sxx = sum((x - x_mean) ** 2 for x in years)
    if method == "ols":
        sxy = sum((x - x_mean) * (y - y_mean) for x, y in zip(years, values, strict=True))
        slope = sxy / sxx
        intercept = y_mean - slope * x_mean
        center_value = y_mean
    elif method == "theil_sen":
        slopes = [(values[j] - values[i]) / (years[j] - years[i]) for i in range(n) for j in range(i + 1, n)]
        slope = statistics.median(slopes)
        intercept = statistics.median(y - slope * x for x, y in zip(years, values, strict=True))
        center_value = intercept + slope * x_mean
    else:
        raise ValueError(f"unknown trend method {method!r}")
    residuals = tuple(y - (center_value + slope * (x - x_mean)) for x, y in zip(years, values, strict=True))
    df = n - 2
    residual_se = math.sqrt(sum(r * r for r in residuals) / df)
    return TrendFit(
        method=method,
        years=years,
        values=values,
        n_points=n,
        slope=slope,
        intercept=intercept,
        center_year=x_mean,
        center_value=center_value,
        sxx=sxx,
        residuals=residuals,
        residual_se=residual_se,
        df=df,
    )


class Projection(_Record):
    """A trend value for one year with a prediction band; always an estimate."""

    method: TrendMethod
    year: int
    value: float
    lower: float
    upper: float
    level: float
    t_quantile: float
    standard_error: float
    estimated: bool = True


def clip_to_bounds(value: float, bounds: tuple[float | None, float | None]) -> float:
    """value within (least, greatest); a None bound does not cut."""
    least, greatest = bounds
    if least is not None and value < least:
        return least
    if greatest is not None and value > greatest:
        return greatest
    return value


def project(
    fit: TrendFit,
    year: int,
    *,
    level: float = 0.95,
    bounds: tuple[float | None, float | None] = (None, None),
) -> Projection:
    """Trend value in ``year`` with a ``level`` prediction band, value and band cut at the quantity's
    ``bounds`` (catalogue Indicator.value_bounds: an amount's trend does not go below 0).

    Band: value ± t(1 − (1 − level)/2, n − 2) · s · sqrt(1 + 1/n + (year − x̄)²/Sxx), with s the residual
    standard error and t the exact Student-t quantile (see ``t_quantile``). For Theil–Sen the same formula
    is used with the Theil–Sen residuals — an approximation, as no closed form exists for that estimator.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    quantile = t_quantile(1.0 - (1.0 - level) / 2.0, fit.df)
    distance = year - fit.center_year
    standard_error = fit.residual_se * math.sqrt(1.0 + 1.0 / fit.n_points + distance**2 / fit.sxx)
    value = fit.predict(year)
    return Projection(
        method=fit.method,
        year=year,
        value=clip_to_bounds(value, bounds),
        lower=clip_to_bounds(value - quantile * standard_error, bounds),
        upper=clip_to_bounds(value + quantile * standard_error, bounds),
        level=level,
        t_quantile=quantile,
        standard_error=standard_error,
    )


def year_target_reached(fit: TrendFit, target_value: float, direction: Direction) -> int | None:
    """First whole year in which the fitted line reaches the target; None if it never does.

    None when the slope is zero or points away from the desired direction. The year may lie in the past
    when the fitted line has already crossed the target.
    """
    sign = direction_sign(direction)
    if sign * fit.slope <= 0:
        return None
    crossing = fit.center_year + (target_value - fit.center_value) / fit.slope
    return math.ceil(crossing)


class TrendOutlook(_Record):
    """Trend at the target year: fit, projection with band, and the year the target would be reached."""

    target_year: int
    target_value: float
    direction: Direction
    fit: TrendFit | InsufficientData
    projection: Projection | None
    year_reached: int | None
    on_course: bool | None


def trend_outlook(
    series: SeriesLike,
    *,
    target_year: int,
    target_value: float,
    direction: Direction,
    method: TrendMethod = "ols",
    level: float = 0.95,
    max_points: int = TREND_MAX_POINTS,
    min_points: int = TREND_MIN_POINTS,
    bounds: tuple[float | None, float | None] = (None, None),
) -> TrendOutlook:
    """Project the current trend to the target year; ``on_course`` is None when data are insufficient."""
    sign = direction_sign(direction)
    fit = fit_trend(series, method=method, max_points=max_points, min_points=min_points)
    if isinstance(fit, InsufficientData):
        return TrendOutlook(
            target_year=target_year,
            target_value=target_value,
            direction=direction,
            fit=fit,
            projection=None,
            year_reached=None,
            on_course=None,
        )
    projection = project(fit, target_year, level=level, bounds=bounds)
    return TrendOutlook(
        target_year=target_year,
        target_value=target_value,
        direction=direction,
        fit=fit,
        projection=projection,
        year_reached=year_target_reached(fit, target_value, direction),
        on_course=sign * (projection.value - target_value) >= 0,
    )


_NOWCAST_SCHEMA = {
    "year": pl.Int64,
    "value": pl.Float64,
    "lower": pl.Float64,
    "upper": pl.Float64,
    "estimated": pl.Boolean,
}


def nowcast(
    series: SeriesLike,
    until_year: int,
    *,
    method: TrendMethod = "ols",
    level: float = 0.95,
    max_points: int = TREND_MAX_POINTS,
    min_points: int = TREND_MIN_POINTS,
    bounds: tuple[float | None, float | None] = (None, None),
) -> pl.DataFrame:
    """Trend estimates for the years after the latest observation up to ``until_year``, ``estimated=True``,
    cut at the quantity's ``bounds`` as ``project`` does.

    Columns year, value, lower, upper, estimated. Raises InsufficientDataError rather than guess; an
    ``until_year`` not after the latest observation gives an empty frame.
    """
    fit = fit_trend(series, method=method, max_points=max_points, min_points=min_points)
    if isinstance(fit, InsufficientData):
        raise InsufficientDataError(fit.reason)
    latest_year = fit.years[-1]
    rows = [project(fit, year, level=level, bounds=bounds) for year in range(latest_year + 1, until_year + 1)]
    return pl.DataFrame(
        {
            "year": [p.year for p in rows],
            "value": [p.value for p in rows],
            "lower": [p.lower for p in rows],
            "upper": [p.upper for p in rows],
            "estimated": [True for _ in rows],
        },
        schema=_NOWCAST_SCHEMA,
    )


# --------------------------------------------------------------------------------------------------
# Budget view
# --------------------------------------------------------------------------------------------------


class BudgetView(_Record):
    """Cumulative amounts from the year after the latest to the target year: linear path vs trend."""

    latest_year: int
    latest_value: float
    target_year: int
    target_value: float
    years: tuple[int, ...]
    path_values: tuple[float, ...]
    path_total: float
    trend_method: TrendMethod
    trend_status: Literal["ok", "insufficient_data"]
    trend_values: tuple[float, ...] | None
    trend_total: float | None
    overshoot: float | None
    floor: float | None
    reason: str | None


def budget_view(
    series: SeriesLike,
    *,
    target_year: int,
    target_value: float,
    method: TrendMethod = "ols",
    floor: float | None = None,
    max_points: int = TREND_MAX_POINTS,
    min_points: int = TREND_MIN_POINTS,
) -> BudgetView:
    """Remaining cumulative emissions, latest+1 … target year, on the linear path vs on the current trend.

    The path runs straight from the latest observation to the target. The trend is the OLS (or
    Theil–Sen) line over the last observations; ``floor`` (e.g. 0.0) optionally bounds trend values from
    below. ``overshoot = trend_total − path_total`` (positive: the trend emits more than the path allows).
    Without enough data the trend side is None with the reason recorded.
    """
    points = to_points(series)
    if not points:
        raise InsufficientDataError("series has no observations")
    latest_year, latest_value = points[-1]
    if target_year <= latest_year:
        raise ValueError(f"target year {target_year} must be after the latest observation {latest_year}")
    years = tuple(range(latest_year + 1, target_year + 1))
    path_values = tuple(linear_value(latest_year, latest_value, target_year, target_value, y) for y in years)
    path_total = math.fsum(path_values)
    fit = fit_trend(points, method=method, max_points=max_points, min_points=min_points)
    trend_values: tuple[float, ...] | None = None
    trend_total: float | None = None
    overshoot: float | None = None
    reason: str | None = None
    if isinstance(fit, InsufficientData):
        reason = fit.reason
    else:
        raw = (fit.predict(y) for y in years)
        trend_values = tuple(raw if floor is None else (max(v, floor) for v in raw))
        trend_total = math.fsum(trend_values)
        overshoot = trend_total - path_total
    return BudgetView(
        latest_year=latest_year,
        latest_value=latest_value,
        target_year=target_year,
        target_value=target_value,
        years=years,
        path_values=path_values,
        path_total=path_total,
        trend_method=method,
        trend_status="insufficient_data" if trend_values is None else "ok",
        trend_values=trend_values,
        trend_total=trend_total,
        overshoot=overshoot,
        floor=floor,
        reason=reason,
    )
