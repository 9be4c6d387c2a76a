"""Content-addressed store of raw payload bytes on disk: every fetched payload is kept, once, by sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_WRITERS = 8  # threads writing one snapshot's payloads: each waits on its fsync, not on the CPU


class RawStore:
    """Files under root/ab/cd/<sha256>; writes are atomic (temporary file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def relative_path(self, sha256: str) -> str:
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put(self, body: bytes) -> tuple[str, str]:
        """Store body (if not already there); return (sha256, path relative to the root)."""
        sha256 = hashlib.sha256(body).hexdigest()
        relative = self.relative_path(sha256)
        target = self.root / relative
        if target.exists():
            return sha256, relative
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            Path(temporary).replace(target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return sha256, relative

    def put_all(self, bodies: Sequence[bytes]) -> list[tuple[str, str]]:
        """put() each body, in order; several are written at once, so that their fsyncs overlap (a
        whole-country Syke snapshot is 309 files)."""
        if len(bodies) < 2:
            return [self.put(body) for body in bodies]
        with ThreadPoolExecutor(min(_WRITERS, len(bodies)), thread_name_prefix="rawstore") as pool:
            return list(pool.map(self.put, bodies))

    def get(self, sha256: str) -> bytes:
        """The bytes stored under sha256; verifies them, so a corrupted file is never served."""
        body = (self.root / self.relative_path(sha256)).read_bytes()
        if hashlib.sha256(body).hexdigest() != sha256:
            raise OSError(f"raw store: {self.relative_path(sha256)} is corrupted (sha256 mismatch)")
        return body
