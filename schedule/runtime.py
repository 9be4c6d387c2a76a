"""The runtime the job functions use in this process, and the jobs running in it."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from common.config import get_settings
from common.helsinki import HELSINKI
from ingest.catalogue import Catalogue, load_catalogue
from ingest.replay import snapshot_manifest
from kestava.alerts import Alerter
from schedule.alert_ledger import LEDGER_NAME, AlertLedger
from schedule.runners import Runners
from storage.data_kind import check_data_kind
from storage.engine import SchemaState, head_revision, open_database
from storage.rawstore import RawStore

log = logging.getLogger("scheduler")
ENV_HOOKS = "KESTAVA_SCHEDULER_HOOKS"
ENV_RETRY_WAIT = "KESTAVA_SCHEDULER_RETRY_WAIT"
ENV_LOCK_LEASE = "KESTAVA_SCHEDULER_LOCK_LEASE"
ENV_BUSY_WAIT = "KESTAVA_SCHEDULER_BUSY_WAIT"
ENV_STORE_RETRY = "KESTAVA_SCHEDULER_STORE_RETRY"
ENV_LOG_EVERY = "KESTAVA_SCHEDULER_LOG_EVERY"
ENV_DATABASE_PING = "KESTAVA_SCHEDULER_DATABASE_PING"


@dataclass
class Runtime:
    """What the job functions work with in this process (jobs themselves carry only simple args)."""

    engine: Engine
    database_url: str
    raw_store: RawStore
    catalogue: Catalogue
    alerter: Alerter
    runners: Runners = field(default_factory=Runners)
    offline: bool = False
    snapshot_dir: Path | None = None
    trigger: str = "scheduler"  # job_run.trigger of a run's first attempt
    retry_attempts: int = 3
    retry_wait_s: float = 30.0
    lock_lease: timedelta = timedelta(minutes=10)
    busy_wait_s: float = 600.0
    chain_compute: bool = True  # compute right after an ingest that changed data (--once computes at the end)
    store_retry_s: float = 10.0  # how soon the loop tries a failing job store again
    log_every_s: float = 600.0  # a failure that lasts (the job store's) is logged again this often
    database_ping_s: float = 60.0  # how often the watch checks the database (one cheap read)
    database_alert_s: float = 600.0  # the job store failing this long is alerted (AlertSettings)
    job_time_limit_s: float = 21600.0  # a run going this long is alerted as hung (Settings)
    stop: threading.Event = field(default_factory=threading.Event)
    # this code's newest migration, read when the runtime is made: the code on disk may change under a
    # running process (an upgrade in place), the code it runs does not
    schema_head: str = field(default_factory=head_revision)
    newer_schema: SchemaState | None = None  # the newer tracker's schema a job found (schedule.schema_guard)
    exit_code: int | None = None  # the exit status a job asked for when it stopped the scheduler

    @property
    def secrets(self) -> list[str]:
        return self.alerter.secrets

    def request_stop(self, exit_code: int) -> None:
        """Stop the scheduler from inside a job, as a signal does: the running jobs finish (their retry
        waits cut short), no other starts; serve and run_once then return exit_code."""
        self.exit_code = exit_code
        self.stop.set()


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()
_running: dict[str, float] = {}
_skipped: set[str] = set()  # jobs that were submitted but not started because the scheduler stopped
_running_lock = threading.Lock()


def set_runtime(runtime: Runtime | None) -> None:
    """Install the runtime the job functions use (None to forget it)."""
    global _runtime
    with _runtime_lock:
        _runtime = runtime
    with _running_lock:
        _skipped.clear()


def current_runtime() -> Runtime:
    """The installed runtime, or one built from the settings on first use."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = build_runtime()
        return _runtime


def build_runtime(
    database_url: str | None = None,
    *,
    catalogue: Catalogue | None = None,
    offline: bool = False,
    runners: Runners | None = None,
    trigger: str = "scheduler",
    retry_wait_s: float | None = None,
    lock_lease_s: float | None = None,
    busy_wait_s: float | None = None,
    engine: Engine | None = None,
) -> Runtime:
    """A runtime from the settings (KESTAVA_*), with the given overrides. The database it opens (not one
    given as engine) is refused when it holds the other kind of data (demo or live) than this runtime
    loads (MixedDataError: storage.data_kind)."""
    settings = get_settings()
    url = database_url or settings.resolved_database_url()
    opened = engine is None
    engine = engine or open_database(url)
    if opened:  # a database of the other kind of data (demo or live) than this scheduler loads: refused
        try:
            check_data_kind(engine, demo=offline and snapshot_manifest(settings.snapshot_dir).is_demo)
        except BaseException:
            engine.dispose()
            raise
    alerter = Alerter(engine, unrecorded=AlertLedger(settings.data_dir / LEDGER_NAME))
    return Runtime(
        engine=engine,
        database_url=url,
        raw_store=RawStore(settings.raw_dir),
        catalogue=catalogue or load_catalogue(),
        alerter=alerter,
        runners=runners or Runners.from_module(os.environ.get(ENV_HOOKS)),
        offline=offline,
        snapshot_dir=settings.snapshot_dir,
        trigger=trigger,
        retry_wait_s=_env_float(ENV_RETRY_WAIT, 30.0) if retry_wait_s is None else retry_wait_s,
        lock_lease=timedelta(
            seconds=_env_float(ENV_LOCK_LEASE, 600.0) if lock_lease_s is None else lock_lease_s
        ),
        busy_wait_s=_env_float(ENV_BUSY_WAIT, 600.0) if busy_wait_s is None else busy_wait_s,
        store_retry_s=_env_float(ENV_STORE_RETRY, 10.0),
        log_every_s=_env_float(ENV_LOG_EVERY, 600.0),
        database_ping_s=_env_float(ENV_DATABASE_PING, 60.0),
        database_alert_s=alerter.settings.alert_database_min * 60,
        job_time_limit_s=settings.job_time_limit_min * 60,
    )


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


@contextmanager
def _in_flight(job: str) -> Iterator[None]:
    with _running_lock:
        _running[job] = time.monotonic()
    try:
        yield
    finally:
        with _running_lock:
            _running.pop(job, None)


def running_since() -> dict[str, float]:
    """The jobs running in this process now, and since when (time.monotonic())."""
    with _running_lock:
        return dict(_running)


def running_jobs() -> list[str]:
    """The jobs running in this process now."""
    with _running_lock:
        return sorted(_running)


def _skip(job: str) -> str:
    """A job not started because the scheduler is stopping (kept due for the next start)."""
    with _running_lock:
        _skipped.add(job)
    log.info("%s: not started, the scheduler is stopping", job, extra={"job": job, "outcome": "skipped"})
    return "skipped"


def _today() -> date:
    return datetime.now(HELSINKI).date()
