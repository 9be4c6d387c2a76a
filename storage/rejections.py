"""Records payloads the plausibility checks rejected, and a person's acceptance of one (who, why, when)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update

from storage import schema
from storage.jobs import now_utc

# the shortest digest prefix `kestava accept` takes (as git takes abbreviated commit ids)
MIN_PREFIX = 8


class RejectionLookupError(LookupError):
    """No rejected payload, or more than one, matches what a person named."""


@dataclass(frozen=True)
class Rejection:
    """A rejected payload set: what it was, why it failed, and whether (and by whom) it was accepted."""

    id: int
    dataset_id: str
    sha256: str  # over the payloads' sha256s, in request order: the snapshot it would become
    first_rejected_at: datetime
    last_rejected_at: datetime
    times: int
    reader_version: str
    options: dict[str, Any]
    payloads: list[dict[str, Any]]
    violations: list[dict[str, Any]]
    acceptable: bool
    accepted_by: str | None
    accepted_why: str | None
    accepted_at: datetime | None
    snapshot_id: int | None

    @property
    def short(self) -> str:
        """The digest as printed in messages (enough to name it in `kestava accept`)."""
        return self.sha256[:12]


def record_rejection(
    engine: Engine,
    dataset_id: str,
    sha256: str,
    *,
    reader_version: str,
    options: dict[str, Any],
    payloads: list[dict[str, Any]],
    violations: list[dict[str, Any]],
    acceptable: bool,
    at: datetime | None = None,
) -> int:
    """Record (or, for a payload rejected before, update) a rejection; returns its id."""
    moment = at or now_utc()
    values = {
        "last_rejected_at": moment,
        "reader_version": reader_version,
        "options": json.dumps(options, ensure_ascii=False, sort_keys=True, default=str),
        "payloads": json.dumps(payloads, ensure_ascii=False),
        "violations": json.dumps(violations, ensure_ascii=False, default=str),
        "acceptable": acceptable,
    }
    table = schema.rejected_payload
    with engine.begin() as conn:
        existing = conn.execute(
            select(table.c.id, table.c.times).where(
                table.c.dataset_id == dataset_id, table.c.sha256 == sha256
            )
        ).first()
        if existing is not None:
            conn.execute(
                update(table).where(table.c.id == existing.id).values(times=existing.times + 1, **values)
            )
            return int(existing.id)
        key = conn.execute(
            insert(table).values(
                dataset_id=dataset_id, sha256=sha256, first_rejected_at=moment, times=1, **values
            )
        ).inserted_primary_key
        assert key is not None
        return int(key[0])


def rejections(engine: Engine, dataset_id: str | None = None) -> list[Rejection]:
    """Every recorded rejection (of one dataset), newest first."""
    table = schema.rejected_payload
    query = select(table).order_by(table.c.last_rejected_at.desc(), table.c.id.desc())
    if dataset_id is not None:
        query = query.where(table.c.dataset_id == dataset_id)
    with engine.connect() as conn:
        return [_rejection(row) for row in conn.execute(query)]


def find_rejection(engine: Engine, dataset_id: str, reference: str) -> Rejection:
    """The dataset's rejection whose digest starts with `reference` (at least MIN_PREFIX hex digits)."""
    wanted = reference.strip().lower()
    if len(wanted) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in wanted):
        raise RejectionLookupError(
            f"{dataset_id}: SNAPSHOT: expected the rejected payload's sha256 (at least {MIN_PREFIX} hex "
            f"digits, as printed in the rejection message), got {reference!r}"
        )
    found = [r for r in rejections(engine, dataset_id) if r.sha256.startswith(wanted)]
    if not found:
        known = ", ".join(r.short for r in rejections(engine, dataset_id)) or "none"
        raise RejectionLookupError(
            f"{dataset_id}: no rejected payload with sha256 {wanted}…; the dataset's rejected ones: {known}"
        )
    if len(found) > 1:
        raise RejectionLookupError(
            f"{dataset_id}: {wanted} names {len(found)} rejected payloads "
            f"({', '.join(r.short for r in found)}); give more digits"
        )
    return found[0]


def is_accepted(engine: Engine, dataset_id: str, sha256: str) -> bool:
    """Whether a person accepted this payload set of this dataset (its jumps are then not checked)."""
    table = schema.rejected_payload
    with engine.connect() as conn:
        row = conn.execute(
            select(table.c.accepted_at).where(table.c.dataset_id == dataset_id, table.c.sha256 == sha256)
        ).first()
    return row is not None and row.accepted_at is not None


def record_acceptance(
    engine: Engine, rejection_id: int, *, by: str, why: str, at: datetime | None = None
) -> None:
    """Record that a person accepted a rejected payload: who, why and when (naive UTC)."""
    table = schema.rejected_payload
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.id == rejection_id)
            .values(accepted_by=by, accepted_why=why, accepted_at=at or now_utc())
        )


def record_loaded(engine: Engine, rejection_id: int, snapshot_id: int) -> None:
    """Record the snapshot an accepted payload was loaded as."""
    table = schema.rejected_payload
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == rejection_id).values(snapshot_id=snapshot_id))


def _rejection(row: Row[Any]) -> Rejection:
    return Rejection(
        id=int(row.id),
        dataset_id=str(row.dataset_id),
        sha256=str(row.sha256),
        first_rejected_at=row.first_rejected_at,
        last_rejected_at=row.last_rejected_at,
        times=int(row.times),
        reader_version=str(row.reader_version),
        options=json.loads(row.options),
        payloads=json.loads(row.payloads),
        violations=json.loads(row.violations),
        acceptable=bool(row.acceptable),
        accepted_by=row.accepted_by,
        accepted_why=row.accepted_why,
        accepted_at=row.accepted_at,
        snapshot_id=None if row.snapshot_id is None else int(row.snapshot_id),
    )
