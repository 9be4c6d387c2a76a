"""Logging setup: readable lines on a terminal, or one JSON object per line for log collectors; with a log
file, the same lines in that file as well (reopened when logrotate moves it)."""

from __future__ import annotations

import json
import logging
import sys
import weakref
from datetime import UTC, datetime
from pathlib import Path

from common.errors import KestavaError

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


class LogFileError(KestavaError):
    """The log file cannot be opened for writing: says which file, why, and the setting that named it."""


def open_log_file(path: Path) -> logging.Handler:
    """A handler appending to path (UTF-8), opened now: a path that cannot be written raises LogFileError
    naming the file and the setting, before anything runs. It is the standard library's
    WatchedFileHandler: before each line it checks that path is still the file it has open, and opens it
    again when it was moved or deleted (logrotate's rename: no copytruncate nor signal needed)."""
    import logging.handlers  # (here: a command without a log file does not import it)

    try:
        handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")
    except OSError as error:
        why = error.strerror or str(error)
        raise LogFileError(f"cannot write the log file {path} ({LOG_FILE_SETTING}): {why}") from None
    _OPENED.add(handler)
    return handler


_OPENED: weakref.WeakSet[logging.Handler] = weakref.WeakSet()  # the log files open_log_file opened


def configure_logging(
    *, json_lines: bool = False, verbose: bool = False, log_file: Path | None = None
) -> None:
    """Send logs to stderr, as JSON lines or as plain text; with log_file, the same lines to that file too.

    Raises LogFileError (nothing changed) when log_file cannot be opened. A log file this set up before
    is closed when it is set up again."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        handlers.append(open_log_file(log_file))
    for handler in handlers:
        handler.setFormatter(
            JsonLinesFormatter()
            if json_lines
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    for old in root.handlers:
        if old in _OPENED:
            old.close()
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if verbose else logging.INFO if json_lines else logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
