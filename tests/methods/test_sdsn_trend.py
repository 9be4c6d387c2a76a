"""SDSN trend method: worked examples by hand and edge cases."""

from __future__ import annotations

import pytest

from indicators.methods import sdsn_trend
from tests.methods.conftest import ESPOO, TARGET


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
