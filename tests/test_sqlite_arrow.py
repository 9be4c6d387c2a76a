"""The SQLite read worker: Arrow columns from a database file, read-only, recovering from its failures."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from storage import sqlite_arrow

ROWS = [(1, "2024", 0.1 + 0.2, None), (2, "2024-Q1", 1e-300, "p"), (2**40, "Åland", -123456789.123456789, "")]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    """A WAL database file holding ROWS, kept open by a sqlite3 connection as the tracker keeps it."""
    path = tmp_path / "probe.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER, period VARCHAR, value FLOAT, flag VARCHAR)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", ROWS)
    conn.commit()
    assert sqlite_arrow.wait(120), "the read worker did not start"
    yield path
    conn.close()


def test_the_worker_reads_the_rows_as_typed_columns(database: Path) -> None:
    frame = sqlite_arrow.read(database, "SELECT id, period, value, flag FROM t ORDER BY id")
    assert frame is not None
    assert frame.schema == pl.Schema(
        {"id": pl.Int64, "period": pl.String, "value": pl.Float64, "flag": pl.String}
    )
    assert frame.rows() == ROWS  # floats bit for bit, an empty text apart from a missing one


def test_the_worker_only_reads(database: Path) -> None:
    assert sqlite_arrow.read(database, "DELETE FROM t RETURNING id") is None
    assert sqlite_arrow.read(database, "SELECT nothing FROM t") is None  # a query the driver rejects
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)
    again = sqlite_arrow.read(database, "SELECT count(*) AS n FROM t")
    assert again is not None and again.rows() == [(3,)]  # and it still reads


def test_a_dead_worker_is_started_again(database: Path) -> None:
    pool = sqlite_arrow._pool
    assert pool is not None
    for process in list(pool._processes.values()):
        process.kill()
        process.join()
    assert sqlite_arrow.read(database, "SELECT id FROM t") is None  # this read is given up ...
    assert sqlite_arrow.wait(120)  # ... and a new worker reads the next
    frame = sqlite_arrow.read(database, "SELECT id FROM t ORDER BY id")
    assert frame is not None and frame["id"].to_list() == [1, 2, 2**40]


def test_an_answer_that_cannot_be_written_is_no_reason_to_restart(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = sqlite_arrow._pool
    monkeypatch.setattr(sqlite_arrow, "_exchange_dir", lambda: tmp_path / "gone")  # as when the disk is full
    assert sqlite_arrow.read(database, "SELECT id FROM t") is None
    assert sqlite_arrow._pool is pool  # the same worker, still ready
    monkeypatch.undo()
    frame = sqlite_arrow.read(database, "SELECT count(*) AS n FROM t")
    assert frame is not None and frame.rows() == [(3,)]
