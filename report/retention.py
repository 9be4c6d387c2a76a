"""Retention of the weekly reports: after KESTAVA_REPORT_KEEP_WEEKS weeks a report keeps its light files only.

A week's report in fi, sv and en is about 27 MB: report.html (about 2.9 MB per language: the Vega
libraries and every chart's still image inlined, so it is whole on its own), a CSV per chart (about
0.05 MB per language) and, per chart, a PNG (5.5 MB per language), an SVG (0.45 MB) and an XLSX
(0.1 MB). Kept for good, the reports fill the disk (1.4 GB a year against the 2 GB the health check
alerts under). So a weekly report older than the setting keeps what a reader or a citation needs — the
page, which still shows every chart (drawn by the page, or its inlined image) with its data table, and the
CSV of every chart's data — and loses the PNG, SVG and XLSX files (HEAVY_SUFFIXES), 18.2 MB a week.

Only the weekly folders `<report dir>/<YYYY-Www>/<lang>/` are pruned: the current week and the `keep_weeks`
weeks before it are never touched, nor any half-yearly council report (two a year), nor anything this
module does not recognise (a folder that is not the `common.atomic` layout, holds a link or a sub-folder,
or has no report.html). A pruned report's page is rewritten so that it links nothing that was removed: the
removed files' download links give way to a note saying they were removed after N weeks (the CSV link
stays), and the attribute that named the PNG as the page's fallback image goes (the inlined image stays).
The rewritten page is checked to link none of the removed files before anything is removed; if it still
would (a page this code does not know how to rewrite), the folder is left whole, with a warning.

Each folder is pruned in one step (common.atomic.publish_directory): its kept files are hard-linked into a
new version folder with the rewritten page, which then replaces the published one. A run that fails or is
killed midway leaves the previous complete folder published (a reader, and the site's archive, never find
a page whose downloads are half gone); the next prune tries again. A folder written again meanwhile (its
link points to another version than the one planned) is left whole: a plain folder from before that
layout is first made a version folder, under the lock the report writer takes, so that this holds for it
too. The site's archive (report/site) links
the files of the published folders only, so after its next build it holds no removed file either.
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Final
from urllib.parse import unquote, urlsplit

from common.atomic import exclusive, link_or_copy, publish_directory, recover
from common.config import get_settings
from common.helsinki import HELSINKI
from report.i18n import LANGS, t
from report.weekly import current_week, parse_week

log = logging.getLogger(__name__)

HEAVY_SUFFIXES: Final[tuple[str, ...]] = (".png", ".svg", ".xlsx")
HTML_NAME: Final = "report.html"

# the report's downloads paragraph (report.html.j2, chart_block): its links to the chart's files
_DOWNLOADS: Final = re.compile(r'(<p class="downloads">)(.*?)(</p>)', re.DOTALL)
_ANCHOR: Final = re.compile(r'<a href="([^"]*)"[^>]*>.*?</a>', re.DOTALL)
_SEPARATOR: Final = " · "
# the chart's PNG named as the page's fallback image when the interactive chart cannot be drawn
_DATA_PNG: Final = re.compile(r' data-png="([^"]*)"')


@dataclass(frozen=True)
class PrunedFolder:
    """One report folder pruned: its week and language, the files removed and their bytes."""

    period: str
    lang: str
    files: tuple[str, ...]
    bytes: int


@dataclass
class PruneResult:
    """What a prune did: the folders pruned, those left whole with the reason, and those that failed."""

    keep_weeks: int
    cutoff: str | None = None  # the oldest week kept whole (None: nothing is pruned)
    pruned: list[PrunedFolder] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (folder, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (folder, error)

    @property
    def bytes_freed(self) -> int:
        return sum(p.bytes for p in self.pruned)

    @property
    def files_removed(self) -> int:
        return sum(len(p.files) for p in self.pruned)

    def summary(self) -> str | None:
        """One line for the operator, or None when there was nothing to prune and nothing went wrong."""
        if not self.pruned and not self.failed and not self.skipped:
            return None
        parts = []
        if self.pruned:
            weeks = sorted({p.period for p in self.pruned})
            named = weeks[0] if len(weeks) == 1 else f"{weeks[0]} … {weeks[-1]}"
            parts.append(
                f"removed the PNG, SVG and XLSX files of {len(self.pruned)} report folder(s) of "
                f"{len(weeks)} week(s) ({named}) older than {self.keep_weeks} weeks: "
                f"{self.files_removed} files, {self.bytes_freed / 1e6:.1f} MB freed"
            )
        if self.skipped:
            first, why = self.skipped[0]
            parts.append(f"{len(self.skipped)} folder(s) left whole ({first}: {why})")
        if self.failed:
            first, why = self.failed[0]
            parts.append(f"{len(self.failed)} folder(s) failed ({first}: {why})")
        return "reports: " + "; ".join(parts)


def week_start(key: str) -> date | None:
    """The Monday of an ISO week folder's name as `kestava report --week` names it (report.weekly.parse_week:
    2026-W45), None if the name is not one, written exactly so."""
    try:
        week = parse_week(key)
    except ValueError:
        return None
    return week.first_day if week.key == key else None


def helsinki_today() -> date:
    """Today in Finland: the reports' weeks are Finnish weeks."""
    return datetime.now(HELSINKI).date()


def oldest_kept(keep_weeks: int, today: date) -> date:
    """The Monday of the oldest week kept whole: the current week and the keep_weeks weeks before it."""
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=keep_weeks)


class _References(HTMLParser):
    """Every URL a page names in an attribute that a browser fetches or follows (href, src, data-png)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if value and name in ("href", "src", "data-png"))


def linked_files(page: str) -> set[str]:
    """The names of the files beside the page that it links (relative URLs with no folder part)."""
    parser = _References()
    parser.feed(page)
    parser.close()
    names = set()
    for url in parser.urls:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        names.add(unquote(parts.path))
    return names


def strip_removed(page: str, removed: Collection[str], note: str) -> str:
    """The report page with no link to the removed files: in each downloads paragraph that linked one, the
    links left (the CSV) and then the note; the fallback image attribute naming a removed PNG dropped."""

    def downloads(match: re.Match[str]) -> str:
        opening, body, closing = match.groups()
        anchors = list(_ANCHOR.finditer(body))
        gone = [a for a in anchors if unquote(html.unescape(a.group(1))) in removed]
        if not gone:
            return match.group(0)
        kept = [a.group(0) for a in anchors if a not in gone]
        lead = body[: anchors[0].start()] if anchors else body
        shown = _SEPARATOR.join(kept)
        return f'{opening}{lead}{shown}{" " if shown else ""}<span class="pruned">{note}</span>{closing}'

    page = _DOWNLOADS.sub(downloads, page)
    return _DATA_PNG.sub(
        lambda m: "" if unquote(html.unescape(m.group(1))) in removed else m.group(0),
        page,
    )


@dataclass(frozen=True)
class _Plan:
    final: Path  # <root>/<period>/<lang>, the published link
    version: Path  # the version folder it links to
    kept: tuple[str, ...]
    removed: tuple[tuple[str, int], ...]  # (name, bytes)
    page: str  # the rewritten report.html


class _LeftWhole(Exception):  # noqa: N818 - a reason, not an error
    """The folder is left as it is, for the reason given."""


def _version_of(final: Path, lang: str) -> Path:
    """The folder a published report folder's link points to, checked to be its own version folder beside
    it (common.atomic: <period>/.<lang>.<token>); a plain folder (from before that layout) is itself."""
    if not final.is_symlink():
        if not final.is_dir():
            raise _LeftWhole("not a folder")
        return final
    target = final.readlink()
    if target.is_absolute() or len(target.parts) != 1 or not target.name.startswith(f".{lang}."):
        raise _LeftWhole(f"links to {target}, not to a version folder beside it")
    version = final.parent / target
    if version.is_symlink() or not version.is_dir():
        raise _LeftWhole(f"links to {target}, which is not a folder")
    return version


def _versioned(final: Path) -> None:
    """A plain report folder (from before common.atomic's layout) made the first version folder final links
    to, in one rename under the lock a report writer takes (common.atomic.recover), before it is planned:
    a report written while it is pruned then publishes another version, which _apply finds. (Pruned in
    place, a plain folder that `kestava report` wrote again meanwhile had the old page put over the new.)"""
    if final.is_symlink() or not final.is_dir():
        return
    with exclusive(final):
        recover(final)


def _plan(final: Path, lang: str, keep_weeks: int) -> _Plan | None:
    """What pruning the folder would do (None: it holds no heavy file, e.g. pruned already); a plain folder
    is made a version folder first (_versioned)."""
    _versioned(final)
    version = _version_of(final, lang)
    kept, removed = [], []
    with os.scandir(version) as entries:
        for entry in entries:
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                raise _LeftWhole(f"holds {entry.name!r}, which is not a plain file")
            if entry.name.endswith(HEAVY_SUFFIXES):
                removed.append((entry.name, entry.stat(follow_symlinks=False).st_size))
            else:
                kept.append(entry.name)
    if not removed:
        return None
    if HTML_NAME not in kept:
        raise _LeftWhole(f"has no {HTML_NAME}")
    names = {name for name, _ in removed}
    note = t("report.pruned_note", lang, weeks=keep_weeks)
    pages = {}
    for name in kept:
        if name.endswith((".html", ".htm")):
            text = (version / name).read_text(encoding="utf-8")
            pages[name] = strip_removed(text, names, html.escape(note)) if name == HTML_NAME else text
    for name, text in pages.items():
        dead = sorted(linked_files(text) & names)
        if dead:
            raise _LeftWhole(f"{name} would still link {', '.join(dead[:3])}")
    return _Plan(final, version, tuple(sorted(kept)), tuple(sorted(removed)), pages[HTML_NAME])


def _apply(plan: _Plan) -> None:
    """Publish the pruned folder in one step; the folder is left as it was if it changed meanwhile."""
    with publish_directory(plan.final) as folder:  # holds the folder's lock (a report being written)
        # the published folder is still the one planned (no report was written into it meanwhile)
        source = _version_of(plan.final, plan.final.name)
        if source != plan.version:
            raise _LeftWhole("written again while it was being pruned")
        for name in plan.kept:
            if name == HTML_NAME:
                (folder / name).write_text(plan.page, encoding="utf-8")
            else:
                link_or_copy(source / name, folder / name)


def prune_reports(
    root: Path,
    keep_weeks: int,
    *,
    today: date | None = None,
    spare: Sequence[str] = (),
    langs: Sequence[str] = LANGS,
) -> PruneResult:
    """Remove the PNG, SVG and XLSX files of the weekly reports under root older than keep_weeks weeks
    (the current week and the keep_weeks weeks before it kept whole; 0: nothing is removed). `spare`: weeks
    left whole all the same (a report `kestava report --week` has just written). Each folder is pruned in
    one step or left as it was; an error in one folder is recorded and the others are still pruned."""
    result = PruneResult(keep_weeks)
    if keep_weeks <= 0 or not root.is_dir():
        return result
    today = today or helsinki_today()
    oldest = oldest_kept(keep_weeks, today)
    result.cutoff = current_week(oldest).key
    try:
        period_dirs = sorted(root.iterdir())
    except OSError as error:
        log.warning("reports: %s could not be read, nothing pruned: %s", root, error)
        result.failed.append((str(root), str(error)))
        return result
    for period_dir in period_dirs:
        start = week_start(period_dir.name)
        if start is None or start >= oldest or period_dir.name in spare:
            continue
        if period_dir.is_symlink() or not period_dir.is_dir():  # never followed out of the report folder
            log.warning("reports: %s left whole: a link or not a folder", period_dir.name)
            result.skipped.append((period_dir.name, "a link or not a folder"))
            continue
        removed: list[PrunedFolder] = []
        for lang in langs:
            final = period_dir / lang
            shown = f"{period_dir.name}/{lang}"
            if not final.is_symlink() and not final.exists():
                continue
            try:
                plan = _plan(final, lang, keep_weeks)
                if plan is None:
                    continue
                _apply(plan)
            except _LeftWhole as why:
                log.warning("reports: %s left whole: %s", shown, why)
                result.skipped.append((shown, str(why)))
                continue
            except (OSError, UnicodeDecodeError) as error:
                log.warning("reports: %s could not be pruned (left as it was): %s", shown, error)
                result.failed.append((shown, str(error)))
                continue
            removed.append(
                PrunedFolder(
                    period_dir.name,
                    lang,
                    tuple(name for name, _ in plan.removed),
                    sum(size for _, size in plan.removed),
                )
            )
        if removed:
            log.info(
                "reports: pruned %s (%s): removed %d PNG, SVG and XLSX files, %.1f MB freed",
                period_dir.name,
                ", ".join(p.lang for p in removed),
                sum(len(p.files) for p in removed),
                sum(p.bytes for p in removed) / 1e6,
            )
            result.pruned.extend(removed)
    return result


def prune_configured_reports(*, today: date | None = None, spare: Sequence[str] = ()) -> PruneResult:
    """prune_reports on the configured report folder with KESTAVA_REPORT_KEEP_WEEKS, as the scheduler's
    weekly report and `kestava report`/`run` call it after publishing: an error is recorded in the result's
    `failed`, never raised (the reports were published, their run stays good; the next prune retries)."""
    settings = get_settings()
    try:
        return prune_reports(settings.reports, settings.report_keep_weeks, today=today, spare=spare)
    except Exception as error:
        result = PruneResult(settings.report_keep_weeks)
        result.failed.append((str(settings.reports), f"pruning the old weekly reports failed: {error}"))
        return result
