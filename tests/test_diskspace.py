"""Free space on the file systems the tracker writes to: one entry per file system, low below the minimum."""

from __future__ import annotations

import shutil
from pathlib import Path

from common.diskspace import BYTES_PER_GB, DiskSpace, disk_space


def test_one_entry_per_file_system_named_by_the_first_folder_met(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    folders = [tmp_path / "a", tmp_path / "b" / "not" / "made" / "yet", tmp_path]
    (disk,) = disk_space(folders, minimum_bytes=0)  # all on tmp_path's file system
    assert disk.folder == tmp_path / "a"
    usage = shutil.disk_usage(tmp_path)
    assert disk.total_bytes == usage.total
    assert abs(disk.free_bytes - usage.free) < 256 * 2**20  # other jobs write meanwhile
    assert not disk.low


def test_a_file_system_with_less_free_space_than_the_minimum_is_low(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    (roomy,) = disk_space([tmp_path], minimum_bytes=free // 2)
    (short,) = disk_space([tmp_path], minimum_bytes=free * 2)
    assert not roomy.low and short.low
    assert short.as_dict()["low"] is True
    assert short.as_dict()["minimum_gb"] == round(free * 2 / BYTES_PER_GB, 3)


def test_a_folder_on_another_file_system_gets_its_own_entry(tmp_path: Path) -> None:
    other = Path("/dev/shm")  # tmpfs on Linux
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        import pytest

        pytest.skip("no second file system here")
    disks = disk_space([tmp_path, other, tmp_path / "x"], minimum_bytes=1)
    assert [d.folder for d in disks] == [tmp_path, other]
    assert all(isinstance(d, DiskSpace) and d.total_bytes > 0 for d in disks)
