"""An OECD answer whose SDMX-ML header alone changed (message ID, Prepared) is an unchanged reading: a check
recorded, no new snapshot, no raw payload, no "what changed"; a changed body is still a new snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, func, select

from ingest.catalogue import Catalogue, parse_catalogue
from ingest.http import LiveFetcher
from ingest.run import DatasetOutcome
from ingest.run import ingest as run_ingest
from storage import read, schema
from storage.rawstore import RawStore
from storage.validators import DbValidatorCache
from tests.test_oecd import (
    DATA_PATH,
    DATA_QUERY,
    HAND_CHECKED,
    OPTIONS,
    STRUCTURE_PATH,
    structure,
)

DATASET = "oecd_ghg"
# The SDMX-ML 2.1 message header as the OECD writes it: a new message ID and preparation time per answer.
FIRST_HEADER = (
    b"<message:Header><message:ID>IDREF1a2b</message:ID><message:Test>false</message:Test>"
    b"<message:Prepared>2026-12-01T06:00:01Z</message:Prepared>"
    b'<message:Sender id="OECD"/></message:Header>'
)
SECOND_HEADER = (
    b"<message:Header><message:ID>IDREF9f8e</message:ID><message:Test>false</message:Test>"
    b"<message:Prepared>2026-12-08T06:00:07.1234567+00:00</message:Prepared>"
    b'<message:Sender id="OECD"/></message:Header>'
)
TEST_HEADER = b"<message:Header><message:ID>IDREF1</message:ID></message:Header>"


def structure_with(header: bytes, structure_body: bytes | None = None) -> bytes:
    body = structure_body or structure()
    assert TEST_HEADER in body
    return body.replace(TEST_HEADER, header)


def catalogue(server: HTTPServer, dimensions: list[str] | None = None) -> Catalogue:
    declared = {} if dimensions is None else {"dimensions": dimensions}
    document: dict[str, Any] = {
        "sources": {
            "oecd": {"publisher": "OECD", "licence": "CC BY 4.0", "attribution": "OECD", "homepage": "h"}
        },
        "datasets": {
            DATASET: {
                "title": "GHG emissions of the peer cities",
                "source": "oecd",
                "protocol": "oecd_sdmx",
                "url": server.url_for("/rest"),
                "options": OPTIONS,
                "cadence": "0 14 * * 2",
                "calendar": {"frequency": "annual", "lag_days": 730},
                **declared,
            }
        },
    }
    return parse_catalogue(document)


def answer(server: HTTPServer, structure_body: bytes, csv: str = HAND_CHECKED) -> None:
    """The OECD's two answers, this time (no ETag or Last-Modified: every fetch gets the whole body)."""
    server.clear()
    server.expect_request(STRUCTURE_PATH, query_string="references=all").respond_with_data(
        structure_body, content_type="application/vnd.sdmx.structure+xml; charset=utf-8"
    )
    server.expect_request(DATA_PATH, query_string=DATA_QUERY).respond_with_data(
        csv, content_type="application/vnd.sdmx.data+csv; charset=utf-8"
    )


def ingest_once(engine: Engine, raw: RawStore, cat: Catalogue) -> DatasetOutcome:
    fetcher = LiveFetcher(DbValidatorCache(engine, raw), backoff_base=0.01, backoff_max=0.02, max_attempts=2)
    with fetcher:
        (outcome,) = run_ingest(engine, raw, [DATASET], catalogue=cat, fetcher=fetcher)
    return outcome


def stored(engine: Engine, raw: RawStore) -> tuple[int, int, int]:
    """Snapshots, payload rows and raw files of the dataset."""
    with engine.connect() as conn:
        snapshots = conn.execute(select(func.count()).select_from(schema.snapshot)).scalar_one()
        payloads = conn.execute(select(func.count()).select_from(schema.payload)).scalar_one()
    return snapshots, payloads, sum(1 for path in Path(raw.root).rglob("*") if path.is_file())


@pytest.fixture
def raw(tmp_path: Path) -> RawStore:
    return RawStore(tmp_path / "raw")


def test_a_new_header_alone_is_an_unchanged_reading(
    engine: Engine, raw: RawStore, httpserver: HTTPServer
) -> None:
    cat = catalogue(httpserver)
    answer(httpserver, structure_with(FIRST_HEADER))
    first = ingest_once(engine, raw, cat)
    assert first.outcome == "success" and first.result is not None and first.result.added == 5
    before = stored(engine, raw)
    assert before == (1, 2, 2)

    answer(httpserver, structure_with(SECOND_HEADER))  # the next week: the same reading, a new header
    second = ingest_once(engine, raw, cat)
    assert second.outcome == "unchanged", second
    assert len(httpserver.log) == 2  # fetched in full: a check was made
    assert stored(engine, raw) == before  # no snapshot, payload row or raw file added
    runs = read.job_runs(engine, f"ingest:{DATASET}")
    assert runs["outcome"].to_list() == ["unchanged", "success"]  # the check recorded, as unchanged
    snapshots = read.snapshots(engine, DATASET)
    assert snapshots.height == 1  # the report's "what changed" lists no new data


def test_a_changed_structure_beyond_the_header_is_still_a_new_snapshot(
    engine: Engine, raw: RawStore, httpserver: HTTPServer
) -> None:
    cat = catalogue(httpserver)
    answer(httpserver, structure_with(FIRST_HEADER))
    assert ingest_once(engine, raw, cat).outcome == "success"
    renamed = structure_with(SECOND_HEADER).replace(b"Old areas", b"Former areas")
    answer(httpserver, renamed)
    second = ingest_once(engine, raw, cat)
    assert second.outcome == "success" and second.result is not None
    assert (second.result.added, second.result.revised, second.result.unchanged) == (0, 0, 5)
    assert stored(engine, raw)[:2] == (2, 4)


def test_a_changed_value_with_a_new_header_is_a_revision(
    engine: Engine, raw: RawStore, httpserver: HTTPServer
) -> None:
    cat = catalogue(httpserver)
    answer(httpserver, structure_with(FIRST_HEADER))
    assert ingest_once(engine, raw, cat).outcome == "success"
    revised = HAND_CHECKED.replace(",951000,951000,", ",950000,950000,")  # Espoo 1990
    assert revised != HAND_CHECKED
    answer(httpserver, structure_with(SECOND_HEADER), revised)
    second = ingest_once(engine, raw, cat)
    assert second.outcome == "success" and second.result is not None and second.result.revised == 1


def test_the_same_reading_is_told_before_the_parse(
    engine: Engine, raw: RawStore, httpserver: HTTPServer
) -> None:
    """An answer of the stored reading is an unchanged run without being parsed: the catalogue now declares
    dimensions the parsed frame does not have, which the parse (ingest.connector.parse_flagged) refuses,
    yet the run is unchanged and no rejected snapshot is kept. The same answer in full is refused by it."""
    answer(httpserver, structure_with(FIRST_HEADER))
    assert ingest_once(engine, raw, catalogue(httpserver)).outcome == "success"
    before = stored(engine, raw)
    refusing = catalogue(httpserver, dimensions=["area", "unit", "no_such_column"])

    answer(httpserver, structure_with(SECOND_HEADER))
    unchanged = ingest_once(engine, raw, refusing)
    assert unchanged.outcome == "unchanged", unchanged
    assert unchanged.result is None and unchanged.payloads == 2
    assert stored(engine, raw) == before
    assert read.job_runs(engine, f"ingest:{DATASET}")["outcome"].to_list() == ["unchanged", "success"]

    # the parse does refuse it where the reading differs (a value revised): the declaration is what fails
    revised = HAND_CHECKED.replace(",951000,951000,", ",950000,950000,")
    answer(httpserver, structure_with(SECOND_HEADER), revised)
    refused = ingest_once(engine, raw, refusing)
    assert refused.outcome == "rejected" and "dimensions" in (refused.error or ""), refused
