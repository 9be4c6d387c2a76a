"""Opening the database at start: retried with backoff; an outage that lasts is alerted without it.

A database migrated by a newer tracker (the code rolled back) is no outage: it is refused at once, never
retried, as a StartupError alerted `schema:newer` (schedule.preflight.refuse), the scheduler's exit status
4 (EXIT_DATABASE_REFUSED), which the README's systemd unit does not restart (RestartPreventExitStatus=4);
so is a database that holds the other kind of data (demo or live: storage.data_kind) than the scheduler
loads, alerted `mixed:database`.

The problem is `unreachable:database` (as the watch's, schedule.watch): it is alerted through the Alerter's
no-database path (nothing can record it), repeated as alerts are (by the `unrecorded` store: the
scheduler's alert ledger keeps it across cron's --once runs), and once the database opens, what the store
keeps is moved into alert_state and the outage's all-clear sent. The message names the database without
its password (safe_url).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import create_engine

from common.errors import MixedDataError, NewerSchemaError
from common.helsinki import HELSINKI
from common.secrets import redact
from kestava.alerts import Alerter, AlertSettings, Problem, UnrecordedStore, secret_values, url_password
from schedule.logs import duration
from schedule.preflight import MIXED_DATA, NEWER_SCHEMA, StartupError
from schedule.runtime import Runtime
from schedule.shutdown import EXIT_DATABASE_REFUSED
from schedule.watch import DATABASE
from storage.engine import safe_url

log = logging.getLogger("scheduler")


def open_runtime(
    build: Callable[[], Runtime],
    url: str,
    *,
    wait: bool = True,
    alert: bool = True,
    settings: AlertSettings | None = None,
    unrecorded: UnrecordedStore | None = None,
    first_wait_s: float = 1.0,
    max_wait_s: float = 60.0,
    stop: threading.Event | None = None,
) -> Runtime | None:
    """The runtime build() makes; None when it cannot be made (the database cannot be opened).

    wait: try again, the waits doubling from first_wait_s up to max_wait_s, until it opens (or stop is
    set: None); once the outage lasted KESTAVA_ALERT_DATABASE_MIN it is alerted (alert), and its all-clear
    sent when the database opens (also of an outage an earlier process alerted, kept by unrecorded). Without
    wait, one attempt, its failure alerted at once (alert)."""
    settings = settings or AlertSettings()
    # the alerter's engine is never read while the database is down: the problem goes without alert state
    alerter = Alerter(
        create_engine("sqlite://"),
        settings,
        secrets=[*secret_values(), *url_password(url)],
        unrecorded=unrecorded,
    )
    stop = stop or threading.Event()
    started, since = time.monotonic(), datetime.now(HELSINKI)
    pause, failures, alerted = first_wait_s, 0, False
    while True:
        try:
            runtime = build()
        except NewerSchemaError as error:  # no wait changes it: refused at once, never retried
            raise StartupError(
                f"{redact(str(error), alerter.secrets)}. "
                "Waiting does not change a schema, so it does not try again",
                NEWER_SCHEMA,
                exit_code=EXIT_DATABASE_REFUSED,
            ) from error
        except MixedDataError as error:  # nor does it change the data the database holds
            raise StartupError(
                redact(str(error), alerter.secrets), MIXED_DATA, exit_code=EXIT_DATABASE_REFUSED
            ) from error
        except Exception as error:
            failures += 1
            reason = redact(f"{type(error).__name__}: {error}", alerter.secrets).strip().splitlines()[0]
            lasted = time.monotonic() - started
            again = f"; trying again in {duration(pause)}" if wait else ""
            log.error("cannot open %s: %s (attempt %d%s)", safe_url(url), reason, failures, again)
            if alert and (not wait or lasted >= settings.alert_database_min * 60):
                retrying = (
                    f"It does not start until it can, and tries again every {duration(max_wait_s)} at most."
                    if wait
                    else "It exited (status 1)."
                )
                message = (
                    f"The scheduler cannot open its database {safe_url(url)} since {since:%Y-%m-%d %H:%M %Z} "
                    f"({failures} failed attempt{'s' if failures != 1 else ''}): {reason}. No job runs. "
                    f"{retrying}"
                )
                alerted = alerter.problem_unrecorded(Problem(*DATABASE, message)) or alerted
            if not wait or stop.wait(pause):
                return None
            pause = min(pause * 2, max_wait_s)
            continue
        alerter.engine = runtime.engine
        merged = alerter.merge_unrecorded()  # what starts without the database alerted: recorded now
        if alerted or ":".join(DATABASE) in merged:
            alerter.resolved(*DATABASE, f"The scheduler opened its database {safe_url(url)} and starts.")
        return runtime
