"""Checks a normalised observation frame before anything is written; bad input raises ObservationError."""

from __future__ import annotations

import polars as pl

from common.errors import DataError
from common.units import UNITS

REQUIRED = {"area": pl.String, "period": pl.String, "value": pl.Float64, "flag": pl.String, "unit": pl.String}
MEASURE_COLUMNS = ("period", "value", "flag")
PERIOD_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2])(-\d{2})?|-W(0[1-9]|[1-4]\d|5[0-3])|-H[12]|-Q[1-4])?$"


class ObservationError(DataError):
    """An observation frame that cannot be stored (wrong columns, NaN, duplicates, unknown unit)."""


def dimension_columns(frame: pl.DataFrame) -> list[str]:
    """The columns that identify a series: everything but period, value and flag, sorted."""
    return sorted(c for c in frame.columns if c not in MEASURE_COLUMNS)


def check_observations(frame: pl.DataFrame, dataset_id: str) -> pl.DataFrame:
    """Validate and normalise dtypes; return the frame ready to load or raise ObservationError."""
    for column, dtype in REQUIRED.items():
        if column not in frame.columns:
            raise ObservationError(dataset_id, column, f"a {dtype} column", f"columns {frame.columns}")
    if frame.height == 0:
        raise ObservationError(dataset_id, "rows", "at least one observation", "an empty frame")
    if not frame.schema["value"].is_numeric():
        raise ObservationError(dataset_id, "value", "a numeric column", str(frame.schema["value"]))
    frame = frame.with_columns(pl.col("value").cast(pl.Float64))
    for column in frame.columns:
        if column in ("value",):
            continue
        if frame.schema[column] != pl.String:
            raise ObservationError(dataset_id, column, "a text (Utf8) column", str(frame.schema[column]))
        if column != "flag" and frame[column].null_count():
            raise ObservationError(dataset_id, column, "no missing values in a dimension", "null")
    _reject_rows(
        frame,
        dataset_id,
        "value",
        pl.col("value").is_nan() | pl.col("value").is_infinite(),
        "a finite number, or null for a missing value",
    )
    _reject_rows(
        frame,
        dataset_id,
        "period",
        ~pl.col("period").str.contains(PERIOD_PATTERN),
        "YYYY, YYYY-MM, YYYY-MM-DD, YYYY-Www, YYYY-Qn or YYYY-Hn",
    )
    unknown_units = sorted(set(frame["unit"].unique().to_list()) - set(UNITS))
    if unknown_units:
        raise ObservationError(dataset_id, "unit", f"one of {sorted(UNITS)}", repr(unknown_units[0]))
    key = [*dimension_columns(frame), "period"]
    # distinct row hashes first (cheap); only a repeated hash (a duplicate or a collision) costs the search
    hashes_repeat = frame.select(key).hash_rows().n_unique() < frame.height
    duplicated = frame.filter(pl.struct(key).is_duplicated()) if hashes_repeat else frame.clear()
    if duplicated.height:
        first = duplicated.row(0, named=True)
        where = ", ".join(f"{k}={first[k]!r}" for k in key)
        raise ObservationError(dataset_id, "rows", "one observation per series and period", f"twice: {where}")
    return frame


def _reject_rows(frame: pl.DataFrame, dataset_id: str, field: str, bad: pl.Expr, expected: str) -> None:
    offending = frame.filter(bad)
    if offending.height:
        first = offending.row(0, named=True)
        where = ", ".join(f"{k}={first[k]!r}" for k in [*dimension_columns(frame), "period"] if k != field)
        raise ObservationError(
            dataset_id, field, expected, f"{first[field]!r} ({offending.height} rows; first at {where})"
        )
