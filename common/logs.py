"""Logging setup: readable lines on a terminal, or one JSON object per line for log collectors; with a log
file, the same lines in that file as well (reopened when logrotate moves it)."""

from __future__ import annotations

import json
import logging
import os
import sys
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.errors import KestavaError
from common.secrets import redact

# the setting (environment variable) of a log file, beside the commands' --log-file option
LOG_FILE_ENV = "KESTAVA_LOG_FILE"
LOG_FILE_SETTING = f"--log-file or {LOG_FILE_ENV}"

# Extra fields a log call may carry (logger.info(..., extra={...})) that the JSON form keeps.
STRUCTURED_FIELDS = (
    *("job", "dataset", "duration_s", "rows_added", "rows_revised", "rows_confirmed", "rows_reflagged"),
    *("outcome", "trigger"),
)


class JsonLinesFormatter(logging.Formatter):
    """Formats each record as one JSON object: time, level, logger, message and structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in STRUCTURED_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter and masks secret values in everything it writes (message, fields, traceback).

    secrets: the values, or a function giving them, called at the first line written (so that a command
    that logs nothing does not import what finds them)."""

    def __init__(
        self, inner: logging.Formatter, secrets: Sequence[str] | Callable[[], Sequence[str]]
    ) -> None:
        super().__init__()
        self.inner = inner
        self._secrets = secrets
        self._masked: list[str] | None = None

    def masked(self) -> list[str]:
        """The values masked: each as given and as written inside a JSON string, longest first."""
        if self._masked is None:
            given = list(self._secrets() if callable(self._secrets) else self._secrets)
            self._masked = sorted({*given, *(json.dumps(s)[1:-1] for s in given)}, key=len, reverse=True)
        return self._masked

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), self.masked())


LOG_FILE_MODE = 0o640  # a new log file: read by its owner and group, not by every user of the host


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, LOG_FILE_MODE)


class LogFileError(KestavaError):
    """The log file cannot be opened for writing: says which file, why, and the setting that named it."""


def open_log_file(path: Path) -> logging.Handler:
    """A handler appending to path (UTF-8), opened now: a path that cannot be written raises LogFileError
    naming the file and the setting, before anything runs. It is the standard library's
    WatchedFileHandler: before each line it checks that path is still the file it has open, and opens it
    again when it was moved or deleted (logrotate's rename: no copytruncate nor signal needed)."""
    import logging.handlers  # (here: a command without a log file does not import it)

    class PrivateWatchedFileHandler(logging.handlers.WatchedFileHandler):
        """A WatchedFileHandler that creates its file (at start, and again after a rotation) with
        LOG_FILE_MODE rather than the umask's mode."""

        def _open(self) -> Any:
            return open(
                self.baseFilename,
                self.mode,
                encoding=self.encoding,
                errors=self.errors,
                opener=_private_opener,
            )

    try:
        handler = PrivateWatchedFileHandler(path, encoding="utf-8")
    except OSError as error:
        why = error.strerror or str(error)
        raise LogFileError(f"cannot write the log file {path} ({LOG_FILE_SETTING}): {why}") from None
    _OPENED.add(handler)
    return handler


_OPENED: weakref.WeakSet[logging.Handler] = weakref.WeakSet()  # the log files open_log_file opened


def configure_logging(
    *,
    json_lines: bool = False,
    verbose: bool = False,
    log_file: Path | None = None,
    secrets: Sequence[str] | Callable[[], Sequence[str]] = (),
) -> None:
    """Send logs to stderr, as JSON lines or as plain text; with log_file, the same lines to that file too;
    on both, every secret value masked (RedactingFormatter: the values or a function giving them).

    Raises LogFileError (nothing changed) when log_file cannot be opened. A log file this set up before
    is closed when it is set up again."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(open_log_file(log_file))
    lines = (
        JsonLinesFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    masking = RedactingFormatter(lines, secrets)  # one formatter: the secrets are found once
    for handler in handlers:
        handler.setFormatter(masking)
    root = logging.getLogger()
    for old in root.handlers:
        if old in _OPENED:
            old.close()
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if verbose else logging.INFO if json_lines else logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
