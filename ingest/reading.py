"""Whether a dataset's new answers hold its newest snapshot's reading again: told before they are parsed."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, func, select

from common.payload import Payload
from ingest.connector import Connector
from storage import schema
from storage.rawstore import RawStore, RawStoreError


def same_reading(
    engine: Engine, connector: Connector, dataset_id: str, payloads: Sequence[Payload], raw_store: RawStore
) -> bool:
    """Whether payloads hold the dataset's newest snapshot's reading again: the same requests in the same
    order, each body the stored one or of the same reading digest (Connector.reading_digest: the body but
    for what changes on every answer, as the OECD's message header). False when anything else differs, the
    connector's answers have no such part (no database or raw file is read then), or a stored body cannot
    be read (a new snapshot then stores it again)."""
    digests = [connector.reading_digest(payload.body) for payload in payloads]
    if not payloads or all(digest is None for digest in digests):
        return False
    snapshot, stored = schema.snapshot, schema.payload
    newest = select(func.max(snapshot.c.id)).where(snapshot.c.dataset_id == dataset_id).scalar_subquery()
    with engine.connect() as conn:
        rows = conn.execute(
            select(stored.c.request_key, stored.c.sha256)
            .where(stored.c.snapshot_id == newest)
            .order_by(stored.c.seq)
        ).all()
    if len(rows) != len(payloads):
        return False
    for row, payload, digest in zip(rows, payloads, digests, strict=True):
        if row.request_key != payload.request.key:
            return False
        if row.sha256 == payload.sha256:
            continue
        if digest is None:
            return False
        try:
            before = raw_store.get(row.sha256)
        except (OSError, RawStoreError):
            return False
        if connector.reading_digest(before) != digest:
            return False
    return True
