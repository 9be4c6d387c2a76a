"""What kind of data a database holds, demo (the bundled snapshot) or live, and the refusal to mix them.

Every snapshot records whether its payloads were demo data (`snapshot.is_demo`: the bundled snapshot's
manifest label "demo", or a live fetch): the first load of a database decides its kind, and a load of the
other kind is refused (MixedDataError), so that no report, site or export shows demo numbers among live
ones. KESTAVA_ALLOW_MIXED_DATA=true allows both (a test or demonstration database). The commands and the
scheduler's start check it before anything is fetched; storage.load checks it again in each load's
transaction, before it writes (PostgreSQL: under an advisory lock, so that a demo and a live load starting
together cannot both find the database empty).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select, text

from common.errors import MixedDataError
from storage import schema
from storage.engine import safe_url

__all__ = ["Held", "check_data_kind", "held_data", "held_kind", "refuse_mixing"]

ALLOW_SETTING = "KESTAVA_ALLOW_MIXED_DATA"
# what each kind is, in the refusal's words
_WHAT = {
    True: "demo data (the bundled snapshot, labelled demo)",
    False: "live data (fetched from the sources)",
}
_LOADING = {
    True: "demo data (the bundled snapshot: `kestava ingest`/`run` without --live, the scheduler with "
    "--offline)",
    False: "live data (`--live`, or the scheduler without --offline)",
}
# PostgreSQL: the lock a load takes in its transaction before it reads the kinds (one per schema): shared
# by live loads (they run side by side), exclusive for a demo load, so that loads of the two kinds wait for
# each other's commit and the second sees the first's snapshot
_PG_LOCK = "SELECT pg_advisory_xact_lock{mode}(hashtextextended('kestava data kind ' || current_schema(), 0))"


@dataclass(frozen=True)
class Held:
    """The snapshots of one kind a database holds: how many, and when the first was fetched (naive UTC)."""

    demo: bool
    snapshots: int
    since: datetime

    def describe(self) -> str:
        return f"{_WHAT[self.demo]}: {self.snapshots} snapshot(s) since {self.since:%Y-%m-%d}"


def held_data(conn: Connection) -> list[Held]:
    """The kinds of data the database holds (none when it holds no snapshot)."""
    snap = schema.snapshot
    rows = conn.execute(
        select(snap.c.is_demo, func.count(), func.min(snap.c.fetched_at)).group_by(snap.c.is_demo)
    ).all()
    return sorted(
        (Held(bool(demo), int(count), since) for demo, count, since in rows), key=lambda h: not h.demo
    )


def held_kind(held: Sequence[Held]) -> str:
    """What held_data found, in a word: empty (no snapshot), demo, live, or mixed (both: loaded before the
    refusal existed, or while KESTAVA_ALLOW_MIXED_DATA allowed it)."""
    kinds = {h.demo for h in held}
    if not kinds:
        return "empty"
    if len(kinds) > 1:
        return "mixed"
    return "demo" if True in kinds else "live"


def refuse_mixing(
    conn: Connection,
    demo: bool,
    *,
    allowed: bool | None = None,
    where: str = "the database",
    lock: bool = False,
) -> None:
    """Raise MixedDataError when the database holds data of the other kind than `demo` (a load of demo data
    into a database with live data, or of live data into one with demo data), unless allowed (default: the
    setting KESTAVA_ALLOW_MIXED_DATA). lock: first take the PostgreSQL lock of the kinds for the rest of
    conn's transaction (a load about to write)."""
    if allowed is None:
        from common.config import get_settings

        allowed = get_settings().allow_mixed_data
    if allowed:
        return
    if lock and conn.dialect.name == "postgresql":
        conn.execute(text(_PG_LOCK.format(mode="" if demo else "_shared")))
    held = held_data(conn)
    other = [h for h in held if h.demo != demo]
    if not other:
        return
    holds = " and ".join(h.describe() for h in held)
    if len(held) > 1:
        holds += f" (both: loaded before this check existed, or while {ALLOW_SETTING} allowed it)"
        remedy = (
            "give the live data a new database of their own (a new KESTAVA_DATABASE_URL, made with `kestava "
            "migrate`, then `kestava ingest --live`; this one may be kept for its history)"
        )
    elif demo:
        remedy = (
            "load the demo data into a database of their own (another KESTAVA_DATABASE_URL, e.g. the quick "
            "start's SQLite file)"
        )
    else:
        remedy = (
            "give the live data a database of their own (a new KESTAVA_DATABASE_URL, made with `kestava "
            "migrate`; this one holds no live data and may be dropped and made again)"
        )
    raise MixedDataError(
        f"{where} holds {holds}; this would load {_LOADING[demo]}: demo and live data are never "
        f"mixed in one database (its reports would show demo numbers among live ones), nothing was "
        f"loaded. To proceed, {remedy}, or, for a test or demonstration database only, set "
        f"{ALLOW_SETTING}=true"
    )


def check_data_kind(engine: Engine, demo: bool, *, allowed: bool | None = None) -> None:
    """refuse_mixing before a run fetches anything (the commands, the scheduler's start), the database
    named without its password."""
    with engine.connect() as conn:
        refuse_mixing(conn, demo, allowed=allowed, where=f"the database at {safe_url(engine)}")
