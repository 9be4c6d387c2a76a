"""The scheduler's alerts sent without the database, kept in a small file in the data directory.

A start refused before the database opened (an invalid setting, a bad catalogue, the database itself
unreachable) is alerted without alert_state. Cron's `scheduler.py --once` is a new process each run: kept
in memory only, the same problem was alerted again at every run and its all-clear never sent. The ledger
(kestava.alerts.UnrecordedStore) keeps each such problem's first sighting and last alert in
`<data dir>/scheduler-alerts.json`, written atomically (common.atomic.publish_file), so that the repeat rule
holds across runs; the first start that opens the database moves it into alert_state
(Alerter.merge_unrecorded), where its all-clear comes from.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path

from common.atomic import exclusive, publish_file
from common.config import DEFAULT_DATA_DIR, get_settings
from kestava.alerts import Unrecorded

log = logging.getLogger("scheduler")
LEDGER_NAME = "scheduler-alerts.json"


def ledger_path() -> Path:
    """The ledger in the data directory (KESTAVA_DATA_DIR, read alone when other settings are invalid)."""
    try:
        data_dir = get_settings().data_dir
    except Exception:  # an invalid setting: the very start failure the ledger is to keep
        data_dir = Path(os.environ.get("KESTAVA_DATA_DIR") or DEFAULT_DATA_DIR)
    return data_dir / LEDGER_NAME


class AlertLedger:
    """An UnrecordedStore in a JSON file: {key: {"first_seen": iso, "last_sent": iso}} (naive UTC); no file
    when it keeps nothing. A file that cannot be read counts as empty, one that cannot be written is logged:
    alerting goes on either way."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The file to this process alone while the block runs (common.atomic.exclusive): two cron runs at
        once each load, change and save it. A lock that cannot be taken (no data directory yet) is logged
        and the block runs all the same: alerting goes on."""
        holding = contextlib.ExitStack()
        try:
            holding.enter_context(exclusive(self.path))
        except OSError as error:
            log.warning("alert ledger %s not locked (runs at once may each write it): %s", self.path, error)
        with holding:
            yield

    def load(self) -> dict[str, Unrecorded]:
        """The problems kept."""
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
            return {
                str(key): (
                    datetime.fromisoformat(times["first_seen"]),
                    datetime.fromisoformat(times["last_sent"]),
                )
                for key, times in entries.items()
            }
        except FileNotFoundError:
            return {}
        except Exception as error:
            log.warning("alert ledger %s unreadable (taken as empty): %s", self.path, error)
            return {}

    def save(self, entries: Mapping[str, Unrecorded]) -> None:
        """Keep entries, replacing what was kept (in one rename: never half a file)."""
        try:
            if not entries:
                self.path.unlink(missing_ok=True)
                return
            body = {
                key: {"first_seen": first_seen.isoformat(), "last_sent": last_sent.isoformat()}
                for key, (first_seen, last_sent) in sorted(entries.items())
            }
            with publish_file(self.path) as part:
                part.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
        except Exception as error:
            log.warning("alert ledger %s not written: %s", self.path, error)
