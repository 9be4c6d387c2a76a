"""Staff notes in the council report: the current notes up to its period, in its language, as HTML."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import cache

from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import Engine

from report.i18n import format_date, format_period, t
from storage.notes import Note, list_notes, period_bounds


@cache
def _markdown() -> MarkdownIt:
    # CommonMark without raw HTML (written as text), images (a request to another host) or headings (the
    # report's own heading outline); links to javascript: and other unsafe schemes are not made links
    return MarkdownIt("commonmark", {"html": False}).disable(["image", "heading", "lheading"])


def render_markdown(text: str) -> Markup:
    """A note's Markdown as HTML safe to put in the page: any HTML in the note is shown as text."""
    return Markup(_markdown().render(text))  # noqa: S704 - markdown-it escapes all text; raw HTML is off


def note_html(note: Note, lang: str) -> Markup:
    """One note as the report shows it: who wrote it, when and for which period, then its text."""
    meta = t(
        "report.note_meta",
        lang,
        author=note.author,
        date=format_date(note.created_at.date(), lang),
        period=format_period(note.period, lang),
    )
    return Markup('<div class="staff-note"><p class="note-meta">{}</p>{}</div>').format(
        meta, render_markdown(note.body)
    )


def report_notes(engine: Engine, last_day: date, lang: str) -> Mapping[tuple[str, str], Markup]:
    """The current notes in lang for periods that begin by `last_day` (the report period's last day), by
    (indicator id, area), the newest period first, each group as one piece of HTML."""
    grouped: dict[tuple[str, str], list[Note]] = {}
    for note in list_notes(engine, lang=lang):
        if period_bounds(note.period)[0] <= last_day:
            grouped.setdefault((note.indicator_id, note.area), []).append(note)
    return {
        key: Markup("").join(
            note_html(n, lang)
            for n in sorted(found, key=lambda n: (period_bounds(n.period)[0], n.id), reverse=True)
        )
        for key, found in grouped.items()
    }
