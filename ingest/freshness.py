"""How fresh each dataset is: last fetch, last change, newest period, and lateness against its calendar."""

from __future__ import annotations

import weakref
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, func, or_, select
from sqlalchemy.sql.selectable import NamedFromClause

from ingest.catalogue import Catalogue
from storage import schema
from storage.engine import autocommit, once_more
from storage.newest_runs import newest_dataset_run_ids

if TYPE_CHECKING:  # polars is imported where the frame is made: `kestava status` reads the rows only
    import polars as pl


def period_end(period: str) -> date:
    """The last day of a period written as YYYY, YYYY-MM, YYYY-MM-DD, YYYY-Www, YYYY-Qn or YYYY-Hn."""
    if len(period) == 4:
        return date(int(period), 12, 31)
    year = int(period[:4])
    rest = period[5:]
    if rest.startswith("W"):
        return date.fromisocalendar(year, int(rest[1:]), 7)
    if rest.startswith("Q"):
        month = int(rest[1:]) * 3
        return _month_end(year, month)
    if rest.startswith("H"):
        return _month_end(year, int(rest[1:]) * 6)
    if len(rest) == 2:
        return _month_end(year, int(rest))
    return date.fromisoformat(period)


def period_kind(period: str) -> str:
    """The granularity of a period as period_end reads it: annual, half-yearly, quarterly, monthly, weekly
    or daily (the names of a calendar's frequencies where there is one)."""
    if len(period) == 4:
        return "annual"
    kind = {"W": "weekly", "Q": "quarterly", "H": "half-yearly"}.get(period[5:6])
    if kind is not None:
        return kind
    return "monthly" if len(period) == 7 else "daily"


def newest_period(periods: Iterable[str], frequency: str) -> str | None:
    """The period a dataset's freshness is measured from, of its newest period of each granularity: the
    newest of the calendar's frequency when the dataset has one (Fingrid's daily calendar is kept by its
    days: the current week's partial mean is not newer data), else the one that ends last. By end date,
    never as text: "2026-W47" sorts after "2026-11-27" but ends before it (and "2026-Q1" after "2026-12")."""
    every = list(periods)
    of_frequency = [period for period in every if period_kind(period) == frequency]
    return max(of_frequency or every, key=period_end, default=None)


def _month_end(year: int, month: int) -> date:
    first_next = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first_next - timedelta(days=1)


def freshness_schema() -> pl.Schema:
    """The columns of `freshness` and their types."""
    import polars as pl

    return pl.Schema(
        {
            "dataset": pl.String(),
            "source": pl.String(),
            "title": pl.String(),
            "frequency": pl.String(),
            # what latest_period is: "periods", the newest period published; "releases", the day the content
            # was last seen to change (a release-tracked dataset's periods are target years, not its date)
            "tracks": pl.String(),
            "latest_period": pl.String(),
            "latest_period_end": pl.Date(),
            # the areas latest_period is judged on, sorted (freshness' `areas`: those the tracker uses, when
            # the dataset has any of them; else every area it has)
            "areas": pl.List(pl.String()),
            "expected_period_end": pl.Date(),
            "last_fetch": pl.Datetime("us"),
            "last_change": pl.Datetime("us"),
            "last_outcome": pl.String(),
            "last_error": pl.String(),
            "is_demo": pl.Boolean(),
            "state": pl.String(),
        }
    )


@dataclass(frozen=True)
class _Stored:
    """What freshness reads from the database: newest period, last change, demo flag, ingest runs."""

    latest_period: dict[str, dict[str, list[str]]]  # dataset -> area -> its newest period of each granularity
    last_change: dict[str, datetime]
    demo: dict[str, bool]
    runs: list[tuple[str, datetime | None, str, str | None]]


# engine → (newest snapshot id, newest job run id, what was read): a report asks for freshness several
# times (each language, both ends of the period); the newest-period query scans every current observation
_STORED: weakref.WeakKeyDictionary[Engine, tuple[tuple[int | None, int | None], _Stored]] = (
    weakref.WeakKeyDictionary()
)


def _stored(engine: Engine, as_of: datetime | None = None) -> _Stored:
    """The stored state, read again only when a snapshot or a job run was added since the last read (the
    observations only when a snapshot was: they change with snapshots alone). The reads need no
    transaction: what is added between them is newer than the marker, and so read again next time; their
    connection is not pinged first (PostgreSQL), and they run once more when the server had dropped it.
    With as_of (naive UTC), the state as it stood then: the rows current at that moment, the snapshots
    fetched and the runs finished by then (read each time, not cached)."""
    if as_of is not None:
        return once_more(lambda: _read_stored_at(engine, as_of))
    return once_more(lambda: _read_stored(engine))


def _read_stored(engine: Engine) -> _Stored:
    """_stored's reads, on one connection."""
    snap, run = schema.snapshot, schema.job_run
    with autocommit(engine, ping=False) as conn:
        newest = conn.execute(
            select(
                select(func.max(snap.c.id)).scalar_subquery(), select(func.max(run.c.id)).scalar_subquery()
            )
        ).one()
        marker = (newest[0], newest[1])
        cached = _STORED.get(engine)
        if cached is not None and cached[0] == marker:
            return cached[1]
        if cached is not None and cached[0][0] == marker[0]:  # only runs were added: no observation changed
            stored = replace(cached[1], runs=_ingest_runs(conn))
            _STORED[engine] = (marker, stored)
            return stored
        stored = _read(conn, None)
    _STORED[engine] = (marker, stored)
    return stored


def _read_stored_at(engine: Engine, as_of: datetime) -> _Stored:
    """_stored's reads as the data stood at as_of. A row is valid from its snapshot's fetch time, so only
    the datasets with a snapshot fetched after as_of stood otherwise then: theirs are read as of then
    (usually a few, the week's new data), the others' taken from the current state (_read_stored)."""
    now = _read_stored(engine)
    snap = schema.snapshot
    with autocommit(engine, ping=False) as conn:
        moved = sorted(
            str(dataset_id)
            for dataset_id in conn.execute(
                select(snap.c.dataset_id).where(snap.c.fetched_at > as_of).distinct()
            ).scalars()
        )
        # every dataset's runs as of the moment (the partial read reads them too)
        then = _read(conn, as_of, moved) if moved else _Stored({}, {}, {}, _ingest_runs(conn, as_of))

    def merged(current: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in current.items() if key not in moved} | earlier

    return _Stored(
        merged(now.latest_period, then.latest_period),
        merged(now.last_change, then.last_change),
        merged(now.demo, then.demo),
        then.runs,
    )


def _read(conn: Connection, as_of: datetime | None, datasets: list[str] | None = None) -> _Stored:
    """The stored state now (as_of None) or as it stood at as_of (naive UTC); of `datasets` only, when
    given (the ingest runs are every dataset's)."""
    snap, obs, series = schema.snapshot, schema.observation, schema.series
    current: list[ColumnElement[bool]] = [obs.c.valid_to.is_(None)]
    fetched: list[ColumnElement[bool]] = []
    if as_of is not None:
        current = [obs.c.valid_from <= as_of, or_(obs.c.valid_to.is_(None), obs.c.valid_to > as_of)]
        fetched = [snap.c.fetched_at <= as_of]
    if datasets is not None:
        current.append(series.c.dataset_id.in_(datasets))
        fetched.append(snap.c.dataset_id.in_(datasets))
    # each area's newest period of each form (its length and the letter after the year: W, Q, H or a
    # digit), within which text order is time order; newest_period compares them by their end dates
    form = (func.length(obs.c.period), func.substr(obs.c.period, 6, 1))
    latest_period: dict[str, dict[str, list[str]]] = {}
    for dataset_id, area, period in conn.execute(
        select(series.c.dataset_id, series.c.area, func.max(obs.c.period))
        .join(obs, obs.c.series_id == series.c.id)
        .where(*current, obs.c.value.is_not(None))
        .group_by(series.c.dataset_id, series.c.area, *form)
    ).all():
        latest_period.setdefault(str(dataset_id), {}).setdefault(str(area), []).append(str(period))
    last_change = dict(
        conn.execute(
            select(snap.c.dataset_id, func.max(snap.c.fetched_at))
            .where(
                (
                    snap.c.rows_added
                    + snap.c.rows_revised
                    + snap.c.rows_withdrawn
                    + snap.c.rows_confirmed
                    + snap.c.rows_reflagged
                )
                > 0,
                *fetched,
            )
            .group_by(snap.c.dataset_id)
        ).all()
    )
    demo = dict(
        conn.execute(
            select(snap.c.dataset_id, snap.c.is_demo).where(
                snap.c.id.in_(select(func.max(snap.c.id)).where(*fetched).group_by(snap.c.dataset_id))
            )
        ).all()
    )
    return _Stored(latest_period, last_change, demo, _ingest_runs(conn, as_of))


_run = schema.job_run


def _ingest_runs_query(as_of: datetime | None = None) -> Select[str, datetime | None, str, str | None]:
    """Per dataset its newest finished ingest run (its last outcome) and its newest fetch that worked (its
    last fetch), oldest first: what reading every run ever made in that order leaves (a log growing every
    firing); with as_of, of the runs finished by then. Each dataset's two runs are found by walking its runs
    newest first (storage.newest_runs), not by reading every run."""

    def ended(run: NamedFromClause) -> list[ColumnElement[bool]]:
        finished = [] if as_of is None else [run.c.finished_at <= as_of]
        return [run.c.outcome != "running", run.c.job.like("ingest:%"), *finished]

    def fetched(run: NamedFromClause) -> list[ColumnElement[bool]]:
        return [*ended(run), run.c.outcome.in_(("success", "unchanged")), run.c.finished_at.is_not(None)]

    newest = newest_dataset_run_ids("newest_ended", ended)
    newest_fetch = newest_dataset_run_ids("newest_fetched", fetched)
    return (
        select(_run.c.dataset_id, _run.c.finished_at, _run.c.outcome, _run.c.error)
        .where(_run.c.id.in_(select(newest.c.id).union(select(newest_fetch.c.id))))
        .order_by(_run.c.id)
    )


_INGEST_RUNS = _ingest_runs_query()


def _ingest_runs(
    conn: Connection, as_of: datetime | None = None
) -> list[tuple[str, datetime | None, str, str | None]]:
    """The finished ingest runs freshness reads, oldest first: (dataset, finished_at, outcome, error); per
    dataset its newest, and its newest that fetched (success or unchanged), the same or older; with as_of,
    of the runs finished by then."""
    query = _INGEST_RUNS if as_of is None else _ingest_runs_query(as_of)
    return [(r[0], r[1], r[2], r[3]) for r in conn.execute(query).all()]


def freshness(
    engine: Engine,
    catalogue: Catalogue,
    today: date,
    areas: Mapping[str, Collection[str]] | None = None,
    *,
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """One row per catalogue dataset; state is fresh, late, failed or never (never fetched). areas: per
    dataset the areas the tracker uses of it; its newest period is theirs (judged_areas). as_of (naive
    UTC): judged on the data as they stood then (None: as stored now)."""
    import polars as pl

    return pl.DataFrame(
        freshness_rows(engine, catalogue, today, areas, as_of=as_of), schema=freshness_schema()
    )


def judged_areas(stored: Collection[str], used: Collection[str] | None) -> list[str]:
    """The areas a dataset's newest period is judged on: those of `used` it has data for, so that no area the
    tracker does not use (EU-27 beside Finland's series) makes it look up to date; every stored area when it
    has none of them or nothing says which it uses (sorted)."""
    mine = sorted(area for area in stored if used is not None and area in used)
    return mine or sorted(stored)


def freshness_rows(
    engine: Engine,
    catalogue: Catalogue,
    today: date,
    areas: Mapping[str, Collection[str]] | None = None,
    *,
    as_of: datetime | None = None,
) -> list[dict[str, Any]]:
    """The rows of `freshness` (its columns as keys, in its order), without polars."""
    stored = _stored(engine, as_of)
    latest_period, last_change, demo, runs = (
        stored.latest_period,
        stored.last_change,
        stored.demo,
        stored.runs,
    )
    last_fetch: dict[str, datetime] = {}
    last_run: dict[str, tuple[str | None, str | None]] = {}
    for dataset_id, finished_at, run_outcome, run_error in runs:
        last_run[dataset_id] = (run_outcome, run_error)
        if run_outcome in ("success", "unchanged") and finished_at is not None:
            last_fetch[dataset_id] = finished_at
    rows = []
    for spec in catalogue.datasets.values():
        by_area = latest_period.get(spec.id, {})
        judged = judged_areas(by_area, (areas or {}).get(spec.id))
        period = newest_period((p for area in judged for p in by_area[area]), spec.calendar.frequency)
        # the areas that have that period: "31.12.2024 (Espoo, Helsinki)" is not said of an area behind
        reached = [a for a in judged if newest_period(by_area[a], spec.calendar.frequency) == period]
        end = period_end(period) if period else None
        if spec.calendar.tracks == "releases" and period is not None:
            # periods are not when the data are from (a target year, 2030): the release is, seen as the
            # last change of the content (or the first load)
            changed = last_change.get(spec.id)
            period, end = (f"{changed:%Y-%m-%d}", changed.date()) if changed is not None else (None, None)
        expected = spec.calendar.expected_latest_period_end(today)
        outcome, error = last_run.get(spec.id, (None, None))
        if period is None:
            state = "never" if outcome is None else "failed"
        elif outcome in ("failed", "rejected"):
            state = "failed"
        elif end is not None and end < expected:
            state = "late"
        else:
            state = "fresh"
        rows.append(
            {
                "dataset": spec.id,
                "source": spec.source,
                "title": spec.title,
                "frequency": spec.calendar.frequency,
                "tracks": spec.calendar.tracks,
                "latest_period": period,
                "latest_period_end": end,
                "areas": reached,
                "expected_period_end": expected,
                "last_fetch": last_fetch.get(spec.id),
                "last_change": last_change.get(spec.id),
                "last_outcome": outcome,
                "last_error": error,
                "is_demo": demo.get(spec.id),
                "state": state,
            }
        )
    return rows
