"""`kestava probe`: one smallest live request per dataset, compared with what the tracker expects.

For each dataset the probe makes the catalogue's request with the option overrides of its `probe` block
(one municipality, recent periods, a one-day window), through the connector's own `fetch` and `parse`,
and reports what it expected and what it found:

- HTTP: every request's URL and status (a failure carries a hint for the statuses sources are known
  to give, e.g. HRI's 403 or Syke's 404 for a differently padded file name);
- shape: the connector's parse (a renamed column or variable, an unknown code, a header unit that
  disagrees with the catalogue: the connector's own error, word for word);
- columns, codes, units and periods, against the same dataset parsed from the bundled snapshot
  (data/snapshot/, the shapes the tracker is built and tested on): a missing column, a code the
  snapshot never had or a different unit is drift;
- a sample value and its order of magnitude, and the catalogue's plausibility ranges
  (ingest.plausibility.check_payload) and the request-level completeness (ingest.completeness).
- the source's own name of the dataset, where the connector can ask for it (`identify`: Fingrid's
  265 and 266 are both emission factors, and only their names tell them apart).

It writes nothing: no database, no raw store (the live fetcher has no validator cache, so every request
is a plain GET or POST).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from common.errors import DataError
from common.payload import Fetcher, Payload
from ingest.catalogue import Catalogue, DatasetSpec, load_catalogue
from ingest.completeness import missing_observations, summarise
from ingest.errors import FetchError
from ingest.http import HttpError, LiveFetcher, display_url
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, read_manifest
from ingest.plausibility import check_payload
from ingest.registry import connector_for
from ingest.replay import ReplayFetcher

__all__ = ["Check", "ProbeResult", "probe", "probe_dataset", "probe_spec", "reference_frame"]

# columns whose values are not codes to compare (areas differ by request; the rest are measurements)
NOT_CODES = frozenset({"area", "period", "value", "flag", "unit"})
CODES_SHOWN = 8

# what an HTTP status from a source most likely means, by (protocol, status), then by status
HINTS: dict[tuple[str | None, int], str] = {
    ("ckan_xlsx", 403): "HRI's CKAN API has answered 403 to outside probes (SOURCES.md): try another "
    "network, or download the XLSX by hand from hri.fi and tell HSY",
    ("ckan_xlsx", 404): "the CKAN package may have been renamed: check options.package_id on hri.fi",
    ("syke_csv", 404): "neither kunta_49.csv nor kunta_049.csv answered: the folder Tulokset_taso_5 or the "
    "file names may have been renamed",
    ("pxweb", 404): "the table may have moved or been renamed (StatFin renamed its tables on 8 June 2026): "
    "find it in the database listing and update the catalogue url",
    ("pxweb", 403): "PxWeb refuses a query with too many cells, or access from this network",
    (
        "eurostat",
        404,
    ): "the dataset code may have been withdrawn or renamed: check it in the Eurostat browser",
    ("oecd_sdmx", 404): "the flow version, the agency or a code of the key may be wrong (an SDMX data query "
    "matching nothing also answers 404): check the flow in the OECD Data Explorer",
    (
        "oecd_sdmx",
        429,
    ): "OECD's rate limit (10–15 quick requests): probe the oecd datasets later, one at a time",
    ("fingrid", 401): "the API key in FINGRID_API_KEY was refused: check it at data.fingrid.fi",
    ("fingrid", 403): "the API key in FINGRID_API_KEY was refused: check it at data.fingrid.fi",
    ("fingrid", 404): "the dataset number may be wrong: check GET https://data.fingrid.fi/api/datasets/{id}",
    (None, 401): "the source wants credentials",
    (None, 403): "the source refused access from here",
    (None, 404): "the URL no longer exists at the source",
    (None, 429): "rate limited: probe fewer datasets at once, or later",
    (None, 500): "the source failed: probe again later",
    (None, 502): "the source failed: probe again later",
    (None, 503): "the source is unavailable or rate limiting: probe again later",
}


@dataclass(frozen=True)
class Check:
    """One line of a probe: what was expected, what was found, whether that is drift."""

    what: str
    expected: str
    found: str
    ok: bool = True


@dataclass
class ProbeResult:
    """What the probe of one dataset found."""

    dataset_id: str
    exchanges: list[tuple[str, str, int]] = field(default_factory=list)  # method, URL, status
    checks: list[Check] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return any(not check.ok for check in self.checks)

    def drifts(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def as_dict(self) -> dict[str, object]:
        return {
            "dataset": self.dataset_id,
            "drift": self.drift,
            "requests": [{"method": m, "url": u, "status": s} for m, u, s in self.exchanges],
            "checks": [check.__dict__ for check in self.checks],
        }


def probe_spec(spec: DatasetSpec) -> DatasetSpec:
    """The dataset with its probe overrides applied to its options (the smallest live request)."""
    return spec.model_copy(update={"options": {**spec.options, **(spec.probe or {})}})


def _status(error: BaseException) -> int | None:
    """The HTTP status behind an error (connectors wrap HttpError in their own FetchError)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, HttpError) and seen.status is not None:
            return seen.status
        seen = seen.__cause__
    return None


def hint(protocol: str, status: int | None) -> str | None:
    """What a status most likely means for this protocol (None when nothing is known)."""
    if status is None:
        return None
    return HINTS.get((protocol, status)) or HINTS.get((None, status))


def reference_frame(spec: DatasetSpec, snapshot_dir: Path = DEFAULT_SNAPSHOT_DIR) -> pl.DataFrame:
    """The dataset parsed from the bundled snapshot: the shapes the tracker is built and tested on.

    The recording is looked up with the bundled catalogue's entry of the same id (so a probe of a
    mirror's catalogue still compares with the bundled shapes).

    Raises DataError (or OSError) when the snapshot has no usable recording of the dataset.
    """
    spec = load_catalogue().datasets.get(spec.id, spec)  # the snapshot records the bundled requests
    manifest = read_manifest(snapshot_dir)
    overrides = manifest.dataset_options.get(spec.id, {})
    offline = spec.model_copy(update={"options": {**spec.options, **overrides}, "secret_env": None})
    connector = connector_for(spec.protocol, read_only=True)
    payloads = connector.fetch(offline, ReplayFetcher(snapshot_dir, manifest=manifest))
    return connector.parse(offline, payloads)


def _codes(frame: pl.DataFrame, column: str) -> list[str]:
    return sorted(str(v) for v in frame[column].unique().to_list() if v is not None)


def _listed(values: Sequence[str], limit: int = CODES_SHOWN) -> str:
    shown = ", ".join(repr(v) if v == "" else v for v in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "") if values else "none"


def magnitude(value: float | None) -> str:
    """The order of magnitude of a number, as 10^n ("0" for zero, "null" for a missing value)."""
    if value is None:
        return "null"
    if value == 0:
        return "0"
    return f"10^{math.floor(math.log10(abs(value)))}"


def _sample(frame: pl.DataFrame, unit: str | None = None) -> pl.DataFrame:
    """The row a person can check by eye: Espoo (else Finland, else the first area), newest period,
    largest value, in `unit` when the frame has it (the unit of the dataset's first plausibility range)."""
    rows = frame.filter(pl.col("value").is_not_null())
    if unit is not None and unit in rows["unit"].to_list():
        rows = rows.filter(pl.col("unit") == unit)
    if rows.height == 0:
        return rows
    areas = rows["area"].unique().sort().to_list()
    area = next((a for a in ("049", "FI") if a in areas), areas[0])  # Espoo, else Finland
    rows = rows.filter(pl.col("area") == area)
    newest = rows["period"].max()
    rows = rows.filter(pl.col("period") == newest)
    return rows.sort(pl.col("value").abs(), descending=True).head(1)


def _describe(row: dict[str, object], columns: Sequence[str]) -> str:
    series = ", ".join(f"{c}={row[c]}" for c in columns if row.get(c) not in (None, ""))
    value = row["value"]
    head = f"{row['area']} {row['period']} {series}".rstrip()
    if not isinstance(value, int | float):
        return f"{head}: null"
    return f"{head}: {value:.6g} {row['unit']} ({magnitude(float(value))})"


def _compare(
    result: ProbeResult,
    frame: pl.DataFrame,
    reference: pl.DataFrame | None,
    note: str,
    sample_unit: str | None = None,
) -> None:
    """Columns, codes, units, periods and a sample value, found against the bundled snapshot's."""
    checks = result.checks
    dims = [c for c in frame.columns if c not in NOT_CODES]
    if reference is None:
        checks.append(Check("columns", f"no reference ({note})", _listed(frame.columns)))
    else:
        missing = [c for c in reference.columns if c not in frame.columns]
        extra = [c for c in frame.columns if c not in reference.columns]
        found = _listed(frame.columns, 20)
        if missing or extra:
            found += f" (missing {_listed(missing)}; new {_listed(extra)})"
        checks.append(Check("columns", _listed(reference.columns, 20), found, not missing and not extra))
    for column in dims:
        found_codes = _codes(frame, column)
        if reference is None or column not in reference.columns:
            checks.append(Check(f"codes of {column}", "-", _listed(found_codes)))
            continue
        known = set(_codes(reference, column))
        unknown = [code for code in found_codes if code not in known]
        text = _listed(found_codes) + (f" (unknown: {_listed(unknown)})" if unknown else "")
        checks.append(Check(f"codes of {column}", _listed(sorted(known)), text, not unknown))
    units = _codes(frame, "unit")
    if reference is None:
        checks.append(Check("units", "-", _listed(units)))
    else:
        known_units = _codes(reference, "unit")
        checks.append(Check("units", _listed(known_units), _listed(units), set(units) <= set(known_units)))
    periods = sorted(_codes(frame, "period"))
    expected_periods = "-" if reference is None else f"up to {max(_codes(reference, 'period'))} (snapshot)"
    checks.append(
        Check("periods", expected_periods, f"{_listed(periods, 3)}; newest {periods[-1] if periods else '-'}")
    )
    sample = _sample(frame, sample_unit)
    if sample.height:
        row = sample.row(0, named=True)
        expected = "-"
        if reference is not None and set(dims) <= set(reference.columns):
            same = reference.filter(
                pl.all_horizontal([pl.col(c) == row[c] for c in ["area", *dims, "unit"]])
                & pl.col("value").is_not_null()
            ).sort("period")
            if same.height:
                expected = "snapshot " + _describe(same.row(-1, named=True), dims)
        checks.append(Check("sample value", expected, _describe(row, dims)))


def probe_dataset(
    spec: DatasetSpec,
    fetcher: Fetcher,
    *,
    reference: Callable[[DatasetSpec], pl.DataFrame] | None = reference_frame,
) -> ProbeResult:
    """Probe one dataset with its smallest request; never raises for network or data problems."""
    result = ProbeResult(spec.id)
    small = probe_spec(spec)
    connector = connector_for(spec.protocol, read_only=True)
    payloads: list[Payload] = []
    try:
        payloads = connector.fetch(small, fetcher)
    except FetchError as error:
        found = str(error)
        known = hint(spec.protocol, _status(error))
        result.checks.append(Check("HTTP", "HTTP 2xx", found + (f" — hint: {known}" if known else ""), False))
        return result
    except (DataError, ValueError) as error:  # metadata or envelope in another shape, a bad option
        result.checks.append(Check("shape", "the documented metadata / envelope", str(error), False))
        return result
    finally:
        result.exchanges = [
            (p.request.method, display_url(p.request.url, p.request.params), p.status) for p in payloads
        ]
    for method, url, status in result.exchanges:
        result.checks.append(Check("HTTP", f"{method} 2xx", f"{method} {url}: {status}", 200 <= status < 300))
    try:
        frame = connector.parse(small, payloads)
    except (DataError, ValueError) as error:
        result.checks.append(Check("shape", "what the connector reads", str(error), False))
        return result
    note = "no reference"
    expected: pl.DataFrame | None = None
    if reference is not None:
        try:
            expected = reference(spec)
        except (DataError, OSError, ValueError) as error:
            note = f"the bundled snapshot could not be replayed: {error}"
    ranges = spec.plausibility.ranges
    _compare(result, frame, expected, note, ranges[0].unit if ranges else None)
    violations = check_payload(spec, frame, None, jumps=False)
    for violation in violations:
        result.checks.append(Check("plausibility", violation.detail, violation.message(), False))
    if not violations and spec.plausibility.ranges:
        names = ", ".join(rule.name for rule in spec.plausibility.ranges)
        result.checks.append(Check("plausibility", f"within the ranges {names}", "all within"))
    missing = missing_observations(small, frame, payloads)
    if missing.height:
        result.checks.append(
            Check("completeness", "everything the request asked for", summarise(missing), False)
        )
    _identify(result, connector, small, fetcher)
    return result


def _identify(result: ProbeResult, connector: object, spec: DatasetSpec, fetcher: Fetcher) -> None:
    """The source's own name of the dataset against what the catalogue takes it for, where the connector
    can ask (`identify`, e.g. Fingrid's 265 against 266, which no range tells apart)."""
    identify = getattr(connector, "identify", None)
    if identify is None:
        return
    what = "dataset name"
    try:
        identity = identify(spec, fetcher)
    except FetchError as error:
        known = hint(spec.protocol, _status(error))
        found = str(error) + (f" — hint: {known}" if known else "")
        result.checks.append(Check(what, "the source's description of the dataset", found, False))
        return
    except (DataError, ValueError) as error:
        result.checks.append(Check(what, "the source's description of the dataset", str(error), False))
        return
    if identity is None:  # the catalogue names nothing to check
        return
    request = identity.payload.request
    result.exchanges.append(
        (request.method, display_url(request.url, request.params), identity.payload.status)
    )
    result.checks.append(Check(what, identity.expected, identity.found, identity.ok))


def probe(
    dataset_ids: Sequence[str] = (),
    *,
    catalogue: Catalogue | None = None,
    fetcher: Fetcher | None = None,
    reference: Callable[[DatasetSpec], pl.DataFrame] | None = reference_frame,
    on_dataset: Callable[[str], None] | None = None,
) -> list[ProbeResult]:
    """Probe the named datasets (all when none are named) live; the fetcher is closed at the end."""
    catalogue = catalogue or load_catalogue()
    specs = [catalogue.dataset(d) for d in dataset_ids] if dataset_ids else list(catalogue.datasets.values())
    own = fetcher is None
    live: Fetcher = fetcher if fetcher is not None else LiveFetcher(max_attempts=2, backoff_max=10.0)
    try:
        results = []
        for spec in specs:
            if on_dataset is not None:
                on_dataset(spec.id)
            try:
                results.append(probe_dataset(spec, live, reference=reference))
            except Exception as error:  # a connector bug must not hide the other datasets' results
                crashed = ProbeResult(spec.id)
                found = f"unexpected {type(error).__name__}: {error}"
                crashed.checks.append(Check("probe", "a completed probe", found, False))
                results.append(crashed)
        return results
    finally:
        close = getattr(live, "close", None)
        if own and close is not None:
            close()
