"""The unattended scheduler: ingests every catalogue dataset on its cadence, then computes and reports.

    python scheduler.py                 # run (blocking) until SIGTERM / SIGINT
    python scheduler.py --once          # run every due job now and exit (for cron users)
    python scheduler.py --list          # every job with its next run time (Europe/Helsinki)

Jobs (ids are also the job_run names and the job lock names):
  ingest:<dataset>  each catalogue dataset on its own `cadence` (cron, Europe/Helsinki); after a run that
                    changed data, `compute` recomputes what the changed datasets affect
  health            daily 08:00: checks the schema version first (a newer tracker's: the stop below), alerts
                    sources later than their publication calendar, catches up compute
  report:weekly     Mondays 07:00
  report:half       2 January and 2 July 07:30, for the previous half year
  probe             Sundays 05:00, when the catalogue declares probes: `kestava probe` of those datasets
                    (live, writes no data); drift is alerted, an all-clear follows a clean probe
  site              no schedule of its own: after each successful compute and report; a rebuild a stop
                    lost (interrupted, or never begun after its compute or report) runs at the next start

Cadences are standard cron (minute hour day month day-of-week; 0 or 7 = Sunday, 1 = Monday), translated for
APScheduler 3 (whose own day numbers start from Monday = 0); a time in the repeated autumn hour fires once.

Job state lives in the tracker's database (APScheduler SQLAlchemyJobStore, table apscheduler_jobs), so a
restart resumes the schedule; a run missed while the machine was down runs once on restart (coalesce,
no misfire grace limit). Catalogue edits apply on the next start (jobs are replaced; a job whose trigger
did not change keeps its pending run time, so an overdue run is not lost by the replacement).

Testing hooks (environment variables or the matching options):
  KESTAVA_SCHEDULER_ACCELERATE=N  replace every cron trigger by an IntervalTrigger of N seconds, the jobs
                                  staggered within each interval in the order their real schedules fire
                                  in a week (ingest jobs never run are then not started at once)
  KESTAVA_SCHEDULER_HOOKS=module  take job functions from that module where it defines them:
                                  ingest(runtime, dataset_id, trigger) -> ingest.run.DatasetOutcome
                                  (must record job_run like ingest.run.ingest), compute(engine, datasets),
                                  weekly_report(engine, lang), half_year_report(engine, half, lang),
                                  site(engine); each of these four may also take the keyword `lock`, the
                                  job's storage.locks.HeldLock, to check before it writes
  KESTAVA_SCHEDULER_RETRY_WAIT=S  first backoff between attempts (default 30 s, doubling)
  KESTAVA_SCHEDULER_LOCK_LEASE=S  lease of the compute/report locks on SQLite (default 600 s)
  KESTAVA_SCHEDULER_BUSY_WAIT=S   how long a compute waits for another compute to finish (default 600 s)
  KESTAVA_SCHEDULER_STORE_RETRY=S how soon the loop reads a failing job store again (default 10 s)
  KESTAVA_SCHEDULER_LOG_EVERY=S   a lasting job store failure is logged again this often (default 600 s)

Starting while the database cannot be opened, the scheduler tries again (waits doubling up to 60 s) until
it opens; once that lasted KESTAVA_ALERT_DATABASE_MIN it alerts `unreachable:database` (without the
database's password), and gives the all-clear when it opens. --once alerts it at once and exits 1.
A database migrated by a newer tracker (this code rolled back) is not retried: one line naming both schema
versions, the alert `schema:newer` (repeated daily, then weekly, by cron's --once runs; its all-clear at
the first start that succeeds) and exit 4, which the README's systemd unit does not restart. A database
migrated so while the scheduler runs is found by the daily health check or by the first job failing on a
database error (schedule.schema_guard): that job records nothing more; the same line and alert; the running
jobs finish, no other starts; exit 4 (--once too). A start is refused in the same way (exit 4) on a
database holding the other kind of data than the scheduler loads (demo data when it fetches live, live
data with --offline: storage.data_kind), alerted `mixed:database`; a load refused so while it serves (the
database got the other kind meanwhile) fails its run, is not retried, and is alerted `mixed:database`.

A start refused before the database opened (an invalid setting, a catalogue it cannot read, the database
unreachable) is alerted without it and kept in <data dir>/scheduler-alerts.json, so that cron's next --once
does not send it again before it is due (daily, then weekly) and the first start that succeeds sends its
all-clear. A schedule table that is not one (other columns) is alerted as `invalid:schedule`.

Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start (--once, --list), a --once job failed, or the
scheduler loop died (alerted; for a supervisor to restart it); 3 the running jobs were abandoned after the
grace period; 4 the database is refused as it is (alerted; no restart helps): migrated by a newer tracker
(upgrade the tracker, or restore the backup taken before the upgrade), or holding demo data where the
scheduler fetches live (or live data where --offline replays the demo snapshot: give each a database of its
own).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from common.config import get_settings
from common.helsinki import HELSINKI as HELSINKI
from common.logs import LOG_FILE_ENV
from ingest.catalogue import CATALOGUE_PATH, load_catalogue
from kestava.alerts import AlertSettings, secret_values, url_password
from schedule.alert_ledger import AlertLedger, ledger_path

# The service lives in the schedule package; every name code and tests use as scheduler.<name> is
# re-exported here. The job references stored in the job store ("scheduler:run_ingest_job") resolve here.
from schedule.compute_job import pending_datasets as pending_datasets
from schedule.compute_job import run_compute as run_compute
from schedule.compute_job import run_compute_job as run_compute_job
from schedule.health_job import run_health_job as run_health_job
from schedule.ingest_job import run_ingest_job as run_ingest_job
from schedule.jobs import ALL_LANGS as ALL_LANGS
from schedule.jobs import HALF_YEAR_REPORT_CRON as HALF_YEAR_REPORT_CRON
from schedule.jobs import HEALTH_CRON as HEALTH_CRON
from schedule.jobs import PROBE_CRON as PROBE_CRON
from schedule.jobs import WEEKLY_REPORT_CRON as WEEKLY_REPORT_CRON
from schedule.jobs import JobSpec as JobSpec
from schedule.jobs import accelerate as accelerate
from schedule.jobs import catalogue_jobs as catalogue_jobs
from schedule.jobstore import JobStore as JobStore
from schedule.jobstore import jobstore_engine as jobstore_engine
from schedule.jobstore import sync_jobs as sync_jobs
from schedule.logs import setup_logging as setup_logging
from schedule.orphans import reap_orphans as reap_orphans
from schedule.preflight import StartupError, refuse, step
from schedule.probe_job import run_probe_job as run_probe_job
from schedule.report_jobs import previous_half as previous_half
from schedule.report_jobs import run_half_year_report_job as run_half_year_report_job
from schedule.report_jobs import run_weekly_report_job as run_weekly_report_job
from schedule.runners import ComputeRunner as ComputeRunner
from schedule.runners import HalfYearReportRunner as HalfYearReportRunner
from schedule.runners import IngestRunner as IngestRunner
from schedule.runners import ProbeRunner as ProbeRunner
from schedule.runners import Runners as Runners
from schedule.runners import WeeklyReportRunner as WeeklyReportRunner
from schedule.runners import default_compute as default_compute
from schedule.runners import default_half_year_report as default_half_year_report
from schedule.runners import default_ingest as default_ingest
from schedule.runners import default_probe as default_probe
from schedule.runners import default_weekly_report as default_weekly_report
from schedule.runtime import ENV_BUSY_WAIT as ENV_BUSY_WAIT
from schedule.runtime import ENV_HOOKS as ENV_HOOKS
from schedule.runtime import ENV_LOCK_LEASE as ENV_LOCK_LEASE
from schedule.runtime import ENV_RETRY_WAIT as ENV_RETRY_WAIT
from schedule.runtime import Runtime as Runtime
from schedule.runtime import build_runtime as build_runtime
from schedule.runtime import current_runtime as current_runtime
from schedule.runtime import running_jobs as running_jobs
from schedule.runtime import set_runtime as set_runtime
from schedule.service import list_jobs as list_jobs
from schedule.service import run_once as run_once
from schedule.service import serve as serve
from schedule.shutdown import DEFAULT_GRACE_S as DEFAULT_GRACE_S
from schedule.shutdown import EXIT_DATABASE_REFUSED as EXIT_DATABASE_REFUSED
from schedule.shutdown import EXIT_FAILED as EXIT_FAILED
from schedule.shutdown import EXIT_FORCED as EXIT_FORCED
from schedule.shutdown import EXIT_OK as EXIT_OK
from schedule.shutdown import _keep_due as _keep_due
from schedule.site_job import run_site_job as run_site_job
from schedule.startup import open_runtime as open_runtime
from schedule.triggers import WallClockCronTrigger as WallClockCronTrigger
from schedule.triggers import cron as cron
from schedule.triggers import crontab_day_of_week as crontab_day_of_week

__all__ = [
    "HELSINKI",
    "JobSpec",
    "Runners",
    "Runtime",
    "WallClockCronTrigger",
    "catalogue_jobs",
    "pending_datasets",
    "reap_orphans",
    "run_compute_job",
    "run_half_year_report_job",
    "run_health_job",
    "run_ingest_job",
    "run_once",
    "run_probe_job",
    "run_site_job",
    "run_weekly_report_job",
    "serve",
    "sync_jobs",
]

log = logging.getLogger("scheduler")
ENV_ACCELERATE = "KESTAVA_SCHEDULER_ACCELERATE"


app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0] if __doc__ else None)


@app.command()
def main(
    once: Annotated[bool, typer.Option("--once", help="Run every due job now, then exit.")] = False,
    list_only: Annotated[bool, typer.Option("--list", help="Print every job and its next run time.")] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url", help="SQLAlchemy URL (default: KESTAVA_DATABASE_URL or the SQLite file)."
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Ingest from the bundled snapshot (demo).")
    ] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Write logs as JSON lines to stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file",
            envvar=LOG_FILE_ENV,
            help="Also append the log to this file, secrets masked (reopened when logrotate moves it).",
            readable=False,  # appended to, never read: opening it says why it cannot be written
        ),
    ] = None,
    catalogue_path: Annotated[
        Path | None, typer.Option("--catalogue", help="Another catalogue.toml (default: the bundled one).")
    ] = None,
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds a running job may take to finish after SIGTERM/SIGINT.")
    ] = DEFAULT_GRACE_S,
    workers: Annotated[int, typer.Option("--workers", help="Jobs that may run at the same time.")] = 4,
    report_lang: Annotated[
        str, typer.Option("--report-lang", help="Language of the reports: fi, sv, en or all (the default).")
    ] = ALL_LANGS,
    accelerate_s: Annotated[
        float | None,
        typer.Option(
            "--accelerate", envvar=ENV_ACCELERATE, help="Testing: every trigger an interval of N s."
        ),
    ] = None,
    hooks: Annotated[
        str | None,
        typer.Option("--hooks", envvar=ENV_HOOKS, help="Testing: module with replacement job work."),
    ] = None,
) -> None:
    """Kestävä Espoo scheduler: ingest on each dataset's cadence, compute, report, alert."""
    secrets = secret_values()
    setup_logging(json_lines=log_json, verbose=verbose, secrets=secrets)  # first: a failure is logged
    where = catalogue_path.resolve() if catalogue_path else CATALOGUE_PATH
    runtime: Runtime | None = None
    try:
        if log_file is not None:  # then in the file too, from the first line on (a bad path: refused)
            with step("invalid log file", secrets):
                setup_logging(json_lines=log_json, verbose=verbose, secrets=secrets, log_file=log_file)
        with step("invalid settings (environment variables)", secrets, env_prefix="KESTAVA_"):
            url = database_url or get_settings().resolved_database_url()
            AlertSettings()
        with step(f"cannot read the catalogue {where}", secrets):
            catalogue = load_catalogue(where)
        extra_names = [d.secret_env for d in catalogue.datasets.values() if d.secret_env]
        secrets = [*secret_values(extra_names=extra_names), *url_password(url)]
        setup_logging(  # the catalogue's secrets too (the log file opened once more: it was writable)
            json_lines=log_json, verbose=verbose, secrets=secrets, log_file=log_file
        )
        runtime = open_runtime(
            lambda: build_runtime(
                url,
                catalogue=catalogue,
                offline=offline,
                runners=Runners.from_module(hooks),
                trigger="once" if once else "scheduler",
            ),
            url,
            wait=not (once or list_only),  # serving, wait for the database (alerted when that lasts)
            alert=not list_only,
            unrecorded=AlertLedger(ledger_path()),  # cron's --once runs: one alert, then its repeats
        )
        if runtime is None:
            raise typer.Exit(code=EXIT_FAILED)
        with step(f"cannot read the schedule from the catalogue {where}", secrets):
            specs = catalogue_jobs(catalogue, report_lang=report_lang)
        accelerated = accelerate_s is not None and accelerate_s > 0
        if accelerate_s is not None and accelerate_s > 0:
            specs = accelerate(specs, accelerate_s, datetime.now(HELSINKI))
            log.warning("accelerated schedule: every job every %g s (testing only)", accelerate_s)
        if list_only:
            list_jobs(runtime, specs, Console())
            code = EXIT_OK
        elif once:
            code = run_once(runtime, specs, grace_s=grace)
        else:
            code = serve(runtime, specs, grace_s=grace, workers=workers, accelerated=accelerated)
    except StartupError as error:  # before any job ran: one line, an alert, exit 1 (or 4: a newer database)
        refuse(error, secrets, alert=not list_only, alerter=runtime.alerter if runtime else None)
        code = error.exit_code
    finally:
        if runtime is not None:
            runtime.engine.dispose()
    raise typer.Exit(code=code)


if __name__ == "__main__":
    # Run under the importable name `scheduler`, so the job references stored in the database
    # ("scheduler:run_ingest_job") resolve to this same module and its runtime.
    import scheduler as _scheduler

    _scheduler.app()
