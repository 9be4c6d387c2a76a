"""Progress-assessment methods: worked examples by hand, edge cases, monotonicity and frame parity."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.methods import (
    DETAIL_COLUMNS,
    STATUS_RANK,
    Assessment,
    assess_frame,
    eurostat_sdg,
    german_strategy,
    linear_trajectory_check,
    open_sdg,
    sdsn_trend,
)
from indicators.trajectory import target_from_base

# Illustrative Espoo series (kt CO2e) built from the published figures in FIGURES.md: 1990 ≈ 1 060;
# 2016 −5 % on 2015 and above 1990; 2018 ≈ 1 100 and −4 % on 2017; 2019 −1 %; 2020 −16 %;
# 2023 = 742 (−18 % on 2022, −30 % on 1990). 2021 is not published and is a placeholder.
ESPOO: dict[int, float] = {
    1990: 1060.0,
    2015: 1210.0,
    2016: 1150.0,
    2017: 1146.0,
    2018: 1100.0,
    2019: 1089.0,
    2020: 915.0,
    2021: 950.0,
    2022: 905.0,
    2023: 742.0,
}
TARGET = target_from_base(ESPOO[1990])  # 1060 × (1 − 0.8) = 212, never typed in


def test_espoo_target_and_headline_change() -> None:
    derived = target_from_base(ESPOO[1990], 0.8)  # 1060 × (1 − 0.8)
    assert derived == pytest.approx(212.0)
    assert derived == TARGET
    assert round((ESPOO[2023] / ESPOO[1990] - 1) * 100) == -30
    assert round((ESPOO[2023] / ESPOO[2022] - 1) * 100) == -18


# ================================================================================================ Eurostat


def test_eurostat_short_term_with_target_by_hand() -> None:
    result = eurostat_sdg(ESPOO, target=TARGET, target_year=2030, direction="decrease", period="short")
    # short term: base = 2023 − 5 = 2018 (1 100); observed CAGR over 5 years
    observed = (742 / 1100) ** (1 / 5) - 1
    # required CAGR from the base value to the target over 2018→2030 (12 years)
    required = (212 / 1100) ** (1 / 12) - 1
    expected_ratio = observed / required  # ≈ 0.591
    assert result.base_year == 2018 and result.base_value == 1100.0
    assert result.latest_year == 2023 and result.latest_value == 742.0
    assert result.observed_rate == pytest.approx(observed)
    assert result.required_rate == pytest.approx(required)
    assert result.ratio == pytest.approx(expected_ratio)
    # 0 ≤ 0.591 < 0.60 → insufficient progress
    assert 0 <= expected_ratio < 0.60
    assert result.status == "insufficient_progress"
    assert result.symbol == "↘"
    assert result.n_points == 6
    assert result.warnings == ()
    assert result.thresholds["significant"] == 0.95
    assert result.method == "eurostat_sdg" and result.version


def test_eurostat_without_target_by_hand() -> None:
    result = eurostat_sdg(ESPOO, direction="decrease")
    # growth in the desired (downward) direction: −CAGR = −((742/1100)^(1/5) − 1) ≈ 7.6 %/yr > 1 %
    growth = -((742 / 1100) ** (1 / 5) - 1)
    assert result.measure == pytest.approx(growth)
    assert result.ratio is None and result.required_rate is None
    assert result.status == "significant_progress"


@pytest.mark.parametrize(
    ("annual", "status"),
    [
        (0.98, "significant_progress"),  # −2 %/yr on a 'decrease' indicator: +2 % > 1 %
        (0.995, "moderate_progress"),  # +0.5 % in the desired direction
        (1.0, "moderate_progress"),  # no change: 0 % counts as moderate progress
        (1.005, "moderate_movement_away"),  # −0.5 %
        (1.02, "significant_movement_away"),  # −2 %
    ],
)
def test_eurostat_without_target_categories(annual: float, status: str) -> None:
    series = {2018 + k: 100.0 * annual**k for k in range(6)}
    assert eurostat_sdg(series, direction="decrease").status == status


def test_eurostat_increase_indicator() -> None:
    # recycling rate 40 % → 46 % in 5 years, target 55 % in 2025
    series = {2015: 40.0, 2020: 46.0}
    result = eurostat_sdg(series, target=55.0, target_year=2025, direction="increase")
    expected = ((46 / 40) ** (1 / 5) - 1) / ((55 / 40) ** (1 / 10) - 1)  # ≈ 0.88
    assert result.ratio == pytest.approx(expected)
    assert result.status == "moderate_progress"


def test_eurostat_long_term_needs_ten_years() -> None:
    # long term: base = 2023 − 15 = 2008, missing → next available 2015, only 8 years → no assessment
    result = eurostat_sdg(ESPOO, target=TARGET, target_year=2030, direction="decrease", period="long")
    assert result.status == "insufficient_data"
    assert result.base_year == 2015
    assert result.ratio is None and result.observed_rate is None
    assert "base year 2008 missing; used 2015" in result.warnings
    assert any("at least 10 years" in w for w in result.warnings)
    full = {y: 1000.0 * 0.97 ** (y - 2008) for y in range(2008, 2024)}
    long_term = eurostat_sdg(full, target=300.0, target_year=2030, direction="decrease", period="long")
    # observed −3 %/yr; required (300/1000)^(1/22) − 1
    assert long_term.ratio == pytest.approx(-0.03 / ((300 / 1000) ** (1 / 22) - 1))
    assert long_term.n_points == 16


def test_eurostat_missing_base_year_uses_next_available() -> None:
    series = {2017: 100.0, 2019: 95.0, 2020: 93.0, 2023: 85.0}
    result = eurostat_sdg(series, direction="decrease")
    assert result.requested_base_year == 2018
    assert result.base_year == 2019
    assert result.observed_rate == pytest.approx((85 / 95) ** (1 / 4) - 1)
    assert result.warnings == ("base year 2018 missing; used 2019",)


def test_eurostat_target_already_met() -> None:
    series = {2018: 300.0, 2023: 200.0}
    result = eurostat_sdg(series, target=212.0, target_year=2030, direction="decrease")
    assert result.status == "significant_progress"
    assert "target already met in 2023" in result.warnings


def test_eurostat_base_beyond_target_but_latest_not() -> None:
    series = {2018: 200.0, 2023: 230.0}
    result = eurostat_sdg(series, target=212.0, target_year=2030, direction="decrease")
    assert result.status == "movement_away"


@pytest.mark.parametrize(
    ("series", "target", "reason"),
    [
        ({2018: 100.0, 2023: 50.0}, 0.0, "zero target"),  # CAGR to zero undefined
        ({2018: 100.0, 2023: 50.0}, -10.0, "opposite sign"),
        ({2018: 10.0, 2023: -5.0}, 1.0, "sign-changing"),
        ({2018: 0.0, 2023: 5.0}, 1.0, "zero or sign-changing"),
        ({2021: 100.0, 2023: 50.0}, 10.0, "at least 3 years"),
        ({2023: 50.0}, 10.0, "at least 3 years"),
        ({}, 10.0, "no observations"),
    ],
)
def test_eurostat_undefined_cases_are_flagged_not_guessed(
    series: dict[int, float], target: float, reason: str
) -> None:
    result = eurostat_sdg(series, target=target, target_year=2030, direction="decrease")
    assert result.status == "insufficient_data"
    assert result.ratio is None
    assert any(reason in w for w in result.warnings)


def test_eurostat_argument_errors() -> None:
    with pytest.raises(ValueError, match="target_year"):
        eurostat_sdg(ESPOO, target=212.0, direction="decrease")
    with pytest.raises(ValueError, match="direction"):
        eurostat_sdg(ESPOO, direction="down")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period"):
        eurostat_sdg(ESPOO, direction="decrease", period="medium")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicate year 2020"):
        eurostat_sdg([(2019, 1.0), (2020, 2.0), (2020, 3.0)], direction="decrease")


# ================================================================================================ Open SDG


def test_open_sdg_with_target_by_hand() -> None:
    result = open_sdg(ESPOO, target=TARGET, direction="decrease")
    # base year 2015 (1 210), latest 2023 (742): observed CAGR over 8 years
    observed = (742 / 1210) ** (1 / 8) - 1
    # required CAGR 2015→2030 (15 years) from 1 210 to 212
    required = (212 / 1210) ** (1 / 15) - 1
    # p = sign(base)·d·observed/|required| with d = −1 for a 'decrease' indicator
    p = 1 * -1 * observed / abs(required)  # ≈ 0.54
    assert result.ratio == pytest.approx(p)
    assert 0 <= p < 0.60
    assert result.status == "limited_progress"
    # sdg-build score below 0.6: max(4.1667p − 2.5, −5)
    assert result.score == pytest.approx(max(4.1667 * p - 2.5, -5))
    assert result.base_year == 2015 and result.target_year == 2030


def test_open_sdg_without_target_by_hand() -> None:
    result = open_sdg(ESPOO, direction="decrease")
    v = -((742 / 1210) ** (1 / 8) - 1)  # ≈ 5.9 %/yr in the desired direction ≥ 1.5 %
    assert result.measure == pytest.approx(v)
    assert result.status == "substantial_progress"
    assert result.score == 5.0  # min(500v − 5, 5)


@pytest.mark.parametrize(
    ("annual", "status", "score"),
    [
        (0.98, "substantial_progress", min(500 * 0.02 - 5, 5)),  # v = 2 %
        (0.99, "moderate_progress", 250 * 0.01 - 1.25),  # v = 1 %: 1.25
        (0.998, "limited_progress", 500 * 0.002 - 2.5),  # v = 0.2 %: −1.5
        (1.01, "deterioration", max(125 * -0.01 - 2.5, -5)),  # v = −1 %: −3.75
    ],
)
def test_open_sdg_without_target_thresholds_and_score(annual: float, status: str, score: float) -> None:
    series = {2015 + k: 50.0 * annual**k for k in range(9)}
    result = open_sdg(series, direction="decrease")
    assert result.status == status
    assert result.score == pytest.approx(score)


def test_open_sdg_score_mapping_with_target() -> None:
    # −4 % in one year against a required (50/100)^(1/15) − 1 ≈ −4.5 %/yr: p ≈ 0.886
    result = open_sdg({2015: 100.0, 2016: 96.0}, target=50.0, direction="decrease")
    p = -(96 / 100 - 1) / abs(0.5 ** (1 / 15) - 1)
    assert result.ratio == pytest.approx(p)
    assert 0.60 <= p < 0.95
    assert result.status == "moderate_progress"
    # sdg-build score at or above 0.6: min(7.1429p − 4.2857, 5); 0.6 → 0 and 0.95 → 2.5
    assert result.score == pytest.approx(min(7.1429 * p - 4.2857, 5))


def test_open_sdg_target_achieved() -> None:
    result = open_sdg({2015: 300.0, 2020: 250.0, 2023: 200.0}, target=212.0, direction="decrease")
    assert result.status == "target_achieved"
    assert result.score == 5.0
    assert result.symbol == "✓"


def test_open_sdg_zero_target_and_zero_base_are_replaced_with_warnings() -> None:
    result = open_sdg({2015: 0.0, 2023: 8.0}, target=0.0, direction="increase")
    assert result.warnings == ("base value is zero; replaced by 0.001", "target is zero; replaced by 0.001")
    assert result.details["base_value_used"] == 0.001
    assert result.details["target_used"] == 0.001
    # latest 8 ≥ 0.001 with a desired increase → already achieved
    assert result.status == "target_achieved"
    decline = open_sdg({2015: 40.0, 2023: 10.0}, target=0.0, direction="decrease")
    required = (0.001 / 40) ** (1 / 15) - 1
    assert decline.ratio == pytest.approx(-((10 / 40) ** (1 / 8) - 1) / abs(required))
    assert decline.status == "limited_progress"


def test_open_sdg_missing_base_year_and_insufficient_cases() -> None:
    result = open_sdg({2014: 9.0, 2017: 10.0, 2023: 8.0}, direction="decrease")
    assert result.base_year == 2017
    assert result.warnings[0] == "base year 2015 missing; used 2017"
    assert result.observed_rate == pytest.approx((8 / 10) ** (1 / 6) - 1)
    single = open_sdg({2023: 8.0}, target=10.0, direction="decrease")
    assert single.status == "insufficient_data"  # data requirement checked before 'achieved'
    assert single.score is None
    none_after = open_sdg({2010: 5.0, 2012: 4.0}, direction="decrease")
    assert none_after.status == "insufficient_data"
    assert none_after.warnings == ("no observation in or after base year 2015",)
    opposite = open_sdg({2015: 5.0, 2023: -1.0}, direction="increase")
    assert opposite.status == "insufficient_data"
    assert opposite.warnings == ("base and latest values have opposite signs",)


def test_open_sdg_negative_values_use_the_sign_of_the_base() -> None:
    # net emissions −10 → −20 (more negative = better for a 'decrease' indicator)
    result = open_sdg({2015: -10.0, 2023: -20.0}, direction="decrease")
    v = -1 * -1 * ((-20 / -10) ** (1 / 8) - 1)  # sign(base)·d·CAGR ≈ +9 %
    assert result.measure == pytest.approx(v)
    assert result.status == "substantial_progress"


# ================================================================================================ SDSN


def test_sdsn_trend_by_hand() -> None:
    result = sdsn_trend(
        ESPOO, green_threshold=TARGET, red_threshold=800.0, lower_bound=1060.0, direction="decrease"
    )
    # score = 100·(x − 1060)/(212 − 1060), clipped to 0…100
    score_base = max(0.0, 100 * (1210 - 1060) / (212 - 1060))  # −17.7 → 0
    score_latest = 100 * (742 - 1060) / (212 - 1060)  # 37.5
    observed = (score_latest - score_base) / (2023 - 2015)  # 4.6875 points/yr
    required = (100 - score_base) / (2030 - 2015)  # 6.667 points/yr
    assert result.details["score_base"] == 0.0
    assert result.score == pytest.approx(37.5)
    assert result.observed_rate == pytest.approx(observed)
    assert result.required_rate == pytest.approx(required)
    assert result.ratio == pytest.approx(observed / required)  # 0.70: ≥ 0.5 and < 1
    assert result.status == "moderately_improving"
    assert result.symbol == "↗"
    # 742 is better than the red threshold 800 but worse than the midpoint (212 + 800)/2 = 506
    assert result.details["colour"] == "orange"


def test_sdsn_statuses() -> None:
    base = {2015: 100.0, 2023: 100.0}
    assert sdsn_trend(base, green_threshold=50.0, lower_bound=150.0, direction="decrease").status == (
        "stagnating"
    )
    worse = {2015: 100.0, 2023: 110.0}
    assert sdsn_trend(worse, green_threshold=50.0, lower_bound=150.0, direction="decrease").status == (
        "decreasing"
    )
    # score = 100·(x − 150)/(50 − 150) = 150 − x: from 50 in 2015 the required pace is (100 − 50)/15
    # = 3.33 points/yr; 70 in 2023 scores 80, i.e. (80 − 50)/8 = 3.75 points/yr → ratio 1.125
    fast = {2015: 100.0, 2023: 70.0}
    assert sdsn_trend(fast, green_threshold=50.0, lower_bound=150.0, direction="decrease").status == (
        "on_track"
    )
    done = {2015: 100.0, 2023: 40.0}
    achieved = sdsn_trend(done, green_threshold=50.0, red_threshold=120.0, direction="decrease")
    assert achieved.status == "achieved"
    assert achieved.score == 100.0
    assert achieved.details["colour"] == "green"
    lost = sdsn_trend({2015: 40.0, 2023: 60.0}, green_threshold=50.0, lower_bound=150.0, direction="decrease")
    assert lost.status == "decreasing"
    assert lost.warnings == ("threshold met in the base year but not in the latest year",)


def test_sdsn_default_lower_bound_is_the_worst_observation() -> None:
    series = {2015: 80.0, 2019: 90.0, 2023: 70.0}
    result = sdsn_trend(series, green_threshold=100.0, direction="increase")
    assert result.details["lower_bound"] == 70.0
    # scores: base 100·(80 − 70)/30 = 33.3, latest 0
    assert result.details["score_base"] == pytest.approx(100 * 10 / 30)
    assert result.score == 0.0
    assert result.status == "decreasing"


def test_sdsn_argument_checks_and_insufficient() -> None:
    with pytest.raises(ValueError, match="lower_bound"):
        sdsn_trend(ESPOO, green_threshold=212.0, lower_bound=100.0, direction="decrease")
    with pytest.raises(ValueError, match="red_threshold"):
        sdsn_trend(ESPOO, green_threshold=212.0, red_threshold=100.0, direction="decrease")
    short = sdsn_trend({2023: 742.0}, green_threshold=212.0, direction="decrease")
    assert short.status == "insufficient_data"
    assert short.symbol == "·"


# ================================================================================================ German


def test_german_strategy_by_hand() -> None:
    result = german_strategy(ESPOO, target=TARGET, target_year=2030, direction="decrease")
    # mean of the last five annual changes: (742 − 1100)/5 = −71.6 kt/yr
    mean_change = (742 - 1100) / 5
    projected = 742 + mean_change * (2030 - 2023)  # 240.8
    deviation = (212 - projected) / (212 - 742)  # 28.8/530 ≈ 5.4 % of the remaining distance
    assert result.observed_rate == pytest.approx(mean_change)
    assert result.details["projected_value"] == pytest.approx(projected)
    assert result.measure == pytest.approx(deviation)
    assert result.ratio == pytest.approx(mean_change / ((212 - 742) / 7))
    assert 0.05 < deviation <= 0.20
    assert result.status == "nearly_on_track"
    assert result.symbol == "🌤"


def four(first_year: int, first: float, last_year: int, last: float) -> dict[int, float]:
    """Two points, and two in between on the straight line: the German rule needs four observations;
    its mean change depends on the end points only."""
    step = (last - first) / (last_year - first_year)
    return {first_year: first, first_year + 1: first + step, last_year - 1: last - step, last_year: last}


def test_german_strategy_zero_target_works() -> None:
    series = four(2018, 500.0, 2023, 50.0)  # mean change (50 − 500)/5 = −90/yr
    result = german_strategy(series, target=0.0, target_year=2025, direction="decrease")
    # projected 2025 = 50 − 90·2 = −130 → deviation (0 − (−130))/(0 − 50) = −2.6 ≤ 5 % (overshoot)
    assert result.measure == pytest.approx((0 - (50 - 90 * 2)) / (0 - 50))
    assert result.status == "on_track"
    slow = german_strategy(four(2018, 60.0, 2023, 50.0), target=0.0, target_year=2030, direction="decrease")
    # mean −2/yr → projected 36 → deviation 36/50 = 72 % → off track (right direction)
    assert slow.measure == pytest.approx((0 - (50 - 2 * 7)) / (0 - 50))
    assert slow.status == "off_track"


def test_german_strategy_moving_away_and_met() -> None:
    rising = german_strategy(four(2018, 40.0, 2023, 50.0), target=0.0, target_year=2030, direction="decrease")
    assert rising.status == "moving_away"
    met = german_strategy(four(2018, 40.0, 2023, 30.0), target=35.0, target_year=2030, direction="decrease")
    assert met.status == "on_track"
    assert "target already met in 2023" in met.warnings
    assert met.ratio is None
    slipping = german_strategy(
        four(2018, 20.0, 2023, 30.0), target=35.0, target_year=2030, direction="decrease"
    )
    # met now, but 30 + 2·7 = 44 > 35 in 2030
    assert slipping.status == "moving_away"


def test_german_strategy_insufficient() -> None:
    two_years = german_strategy({2021: 40.0, 2023: 30.0}, target=0.0, target_year=2030, direction="decrease")
    assert two_years.status == "insufficient_data"
    assert (
        two_years.warnings[-1]
        == "needs at least 3 years between the first and the latest observation used, has 2"
    )
    past = german_strategy(four(2018, 40.0, 2023, 30.0), target=0.0, target_year=2023, direction="decrease")
    assert past.status == "insufficient_data"
    assert past.warnings == ("target year 2023 not after latest year 2023",)


# ================================================================================================ linear


def test_linear_trajectory_check_by_hand() -> None:
    result = linear_trajectory_check(ESPOO, base_year=1990, reduction=0.8, target_year=2030)
    # path in 2023: 1060 + (212 − 1060)·33/40 = 360.4; latest 742 is above it
    path = 1060 + (212 - 1060) * 33 / 40
    assert result.target_value == pytest.approx(212.0)
    assert result.details["path_value"] == pytest.approx(path)
    assert result.details["gap"] == pytest.approx(742 - path)  # 381.6 kt
    assert result.details["gap_pct"] == pytest.approx((742 - path) / path * 100)  # ≈ 106 %
    assert result.ratio == pytest.approx((742 - 1060) / (path - 1060))  # 45 % of the path's cut so far
    assert result.direction == "decrease"
    assert result.status == "behind_path"
    assert result.required_rate == pytest.approx(0.2 ** (1 / 40) - 1)


def test_linear_trajectory_on_path_increase_and_substitution() -> None:
    on = linear_trajectory_check({2015: 100.0, 2020: 70.0}, base_year=2015, target=50.0, target_year=2025)
    assert on.details["path_value"] == pytest.approx(75.0)
    assert on.status == "on_path"
    up = linear_trajectory_check({2016: 40.0, 2020: 47.0}, base_year=2015, target=55.0, target_year=2025)
    assert up.direction == "increase"
    assert up.base_year == 2016
    assert up.warnings == ("base year 2015 missing; used 2016",)
    # path from 40 (2016) to 55 (2025): 40 + 15·4/9 = 46.67 ≤ 47 → on path
    assert up.details["path_value"] == pytest.approx(40 + 15 * 4 / 9)
    assert up.status == "on_path"
    with pytest.raises(ValueError, match="exactly one"):
        linear_trajectory_check(ESPOO, base_year=1990, target=212.0, reduction=0.8, target_year=2030)
    short = linear_trajectory_check({1990: 1060.0}, base_year=1990, reduction=0.8, target_year=2030)
    assert short.status == "insufficient_data"


# ================================================================================================ frames


def test_assess_frame_bulk_example() -> None:
    frame = pl.DataFrame(
        {
            "indicator": ["ghg"] * 10 + ["ghg"] * 3,
            "area": ["Espoo"] * 10 + ["Kauniainen"] * 3,
            "year": [*ESPOO, 2018, 2021, 2023],
            "value": [*ESPOO.values(), 30.0, 28.0, 25.0],
            "target": [TARGET] * 10 + [6.0] * 3,
        }
    )
    out = assess_frame(frame, "german_strategy", target_year=2030, direction="decrease")
    assert out["area"].to_list() == ["Espoo", "Kauniainen"]
    espoo = out.row(0, named=True)
    assert espoo["status"] == "nearly_on_track"
    assert espoo["deviation"] == pytest.approx((212 - (742 - 71.6 * 7)) / (212 - 742))
    assert out.columns[:2] == ["indicator", "area"]
    assert set(DETAIL_COLUMNS["german_strategy"]) <= set(out.columns)


def test_assess_frame_errors() -> None:
    frame = pl.DataFrame({"area": ["a", "a", "b"], "year": [2020, 2020, 2020], "value": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="duplicate year 2020 for area='a'"):
        assess_frame(frame, "eurostat_sdg", direction="decrease")
    ok = pl.DataFrame({"area": ["a"], "year": [2020], "value": [1.0]})
    with pytest.raises(ValueError, match="unknown method"):
        assess_frame(ok, "nope")
    with pytest.raises(TypeError, match="direction"):
        assess_frame(ok, "eurostat_sdg")
    with pytest.raises(ValueError, match="direction"):
        assess_frame(ok, "eurostat_sdg", direction="down")
    with pytest.raises(TypeError, match="does not take"):
        assess_frame(ok, "eurostat_sdg", direction="decrease", colour="red")
    with pytest.raises(ValueError, match="target_year"):
        assess_frame(ok, "eurostat_sdg", direction="decrease", target=1.0)


def test_assess_frame_parameter_defaults_and_single_series() -> None:
    frame = pl.DataFrame(
        {
            "area": ["a", "a", "b", "b"],
            "year": [2015, 2023, 2015, 2023],
            "value": [1210.0, 742.0, 50.0, 40.0],
            "target": [212.0, 212.0, 20.0, 20.0],
            "target_year": [None, None, 2025, None],
        },
        schema_overrides={"target_year": pl.Int64},
    )
    out = assess_frame(frame, "open_sdg", direction="decrease")
    # a null target_year falls back to open_sdg's default 2030; a group's first non-null value is used
    assert out["target_year"].to_list() == [2030, 2025]
    assert out.row(0, named=True)["ratio"] == pytest.approx(
        open_sdg(ESPOO, target=212.0, direction="decrease").ratio
    )
    with pytest.raises(ValueError, match="target_year is missing for area='a'"):
        assess_frame(frame, "german_strategy", direction="decrease")
    single = pl.DataFrame({"year": list(ESPOO), "value": list(ESPOO.values())})
    one = assess_frame(single, "linear_trajectory_check", base_year=1990, reduction=0.8, target_year=2030)
    assert one.height == 1
    assert one.row(0, named=True)["status"] == "behind_path"


# ------------------------------------------------------------------------------------ parity property


YEARS = list(range(2008, 2025))
values_st = st.one_of(
    st.integers(-3, 60).map(float),
    st.floats(min_value=0.5, max_value=5000, allow_nan=False, allow_infinity=False),
)
# mostly usable series, sometimes empty or sparse, with zeros and negative values among the integers
_dense = st.dictionaries(st.sampled_from(YEARS), values_st, min_size=4, max_size=14)
series_st = st.one_of(_dense, _dense, _dense, st.dictionaries(st.sampled_from(YEARS), values_st, max_size=3))
direction_st = st.sampled_from(["decrease", "increase"])
# mostly sensible years, sometimes odd ones (target before base, base after the data)
year_st = st.one_of(st.integers(2024, 2035), st.integers(2024, 2035), st.integers(2006, 2035))
base_year_st = st.one_of(st.integers(2008, 2020), st.integers(2008, 2020), st.integers(2006, 2030))


@st.composite
def method_case(draw: st.DrawFn, method: str) -> tuple[dict[int, float], dict[str, Any]]:
    """A random series and the keyword arguments of one method."""
    series = draw(series_st)
    direction = draw(direction_st)
    sign = -1 if direction == "decrease" else 1
    if method == "eurostat_sdg":
        params = {"target": draw(st.none() | values_st), "target_year": draw(year_st), "direction": direction}
    elif method == "open_sdg":
        params = {
            "target": draw(st.none() | values_st),
            "target_year": draw(year_st),
            "base_year": draw(base_year_st),
            "direction": direction,
        }
    elif method == "sdsn_trend":
        green = draw(values_st)
        offset = st.floats(min_value=0.5, max_value=500, allow_nan=False)
        lower = draw(st.none() | offset.map(lambda o: green - sign * o))
        red = draw(st.none() | offset.map(lambda o: green - sign * o))
        params = {
            "green_threshold": green,
            "red_threshold": red,
            "lower_bound": lower,
            "target_year": draw(year_st),
            "base_year": draw(base_year_st),
            "direction": direction,
        }
    elif method == "german_strategy":
        params = {"target": draw(values_st), "target_year": draw(year_st), "direction": direction}
    else:
        use_target = draw(st.booleans())
        params = {
            "base_year": draw(base_year_st),
            "target": draw(values_st) if use_target else None,
            "reduction": None if use_target else draw(st.floats(min_value=-0.5, max_value=1.0)),
            "target_year": draw(year_st),
            "direction": draw(st.none() | direction_st),
        }
    return series, params


SCALAR: dict[str, Callable[..., Assessment]] = {
    "eurostat_sdg": eurostat_sdg,
    "open_sdg": open_sdg,
    "sdsn_trend": sdsn_trend,
    "german_strategy": german_strategy,
    "linear_trajectory_check": linear_trajectory_check,
}
PARAM_TYPES: dict[str, Any] = {
    "target": pl.Float64,
    "target_year": pl.Int64,
    "base_year": pl.Int64,
    "direction": pl.String,
    "green_threshold": pl.Float64,
    "red_threshold": pl.Float64,
    "lower_bound": pl.Float64,
    "reduction": pl.Float64,
}


def _frame(cases: list[tuple[dict[int, float], dict[str, Any]]]) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    for i, (series, params) in enumerate(cases):
        observations: list[tuple[int, float | None]] = list(series.items()) or [(2000, None)]
        observations.append((2007, float("nan")))  # a missing value is ignored
        rows.extend({"series": f"s{i}", "year": y, "value": v, **params} for y, v in observations)
    schema = {"series": pl.String, "year": pl.Int64, "value": pl.Float64}
    schema |= {name: PARAM_TYPES[name] for name in cases[0][1]}
    return pl.DataFrame(rows, schema=schema)


def _assert_same(record: Assessment, row: dict[str, Any]) -> None:
    expected = record.model_dump(exclude={"thresholds", "details"})
    expected["warnings"] = list(expected["warnings"])
    for name, value in [*expected.items(), *record.details.items()]:
        got = row[name]
        assert got == value, f"{name}: frame {got!r} != scalar {value!r}"


@pytest.mark.parametrize("method", sorted(SCALAR))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_assess_frame_equals_scalar_function(method: str, data: st.DataObject) -> None:
    cases = data.draw(st.lists(method_case(method), min_size=1, max_size=4), label="cases")
    period = data.draw(st.sampled_from(["short", "long"]), label="period")
    extra = {"period": period} if method == "eurostat_sdg" else {}
    out = assess_frame(_frame(cases), method, keys=["series"], **extra)
    assert out.height == len(cases)
    for i, (series, params) in enumerate(cases):
        record = SCALAR[method](series, **params, **extra)
        row = out.filter(pl.col("series") == f"s{i}").row(0, named=True)
        _assert_same(record, row)


# ------------------------------------------------------------------------------------ monotonicity


def _geometric(start_year: int, end_year: int, v0: float, rate: float) -> dict[int, float]:
    return {y: v0 * (1 + rate) ** (y - start_year) for y in range(start_year, end_year + 1)}


def _assess_all(
    series_start: dict[str, dict[int, float]], target: float, direction: str
) -> dict[str, Assessment]:
    d: Any = direction
    return {
        "eurostat_target": eurostat_sdg(series_start["recent"], target=target, target_year=2030, direction=d),
        "eurostat_trend": eurostat_sdg(series_start["recent"], direction=d),
        "open_sdg_target": open_sdg(series_start["from2015"], target=target, direction=d),
        "open_sdg_trend": open_sdg(series_start["from2015"], direction=d),
        "sdsn": sdsn_trend(series_start["from2015"], green_threshold=target, direction=d),
        "german": german_strategy(series_start["recent"], target=target, target_year=2030, direction=d),
        "linear": linear_trajectory_check(
            series_start["from2015"], base_year=2015, target=target, target_year=2030
        ),
    }


@settings(max_examples=150, deadline=None)
@given(
    v0=st.floats(min_value=10, max_value=5000),
    rate=st.floats(min_value=-0.3, max_value=0.3),
    delta=st.floats(min_value=1e-6, max_value=0.3),
    fraction=st.floats(min_value=0.05, max_value=0.9),
    direction=direction_st,
)
def test_faster_progress_never_gives_a_worse_status(
    v0: float, rate: float, delta: float, fraction: float, direction: str
) -> None:
    # 'decrease': a faster decline (rate − delta); 'increase': a faster rise (rate + delta)
    faster_rate = rate - delta if direction == "decrease" else rate + delta
    target = v0 * fraction if direction == "decrease" else v0 / fraction

    def series(r: float) -> dict[str, dict[int, float]]:
        return {"recent": _geometric(2018, 2023, v0, r), "from2015": _geometric(2015, 2023, v0, r)}

    slow = _assess_all(series(rate), target, direction)
    fast = _assess_all(series(faster_rate), target, direction)
    for name, slow_result in slow.items():
        fast_result = fast[name]
        assert slow_result.status != "insufficient_data", (name, slow_result.warnings)
        ranks = STATUS_RANK[fast_result.method]
        assert ranks[fast_result.status] >= ranks[slow_result.status], (
            name,
            slow_result.status,
            fast_result.status,
        )
        if slow_result.score is not None and fast_result.score is not None:
            assert fast_result.score >= slow_result.score - 1e-9, name


def test_ratio_is_finite_or_none() -> None:
    result = open_sdg(ESPOO, target=TARGET, direction="decrease")
    assert result.ratio is not None and math.isfinite(result.ratio)


# ------------------------------------------------------------------------------ edge cases, to the letter

# The stored 2030 target before targets were derived one way: 1060 × (1 − 0.8) in binary floating point.
OLD_STORED_TARGET = 1060.0 * (1.0 - 0.8)
AT_TARGET: dict[int, float] = {1990: 1060.0, 2024: 400.0, 2025: 350.0, 2026: 300.0, 2027: 250.0, 2028: 212.0}


def _every_method(series: dict[int, float], target: float) -> dict[str, tuple[Assessment, dict[str, Any]]]:
    """Each method's scalar record and its keyword arguments for a decreasing series and a target."""
    calls: dict[str, dict[str, Any]] = {
        "eurostat_sdg": {"target": target, "target_year": 2030, "direction": "decrease"},
        "open_sdg": {"target": target, "target_year": 2030, "base_year": 2024, "direction": "decrease"},
        "sdsn_trend": {"green_threshold": target, "base_year": 2024, "direction": "decrease"},
        "german_strategy": {"target": target, "target_year": 2030, "direction": "decrease"},
        # the path reaches the target in the target year: the latest year here
        "linear_trajectory_check": {"base_year": 1990, "target": target, "target_year": 2028},
    }
    return {m: (SCALAR[m](series, **kw), kw) for m, kw in calls.items()}


MET = {
    "eurostat_sdg": "significant_progress",
    "open_sdg": "target_achieved",
    "sdsn_trend": "achieved",
    "german_strategy": "on_track",
    "linear_trajectory_check": "on_path",
}


def test_the_target_is_derived_one_way_everywhere() -> None:
    from indicators.catalogue import load_indicator_catalogue
    from indicators.targets import targets_frame

    assert OLD_STORED_TARGET == 211.99999999999994  # what `value * (1 - reduction)` stored
    indicator = load_indicator_catalogue().get("ghg_total")
    observed = pl.DataFrame(
        {"indicator": ["ghg_total"], "area": ["049"], "period": ["1990"], "value": [1060.0]},
    ).with_columns(snapshot_ids=pl.lit([1]), vintage=pl.lit(None, dtype=pl.Datetime("us")))
    stored = targets_frame(indicator, observed).filter(pl.col("kind") == "reduction_from_base")
    assert stored.get_column("value").to_list() == [212.0] == [target_from_base(1060.0, 0.8)]
    linear = linear_trajectory_check(AT_TARGET, base_year=1990, reduction=0.8, target_year=2028)
    assert linear.target_value == 212.0 and linear.status == "on_path"
    frame = assess_frame(
        _frame([(AT_TARGET, {"reduction": 0.8})]),
        "linear_trajectory_check",
        keys=["series"],
        base_year=1990,
        target_year=2028,
    )
    assert frame.item(0, "target_value") == 212.0 and frame.item(0, "status") == "on_path"


@pytest.mark.parametrize("target", [212.0, OLD_STORED_TARGET], ids=["derived", "float-noise"])
def test_latest_exactly_at_target_is_met_by_every_method(target: float) -> None:
    """212.0 published in whole kt meets a target of 211.99999999999994: equal at the published precision."""
    for method, (record, params) in _every_method(AT_TARGET, target).items():
        assert record.status == MET[method], (method, record.status, record.warnings)
        row = assess_frame(_frame([(AT_TARGET, params)]), method, keys=["series"]).row(0, named=True)
        _assert_same(record, row)


def _met(method: str, record: Assessment) -> bool:
    """Whether the record says the latest value meets the target (or, linear, the path)."""
    if method in ("eurostat_sdg", "german_strategy"):
        return f"target already met in {record.latest_year}" in record.warnings
    return record.status == MET[method]


def test_precision_comes_from_the_data_and_a_real_miss_stays_a_miss() -> None:
    for method, (record, _) in _every_method(AT_TARGET, OLD_STORED_TARGET).items():
        assert _met(method, record), method
    # published with one decimal: 212.1 is 0.1 above the target, a miss at that precision
    missed = {**AT_TARGET, 2027: 250.5, 2028: 212.1}
    for method, (record, _) in _every_method(missed, 212.0).items():
        assert not _met(method, record), method
    # 0.04 above with two-decimal data, 1e-9 above with nine-decimal data: misses
    for latest in (212.04, 212.000000001):
        result = open_sdg({2024: 400.25, 2028: latest}, target=212.0, base_year=2024, direction="decrease")
        assert result.status != "target_achieved", latest


def test_german_rule_needs_four_observations_whatever_the_span() -> None:
    for series in ({2020: 40.0, 2023: 30.0}, {2020: 40.0, 2021: 38.0, 2023: 30.0}):
        result = german_strategy(series, target=0.0, target_year=2030, direction="decrease")
        assert result.status == "insufficient_data"
        assert (
            result.warnings[-1]
            == f"needs at least 4 observations from 2020 to the latest year, has {len(series)}"
        )
        row = assess_frame(
            _frame([(series, {"target": 0.0, "target_year": 2030, "direction": "decrease"})]),
            "german_strategy",
            keys=["series"],
        ).row(0, named=True)
        _assert_same(result, row)
    four_points = {2020: 40.0, 2021: 38.0, 2022: 33.0, 2023: 30.0}
    assert (
        german_strategy(four_points, target=0.0, target_year=2030, direction="decrease").status == "off_track"
    )


@pytest.mark.parametrize(("direction", "target"), [("decrease", None), ("increase", None), ("increase", 5.0)])
def test_open_sdg_all_zero_series_is_no_change(direction: Any, target: float | None) -> None:
    zeros = dict.fromkeys(range(2015, 2024), 0.0)
    result = open_sdg(zeros, target=target, direction=direction)
    # sdg-build: 0 / 0.001 → −100 %, "substantial progress" (decrease) or "deterioration" (increase)
    assert result.observed_rate == 0.0
    assert result.status == "limited_progress"  # a standstill, with or without a target
    assert "base and latest values are both zero" in result.warnings[-1]
    params = {"direction": direction} | ({} if target is None else {"target": target})
    row = assess_frame(_frame([(zeros, params)]), "open_sdg", keys=["series"]).row(0, named=True)
    _assert_same(result, row)


def test_open_sdg_needs_a_later_observation_even_when_the_base_meets_the_target() -> None:
    """Documented difference: sdg-build would say target achieved from the one base-year point."""
    result = open_sdg({2015: 100.0}, target=150.0, direction="decrease")
    assert result.status == "insufficient_data"
    assert result.warnings == (
        "needs at least 1 years between the first and the latest observation used, has 0",
    )
