"""Runs and lock leases left behind by dead processes of this host, closed at start (storage.orphans, which
every `kestava` command that records runs also calls), logged on the scheduler's log."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from storage import orphans

log = logging.getLogger("scheduler")


def reap_orphans(engine: Engine) -> tuple[int, int]:
    """Close runs left 'running' and drop lock leases by processes of this host that died; (runs, locks)."""
    return orphans.reap_orphans(engine, log)
