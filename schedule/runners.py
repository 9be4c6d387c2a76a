"""The work behind the jobs (ingest, compute, reports, probe), replaceable by a hooks module."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine

from common.config import get_settings
from ingest.catalogue import Catalogue
from ingest.probe import ProbeResult, probe, reference_frame
from ingest.run import DatasetOutcome, ingest
from schedule.jobs import ALL_LANGS
from storage.locks import HeldLock

if TYPE_CHECKING:
    from schedule.runtime import Runtime


IngestRunner = Callable[["Runtime", str, str], DatasetOutcome]
ProbeRunner = Callable[[Catalogue], list[ProbeResult]]


# the runners of the jobs that hold a job lock get it (keyword `lock`): a writer checks it right before its
# commit or its publication (storage.locks.HeldLock), so that a run that lost its lock writes nothing
class ComputeRunner(Protocol):
    def __call__(self, engine: Engine, datasets: Sequence[str], *, lock: HeldLock) -> object: ...


class WeeklyReportRunner(Protocol):
    def __call__(self, engine: Engine, lang: str, *, lock: HeldLock) -> object: ...


class HalfYearReportRunner(Protocol):
    def __call__(self, engine: Engine, half: str, lang: str, *, lock: HeldLock) -> object: ...


class SiteRunner(Protocol):
    def __call__(self, engine: Engine, *, lock: HeldLock) -> object: ...


def default_ingest(runtime: Runtime, dataset_id: str, trigger: str) -> DatasetOutcome:
    """ingest.run.ingest for one dataset (it takes the ingest:<dataset> lock and records job_run; an
    unchanged run's record closes the problems its success clears, see kestava.alerts.check_run)."""
    (outcome,) = ingest(
        runtime.engine,
        runtime.raw_store,
        [dataset_id],
        offline=runtime.offline,
        snapshot_dir=runtime.snapshot_dir,
        catalogue=runtime.catalogue,
        trigger=trigger,
        all_clear=runtime.alerter.ingest_all_clear(),
    )
    return outcome


def default_probe(catalogue: Catalogue) -> list[ProbeResult]:
    """ingest.probe.probe of the datasets with a probe block (live; writes nothing)."""
    snapshot_dir = get_settings().snapshot_dir  # the reference shapes, as `kestava probe` uses them
    return probe(
        [d.id for d in catalogue.datasets.values() if d.probe is not None],
        catalogue=catalogue,
        reference=lambda spec: reference_frame(spec, snapshot_dir),
    )


def default_compute(engine: Engine, datasets: Sequence[str], *, lock: HeldLock) -> object:
    """indicators.engine.compute for what the changed datasets affect (checking the compute lock)."""
    return importlib.import_module("indicators.engine").compute(engine, datasets=list(datasets), lock=lock)


def default_weekly_report(engine: Engine, lang: str, *, lock: HeldLock) -> object:
    """report.weekly.write_weekly_report for the current week; lang "all": fi, sv and en (changes once)."""
    weekly = importlib.import_module("report.weekly")
    if lang == ALL_LANGS:
        return weekly.write_weekly_reports(engine, weekly.LANGS, lock=lock)
    return weekly.write_weekly_report(engine, lang=lang, lock=lock)


def default_half_year_report(engine: Engine, half: str, lang: str, *, lock: HeldLock) -> object:
    """report.weekly.write_half_year_report for a half year such as 2026-H2; lang "all": fi, sv and en in
    one run (changes once, each language linking to the others)."""
    weekly = importlib.import_module("report.weekly")
    if lang == ALL_LANGS:
        return weekly.write_half_year_reports(engine, weekly.LANGS, half=half, lock=lock)
    return weekly.write_half_year_report(engine, half=half, lang=lang, lock=lock)


def default_site(engine: Engine, *, lock: HeldLock) -> object:
    """report.site.build.build_site into the configured site folder, with the reports archive: only the
    pages whose inputs changed are made again."""
    settings = get_settings()
    build = importlib.import_module("report.site.build")
    return build.build_site(engine, settings.site, report_root=settings.reports, lock=lock)


def _taking_lock(function: Callable[..., object]) -> Callable[..., object]:
    """A hook as a runner: one that declares no `lock` parameter (the documented hook signatures) is
    called without it."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return function
    if "lock" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return function

    def without_lock(*args: object, lock: HeldLock | None = None) -> object:
        return function(*args)

    return without_lock


@dataclass(frozen=True)
class Runners:
    """The work behind the jobs; replaced in tests (KESTAVA_SCHEDULER_HOOKS) without touching the schedule."""

    ingest: IngestRunner = default_ingest
    compute: ComputeRunner = default_compute
    weekly_report: WeeklyReportRunner = default_weekly_report
    half_year_report: HalfYearReportRunner = default_half_year_report
    probe: ProbeRunner = default_probe
    site: SiteRunner = default_site

    @classmethod
    def from_module(cls, name: str | None) -> Runners:
        """Defaults, overridden by the functions a hooks module defines (ingest, compute, …)."""
        if not name:
            return cls()
        module = importlib.import_module(name)
        defaults = cls()
        return cls(
            ingest=getattr(module, "ingest", defaults.ingest),
            compute=_taking_lock(getattr(module, "compute", defaults.compute)),
            weekly_report=_taking_lock(getattr(module, "weekly_report", defaults.weekly_report)),
            half_year_report=_taking_lock(getattr(module, "half_year_report", defaults.half_year_report)),
            probe=getattr(module, "probe", defaults.probe),
            site=_taking_lock(getattr(module, "site", defaults.site)),
        )
