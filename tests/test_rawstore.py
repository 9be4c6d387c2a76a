"""The raw store keeps every payload byte-exact: compressed on disk where that saves space, old files read."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ingest.acceptance import payload_record, rebuild_payload
from ingest.manifest import DEFAULT_SNAPSHOT_DIR
from ingest.run import ingest
from storage import schema
from storage.rawstore import RawStore
from tests.conftest import make_payload

FINGRID_PAGE = DEFAULT_SNAPSHOT_DIR / "fingrid_emission_factor" / "page_1.json"


def test_a_compressible_payload_is_stored_compressed_and_read_back_byte_exact(tmp_path: Path) -> None:
    store = RawStore(tmp_path / "raw")
    body = FINGRID_PAGE.read_bytes()
    sha, path = store.put(body)
    assert sha == hashlib.sha256(body).hexdigest()  # the digest of the payload, not of the file
    assert path == f"{sha[:2]}/{sha[2:4]}/{sha}.gz"
    on_disk = (tmp_path / "raw" / path).read_bytes()
    assert len(on_disk) < len(body) / 4
    assert gzip.decompress(on_disk) == body  # an ordinary gzip file: zcat gives the payload
    assert store.get(sha) == body and store.read(path) == body
    assert store.put(body) == (sha, path)  # stored once
    assert [p.name for p in (tmp_path / "raw").rglob("*") if p.is_file()] == [f"{sha}.gz"]


def test_an_incompressible_payload_is_stored_as_it_came(tmp_path: Path) -> None:
    store = RawStore(tmp_path / "raw")
    # random-looking bytes gain nothing, like an XLSX (a zip already)
    body = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(256))
    sha, path = store.put(body)
    assert path == store.relative_path(sha)
    assert (tmp_path / "raw" / path).read_bytes() == body and store.get(sha) == body


def test_a_payload_stored_uncompressed_before_is_read_and_not_stored_again(tmp_path: Path) -> None:
    store = RawStore(tmp_path / "raw")
    body = FINGRID_PAGE.read_bytes()
    sha = hashlib.sha256(body).hexdigest()
    old = tmp_path / "raw" / store.relative_path(sha)  # as every payload was stored until now
    old.parent.mkdir(parents=True)
    old.write_bytes(body)
    assert store.get(sha) == body
    assert store.put(body) == (sha, store.relative_path(sha))  # the old file is the payload's file
    assert [p.name for p in (tmp_path / "raw").rglob("*") if p.is_file()] == [sha]


def test_a_corrupted_compressed_payload_is_never_served(tmp_path: Path) -> None:
    store = RawStore(tmp_path / "raw")
    body = FINGRID_PAGE.read_bytes()
    sha, path = store.put(body)
    file = tmp_path / "raw" / path
    file.write_bytes(gzip.compress(body.replace(b"2026", b"2027", 1), mtime=0))  # valid gzip, other bytes
    with pytest.raises(OSError, match="sha256 mismatch"):
        store.get(sha)
    file.write_bytes(file.read_bytes()[:-100])  # cut short
    with pytest.raises(OSError, match="corrupted"):
        store.get(sha)
    with pytest.raises(FileNotFoundError):
        store.get("0" * 64)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"garbage",  # overwritten
        lambda data: data[:-100],  # cut short
        lambda data: data[:50] + bytes([data[50] ^ 1]) + data[51:],  # one bit flipped, same size
    ],
    ids=["overwritten", "truncated", "bit-flip"],
)
@pytest.mark.parametrize("payload", ["compressed", "plain"])
def test_a_corrupted_payload_is_written_again_when_it_is_put_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Callable[[bytes], bytes], payload: str
) -> None:
    store = RawStore(tmp_path / "raw")
    body = FINGRID_PAGE.read_bytes() if payload == "compressed" else os.urandom(4096)
    sha, path = store.put(body)
    assert path.endswith(".gz") == (payload == "compressed")
    file = tmp_path / "raw" / path
    file.write_bytes(damage(file.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="storage.rawstore"):
        assert store.put(body) == (sha, path)  # the same path: the payload rows name it
    assert store.get(sha) == body
    (warning,) = [r.getMessage() for r in caplog.records]
    assert str(file) in warning and "corrupted" in warning
    assert list(file.parent.glob(".tmp-*")) == []
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="storage.rawstore"):
        assert store.put(body) == (sha, path)  # intact: left as it is
    assert caplog.records == []


def test_an_ingested_payload_keeps_its_digest_size_and_bytes(engine: Engine, tmp_path: Path) -> None:
    raw = RawStore(tmp_path / "raw")
    (outcome,) = ingest(engine, raw, ["fingrid_emission_factor"], offline=True)
    assert outcome.outcome == "success"
    with engine.connect() as conn:
        rows = conn.execute(select(schema.payload)).mappings().all()
    assert len(rows) == 1
    (row,) = rows
    body = FINGRID_PAGE.read_bytes()  # the bundled snapshot's file is the payload replayed
    assert (row["sha256"], row["size"]) == (hashlib.sha256(body).hexdigest(), len(body))
    assert row["storage_path"].endswith(".gz")
    assert (tmp_path / "raw" / row["storage_path"]).stat().st_size < len(body) / 4
    assert raw.get(row["sha256"]) == body
    # what `kestava accept` loads a rejected payload from: the record, its bytes from the store
    record = payload_record(make_payload(body), row["storage_path"])
    assert rebuild_payload(record, raw).body == body


def test_an_unchanged_ingest_repairs_the_damaged_raw_file_of_its_payload(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = RawStore(tmp_path / "raw")
    (first,) = ingest(engine, raw, ["fingrid_emission_factor"], offline=True)
    assert first.outcome == "success"
    with engine.connect() as conn:
        (row,) = conn.execute(select(schema.payload)).mappings().all()
    file = tmp_path / "raw" / row["storage_path"]
    intact = file.read_bytes()
    damages: list[Callable[[Path], object]] = [
        lambda f: f.write_bytes(gzip.compress(FINGRID_PAGE.read_bytes()[:-10], mtime=0)),  # other bytes
        lambda f: f.write_bytes(f.read_bytes()[:-100]),  # cut short
        lambda f: f.unlink(),  # gone
    ]
    for damage in damages:  # the first ingest after loading, then those knowing the digest already
        damage(file)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ingest.run"):
            (again,) = ingest(engine, raw, ["fingrid_emission_factor"], offline=True)
        assert again.outcome == "unchanged" and again.result is None  # still counts as unchanged
        assert file.read_bytes() == intact
        assert raw.get(row["sha256"]) == FINGRID_PAGE.read_bytes()
        (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert "fingrid_emission_factor" in warning and str(file) in warning and "written again" in warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ingest.run"):
        (quiet,) = ingest(engine, raw, ["fingrid_emission_factor"], offline=True)
    assert quiet.outcome == "unchanged" and caplog.records == []  # an intact file is left as it is
    with engine.connect() as conn:
        assert conn.execute(select(schema.snapshot.c.id)).scalars().all() == [row["snapshot_id"]]
