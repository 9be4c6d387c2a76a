"""Query results as polars frames: PostgreSQL's COPY ... TO STDOUT, SQLite's rows as the driver gives them."""

from __future__ import annotations

import io
from typing import Any

import polars as pl
from sqlalchemy import Connection, Select

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy stores for DateTime on SQLite
_TIMESTAMP_PARSE = "%Y-%m-%d %H:%M:%S%.6f"  # the same, in the form polars parses (chrono's)
_DATE_FORMAT = "%Y-%m-%d"  # what SQLAlchemy stores for Date on SQLite


def fetch_frame(conn: Connection, query: Select[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The rows of `query` as a frame with these columns and dtypes (in the query's column order).

    On PostgreSQL the result travels as CSV through COPY (a million rows in a fraction of the time of
    fetching them as Python tuples); the statement is compiled with its parameters inlined by the
    dialect's own quoting. On SQLite the statement is executed by SQLAlchemy (its parameters bound by
    their types) and the rows are taken from the driver's cursor as stored, not through SQLAlchemy's
    per-row conversions: timestamps and dates arrive as SQLAlchemy's text and are parsed in one
    vectorised step (half the time of fetching them as Python datetimes).
    """
    if conn.dialect.name != "postgresql":
        return _sqlite_frame(conn, query, schema)
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    driver = conn.connection.driver_connection
    assert driver is not None
    buffer = io.BytesIO()
    with driver.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return pl.read_csv(
        buffer,
        has_header=False,
        new_columns=list(schema),
        schema_overrides=schema,
        infer_schema=False,
    )


def _sqlite_frame(conn: Connection, query: Select[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The rows of `query` on SQLite, temporal columns parsed from SQLAlchemy's storage format."""
    as_text = {
        name: pl.String() if isinstance(dtype, pl.Datetime | pl.Date) else dtype
        for name, dtype in schema.items()
    }
    result = conn.execute(query)
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    frame = pl.DataFrame(rows, schema=as_text, orient="row")
    parsed = [
        pl.col(name).str.to_datetime(_TIMESTAMP_PARSE, time_unit=dtype.time_unit or "us")
        if isinstance(dtype, pl.Datetime)
        else pl.col(name).str.to_date(_DATE_FORMAT)
        for name, dtype in schema.items()
        if isinstance(dtype, pl.Datetime | pl.Date)
    ]
    return frame.with_columns(parsed) if parsed else frame
