"""What the five progress-assessment methods share: the record, warning texts and the helpers of both forms.

The scalar helpers find the base and latest observations of one series (``_window``); the frame helpers
resolve the parameters of a long frame and find the same observations for every series in one
``group_by`` pass (``_prepare_frame``, ``_aggregate``). ``MethodSpec`` is what a method module hands to
the catalogue in ``indicators.methods.registry``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict

from indicators.trajectory import (
    Direction,
    Point,
    first_at_or_after,
    published_decimals,
    with_value_decimals,
)

Period = Literal["short", "long"]
Detail = int | float | str | None

INSUFFICIENT = "insufficient_data"


# Warning texts; placeholders are filled with whole numbers (years, spans) only, by str.format in the
# scalar functions and by pl.format in assess_frame, so both forms produce identical warnings.
MSG_NO_OBS = "no observations"
MSG_BASE_SUBSTITUTED = "base year {} missing; used {}"
MSG_NO_BASE = "no observation in or after base year {}"
MSG_SPAN = "needs at least {} years between the first and the latest observation used, has {}"
MSG_POINTS = "needs at least {} observations from {} to the latest year, has {}"
MSG_RATE_UNDEFINED = "growth rate undefined for zero or sign-changing values"
MSG_TARGET_UNDEFINED = "required growth rate undefined for a zero target or a target of opposite sign"
MSG_TARGET_YEAR_BASE = "target year {} not after base year {}"
MSG_TARGET_YEAR_LATEST = "target year {} not after latest year {}"
MSG_TARGET_MET = "target already met in {}"
MSG_BASE_BEYOND = "base value already on the target side; the latest value is not"
MSG_ZERO_BASE = "base value is zero; replaced by 0.001"
MSG_ZERO_TARGET = "target is zero; replaced by 0.001"
MSG_BOTH_ZERO = (
    "base and latest values are both zero: no change (not −100 % against the 0.001 put in for the base)"
)
MSG_OPPOSITE = "base and latest values have opposite signs"
MSG_TARGET_OPPOSITE = "target and base value have opposite signs"
MSG_TARGET_EQUALS_BASE = "target equals the base value; the required growth rate is zero"
MSG_ACHIEVEMENT_LOST = "threshold met in the base year but not in the latest year"


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


class Assessment(BaseModel):
    """Every input and output of one progress assessment of one series.

    ``observed_rate``/``required_rate`` are in the method's own unit (compound rate per year for
    Eurostat/Open SDG/linear, score points per year for SDSN, units per year for the German method).
    ``ratio`` is observed/required pace where defined; ``measure`` is the number actually compared to
    ``thresholds``; ``details`` holds method-specific intermediate numbers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str
    version: str
    direction: Direction
    requested_base_year: int | None
    base_year: int | None
    base_value: float | None
    latest_year: int | None
    latest_value: float | None
    target_year: int | None
    target_value: float | None
    observed_rate: float | None
    required_rate: float | None
    ratio: float | None
    measure: float | None
    thresholds: dict[str, float]
    status: str
    symbol: str
    score: float | None
    n_points: int
    warnings: tuple[str, ...]
    details: dict[str, Detail]


# --------------------------------------------------------------------------------------------------
# Shared scalar helpers
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    """Latest observation and the base observation (requested year or the next available one)."""

    latest_year: int | None
    latest_value: float | None
    requested: int | None
    base_year: int | None
    base_value: float | None
    n_points: int
    span: int | None
    decimals: int = 0  # the series' published precision (trajectory.published_decimals)

    def substitution(self) -> list[str]:
        if self.base_year is not None and self.base_year != self.requested:
            return [MSG_BASE_SUBSTITUTED.format(self.requested, self.base_year)]
        return []


def _window(points: Sequence[Point], requested: int | Callable[[int], int]) -> _Window:
    if not points:
        return _Window(None, None, requested if isinstance(requested, int) else None, None, None, 0, None)
    latest_year, latest_value = points[-1]
    wanted = requested if isinstance(requested, int) else requested(latest_year)
    base = first_at_or_after(points, wanted)
    if base is None:
        decimals = published_decimals(v for _, v in points)
        return _Window(latest_year, latest_value, wanted, None, None, 0, None, decimals)
    n_points = sum(1 for year, _ in points if base[0] <= year <= latest_year)
    decimals = published_decimals(v for _, v in points)
    span = latest_year - base[0]
    return _Window(latest_year, latest_value, wanted, base[0], base[1], n_points, span, decimals)


def _ge(value: float | None, threshold: float) -> bool:
    return value is not None and value >= threshold


# --------------------------------------------------------------------------------------------------
# Catalogue entry
# --------------------------------------------------------------------------------------------------


HORIZON_YEAR = 2030  # projections run at least to this year; Open SDG's default target year


def _no_thresholds(has_target: bool) -> dict[str, float]:
    return {}


def _target_columns() -> list[pl.Expr]:
    return [pl.col("target"), pl.col("target_year")]


RateUnit = Literal["compound", "score_points", "indicator_unit"]


@dataclass(frozen=True)
class MethodSpec:
    """Everything the catalogue (``indicators.methods.registry``) needs to know about one method.

    ``frame_params`` lists the parameters that may be columns of the frame (or keywords) with their
    defaults (``_REQUIRED`` for none); ``frame_scalars`` the keyword-only ones with their defaults.
    ``requested`` gives, from those keyword-only values, the per-group expression of the requested base
    year; ``frame`` checks the aggregated frame (one row per series) and adds the method's columns.
    """

    method: str
    version: str
    scalar: Callable[..., Assessment]
    status_rank: dict[str, int]
    symbols: dict[str, str]
    detail_columns: list[str]
    frame_params: dict[str, Any]
    requested: Callable[[dict[str, Any]], pl.Expr]
    frame: Callable[[pl.LazyFrame, dict[str, Any]], pl.LazyFrame]
    frame_scalars: dict[str, Any] = field(default_factory=dict)
    # What indicators.engine needs to assess a catalogue indicator by this method: whether only series
    # with a target are assessed; the thresholds recorded with each assessment (given whether there is a
    # target); the parameter columns it passes besides sid, year, value and direction.
    needs_target: bool = False
    thresholds: Callable[[bool], dict[str, float]] = _no_thresholds
    engine_columns: Callable[[], list[pl.Expr]] = _target_columns
    # the unit of observed_rate and required_rate (see Assessment): a compound rate a year (a fraction),
    # score points a year, or the indicator's own unit a year
    rate_unit: RateUnit = "compound"


# --------------------------------------------------------------------------------------------------
# Vectorised form
# --------------------------------------------------------------------------------------------------

_PARAM_TYPES: dict[str, pl.DataType] = {
    "target": pl.Float64(),
    "target_year": pl.Int64(),
    "base_year": pl.Int64(),
    "direction": pl.String(),
    "green_threshold": pl.Float64(),
    "red_threshold": pl.Float64(),
    "lower_bound": pl.Float64(),
    "reduction": pl.Float64(),
}


class SeriesError(ValueError):
    """A problem with one series of an assessed frame; ``key`` holds its key columns and values."""

    def __init__(self, problem: str, key: dict[str, Any]) -> None:
        self.problem, self.key = problem, key
        named = ", ".join(f"{column}={value!r}" for column, value in key.items())
        super().__init__(f"{problem} for {named}" if named else problem)


_REQUIRED = object()

_OUTPUT_COLUMNS = [
    "method",
    "version",
    "direction",
    "requested_base_year",
    "base_year",
    "base_value",
    "latest_year",
    "latest_value",
    "target_year",
    "target_value",
    "observed_rate",
    "required_rate",
    "ratio",
    "measure",
    "status",
    "symbol",
    "score",
    "n_points",
    "warnings",
]

c = pl.col
_F = pl.Float64
_NULL_F = pl.lit(None, dtype=_F)
_NULL_I = pl.lit(None, dtype=pl.Int64)
_NULL_S = pl.lit(None, dtype=pl.String)


def _prepare_frame(
    frame: pl.DataFrame, method_spec: MethodSpec, keys: Sequence[str] | None, params: dict[str, Any]
) -> tuple[pl.LazyFrame, list[str]]:
    """Resolve the parameters (column, keyword or default) and mask missing values; no data pass yet."""
    method = method_spec.method
    for column in ("year", "value"):
        if column not in frame.columns:
            raise ValueError(f"frame lacks the column {column!r}")
    spec = method_spec.frame_params
    unknown = set(params) - set(spec) - set(method_spec.frame_scalars)
    if unknown:
        raise TypeError(f"{method} does not take parameter(s) {sorted(unknown)}")
    if keys is None:
        keys = [col for col in frame.columns if col not in {"year", "value", "decimals", *spec}]
    keys = list(keys)
    lf = frame.lazy()
    if not keys:
        lf = lf.with_columns(_group=pl.lit(0))
        keys = ["_group"]
    valid = c("value").is_not_null() & c("value").cast(_F).is_not_nan()
    # each value's published precision: given (a "decimals" column), else read from the value here,
    # in lazy steps of their own (its text is made once), not in the group-by
    if "decimals" not in frame.columns:
        lf = with_value_decimals(lf, c("value").cast(_F), "decimals")
    decimals = c("decimals").cast(pl.Int64)
    columns = [
        pl.when(valid).then(c("year").cast(pl.Int64)).alias("_year"),
        pl.when(valid).then(c("value").cast(_F)).alias("_value"),
        pl.when(valid).then(decimals).alias("_decimals"),
    ]
    for name, default in spec.items():
        dtype = _PARAM_TYPES[name]
        if name in frame.columns:
            if name in params:
                raise TypeError(f"{name!r} is both a column of the frame and a parameter")
            expr = c(name).cast(dtype)
        elif name in params:
            expr = pl.lit(params[name], dtype=dtype)
        elif default is _REQUIRED:
            raise TypeError(f"{method} needs {name!r} as a column of the frame or as a parameter")
        else:
            expr = pl.lit(default, dtype=dtype)
        columns.append(expr.alias(f"_p_{name}"))
    return lf.select(*keys, *columns), keys


def _param(frame_params: dict[str, Any], name: str) -> pl.Expr:
    """A group's parameter: its first non-null value, else the scalar function's default."""
    default = frame_params[name]
    expr = c(f"_p_{name}").drop_nulls().first()
    if default is not None and default is not _REQUIRED:
        expr = expr.fill_null(pl.lit(default, dtype=_PARAM_TYPES[name]))
    return expr


def _aggregate(
    lf: pl.LazyFrame, keys: list[str], method_spec: MethodSpec, requested: pl.Expr
) -> pl.DataFrame:
    """One group_by pass: latest and base observations (base = requested year or the next available).

    The group's latest year, requested base year (``requested`` may use the group's latest year or
    parameter) and base year are first put on its rows as window expressions, so that the aggregation
    itself uses only simple per-group reductions (max, min, sum, first), which polars runs without
    evaluating an expression per group; there is no Python loop over groups. The aggregated frame (one
    row per series) is collected and validated: duplicate years and unknown directions raise ValueError.
    """
    method, frame_params = method_spec.method, method_spec.frame_params
    year, value = c("_year"), c("_value")
    params = [name for name in frame_params if name != "base_year"]
    rows = lf.with_columns(_latest=year.max().over(keys), _requested=requested.over(keys)).with_columns(
        _base=pl.when(year >= c("_requested")).then(year).min().over(keys)
    )
    # years are unique in a group when they count as many as their distinct values (null not counted)
    repeats = year.count() > year.n_unique() - (year.null_count() > 0).cast(pl.UInt32)
    g = (
        rows.group_by(keys)
        .agg(
            latest_year=year.max(),
            # the rows of a group hold one value per year (repeats raise below): the max of one value
            latest_value=pl.when(year == c("_latest")).then(value).max(),
            requested_base_year=c("_requested").first(),
            base_year=c("_base").first(),
            base_value=pl.when(year == c("_base")).then(value).max(),
            # no year of the group lies between the requested and the base year, nor after the latest
            n_points=(year >= c("_base")).sum().cast(pl.Int64),
            value_max=value.max(),
            value_min=value.min(),
            decimals=c("_decimals").max().fill_null(0),
            _repeats=repeats,
            **{name: _param(frame_params, name) for name in params},
        )
        .collect()
    )

    def key(row: dict[str, Any]) -> dict[str, Any]:
        return {k: row[k] for k in keys if k != "_group"}

    if g.get_column("_repeats").any():
        duplicates = (
            lf.group_by(keys)
            .agg(_duplicate=year.filter(year.is_duplicated() & year.is_not_null()).min())
            .filter(c("_duplicate").is_not_null())
            .collect()
        )
        row = duplicates.sort(keys).row(0, named=True)
        raise SeriesError(f"duplicate year {row['_duplicate']}", key(row))
    for name, default in frame_params.items():
        column = "requested_base_year" if name == "base_year" else name
        missing = g.filter(c(column).is_null())
        if default is _REQUIRED and missing.height:
            raise SeriesError(f"{method}: {name} is missing", key(missing.sort(keys).row(0, named=True)))
    if "direction" in params:
        seen = set(g.get_column("direction").unique().to_list())
        allowed = {"decrease", "increase"} | ({None} if frame_params["direction"] is None else set())
        if not seen <= allowed:
            raise ValueError(
                f"direction must be 'decrease' or 'increase', got {sorted(map(str, seen - allowed))}"
            )
    return g.drop("_repeats")


def _compound_expr(quotient: pl.Expr, years: pl.Expr) -> pl.Expr:
    """``trajectory.compound_rate`` as a polars expression: exp(ln(q)/years) − 1, the same operations."""
    return (quotient.log() / years).exp() - 1.0


def _warnings(*items: pl.Expr) -> pl.Expr:
    """The items that apply (not null), as a list per row."""
    # a fixed-width array made a list: concat_list of several columns goes through the general list
    # concatenation, several times slower
    texts = pl.concat_arr([item.cast(pl.String) for item in items]).cast(pl.List(pl.String))
    return texts.list.drop_nulls().alias("warnings")


def _substitution() -> pl.Expr:
    return pl.when(c("base_year").is_not_null() & (c("base_year") != c("requested_base_year"))).then(
        pl.format(MSG_BASE_SUBSTITUTED, c("requested_base_year"), c("base_year"))
    )


def _dsign() -> pl.Expr:
    return pl.when(c("direction") == "increase").then(1.0).otherwise(-1.0)


def _symbol(symbols: dict[str, str]) -> pl.Expr:
    return c("status").replace_strict(symbols, return_dtype=pl.String).alias("symbol")
