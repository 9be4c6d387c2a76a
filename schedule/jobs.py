"""The job catalogue: one ingest per dataset, health, probe and the two reports, with their cadences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from common.helsinki import HELSINKI
from ingest.catalogue import Catalogue
from schedule.triggers import cron

WEEKLY_REPORT_CRON = "0 7 * * 1"  # Mondays 07:00
HALF_YEAR_REPORT_CRON = "30 7 2 1,7 *"  # 2 January and 2 July 07:30, for the previous half
HEALTH_CRON = "0 8 * * *"
PROBE_CRON = "0 5 * * 0"  # Sundays 05:00: the weekly live probe (ingest/probe.py)
# A fixed Monday: accelerated jobs keep the order in which their real schedules fire in a week.
_ORDER_REFERENCE = datetime(2026, 1, 5, tzinfo=HELSINKI)


@dataclass(frozen=True)
class JobSpec:
    """A job the scheduler keeps: id (= job_run and lock name), function reference, args and trigger."""

    id: str
    func: str  # "module:function", resolved by APScheduler (the SQL job store pickles the reference)
    args: tuple[str, ...]
    trigger: BaseTrigger
    kind: str  # ingest, health, report
    schedule: str  # the cron expression (or the accelerated interval), for --list


ALL_LANGS = "all"  # the reports in every language (fi, sv, en), the default


def catalogue_jobs(catalogue: Catalogue, *, report_lang: str = ALL_LANGS) -> list[JobSpec]:
    """Every job: one ingest per catalogue dataset, the health check and the two reports."""
    # The functions are named through scheduler.py (which re-exports them), as in existing job stores.
    specs = []
    for d in catalogue.datasets.values():
        try:
            trigger = cron(d.cadence)
        except ValueError as error:
            raise ValueError(f"catalogue: dataset {d.id!r}: cadence: {error}") from None
        specs.append(
            JobSpec(f"ingest:{d.id}", "scheduler:run_ingest_job", (d.id,), trigger, "ingest", d.cadence)
        )
    specs.append(JobSpec("health", "scheduler:run_health_job", (), cron(HEALTH_CRON), "health", HEALTH_CRON))
    if any(d.probe is not None for d in catalogue.datasets.values()):
        specs.append(JobSpec("probe", "scheduler:run_probe_job", (), cron(PROBE_CRON), "probe", PROBE_CRON))
    specs.append(
        JobSpec(
            "report:weekly",
            "scheduler:run_weekly_report_job",
            (report_lang,),
            cron(WEEKLY_REPORT_CRON),
            "report",
            WEEKLY_REPORT_CRON,
        )
    )
    specs.append(
        JobSpec(
            "report:half",
            "scheduler:run_half_year_report_job",
            (report_lang,),
            cron(HALF_YEAR_REPORT_CRON),
            "report",
            HALF_YEAR_REPORT_CRON,
        )
    )
    return specs


def accelerate(specs: Sequence[JobSpec], seconds: float, now: datetime) -> list[JobSpec]:
    """Every trigger replaced by an IntervalTrigger of `seconds`, staggered in real-schedule order."""

    def first_fire(spec: JobSpec) -> datetime:
        fire = spec.trigger.get_next_fire_time(None, _ORDER_REFERENCE)
        return fire if fire is not None else datetime.max.replace(tzinfo=UTC)

    ordered = sorted(specs, key=lambda s: (first_fire(s), s.id))
    step = seconds / (len(ordered) + 1)
    return [
        JobSpec(
            s.id,
            s.func,
            s.args,
            IntervalTrigger(
                seconds=seconds, start_date=now + timedelta(seconds=step * (rank + 1)), timezone=HELSINKI
            ),
            s.kind,
            f"every {seconds:g} s (accelerated; really {s.schedule})",
        )
        for rank, s in enumerate(ordered)
    ]
