"""Query results as polars frames: PostgreSQL's COPY ... TO STDOUT, SQLite's rows as the driver gives them."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Connection, Select

if TYPE_CHECKING:
    import psycopg

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
    import psycopg  # here: commands on SQLite do not pay for importing the PostgreSQL driver
    from psycopg import pq

    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    if not driver.autocommit and driver.info.transaction_status == pq.TransactionStatus.IDLE:
        conn.exec_driver_sql("SELECT 1")  # the transaction begins (for SQLAlchemy too), as for a statement
    buffer = io.BytesIO()
    _copy_out(driver, f"COPY ({sql}) TO STDOUT (FORMAT csv)", buffer)
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


def _copy_out(driver: psycopg.Connection[Any], statement: str, out: io.BytesIO) -> None:
    """Write what a COPY ... TO STDOUT sends into out, read from libpq in one blocking loop.

    The server sends one message per row, and psycopg's Copy iterator takes each through its wait
    machinery: on a million rows that doubled the time of the whole read. Runs in the connection's
    open transaction; an error of the statement is raised as psycopg raises it.
    """
    from psycopg import pq
    from psycopg.errors import error_from_result

    pgconn = driver.pgconn
    with driver.lock:
        pgconn.send_query(statement.encode(driver.info.encoding))
        error: psycopg.Error | None = None
        while (result := pgconn.get_result()) is not None:
            if result.status == pq.ExecStatus.COPY_OUT:
                while (received := pgconn.get_copy_data(0))[0] > 0:
                    out.write(received[1])
            elif result.status != pq.ExecStatus.COMMAND_OK and error is None:
                error = error_from_result(result, driver.info.encoding)
    if error is not None:
        raise error
