"""The declarative dataset catalogue (catalogue.toml) as validated, typed records."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CATALOGUE_PATH = Path(__file__).with_name("catalogue.toml")

Protocol = Literal["ckan_xlsx", "syke_csv", "pxweb", "eurostat", "fingrid"]
Frequency = Literal["annual", "monthly", "weekly", "daily"]


class SourceSpec(BaseModel):
    """A publisher: who they are and how their data may be reused."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    publisher: str
    licence: str
    attribution: str
    homepage: str


class CalendarSpec(BaseModel):
    """When a dataset's periods are expected to be published (for staleness checks)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    frequency: Frequency
    # days after the end of a period by which that period is expected to be published
    lag_days: int = Field(ge=0)
    # extra days tolerated before the dataset counts as late
    grace_days: int = Field(default=30, ge=0)

    def expected_latest_period_end(self, today: date) -> date:
        """The end date of the newest period that should be published by `today`."""
        cutoff = today - timedelta(days=self.lag_days + self.grace_days)
        if self.frequency == "annual":
            return date(cutoff.year - 1, 12, 31) if cutoff < date(cutoff.year, 12, 31) else cutoff
        if self.frequency == "monthly":
            first = cutoff.replace(day=1)
            return first - timedelta(days=1)
        if self.frequency == "weekly":
            return cutoff - timedelta(days=cutoff.isoweekday())
        return cutoff - timedelta(days=1)


class DatasetSpec(BaseModel):
    """One dataset: where it comes from, how to read it, how often and under which terms."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: str
    source: str
    protocol: Protocol
    url: str
    # protocol-specific options (table id, filters, municipalities, dataset numbers, ...)
    options: dict[str, Any] = Field(default_factory=dict)
    cadence: str  # cron expression, Europe/Helsinki time
    calendar: CalendarSpec
    secret_env: str | None = None  # name of the environment variable holding an API key


class Catalogue(BaseModel):
    """Every source and dataset the tracker knows."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sources: dict[str, SourceSpec]
    datasets: dict[str, DatasetSpec]

    def dataset(self, dataset_id: str) -> DatasetSpec:
        try:
            return self.datasets[dataset_id]
        except KeyError:
            known = ", ".join(sorted(self.datasets))
            raise KeyError(f"unknown dataset {dataset_id!r}; the catalogue has: {known}") from None

    def source_of(self, dataset_id: str) -> SourceSpec:
        return self.sources[self.dataset(dataset_id).source]


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    """Validate a catalogue document; ids are taken from the table keys."""
    sources = {key: SourceSpec(id=key, **value) for key, value in raw.get("sources", {}).items()}
    datasets = {key: DatasetSpec(id=key, **value) for key, value in raw.get("datasets", {}).items()}
    for dataset in datasets.values():
        if dataset.source not in sources:
            raise ValueError(f"catalogue: dataset {dataset.id!r}: unknown source {dataset.source!r}")
    return Catalogue(sources=sources, datasets=datasets)


@cache
def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    """Read and validate the catalogue file (cached per path)."""
    with path.open("rb") as handle:
        return parse_catalogue(tomllib.load(handle))
