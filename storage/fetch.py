"""Query results as polars frames: PostgreSQL's COPY ... TO STDOUT for large results, rows elsewhere."""

from __future__ import annotations

import io
from typing import Any

import polars as pl
from sqlalchemy import Connection, Select


def fetch_frame(conn: Connection, query: Select[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The rows of `query` as a frame with these columns and dtypes (in the query's column order).

    On PostgreSQL the result travels as CSV through COPY (a million rows in a fraction of the time of
    fetching them as Python tuples); the statement is compiled with its parameters inlined by the
    dialect's own quoting. On SQLite the rows are fetched.
    """
    if conn.dialect.name != "postgresql":
        return pl.DataFrame(conn.execute(query).fetchall(), schema=schema, orient="row")
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
