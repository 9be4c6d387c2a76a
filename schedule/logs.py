"""The scheduler's logging: common.logs at INFO, with secret values masked in every line."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from common.logs import configure_logging


def setup_logging(
    *, json_lines: bool, verbose: bool, secrets: Sequence[str], log_file: Path | None = None
) -> None:
    """common.logs (JSON lines on request) at INFO, with secrets masked in every line: on stderr and in the
    log file alike (each handler's formatter masks). Raises common.logs.LogFileError (nothing changed) when
    log_file cannot be opened."""
    configure_logging(json_lines=json_lines, verbose=verbose, log_file=log_file, secrets=secrets)
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def duration(seconds: float) -> str:
    """A duration for a log line or an alert: 0.5 s, 45 s, 12 min, 3.5 h."""
    if seconds < 120:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
