"""The weekly report for Kestävä Espoo staff and the half-yearly council report: HTML, PNG, SVG, CSV, XLSX."""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final, Literal

import altair as alt
import jinja2
import polars as pl
import vl_convert as vlc
import xlsxwriter
from altair.utils.schemapi import debug_mode
from markupsafe import Markup
from sqlalchemy import Engine, func, select

from common.atomic import publish_directory
from common.config import get_settings
from common.errors import NothingToReportError
from common.helsinki import HELSINKI
from indicators import query
from indicators.catalogue import load_indicator_catalogue
from indicators.engine import compute
from ingest.catalogue import load_catalogue
from report import charts, csp, peers, reconcile_chart
from report import data as rd
from report.chart_ids import BALANCE_INDICATORS, api_ids
from report.export import derivation_texts
from report.i18n import (
    LANGS,
    NOT_AVAILABLE,
    check_lang,
    decimals_showing,
    format_change,
    format_date,
    format_datetime,
    format_day_range,
    format_fraction,
    format_number,
    format_percent,
    format_period,
    has,
    label,
    series_precision,
    shown_decimals,
    t,
)
from report.notes import report_notes
from report.phone import PHONE_MEDIA, phone_patch, phone_spec
from report.ranking import area_decimals
from report.render import PNG_SCALE, Rendered, Renderer
from report.spreadsheet_text import inert_text
from report.theme import LEVEL_COLOURS, ChartMeta
from storage import schema
from storage.as_of import database_as_of
from storage.locks import HeldLock

__all__ = [
    "CHART_NAMES",
    "ReportPeriod",
    "ReportResult",
    "build_report",
    "build_reports",
    "changes_window",
    "headline_context",
    "javascript_bundle",
    "parse_half",
    "parse_week",
    "peer_section",
    "period_changes",
    "write_half_year_report",
    "write_half_year_reports",
    "write_reports_for",
    "write_weekly_report",
    "write_weekly_reports",
]

log = logging.getLogger(__name__)

TEMPLATE_DIR: Final = Path(__file__).with_name("templates")
VENDOR_DIR: Final = Path(__file__).with_name("vendor")
HTML_NAME: Final = "report.html"
CHANGES_DAYS: Final = 7  # a week's report says what changed in the seven days up to its compile time
# The charts in report order.
CHART_NAMES: Final[tuple[str, ...]] = (
    "emissions_trajectory",
    "sector_area",
    "sector_waterfall",
    "per_resident_comparison",
    "progress_dashboard",
    "circular_economy",
    "weekly_mover",
    "neutrality_balance",
    "data_freshness",
    "cross_source_checks",
    *peers.PEER_CHARTS,
)
# The methods the headline states, in this order.
HEADLINE_METHODS: Final[tuple[str, ...]] = ("linear_trajectory_check", "eurostat_sdg")
_WEEK_RE: Final = re.compile(r"^(\d{4})-W(\d{2})$")
_HALF_RE: Final = re.compile(r"^(\d{4})-H([12])$")
# Columns holding years or week numbers: shown without a thousands separator.
_PLAIN_INT: Final = frozenset({"year", "week", "base_year", "latest_year", "target_year"})
# Columns holding a fraction shown as a percentage.
_FRACTION: Final = frozenset({"share", "share_of_cut", "ratio"})
# columns holding a stored period ('2024', '2026-W45', '2026-09-30'): a day is shown as a date in lang
_PERIOD: Final = frozenset({"period"})
# Decimals of the downloads (CSV, XLSX). The catalogues declare no precision per dataset or indicator, so
# one rule (README, "Data and provenance"): amounts in kt CO₂e, g CO₂/kWh and percentages to one decimal, the
# finest the sources state them in (HSY's and Syke's kt, Eurostat's rates); shares (fractions) to three
# decimals (0.1 percentage point), a ratio of two rates too (the page prints "59 %", and "7.9 %" below
# 10 %: report.i18n.format_fraction; the download 58.9 and 7.9, never less than the page); tonnes per
# resident to two (one decimal does not rank the cities: most read 2.6).
EXPORT_DECIMALS: Final[Mapping[str, int]] = {"share": 3, "share_of_cut": 3, "ratio": 3}
DEFAULT_EXPORT_DECIMALS: Final = 1
# Languages whose spreadsheet programs use the decimal comma and the semicolon as list separator (Excel
# in a Finnish or Swedish locale opens a comma-separated file as one column).
DECIMAL_COMMA_LANGS: Final = frozenset({"fi", "sv"})


# ---------------------------------------------------------------------------------------------------------
# report periods


@dataclass(frozen=True)
class ReportPeriod:
    """An ISO week ("2026-W48") or a half-year ("2026-H2"), with its first and last day."""

    kind: Literal["week", "half"]
    key: str
    year: int
    number: int
    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        """The first moment (Finnish time) as naive UTC, the database's convention."""
        return _utc(self.first_day)

    @property
    def end(self) -> datetime:
        """The moment after the last day (Finnish time) as naive UTC."""
        return _utc(self.last_day + timedelta(days=1))

    def previous(self) -> ReportPeriod:
        """The period of the same kind just before this one (2026-W01 → 2025-W52, 2026-H1 → 2025-H2)."""
        return self._step(self.first_day - timedelta(days=1))

    def following(self) -> ReportPeriod:
        """The period of the same kind just after this one."""
        return self._step(self.last_day + timedelta(days=1))

    def _step(self, day: date) -> ReportPeriod:
        if self.kind == "week":
            iso = day.isocalendar()
            return parse_week(f"{iso.year}-W{iso.week:02d}")
        return parse_half(f"{day.year}-H{1 if day.month <= 6 else 2}")


def _utc(day: date) -> datetime:
    return datetime.combine(day, clock(), HELSINKI).astimezone(UTC).replace(tzinfo=None)


def _weeks_in(year: int) -> int:
    return date(year, 12, 28).isocalendar().week


def parse_week(text: str) -> ReportPeriod:
    """An ISO week written YYYY-Www (e.g. 2026-W48); ValueError naming the expected format otherwise."""
    match = _WEEK_RE.match(text.strip())
    year, week = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    if not match or not 1 <= week <= _weeks_in(year) or year < 1900:
        weeks = f"; {year} has {_weeks_in(year)} weeks" if match and year >= 1900 else ""
        raise ValueError(
            f"expected an ISO week as YYYY-Www, e.g. 2026-W48 (week 01–52 or 53{weeks}), got {text!r}"
        )
    first = date.fromisocalendar(year, week, 1)
    return ReportPeriod("week", f"{year}-W{week:02d}", year, week, first, first + timedelta(days=6))


def parse_half(text: str) -> ReportPeriod:
    """A half-year written YYYY-H1 (January–June) or YYYY-H2 (July–December); ValueError otherwise."""
    match = _HALF_RE.match(text.strip())
    if not match or int(match.group(1)) < 1900:
        raise ValueError(f"expected a half-year as YYYY-H1 or YYYY-H2, e.g. 2026-H2, got {text!r}")
    year, half = int(match.group(1)), int(match.group(2))
    first = date(year, 1 if half == 1 else 7, 1)
    last = date(year, 6, 30) if half == 1 else date(year, 12, 31)
    return ReportPeriod("half", f"{year}-H{half}", year, half, first, last)


def current_week(today: date | None = None) -> ReportPeriod:
    """The ISO week containing today (Finnish date)."""
    day = today or datetime.now(HELSINKI).date()
    iso = day.isocalendar()
    return parse_week(f"{iso.year}-W{iso.week:02d}")


def current_half(today: date | None = None) -> ReportPeriod:
    """The half-year containing today (Finnish date)."""
    day = today or datetime.now(HELSINKI).date()
    return parse_half(f"{day.year}-H{1 if day.month <= 6 else 2}")


def check_begun(period: ReportPeriod, today: date | None = None) -> ReportPeriod:
    """The period unless it starts after today (Finnish date); ValueError naming the latest allowed."""
    day = today or datetime.now(HELSINKI).date()
    if period.first_day <= day:
        return period
    latest, what = (current_week(day), "week") if period.kind == "week" else (current_half(day), "half-year")
    raise ValueError(
        f"{period.key} has not begun (it starts {period.first_day:%Y-%m-%d}); "
        f"the latest allowed is {latest.key}, the current {what}"
    )


# ---------------------------------------------------------------------------------------------------------
# the JavaScript libraries, inlined once per report


@cache
def javascript_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script (vl-convert's bundle; vendored in report/vendor/).

    The vendored file is used when it was made by the installed vl-convert (its header names the
    versions); otherwise the bundle is rebuilt from vl-convert (a few seconds) — nothing is downloaded.
    """
    header = bundle_header()
    vendored = VENDOR_DIR / "vega-bundle.js"
    if vendored.exists():
        text = vendored.read_text(encoding="utf-8")
        if text.startswith(header):
            return text
        log.warning("report/vendor/vega-bundle.js is from another vl-convert version; rebuilding it")
    make: Callable[..., str] = vlc.javascript_bundle  # its default snippet exposes window.vegaEmbed
    return header + make() + "\n"


def bundle_header() -> str:
    """The comment that opens the bundle: the library versions and their licence."""
    return (
        f"/*! Vega {vlc.get_vega_version()}, Vega-Lite {vlc.get_vegalite_versions()[-1]}, "
        f"Vega-Embed {vlc.get_vega_embed_version()} (BSD-3-Clause, University of Washington "
        f"Interactive Data Lab), bundled by vl-convert {version('vl-convert-python')} */\n"
    )


# Keys of a Vega-Lite spec that make a composite view: "container" width applies to single and layered
# views only.
_COMPOSITE: Final = frozenset({"hconcat", "vconcat", "concat", "facet", "repeat"})


# the narrowest plot a page draws in a phone's column (px); narrower, the chart is scaled down instead
PHONE_MIN_PLOT: Final = 140


def page_spec(
    spec: Mapping[str, Any], natural_width: int = 0, phone: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The spec as the page embeds it: a single or layered view with a fixed width takes its container's
    width instead (Vega-Lite width "container", autosize fit-x), so a chart fills the column on a
    desktop. In a column narrower than the chart's natural width (natural_width: the whole drawing with
    title and legend, in CSS pixels; default the view's width and a quarter more for axes and legend),
    the page's script draws the plot as wide as the column leaves beside the axes and labels (at least
    PHONE_MIN_PLOT px) with the phone variant's title and legends (report.phone.phone_patch), its text at
    its size; where that is too narrow it keeps the fixed width and the page scales the drawing down to the
    column (it shows the whole x range and every label, smaller). Composite and step-sized views keep their
    width and are scaled down likewise. The PNG and SVG files are drawn from the spec as it is.

    phone: the chart's phone layout (phone_layout), which the script draws instead where PHONE_MEDIA
    matches (a phone's column), at its own size; its datasets that the spec holds too are left out of it
    (the script takes them from the spec)."""
    out = dict(spec)
    width = out.get("width")
    page: dict[str, Any] = {}
    if isinstance(width, int | float) and not _COMPOSITE & out.keys():
        page = {
            "fixed_width": width,
            "natural_width": natural_width or round(width * 1.25),
            "phone": phone_patch(spec),
            "phone_min_plot": PHONE_MIN_PLOT,
        }
        out |= {"width": "container", "autosize": {"type": "fit-x", "contains": "padding"}}
    if phone is not None:
        shared = spec.get("datasets") or {}
        own = {k: v for k, v in (phone.get("datasets") or {}).items() if shared.get(k) != v}
        page |= {"phone_layout": {**phone, "datasets": own}, "phone_media": PHONE_MEDIA}
    if page:
        meta = dict(out.get("usermeta") or {})
        meta["kestava"] = {**(meta.get("kestava") or {}), "page": page}
        out["usermeta"] = meta
    return out


def _script_safe(text: str) -> str:
    """JSON text that cannot end its <script> element or open a comment, whatever strings it holds."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ---------------------------------------------------------------------------------------------------------
# formatting helpers for HTML tables


def format_cell(value: object, column: str, lang: str, precision: int | None = None) -> str:
    """A table cell as text in lang: numbers and dates in the language's format, booleans as yes/no.

    precision: the decimals the cell's series (its column, or its quantity in a column that mixes them) is
    published at (report.i18n.series_precision); None: the value's own (report.i18n.shown_decimals)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return t("report.yes" if value else "report.no", lang)
    if isinstance(value, datetime):
        return format_datetime(value, lang)
    if isinstance(value, date):
        return format_date(value, lang)
    if isinstance(value, int):
        return str(value) if column in _PLAIN_INT else format_number(value, lang)
    if isinstance(value, float):
        if column in _FRACTION:
            return format_fraction(value, lang)
        return format_number(value, lang, shown_decimals(value, precision))  # as the headline prints it
    if isinstance(value, list):
        return ", ".join(format_cell(v, column, lang, precision) for v in value)
    if isinstance(value, str) and column in _PERIOD:
        return format_period(value, lang)
    return str(value)


def column_precisions(
    frame: pl.DataFrame, series: Sequence[object] | None = None
) -> dict[str, dict[object, int]]:
    """The published precision (report.i18n.series_precision) of each float column of a table, by series:
    series names each row's series where a column mixes quantities (ROW_UNITS: kg per resident and %);
    without it a column is one series."""
    keys = list(series) if series is not None else [None] * frame.height
    found: dict[str, dict[object, int]] = {}
    for column, dtype in frame.schema.items():
        if not dtype.is_float():
            continue
        values: dict[object, list[float | None]] = {}
        for key, value in zip(keys, frame.get_column(column).to_list(), strict=True):
            values.setdefault(key, []).append(value)
        found[column] = {key: series_precision(vs) for key, vs in values.items()}
    return found


@dataclass(frozen=True)
class Table:
    """An HTML table: caption, column headers, rows of text (a list is a cell with a list); the first
    column heads each row."""

    caption: str
    headers: list[str]
    rows: Sequence[Sequence[str | list[str]]]
    numeric: list[bool]
    code_columns: frozenset[int] = frozenset()
    # the tracker's technical messages (connector errors), written in English: marked lang="en" on the page
    message_columns: frozenset[int] = frozenset()
    # printed: each column's share of the page width (a wide table gets a landscape page of its own)
    print_widths: Sequence[int] = ()
    # on a phone, short cards: the cells in a line, cells saying 0 or – left out (a list of many datasets)
    compact_cards: bool = False

    def left_out_of_card(self, cell: str) -> bool:
        """Whether a compact card leaves the cell out: it says 0 or nothing (–)."""
        return self.compact_cards and cell in ("0", NOT_AVAILABLE)


def unit_header(header: str, unit: str, lang: str) -> str:
    """A column header with the unit its values share: "Arvo (kt CO₂e)", "Value (%)"; unit is the
    catalogue's unit (translated through [unit_name]) or one already in lang."""
    shown = label("unit_name", unit.strip(), lang)
    if shown.startswith("("):  # a unit written in brackets already: "(indeksi)"
        return f"{header} {shown}"
    return t("column.with_unit", lang, column=header, unit=shown)


def unit_headers(
    columns: Sequence[str], headers: Sequence[str], units: Mapping[str, str], lang: str
) -> list[str]:
    """The headers of a table's columns, each column with a unit (by column) naming it (unit_header)."""
    return [
        unit_header(header, units[c], lang) if c in units else header
        for c, header in zip(columns, headers, strict=True)
    ]


def frame_table(
    frame: pl.DataFrame,
    caption: str,
    lang: str,
    headers: Sequence[str] | None = None,
    decimals: Mapping[str, int] | None = None,
    units: Mapping[str, str] | None = None,
    series: Sequence[object] | None = None,
) -> Table:
    """A polars frame as a Table with formatted cells (headers: translated names, default the columns).

    decimals: the places of the float columns a chart chose them for (charts.chart_decimals), so that
    the chart's table prints its values as the chart labels them (two peers at 2.17 and 2.25 are not
    both "2.2"); the other floats as format_cell prints them. units: the unit of a column's values
    (catalogue units, by column), named in its header (unit_header). The other floats take the decimals
    their column is published at (column_precisions; series: each row's series where a column mixes
    quantities), so that 30.0 next to 31.1 prints "30.0"."""
    names = unit_headers(frame.columns, headers if headers is not None else frame.columns, units or {}, lang)
    numeric = [frame.schema[c].is_numeric() for c in frame.columns]
    places = decimals or {}
    precisions = column_precisions(frame, series)
    keys = list(series) if series is not None else [None] * frame.height

    def cell(value: object, column: str, key: object) -> str:
        if column in places and isinstance(value, float) and not math.isnan(value):
            return format_number(value, lang, decimals_showing(value, places[column]))
        return format_cell(value, column, lang, precisions.get(column, {}).get(key))

    rows = [
        [cell(v, c, key) for c, v in zip(frame.columns, row, strict=True)]
        for key, row in zip(keys, frame.rows(), strict=True)
    ]
    return Table(caption, names, rows, numeric)


# ---------------------------------------------------------------------------------------------------------
# the charts

_KT: Final = "kt CO2e"
# The unit of each chart's value columns, as its input contract states it: the data table under the chart
# names it in their headers ("Arvo (kt CO₂e)"). A peer chart's is its indicator's (peers.PEER_CHARTS).
TABLE_UNITS: Final[Mapping[str, tuple[str, frozenset[str]]]] = {
    "emissions_trajectory": (_KT, frozenset({"value", "lower", "upper"})),
    "sector_area": (_KT, frozenset({"value"})),
    "sector_waterfall": (_KT, frozenset({"start", "end", "change"})),
    "neutrality_balance": (_KT, frozenset({"value"})),
    "per_resident_comparison": ("t CO2e per resident", frozenset({"value"})),
    "weekly_mover": ("gCO2/kWh", frozenset({"value"})),
}
# A chart whose rows mix units: its table gets a unit column after the values instead, by the key column
# that tells the rows apart (charts.CIRCULAR_FRAME: kg per resident or %; the targets in %).
ROW_UNITS: Final[Mapping[str, tuple[str, Mapping[str, str]]]] = {
    "circular_economy": (
        "indicator_key",
        {"waste_per_resident": "kg per resident", "recycling_rate": "%", "recycling_target": "%"},
    ),
}


def table_units(name: str, frame: pl.DataFrame, lang: str) -> dict[str, str]:
    """The unit of each value column of a chart's table (by column), when its rows share one: a catalogue
    unit, or a peer chart's unit as its chart names it (peers.unit_text: "t CO₂(e)/asukas" where each city
    chose t CO2 or t CO2e)."""
    if name in TABLE_UNITS:
        unit, columns = TABLE_UNITS[name]
    elif name in peers.PEER_CHARTS:
        unit, columns = peers.unit_text(peers.PEER_CHARTS[name], lang), frozenset({"value"})
    else:
        return {}
    return {c: unit for c in frame.columns if c in columns}


def with_row_units(
    name: str, shown: pl.DataFrame, keyed: pl.DataFrame, headers: Sequence[str], lang: str
) -> tuple[pl.DataFrame, list[str]]:
    """A table whose rows mix units (ROW_UNITS) with a unit column after its values, and its headers;
    any other table as given. keyed: the same rows with their key columns (charts.chart_table)."""
    if name not in ROW_UNITS or "value" not in shown.columns:
        return shown, list(headers)
    key, units = ROW_UNITS[name]
    texts = [label("unit_name", units.get(str(k), ""), lang) for k in keyed.get_column(key).to_list()]
    at = shown.columns.index("value") + 1
    table = shown.insert_column(at, pl.Series("unit", texts, dtype=pl.String))
    return table, [*headers[:at], t("column.unit", lang), *headers[at:]]


def table_series(name: str, keyed: pl.DataFrame) -> list[object] | None:
    """The series of each row of a chart's table whose value column mixes quantities (ROW_UNITS: its key,
    e.g. the indicator), for the decimals of its values (column_precisions); None: one series a column."""
    if name not in ROW_UNITS or ROW_UNITS[name][0] not in keyed.columns:
        return None
    return keyed.get_column(ROW_UNITS[name][0]).to_list()


@dataclass
class ChartResult:
    """One chart of the report: heading, finding, alt text, spec, data table, files and timings."""

    name: str
    heading: str
    title: str = ""
    alt: str = ""
    # shown folded below the chart (a peer chart's coverage and method: its phone layout leaves them out)
    notes: list[str] = field(default_factory=list)
    spec: dict[str, Any] | None = None
    table: Table | None = None
    summary: str = ""
    frame: pl.DataFrame | None = None
    snapshot_ids: list[int] = field(default_factory=list)
    png: str | None = None
    svg: str | None = None
    csv: str | None = None
    xlsx: str | None = None
    # the PNG as a data: URI, shown in the page until the interactive chart replaces it (and for good
    # without JavaScript: a forwarded report.html still shows its charts)
    png_uri: str | None = None
    width: int = 0
    height: int = 0
    error: str | None = None
    seconds_build: float = 0.0
    seconds_render: float = 0.0
    # the drawing under way (Renderer.submit) until _write_images writes its files
    drawing: Future[Rendered] | None = field(default=None, repr=False)
    # the decimals of each float column of its downloads (export_decimals)
    decimals: dict[str, int] = field(default_factory=dict)
    # folded under the chart: the statuses of the indicators' breakdowns (the dashboard shows indicators)
    breakdowns: Table | None = None
    breakdowns_summary: str = ""
    # the chart's phone layout (phone_layout), drawn instead below PHONE_MEDIA; None: the chart made narrow
    phone: dict[str, Any] | None = None


Built = tuple[alt.TopLevelMixin, list[int]]


def _meta(engine: Engine, ids: Sequence[int], name: str) -> ChartMeta:
    if ids:
        return rd.chart_meta(engine, snapshot_ids=ids)
    datasets = rd.CHART_DATASETS.get(name) or None
    return rd.chart_meta(engine, datasets)


def _builders(
    engine: Engine, lang: str, as_of: date, shared: dict[Any, Any] | None = None
) -> dict[str, Callable[[], Built]]:
    """Per chart: a function that loads its data from the database and draws it in lang. shared: what
    the languages of one run have in common (a chart's data and provenance are the same in every
    language), read from the database once per run instead of once per language."""
    return _all_builders(engine, lang, as_of, shared)[0]


def _all_builders(
    engine: Engine, lang: str, as_of: date, shared: dict[Any, Any] | None = None
) -> tuple[dict[str, Callable[[], Built]], dict[str, Callable[[], Built]]]:
    """The charts' builders (_builders) and, for the charts with a phone layout of their own (the
    sector, waterfall, per-resident, dashboard, circular, balance, freshness, cross-source and peer charts),
    the builders of that layout, which read the same data (shared, else once here)."""
    shared = {} if shared is None else shared

    def once(key: Any, load: Callable[[], Any]) -> Any:
        if key not in shared:
            shared[key] = load()
        return shared[key]

    def meta_of(ids: Sequence[int], name: str) -> ChartMeta:
        found: ChartMeta = once(("meta", tuple(ids), name), lambda: _meta(engine, ids, name))
        return found

    def trajectory() -> Built:
        history, projection = once("trajectory", lambda: rd.trajectory_inputs(engine))
        ids = rd.snapshot_ids_of(history, projection)
        chart = charts.emissions_trajectory(
            history, projection, meta=meta_of(ids, ""), target=rd.reduction_target(), lang=lang
        )
        return chart, ids

    def sectors(phone: bool = False) -> Built:
        frame = once("sectors", lambda: rd.sector_frame(engine))
        ids = rd.snapshot_ids_of(frame)
        years = rd.provisional_years(frame)
        meta = meta_of(ids, "")
        return charts.sector_area(frame, meta=meta, lang=lang, provisional_years=years, phone=phone), ids

    def waterfall(phone: bool = False) -> Built:
        frame = once("sectors", lambda: rd.sector_frame(engine))
        ids = rd.snapshot_ids_of(frame)
        base_year = rd.reduction_target().base_year  # the headline's (the catalogue's), never a constant
        chart = charts.sector_waterfall(
            frame,
            meta=meta_of(ids, ""),
            base_year=base_year,
            lang=lang,
            provisional_years=rd.provisional_years(frame),
            phone=phone,
        )
        return chart, ids

    def per_resident(phone: bool = False) -> Built:
        every_area = once("per_resident", lambda: rd.per_resident_frame(engine, None))
        frame = rd.of_comparison_areas(every_area, rd.PER_RESIDENT_INDICATOR)
        # every area's latest value, ranked as the indicator's site page ranks them: Espoo's figure the same
        latest = rd.latest_by_area(every_area)
        espoo = area_decimals(latest, rd.ESPOO, lang, report_ranks=rd.COMPARISON_AREAS).get(rd.ESPOO, 1)
        ids = rd.snapshot_ids_of(frame)
        chart = charts.per_resident_comparison(
            frame,
            meta=meta_of(ids, ""),
            lang=lang,
            provisional_years=rd.provisional_years(frame),
            phone=phone,
            least_decimals=espoo,
        )
        return chart, ids

    def dashboard(phone: bool = False) -> Built:
        frame = once(("dashboard", lang), lambda: rd.dashboard_frame(engine, lang))
        # the snapshots the statuses were computed from, not the newest: a snapshot loaded since whose
        # compute failed (tried again on the next run) is not behind the statuses shown
        ids = once("dashboard_ids", lambda: rd.assessed_snapshot_ids(engine, frame))
        meta = meta_of(ids, "progress_dashboard")
        return charts.progress_dashboard(frame, meta=meta, lang=lang, phone=phone), ids

    def circular(phone: bool = False) -> Built:
        frame = once("circular", lambda: rd.circular_frame(engine))
        ids = rd.snapshot_ids_of(frame)
        targets = rd.absolute_targets("recycling_rate", "FI")  # the chart's area: Finland
        chart = charts.circular_economy(
            frame,
            meta=meta_of(ids, ""),
            targets=targets,
            lang=lang,
            provisional_years=rd.provisional_years(frame),
            phone=phone,
        )
        return chart, ids

    def weekly() -> Built:
        frame = once("weekly", lambda: rd.weekly_frame(engine, as_of=as_of))
        ids = rd.snapshot_ids_of(frame)
        return charts.weekly_mover(frame, meta=meta_of(ids, ""), lang=lang), ids

    def balance(phone: bool = False) -> Built:
        emissions, sinks = once("balance", lambda: rd.balance_frames(engine))
        ids = rd.snapshot_ids_of(emissions, sinks)
        chart = charts.neutrality_balance(
            emissions,
            sinks,
            meta=meta_of(ids, ""),
            target=rd.reduction_target(),
            lang=lang,
            provisional_years=rd.provisional_years(emissions),
            phone=phone,
        )
        return chart, ids

    def freshness(phone: bool = False) -> Built:
        frame = once(("freshness", as_of, lang), lambda: rd.freshness_frame(engine, as_of, lang))
        ids = once("latest_ids", lambda: rd.latest_snapshot_ids(engine, None))  # every language, both layouts
        if ids:
            meta = meta_of(ids, "data_freshness")
        else:  # nothing fetched yet: the sources the catalogue expects
            sources = load_catalogue().sources.values()
            meta = ChartMeta(
                sources=tuple(dict.fromkeys(s.attribution for s in sources)),
                licence=" / ".join(dict.fromkeys(s.licence for s in sources)),
                vintage=as_of,
            )
        return charts.data_freshness(frame, meta=meta, lang=lang, as_of=as_of, phone=phone), ids

    def cross_source(phone: bool = False) -> Built:
        frame = once(
            "reconciliation",
            lambda: reconcile_chart.reconciliation_frame(engine, areas=reconcile_chart.AREAS),
        )
        ids = rd.snapshot_ids_of(frame)
        chart = reconcile_chart.cross_source_checks(frame, meta=meta_of(ids, ""), lang=lang, phone=phone)
        return chart, ids

    def peer(name: str, phone: bool = False) -> Callable[[], Built]:
        def build() -> Built:
            found = peers.shared_peer_frames(engine, peers.PEER_CHARTS[name], shared)
            ids = rd.snapshot_ids_of(found.standings)
            meta = replace(meta_of(ids, ""), method=peers.method_text(found.indicator, found.source, lang))
            chart = peers.peer_chart(found, meta=meta, lang=lang, phone=phone)
            return chart, ids

        return build

    phone_layouts: dict[str, Callable[[], Built]] = {
        **{name: peer(name, phone=True) for name in peers.PEER_CHARTS},
        "sector_waterfall": lambda: waterfall(phone=True),
        "sector_area": lambda: sectors(phone=True),
        "progress_dashboard": lambda: dashboard(phone=True),
        "per_resident_comparison": lambda: per_resident(phone=True),
        "circular_economy": lambda: circular(phone=True),
        "neutrality_balance": lambda: balance(phone=True),
        "data_freshness": lambda: freshness(phone=True),
        "cross_source_checks": lambda: cross_source(phone=True),
    }
    return {
        **{name: peer(name) for name in peers.PEER_CHARTS},
        "emissions_trajectory": trajectory,
        "sector_area": sectors,
        "sector_waterfall": waterfall,
        "per_resident_comparison": per_resident,
        "progress_dashboard": dashboard,
        "circular_economy": circular,
        "weekly_mover": weekly,
        "neutrality_balance": balance,
        "data_freshness": freshness,
        "cross_source_checks": cross_source,
    }, phone_layouts


def _any_demo(engine: Engine, snapshot_ids: Sequence[int]) -> bool:
    """Whether any of the snapshots is demo data."""
    if not snapshot_ids:
        return False
    return rd.chart_meta(engine, snapshot_ids=snapshot_ids).is_demo


def _title_text(spec: Mapping[str, Any]) -> str:
    title = spec.get("title", {})
    text = title.get("text", "") if isinstance(title, dict) else title
    return " ".join(text) if isinstance(text, list) else str(text)


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def export_decimals(chart: alt.TopLevelMixin, column: str) -> int:
    """The decimals a download gives a float column of a chart's data table: those the chart shows where
    it chose them from its data (report.charts.chart_decimals), else EXPORT_DECIMALS' rule."""
    shown = charts.chart_decimals(chart)
    return shown.get(column, EXPORT_DECIMALS.get(column, DEFAULT_EXPORT_DECIMALS))


def float_decimals(chart: alt.TopLevelMixin) -> dict[str, int]:
    """The decimals of each float column of a chart's data table in its downloads (export_decimals)."""
    frame = charts.chart_table(chart)
    return {c: export_decimals(chart, c) for c, dtype in frame.schema.items() if dtype.is_float()}


def download_frame(
    chart: alt.TopLevelMixin, decimals: Mapping[str, int], *, name: str, lang: str
) -> tuple[pl.DataFrame, dict[str, int]]:
    """A chart's data table for download: floats rounded to `decimals` (float_decimals), headers in lang
    (the chart's) with the unit of the values as the table on the page names it ("Arvo (kt CO₂e)"; a chart
    whose rows mix units gets the page's unit column); with the decimals of each float column by its
    header. name: the chart's name in the report (TABLE_UNITS, ROW_UNITS, peers.PEER_CHARTS).

    As the page shows them: a fraction (_FRACTION: 0.298) in percent (29.8, its header "Osuus (%)"), a
    flag (True/False) as the page's yes/no in lang ("kyllä"/"ei").

    A chart of indicator values begins with the API's ids of each row (report.chart_ids.ID_COLUMNS:
    indicator_id, area_id, period_id, kind_id, unit_id, the same headers in every language), in place of
    its own keys (area_key "espoo" is area_id "049"); the progress grid with its assessments' ids
    (indicator_id, area_id, method_id), the data freshness with its datasets' (dataset_id)."""
    frame = charts.chart_table(chart)
    places = {c: percent_decimals(d) if c in _FRACTION else d for c, d in decimals.items()}
    yes, no = t("report.yes", lang), t("report.no", lang)
    rounded = frame.with_columns(
        *((pl.col(c) * 100 if c in _FRACTION else pl.col(c)).round(d) for c, d in places.items()),
        *(
            pl.when(pl.col(c)).then(pl.lit(yes)).when(~pl.col(c)).then(pl.lit(no)).alias(c)
            for c, dtype in frame.schema.items()
            if dtype == pl.Boolean
        ),
    )
    rounded, headers = with_row_units(
        name, rounded, frame, charts.chart_table(chart, translated_headers=True).columns, lang
    )
    units = table_units(name, rounded, lang) | {c: "%" for c in rounded.columns if c in _FRACTION}
    named = unit_headers(rounded.columns, headers, units, lang)
    renamed = dict(zip(rounded.columns, named, strict=True))
    shown = rounded.rename(renamed)
    ids = api_ids(name, frame)
    if ids is not None:  # the API's ids first, in place of the chart's own keys (report.chart_ids)
        kept = [renamed[c] for c in rounded.columns if c not in ids.replaced]
        shown = pl.concat([ids.frame, shown.select(kept)], how="horizontal")
    return shown, {renamed[c]: d for c, d in places.items()}


def percent_decimals(decimals: int) -> int:
    """The decimals of a fraction's download in percent: two fewer (0.298 to three decimals is 29.8 %)."""
    return max(decimals - 2, 0)


def write_csv(frame: pl.DataFrame, path: Path, lang: str) -> None:
    """A download as CSV that spreadsheet programs open as columns in lang's locale: UTF-8 with a BOM;
    in fi and sv the semicolon between fields and the decimal comma (Excel's list and decimal separators
    there), in en the comma and the decimal point; no text cell that a spreadsheet would run (inert_text)."""
    comma = lang in DECIMAL_COMMA_LANGS
    inert_text(frame).write_csv(
        path,
        include_bom=True,
        separator=";" if comma else ",",
        decimal_comma=comma,
        datetime_format="%Y-%m-%d %H:%M:%S",
    )


def write_xlsx(frame: pl.DataFrame, path: Path, sheet: str, decimals: Mapping[str, int]) -> None:
    """A download as an Excel workbook (xlsxwriter): one sheet, numbers as numbers shown with their
    decimals, years without a thousands separator, dates as dates."""
    formats: dict[str, str] = {c: "0" for c, dtype in frame.schema.items() if dtype.is_integer()}
    formats |= {c: "0." + "0" * d if d else "0" for c, d in decimals.items()}
    # The workbook is made here, with the options polars would give it, only to add in_memory: without
    # it xlsxwriter writes each part of the file to a temporary file and deletes it (a dozen per workbook).
    options = {
        "in_memory": True,
        "nan_inf_to_errors": True,
        "strings_to_formulas": False,  # a text beginning with "=" stays text
        "default_date_format": "yyyy-mm-dd;@",
        "remove_timezone": True,  # Excel has no time zones: a UTC time (the exports' vintage) as written
    }
    with xlsxwriter.Workbook(str(path), options) as workbook:
        frame.write_excel(
            workbook,
            worksheet=sheet[:31],
            column_formats=formats,  # type: ignore[arg-type]
            dtype_formats={pl.Date: "yyyy-mm-dd", pl.Datetime: "yyyy-mm-dd hh:mm"},
            autofit=True,
        )


def phone_layout(build: Callable[[], Built]) -> dict[str, Any]:
    """The spec of a chart's phone layout (its builder's phone=True: labels above the marks, a narrow
    plot), with the phone variant's title and legends (report.phone.phone_spec)."""
    with debug_mode(False):
        chart, _ = build()
    return phone_spec(chart.to_dict(validate=False))


def _build_chart(
    name: str, build: Callable[[], Built], lang: str, folder: Path | None, *, renderer: Renderer | None
) -> ChartResult:
    """Draw one chart, write its CSV and XLSX, and (with a renderer) start drawing its PNG and SVG
    (_write_images writes them); a chart without data gets a notice."""
    result = ChartResult(name=name, heading=t(f"chart_heading.{name}", lang))
    start = time.perf_counter()
    try:
        # Altair's debug mode validates every schema object as it is made; the whole spec is validated in
        # the tests instead (see below), so here the builders run without it (a tenth of their time)
        with debug_mode(False):
            chart, ids = build()
    except (rd.MissingDataError, ValueError) as error:
        log.warning("report: chart %s not drawn: %s", name, error)
        result.error = t("report.chart_missing", lang)
        return result
    # not validated against the Vega-Lite schema here (a tenth of a report's time): the tests validate
    # every chart of the report, built by these same builders from the bundled data (test_charts)
    spec = chart.to_dict(validate=False)
    frame = charts.chart_table(chart)
    shown = charts.chart_table(chart, keys=False)  # the page shows words, not catalogue keys
    headers = charts.chart_table(chart, translated_headers=True, keys=False).columns
    result.spec, result.frame, result.snapshot_ids = spec, frame, ids
    result.decimals = float_decimals(chart)
    result.title, result.alt = _title_text(spec), str(spec.get("description", ""))
    result.notes = charts.chart_notes(spec)
    shown, headers = with_row_units(name, shown, frame, headers, lang)
    result.table = frame_table(
        shown,
        t("report.table_caption", lang, heading=result.heading),
        lang,
        headers,
        charts.chart_decimals(chart),
        table_units(name, shown, lang),
        table_series(name, frame),
    )
    result.summary = t("report.table_summary", lang, rows=format_number(frame.height, lang))
    result.seconds_build = time.perf_counter() - start
    if folder is not None:
        start = time.perf_counter()
        if renderer is not None:
            result.drawing = renderer.submit(spec)
        download, decimals = download_frame(chart, result.decimals, name=name, lang=lang)
        result.csv, result.xlsx = f"{name}.csv", f"{name}.xlsx"
        write_csv(download, folder / result.csv, lang)
        write_xlsx(download, folder / result.xlsx, name, decimals)
        result.seconds_render = time.perf_counter() - start
    return result


def _write_images(results: Sequence[ChartResult], folder: Path) -> None:
    """Wait for each chart's drawing and write its SVG and PNG files and the PNG inlined in the page."""
    for result in results:
        if result.drawing is None:
            continue
        start = time.perf_counter()
        drawn = result.drawing.result()
        result.drawing = None
        (folder / f"{result.name}.svg").write_text(drawn.svg, encoding="utf-8")
        (folder / f"{result.name}.png").write_bytes(drawn.png)
        result.svg, result.png = f"{result.name}.svg", f"{result.name}.png"
        result.png_uri = "data:image/png;base64," + base64.b64encode(drawn.embedded).decode("ascii")
        width, height = _png_size(drawn.png)
        result.width, result.height = round(width / PNG_SCALE), round(height / PNG_SCALE)
        result.seconds_render += time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------------
# the sections


def headline_context(engine: Engine, lang: str) -> dict[str, Any] | None:
    """The headline: Espoo's 2030 target at a glance (figures and the main methods' statuses); None
    without data. The public site's home page shows the same."""
    try:
        h = rd.headline(engine)
    except rd.MissingDataError as error:
        log.warning("report: no headline: %s", error)
        return None
    gen = t("area_gen.espoo", lang)
    kt = h.unit
    statuses = rd.status_frame(engine, lang, areas=(h.area,), indicators=[h.indicator])
    items = []
    for method in HEADLINE_METHODS:
        rows = statuses.filter(pl.col("method") == method)
        if rows.height:
            r = rows.row(0, named=True)
            items.append(
                {
                    "method": r["method_name"],
                    "status": r["status_name"],
                    "level": r["level"],
                    "reason": r["reason"],
                }
            )
    # the grid's other verdicts of the same indicator, and why they differ from the headline's (the German
    # model's "current pace" is the mean change of five years, the headline's the least-squares trend):
    # the explanation the site's indicator page gives (report.data.projection_notes)
    german_year = statuses.filter(pl.col("method") == "german_strategy").get_column("target_year").to_list()
    trend_note, german_note = rd.projection_notes(
        query.indicator_values(h.indicator, area=h.area, engine=engine),
        h.indicator,
        h.area,
        kt,
        german_year[0] if german_year else None,
        lang,
    )
    others = [
        {
            "method": r["method_name"],
            "status": r["status_name"],
            "level": r["level"],
            "reason": r["reason"],
            "basis": german_note if r["method"] == "german_strategy" else "",
        }
        for method in load_indicator_catalogue().get(h.indicator).assess
        if method not in HEADLINE_METHODS
        for r in statuses.filter(pl.col("method") == method).head(1).iter_rows(named=True)
    ]
    required = None
    if h.latest_year < h.target_year and h.gap > 0:
        rate = h.required_rate
        required = {
            "label": t("report.fig_required", lang, from_year=h.latest_year, to_year=h.target_year),
            "value": t(
                "unit.per_year",
                lang,
                value=format_percent(rate * 100, lang, 1, signed=True) if rate is not None else NOT_AVAILABLE,
            ),
            "note": t(
                "report.fig_required_linear", lang, kt=format_number(h.required_change, lang, 0, signed=True)
            ),
        }
    projection = None
    if h.projected_value is not None and h.latest_year < h.target_year:
        reached = (
            t("report.fig_projection_reached", lang, year=h.year_reached)
            if h.year_reached is not None
            else t("report.fig_projection_never", lang)
        )
        projection = {
            "label": t("report.fig_projection", lang, year=h.target_year),
            "value": rd.format_value(h.projected_value, kt, lang),
            "note": t(
                "report.fig_projection_note",
                lang,
                lower=format_number(h.projected_lower, lang),
                upper=format_number(h.projected_upper, lang),
                reached=reached,
            ),
        }
    return {
        "others": others,
        "trend_note": trend_note if others else "",
        "heading": t("report.headline_heading", lang, gen=gen, year=h.target_year),
        "lead": t(
            "report.headline_lead",
            lang,
            latest=format_number(h.latest_value, lang),
            latest_year=h.latest_year,
            change=format_change(h.change_pct, lang),
            base_year=h.base_year,
            target_year=h.target_year,
            target=format_number(h.target_value, lang),
            gap=format_number(h.gap, lang),
            gap_pct=format_percent(h.gap_pct, lang),
        )
        + _pace_verdict(h, lang)
        + (" " + t("report.headline_provisional", lang, year=h.latest_year) if h.latest_provisional else ""),
        "figures": [
            {
                "label": t("report.fig_latest", lang, year=h.latest_year),
                "value": rd.format_value(h.latest_value, kt, lang),
                "note": t("report.fig_latest_provisional", lang) if h.latest_provisional else "",
            },
            {
                "label": t("report.fig_target", lang, year=h.target_year),
                "value": rd.format_value(h.target_value, kt, lang),
                "note": t(
                    "report.fig_target_rule",
                    lang,
                    base_year=h.base_year,
                    base=format_number(h.base_value, lang),
                    reduction=format_percent(h.reduction * 100, lang),
                ),
            },
            {
                "label": t("report.fig_gap", lang),
                "value": rd.format_value(h.gap, kt, lang) if h.gap > 0 else t("report.fig_target_met", lang),
                "note": t(
                    "report.fig_gap_value",
                    lang,
                    gap_pct=format_percent(h.gap_pct, lang),
                    year=h.latest_year,
                )
                if h.gap > 0
                else "",
            },
            *([required] if required is not None else []),
            *([projection] if projection is not None else []),
        ],
        "statuses": items,
        "snapshot_ids": list(h.snapshot_ids),
    }


def _pace_verdict(h: rd.Headline, lang: str) -> str:
    """The lead's last sentence: where the current pace (the card's projection) leaves the target year's
    emissions, and when it reaches the target ("" without a projection, as the card)."""
    if h.projected_value is None or h.latest_year >= h.target_year:
        return ""
    projected = format_number(h.projected_value, lang)
    if h.projected_value <= h.target_value:
        return " " + t("report.headline_pace_met", lang, projected=projected, target_year=h.target_year)
    reached = (
        t("report.headline_pace_reached", lang, year=h.year_reached)
        if h.year_reached is not None
        else t("report.headline_pace_never", lang)
    )
    return " " + t(
        "report.headline_pace_above", lang, projected=projected, target_year=h.target_year, reached=reached
    )


def _breakdown_table(engine: Engine, lang: str) -> Table | None:
    """The statuses of the indicators' breakdowns (one row each, a column per method), in display order."""
    try:
        frame = rd.dashboard_frame(engine, lang, part="breakdowns")
    except rd.MissingDataError:
        return None
    if frame.height == 0:
        return None
    methods = list(dict.fromkeys(frame.get_column("method").to_list()))
    rows: dict[str, dict[str, str]] = {}
    for r in frame.iter_rows(named=True):
        rows.setdefault(r["indicator"], {})[r["method"]] = _status_name(r["status"], lang)
    return Table(
        t("report.breakdowns_caption", lang),
        [t("report_col.indicator", lang), *(t(f"method.{m}", lang) for m in methods)],
        [[name, *(by_method.get(m, NOT_AVAILABLE) for m in methods)] for name, by_method in rows.items()],
        [False] * (1 + len(methods)),
    )


def _status_name(status: object, lang: str) -> str:
    key = f"status.{status}"
    return t(key, lang) if has(key) else str(status)


def _method_name(method: object, lang: str) -> str:
    key = charts.METHOD_ALIASES.get(str(method), str(method))
    return t(f"method.{key}", lang) if has(f"method.{key}") else str(method)


def first_load_text(datasets: Sequence[str], lang: str) -> str | None:
    """The line that says which datasets (their names in lang) were loaded for the first time, None when
    none was: one named, several counted ("Ensimmäinen lataus: 20 aineistoa, ei aiempaa versiota
    verrattavaksi"), the report's and the site's "what changed" alike."""
    if not datasets:
        return None
    if len(datasets) == 1:
        return t("report.first_load_one", lang, dataset=datasets[0])
    return t("report.first_load_many", lang, n=format_number(len(datasets), lang))


def _changes_context(found: rd.Changes, period: ReportPeriod, lang: str) -> dict[str, Any]:
    counts = ("rows_added", "rows_revised", "rows_confirmed", "rows_reflagged")
    snaps = found.snapshots
    # a dataset's first load has nothing earlier to compare with: said in one line, not listed as a change
    # (a first run listed every dataset with all its rows "new")
    first = snaps.filter(pl.col("first_load"))
    first_load = first_load_text(
        [rd.dataset_label(r["dataset_id"], lang, r["title"]) for r in first.iter_rows(named=True)], lang
    )
    later = snaps.filter(~pl.col("first_load"))
    new_data = None
    if later.height:
        new_data = Table(
            t("report.new_data_caption", lang),
            [t(f"report_col.{k}", lang) for k in ("dataset", "fetched", *counts, "demo")],
            [
                [
                    rd.dataset_label(r["dataset_id"], lang, r["title"]),
                    format_datetime(r["fetched_at"], lang),
                    *(format_number(r[k], lang) for k in counts),
                    format_cell(r["is_demo"], "is_demo", lang),
                ]
                for r in later.iter_rows(named=True)
            ],
            [False, False, *(True for _ in counts), False],
            compact_cards=True,
        )
    # values changed, then values withdrawn, then flags changed with the values kept (a provisional figure
    # made final is not a revision: a reader looking for the changed number would find none)
    revised = [
        t(
            f"report.{item}",
            lang,
            dataset=rd.dataset_label(r["dataset_id"], lang, r["title"]),
            rows=format_number(r[column], lang),
            date=format_date(r["fetched_at"], lang),
        )
        for item, column in (
            ("revised_item", "rows_revised"),
            ("withdrawn_item", "rows_withdrawn"),
            ("confirmed_item", "rows_confirmed"),
            ("reflagged_item", "rows_reflagged"),
        )
        for r in snaps.filter(pl.col(column) > 0).iter_rows(named=True)
    ]
    flips = None
    if found.flips.height:
        flips = Table(
            t(
                "report.flips_caption",
                lang,
                before=format_date(rd.local_time(found.start), lang),
                after=format_date(found.as_of, lang),
            ),
            [t(f"report_col.{k}", lang) for k in ("indicator", "area", "method", "before", "after", "cause")],
            [
                [
                    charts.indicator_label(str(r["indicator"]), lang),
                    rd.area_label(str(r["area"]), lang),
                    _method_name(r["method"], lang),
                    _status_name(r["status_before"], lang) if r["status_before"] else NOT_AVAILABLE,
                    _status_name(r["status_after"], lang),
                    label("cause", str(r["cause"]).replace(" ", "_"), lang),
                ]
                for r in found.flips.iter_rows(named=True)
            ],
            [False] * 6,
        )
    sources = None
    if found.sources.height:
        sources = Table(
            t(
                "report.sources_caption",
                lang,
                date=format_date(found.as_of, lang),
            ),
            [
                t(f"report_col.{k}", lang)
                for k in (
                    "dataset",
                    "state",
                    "state_before",
                    "latest_period",
                    "expected_period",
                    "last_fetch",
                )
            ]
            + [t("report_col.error", lang)],
            [
                [
                    rd.dataset_label(str(r["dataset_id"]), lang, r["title"]),
                    t(f"freshness.status_{r['status']}", lang),
                    t(f"freshness.status_{r['state_before']}", lang) if r["state_before"] else NOT_AVAILABLE,
                    rd.of_areas(
                        charts.last_period_text(r["last_period_end"], r["tracks"], lang), r.get("areas"), lang
                    ),
                    charts.expected_period_text(r["expected_period_end"], r["tracks"], lang),
                    format_cell(r["last_fetch"], "", lang),
                    str(r["last_error"] or NOT_AVAILABLE),
                ]
                for r in found.sources.iter_rows(named=True)
            ],
            [False] * 7,
            message_columns=frozenset({6}),
            compact_cards=True,
        )
    failed = None
    if found.failed_runs.height:
        failed = Table(
            t("report.failed_caption", lang),
            [t(f"report_col.{k}", lang) for k in ("dataset", "started", "outcome", "error")],
            [
                [
                    rd.dataset_label(str(r["dataset_id"] or r["job"]), lang),
                    format_datetime(r["started_at"], lang),
                    label("outcome", str(r["outcome"]), lang),
                    str(r["error"] or NOT_AVAILABLE),
                ]
                for r in found.failed_runs.iter_rows(named=True)
            ],
            [False] * 4,
            message_columns=frozenset({3}),
        )
    reconciliation = _reconciliation_table(found.reconciliation, lang)
    if period.kind == "week" and (found.start, found.end) == (period.start, period.end):
        heading = t("report.changes_heading_week", lang, week=period.number)
    elif period.kind == "week":  # the seven days up to the compile time
        heading = t(
            "report.changes_heading_days",
            lang,
            start=format_datetime(rd.local_time(found.start), lang),
            end=format_datetime(rd.local_time(found.end), lang),
        )
    else:
        heading = t("report.changes_heading_half", lang, period=_half_name(period, lang))
    return {
        "heading": heading,
        "first_load": first_load,
        "new_data": new_data,
        "revised": revised,
        "values_revised": bool(snaps.height) and bool((snaps["rows_revised"] > 0).any()),
        "flips": flips,
        "sources": sources,
        "failed": failed,
        "reconciliation": reconciliation,
        "reconciliation_none": t(
            "report.reconciliation_none"
            if found.reconciliation_checked
            else "report.reconciliation_unchecked",
            lang,
        ),
    }


def _reconciliation_table(found: pl.DataFrame | None, lang: str) -> Table | None:
    """Cross-source checks beyond their tolerance (a warning: the data were loaded)."""
    if found is None or found.height == 0:
        return None
    columns = ("check", "area", "period", "difference", "tolerance", "compared")
    # each column one quantity: its decimals from its most precise value, as in the charts' tables
    precision = column_precisions(found.select(pl.col("value", "tolerance").cast(pl.Float64)))

    def percent(value: float | None, column: str, *, signed: bool = False) -> str:
        if value is None or math.isnan(value):
            return NOT_AVAILABLE
        return format_percent(value, lang, shown_decimals(value, precision[column][None]), signed=signed)

    rows = []
    for r in found.iter_rows(named=True):
        of = charts.indicator_label(str(r["of"]), lang)
        against = str(r["against"])
        if against.startswith("sum of "):
            against = t("report.reconciliation_sum", lang, of=of)
        else:
            against = charts.indicator_label(against, lang)
        rows.append(
            [
                charts.indicator_label(str(r["indicator"]), lang),
                rd.area_label(str(r["area"]), lang),
                format_period(str(r["period"]), lang),
                percent(r["value"], "value", signed=True),
                "±" + percent(r["tolerance"], "tolerance"),
                t("report.reconciliation_compared", lang, of=of, against=against),
            ]
        )
    return Table(
        t("report.reconciliation_caption", lang),
        [t(f"report_col.{k}", lang) for k in columns],
        rows,
        [False, False, False, True, True, False],
    )


def peer_section(engine: Engine, lang: str, shared: dict[Any, Any] | None = None) -> dict[str, Any]:
    """The peer section's texts and its two tables: the home city's standings and its totals by source
    (`shared`: a run's cache of what every language reads alike)."""
    standings = peers.standing_rows(engine, lang, shared)
    totals = peers.reconciliation_rows(engine, lang)
    return {
        "heading": t("peers.heading", lang),
        "intro": t("peers.intro", lang),
        "none": t("peers.none", lang),
        "reconciliation_heading": t("peers.reconciliation_heading", lang),
        "standings": Table(
            t("peers.standings_caption", lang),
            [t(f"peers.col_{k}", lang) for k in peers.STANDING_COLUMNS],
            standings,
            [False, False, True, True, True, False, False],
        )
        if standings
        else None,
        "reconciliation": Table(
            t("peers.reconciliation_caption", lang),
            [t(f"peers.col_{k}", lang) for k in peers.RECONCILIATION_COLUMNS],
            totals,
            [False, False, True, True, True],
        )
        if totals
        else None,
    }


def _half_name(period: ReportPeriod, lang: str) -> str:
    """A half-year as the report names it: its months ("heinä–joulukuu 2026"), as format_period."""
    return format_period(period.key, lang)


#: Where the tracker's methods depart from a reference implementation or need a word of explanation
#: (indicators.methods docstrings give the details); shown in every report under "Method notes".
METHOD_NOTES: Final[tuple[str, ...]] = ("precision", "german_points", "opensdg_zero", "opensdg_single")


def _method_notes(lang: str) -> dict[str, Any]:
    return {
        "heading": t("method_note.heading", lang),
        "items": [t(f"method_note.{key}", lang) for key in METHOD_NOTES],
    }


def _status_table(
    engine: Engine, lang: str, notes: Mapping[tuple[str, str], Markup] | None = None
) -> tuple[Table | None, list[dict[str, Any]]]:
    """Every indicator's status by every method with its reason; with `notes` (report.notes.report_notes)
    a last column holding each indicator's staff notes, on its first row, beside the numbers they explain.
    Also the notes on an indicator or area the table has no row for (name and HTML), to show below it."""
    notes = notes or {}
    frame = rd.status_frame(engine, lang)
    keys_in_table = {(r["indicator_id"], r["area"]) for r in frame.iter_rows(named=True)}
    others = [
        {
            "name": f"{charts.indicator_label(indicator, lang)} ({rd.area_label(area, lang)})",
            "html": notes[(indicator, area)],
        }
        for indicator, area in sorted(set(notes) - keys_in_table)
    ]
    if frame.height == 0:
        return None, others
    keys = ["indicator", "area", "method", "status", "reason", "years"]
    shown = keys_in_table & set(notes)
    rows: list[list[str | list[str]]] = []
    seen: set[tuple[str, str]] = set()
    for r in frame.iter_rows(named=True):
        row: list[str | list[str]] = [
            r["indicator"],
            r["area_name"],
            r["method_name"],
            r["status_name"],
            r["reason"],
            f"{r['base_year'] or NOT_AVAILABLE}–{r['latest_year'] or NOT_AVAILABLE}",
        ]
        if shown:
            key = (r["indicator_id"], r["area"])
            row.append(notes.get(key, Markup("")) if key not in seen else "")
            seen.add(key)
        rows.append(row)
    if shown:
        keys.append("note")
    table = Table(
        t("report.indicator_status_caption", lang),
        [t(f"report_col.{k}", lang) for k in keys],
        rows,
        [False] * len(keys),
    )
    return table, others


def _derivations(chart_names: Sequence[str], lang: str) -> list[tuple[str, str]]:
    """(name, how it is derived) of each value the report's charts draw that is no source's figure (the
    carbon-neutrality balance's assumed sink and target residual), as the site's indicator pages say it."""
    if "neutrality_balance" not in chart_names:
        return []
    catalogue = load_indicator_catalogue()
    texts = derivation_texts(catalogue, lang)
    return [(charts.indicator_label(i, lang), texts[i]) for i in BALANCE_INDICATORS if i in texts]


def _provenance_table(engine: Engine, chart_ids: Mapping[str, Sequence[int]], lang: str) -> Table | None:
    """One row per snapshot behind the report: the snapshot with its fetch time (and whether it is demo
    data), the dataset with its full title, publisher and licence, every payload's URL and sha256 prefix,
    and the sections that use it. Five columns where there were nine (snapshot, fetch time and demo in one;
    dataset and title; publisher and licence; URLs and digests; the sections), the URLs wrapping, so that
    the table fits a 1 280 px window without scrolling sideways."""
    users: dict[int, list[str]] = {}
    for heading, ids in chart_ids.items():
        for i in ids:
            users.setdefault(i, []).append(heading)
    frame = rd.provenance_frame(engine, sorted(users), lang)
    if frame.height == 0:
        return None
    rows: list[list[str | list[str]]] = []
    for (snapshot_id,), part in frame.partition_by("snapshot_id", as_dict=True, maintain_order=True).items():
        first = part.row(0, named=True)
        fetched = format_datetime(part.get_column("fetched_at").max(), lang)  # type: ignore[arg-type]
        demo = f"{t('report_col.demo', lang)}: {format_cell(first['is_demo'], 'is_demo', lang)}"
        rows.append(
            [
                Markup("{}<br>{}<br>{}").format(snapshot_id, fetched, demo),
                Markup("{}<br>{}").format(
                    rd.dataset_label(first["dataset_id"], lang, first["title"]), first["title"]
                ),
                Markup("{}<br>{}").format(first["publisher"], first["licence"]),
                [f"{r['url']} · {r['sha256_prefix']}" for r in part.iter_rows(named=True)],
                list(users.get(int(str(snapshot_id)), [])),
            ]
        )
    keys = ("snapshot", "fetched", "dataset", "title_at_source", "publisher", "licence", "url", "sha256")
    col = {key: t(f"report_col.{key}", lang) for key in (*keys, "charts")}
    return Table(
        t("report.provenance_caption", lang),
        [
            *(f"{col[a]} · {col[b]}" for a, b in zip(keys[::2], keys[1::2], strict=True)),
            col["charts"],
        ],
        rows,
        [False] * 5,
        code_columns=frozenset({3}),
        print_widths=(12, 20, 16, 34, 18),
    )


# ---------------------------------------------------------------------------------------------------------
# the whole report


@dataclass
class ReportResult:
    """What build_report wrote: the HTML path, the charts and the time each step took (seconds)."""

    path: Path
    charts: list[ChartResult]
    timings: dict[str, float]


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _ui(lang: str) -> dict[str, str]:
    """Every fixed string of the template, by its key in the report section."""
    keys = (
        "skip",
        "toc",
        "chart_notes",
        "figures_label",
        "status_heading",
        "other_methods_heading",
        "other_methods_intro",
        "new_data_heading",
        "new_data_none",
        "revised_heading",
        "revised_none",
        "flips_heading",
        "flips_none",
        "sources_heading",
        "sources_none",
        "reconciliation_heading",
        "failed_heading",
        "failed_none",
        "indicator_status_heading",
        "indicator_status_intro",
        "indicator_status_none",
        "other_notes_heading",
        "charts_heading",
        "downloads",
        "png_link",
        "svg_link",
        "csv_link",
        "provenance_heading",
        "provenance_intro",
        "provenance_none",
        "provenance_derived",
        "headline_missing",
        "demo_banner",
        "no_js",
    )
    return {k: t(f"report.{k}", lang) for k in keys}


def changes_window(period: ReportPeriod, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end) (naive UTC) a report's "what changed" covers, at `now` (naive UTC).

    A week's report covers the CHANGES_DAYS up to its compile time, the whole week once the week is over:
    the scheduler compiles it on Monday at 07:00, when the week so far is seven hours long and "what changed
    in week 50" missed every source loaded in the days before; consecutive Monday reports now cover
    consecutive weeks, nothing twice and nothing left out, as the site's home page says "the last seven
    days". A half-year's report covers the half-year so far.
    """
    end = max(min(period.end, now), period.start)
    start = period.start if period.kind == "half" else min(end - timedelta(days=CHANGES_DAYS), period.start)
    return start, end


def period_changes(engine: Engine, period: ReportPeriod) -> rd.Changes:
    """What changed in the report's window (changes_window): the same for every language, so computed once
    per run."""
    return rd.changes(engine, *changes_window(period, datetime.now(UTC).replace(tzinfo=None)))


def build_report(
    engine: Engine,
    period: ReportPeriod,
    *,
    lang: str = "fi",
    out_dir: Path | None = None,
    images: bool = True,
    lock: HeldLock | None = None,
) -> ReportResult:
    """One report (weekly or half-yearly) in one language, in <out>/<period>/<lang>/ (build_reports)."""
    return build_reports(engine, period, (lang,), out_dir=out_dir, images=images, lock=lock)[lang]


def is_closed(period: ReportPeriod, now: datetime | None = None) -> bool:
    """Whether the period has ended (its report then shows the data as published by its end)."""
    return period.end <= (now or datetime.now(UTC).replace(tzinfo=None))


def period_line(period: ReportPeriod, lang: str, generated: str, *, closed: bool) -> str:
    """The line under the report's title: the period's days as one span ("Viikko 7.–13.12.2026", "Week
    7–13 Dec 2026", format_day_range) and when it was compiled; a week still going says its changes are
    those of the seven days before the compile time."""
    return t(
        "report.period_line_open_week" if period.kind == "week" and not closed else "report.period_line",
        lang,
        days=format_day_range(period.first_day, period.last_day, lang),
        generated=generated,
    )


def nothing_to_report(engine: Engine, period: ReportPeriod, now: datetime | None = None) -> str | None:
    """Why the period's report would show no data at all (None: it has some): the database holds none
    yet, or the period is over and nothing had been fetched by its end (its report shows the data as
    published by then: the first half-year's council report of a tracker installed after it ended)."""
    with engine.connect() as conn:
        first = conn.execute(select(func.min(schema.snapshot.c.fetched_at))).scalar()
    if first is None:
        return (
            f"report {period.key} not written: the database holds no data yet (`kestava ingest`, or the "
            "scheduler's ingests, load them first)"
        )
    if is_closed(period, now) and first >= period.end:
        fetched = first.replace(tzinfo=UTC).astimezone(HELSINKI)
        return (
            f"report {period.key} not written: it would show no data. The period ended on "
            f"{period.last_day:%Y-%m-%d} and its report shows the data as published by then, but this "
            f"database's first data were fetched on {fetched:%Y-%m-%d}"
        )
    return None


@contextmanager
def period_database(engine: Engine, period: ReportPeriod) -> Iterator[Engine]:
    """The database a period's report reads. For a closed period, a copy holding only what had been
    fetched by the period's end, computed as of its last day (storage.as_of): regenerating the report
    later, after new data or revisions, gives the same numbers as on the day it was first made. For the
    current period, the database itself. A period with no data to show (nothing_to_report) raises
    NothingToReportError: no report is written."""
    reason = nothing_to_report(engine, period)
    if reason is not None:
        raise NothingToReportError(reason)
    if not is_closed(period):
        yield engine
        return
    with database_as_of(engine, period.end) as copy:
        summary = compute(copy, force=True, today=period.last_day)
        if summary.errors:
            log.warning("as of %s, some indicators could not be computed: %s", period.key, summary.errors)
        yield copy


LINK_KEYS: Final = ("languages_label", "periods_label", "xlsx_link")


def report_links(
    root: Path, period: ReportPeriod, lang: str, *, together: Sequence[str] = ()
) -> dict[str, Any]:
    """Links from <root>/<period>/<lang>/report.html to the same report in the other languages and to
    the previous and next period's report in lang: relative (../sv/report.html,
    ../../2026-W47/fi/report.html), so they work from any copy of the report tree and through the
    <lang> symbolic link to the hidden version folder beside it (common.atomic). Only to reports that
    exist, or that are written in the same run (together: the languages build_reports writes)."""

    def exists(key: str, other: str) -> bool:
        return (root / key / other / HTML_NAME).is_file()

    languages = [
        {
            "lang": other,
            "href": f"../{other}/{HTML_NAME}",
            "text": t(f"report_links.lang_{other}", lang),
            "current": other == lang,
        }
        for other in LANGS
        if other == lang or other in together or exists(period.key, other)
    ]
    steps = []
    for key, period_of in (("previous", period.previous()), ("next", period.following())):
        if exists(period_of.key, lang):
            steps.append(
                {
                    "rel": "prev" if key == "previous" else "next",
                    "href": f"../../{period_of.key}/{lang}/{HTML_NAME}",
                    "text": t(f"report_links.{key}_{period.kind}", lang, name=_period_name(period_of, lang)),
                }
            )
    return {"languages": languages if len(languages) > 1 else [], "periods": steps}


def _period_name(period: ReportPeriod, lang: str) -> str:
    """A period as the report's title names it: week 48/2026, or the months of the half-year."""
    return format_period(period.key, lang)


def build_reports(
    engine: Engine,
    period: ReportPeriod,
    langs: Sequence[str] = LANGS,
    *,
    out_dir: Path | None = None,
    images: bool = True,
    renderer: Renderer | None = None,
    lock: HeldLock | None = None,
) -> dict[str, ReportResult]:
    """The report of one period in several languages, each in <out>/<period>/<lang>/.

    Each folder gets report.html (self-contained: the Vega libraries inlined once, no request to any
    host), and per chart a CSV and an XLSX of its data table and, with images, a PNG and an SVG
    (vl-convert). Each folder is published in one step (common.atomic): a reader, or a run killed at any
    moment, finds the previous complete report or the new one, never a mix. The reports link to each
    other even before they exist (report_links).
    A closed period's report reads the data as published by the period's end (period_database); the
    period's changes are computed once for all languages. `renderer`: the caller's (started early, see
    Renderer.warm), else one for this call. `lock`: the report's job lock the caller holds, confirmed
    before each language is published (a run that lost it publishes nothing more: LockLostError).
    """
    langs = tuple(dict.fromkeys(langs))  # a language asked twice is written once (one folder, one lock)
    for lang in langs:
        check_lang(lang)
    root = out_dir or get_settings().reports
    results = {}
    step = time.perf_counter()
    with (
        period_database(engine, period) as source,
        nullcontext(renderer) if renderer is not None else Renderer(None if images else 0) as renderer,
    ):
        as_of_seconds = time.perf_counter() - step
        step = time.perf_counter()
        found = period_changes(source, period)
        seconds = time.perf_counter() - step
        shared: dict[Any, Any] = {}  # the charts' data, the same in every language
        # Every language's charts are built and handed to the drawing workers before the first language
        # waits for its drawings: the workers draw one language's charts while this process builds the
        # next one's (one language after another, each waited for, left the workers idle while this
        # process built, and this process idle while they drew). Each language is published (atomically,
        # common.atomic) as soon as it is finished; one that fails leaves its previous report in place,
        # and the languages not yet finished too (the error goes up, as before).
        # one compile time for the run: every language says the same "Compiled …" (each asking the clock
        # when it was finished said 23.18 in Finnish and 23:19 in Swedish and English)
        compiled = datetime.now(HELSINKI).replace(tzinfo=None)
        with ExitStack() as unfinished:
            started = {}
            for lang in langs:
                final = root / period.key / lang
                publishing = unfinished.enter_context(ExitStack())  # closed with the error if one is raised
                folder = publishing.enter_context(publish_directory(final))
                links = report_links(root, period, lang, together=langs)
                report = _start_report(
                    source,
                    period,
                    lang,
                    folder,
                    renderer=renderer if images else None,
                    found=found,
                    links=links,
                    shared=shared,
                    compiled=compiled,
                )
                started[lang] = (final, publishing, report)
            for lang, (final, publishing, report) in started.items():
                result = _finish_report(report)
                if lock is not None:
                    lock.confirm(engine)  # still ours: else the error leaves the previous report in place
                publishing.close()  # published
                results[lang] = ReportResult(final / HTML_NAME, result.charts, result.timings)
                results[lang].timings["changes_shared"] = seconds
                results[lang].timings["as_of_copy"] = as_of_seconds
    return results


@dataclass
class _StartedReport:
    """One language's report with its charts built and their drawings started (_start_report), to be
    finished (_finish_report) in its unpublished folder."""

    engine: Engine
    period: ReportPeriod
    lang: str
    folder: Path
    links: Mapping[str, Any]
    shared: dict[Any, Any] | None
    head: dict[str, Any] | None
    changed: dict[str, Any]
    statuses: Table | None
    other_notes: list[dict[str, Any]]
    results: list[ChartResult]
    timings: dict[str, float]
    started: float
    compiled: datetime  # the run's compile time, Finnish local time: the same in every language


def _start_report(
    engine: Engine,
    period: ReportPeriod,
    lang: str,
    folder: Path,
    *,
    renderer: Renderer | None,
    found: rd.Changes | None,
    links: Mapping[str, Any],
    compiled: datetime,
    shared: dict[Any, Any] | None = None,
) -> _StartedReport:
    """Start the report's files in folder (an unpublished directory): the sections' data, and every
    chart built, its CSV and XLSX written and its drawing handed to the renderer."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    today = datetime.now(HELSINKI).date()
    as_of = min(period.last_day, today)

    step = time.perf_counter()
    head = headline_context(engine, lang)
    timings["headline"] = time.perf_counter() - step
    step = time.perf_counter()
    changed = _changes_context(found or period_changes(engine, period), period, lang)
    timings["changes"] = time.perf_counter() - step
    step = time.perf_counter()
    statuses, other_notes = (
        _status_table(engine, lang, report_notes(engine, period.last_day, lang))
        if period.kind == "half"
        else (None, [])
    )
    timings["statuses"] = time.perf_counter() - step

    results = []
    builders, phone_layouts = _all_builders(engine, lang, as_of, shared)
    for name in CHART_NAMES:
        result = _build_chart(name, builders[name], lang, folder, renderer=renderer)
        if name in phone_layouts and result.spec is not None:
            try:
                result.phone = phone_layout(phone_layouts[name])
            except (rd.MissingDataError, ValueError) as error:  # as _build_chart: the wide chart, scaled
                log.warning("report: chart %s has no phone layout: %s", name, error)
        if name == "progress_dashboard" and result.error is None:
            result.breakdowns = _breakdown_table(engine, lang)
            if result.breakdowns is not None:
                count = len(result.breakdowns.rows)
                result.breakdowns_summary = t("report.breakdowns_summary", lang, rows=count)
        results.append(result)
    return _StartedReport(
        engine,
        period,
        lang,
        folder,
        links,
        shared,
        head,
        changed,
        statuses,
        other_notes,
        results,
        timings,
        started,
        compiled,
    )


def _finish_report(report: _StartedReport) -> ReportResult:
    """Finish a started report: wait for its drawings, write the images and the page; the result's path
    is in its (still unpublished) folder."""
    engine, period, lang, folder = report.engine, report.period, report.lang, report.folder
    links, shared, head, changed = report.links, report.shared, report.head, report.changed
    statuses, other_notes, results, timings = (
        report.statuses,
        report.other_notes,
        report.results,
        report.timings,
    )
    _write_images(results, folder)
    for result in results:
        timings[f"chart:{result.name}"] = result.seconds_build + result.seconds_render

    step = time.perf_counter()
    chart_ids = {r.heading: r.snapshot_ids for r in results if r.snapshot_ids}
    if head is not None:
        chart_ids = {head["heading"]: head["snapshot_ids"], **chart_ids}
    # the peer section's tables (standings, totals by source) are numbers the reader sees too
    peer_ids = peers.section_snapshot_ids(engine, shared)
    if peer_ids:
        chart_ids[t("peers.heading", lang)] = peer_ids
    provenance = _provenance_table(engine, chart_ids, lang)
    derivations = _derivations([r.name for r in results], lang)
    is_demo = _any_demo(engine, [i for ids in chart_ids.values() for i in ids]) or any(
        r.spec and r.spec["usermeta"]["kestava"]["is_demo"] for r in results
    )
    generated = format_datetime(report.compiled, lang)
    if period.kind == "week":
        title = t("report.title_weekly", lang, week=period.number, year=period.year)
    else:
        title = t("report.title_half", lang, period=_half_name(period, lang))
    specs = {
        r.name: Markup(  # noqa: S704 - escaped for a <script> element by _script_safe
            _script_safe(
                json.dumps(page_spec(r.spec, r.width, r.phone), ensure_ascii=False, separators=(",", ":"))
            )
        )
        for r in results
        if r.spec is not None
    }
    bundle = javascript_bundle()
    if "</script" in bundle.lower():
        raise RuntimeError("the Vega bundle contains '</script' and cannot be inlined")
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            csp_policy=csp.POLICY_PLACEHOLDER,
            lang=lang,
            title=title,
            kind=period.kind,
            # a week still going (compiled on its Monday) reports the seven days before the compile time
            period_line=period_line(period, lang, generated, closed=is_closed(period)),
            as_published=t("report.as_published", lang, end=format_date(period.last_day, lang))
            if is_closed(period)
            else None,
            footer=t("report.footer", lang, generated=generated),
            ui=_ui(lang),
            demo_notice=t("meta.demo_notice", lang),
            is_demo=is_demo,
            headline=head,
            changes=changed,
            statuses=statuses,
            other_notes=other_notes,
            charts=[r for r in results if r.name not in peers.PEER_CHARTS],
            peer_charts=[r for r in results if r.name in peers.PEER_CHARTS],
            peer_section=peer_section(engine, lang, shared),
            specs=specs,
            provenance=provenance,
            derivations=derivations,
            print_widths=sorted(set(provenance.print_widths)) if provenance else [],
            method_notes=_method_notes(lang),
            level_colours=LEVEL_COLOURS,
            links=links,
            links_ui={k: t(f"report_links.{k}", lang) for k in LINK_KEYS},
            bundle=Markup(bundle),  # noqa: S704 - vl-convert's own library code, checked above
        )
    )
    path = folder / HTML_NAME
    path.write_text(csp.with_policy(html), encoding="utf-8")
    timings["html"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - report.started
    return ReportResult(path, results, timings)


def write_weekly_report(
    engine: Engine,
    *,
    lang: str = "fi",
    week: str | None = None,
    out_dir: Path | None = None,
    images: bool = True,
    lock: HeldLock | None = None,
) -> Path:
    """Write the weekly report for an ISO week (default: the current one) into <out>/<YYYY-Www>/<lang>/.

    Returns the path of report.html; beside it each chart's PNG, SVG (unless images=False) and CSV.
    ValueError for a malformed week or an unsupported language.
    """
    check_lang(lang)
    period = parse_week(week) if week is not None else current_week()
    return build_report(engine, period, lang=lang, out_dir=out_dir, images=images, lock=lock).path


def write_weekly_reports(
    engine: Engine,
    langs: Sequence[str] = LANGS,
    *,
    week: str | None = None,
    out_dir: Path | None = None,
    images: bool = True,
    renderer: Renderer | None = None,
    lock: HeldLock | None = None,
) -> dict[str, Path]:
    """write_weekly_report in several languages, the week's changes computed once; report.html by language."""
    period = parse_week(week) if week is not None else current_week()
    found = build_reports(engine, period, langs, out_dir=out_dir, images=images, renderer=renderer, lock=lock)
    return {lang: result.path for lang, result in found.items()}


def write_half_year_report(
    engine: Engine,
    *,
    half: str,
    lang: str = "fi",
    out_dir: Path | None = None,
    images: bool = True,
    lock: HeldLock | None = None,
) -> Path:
    """Write the half-yearly council report (YYYY-H1 or YYYY-H2) into <out>/<YYYY-Hn>/<lang>/.

    The same building blocks as the weekly report, over the half-year, plus every indicator's status by
    every method with the reasons. Returns the path of report.html.
    """
    check_lang(lang)
    return build_report(engine, parse_half(half), lang=lang, out_dir=out_dir, images=images, lock=lock).path


def write_half_year_reports(
    engine: Engine,
    langs: Sequence[str] = LANGS,
    *,
    half: str,
    out_dir: Path | None = None,
    images: bool = True,
    lock: HeldLock | None = None,
) -> dict[str, Path]:
    """write_half_year_report in several languages in one run: the half-year's changes computed once, and
    each language linking to the others (written one by one, the Finnish report linked to no other
    language and the Swedish one not to the English); report.html by language."""
    found = build_reports(engine, parse_half(half), langs, out_dir=out_dir, images=images, lock=lock)
    return {lang: result.path for lang, result in found.items()}


# ---------------------------------------------------------------------------------------------------------
# what `kestava report` writes and says


def write_reports_for(
    engine: Engine,
    period: ReportPeriod,
    langs: Sequence[str] = LANGS,
    out: Path | None = None,
    *,
    lock: HeldLock | None = None,
) -> list[str]:
    """Write a period's report in each language in one run (build_reports) and say so, a line per language."""
    found = build_reports(engine, period, langs, out_dir=out, lock=lock)
    lines = []
    for result in found.values():
        drawn = sum(1 for c in result.charts if c.error is None)
        lines.append(
            f"wrote {result.path} ({drawn}/{len(result.charts)} charts, {result.timings['total']:.1f} s)"
        )
    return lines
