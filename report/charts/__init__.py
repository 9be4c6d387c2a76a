"""The chart library: tidy polars frames in, themed Altair charts out, in Finnish, Swedish or English.

One module per chart; the parts they share are in report.charts.common. Every name the single module
report/charts.py had is re-exported here, so `report.charts.X` keeps working."""

# ruff: noqa: I001 (one re-export block per module, not one statement per `X as X` name)

from __future__ import annotations

from report.charts.area import (
    _sector_scale as _sector_scale,
    sector_area as sector_area,
)
from report.charts.balance import (
    BALANCE_EMISSIONS as BALANCE_EMISSIONS,
    BALANCE_SINKS as BALANCE_SINKS,
    neutrality_balance as neutrality_balance,
)
from report.charts.circular import (
    CIRCULAR_FRAME as CIRCULAR_FRAME,
    _PANEL_WIDTH as _PANEL_WIDTH,
    circular_economy as circular_economy,
)
from report.charts.common import (
    AREA_ALIASES as AREA_ALIASES,
    CAPITAL_REGION as CAPITAL_REGION,
    CIRCULAR_INDICATORS as CIRCULAR_INDICATORS,
    FRESHNESS_STATUSES as FRESHNESS_STATUSES,
    KEY_COLUMNS as KEY_COLUMNS,
    LEVELS as LEVELS,
    METHODS as METHODS,
    METHOD_ALIASES as METHOD_ALIASES,
    SECTOR_FRAME as SECTOR_FRAME,
    STATUS_LEVELS as STATUS_LEVELS,
    _C as _C,
    _KIND_TEXT as _KIND_TEXT,
    _NICE_YEAR_STEPS as _NICE_YEAR_STEPS,
    _TABLE_ATTR as _TABLE_ATTR,
    _TITLE_WRAP as _TITLE_WRAP,
    _YEAR_LABEL_SPACING as _YEAR_LABEL_SPACING,
    _YEAR_T as _YEAR_T,
    ChartTable as ChartTable,
    Col as Col,
    Kind as Kind,
    _area_key as _area_key,
    _band_row as _band_row,
    _check_lang as _check_lang,
    _check_meta as _check_meta,
    _dash as _dash,
    _dtype_ok as _dtype_ok,
    _finish as _finish,
    _frame as _frame,
    _gap_labels as _gap_labels,
    _gap_rows as _gap_rows,
    _gap_sentence as _gap_sentence,
    _gaps as _gaps,
    _layer as _layer,
    _pct_change as _pct_change,
    _sector_rows as _sector_rows,
    _titled as _titled,
    _unique as _unique,
    _x_year as _x_year,
    _year_step as _year_step,
    _year_tip as _year_tip,
    _years as _years,
    _years_text as _years_text,
    chart_decimals as chart_decimals,
    chart_notes as chart_notes,
    chart_table as chart_table,
    given_ticks as given_ticks,
    indicator_label as indicator_label,
)
from report.charts.dashboard import (
    DASHBOARD_FRAME as DASHBOARD_FRAME,
    progress_dashboard as progress_dashboard,
)
from report.charts.freshness import (
    FRESHNESS_FRAME as FRESHNESS_FRAME,
    _SEVERITY as _SEVERITY,
    _iso_day as _iso_day,
    data_freshness as data_freshness,
    expected_period_text as expected_period_text,
    last_period_text as last_period_text,
)
from report.charts.mover import (
    WEEKLY_FRAME as WEEKLY_FRAME,
    _week_before as _week_before,
    _week_domain as _week_domain,
    _week_ticks as _week_ticks,
    weekly_mover as weekly_mover,
)
from report.charts.indicator import (
    INDICATOR_FRAME as INDICATOR_FRAME,
    indicator_history as indicator_history,
)
from report.charts.peers import (
    PEER_CHANGE_FRAME as PEER_CHANGE_FRAME,
    PEER_STANDINGS_FRAME as PEER_STANDINGS_FRAME,
    peer_comparison as peer_comparison,
)
from report.charts.per_resident import (
    PER_RESIDENT_FRAME as PER_RESIDENT_FRAME,
    per_resident_comparison as per_resident_comparison,
)
from report.charts.trajectory import (
    TRAJECTORY_HISTORY as TRAJECTORY_HISTORY,
    TRAJECTORY_PROJECTION as TRAJECTORY_PROJECTION,
    emissions_trajectory as emissions_trajectory,
)
from report.charts.waterfall import (
    sector_waterfall as sector_waterfall,
)
from report.theme import ChartMeta as ChartMeta

__all__ = [
    "AREA_ALIASES",
    "KEY_COLUMNS",
    "METHODS",
    "METHOD_ALIASES",
    "STATUS_LEVELS",
    "ChartMeta",
    "chart_table",
    "circular_economy",
    "data_freshness",
    "emissions_trajectory",
    "expected_period_text",
    "indicator_history",
    "indicator_label",
    "last_period_text",
    "neutrality_balance",
    "peer_comparison",
    "per_resident_comparison",
    "progress_dashboard",
    "sector_area",
    "sector_waterfall",
    "weekly_mover",
]
