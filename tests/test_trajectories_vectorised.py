"""The vectorised trajectories equal the scalar reference functions of indicators.trajectory per series."""

from __future__ import annotations

import math
from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.catalogue import IndicatorCatalogue, parse_indicator_catalogue
from indicators.derive import DERIVED_SCHEMA
from indicators.engine import HORIZON_YEAR, assessments, indicator_values, trajectories
from indicators.trajectory import InsufficientData, fit_trend, linear_path, path_from_latest, project

T = datetime(2025, 6, 1)
NAMES: dict[str, object] = {
    "name": {"fi": "x", "sv": "x", "en": "x"},
    "description": {"fi": "x", "sv": "x", "en": "x"},
}


def named(key: str) -> dict[str, str]:
    """A name of its own in each language (the catalogue refuses two indicators of one name)."""
    return {"fi": key, "sv": key, "en": key}


SUM = {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}
BREAKDOWN = {**SUM, "breakdown": [{"key": "transport", "match": {"s": "traffic"}}]}
TARGETS = [
    {"kind": "reduction_from_base", "base_year": 1990, "reduction": 0.8, "year": 2030, "source": "s"},
    {"kind": "absolute", "value": 5.0, "year": 2035, "source": "s"},
]


def catalogue() -> IndicatorCatalogue:
    base: dict[str, object] = {"unit": "kt CO2e", "direction": "decrease", "boundary": "test"}
    entries: dict[str, dict[str, object]] = {
        "total": {
            "derive": SUM,
            "targets": TARGETS,
            "assess": ["eurostat_sdg", "open_sdg", "sdsn_trend"],
            "bounds": {"min": 0},  # an amount: its projections are cut at 0, as trajectory.project does
        },
        "parts": {
            "derive": BREAKDOWN,
            "targets": [],
            "assess": ["eurostat_sdg", "open_sdg", "sdsn_trend"],
            "bounds": {"max": 5000},  # a breakdown's bounds hold for each part: its projections stop there
        },
    }
    return parse_indicator_catalogue(
        {"indicators": {k: {**NAMES, "name": named(k), **base, **v} for k, v in entries.items()}}
    )


def derived_frame(indicator: str, series: dict[str, list[tuple[int, float]]], snapshot: int) -> pl.DataFrame:
    rows = [(area, year, value) for area, points in series.items() for year, value in points]
    return pl.DataFrame(
        {
            "indicator": [indicator] * len(rows),
            "area": [r[0] for r in rows],
            "period": [str(r[1]) for r in rows],
            "value": [r[2] for r in rows],
            "unit": ["kt CO2e"] * len(rows),
            "flags": [None] * len(rows),
            "snapshot_ids": [[snapshot, snapshot + i % 2] for i in range(len(rows))],
            "vintage": [T] * len(rows),
        },
        schema=DERIVED_SCHEMA,
    )


def close(a: float | None, b: float | None) -> bool:
    assert a is not None and b is not None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, abs(a), abs(b)))


def lines(frame: pl.DataFrame, kind: str, indicator: str, area: str) -> dict[int, tuple[float, ...]]:
    part = frame.filter(pl.col("kind") == kind, pl.col("indicator") == indicator, pl.col("area") == area)
    return {
        int(p): (v, lo, up) for p, v, lo, up in part.select("period", "value", "lower", "upper").iter_rows()
    }


series_strategy = st.dictionaries(
    st.sampled_from(["049", "091", "092", "235"]),
    st.lists(
        st.tuples(st.integers(1988, 2026), st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=20,
        unique_by=lambda p: p[0],
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(totals=series_strategy, parts=series_strategy)
def test_vectorised_trajectories_equal_the_scalar_functions(
    totals: dict[str, list[tuple[int, float]]], parts: dict[str, list[tuple[int, float]]]
) -> None:
    cat = catalogue()
    derived = {
        "total": derived_frame("total", totals, 3),
        "parts": derived_frame("parts.transport", parts, 5),
    }
    result = trajectories(cat, derived)
    assert result.select(pl.struct("indicator", "area", "kind", "period").is_unique().all()).item()
    targets = {}
    for area, points in totals.items():
        observed = dict(points)
        area_targets = [(2035, 5.0)]
        if 1990 in observed:
            area_targets.append((2030, observed[1990] * (1.0 - 0.8)))
            path = linear_path(1990, observed[1990], 2030, observed[1990] * (1.0 - 0.8))
            got = lines(result, "path", "total", area)
            assert sorted(got) == path["year"].to_list()
            for year, value in path.iter_rows():
                assert close(got[year][0], value)
        targets[area] = sorted(area_targets)
        assert {y: v[0] for y, v in lines(result, "target", "total", area).items()} == pytest.approx(
            dict(area_targets), rel=1e-12
        )
    # horizon: the later of 2030 and the indicator's last target year (the absolute one applies everywhere)
    for indicator, series, horizon in (("total", totals, 2035), ("parts.transport", parts, HORIZON_YEAR)):
        for area, points in series.items():
            frame = pl.DataFrame(points, schema={"year": pl.Int64, "value": pl.Float64}, orient="row")
            latest = max(y for y, _ in points)
            ahead = [t for t in targets.get(area, []) if t[0] > latest] if indicator == "total" else []
            got = lines(result, "path_from_latest", indicator, area)
            if ahead:
                expected = path_from_latest(frame, ahead[0][0], ahead[0][1])
                assert sorted(got) == expected["year"].to_list()
                for year, value in expected.iter_rows():
                    assert close(got[year][0], value)
            else:
                assert not got
            fit = fit_trend(frame)
            got = lines(result, "projection", indicator, area)
            if isinstance(fit, InsufficientData):
                assert not got
                continue
            assert sorted(got) == list(range(fit.years[-1] + 1, horizon + 1))
            bounds = cat.get(indicator.split(".")[0]).value_bounds
            for year, (value, lower, upper) in got.items():
                reference = project(fit, year, bounds=bounds)
                assert close(value, reference.value)
                assert close(lower, reference.lower)
                assert close(upper, reference.upper)
    provenance = result.filter(pl.col("kind") == "projection", pl.col("indicator") == "parts.transport")
    assert all(ids in ([5], [5, 6]) for ids in provenance["snapshot_ids"].to_list())


def test_breakdown_parts_get_projections_and_trend_only_assessments() -> None:
    cat = catalogue()
    points = [(year, 100.0 - 3 * (year - 2010) + (year % 3)) for year in range(2010, 2025)]
    derived = {
        "total": derived_frame("total", {"049": points}, 1),
        "parts": derived_frame("parts.transport", {"049": points}, 1),
    }
    result = trajectories(cat, derived)
    kinds = set(result.filter(pl.col("indicator") == "parts.transport")["kind"].to_list())
    assert kinds == {"projection"}  # no targets for breakdown parts
    assessed = assessments(cat, derived)
    methods = assessed.filter(pl.col("indicator") == "parts.transport")["method"].to_list()
    assert sorted(methods) == ["eurostat_sdg", "open_sdg"]  # sdsn_trend needs a target
    assert sorted(assessed.filter(pl.col("indicator") == "total")["method"].to_list()) == [
        "eurostat_sdg",
        "open_sdg",
        "sdsn_trend",
    ]


def test_a_duplicate_year_is_reported_by_indicator_and_area() -> None:
    points = [(year, 50.0 - year % 7) for year in range(2010, 2025)]
    duplicated = derived_frame("total", {"049": points, "091": [*points, (2020, 1.0)]}, 1)
    with pytest.raises(ValueError, match=r"duplicate year 2020 for indicator='total', area='091'"):
        assessments(catalogue(), {"total": duplicated})


def test_each_breakdown_part_and_area_is_its_own_series() -> None:
    # two parts of one indicator in the same areas, and a single-id indicator beside them: each
    # (stored id, area) gets the projection of its own points, never a mix of its parts
    cat = catalogue()
    rising = [(year, 10.0 + 2 * (year - 2010) + (year % 3)) for year in range(2010, 2025)]
    falling = [(year, 90.0 - 3 * (year - 2010) + (year % 2)) for year in range(2010, 2025)]
    parts = pl.concat(
        [
            derived_frame("parts.transport", {"049": rising, "091": falling}, 1),
            derived_frame("parts.other", {"049": falling, "091": rising}, 2),
        ]
    )
    derived = {"parts": parts, "total": derived_frame("total", {"049": falling, "091": rising}, 3)}
    result = trajectories(cat, derived)
    for indicator, area, points in [
        ("parts.transport", "049", rising),
        ("parts.transport", "091", falling),
        ("parts.other", "049", falling),
        ("parts.other", "091", rising),
        ("total", "049", falling),
        ("total", "091", rising),
    ]:
        fit = fit_trend(points)
        assert not isinstance(fit, InsufficientData)
        got = lines(result, "projection", indicator, area)
        horizon = 2035 if indicator == "total" else HORIZON_YEAR  # the total's last target year
        assert sorted(got) == list(range(2025, horizon + 1)), (indicator, area)
        for year, (value, lower, upper) in got.items():
            expected = project(fit, year)
            assert close(value, expected.value), (indicator, area, year)
            assert close(lower, expected.lower) and close(upper, expected.upper), (indicator, area, year)


def change_catalogue() -> IndicatorCatalogue:
    """A total, its change on the previous year and on 1990, and a gap between it and a second source."""
    level: dict[str, object] = {"unit": "kt CO2e", "direction": "decrease", "boundary": "test"}
    share: dict[str, object] = {"unit": "%", "direction": "decrease", "boundary": "test"}
    entries: dict[str, dict[str, object]] = {
        "total": {**level, "derive": SUM, "assess": ["eurostat_sdg"]},
        "other_total": {**level, "derive": SUM, "assess": []},
        "yoy": {
            **share,
            "derive": {"kind": "change", "of": "total", "against": "previous_year"},
            "targets": [{"kind": "absolute", "value": -4.0, "year": 2030, "source": "s"}],
            "assess": ["eurostat_sdg", "open_sdg"],
        },
        "since_1990": {
            **share,
            "derive": {"kind": "change", "of": "total", "against": "base_year", "base_year": 1990},
            "assess": ["eurostat_sdg"],
        },
        "gap": {
            **share,
            "derive": {"kind": "reconcile", "of": "total", "against": "other_total", "tolerance": 5.0},
            "assess": ["eurostat_sdg"],
        },
        "gap_total": {
            **share,
            "derive": {"kind": "reconcile_total", "of": "total", "whole": "FI", "tolerance": 1.0},
            "assess": [],
        },
    }
    return parse_indicator_catalogue(
        {"indicators": {k: {**NAMES, "name": named(k), **v} for k, v in entries.items()}}
    )


def test_no_trend_of_a_change_on_the_previous_year_nor_of_a_difference() -> None:
    """A year-on-year change and a cross-source gap keep observed values, targets and assessments but get no
    projection nor estimate; a change on a fixed base year (the level rescaled) keeps its trend."""
    cat = change_catalogue()
    assert [i for i, e in cat.indicators.items() if not e.projected] == ["yoy", "gap", "gap_total"]
    wobbly = [(year, 5.0 - 0.5 * (year - 2010) + (year % 3)) for year in range(2010, 2024)]
    derived = {i: derived_frame(i, {"049": wobbly}, 1) for i in cat.indicators}
    values = indicator_values(cat, derived, date(2026, 6, 1))
    kinds = {
        i: set(values.filter(pl.col("indicator") == i)["kind"].to_list()) for i in ["yoy", "gap", "gap_total"]
    }
    assert kinds == {
        "yoy": {"observed", "target", "path_from_latest"},  # its target and the line to it stay
        "gap": {"observed"},
        "gap_total": {"observed"},
    }
    observed = values.filter(pl.col("indicator") == "yoy", pl.col("kind") == "observed")
    assert sorted(observed["period"].to_list()) == [str(y) for y, _ in wobbly]
    # the fixed-base change and the level: the trend of their last ten points, estimates for 2024 and 2025
    fit = fit_trend(wobbly)
    assert not isinstance(fit, InsufficientData)
    for indicator in ("since_1990", "total"):
        for kind, years in (("projection", range(2024, HORIZON_YEAR + 1)), ("estimate", range(2024, 2026))):
            got = lines(values, kind, indicator, "049")
            assert sorted(got) == list(years), (indicator, kind)
            assert all(close(got[y][0], project(fit, y).value) for y in years)
    # assessments are made of the observed values, projected or not
    assessed = assessments(cat, derived)
    assert set(assessed.filter(pl.col("indicator") == "yoy")["method"].to_list()) == {
        "eurostat_sdg",
        "open_sdg",
    }
    assert assessed.filter(pl.col("indicator") == "gap")["method"].to_list() == ["eurostat_sdg"]
