"""Query results as polars frames: PostgreSQL's COPY ... TO STDOUT; SQLite's rows in Arrow or as tuples."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Connection, Engine, Select

from storage import sqlite_arrow
from storage.engine import CHANGES_AT_BEGIN

if TYPE_CHECKING:
    import psycopg

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy stores for DateTime on SQLite
_TIMESTAMP_PARSE = "%Y-%m-%d %H:%M:%S%.6f"  # the same, in the form polars parses (chrono's)
_DATE_FORMAT = "%Y-%m-%d"  # what SQLAlchemy stores for Date on SQLite
WORKER_ROWS = 50_000  # a SQLite result with more rows goes to the read worker, when it can take it
_DATABASE_FILE = "kestava_database_file"  # Connection.info key: the file of the connection's database


def fetch_frame(conn: Connection, query: Select[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The rows of `query` as a frame with these columns and dtypes (in the query's column order).

    On PostgreSQL the result travels as CSV through COPY (a million rows in a fraction of the time of
    fetching them as Python tuples); the statement is compiled with its parameters inlined by the
    dialect's own quoting. On SQLite the statement is executed by SQLAlchemy (its parameters bound by
    their types) and the rows are taken from the driver's cursor as stored, not through SQLAlchemy's
    per-row conversions; a result of more than WORKER_ROWS rows is read instead as Arrow columns by the
    SQLite read worker (storage.sqlite_arrow) when that sees exactly what conn sees, in about half the
    time. Either way timestamps and dates arrive as SQLAlchemy's text and are parsed in one step.
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


def expect_many_rows(engine: Engine, rows: int) -> None:
    """A hint that results of about `rows` rows will be read: on a SQLite file with more than WORKER_ROWS,
    the read worker is started now (in the background), so that it is ready for the first of them."""
    if (
        rows > WORKER_ROWS
        and engine.dialect.name == "sqlite"
        and engine.url.database not in (None, "", ":memory:")
    ):
        sqlite_arrow.start()


def _sqlite_frame(conn: Connection, query: Select[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The rows of `query` on SQLite, temporal columns parsed from SQLAlchemy's storage format."""
    as_text = {
        name: pl.String() if isinstance(dtype, pl.Datetime | pl.Date) else dtype
        for name, dtype in schema.items()
    }
    frame: pl.DataFrame | None = None
    result = conn.execute(query)
    try:
        rows = list(result.cursor.fetchmany(WORKER_ROWS))
        many = len(rows) == WORKER_ROWS
        if many and _worker_sees_what_conn_sees(conn):
            result.close()
            frame = _worker_frame(conn, query, as_text)
            if frame is None:  # the worker could not read them after all: every row through the cursor
                result = conn.execute(query)
                rows = []
        if frame is None:
            if many:
                rows += result.cursor.fetchall()
            frame = pl.DataFrame(rows, schema=as_text, orient="row")
    finally:
        result.close()
    parsed = [
        pl.col(name).str.to_datetime(_TIMESTAMP_PARSE, time_unit=dtype.time_unit or "us")
        if isinstance(dtype, pl.Datetime)
        else pl.col(name).str.to_date(_DATE_FORMAT)
        for name, dtype in schema.items()
        if isinstance(dtype, pl.Datetime | pl.Date)
    ]
    return frame.with_columns(parsed) if parsed else frame


def _worker_sees_what_conn_sees(conn: Connection) -> bool:
    """Whether the SQLite read worker is ready and would read exactly what conn reads.

    Both connections see the same rows when conn is in a transaction begun with BEGIN IMMEDIATE
    (storage.engine), so that no other writer can commit while it lasts, that has written nothing
    itself yet (its total_changes are those noted at BEGIN): the worker's read then sees the last
    commit, which is conn's view. A database in memory, a transaction that wrote, or an engine that did
    not note its BEGIN read through the cursor. The worker is started by the first call that finds it
    stopped, and used once it is ready.
    """
    driver = conn.connection.driver_connection
    if conn.info.get(CHANGES_AT_BEGIN) != getattr(driver, "total_changes", None):
        return False
    return _database_file(conn) is not None and sqlite_arrow.ready()


def _worker_frame(
    conn: Connection, query: Select[Any], schema: dict[str, pl.DataType]
) -> pl.DataFrame | None:
    """The rows as the SQLite read worker reads them from conn's file, with these dtypes; None when it
    cannot read them or gives a column of another type."""
    path = _database_file(conn)
    assert path is not None
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    frame = sqlite_arrow.read(path, sql)
    if frame is None or frame.columns != list(schema):
        return None
    typed = []
    for name, dtype in schema.items():
        column = frame.get_column(name)
        if column.dtype != dtype:
            if column.null_count() != column.len():  # only a column of nulls has no type of its own
                return None
            column = column.cast(dtype)
        typed.append(column)
    return pl.DataFrame(typed)


def _database_file(conn: Connection) -> Path | None:
    """The file of conn's main database as SQLite resolved it (None for a database in memory)."""
    if _DATABASE_FILE not in conn.info:
        rows = conn.exec_driver_sql("PRAGMA database_list").all()
        conn.info[_DATABASE_FILE] = next((str(row[2]) for row in rows if row[1] == "main"), "")
    file = conn.info[_DATABASE_FILE]
    return Path(file) if file else None


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
