"""The tracker's data as polars frames (indicator values, assessments, outlook, freshness, changes),
for the report and for the analysts' API (kestava.api, which adds the observations with their labels)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cache

import polars as pl
from sqlalchemy import ColumnElement, Engine, and_, func, select

from common.flags import is_provisional
from indicators.catalogue import DERIVED_VALUE_KINDS, LANGUAGES, load_indicator_catalogue
from indicators.lookup import UnknownCodeError, area_code, unknown_code
from indicators.outlook import outlook as target_outlook
from indicators.vintage import assess_as_of, explain_changes
from ingest.catalogue import load_catalogue
from ingest.freshness import freshness as dataset_freshness
from ingest.municipalities import municipality_names
from ingest.peers import peer_names
from storage import read, schema
from storage.breakdowns import with_breakdowns
from storage.engine import open_existing_database
from storage.notes import check_lang, check_period, list_notes

ESPOO = "049"
LARGE_CITIES = ("091", "049", "837", "092", "564", "853")  # Helsinki, Espoo, Tampere, Vantaa, Oulu, Turku
# the kinds of computed values as indicators.engine.indicator_values stores them: an indicator's own values
# are observed, or target_derived (set by a reduction target) or assumption (an assumed share of one year's
# value) when no source published them (catalogue DERIVED_VALUE_KINDS); tests/test_api.py checks that
# compute writes each
VALUE_KINDS = (
    "observed",
    "estimate",
    "target",
    "path",
    "path_from_latest",
    "projection",
    *DERIVED_VALUE_KINDS.values(),
)


@cache
def _default_engine() -> Engine:
    return open_existing_database()


def connect(url: str | None = None) -> Engine:
    """An engine on the given URL, or on the configured database, for reading: it must exist and have the
    tracker's schema (DatabaseMissingError or SchemaVersionError says what to do); never creates one, so
    a mistyped URL is an error, not an empty database."""
    return open_existing_database(url) if url else _default_engine()


# an area argument: a code ('049'), a name ('Espoo', 'Esbo'), a municipality number (49), or several
Areas = str | int | Sequence[str | int]


def _as_list(name: str, value: str | Sequence[str] | None) -> list[str] | None:
    """One code or several as a list (a single string is one code, not its characters); anything but text
    or a sequence of texts is a TypeError naming the argument."""
    if value is None:
        return None
    given = [value] if isinstance(value, str) else list(value) if isinstance(value, Sequence) else None
    if given is None or not all(isinstance(item, str) for item in given):
        raise TypeError(f"{name}: expected text or a list of texts, got {value!r} ({type(value).__name__})")
    return given


class AreaCodes(list[str]):
    """Areas resolved to the codes stored already (what _area_codes answers): a query given these as its
    `area` does not look them up again (kestava.api resolves a call's areas once, for its warnings too)."""


def _area_list(value: Areas | None) -> list[str] | None:
    """One area or several as a list of text; a number is a municipality code zero-padded to 3 digits
    (49 → '049'); anything else (a float, True) is a TypeError naming the argument."""
    if value is None or isinstance(value, AreaCodes):
        return value
    given = [value] if isinstance(value, (str, int)) else list(value) if isinstance(value, Sequence) else None
    if given is None or not all(
        isinstance(area, str) or (isinstance(area, int) and not isinstance(area, bool)) for area in given
    ):
        raise TypeError(
            "area: expected a code, a name or a municipality number, or a list of them; "
            f"got {value!r} ({type(value).__name__})"
        )
    return [f"{area:03d}" if isinstance(area, int) else area for area in given]


def as_date(name: str, value: date | datetime | str | None) -> date | datetime | None:
    """A date argument as a date or a naive UTC datetime (as the tracker stores times); ISO text
    ('2025-06-30', '2025-06-30T12:00', '2025-06-30T15:00+03:00') is accepted; a datetime with a time zone
    is converted to UTC, a naive one is read as UTC; anything else is a ValueError naming the argument."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # not ISO text: the error below names the argument
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if value is None or isinstance(value, date):  # datetime is a date too
        return value
    raise ValueError(
        f"{name}: expected a date, a datetime or ISO text like '2025-06-30' or '2025-06-30T12:00+03:00', "
        f"got {value!r}"
    )


def utc_times(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its naive datetime columns (UTC, as stored) marked as UTC, for callers outside."""
    return frame.with_columns(
        pl.col(name).dt.replace_time_zone("UTC")
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None
    )


def _check_kinds(kinds: list[str] | None) -> None:
    """UnknownCodeError for a value kind that does not exist (a typo would else give an empty frame)."""
    for kind in kinds or []:
        if kind not in VALUE_KINDS:
            error = unknown_code("kind", kind, VALUE_KINDS)
            raise UnknownCodeError(f"{error} (the kinds: {', '.join(VALUE_KINDS)})")


def _area_codes(areas: list[str] | None, column: ColumnElement[str], engine: Engine) -> list[str] | None:
    """Codes for the areas asked (codes or names, e.g. 'Espoo', 'Esbo'), each checked against the areas
    stored in `column` (AreaCodes: resolved already, not looked up again); an unknown one raises
    UnknownCodeError naming the nearest."""
    if not areas or isinstance(areas, AreaCodes):
        return areas
    with engine.connect() as conn:
        # codes as stored are the usual case: found among their own rows, not among every area's
        found = set(conn.execute(select(column).where(column.in_(areas)).distinct()).scalars())
        if found.issuperset(areas):
            return AreaCodes(areas)
        stored = conn.execute(select(column).distinct()).scalars().all()
    return AreaCodes(area_code(area, stored) for area in areas)


def check_indicators(indicators: list[str] | None, otherwise: str = "") -> None:
    """UnknownCodeError for an indicator id the catalogue does not know (a breakdown part checked against
    its parent's expanded ids), naming the nearest ids (or, none near, `otherwise`: where to find them); an
    indicator's name in fi, sv or en is pointed to its id."""
    known = load_indicator_catalogue().indicators
    for indicator in indicators or []:
        parent = known.get(indicator.split(".", 1)[0])
        if parent is not None and (indicator == parent.id or indicator in parent.expanded_ids()):
            continue
        if parent is not None:  # a breakdown part mistyped: the nearest of every stored id
            stored = [part for i in known.values() for part in (i.id, *i.expanded_ids())]
            raise unknown_code("indicator", indicator, stored, otherwise)
        wanted = indicator.strip().lower()
        named = [i.id for i in known.values() if wanted in {i.name.get(lang).lower() for lang in LANGUAGES}]
        if named:
            raise UnknownCodeError(
                f"unknown indicator {indicator!r}: that is the name of {', '.join(named)}; give the id"
            )
        raise unknown_code("indicator", indicator, known, otherwise)


def _only(frame: pl.DataFrame, indicators: list[str] | None) -> pl.DataFrame:
    """The rows of the indicators asked and their parts (a part asked alone is that part only, not its
    siblings), for a frame computed for their parents (assess_at); a query filters with
    storage.breakdowns.with_breakdowns."""
    if indicators is None:
        return frame
    base = pl.col("indicator").str.split(".").list.first()
    return frame.filter(pl.col("indicator").is_in(indicators) | base.is_in(indicators))


def catalogue(lang: str = "fi") -> pl.DataFrame:
    """Every indicator: id, name and description in `lang`, unit, direction, SDG code, boundary, methods,
    its stored ids, and the range its value can take (min, max: catalogue `bounds`, where projections stop;
    null: unbounded)."""
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
            "min": i.value_bounds[0],
            "max": i.value_bounds[1],
        }
        for i in load_indicator_catalogue().indicators.values()
    ]
    return pl.DataFrame(rows, schema_overrides={"min": pl.Float64, "max": pl.Float64})


def municipalities() -> pl.DataFrame:
    """Finnish municipalities: code (e.g. '049'), Finnish, Swedish and English name (name_en as Statistics
    Finland's English classification gives it: the Finnish name, or the Swedish one for nine municipalities,
    e.g. Jakobstad for Pietarsaari)."""
    return pl.DataFrame(municipality_names(), schema=["code", "name_fi", "name_sv", "name_en"], orient="row")


def area_names(lang: str = "fi") -> dict[str, str]:
    """Area code → name in `lang` (municipalities, the capital region, Eurostat's FI/EU, peer cities)."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}")
    return dict(_area_names(lang))


@cache
def _area_names(lang: str) -> tuple[tuple[str, str], ...]:
    column = f"name_{lang}"
    names = dict(municipalities().select("code", column).iter_rows())
    extra = {
        "fi": {"PKS": "Pääkaupunkiseutu", "FI": "Suomi", "EU27_2020": "EU-27"},
        "sv": {"PKS": "Huvudstadsregionen", "FI": "Finland", "EU27_2020": "EU-27"},
        "en": {"PKS": "Helsinki capital region", "FI": "Finland", "EU27_2020": "EU-27"},
    }[lang]
    peers = {area: name for area, name in peer_names(lang).items() if area not in names}
    return tuple({**names, **extra, **peers}.items())


def indicator_values(
    indicator: str | Sequence[str] | None = None,
    *,
    area: Areas | None = None,
    kind: str | Sequence[str] | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Computed values as stored: indicator, area, period, year (for annual periods), kind, value, lower,
    upper, unit, vintage (naive UTC), snapshot_ids, is_demo, flags (the same columns when nothing matches).
    flags are the source status flags behind an observed value, comma-joined ("p" provisional, "e"
    estimated, "b" break in series, …: common.flags.MEANINGS), null when none. An indicator id with a
    breakdown (e.g. 'ghg_by_sector') returns all its parts ('ghg_by_sector.transport', …); kind is one of
    VALUE_KINDS or several: the values of an indicator derived from a target are of kind target_derived
    (e.g. the residual emissions the −80 % target leaves), those of an assumption on a source's value of
    kind assumption (catalogue DERIVED_VALUE_KINDS), never observed."""
    table = schema.indicator_value
    query = select(table)
    indicators, kinds = _as_list("indicator", indicator), _as_list("kind", kind)
    check_indicators(indicators)
    _check_kinds(kinds)
    engine = engine or connect()
    areas = _area_codes(_area_list(area), table.c.area, engine)
    if areas is not None:
        query = query.where(table.c.area.in_(areas))
    if kinds is not None:
        query = query.where(table.c.kind.in_(kinds))
    if indicators is not None:
        query = query.where(with_breakdowns(table.c.indicator_id, indicators))
    frame = read.query_frame(engine, query).rename({"indicator_id": "indicator"})
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
    area: Areas | None = None,
    latest: bool = True,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Stored assessments with all inputs and outputs (details as JSON); the latest vintage by default.
    An indicator id with a breakdown returns its parts' assessments too, as indicator_values does. Rates
    (observed_rate, required_rate) as stored: fractions a year for the compound-rate methods, the
    indicator's unit a year for german_strategy, score points a year for sdsn_trend (kestava.api gives
    the fractions in % and names each row's rate_unit)."""
    if not isinstance(latest, bool):  # "no" would read as True
        raise TypeError(f"latest: expected True or False, got {latest!r}")
    table = schema.assessment
    indicators = _as_list("indicator", indicator)
    check_indicators(indicators)
    engine = engine or connect()
    areas = _area_codes(_area_list(area), table.c.area, engine)
    wanted: list[ColumnElement[bool]] = []
    if indicators is not None:
        wanted.append(with_breakdowns(table.c.indicator_id, indicators))
    if areas is not None:
        wanted.append(table.c.area.in_(areas))
    query = select(table).where(*wanted)
    if latest:  # each series' newest vintage, chosen by the database: the history grows with every vintage
        series = (table.c.indicator_id, table.c.area, table.c.method)
        newest = select(*series, func.max(table.c.as_of).label("as_of")).where(*wanted).group_by(*series)
        newest_rows = newest.subquery()
        query = query.join(
            newest_rows,
            and_(*(c == newest_rows.c[c.name] for c in (*series, table.c.as_of))),
        )
    frame = read.query_frame(engine, query).rename({"indicator_id": "indicator"})
    return frame.sort("indicator", "area", "method")


def outlook(indicator: str, *, area: Areas | None = None, engine: Engine | None = None) -> pl.DataFrame:
    """The road to the indicator's next target per area: gap (unit, and gap_pct in %), required pace from
    now on (required_rate in % a year, as the reports and `kestava export` show it; required_change_per_year
    in the unit), OLS and Theil–Sen projections with 95 % bands, the year the trend reaches the target, the
    budget view, the source flags of the latest observed value (latest_flags, as indicator_values' flags;
    latest_provisional True when one marks it provisional), and the provenance of the values it is
    computed from (unit, vintage, snapshot_ids, is_demo). The same columns when nothing matches."""
    if not isinstance(indicator, str):
        raise TypeError(
            f"indicator: expected one indicator id (text, e.g. 'ghg_total'), got {indicator!r}; "
            "call outlook once per indicator"
        )
    check_indicators([indicator])
    entry = load_indicator_catalogue().get(indicator)
    values = indicator_values(indicator, area=area, kind=["observed", "target"], engine=engine)
    values = values.filter(pl.col("indicator") == indicator)
    found = target_outlook(values, entry.direction, entry.value_bounds).with_columns(
        pl.col("required_rate") * 100
    )
    provenance = values.group_by("indicator", "area").agg(
        pl.col("unit").first(),
        pl.col("vintage").max(),
        pl.col("snapshot_ids").explode().drop_nulls().unique().sort(),
        pl.col("is_demo").any(),
    )
    latest_flags = values.filter(pl.col("kind") == "observed").select(
        "indicator", "area", pl.col("year").alias("latest_year"), pl.col("flags").alias("latest_flags")
    )
    return (
        found.join(latest_flags, on=["indicator", "area", "latest_year"], how="left", maintain_order="left")
        .with_columns(is_provisional(pl.col("latest_flags")).alias("latest_provisional"))
        .join(provenance, on=["indicator", "area"], how="left", maintain_order="left")
    )


def sectors(area: Areas = ESPOO, *, detailed: bool = False, engine: Engine | None = None) -> pl.DataFrame:
    """Observed emissions by sector for one area or several (codes, names or municipality numbers): area
    (its code), sector key, year, value, unit (kt CO2e), flags (as indicator_values': "p" provisional, …),
    vintage, snapshot_ids, is_demo."""
    indicator = "ghg_by_subsector" if detailed else "ghg_by_sector"
    frame = indicator_values(indicator, area=area, kind="observed", engine=engine)
    return frame.select(
        "area",
        pl.col("indicator").str.split(".").list.last().alias("sector"),
        "year",
        "value",
        "unit",
        "flags",
        "vintage",
        "snapshot_ids",
        "is_demo",
    )


def compare(indicator: str, areas: Areas, *, lang: str = "fi", engine: Engine | None = None) -> pl.DataFrame:
    """One indicator's observed values for several areas side by side (long form with area names)."""
    names = area_names(lang)
    frame = indicator_values(indicator, area=_area_list(areas), kind="observed", engine=engine)
    return frame.with_columns(pl.col("area").replace_strict(names, default=pl.col("area")).alias("area_name"))


def provenance(snapshot_ids: int | Sequence[int], *, engine: Engine | None = None) -> pl.DataFrame:
    """Where values came from, one row per payload (each file a snapshot was read from), so that a value
    traces to its files: the snapshot (snapshot_id, dataset_id and title, is_demo, snapshot_sha256), its
    source (publisher, licence, attribution) and the payload (seq, method, url, params, fetched_at,
    http_status, sha256, storage_path); a snapshot of several payloads gives several rows (group by
    snapshot_id for one a snapshot). For one snapshot id or several, as the snapshot_ids columns hold them
    (an empty list: none); an id that is not an integer is a TypeError, one that is not stored an
    UnknownCodeError naming it."""
    ids = [snapshot_ids] if isinstance(snapshot_ids, int) else list(snapshot_ids)
    wrong = [i for i in ids if not isinstance(i, int) or isinstance(i, bool)]
    if wrong:
        raise TypeError(f"snapshot_ids: expected integer snapshot ids (e.g. 4 or [1, 4]), got {wrong!r}")
    found = read.provenance(engine or connect(), ids)
    missing = sorted(set(ids) - set(found["snapshot_id"].to_list()))
    if missing:
        raise UnknownCodeError(
            f"unknown snapshot id(s) {', '.join(map(str, missing))}: no such snapshot is stored "
            "(the snapshot_ids columns of indicator_values, observations and the export name the stored ones)"
        )
    return found


def freshness(
    today: date | datetime | str | None = None,
    *,
    as_of: date | datetime | str | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Each dataset's newest period, last fetch and change, and whether it is fresh, late or failing on
    `today` (a date, a datetime or ISO text; None: today); the newest period of the areas the indicators
    use of the dataset (IndicatorCatalogue.dataset_areas, listed in `areas`), not of an area none uses.
    Judged on the data as stored now, or with `as_of` (a date: its end; a datetime or ISO text) as they
    stood then: the rows current, the fetches made and the runs finished by that moment."""
    given = as_date("today", today)
    day = given.date() if isinstance(given, datetime) else given
    areas = load_indicator_catalogue().dataset_areas()  # judged on the areas the indicators use
    given_as_of = as_date("as_of", as_of)
    moment = read.as_moment(given_as_of) if given_as_of is not None else None
    return dataset_freshness(engine or connect(), load_catalogue(), day or date.today(), areas, as_of=moment)


def assess_at(
    as_of: date | datetime | str | None,
    indicators: str | Sequence[str] | None = None,
    *,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Assess every indicator (or those named) as the data stood at `as_of` (None: now; a date, a datetime
    or ISO text); nothing is stored."""
    wanted = _as_list("indicators", indicators)
    check_indicators(wanted)
    parents = list(dict.fromkeys(i.split(".", 1)[0] for i in wanted)) if wanted is not None else None
    return _only(assess_as_of(engine or connect(), as_date("as_of", as_of), parents), wanted)


def status_changes(
    before: date | datetime | str,
    after: date | datetime | str | None = None,
    indicators: str | Sequence[str] | None = None,
    *,
    area: Areas | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Statuses that changed between two vintages (dates, datetimes or ISO text; `after` None: now), each
    with its cause (new data or revised history); for `area` (codes or names) only, when given."""
    start, end = as_date("before", before), as_date("after", after)
    if start is None:
        raise ValueError("before: expected a date, a datetime or ISO text like '2025-06-30', got None")
    if end is not None and read.as_moment(end) < read.as_moment(start):  # a date: its end, as read
        raise ValueError(f"after ({end}) is earlier than before ({start}): give the earlier vintage first")
    wanted = _as_list("indicators", indicators)
    check_indicators(wanted)
    engine = engine or connect()
    areas = _area_codes(_area_list(area), schema.indicator_value.c.area, engine)
    return explain_changes(engine, start, end, wanted, areas=areas)


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
    area: Areas | None = None,
    period: str | Sequence[str] | None = None,
    lang: str | Sequence[str] | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """The current staff notes (Markdown, kestava note): id, indicator, area, period, lang, body, author,
    created_at (UTC), replaces (the earlier version it edits, if any); filtered by indicator id (one with a
    breakdown, e.g. 'ghg_by_sector', gives its parts' notes too, as indicator_values does), area (codes or
    names), period (e.g. '2024', '2026-H1') and language, each one or several (an empty list: none)."""
    indicators = _as_list("indicator", indicator)
    known = known_note_indicators()
    for indicator_id in indicators or []:
        if indicator_id not in known:
            raise unknown_code("indicator", indicator_id, sorted(known))
    given_areas, given_periods, given_langs = (
        _area_list(area),
        _as_list("period", period),
        _as_list("lang", lang),
    )
    areas = None if given_areas is None else [note_area(a) for a in given_areas]
    periods = None if given_periods is None else [check_period(p) for p in given_periods]
    langs = None if given_langs is None else [check_lang(code) for code in given_langs]
    found = list_notes(
        engine or connect(), indicator=indicators, area=areas, period=periods, lang=langs, breakdowns=True
    )
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
