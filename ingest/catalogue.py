"""The declarative dataset catalogue (catalogue.toml) as validated, typed records."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.units import check_unit

CATALOGUE_PATH = Path(__file__).with_name("catalogue.toml")
# a download host of the catalogue: a lowercase DNS name, "*." before it for its subdomains
_HOST_PATTERN = re.compile(
    r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:(?P<port>[1-9][0-9]{0,4}))?"
)
# the port a URL of the scheme goes to when it names none
DEFAULT_PORTS = {"https": 443, "http": 80}


def own_port(url: str) -> int | None:
    """The port url names, None when it names none or its scheme's default (https://x:443)."""
    parts = urlsplit(url)
    return None if parts.port == DEFAULT_PORTS.get(parts.scheme) else parts.port


Protocol = Literal[
    "ckan_xlsx",
    "syke_csv",
    "syke_population_csv",
    "pxweb",
    "eurostat",
    "fingrid",
    "oecd_sdmx",
    "gcom_xlsx",
    "cdp_socrata",
]
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
    # "periods": freshness by the newest period published; "releases": by the date the content last
    # changed, for a dataset whose periods are not when its data are from (targets: 2030, 2050)
    tracks: Literal["periods", "releases"] = "periods"

    def expected_latest_period_end(self, today: date) -> date:
        """The end date of the newest period that should be published by `today` (tracks = "releases":
        the date after which the content should have changed again)."""
        cutoff = today - timedelta(days=self.lag_days + self.grace_days)
        if self.tracks == "releases":
            return cutoff
        if self.frequency == "annual":
            return date(cutoff.year - 1, 12, 31) if cutoff < date(cutoff.year, 12, 31) else cutoff
        if self.frequency == "monthly":
            first = cutoff.replace(day=1)
            return first - timedelta(days=1)
        if self.frequency == "weekly":
            return cutoff - timedelta(days=cutoff.isoweekday())
        return cutoff - timedelta(days=1)


Match = dict[str, str | list[str]]  # dimension -> value, or any of several values


class PlausibilityRule(BaseModel):
    """What a plausibility rule looks at: the matching rows (or their sum per `by`), in `unit`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    match: Match = Field(default_factory=dict)
    unit: str  # the rule's numbers are in this unit; matching rows in another unit of the same kind convert
    aggregate: Literal["none", "sum"] = "none"
    by: tuple[str, ...] = ("area", "period")  # with aggregate = "sum": the columns kept, the rest summed
    why: str = ""

    @model_validator(mode="after")
    def _check(self) -> PlausibilityRule:
        check_unit(self.unit)
        if self.aggregate == "sum" and "period" not in self.by:
            raise ValueError(f"plausibility rule {self.name!r}: by must include 'period' (never summed)")
        return self


class RangeRule(PlausibilityRule):
    """Values (or sums) must lie within [min, max]."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError(f"plausibility range {self.name!r}: declare min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"plausibility range {self.name!r}: min {self.min} > max {self.max}")
        return self


class JumpRule(PlausibilityRule):
    """A revised value (or sum) may not change by more than `factor` (up or down) on the previous vintage."""

    factor: float = Field(gt=1)
    # ignore changes where both the old and the new value are smaller than this (in unit): small numbers
    # swing by large factors without being wrong
    floor: float = Field(default=0.0, ge=0)


class WithdrawalRule(BaseModel):
    """Whether a payload withdrawing published values is rejected (the default for every dataset), and
    why not when a source legitimately blanks values (see ingest/completeness.py, withdrawn_values)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reject: bool = True
    why: str = ""

    @model_validator(mode="after")
    def _why_when_allowed(self) -> WithdrawalRule:
        if not self.reject and not self.why.strip():
            raise ValueError(
                "plausibility.withdrawals: reject = false needs a why (how the source blanks values)"
            )
        return self


class PlausibilitySpec(BaseModel):
    """A dataset's plausibility declarations (see ingest/plausibility.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ranges: tuple[RangeRule, ...] = ()
    jumps: tuple[JumpRule, ...] = ()
    withdrawals: WithdrawalRule = Field(default_factory=WithdrawalRule)


MAY_DROP_PATTERN = r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<=|>=|!=|=|<|>)\s*(\S(?:.*\S)?)\s*$"


class CompleteSpec(BaseModel):
    """What a complete payload holds (checked by ingest/completeness.py before anything is written)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # every area the request named (Syke municipalities, PxWeb area codes, Eurostat geo codes)
    requested_areas: bool = True
    # every period the request named (the values of a PxWeb query's time variable)
    requested_periods: bool = True
    # areas every payload must hold although the request does not name them (HSY's four cities)
    areas: tuple[str, ...] = ()
    # every Europe/Helsinki day of the requested window (startTime/endTime), e.g. Fingrid
    requested_days: bool = False
    # every area has every year from this one to the payload's newest year
    annual_from: int | None = None
    # every value of these columns has every period any of them has (e.g. ["area"]: one city's file
    # cut short lacks the years the others have)
    same_periods_per: tuple[str, ...] = ()
    # which currently valid observations the payload must still hold: all; only those whose period
    # lies in the requested window (a moving window drops old days); every series in any period
    # (a point-in-time table whose period moves on); or none
    previous: Literal["all", "window", "series", "none"] = "all"
    # which stored observations a payload covers, so that one it no longer holds is withdrawn (closed):
    # every stored observation (`all`, a file holding everything); those of the areas and periods the
    # request named (`request`: Syke's municipality files, PxWeb's areas and time values, Eurostat's geo
    # and sinceTimePeriod, the OECD's startPeriod, Fingrid's startTime/endTime window); those and only
    # the periods the payload holds (`payload_periods`: a point-in-time table's earlier reference dates
    # are not covered); or nothing (`none`: a dropped observation stays current)
    covers: Literal["all", "request", "payload_periods", "none"] = "request"
    # missing observations the source may drop: "period < 2000", "area = 235", "taso_5 = *" (any value)
    may_drop: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check_may_drop(self) -> CompleteSpec:
        for rule in self.may_drop:
            if not re.match(MAY_DROP_PATTERN, rule):
                raise ValueError(
                    f"complete.may_drop: {rule!r} is not '<column> <op> <value>' with op one of "
                    "=, !=, <, <=, >, >= (value * = any)"
                )
        return self


class SectorRule(BaseModel):
    """One row of a dataset's sector table: published sector labels -> the tracker's sector keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    match: Match  # dimension -> label (or any of several labels), e.g. {sector1 = "Lämmitys"}
    sector: str  # the tracker's fine sector key (e.g. "oil_heating")
    group: str  # the tracker's main sector key (e.g. "other_heating")


class DatasetSpec(BaseModel):
    """One dataset: where it comes from, how to read it, how often and under which terms."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    title: str
    source: str
    protocol: Protocol
    # the columns that identify its series as the connector reads them (every column but period, value and
    # flag: storage.checks.dimension_columns; area and unit among them): a payload read into other columns
    # is rejected (ingest.connector.parse_flagged), and an empty answer of kestava.api.observations has
    # these columns too; () = not declared (nothing checked)
    dimensions: tuple[str, ...] = ()
    url: str
    # protocol-specific options (table id, filters, municipalities, dataset numbers, ...)
    options: dict[str, Any] = Field(default_factory=dict)
    cadence: str  # cron expression, Europe/Helsinki time
    calendar: CalendarSpec
    secret_env: str | None = None  # name of the environment variable holding an API key
    plausibility: PlausibilitySpec = Field(default_factory=PlausibilitySpec)
    complete: CompleteSpec = Field(default_factory=CompleteSpec)
    # `kestava probe`: option overrides that make the smallest live request (one area, recent periods);
    # datasets with a probe block (even an empty one) are probed by the scheduler's weekly probe job
    probe: dict[str, Any] | None = None
    # the unit of each value column as the publisher writes it (header without a unit -> this unit); a
    # header that names a unit must name this one (e.g. HSY: {"Päästöt" = "kt CO2e", ...})
    column_units: dict[str, str] = Field(default_factory=dict)
    # the publisher's sector hierarchy mapped to the tracker's sectors, first match wins (e.g. HSY); a row
    # no rule matches is rejected, naming its labels
    sectors: tuple[SectorRule, ...] = ()
    # opt-in: a dataset with enabled = false is left out of the loaded catalogue (never scheduled, fetched,
    # probed or checked for freshness) unless the boolean setting `enabled_by` (a common.config.Settings
    # field, e.g. cdp_enabled <- KESTAVA_CDP_ENABLED) is true
    enabled: bool = True
    enabled_by: str | None = None
    # restricted: the dataset's rows may be ingested but never published (report, export) unless a
    # licence is declared in the setting `licence_setting` (e.g. cdp_licence <- KESTAVA_CDP_LICENCE);
    # see ingest.licensing.publishable
    restricted: bool = False
    licence_setting: str | None = None
    # periods the publisher calls preliminary, flagged "p" (common.flags) when the payload does not say so
    # itself: "latest_period" = the newest period holding a value (HSY, Syke: SOURCES.md); a later release
    # that holds the final figure clears the flag (a flag change is a revision)
    provisional: Literal["none", "latest_period"] = "none"
    # hosts a download link found in a payload (HSY's CKAN resource URL) may point at, besides the host of
    # `url` itself: a host name, or "*.example.fi" for its subdomains, on its scheme's default port unless
    # another is named after it ("example.fi:8443"); a link elsewhere is refused
    download_hosts: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check_download_hosts(self) -> DatasetSpec:
        for host in self.download_hosts:
            found = _HOST_PATTERN.fullmatch(host)
            if not found or int(found["port"] or 1) > 65535:
                raise ValueError(
                    f"dataset {self.id!r}: download_hosts: {host!r} is not a lowercase host name "
                    "(optionally '*.' before it for its subdomains, ':port' after it for a port other "
                    "than the scheme's default)"
                )
        return self

    def allows_download_host(self, host: str, port: int | None = None) -> bool:
        """Whether a download link may point at `host` and `port` (None: the scheme's default): the host of
        `url` (on its port), or one download_hosts names (on the port named there); any of them on the
        default port."""
        host = host.lower().rstrip(".")
        own = urlsplit(self.url)
        if host == (own.hostname or "") and port in (None, own_port(self.url)):
            return True
        for allowed in self.download_hosts:
            name, _, named_port = allowed.partition(":")
            if port not in (None, int(named_port) if named_port else None):
                continue
            if host.endswith(name[1:]) if name.startswith("*.") else host == name:
                return True
        return False

    @model_validator(mode="after")
    def _check_column_units(self) -> DatasetSpec:
        for column, unit in self.column_units.items():
            try:
                check_unit(unit)
            except ValueError as error:
                raise ValueError(f"dataset {self.id!r}: column_units[{column!r}]: {error}") from None
        return self

    @model_validator(mode="after")
    def _check_dimensions(self) -> DatasetSpec:
        if not self.dimensions:
            return self
        # (a measure column, period, value or flag, never is one: the connector's check refuses it)
        missing = sorted({"area", "unit"} - set(self.dimensions))
        if missing or len(set(self.dimensions)) < len(self.dimensions):
            raise ValueError(
                f"dataset {self.id!r}: dimensions {list(self.dimensions)}: expected distinct columns with "
                "area and unit among them"
            )
        return self

    @model_validator(mode="after")
    def _check_opt_in(self) -> DatasetSpec:
        from common.config import Settings

        fields = Settings.model_fields
        for name, setting in (("enabled_by", self.enabled_by), ("licence_setting", self.licence_setting)):
            if setting is not None and setting not in fields:
                raise ValueError(f"dataset {self.id!r}: {name} {setting!r} is not a setting of common.config")
        if self.enabled_by is not None and self.enabled:
            raise ValueError(f"dataset {self.id!r}: enabled_by needs enabled = false (an opt-in)")
        if self.restricted and self.licence_setting is None:
            raise ValueError(
                f"dataset {self.id!r}: restricted needs licence_setting (where a licence is declared)"
            )
        return self

    def enabled_in(self, switched_on: Collection[str]) -> bool:
        """Whether the dataset is ingested, given the names of the boolean settings that are true."""
        return self.enabled or (self.enabled_by is not None and self.enabled_by in switched_on)

    def sector_of(self, labels: dict[str, str]) -> SectorRule | None:
        """The first sector rule whose every match condition holds for `labels` (dimension -> label)."""
        for rule in self.sectors:
            if all(
                labels.get(column, "") in ([wanted] if isinstance(wanted, str) else wanted)
                for column, wanted in rule.match.items()
            ):
                return rule
        return None


class Catalogue(BaseModel):
    """Every source and dataset the tracker knows."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sources: dict[str, SourceSpec]
    datasets: dict[str, DatasetSpec]  # the datasets that are ingested
    # opt-in datasets not enabled by the settings: known (e.g. for ingest.licensing), never ingested
    disabled: dict[str, DatasetSpec] = Field(default_factory=dict)

    def dataset(self, dataset_id: str) -> DatasetSpec:
        try:
            return self.datasets[dataset_id]
        except KeyError:
            if dataset_id in self.disabled:
                spec = self.disabled[dataset_id]
                how = (
                    f"set {spec.enabled_by} (KESTAVA_{spec.enabled_by.upper()}=true)"
                    if spec.enabled_by
                    else ""
                )
                raise KeyError(
                    f"dataset {dataset_id!r} is an opt-in, not enabled; {how}".rstrip("; ")
                ) from None
            known = ", ".join(sorted(self.datasets))
            raise KeyError(f"unknown dataset {dataset_id!r}; the catalogue has: {known}") from None

    def source_of(self, dataset_id: str) -> SourceSpec:
        return self.sources[self.dataset(dataset_id).source]


def switched_on_settings() -> frozenset[str]:
    """The names of the boolean settings (common.config) that are true, e.g. {"cdp_enabled"}."""
    from common.config import get_settings

    return frozenset(name for name, value in get_settings().model_dump().items() if value is True)


def parse_catalogue(raw: dict[str, Any], *, switched_on: Collection[str] | None = None) -> Catalogue:
    """Validate a catalogue document; ids are taken from the table keys.

    Opt-in datasets (enabled = false) go to `disabled` unless their `enabled_by` setting is among
    `switched_on` (default: the boolean settings that are true now).
    """
    sources = {key: SourceSpec(id=key, **value) for key, value in raw.get("sources", {}).items()}
    datasets = {key: DatasetSpec(id=key, **value) for key, value in raw.get("datasets", {}).items()}
    for dataset in datasets.values():
        if dataset.source not in sources:
            raise ValueError(f"catalogue: dataset {dataset.id!r}: unknown source {dataset.source!r}")
    on = switched_on_settings() if switched_on is None else frozenset(switched_on)
    return Catalogue(
        sources=sources,
        datasets={key: d for key, d in datasets.items() if d.enabled_in(on)},
        disabled={key: d for key, d in datasets.items() if not d.enabled_in(on)},
    )


def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    """Read and validate the catalogue file (cached per path and per set of opt-ins switched on)."""
    return _load_catalogue(path, switched_on_settings())


@cache
def _load_catalogue(path: Path, switched_on: frozenset[str]) -> Catalogue:
    with path.open("rb") as handle:
        return parse_catalogue(tomllib.load(handle), switched_on=switched_on)
