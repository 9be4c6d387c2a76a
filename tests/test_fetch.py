"""Query results as frames: PostgreSQL's COPY path gives exactly what fetching the rows gives."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from sqlalchemy import Column, Date, DateTime, Engine, Float, Integer, MetaData, String, Table, insert, select

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


def test_fetch_frame_gives_the_rows_as_stored(engine: Engine) -> None:
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
