"""Failures before any job runs (settings, catalogue, schedule, job store): one line, an alert, exit 1."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pydantic import ValidationError
from sqlalchemy import create_engine

from common.errors import one_line
from common.secrets import redact
from kestava.alerts import Alerter, AlertSettings, Problem

log = logging.getLogger("scheduler")
CONFIGURATION = ("invalid", "configuration")  # (kind, subject) of a setting or catalogue the start refused


class StartupError(Exception):
    """What failed before any job ran: str() is one line naming what and where, and why (secrets masked);
    problem is the (kind, subject) it is alerted as."""

    def __init__(self, message: str, problem: tuple[str, str] = CONFIGURATION) -> None:
        super().__init__(message)
        self.problem = problem


def reason(error: BaseException, *, env_prefix: str = "") -> str:
    """Why, in one line: a validation error names each field (with env_prefix: as its environment
    variable) and what is wrong with it, never the value given; anything else as common.errors.one_line."""
    if isinstance(error, ValidationError):
        fields = []
        for detail in error.errors(include_url=False, include_input=False):
            where = ".".join(str(part) for part in detail["loc"])
            name = f"{env_prefix}{where.upper()}" if env_prefix else where
            fields.append(f"{name}: {detail['msg']}")
        return "; ".join(fields) or one_line(error)
    return " ".join(one_line(error).split())


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
        message = redact(f"{what}: {reason(error, env_prefix=env_prefix)}", secrets)
        raise StartupError(message, problem) from error


def refuse(
    error: StartupError, secrets: Sequence[str], *, alert: bool, alerter: Alerter | None = None
) -> None:
    """Log the failure (one line) and, with alert, alert it: through alerter (the runtime's, once the
    database is open), else without recording it (the alert channels of the settings, when they can
    be read)."""
    message = f"the scheduler cannot start: {error}. It exited (status 1)."
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
        log.error("no alert sent: the alert settings are invalid: %s", reason(invalid, env_prefix="KESTAVA_"))
        return
    # no database to record it in: sent as the start's database outage is (schedule.startup)
    Alerter(create_engine("sqlite://"), settings, secrets=list(secrets)).problem_unrecorded(problem)
