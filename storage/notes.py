"""Staff notes: add, edit, withdraw and list a person's Markdown notes on an indicator for a period."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Engine, exists, select, update
from sqlalchemy.orm import aliased

from common.errors import KestavaError
from storage import schema
from storage.breakdowns import with_breakdowns

LANGS: Final = ("fi", "sv", "en")
HOME_AREA: Final = "049"  # Espoo
MAX_BODY: Final = 20_000  # characters of Markdown
MAX_AUTHOR: Final = 255
_PERIOD_RE: Final = re.compile(r"^(\d{4})(?:-(?:H([12])|Q([1-4])|W(\d{2})|(\d{2})))?$")
_AREA_RE: Final = re.compile(r"^[A-Za-z0-9_]{1,32}$")
PERIOD_FORMATS: Final = "YYYY, YYYY-H1/H2, YYYY-Q1…Q4, YYYY-MM or YYYY-Www (e.g. 2024, 2026-H1, 2026-W45)"


class NoteError(KestavaError, ValueError):
    """A note that cannot be stored or changed; the message names the field and what was expected."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Note:
    """One stored version of a note; `replaces` is the version it edits, `withdrawn_at` set once withdrawn."""

    id: int
    indicator_id: str
    area: str
    period: str
    lang: str
    body: str
    author: str
    created_at: datetime
    replaces: int | None
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawn_why: str | None

    @property
    def first_day(self) -> date:
        return period_bounds(self.period)[0]


def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a period written YYYY, YYYY-Hn, YYYY-Qn, YYYY-MM or YYYY-Www (ISO week).

    NoteError (field "period") for anything else, e.g. 2026-H3, 2026-13 or week 53 of a 52-week year."""
    match = _PERIOD_RE.match(period.strip()) if isinstance(period, str) else None
    bad = NoteError("period", f"expected {PERIOD_FORMATS}, got {period!r}")
    if match is None:
        raise bad
    year = int(match.group(1))
    half, quarter, week, month = match.group(2, 3, 4, 5)
    if year < 1900 or year > 2200:
        raise bad
    if half:
        first = date(year, 1 if half == "1" else 7, 1)
        return first, date(year, 6, 30) if half == "1" else date(year, 12, 31)
    if quarter:
        start = 3 * (int(quarter) - 1) + 1
        return date(year, start, 1), _month_end(year, start + 2)
    if month:
        if not 1 <= int(month) <= 12:
            raise bad
        return date(year, int(month), 1), _month_end(year, int(month))
    if week:
        weeks = date(year, 12, 28).isocalendar().week
        if not 1 <= int(week) <= weeks:
            raise bad
        first = date.fromisocalendar(year, int(week), 1)
        return first, first + timedelta(days=6)
    return date(year, 1, 1), date(year, 12, 31)


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def check_period(period: str) -> str:
    """The period (stripped), if period_bounds reads it; NoteError (field "period") otherwise."""
    period_bounds(period)
    return period.strip()


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise NoteError("lang", f"expected one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def check_indicator(indicator_id: str, known: Collection[str]) -> str:
    """The indicator id, if the catalogue knows it (a breakdown part <id>.<key> by its own id or its
    parent's); NoteError naming the nearest ids otherwise."""
    if indicator_id in known:
        return indicator_id
    close = difflib.get_close_matches(indicator_id, sorted(known), n=5, cutoff=0.5)
    hint = f"; nearest: {', '.join(close)}" if close else ""
    raise NoteError("indicator", f"unknown indicator {indicator_id!r}{hint}")


def _check_area(area: str) -> str:
    if not isinstance(area, str) or not _AREA_RE.match(area):
        raise NoteError("area", f"expected an area code such as {HOME_AREA} (Espoo), got {area!r}")
    return area


def _check_body(body: str) -> str:
    if not isinstance(body, str) or not body.strip():
        raise NoteError("text", "expected the note's text (Markdown), got an empty text")
    if len(body) > MAX_BODY:
        raise NoteError("text", f"expected at most {MAX_BODY} characters, got {len(body)}")
    return body.strip("\n")


def check_person(value: str, field: str = "author") -> str:
    """The name (stripped), if it is given and not too long; NoteError (field) otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise NoteError(field, "expected a person's name, got nothing")
    if len(value.strip()) > MAX_AUTHOR:
        raise NoteError(field, f"expected at most {MAX_AUTHOR} characters, got {len(value.strip())}")
    return value.strip()


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _note(row: Any) -> Note:
    return Note(**{column: row._mapping[column] for column in Note.__dataclass_fields__})


def _get(conn: Connection, note_id: int) -> Note:
    row = conn.execute(select(schema.note).where(schema.note.c.id == note_id)).first()
    if row is None:
        raise NoteError("id", f"no note with id {note_id}")
    return _note(row)


def _current_or_error(conn: Connection, note_id: int) -> Note:
    """The note, if it is current (neither edited nor withdrawn); NoteError saying which id is current."""
    found = _get(conn, note_id)
    newer = conn.execute(select(schema.note.c.id).where(schema.note.c.replaces == note_id)).scalar()
    if newer is not None:
        latest = _latest(conn, int(newer))
        raise NoteError("id", f"note {note_id} was edited: its current version is note {latest}")
    if found.withdrawn_at is not None:
        raise NoteError(
            "id", f"note {note_id} was withdrawn by {found.withdrawn_by} on {found.withdrawn_at:%Y-%m-%d}"
        )
    return found


def _latest(conn: Connection, note_id: int) -> int:
    while True:
        newer = conn.execute(select(schema.note.c.id).where(schema.note.c.replaces == note_id)).scalar()
        if newer is None:
            return note_id
        note_id = int(newer)


def add_note(
    engine: Engine,
    indicator_id: str,
    *,
    period: str,
    lang: str,
    body: str,
    author: str,
    known_indicators: Collection[str],
    area: str = HOME_AREA,
    now: datetime | None = None,
) -> Note:
    """Store a new note (Markdown `body`) on an indicator of the catalogue (`known_indicators`: its ids and
    breakdown parts) for a period, in one language; NoteError naming the field for any bad input."""
    values = {
        "indicator_id": check_indicator(indicator_id, known_indicators),
        "area": _check_area(area),
        "period": check_period(period),
        "lang": check_lang(lang),
        "body": _check_body(body),
        "author": check_person(author, "author"),
        "created_at": _now(now),
    }
    with engine.begin() as conn:
        note_id = conn.execute(schema.note.insert().values(values)).inserted_primary_key[0]  # type: ignore[index]
        return _get(conn, int(note_id))


def edit_note(
    engine: Engine,
    note_id: int,
    *,
    author: str,
    body: str | None = None,
    period: str | None = None,
    lang: str | None = None,
    area: str | None = None,
    now: datetime | None = None,
) -> Note:
    """Store a new version of a current note that replaces it (the old one is kept); unchanged fields are
    carried over. NoteError when the note does not exist, was already edited or withdrawn, or a field is
    bad."""
    with engine.begin() as conn:
        old = _current_or_error(conn, note_id)
        values = {
            "indicator_id": old.indicator_id,
            "area": old.area if area is None else _check_area(area),
            "period": old.period if period is None else check_period(period),
            "lang": old.lang if lang is None else check_lang(lang),
            "body": old.body if body is None else _check_body(body),
            "author": check_person(author, "author"),
            "created_at": _now(now),
            "replaces": old.id,
        }
        if all(values[k] == getattr(old, k) for k in ("area", "period", "lang", "body")):
            unchanged = "the same text, period, language and area"
            raise NoteError("text", f"expected a change to note {note_id}, got {unchanged}")
        new_id = conn.execute(schema.note.insert().values(values)).inserted_primary_key[0]  # type: ignore[index]
        return _get(conn, int(new_id))


def withdraw_note(
    engine: Engine, note_id: int, *, author: str, why: str, now: datetime | None = None
) -> Note:
    """Withdraw a current note: it stays in the database marked with who withdrew it, why and when."""
    who = check_person(author, "author")
    if not isinstance(why, str) or not why.strip():
        raise NoteError("why", "expected the reason for withdrawing the note, got nothing")
    with engine.begin() as conn:
        _current_or_error(conn, note_id)
        conn.execute(
            update(schema.note)
            .where(schema.note.c.id == note_id, schema.note.c.withdrawn_at.is_(None))
            .values(withdrawn_at=_now(now), withdrawn_by=who, withdrawn_why=why.strip())
        )
        return _get(conn, note_id)


def list_notes(
    engine: Engine,
    *,
    indicator: str | Sequence[str] | None = None,
    area: str | Sequence[str] | None = None,
    period: str | Sequence[str] | None = None,
    lang: str | Sequence[str] | None = None,
    history: bool = False,
    breakdowns: bool = False,
) -> list[Note]:
    """The current notes (neither edited nor withdrawn), or with `history` every version, filtered by
    indicator, area, period and language (each one value or several), in the order indicator, area,
    period, language, creation; with `breakdowns` an indicator id also selects its breakdown's parts
    ('ghg_by_sector' → 'ghg_by_sector.transport', as storage.breakdowns.with_breakdowns)."""
    note = schema.note
    newer = aliased(note)
    query = select(note)
    if not history:
        query = query.where(note.c.withdrawn_at.is_(None), ~exists().where(newer.c.replaces == note.c.id))
    for column, wanted in (
        (note.c.indicator_id, indicator),
        (note.c.area, area),
        (note.c.period, period),
        (note.c.lang, lang),
    ):
        if wanted is None:
            continue
        given = [wanted] if isinstance(wanted, str) else list(wanted)
        if breakdowns and column is note.c.indicator_id:
            query = query.where(with_breakdowns(column, given))
        else:
            query = query.where(column.in_(given))
    query = query.order_by(note.c.indicator_id, note.c.area, note.c.period, note.c.lang, note.c.id)
    with engine.connect() as conn:
        return [_note(row) for row in conn.execute(query)]


def versions(engine: Engine, note_id: int) -> list[Note]:
    """Every version of a note, oldest first: the one it started as, each edit, the current one."""
    with engine.connect() as conn:
        chain = [_get(conn, note_id)]
        while chain[0].replaces is not None:
            chain.insert(0, _get(conn, chain[0].replaces))
        while True:
            newer = conn.execute(select(schema.note).where(schema.note.c.replaces == chain[-1].id)).first()
            if newer is None:
                return chain
            chain.append(_note(newer))
