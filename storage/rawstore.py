"""Content-addressed store of raw payload bytes on disk: every fetched payload is kept, once, by sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


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

    def get(self, sha256: str) -> bytes:
        """The bytes stored under sha256; verifies them, so a corrupted file is never served."""
        body = (self.root / self.relative_path(sha256)).read_bytes()
        if hashlib.sha256(body).hexdigest() != sha256:
            raise OSError(f"raw store: {self.relative_path(sha256)} is corrupted (sha256 mismatch)")
        return body
