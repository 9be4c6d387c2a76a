"""The scheduler's watch: alerts what the loop cannot, from a thread of its own (never blocking it).

- the database checked every Runtime.database_ping_s (one cheap read; every store_retry_s while it
  fails), so that an outage is seen while the loop sleeps until its next job (hours overnight);
- the job store failing (the database unreachable or full) longer than Runtime.database_alert_s: problem
  `unreachable:database`, and its all-clear once the store is read and written again;
- a run going longer than Runtime.job_time_limit_s, or a run skipped because the previous one is still
  going: problem `hung:<job>` (the job's next successful run gives the all-clear).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from common.helsinki import HELSINKI
from kestava.alerts import Problem
from schedule.jobstore import LoopJobStore
from schedule.logs import duration
from schedule.runtime import Runtime, running_since

log = logging.getLogger("scheduler")
DATABASE = ("unreachable", "database")  # (kind, subject) of the job store's problem


class Watch:
    """Checks every every_s seconds in its own thread until stopped; `skipped` is called by the loop."""

    def __init__(self, runtime: Runtime, store: LoopJobStore, *, every_s: float = 1.0) -> None:
        self.runtime = runtime
        self.store = store
        self.every_s = every_s
        self._database_alerted_at: float | None = None  # time.monotonic() of its last alert in an outage
        self._pinged_at = time.monotonic()  # of the last check of the database (LoopJobStore.ping)
        self._hung_alerted: set[str] = set()  # the running jobs alerted as hung (until they end)
        self._skipped: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.runtime.alerter.settings.alert_timeout_s * 2)

    def skipped(self, job: str) -> None:
        """A run of job was skipped: the previous one is still going (called from the scheduler loop)."""
        with self._lock:
            self._skipped.add(job)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.check()
            except Exception as error:  # the watch must go on watching
                log.error("watch: %s: %s", type(error).__name__, error)

    def check(self) -> None:
        """One round: the job store's outage, the hung and skipped runs."""
        self._check_store()
        self._check_runs()

    def _ping(self) -> None:
        """Check the database when neither the loop nor a check read it for database_ping_s (store_retry_s
        in an outage): while jobs run, their reads are the checks."""
        every = self.runtime.store_retry_s if self.store.outage is not None else self.runtime.database_ping_s
        if time.monotonic() - max(self._pinged_at, self.store.read_at) >= every:
            self._pinged_at = time.monotonic()
            self.store.ping()

    def _check_store(self) -> None:
        self._ping()
        outage = self.store.outage
        alerter = self.runtime.alerter
        if outage is not None:
            lasted = (datetime.now(UTC) - outage.since).total_seconds()
            again = self._database_alerted_at is None or time.monotonic() - self._database_alerted_at > 3600
            if lasted >= self.runtime.database_alert_s and again:  # (the alerter repeats it as it does any)
                self._database_alerted_at = time.monotonic()
                since = outage.since.astimezone(HELSINKI)
                alerter.problem(
                    Problem(
                        *DATABASE,
                        f"The scheduler cannot read or write its schedule in the database since "
                        f"{since:%Y-%m-%d %H:%M %Z} ({duration(lasted)}, {outage.failures} failed "
                        f"attempts): {outage.error}. No job runs until it can; the scheduler tries again "
                        f"every {duration(self.runtime.store_retry_s)}.",
                    )
                )
        elif self._database_alerted_at is not None:
            self._database_alerted_at = None
            alerter.resolved(*DATABASE, "The scheduler reads and writes its schedule again.")

    def _check_runs(self) -> None:
        with self._lock:
            skipped, self._skipped = self._skipped, set()
        running = running_since()
        now = time.monotonic()
        limit = self.runtime.job_time_limit_s
        self._hung_alerted &= set(running)
        for job, started in sorted(running.items()):
            if job not in self._hung_alerted and now - started > limit:
                self._hung_alerted.add(job)
                self._alert_hung(
                    job,
                    f"{job} has been running for {duration(now - started)}, over the limit of "
                    f"{duration(limit)} (KESTAVA_JOB_TIME_LIMIT_MIN): it may be hung.",
                )
        for job in sorted(skipped):
            since = running.get(job)
            going = f" (running for {duration(now - since)})" if since is not None else ""
            self._alert_hung(
                job,
                f"A run of {job} fell due while the previous run{going} was still going, and "
                "was skipped: the job takes longer than its schedule allows, or it is hung.",
            )

    def _alert_hung(self, job: str, message: str) -> None:
        log.error("%s", message, extra={"job": job, "outcome": "hung"})
        self.runtime.alerter.problem(Problem("hung", job, message, job=job))
