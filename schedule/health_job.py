"""The health job: alerts late sources and disks short of space (all-clear when fine); catches up compute."""

from __future__ import annotations

import logging
import time

from ingest.catalogue import Catalogue
from kestava.alerts import (
    ON_TIME_AGAIN,
    Alerter,
    Problem,
    alert_failing_jobs,
    alert_late_sources,
    run_problems,
)
from kestava.status import disk_problem, disk_report, retired_job
from schedule.compute_job import run_compute
from schedule.execution import _guarded, _log_job
from schedule.runtime import _today, current_runtime
from schedule.schema_guard import check_schema
from storage.alert_state import ClosedProblem, open_problem_keys
from storage.engine import autocommit, once_more
from storage.jobs import now_utc, record_runs

log = logging.getLogger("scheduler")
NO_LONGER_SCHEDULED = "It is no longer in the catalogue, so it no longer runs."
_DATASET_KINDS = ("rejected", "late")  # problems whose subject is a dataset
DISK = "disk"  # problems whose subject is a folder (disk_report); the others name a job
DISK_PREFIX = f"{DISK}:"
SPACE_AGAIN = "Free space is above the minimum again."
NO_LONGER_CHECKED = "The tracker no longer writes there, so its space is no longer checked."


def close_retired(alerter: Alerter, catalogue: Catalogue, disk_folders: set[str] | None = None) -> int:
    """All-clear the open problems of jobs and datasets the catalogue no longer defines (e.g. a failing
    ingest of an opt-in dataset switched off again), and of folders no longer among disk_folders (the
    configuration moved them; None: leave disk problems alone): no run will ever close them. How many
    all-clears went out; never raises."""

    def open_keys() -> list[str]:  # (as Alerter.open_problems, on a connection not pinged first)
        with autocommit(alerter.engine, ping=False) as conn:
            return open_problem_keys(conn)

    try:
        retired = []
        for key in once_more(open_keys):
            kind, _, subject = key.partition(":")
            if kind == DISK:
                gone = disk_folders is not None and subject not in disk_folders
            elif kind in _DATASET_KINDS:
                gone = subject not in catalogue.datasets
            else:
                gone = retired_job(subject, catalogue)
            if gone:
                retired.append((kind, subject))
    except Exception as error:
        log.warning("alert state: could not read the open problems: %s", type(error).__name__)
        return 0
    disks = [(kind, subject) for kind, subject in retired if kind == DISK]
    jobs = [(kind, subject) for kind, subject in retired if kind != DISK]
    return alerter.resolve_many(jobs, NO_LONGER_SCHEDULED) + alerter.resolve_many(disks, NO_LONGER_CHECKED)


def alert_low_disks(alerter: Alerter) -> tuple[list[tuple[str, str]], set[str]]:
    """Alert each file system the tracker writes to that is low on space (disk_report); the (kind,
    subject) problems of those that are not, for the caller to close, and every folder checked. Never
    raises: a failure is logged, and nothing is to be closed."""
    try:
        disks = disk_report(alerter.engine)
        alerter.problems([Problem(DISK, str(d.folder), disk_problem(d, "en")) for d in disks if d.low])
    except Exception as error:
        log.warning("disk space: could not check it: %s", type(error).__name__)
        return [], set()
    return [(DISK, str(d.folder)) for d in disks if not d.low], {str(d.folder) for d in disks}


def run_health_job() -> str:
    """Scheduled job: alert late sources and disks short of space (all-clear those fine again), catch up
    pending compute; first, the daily check that no newer tracker migrated the database (schema_guard)."""
    runtime = current_runtime()

    def body() -> str:
        started, started_at = time.monotonic(), now_utc()
        check_schema(runtime, "health")  # newer: nothing is recorded, schema:newer alerted, the stop asked
        on_time = alert_late_sources(runtime.alerter, runtime.catalogue, _today())  # never raises
        roomy, folders = alert_low_disks(runtime.alerter)  # never raises
        # the check is short (one read, the alerts): its run is recorded once, when it ends, in one write
        # (no 'running' record first) that closes the problems of the sources on time again (on
        # PostgreSQL one statement); a process killed during it leaves no record of it. Its connection is
        # not pinged first: the write runs once more when the server had dropped it (a restart)
        run = {"job": "health", "trigger": runtime.trigger, "started_at": started_at, "outcome": "success"}
        own = [f"{kind}:{subject}" for kind, subject in run_problems("health")]  # e.g. a crash of it
        keys = [f"{kind}:{subject}" for kind, subject in [*on_time, *roomy]] + own
        closed_at = runtime.alerter.now()

        def record() -> list[ClosedProblem]:
            with autocommit(runtime.engine, ping=False) as conn:
                return record_runs(conn, [{**run, "finished_at": now_utc()}], close=keys, closed_at=closed_at)

        closed = once_more(record)
        # each all-clear also of the problems alerted while alert_state could not record them (in memory)
        late = [key for key in keys if key.startswith("late:")]
        disks = [key for key in keys if key.startswith(DISK_PREFIX)]
        alerter = runtime.alerter
        alerter.all_clears([c for c in closed if c.key in set(late)], ON_TIME_AGAIN, keys=late)
        alerter.all_clears([c for c in closed if c.key.startswith(DISK_PREFIX)], SPACE_AGAIN, keys=disks)
        alerter.all_clears([c for c in closed if c.key in set(own)], "health finished: success.", keys=own)
        alert_failing_jobs(alerter, lambda job: job == "probe" or retired_job(job, runtime.catalogue))
        close_retired(runtime.alerter, runtime.catalogue, folders or None)
        _log_job("health", "success", time.monotonic() - started, trigger=runtime.trigger)
        run_compute(runtime)
        return "success"

    return _guarded(runtime, "health", body)
