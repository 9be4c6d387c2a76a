"""Conditional-request validators (ETag, Last-Modified) and cached bodies from stored payloads."""

from __future__ import annotations

from sqlalchemy import Engine, select

from storage import schema
from storage.rawstore import RawStore


class DbValidatorCache:
    """Implements common.payload.ValidatorCache from the payload table and the raw store."""

    def __init__(self, engine: Engine, raw_store: RawStore) -> None:
        self.engine = engine
        self.raw_store = raw_store

    def validators(self, request_key: str) -> tuple[str | None, str | None, str] | None:
        pay = schema.payload
        with self.engine.connect() as conn:
            row = conn.execute(
                select(pay.c.etag, pay.c.last_modified, pay.c.sha256)
                .where(pay.c.request_key == request_key, pay.c.http_status == 200)
                .order_by(pay.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return row.etag, row.last_modified, row.sha256

    def body(self, sha256: str) -> bytes:
        return self.raw_store.get(sha256)
