"""Plausibility at load time: reject and keep an implausible payload, and load it once a person accepts it.

`check_before_load` is the ingest hook (one call before `load_snapshot`): it runs the catalogue's checks
against the dataset's current values and, on any failure, keeps the payload (bytes in the raw store, its
provenance in `rejected_payload`) and raises PlausibilityError. `keep_refused` keeps a payload refused
before that step the same way (the parser or the shape checks: kind `parse`; an HTML page where data was
asked for, which the fetcher refuses: kind `html`; the completeness check: kind `completeness`, or
`withdrawal` when it lacks only what the previous vintage had, which can be accepted).
`accept` is `kestava accept`: it records who accepted which rejected payload and why, then loads it at
once under the dataset's job lock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select

from common.errors import DataError
from common.payload import Payload, RequestSpec
from ingest.catalogue import Catalogue, DatasetSpec
from ingest.completeness import REASONS, IncompleteError, check_complete, coverage, last_reader_version
from ingest.connector import parse_flagged
from ingest.errors import HtmlPageError
from ingest.loading import load_parsed
from ingest.plausibility import ACCEPTABLE_KINDS, PlausibilityError, Violation, check_payload
from ingest.registry import connector_for
from storage import schema
from storage.jobs import finish_run, start_run
from storage.load import LoadResult, combined_sha256, utc_naive
from storage.locks import HeldLock, job_lock
from storage.rawstore import RawStore
from storage.rejections import (
    Rejection,
    find_rejection,
    is_accepted,
    record_acceptance,
    record_loaded,
    record_rejection,
)

log = logging.getLogger(__name__)

_KEPT_HEADERS = ("content-type", "etag", "last-modified")
# violations kept with a rejected payload (a ×1000 slip in Syke's 750 000 rows fails 250 000 times; the
# message states the total, and the first ones show what went wrong)
STORED_VIOLATIONS = 100
# the largest refused HTML page kept (a login wall or a "not found" page is some kB; the fetcher reads up to
# its own cap, 200 MB, before it can tell a page from data): a bigger one is refused and not kept
KEPT_PAGE_BYTES = 5_000_000


class AcceptError(Exception):
    """A rejected payload that cannot be accepted (not a jump or withdrawal, e.g. one the parser refused;
    superseded; already loaded)."""


@dataclass(frozen=True)
class Accepted:
    """What `kestava accept` did."""

    rejection: Rejection
    result: LoadResult
    seconds: float


def previous_values(engine: Engine, dataset_id: str) -> pl.DataFrame | None:
    """The dataset's current stored observations, shaped like a connector's output (None if none).

    Reads (series, period, value) and the series keys apart, and decodes each key once: a dataset of
    750 000 observations (Syke, every municipality) takes seconds, not the read API's row-wise decode."""
    obs, series = schema.observation, schema.series
    mine = series.c.dataset_id == dataset_id
    with engine.connect() as conn:
        keys = pl.read_database(
            select(series.c.id.label("series_id"), series.c.key).where(mine),
            conn,
            schema_overrides={"series_id": pl.Int64, "key": pl.String},
        )
        values = pl.read_database(
            select(obs.c.series_id, obs.c.period, obs.c.value)
            .join(series, series.c.id == obs.c.series_id)
            .where(mine, obs.c.valid_to.is_(None)),
            conn,
            schema_overrides={"series_id": pl.Int64, "period": pl.String, "value": pl.Float64},
        )
    if values.height == 0 or keys.height == 0:
        return None
    dimensions = keys["key"].str.json_decode(infer_schema_length=None).struct.unnest()
    named = pl.concat([keys.select("series_id"), dimensions], how="horizontal")
    return values.join(named, on="series_id", how="inner").drop("series_id")


def check_before_load(
    engine: Engine,
    spec: DatasetSpec,
    frame: pl.DataFrame,
    payloads: Sequence[Payload],
    raw_store: RawStore,
    reader_version: str,
) -> None:
    """Raise PlausibilityError if the parsed payload fails the dataset's declared checks.

    A payload set a person accepted is checked against the ranges only; one read by another reader version
    than the newest snapshot is checked for jumps of sums only and not for withdrawals (its series may be
    named otherwise). Every dataset is checked for withdrawn values (ingest.completeness.withdrawn_values)
    unless it opts out. A rejected payload set is kept: its bytes in the raw store, its provenance and
    violations in `rejected_payload`, named by its digest (the error message says how to accept it when
    only jumps and withdrawals failed)."""
    declared = spec.plausibility
    withdrawals = declared.withdrawals.reject
    if not declared.ranges and not declared.jumps and not withdrawals:
        return
    digest = combined_sha256(payloads)
    accepted = is_accepted(engine, spec.id, digest)
    wanted = (declared.jumps or withdrawals) and not accepted
    previous = previous_values(engine, spec.id) if wanted else None
    same_reader = last_reader_version(engine, spec.id) in (None, reader_version)
    violations = check_payload(
        spec,
        frame,
        previous,
        jumps=not accepted,
        series_jumps=same_reader,
        withdrawals=withdrawals and same_reader and not accepted,
        covered=coverage(spec, payloads, frame),
    )
    if not violations:
        return
    keep_rejected(engine, spec, payloads, raw_store, reader_version, violations)
    if all(v.acceptable for v in violations):
        note = (
            f". The payload is kept as rejected snapshot {digest[:12]}; if the change is real (the publisher "
            "revised or withdrew the values), accept it: "
            f"kestava accept {spec.id} {digest[:12]} --why '…'"
        )
    else:
        note = (
            f". The payload is kept as rejected snapshot {digest[:12]}; a range or unit failure cannot be "
            "accepted: fix the source's reading, or the catalogue's declaration if the range is wrong"
        )
    raise PlausibilityError(spec.id, violations, note)


def keep_rejected(
    engine: Engine,
    spec: DatasetSpec,
    payloads: Sequence[Payload],
    raw_store: RawStore,
    reader_version: str,
    violations: Sequence[Violation],
    messages: Sequence[str] | None = None,
) -> str:
    """Keep a rejected payload set: its bytes in the raw store, its provenance and (the first
    STORED_VIOLATIONS) violations in `rejected_payload` (with `messages`, each violation's message is the
    one given); its digest (the rejected snapshot's name). RawStoreError when the bytes cannot be written
    (nothing is recorded then)."""
    digest = combined_sha256(payloads)
    stored = [path for _sha, path in raw_store.put_all([p.body for p in payloads])]
    record_rejection(
        engine,
        spec.id,
        digest,
        reader_version=reader_version,
        options=dict(spec.options),
        payloads=[payload_record(p, path) for p, path in zip(payloads, stored, strict=True)],
        violations=[
            {**v.as_dict(), **({"message": messages[i]} if messages is not None else {})}
            for i, v in enumerate(violations[:STORED_VIOLATIONS])
        ],
        acceptable=all(v.acceptable for v in violations),
    )
    return digest


def withdrawn_only(error: DataError) -> bool:
    """Whether a completeness rejection names only observations the previous vintage had (values the
    publisher withdrew, which a person may accept as a plausibility withdrawal is)."""
    return isinstance(error, IncompleteError) and bool(
        error.missing.height and (error.missing["reason"] == "previous").all()
    )


def rejection_violations(spec: DatasetSpec, error: DataError) -> list[tuple[Violation, str]]:
    """A rejection before the plausibility step, as violations (with their messages) to keep with the
    payload: a completeness rejection of only what the previous vintage had as withdrawals (acceptable),
    any other completeness gap as kind `completeness`, an HTML page as one of kind `html`, anything else
    (the parser, the shape checks) as one of kind `parse` (none of these acceptable: the payload cannot be
    loaded as it is)."""
    if not isinstance(error, IncompleteError):
        kind = "html" if isinstance(error, HtmlPageError) else "parse"
        return [(Violation(spec.id, kind, kind, {}, "", None, "", str(error)), str(error))]
    withdrawal = withdrawn_only(error)
    found = []
    for row in error.missing.iter_rows(named=True):
        series = {str(k): str(v) for k, v in row.items() if k not in ("reason", "period") and v is not None}
        reason = REASONS.get(str(row["reason"]), str(row["reason"]))
        period = "" if row["period"] is None else str(row["period"])
        violation = Violation(
            spec.id,
            f"complete.{row['reason']}",
            "withdrawal" if withdrawal else "completeness",
            series,
            period,
            None,
            "",
            f"(the new payload lacks what {reason})",
        )
        named = ", ".join(f"{key}={value!r}" for key, value in series.items())
        when = f", period {period}" if period else ""
        found.append((violation, f"{spec.id}: series {named}{when}: missing {violation.detail}"))
    return found


def refused_page(error: DataError) -> list[Payload]:
    """The HTML page the fetcher refused, as the payload set to keep (ingest.errors.HtmlPageError's
    payload); none for any other error."""
    page = error.payload if isinstance(error, HtmlPageError) else None
    return [] if page is None else [page]


def keep_refused(
    engine: Engine,
    spec: DatasetSpec,
    payloads: Sequence[Payload],
    raw_store: RawStore,
    reader_version: str,
    error: DataError,
) -> tuple[str | None, str]:
    """Keep a payload set refused before the plausibility step (by the fetcher as an HTML page, the parser,
    the shape checks or the completeness check) as a rejected snapshot (keep_rejected): its digest (None
    for the fetcher's page over KEPT_PAGE_BYTES, not kept) and the note the run's error ends with: its
    name, and how to accept it (withdrawals only) or why it cannot be."""
    page = error.payload if isinstance(error, HtmlPageError) else None
    if page is not None and page.size > KEPT_PAGE_BYTES:
        kept_up_to = f"a refused page is kept up to {KEPT_PAGE_BYTES} bytes"
        return None, f". The page ({page.size} bytes) is not kept: {kept_up_to}"
    found = rejection_violations(spec, error)
    digest = keep_rejected(
        engine,
        spec,
        payloads,
        raw_store,
        reader_version,
        [violation for violation, _ in found],
        [message for _, message in found],
    )
    if withdrawn_only(error):
        return digest, (
            f". The payload is kept as rejected snapshot {digest[:12]}; if the publisher withdrew these "
            f"values, accept it: kestava accept {spec.id} {digest[:12]} --why '…'"
        )
    listed = (
        f". The payload is kept as rejected snapshot {digest[:12]} (`kestava accept {spec.id}` lists it); "
    )
    if isinstance(error, HtmlPageError):
        return digest, listed + (
            "it is an HTML page, not the data, and cannot be accepted: check the catalogue's URL (moved?) "
            "and the access (a login wall?)"
        )
    what = "is incomplete" if isinstance(error, IncompleteError) else "cannot be read"
    return digest, listed + (
        f"it {what} and cannot be accepted: fix the source's reading or the catalogue's declaration"
    )


def check_complete_unless_accepted(
    engine: Engine,
    spec: DatasetSpec,
    payloads: Sequence[Payload],
    frame: pl.DataFrame,
    reader_version: str,
) -> None:
    """ingest.completeness.check_complete, except that a withdrawal (only what the previous vintage had)
    of a payload set a person accepted passes: the load then closes what the payload covers."""
    try:
        check_complete(engine, spec, payloads, frame, reader_version=reader_version)
    except IncompleteError as error:
        if not (withdrawn_only(error) and is_accepted(engine, spec.id, combined_sha256(payloads))):
            raise


def accept(
    engine: Engine,
    catalogue: Catalogue,
    dataset_id: str,
    reference: str,
    *,
    by: str,
    why: str,
    raw_store: RawStore,
) -> Accepted:
    """Accept a payload rejected for jumps or withdrawals: record who, why and when, then load it now
    (job `ingest:<id>`, trigger `accept`). Raises AcceptError, RejectionLookupError, BusyError (nothing
    loaded; the acceptance stands, so the next ingest of the same payload loads it) or DataError."""
    if not why.strip():
        raise AcceptError(f"{dataset_id}: --why: expected the reason the change is real, got nothing")
    if not by.strip():
        raise AcceptError(f"{dataset_id}: --by: expected who accepts, got nothing")
    spec = catalogue.dataset(dataset_id)
    rejection = find_rejection(engine, dataset_id, reference)
    if not rejection.acceptable:
        failed = sorted({str(v["kind"]) for v in rejection.violations} - set(ACCEPTABLE_KINDS))
        if "html" in failed:
            raise AcceptError(
                f"{dataset_id}: snapshot {rejection.short} cannot be accepted: the fetcher refused it as an "
                f"HTML page, not the data ({rejection.violations[0]['message']}); it is kept only to be "
                "inspected: check the catalogue's URL and the access, or wait for the data"
            )
        if "parse" in failed:
            raise AcceptError(
                f"{dataset_id}: snapshot {rejection.short} cannot be accepted: the parser refused it, so it "
                f"cannot be loaded ({rejection.violations[0]['message']}); it is kept only to be inspected: "
                "fix the source's reading, or wait for a payload that can be read"
            )
        raise AcceptError(
            f"{dataset_id}: snapshot {rejection.short} failed {', '.join(failed)} rules, which cannot be "
            "accepted (only jumps and withdrawals can); fix the source's reading or the catalogue's "
            "declaration"
        )
    if rejection.snapshot_id is not None:
        raise AcceptError(
            f"{dataset_id}: snapshot {rejection.short} was already accepted by {rejection.accepted_by} "
            f"and loaded as snapshot {rejection.snapshot_id}"
        )
    _refuse_if_superseded(engine, rejection)
    started = time.monotonic()
    job = f"ingest:{dataset_id}"
    if rejection.accepted_at is None:
        record_acceptance(engine, rejection.id, by=by.strip(), why=why.strip())
    with job_lock(engine, job) as lock:
        run_id = start_run(engine, job, dataset_id=dataset_id, trigger="accept")
        try:
            result = _load_accepted(engine, catalogue, spec, rejection, raw_store, lock)
        except Exception as error:
            finish_run(engine, run_id, "failed", error=f"{dataset_id}: accept: {error}")
            raise
        finish_run(
            engine,
            run_id,
            "success",
            **result.run_counts(),
            snapshot_id=result.snapshot_id,
        )
        record_loaded(engine, rejection.id, result.snapshot_id)
    log.info("%s: accepted snapshot %s by %s: %s", dataset_id, rejection.short, by, result.summary())
    return Accepted(find_rejection(engine, dataset_id, rejection.sha256), result, time.monotonic() - started)


def _load_accepted(
    engine: Engine,
    catalogue: Catalogue,
    spec: DatasetSpec,
    rejection: Rejection,
    raw_store: RawStore,
    lock: HeldLock,
) -> LoadResult:
    _refuse_if_superseded(engine, rejection)  # again under the lock: a load may have come in between
    payloads = [rebuild_payload(record, raw_store) for record in rejection.payloads]
    # read exactly as when it was rejected (the snapshot's option overrides), with the current reader
    read_spec = spec.model_copy(update={"options": rejection.options, "secret_env": None})
    connector = connector_for(spec.protocol)
    frame = parse_flagged(connector, read_spec, payloads)
    check_before_load(engine, spec, frame, payloads, raw_store, connector.reader_version)  # ranges only now
    return load_parsed(
        engine,
        catalogue,
        read_spec,
        payloads,
        frame,
        reader_version=connector.reader_version,
        raw_store=raw_store,
        lock=lock,
    )


def _refuse_if_superseded(engine: Engine, rejection: Rejection) -> None:
    """An AcceptError if a snapshot fetched after the rejected payload was loaded since."""
    fetched = max(utc_naive(datetime.fromisoformat(str(p["fetched_at"]))) for p in rejection.payloads)
    newer = _newest_fetch(engine, rejection.dataset_id)
    if newer is not None and newer > fetched:
        raise AcceptError(
            f"{rejection.dataset_id}: snapshot {rejection.short} was fetched at {fetched:%Y-%m-%d %H:%M} "
            f"UTC, before the newest loaded snapshot ({newer:%Y-%m-%d %H:%M} UTC); loading it would put "
            "older data back"
        )


def _newest_fetch(engine: Engine, dataset_id: str) -> datetime | None:
    with engine.connect() as conn:
        newest = conn.execute(
            select(func.max(schema.snapshot.c.fetched_at)).where(schema.snapshot.c.dataset_id == dataset_id)
        ).scalar_one_or_none()
    return newest if isinstance(newest, datetime) else None


def payload_record(payload: Payload, storage_path: str) -> dict[str, Any]:
    """What is needed to rebuild a payload from the raw store: request, answer and provenance."""
    return {
        "method": payload.request.method,
        "url": payload.request.url,
        "params": [list(pair) for pair in payload.request.params],
        "json_body": payload.request.json_body,
        "status": payload.status,
        "headers": {name: value for name in _KEPT_HEADERS if (value := payload.header(name)) is not None},
        "fetched_at": payload.fetched_at.isoformat(),
        "final_url": payload.final_url,
        "not_modified": payload.not_modified,
        "is_demo": payload.is_demo,
        "sha256": payload.sha256,
        "storage_path": storage_path,
    }


def rebuild_payload(record: dict[str, Any], raw_store: RawStore) -> Payload:
    """The payload a record describes, its bytes read (and verified) from the raw store."""
    request = RequestSpec(
        method=str(record["method"]),
        url=str(record["url"]),
        params=tuple((str(k), str(v)) for k, v in record["params"]),
        json_body=record["json_body"],
    )
    return Payload(
        request=request,
        status=int(record["status"]),
        headers=dict(record["headers"]),
        body=raw_store.get(str(record["sha256"])),
        fetched_at=datetime.fromisoformat(str(record["fetched_at"])),
        final_url=str(record["final_url"]),
        not_modified=bool(record["not_modified"]),
        is_demo=bool(record["is_demo"]),
    )
