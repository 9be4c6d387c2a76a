"""Plausibility checks declared in the catalogue: ranges and jumps that reject an implausible payload whole.

The model is OWID ETL's sanity checks: declarative, run on every load before anything is written. A
range says where a value (or the sum of the matching rows per `by`) must lie, in a declared unit; a jump
says by how much a value may change on the previous vintage; a withdrawal is a published value the
payload makes missing (the rule and its coverage: ingest/completeness.py). `check_payload` is pure (no
database): it returns every violation; `require_plausible` raises `PlausibilityError`, a DataError, so a
rejection is recorded and alerted like every other rejected payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import polars as pl

from common.errors import DataError
from common.units import UNITS, conversion_factor
from ingest.catalogue import DatasetSpec, JumpRule, PlausibilityRule, RangeRule
from ingest.completeness import withdrawn_values
from storage.checks import MEASURE_COLUMNS

# how many violations a rejection message spells out (the error object keeps them all)
MESSAGE_LIMIT = 3
# the kinds of violation a person may accept (`kestava accept`): the change can be real
ACCEPTABLE_KINDS = ("jump", "withdrawal")


@dataclass(frozen=True)
class Violation:
    """One value that fails one rule: which dataset, series, period, value, and the rule it broke."""

    dataset_id: str
    rule: str  # the rule's name in the catalogue
    kind: str  # range, jump, withdrawal or unit
    series: dict[str, str]  # the dimension values (area, measure, sectors…), period excluded
    period: str
    value: float | None
    unit: str
    detail: str  # what the rule expected, in words
    previous: float | None = None  # jumps: the previous vintage's value
    rows: int = 1  # how many payload rows the value sums (1 unless the rule sums)

    @property
    def acceptable(self) -> bool:
        """Whether a person may accept it (`kestava accept`): jumps and withdrawals can be real; ranges
        and units cannot."""
        return self.kind in ACCEPTABLE_KINDS

    def message(self) -> str:
        series = ", ".join(f"{key}={value!r}" for key, value in self.series.items())
        if self.kind == "withdrawal":
            return (
                f"{self.dataset_id}: series {series}, period {self.period}: {_number(self.previous)} "
                f"{self.unit} → missing {self.detail}"
            )
        summed = f" (sum of {self.rows} rows)" if self.rows > 1 else ""
        return (
            f"{self.dataset_id}: series {series}{summed}, period {self.period}: value "
            f"{_number(self.value)} {self.unit} {self.detail} [{self.kind} rule {self.rule!r}]"
        )

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "message": self.message()}


class PlausibilityError(DataError):
    """A payload with values outside the catalogue's declared ranges or jumps: rejected whole."""

    def __init__(self, dataset_id: str, violations: Sequence[Violation], note: str = "") -> None:
        self.source = dataset_id
        self.field = "plausibility"
        self.expected = "values within the catalogue's declared plausibility ranges and jumps"
        self.violations = list(violations)
        shown = "; ".join(v.message() for v in self.violations[:MESSAGE_LIMIT])
        more = len(self.violations) - MESSAGE_LIMIT
        self.got = shown + (f"; and {more} more" if more > 0 else "")
        withdrawn = sum(v.kind == "withdrawal" for v in self.violations)
        failed = len(self.violations) - withdrawn
        counts = [f"{failed} value(s) fail the declared checks"] if failed else []
        if withdrawn:
            counts.append(f"{withdrawn} previously published value(s) withdrawn (missing in the new payload)")
        Exception.__init__(
            self,
            f"{dataset_id}: plausibility: {', '.join(counts)}, nothing was loaded: {self.got}{note}",
        )

    @property
    def acceptable(self) -> bool:
        """True when every violation is a jump (a person may accept the payload)."""
        return all(v.acceptable for v in self.violations)


def check_payload(
    spec: DatasetSpec,
    frame: pl.DataFrame,
    previous: pl.DataFrame | None = None,
    *,
    jumps: bool = True,
    series_jumps: bool = True,
    withdrawals: bool = False,
    covered: pl.Expr | None = None,
) -> list[Violation]:
    """Every violation of the dataset's declared ranges, and (with the previous vintage, unless
    `jumps` is False) of its declared jumps; with `withdrawals` (and the previous vintage, unless the
    dataset opts out), every published value withdrawn (ingest.completeness.withdrawn_values; `covered`
    is the payload's coverage, None: dropped rows are not compared). Writes nothing.

    `frame` is a connector's parsed observations (dimension columns, period, value, flag, unit);
    `previous` the dataset's current stored observations in the same shape (None on a first load).
    series_jumps=False checks only the jumps of sums (aggregate = "sum"): after a reader change the
    series may be cut differently (HSY's sector levels), while a city's total still compares.
    """
    if not {"period", "value", "unit"} <= set(frame.columns):
        return []  # not an observation frame: storage.checks rejects it, naming the missing column
    frame = _values(frame)
    found: list[Violation] = []
    for rule in spec.plausibility.ranges:
        found += _check_range(spec.id, rule, frame)
    if (
        jumps
        and previous is not None
        and previous.height
        and {"period", "value", "unit"} <= set(previous.columns)
    ):
        old = _values(previous)
        for jump in spec.plausibility.jumps:
            if series_jumps or jump.aggregate == "sum":
                found += _check_jump(spec.id, jump, frame, old)
    if withdrawals and spec.plausibility.withdrawals.reject and previous is not None and previous.height:
        found += _check_withdrawals(spec, frame, previous, covered)
    return found


def require_plausible(
    spec: DatasetSpec,
    frame: pl.DataFrame,
    previous: pl.DataFrame | None = None,
    *,
    jumps: bool = True,
    series_jumps: bool = True,
    note: str = "",
) -> None:
    """Raise PlausibilityError naming every violation (see check_payload); `note` ends the message."""
    violations = check_payload(spec, frame, previous, jumps=jumps, series_jumps=series_jumps)
    if violations:
        raise PlausibilityError(spec.id, violations, note)


def _values(frame: pl.DataFrame) -> pl.DataFrame:
    """Values as floats; text that is no number becomes null here (storage.checks names it)."""
    return frame.with_columns(pl.col("value").cast(pl.Float64, strict=False))


def _dimensions(frame: pl.DataFrame) -> list[str]:
    """The columns naming a series, area first (as a reader expects), then the others in frame order."""
    columns = [c for c in frame.columns if c not in (*MEASURE_COLUMNS, "unit", "v")]
    return sorted(columns, key=lambda c: c != "area")


def _matching(
    dataset_id: str, rule: PlausibilityRule, kind: str, frame: pl.DataFrame
) -> tuple[pl.DataFrame, list[Violation]]:
    """The rows the rule matches, values converted to its unit (as `v`); rows in a unit of another kind
    are violations (a publisher changed what the numbers are)."""
    condition = pl.lit(True)
    for column, wanted in rule.match.items():
        if column not in frame.columns:
            violation = Violation(
                dataset_id,
                rule.name,
                "unit",
                {column: "(missing)"},
                "-",
                None,
                rule.unit,
                f"cannot be checked: the payload has no column {column!r} the rule matches on",
            )
            return frame.clear(), [violation]
        values = wanted if isinstance(wanted, list) else [wanted]
        condition = condition & pl.col(column).is_in(values)
    rows = frame.filter(condition)
    factors: dict[str, float] = {}
    wrong: list[Violation] = []
    for unit in rows["unit"].unique().sort().to_list():
        if unit in UNITS and UNITS[unit][0] == UNITS[rule.unit][0]:
            factors[unit] = conversion_factor(unit, rule.unit)
            continue
        first = rows.filter(pl.col("unit") == unit).row(0, named=True)
        wrong.append(
            Violation(
                dataset_id,
                rule.name,
                "unit",
                _series(first, _dimensions(rows)),
                first["period"],
                first["value"],
                unit,
                f"is not in a unit comparable with the {kind} rule's {rule.unit!r}",
            )
        )
    if not factors:
        return rows.clear().with_columns(pl.lit(None, dtype=pl.Float64).alias("v")), wrong
    rows = rows.filter(pl.col("unit").is_in(list(factors))).with_columns(
        (pl.col("value") * pl.col("unit").replace_strict(factors, return_dtype=pl.Float64)).alias("v")
    )
    return rows, wrong


def _grouped(rule: PlausibilityRule, rows: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Per row, or the sum per `by` (groups with no value at all stay out): columns keys…, v, rows."""
    if rule.aggregate == "none":
        keys = [*_dimensions(rows), "period"]
        return rows.filter(pl.col("v").is_not_null()).with_columns(pl.lit(1).alias("rows")), keys
    keys = list(rule.by)
    summed = (
        rows.group_by(keys)
        .agg(pl.col("v").sum(), pl.col("v").count().alias("rows"))
        .filter(pl.col("rows") > 0)
        .sort(keys)
    )
    return summed, keys


def _series(
    row: dict[str, object], keys: Sequence[str], fixed: dict[str, str] | None = None
) -> dict[str, str]:
    series = {k: str(row[k]) for k in keys if k != "period"}
    for column, wanted in (fixed or {}).items():
        series.setdefault(column, wanted)
    return series


def _fixed(rule: PlausibilityRule) -> dict[str, str]:
    """The match's single values: they name the series a sum belongs to (area, measure…)."""
    return {k: v for k, v in rule.match.items() if isinstance(v, str)}


def _check_range(dataset_id: str, rule: RangeRule, frame: pl.DataFrame) -> list[Violation]:
    rows, found = _matching(dataset_id, rule, "range", frame)
    if rows.height == 0:
        return found
    values, keys = _grouped(rule, rows)
    low = pl.lit(False) if rule.min is None else pl.col("v") < rule.min
    high = pl.lit(False) if rule.max is None else pl.col("v") > rule.max
    bounds = f"{_number(rule.min) if rule.min is not None else '−∞'} – "
    bounds += f"{_number(rule.max) if rule.max is not None else '∞'} {rule.unit}"
    why = f" ({rule.why})" if rule.why else ""
    fixed = _fixed(rule) if rule.aggregate == "sum" else {}
    for row in values.filter(low | high).iter_rows(named=True):
        found.append(
            Violation(
                dataset_id,
                rule.name,
                "range",
                _series(row, keys, fixed),
                str(row["period"]),
                row["v"],
                rule.unit,
                f"is outside the declared range {bounds}{why}",
                rows=int(row["rows"]),
            )
        )
    return found


def _check_jump(
    dataset_id: str, rule: JumpRule, frame: pl.DataFrame, previous: pl.DataFrame
) -> list[Violation]:
    rows, found = _matching(dataset_id, rule, "jump", frame)
    old_rows, _ = _matching(dataset_id, rule, "jump", previous)  # a unit problem is reported for the new rows
    if rows.height == 0 or old_rows.height == 0:
        return found
    new, keys = _grouped(rule, rows)
    old, old_keys = _grouped(rule, old_rows)
    if set(keys) - set(old_keys) or any(k not in old.columns for k in keys):
        return found  # the series are named differently now (a new dimension): nothing to compare per row
    joined = new.select(*keys, "v", "rows").join(
        old.select(*keys, pl.col("v").alias("old")), on=keys, how="inner"
    )
    magnitude = pl.max_horizontal(pl.col("v").abs(), pl.col("old").abs())
    ratio = pl.col("v") / pl.col("old")
    jumped = (magnitude >= rule.floor) & (
        (pl.col("old") == 0) | (ratio > rule.factor) | (ratio < 1 / rule.factor)
    )
    why = f" ({rule.why})" if rule.why else ""
    fixed = _fixed(rule) if rule.aggregate == "sum" else {}
    for row in joined.filter(jumped).iter_rows(named=True):
        change = "from 0" if row["old"] == 0 else f"×{_number(row['v'] / row['old'])}"
        found.append(
            Violation(
                dataset_id,
                rule.name,
                "jump",
                _series(row, keys, fixed),
                str(row["period"]),
                row["v"],
                rule.unit,
                f"changed {change} on the previous vintage's {_number(row['old'])} {rule.unit} (declared "
                f"limit ×{_number(rule.factor)} or ÷{_number(rule.factor)}){why}",
                previous=row["old"],
                rows=int(row["rows"]),
            )
        )
    return found


def _check_withdrawals(
    spec: DatasetSpec, frame: pl.DataFrame, previous: pl.DataFrame, covered: pl.Expr | None
) -> list[Violation]:
    withdrawn = withdrawn_values(spec, frame, previous, covered)
    if withdrawn.height == 0:
        return []
    keys = [*_dimensions(withdrawn.drop("how")), "period"]
    detail = {
        "null": "(the new payload has no value: withdrawn)",
        "dropped": "(the new payload no longer holds it: withdrawn)",
    }
    return [
        Violation(
            spec.id,
            "withdrawals",
            "withdrawal",
            _series(row, keys),
            str(row["period"]),
            None,
            str(row.get("unit") or ""),
            detail[str(row["how"])],
            previous=row["value"],
        )
        for row in withdrawn.sort(keys).iter_rows(named=True)
    ]


def _number(value: float | None) -> str:
    if value is None:
        return "null"
    if 1e4 <= abs(value) < 1e15:
        return f"{value:,.0f}".replace(",", " ")  # 10 000 000, as the catalogue's readers write it
    return f"{value:.6g}"


__all__ = [
    "ACCEPTABLE_KINDS",
    "PlausibilityError",
    "Violation",
    "check_payload",
    "require_plausible",
]
