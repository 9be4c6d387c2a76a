"""Tests for ingest.xlsx: a zip bomb is refused before calamine inflates it, real workbooks pass."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from ingest.catalogue import load_catalogue
from ingest.errors import ValidationError
from ingest.http import LiveFetcher
from ingest.xlsx import MAX_UNCOMPRESSED, check_xlsx
from tests import test_covenant, test_hsy

SNAPSHOT = Path(__file__).resolve().parent.parent / "data" / "snapshot"
ZEROS = 8_000_000  # inflated from about 8 KB: 1,000 times


@pytest.fixture
def fetcher() -> Iterator[LiveFetcher]:
    with LiveFetcher(max_attempts=1, backoff_base=0.001, backoff_max=0.01, timeout=5.0) as live:
        yield live


def bomb(extra: int = ZEROS) -> bytes:
    """A readable workbook with a second sheet of `extra` zeros (compressing about 1,000 times)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(test_hsy.xlsx())) as real, zipfile.ZipFile(buffer, "w") as out:
        for member in real.infolist():
            out.writestr(member, real.read(member), compress_type=zipfile.ZIP_DEFLATED)
        out.writestr("xl/worksheets/sheet2.xml", b"0" * extra, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def declare(body: bytes, size: int) -> bytes:
    """`body` with its last member (the zeros) declaring `size` bytes uncompressed, in both its headers."""
    patched = bytearray(body)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = patched.rfind(signature)
        patched[at + offset : at + offset + 4] = size.to_bytes(4, "little")
    return bytes(patched)


def test_a_highly_compressed_member_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as error:
        check_xlsx("hsy_emissions", bomb(), "new.xlsx")
    assert error.value.source == "hsy_emissions" and error.value.field == "xlsx"
    assert error.value.got is not None and "xl/worksheets/sheet2.xml" in error.value.got
    assert f"{MAX_UNCOMPRESSED:,} bytes uncompressed" in str(error.value)


def test_a_huge_declared_size_is_refused_before_inflating() -> None:
    with pytest.raises(ValidationError) as error:
        check_xlsx("hsy_emissions", declare(bomb(1000), 4_000_000_000), "new.xlsx")
    assert error.value.got is not None and "declares" in error.value.got


def test_a_member_lying_about_its_size_is_measured_as_it_inflates() -> None:
    lying = declare(bomb(), 1000)  # says 1,000 bytes, holds 8 MB
    with pytest.raises(ValidationError, match=r"sheet2\.xml inflates"):
        check_xlsx("hsy_emissions", lying, "new.xlsx")
    with pytest.raises(ValidationError, match="inflates to over 3,000,000 bytes"):
        check_xlsx("hsy_emissions", lying, "new.xlsx", max_uncompressed=3_000_000)


def test_the_bundled_real_workbooks_pass() -> None:
    workbooks = sorted(SNAPSHOT.glob("*/*.xlsx"))
    assert len(workbooks) == 4
    for workbook in workbooks:
        check_xlsx(workbook.parent.name, workbook.read_bytes(), workbook.name)


def test_hsy_refuses_a_bomb_it_downloads(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    spec = load_catalogue().dataset("hsy_emissions")
    spec = spec.model_copy(update={"url": httpserver.url_for(test_hsy.API_PATH)})
    test_hsy.serve(httpserver, bomb())
    with pytest.raises(ValidationError) as error:
        test_hsy.run(spec, fetcher)
    assert error.value.field == "xlsx" and error.value.got is not None
    assert error.value.got.startswith("new.xlsx: member xl/worksheets/sheet2.xml inflates")


def test_covenant_refuses_a_bomb_it_downloads(httpserver: HTTPServer, fetcher: LiveFetcher) -> None:
    test_covenant.serve(httpserver, {"2024_release": test_covenant.release_files(df3=bomb())})
    with pytest.raises(ValidationError) as error:
        test_covenant.run(httpserver, fetcher)
    assert error.value.source == "covenant_inventories" and error.value.field == "xlsx"
    assert error.value.got is not None and error.value.got.startswith("df3_Monitoring.xlsx: member")
