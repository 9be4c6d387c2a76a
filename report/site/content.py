"""What each page of the public site says: its texts, tables and chart, read from the database."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

import altair as alt
import polars as pl
from markupsafe import Markup
from sqlalchemy import Engine, func, select

from common.flags import flag_meanings
from indicators import query
from indicators.catalogue import (
    ChangeDerivation,
    Indicator,
    ReductionTarget,
    ShareOfYearDerivation,
    load_indicator_catalogue,
)
from indicators.peers import peer_indicators
from ingest.catalogue import load_catalogue
from ingest.citation import area_of_url, is_data_request
from ingest.licensing import publishable
from report import charts
from report import data as rd
from report import peers as report_peers
from report.charts.indicator import ChangeKind
from report.export import derivation_texts, publishable_indicator
from report.i18n import (
    CHANGE_DECIMALS,
    LANGS,
    catalogue_text,
    format_date,
    format_datetime,
    format_number,
    format_period,
    format_quantity,
    has,
    label,
    locale_signs,
    source_text,
    t,
)
from report.notes import note_html
from report.phone import phone_spec
from report.ranking import RANKED_IN_FULL, area_decimals, rank_decimals
from report.weekly import Table, first_load_text, format_cell, frame_table, headline_context, peer_section
from storage import schema
from storage.notes import list_notes
from storage.read import query_frame

HOME_AREA: Final = "049"
# the area an indicator's page draws, in this order of preference (the rest are compared in a table)
MAIN_AREAS: Final[tuple[str, ...]] = (HOME_AREA, "FI", "EU27_2020", "PKS")
GOALS: Final[range] = range(1, 18)
# the EU circular-economy monitoring framework: the dimension of an indicator from its Eurostat code
CEI_DIMENSIONS: Final[tuple[tuple[str, str], ...]] = (
    ("cei_pc", "production_consumption"),
    ("cei_wm", "waste_management"),
    ("cei_srm", "secondary_materials"),
    ("cei_cie", "competitiveness"),
    ("cei_gsr", "global_sustainability"),
)
REVISIONS_SHOWN: Final = 20
NEAR: Final = 5  # the areas shown on each side of the main area before a longer ranking (_near_comparison)
# a snapshot's counts in the site's tables, and their headers: a changed value is revised; a value kept with
# its flag changed is confirmed (provisional made final) or reflagged (any other flag change)
SNAPSHOT_COUNTS: Final = ("rows_added", "rows_revised", "rows_confirmed", "rows_reflagged")
SNAPSHOT_COUNT_HEADERS: Final = ("col_added", "col_revised", "col_confirmed", "col_reflagged")


@dataclass
class SiteData:
    """The database of one build, with what the pages share read once (all values, each language's
    statuses) instead of once per page."""

    engine: Engine
    cache: dict[Any, Any] = field(default_factory=dict)


@dataclass
class SiteChart:
    """A chart of a page: its name (file stem), the Altair chart, its table for the page and its snapshots."""

    name: str
    chart: alt.TopLevelMixin
    snapshot_ids: list[int] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)
    # the chart drawn for a phone (report.phone): by default the spec made narrow; a chart whose
    # layout depends on its width (a peer or sector chart) gives its own phone layout
    phone: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.spec:  # the Vega-Lite spec, made once: the page's title and alt text and the drawing
            self.spec = self.chart.to_dict(validate=False)
        self.phone = phone_spec(self.phone or self.spec)


@dataclass
class Page:
    """One page: where it goes (relative POSIX path), its template, its context and its charts."""

    path: str
    template: str
    lang: str
    context: dict[str, Any]
    charts: list[SiteChart] = field(default_factory=list)
    inputs: str = ""  # a digest of everything the page is made from ("" : always made anew)


def indicator_path(lang: str, indicator: str) -> str:
    """The permanent address of an indicator's page (the same in every build)."""
    return f"{lang}/indicators/{indicator}.html"


def goal_path(lang: str, goal: int) -> str:
    """The permanent address of an SDG's page."""
    return f"{lang}/goals/sdg-{goal}.html"


def period_date(period: str) -> date:
    """The first day of a stored period: '2023', '2023-05', '2026-W45' or '2026-11-02'."""
    if re.fullmatch(r"\d{4}", period):
        return date(int(period), 1, 1)
    if m := re.fullmatch(r"(\d{4})-(\d{2})", period):
        return date(int(m[1]), int(m[2]), 1)
    if m := re.fullmatch(r"(\d{4})-W(\d{2})", period):
        return date.fromisocalendar(int(m[1]), int(m[2]), 1)
    return date.fromisoformat(period)


def _name(entry: Indicator, lang: str) -> str:
    return entry.name.get(lang)


def _visible(catalogue_ids: Sequence[str], stored: set[str]) -> list[str]:
    """The catalogue's indicators that have values (a breakdown by any of its parts), in display order."""
    catalogue = load_indicator_catalogue()
    found = [i for i in catalogue_ids if any(s == i or s.startswith(f"{i}.") for s in stored)]
    return sorted(found, key=catalogue.display_key)


def stored_indicators(data: SiteData) -> set[str]:
    """Every indicator id with at least one stored value."""
    with data.engine.connect() as conn:
        rows = conn.execute(select(schema.indicator_value.c.indicator_id).distinct()).scalars().all()
    return set(rows)


def listed_indicators(data: SiteData) -> list[str]:
    """The indicators that get a page: the catalogue's, with values, in display order."""
    catalogue = load_indicator_catalogue()
    published = [i for i in catalogue.indicators if publishable_indicator(catalogue, i)]
    return _visible(published, stored_indicators(data))


def _statuses(
    data: SiteData, lang: str, indicators: Sequence[str] | None = None
) -> dict[str, list[dict[str, str]]]:
    """Per indicator id: its methods' latest statuses (name, status, level, reason) in lang; a status measured
    without a target (the methods' trend-only variants) says so (site.status_no_target)."""
    key = ("statuses", lang)
    if key not in data.cache:
        data.cache[key] = rd.status_frame(data.engine, lang)
    frame: pl.DataFrame = data.cache[key]
    if indicators:
        frame = frame.filter(pl.col("indicator_id").is_in(list(indicators)))
    found: dict[str, list[dict[str, str]]] = {}
    for r in frame.iter_rows(named=True):
        status = str(r["status_name"])
        if not rd.against_target(r) and r["level"] != "none":
            # a trend-only verdict says so where it stands (beside ghg_total's target-based one on a goal
            # page, "significant progress" read as on track)
            status = t("site.status_no_target", lang, status=status)
        found.setdefault(str(r["indicator_id"]), []).append(
            {
                "method": str(r["method_name"]),
                "method_id": str(r["method"]),
                "status": status,
                "level": str(r["level"]),
                "reason": str(r["reason"]),
                "area": str(r["area_name"]),
                "years": _years_text(r),
                "target_year": str(r["target_year"] or ""),
            }
        )
    return found


def _years_text(row: dict[str, Any]) -> str:
    """The years a status was measured over, "2015–2024", and the target's year after an arrow when it was
    measured against a target (a trend-only verdict's horizon, Open SDG's 2030, is not a target's year)."""
    years = [str(row[k]) for k in ("base_year", "latest_year") if row.get(k) is not None]
    text = "–".join(years)
    if row.get("target_year") is not None and rd.against_target(row):
        text = f"{text} → {row['target_year']}" if text else str(row["target_year"])
    return text


def _summary(statuses: list[dict[str, str]]) -> dict[str, str] | None:
    """The status the indicator lists show: the first method's (the order of the catalogue's methods)."""
    return statuses[0] if statuses else None


def _fetched(data: SiteData, dataset_id: str) -> list[tuple[str, str | None]]:
    """The (url, area) of each payload holding values in the dataset's newest snapshot (ingest.citation),
    read once per build; empty when the dataset was never loaded."""
    key = ("fetched", dataset_id)
    if key not in data.cache:
        snap, pay = schema.snapshot, schema.payload
        newest = select(func.max(snap.c.id)).where(snap.c.dataset_id == dataset_id).scalar_subquery()
        with data.engine.connect() as conn:
            rows = conn.execute(
                select(pay.c.method, pay.c.url).where(pay.c.snapshot_id == newest).order_by(pay.c.seq)
            ).all()
        spec = load_catalogue().datasets[dataset_id]
        data.cache[key] = [
            (str(url), area_of_url(spec.url, str(url)))
            for method, url in rows
            if is_data_request(spec.protocol, str(method), str(url))
        ]
    found: list[tuple[str, str | None]] = data.cache[key]
    return found


def _sources(data: SiteData, entry: Indicator, area: str, lang: str) -> list[dict[str, str]]:
    """The datasets behind an indicator with their publisher, title and licence in lang, homepage, and
    the URL last fetched: the page's area's own file where the source has one per area (Syke), else the
    first file holding values (the catalogue's URL pattern when nothing was fetched yet)."""
    ingest = load_catalogue()
    found = []
    for dataset_id in sorted(load_indicator_catalogue().datasets_of(entry.id)):
        dataset = ingest.datasets.get(dataset_id)
        if dataset is None:
            continue
        source = ingest.sources[dataset.source]
        fetched = _fetched(data, dataset_id)
        own = [url for url, of in fetched if of == area]
        url = (own or [u for u, _ in fetched] or [dataset.url])[0]
        found.append(
            {
                "dataset": dataset_id,
                "title": rd.dataset_title(dataset_id, lang, dataset.title),
                "publisher": source_text(source.publisher, lang),
                "licence": source_text(source.licence, lang),
                "attribution": source_text(source.attribution, lang),
                "homepage": source.homepage,
                "url": url,
            }
        )
    return found


def _main_area(areas: Sequence[str]) -> str:
    for area in MAIN_AREAS:
        if area in areas:
            return area
    return sorted(areas)[0]


def _values(data: SiteData, indicator: str) -> pl.DataFrame:
    """The indicator's stored values (its breakdown's parts included), read once per build for all."""
    if "values" not in data.cache:
        every = query.indicator_values(engine=data.engine)
        base = (
            every.get_column("indicator").str.split(".").list.first()
            if every.height
            else pl.Series([], dtype=pl.Utf8)
        )
        data.cache["values"] = (
            every.with_columns(base.alias("base")).partition_by("base", as_dict=True, include_key=False)
            if every.height
            else {}
        )
    found: dict[tuple[str, ...], pl.DataFrame] = data.cache["values"]
    frame = found.get((indicator,))
    if frame is None:
        return query.indicator_values(indicator, engine=data.engine).head(0)
    return frame


def is_difference(entry: Indicator) -> bool:
    """Whether the indicator is itself a change or a difference (a change on the previous year or on a base
    year, two sources' gap): it can be negative or cross zero, so a change of it means nothing."""
    return isinstance(entry.derive, ChangeDerivation) or entry.derive.kind in ("reconcile", "reconcile_total")


def is_projected(entry: Indicator) -> bool:
    """Whether the site draws the engine's trend projection (and its estimates) of the indicator: not for a
    year-on-year change or two sources' gap, whose straight-line trend to the horizon means nothing (a
    change on a fixed base year is the level rescaled, and is projected as the level is): the catalogue's
    Indicator.projected, so the engine stores none for the others either."""
    return entry.projected


def change_kind(entry: Indicator) -> ChangeKind:
    """How the page's chart states the change since the first period: none for a change or a difference,
    in percentage points for a percentage, else relative."""
    if is_difference(entry):
        return "none"
    return "points" if entry.unit.strip() == "%" else "relative"


def _history_frame(values: pl.DataFrame, area: str, entry: Indicator) -> pl.DataFrame:
    """The area's own, estimated, projected and target values, and for a reduction target the straight
    path from the base year's observed value to the target (kind "path") and the engine's path required
    from the latest observed value (kind "path_from_latest", as the report draws it); no estimates nor
    projection for an indicator the site does not project (is_projected). The indicator's own values (of
    its stored kind, Indicator.value_kind: target_derived, assumption or observed) are kind "observed" here,
    the chart's name for the series' own values (charts.indicator_history names them by its observed_as)."""
    own = entry.value_kind
    kinds = [own, "estimate", "projection"] if is_projected(entry) else [own]
    kinds += ["target", "path_from_latest"]
    part = values.filter((pl.col("area") == area) & pl.col("kind").is_in(kinds)).select(
        "period",
        pl.when(pl.col("kind") == own).then(pl.lit("observed")).otherwise(pl.col("kind")).alias("kind"),
        "value",
        "lower",
        "upper",
        "snapshot_ids",
        "flags",
    )
    paths = []
    for target in entry.targets:
        if not isinstance(target, ReductionTarget) or (target.areas and area not in target.areas):
            continue
        base = part.filter((pl.col("kind") == "observed") & (pl.col("period") == str(target.base_year)))
        goal = part.filter((pl.col("kind") == "target") & (pl.col("period") == str(target.year)))
        if base.height and goal.height:
            paths.append(base.with_columns(pl.lit("path").alias("kind")))
            paths.append(goal.with_columns(pl.lit("path").alias("kind")))
    return pl.concat([part, *paths], how="vertical_relaxed").with_columns(
        pl.col("period").map_elements(period_date, return_dtype=pl.Date).alias("date")
    )


def _indicator_chart(
    data: SiteData, entry: Indicator, values: pl.DataFrame, area: str, lang: str, decimals: int | None = None
) -> SiteChart | None:
    """The page's chart: the peers ranked, the sectors stacked, or the area's history with its path (its
    values to decimals: the page's, ranking_decimals; None: each value's own)."""
    try:
        if entry.peers is not None:
            found = report_peers.shared_peer_frames(data.engine, entry.id, data.cache)
            ids = rd.snapshot_ids_of(found.standings)
            meta = replace(
                rd.chart_meta(data.engine, snapshot_ids=ids),
                method=report_peers.method_text(entry.id, found.source, lang),
            )
            chart: alt.TopLevelMixin = report_peers.peer_chart(found, meta=meta, lang=lang)
            narrow = report_peers.peer_chart(found, meta=meta, lang=lang, phone=True).to_dict(validate=False)
            return SiteChart(entry.id, chart, ids, phone=narrow)
        if entry.expanded_ids() != [entry.id]:
            frame = rd.sector_frame(data.engine, area, indicator=entry.id)
            ids = rd.snapshot_ids_of(frame)
            sectors = partial(
                charts.sector_area,
                frame,
                meta=rd.chart_meta(data.engine, snapshot_ids=ids),
                lang=lang,
                provisional_years=rd.provisional_years(frame),
            )
            return SiteChart(entry.id, sectors(), ids, phone=sectors(phone=True).to_dict(validate=False))
        history = _history_frame(values, area, entry)
        if history.filter(pl.col("kind") == "observed").height == 0:
            return None
        ids = rd.snapshot_ids_of(history)
        meta = rd.chart_meta(data.engine, snapshot_ids=ids)
        chart = charts.indicator_history(
            history.drop("snapshot_ids"),
            meta=replace(meta, sources=tuple(dict.fromkeys([*stated_by(entry, lang), *meta.sources]))),
            lang=lang,
            name=_name(entry, lang),
            area_name=rd.area_label(area, lang),
            unit_text=report_peers.unit_text(entry.id, lang),
            zero=entry.unit != "index",
            change=change_kind(entry),
            observed_as=entry.value_kind,
            decimals=decimals,
        )
        return SiteChart(entry.id, chart, ids)
    except (rd.MissingDataError, ValueError):
        return None


def _peer_comparison(found: report_peers.PeerFrames, main: str, lang: str) -> Table:
    """A peer indicator's comparison table: the chart's standings (the same cities, years, values to the
    chart's decimals and ranks), so the page's two views agree on who is compared and on which year."""
    standings = found.standings
    places = rank_decimals(standings.get_column("value").to_list(), lang)
    unit = report_peers.unit_text(found.indicator, lang)
    rows = [
        [
            rd.area_label(str(r["area"]), lang) + (" ◀" if r["area"] == main else ""),
            str(r["year"]),
            format_quantity(float(r["value"]), unit, lang, places),
            "–" if r["rank"] is None else t("peers.rank_of", lang, rank=r["rank"], n=r["peers"]),
        ]
        for r in standings.iter_rows(named=True)
    ]
    return Table(
        t("site.peer_comparison_caption", lang),
        [
            t("site.col_area", lang),
            t("site.col_period", lang),
            t("site.col_value", lang),
            t("peers.rank", lang),
        ],
        rows,
        [False, True, True, True],
    )


def _peer_frames_of(data: SiteData, entry: Indicator) -> report_peers.PeerFrames | None:
    """The peer frames of a peer indicator (read once per build), None for other indicators or no data."""
    if entry.peers is None:
        return None
    try:
        return report_peers.shared_peer_frames(data.engine, entry.id, data.cache)
    except rd.MissingDataError:
        return None


def _latest_values(values: pl.DataFrame, entry: Indicator) -> pl.DataFrame:
    """Every area's latest own value (observed, or of the indicator's stored kind: Indicator.value_kind), in
    the order the comparison ranks them (best first)."""
    observed = values.filter((pl.col("kind") == entry.value_kind) & pl.col("value").is_not_null())
    latest = observed.sort("period").group_by("area", maintain_order=True).last()
    return latest.sort("value", descending=entry.direction == "increase")


def is_base_year_change(entry: Indicator) -> bool:
    """Whether the indicator is a change in per cent on a base year (the change on 1990): printed as the
    report's headline and every title print a change (report.i18n.CHANGE_DECIMALS)."""
    return isinstance(entry.derive, ChangeDerivation) and entry.derive.against == "base_year"


def ranking_decimals(latest: pl.DataFrame, entry: Indicator, main: str, lang: str) -> dict[str, int]:
    """The decimals each area's latest value (_latest_values) is printed with on the indicator's page, in
    the comparison table and the chart's title alike: the report's rule (shown_decimals), or more where it
    prints the main area and a neighbour in the ranking alike, never beyond the series' published
    precision. A change on a base year is always in whole per cent (CHANGE_DECIMALS), as the sources
    publish it and the report's headline prints it: two areas that print alike are shown tied."""
    if is_base_year_change(entry):
        return dict.fromkeys((str(a) for a in latest.get_column("area")), CHANGE_DECIMALS)
    report_ranks = rd.COMPARISON_AREAS if entry.id == rd.PER_RESIDENT_INDICATOR else ()
    shown = {str(area): float(value) for area, value in latest.select("area", "value").iter_rows()}
    return area_decimals(shown, main, lang, report_ranks=report_ranks)


def _comparison(
    latest: pl.DataFrame,
    decimals: Mapping[str, int],
    entry: Indicator,
    main: str,
    lang: str,
    peers: report_peers.PeerFrames | None = None,
) -> Table | None:
    """Every area's latest own value (latest: _latest_values; the main area's row marked, each to its
    decimals: ranking_decimals), when the indicator has several; a peer indicator's standings (`peers`, the
    frames its chart draws) instead, when given."""
    if peers is not None:
        return _peer_comparison(peers, main, lang)
    if entry.expanded_ids() != [entry.id] or latest.height < 2:
        return None
    rows = [
        [
            rd.area_label(str(r["area"]), lang) + (" ◀" if r["area"] == main else ""),
            format_period(str(r["period"]), lang),
            format_quantity(r["value"], entry.unit, lang, decimals[str(r["area"])]),
        ]
        for r in latest.iter_rows(named=True)
    ]
    return Table(
        t("site.comparison_caption", lang),
        [t("site.col_area", lang), t("site.col_period", lang), t("site.col_value", lang)],
        rows,
        [False, True, True],
    )


def _near_comparison(
    comparison: Table | None, latest: pl.DataFrame, entry: Indicator, main: str, lang: str
) -> Table | None:
    """The main area and the NEAR areas on each side of it in a comparison longer than RANKED_IN_FULL (the
    page shows these first and folds the whole ranking away: ev_share's 308 municipalities made the page
    a table of 308 rows), each with its rank; None for a shorter comparison, a peer indicator's (its own
    ranks) or one without the main area."""
    if comparison is None or len(comparison.rows) <= RANKED_IN_FULL or entry.peers is not None:
        return None
    areas = [str(a) for a in latest.get_column("area")]  # the comparison's rows, in its order
    if main not in areas:
        return None
    at = areas.index(main)
    shown = latest.get_column("value").to_list()
    higher_first = entry.direction == "increase"
    rows = [
        [
            *comparison.rows[i],
            t("peers.rank_of", lang, rank=_rank(shown[i], shown, higher_first), n=len(shown)),
        ]
        for i in range(max(at - NEAR, 0), min(at + NEAR + 1, len(areas)))
    ]
    return Table(
        t("site.comparison_near_caption", lang, area=rd.area_label(main, lang)),
        [*comparison.headers, t("peers.rank", lang)],
        rows,
        [*comparison.numeric, True],
    )


def _rank(value: float, values: Sequence[float], higher_first: bool) -> int:
    """value's rank among values: 1 + how many are better (ties share a rank)."""
    return 1 + sum((v > value) if higher_first else (v < value) for v in values)


def _breakdown(values: pl.DataFrame, entry: Indicator, area: str, lang: str) -> Table | None:
    """A breakdown indicator's parts in the area's latest year."""
    if entry.expanded_ids() == [entry.id]:
        return None
    observed = values.filter(
        (pl.col("area") == area) & (pl.col("kind") == "observed") & pl.col("value").is_not_null()
    )
    if observed.height == 0:
        return None
    period = observed.get_column("period").max()
    part = observed.filter(pl.col("period") == period).sort("value", descending=True)
    rows = [
        [charts.indicator_label(str(r["indicator"]), lang), rd.format_value(r["value"], entry.unit, lang)]
        for r in part.iter_rows(named=True)
    ]
    return Table(
        t(
            "site.breakdown_caption",
            lang,
            area=rd.area_label(area, lang),
            period=format_period(str(period), lang),
        ),
        [t("site.col_part", lang), t("site.col_value", lang)],
        rows,
        [False, True],
    )


def _targets(values: pl.DataFrame, entry: Indicator, lang: str) -> list[dict[str, str]]:
    """The indicator's targets: the value and year per area where computed, and the document behind each."""
    targets = values.filter(pl.col("kind") == "target")
    found = []
    for target in entry.targets:
        rows = targets.filter(pl.col("period") == str(target.year))
        if target.areas:
            rows = rows.filter(pl.col("area").is_in(target.areas))
        for r in rows.iter_rows(named=True):
            found.append(
                {
                    "area": rd.area_label(str(r["area"]), lang),
                    "year": str(target.year),
                    "value": rd.format_value(r["value"], entry.unit, lang),
                    "source": catalogue_text(target.source, lang),
                }
            )
    return found


def demo_datasets(data: SiteData) -> list[str]:
    """The datasets whose newest snapshot is demo data (the bundled snapshot): the site says so on every
    page while any is, as the report does; the published datasets only (CDP's are never shown)."""
    snap = schema.snapshot
    newest = select(func.max(snap.c.id)).group_by(snap.c.dataset_id)
    with data.engine.connect() as conn:
        demo = conn.execute(
            select(snap.c.dataset_id).where(snap.c.id.in_(newest), snap.c.is_demo).order_by(snap.c.dataset_id)
        ).scalars()
        found = list(demo)
    catalogue = load_catalogue()
    return [d for d in found if d in catalogue.datasets and publishable(d, catalogue=catalogue)]


def _vintages(data: SiteData, entry: Indicator, area: str, lang: str) -> tuple[Table | None, Table | None]:
    """What was published when (the snapshots of the indicator's datasets) and the area's revised values."""
    datasets = sorted(load_indicator_catalogue().datasets_of(entry.id))
    if not datasets:
        return None, None
    snap = schema.snapshot
    snapshots = query_frame(
        data.engine,
        select(
            snap.c.id,
            snap.c.dataset_id,
            snap.c.fetched_at,
            snap.c.rows_added,
            snap.c.rows_revised,
            snap.c.rows_confirmed,
            snap.c.rows_reflagged,
            snap.c.is_demo,
        )
        .where(snap.c.dataset_id.in_(datasets))
        .order_by(snap.c.fetched_at.desc()),
    )
    published = None
    if snapshots.height:
        published = Table(
            t("site.vintages_caption", lang),
            [
                t("site.col_fetched", lang),
                t("site.col_dataset", lang),
                t("site.col_snapshot", lang),
                *(t(f"site.{key}", lang) for key in SNAPSHOT_COUNT_HEADERS),
            ],
            [
                [
                    format_datetime(rd.local_time(r["fetched_at"]), lang),
                    rd.dataset_label(str(r["dataset_id"]), lang),
                    str(r["id"]),
                    *(format_number(r[column], lang) for column in SNAPSHOT_COUNTS),
                ]
                for r in snapshots.iter_rows(named=True)
            ],
            [False, False, True, *(True for _ in SNAPSHOT_COUNTS)],
        )
    obs, series = schema.observation, schema.series
    revised = query_frame(
        data.engine,
        select(
            series.c.dataset_id,
            series.c.key,
            obs.c.series_id,
            obs.c.period,
            obs.c.value,
            obs.c.flag,
            obs.c.valid_from,
            obs.c.valid_to,
        )
        .join(series, series.c.id == obs.c.series_id)
        .where(series.c.dataset_id.in_(datasets), series.c.area == area, obs.c.valid_to.is_not(None))
        .order_by(obs.c.valid_to.desc())
        .limit(REVISIONS_SHOWN),
    )
    revisions = None
    if revised.height:
        # the row that replaced each one (none: withdrawn), so that a reader sees what changed, the number
        # or only its status (a provisional figure made final keeps its number)
        after = query_frame(
            data.engine,
            select(obs.c.series_id, obs.c.period, obs.c.value, obs.c.flag, obs.c.valid_from).where(
                obs.c.series_id.in_(revised["series_id"].unique().to_list()),
                obs.c.period.in_(revised["period"].unique().to_list()),
            ),
        ).rename({"value": "new_value", "flag": "new_flag", "valid_from": "valid_to"})
        revised = revised.join(after, on=["series_id", "period", "valid_to"], how="left")

        def shown(value: float | None, flag: str | None) -> str:
            text = format_number(value, lang) if value is not None else "–"
            meanings = [t(f"flag.{m}", lang) for m in flag_meanings(flag)]
            return f"{text} ({'; '.join(meanings)})" if meanings else text

        revisions = Table(
            t("site.revisions_caption", lang, area=rd.area_label(area, lang), n=REVISIONS_SHOWN),
            [
                t("site.col_revised_at", lang),
                t("site.col_dataset", lang),
                t("site.col_period", lang),
                t("site.col_old_value", lang),
                t("site.col_new_value", lang),
                t("site.col_series", lang),
            ],
            [
                [
                    format_datetime(rd.local_time(r["valid_to"]), lang),
                    rd.dataset_label(str(r["dataset_id"]), lang),
                    format_period(str(r["period"]), lang),
                    shown(r["value"], r["flag"]),
                    shown(r["new_value"], r["new_flag"])
                    if r["new_value"] is not None or r["new_flag"] is not None
                    else t("site.withdrawn", lang),
                    str(r["key"]),
                ]
                for r in revised.iter_rows(named=True)
            ],
            [False, False, False, True, True, False],
            code_columns=frozenset({5}),
        )
    return published, revisions


def stated_by(entry: Indicator, lang: str) -> list[str]:
    """Who states an indicator's assumed share (the City of Espoo, for the carbon sink's 21 %), named first
    wherever the page names its sources: its citation and its chart's source line; [] for the others."""
    return [entry.derive.stated_by.get(lang)] if isinstance(entry.derive, ShareOfYearDerivation) else []


def citation(entry: Indicator, sources: list[dict[str, str]], vintage: str, lang: str) -> str:
    """How to cite the indicator's data: the publishers (first whoever states an assumed share, then the
    datasets'), the tracker, the indicator and the data's date."""
    publishers = (
        "; ".join(dict.fromkeys([*stated_by(entry, lang), *(s["attribution"] for s in sources)])) or "–"
    )
    return t(
        "site.citation", lang, publishers=publishers, name=_name(entry, lang), id=entry.id, vintage=vintage
    )


def _notes(data: SiteData, indicator: str, lang: str) -> list[Markup]:
    """The indicator's current staff notes in lang (its breakdown's parts too), newest period first."""
    mine = [n for n in _note_list(data, lang) if n.indicator_id.split(".", 1)[0] == indicator]
    return [note_html(n, lang) for n in sorted(mine, key=lambda n: (n.first_day, n.id), reverse=True)]


def indicator_inputs(data: SiteData, indicator: str, lang: str) -> str:
    """A digest of everything an indicator's page is made from: its values, its methods' statuses, its staff
    notes and the snapshots of its datasets (with their revisions). The same digest, and the same code and
    catalogues (build.code_digest), make the same page: a rebuild keeps it without making it again."""
    memo = ("inputs", indicator, lang)  # the peers page and the downloads ask again for the same digests
    if memo not in data.cache:
        data.cache[memo] = _inputs_digest(data, indicator, lang)
    found: str = data.cache[memo]
    return found


def _inputs_digest(data: SiteData, indicator: str, lang: str) -> str:
    if "snapshots" not in data.cache:
        snap = schema.snapshot
        frame = query_frame(data.engine, select(snap.c.dataset_id, snap.c.id).order_by(snap.c.id))
        data.cache["snapshots"] = frame.group_by("dataset_id").agg(pl.col("id")).rows()
    entry = load_indicator_catalogue().get(indicator)
    datasets = load_indicator_catalogue().datasets_of(indicator)
    snapshots = sorted((d, ids) for d, ids in data.cache["snapshots"] if d in datasets)
    _statuses(data, lang)  # reads the language's status frame once per build
    statuses = data.cache[("statuses", lang)].filter(pl.col("indicator_id").is_in(entry.expanded_ids()))
    notes = [(n.id, n.body) for n in _note_list(data, lang) if n.indicator_id.split(".", 1)[0] == indicator]
    digest = hashlib.sha256()
    for part in (
        _values(data, indicator)
        .sort("indicator", "area", "kind", "period")
        .with_columns(pl.col("snapshot_ids").cast(pl.List(pl.String)).list.join(","))
        .write_csv(),
        statuses.sort("indicator_id", "area", "method").write_csv(),  # with each assessment's as_of
        repr(notes),
        repr(snapshots),
        lang,
    ):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _note_list(data: SiteData, lang: str) -> list[Any]:
    key = ("notes", lang)
    if key not in data.cache:
        data.cache[key] = list_notes(data.engine, lang=lang)
    found: list[Any] = data.cache[key]
    return found


def _chart_table(site_chart: SiteChart, entry: Indicator, lang: str) -> Table:
    """The chart's numbers as a table: its text alternative on every page that shows it (WCAG 1.1.1)."""
    shown = charts.chart_table(site_chart.chart, keys=False)
    headers = charts.chart_table(site_chart.chart, translated_headers=True, keys=False).columns
    return frame_table(
        shown,
        t("site.chart_table_caption", lang, name=_name(entry, lang)),
        lang,
        headers,
        charts.chart_decimals(site_chart.chart),
        # every site chart draws the indicator's values (its history, its peers or its sectors), in the
        # unit the page names ("t CO₂(e)" where each city chose t CO2 or t CO2e)
        {
            c: report_peers.unit_text(entry.id, lang)
            for c in ("value", "lower", "upper")
            if c in shown.columns
        },
    )


def indicator_page(data: SiteData, indicator: str, lang: str) -> Page:
    """An indicator's page: definition, sources, target, chart and table, verdicts, comparisons, vintages."""
    entry = load_indicator_catalogue().get(indicator)
    values = _values(data, indicator)
    areas = values.get_column("area").unique().to_list() if values.height else []
    area = _main_area(areas) if areas else HOME_AREA
    # the main area's latest value printed as the comparison ranks it, in the chart's title too
    latest = _latest_values(values, entry)
    decimals = ranking_decimals(latest, entry, area, lang)
    site_chart = _indicator_chart(data, entry, values, area, lang, decimals.get(area))
    sources = _sources(data, entry, area, lang)
    vintage = values.get_column("vintage").max() if values.height else None
    vintage_text = format_date(rd.local_time(vintage), lang) if isinstance(vintage, datetime) else "–"
    published, revisions = _vintages(data, entry, area, lang)
    chart_table = _chart_table(site_chart, entry, lang) if site_chart is not None else None
    by_id = _statuses(data, lang, list(entry.expanded_ids()))
    # a breakdown's statuses are its parts' (ghg_by_sector.transport, …), each named, as the report gives them
    statuses = [
        {**status, "method": f"{label('sector', part.split('.', 1)[1], lang)} · {status['method']}"}
        if part != indicator
        else status
        for part in entry.expanded_ids()
        for status in by_id.get(part, [])
    ]
    projection_note, german_note = _projection_notes(values, entry, area, site_chart, statuses, lang)
    comparison = _comparison(latest, decimals, entry, area, lang, _peer_frames_of(data, entry))
    context = {
        "id": indicator,
        "name": _name(entry, lang),
        "description": locale_signs(entry.description.get(lang), lang),
        "unit": report_peers.unit_text(indicator, lang),
        "direction": t(f"site.direction_{entry.direction}", lang),
        "sdg": entry.sdg_code,
        "goal": entry.sdg.goal if entry.sdg else None,
        "cei": entry.cei or "",
        "boundary": catalogue_text(entry.boundary, lang),
        "area": rd.area_label(area, lang),
        "sources": sources,
        "derivation": derivation_texts(load_indicator_catalogue(), lang).get(indicator, ""),
        "targets": _targets(values, entry, lang),
        "chart": site_chart.name if site_chart else None,
        "chart_heading": t("site.peer_chart_heading", lang, area=rd.area_label(area, lang))
        if entry.peers is not None
        else t("site.chart_heading", lang, area=rd.area_label(area, lang)),
        "chart_title": _title_of(site_chart),
        "chart_alt": str(site_chart.spec.get("description", "")) if site_chart else "",
        "chart_notes": charts.chart_notes(site_chart.spec) if site_chart else [],
        "chart_table": chart_table,
        "projection_note": projection_note,
        "statuses": [
            {**s, "basis": german_note if s.get("method_id") == "german_strategy" else ""} for s in statuses
        ],
        "comparison": comparison,
        "comparison_near": _near_comparison(comparison, latest, entry, area, lang),
        "breakdown": _breakdown(values, entry, area, lang),
        "published": published,
        "revisions": revisions,
        "citation": citation(entry, sources, vintage_text, lang),
        "vintage": vintage_text,
        "notes": _notes(data, indicator, lang),
    }
    return Page(
        indicator_path(lang, indicator),
        "indicator.html.j2",
        lang,
        context,
        [site_chart] if site_chart else [],
    )


def _projection_notes(
    values: pl.DataFrame,
    entry: Indicator,
    area: str,
    site_chart: SiteChart | None,
    statuses: Sequence[dict[str, str]],
    lang: str,
) -> tuple[str, str]:
    """The chart's trend projection and, beside the German model's status, the trend's value in the German
    model's target year (report.data.projection_notes, which the report's headline says too). Empty
    strings when the page draws no projection."""
    if site_chart is None or entry.peers is not None or not is_projected(entry):
        return "", ""
    german = [
        s["target_year"] for s in statuses if s.get("method_id") == "german_strategy" and s["target_year"]
    ]
    return rd.projection_notes(values, entry.id, area, entry.unit, int(german[0]) if german else None, lang)


def _title_of(site_chart: SiteChart | None) -> str:
    if site_chart is None:
        return ""
    title = site_chart.spec.get("title", {})
    text = title.get("text", "") if isinstance(title, dict) else title
    return " ".join(text) if isinstance(text, list) else str(text)


def _listing(data: SiteData, ids: Sequence[str], lang: str) -> list[dict[str, Any]]:
    """Rows of an indicator list: name (with the area of its figures where it is not Espoo, as on its page),
    address, SDG, unit and its first method's status."""
    catalogue = load_indicator_catalogue()
    statuses = _statuses(data, lang)
    rows = []
    for indicator in ids:
        entry = catalogue.get(indicator)
        areas = _values(data, indicator).get_column("area").unique().to_list()
        rows.append(
            {
                "id": indicator,
                # whose figures they are, as the report's grid says: "… (Finland)" where not Espoo's
                "name": rd.display_name(indicator, _main_area(areas) if areas else HOME_AREA, lang),
                "href": f"{indicator}.html",
                "sdg": entry.sdg_code,
                "unit": entry.unit,
                "status": _summary(statuses.get(indicator, [])),
            }
        )
    return rows


def indicators_page(data: SiteData, ids: Sequence[str], lang: str) -> Page:
    """Every indicator in a list the reader can filter by name."""
    return Page(
        f"{lang}/indicators/index.html", "indicators.html.j2", lang, {"items": _listing(data, ids, lang)}
    )


def goal_pages(data: SiteData, ids: Sequence[str], lang: str) -> list[Page]:
    """The 17 SDGs: an index, and per goal its indicators with their status."""
    catalogue = load_indicator_catalogue()
    by_goal: dict[int, list[str]] = {}
    for indicator in ids:
        sdg = catalogue.get(indicator).sdg
        if sdg is not None:
            by_goal.setdefault(sdg.goal, []).append(indicator)
    goals = [
        {
            "goal": goal,
            "name": t(f"sdg.goal_{goal}", lang),
            "href": f"sdg-{goal}.html",
            "count": len(by_goal.get(goal, [])),
        }
        for goal in GOALS
    ]
    pages = [Page(f"{lang}/goals/index.html", "goals.html.j2", lang, {"goals": goals})]
    for number, goal in zip(GOALS, goals, strict=True):
        items = _listing(data, by_goal.get(number, []), lang)
        for item in items:
            item["href"] = f"../indicators/{item['id']}.html"
        pages.append(Page(goal_path(lang, number), "goal.html.j2", lang, {**goal, "items": items}))
    return pages


def circular_page(data: SiteData, ids: Sequence[str], lang: str) -> Page:
    """The circular-economy indicators along the EU monitoring framework's dimensions."""
    catalogue = load_indicator_catalogue()
    dimensions = []
    for prefix, key in CEI_DIMENSIONS:
        members = [i for i in ids if (catalogue.get(i).cei or "").startswith(prefix)]
        items = _listing(data, members, lang)
        for item in items:
            item["href"] = f"indicators/{item['id']}.html"
            item["cei"] = catalogue.get(item["id"]).cei
        dimensions.append({"key": key, "name": t(f"site.cei_{key}", lang), "items": items})
    return Page(f"{lang}/circular-economy.html", "circular.html.j2", lang, {"dimensions": dimensions})


@dataclass(frozen=True)
class ArchivedReport:
    """A report in the archive: its period key, kind (week or half), language and address in the site."""

    period: str
    kind: str
    lang: str
    href: str


def archive(report_root: Path) -> list[ArchivedReport]:
    """Every published report under the report folder (<period>/<lang>/report.html), newest first."""
    found = []
    if report_root.is_dir():
        for period_dir in report_root.iterdir():
            if period_dir.name.startswith(".") or not re.fullmatch(r"\d{4}-(W\d{2}|H[12])", period_dir.name):
                continue
            for lang in LANGS:
                if (period_dir / lang / "report.html").is_file():
                    kind = "half" if "-H" in period_dir.name else "week"
                    found.append(
                        ArchivedReport(
                            period_dir.name, kind, lang, f"reports/{period_dir.name}/{lang}/report.html"
                        )
                    )
    return sorted(found, key=lambda r: (r.period, r.lang), reverse=True)


def _report_link(report: ArchivedReport, lang: str, href: str) -> dict[str, str]:
    """A report's period key (ISO, for <time datetime>), its name in lang ("viikko 45/2026"; label: as a
    list item begins, "Viikko 45/2026") and its address."""
    name = format_period(report.period, lang)
    return {"period": report.period, "name": name, "label": name[:1].upper() + name[1:], "href": href}


def reports_page(reports: Sequence[ArchivedReport], lang: str) -> Page:
    """The archive of weekly and council reports, per language."""
    mine = [r for r in reports if r.lang == lang]
    weekly = [_report_link(r, lang, f"../{r.href}") for r in mine if r.kind == "week"]
    council = [_report_link(r, lang, f"../{r.href}") for r in mine if r.kind == "half"]
    return Page(f"{lang}/reports.html", "reports.html.j2", lang, {"weekly": weekly, "council": council})


def peers_page(data: SiteData, lang: str) -> Page:
    """Espoo among its European peers: each source's charts, the standings and the totals by source."""
    site_charts = []
    shown = []
    for indicator in peer_indicators():
        entry = load_indicator_catalogue().get(indicator)
        values = _values(data, indicator)
        found = _indicator_chart(data, entry, values, HOME_AREA, lang) if values.height else None
        if found is not None:
            site_charts.append(found)
            # each chart with its numbers as on its indicator page (the alt text names Espoo and the best)
            shown.append(
                {
                    "name": found.name,
                    "title": _title_of(found),
                    "alt": str(found.spec.get("description", "")),
                    "notes": charts.chart_notes(found.spec),
                    "table": _chart_table(found, entry, lang),
                }
            )
    context = {**peer_section(data.engine, lang, data.cache), "charts": shown}
    return Page(f"{lang}/peers.html", "peers.html.j2", lang, context, site_charts)


def home_page(
    data: SiteData, ids: Sequence[str], reports: Sequence[ArchivedReport], today: date, lang: str
) -> Page:
    """The home page: the 2030 target at a glance, headline indicators, changes, freshness, reports."""
    catalogue = load_indicator_catalogue()
    headline_ids = [i for i in ids if catalogue.get(i).headline]
    items = _listing(data, headline_ids, lang)
    for item in items:
        item["href"] = f"indicators/{item['id']}.html"
    freshness = rd.freshness_frame(data.engine, today, lang)
    fresh_rows = [
        [
            str(r["dataset"]),
            t(f"freshness.status_{r['status']}", lang)
            if has(f"freshness.status_{r['status']}")
            else str(r["status"]),
            # as the report's freshness table writes them (the language's date and time; a release-tracked
            # dataset's day as the release seen, not a period)
            rd.of_areas(charts.last_period_text(r["last_period_end"], r["tracks"], lang), r["areas"], lang),
            format_cell(r["last_fetch"], "", lang),
        ]
        for r in freshness.iter_rows(named=True)
    ]
    mine = [r for r in reports if r.lang == lang]
    latest_week = next((r for r in mine if r.kind == "week"), None)
    latest_half = next((r for r in mine if r.kind == "half"), None)
    changes, first_load = _recent_changes(data, today, lang)
    context: dict[str, Any] = {
        "headline": headline_context(data.engine, lang),
        "items": items,
        "freshness": Table(
            t("site.freshness_caption", lang),
            [
                t("site.col_dataset", lang),
                t("site.col_status", lang),
                t("site.col_latest_period", lang),
                t("site.col_fetched", lang),
            ],
            fresh_rows,
            [False, False, True, True],
            compact_cards=True,
        )
        if fresh_rows
        else None,
        "latest_week": _report_link(latest_week, lang, latest_week.href) if latest_week else None,
        "latest_half": _report_link(latest_half, lang, latest_half.href) if latest_half else None,
        "changes": changes,
        "first_load": first_load,
    }
    return Page(f"{lang}/index.html", "home.html.j2", lang, context)


def _recent_changes(data: SiteData, today: date, lang: str) -> tuple[Table | None, str | None]:
    """What changed in the last seven days: the snapshots loaded, with rows added, revised (value changed),
    confirmed and reflagged (flag changed, value kept); and the line naming the datasets loaded for the
    first time, which have nothing earlier to compare with (the weekly report's first_load_text)."""
    since = datetime.combine(today - timedelta(days=7), datetime.min.time())
    frame = rd.loaded_snapshots(data.engine, since)
    if frame.height == 0:
        return None, None
    frame = frame.sort("fetched_at", "id", descending=True)
    first = frame.filter(pl.col("first_load")).sort("dataset_id")
    first_load = first_load_text(
        [rd.dataset_label(str(d), lang) for d in first.get_column("dataset_id")], lang
    )
    later = frame.filter(~pl.col("first_load"))
    if later.height == 0:
        return None, first_load
    table = Table(
        t("site.changes_caption", lang),
        [
            t("site.col_dataset", lang),
            t("site.col_fetched", lang),
            *(t(f"site.{key}", lang) for key in SNAPSHOT_COUNT_HEADERS),
        ],
        [
            [
                rd.dataset_label(str(r["dataset_id"]), lang),
                format_datetime(rd.local_time(r["fetched_at"]), lang),
                *(format_number(r[column], lang) for column in SNAPSHOT_COUNTS),
            ]
            for r in later.iter_rows(named=True)
        ],
        [False, False, *(True for _ in SNAPSHOT_COUNTS)],
        compact_cards=True,
    )
    return table, first_load
