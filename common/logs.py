"""Logging setup: readable lines on a terminal, or one JSON object per line for log collectors."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

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


def configure_logging(*, json_lines: bool = False, verbose: bool = False) -> None:
    """Send logs to stderr, as JSON lines or as plain text."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO if json_lines else logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
