"""A synthetic job_run: years of the scheduler's history, for bench_job_history.py and the tests.

    from job_history import history_rows, fill_job_runs

The bundled catalogue's datasets on their cadences (daily and weekly), with a few of them fetched every
hour (as an operator may set a near-real-time source such as Fingrid's), each ingest that changed data
followed by a compute and a site rebuild, the daily health check, the weekly and half-yearly reports and
the weekly probe; outcomes in the proportions months of operation showed: mostly unchanged, some changed,
about 2 % failed (each failure retried, trigger `retry`), a few rejected payloads and runs that found their
lock held (busy), now and then a person's `kestava` command (trigger `cli`). Five years are about 300,000
rows. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from storage import schema

# (dataset, hours between its runs): the bundled catalogue's daily and weekly datasets, four of them hourly
HOURLY = ("fingrid_emission_factor", "eurostat_sdg_13_10", "eurostat_cei_wm011", "eurostat_cei_pc031")
DAILY = ("eurostat_sdg_12_41", "eurostat_sdg_07_40")
WEEKLY = (
    *("hsy_emissions", "syke_emissions", "syke_population", "statfin_population", "traficom_cars"),
    *("eurostat_urb_cenv", "eurostat_urb_ctran", "eurostat_urb_cpop1", "oecd_ghg", "oecd_green_area"),
    *("oecd_air_pollution", "oecd_pt_access", "covenant_inventories", "covenant_targets"),
)
END = datetime(2026, 12, 7, 6, 0)  # naive UTC, the newest run's start (about)
HOST = "tracker-1"


def _cadences() -> list[tuple[str, str | None, timedelta, timedelta]]:
    """(job, dataset, every, first offset) of each scheduled job."""
    jobs: list[tuple[str, str | None, timedelta, timedelta]] = []
    for i, dataset in enumerate(HOURLY):
        jobs.append((f"ingest:{dataset}", dataset, timedelta(hours=1), timedelta(minutes=5 * i)))
    for i, dataset in enumerate(DAILY):
        jobs.append(
            (f"ingest:{dataset}", dataset, timedelta(days=1), timedelta(hours=13, minutes=15 + 5 * i))
        )
    for i, dataset in enumerate(WEEKLY):
        jobs.append((f"ingest:{dataset}", dataset, timedelta(days=7), timedelta(hours=6, minutes=5 * i)))
    jobs += [
        ("health", None, timedelta(days=1), timedelta(hours=6)),
        ("report:weekly", None, timedelta(days=7), timedelta(hours=5)),
        ("probe", None, timedelta(days=7), timedelta(hours=3)),
        ("report:half", None, timedelta(days=182), timedelta(hours=5, minutes=30)),
    ]
    return jobs


def run_row(job: str, dataset: str | None, started: datetime, outcome: str, **extra: Any) -> dict[str, Any]:
    """A job_run row of every column fill_job_runs writes (a finished run; extra overrides)."""
    seconds = 0.4 if outcome in ("unchanged", "busy") else 3.0
    row: dict[str, Any] = {
        "job": job,
        "dataset_id": dataset,
        "trigger": "scheduler",
        "started_at": started,
        "finished_at": started + timedelta(seconds=seconds),
        "outcome": outcome,
        "error": None,
        "rows_added": 0,
        "rows_revised": 0,
        "rows_unchanged": 0,
        "snapshot_id": None,
        "host": HOST,
        "pid": 4242,
    }
    row.update(extra)
    return row


def history_rows(years: float = 5.0, seed: int = 20261207) -> list[dict[str, Any]]:
    """Every run of `years` of operation up to END, in the order they were recorded (the id order)."""
    rng = random.Random(seed)
    start = END - timedelta(days=365.25 * years)
    start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    runs: list[dict[str, Any]] = []
    for job, dataset, every, offset in _cadences():
        moment = start + offset
        while moment <= END:
            runs.extend(_firing(rng, job, dataset, moment))
            moment += every
    runs.extend(_corners(start))
    runs.sort(key=lambda r: (r["started_at"], r["job"]))
    return runs


def _corners(start: datetime) -> Iterator[dict[str, Any]]:
    """The runs status reads differently: a dataset retired after its first 300 days (its runs years old), a
    job blocked now (its newest runs found its lock held), one that has only ever been busy, and a
    half-year report still running (hung)."""
    days = min(300, (END - start).days // 5)  # retired after its first 300 days (a fifth of a short history)
    for day in range(days):
        yield run_row(
            "ingest:retired_source", "retired_source", start + timedelta(days=day, hours=4), "unchanged"
        )
    yield run_row(
        "ingest:retired_source",
        "retired_source",
        start + timedelta(days=days, hours=4),
        "failed",
        error="ConnectError: the source is gone",
    )
    for hours in (30, 20, 10):
        busy = "busy, already running by tracker-2:4711"
        yield run_row(
            "ingest:traficom_cars", "traficom_cars", END - timedelta(hours=hours), "busy", error=busy
        )
        yield run_row(
            "ingest:new_source", "new_source", END - timedelta(hours=hours, minutes=1), "busy", error=busy
        )
    hung = run_row("report:half", None, END - timedelta(hours=7), "running")
    yield {**hung, "finished_at": None, "host": "tracker-2"}


def _firing(rng: random.Random, job: str, dataset: str | None, at: datetime) -> Iterator[dict[str, Any]]:
    """The runs one firing of job records: its attempts, and after a change the compute and site."""
    at = at + timedelta(seconds=rng.randint(0, 20))
    trigger = "cli" if rng.random() < 0.003 else "scheduler"
    draw = rng.random()
    if not job.startswith("ingest:"):
        outcome = "failed" if draw < 0.01 else "busy" if draw < 0.015 else "success"
        error = _error(rng, outcome)
        yield run_row(job, None, at, outcome, error=error, trigger=trigger)
        return
    if draw < 0.005:  # its lock held by another run
        yield run_row(
            job, dataset, at, "busy", error="busy, already running by tracker-1:777", trigger=trigger
        )
        return
    if draw < 0.025:  # failed, then retried (each attempt recorded)
        yield run_row(job, dataset, at, "failed", error=_error(rng, "failed"), trigger=trigger)
        retry = at + timedelta(seconds=30)
        if rng.random() < 0.6:
            yield run_row(job, dataset, retry, "unchanged", trigger="retry")
        else:
            yield run_row(job, dataset, retry, "failed", error=_error(rng, "failed"), trigger="retry")
        return
    if draw < 0.028:
        yield run_row(job, dataset, at, "rejected", error="implausible jump: 240.5 -> 2405.0 (×10)")
        return
    if draw < 0.25:  # new data: loaded, then compute and the site
        added = rng.randint(1, 400)
        yield run_row(job, dataset, at, "success", rows_added=added, rows_unchanged=rng.randint(0, 9000))
        later = at + timedelta(seconds=5)
        yield run_row("compute", None, later, "success", trigger="scheduler")
        yield run_row("site", None, later + timedelta(seconds=20), "success", trigger="scheduler")
        return
    yield run_row(job, dataset, at, "unchanged", rows_unchanged=rng.randint(100, 9000), trigger=trigger)


_ERRORS = (
    "HTTPStatusError: Server error '503 Service Unavailable' for url 'https://data.example.org/api?key=***'",
    "ReadTimeout: the read operation timed out after 300 s",
    "ConnectError: [Errno -3] Temporary failure in name resolution",
    "ParseError: the table has no column 'Vuosi' (the publisher changed its layout)",
)


def _error(rng: random.Random, outcome: str) -> str | None:
    return rng.choice(_ERRORS) if outcome == "failed" else None


def fill_job_runs(engine: Engine, rows: Sequence[dict[str, Any]], batch: int = 20_000) -> None:
    """Insert rows into job_run in their order (so their ids follow it), in batches."""
    with engine.begin() as conn:
        for first in range(0, len(rows), batch):
            conn.execute(insert(schema.job_run), list(rows[first : first + batch]))
