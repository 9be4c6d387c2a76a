"""Cross-source reconciliation: how far two sources (or parts and whole) disagree, as indicators with status.

A `reconcile` indicator is `of` against `against` in % of `against` (HSY's total against Syke's, StatFin's
population against Syke's); a `reconcile_total` indicator is the sum of `of` over the parts (municipalities)
against its value in the whole (the country). Each declares a tolerance in percentage points: beyond it the
status is `breach`, a warning in the weekly report's attention section, never a rejection of data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import polars as pl
from sqlalchemy import Engine, select

from common.units import UNITS, conversion_factor
from indicators.catalogue import (
    Indicator,
    IndicatorCatalogue,
    ReconcileDerivation,
    ReconcileTotalDerivation,
    load_indicator_catalogue,
)
from indicators.derive import DerivationError, _finish, _merge_ids
from storage import schema

Status = Literal["ok", "breach"]
STATUS_SCHEMA = pl.Schema(
    {
        "indicator": pl.String(),
        "area": pl.String(),
        "period": pl.String(),
        "value": pl.Float64(),  # the difference, % of the reference
        "tolerance": pl.Float64(),  # percentage points either way
        "status": pl.String(),  # ok or breach
        "of": pl.String(),  # what is compared
        "against": pl.String(),  # with what (an indicator, or the sum of the parts)
        "why": pl.String(),
    }
)
_INPUT = ("area", "period", "value", "unit", "flags", "snapshot_ids", "vintage")


def derive_reconcile(
    indicator: Indicator,
    derive: ReconcileDerivation | ReconcileTotalDerivation,
    done: Mapping[str, pl.DataFrame],
) -> pl.DataFrame:
    """The difference in % of the reference, per area and period where both sides have a value."""
    name = f"indicator {indicator.id}"
    if indicator.unit != "%":
        raise DerivationError(
            name, "unit", "'%' (a reconciliation is a difference in per cent)", indicator.unit
        )
    if isinstance(derive, ReconcileDerivation):
        ours = done[derive.of].select(_INPUT)
        reference = _in_unit(name, done[derive.against].select(_INPUT), _unit(ours))
        joined = ours.join(reference, on=["area", "period"], how="inner", suffix="_r")
    else:
        source = done[derive.of].select(_INPUT)
        parts = source.filter(pl.col("area").str.contains(derive.parts) & (pl.col("area") != derive.whole))
        # added in area order, not in the order the rows came in (a revision reorders them): the same
        # parts give the same sum to the last bit, so an unrevised check never shows as revised
        parts = parts.sort("area", "period")
        summed = parts.group_by("period").agg(
            pl.lit(derive.whole).alias("area"),
            pl.col("value").sum(),
            pl.col("value").count().alias("n"),
            pl.col("unit").first(),
            pl.col("flags").drop_nulls().unique().sort().str.join(",").alias("flags"),
            pl.col("snapshot_ids").explode().unique().sort().alias("snapshot_ids"),
            pl.col("vintage").max(),
        )
        whole = source.filter(pl.col("area") == derive.whole)
        joined = summed.filter(pl.col("n") > 0).drop("n").join(whole, on=["area", "period"], suffix="_r")
    result = joined.select(
        "area",
        "period",
        pl.when(pl.col("value_r").is_not_null() & (pl.col("value_r") != 0))
        .then((pl.col("value") / pl.col("value_r") - 1.0) * 100.0)
        .alias("value"),
        "snapshot_ids",
        "snapshot_ids_r",
        pl.max_horizontal("vintage", "vintage_r").alias("vintage"),
        pl.concat_str([pl.col("flags"), pl.col("flags_r")], separator=",", ignore_nulls=True).alias("flags"),
    )
    return _finish(
        _merge_ids(result, "snapshot_ids_r"), pl.lit(indicator.id), indicator.unit, indicator.areas
    )


def _unit(frame: pl.DataFrame) -> str | None:
    units = frame["unit"].unique().to_list()
    return str(units[0]) if units else None


def _in_unit(name: str, frame: pl.DataFrame, unit: str | None) -> pl.DataFrame:
    """The reference in the compared indicator's unit (kt and t compare; persons and kt do not)."""
    theirs = _unit(frame)
    if unit is None or theirs is None or theirs == unit:
        return frame
    if UNITS.get(theirs, ("?",))[0] != UNITS.get(unit, ("!",))[0]:
        raise DerivationError(name, "against", f"an indicator in a unit comparable with {unit!r}", theirs)
    return frame.with_columns(pl.col("value") * conversion_factor(theirs, unit), pl.lit(unit).alias("unit"))


def reconciliations(catalogue: IndicatorCatalogue | None = None) -> dict[str, Indicator]:
    """The catalogue's reconciliation indicators by id."""
    catalogue = catalogue or load_indicator_catalogue()
    return {
        key: indicator
        for key, indicator in catalogue.indicators.items()
        if isinstance(indicator.derive, ReconcileDerivation | ReconcileTotalDerivation)
    }


def status_frame(values: pl.DataFrame, catalogue: IndicatorCatalogue | None = None) -> pl.DataFrame:
    """Each reconciliation value (columns indicator, area, period, value) with its tolerance and status."""
    checks = reconciliations(catalogue)
    rows = []
    for row in values.filter(pl.col("indicator").is_in(list(checks))).iter_rows(named=True):
        derive = checks[row["indicator"]].derive
        assert isinstance(derive, ReconcileDerivation | ReconcileTotalDerivation)
        against = derive.against if isinstance(derive, ReconcileDerivation) else f"sum of {derive.of}"
        value = row["value"]
        # within tolerance up to float noise: (1 100 / 1 000 − 1) × 100 is 10.000000000000009
        status: Status = "ok" if value is None or abs(value) <= derive.tolerance + 1e-9 else "breach"
        rows.append(
            {
                "indicator": row["indicator"],
                "area": row["area"],
                "period": row["period"],
                "value": value,
                "tolerance": derive.tolerance,
                "status": status,
                "of": derive.of,
                "against": against,
                "why": derive.why,
            }
        )
    return pl.DataFrame(rows, schema=STATUS_SCHEMA, orient="row").sort("indicator", "area", "period")


def latest_status(engine: Engine, catalogue: IndicatorCatalogue | None = None) -> pl.DataFrame:
    """Every reconciliation's newest stored (observed) value per area, with tolerance and status."""
    checks = reconciliations(catalogue)
    if not checks:
        return pl.DataFrame(schema=STATUS_SCHEMA)
    table = schema.indicator_value
    query = select(table.c.indicator_id, table.c.area, table.c.period, table.c.value).where(
        table.c.indicator_id.in_(list(checks)), table.c.kind == "observed"
    )
    with engine.connect() as conn:
        rows = conn.execute(query).fetchall()
    values = pl.DataFrame(
        rows,
        schema={"indicator": pl.String, "area": pl.String, "period": pl.String, "value": pl.Float64},
        orient="row",
    )
    newest = values.filter(pl.col("value").is_not_null()).sort("period").group_by("indicator", "area").last()
    return status_frame(newest, catalogue)


def breaches(engine: Engine, catalogue: IndicatorCatalogue | None = None) -> pl.DataFrame:
    """The reconciliations whose newest value is beyond tolerance (the report's attention list)."""
    return latest_status(engine, catalogue).filter(pl.col("status") == "breach")
