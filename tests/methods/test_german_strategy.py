"""German sustainability strategy method: worked examples by hand and edge cases."""

from __future__ import annotations

import pytest

from indicators.methods import assess_frame, german_strategy
from tests.methods.conftest import ESPOO, TARGET, _assert_same, _frame


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
