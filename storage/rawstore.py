"""Content-addressed store of raw payload bytes on disk: every fetched payload is kept, once, by sha256.

A payload is stored gzip-compressed (`<sha256>.gz`) when that saves a tenth of it or more (JSON, CSV), else
as it came (`<sha256>`: an XLSX is a zip already). Either way the name is the sha256 of the payload's own
bytes, and get() gives those bytes back exactly, verified against it. Files stored before compression
(`<sha256>`, uncompressed) are read as they are.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common.errors import EXIT_USAGE, KestavaError

log = logging.getLogger(__name__)
_WRITERS = 8  # threads writing one snapshot's payloads: each waits on its fsync, not on the CPU
COMPRESSED = ".gz"
_KEEP_PLAIN_ABOVE = 0.9  # compressed to more than 90 % of its size: stored as it came
# zlib's fastest: the bundled snapshot's 2.81 MB to 0.55 MB (level 6: 0.50 MB) at a third of level 6's
# time; a 46 MB CSV takes 0.16 s against 0.55 s, which is CPU the load's own work wants on 2 cores
_LEVEL = 1


class RawStoreError(KestavaError):
    """The raw store cannot be written (not a directory, no space, no permission): a storage failure,
    not a fault of the data; the command line exits 2 as for any output that cannot be written."""

    exit_code = EXIT_USAGE

    def __init__(self, root: Path, path: Path, error: OSError) -> None:
        self.root = root
        self.path = path
        self.errno = error.errno
        self.reason = error.strerror or str(error)
        super().__init__(
            f"raw store: cannot write {path}: {self.reason} (every fetched payload is kept under {root}: "
            "make it a writable directory with free space, check KESTAVA_DATA_DIR, then ingest again)"
        )


class RawStore:
    """Files under root/ab/cd/<sha256>[.gz]; writes are atomic (temporary file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # repair's finding per compressed file (relative path): its (mtime_ns, ctime_ns, size, inode) when
        # its ISIZE was read and found to hold the payload's length (also kept); while the file keeps
        # them (any write, even one that sets the mtime back, changes the ctime), it still does
        self._whole: dict[str, tuple[int, int, int, int, int]] = {}

    def relative_path(self, sha256: str) -> str:
        """Where the payload of sha256 is stored uncompressed (a compressed one adds COMPRESSED)."""
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def stored_path(self, sha256: str) -> str | None:
        """Where the payload of sha256 is stored (relative to the root), compressed or not; None if not."""
        found = self._stored(sha256)
        return found[0] if found is not None else None

    def _stored(self, sha256: str) -> tuple[str, os.stat_result] | None:
        """Where the payload of sha256 is stored (compressed first) with the file's stat, one stat each."""
        plain = self.relative_path(sha256)
        for relative in (plain + COMPRESSED, plain):
            try:
                return relative, (self.root / relative).stat()
            except (FileNotFoundError, NotADirectoryError):
                continue
        return None

    def put(self, body: bytes) -> tuple[str, str]:
        """Store body (if not already there, compressed or not); return (sha256, path relative to the
        root). The sha256 is of body itself, whatever is written."""
        sha256 = hashlib.sha256(body).hexdigest()
        existing = self.stored_path(sha256)
        if existing is not None:
            if not self._intact(existing, sha256, len(body)):
                log.warning(
                    "raw store: %s was corrupted (its content is not the payload of its sha256); written "
                    "again",
                    self.root / existing,
                )
                self._store(body, sha256, existing)
            return sha256, existing
        return sha256, self._store(body, sha256, None)

    def repair(self, body: bytes, sha256: str) -> str | None:
        """Write the payload sha256 (body: its bytes) again when its stored file is missing or holds
        another length than body (cut short, or other bytes); the path written (relative to the root), None
        when it was whole. For a payload that is not stored again (its dataset unchanged), on every
        unchanged ingest, so it reads no content (and a compressed file's length once while the file stays
        as it was): damage of the same length is found when the file is read (gzip's CRC) or when the
        payload is stored again (put hashes it)."""
        found = self._stored(sha256)
        if found is None:
            return self._store(body, sha256, None)
        relative, status = found
        if self._holds_length(relative, len(body), status):
            return None
        return self._store(body, sha256, relative)

    def _holds_length(self, relative: str, size: int, status: os.stat_result) -> bool:
        """Whether a stored file (status: its stat) holds a payload of size bytes, without reading its
        content: a plain file's size, a gzip file's ISIZE (its last four bytes: the length modulo 2**32),
        read once while the file keeps its mtime, ctime, size and inode."""
        if not relative.endswith(COMPRESSED):
            return status.st_size == size
        stamp = (status.st_mtime_ns, status.st_ctime_ns, status.st_size, status.st_ino, size)
        if self._whole.get(relative) == stamp:
            return True
        with (self.root / relative).open("rb") as handle:
            if handle.seek(0, os.SEEK_END) < 18:  # a gzip header and trailer alone take 18 bytes
                return False
            handle.seek(-4, os.SEEK_END)
            whole = int.from_bytes(handle.read(4), "little") == size % 2**32
        if whole:
            self._whole[relative] = stamp
        return whole

    def _store(self, body: bytes, sha256: str, existing: str | None) -> str:
        """Write body as the payload of sha256: over existing in its own form (compressed or not: the
        payload rows name this very path), else compressed when that saves enough; the path written."""
        if existing is not None:
            compressed = existing.endswith(COMPRESSED)
            self._write(existing, gzip.compress(body, compresslevel=_LEVEL, mtime=0) if compressed else body)
            return existing
        relative, data = self.relative_path(sha256), body
        packed = gzip.compress(body, compresslevel=_LEVEL, mtime=0)  # mtime 0: the same bytes every time
        if len(packed) <= len(body) * _KEEP_PLAIN_ABOVE:
            relative, data = relative + COMPRESSED, packed
        self._write(relative, data)
        return relative

    def _intact(self, relative: str, sha256: str, size: int) -> bool:
        """Whether the stored file at relative holds the payload of sha256 (of size bytes): a plain file of
        another size is not, without reading it; else its content is hashed."""
        if not relative.endswith(COMPRESSED) and (self.root / relative).stat().st_size != size:
            return False
        try:
            return hashlib.sha256(self.read(relative)).hexdigest() == sha256
        except OSError:  # not gzip, or truncated
            return False

    def _write(self, relative: str, data: bytes) -> None:
        """Write data to relative atomically: a temporary file beside it, fsync, rename; RawStoreError
        when it cannot be written."""
        target = self.root / relative
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        except OSError as error:
            raise RawStoreError(self.root, target, error) from error
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            Path(temporary).replace(target)
        except BaseException as error:
            Path(temporary).unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise RawStoreError(self.root, target, error) from error
            raise

    def put_all(self, bodies: Sequence[bytes]) -> list[tuple[str, str]]:
        """put() each body, in order; several are written at once, so that their fsyncs overlap (a
        whole-country Syke snapshot is 309 files)."""
        if len(bodies) < 2:
            return [self.put(body) for body in bodies]
        with ThreadPoolExecutor(min(_WRITERS, len(bodies)), thread_name_prefix="rawstore") as pool:
            return list(pool.map(self.put, bodies))

    def read(self, relative: str) -> bytes:
        """The payload bytes of the stored file at relative (a payload row's storage_path), decompressed
        when it is compressed; not verified (get() is)."""
        data = (self.root / relative).read_bytes()
        if not relative.endswith(COMPRESSED):
            return data
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise OSError(f"raw store: {relative} is corrupted ({error})") from error

    def get(self, sha256: str) -> bytes:
        """The bytes stored under sha256; verifies them, so a corrupted file is never served."""
        relative = self.stored_path(sha256)
        if relative is None:
            raise FileNotFoundError(f"raw store: no payload {self.relative_path(sha256)} under {self.root}")
        body = self.read(relative)
        if hashlib.sha256(body).hexdigest() != sha256:
            raise OSError(f"raw store: {relative} is corrupted (sha256 mismatch)")
        return body
