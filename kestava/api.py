"""The public Python API for analysts: the tracker's data as polars DataFrames, on any configured database.

    from kestava import api
    api.indicator_values("ghg_total", area="049")          # observed, target, path, projection, estimate
    api.assessments("ghg_total", area="049")               # every method's latest status and reasons
    api.observations("syke_emissions", area=["049", "091"])
    api.notes("ghg_total", lang="fi")                      # staff notes (Markdown) by period

The functions that read the database take an optional `engine`; by default they open
KESTAVA_DATABASE_URL (or the embedded SQLite file), which must exist: a mistyped URL is an error, not a
new empty database. Computed values come with their unit, vintage, snapshot ids and whether they are
demo data (`provenance` turns snapshot ids into URLs and fetch times); observations carry their
snapshot id, computed values their source flags (`flag_meanings` says what a flags text means).
Assessments' observed_rate and required_rate are in the unit their `rate_unit` column names: % a year
for the compound-rate methods (eurostat_sdg, open_sdg, linear_trajectory_check), the indicator's unit a
year for german_strategy, score points a year for sdsn_trend; the outlook's required_rate is in % a year.
pace_ratio and deviation_pct are the figures the reports and `kestava export` show. Dates may be given
as ISO text ('2025-06-30'), areas as codes, names or municipality numbers (49). Most functions live in
indicators.query (the report reads them there too); observations is here, as it adds the report's
labels, and so are assessments and assess_at, which add the rates' units and the shown pace figures.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import date, datetime

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
    MUNICIPALITIES_PATH as MUNICIPALITIES_PATH,
)
from indicators.query import (
    Areas,
    _area_codes,
    _area_list,
    _as_list,
    as_date,
)
from indicators.query import (
    area_names as area_names,
)
from indicators.query import (
    catalogue as catalogue,
)
from indicators.query import (
    compare as compare,
)
from indicators.query import (
    connect as connect,
)
from indicators.query import (
    freshness as freshness,
)
from indicators.query import (
    indicator_values as indicator_values,
)
from indicators.query import (
    municipalities as municipalities,
)
from indicators.query import (
    notes as notes,
)
from indicators.query import (
    outlook as outlook,
)
from indicators.query import (
    provenance as provenance,
)
from indicators.query import (
    sectors as sectors,
)
from indicators.query import (
    status_changes as status_changes,
)
from ingest.catalogue import load_catalogue
from ingest.licensing import publishable
from storage import read, schema

# the rates' unit as this API gives them, by the method's stored unit (MethodSpec.rate_unit): compound rates
# are stored as fractions a year and given here in % a year; the others as stored
RATE_COLUMNS = ("observed_rate", "required_rate")
_RATE_UNIT_TEXT = {"compound": "% a year", "score_points": "score points a year"}


class RestrictedDataWarning(UserWarning):
    """Rows of a dataset whose terms allow internal use only were returned (see observations)."""


def _rate_unit(method: str, indicator: str) -> str | None:
    """The unit of an assessment's observed_rate and required_rate as given by this API."""
    spec = METHOD_SPECS.get(method)
    if spec is None:
        return None
    if spec.rate_unit == "indicator_unit":
        return f"{load_indicator_catalogue().get(indicator).unit} a year"
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
    )


def assessments(
    indicator: str | Sequence[str] | None = None,
    *,
    area: Areas | None = None,
    latest: bool = True,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Stored assessments (the latest vintage by default; an indicator with a breakdown gives its parts').

    Every input and output (details as JSON); observed_rate and required_rate in the unit `rate_unit`
    names (% a year for the compound-rate methods, the indicator's unit a year for german_strategy, score
    points a year for sdsn_trend). `ratio` is each method's own stored measure (observed ÷ required pace;
    the linear path's is the share of the straight path's change achieved, the German model's 1 −
    deviation); `pace_ratio` and `deviation_pct` are what the reports and `kestava export` show: the pace
    ratio (the linear path's of its compound rates, none for the German model) and the German model's
    deviation in % of the remaining distance."""
    return _shown_rates(query.assessments(indicator, area=area, latest=latest, engine=engine))


def assess_at(
    as_of: date | datetime | str | None,
    indicators: str | Sequence[str] | None = None,
    *,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Assess every indicator (or those named) as the data stood at `as_of` (None: now; a date, a datetime
    or ISO text); nothing is stored. Rates, rate_unit, pace_ratio and deviation_pct as in assessments."""
    return _shown_rates(query.assess_at(as_of, indicators, engine=engine))


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
    wanted = _as_list(dataset) or []
    for dataset_id in wanted:
        if dataset_id not in known:
            raise unknown_code("dataset", dataset_id, known)
    areas = _area_codes(_area_list(area), schema.series.c.area, engine)
    frame = read.observations(engine, dataset, area=areas, as_of=as_date("as_of", as_of))
    restricted = [d for d in wanted if not publishable(d, catalogue=catalogue)]
    if restricted and frame.height:
        warnings.warn(
            f"{', '.join(restricted)}: its rows may be used internally only (no licence declared in the "
            "setting its catalogue entry names, e.g. KESTAVA_CDP_LICENCE): do not publish them",
            RestrictedDataWarning,
            stacklevel=2,
        )
        mark = pl.col("dataset").is_in(restricted) if "dataset" in frame.columns else pl.lit(True)
        frame = frame.with_columns(mark.alias("restricted"))
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
