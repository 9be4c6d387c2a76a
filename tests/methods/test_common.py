"""All methods at once: the shared Espoo data, assess_frame, frame parity and monotonicity properties, and
edge cases to the letter."""

from __future__ import annotations

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
from tests.methods.conftest import ESPOO, TARGET, _assert_same, _frame


def test_espoo_target_and_headline_change() -> None:
    derived = target_from_base(ESPOO[1990], 0.8)  # 1060 × (1 − 0.8)
    assert derived == pytest.approx(212.0)
    assert derived == TARGET
    assert round((ESPOO[2023] / ESPOO[1990] - 1) * 100) == -30
    assert round((ESPOO[2023] / ESPOO[2022] - 1) * 100) == -18


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

    assert OLD_STORED_TARGET != 212.0  # the premise: `value * (1 - reduction)` misses 212 in binary
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


def test_warnings_keep_the_items_that_apply_in_order_per_row() -> None:
    from indicators.methods.common import _warnings

    frame = pl.DataFrame(
        {"a": ["base year 1991", None, "x", None], "b": [None, "reason", "y", None]},
        schema={"a": pl.String, "b": pl.String},
    )
    result = frame.select(_warnings(pl.col("a"), pl.col("b")))
    assert result.schema["warnings"] == pl.List(pl.String)
    assert result["warnings"].to_list() == [["base year 1991"], ["reason"], ["x", "y"], []]
