"""Retention of the weekly reports (report/retention.py, KESTAVA_REPORT_KEEP_WEEKS) and the site's reports
archive built only from what changed (report/site/build.py): old weeks keep their page and CSVs, every link
of the site and of the reports still resolves, an interrupted prune leaves every folder whole, and a
rebuild with an unchanged archive does not link the old folders again."""

from __future__ import annotations

import dataclasses
import html
import logging
import os
import shutil
import stat
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from common import atomic
from common.atomic import publish_directory
from common.config import Settings, get_settings
from report import retention, weekly
from report.i18n import LANGS, t
from report.render import Rendered, Renderer
from report.site import build as site_build
from report.site.build import MANIFEST, build_site
from report.site.links import check_site
from storage.engine import open_database
from tests.conftest import LoadedTemplates
from tests.site_fakes import PlaceholderRenderer, placeholder_xlsx

TODAY = date(2026, 11, 27)  # a Friday of 2026-W48
KEEP = 26
# weeks before TODAY's: 0–26 kept whole, 27 and older pruned
AGES = (0, 1, 25, 26, 27, 28, 40)
HEAVY = (".png", ".svg", ".xlsx")


def _png(width: int, height: int) -> bytes:
    """A small valid PNG (one grey row per line) of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class SmallPngRenderer(Renderer):
    """Placeholder drawings with a real (small) PNG: the report writes every file a drawn report has."""

    def __init__(self) -> None:
        super().__init__(workers=0)
        self.placeholder = PlaceholderRenderer()

    def submit(self, spec: dict[str, Any], *, svg_only: bool = False) -> Future[Rendered]:
        svg = self.placeholder.submit(spec).result().svg
        future: Future[Rendered] = Future()
        future.set_result(Rendered(svg, _png(64, 40), _png(32, 20)))
        return future


def week_key(age: int, today: date = TODAY) -> str:
    iso = (today - timedelta(weeks=age)).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


@dataclass
class Fixture:
    engine: Engine
    report: Path  # one real weekly report folder (its version folder), every file of a drawn report
    folder: Path


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, loaded_templates: LoadedTemplates) -> Iterator[Fixture]:
    folder = tmp_path_factory.mktemp("retention")
    with loaded_templates.copy("sqlite", folder) as url:
        engine = open_database(url)
        out = folder / "made"
        with SmallPngRenderer() as renderer:
            found = weekly.build_reports(
                engine, weekly.current_week(), ("fi",), out_dir=out, images=True, renderer=renderer
            )
        yield Fixture(engine, found["fi"].path.parent.resolve(), folder)
        engine.dispose()


def make_archive(source: Path, root: Path, weeks: list[str], langs: tuple[str, ...] = LANGS) -> None:
    """Report folders as the report writes them (a link to a version folder, common.atomic), each a copy of
    the real report's files."""
    for key in weeks:
        for lang in langs:
            with publish_directory(root / key / lang) as target:
                for file in source.iterdir():
                    shutil.copy2(file, target / file.name)


def snapshot(root: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """Every report folder's files: (inode, size) by name, by <period>/<lang>."""
    found = {}
    for period in sorted(root.iterdir()):
        if period.name.startswith("."):
            continue
        for lang in LANGS:
            folder = period / lang
            if folder.exists():
                found[f"{period.name}/{lang}"] = {
                    f.name: (f.stat().st_ino, f.stat().st_size) for f in folder.iterdir() if f.is_file()
                }
    return found


@pytest.fixture
def archive(made: Fixture, tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    make_archive(made.report, root, [week_key(age) for age in AGES])
    # a council report (half-year): never pruned
    make_archive(made.report, root, ["2025-H2"])
    return root


def test_the_real_report_links_its_heavy_files(made: Fixture) -> None:
    names = {f.name for f in made.report.iterdir()}
    assert "report.html" in names
    for suffix in (*HEAVY, ".csv"):
        assert any(n.endswith(suffix) for n in names), suffix
    linked = retention.linked_files((made.report / "report.html").read_text(encoding="utf-8"))
    assert {n for n in names if n.endswith(HEAVY)} <= linked  # what pruning must unlink


def test_pruning_keeps_recent_weeks_whole_and_removes_exactly_the_heavy_files_of_old_weeks(
    archive: Path,
) -> None:
    before = snapshot(archive)
    links = {f: os.readlink(archive / f) for f in before}
    result = retention.prune_reports(archive, KEEP, today=TODAY)
    after = snapshot(archive)
    assert set(after) == set(before)
    assert result.cutoff == week_key(KEEP)
    old = {week_key(age) for age in AGES if age > KEEP}
    expected_bytes = 0
    for folder, files in before.items():
        period, lang = folder.split("/")
        if period not in old:  # the current week, the last 26, the council report: untouched
            assert after[folder] == files, folder
            assert os.readlink(archive / folder) == links[folder]
            continue
        heavy = {name for name in files if name.endswith(HEAVY)}
        assert heavy and set(after[folder]) == set(files) - heavy, folder
        expected_bytes += sum(files[name][1] for name in heavy)
        for name, (inode, _) in after[folder].items():
            if name != "report.html":
                assert inode == files[name][0], name  # the CSVs are the same files, linked
        page = (archive / folder / "report.html").read_text(encoding="utf-8")
        assert retention.linked_files(page) <= set(after[folder]) | {f"../{o}/report.html" for o in LANGS}
        note = html.escape(t("report.pruned_note", lang, weeks=KEEP))
        assert page.count('class="downloads"') == page.count(f'<span class="pruned">{note}</span>') > 0
        assert ' data-png="' not in page
    assert {(p.period, p.lang) for p in result.pruned} == {(w, lang) for w in old for lang in LANGS}
    assert result.bytes_freed == expected_bytes
    assert result.files_removed == sum(
        1 for f in before if f.split("/")[0] in old for n in before[f] if n.endswith(HEAVY)
    )
    summary = result.summary()
    assert summary is not None and f"{result.bytes_freed / 1e6:.1f} MB freed" in summary
    assert f"older than {KEEP} weeks" in summary
    # nothing is left behind: no unfinished or superseded version folder
    for week in archive.iterdir():
        if not week.name.startswith("."):
            hidden = [p.name for p in week.iterdir() if p.name.startswith(".")]
            assert not [h for h in hidden if h.endswith(".part")]
            assert len([h for h in hidden if not h.endswith(".lock")]) == len(LANGS)
    # a second prune has nothing to do
    again = retention.prune_reports(archive, KEEP, today=TODAY)
    assert again.pruned == [] and again.summary() is None
    assert snapshot(archive) == after


def test_the_pruned_page_differs_only_in_its_downloads(archive: Path, made: Fixture) -> None:
    retention.prune_reports(archive, KEEP, today=TODAY)
    folder = archive / week_key(40) / "sv"
    page = (folder / "report.html").read_text(encoding="utf-8")
    original = (made.report / "report.html").read_text(encoding="utf-8")
    note = html.escape(t("report.pruned_note", "sv", weeks=KEEP))
    assert f'<span class="pruned">{note}</span>' in page
    heavy = {f.name for f in made.report.iterdir() if f.name.endswith(HEAVY)}
    assert page == retention.strip_removed(original, heavy, note)
    # the download paragraph keeps the CSV link, then the note
    csv = next(f.name for f in made.report.iterdir() if f.name.endswith(".csv"))
    assert f'<a href="{csv}" download>' in page
    # the still image inlined in the page stays: a reader without JavaScript still sees every chart
    assert page.count('<img class="static" src="data:image/png;base64,') == original.count(
        '<img class="static" src="data:image/png;base64,'
    )


def test_only_folders_named_as_the_report_names_a_week_are_pruned(made: Fixture, tmp_path: Path) -> None:
    """A week folder is one `kestava report --week` would name (report.weekly.parse_week, written exactly
    so): one named otherwise, though old, is left alone (not even counted as skipped)."""
    root = tmp_path / "reports"
    week = week_key(40)
    odd = [week.replace("-W", "-w"), week.replace("-W", "-W0"), "2025-W53", "1899-W01", f" {week}", "2025-H2"]
    make_archive(made.report, root, [week, *odd], ("fi",))
    assert [retention.week_start(name) for name in odd] == [None] * len(odd)  # 2025 has 52 weeks
    assert retention.week_start(week) == weekly.parse_week(week).first_day
    result = retention.prune_reports(root, KEEP, today=TODAY)
    assert [(p.period, p.lang) for p in result.pruned] == [(week, "fi")] and not result.skipped
    for name in odd:
        assert any(f.name.endswith(HEAVY) for f in (root / name / "fi").iterdir()), name


def test_keep_weeks_zero_keeps_every_file(archive: Path) -> None:
    before = snapshot(archive)
    result = retention.prune_reports(archive, 0, today=TODAY)
    assert result.pruned == [] and result.summary() is None and result.cutoff is None
    assert snapshot(archive) == before


def test_the_setting_defaults_to_26_weeks_and_refuses_a_negative_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KESTAVA_REPORT_KEEP_WEEKS", raising=False)
    assert Settings().report_keep_weeks == 26
    monkeypatch.setenv("KESTAVA_REPORT_KEEP_WEEKS", "0")
    assert Settings().report_keep_weeks == 0
    monkeypatch.setenv("KESTAVA_REPORT_KEEP_WEEKS", "-1")
    with pytest.raises(ValidationError):
        Settings()


def test_a_week_just_written_is_spared(archive: Path) -> None:
    spared = week_key(40)
    result = retention.prune_reports(archive, KEEP, today=TODAY, spare=(spared,))
    assert spared not in {p.period for p in result.pruned} and result.pruned
    assert any(f.name.endswith(".png") for f in (archive / spared / "fi").iterdir())


def test_pruning_never_follows_a_link_out_of_the_report_folder(archive: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree((archive / week_key(40) / "fi").resolve(), outside / "fi")
    # a language folder linking out of its week, and a week folder that is itself a link
    en = archive / week_key(40) / "en"
    en.unlink()
    en.symlink_to(outside / "fi", target_is_directory=True)
    linked_week = archive / week_key(45)
    linked_week.symlink_to(outside, target_is_directory=True)
    before = sorted(p.name for p in (outside / "fi").iterdir())
    result = retention.prune_reports(archive, KEEP, today=TODAY)
    assert sorted(p.name for p in (outside / "fi").iterdir()) == before
    assert (f"{week_key(40)}/en", f"links to {outside / 'fi'}, not to a version folder beside it") in (
        result.skipped
    )
    assert (week_key(45), "a link or not a folder") in result.skipped
    assert (week_key(40), "fi") in {(p.period, p.lang) for p in result.pruned}


def test_a_page_that_would_still_link_a_removed_file_is_left_whole(archive: Path) -> None:
    folder = archive / week_key(40) / "fi"
    version = folder.resolve()
    page = (version / "report.html").read_text(encoding="utf-8")
    png = next(p.name for p in version.iterdir() if p.name.endswith(".png"))
    (version / "report.html").write_text(
        page.replace("</footer>", f'<p><a href="{png}">kuva</a></p></footer>'), encoding="utf-8"
    )
    before = snapshot(archive)[f"{week_key(40)}/fi"]
    result = retention.prune_reports(archive, KEEP, today=TODAY)
    assert (f"{week_key(40)}/fi", f"report.html would still link {png}") in result.skipped
    assert snapshot(archive)[f"{week_key(40)}/fi"] == before


def _consistent(root: Path) -> None:
    """Every report folder is either whole (every file, the page as written) or pruned (no heavy file, its
    page linking only files that exist); no unfinished version folder is published."""
    for period in root.iterdir():
        if period.name.startswith("."):
            continue
        for lang in LANGS:
            folder = period / lang
            assert folder.resolve().parent == period.resolve()
            assert not folder.resolve().name.endswith(".part")
            names = {f.name for f in folder.iterdir()}
            page = (folder / "report.html").read_text(encoding="utf-8")
            linked = {n for n in retention.linked_files(page) if "/" not in n}
            assert linked <= names, (folder, linked - names)
            if any(n.endswith(HEAVY) for n in names):
                assert 'class="pruned"' not in page
            else:
                assert 'class="pruned"' in page


def test_a_prune_interrupted_between_files_leaves_every_folder_consistent(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    linked = 0
    original = atomic.link_or_copy  # what retention calls (imported from common.atomic)

    def failing(source: Path, target: Path) -> None:
        nonlocal linked
        linked += 1
        if linked == 20:  # in the middle of the second folder
            raise RuntimeError("power cut")
        original(source, target)

    monkeypatch.setattr(retention, "link_or_copy", failing)
    before = snapshot(archive)
    with pytest.raises(RuntimeError, match="power cut"):
        retention.prune_reports(archive, KEEP, today=TODAY)
    _consistent(archive)
    after = snapshot(archive)
    interrupted = f"{week_key(40)}/sv"  # the weeks are pruned oldest first, fi, sv, en
    assert after[interrupted] == before[interrupted]  # left exactly as it was
    assert not any(n.endswith(HEAVY) for n in after[f"{week_key(40)}/fi"])  # the first, done

    # an error in one folder (a full disk): that folder is left whole, the others are pruned
    linked = -1000
    calls = 0

    def disk_full(source: Path, target: Path) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise OSError(28, "No space left on device")
        original(source, target)

    monkeypatch.setattr(retention, "link_or_copy", disk_full)
    result = retention.prune_reports(archive, KEEP, today=TODAY)
    assert [f for f, _ in result.failed] == [interrupted]
    assert result.summary() is not None and "1 folder(s) failed" in str(result.summary())
    _consistent(archive)
    monkeypatch.setattr(retention, "link_or_copy", original)
    retention.prune_reports(archive, KEEP, today=TODAY)
    _consistent(archive)
    old = {week_key(age) for age in AGES if age > KEEP}
    for folder, files in snapshot(archive).items():
        assert any(n.endswith(HEAVY) for n in files) == (folder.split("/")[0] not in old), folder


def test_a_killed_prune_leaves_the_published_folder_and_the_next_prune_finishes(archive: Path) -> None:
    """A prune killed midway leaves an unfinished version folder beside the published one (as a killed
    report run does): readers and the site never see it, and the next prune deletes it."""
    period = archive / week_key(40)
    part = period / ".fi.00000000000000000001-999999-deadbeef.part"
    part.mkdir()
    (part / "report.html").write_text("<p>half</p>", encoding="utf-8")
    _consistent(archive)
    retention.prune_reports(archive, KEEP, today=TODAY)
    assert not part.exists()
    _consistent(archive)


def _inodes_and_times(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for file in root.resolve().rglob("*"):
        if file.is_file():
            found[file.relative_to(root.resolve()).as_posix()] = (file.stat().st_ino, file.stat().st_mtime_ns)
    return found


def _archive_hrefs(site: Path) -> int:
    """Check every href and src of the archive's pages (the reports page of each language and every
    archived report) by hand: each resolves to a file of the site. Returns how many were checked."""
    from report.retention import _References

    root = site.resolve()
    pages = [root / "en" / "reports.html", *sorted((root / "reports").rglob("*.html"))]
    checked = 0
    for page in pages:
        parser = _References()
        parser.feed(page.read_text(encoding="utf-8"))
        for url in parser.urls:
            if url.startswith(("data:", "http:", "https:", "#")):
                continue
            target = (page.parent / url.split("#")[0]).resolve()
            assert target.is_file() and target.is_relative_to(root), (page, url)
            checked += 1
    return checked


def test_the_site_archive_links_no_removed_file_and_a_rebuild_links_only_changed_folders(
    made: Fixture, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_build, "write_xlsx", placeholder_xlsx)
    site = tmp_path / "site"
    folders = len(AGES) * len(LANGS) + len(LANGS)

    def build() -> site_build.SiteResult:
        return build_site(
            made.engine, site, langs=("en",), report_root=archive, renderer=PlaceholderRenderer()
        )

    first = build()
    assert first.archive_linked == folders and first.archive_kept == 0
    assert check_site(site) == []
    old = week_key(40)
    assert (
        site
        / "reports"
        / old
        / "fi"
        / next(n for n in os.listdir(archive / old / "fi") if n.endswith(".png"))
    ).is_file()

    # a rebuild with nothing new: no archived folder is looked into, linked anew or synced again
    opened: list[str] = []
    synced: list[str] = []
    original_open, original_fsync = Path.open, os.fsync

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(self))
        return original_open(self, *args, **kwargs)

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        original_fsync(fd)

    before = _inodes_and_times(site)
    monkeypatch.setattr(Path, "open", open_)
    monkeypatch.setattr(os, "fsync", fsync)
    again = build()
    monkeypatch.setattr(Path, "open", original_open)
    monkeypatch.setattr(os, "fsync", original_fsync)
    assert again.archive_linked == 0 and again.archive_kept == folders
    assert again.written == []
    assert [p for p in opened if Path(p).resolve().is_relative_to(archive.resolve())] == []
    assert (
        synced and [p for p in synced if "/reports/" in p] == []
    )  # the archive's files were synced once, by the build that linked them
    after = _inodes_and_times(site)
    assert after.keys() == before.keys()
    assert {p: v for p, v in after.items() if p != MANIFEST} == {
        p: v for p, v in before.items() if p != MANIFEST
    }

    # prune, then rebuild: only the pruned folders are linked anew, and nothing links a removed file
    pruned = retention.prune_reports(archive, KEEP, today=TODAY)
    third = build()
    assert third.archive_linked == len(pruned.pruned) == 3 * len(LANGS)
    assert third.archive_kept == folders - third.archive_linked
    assert check_site(site) == []
    assert _archive_hrefs(site) > 100
    for entry in pruned.pruned:
        in_site = site / "reports" / entry.period / entry.lang
        assert not any(n.endswith(HEAVY) for n in os.listdir(in_site))
        assert sorted(os.listdir(in_site)) == sorted(os.listdir(archive / entry.period / entry.lang))

    # a new week: its folders alone are linked
    make_archive(made.report, archive, [week_key(-1)])
    fourth = build()
    assert fourth.archive_linked == len(LANGS) and fourth.archive_kept == folders
    assert check_site(site) == []


def test_a_folder_pruned_while_the_site_reads_it_is_read_again_not_published_in_part(
    made: Fixture, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kestava site` reading an old week's folder as the scheduler's prune switches it to its pruned version
    and deletes the old one: the files listed from the old version are gone (a listing of a deleted folder
    finds nothing); the build notices the switch and reads the new version, so that the archive holds the
    pruned folder whole (its page too), and the site no dead link."""
    monkeypatch.setattr(site_build, "write_xlsx", placeholder_xlsx)
    listed = site_build._report_files
    old = week_key(40)
    pruned_meanwhile: list[retention.PruneResult] = []

    def listed_as_pruned_meanwhile(source: Path) -> list[tuple[str, Path]]:
        if not pruned_meanwhile and source.parent.name == old and source.name.startswith(".fi."):
            pruned_meanwhile.append(retention.prune_reports(archive, KEEP, today=TODAY))
        return listed(source)

    monkeypatch.setattr(site_build, "_report_files", listed_as_pruned_meanwhile)
    site = tmp_path / "site"
    build_site(made.engine, site, langs=("en",), report_root=archive, renderer=PlaceholderRenderer())
    assert pruned_meanwhile and pruned_meanwhile[0].pruned, pruned_meanwhile  # the prune ran, mid-read
    in_site = site / "reports" / old / "fi"
    assert sorted(os.listdir(in_site)) == sorted(os.listdir(archive / old / "fi"))
    assert "report.html" in os.listdir(in_site)
    assert check_site(site) == []


def test_a_rebuild_flushes_the_switch_to_it_before_it_removes_the_previous_build(
    made: Fixture, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a power cut the site's link must not point at a removed build: the folder holding the link is
    synced after the switch and before the previous build is deleted."""
    monkeypatch.setattr(site_build, "write_xlsx", placeholder_xlsx)
    site = tmp_path / "site"

    def build() -> None:
        build_site(made.engine, site, langs=("en",), report_root=archive, renderer=PlaceholderRenderer())

    build()
    previous = site.resolve()
    events: list[tuple[str, str]] = []
    original_fsync, original_remove = os.fsync, atomic._remove

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        original_fsync(fd)

    def remove(path: Path) -> None:
        events.append(("remove", str(path)))
        original_remove(path)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(atomic, "_remove", remove)
    build()
    assert site.resolve() != previous and not previous.exists()
    removed = events.index(("remove", str(previous)))
    switch_synced = [i for i, e in enumerate(events) if e == ("fsync", str(site.parent))]
    assert switch_synced and switch_synced[0] < removed, events[-5:]


def test_a_site_built_by_the_previous_code_is_taken_over_without_reading_the_archive_again(
    made: Fixture, archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manifest without the folder keys (written before them) lists each archived file's source key: the
    first build with folder keys links those files from it without reading them, and records the folders."""
    monkeypatch.setattr(site_build, "write_xlsx", placeholder_xlsx)
    site = tmp_path / "site"
    build_site(made.engine, site, langs=("en",), report_root=archive, renderer=PlaceholderRenderer())
    manifest = site.resolve() / MANIFEST
    recorded = __import__("json").loads(manifest.read_text(encoding="utf-8"))
    folders = recorded.pop("report_folders")
    recorded["report_sources"] = {
        # as the previous code keyed them: the file in the resolved report folder
        f"{prefix}/{name}": site_build._report_source_key(
            (archive / prefix.removeprefix("reports/")).resolve() / name
        )
        for prefix, entry in folders.items()
        for name in entry["files"]
    }
    manifest.write_text(__import__("json").dumps(recorded), encoding="utf-8")
    read: list[Path] = []
    original_open = Path.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        read.append(self)
        return original_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    taken = build_site(made.engine, site, langs=("en",), report_root=archive, renderer=PlaceholderRenderer())
    monkeypatch.setattr(Path, "open", original_open)
    assert [p for p in read if p.resolve().is_relative_to(archive.resolve())] == []
    assert taken.archive_linked == len(folders) and taken.written == []
    again = build_site(made.engine, site, langs=("en",), report_root=archive, renderer=PlaceholderRenderer())
    assert again.archive_kept == len(folders) and again.archive_linked == 0


def test_the_weekly_job_and_the_command_say_what_was_pruned(
    archive: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    from kestava import cli
    from schedule import report_jobs

    monkeypatch.setenv("KESTAVA_REPORT_DIR", str(archive))
    monkeypatch.setattr(report_jobs, "_today", lambda: TODAY)
    monkeypatch.setattr(retention, "helsinki_today", lambda: TODAY)
    get_settings.cache_clear()
    try:
        # the scheduler's weekly job, keeping 27 weeks: weeks 28 and 40 pruned, one line logged
        monkeypatch.setenv("KESTAVA_REPORT_KEEP_WEEKS", str(KEEP + 1))
        get_settings.cache_clear()
        with caplog.at_level(logging.INFO, logger="scheduler"):
            report_jobs.prune_old_reports()
        lines = [r.getMessage() for r in caplog.records if r.name == "scheduler"]
        assert len(lines) == 1, lines
        assert lines[0].startswith("reports: removed the PNG, SVG and XLSX files of 6 report folder(s) of 2 ")
        # `kestava report`/`run`, keeping 26: week 27 as well, one line printed
        monkeypatch.setenv("KESTAVA_REPORT_KEEP_WEEKS", str(KEEP))
        get_settings.cache_clear()
        cli.prune_old_reports()
        printed = capsys.readouterr().out
        assert printed.startswith("reports: removed the PNG, SVG and XLSX files of 3 report folder(s) of 1 ")
        assert f"({week_key(KEEP + 1)})" in printed
        # nothing left to prune: nothing said
        cli.prune_old_reports()
        assert capsys.readouterr().out == ""
    finally:
        get_settings.cache_clear()


def test_a_plain_folder_from_before_the_version_layout_is_pruned_too(made: Fixture, tmp_path: Path) -> None:
    root = tmp_path / "reports"
    plain = root / week_key(40) / "fi"
    shutil.copytree(made.report, plain)
    result = retention.prune_reports(root, KEEP, today=TODAY)
    assert [(p.period, p.lang) for p in result.pruned] == [(week_key(40), "fi")]
    assert plain.is_symlink() and not any(n.endswith(HEAVY) for n in os.listdir(plain))
    _consistent_folder(plain)


def test_a_plain_folder_written_again_while_it_is_pruned_is_left_as_written(
    made: Fixture, tmp_path: Path
) -> None:
    """`kestava report` writes a plain folder (from before the version layout) again between the prune's
    plan and its switch: the new report stays whole (its page, its PNGs), the plan made of the old one is
    dropped; the next prune prunes the new one."""
    root = tmp_path / "reports"
    plain = root / week_key(40) / "fi"
    shutil.copytree(made.report, plain)
    plan = retention._plan(plain, "fi", KEEP)
    assert plan is not None
    assert sorted(os.listdir(plain)) == sorted(os.listdir(made.report))  # every file still there
    # the report writer (report.weekly: publish_directory) writes the folder again, a new page
    with publish_directory(plain) as target:
        for file in made.report.iterdir():
            shutil.copy2(file, target / file.name)
        page = (target / "report.html").read_text(encoding="utf-8")
        (target / "report.html").write_text(
            page.replace("<body", "<body data-rewritten", 1), encoding="utf-8"
        )
    with pytest.raises(retention._LeftWhole, match="written again"):
        retention._apply(plan)
    assert "data-rewritten" in (plain / "report.html").read_text(encoding="utf-8")
    assert sorted(os.listdir(plain)) == sorted(os.listdir(made.report))  # nothing removed
    assert plain.is_symlink() and len(atomic.versions(plain)) == 1  # the writer's version alone
    result = retention.prune_reports(root, KEEP, today=TODAY)
    assert [(p.period, p.lang) for p in result.pruned] == [(week_key(40), "fi")]
    assert "data-rewritten" in (plain / "report.html").read_text(encoding="utf-8")
    _consistent_folder(plain)


def _consistent_folder(folder: Path) -> None:
    page = (folder / "report.html").read_text(encoding="utf-8")
    names = set(os.listdir(folder))
    assert {n for n in retention.linked_files(page) if "/" not in n} <= names


def test_the_scheduler_prunes_after_a_good_weekly_report_and_before_the_site(
    engine: Engine,
    db_url: str,
    archive: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import scheduler
    from schedule import report_jobs
    from tests.test_scheduler import Work, make_runtime

    monkeypatch.setenv("KESTAVA_REPORT_DIR", str(archive))
    monkeypatch.setenv("KESTAVA_REPORT_KEEP_WEEKS", str(KEEP))
    monkeypatch.setattr(report_jobs, "_today", lambda: TODAY)
    get_settings.cache_clear()
    old = archive / week_key(40) / "fi"
    seen: list[bool] = []
    try:
        work = Work()
        runtime, _ = make_runtime(engine, db_url, tmp_path, work)

        def site(engine: Engine, *, lock: Any) -> None:  # what the site's rebuild finds
            seen.append(any(n.endswith(HEAVY) for n in os.listdir(old)))

        def failing(engine: Engine, lang: str, *, lock: Any) -> None:
            raise RuntimeError("the report failed")

        runtime.runners = dataclasses.replace(runtime.runners, site=site, weekly_report=failing)
        runtime.retry_attempts = 1
        assert scheduler.run_weekly_report_job() == "failed"
        assert any(n.endswith(HEAVY) for n in os.listdir(old))  # no report, no prune
        runtime.runners = dataclasses.replace(runtime.runners, weekly_report=work.weekly)
        with caplog.at_level(logging.INFO, logger="scheduler"):
            assert scheduler.run_weekly_report_job() == "success"
        assert seen == [False]  # pruned before the site was rebuilt
        assert any(r.getMessage().startswith("reports: removed the PNG, SVG") for r in caplog.records)
        _consistent(archive)
    finally:
        scheduler.set_runtime(None)
        get_settings.cache_clear()


def test_a_prune_that_fails_is_said_never_raised_by_the_job_and_the_command(
    archive: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    """The reports were published when the prune runs: its error is a line (the scheduler's log, the
    command's stderr), never the report run's failure (prune_configured_reports, shared by both)."""
    from kestava import cli
    from schedule import report_jobs

    def broken(*_: object, **__: object) -> retention.PruneResult:
        raise OSError("read-only file system")

    monkeypatch.setenv("KESTAVA_REPORT_DIR", str(archive))
    monkeypatch.setattr(retention, "prune_reports", broken)
    get_settings.cache_clear()
    try:
        result = retention.prune_configured_reports(today=TODAY)
        assert result.failed == [
            (str(archive), "pruning the old weekly reports failed: read-only file system")
        ]
        with caplog.at_level(logging.INFO, logger="scheduler"):
            report_jobs.prune_old_reports()
        (logged,) = [r for r in caplog.records if r.name == "scheduler"]
        assert logged.levelno == logging.WARNING and "read-only file system" in logged.getMessage()
        cli.prune_old_reports()
        said = capsys.readouterr()
        assert "read-only file system" in " ".join(said.err.split()) and said.out == ""  # (wrapped)
    finally:
        get_settings.cache_clear()
