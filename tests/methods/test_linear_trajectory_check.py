"""Linear trajectory check: worked examples by hand and edge cases."""

from __future__ import annotations

import pytest

from indicators.methods import linear_trajectory_check
from tests.methods.conftest import ESPOO


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
