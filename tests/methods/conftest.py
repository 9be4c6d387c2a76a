"""Shared data and helpers of the progress-assessment method tests: the Espoo series, its target and the frame
parity helpers."""

from __future__ import annotations

from typing import Any

import polars as pl

from indicators.methods import Assessment
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
