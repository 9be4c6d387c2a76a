"""XLSX workbooks checked before calamine reads them: a zip bomb is refused, not inflated."""

from __future__ import annotations

import struct
import zipfile
import zlib
from io import BytesIO
from typing import Final

from ingest.errors import ValidationError

__all__ = ["MAX_RATIO", "MAX_UNCOMPRESSED", "ZIP_MAGIC", "check_xlsx"]

ZIP_MAGIC: Final = b"PK\x03\x04"

# The largest bundled workbooks (data/snapshot, 2026-12) hold 1.4 MB of XML (HSY's whole table, every city,
# year and sector since 1990) and 0.04 MB (the Covenant extracts); a whole MyCovenant release of some
# 10,000 signatories is still far below 250 MB. calamine keeps every cell in memory (about 40 bytes a
# cell): a 4.2 MB workbook of 600,000 × 200 identical cells took 5 GB and aborted the process.
MAX_UNCOMPRESSED: Final = 250_000_000
# Real workbooks' members compress 5-8 times (the bundled ones); a member over RATIO_FLOOR bytes
# compressing more than MAX_RATIO times is a bomb.
MAX_RATIO: Final = 200
RATIO_FLOOR: Final = 4_000_000
_CHUNK: Final = 1 << 20
_LOCAL_HEADER: Final = struct.Struct("<4s22xHH")  # signature, …, file name length, extra field length


def check_xlsx(
    source: str,
    body: bytes,
    name: str,
    *,
    max_uncompressed: int = MAX_UNCOMPRESSED,
    max_ratio: float = MAX_RATIO,
) -> None:
    """ValidationError (field 'xlsx') unless `body` is a zip archive inflating to at most
    `max_uncompressed` bytes in all, no member over RATIO_FLOOR bytes compressing more than `max_ratio`
    times.

    The sizes the archive declares are checked first, then each member is inflated in chunks (and
    dropped) counting what it really holds, as a declared size can lie. `name` names the workbook.
    """
    expected = (
        f"a workbook of at most {max_uncompressed:,} bytes uncompressed, no member over "
        f"{RATIO_FLOOR:,} bytes compressed more than {max_ratio:g} times (a zip bomb is not read)"
    )
    try:
        archive = zipfile.ZipFile(BytesIO(body))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ValidationError(
            source, "xlsx", "a readable workbook (a zip archive)", f"{name}: {exc}"
        ) from None
    declared = sum(member.file_size for member in members)
    if declared > max_uncompressed:
        raise ValidationError(source, "xlsx", expected, f"{name} declares {declared:,} bytes uncompressed")
    total = 0
    for member in members:
        size = _inflated_size(source, body, member, name, max_uncompressed - total + 1)
        total += size
        if total > max_uncompressed:
            raise ValidationError(
                source, "xlsx", expected, f"{name} inflates to over {max_uncompressed:,} bytes"
            )
        if size > RATIO_FLOOR and size > max_ratio * max(member.compress_size, 1):
            raise ValidationError(
                source,
                "xlsx",
                expected,
                f"{name}: member {member.filename} inflates {member.compress_size:,} bytes to {size:,} "
                f"({size / max(member.compress_size, 1):,.0f} times)",
            )


def _inflated_size(source: str, body: bytes, member: zipfile.ZipInfo, name: str, cap: int) -> int:
    """The bytes `member` really inflates to, counted up to just over `cap`."""
    unreadable = f"{name}: member {member.filename} cannot be read"
    start = member.header_offset
    header = body[start : start + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size or header[:4] != ZIP_MAGIC:
        raise ValidationError(source, "xlsx", "a readable workbook (a zip archive)", unreadable)
    _, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    start += _LOCAL_HEADER.size + name_length + extra_length
    data = memoryview(body)[start : start + member.compress_size]
    if member.compress_type == zipfile.ZIP_STORED:
        return len(data)
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise ValidationError(
            source,
            "xlsx",
            "a workbook whose members are stored or deflated (as spreadsheet programs write them)",
            f"{name}: member {member.filename} compressed with method {member.compress_type}",
        )
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    size = 0
    pending: bytes | memoryview = data
    try:
        while size <= cap:
            size += len(inflater.decompress(pending, _CHUNK))
            pending = inflater.unconsumed_tail
            if not pending:
                size += len(inflater.flush())
                break
    except zlib.error as exc:
        raise ValidationError(
            source, "xlsx", "a readable workbook (a zip archive)", f"{unreadable}: {exc}"
        ) from None
    return size
