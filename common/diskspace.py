"""Free space on the file systems the tracker writes to, against the configured minimum."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

BYTES_PER_GB = 10**9


@dataclass(frozen=True)
class DiskSpace:
    """One file system the tracker writes to: its free and total bytes, named by the first folder on it."""

    folder: Path  # the first of the checked folders that lies on this file system
    free_bytes: int
    total_bytes: int
    minimum_bytes: int  # below this the tracker may soon fail to write (KESTAVA_MIN_FREE_DISK_GB)

    @property
    def low(self) -> bool:
        return self.free_bytes < self.minimum_bytes

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: the folder, gigabytes (10⁹ bytes, 3 decimals) and whether the space is low."""
        return {
            "folder": str(self.folder),
            "free_gb": round(self.free_bytes / BYTES_PER_GB, 3),
            "total_gb": round(self.total_bytes / BYTES_PER_GB, 3),
            "minimum_gb": round(self.minimum_bytes / BYTES_PER_GB, 3),
            "low": self.low,
        }


def _nearest_existing(folder: Path) -> Path:
    """folder itself, or its nearest parent that exists (a folder not made yet lands on that one's disk)."""
    path = folder.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_space(folders: Iterable[Path], minimum_bytes: int) -> tuple[DiskSpace, ...]:
    """One DiskSpace per file system among folders, in the order first met; a folder that cannot be
    examined (no permission) is skipped: the writes there will say so themselves."""
    seen: set[int] = set()
    found = []
    for folder in folders:
        existing = _nearest_existing(folder)
        try:
            device = existing.stat().st_dev
            if device in seen:
                continue
            usage = shutil.disk_usage(existing)
        except OSError:
            continue
        seen.add(device)
        found.append(DiskSpace(folder, usage.free, usage.total, minimum_bytes))
    return tuple(found)
