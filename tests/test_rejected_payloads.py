"""Every payload an ingest refuses is kept byte for byte as a rejected snapshot, and `kestava accept` lists
it: a parse or completeness refusal as much as a plausibility one (the parse kind cannot be accepted); an
unwritable raw store is a storage failure, one line, exit 2."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import polars as pl
import pytest
from sqlalchemy import Engine

from ingest.acceptance import AcceptError, accept
from ingest.catalogue import load_catalogue
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, read_manifest
from ingest.run import DatasetOutcome, ingest
from storage.rawstore import RawStore, RawStoreError
from storage.read import job_runs, observations
from storage.rejections import rejections

DATASET = "eurostat_sdg_13_10"
PAYLOAD = Path("eurostat") / "sdg_13_10.json"
KESTAVA = Path(sys.executable).with_name("kestava")


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A private copy of the bundled snapshot (real payloads) that a test edits into the next release."""
    folder = tmp_path / "release"
    shutil.copytree(DEFAULT_SNAPSHOT_DIR, folder)
    return folder


def _ingest(
    engine: Engine,
    raw_store: RawStore,
    folder: Path,
    dataset: str = DATASET,
    trigger: str = "cli",
    raise_storage_failure: bool = False,
) -> DatasetOutcome:
    """One offline ingest of one dataset from the snapshot folder."""
    (outcome,) = ingest(
        engine,
        raw_store,
        [dataset],
        offline=True,
        snapshot_dir=folder,
        trigger=trigger,
        raise_storage_failure=raise_storage_failure,
    )
    return outcome


def _truncated(body: bytes) -> bytes:
    """The body cut off half way (a connection that closed early)."""
    return body[: len(body) // 2]


def _renamed_value(body: bytes) -> bytes:
    """The JSON-stat answer with its `value` map renamed (a publisher's renamed field)."""
    doc = orjson.loads(body)
    doc["values"] = doc.pop("value")
    return orjson.dumps(doc)


def _duplicate_key(body: bytes) -> bytes:
    """The JSON object with its `value` key given twice (the second one empty)."""
    assert body.rstrip().endswith(b"}")
    return body.rstrip()[:-1] + b',"value":{}}'


@pytest.mark.parametrize(
    "edit", [_truncated, _renamed_value, _duplicate_key], ids=["truncated", "renamed", "duplicate-key"]
)
def test_a_payload_the_parser_refuses_is_kept_as_a_rejected_snapshot_that_cannot_be_accepted(
    engine: Engine, raw_store: RawStore, release: Path, edit: Callable[[bytes], bytes]
) -> None:
    assert _ingest(engine, raw_store, DEFAULT_SNAPSHOT_DIR).outcome == "success"
    good = observations(engine, DATASET, expand=False)
    path = release / PAYLOAD
    path.write_bytes(edit(path.read_bytes()))
    sent = path.read_bytes()

    outcome = _ingest(engine, raw_store, release)

    assert outcome.outcome == "rejected", outcome
    (kept,) = rejections(engine, DATASET)
    error = outcome.error or ""
    assert f"kept as rejected snapshot {kept.short}" in error and "cannot be accepted" in error
    assert not kept.acceptable and [v["kind"] for v in kept.violations] == ["parse"]
    assert str(kept.violations[0]["message"]).startswith(f"{DATASET}: ")
    # exactly what arrived, byte for byte, is in the raw store, named by the rejection's payload record
    (record,) = kept.payloads
    assert record["sha256"] == hashlib.sha256(sent).hexdigest()
    assert raw_store.get(str(record["sha256"])) == sent
    assert (raw_store.root / str(record["storage_path"])).is_file()
    # nothing loaded, the last good data current, the run recorded rejected with the note
    assert observations(engine, DATASET, expand=False).equals(good)
    runs = job_runs(engine, f"ingest:{DATASET}")
    assert (runs["outcome"][0], runs["error"][0]) == ("rejected", error)

    with pytest.raises(AcceptError, match="the parser refused it, so it cannot be loaded"):
        accept(engine, load_catalogue(), DATASET, kept.short, by="Ops", why="looks fine", raw_store=raw_store)
    assert rejections(engine, DATASET)[0].accepted_at is None  # a refused acceptance is not recorded
    assert observations(engine, DATASET, expand=False).equals(good)


def test_an_area_missing_from_the_request_is_kept_as_an_incomplete_snapshot_that_cannot_be_accepted(
    engine: Engine, raw_store: RawStore, release: Path
) -> None:
    assert _ingest(engine, raw_store, DEFAULT_SNAPSHOT_DIR).outcome == "success"
    good = observations(engine, DATASET, expand=False)
    path = release / PAYLOAD
    doc = orjson.loads(path.read_bytes())
    for part in ("value", "status"):  # every value of FI, an area the request names, left out
        doc[part] = {k: v for k, v in doc.get(part, {}).items() if not _is_fi(doc, k)}
    path.write_bytes(orjson.dumps(doc))

    outcome = _ingest(engine, raw_store, release)

    assert outcome.outcome == "rejected", outcome
    error = outcome.error or ""
    assert "completeness" in error and "the request asked for" in error
    (kept,) = rejections(engine, DATASET)
    assert f"kept as rejected snapshot {kept.short}" in error and "is incomplete" in error
    assert not kept.acceptable and "completeness" in {v["kind"] for v in kept.violations}
    assert raw_store.get(kept.payloads[0]["sha256"]) == path.read_bytes()
    assert observations(engine, DATASET, expand=False).equals(good)
    with pytest.raises(AcceptError, match="failed completeness"):
        accept(engine, load_catalogue(), DATASET, kept.short, by="Ops", why="fine", raw_store=raw_store)


def _is_fi(doc: dict[str, object], key: str) -> bool:
    """Whether the JSON-stat value key lies in geo FI."""
    ids, sizes, dimension = doc["id"], doc["size"], doc["dimension"]
    assert isinstance(ids, list) and isinstance(sizes, list) and isinstance(dimension, dict)
    flat, where = int(key), {}
    for dim, size in zip(reversed(ids), reversed(sizes), strict=True):
        where[dim] = flat % size
        flat //= size
    return bool(where["geo"] == dimension["geo"]["category"]["index"]["FI"])


# ------------------------------------------------------------------------------------ an unwritable store


def test_an_unwritable_raw_store_fails_the_run_as_a_storage_failure_in_one_line(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "raw"
    blocked.write_text("not a folder")  # the raw store's root is a file
    store = RawStore(blocked)

    with caplog.at_level(logging.INFO, logger="ingest.run"):
        outcome = _ingest(engine, store, DEFAULT_SNAPSHOT_DIR, trigger="schedule")

    assert outcome.outcome == "failed" and isinstance(outcome.storage_error, RawStoreError)
    error = outcome.error or ""
    assert error.startswith(f"{DATASET}: storage failure: raw store: cannot write {blocked}/")
    assert "Not a directory" in error and "KESTAVA_DATA_DIR" in error and "unexpected" not in error
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [error]
    assert all(r.exc_info is None for r in errors)  # no traceback (only at debug level: --verbose)
    runs = job_runs(engine, f"ingest:{DATASET}")
    assert (runs["outcome"][0], runs["error"][0]) == ("failed", error)
    assert observations(engine, DATASET).height == 0

    # on the command line the failure is raised once the runs are recorded (the CLI's exit 2)
    with pytest.raises(RawStoreError, match="cannot write"):
        _ingest(engine, store, DEFAULT_SNAPSHOT_DIR, trigger="cli", raise_storage_failure=True)
    assert job_runs(engine, f"ingest:{DATASET}")["outcome"].to_list() == ["failed", "failed"]


def test_kestava_ingest_exits_2_with_one_line_per_dataset_when_the_raw_store_cannot_be_written(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "raw").write_text("not a folder")
    environment = {
        **os.environ,
        "KESTAVA_DATABASE_URL": db_url,
        "KESTAVA_DATA_DIR": str(data),
        "KESTAVA_SNAPSHOT_DIR": str(DEFAULT_SNAPSHOT_DIR),
        "COLUMNS": "300",
    }

    done = subprocess.run(
        [str(KESTAVA), "ingest", DATASET, "hsy_emissions"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "unexpected" not in done.stderr
    for dataset in (DATASET, "hsy_emissions"):
        assert f"{dataset}: storage failure: raw store: cannot write {data / 'raw'}/" in done.stderr
    assert "error: raw store: cannot write" in done.stderr
    runs = pl.concat([job_runs(engine, f"ingest:{d}") for d in (DATASET, "hsy_emissions")])
    assert runs["outcome"].to_list() == ["failed", "failed"]
    assert all("storage failure" in str(e) for e in runs["error"])


# ------------------------------------------------------------------------ what `kestava ingest` says


def _kestava(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KESTAVA), *args], env=environment, capture_output=True, text=True, timeout=600, check=False
    )


def _row(table: str, first: str) -> list[str]:
    """The cells of the printed table's row whose first cell is `first`, each cell's folded lines joined."""
    rows: list[list[str]] = []
    for line in table.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[0]:
            rows.append(cells)
        elif rows:  # a folded row's next line
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
    (row,) = [row for row in rows if row[0] == first]
    return row


def test_kestava_ingest_says_what_was_fetched_and_kept_and_accept_lists_a_refused_html_page(
    db_url: str, engine: Engine, tmp_path: Path, release: Path
) -> None:
    data = tmp_path / "data"
    environment = {
        **os.environ,
        "KESTAVA_DATABASE_URL": db_url,
        "KESTAVA_DATA_DIR": str(data),
        "KESTAVA_SNAPSHOT_DIR": str(release),
    }
    assert _ingest(engine, RawStore(data / "raw"), DEFAULT_SNAPSHOT_DIR).outcome == "success"
    # the next release: a login wall for DATASET, a file missing for hsy_emissions (nothing arrives)
    # rich markup in a source's words is text: "[/bogus]" had crashed the run (MarkupError, exit 3) and a
    # [link=…] would have put a link in the operator's terminal
    hostile = "[/bogus] [link=https://evil.example]uusi avain[/link]"
    page = f"<!DOCTYPE html><html><body>Kirjaudu sis\u00e4\u00e4n {hostile}</body></html>".encode()
    (release / PAYLOAD).write_bytes(page)
    (missing, *_) = [e for e in (read_manifest(release).exchanges) if e.dataset == "hsy_emissions"]
    (release / missing.file).unlink()
    population = [e for e in read_manifest(release).exchanges if e.dataset == "statfin_population"]

    done = _kestava(environment, "ingest", DATASET, "hsy_emissions", "statfin_population")

    assert done.returncode == 1, done.stderr
    assert "payloads (HTTP 304 not" in done.stdout
    (kept,) = rejections(engine, DATASET)
    assert kept.payloads[0]["sha256"] == hashlib.sha256(page).hexdigest()
    # the refused dataset: its one page fetched and kept; the failed one: nothing arrived; the loaded one
    assert _row(done.stdout, DATASET)[1] == "rejected"
    assert _row(done.stdout, DATASET)[8] == f"1 (0), kept as rejected snapshot {kept.short}"
    assert "".join(hostile.split()) in "".join(_row(done.stdout, DATASET)[-1].split()), done.stdout
    assert _row(done.stdout, "hsy_emissions")[1:2] + _row(done.stdout, "hsy_emissions")[8:9] == [
        "failed",
        "–",
    ]
    assert _row(done.stdout, "statfin_population")[8] == f"{len(population)} (0)"
    summary = " ".join(done.stdout.split())
    assert (
        "3 datasets: 1 loaded, 0 unchanged, 1 rejected (1 payload kept as a rejected snapshot: "
        "`kestava accept DATASET` lists it), 1 failed"
    ) in summary

    listed = _kestava(environment, "accept", DATASET)
    assert listed.returncode == 0, listed.stderr
    cells = _row(listed.stdout, kept.short)
    assert cells[3] == "no" and "not an HTML page" in cells[5] and "Kirjaudu sisään" in cells[5]
    assert "".join(hostile.split()) in "".join(cells[5].split()), listed.stdout
    refused = _kestava(environment, "accept", DATASET, kept.short, "--why", "looks fine")
    assert refused.returncode == 1
    assert "the fetcher refused it as an HTML page" in " ".join(refused.stderr.split())


def test_the_size_cap_applies_to_the_page_the_fetcher_refused_not_to_a_set_a_connector_refused(
    engine: Engine, raw_store: RawStore
) -> None:
    from datetime import UTC, datetime

    from common.payload import Payload, RequestSpec
    from ingest.acceptance import KEPT_PAGE_BYTES, keep_refused
    from ingest.errors import HtmlPageError

    spec = load_catalogue().dataset(DATASET)
    body = b"<!DOCTYPE html><html><body>" + b"x" * KEPT_PAGE_BYTES + b"</body></html>"
    page = Payload(
        RequestSpec("GET", spec.url), 200, {"content-type": "text/html"}, body, datetime.now(UTC), spec.url
    )

    fetched = HtmlPageError(DATASET, "content-type", "data", "text/html", payload=page)
    assert keep_refused(engine, spec, [page], raw_store, "v1", fetched)[0] is None
    assert rejections(engine, DATASET) == []

    # the same page among the payloads a connector holds: kept with them, whatever their size
    held = HtmlPageError(DATASET, "body", "data", "<!DOCTYPE html>")
    digest, note = keep_refused(engine, spec, [page], raw_store, "v1", held)
    (kept,) = rejections(engine, DATASET)
    assert digest == kept.sha256 and f"kept as rejected snapshot {kept.short}" in note
    assert [v["kind"] for v in kept.violations] == ["html"] and not kept.acceptable
    assert raw_store.get(str(kept.payloads[0]["sha256"])) == body
