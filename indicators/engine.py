"""The indicator engine: derive indicators, targets, paths, projections and assessments, and store them."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl
from sqlalchemy import Engine, delete, func, insert, select

from indicators.catalogue import IndicatorCatalogue, ReductionTarget, load_indicator_catalogue
from indicators.derive import derive_all
from indicators.methods import (
    EUROSTAT_TARGET_THRESHOLDS,
    EUROSTAT_TREND_THRESHOLDS,
    GERMAN_THRESHOLDS,
    METHOD_VERSIONS,
    OPEN_SDG_TARGET_THRESHOLDS,
    OPEN_SDG_TREND_THRESHOLDS,
    SDSN_THRESHOLDS,
    assess_frame,
)
from indicators.targets import targets_frame
from indicators.trajectory import InsufficientData, fit_trend, linear_path, path_from_latest, project
from storage import read, schema
from storage.jobs import now_utc
from storage.load import TIMESTAMP_FORMAT, bulk_insert

ENGINE_VERSION = "engine/1"
HORIZON_YEAR = 2030  # projections run at least to this year
METHODS_NEEDING_TARGET = {"sdsn_trend", "german_strategy", "linear_trajectory_check"}
log = logging.getLogger(__name__)

VALUE_SCHEMA = pl.Schema(
    {
        "indicator": pl.String(),
        "area": pl.String(),
        "period": pl.String(),
        "kind": pl.String(),
        "value": pl.Float64(),
        "lower": pl.Float64(),
        "upper": pl.Float64(),
        "unit": pl.String(),
        "vintage": pl.Datetime("us"),
        "snapshot_ids": pl.List(pl.Int64()),
    }
)


@dataclass
class ComputeSummary:
    """What a compute run did."""

    computed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    values_written: int = 0
    assessments_written: int = 0

    def summary(self) -> str:
        return (
            f"{len(self.computed)} indicators computed, {len(self.unchanged)} unchanged, "
            f"{len(self.errors)} failed; {self.values_written} values, {self.assessments_written} assessments"
        )


def load_inputs(
    engine: Engine, datasets: Sequence[str], as_of: date | datetime | None = None
) -> dict[str, pl.DataFrame]:
    """Current (or as-of) observations of each dataset, dimensions expanded."""
    frame = read.observations(engine, list(datasets), as_of=as_of)
    if frame.height == 0:
        return {}
    return {str(key[0]): part for key, part in frame.partition_by("dataset", as_dict=True).items()}


def _annual(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(
        pl.col("period").str.contains(r"^\d{4}$"), pl.col("value").is_not_null()
    ).with_columns(pl.col("period").cast(pl.Int64).alias("year"))


def trajectories(catalogue: IndicatorCatalogue, derived: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Targets, linear paths and trend projections (with bands) for every annual series with a target.

    Kinds: target (the target value in its year), path (the linear path from base to target),
    path_from_latest (the straight line from the latest value to the next target), projection (the
    OLS trend of the last ≤ 10 values, ≥ 5 needed, to the later of 2030 and the last target year,
    with a 95 % prediction band).
    """
    rows: list[dict[str, object]] = []
    for indicator_id, frame in derived.items():
        indicator = catalogue.get(indicator_id)
        targets = targets_frame(indicator, frame)
        for target in targets.iter_rows(named=True):
            common = {"indicator": indicator_id, "area": target["area"], "unit": indicator.unit}
            meta = {"vintage": target["vintage"], "snapshot_ids": target["snapshot_ids"]}
            rows.append(
                {**common, **meta, "period": str(target["year"]), "kind": "target", "value": target["value"]}
            )
            if target["kind"] == "reduction_from_base":
                path = linear_path(target["base_year"], target["base_value"], target["year"], target["value"])
                for year, value in path.iter_rows():
                    rows.append({**common, **meta, "period": str(year), "kind": "path", "value": value})
        horizon = max([HORIZON_YEAR, *targets["year"].to_list()])
        annual = _annual(frame.filter(pl.col("indicator") == indicator_id))
        for (area,), series in annual.partition_by("area", as_dict=True, maintain_order=True).items():
            meta = {
                "vintage": series["vintage"].max(),
                "snapshot_ids": sorted(set(series["snapshot_ids"].explode().drop_nulls().to_list())),
            }
            latest_year = int(series["year"].max())  # type: ignore[arg-type]
            ahead = targets.filter(pl.col("area") == area, pl.col("year") > latest_year).sort("year")
            if ahead.height:
                path = path_from_latest(series.select("year", "value"), ahead["year"][0], ahead["value"][0])
                for year, value in path.iter_rows():
                    common = {"indicator": indicator_id, "area": area, "unit": indicator.unit}
                    rows.append(
                        {**common, **meta, "period": str(year), "kind": "path_from_latest", "value": value}
                    )
            fit = fit_trend(series.select("year", "value"))
            if isinstance(fit, InsufficientData):
                continue
            for year in range(fit.years[-1] + 1, horizon + 1):
                projection = project(fit, year)
                rows.append(
                    {
                        "indicator": indicator_id,
                        "area": area,
                        "unit": indicator.unit,
                        **meta,
                        "period": str(year),
                        "kind": "projection",
                        "value": projection.value,
                        "lower": projection.lower,
                        "upper": projection.upper,
                    }
                )
    if not rows:
        return pl.DataFrame(schema=VALUE_SCHEMA)
    return pl.DataFrame(rows, schema=VALUE_SCHEMA)


def indicator_values(
    catalogue: IndicatorCatalogue, derived: dict[str, pl.DataFrame], today: date
) -> pl.DataFrame:
    """Every stored value: observed values, then targets, paths, projections, and estimates.

    Estimates (nowcasts) are the projection values for years after the latest observation that should
    already be over (up to last year), marked kind=estimate so charts show them differently.
    """
    observed = [
        frame.select(
            "indicator",
            "area",
            "period",
            pl.lit("observed").alias("kind"),
            "value",
            pl.lit(None, dtype=pl.Float64).alias("lower"),
            pl.lit(None, dtype=pl.Float64).alias("upper"),
            "unit",
            "vintage",
            "snapshot_ids",
        )
        for frame in derived.values()
    ]
    paths = trajectories(catalogue, derived)
    estimates = paths.filter(
        pl.col("kind") == "projection", pl.col("period").cast(pl.Int64) <= today.year - 1
    ).with_columns(pl.lit("estimate").alias("kind"))
    return pl.concat([*[o.cast(VALUE_SCHEMA) for o in observed], paths, estimates]).sort(
        "indicator", "area", "kind", "period"
    )


def _thresholds(method: str, has_target: bool) -> dict[str, float]:
    if method == "eurostat_sdg":
        return dict(EUROSTAT_TARGET_THRESHOLDS if has_target else EUROSTAT_TREND_THRESHOLDS)
    if method == "open_sdg":
        return dict(OPEN_SDG_TARGET_THRESHOLDS if has_target else OPEN_SDG_TREND_THRESHOLDS)
    if method == "sdsn_trend":
        return dict(SDSN_THRESHOLDS)
    if method == "german_strategy":
        return dict(GERMAN_THRESHOLDS)
    return {}


ASSESSMENT_COLUMNS = (
    "indicator",
    "area",
    "method",
    "method_version",
    "as_of",
    "status",
    "score",
    "base_year",
    "base_value",
    "latest_year",
    "latest_value",
    "target_year",
    "target_value",
    "observed_rate",
    "required_rate",
    "ratio",
    "n_points",
    "details",
)


def assessments(catalogue: IndicatorCatalogue, derived: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every catalogue indicator × area × method it lists, assessed at once per method (vectorised).

    The target each series is measured against is its first target after the latest observed year
    (else its last). Methods that need a target are not run for series without one.
    """
    series_parts, target_parts = [], []
    for indicator_id, frame in derived.items():
        indicator = catalogue.get(indicator_id)
        if not indicator.assess:
            continue
        annual = _annual(frame.filter(pl.col("indicator") == indicator_id)).select(
            "indicator", "area", "year", "value", "vintage"
        )
        series_parts.append(annual.with_columns(pl.lit(indicator.direction).alias("direction")))
        targets = targets_frame(indicator, frame)
        if targets.height:
            reduction = [t for t in indicator.targets if isinstance(t, ReductionTarget)]
            target_parts.append(
                targets.select(
                    "indicator",
                    "area",
                    pl.col("year").alias("target_year"),
                    pl.col("value").alias("target"),
                    pl.col("base_year").fill_null(reduction[0].base_year if reduction else 2015),
                )
            )
    if not series_parts:
        return pl.DataFrame(schema=dict.fromkeys(ASSESSMENT_COLUMNS, pl.String))
    series = pl.concat(series_parts)
    latest = series.group_by("indicator", "area").agg(
        pl.col("year").max().alias("latest_year"), pl.col("vintage").max().alias("as_of")
    )
    chosen = latest
    if target_parts:
        targets = pl.concat(target_parts).join(latest, on=["indicator", "area"])
        chosen_target = (
            targets.sort("target_year")
            .group_by("indicator", "area")
            .agg(
                pl.col("target_year", "target", "base_year")
                .filter(pl.col("target_year") > pl.col("latest_year"))
                .first()
                .fill_null(pl.col("target_year", "target", "base_year").last())
            )
        )
        chosen = latest.join(chosen_target, on=["indicator", "area"], how="left")
    else:
        chosen = latest.with_columns(
            pl.lit(None, dtype=pl.Int64).alias("target_year"),
            pl.lit(None, dtype=pl.Float64).alias("target"),
            pl.lit(None, dtype=pl.Int64).alias("base_year"),
        )
    results = []
    methods = {m for i in derived for m in catalogue.get(i).assess}
    for method in sorted(methods):
        wanted = [i for i in derived if method in catalogue.get(i).assess]
        params = chosen.filter(pl.col("indicator").is_in(wanted))
        if method in METHODS_NEEDING_TARGET:
            params = params.filter(pl.col("target").is_not_null())
        if params.height == 0:
            continue
        frame = series.join(
            params.select("indicator", "area", "target", "target_year", "base_year"), on=["indicator", "area"]
        )
        columns = ["indicator", "area", "year", "value", "direction"]
        if method == "eurostat_sdg":
            frame = frame.select(*columns, "target", "target_year")
        elif method == "open_sdg":
            frame = frame.select(*columns, "target", pl.col("target_year").fill_null(HORIZON_YEAR))
        elif method == "sdsn_trend":
            frame = frame.select(*columns, pl.col("target").alias("green_threshold"), "target_year")
        elif method == "german_strategy":
            frame = frame.select(*columns, "target", "target_year")
        else:
            frame = frame.select(*columns, "target", "target_year", "base_year")
        assessed = assess_frame(frame, method, keys=["indicator", "area"])
        results.append(_assessment_records(assessed, method, params))
    return pl.concat(results, how="diagonal_relaxed") if results else pl.DataFrame()


def _assessment_records(assessed: pl.DataFrame, method: str, params: pl.DataFrame) -> pl.DataFrame:
    """Shape assess_frame output into stored records; every other number goes into details (JSON)."""
    merged = assessed.join(params.select("indicator", "area", "as_of"), on=["indicator", "area"], how="left")
    core = set(ASSESSMENT_COLUMNS) | {"method", "version"}
    records = []
    for row in merged.iter_rows(named=True):
        details = {k: v for k, v in row.items() if k not in core and k not in ("indicator", "area")}
        details["thresholds"] = _thresholds(method, row.get("target_value") is not None)
        records.append(
            {
                "indicator": row["indicator"],
                "area": row["area"],
                "method": method,
                "method_version": METHOD_VERSIONS[method],
                "as_of": row["as_of"],
                "status": str(row["status"]),
                "score": row.get("score"),
                "base_year": row.get("base_year"),
                "base_value": row.get("base_value"),
                "latest_year": row.get("latest_year"),
                "latest_value": row.get("latest_value"),
                "target_year": row.get("target_year"),
                "target_value": row.get("target_value"),
                "observed_rate": row.get("observed_rate"),
                "required_rate": row.get("required_rate"),
                "ratio": row.get("ratio"),
                "n_points": row.get("n_points") or 0,
                "details": json.dumps(details, default=str, ensure_ascii=False, sort_keys=True),
            }
        )
    return pl.DataFrame(records, infer_schema_length=None)


def input_hashes(
    engine: Engine, catalogue: IndicatorCatalogue, indicator_ids: Sequence[str]
) -> dict[str, str]:
    """Per indicator: a digest of its catalogue entry, the engine version and its inputs' newest snapshots."""
    with engine.connect() as conn:
        newest = dict(
            conn.execute(
                select(schema.snapshot.c.dataset_id, func.max(schema.snapshot.c.id)).group_by(
                    schema.snapshot.c.dataset_id
                )
            ).all()
        )
    hashes = {}
    for indicator_id in indicator_ids:
        inputs = {d: newest.get(d) for d in sorted(catalogue.datasets_of(indicator_id))}
        entries = [
            catalogue.get(i).model_dump(mode="json") for i in sorted(_closure(catalogue, indicator_id))
        ]
        text = json.dumps([ENGINE_VERSION, entries, inputs], sort_keys=True, ensure_ascii=False)
        hashes[indicator_id] = hashlib.sha256(text.encode()).hexdigest()
    return hashes


def _closure(catalogue: IndicatorCatalogue, indicator_id: str) -> set[str]:
    found = {indicator_id}
    for dependency in catalogue.get(indicator_id).dependencies():
        found |= _closure(catalogue, dependency)
    return found


def derive_for(
    engine: Engine, catalogue: IndicatorCatalogue, wanted: list[str], as_of: date | datetime | None = None
) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    """Load the inputs of the wanted indicators (current or as of a vintage) and derive them."""
    datasets = sorted(set().union(*(catalogue.datasets_of(i) for i in wanted))) if wanted else []
    derived, errors = derive_all(catalogue, load_inputs(engine, datasets, as_of), wanted)
    return {i: f for i, f in derived.items() if i in wanted}, {i: e for i, e in errors.items() if i in wanted}


def compute(
    engine: Engine,
    *,
    datasets: Sequence[str] | None = None,
    force: bool = False,
    today: date | None = None,
    catalogue: IndicatorCatalogue | None = None,
) -> ComputeSummary:
    """Recompute the indicators whose inputs changed (or those the named datasets affect) and store them."""
    catalogue = catalogue or load_indicator_catalogue()
    today = today or date.today()
    candidates = catalogue.affected_by(set(datasets)) if datasets else list(catalogue.indicators)
    hashes = input_hashes(engine, catalogue, candidates)
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(schema.indicator_state.c.indicator_id, schema.indicator_state.c.input_hash)
            ).all()
        )
    summary = ComputeSummary()
    wanted = [i for i in candidates if force or stored.get(i) != hashes[i]]
    summary.unchanged = [i for i in candidates if i not in wanted]
    if not wanted:
        return summary
    derived, errors = derive_for(engine, catalogue, wanted)
    summary.errors = errors
    values = indicator_values(catalogue, derived, today)
    assessed = assessments(catalogue, derived)
    computed_at = now_utc()
    with engine.connect() as conn:
        demo_ids = [
            int(i)
            for i in conn.execute(select(schema.snapshot.c.id).where(schema.snapshot.c.is_demo)).scalars()
        ]
    values = values.with_columns(
        pl.col("snapshot_ids")
        .list.eval(pl.element().is_in(demo_ids))
        .list.any()
        .fill_null(False)
        .alias("is_demo")
    )
    expanded = [e for i in derived for e in catalogue.get(i).expanded_ids()]
    with engine.begin() as conn:
        if expanded:
            conn.execute(
                delete(schema.indicator_value).where(schema.indicator_value.c.indicator_id.in_(expanded))
            )
        stamp = computed_at.strftime(TIMESTAMP_FORMAT)
        bulk_insert(
            conn,
            "indicator_value",
            values.select(
                pl.col("indicator").alias("indicator_id"),
                "area",
                "period",
                "kind",
                "value",
                "lower",
                "upper",
                "unit",
                pl.col("vintage").fill_null(computed_at).dt.strftime(TIMESTAMP_FORMAT).alias("vintage"),
                pl.concat_str(
                    pl.lit("["),
                    pl.col("snapshot_ids").cast(pl.List(pl.String())).list.join(", "),
                    pl.lit("]"),
                ).alias("snapshot_ids"),
                pl.col("is_demo").cast(pl.Int8) if engine.dialect.name == "sqlite" else pl.col("is_demo"),
                pl.lit(stamp).alias("computed_at"),
            ),
        )
        if assessed.height:
            table = schema.assessment
            # replace the assessments of these indicators at these vintages (all areas are recomputed)
            conn.execute(
                delete(table).where(
                    table.c.indicator_id.in_(assessed["indicator"].unique().to_list()),
                    table.c.as_of.in_(assessed["as_of"].unique().to_list()),
                )
            )
            conn.execute(
                insert(table),
                [
                    {
                        **{k: r[k] for k in ASSESSMENT_COLUMNS if k not in ("indicator",)},
                        "indicator_id": r["indicator"],
                        "input_hash": hashes[r["indicator"]],
                        "computed_at": computed_at,
                    }
                    for r in assessed.iter_rows(named=True)
                ],
            )
        state = schema.indicator_state
        conn.execute(delete(state).where(state.c.indicator_id.in_(wanted)))
        conn.execute(
            insert(state),
            [
                {
                    "indicator_id": i,
                    "input_hash": hashes[i],
                    "vintage": derived[i]["vintage"].max() if i in derived else None,
                    "computed_at": computed_at,
                    "error": errors.get(i),
                }
                for i in wanted
            ],
        )
    summary.computed = [i for i in wanted if i in derived]
    summary.values_written = values.height
    summary.assessments_written = assessed.height
    log.info("compute: %s", summary.summary())
    return summary
