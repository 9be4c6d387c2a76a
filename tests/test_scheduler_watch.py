"""The scheduler when its database fails or a job hangs: it keeps scheduling, says so once, recovers.

PostgreSQL is made unreachable by stopping a TCP proxy in front of it (refused connections, dropped
ones); alerts go to a real local webhook (pytest-httpserver); serve() runs in a thread of the test.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

import scheduler
from common.helsinki import HELSINKI
from ingest.catalogue import parse_catalogue
from kestava.alerts import Alerter, AlertSettings
from schedule.execution import _guarded
from schedule.jobs import JobSpec
from schedule.jobstore import JobStore, KestavaJobStore, LoopJobStore, jobstore_engine
from schedule.runtime import Runtime, current_runtime
from storage.engine import open_database
from storage.rawstore import RawStore
from tests.conftest import PG_ADMIN_URL, fresh_database

# ------------------------------------------------------------------------------------ a TCP proxy


class TcpProxy:
    """Forwards a local port to PostgreSQL; stop() refuses new connections and cuts the open ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(
                OSError
            ):  # shutdown wakes the accept(): a close alone leaves it listening
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            server = socket.create_connection(self.target)
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied_pg(tmp_path: Path) -> Iterator[tuple[str, TcpProxy]]:
    """A fresh PostgreSQL database, and its URL through a proxy the test can stop."""
    with fresh_database("postgresql", tmp_path) as url:
        proxy = TcpProxy(("127.0.0.1", 5432))
        proxy.start()
        assert "@127.0.0.1:5432/" in PG_ADMIN_URL
        yield url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"), proxy
        proxy.stop()


# ------------------------------------------------------------------------------------ the job work

TICKS: list[float] = []
RELEASE = threading.Event()


def tick(*_notes: str) -> str:
    """A job that touches no database: it notes when it ran."""
    TICKS.append(time.monotonic())
    return "success"


def hang() -> str:
    """A job that hangs until the test releases it, run as the real jobs are (schedule.execution)."""

    def body() -> str:
        RELEASE.wait(10)
        return "success"

    return _guarded(current_runtime(), "hang", body)


class BrokenTrigger(IntervalTrigger):  # type: ignore[misc]
    """A trigger with a bug: it cannot say when it fires after its first run (the loop's own code raises)."""

    def get_next_fire_time(self, previous: datetime | None, now: datetime) -> datetime | None:
        if previous is not None:
            raise RuntimeError("a bug in a trigger")
        return super().get_next_fire_time(previous, now)  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    TICKS.clear()
    RELEASE.clear()
    yield
    RELEASE.set()
    scheduler.set_runtime(None)


def spec(job: str, func: str, seconds: float = 0.3, trigger: Any = None) -> JobSpec:
    start = datetime.now(HELSINKI) + timedelta(seconds=seconds)
    return JobSpec(
        job,
        func,
        (),
        trigger or IntervalTrigger(seconds=seconds, start_date=start, timezone=HELSINKI),
        "health",
        f"every {seconds} s",
    )


def make_runtime(url: str, tmp_path: Path, webhook: str, **options: float) -> Runtime:
    engine = open_database(url)
    alerter = Alerter(
        engine,
        AlertSettings(alert_webhook_url=SecretStr(webhook), alert_timeout_s=3),
        secrets=[],
    )
    catalogue = parse_catalogue({"sources": {}, "datasets": {}})
    return Runtime(engine, url, RawStore(tmp_path / "raw"), catalogue, alerter, **options)  # type: ignore[arg-type]


def serving(runtime: Runtime, specs: list[JobSpec]) -> tuple[threading.Event, Callable[[], int]]:
    """serve() in a thread; (its stop event, a function waiting for its exit code)."""
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            scheduler.serve(runtime, specs, grace_s=5, install_signals=False, stop=stop)
        ),
        daemon=True,
    )
    thread.start()

    def finished(timeout: float = 8.0) -> int:
        thread.join(timeout)
        assert result, "serve() did not return"
        return result[0]

    return stop, finished


def wait_for(condition: Callable[[], bool], timeout: float = 6.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def alerts(server: HTTPServer) -> list[tuple[str, str]]:
    return [(body["key"], body["state"]) for body in (json.loads(r.get_data()) for r, _ in server.log)]


def database_alerts(server: HTTPServer) -> list[tuple[str, str]]:
    """The database's alerts only: on a loaded machine a 0.2 s tick may also be alerted as hung meanwhile."""
    return [a for a in alerts(server) if a[0] == "unreachable:database"]


# ---------------------------------------------------------------------------------------- the tests


def test_an_unreachable_database_is_alerted_once_and_cleared_and_the_schedule_goes_on(
    proxied_pg: tuple[str, TcpProxy],
    tmp_path: Path,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, proxy = proxied_pg
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    runtime = make_runtime(
        url,
        tmp_path,
        httpserver.url_for("/hook"),
        store_retry_s=0.1,
        log_every_s=1.0,
        database_alert_s=1.0,
    )
    caplog.set_level(logging.INFO)
    stop, finished = serving(runtime, [spec("tick", "tests.test_scheduler_watch:tick")])
    try:
        wait_for(lambda: len(TICKS) >= 2)
        proxy.stop()  # the database is gone: refused connections, the open ones cut
        wait_for(lambda: database_alerts(httpserver) == [("unreachable:database", "problem")])
        ticks = len(TICKS)
        time.sleep(1.5)  # the outage lasts: no second alert, no job run, the log says it once a second
        assert database_alerts(httpserver) == [("unreachable:database", "problem")]
        assert len(TICKS) <= ticks + 1  # (one submitted just before)
        proxy.start()
        wait_for(lambda: len(database_alerts(httpserver)) == 2)
        wait_for(lambda: len(TICKS) >= ticks + 3)  # the schedule goes on
    finally:
        stop.set()
        code = finished()
        runtime.engine.dispose()
    assert code == 0
    assert database_alerts(httpserver) == [
        ("unreachable:database", "problem"),
        ("unreachable:database", "resolved"),
    ]
    bodies = [json.loads(request.get_data()) for request, _ in httpserver.log]
    first = next(body for body in bodies if body["key"] == "unreachable:database")
    assert "cannot read or write its schedule" in first["message"] and "failed attempts" in first["message"]
    store_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job store:")]
    failures = [line for line in store_lines if "failed" in line]
    # the first, then about once a second, though tried every 0.1 s: (a few seconds of outage)
    attempts = int(re.search(r"\((\d+) failed attempts\)", store_lines[-1]).group(1))  # type: ignore[union-attr]
    assert 2 <= len(failures) <= 8 and attempts >= 3 * len(failures), store_lines
    # the outage is first met reading the due jobs, or updating the job that just ran (which of the two
    # depends on when the connection is cut)
    assert re.search(r"job store: (reading the due jobs|updating tick) failed: OperationalError", failures[0])
    assert "tried every 0.1 s; logged again every 1 s" in failures[0]
    assert "still failing after" in failures[1] and "failed attempts" in failures[1]
    assert "readable and writable again after" in store_lines[-1]
    assert all("\n" not in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert not [r for r in caplog.records if "Error getting due jobs" in r.getMessage()]


def test_a_database_lost_while_the_scheduler_sleeps_is_alerted_without_waiting_for_a_job(
    proxied_pg: tuple[str, TcpProxy],
    tmp_path: Path,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, proxy = proxied_pg
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    runtime = make_runtime(
        url,
        tmp_path,
        httpserver.url_for("/hook"),
        store_retry_s=0.1,
        database_alert_s=0.5,
        database_ping_s=0.2,
    )
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="apscheduler.scheduler")  # its "Next wakeup is due"
    idle = spec("tick", "tests.test_scheduler_watch:tick", seconds=3600)  # the loop sleeps an hour
    stop, finished = serving(runtime, [idle])
    try:
        # the loop's first look at its table runs in its own thread, possibly after "started": cut the
        # database only once the loop sleeps, else its read of the next run time sees the loss first
        wait_for(lambda: any(r.getMessage().startswith("Next wakeup is due") for r in caplog.records))
        proxy.stop()  # the database is gone while no job is due
        wait_for(lambda: database_alerts(httpserver) == [("unreachable:database", "problem")])
        proxy.start()
        wait_for(lambda: len(database_alerts(httpserver)) == 2)
    finally:
        stop.set()
        code = finished()
        runtime.engine.dispose()
    assert code == 0 and TICKS == []
    assert database_alerts(httpserver)[1] == ("unreachable:database", "resolved")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job store:")]
    failed = [line for line in lines if "failed" in line]
    assert failed and failed[0].startswith("job store: checking the database failed: OperationalError")
    assert "readable and writable again" in lines[-1]


def test_an_update_the_database_refused_is_written_at_the_next_wake_up(
    proxied_pg: tuple[str, TcpProxy],
) -> None:
    url, proxy = proxied_pg
    holder = JobStore(url)  # creates the table, stores the job
    job_spec = spec("tick", "tests.test_scheduler_watch:tick")
    holder.put(job_spec, datetime.now(HELSINKI) - timedelta(seconds=1))
    store = LoopJobStore(engine=jobstore_engine(url), retry_s=5.0)
    store.start(holder.holder, "default")
    try:
        (job,) = store.get_due_jobs(datetime.now(HELSINKI))
        later = datetime.now(HELSINKI) + timedelta(hours=1)
        job._modify(next_run_time=later)
        proxy.stop()
        store.update_job(job)  # no error into the loop (a KestavaJobStore raises here)
        assert store.outage is not None and store.outage.failures == 1
        wake = store.get_next_run_time()
        assert wake is not None and 4 < (wake - datetime.now(HELSINKI)).total_seconds() <= 5
        assert store.get_due_jobs(datetime.now(HELSINKI)) == []
        proxy.start()
        assert store.get_due_jobs(datetime.now(HELSINKI)) == []  # the update written first: not due now
        assert store.outage is None
        assert holder.jobs()["tick"].next_run_time == later
        holder.remove("tick")  # another process synced the schedule without it
        store.update_job(job)  # left removed; no JobLookupError into the loop
        assert holder.jobs() == {} and store.outage is None
    finally:
        store.shutdown()
        holder.close()
    plain = KestavaJobStore(engine=jobstore_engine(url))  # the store the loop had: the error escaped
    plain.start(holder.holder, "default")
    proxy.stop()
    try:
        with pytest.raises(OperationalError):
            plain.update_job(job)
    finally:
        plain.shutdown()


def test_a_scheduler_loop_that_dies_is_alerted_and_exits_1_and_the_next_start_clears_it(
    engine: Engine, db_url: str, tmp_path: Path, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    runtime = make_runtime(db_url, tmp_path, httpserver.url_for("/hook"))
    broken = spec("tick", "tests.test_scheduler_watch:tick")
    broken = JobSpec(broken.id, broken.func, (), BrokenTrigger(**_interval(0.3)), "health", "broken")
    _stop, finished = serving(runtime, [broken])
    try:
        code = finished()
    finally:
        runtime.engine.dispose()
    assert code == 1
    assert alerts(httpserver) == [("stopped:scheduler", "problem")]
    message = json.loads(httpserver.log[0][0].get_data())["message"]
    assert "RuntimeError: a bug in a trigger" in message and "exit 1" in message
    assert "the scheduler loop ended: RuntimeError: a bug in a trigger" in caplog.text
    again = make_runtime(db_url, tmp_path, httpserver.url_for("/hook"))
    stop, finished = serving(again, [spec("tick", "tests.test_scheduler_watch:tick")])
    try:
        wait_for(lambda: len(alerts(httpserver)) == 2)
    finally:
        stop.set()
        assert finished() == 0
        again.engine.dispose()
    assert alerts(httpserver)[1] == ("stopped:scheduler", "resolved")


def _interval(seconds: float) -> dict[str, Any]:
    start = datetime.now(HELSINKI) + timedelta(seconds=seconds)
    return {"seconds": seconds, "start_date": start, "timezone": HELSINKI}


@pytest.mark.parametrize(
    ("every_s", "limit_s", "why"),
    # skipped: a limit the test never reaches (under load the loop could meet the 1 s limit first)
    [(0.3, 60.0, "was skipped"), (60.0, 1.0, "over the limit of 1 s")],
    ids=["skipped", "over-the-limit"],
)
def test_a_hung_run_is_alerted_once(
    every_s: float,
    limit_s: float,
    why: str,
    db_url: str,
    tmp_path: Path,
    httpserver: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Skipped because the previous run is still going (every 0.3 s), or (every minute, so never
    skipped here) going past the job time limit (1 s): one alert, whatever repeats."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    runtime = make_runtime(db_url, tmp_path, httpserver.url_for("/hook"), job_time_limit_s=limit_s)
    first = datetime.now(HELSINKI) + timedelta(seconds=0.3)
    trigger = IntervalTrigger(seconds=every_s, start_date=first, timezone=HELSINKI)
    stop, finished = serving(runtime, [spec("hang", "tests.test_scheduler_watch:hang", trigger=trigger)])
    try:
        wait_for(lambda: len(alerts(httpserver)) >= 1)
        time.sleep(1.5)  # skipped again and again, and over the limit: still the one alert
        assert alerts(httpserver) == [("hung:hang", "problem")]
    finally:
        RELEASE.set()
        stop.set()
        assert finished() == 0
        runtime.engine.dispose()
    message = json.loads(httpserver.log[0][0].get_data())["message"]
    assert "hang" in message and why in message, message


def test_a_full_sqlite_disk_keeps_the_update_and_runs_no_job_again_until_it_is_written(
    tmp_path: Path,
) -> None:
    """SQLite's own "database or disk is full" (its page limit set to the file's size while `full`): the
    due jobs can still be read, but the job's update cannot be written; the job is not run again and
    again meanwhile, and the update is written once there is room."""
    url = f"sqlite:///{tmp_path / 'full.sqlite3'}"
    holder = JobStore(url)
    holder.put(spec("tick", "tests.test_scheduler_watch:tick"), datetime.now(HELSINKI) - timedelta(seconds=1))
    engine = jobstore_engine(url)
    full = threading.Event()

    def page_limit(_conn: Any, cursor: Any, *_args: Any) -> None:
        cursor.execute(f"PRAGMA max_page_count = {1 if full.is_set() else 1_000_000}")

    event.listen(engine, "before_cursor_execute", page_limit)
    store = LoopJobStore(engine=engine, retry_s=5.0)
    store.start(holder.holder, "default")
    try:
        (job,) = store.get_due_jobs(datetime.now(HELSINKI))
        later = datetime.now(HELSINKI) + timedelta(hours=1)
        job._modify(next_run_time=later, args=("x" * 50_000,))  # a state that needs new pages
        full.set()
        store.update_job(job)  # "database or disk is full": kept, not raised into the loop
        assert store.outage is not None and "database or disk is full" in store.outage.error
        assert store.get_due_jobs(datetime.now(HELSINKI)) == []  # readable, but not run again meanwhile
        assert holder.jobs()["tick"].next_run_time < datetime.now(HELSINKI)  # (still due in the file)
        full.clear()
        assert store.get_due_jobs(datetime.now(HELSINKI)) == []
        assert store.outage is None and holder.jobs()["tick"].next_run_time == later
    finally:
        store.shutdown()
        holder.close()
