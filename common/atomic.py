"""Publish a multi-file output (a report, a chart export, a static site) in one atomic step.

A reader of `<parent>/<name>` finds, at every instant, either the previous complete output or the new
complete one — never a mix and, once something was published, never nothing. How:

- `<parent>/<name>` is a symbolic link to a hidden version directory `<parent>/.<name>.<token>` beside it.
- `publish_directory(final)` builds the new version in `.<name>.<token>.part`, writes every file to disk
  (fsync), renames it to `.<name>.<token>` (complete), makes a new link and renames the link onto
  `<name>` (`os.replace` on a symbolic link is one atomic rename), then deletes the previous version.
- A killed run leaves at most a `.part` directory, a stray link or the superseded version: the next
  `publish_directory` (or `recover`) deletes them. If the link itself is missing or broken (a real
  directory from before this scheme, renamed aside and killed before its link was made), the newest
  complete version is linked again.
- One builder at a time per output: an exclusive lock on `.<name>.lock` (POSIX `flock`, released by the
  kernel when the process dies, however it dies), so recovery never deletes another run's work in
  progress.

Needs a file system with symbolic links (every POSIX system). Storage-independent: the report and any
future output (the public site) use it the same way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

__all__ = ["PART_SUFFIX", "publish_directory", "publish_file", "recover", "versions"]

PART_SUFFIX: Final = ".part"
_LINK_SUFFIX: Final = ".link"
_LOCK_SUFFIX: Final = ".lock"


def _prefix(final: Path) -> str:
    return f".{final.name}."


def _lock_path(final: Path) -> Path:
    return final.with_name(f".{final.name}{_LOCK_SUFFIX}")


def versions(final: Path) -> list[Path]:
    """Every complete version directory of final (oldest first), the published one included."""
    found = [
        p
        for p in _siblings(final)
        if not p.name.endswith((PART_SUFFIX, _LINK_SUFFIX, _LOCK_SUFFIX))
        and p.is_dir()
        and not p.is_symlink()
    ]
    return sorted(found, key=lambda p: p.name)


def _siblings(final: Path) -> list[Path]:
    """Every entry beside final named .<name>.… (versions, unfinished builds, links, the lock)."""
    if not final.parent.is_dir():
        return []
    prefix = _prefix(final)
    return [p for p in final.parent.iterdir() if p.name.startswith(prefix)]


def _new_token() -> str:
    # Sorts by creation time: recovery relinks the newest complete version.
    return f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"


def _writer_alive(part: Path) -> bool:
    """Whether the process named in a .part file's token (time-pid-random) still runs."""
    try:
        pid = int(part.name.removesuffix(PART_SUFFIX).rsplit(".", 1)[-1].split("-")[1])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _ours(final: Path, version: Path) -> bool:
    """Whether version is one of final's version directories (beside it, named .<name>.<token>)."""
    return version.parent == final.parent and version.name.startswith(_prefix(final))


def _current(final: Path) -> Path | None:
    """The version directory final links to, None if final is not a working link."""
    if not final.is_symlink():
        return None
    target = final.parent / final.readlink()
    return target if target.is_dir() else None


def link_or_copy(source: str | Path, target: str | Path) -> bool:
    """target as a hard link to source (not following a link), or a copy where hard links cannot be made
    (another file system); True when it copied: new bytes on the disk, to be synced before publishing.
    A source that does not exist raises FileNotFoundError either way."""
    try:
        os.link(source, target, follow_symlinks=False)
    except FileNotFoundError:
        raise
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)
        return True
    return False


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (files made, renamed or removed in it) to disk; nothing off POSIX."""
    if os.name != "posix":  # pragma: no cover - directories cannot be opened elsewhere
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            fsync_dir(path)
    fsync_dir(folder)


def _link(final: Path, version: Path) -> None:
    """Point final at version in one rename (a stray link of a killed run is replaced)."""
    link = final.with_name(f"{version.name}{_LINK_SUFFIX}")
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(version.name, target_is_directory=True)
    link.replace(final)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def recover(final: Path) -> Path | None:
    """Bring final to a clean state after a killed run; returns the published version (None: nothing).

    A real directory at final (written before this scheme) becomes the first version; a missing or broken
    link is pointed at the newest complete version; unfinished builds, stray links and superseded
    versions are deleted. Call it holding the lock (publish_directory does).
    """
    if final.is_dir() and not final.is_symlink():
        aside = final.with_name(f"{_prefix(final)}{_new_token()}")
        final.rename(aside)  # killed here: final is missing, the next recover relinks `aside`
    current = _current(final)
    if current is None:
        complete = versions(final)
        if complete:
            _link(final, complete[-1])
            current = complete[-1]
        elif final.is_symlink():  # broken and nothing to point it at
            final.unlink()
    lock = _lock_path(final)
    for path in _siblings(final):
        if path != lock and (current is None or path.name != current.name):
            _remove(path)
    return current


@contextlib.contextmanager
def exclusive(final: Path) -> Iterator[None]:
    """final to one process at a time, for a read-modify-write or a build: an exclusive lock on its lock
    file beside it (`.<name>.lock`), waited for; released when the block ends or the process dies."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: one builder at a time is the caller's job
        yield
        return
    handle: IO[bytes] = _lock_path(final).open("ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock


def _name_the_place(error: BaseException, final: Path) -> None:
    """An OSError that names no file (a write on a full disk: "No space left on device") names final, the
    output it was building, so that its message says where."""
    if isinstance(error, OSError) and not error.filename:
        error.filename = str(final)


@contextlib.contextmanager
def publish_directory(final: Path, *, durable: bool = True, synced_by_caller: bool = False) -> Iterator[Path]:
    """Yield an empty directory to build the output in; on success it replaces final in one step.

    If the block raises, the new files are deleted and final is left as it was. With durable, every new
    file is flushed to disk before the switch, and the switch before the previous version is removed, so
    the published output survives a power cut too. synced_by_caller: the block has flushed the new files
    itself (those new to the disk only: the public site's build), and only the switch is flushed here.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(final):
        previous = recover(final)
        token = _new_token()
        building = final.with_name(f"{_prefix(final)}{token}{PART_SUFFIX}")
        building.mkdir()
        try:
            yield building
        except BaseException as error:
            _remove(building)
            _name_the_place(error, final)
            raise
        if durable and not synced_by_caller:
            _fsync_tree(building)
        version = final.with_name(f"{_prefix(final)}{token}")
        building.rename(version)
        _link(final, version)
        if durable:
            fsync_dir(final.parent)
        if previous is not None and _ours(final, previous):
            _remove(previous)  # a link someone pointed elsewhere by hand: its target is left alone


@contextlib.contextmanager
def publish_file(final: Path, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside final to write one file to; on success it replaces final in one
    rename (a reader sees the old file or the new one, never half of it). If the block raises, or the
    process dies, final is untouched; a killed run's `.<name>.<token>.part` is removed by the next
    publish_file of the same name (one whose writing process is still alive is left alone)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    prefix = _prefix(final)
    for stale in _siblings(final):
        if stale.name.endswith(PART_SUFFIX) and stale.is_file() and not _writer_alive(stale):
            stale.unlink(missing_ok=True)
    building = final.with_name(f"{prefix}{_new_token()}{PART_SUFFIX}")
    try:
        try:
            yield building
        except OSError as error:
            _name_the_place(error, final)
            raise
        if durable and building.exists():
            with building.open("rb") as handle:
                os.fsync(handle.fileno())
        building.replace(final)
    finally:
        building.unlink(missing_ok=True)
    if durable:
        fsync_dir(final.parent)
