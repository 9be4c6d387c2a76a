"""Chart-ready frames from the tracker's database: one per chart, plus headline, changes and provenance."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

import polars as pl
from sqlalchemy import Engine, func, select

from common.flags import flag_meanings, is_provisional
from common.helsinki import HELSINKI
from indicators import query
from indicators.catalogue import AbsoluteTarget, ReductionTarget, load_indicator_catalogue
from indicators.lookup import UnknownCodeError
from indicators.methods.registry import METHODS as METHOD_SPECS
from indicators.outlook import outlook as target_outlook
from indicators.reconcile import latest_status as latest_reconciliation
from indicators.trajectory import TREND_MAX_POINTS, Direction, required_pace, target_from_base
from indicators.vintage import explain_changes
from ingest.catalogue import load_catalogue
from report.charts import AREA_ALIASES, METHOD_ALIASES, METHODS, STATUS_LEVELS, indicator_label
from report.i18n import (
    NOT_AVAILABLE,
    check_lang,
    format_fraction,
    format_number,
    format_percent,
    format_period,
    format_quantity,
    has,
    shown_decimals,
    source_text,
    t,
)
from report.theme import ChartMeta
from storage import read, schema

__all__ = [
    "CHART_DATASETS",
    "COMPARISON_AREAS",
    "ESPOO",
    "PER_RESIDENT_INDICATOR",
    "PRIMARY_AREAS",
    "Changes",
    "Headline",
    "MissingDataError",
    "absolute_targets",
    "against_target",
    "area_label",
    "assessed_snapshot_ids",
    "assessment_reason",
    "balance_frames",
    "changes",
    "chart_meta",
    "circular_frame",
    "dashboard_frame",
    "dataset_label",
    "dataset_title",
    "display_name",
    "format_value",
    "freshness_frame",
    "headline",
    "latest_by_area",
    "latest_snapshot_ids",
    "loaded_snapshots",
    "local_time",
    "of_areas",
    "of_comparison_areas",
    "per_resident_frame",
    "projection_notes",
    "provenance_frame",
    "reduction_target",
    "sector_frame",
    "shown_decimals",
    "snapshot_ids_of",
    "status_frame",
    "trajectory_inputs",
    "weekly_frame",
]

ESPOO: Final = "049"
# The area an indicator is reported for: Espoo where the indicator has it, else Finland, else the EU.
PRIMARY_AREAS: Final[tuple[str, ...]] = (ESPOO, "FI", "EU27_2020")
# Syke ALas cities compared per resident: the capital region and the other large cities.
COMPARISON_AREAS: Final[tuple[str, ...]] = ("049", "091", "092", "235", "837", "853", "564")
PER_RESIDENT_INDICATOR: Final = "syke_ghg_per_resident"  # the per-resident comparison ranks its values
# The datasets behind each chart of report.charts (for chart_meta when no snapshot ids are at hand).
CHART_DATASETS: Final[Mapping[str, tuple[str, ...]]] = {
    "emissions_trajectory": ("hsy_emissions",),
    "sector_area": ("hsy_emissions",),
    "sector_waterfall": ("hsy_emissions",),
    "per_resident_comparison": ("syke_emissions", "statfin_population"),
    "progress_dashboard": (),  # every dataset behind an assessed indicator
    "circular_economy": ("eurostat_cei_pc031", "eurostat_cei_wm011"),
    "weekly_mover": ("fingrid_emission_factor",),
    "neutrality_balance": ("hsy_emissions",),
    "data_freshness": (),  # every dataset
}
# the methods whose observed and required rates are compound rates a year (the dashboard's "% a year")
RATE_METHODS: Final = frozenset(m for m, spec in METHOD_SPECS.items() if spec.rate_unit == "compound")
# the methods whose own ratio is another measure than observed ÷ required compound rate: the linear path's
# (the share of the straight path's change achieved, a ratio of straight-line slopes) is replaced by the
# ratio of the rates the dashboard shows beside it; the German model's (1 − deviation) is not shown as a
# pace at all, its deviation is (the dashboard's `deviation` column)
_RATE_RATIO_METHODS: Final = frozenset({"linear_trajectory_check"})
_DEVIATION_METHODS: Final = frozenset({"german_strategy"})
_CIRCULAR: Final[Mapping[str, str]] = {
    "municipal_waste_per_capita": "waste_per_resident",
    "recycling_rate": "recycling_rate",
}
_SNAPSHOT_IDS: Final = "snapshot_ids"


class MissingDataError(LookupError):
    """The database holds no values for what a chart or the headline needs (not yet ingested/computed)."""


# ---------------------------------------------------------------------------------------------------------
# labels and formats shared by the report


def local_time(moment: datetime) -> datetime:
    """A naive-UTC database timestamp as naive Europe/Helsinki wall-clock time."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(HELSINKI).replace(tzinfo=None)


def area_label(code: str, lang: str) -> str:
    """An area code ('049', 'FI', 'PKS', 'EU27_2020') as its name in lang; an unknown code as given."""
    key = AREA_ALIASES.get(code, code.lower())
    if has(f"area.{key}"):
        return t(f"area.{key}", lang)
    if code == "PKS":
        return t("area.hsy_region", lang)
    return query.area_names(lang).get(code, code)


def dataset_label(dataset_id: str, lang: str, title: str | None = None) -> str:
    """A dataset's short name in lang; a dataset the translations do not know by its title at source."""
    if has(f"dataset.{dataset_id}"):
        return t(f"dataset.{dataset_id}", lang)
    return title or dataset_id


def dataset_title(dataset_id: str, lang: str, recorded: str | None = None) -> str:
    """A dataset's full title in lang; a dataset the translations do not know by its recorded title."""
    if has(f"dataset_title.{dataset_id}"):
        return t(f"dataset_title.{dataset_id}", lang)
    return recorded or dataset_id


def format_value(value: float | None, unit: str, lang: str, *, signed: bool = False) -> str:
    """A number with its unit in lang ("712 kt CO₂e", "38,5 %"), decimals as shown_decimals gives them."""
    if value is None or math.isnan(value):
        return NOT_AVAILABLE
    return format_quantity(value, unit, lang, shown_decimals(value), signed=signed)


def _rate(rate: float | None, lang: str) -> str:
    """A compound rate (a fraction a year) as "−8,1 %" (the 'a year' is in the sentence)."""
    if rate is None or math.isnan(rate):
        return NOT_AVAILABLE
    return format_percent(rate * 100, lang, 1, signed=True)


def snapshot_ids_of(*frames: pl.DataFrame | None) -> list[int]:
    """Every snapshot id in the `snapshot_ids` list column of the frames, sorted and without repeats."""
    ids: set[int] = set()
    for frame in frames:
        if frame is not None and _SNAPSHOT_IDS in frame.columns and frame.height:
            ids.update(int(i) for i in frame.get_column(_SNAPSHOT_IDS).explode().drop_nulls().to_list())
    return sorted(ids)


# ---------------------------------------------------------------------------------------------------------
# indicator values


def _values(
    engine: Engine,
    indicator: str | Sequence[str],
    area: str | Sequence[str] | None,
    kind: str | Sequence[str],
) -> pl.DataFrame:
    try:
        frame = query.indicator_values(indicator, area=area, kind=kind, engine=engine)
    except UnknownCodeError as error:  # e.g. an area with no values yet (nothing fetched by a past period)
        raise MissingDataError(f"no stored values for the report: {error}") from error
    if frame.height == 0:
        raise MissingDataError(
            f"no stored {kind} values of {indicator} for area {area}; ingest and compute first"
        )
    return frame.filter(pl.col("value").is_not_null())


# a value its source calls preliminary (common.flags), on the frames of the report's charts
_PROVISIONAL = is_provisional(pl.col("flags")).alias("provisional")


def provisional_years(*frames: pl.DataFrame | None) -> list[int]:
    """The years of the frames (with a `provisional` column) that hold a figure the source calls
    provisional, for the charts' titles and alt texts."""
    years = {
        int(year)
        for frame in frames
        if frame is not None and "provisional" in frame.columns
        for year in frame.filter(pl.col("provisional")).get_column("year").unique().to_list()
    }
    return sorted(years)


def _require(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    if frame.height == 0:
        raise MissingDataError(f"no stored values for {what}; ingest and compute first")
    return frame


def trajectory_inputs(
    engine: Engine, area: str = ESPOO, *, indicator: str = "ghg_total", include_estimates: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """(history, projection) for report.charts.emissions_trajectory.

    history: year, value (kt CO2e), estimated (bool), lower, upper (the nowcast's 95 % band; null for
    observed years), snapshot_ids, provisional (bool: the source calls the figure preliminary,
    common.flags) — the observed years, then (with include_estimates) the engine's nowcasts for finished
    years after the latest observation.
    projection: year, value, lower, upper, snapshot_ids for the years after the history (the trend with
    its 95 % band), or None when the engine stored no projection.
    """
    values = _require(
        _values(engine, indicator, area, ["observed", "estimate", "projection"]).filter(
            pl.col("indicator") == indicator, pl.col("year").is_not_null()
        ),
        f"{indicator} in area {area}",
    )
    observed = values.filter(pl.col("kind") == "observed")
    _require(observed, f"observed {indicator} in area {area}")
    no_band = pl.lit(None, dtype=pl.Float64)
    history = observed.select(
        "year",
        "value",
        pl.lit(False).alias("estimated"),
        no_band.alias("lower"),
        no_band.alias("upper"),
        _SNAPSHOT_IDS,
        is_provisional(pl.col("flags")).alias("provisional"),
    )
    last_observed = int(observed.get_column("year").max())  # type: ignore[arg-type]
    if include_estimates:
        estimates = values.filter(pl.col("kind") == "estimate", pl.col("year") > last_observed).select(
            "year",
            "value",
            pl.lit(True).alias("estimated"),
            "lower",
            "upper",
            _SNAPSHOT_IDS,
            pl.lit(False).alias("provisional"),
        )
        history = pl.concat([history, estimates])
    history = history.sort("year")
    last = int(history.get_column("year").max())  # type: ignore[arg-type]
    projection = (
        values.filter(
            pl.col("kind") == "projection",
            pl.col("year") > last,
            pl.col("lower").is_not_null(),
            pl.col("upper").is_not_null(),
        )
        .select("year", "value", "lower", "upper", _SNAPSHOT_IDS)
        .sort("year")
    )
    return history, (projection if projection.height else None)


def sector_frame(engine: Engine, area: str = ESPOO, *, indicator: str = "ghg_by_sector") -> pl.DataFrame:
    """year, sector (key, e.g. 'district_heat'), value (kt CO2e), snapshot_ids, provisional (the source calls
    the figure preliminary) for sector_area/waterfall.

    Every year has every sector: a sector without a value in a year is 0 there (empty snapshot_ids).
    """
    values = _require(
        _values(engine, indicator, area, "observed").filter(pl.col("year").is_not_null()),
        f"{indicator} in area {area}",
    )
    long = values.select(
        "year",
        pl.col("indicator").str.split(".").list.last().alias("sector"),
        "value",
        _SNAPSHOT_IDS,
        _PROVISIONAL,
    )
    grid = long.select("year").unique().join(long.select("sector").unique(), how="cross")
    return (
        grid.join(long, on=["year", "sector"], how="left")
        .with_columns(
            pl.col("value").fill_null(0.0),
            pl.col(_SNAPSHOT_IDS).fill_null(pl.lit([], dtype=pl.List(pl.Int64))),
            pl.col("provisional").fill_null(False),
        )
        .sort("year", "sector")
    )


def per_resident_frame(
    engine: Engine,
    areas: Sequence[str] | None = COMPARISON_AREAS,
    *,
    indicator: str = PER_RESIDENT_INDICATOR,
) -> pl.DataFrame:
    """area (municipality code), year, value (t CO2e per resident), snapshot_ids, provisional for
    per_resident_comparison.

    Syke's ALas emissions (every sector, the same rules for every municipality) divided by the population;
    areas=None gives every area the indicator has.
    """
    values = _values(engine, indicator, list(areas) if areas else None, "observed")
    values = _require(values.filter(pl.col("year").is_not_null()), f"{indicator} for {areas}")
    return values.select("area", "year", "value", _SNAPSHOT_IDS, _PROVISIONAL).sort("area", "year")


def of_comparison_areas(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    """The rows of COMPARISON_AREAS (the report's per-resident comparison) of a frame of every area."""
    return _require(frame.filter(pl.col("area").is_in(COMPARISON_AREAS)), f"{what} for {COMPARISON_AREAS}")


def latest_by_area(frame: pl.DataFrame) -> dict[str, float]:
    """Each area's value in its latest year with one (area, year, value rows, as per_resident_frame's)."""
    present = frame.filter(pl.col("value").is_not_null()).sort("year")
    latest = present.group_by("area", maintain_order=True).last()
    return {str(area): float(value) for area, value in latest.select("area", "value").iter_rows()}


def circular_frame(engine: Engine, areas: Sequence[str] = ("FI", "EU27_2020")) -> pl.DataFrame:
    """indicator ('waste_per_resident' kg, 'recycling_rate' %), area, year, value, snapshot_ids, provisional.

    From Eurostat's municipal waste per capita (cei_pc031) and recycling rate (cei_wm011), for
    report.charts.circular_economy.
    """
    values = _values(engine, list(_CIRCULAR), list(areas), "observed")
    values = _require(values.filter(pl.col("year").is_not_null()), f"circular economy for {areas}")
    return values.select(
        pl.col("indicator").replace_strict(dict(_CIRCULAR)),
        "area",
        "year",
        "value",
        _SNAPSHOT_IDS,
        _PROVISIONAL,
    ).sort("indicator", "area", "year")


def weekly_frame(
    engine: Engine,
    area: str = "FI",
    *,
    indicator: str = "electricity_emission_factor",
    as_of: date | None = None,
) -> pl.DataFrame:
    """year (ISO year), week (1–53), value (gCO2/kWh), flags (the stored source flags: "partial", the
    week is not all in yet, common.flags), snapshot_ids from the weekly periods ("2026-W45").

    With `as_of` (a report period's last day): only the weeks that ended by that day, from snapshots
    fetched by its end (Europe/Helsinki) — what had been published then, not later weeks or fetches.
    """
    values = _values(engine, indicator, area, "observed").filter(
        pl.col("indicator") == indicator, pl.col("period").str.contains(r"^\d{4}-W\d{2}$")
    )
    frame = values.select(
        pl.col("period").str.slice(0, 4).cast(pl.Int64).alias("year"),
        pl.col("period").str.slice(6, 2).cast(pl.Int64).alias("week"),
        "value",
        "flags",
        _SNAPSHOT_IDS,
    )
    if as_of is not None:
        frame = _published_by(engine, frame, as_of).filter(
            pl.struct("year", "week").map_elements(
                lambda r: date.fromisocalendar(r["year"], r["week"], 7) <= as_of, return_dtype=pl.Boolean
            )
        )
    return _require(frame, f"weekly {indicator} in area {area}").sort("year", "week")


def _published_by(engine: Engine, frame: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The rows of `frame` whose every snapshot was fetched by the end of `as_of` (Europe/Helsinki)."""
    end = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), tzinfo=HELSINKI)
    end_utc = end.astimezone(UTC).replace(tzinfo=None)
    snaps = read.snapshots(engine)
    known = set(snaps.filter(pl.col("fetched_at") < end_utc).get_column("id").to_list())
    return frame.filter(
        pl.col(_SNAPSHOT_IDS).map_elements(
            lambda ids: bool(len(ids)) and all(int(i) in known for i in ids), return_dtype=pl.Boolean
        )
    )


def balance_frames(
    engine: Engine,
    area: str = ESPOO,
    *,
    emissions: str = "ghg_total",
    sinks: str = "carbon_sink_estimate",
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(emissions, sinks) for report.charts.neutrality_balance.

    emissions: year, value (kt CO2e), snapshot_ids, provisional — the observed series (it must include the
    base year).
    sinks: year, value (removals in kt CO2e, positive), lower, upper (null when the estimate has no band),
    snapshot_ids — the sinks' own values (of their stored kind: assumption for an assumed share of one
    year's emissions, catalogue Indicator.value_kind) and estimates.
    """
    observed = _values(engine, emissions, area, "observed").filter(pl.col("indicator") == emissions)
    observed = _require(observed.filter(pl.col("year").is_not_null()), f"{emissions} in area {area}")
    own = load_indicator_catalogue().get(sinks).value_kind
    sink = _values(engine, sinks, area, [own, "estimate"]).filter(pl.col("indicator") == sinks)
    sink = _require(sink.filter(pl.col("year").is_not_null()), f"{sinks} in area {area}")
    return (
        observed.select("year", "value", _SNAPSHOT_IDS, _PROVISIONAL).sort("year"),
        sink.select("year", "value", "lower", "upper", _SNAPSHOT_IDS).sort("year"),
    )


# ---------------------------------------------------------------------------------------------------------
# assessments


def _primary_assessments(
    engine: Engine, areas: Sequence[str], indicators: Sequence[str] | None = None
) -> pl.DataFrame:
    """The latest assessments of each indicator for the first area of `areas` it has."""
    frame = query.assessments(list(indicators) if indicators else None, engine=engine)
    if frame.height == 0:
        return frame
    frame = frame.filter(pl.col("area").is_in(list(areas)))
    if frame.height == 0:
        return frame
    rank = pl.col("area").replace_strict({a: i for i, a in enumerate(areas)}, return_dtype=pl.Int64)
    chosen = frame.with_columns(rank.alias("_rank")).group_by("indicator").agg(pl.col("_rank").min())
    return (
        frame.with_columns(rank.alias("_rank"))
        .join(chosen, on=["indicator", "_rank"], how="semi")
        .drop("_rank")
        .sort("indicator", "method")
    )


def display_name(indicator: str, area: str, lang: str) -> str:
    """An indicator's name in lang, with the area in brackets when its figures are not Espoo's
    ("Recycling rate of municipal waste (Finland)"; in a name's own brackets, "Net greenhouse gas emissions
    (national, Finland)"): the report's grid and the site's lists name them so."""
    name = indicator_label(indicator, lang)
    if area == ESPOO:
        return name
    if name.endswith(")"):  # not "(national) (Finland)"
        return f"{name[:-1]}, {area_label(area, lang)})"
    return f"{name} ({area_label(area, lang)})"


def _sdg_target(indicator: str) -> str:
    entry = load_indicator_catalogue().indicators.get(indicator.split(".", 1)[0])
    return entry.sdg.target if entry is not None and entry.sdg is not None else ""


def _unit(indicator: str) -> str:
    entry = load_indicator_catalogue().indicators.get(indicator.split(".", 1)[0])
    return entry.unit if entry is not None else ""


def projection_notes(
    values: pl.DataFrame, indicator: str, area: str, unit: str, german_year: int | None, lang: str
) -> tuple[str, str]:
    """What the trend projection is (the least-squares line through the last observations, as the engine
    fits it) and, for the German model's target year, the trend's value in that year: the German model's
    value for it comes from the mean change of the last five years instead, so one year has two figures,
    and the sentence says why (the site's indicator page and the report's headline both say it). values:
    the indicator's stored values (indicators.query.indicator_values). Empty strings without a projection;
    no German sentence without the trend's value in that year (it is before the latest observation or
    beyond the horizon: no like-for-like figure to compare)."""
    mine = values.filter((pl.col("area") == area) & (pl.col("indicator") == indicator))
    projected = mine.filter(pl.col("kind") == "projection").sort("period")
    observed = mine.filter(
        (pl.col("kind") == "observed") & pl.col("value").is_not_null() & pl.col("value").is_not_nan()
    )
    if projected.height == 0 or observed.height == 0:
        return "", ""
    window = observed.get_column("period").sort().tail(TREND_MAX_POINTS).to_list()
    note = t("site.projection_method", lang, first=window[0], last=window[-1])
    at = (
        projected.filter(pl.col("period") == str(german_year))
        if german_year is not None
        else projected.head(0)
    )
    if at.height == 0:
        return note, ""
    german = t(
        "site.projection_method_german",
        lang,
        year=format_period(str(german_year), lang),
        projected=format_value(at.item(0, "value"), unit, lang),
    )
    return note, german


def against_target(assessment: Mapping[str, Any]) -> bool:
    """Whether an assessment (a row of the assessments) measured progress to a target value; without one
    the methods read the trend's direction only (Open SDG still names its horizon year, 2030)."""
    return assessment.get("target_value") is not None


def dashboard_frame(
    engine: Engine,
    lang: str = "fi",
    *,
    areas: Sequence[str] = PRIMARY_AREAS,
    part: Literal["indicators", "breakdowns"] = "indicators",
) -> pl.DataFrame:
    """One row per indicator and method for report.charts.progress_dashboard, names in lang.

    indicator: the name in lang (with the area in brackets when it is not Espoo), indicator_id, area,
    sdg (SDG target, e.g. '13.2'), method (dashboard key: eurostat, opensdg, sdsn, german, linear),
    status, observed_rate and required_rate (% a year; only for the methods that compare compound rates —
    Eurostat, Open SDG and the linear path), ratio (observed/required pace: for the rate methods the ratio
    of the two rates shown, for SDSN the pace of its normalised score; none for the German model),
    deviation (the German model's deviation, % of the remaining distance; none for the other methods),
    base_year, latest_year, has_target (whether any method assessed the indicator against a target; the
    others read the trend's direction only).
    Each indicator is shown for the first of `areas` it is assessed for. Rows follow the catalogue's
    display order (indicators.catalogue.IndicatorCatalogue.display_key: headline indicators first,
    breakdowns right after their parent), the same in every language. part: the indicators themselves
    (the dashboard and its count), or only their breakdowns ('ghg_by_sector.district_heat': the report
    folds them under the dashboard, so that 25 sector rows never outnumber the indicators).
    """
    check_lang(lang)
    frame = _require(_primary_assessments(engine, areas), "assessments")
    is_breakdown = pl.col("indicator").str.contains(".", literal=True)
    frame = frame.filter(is_breakdown if part == "breakdowns" else ~is_breakdown)
    catalogue = load_indicator_catalogue()
    ordered = sorted(frame.iter_rows(named=True), key=lambda r: catalogue.display_key(r["indicator"]))
    # an indicator no method assessed against a target is assessed by its trend's direction only
    targeted = {str(r["indicator"]) for r in ordered if against_target(r)}
    rows = []
    for r in ordered:
        rate_method = r["method"] in RATE_METHODS
        observed, required = _num(r["observed_rate"]), _num(r["required_rate"])
        ratio, deviation = pace_figures(r)
        rows.append(
            {
                "indicator": display_name(r["indicator"], r["area"], lang),
                "indicator_id": r["indicator"],
                "area": r["area"],
                "sdg": _sdg_target(r["indicator"]),
                "method": METHOD_ALIASES.get(r["method"], r["method"]),
                "status": r["status"],
                "observed_rate": observed * 100 if rate_method and observed is not None else None,
                "required_rate": required * 100 if rate_method and required is not None else None,
                "ratio": ratio,
                "deviation": deviation,
                "base_year": r["base_year"],
                "latest_year": r["latest_year"],
                "has_target": r["indicator"] in targeted,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "indicator": pl.String(),
            "indicator_id": pl.String(),
            "area": pl.String(),
            "sdg": pl.String(),
            "method": pl.String(),
            "status": pl.String(),
            "observed_rate": pl.Float64(),
            "required_rate": pl.Float64(),
            "ratio": pl.Float64(),
            "deviation": pl.Float64(),
            "base_year": pl.Int64(),
            "latest_year": pl.Int64(),
            "has_target": pl.Boolean(),
        },
    )


def assessed_snapshot_ids(engine: Engine, frame: pl.DataFrame) -> list[int]:
    """The snapshots the statuses in `frame` (dashboard_frame's, or any frame with indicator_id and area
    columns) were computed from: those behind the annual observed values of each assessed indicator and
    area, which are the series the methods assessed.

    The indicator engine stores an indicator's values and its assessments in one transaction, and neither
    when its compute fails (it is tried again on the next run): the stored values are always those the
    newest assessments were made from, so a snapshot loaded since and not yet computed is not cited for
    statuses that did not see it. MissingDataError when an assessed series has no stored values."""
    if frame.height == 0:
        return []
    pairs = frame.select("indicator_id", "area").unique()
    iv = schema.indicator_value
    # read as stored, like the assessments: an indicator no longer in the catalogue is cited all the same
    stored = read.query_frame(
        engine,
        select(iv.c.indicator_id, iv.c.area, iv.c.period, iv.c.snapshot_ids).where(
            iv.c.kind == "observed",
            iv.c.value.is_not(None),
            iv.c.indicator_id.in_(pairs.get_column("indicator_id").unique().sort().to_list()),
            iv.c.area.in_(pairs.get_column("area").unique().sort().to_list()),
        ),
    )
    assessed = stored.filter(pl.col("period").str.contains(r"^\d{4}$")).join(
        pairs, on=["indicator_id", "area"], how="semi"
    )
    missing = pairs.join(assessed, on=["indicator_id", "area"], how="anti")
    if missing.height:
        raise MissingDataError(
            f"no stored observed values behind the assessments of {sorted(missing.rows())}"
        )
    return snapshot_ids_of(assessed.with_columns(pl.col(_SNAPSHOT_IDS).str.json_decode(pl.List(pl.Int64()))))


def pace_figures(row: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(pace ratio, deviation in % of the remaining distance) of an assessment row as the dashboard and
    the export state them: the linear path's ratio is that of its compound rates (observed ÷ required),
    the German model has no pace ratio but its deviation, every other method its own ratio."""
    method = row["method"]
    if method in _DEVIATION_METHODS:
        found = _num(_details(row).get("deviation"))
        return None, found * 100 if found is not None else None
    if method in _RATE_RATIO_METHODS:
        observed, required = _num(row["observed_rate"]), _num(row["required_rate"])
        return (observed / required if observed is not None and required else None), None
    return _num(row["ratio"]), None


def _details(row: Mapping[str, Any]) -> dict[str, Any]:
    raw = row.get("details")
    if isinstance(raw, str) and raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not math.isnan(float(value)) else None


def assessment_reason(row: Mapping[str, Any], lang: str) -> str:
    """Why a method gave its status, in lang, from a stored assessment row (indicators.query.assessments:
    rates as stored, `ratio`; not kestava.api's, whose rates are in % and ratio is method_measure)."""
    check_lang(lang)
    method, status = str(row.get("method")), str(row.get("status"))
    unit = _unit(str(row.get("indicator", "")))
    details = _details(row)
    years = {
        "base_year": row.get("base_year") or NOT_AVAILABLE,
        "latest_year": row.get("latest_year") or NOT_AVAILABLE,
        "target_year": row.get("target_year") or NOT_AVAILABLE,
    }

    def value(x: Any) -> str:
        return format_value(_num(x), unit, lang)

    ratio = _num(row.get("ratio"))
    ratio_text = format_fraction(ratio, lang)
    if status in ("insufficient_data", "not_assessed"):
        return t("reason.insufficient", lang, n=row.get("n_points") or 0)
    target = _num(row.get("target_value"))
    if method in ("eurostat_sdg", "open_sdg"):
        observed = _rate(_num(row.get("observed_rate")), lang)
        if target is None:
            return t("reason.trend", lang, observed=observed, **years)
        return t(
            "reason.rates",
            lang,
            observed=observed,
            required=_rate(_num(row.get("required_rate")), lang),
            target=value(target),
            ratio=ratio_text,
            **years,
        )
    if method == "sdsn_trend":
        return t(
            "reason.sdsn",
            lang,
            score_base=format_number(_num(details.get("score_base")), lang),
            score_latest=format_number(_num(details.get("score_latest")), lang),
            ratio=ratio_text,
            target=value(target),
            **years,
        )
    if method == "german_strategy":
        deviation = _num(details.get("deviation"))
        below_zero = _german_below_zero(row, details, unit, lang, years)
        if below_zero is not None:
            return below_zero
        return t(
            "reason.german",
            lang,
            projected=value(details.get("projected_value")),
            target=value(target),
            deviation=format_percent(deviation * 100, lang, 1) if deviation is not None else NOT_AVAILABLE,
            **years,
        )
    if method == "linear_trajectory_check":
        gap = _num(details.get("gap"))
        gap_pct = _num(details.get("gap_pct"))
        key = "reason.linear_above" if gap is not None and gap > 0 else "reason.linear_below"
        return t(
            key,
            lang,
            latest=value(row.get("latest_value")),
            gap=_difference(abs(gap), unit, lang) if gap is not None else NOT_AVAILABLE,
            gap_pct=format_percent(abs(gap_pct), lang, 1) if gap_pct is not None else NOT_AVAILABLE,
            path=value(details.get("path_value")),
            base=value(row.get("base_value")),
            target=value(target),
            **years,
        )
    status_text = t(f"status.{status}", lang) if has(f"status.{status}") else status
    return t("reason.other", lang, status=status_text, **years)


def _difference(amount: float, unit: str, lang: str) -> str:
    """A difference of two values in unit: of two percentages in percentage points ("10.7 percentage
    points", "10,7 %-yksikköä", "10,7 procentenheter"), else as format_value gives a value."""
    if unit == "%":
        return t("unit.percentage_points", lang, value=format_number(amount, lang, shown_decimals(amount)))
    return format_value(amount, unit, lang)


def _german_below_zero(
    row: Mapping[str, Any], details: Mapping[str, Any], unit: str, lang: str, years: Mapping[str, Any]
) -> str | None:
    """The German model's reason when its straight-line projection falls below zero from a value at or
    above zero: a trend that crosses zero is not a value the indicator would take in the target year, so
    the text says when the trend reaches the target and that it would fall below zero before the target
    year, without stating the projected value (or the deviation computed from it). None otherwise."""
    projected = _num(details.get("projected_value"))
    latest = _num(row.get("latest_value"))
    change = _num(row.get("observed_rate"))  # the method's mean change a year, in the indicator's units
    target = _num(row.get("target_value"))
    latest_year = row.get("latest_year")
    if projected is None or latest is None or projected >= 0 or latest < 0 or not change:
        return None
    texts = {
        "change": format_value(change, unit, lang, signed=True),
        "target": format_value(target, unit, lang),
        **years,
    }
    steps = (target - latest) / change if target is not None else -1.0
    if steps >= 0 and isinstance(latest_year, int):
        # the first whole year in which the straight line is at or past the target
        reached = latest_year + math.ceil(steps - 1e-9)
        return t("reason.german_below_zero_reached", lang, year_reached=reached, **texts)
    return t("reason.german_below_zero", lang, **texts)


def status_frame(
    engine: Engine,
    lang: str = "fi",
    *,
    areas: Sequence[str] = PRIMARY_AREAS,
    indicators: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Every indicator's latest status by every method, with the reason in lang (the council's table).

    Columns: indicator_id, indicator (name in lang), area, area_name, method (engine name), method_key
    (dashboard key), method_name, status, status_name, level (achieved/good/moderate/weak/away/none),
    reason, base_year, latest_year, target_year, target_value, as_of. One area per indicator: the first of
    `areas` it is assessed for. Rows in the dashboard's order: the catalogue's display order (headline
    indicators first, breakdowns after their parent), then the methods as the grid's columns.
    """
    check_lang(lang)
    frame = _primary_assessments(engine, areas, indicators)
    catalogue = load_indicator_catalogue()
    method_rank = {method: rank for rank, method in enumerate(METHODS)}

    def order(r: Mapping[str, Any]) -> tuple[Any, ...]:
        key = METHOD_ALIASES.get(r["method"], r["method"])
        return (catalogue.display_key(r["indicator"]), method_rank.get(key, len(method_rank)), r["method"])

    rows = []
    for r in sorted(frame.iter_rows(named=True), key=order):
        key = METHOD_ALIASES.get(r["method"], r["method"])
        status = str(r["status"])
        rows.append(
            {
                "indicator_id": r["indicator"],
                "indicator": indicator_label(r["indicator"], lang),
                "area": r["area"],
                "area_name": area_label(r["area"], lang),
                "method": r["method"],
                "method_key": key,
                "method_name": t(f"method.{key}", lang) if has(f"method.{key}") else r["method"],
                "status": status,
                "status_name": t(f"status.{status}", lang) if has(f"status.{status}") else status,
                "level": STATUS_LEVELS.get(status, "none"),
                "reason": assessment_reason(r, lang),
                "base_year": r["base_year"],
                "latest_year": r["latest_year"],
                "target_year": r["target_year"],
                "target_value": r["target_value"],
                "as_of": r["as_of"],
            }
        )
    schema_ = pl.Schema(
        {
            "indicator_id": pl.String(),
            "indicator": pl.String(),
            "area": pl.String(),
            "area_name": pl.String(),
            "method": pl.String(),
            "method_key": pl.String(),
            "method_name": pl.String(),
            "status": pl.String(),
            "status_name": pl.String(),
            "level": pl.String(),
            "reason": pl.String(),
            "base_year": pl.Int64(),
            "latest_year": pl.Int64(),
            "target_year": pl.Int64(),
            "target_value": pl.Float64(),
            "as_of": pl.Datetime("us"),
        }
    )
    return pl.DataFrame(rows, schema=schema_)


# ---------------------------------------------------------------------------------------------------------
# freshness, snapshots and provenance


def _sources(engine: Engine) -> dict[str, dict[str, str]]:
    """Dataset id → title and its source's publisher, licence and attribution, as stored (else catalogue)."""
    catalogue = load_catalogue()
    out: dict[str, dict[str, str]] = {
        spec.id: {
            "title": spec.title,
            "publisher": catalogue.sources[spec.source].publisher,
            "licence": catalogue.sources[spec.source].licence,
            "attribution": catalogue.sources[spec.source].attribution,
        }
        for spec in catalogue.datasets.values()
    }
    ds, src = schema.dataset, schema.source
    query = select(ds.c.id, ds.c.title, src.c.publisher, src.c.licence, src.c.attribution).join(
        src, src.c.id == ds.c.source_id
    )
    with engine.connect() as conn:
        for dataset_id, title, publisher, licence, attribution in conn.execute(query):
            out[dataset_id] = {
                "title": title,
                "publisher": publisher,
                "licence": licence,
                "attribution": attribution,
            }
    return out


def of_areas(text: str, areas: Sequence[str] | None, lang: str) -> str:
    """A dataset's newest period (as charts.last_period_text writes it) with the areas it is judged on, as
    the site's and the report's freshness tables write it: "31 Dec 2022 (Finland)"."""
    if not areas or text == NOT_AVAILABLE:
        return text
    return f"{text} ({', '.join(area_label(area, lang) for area in areas)})"


def freshness_frame(
    engine: Engine, today: date, lang: str = "fi", *, as_of: datetime | None = None
) -> pl.DataFrame:
    """One row per catalogue dataset for report.charts.data_freshness.

    dataset (short name in lang), dataset_id, title (full title in lang), status (fresh, late, failed or
    never), last_period_end, expected_period_end (dates), areas (the area codes last_period_end is judged
    on: those the indicators use of the dataset, ingest.freshness.judged_areas), last_fetch (last successful
    fetch, Europe/Helsinki wall-clock time), source (attribution in lang), frequency, tracks ("periods":
    the end of the newest period; "releases": last_period_end is the day a release was last seen, not a
    period), last_outcome, last_error. Judged on the data as stored now, or as they stood at as_of (naive
    UTC).
    """
    check_lang(lang)
    fresh = query.freshness(today, as_of=as_of, engine=engine)
    sources = _sources(engine)
    rows = [
        {
            "dataset": dataset_label(r["dataset"], lang, sources.get(r["dataset"], {}).get("title")),
            "dataset_id": r["dataset"],
            "title": dataset_title(
                r["dataset"], lang, sources.get(r["dataset"], {}).get("title", r["title"])
            ),
            "status": r["state"],
            "last_period_end": r["latest_period_end"],
            "areas": r["areas"],
            "expected_period_end": r["expected_period_end"],
            "last_fetch": local_time(r["last_fetch"]) if r["last_fetch"] is not None else None,
            "source": source_text(str(sources.get(r["dataset"], {}).get("attribution", r["source"])), lang),
            "frequency": r["frequency"],
            "tracks": r["tracks"],
            "last_outcome": r["last_outcome"],
            "last_error": r["last_error"],
        }
        for r in fresh.iter_rows(named=True)
    ]
    return pl.DataFrame(
        rows,
        schema={
            "dataset": pl.String(),
            "dataset_id": pl.String(),
            "title": pl.String(),
            "status": pl.String(),
            "last_period_end": pl.Date(),
            "areas": pl.List(pl.String()),
            "expected_period_end": pl.Date(),
            "last_fetch": pl.Datetime("us"),
            "source": pl.String(),
            "frequency": pl.String(),
            "tracks": pl.String(),
            "last_outcome": pl.String(),
            "last_error": pl.String(),
        },
    )


def latest_snapshot_ids(engine: Engine, datasets: Iterable[str] | None) -> list[int]:
    """The newest snapshot of each of the datasets (of every dataset for None), sorted."""
    snap = schema.snapshot
    query = select(func.max(snap.c.id)).group_by(snap.c.dataset_id)
    wanted = list(datasets) if datasets is not None else None
    if wanted is not None:
        query = query.where(snap.c.dataset_id.in_(wanted))
    with engine.connect() as conn:
        return sorted(int(i) for i in conn.execute(query).scalars())


def _snapshot_rows(engine: Engine, snapshot_ids: Sequence[int]) -> list[dict[str, Any]]:
    snap, ds, src = schema.snapshot, schema.dataset, schema.source
    query = (
        select(
            snap.c.id,
            snap.c.dataset_id,
            snap.c.fetched_at,
            snap.c.is_demo,
            ds.c.title,
            src.c.publisher,
            src.c.licence,
            src.c.attribution,
        )
        .join(ds, ds.c.id == snap.c.dataset_id)
        .join(src, src.c.id == ds.c.source_id)
        .where(snap.c.id.in_(list(snapshot_ids)))
        .order_by(snap.c.id)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def chart_meta(
    engine: Engine,
    datasets: Iterable[str] | None = None,
    *,
    snapshot_ids: Iterable[int] | None = None,
) -> ChartMeta:
    """Sources, licence, vintage and demo flag of the snapshots behind a chart.

    With snapshot_ids (e.g. snapshot_ids_of(frame)) exactly those snapshots; otherwise the latest
    snapshot of each of `datasets` (None: of every dataset). sources are the publishers' attributions,
    licence every distinct licence joined by " / ", vintage the newest fetch date (Finnish date), is_demo
    whether any of them is demo data. MissingDataError when there is no such snapshot.
    """
    ids = sorted(set(snapshot_ids)) if snapshot_ids is not None else []
    if not ids:
        ids = latest_snapshot_ids(engine, datasets)
    rows = _snapshot_rows(engine, ids) if ids else []
    if not rows:
        raise MissingDataError(f"no snapshots for datasets {sorted(datasets or [])} / ids {ids}")
    sources = list(dict.fromkeys(str(r["attribution"]).strip() or str(r["publisher"]) for r in rows))
    licences = list(dict.fromkeys(str(r["licence"]).strip() for r in rows if str(r["licence"]).strip()))
    return ChartMeta(
        sources=tuple(sources),
        licence=" / ".join(licences) or NOT_AVAILABLE,
        vintage=max(local_time(r["fetched_at"]) for r in rows).date(),
        is_demo=any(bool(r["is_demo"]) for r in rows),
    )


def provenance_frame(engine: Engine, snapshot_ids: Sequence[int], lang: str | None = None) -> pl.DataFrame:
    """One row per stored payload of the snapshots: snapshot_id, dataset_id, title, publisher, licence,
    url, fetched_at (Europe/Helsinki), sha256, sha256_prefix (12 hex digits), is_demo.

    title, publisher and licence are as recorded, or with lang the translations of them."""

    def shown(text: str, dataset_id: str, *, title: bool = False) -> str:
        if lang is None:
            return text
        return dataset_title(dataset_id, lang, text) if title else source_text(text, lang)

    columns = pl.Schema(
        {
            "snapshot_id": pl.Int64(),
            "dataset_id": pl.String(),
            "title": pl.String(),
            "publisher": pl.String(),
            "licence": pl.String(),
            "url": pl.String(),
            "fetched_at": pl.Datetime("us"),
            "sha256": pl.String(),
            "sha256_prefix": pl.String(),
            "is_demo": pl.Boolean(),
        }
    )
    if not snapshot_ids:
        return pl.DataFrame(schema=columns)
    frame = read.provenance(engine, list(snapshot_ids))
    if frame.height == 0:
        return pl.DataFrame(schema=columns)
    rows = [
        {
            "snapshot_id": int(r["snapshot_id"]),
            "dataset_id": r["dataset_id"],
            "title": shown(str(r["title"]), r["dataset_id"], title=True),
            "publisher": shown(str(r["publisher"]), r["dataset_id"]),
            "licence": shown(str(r["licence"]), r["dataset_id"]),
            "url": r["url"],
            "fetched_at": local_time(r["fetched_at"]),
            "sha256": r["sha256"],
            "sha256_prefix": str(r["sha256"])[:12],
            "is_demo": bool(r["is_demo"]),
        }
        for r in frame.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=columns)


# ---------------------------------------------------------------------------------------------------------
# targets: the catalogue's commitments, read where the charts and the headline need them


def reduction_target(area: str = ESPOO, *, indicator: str = "ghg_total") -> ReductionTarget:
    """The indicator's reduction target for the area, as the indicator catalogue declares it (its first
    one): the base year, the reduction and the target year the headline and the emissions charts state.
    MissingDataError when the catalogue declares none for the area."""
    entry = load_indicator_catalogue().get(indicator)
    for target in entry.targets:
        if isinstance(target, ReductionTarget) and (target.areas is None or area in target.areas):
            return target
    raise MissingDataError(f"{indicator} has no reduction target for area {area}")


def absolute_targets(indicator: str, area: str) -> dict[int, float]:
    """The indicator's absolute targets for the area by year, as the indicator catalogue declares them
    (e.g. the EU's recycling targets, each with its legal source there). MissingDataError without any."""
    entry = load_indicator_catalogue().get(indicator)
    found = {
        x.year: x.value
        for x in entry.targets
        if isinstance(x, AbsoluteTarget) and (x.areas is None or area in x.areas)
    }
    if not found:
        raise MissingDataError(f"{indicator} has no absolute target for area {area}")
    return dict(sorted(found.items()))


# ---------------------------------------------------------------------------------------------------------
# headline and changes


@dataclass(frozen=True)
class Headline:
    """Emissions against the target: the numbers the report opens with (value units: the indicator's)."""

    indicator: str
    area: str
    unit: str
    base_year: int
    base_value: float
    reduction: float
    target_year: int
    target_value: float
    latest_year: int
    latest_value: float
    change_pct: float  # latest against base, %
    gap: float  # latest − target (positive: still to cut)
    gap_pct: float  # gap as % of the latest value
    required_rate: float | None  # compound rate a year from latest to target (fraction; None if undefined)
    required_change: float  # linear change a year from latest to target (negative: a cut)
    snapshot_ids: tuple[int, ...]
    is_demo: bool
    latest_provisional: bool  # the source calls the latest figure preliminary (common.flags)
    # the OLS trend of indicators.outlook.outlook (the same numbers as kestava.api.outlook): the value
    # projected for the target year with its 95 % band, and the year the target is reached at that pace
    projected_value: float | None = None
    projected_lower: float | None = None
    projected_upper: float | None = None
    year_reached: int | None = None


def headline(engine: Engine, area: str = ESPOO, *, indicator: str = "ghg_total") -> Headline:
    """The latest observed emissions against the reduction target of the catalogue, derived by its rule.

    target = value(base_year) × (1 − reduction) from the same stored series (1990: 1 060 kt → 212 kt);
    the required pace runs from the latest observed year to the target year
    (indicators.trajectory.required_pace). MissingDataError without the series or a reduction target.
    """
    entry = load_indicator_catalogue().get(indicator)
    target = reduction_target(area, indicator=indicator)
    observed = _values(engine, indicator, area, "observed").filter(
        pl.col("indicator") == indicator, pl.col("year").is_not_null()
    )
    observed = _require(observed, f"{indicator} in area {area}").sort("year")
    base = observed.filter(pl.col("year") == target.base_year)
    if base.height == 0:
        raise MissingDataError(f"{indicator} in area {area} has no value for base year {target.base_year}")
    base_value = float(base.item(0, "value"))
    latest = observed.row(-1, named=True)
    latest_year, latest_value = int(latest["year"]), float(latest["value"])
    target_value = target_from_base(base_value, target.reduction)
    gap = latest_value - target_value
    years = target.year - latest_year
    pace = required_pace(latest_year, latest_value, target.year, target_value) if years > 0 else None
    projection = _ols_outlook(
        observed, indicator, area, target.year, target_value, entry.direction, entry.value_bounds
    )
    return Headline(
        **projection,
        indicator=indicator,
        area=area,
        unit=entry.unit,
        base_year=target.base_year,
        base_value=base_value,
        reduction=target.reduction,
        target_year=target.year,
        target_value=target_value,
        latest_year=latest_year,
        latest_value=latest_value,
        change_pct=(latest_value / base_value - 1.0) * 100.0,
        gap=gap,
        gap_pct=gap / latest_value * 100.0 if latest_value else math.nan,
        required_rate=pace.compound_rate if pace else None,
        required_change=pace.linear_change if pace else 0.0,
        snapshot_ids=tuple(snapshot_ids_of(observed)),
        is_demo=bool(observed.get_column("is_demo").any()),
        latest_provisional="provisional" in flag_meanings(latest["flags"]),
    )


def _ols_outlook(
    observed: pl.DataFrame,
    indicator: str,
    area: str,
    target_year: int,
    target_value: float,
    direction: Direction,
    bounds: tuple[float | None, float | None],
) -> dict[str, Any]:
    """The OLS row of indicators.outlook.outlook for the headline's series and target (empty if none)."""
    values = pl.concat(
        [
            observed.select(
                pl.lit(indicator).alias("indicator"),
                pl.lit(area).alias("area"),
                pl.lit("observed").alias("kind"),
                pl.col("year").cast(pl.Int64),
                pl.col("value").cast(pl.Float64),
            ),
            pl.DataFrame(
                {
                    "indicator": [indicator],
                    "area": [area],
                    "kind": ["target"],
                    "year": [target_year],
                    "value": [target_value],
                },
                schema={
                    "indicator": pl.String,
                    "area": pl.String,
                    "kind": pl.String,
                    "year": pl.Int64,
                    "value": pl.Float64,
                },
            ),
        ]
    )
    found = target_outlook(values, direction, bounds)
    if found.height == 0 or "projected_value" not in found.columns:
        return {}
    rows = found.filter(pl.col("method") == "ols", pl.col("status") == "ok")
    if rows.height == 0:
        return {}
    r = rows.row(0, named=True)
    return {
        "projected_value": r["projected_value"],
        "projected_lower": r["projected_lower"],
        "projected_upper": r["projected_upper"],
        "year_reached": r["year_reached"],
    }


@dataclass(frozen=True)
class Changes:
    """What changed between `start` and `end` (naive UTC): the report's "what changed" section.

    snapshots: snapshot_id, dataset_id, title, fetched_at (Europe/Helsinki), rows_added, rows_revised
    (values changed), rows_unchanged, rows_withdrawn, rows_confirmed and rows_reflagged (the same value, its
    flag changed: provisional made final, or otherwise), is_demo, first_load (the dataset's first snapshot:
    nothing earlier to compare with, loaded_snapshots). flips: indicator, area, method,
    status_before, status_after, cause (the report areas only). sources: the freshness_frame rows that are
    late, failed or never fetched at the end, with state_before (at the start). failed_runs: job,
    dataset_id, started_at (Europe/Helsinki), outcome, error.
    """

    start: datetime
    end: datetime
    as_of: date  # the (Finnish) date whose freshness `sources` shows: the last day before `end`
    snapshots: pl.DataFrame
    flips: pl.DataFrame
    sources: pl.DataFrame
    failed_runs: pl.DataFrame
    # cross-source checks beyond tolerance now (indicators.reconcile.breaches): warnings, not rejections
    reconciliation: pl.DataFrame | None = None
    reconciliation_checked: int = 0  # how many cross-source checks have a value (0: none could be made)


def loaded_snapshots(engine: Engine, start: datetime, end: datetime | None = None) -> pl.DataFrame:
    """The snapshots fetched in [start, end) (naive UTC; no end: up to now), as storage.read.snapshots
    gives them, with first_load: the dataset's first snapshot, which has no earlier one to compare with
    (every row of it is "added"; a reader is told it is a first load, not shown it as a change)."""
    snaps = read.snapshots(engine)
    if snaps.height == 0:
        return snaps.with_columns(first_load=pl.lit(False))
    snaps = snaps.with_columns(first_load=pl.col("id") == pl.col("id").min().over("dataset_id"))
    within = pl.col("fetched_at") >= start
    if end is not None:
        within &= pl.col("fetched_at") < end
    return snaps.filter(within)


def changes(
    engine: Engine,
    start: datetime,
    end: datetime,
    *,
    lang: str = "fi",
    areas: Sequence[str] = PRIMARY_AREAS,
) -> Changes:
    """New snapshots, revised history, status flips (with their cause) and source problems in [start, end).

    Status flips compare the assessments as the data stood at `start` with those at `end`
    (kestava.api.status_changes), for `areas`; sources compare freshness on the two dates.
    """
    check_lang(lang)
    snaps = loaded_snapshots(engine, start, end)
    titles = {k: v["title"] for k, v in _sources(engine).items()}
    snapshots = pl.DataFrame(
        [
            {
                "snapshot_id": int(r["id"]),
                "dataset_id": r["dataset_id"],
                "title": titles.get(r["dataset_id"], r["dataset_id"]),
                "fetched_at": local_time(r["fetched_at"]),
                "rows_added": int(r["rows_added"]),
                "rows_revised": int(r["rows_revised"]),
                "rows_unchanged": int(r["rows_unchanged"]),
                "rows_withdrawn": int(r["rows_withdrawn"]),
                "rows_confirmed": int(r["rows_confirmed"]),
                "rows_reflagged": int(r["rows_reflagged"]),
                "is_demo": bool(r["is_demo"]),
                "first_load": bool(r["first_load"]),
            }
            for r in snaps.iter_rows(named=True)
        ],
        schema={
            "snapshot_id": pl.Int64(),
            "dataset_id": pl.String(),
            "title": pl.String(),
            "fetched_at": pl.Datetime("us"),
            "rows_added": pl.Int64(),
            "rows_revised": pl.Int64(),
            "rows_unchanged": pl.Int64(),
            "rows_withdrawn": pl.Int64(),
            "rows_confirmed": pl.Int64(),
            "rows_reflagged": pl.Int64(),
            "is_demo": pl.Boolean(),
            "first_load": pl.Boolean(),
        },
    )
    flips = explain_changes(engine, start, end, areas=list(areas))  # the report's areas, codes as given
    flips = flips.select("indicator", "area", "method", "status_before", "status_after", "cause")
    end_day = local_time(end - timedelta(microseconds=1)).date()
    start_day = local_time(start).date()
    now_state = freshness_frame(engine, end_day, lang)
    # the state at the start as the data stood then: what was stored and fetched by that moment (judged on
    # today's data, a source first loaded during the week read "late" at its start, not "never fetched")
    before_state = freshness_frame(engine, start_day, lang, as_of=start)
    before = dict(before_state.select("dataset_id", "status").iter_rows())
    state_before = pl.col("dataset_id").replace_strict(before, default=None, return_dtype=pl.String)
    sources = now_state.filter(pl.col("status").is_in(["late", "failed", "never"])).with_columns(
        state_before.alias("state_before")
    )
    # the period's failed and rejected runs, chosen by the database (it had read the newest 100,000 runs of
    # any outcome and filtered them here: slower with every month, and blind beyond them)
    run_rows = [
        {
            "job": r["job"],
            "dataset_id": r["dataset_id"],
            "started_at": local_time(r["started_at"]),
            "outcome": r["outcome"],
            "error": r["error"],
        }
        for r in read.problem_runs(engine, start, end).iter_rows(named=True)
    ]
    failed_runs = pl.DataFrame(
        run_rows,
        schema={
            "job": pl.String(),
            "dataset_id": pl.String(),
            "started_at": pl.Datetime("us"),
            "outcome": pl.String(),
            "error": pl.String(),
        },
    )
    checks = latest_reconciliation(engine)
    return Changes(
        start,
        end,
        end_day,
        snapshots,
        flips,
        sources,
        failed_runs,
        checks.filter(pl.col("status") == "breach"),
        checks.height,
    )
