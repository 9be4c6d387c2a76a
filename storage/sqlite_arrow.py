"""Large SQLite reads as Arrow columns, made in a worker process by the ADBC SQLite driver.

The sqlite3 module hands rows over as Python tuples: a million observation rows take about a second
to fetch and another third of one to become a frame. The ADBC driver reads them straight into Arrow
columns in about a quarter of that. It cannot run in this process: it carries its own copy of SQLite,
and two copies of SQLite in one process release each other's POSIX file locks whenever one of them
closes the file (SQLite's "How To Corrupt An SQLite Database File", section 2.2.1; tried here, it
failed a commit with "locking protocol"). So the read runs in one spawned worker, which holds no
connection between reads, and the frame comes back as an Arrow file.

The worker starts in the background on the first request and is used only once it is ready; until
then, and whenever it fails, `read` returns None and the caller reads through the sqlite3 module.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import polars as pl

from common.spawn import main_module_hidden, spawned_pool

log = logging.getLogger(__name__)
READ_TIMEOUT_S = 600.0  # a read that takes longer is given up (and the worker restarted)
_BATCH_ROWS = str(2**30)  # every row in one Arrow batch: the driver types each column from its batch

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_started: Future[bool] | None = None
_exchange: tempfile.TemporaryDirectory[str] | None = None  # this process's own folder for the answers


def read(path: Path, sql: str) -> pl.DataFrame | None:
    """The rows of sql in the database file, read-only, as the driver types them; None when the worker
    is not ready or the read failed (the reason is logged)."""
    pool = _ready_pool()
    if pool is None:
        return None
    # the frame comes back as an Arrow file, in a folder only this process can write to, and is read
    # and deleted at once (before the system writes it out): a third of the time of its bytes through
    # the executor's pipe
    out = _exchange_dir() / f"{uuid.uuid4().hex}.arrow"
    try:
        with main_module_hidden():  # the worker may have to be started again
            future = pool.submit(_read_arrow, f"{path.as_uri()}?mode=ro", sql, str(out))
        why = future.result(timeout=READ_TIMEOUT_S)
        if why is not None:
            log.debug("the SQLite read worker could not read (%s)", why)
            return None
        return pl.read_ipc(out)
    except FutureTimeout:
        log.warning("the SQLite read worker took over %.0f s; restarting it", READ_TIMEOUT_S)
        stop()
        return None
    except Exception as error:  # the worker died (BrokenProcessPool) or could not write its answer
        log.warning("the SQLite read worker failed (%s); restarting it", error)
        stop()
        return None
    finally:
        out.unlink(missing_ok=True)


def start() -> None:
    """Start the worker in the background (if it is not running), so that later reads can use it."""
    global _pool, _started
    with _lock:
        if _pool is None:
            _pool = spawned_pool(1)
            with main_module_hidden():
                _started = _pool.submit(_warm)


def started() -> bool:
    """Whether the worker has been started (it may still be starting)."""
    with _lock:
        return _pool is not None


def ready() -> bool:
    """Whether the worker can read now (without waiting); it is started if it is not running."""
    return _ready_pool() is not None


def wait(timeout: float) -> bool:
    """Start the worker and wait up to timeout seconds until it can read; whether it can."""
    start()
    with _lock:
        started = _started
    if started is None:
        return False
    try:
        return started.result(timeout=timeout)
    except Exception:  # not started in time, or the driver cannot be loaded here
        return False


def stop() -> None:
    """Stop the worker (it is started again by the next read)."""
    global _pool, _started
    with _lock:
        pool, _pool, _started = _pool, None, None
    if pool is not None:
        # a hung read is not waited for: its process is killed (the executor has no public way before
        # Python 3.14's kill_workers, and its shutdown forgets the processes)
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()


def _exchange_dir() -> Path:
    """This process's private temporary folder for the worker's answers (removed at exit)."""
    global _exchange
    with _lock:
        if _exchange is None:
            _exchange = tempfile.TemporaryDirectory(prefix="kestava-read-")
        return Path(_exchange.name)


def _ready_pool() -> ProcessPoolExecutor | None:
    """The worker's pool when it has started; otherwise start it and give None."""
    start()
    with _lock:
        started, pool = _started, _pool
    if started is None or not started.done():
        return None
    if started.exception() is not None or not started.result():
        return None  # the driver cannot be loaded here: reads stay with the sqlite3 module
    return pool


def _warm() -> bool:
    """In the worker: load the driver and polars before the first read needs them."""
    import adbc_driver_sqlite

    with adbc_driver_sqlite.connect(":memory:"):
        return True


def _read_arrow(uri: str, sql: str, out: str) -> str | None:
    """In the worker: write the rows to out as an Arrow file; None, or why they could not be read."""
    import adbc_driver_manager
    import adbc_driver_sqlite

    try:
        with (
            adbc_driver_sqlite.connect(uri) as database,
            adbc_driver_manager.AdbcConnection(database) as connection,
            adbc_driver_manager.AdbcStatement(connection) as statement,
        ):
            statement.set_options(**{"adbc.sqlite.query.batch_rows": _BATCH_ROWS})
            statement.set_sql_query(sql)
            stream, _rows = statement.execute_query()
            frame = pl.DataFrame(stream)
        frame.write_ipc(out, compression="uncompressed")
    except (adbc_driver_manager.Error, pl.exceptions.PolarsError, OSError) as error:  # OSError: disk full
        return f"{type(error).__name__}: {error}"
    return None
