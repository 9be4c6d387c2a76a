"""Query results as frames: PostgreSQL's COPY path and SQLite's read worker give exactly what fetching the
rows gives."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from sqlalchemy import Column, Date, DateTime, Engine, Float, Integer, MetaData, String, Table, insert, select

import storage.fetch
import storage.read
from storage import schema, sqlite_arrow
from storage.engine import create_db_engine
from storage.fetch import fetch_frame

ROWS = [
    {"id": 1, "period": "2024", "value": 1.5, "flag": None, "at": datetime(2024, 1, 2, 3, 4, 5), "on": None},
    # an empty text is not a missing one; a whole second keeps its (zero) microseconds
    {"id": 2, "period": "2024-W07", "value": None, "flag": "", "at": None, "on": date(2024, 2, 29)},
    # CSV's comma, quote and newline
    {
        "id": 3,
        "period": "2024-Q1",
        "value": -0.1,
        "flag": 'a,"b"\nc',
        "at": datetime(1999, 12, 31, 23, 59, 59, 999999),
        "on": date(1990, 1, 1),
    },
    {
        "id": 4,
        "period": "Åland ä",
        "value": 1e-300,
        "flag": "NULL",
        "at": datetime(2026, 12, 5, 22, 46, 28, 338310),
        "on": None,
    },  # the word NULL is text
    {"id": 5, "period": "x", "value": 123456789.123456789, "flag": "\\N", "at": None, "on": None},
]
SCHEMA = {
    "id": pl.Int64(),
    "period": pl.String(),
    "value": pl.Float64(),
    "flag": pl.String(),
    "at": pl.Datetime("us"),
    "on": pl.Date(),
}


def probe_table(engine: Engine) -> Table:
    """The probe table, created in engine's database and holding ROWS."""
    metadata = MetaData()
    table = Table(
        "fetch_probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("period", String(16)),
        Column("value", Float),
        Column("flag", String(16)),
        Column("at", DateTime),
        Column("on", Date),
    )
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), ROWS)
    return table


@pytest.fixture(params=["cursor", "worker"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How SQLite reads results: "worker" hands every result of more than one row to the read worker,
    which is made ready first (PostgreSQL reads through COPY either way)."""
    if request.param == "worker":
        monkeypatch.setattr(storage.fetch, "WORKER_ROWS", 2)
        assert sqlite_arrow.wait(120), "the SQLite read worker did not start"
    return str(request.param)


def test_fetch_frame_gives_the_rows_as_stored(engine: Engine, reader: str) -> None:
    table = probe_table(engine)
    expected = pl.DataFrame(ROWS, schema=SCHEMA)
    query = select(*table.c).order_by(table.c.id)
    with engine.connect() as conn:
        assert fetch_frame(conn, query, SCHEMA).equals(expected)
        picked = fetch_frame(conn, query.where(table.c.period == "Åland ä'; --"), SCHEMA)
        assert picked.height == 0 and picked.schema == pl.Schema(SCHEMA)  # a quote in a parameter stays text
        some = fetch_frame(conn, query.where(table.c.flag.in_(["", 'a,"b"\nc'])), SCHEMA)
        assert some["id"].to_list() == [2, 3]
        since = fetch_frame(conn, query.where(table.c.at >= datetime(2024, 1, 2, 3, 4, 5)), SCHEMA)
        assert since["id"].to_list() == [1, 4]  # a datetime parameter is bound as the column stores it


def test_fetch_frame_sees_what_its_own_transaction_wrote(engine: Engine, reader: str) -> None:
    # on SQLite the rows are read by a second connection only while this one has written nothing: a
    # transaction that wrote must still see its own rows, and a read before the write the stored ones
    table = probe_table(engine)
    query = select(*table.c).order_by(table.c.id)
    with engine.begin() as conn:
        assert fetch_frame(conn, query, SCHEMA)["id"].to_list() == [1, 2, 3, 4, 5]
        conn.execute(insert(table), [{**ROWS[0], "id": 6, "flag": "uncommitted"}])
        conn.execute(table.update().where(table.c.id == 1).values(value=2.5))
        frame = fetch_frame(conn, query, SCHEMA)
        assert frame["id"].to_list() == [1, 2, 3, 4, 5, 6]
        assert frame["value"][0] == 2.5 and frame["flag"][5] == "uncommitted"
    with engine.connect() as conn:  # and a new transaction reads the committed rows
        assert fetch_frame(conn, query, SCHEMA)["value"].to_list()[:1] == [2.5]


def test_fetch_frame_reads_a_database_in_memory(reader: str) -> None:
    engine = create_db_engine("sqlite://")
    try:
        table = probe_table(engine)
        with engine.connect() as conn:
            frame = fetch_frame(conn, select(*table.c).order_by(table.c.id), SCHEMA)
        assert frame.equals(pl.DataFrame(ROWS, schema=SCHEMA))
    finally:
        engine.dispose()


def test_fetch_frame_types_a_column_of_nulls_by_the_schema(engine: Engine, reader: str) -> None:
    table = probe_table(engine)
    query = select(table.c.id, table.c.flag, table.c.at).where(table.c.id == 5)
    schema = {"id": pl.Int64(), "flag": pl.String(), "at": pl.Datetime("us")}
    with engine.connect() as conn:
        frame = fetch_frame(conn, query, schema)
    assert frame.schema == pl.Schema(schema) and frame.rows() == [(5, "\\N", None)]
    with engine.connect() as conn:
        nulls = fetch_frame(conn, query.where(table.c.flag.is_(None)), schema)
    assert nulls.height == 0 and nulls.schema == pl.Schema(schema)


def test_a_hint_of_many_rows_starts_the_read_worker_on_a_sqlite_file(engine: Engine) -> None:
    sqlite_arrow.stop()
    storage.fetch.expect_many_rows(engine, storage.fetch.WORKER_ROWS)  # not more than the cursor reads
    assert not sqlite_arrow.started()
    storage.fetch.expect_many_rows(engine, storage.fetch.WORKER_ROWS + 1)
    assert sqlite_arrow.started() == (engine.dialect.name == "sqlite")
    sqlite_arrow.stop()
    in_memory = create_db_engine("sqlite://")
    try:
        storage.fetch.expect_many_rows(in_memory, 10**7)  # no file for a worker to read
        assert not sqlite_arrow.started()
    finally:
        in_memory.dispose()


def test_reading_a_large_dataset_is_announced_by_its_latest_snapshot(engine: Engine) -> None:
    """`kestava compute` on its own: the worker starts before the first large dataset is read."""
    snap = schema.snapshot
    with engine.begin() as conn:
        conn.execute(
            insert(schema.source),
            [{"id": "s", "publisher": "p", "licence": "l", "attribution": "a", "homepage": "h"}],
        )
        conn.execute(
            insert(schema.dataset),
            [
                {"id": name, "source_id": "s", "title": name, "protocol": "csv"}
                for name in ("big", "small", "shrunk")
            ],
        )
        common = {
            "fetched_at": datetime(2026, 12, 6),
            "sha256": "0" * 64,
            "reader_version": "r",
            "is_demo": False,
        }
        rows = storage.fetch.WORKER_ROWS
        conn.execute(
            insert(snap),
            [
                {
                    **common,
                    "dataset_id": "big",
                    "rows_added": rows - 10,
                    "rows_revised": 6,
                    "rows_unchanged": 5,
                },
                {**common, "dataset_id": "small", "rows_added": rows, "rows_revised": 0, "rows_unchanged": 0},
                # once large; its latest snapshot, which holds its current rows, is not
                {
                    **common,
                    "dataset_id": "shrunk",
                    "rows_added": 10 * rows,
                    "rows_revised": 0,
                    "rows_unchanged": 0,
                },
                {**common, "dataset_id": "shrunk", "rows_added": 10, "rows_revised": 0, "rows_unchanged": 0},
            ],
        )
    sqlite_arrow.stop()
    storage.read.expect_observations(engine, ["small", "shrunk"])
    assert not sqlite_arrow.started()
    storage.read.expect_observations(engine, ["small", "big"])  # big: WORKER_ROWS + 1 rows
    assert sqlite_arrow.started() == (engine.dialect.name == "sqlite")
    sqlite_arrow.stop()
