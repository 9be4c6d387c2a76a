"""Eurostat SDG method: worked examples by hand and edge cases."""

from __future__ import annotations

import pytest

from indicators.methods import eurostat_sdg
from tests.methods.conftest import ESPOO, TARGET


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
