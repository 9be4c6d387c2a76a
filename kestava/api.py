"""The public Python API for analysts: the tracker's data as polars DataFrames, on any configured database.

    from kestava import api
    api.indicator_values("ghg_total", area="049")          # observed, target, path, projection, estimate
    api.assessments("ghg_total", area="049")               # every method's latest status and its figures
    api.observations("syke_emissions", area=["049", "091"])
    api.notes("ghg_total", lang="fi")                      # staff notes (Markdown) by period

The functions that read the database take an optional `engine`; by default they open
KESTAVA_DATABASE_URL (or the embedded SQLite file), which must exist: a mistyped URL is an error, not a
new empty database. Computed values come with their unit, vintage, snapshot ids and whether they are
demo data (`provenance` turns snapshot ids into URLs and fetch times); observations carry their
snapshot id, computed values their source flags (`flag_meanings` says what a flags text means).
Assessments' observed_rate and required_rate are in the unit their `rate_unit` column names: % a year
for the compound-rate methods (eurostat_sdg, open_sdg, linear_trajectory_check), the indicator's unit a
year for german_strategy (of a % indicator, percentage points a year), score points a year for sdsn_trend;
the outlook's required_rate is in % a year.
pace_ratio and deviation_pct are the figures the reports and `kestava export` show (the export's unit
pace_ratio is this pace_ratio: a compound-rate ratio, for sdsn_trend a score-pace ratio); method_measure is
each method's own stored ratio, another number for some (assessments says which); score is open_sdg's
(−5…+5) or sdsn_trend's (0–100). Assessments' vintage is the vintage of the data assessed (the export's
vintage of their rows), computed_at when they were made. Value kinds are VALUE_KINDS, as the database
stores them: a value set by a target (compensation_need) is target_derived, an assumed share
(carbon_sink_estimate) assumption.

Times are UTC: every datetime column is UTC-aware. A time argument (as_of, before, after, today) may be
a date, a datetime or ISO text ('2025-06-30', '2025-06-30T12:00', '2025-06-30T15:00+03:00'); one with an
offset or a time zone is converted to UTC, a naive one is read as UTC; a date as a moment (as_of, before,
after) means the end of that day, UTC: everything fetched that day. Areas may be codes, names or
municipality numbers (49). An argument left out (None) selects everything, an empty list nothing (an
empty frame with a full one's columns); an area asked for without values gives a NoValuesWarning saying
why, an unknown one an UnknownCodeError. Most functions live in indicators.query (the report reads them
there too); here they give their times UTC-aware, and indicator_values, outlook, sectors and compare warn
of areas without values (the reason comes from report.export, a layer above the queries); observations is
here, as it adds the report's labels, and so are assessments and assess_at, which add the rates' units
and the shown pace figures (assessments also the provenance of the values assessed: assess_at's come from
data as they stood, so it gives none).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import ParamSpec

import polars as pl
from sqlalchemy import Engine

from common.flags import flag_meanings as flag_meanings
from indicators import query
from indicators.catalogue import load_indicator_catalogue
from indicators.lookup import unknown_code
from indicators.methods.registry import METHODS as METHOD_SPECS
from indicators.query import (
    ESPOO as ESPOO,
)
from indicators.query import (
    LARGE_CITIES as LARGE_CITIES,
)
from indicators.query import (
    VALUE_KINDS as VALUE_KINDS,
)
from indicators.query import (
    Areas,
    _area_codes,
    _area_list,
    _as_list,
    as_date,
    utc_times,
)
from indicators.query import (
    area_names as area_names,
)
from indicators.query import (
    catalogue as catalogue,
)
from indicators.query import (
    connect as connect,
)
from indicators.query import (
    municipalities as municipalities,
)
from indicators.vintage import values_as_of
from ingest.catalogue import load_catalogue
from ingest.licensing import publishable
from ingest.municipalities import MUNICIPALITIES_PATH as MUNICIPALITIES_PATH
from storage import read, schema

# the rates' unit as this API gives them, by the method's stored unit (MethodSpec.rate_unit): compound rates
# are stored as fractions a year and given here in % a year; the others as stored
RATE_COLUMNS = ("observed_rate", "required_rate")
_RATE_UNIT_TEXT = {"compound": "% a year", "score_points": "score points a year"}


_P = ParamSpec("_P")


def _in_utc(function: Callable[_P, pl.DataFrame]) -> Callable[_P, pl.DataFrame]:
    """The query function with its frame's times (stored as naive UTC) given as UTC-aware datetimes."""

    @functools.wraps(function)
    def in_utc(*args: _P.args, **kwargs: _P.kwargs) -> pl.DataFrame:
        return utc_times(function(*args, **kwargs))

    # the query function's docstring says how it is stored; here the times are aware
    in_utc.__doc__ = (function.__doc__ or "").replace("naive UTC", "UTC-aware")
    return in_utc


provenance = _in_utc(query.provenance)
freshness = _in_utc(query.freshness)
status_changes = _in_utc(query.status_changes)
notes = _in_utc(query.notes)
# the API's names for the stored assessment columns: `as_of` is the export's `vintage`; `ratio` is each
# method's own measure, not the pace ratio the reports show (pace_ratio)
_ASSESSMENT_NAMES = {"as_of": "vintage", "ratio": "method_measure"}


class RestrictedDataWarning(UserWarning):
    """Rows of a dataset whose terms allow internal use only were returned (see observations)."""


class NoValuesWarning(UserWarning):
    """An area asked for has no values in the answer; the message says why, as `kestava export` does."""


# what the functions that warn of an area without values add to their docstrings
_WARNS = """

    An area asked for (alone or among several) that has no values in the answer gives a NoValuesWarning
    saying why, in the words of `kestava export` (e.g. the indicator is computed only for other areas); an
    area that is not known at all is an UnknownCodeError. An empty list (of indicators, areas or kinds)
    selects nothing: an empty frame with a full one's columns."""


def _area_codes_of(area: Areas | None, engine: Engine) -> list[str] | None:
    """The codes of the areas asked (codes, names or numbers) among the computed values' areas: AreaCodes,
    which the query they are passed on to does not look up again."""
    return _area_codes(_area_list(area), schema.indicator_value.c.area, engine)


def _warn_of_missing_areas(
    frame: pl.DataFrame,
    indicators: Sequence[str],
    areas: Sequence[str] | None,
    kinds: Sequence[str],
    engine: Engine,
) -> None:
    """A NoValuesWarning for each area asked that has no row in the frame, saying why (report.export's
    why_empty, the reason `kestava export` gives for the same request)."""
    missing = [a for a in dict.fromkeys(areas or []) if a not in set(frame["area"].to_list())]
    if not missing or not indicators:
        return
    from report.export import why_empty  # here, not on import: it brings in altair

    catalogue = load_indicator_catalogue()
    for area in missing:
        warnings.warn(
            why_empty(engine, catalogue, indicators, area=area, kinds=kinds), NoValuesWarning, stacklevel=3
        )


def _documented(function: Callable[..., pl.DataFrame], source: Callable[..., pl.DataFrame]) -> None:
    """The API function documented as the query function it wraps, times aware, with what it warns of."""
    function.__doc__ = (_in_utc(source).__doc__ or "") + _WARNS


def indicator_values(
    indicator: str | Sequence[str] | None = None,
    *,
    area: Areas | None = None,
    kind: str | Sequence[str] | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    engine = engine or connect()
    areas = _area_codes_of(area, engine)
    found = utc_times(query.indicator_values(indicator, area=areas, kind=kind, engine=engine))
    _warn_of_missing_areas(
        found, _as_list("indicator", indicator) or [], areas, _as_list("kind", kind) or (), engine
    )
    return found


def outlook(indicator: str, *, area: Areas | None = None, engine: Engine | None = None) -> pl.DataFrame:
    engine = engine or connect()
    areas = _area_codes_of(area, engine)
    found = utc_times(query.outlook(indicator, area=areas, engine=engine))
    _warn_of_missing_areas(found, [indicator], areas, ("target",), engine)
    return found


def sectors(area: Areas = ESPOO, *, detailed: bool = False, engine: Engine | None = None) -> pl.DataFrame:
    engine = engine or connect()
    areas = _area_codes_of(area, engine)
    found = utc_times(query.sectors(areas or [], detailed=detailed, engine=engine))
    indicator = "ghg_by_subsector" if detailed else "ghg_by_sector"
    _warn_of_missing_areas(found, [indicator], areas, ("observed",), engine)
    return found


def compare(indicator: str, areas: Areas, *, lang: str = "fi", engine: Engine | None = None) -> pl.DataFrame:
    engine = engine or connect()
    codes = _area_codes_of(areas, engine)
    found = utc_times(query.compare(indicator, codes or [], lang=lang, engine=engine))
    _warn_of_missing_areas(found, [indicator], codes, ("observed",), engine)
    return found


for _function, _source in (
    (indicator_values, query.indicator_values),
    (outlook, query.outlook),
    (sectors, query.sectors),
    (compare, query.compare),
):
    _documented(_function, _source)


def _rate_unit(method: str, indicator: str) -> str | None:
    """The unit of an assessment's observed_rate and required_rate as given by this API."""
    spec = METHOD_SPECS.get(method)
    if spec is None:
        return None
    if spec.rate_unit == "indicator_unit":
        unit = load_indicator_catalogue().get(indicator).unit
        # a share's change a year is in percentage points, not the relative "% a year" of compound rates
        return f"{'percentage points' if unit == '%' else unit} a year"
    return _RATE_UNIT_TEXT[spec.rate_unit]


def _shown_rates(frame: pl.DataFrame) -> pl.DataFrame:
    """Assessments with the compound rates in % a year, each row's rate_unit, and the pace ratio and
    deviation (%) the report and the export show (report.data.pace_figures of the stored row)."""
    from report.data import RATE_METHODS, pace_figures  # here, not on import: it brings in altair

    rows = frame.to_dicts()  # the stored rows: pace_figures reads the rates as stored
    figures = [pace_figures(row) for row in rows]
    percent = pl.col("method").is_in(sorted(RATE_METHODS))
    return frame.with_columns(
        *(
            pl.when(percent).then(pl.col(name) * 100).otherwise(pl.col(name)).alias(name)
            for name in RATE_COLUMNS
        ),
        pl.Series(
            "rate_unit",
            [_rate_unit(r["method"], r["indicator"]) for r in rows],
            dtype=pl.String,
        ),
        pl.Series("pace_ratio", [ratio for ratio, _ in figures], dtype=pl.Float64),
        pl.Series("deviation_pct", [deviation for _, deviation in figures], dtype=pl.Float64),
    ).rename(_ASSESSMENT_NAMES)


def _cited(values: pl.DataFrame) -> pl.DataFrame:
    """The unit, snapshot ids, demo flag and newest vintage of values, by indicator and area."""
    return values.group_by("indicator", "area").agg(
        pl.col("unit").first(),
        pl.col("snapshot_ids").explode().drop_nulls().unique().sort(),
        pl.col("is_demo").any(),
        pl.col("vintage").max(),
    )


def _assessed_from(frame: pl.DataFrame, engine: Engine | None) -> pl.DataFrame:
    """Assessments with the provenance of the values each was made from (as `kestava export` cites them):
    the unit, snapshot_ids and is_demo of its indicator's values for its area as they stood at its vintage.

    A row of the stored values' vintage (the newest fetch behind them) cites the stored observed values.
    Compute keeps only the current values, but the observations keep every version with the time it was
    fetched: an older row (assessments(latest=False)) cites the values derived again from the
    observations as they stood at its vintage (indicators.vintage.values_as_of)."""
    columns = pl.Schema({"unit": pl.String(), "snapshot_ids": pl.List(pl.Int64()), "is_demo": pl.Boolean()})
    if frame.height == 0:
        return frame.with_columns(pl.lit(None, dtype=dtype).alias(name) for name, dtype in columns.items())
    engine = engine or connect()
    keys = ["indicator", "area", "vintage"]
    base = pl.col("indicator").str.split(".").list.first()
    bases = sorted(set(frame.select(base).to_series()) & set(load_indicator_catalogue().indicators))
    values = query.indicator_values(
        bases, area=frame["area"].unique().sort().to_list(), kind="observed", engine=engine
    )
    cited = [_cited(values)]
    older = frame.select(keys).unique().join(cited[0], on=keys, how="anti").filter(base.is_in(bases))
    demo = read.snapshots(engine).filter(pl.col("is_demo"))["id"].to_list() if older.height else []
    for (as_of,), wanted in older.group_by("vintage"):
        then = values_as_of(engine, as_of, sorted(set(wanted.select(base).to_series())))
        then = then.join(wanted, on=["indicator", "area"], how="semi").with_columns(
            pl.col("snapshot_ids").list.eval(pl.element().is_in(demo)).list.any().alias("is_demo")
        )
        cited.append(_cited(then).with_columns(pl.lit(as_of, dtype=pl.Datetime("us")).alias("vintage")))
    found = pl.concat([part.select(*keys, *columns).cast(columns) for part in cited])
    return frame.join(found, on=keys, how="left", maintain_order="left")


def assessments(
    indicator: str | Sequence[str] | None = None,
    *,
    area: Areas | None = None,
    latest: bool = True,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Stored assessments (the latest vintage by default; an indicator with a breakdown gives its parts'; an
    empty list of indicators or areas selects none).

    Every input and output as stored, details as JSON. `vintage` (UTC) is the vintage of the data
    assessed: the newest fetch behind the values the assessment was made from (schema.assessment.as_of,
    the export's vintage of its assessment rows); when it was made is `computed_at` (UTC). There is no
    reason column: the reports word each status's reason from the row's figures; each method's warnings
    (a substituted base year, a zero replaced, why the data did not suffice) are `warnings` in `details`,
    beside every intermediate number (thresholds, the number judged: `measure`).

    observed_rate and required_rate are in the unit `rate_unit` names (% a year for the compound-rate
    methods, the indicator's unit a year for german_strategy, in percentage points of a % indicator, score
    points a year for sdsn_trend). `pace_ratio` and `deviation_pct` are what the reports and `kestava
    export` show (its unit `pace_ratio` or `% deviation`): the pace ratio is observed ÷ required compound
    rate for eurostat_sdg, open_sdg (signed by the desired direction) and linear_trajectory_check, the
    score pace ratio for sdsn_trend (observed ÷ required score points a year), none for german_strategy,
    whose `deviation_pct` is the share of the remaining distance the trend would still miss (%).
    `method_measure` is each method's own stored ratio: the pace ratio for eurostat_sdg, open_sdg and
    sdsn_trend, but the share of the straight path's change achieved for linear_trajectory_check and the
    mean change ÷ the required change (1 − deviation) for german_strategy. A row without a target
    (eurostat_sdg, open_sdg judge the trend alone) has neither: the growth in the desired direction they
    judge is `measure` in `details` (observed_rate as a fraction a year, its sign that of the desired
    direction).
    `score` is open_sdg's progress score (−5…+5, sdg-build's get_score) and sdsn_trend's latest
    normalised score (0–100, 100 the achievement threshold); null for the other methods.

    unit, snapshot_ids and is_demo are those of the values assessed as they stood at the row's vintage (as
    the export cites them): for a row of today's values the stored observed values'; for an older row
    (latest=False) the values derived again from the observations held at its vintage, which keep every
    version with its fetch time (a payload loaded later than it was fetched counts from its fetch)."""
    found = _shown_rates(query.assessments(indicator, area=area, latest=latest, engine=engine))
    return utc_times(_assessed_from(found, engine))


def assess_at(
    as_of: date | datetime | str | None,
    indicators: str | Sequence[str] | None = None,
    *,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Assess every indicator (or those named) as the data stood at `as_of` (None: now; a date, a datetime
    or ISO text; naive times are UTC); nothing is stored. vintage, rates, rate_unit, pace_ratio,
    deviation_pct and method_measure as in assessments."""
    return utc_times(_shown_rates(query.assess_at(as_of, indicators, engine=engine)))


def _with_dimensions(frame: pl.DataFrame, declared: Sequence[str]) -> pl.DataFrame:
    """Observations with one text column per dimension, sorted by name after the observation's own
    columns: those of the rows found and those the datasets' catalogue entries declare (ingest.catalogue
    DatasetSpec.dimensions), so that an empty answer has a full one's columns (not the series key)."""
    own = [name for name in read.OBSERVATION_SCHEMA.names() if name != "key"]
    dimensions = sorted((set(frame.columns) - {*own, "key"}) | set(declared))
    return frame.select(
        *own,
        *(pl.col(d) if d in frame.columns else pl.lit(None, dtype=pl.String).alias(d) for d in dimensions),
    )


def observations(
    dataset: str | Sequence[str],
    *,
    area: Areas | None = None,
    as_of: date | datetime | str | None = None,
    lang: str | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """A dataset's observations (current, or as the tracker held them at `as_of`), dimensions as columns.

    With `lang` (fi, sv, en), Syke's short codes get their names beside them (taso_3_name, taso_4_name,
    taso_5_name) from the one label table in report/translations.toml.

    Rows of a restricted dataset whose licence is not declared (CDP-ICLEI without KESTAVA_CDP_LICENCE:
    internal use only) come with a `restricted` column (True) and a RestrictedDataWarning, so that a
    notebook does not publish them unawares; reports and exports never contain them."""
    engine = engine or connect()
    catalogue = load_catalogue()
    known = catalogue.datasets
    wanted = _as_list("dataset", dataset) or []
    for dataset_id in wanted:
        if dataset_id not in known:
            raise unknown_code("dataset", dataset_id, known)
    areas = _area_codes(_area_list(area), schema.series.c.area, engine)
    found = utc_times(read.observations(engine, wanted, area=areas, as_of=as_date("as_of", as_of)))
    frame = _with_dimensions(found, [d for dataset_id in wanted for d in known[dataset_id].dimensions])
    restricted = [d for d in wanted if not publishable(d, catalogue=catalogue)]
    if restricted:
        if frame.height:
            warnings.warn(
                f"{', '.join(restricted)}: its rows may be used internally only (no licence declared in the "
                "setting its catalogue entry names, e.g. KESTAVA_CDP_LICENCE): do not publish them",
                RestrictedDataWarning,
                stacklevel=2,
            )
        frame = frame.with_columns(pl.col("dataset").is_in(restricted).alias("restricted"))
    if lang is None:
        return frame
    from report.i18n import SYKE_LEVELS, check_lang, syke_label

    check_lang(lang)
    for level in SYKE_LEVELS:
        if level in frame.columns:
            codes = frame[level].unique().drop_nulls().to_list()
            names = {code: syke_label(level, code, lang) for code in codes}
            frame = frame.with_columns(
                pl.col(level)
                .replace_strict(names, default=None, return_dtype=pl.String)
                .alias(f"{level}_name")
            )
    return frame
