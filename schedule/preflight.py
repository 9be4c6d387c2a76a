"""Failures before any job runs (settings, catalogue, schedule, job store, a newer tracker's database): one
line, an alert, exit 1 (4 for a database refused as it is: a newer tracker's, or one of the other kind of
data)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pydantic import ValidationError
from sqlalchemy import create_engine

from common.errors import error_reason
from common.secrets import redact
from kestava.alerts import Alerter, AlertSettings, Problem
from schedule.alert_ledger import AlertLedger, ledger_path
from schedule.shutdown import EXIT_FAILED

log = logging.getLogger("scheduler")
CONFIGURATION = ("invalid", "configuration")  # (kind, subject) of a setting or catalogue the start refused
SCHEDULE = ("invalid", "schedule")  # (kind, subject) of a schedule table that is not one (schedule.jobstore)
# (kind, subject) of a database a newer tracker migrated (at start: schedule.startup; while running:
# schedule.schema_guard): the key schema:newer
NEWER_SCHEMA = ("schema", "newer")
# (kind, subject) of a database holding the other kind of data (demo or live) than the scheduler loads
# (schedule.startup, schedule.ingest_job): the key mixed:database
MIXED_DATA = ("mixed", "database")


class StartupError(Exception):
    """What failed before any job ran: str() is one line naming what and where, and why (secrets masked);
    problem is the (kind, subject) it is alerted as, exit_code the scheduler's exit status."""

    def __init__(
        self, message: str, problem: tuple[str, str] = CONFIGURATION, *, exit_code: int = EXIT_FAILED
    ) -> None:
        super().__init__(message)
        self.problem = problem
        self.exit_code = exit_code


@contextmanager
def step(
    what: str, secrets: Sequence[str], *, problem: tuple[str, str] = CONFIGURATION, env_prefix: str = ""
) -> Iterator[None]:
    """Turn any exception of the block into a StartupError "<what>: <why>" (secrets masked)."""
    try:
        yield
    except StartupError:
        raise
    except Exception as error:
        message = redact(f"{what}: {error_reason(error, env_prefix=env_prefix)}", secrets)
        raise StartupError(message, problem) from error


def refuse(
    error: StartupError, secrets: Sequence[str], *, alert: bool, alerter: Alerter | None = None
) -> None:
    """Log the failure (one line) and, with alert, alert it: through alerter (the runtime's, once the
    database is open), else without the database (the alert channels of the settings, when they can be
    read), kept in the alert ledger so that the next start (cron's next --once) does not send it again
    before it is due and gives its all-clear."""
    message = f"the scheduler cannot start: {error}. It exited (status {error.exit_code})."
    log.error("%s", message, extra={"outcome": "failed"})
    log.debug("the cause of the failure to start", exc_info=error.__cause__)  # --verbose: its traceback
    if not alert:
        return
    problem = Problem(*error.problem, message)
    if alerter is not None:
        alerter.problem(problem)
        return
    try:
        settings = AlertSettings()
    except ValidationError as invalid:
        log.error(
            "no alert sent: the alert settings are invalid: %s", error_reason(invalid, env_prefix="KESTAVA_")
        )
        return
    # no database to record it in: sent as the start's database outage is (schedule.startup)
    alerter = Alerter(
        create_engine("sqlite://"), settings, secrets=list(secrets), unrecorded=AlertLedger(ledger_path())
    )
    alerter.problem_unrecorded(problem)


def started(alerter: Alerter, message: str) -> None:
    """The start succeeded (settings, catalogue and schedule read): the all-clear of what refused starts
    alerted (an invalid setting or catalogue, a schedule table that is not one, a database of a newer
    tracker or holding the other kind of data)."""
    alerter.resolve_many([CONFIGURATION, SCHEDULE, NEWER_SCHEMA, MIXED_DATA], message)
