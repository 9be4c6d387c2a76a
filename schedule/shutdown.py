"""Signals and graceful stop: grace period, watchdog, and runs kept due for the next start."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from types import FrameType

from sqlalchemy import Engine, update

from common.helsinki import HELSINKI
from schedule.jobs import JobSpec
from schedule.jobstore import JobStore
from schedule.runtime import Runtime, _running_lock, _skipped, running_jobs
from storage import schema
from storage.jobs import now_utc

log = logging.getLogger("scheduler")
DEFAULT_GRACE_S = 300.0
EXIT_OK, EXIT_FAILED, EXIT_FORCED = 0, 1, 3
# the database refused as it is (migrated by a newer tracker; holding demo data where the scheduler fetches
# live, or live data where it replays the demo): no restart helps (systemd: RestartPreventExitStatus=4)
EXIT_DATABASE_REFUSED = 4


class _Signals:
    """Counts SIGTERM/SIGINT; the handler only records (all work happens in normal threads)."""

    def __init__(self) -> None:
        self.count = 0
        self.name = ""

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        self.name = signal.Signals(signum).name

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self.handle)
        signal.signal(signal.SIGINT, self.handle)


def _watchdog(runtime: Runtime, grace_s: float, signals: _Signals, done: threading.Event) -> None:
    """After the grace period (or a second signal) abandon the running jobs: exit at once, so that their
    open transactions roll back and nothing is half-written; their job_run rows are marked failed."""
    deadline = time.monotonic() + grace_s
    first = signals.count
    while not done.wait(0.2):
        if time.monotonic() < deadline and signals.count <= first:
            continue
        jobs = running_jobs()
        reason = "grace period over" if time.monotonic() >= deadline else f"second {signals.name}"
        log.error(
            "%s: abandoning %s; their uncommitted work rolls back",
            reason,
            ", ".join(jobs) or "the running jobs",
            extra={"outcome": "forced"},
        )
        marker = threading.Thread(target=_mark_abandoned, args=(runtime.engine,), daemon=True)
        marker.start()
        marker.join(2.0)
        log.error(
            "scheduler stopped (forced); the abandoned runs, and those queued but not started, run at the "
            "next start",
            extra={"outcome": "forced"},
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_FORCED)


def _mark_abandoned(engine: Engine, error: str = "interrupted: abandoned at shutdown") -> None:
    """Close this process's runs still recorded 'running' as failed with error (best effort)."""
    run = schema.job_run
    try:
        with engine.begin() as conn:
            conn.execute(
                update(run)
                .where(
                    run.c.outcome == "running", run.c.pid == os.getpid(), run.c.host == socket.gethostname()
                )
                .values(outcome="failed", finished_at=now_utc(), error=error)
            )
    except Exception as error:  # e.g. SQLite still locked by the abandoned transaction
        log.warning("could not mark abandoned runs: %s", type(error).__name__)


def _keep_due(runtime: Runtime, specs: Sequence[JobSpec]) -> None:
    """Runs submitted just before the stop but not started stay due, so the next start runs them."""
    with _running_lock:
        skipped = set(_skipped)
        _skipped.clear()
    wanted = [spec for spec in specs if spec.id in skipped]
    if not wanted:
        return
    store = JobStore(runtime.database_url)
    try:
        for spec in wanted:
            store.put(spec, datetime.now(HELSINKI))
            log.info(
                "%s: not started before the stop; due again at the next start",
                spec.id,
                extra={"job": spec.id},
            )
    finally:
        store.close()


def _stop_on_signal(runtime: Runtime, grace_s: float, signals: _Signals, done: threading.Event) -> None:
    while not done.wait(0.2):
        if signals.count:
            log.info("%s received: finishing the running job, skipping the rest", signals.name)
            runtime.stop.set()
            _watchdog(runtime, grace_s, signals, done)
            return
