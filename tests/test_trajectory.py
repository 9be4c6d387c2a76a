"""Trajectory maths: targets, paths, rates, trends, budgets and nowcasts, checked against hand arithmetic."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.trajectory import (
    InsufficientData,
    InsufficientDataError,
    TrendFit,
    budget_view,
    cagr,
    compound_growth,
    fit_trend,
    linear_path,
    linear_value,
    nowcast,
    path_from_latest,
    project,
    required_annual_rate,
    required_linear_change,
    required_pace,
    t_quantile,
    target_for_series,
    target_from_base,
    to_points,
    trend_outlook,
    value_decimals,
    value_decimals_expr,
    with_value_decimals,
    year_target_reached,
)

# Espoo, HSY method (FIGURES.md): 1990 ≈ 1 060 kt in the current release, 2023 = 742 kt, target −80 %.
ESPOO = {1990: 1060.0, 2023: 742.0}


# ---------------------------------------------------------------------------------------------- targets


def test_target_is_derived_from_the_base_value_of_the_same_series() -> None:
    # 1 060 kt × (1 − 0.8) = 212 kt, the roadmap's 2030 target
    assert target_from_base(1060.0) == pytest.approx(212.0)
    derived = target_for_series(ESPOO, base_year=1990, reduction=0.8)
    assert derived.base_year == 1990
    assert derived.base_value == 1060.0
    assert derived.target_value == pytest.approx(212.0)
    # the older SECAP release: 1 224 kt → 244.8 kt (published, rounded, as 245 kt)
    assert target_from_base(1224.0) == pytest.approx(1224 * 0.2)
    assert round(target_from_base(1224.0)) == 245


def test_target_needs_the_base_year_observed() -> None:
    with pytest.raises(InsufficientDataError, match="1990"):
        target_for_series({1991: 1000.0, 2023: 742.0}, base_year=1990)


def test_espoo_2023_is_minus_30_percent_on_1990() -> None:
    growth = compound_growth(ESPOO, 1990)
    # total change = (1 + CAGR)^33 − 1 = 742/1060 − 1 ≈ −30 %
    assert growth.rate == pytest.approx((742 / 1060) ** (1 / 33) - 1)
    assert (1 + growth.rate) ** 33 - 1 == pytest.approx(742 / 1060 - 1)
    assert round((742 / 1060 - 1) * 100) == -30


# ---------------------------------------------------------------------------------------------- rates


def test_required_rate_1990_to_2030_for_minus_80_percent() -> None:
    rate = required_annual_rate(1060.0, 212.0, 40)
    assert rate == pytest.approx(0.2 ** (1 / 40) - 1)
    assert round(rate * 100, 2) == -3.94


def test_required_linear_cut_in_units() -> None:
    # (212 − 1060)/40 = −21.2 kt a year
    assert required_linear_change(1060.0, 212.0, 40) == pytest.approx(-21.2)
    pace = required_pace(2023, 742.0, 2030, 212.0)
    assert pace.years == 7
    assert pace.linear_change == pytest.approx((212 - 742) / 7)
    assert pace.linear_cut == pytest.approx((742 - 212) / 7)
    assert pace.compound_rate == pytest.approx((212 / 742) ** (1 / 7) - 1)


def test_zero_target_has_no_compound_rate_but_a_linear_one() -> None:
    pace = required_pace(2023, 742.0, 2035, 0.0)
    assert pace.compound_rate is None
    assert pace.note is not None and "zero" in pace.note
    assert pace.linear_change == pytest.approx(-742 / 12)
    with pytest.raises(ValueError, match="zero"):
        required_annual_rate(742.0, 0.0, 12)


@pytest.mark.parametrize(
    ("start", "end", "years", "message"),
    [(0.0, 5.0, 3, "zero"), (5.0, -1.0, 3, "opposite"), (5.0, 4.0, 0, "positive")],
)
def test_cagr_undefined_cases(start: float, end: float, years: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cagr(start, end, years)


def test_cagr_of_negative_values() -> None:
    # −10 → −20 in 2 years: (−20/−10)^(1/2) − 1 = √2 − 1
    assert cagr(-10.0, -20.0, 2) == pytest.approx(math.sqrt(2) - 1)


# ---------------------------------------------------------------------------------------------- growth


def test_growth_uses_next_available_base_year_and_records_it() -> None:
    growth = compound_growth({1991: 1000.0, 1995: 900.0, 2000: 800.0}, 1990)
    assert growth.requested_start_year == 1990
    assert growth.start_year == 1991
    assert growth.start_substituted
    assert growth.years == 9
    assert growth.rate == pytest.approx((800 / 1000) ** (1 / 9) - 1)


def test_growth_with_explicit_end_year() -> None:
    growth = compound_growth({1990: 100.0, 1995: 110.0, 2000: 121.0}, 1990, 1995)
    assert growth.end_year == 1995
    assert growth.rate == pytest.approx((110 / 100) ** (1 / 5) - 1)
    assert not growth.start_substituted
    with pytest.raises(InsufficientDataError, match="1996"):
        compound_growth({1990: 100.0, 1995: 110.0}, 1990, 1996)


def test_growth_needs_two_observations() -> None:
    with pytest.raises(InsufficientDataError):
        compound_growth({2000: 5.0}, 1990)
    with pytest.raises(InsufficientDataError):
        compound_growth({}, 1990)


def test_duplicate_years_raise_naming_the_year() -> None:
    with pytest.raises(ValueError, match="duplicate year 2015"):
        to_points([(2014, 1.0), (2015, 2.0), (2015, 3.0)])
    frame = pl.DataFrame({"year": [2015, 2016, 2016], "value": [1.0, 2.0, 2.5]})
    with pytest.raises(ValueError, match="duplicate year 2016"):
        compound_growth(frame, 2015)


def test_to_points_sorts_and_drops_missing_values() -> None:
    frame = pl.DataFrame({"year": [2017, 2015, 2016, 2018], "value": [3.0, 1.0, None, float("nan")]})
    assert to_points(frame) == ((2015, 1.0), (2017, 3.0))
    # a missing value does not count as a duplicate of an observed one
    assert to_points([(2015, None), (2015, 4.0)]) == ((2015, 4.0),)
    with pytest.raises(ValueError, match="year"):
        to_points(pl.DataFrame({"value": [1.0]}))


# ---------------------------------------------------------------------------------------------- paths


def test_linear_path_every_year_inclusive() -> None:
    path = linear_path(1990, 1060.0, 2030, 212.0)
    assert path.columns == ["year", "value"]
    assert path.schema["year"] == pl.Int64 and path.schema["value"] == pl.Float64
    assert path.height == 41
    assert path["year"].to_list() == list(range(1990, 2031))
    assert path["value"][0] == 1060.0
    assert path["value"][-1] == 212.0
    # 2023 on the straight line: 1060 − 33 × 21.2 = 360.4
    assert path.filter(pl.col("year") == 2023)["value"].item() == pytest.approx(1060 - 33 * 21.2)
    assert linear_value(1990, 1060.0, 2030, 212.0, 2023) == pytest.approx(360.4)
    # held at the target after the target year
    assert linear_value(1990, 1060.0, 2030, 212.0, 2035) == 212.0


def test_linear_path_needs_a_later_target_year() -> None:
    with pytest.raises(ValueError, match="after"):
        linear_path(2030, 1.0, 2030, 0.0)


def test_path_from_latest_observation() -> None:
    path = path_from_latest({2022: 905.0, 2023: 742.0}, 2030, 212.0)
    assert path["year"].to_list() == list(range(2023, 2031))
    assert path["value"][0] == 742.0
    assert path["value"][-1] == 212.0
    assert path["value"][1] == pytest.approx(742 - 530 / 7)


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    base_year=st.integers(1900, 2100),
    length=st.integers(1, 80),
    base_value=finite,
    target_value=finite,
)
def test_linear_path_hits_base_and_target_exactly(
    base_year: int, length: int, base_value: float, target_value: float
) -> None:
    path = linear_path(base_year, base_value, base_year + length, target_value)
    assert path.height == length + 1
    assert path["value"][0] == base_value
    assert path["value"][-1] == target_value
    assert linear_value(base_year, base_value, base_year + length, target_value, base_year) == base_value
    assert (
        linear_value(base_year, base_value, base_year + length, target_value, base_year + length)
        == target_value
    )
    # every value lies between the two ends
    low, high = min(base_value, target_value), max(base_value, target_value)
    assert all(low - 1e-6 * (1 + abs(low)) <= v <= high + 1e-6 * (1 + abs(high)) for v in path["value"])


# ---------------------------------------------------------------------------------------------- t quantile


@pytest.mark.parametrize(
    ("probability", "df", "expected"),
    [
        # published Student-t table values
        (0.975, 1, 12.706204736),
        (0.975, 2, 4.302652730),
        (0.975, 3, 3.182446305),
        (0.975, 8, 2.306004135),
        (0.95, 30, 1.697260887),
        (0.995, 5, 4.032142984),
    ],
)
def test_t_quantile_matches_tables(probability: float, df: int, expected: float) -> None:
    assert t_quantile(probability, df) == pytest.approx(expected, abs=1e-8)
    assert t_quantile(1 - probability, df) == pytest.approx(-expected, abs=1e-8)


def test_t_quantile_median_and_errors() -> None:
    assert t_quantile(0.5, 4) == 0.0
    with pytest.raises(ValueError):
        t_quantile(1.0, 4)
    with pytest.raises(ValueError):
        t_quantile(0.9, 0)


# ---------------------------------------------------------------------------------------------- trends


SMALL = {2015: 10.0, 2016: 12.0, 2017: 11.0, 2018: 15.0, 2019: 14.0}


def test_ols_by_hand() -> None:
    fit = fit_trend(SMALL)
    assert isinstance(fit, TrendFit)
    # x̄ = 2017, ȳ = 62/5 = 12.4, Sxx = 4+1+0+1+4 = 10
    # Sxy = (−2)(−2.4) + (−1)(−0.4) + 0(−1.4) + 1(2.6) + 2(1.6) = 11 → slope 1.1
    assert fit.center_year == 2017
    assert fit.center_value == pytest.approx(12.4)
    assert fit.sxx == 10
    assert fit.slope == pytest.approx(1.1)
    assert fit.intercept == pytest.approx(12.4 - 1.1 * 2017)
    # fitted 10.2, 11.3, 12.4, 13.5, 14.6 → residuals −0.2, 0.7, −1.4, 1.5, −0.6; SSE = 5.1
    assert fit.residuals == pytest.approx((-0.2, 0.7, -1.4, 1.5, -0.6))
    assert fit.residual_se == pytest.approx(math.sqrt(5.1 / 3))
    assert fit.df == 3


def test_projection_band_by_hand() -> None:
    fit = fit_trend(SMALL)
    assert isinstance(fit, TrendFit)
    projection = project(fit, 2030)
    # ŷ(2030) = 12.4 + 1.1 × 13 = 26.7; se = s·√(1 + 1/5 + 13²/10); t(0.975, 3) = 3.182446305
    se = math.sqrt(5.1 / 3) * math.sqrt(1 + 1 / 5 + 169 / 10)
    assert projection.value == pytest.approx(26.7)
    assert projection.standard_error == pytest.approx(se)
    assert projection.lower == pytest.approx(26.7 - 3.182446305 * se)
    assert projection.upper == pytest.approx(26.7 + 3.182446305 * se)
    assert projection.estimated


def test_a_projection_and_its_band_are_cut_at_the_quantitys_bounds() -> None:
    # SMALL rises 1.1 a year: 26.7 in 2030, band about ±17 (test_projection_band_by_hand)
    fit = fit_trend(SMALL)
    assert isinstance(fit, TrendFit)
    free = project(fit, 2030)
    assert free.lower < 20.0 < free.value < 30.0 < free.upper  # so every cut below is a real one
    share = project(fit, 2030, bounds=(20.0, 30.0))
    assert (share.lower, share.value, share.upper) == (20.0, free.value, 30.0)
    capped = project(fit, 2030, bounds=(None, 25.0))
    assert (capped.lower, capped.value, capped.upper) == (free.lower, 25.0, 25.0)
    # a falling amount (5 kt a year from 100) is never projected below 0: its line stops at 0
    falling = fit_trend({y: 100.0 - 5 * (y - 2010) + (0.5 if y % 2 else -0.5) for y in range(2010, 2020)})
    assert isinstance(falling, TrendFit)
    assert project(falling, 2035).value < 0
    amount = project(falling, 2035, bounds=(0.0, None))
    assert amount.value == 0.0 and amount.lower == 0.0 and amount.upper >= 0.0
    assert project(fit, 2030, bounds=(None, None)) == free


def test_the_catalogue_refuses_bounds_that_leave_no_room() -> None:
    from indicators.catalogue import Bounds

    with pytest.raises(ValueError, match=r"min 100\.0 must be below max 0\.0"):
        Bounds(min=100, max=0)


def test_trend_uses_the_last_ten_points() -> None:
    # 2000–2009 flat at 500 (ignored), 2010–2019 on the line 100 − 5(t − 2010)
    series = dict.fromkeys(range(2000, 2010), 500.0) | {y: 100.0 - 5 * (y - 2010) for y in range(2010, 2020)}
    fit = fit_trend(series)
    assert isinstance(fit, TrendFit)
    assert fit.years == tuple(range(2010, 2020))
    assert fit.slope == pytest.approx(-5.0)
    assert fit.residual_se == pytest.approx(0.0, abs=1e-9)
    assert project(fit, 2030).value == pytest.approx(0.0, abs=1e-9)


def test_theil_sen_ignores_an_outlier_year() -> None:
    series = {y: 100.0 - 5 * (y - 2015) for y in range(2015, 2022)}
    series[2020] = 200.0  # one wild year
    robust = fit_trend(series, method="theil_sen")
    ordinary = fit_trend(series)
    assert isinstance(robust, TrendFit) and isinstance(ordinary, TrendFit)
    # 15 of the 21 pairwise slopes are exactly −5, so the median is −5
    assert robust.slope == -5.0
    # intercept = median of y + 5x: six of the seven are exactly = 100 + 5·2015
    assert robust.intercept == 100.0 + 5 * 2015
    assert robust.predict(2030) == pytest.approx(25.0)
    assert ordinary.slope != pytest.approx(-5.0)


def test_trend_with_too_few_points_is_not_guessed() -> None:
    result = fit_trend({2020: 1.0, 2021: 2.0, 2022: 3.0, 2023: 4.0})
    assert isinstance(result, InsufficientData)
    assert result.n_points == 4 and result.min_points == 5
    assert "at least 5" in result.reason
    with pytest.raises(InsufficientDataError):
        nowcast({2020: 1.0, 2021: 2.0}, 2025)
    with pytest.raises(ValueError):
        fit_trend(SMALL, min_points=2)


def test_year_target_reached() -> None:
    line = {y: 1000.0 - 50 * (y - 2015) for y in range(2015, 2024)}
    fit = fit_trend(line)
    assert isinstance(fit, TrendFit)
    # 1000 − 50(t − 2015) = 212 → t = 2015 + 788/50 = 2030.76 → first whole year 2031
    assert year_target_reached(fit, 212.0, "decrease") == 2031
    assert year_target_reached(fit, 212.0, "increase") is None
    flat = fit_trend(dict.fromkeys(range(2015, 2024), 5.0))
    assert isinstance(flat, TrendFit)
    assert year_target_reached(flat, 1.0, "decrease") is None


def test_trend_outlook() -> None:
    line = {y: 1000.0 - 50 * (y - 2015) for y in range(2015, 2024)}
    outlook = trend_outlook(line, target_year=2030, target_value=212.0, direction="decrease")
    assert outlook.projection is not None
    assert outlook.projection.value == pytest.approx(1000 - 50 * 15)
    assert outlook.year_reached == 2031
    assert outlook.on_course is False  # 250 > 212 in 2030
    short = trend_outlook({2022: 1.0, 2023: 2.0}, target_year=2030, target_value=0.0, direction="decrease")
    assert short.projection is None and short.on_course is None
    assert isinstance(short.fit, InsufficientData)


def test_nowcast_marks_estimates() -> None:
    line = {y: 1000.0 - 50 * (y - 2015) for y in range(2015, 2024)}
    frame = nowcast(line, 2026)
    assert frame.columns == ["year", "value", "lower", "upper", "estimated"]
    assert frame["year"].to_list() == [2024, 2025, 2026]
    assert frame["value"].to_list() == pytest.approx([550.0, 500.0, 450.0])
    assert frame["estimated"].to_list() == [True, True, True]
    assert nowcast(line, 2023).height == 0


# ---------------------------------------------------------------------------------------------- budget


def test_budget_view_by_hand() -> None:
    # exact line through 742 in 2023 with slope −20: 902, 882, …, 742 (2015–2023)
    series = {y: 742.0 - 20 * (y - 2023) for y in range(2015, 2024)}
    view = budget_view(series, target_year=2030, target_value=212.0)
    assert view.years == tuple(range(2024, 2031))
    # path 742 → 212 over 7 years: Σ_{k=1..7} (742 − 530k/7) = 7·742 − 530·28/7 = 5194 − 2120 = 3074
    assert view.path_total == pytest.approx(3074.0)
    assert view.path_values[-1] == 212.0
    # trend: Σ_{k=1..7} (742 − 20k) = 5194 − 560 = 4634
    assert view.trend_total == pytest.approx(4634.0)
    assert view.overshoot == pytest.approx(4634.0 - 3074.0)
    assert view.trend_status == "ok"


def test_budget_view_floor_and_insufficient_trend() -> None:
    series = {y: 100.0 - 20 * (y - 2019) for y in range(2019, 2024)}  # 100 … 20 in 2023
    view = budget_view(series, target_year=2026, target_value=0.0, floor=0.0)
    # trend 0, −20, −40 floored at 0 → 0; path 20 → 0: 40/3 + 20/3 + 0 = 20
    assert view.trend_values == (0.0, 0.0, 0.0)
    assert view.path_total == pytest.approx(20.0)
    assert view.overshoot == pytest.approx(-20.0)
    short = budget_view({2022: 905.0, 2023: 742.0}, target_year=2030, target_value=212.0)
    assert short.trend_status == "insufficient_data"
    assert short.trend_total is None and short.overshoot is None
    assert short.reason is not None
    assert short.path_total == pytest.approx(3074.0)
    with pytest.raises(ValueError):
        budget_view(series, target_year=2023, target_value=0.0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-(10**6), 10**6).map(float),
            st.integers(-(10**6), 10**6).map(lambda n: n / 100.0),
            st.sampled_from([1e-07, 1.5e-05, 1e16, 1.25e22, -3.5e-10, 0.0, -0.0, 742.3, 212.0]),
        ),
        max_size=40,
    )
)
def test_value_decimals_in_steps_equal_the_scalar_and_the_one_expression(values: list[float]) -> None:
    frame = pl.DataFrame(
        {"key": range(len(values)), "value": values}, schema={"key": pl.Int64, "value": pl.Float64}
    )
    stepped = with_value_decimals(frame.lazy(), pl.col("value"), "decimals").collect()
    assert stepped.columns == ["key", "value", "decimals"]  # the text column is gone
    assert stepped["decimals"].to_list() == [value_decimals(v) for v in values]
    assert (
        stepped["decimals"].to_list()
        == frame.select(value_decimals_expr(pl.col("value")).alias("d"))["d"].to_list()
    )
