"""The read API: current or as-of observations, snapshots, provenance and job runs as polars frames."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

import polars as pl
from sqlalchemy import Engine, and_, func, or_, select

from storage import schema
from storage.fetch import WORKER_ROWS, expect_many_rows, fetch_frame
from storage.load import LATEST_DIGESTS_OF, utc_naive

OBSERVATION_SCHEMA = pl.Schema(
    {
        "dataset": pl.String(),
        "series_id": pl.Int64(),
        "key": pl.String(),
        "period": pl.String(),
        "value": pl.Float64(),
        "flag": pl.String(),
        "snapshot_id": pl.Int64(),
        "valid_from": pl.Datetime("us"),
        "valid_to": pl.Datetime("us"),
    }
)


_OBSERVATION_ROW_SCHEMA = pl.Schema({k: v for k, v in OBSERVATION_SCHEMA.items() if k != "key"})
_SERIES_KEY_SCHEMA = pl.Schema({"series_id": pl.Int64(), "dataset": pl.String(), "key": pl.String()})


def as_moment(moment: date | datetime) -> datetime:
    """A moment as naive UTC; a date means the end of that day (UTC): 'as published on D' includes everything
    fetched on D (every as_of and before/after argument reads a date so)."""
    if isinstance(moment, datetime):
        return utc_naive(moment)
    return datetime.combine(moment, time.max)


def expect_observations(engine: Engine, datasets: Sequence[str]) -> None:
    """A hint before the observations of these datasets are read one by one: on a SQLite file, when the
    latest snapshot of one of them holds more than WORKER_ROWS rows, the read worker starts now (in the
    background), so that it is ready for the large reads rather than started by the first of them (which
    would go through the cursor: at 309 municipalities, Syke's rows take twice as long that way)."""
    if engine.dialect.name != "sqlite" or not datasets:
        return
    snap = schema.snapshot
    rows = (
        snap.c.rows_added
        + snap.c.rows_revised
        + snap.c.rows_confirmed
        + snap.c.rows_reflagged
        + snap.c.rows_unchanged
    )
    largest_latest = LATEST_DIGESTS_OF.with_only_columns(func.max(rows))  # over each one's newest snapshot
    with engine.connect() as conn:
        largest = conn.execute(largest_latest, {"datasets": list(datasets)}).scalar()
    if largest is not None and largest > WORKER_ROWS:
        expect_many_rows(engine, largest)


def observations(
    engine: Engine,
    dataset: str | Sequence[str] | None = None,
    *,
    area: str | Sequence[str] | None = None,
    as_of: date | datetime | None = None,
    expand: bool = True,
) -> pl.DataFrame:
    """Observations as a long frame: current values, or the values the tracker held at `as_of`.

    With expand=True (default) every series dimension (area, unit, sector…) becomes a column. The series
    keys (JSON) are read and decoded once per series, not once per observation, and joined on series_id.
    """
    obs, series = schema.observation, schema.series
    # Per row only what differs by row: the dataset comes with the series keys, and a current row's
    # valid_to is known to be empty (two columns of eight fewer for the driver to turn into Python objects).
    row_schema = {k: v for k, v in _OBSERVATION_ROW_SCHEMA.items() if k != "dataset"}
    if as_of is None:
        del row_schema["valid_to"]
    query = select(*(obs.c[name] for name in row_schema)).join(series, series.c.id == obs.c.series_id)
    keys_query = select(series.c.id.label("series_id"), series.c.dataset_id.label("dataset"), series.c.key)
    if dataset is not None:
        names = [dataset] if isinstance(dataset, str) else list(dataset)
        query = query.where(series.c.dataset_id.in_(names))
        keys_query = keys_query.where(series.c.dataset_id.in_(names))
    if area is not None:
        areas = [area] if isinstance(area, str) else list(area)
        query = query.where(series.c.area.in_(areas))
        keys_query = keys_query.where(series.c.area.in_(areas))
    if as_of is None:
        query = query.where(obs.c.valid_to.is_(None))
    else:
        moment = as_moment(as_of)
        query = query.where(
            and_(obs.c.valid_from <= moment, or_(obs.c.valid_to.is_(None), obs.c.valid_to > moment))
        )
    with engine.connect() as conn:
        # Sorted here, not by the database: SQLite would sort through a temporary B-tree (half a
        # second for the whole country's Syke rows), and polars' byte order is the same on both backends.
        frame = fetch_frame(conn, query, row_schema).sort("series_id", "period")
        if frame.height == 0:
            return pl.DataFrame(schema=OBSERVATION_SCHEMA)
        keys = fetch_frame(conn, keys_query.order_by(series.c.id), dict(_SERIES_KEY_SCHEMA))
    rows = frame.join(keys.select("series_id", "dataset"), on="series_id", how="left", maintain_order="left")
    if as_of is None:
        rows = rows.with_columns(pl.lit(None, dtype=_OBSERVATION_ROW_SCHEMA["valid_to"]).alias("valid_to"))
    rows = rows.select(_OBSERVATION_ROW_SCHEMA.names())
    if not expand:
        return rows.join(
            keys.select("series_id", "key"), on="series_id", how="left", maintain_order="left"
        ).select(OBSERVATION_SCHEMA.names())
    dims = keys["key"].str.json_decode(infer_schema_length=None).struct.unnest()
    by_series = pl.concat([keys.select("series_id"), dims], how="horizontal")
    return rows.join(by_series, on="series_id", how="left", maintain_order="left")


def snapshots(engine: Engine, dataset: str | None = None) -> pl.DataFrame:
    """Every snapshot with its dataset, fetch time, digest, counts and whether it is demo data."""
    query = select(schema.snapshot)
    if dataset is not None:
        query = query.where(schema.snapshot.c.dataset_id == dataset)
    return query_frame(engine, query.order_by(schema.snapshot.c.id))


def provenance(engine: Engine, snapshot_ids: Sequence[int]) -> pl.DataFrame:
    """One row per payload of the snapshots: its snapshot, dataset and title, source, licence, URL, fetch
    time and sha256."""
    snap, pay, ds, src = schema.snapshot, schema.payload, schema.dataset, schema.source
    query = (
        select(
            snap.c.id.label("snapshot_id"),
            snap.c.dataset_id,
            ds.c.title,
            snap.c.is_demo,
            snap.c.sha256.label("snapshot_sha256"),
            src.c.publisher,
            src.c.licence,
            src.c.attribution,
            pay.c.seq,
            pay.c.method,
            pay.c.url,
            pay.c.params,
            pay.c.fetched_at,
            pay.c.http_status,
            pay.c.sha256,
            pay.c.storage_path,
        )
        .join(pay, pay.c.snapshot_id == snap.c.id)
        .join(ds, ds.c.id == snap.c.dataset_id)
        .join(src, src.c.id == ds.c.source_id)
        .where(snap.c.id.in_(list(snapshot_ids)))
        .order_by(snap.c.id, pay.c.seq)
    )
    return query_frame(engine, query)


def job_runs(engine: Engine, job: str | None = None, limit: int = 1000) -> pl.DataFrame:
    """The newest job runs first."""
    query = select(schema.job_run)
    if job is not None:
        query = query.where(schema.job_run.c.job == job)
    return query_frame(engine, query.order_by(schema.job_run.c.id.desc()).limit(limit))


def problem_runs(engine: Engine, start: datetime, end: datetime) -> pl.DataFrame:
    """The failed and rejected job runs started in [start, end) (naive UTC), the newest first: selected by
    the database, whatever the number of runs recorded before them."""
    table = schema.job_run
    query = select(table).where(
        table.c.outcome.in_(("failed", "rejected")), table.c.started_at >= start, table.c.started_at < end
    )
    return query_frame(engine, query.order_by(table.c.id.desc()))


_POLARS_TYPES: dict[type, pl.DataType] = {
    bool: pl.Boolean(),
    str: pl.String(),
    int: pl.Int64(),
    float: pl.Float64(),
    datetime: pl.Datetime("us"),
    date: pl.Date(),
}


def _polars_type(column: object) -> pl.DataType:
    """The polars type of a selected column's SQL type (text when it has no plain Python type)."""
    try:
        python_type = column.type.python_type  # type: ignore[attr-defined]
    except (AttributeError, NotImplementedError):
        return pl.String()
    return _POLARS_TYPES.get(python_type, pl.String())


def query_frame(engine: Engine, query: object) -> pl.DataFrame:
    """The rows of any query as a frame, each selected column of its SQL type's polars type whatever its
    values (an all-null column too), so that an answer's schema never depends on what it holds."""
    with engine.connect() as conn:
        result = conn.execute(query)  # type: ignore[call-overload]
        columns = list(result.keys())
        rows = result.fetchall()
    selected = {column.name: column for column in getattr(query, "selected_columns", [])}
    if not rows:
        return pl.DataFrame(schema={name: _polars_type(selected.get(name)) for name in columns})
    frame = pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)
    # columns of a known SQL type take its polars type; any other (an untyped expression) keeps its values'
    typed = {name: _polars_type(selected[name]) for name in columns if _has_python_type(selected.get(name))}
    return frame.cast(typed)


def _has_python_type(column: object) -> bool:
    """Whether a selected column's SQL type has a plain Python type query_frame knows."""
    try:
        return column.type.python_type in _POLARS_TYPES  # type: ignore[attr-defined]
    except (AttributeError, NotImplementedError):
        return False
