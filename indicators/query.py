"""The tracker's data as polars frames (indicator values, assessments, outlook, freshness, changes),
for the report and for the analysts' API (kestava.api, which adds the observations with their labels)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path

import polars as pl
from sqlalchemy import ColumnElement, Engine, or_, select

from indicators.catalogue import LANGUAGES, load_indicator_catalogue
from indicators.lookup import area_code, unknown_code
from indicators.outlook import outlook as target_outlook
from indicators.vintage import assess_as_of, explain_changes
from ingest.catalogue import load_catalogue
from ingest.freshness import freshness as dataset_freshness
from ingest.peers import peer_names
from storage import read, schema
from storage.engine import open_database
from storage.notes import check_lang, check_period, list_notes

MUNICIPALITIES_PATH = Path(__file__).resolve().parent.parent / "ingest" / "municipalities.json"
ESPOO = "049"
LARGE_CITIES = ("091", "049", "837", "092", "564", "853")  # Helsinki, Espoo, Tampere, Vantaa, Oulu, Turku


@cache
def _default_engine() -> Engine:
    return open_database()


def connect(url: str | None = None) -> Engine:
    """An engine on the given URL, or on the configured database (migrated to the newest schema)."""
    return open_database(url) if url else _default_engine()


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _area_codes(areas: list[str] | None, column: ColumnElement[str], engine: Engine) -> list[str] | None:
    """Codes for the areas asked (codes or names, e.g. 'Espoo', 'Esbo'), each checked against the areas
    stored in `column`; an unknown one raises UnknownCodeError naming the nearest."""
    if not areas:
        return areas
    with engine.connect() as conn:
        # codes as stored are the usual case: found among their own rows, not among every area's
        found = set(conn.execute(select(column).where(column.in_(areas)).distinct()).scalars())
        if found.issuperset(areas):
            return areas
        stored = conn.execute(select(column).distinct()).scalars().all()
    return [area_code(area, stored) for area in areas]


def _check_indicators(indicators: list[str] | None) -> None:
    """UnknownCodeError for an indicator id the catalogue does not know (breakdown parts by their parent)."""
    known = load_indicator_catalogue().indicators
    for indicator in indicators or []:
        if indicator.split(".", 1)[0] not in known:
            raise unknown_code("indicator", indicator, known)


def catalogue(lang: str = "fi") -> pl.DataFrame:
    """Every indicator: id, name and description in `lang`, unit, direction, SDG code, boundary, methods."""
    rows = [
        {
            "indicator": i.id,
            "name": i.name.get(lang),
            "description": i.description.get(lang),
            "unit": i.unit,
            "direction": i.direction,
            "sdg": i.sdg_code,
            "boundary": i.boundary,
            "methods": ", ".join(i.assess),
            "stored_as": ", ".join(i.expanded_ids()),
        }
        for i in load_indicator_catalogue().indicators.values()
    ]
    return pl.DataFrame(rows)


def municipalities() -> pl.DataFrame:
    """Finnish municipalities: code (e.g. '049'), Finnish and Swedish name."""
    data = json.loads(MUNICIPALITIES_PATH.read_text(encoding="utf-8"))
    return pl.DataFrame(data["municipalities"]).rename({"fi": "name_fi", "sv": "name_sv"})


def area_names(lang: str = "fi") -> dict[str, str]:
    """Area code → name in `lang` (municipalities, the Helsinki region, Eurostat's FI/EU, peer cities)."""
    if lang not in LANGUAGES:
        raise ValueError(f"language: expected one of {LANGUAGES}, got {lang!r}")
    return dict(_area_names(lang))


@cache
def _area_names(lang: str) -> tuple[tuple[str, str], ...]:
    column = "name_sv" if lang == "sv" else "name_fi"
    names = dict(municipalities().select("code", column).iter_rows())
    extra = {
        "fi": {"PKS": "Pääkaupunkiseutu", "FI": "Suomi", "EU27_2020": "EU-27"},
        "sv": {"PKS": "Huvudstadsregionen", "FI": "Finland", "EU27_2020": "EU-27"},
        "en": {"PKS": "Helsinki region", "FI": "Finland", "EU27_2020": "EU-27"},
    }[lang]
    peers = {area: name for area, name in peer_names(lang).items() if area not in names}
    return tuple({**names, **extra, **peers}.items())


def indicator_values(
    indicator: str | Sequence[str] | None = None,
    *,
    area: str | Sequence[str] | None = None,
    kind: str | Sequence[str] | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Computed values: indicator, area, period, year (for annual periods), kind, value, lower, upper, unit,
    vintage, snapshot_ids, is_demo. An indicator id with a breakdown (e.g. 'ghg_by_sector') returns all
    its parts ('ghg_by_sector.transport', …)."""
    table = schema.indicator_value
    query = select(table)
    engine = engine or connect()
    indicators, kinds = _as_list(indicator), _as_list(kind)
    _check_indicators(indicators)
    areas = _area_codes(_as_list(area), table.c.area, engine)
    if areas:
        query = query.where(table.c.area.in_(areas))
    if kinds:
        query = query.where(table.c.kind.in_(kinds))
    if indicators:  # the ids and their breakdowns' parts ('ghg_by_sector' → 'ghg_by_sector.transport')
        query = query.where(
            or_(
                table.c.indicator_id.in_(indicators),
                *(table.c.indicator_id.startswith(f"{i}.", autoescape=True) for i in indicators),
            )
        )
    frame = read.query_frame(engine, query)
    if frame.height == 0:
        return frame
    frame = frame.rename({"indicator_id": "indicator"})
    if indicators:
        base = pl.col("indicator").str.split(".").list.first()
        frame = frame.filter(pl.col("indicator").is_in(indicators) | base.is_in(indicators))
    return (
        frame.with_columns(
            pl.when(pl.col("period").str.contains(r"^\d{4}$"))
            .then(pl.col("period").cast(pl.Int64))
            .alias("year"),
            pl.col("snapshot_ids").str.json_decode(pl.List(pl.Int64())),
        )
        .drop("computed_at")
        .sort("indicator", "area", "kind", "period")
    )


def assessments(
    indicator: str | Sequence[str] | None = None,
    *,
    area: str | Sequence[str] | None = None,
    latest: bool = True,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Stored assessments with all inputs and outputs (details as JSON); the latest vintage by default."""
    table = schema.assessment
    query = select(table)
    engine = engine or connect()
    indicators = _as_list(indicator)
    _check_indicators(indicators)
    areas = _area_codes(_as_list(area), table.c.area, engine)
    if indicators:
        query = query.where(table.c.indicator_id.in_(indicators))
    if areas:
        query = query.where(table.c.area.in_(areas))
    frame = read.query_frame(engine, query)
    if frame.height == 0:
        return frame
    frame = frame.rename({"indicator_id": "indicator"})
    if latest:
        frame = frame.sort("as_of").group_by("indicator", "area", "method", maintain_order=True).last()
    return frame.sort("indicator", "area", "method")


def outlook(
    indicator: str, *, area: str | Sequence[str] | None = None, engine: Engine | None = None
) -> pl.DataFrame:
    """The road to the indicator's next target per area: gap, required pace from now on, OLS and Theil–Sen
    projections with 95 % bands, the year the trend reaches the target, and the budget view."""
    _check_indicators([indicator])
    direction = load_indicator_catalogue().get(indicator).direction
    values = indicator_values(indicator, area=area, kind=["observed", "target"], engine=engine)
    return target_outlook(values.filter(pl.col("indicator") == indicator), direction)


def sectors(area: str = ESPOO, *, detailed: bool = False, engine: Engine | None = None) -> pl.DataFrame:
    """Observed emissions by sector: sector key, year, value (kt CO2e) for one area."""
    indicator = "ghg_by_subsector" if detailed else "ghg_by_sector"
    frame = indicator_values(indicator, area=area, kind="observed", engine=engine)
    return frame.select(
        pl.col("indicator").str.split(".").list.last().alias("sector"), "year", "value", "unit", "is_demo"
    )


def compare(
    indicator: str, areas: Sequence[str], *, lang: str = "fi", engine: Engine | None = None
) -> pl.DataFrame:
    """One indicator's observed values for several areas side by side (long form with area names)."""
    names = area_names(lang)
    frame = indicator_values(indicator, area=list(areas), kind="observed", engine=engine)
    return frame.with_columns(pl.col("area").replace_strict(names, default=pl.col("area")).alias("area_name"))


def provenance(snapshot_ids: Sequence[int], *, engine: Engine | None = None) -> pl.DataFrame:
    """Where values came from: dataset, publisher, licence, URL, fetch time, sha256 for each snapshot."""
    return read.provenance(engine or connect(), list(snapshot_ids))


def freshness(today: date | None = None, *, engine: Engine | None = None) -> pl.DataFrame:
    """Each dataset's newest period, last fetch and change, and whether it is fresh, late or failing."""
    return dataset_freshness(engine or connect(), load_catalogue(), today or date.today())


def assess_at(
    as_of: date | datetime | None, indicators: Sequence[str] | None = None, *, engine: Engine | None = None
) -> pl.DataFrame:
    """Assess every indicator as the data stood at `as_of` (None: now); nothing is stored."""
    return assess_as_of(engine or connect(), as_of, indicators)


def status_changes(
    before: date | datetime,
    after: date | datetime | None = None,
    indicators: Sequence[str] | None = None,
    *,
    area: str | Sequence[str] | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Statuses that changed between two vintages, each with its cause (new data or revised history);
    for `area` (codes or names) only, when given."""
    engine = engine or connect()
    areas = _area_codes(_as_list(area), schema.indicator_value.c.area, engine)
    return explain_changes(engine, before, after, indicators, areas=areas)


def known_note_indicators() -> set[str]:
    """The indicator ids a note may be attached to: every catalogue id and its breakdown parts."""
    found = load_indicator_catalogue().indicators.values()
    return {i for indicator in found for i in (indicator.id, *indicator.expanded_ids())}


def note_area(given: str) -> str:
    """An area code for a note: a known code, or a name in any language (Espoo, Esbo → 049);
    UnknownCodeError naming the nearest otherwise."""
    known = area_names("fi")
    return given if given in known else area_code(given, known)


def notes(
    indicator: str | Sequence[str] | None = None,
    *,
    area: str | Sequence[str] | None = None,
    period: str | Sequence[str] | None = None,
    lang: str | Sequence[str] | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """The current staff notes (Markdown, kestava note): id, indicator, area, period, lang, body, author,
    created_at (UTC), replaces (the earlier version it edits, if any); filtered by indicator id, area
    (codes or names), period (e.g. '2024', '2026-H1') and language."""
    indicators = _as_list(indicator)
    known = known_note_indicators()
    for indicator_id in indicators or []:
        if indicator_id not in known:
            raise unknown_code("indicator", indicator_id, sorted(known))
    areas = [note_area(a) for a in _as_list(area) or []] or None
    periods = [check_period(p) for p in _as_list(period) or []] or None
    langs = [check_lang(code) for code in _as_list(lang) or []] or None
    found = list_notes(engine or connect(), indicator=indicators, area=areas, period=periods, lang=langs)
    columns = {
        "id": pl.Int64(),
        "indicator": pl.String(),
        "area": pl.String(),
        "period": pl.String(),
        "lang": pl.String(),
        "body": pl.String(),
        "author": pl.String(),
        "created_at": pl.Datetime("us"),
        "replaces": pl.Int64(),
    }
    rows = [
        {
            "id": n.id,
            "indicator": n.indicator_id,
            "area": n.area,
            "period": n.period,
            "lang": n.lang,
            "body": n.body,
            "author": n.author,
            "created_at": n.created_at,
            "replaces": n.replaces,
        }
        for n in found
    ]
    return pl.DataFrame(rows, schema=pl.Schema(columns))
