"""Open SDG method: worked examples by hand and edge cases."""

from __future__ import annotations

import math
from typing import Any

import pytest

from indicators.methods import assess_frame, open_sdg
from tests.methods.conftest import ESPOO, TARGET, _assert_same, _frame


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


def test_ratio_is_finite_or_none() -> None:
    result = open_sdg(ESPOO, target=TARGET, direction="decrease")
    assert result.ratio is not None and math.isfinite(result.ratio)


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
