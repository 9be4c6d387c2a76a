"""The API's ids of a report chart's rows (indicator, area code, period, kind, unit; or the assessment's
indicator, area and method; or the dataset) for its downloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

import polars as pl

from indicators.catalogue import load_indicator_catalogue
from report.charts.common import AREA_ALIASES, METHOD_ALIASES
from report.data import ESPOO
from report.peers import PEER_CHARTS
from report.reconcile_chart import INDICATOR as RECONCILED

# the columns a chart's CSV and XLSX begin with: the values of kestava.api's (and `kestava export`'s)
# columns indicator, area, period, kind and unit, each headed "<column>_id" in every language (a script
# reads the fi, sv and en files alike; "area" beside the chart's "Area" would be one header to Excel, which
# ignores case), so that a report CSV joins an API frame on indicator, area and period
API_COLUMNS: Final[tuple[str, ...]] = ("indicator", "area", "period", "kind", "unit")
ID_COLUMNS: Final[tuple[str, ...]] = tuple(f"{column}_id" for column in API_COLUMNS)
# the chart keys these replace in a download (the others, e.g. status_key, stay with their own headers)
REPLACED_KEYS: Final[frozenset[str]] = frozenset({"area_key", "sector_key", "indicator_key", "kind_key"})
# the progress grid's rows are assessments: api.assessments' indicator, area and method (its status is the
# grid's status_key); the data freshness's rows are datasets: api.freshness' dataset (its state the
# status_key)
ASSESSMENT_ID_COLUMNS: Final[tuple[str, ...]] = ("indicator_id", "area_id", "method_id")
DATASET_ID_COLUMNS: Final[tuple[str, ...]] = ("dataset_id",)
_ASSESSMENT_KEYS: Final = frozenset({"indicator_key", "area_key", "method_key"})
_API_METHODS: Final[Mapping[str, str]] = {key: method for method, key in METHOD_ALIASES.items()}

# the one indicator every row of a chart is a value of
_INDICATOR: Final[Mapping[str, str]] = {
    "emissions_trajectory": "ghg_total",
    "per_resident_comparison": "syke_ghg_per_resident",
    "weekly_mover": "electricity_emission_factor",
    "cross_source_checks": RECONCILED,
    **PEER_CHARTS,
}
# the one area every row of a chart is of (report.data's defaults: Espoo, Finland's electricity)
_AREA: Final[Mapping[str, str]] = {
    "emissions_trajectory": ESPOO,
    "sector_area": ESPOO,
    "sector_waterfall": ESPOO,
    "neutrality_balance": ESPOO,
    "weekly_mover": "FI",
}
# the parts of a breakdown chart: its key column, and the indicator id of each key's row
_SECTOR_PARENT: Final = "ghg_by_sector"
_CIRCULAR: Final[Mapping[str, tuple[str, str]]] = {  # charts.circular's keys: (indicator, kind)
    "waste_per_resident": ("municipal_waste_per_capita", "observed"),
    "recycling_rate": ("recycling_rate", "observed"),
    "recycling_target": ("recycling_rate", "target"),
}
_BALANCE: Final[Mapping[str, tuple[str, str]]] = {  # charts.balance's items: (indicator, kind)
    "residual": ("compensation_need", "target_derived"),
    "sink": ("carbon_sink_estimate", "assumption"),
}
# the indicators whose values the carbon-neutrality balance draws (no source's figures: their derivation is
# stated beside the report's provenance, report.export.derivation_texts)
BALANCE_INDICATORS: Final[tuple[str, ...]] = tuple(dict.fromkeys(i for i, _ in _BALANCE.values()))
# the area whose target a chart draws as rows of their own (report.weekly's builders: Finland's recycling)
_TARGET_AREA: Final[Mapping[str, str]] = {"circular_economy": "FI"}
_CODES: Final[Mapping[str, str]] = {key: code for code, key in AREA_ALIASES.items()}


def _indicators(name: str, keyed: pl.DataFrame) -> tuple[list[str | None], list[str | None]]:
    """Each row's indicator id and kind (None where the chart's row is no stored value, e.g. a total)."""
    rows = keyed.height
    if name in _INDICATOR:
        indicators: list[str | None] = [_INDICATOR[name]] * rows
        if "kind_key" in keyed.columns:
            return indicators, keyed.get_column("kind_key").to_list()
        return indicators, ["observed"] * rows
    if "sector_key" in keyed.columns:
        sectors = keyed.get_column("sector_key").to_list()
        found = [f"{_SECTOR_PARENT}.{s}" if s else None for s in sectors]
        # a waterfall's rows are changes between two years, no stored value of a kind
        stored = name != "sector_waterfall"
        return found, ["observed" if s and stored else None for s in sectors]
    for column, table in (("indicator_key", _CIRCULAR), ("item", _BALANCE)):
        if column in keyed.columns:
            pairs = [table.get(str(k), (None, None)) for k in keyed.get_column(column).to_list()]
            return [i for i, _ in pairs], [k for _, k in pairs]
    return [None] * rows, [None] * rows


def _periods(keyed: pl.DataFrame) -> list[str | None]:
    """Each row's period as the API writes it: '2024', or '2026-W45' for a week."""
    if "year" not in keyed.columns:
        return [None] * keyed.height
    years = keyed.get_column("year").to_list()
    if "week" in keyed.columns:
        weeks = keyed.get_column("week").to_list()
        return [None if y is None else f"{y}-W{int(w):02d}" for y, w in zip(years, weeks, strict=True)]
    return [None if y is None else str(y) for y in years]


class ChartIds(NamedTuple):
    """A download's first columns (the API's ids of its rows) and the chart keys they stand in for."""

    frame: pl.DataFrame
    replaced: frozenset[str]


def api_ids(name: str, keyed: pl.DataFrame) -> ChartIds | None:
    """The API's ids of each row of chart `name`'s table (keyed: with its key columns, charts.chart_table):
    ID_COLUMNS for a chart of indicator values (the unit the catalogue's, as the API's `unit` column);
    ASSESSMENT_ID_COLUMNS for the progress grid, DATASET_ID_COLUMNS for the data freshness; None for a
    chart whose table has no keys to make them from."""
    if name == "progress_dashboard" and "indicator_key" in keyed.columns:
        methods = [_API_METHODS.get(m, m) for m in keyed.get_column("method_key").to_list()]
        ids = [keyed.get_column("indicator_key"), keyed.get_column("area_key"), pl.Series(methods)]
        frame = pl.DataFrame(ids, schema=dict.fromkeys(ASSESSMENT_ID_COLUMNS, pl.String), orient="col")
        return ChartIds(frame, _ASSESSMENT_KEYS)
    if name == "data_freshness" and "dataset_key" in keyed.columns:
        frame = pl.DataFrame(
            [keyed.get_column("dataset_key")],
            schema=dict.fromkeys(DATASET_ID_COLUMNS, pl.String),
            orient="col",
        )
        return ChartIds(frame, frozenset({"dataset_key"}))
    indicators, kinds = _indicators(name, keyed)
    if all(i is None for i in indicators):
        return None
    if name in _AREA:
        areas: list[str | None] = [_AREA[name]] * keyed.height
    elif "area_key" in keyed.columns:
        areas = [None if a is None else _CODES.get(a, a) for a in keyed.get_column("area_key").to_list()]
    else:
        areas = [None] * keyed.height
    if name in _TARGET_AREA:  # a target row of its own, drawn for no area of the chart
        target = _TARGET_AREA[name]
        areas = [target if a is None and k == "target" else a for a, k in zip(areas, kinds, strict=True)]
    catalogue = load_indicator_catalogue()
    units = [catalogue.get(i.split(".", 1)[0]).unit if i else None for i in indicators]
    frame = pl.DataFrame(
        [indicators, areas, _periods(keyed), kinds, units],
        schema=dict.fromkeys(ID_COLUMNS, pl.String),
        orient="col",
    )
    return ChartIds(frame, REPLACED_KEYS)
