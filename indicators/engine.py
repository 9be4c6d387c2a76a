"""The indicator engine: derive indicators, targets, paths, projections and assessments, and store them."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl
from sqlalchemy import Engine, bindparam, delete, func, insert, select, update

from common.flags import normalised_flags
from common.indicator_marks import FAILED_HASH as FAILED_HASH  # re-exported: callers read it here
from common.indicator_marks import WAITING_HASH, waiting_reason
from indicators.catalogue import IndicatorCatalogue, ReductionTarget, load_indicator_catalogue
from indicators.derive import derive_all
from indicators.methods import METHOD_VERSIONS, SeriesError, assess_frame
from indicators.methods.common import HORIZON_YEAR as HORIZON_YEAR  # re-exported: callers read it here
from indicators.methods.registry import METHODS as METHOD_SPECS
from indicators.peers import comparison_indicators
from indicators.targets import targets_frame
from indicators.trajectory import TREND_MAX_POINTS, TREND_MIN_POINTS, t_quantile, with_value_decimals
from storage import read, schema
from storage.jobs import now_utc
from storage.load import TIMESTAMP_FORMAT, bulk_insert
from storage.locks import HeldLock

ENGINE_VERSION = "engine/5"  # 2: observed values carry their sources' status flags; 3: no "neg" in derived
# flags, region totals of a breakdown part add the members that report it, projections cut at bounds; 4: no
# projections nor estimates of a change on the previous year or a difference (Indicator.projected), and a
# breakdown's bounds cut its parts' projections; 5: an assumed share of one year's value (share_of_year)
# carries no "e" flag (it is an assumption, not the source's estimate)
METHODS_NEEDING_TARGET = frozenset(m for m, spec in METHOD_SPECS.items() if spec.needs_target)
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
# what compute stores: VALUE_SCHEMA plus the source status flags behind an observed value (flags)
STORED_VALUE_SCHEMA = pl.Schema({**VALUE_SCHEMA, "flags": pl.String()})


@dataclass
class ComputeSummary:
    """What a compute run did."""

    computed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    # indicators not computed yet, not failed: an input dataset has never been loaded (id → those datasets)
    waiting: dict[str, list[str]] = field(default_factory=dict)
    values_written: int = 0
    assessments_written: int = 0

    def summary(self) -> str:
        waiting = f", {len(self.waiting)} waiting for a first load of their data" if self.waiting else ""
        return (
            f"{len(self.computed)} indicators computed, {len(self.unchanged)} unchanged, "
            f"{len(self.errors)} failed{waiting}; {self.values_written} values, "
            f"{self.assessments_written} assessments"
        )


def load_inputs(
    engine: Engine, datasets: Sequence[str], as_of: date | datetime | None = None
) -> dict[str, pl.DataFrame]:
    """Current (or as-of) observations of each dataset, dimensions expanded: one read per dataset, so
    that each frame has its own dimension columns only (one read of all would give every row the columns
    of every dataset: at 309 municipalities most of compute's memory)."""
    read.expect_observations(engine, datasets)
    found = {dataset: read.observations(engine, dataset, as_of=as_of) for dataset in dict.fromkeys(datasets)}
    return {dataset: frame for dataset, frame in found.items() if frame.height}


def _annual(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(
        pl.col("period").str.contains(r"^\d{4}$"), pl.col("value").is_not_null()
    ).with_columns(pl.col("period").cast(pl.Int64).alias("year"))


def _series(catalogue: IndicatorCatalogue, indicator_id: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Annual values of every stored series of the indicator (its id, or each breakdown part)."""
    return _annual(frame.filter(pl.col("indicator").is_in(catalogue.get(indicator_id).expanded_ids())))


def _numbered(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate series parts with a series number (sid) per (indicator, area), sorted by it.

    The number orders like (indicator, area) and is built from two small dictionaries (indicator
    ids and area codes), so numbering is one linear pass; sorting once makes every series a
    contiguous run of rows, so later group-bys on sid work on slices instead of scattered rows.
    """
    series = pl.concat(parts)
    indicators = pl.Enum(series.get_column("indicator").unique().sort())
    areas = series.get_column("area").unique().sort()
    sid = pl.col("indicator").cast(indicators).to_physical().cast(pl.Int64) * areas.len() + pl.col(
        "area"
    ).cast(pl.Enum(areas)).to_physical().cast(pl.Int64)
    return series.with_columns(sid.alias("sid")).sort("sid").with_columns(pl.col("sid").set_sorted())


def _t_quantiles(df: pl.Series) -> dict[int, float]:
    return {int(d): t_quantile(0.975, int(d)) for d in df.unique().drop_nulls().to_list() if d >= 1}


def trajectories(catalogue: IndicatorCatalogue, derived: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Targets, linear paths and trend projections (with bands) for every annual series, vectorised.

    Every stored series (each breakdown part of an indicator counts as its own series) but those of the
    peer comparison (indicators.peers.comparison_indicators: observed values only) and those that are
    themselves a change on the previous year or a difference (catalogue Indicator.projected) gets a trend
    projection; series with a target (only the catalogue id itself carries targets) also get the
    target, the path and the path from the latest value. Kinds: target (the target value in its year),
    path (the linear path from base to target), path_from_latest (the straight line from the latest
    value to the next target), projection (the OLS trend of the last ≤ 10 values, ≥ 5 needed, to the
    later of 2030 and the last target year of the indicator, with a 95 % prediction band). The numbers
    are those of ``indicators.trajectory`` (``linear_path``, ``path_from_latest``, ``fit_trend``,
    ``project``), computed for all series at once.
    """
    keys = ["indicator", "area"]
    series_parts, target_parts = [], []
    # the peer comparison's indicators get no projections (indicators.peers.comparison_indicators)
    comparison_only = comparison_indicators(catalogue)
    derived = {i: frame for i, frame in derived.items() if i not in comparison_only}
    for indicator_id, frame in derived.items():
        indicator = catalogue.get(indicator_id)
        targets = targets_frame(indicator, frame)
        horizon = max([HORIZON_YEAR, *targets["year"].to_list()])
        if targets.height:
            target_parts.append(targets.with_columns(pl.lit(indicator.unit).alias("unit")))
        series_parts.append(
            _series(catalogue, indicator_id, frame).select(
                *keys,
                "year",
                "value",
                "vintage",
                "snapshot_ids",
                pl.lit(indicator.unit).alias("unit"),
                pl.lit(horizon, dtype=pl.Int64).alias("horizon"),
            )
        )
    columns = list(VALUE_SCHEMA)
    out: list[pl.DataFrame] = []
    nothing = pl.lit(None, dtype=pl.Float64)
    year, value = pl.col("year"), pl.col("value")
    all_targets: pl.DataFrame | None = pl.concat(target_parts) if target_parts else None
    if all_targets is not None:
        targets = all_targets
        out.append(
            targets.select(
                *keys,
                pl.col("year").cast(pl.String).alias("period"),
                pl.lit("target").alias("kind"),
                "value",
                nothing.alias("lower"),
                nothing.alias("upper"),
                "unit",
                "vintage",
                "snapshot_ids",
            )
        )
        reduction = targets.filter(pl.col("kind") == "reduction_from_base")
        out.append(
            _line(
                reduction.select(
                    *keys,
                    pl.col("base_year").alias("from_year"),
                    pl.col("base_value").alias("from_value"),
                    pl.col("year").alias("to_year"),
                    pl.col("value").alias("to_value"),
                    "unit",
                    "vintage",
                    "snapshot_ids",
                ),
                "path",
            )
        )
    if not series_parts:
        return pl.DataFrame(schema=VALUE_SCHEMA) if not out else pl.concat(out).cast(VALUE_SCHEMA)
    # one pass per series: its metadata and its last ≤ TREND_MAX_POINTS non-NaN points, in year order.
    # Grouped per catalogue indicator, and by area alone when the indicator is stored under one id: one
    # text key hashes in about half the time of two
    fitted = value.is_not_nan()
    aggregations = [
        year.max().alias("latest_year"),
        pl.col("vintage").max(),
        pl.col("snapshot_ids").explode().drop_nulls().unique().sort(),
        pl.col("unit").first(),
        pl.col("horizon").first(),
        year.filter(fitted).sort().tail(TREND_MAX_POINTS).alias("xs"),
        value.filter(fitted).sort_by(year.filter(fitted)).tail(TREND_MAX_POINTS).alias("ys"),
    ]
    meta = pl.concat(
        part.group_by(keys).agg(aggregations)
        if len(catalogue.get(indicator_id).expanded_ids()) > 1
        else part.group_by("area")
        .agg(pl.col("indicator").first(), *aggregations)
        .select(*keys, pl.exclude(keys))
        for indicator_id, part in zip(derived, series_parts, strict=True)
    )
    xs, ys = pl.col("xs"), pl.col("ys")
    if all_targets is not None:
        targets = all_targets
        # the straight line from the latest observation to the next target after the latest year
        ahead = (
            targets.select(*keys, pl.col("year").alias("to_year"), pl.col("value").alias("to_value"))
            .join(meta.select(*keys, "latest_year"), on=keys)
            .filter(pl.col("to_year") > pl.col("latest_year"))
            .sort("to_year", maintain_order=True)
            .group_by(keys, maintain_order=True)
            .first()
        )
        start = meta.filter(xs.list.len() > 0).select(
            *keys,
            xs.list.last().alias("from_year"),
            ys.list.last().alias("from_value"),
            "unit",
            "vintage",
            "snapshot_ids",
        )
        out.append(_line(start.join(ahead.drop("latest_year"), on=keys), "path_from_latest"))
    # OLS trend of the window (≥ TREND_MIN_POINTS points): means first, then the centred sums; none of a
    # series that is itself a change on the previous year or a difference (catalogue Indicator.projected)
    unprojected = [
        part for i in derived if not (entry := catalogue.get(i)).projected for part in entry.expanded_ids()
    ]
    fit = meta.filter(
        xs.list.len() >= TREND_MIN_POINTS, ~pl.col("indicator").is_in(unprojected)
    ).with_columns(
        xs.list.len().alias("n"),
        xs.list.mean().alias("x_mean"),
        ys.list.mean().alias("y_mean"),
        xs.list.last().alias("last_year"),
    )
    dx = xs - pl.col("x_mean")
    fit = fit.with_columns(
        (dx * dx).list.sum().alias("sxx"), (dx * (ys - pl.col("y_mean"))).list.sum().alias("sxy")
    ).with_columns((pl.col("sxy") / pl.col("sxx")).alias("slope"))
    residual = ys - (pl.col("y_mean") + pl.col("slope") * dx)
    fit = fit.with_columns((residual * residual).list.sum().alias("rss")).drop("xs", "ys")
    quantiles = _t_quantiles(fit["n"] - 2)
    fit = fit.with_columns(
        (pl.col("rss") / (pl.col("n") - 2)).sqrt().alias("se"),
        (pl.col("n") - 2).replace_strict(quantiles, default=None, return_dtype=pl.Float64).alias("q"),
        pl.int_ranges(pl.col("last_year") + 1, pl.col("horizon") + 1, dtype=pl.Int64).alias("year"),
    )
    distance = pl.col("year") - pl.col("x_mean")
    centre = pl.col("y_mean") + pl.col("slope") * distance
    band = pl.col("q") * (pl.col("se") * (1.0 + 1.0 / pl.col("n") + distance**2 / pl.col("sxx")).sqrt())
    # value and band cut at the quantity's bounds (trajectory.project; catalogue Indicator.value_bounds)
    bounded = {i: e.value_bounds for i, e in catalogue.indicators.items() if e.bounds is not None}
    # a breakdown indicator's bounds hold for each of its parts (ghg_by_sector.transport: ghg_by_sector's)
    owner = pl.col("indicator").str.split(".").list.first()
    least = owner.replace_strict(
        {i: -math.inf if b[0] is None else b[0] for i, b in bounded.items()},
        default=-math.inf,
        return_dtype=pl.Float64,
    )
    greatest = owner.replace_strict(
        {i: math.inf if b[1] is None else b[1] for i, b in bounded.items()},
        default=math.inf,
        return_dtype=pl.Float64,
    )
    # the bounds looked up once per series, before its years are made (not once per projected year)
    projected = (
        fit.with_columns(least.alias("_least"), greatest.alias("_greatest"))
        .explode("year")
        .filter(pl.col("year").is_not_null())
    )
    least, greatest = pl.col("_least"), pl.col("_greatest")
    out.append(
        projected.select(
            *keys,
            pl.col("year").cast(pl.String).alias("period"),
            pl.lit("projection").alias("kind"),
            centre.clip(least, greatest).alias("value"),
            (centre - band).clip(least, greatest).alias("lower"),
            (centre + band).clip(least, greatest).alias("upper"),
            "unit",
            "vintage",
            "snapshot_ids",
        )
    )
    return pl.concat([part.select(columns).cast(VALUE_SCHEMA) for part in out])


def _line(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    """The line (from_year, from_value) → (to_year, to_value), every year inclusive (``linear_path``)."""
    exploded = frame.with_columns(
        pl.int_ranges(pl.col("from_year"), pl.col("to_year") + 1, dtype=pl.Int64).alias("year")
    ).explode("year")
    horizon = pl.col("to_year") - pl.col("from_year")
    fraction = pl.min_horizontal(pl.col("year") - pl.col("from_year"), horizon) / horizon
    return exploded.filter(pl.col("year").is_not_null()).select(
        "indicator",
        "area",
        pl.col("year").cast(pl.String).alias("period"),
        pl.lit(kind).alias("kind"),
        (pl.col("from_value") * (1.0 - fraction) + pl.col("to_value") * fraction).alias("value"),
        pl.lit(None, dtype=pl.Float64).alias("lower"),
        pl.lit(None, dtype=pl.Float64).alias("upper"),
        "unit",
        "vintage",
        "snapshot_ids",
    )


def _normalised(frame: pl.DataFrame) -> pl.DataFrame:
    """The derived frame with its flags sorted and unique (common.flags.normalised_flags), worked out only
    where a combination (a ratio's two inputs' flags) joined several: most frames have none."""
    flags = frame["flags"]
    if not (flags.str.contains(",", literal=True) | (flags == "")).any():
        return frame
    return frame.with_columns(normalised_flags(pl.col("flags")).alias("flags"))


def _observed(catalogue: IndicatorCatalogue, indicator_id: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A derived frame's values as stored values of the indicator's own kind (observed, target_derived…)."""
    return _normalised(frame).select(
        "indicator",
        "area",
        "period",
        pl.lit(catalogue.get(indicator_id).value_kind).alias("kind"),
        "value",
        pl.lit(None, dtype=pl.Float64).alias("lower"),
        pl.lit(None, dtype=pl.Float64).alias("upper"),
        "unit",
        "vintage",
        "snapshot_ids",
        "flags",
    )


def indicator_values(
    catalogue: IndicatorCatalogue, derived: dict[str, pl.DataFrame], today: date
) -> pl.DataFrame:
    """Every stored value: each indicator's own values (kind observed, or target_derived and assumption for
    values no source published: catalogue Indicator.value_kind), then targets, paths, projections, and
    estimates.

    Estimates (nowcasts) are the projection values for years after the latest observation that should
    already be over (up to last year), marked kind=estimate so charts show them differently.
    """

    def observed_values() -> list[pl.DataFrame]:
        return [_observed(catalogue, indicator_id, frame) for indicator_id, frame in derived.items()]

    # the observed values are worked out beside the trajectories (independent; polars runs parts of
    # each on one core); an error of the observed values comes first, as when they were made first
    with ThreadPoolExecutor(max_workers=1) as pool:
        observing = pool.submit(observed_values)
        try:
            paths = trajectories(catalogue, derived)
        finally:
            observed = observing.result()
    estimates = paths.filter(
        pl.col("kind") == "projection", pl.col("period").cast(pl.Int64) <= today.year - 1
    ).with_columns(pl.lit("estimate").alias("kind"))
    no_flags = pl.lit(None, dtype=pl.String).alias("flags")  # computed, not published: no source status
    # unsorted: storage does not need an order, and readers (kestava.api) sort what they return
    return pl.concat(
        [
            *[o.cast(STORED_VALUE_SCHEMA) for o in observed],
            paths.with_columns(no_flags),
            estimates.with_columns(no_flags),
        ]
    )


def _thresholds(method: str, has_target: bool) -> dict[str, float]:
    """The thresholds recorded with an assessment: the method's own (indicators.methods.registry)."""
    return METHOD_SPECS[method].thresholds(has_target)


# the columns of an assessments frame and their types (an empty frame has them too)
ASSESSMENT_SCHEMA = pl.Schema(
    {
        "indicator": pl.String(),
        "area": pl.String(),
        "method": pl.String(),
        "method_version": pl.String(),
        "as_of": pl.Datetime("us"),
        "status": pl.String(),
        "score": pl.Float64(),
        "base_year": pl.Int64(),
        "base_value": pl.Float64(),
        "latest_year": pl.Int64(),
        "latest_value": pl.Float64(),
        "target_year": pl.Int64(),
        "target_value": pl.Float64(),
        "observed_rate": pl.Float64(),
        "required_rate": pl.Float64(),
        "ratio": pl.Float64(),
        "n_points": pl.Int64(),
        "details": pl.String(),
    }
)
ASSESSMENT_COLUMNS = tuple(ASSESSMENT_SCHEMA)


def assessments(catalogue: IndicatorCatalogue, derived: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Every stored series (indicator or breakdown part) × area × listed method, assessed per method at once.

    The target each series is measured against is its first target after the latest observed year
    (else its last); only the catalogue id itself carries targets, so breakdown parts get the trend-only
    variants. Methods that need a target are not run for series without one.
    """
    series_parts, target_parts = [], []
    for indicator_id, frame in derived.items():
        indicator = catalogue.get(indicator_id)
        if not indicator.assess:
            continue
        annual = _series(catalogue, indicator_id, frame).select(
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
        return pl.DataFrame(schema=ASSESSMENT_SCHEMA)
    series = _numbered(series_parts)
    latest = series.group_by("sid").agg(
        pl.col("indicator", "area").first(),
        pl.col("year").max().alias("latest_year"),
        pl.col("vintage").max().alias("as_of"),
    )
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
        chosen = latest.join(chosen_target, on=["indicator", "area"], how="left", maintain_order="left")
    else:
        chosen = latest.with_columns(
            pl.lit(None, dtype=pl.Int64).alias("target_year"),
            pl.lit(None, dtype=pl.Float64).alias("target"),
            pl.lit(None, dtype=pl.Int64).alias("base_year"),
        )
    # every method measures a series against the same chosen target: attach it to the rows once, and
    # the published precision of each value (read once here, not by each method)
    series = (
        with_value_decimals(series.lazy().select(pl.exclude("area", "vintage")), pl.col("value"), "decimals")
        .collect()
        .join(
            chosen.select("sid", "target", "target_year", "base_year"),
            on="sid",
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col("sid").set_sorted())  # the join kept the order
    )

    def assessed(method: str) -> pl.DataFrame | None:
        wanted = [
            e for i in derived if method in catalogue.get(i).assess for e in catalogue.get(i).expanded_ids()
        ]
        included = pl.col("indicator").is_in(wanted)
        spec = METHOD_SPECS[method]
        if spec.needs_target:
            included = included & pl.col("target").is_not_null()
        # a method every assessed indicator lists, needing no target, takes every series: no filter
        everything = not spec.needs_target and all(
            method in catalogue.get(i).assess for i in derived if catalogue.get(i).assess
        )
        params = chosen if everything else chosen.filter(included)
        if params.height == 0:
            return None
        frame = series if everything else series.filter(included).with_columns(pl.col("sid").set_sorted())
        frame = frame.select("sid", "year", "value", "decimals", "direction", *spec.engine_columns())
        return _assessment_records(_assess_series(frame, method, params), method, params)

    # the methods are independent: two side by side keep both cores busy (much of each runs on one);
    # results and a failure's error are taken in method order, as one after another gave them
    methods = {m for i in derived for m in catalogue.get(i).assess}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(assessed, method) for method in sorted(methods)]
        results = [result for future in futures if (result := future.result()) is not None]
    return pl.concat(results, how="diagonal_relaxed") if results else pl.DataFrame()


def _assess_series(frame: pl.DataFrame, method: str, params: pl.DataFrame) -> pl.DataFrame:
    """assess_frame keyed by series number; an error names the series' indicator and area instead."""
    try:
        return assess_frame(frame, method, keys=["sid"])
    except SeriesError as error:
        row = params.filter(pl.col("sid") == error.key["sid"]).row(0, named=True)
        raise SeriesError(error.problem, {"indicator": row["indicator"], "area": row["area"]}) from error


def _assessment_records(assessed: pl.DataFrame, method: str, params: pl.DataFrame) -> pl.DataFrame:
    """Shape assess_frame output into stored records; every other number goes into details (JSON).

    details is a compact JSON object with sorted keys: every assess_frame column that is not a record
    column (dates and enums as text, NaN as null), plus the method's thresholds (the target or the trend
    variant, by whether the series has a target). Built with polars expressions, not per row.
    """
    merged = assessed.join(
        params.select("sid", "indicator", "area", "as_of"), on="sid", how="left", maintain_order="left"
    )
    core = set(ASSESSMENT_COLUMNS) | {"method", "version", "indicator", "area", "sid"}
    extra = sorted(c for c in merged.columns if c not in core)
    has_target = pl.col("target_value").is_not_null() if "target_value" in merged.columns else pl.lit(False)
    encode = {"separators": (",", ":"), "sort_keys": True, "ensure_ascii": False}
    thresholds = (
        pl.when(has_target)
        .then(pl.lit(json.dumps(_thresholds(method, True), **encode)))  # type: ignore[arg-type]
        .otherwise(pl.lit(json.dumps(_thresholds(method, False), **encode)))  # type: ignore[arg-type]
    )
    parts = []
    for names in ([n for n in extra if n < "thresholds"], None, [n for n in extra if n > "thresholds"]):
        if names is None:
            parts.append(pl.lit('"thresholds":') + thresholds)
        elif names:
            columns = [_json_ready(n, merged.schema[n]) for n in names]
            parts.append(pl.struct(columns).struct.json_encode().str.strip_prefix("{").str.strip_suffix("}"))
    details = pl.lit("{") + pl.concat_str(parts, separator=",") + pl.lit("}")

    def value(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name) if name in merged.columns else pl.lit(None, dtype=dtype).alias(name)

    return merged.select(
        "indicator",
        "area",
        pl.lit(method).alias("method"),
        pl.lit(METHOD_VERSIONS[method]).alias("method_version"),
        "as_of",
        pl.col("status").cast(pl.String),
        value("score", pl.Float64()),
        value("base_year", pl.Int64()),
        value("base_value", pl.Float64()),
        value("latest_year", pl.Int64()),
        value("latest_value", pl.Float64()),
        value("target_year", pl.Int64()),
        value("target_value", pl.Float64()),
        value("observed_rate", pl.Float64()),
        value("required_rate", pl.Float64()),
        value("ratio", pl.Float64()),
        value("n_points", pl.Int64()).fill_null(0),
        details.alias("details"),
    )


def _json_ready(name: str, dtype: pl.DataType) -> pl.Expr:
    """A details column as JSON encodes it: dates, times and enums as text, everything else as it is."""
    if dtype.is_temporal() or isinstance(dtype, pl.Enum | pl.Categorical):
        return pl.col(name).cast(pl.String)
    return pl.col(name)


def newest_snapshots(engine: Engine) -> dict[str, int]:
    """Each loaded dataset's newest snapshot id (a dataset never loaded is absent)."""
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(schema.snapshot.c.dataset_id, func.max(schema.snapshot.c.id)).group_by(
                    schema.snapshot.c.dataset_id
                )
            ).all()
        )


def input_hashes(
    newest: Mapping[str, int], catalogue: IndicatorCatalogue, indicator_ids: Sequence[str]
) -> dict[str, str]:
    """Per indicator: a digest of its catalogue entry, the engine version and its inputs' newest snapshots
    (newest: each loaded dataset's, newest_snapshots)."""
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


def failure_reason(catalogue: IndicatorCatalogue, indicator_id: str, step: str, error: Exception) -> str:
    """One line for an indicator that could not be computed: the indicator, its datasets, the step, why."""
    try:
        datasets = ", ".join(sorted(catalogue.datasets_of(indicator_id))) or "no dataset"
    except KeyError:
        datasets = "unknown datasets"
    text = " ".join(str(error).split())
    if len(text) > 300:
        text = text[:299] + "…"
    return f"indicator {indicator_id} (datasets {datasets}): {step}: {type(error).__name__}: {text}"


def derive_for(
    engine: Engine, catalogue: IndicatorCatalogue, wanted: list[str], as_of: date | datetime | None = None
) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    """Load the inputs of the wanted indicators (current or as of a vintage) and derive them.

    derive_all turns bad data (DataError) into an error per indicator; any other exception stops it,
    so then each wanted indicator is derived on its own: the one that raised gets the exception as its
    error (naming its datasets) and the others are derived as usual.
    """
    datasets = sorted(set().union(*(catalogue.datasets_of(i) for i in wanted))) if wanted else []
    inputs = load_inputs(engine, datasets, as_of)
    try:
        derived, errors = derive_all(catalogue, inputs, wanted)
    except Exception as error:
        log.warning("derive: %s: %s; deriving each indicator on its own", type(error).__name__, error)
        derived, errors = {}, {}
        for indicator_id in wanted:
            if indicator_id in derived or indicator_id in errors:
                continue
            try:
                one, failed = derive_all(catalogue, inputs, [indicator_id])
            except Exception as alone:
                errors[indicator_id] = failure_reason(catalogue, indicator_id, "derive", alone)
                continue
            derived.update(one)
            errors.update(failed)
    return {i: f for i, f in derived.items() if i in wanted}, {i: e for i, e in errors.items() if i in wanted}


def isolated(
    catalogue: IndicatorCatalogue,
    step: str,
    run: Callable[[dict[str, pl.DataFrame]], pl.DataFrame],
    derived: dict[str, pl.DataFrame],
    errors: dict[str, str],
) -> pl.DataFrame:
    """run over every derived indicator at once; when it raises, over each indicator on its own.

    Each indicator whose run raises gets the exception as its error in errors (naming its datasets and
    the step) and is left out of the result, so one indicator's failure does not stop the others.
    """
    try:
        return run(derived)
    except Exception as error:
        log.warning("%s: %s: %s; computing each indicator on its own", step, type(error).__name__, error)
    parts = []
    for indicator_id, frame in derived.items():
        try:
            parts.append(run({indicator_id: frame}))
        except Exception as error:
            errors[indicator_id] = failure_reason(catalogue, indicator_id, step, error)
    parts = [part for part in parts if part.height]  # an empty part may carry placeholder dtypes
    return pl.concat(parts, how="diagonal_relaxed") if parts else run({})


def waiting_for_data(
    catalogue: IndicatorCatalogue, indicator_ids: Sequence[str], loaded: set[str]
) -> dict[str, list[str]]:
    """The indicators one of whose input datasets (directly or through other indicators) has never been
    loaded, with those datasets: not computable yet, which is no failure (e.g. a fresh start, before the
    first ingest of every dataset has run)."""
    missing = {i: sorted(catalogue.datasets_of(i) - loaded) for i in indicator_ids}
    return {i: datasets for i, datasets in missing.items() if datasets}


def record_waiting(
    engine: Engine, waiting: Mapping[str, list[str]], records: Mapping[str, tuple[str, str | None]]
) -> None:
    """Record the waiting indicators as waiting (WAITING_HASH, the datasets never loaded) where their record
    says failed (or waiting for other datasets): a failure an older compute recorded for want of those
    datasets is no failure now. An indicator with no record, or with values, is left as it is."""
    rows = [
        {"id": i, "why": waiting_reason(datasets)}
        for i, datasets in sorted(waiting.items())
        if i in records
        and records[i][0] in (FAILED_HASH, WAITING_HASH)
        and records[i] != (WAITING_HASH, waiting_reason(datasets))
    ]
    if not rows:
        return
    state = schema.indicator_state
    with engine.begin() as conn:  # (only a record still failed or waiting: another compute may have run)
        conn.execute(
            update(state)
            .where(
                state.c.indicator_id == bindparam("id"), state.c.input_hash.in_((FAILED_HASH, WAITING_HASH))
            )
            .values(input_hash=WAITING_HASH, error=bindparam("why"), computed_at=now_utc()),
            rows,
        )


PARAMETERS_PER_STATEMENT = 900  # under SQLite's oldest limit of bound parameters per statement (999)


def _areas_by_series_vintage(assessed: pl.DataFrame) -> list[tuple[tuple[str, datetime], list[str]]]:
    """The areas assessed now per (indicator, vintage assessed): the rows each compute replaces."""
    grouped = (
        assessed.select("indicator", "as_of", "area")
        .unique()
        .group_by("indicator", "as_of")
        .agg(pl.col("area").sort())
        .sort("indicator", "as_of")
    )
    return [((r["indicator"], r["as_of"]), r["area"]) for r in grouped.iter_rows(named=True)]


def compute(
    engine: Engine,
    *,
    datasets: Sequence[str] | None = None,
    force: bool = False,
    today: date | None = None,
    catalogue: IndicatorCatalogue | None = None,
    lock: HeldLock | None = None,
) -> ComputeSummary:
    """Recompute the indicators whose inputs changed (or those the named datasets affect) and store them.

    lock: the `compute` job lock the caller holds (storage.locks.job_lock); it is checked in the writing
    transaction right before its commit, so that a run that lost it (LockLostError) rolls back instead of
    writing over another compute's values."""
    catalogue = catalogue or load_indicator_catalogue()
    today = today or date.today()
    state = schema.indicator_state
    with engine.connect() as conn:
        records = {
            i: (input_hash, error)
            for i, input_hash, error in conn.execute(
                select(state.c.indicator_id, state.c.input_hash, state.c.error)
            )
        }
    stored = {i: input_hash for i, (input_hash, _) in records.items()}
    candidates = catalogue.affected_by(set(datasets)) if datasets else list(catalogue.indicators)
    affected = set(candidates)
    # an indicator whose last compute failed is tried again by every compute, whatever changed (so that
    # a compute without errors means that none is failing: the scheduler's all-clear)
    candidates += [i for i in catalogue.indicators if stored.get(i) == FAILED_HASH and i not in affected]
    newest = newest_snapshots(engine)
    summary = ComputeSummary(waiting=waiting_for_data(catalogue, candidates, set(newest)))
    if summary.waiting:  # computed once those datasets are loaded (their ingest makes them pending)
        log.info(
            "compute: %d indicator(s) wait for a first load of their data: %s",
            len(summary.waiting),
            "; ".join(f"{i} ({', '.join(d)})" for i, d in sorted(summary.waiting.items())),
        )
        candidates = [i for i in candidates if i not in summary.waiting]
        record_waiting(engine, summary.waiting, records)
    hashes = input_hashes(newest, catalogue, candidates)
    wanted = [i for i in candidates if force or stored.get(i) != hashes[i]]
    summary.unchanged = [i for i in candidates if i not in wanted]
    if not wanted:
        return summary
    derived, errors = derive_for(engine, catalogue, wanted)
    summary.errors = errors
    values = isolated(catalogue, "values", lambda d: indicator_values(catalogue, d, today), derived, errors)
    assessed = isolated(catalogue, "assessments", lambda d: assessments(catalogue, d), derived, errors)
    failed = [i for i in derived if i in errors]
    if failed:  # nothing is stored for an indicator one of whose steps failed
        derived = {i: f for i, f in derived.items() if i not in errors}
        kept = [e for i in derived for e in catalogue.get(i).expanded_ids()]
        values = values.filter(pl.col("indicator").is_in(kept))
        if assessed.height:
            assessed = assessed.filter(pl.col("indicator").is_in(kept))
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
    owner = {e: i for i in derived for e in catalogue.get(i).expanded_ids()}  # stored id → catalogue id
    expanded = list(owner)
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
                "flags",
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
            # replace each series' assessments at the vintage assessed now, and only those: its earlier
            # vintages are its history (`assessments(latest=False)`, status changes), and another area's
            # row at this vintage is not this series'. (Deleting every row of these indicators at any of
            # these vintages had erased a revised area's history whenever an unrevised area kept the
            # vintage it had before.)
            for (indicator_id, as_of), areas in _areas_by_series_vintage(assessed):
                for start in range(0, len(areas), PARAMETERS_PER_STATEMENT):
                    chunk = areas[start : start + PARAMETERS_PER_STATEMENT]
                    conn.execute(
                        delete(table).where(
                            table.c.indicator_id == indicator_id,
                            table.c.as_of == as_of,
                            table.c.area.in_(chunk),
                        )
                    )
            conn.execute(
                insert(table),
                [
                    {
                        **{k: r[k] for k in ASSESSMENT_COLUMNS if k not in ("indicator",)},
                        "indicator_id": r["indicator"],
                        "input_hash": hashes[owner[r["indicator"]]],
                        "computed_at": computed_at,
                    }
                    for r in assessed.iter_rows(named=True)
                ],
            )
        conn.execute(delete(state).where(state.c.indicator_id.in_(wanted)))
        conn.execute(
            insert(state),
            [
                {
                    "indicator_id": i,
                    # a failed indicator is tried again on the next run (FAILED_HASH matches no inputs)
                    "input_hash": FAILED_HASH if i in errors else hashes[i],
                    "vintage": derived[i]["vintage"].max() if i in derived else None,
                    "computed_at": computed_at,
                    "error": errors.get(i),
                }
                for i in wanted
            ],
        )
        if lock is not None:
            lock.check(conn)  # last: a lock lost meanwhile rolls everything back
    summary.computed = [i for i in wanted if i in derived]
    summary.values_written = values.height
    summary.assessments_written = assessed.height
    log.info("compute: %s", summary.summary())
    return summary
