"""Derives indicator series from observations, vectorised over every area at once (Espoo is a filter)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import polars as pl

from common.errors import DataError
from common.flags import carried_flags
from indicators.catalogue import (
    ChangeDerivation,
    IndexDerivation,
    Indicator,
    IndicatorCatalogue,
    Match,
    RatioDerivation,
    ResidualDerivation,
    ShareOfYearDerivation,
    SumDerivation,
)
from indicators.targets import targets_frame

DERIVED_SCHEMA = pl.Schema(
    {
        "indicator": pl.String(),
        "area": pl.String(),
        "period": pl.String(),
        "value": pl.Float64(),
        "unit": pl.String(),
        "flags": pl.String(),
        "snapshot_ids": pl.List(pl.Int64()),
        "vintage": pl.Datetime("us"),
    }
)


class DerivationError(DataError):
    """Observations that cannot give the indicator (missing dataset, wrong unit, ambiguous filter)."""


def _match(rule: Match) -> pl.Expr:
    condition = pl.lit(True)
    for column, wanted in rule.items():
        if isinstance(wanted, list):
            condition = condition & pl.col(column).is_in(wanted)
        else:  # one value: a plain comparison, cheaper than is_in
            condition = condition & (pl.col(column) == wanted)
    return condition


def _aggregate(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Sum per key; all-missing groups stay missing (null), never 0. Also n, the rows per key.

    Provenance per key: flags (sorted, comma-joined, without common.flags.VALUE_ONLY; skipped when no row
    has a flag), snapshot_ids (sorted, unique; one id per key is the usual case and is taken from
    min/max, the full list is only aggregated for the keys whose rows come from several snapshots) and
    vintage (latest valid_from).
    Only group-by aggregations polars evaluates on its fast path are used for the bulk of the rows.
    """
    has_flags = frame["flag"].null_count() < frame.height
    # Sums must be bit-identical from run to run (else they show up as spurious revisions). The lazy
    # (streaming) engine, and the eager engine's partitioned aggregation, which it picks for simple
    # aggregations when a sample of the keys looks low-cardinality, add floats in a varying order.
    # This set of aggregations is not partitionable (POLARS_VERBOSE=1 says so), so polars runs its
    # default hash aggregation, which adds each group in row order; a test guards it.
    aggregations = (
        pl.col("value").sum().alias("_sum"),
        pl.col("value").count().alias("_count"),
        pl.len().alias("n"),
        pl.col("snapshot_id").min().alias("_lo"),
        pl.col("snapshot_id").max().alias("_hi"),
        pl.col("valid_from").max().alias("vintage"),
    )
    if "breakdown" in keys:
        # one group-by per breakdown part on the other keys: with the part as a third key polars groups
        # on row-encoded keys, about twice as slow for the ~130,000 groups of a sector sum. A part keeps
        # its rows in their order, so each group adds the same values in the same order as before.
        rest = [k for k in keys if k != "breakdown"]
        grouped = pl.concat(
            [
                part.group_by(rest).agg(*aggregations).with_columns(pl.lit(code[0]).alias("breakdown"))
                for code, part in frame.partition_by("breakdown", as_dict=True).items()
            ],
            how="vertical",
        )
    else:
        grouped = frame.group_by(keys).agg(*aggregations)
    if has_flags:
        flags = (
            frame.filter(pl.col("flag").is_not_null())
            .with_columns(carried_flags(pl.col("flag")).alias("flag"))
            .filter(pl.col("flag").is_not_null())
            .group_by(keys)
            .agg(pl.col("flag").unique().sort().str.join(",").alias("flags"))
        )
        grouped = grouped.join(flags, on=keys, how="left")
    else:
        grouped = grouped.with_columns(pl.lit(None, dtype=pl.String).alias("flags"))
    single = pl.concat_list(pl.col("_lo").cast(pl.Int64))
    mixed = grouped.filter(pl.col("_lo") != pl.col("_hi")).select(keys)
    if mixed.height:
        lists = (
            frame.join(mixed, on=keys, how="semi")
            .group_by(keys)
            # cast each id before aggregating: in a group-by context a cast to List applies per element
            .agg(pl.col("snapshot_id").cast(pl.Int64).unique().sort().alias("_ids"))
        )
        grouped = grouped.join(lists, on=keys, how="left")
        snapshot_ids = pl.when(pl.col("_ids").is_not_null()).then(pl.col("_ids")).otherwise(single)
    else:
        snapshot_ids = single
    return grouped.select(
        *keys,
        pl.when(pl.col("_count") > 0).then(pl.col("_sum")).alias("value"),
        "flags",
        snapshot_ids.alias("snapshot_ids"),
        "vintage",
        "n",
    )


def _finish(frame: pl.DataFrame, indicator_id: pl.Expr, unit: str, areas: list[str] | None) -> pl.DataFrame:
    """The stored shape (DERIVED_SCHEMA); rows in no particular order (indicator_values sorts)."""
    result = frame.with_columns(
        indicator_id.alias("indicator"),
        pl.lit(unit).alias("unit"),
        pl.when(pl.col("flags") == "").then(None).otherwise(pl.col("flags")).alias("flags"),
    )
    if areas is not None:
        result = result.filter(pl.col("area").is_in(areas))
    return result.select(list(DERIVED_SCHEMA)).cast(DERIVED_SCHEMA)


def _merge_ids(frame: pl.DataFrame, other: str) -> pl.DataFrame:
    """snapshot_ids becomes the sorted union of snapshot_ids and the other list column (dropped).

    Both lists are sorted and unique already, and usually equal (both inputs from one snapshot):
    those rows keep their list. Two different single ids (inputs from one snapshot each, not the
    same) become the pair in order, in the same pass; only the other rows (usually none) pay for a
    general per-row union. Row order changes when there are such rows.
    """
    ids, others = pl.col("snapshot_ids"), pl.col(other)
    same, single = pl.col("_same"), pl.col("_single")
    marked = frame.with_columns(
        (ids == others).fill_null(False).alias("_same"),
        ((ids.list.len() == 1) & (others.list.len() == 1)).fill_null(False).alias("_single"),
    )
    # a fixed-width array made a list: concat_list of two columns goes through the general list
    # concatenation, about 15 times slower
    pair = pl.concat_arr(
        pl.min_horizontal(ids.list.first(), others.list.first()),
        pl.max_horizontal(ids.list.first(), others.list.first()),
    ).cast(pl.List(pl.Int64))
    general = marked.filter(~same & ~single)
    quick = marked.filter(same | single) if general.height else marked
    parts = [quick.with_columns(pl.when(same).then(ids).otherwise(pair).alias("snapshot_ids"))]
    if general.height:
        # list.eval, not .list.unique().list.sort(): polars' list.sort costs ~10 µs per row
        union = pl.concat_list(ids, others).list.eval(pl.element().unique().sort())
        parts.append(general.with_columns(union.alias("snapshot_ids")))
    return pl.concat(parts, how="vertical").drop(other, "_same", "_single")


def derive_sum(indicator: Indicator, derive: SumDerivation, observations: pl.DataFrame) -> pl.DataFrame:
    """Sum (or select) a dataset's series per area and period, with optional breakdown and region totals."""
    name = f"indicator {indicator.id}"
    if observations.height == 0:
        raise DerivationError(name, f"dataset {derive.dataset}", "observations", "none loaded")
    missing = sorted({c for rule in derive.breakdown for c in rule.match} | set(derive.filter))
    missing = [c for c in missing if c not in observations.columns]
    if missing:
        raise DerivationError(name, missing[0], f"a dimension of {derive.dataset}", f"{observations.columns}")
    wanted = _match(derive.filter)
    keys = ["area", "period"]
    # only the columns the sum needs are kept (a dataset may carry many more dimensions)
    columns: list[str | pl.Expr] = ["area", "period", "value", "flag", "snapshot_id", "valid_from"]
    # the breakdown part as a small integer (its label's position in labels) until the stored ids are
    # made: a chain that yields strings at every step, or a categorical key, costs more on big frames;
    # it is made in the same pass as the filter, from the filtered rows' dimensions
    labels = list(dict.fromkeys([*(rule.key for rule in derive.breakdown), "other"]))
    if derive.breakdown:
        first_rule: pl.Expr = pl.lit(len(labels) - 1, dtype=pl.UInt16)  # "other": no rule matches
        for rule in reversed(derive.breakdown):
            code = pl.lit(labels.index(rule.key), dtype=pl.UInt16)
            first_rule = pl.when(_match(rule.match)).then(code).otherwise(first_rule)
        columns.append(first_rule.alias("breakdown"))
        keys.append("breakdown")
    selected = (
        observations.lazy().filter(wanted & (pl.col("unit") == derive.unit_in)).select(columns).collect()
    )
    if selected.height == 0:
        units = sorted(observations.filter(wanted).get_column("unit").unique().to_list())
        raise DerivationError(
            name, "unit", f"series in {derive.unit_in!r} after the filter", f"units {units}"
        )
    summed = _aggregate(selected, keys)
    if derive.kind == "select":
        counts = summed.filter(pl.col("n") > 1)
        if counts.height:
            first = counts.sort(keys).row(0, named=True)
            raise DerivationError(
                name,
                "filter",
                "exactly one series per area and period",
                f"{first['n']} series for area {first['area']}, period {first['period']}",
            )
    summed = summed.drop("n").with_columns(pl.col("value") * derive.scale)
    for total in derive.totals:
        # members in a fixed order (by area within each key), so a total adds them in the same order
        # whatever order the rows came in: a revision of one row reorders them, and a total that changed
        # in its last bit would be a spurious revision
        members = summed.filter(pl.col("area").is_in(total.of)).sort(keys)
        group = [k for k in keys if k != "area"]
        complete = members.group_by(group).agg(
            pl.col("area").n_unique().alias("n_areas"),
            pl.when(pl.col("value").count() == pl.len()).then(pl.col("value").sum()).alias("value"),
            pl.col("flags").drop_nulls().unique().sort().str.join(",").alias("flags"),
            pl.col("snapshot_ids")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique()
            .sort()
            .alias("snapshot_ids"),
            pl.col("vintage").max().alias("vintage"),
        )
        complete = (
            complete.join(_expected_members(members, len(total.of)), on=group)
            .filter(pl.col("n_areas") == pl.col("n_expected"))
            .drop("n_areas", "n_expected")
        )
        summed = pl.concat([summed, complete.with_columns(pl.lit(total.area).alias("area"))], how="diagonal")
    indicator_id = (
        pl.col("breakdown").replace_strict(
            {code: f"{indicator.id}.{label}" for code, label in enumerate(labels)}, return_dtype=pl.String
        )
        if derive.breakdown
        else pl.lit(indicator.id)
    )
    return _finish(summed, indicator_id, indicator.unit, indicator.areas)


def _expected_members(members: pl.DataFrame, n_members: int) -> pl.DataFrame:
    """Per period (and breakdown part) of a region total, how many member areas must have a row in it.

    Every member must have some row in the period, else the period has no total. A breakdown part counts
    the members that report it in some period: a member that never reports a part (a city with no
    geothermal heating rows at all) adds nothing to that part's total, as it adds nothing to the region's
    whole; one that reports the part in other periods but not in this one leaves this total out."""
    present = members.select("area", "period").unique()
    full = (
        present.group_by("period").agg(pl.len().alias("n")).filter(pl.col("n") == n_members).select("period")
    )
    if "breakdown" not in members.columns:
        return full.with_columns(pl.lit(n_members, dtype=pl.UInt32).alias("n_expected"))
    parts = members.select("area", "breakdown").unique()
    return (
        present.join(full, on="period", how="semi")
        .join(parts, on="area")
        .group_by("period", "breakdown")
        .agg(pl.len().alias("n_expected"))
    )


def derive_ratio(
    indicator: Indicator, derive: RatioDerivation, done: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    """numerator / denominator × scale per area and period; a zero or missing denominator gives null."""
    numerator = done[derive.numerator].select("area", "period", "value", "flags", "snapshot_ids", "vintage")
    denominator = done[derive.denominator].select(
        "area", "period", "value", "flags", "snapshot_ids", "vintage"
    )
    joined = numerator.join(denominator, on=["area", "period"], how="inner", suffix="_d")
    result = joined.select(
        "area",
        "period",
        pl.when(pl.col("value_d").is_not_null() & (pl.col("value_d") != 0))
        .then(pl.col("value") / pl.col("value_d") * derive.scale)
        .alias("value"),
        "snapshot_ids",
        "snapshot_ids_d",
        pl.max_horizontal("vintage", "vintage_d").alias("vintage"),
        pl.concat_str([pl.col("flags"), pl.col("flags_d")], separator=",", ignore_nulls=True).alias("flags"),
    )
    return _finish(
        _merge_ids(result, "snapshot_ids_d"), pl.lit(indicator.id), indicator.unit, indicator.areas
    )


def derive_index(
    indicator: Indicator, derive: IndexDerivation, done: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    """value / value in the base year × 100; areas without a base-year value get no index."""
    source = done[derive.of]
    base = source.filter(pl.col("period") == str(derive.base_year)).select(
        "area", pl.col("value").alias("base"), pl.col("snapshot_ids").alias("base_ids")
    )
    result = source.join(base, on="area", how="inner").select(
        "area",
        "period",
        pl.when(pl.col("base") != 0).then(pl.col("value") / pl.col("base") * 100.0).alias("value"),
        "snapshot_ids",
        "base_ids",
        "vintage",
        "flags",
    )
    return _finish(_merge_ids(result, "base_ids"), pl.lit(indicator.id), indicator.unit, indicator.areas)


def derive_change(
    indicator: Indicator, derive: ChangeDerivation, done: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    """(value / reference − 1) × 100, the reference being the previous year's value or the base year's.

    Only yearly periods; a missing or zero reference gives null (never a guess).
    """
    source = done[derive.of].filter(pl.col("period").str.contains(r"^\d{4}$"))
    source = source.with_columns(pl.col("period").cast(pl.Int64).alias("year"))
    if derive.against == "previous_year":
        reference = source.select(
            "area",
            (pl.col("year") + 1).alias("year"),
            pl.col("value").alias("reference"),
            pl.col("snapshot_ids").alias("reference_ids"),
        )
        joined = source.join(reference, on=["area", "year"], how="inner")
    else:
        reference = source.filter(pl.col("year") == derive.base_year).select(
            "area", pl.col("value").alias("reference"), pl.col("snapshot_ids").alias("reference_ids")
        )
        joined = source.join(reference, on="area", how="inner")
    result = joined.select(
        "area",
        "period",
        pl.when(pl.col("reference") != 0)
        .then((pl.col("value") / pl.col("reference") - 1.0) * 100.0)
        .alias("value"),
        "snapshot_ids",
        "reference_ids",
        "vintage",
        "flags",
    )
    return _finish(_merge_ids(result, "reference_ids"), pl.lit(indicator.id), indicator.unit, indicator.areas)


def derive_residual(
    indicator: Indicator,
    derive: ResidualDerivation,
    done: Mapping[str, pl.DataFrame],
    catalogue: IndicatorCatalogue,
) -> pl.DataFrame:
    """The emissions left when the source indicator's reduction target is met: its target value."""
    source = catalogue.get(derive.of)
    targets = targets_frame(source, done[derive.of]).filter(pl.col("kind") == "reduction_from_base")
    result = targets.select(
        "area",
        pl.col("year").cast(pl.String).alias("period"),
        "value",
        "snapshot_ids",
        "vintage",
        pl.lit(None, dtype=pl.String).alias("flags"),
    )
    return _finish(result, pl.lit(indicator.id), indicator.unit, indicator.areas)


def derive_share_of_year(
    indicator: Indicator, derive: ShareOfYearDerivation, done: Mapping[str, pl.DataFrame]
) -> pl.DataFrame:
    """share × the source indicator's value in one year, dated that year: an assumption (its kind says so),
    not the source's estimate, so without a status flag (a source's "e" would read "Source's estimate")."""
    source = done[derive.of].filter(pl.col("period") == str(derive.year))
    result = source.with_columns(pl.col("value") * derive.share, pl.lit(None, dtype=pl.String).alias("flags"))
    return _finish(result, pl.lit(indicator.id), indicator.unit, indicator.areas)


def _sums_side_by_side(
    pool: ThreadPoolExecutor,
    catalogue: IndicatorCatalogue,
    observations: Mapping[str, pl.DataFrame],
    wanted: list[str],
) -> dict[str, Future[pl.DataFrame]]:
    """The sums the wanted indicators need (they read only observations), started in pool, in the order
    derive_all's walk takes them.

    polars runs much of a sum on one core (the group-by adds each group in row order); two sums side by
    side keep both cores busy. Each sum is computed as it would be alone, so its result is the same.
    """
    needed: dict[str, Indicator] = {}

    def collect(indicator_id: str, trail: frozenset[str]) -> None:
        if indicator_id in needed or indicator_id in trail:
            return  # a cycle is reported by derive_all's own walk
        indicator = catalogue.get(indicator_id)
        if isinstance(indicator.derive, SumDerivation):
            needed[indicator_id] = indicator
        for dependency in indicator.dependencies():
            collect(dependency, trail | {indicator_id})

    for indicator_id in wanted:
        collect(indicator_id, frozenset())
    return {
        indicator_id: pool.submit(
            derive_sum, indicator, derive, observations.get(derive.dataset, pl.DataFrame())
        )
        for indicator_id, indicator in needed.items()
        if isinstance(derive := indicator.derive, SumDerivation)
    }


def derive_all(
    catalogue: IndicatorCatalogue, observations: Mapping[str, pl.DataFrame], wanted: list[str] | None = None
) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    """Derive the wanted catalogue indicators (all when None) and what they depend on.

    Returns (frames by catalogue id, errors by catalogue id); an indicator whose inputs are missing or
    invalid gets an error message instead of a frame, and does not stop the others.
    """
    done: dict[str, pl.DataFrame] = {}
    errors: dict[str, str] = {}
    wanted = wanted if wanted is not None else list(catalogue.indicators)
    sums: dict[str, Future[pl.DataFrame]] = {}

    def visit(indicator_id: str, trail: tuple[str, ...] = ()) -> None:
        if indicator_id in done or indicator_id in errors:
            return
        if indicator_id in trail:
            raise ValueError(f"indicator catalogue: dependency cycle {' → '.join((*trail, indicator_id))}")
        indicator = catalogue.get(indicator_id)
        for dependency in indicator.dependencies():
            visit(dependency, (*trail, indicator_id))
        failed = [d for d in indicator.dependencies() if d in errors]
        if failed:
            errors[indicator_id] = f"indicator {indicator_id}: input indicator {failed[0]} failed"
            return
        derive = indicator.derive
        try:
            if isinstance(derive, SumDerivation):
                done[indicator_id] = sums[indicator_id].result()
            elif isinstance(derive, RatioDerivation):
                done[indicator_id] = derive_ratio(indicator, derive, done)
            elif isinstance(derive, IndexDerivation):
                done[indicator_id] = derive_index(indicator, derive, done)
            elif isinstance(derive, ChangeDerivation):
                done[indicator_id] = derive_change(indicator, derive, done)
            elif isinstance(derive, ResidualDerivation):
                done[indicator_id] = derive_residual(indicator, derive, done, catalogue)
            elif not isinstance(derive, ShareOfYearDerivation):  # reconcile, reconcile_total
                from indicators.reconcile import derive_reconcile

                done[indicator_id] = derive_reconcile(indicator, derive, done)
            else:
                done[indicator_id] = derive_share_of_year(indicator, derive, done)
        except DataError as error:
            errors[indicator_id] = str(error)

    # the pool stays open during the walk: what depends on the first sums is derived while the later
    # ones are still being added
    with ThreadPoolExecutor(max_workers=2) as pool:
        sums.update(_sums_side_by_side(pool, catalogue, observations, wanted))
        for indicator_id in wanted:
            visit(indicator_id)
    return done, errors
