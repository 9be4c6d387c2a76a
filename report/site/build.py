"""Writes the public site: every page, chart and download in one step, redrawing only what changed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

import jinja2
import polars as pl
from altair.utils.schemapi import debug_mode
from sqlalchemy import Engine

from common.atomic import fsync_dir, link_or_copy, publish_directory
from common.helsinki import HELSINKI
from indicators.catalogue import load_indicator_catalogue
from indicators.peers import RECONCILED, peer_indicators
from report.export import export_table, export_text, in_language, reader_table
from report.i18n import LANGS, t
from report.phone import PHONE_MEDIA
from report.render import Rendered, Renderer
from report.site import content, statement
from report.theme import LEVEL_COLOURS
from report.weekly import TEMPLATE_DIR, write_csv, write_xlsx
from storage.locks import HeldLock

log = logging.getLogger(__name__)

MANIFEST: Final = "site-manifest.json"
SITE_TEMPLATES: Final = TEMPLATE_DIR / "site"
ASSETS: Final[tuple[str, ...]] = ("site.css", "search.js")
NAV: Final[tuple[tuple[str, str], ...]] = (
    ("home", "index.html"),
    ("indicators", "indicators/index.html"),
    ("goals", "goals/index.html"),
    ("circular", "circular-economy.html"),
    ("peers", "peers.html"),
    ("reports", "reports.html"),
)


@dataclass
class SiteResult:
    """What a build did: where, how many files it wrote anew or kept, how many charts it drew, how long."""

    path: Path
    pages: int = 0
    written: list[str] = field(default_factory=list)
    kept: int = 0
    charts_drawn: int = 0
    charts_kept: int = 0
    # the reports archive: report folders linked from the report folder (new, or changed: made again, or
    # pruned), and those linked from the previous build without looking into the report folder
    archive_linked: int = 0
    archive_kept: int = 0
    seconds: float = 0.0


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([SITE_TEMPLATES, TEMPLATE_DIR]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.globals["phone_media"] = PHONE_MEDIA  # when a page shows a chart's phone variant
    return environment


def _previous(out: Path) -> tuple[Path | None, dict[str, Any]]:
    """The published site's folder and its manifest (file hashes, chart keys), if there is one."""
    manifest = out / MANIFEST
    if not manifest.is_file():
        return None, {"files": {}, "charts": {}}
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, {"files": {}, "charts": {}}
    return out.resolve(), recorded


class _Writer:
    """Writes the files of a new build: a file whose bytes the previous build had is linked, not rewritten."""

    def __init__(
        self, folder: Path, previous: Path | None, recorded: dict[str, Any], result: SiteResult
    ) -> None:
        self.folder, self.previous, self.result = folder, previous, result
        self.before: dict[str, str] = recorded.get("files", {})
        self.files: dict[str, str] = {}
        # the files whose bytes are new to the disk in this build (written, or linked from a report
        # folder): synced before the build is published (_sync); a file linked from the previous build was
        # synced by the build that wrote it
        self.fresh: list[str] = []

    def keep(self, path: str) -> bool:
        """Link the previous build's file at path into the new build; False if it has none."""
        if self.previous is None or path not in self.before:
            return False
        source = self.previous / path
        if not source.is_file():
            return False
        target = self.folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if link_or_copy(source, target):
            self.fresh.append(path)
        self.files[path] = self.before[path]
        self.result.kept += 1
        return True

    def keep_folder(self, prefix: str, names: Sequence[str]) -> bool:
        """Link the previous build's files prefix/<name> into the new build, one folder made once and no
        file looked at; False (nothing linked) if the previous build lacks any of them."""
        if self.previous is None or any(f"{prefix}/{name}" not in self.before for name in names):
            return False
        # plain strings: a year's archive is some 10,000 files, linked on every build
        source, target = f"{self.previous}/{prefix}", f"{self.folder}/{prefix}"
        Path(target).mkdir(parents=True, exist_ok=True)
        try:
            for name in names:
                if "/" in name:
                    Path(f"{target}/{name}").parent.mkdir(parents=True, exist_ok=True)
                if link_or_copy(f"{source}/{name}", f"{target}/{name}"):  # copied: new bytes to sync
                    self.fresh.append(f"{prefix}/{name}")
        except FileNotFoundError:  # the previous build lost one: the caller links the folder anew
            self.drop(prefix)
            return False
        for name in names:
            self.files[f"{prefix}/{name}"] = self.before[f"{prefix}/{name}"]
        self.result.kept += len(names)
        return True

    def drop(self, prefix: str) -> None:
        """Forget every file under prefix/ and delete them from the new build (a folder to link again)."""
        gone = {path for path in self.files if path.startswith(f"{prefix}/")}
        for path in gone:
            del self.files[path]
        self.result.written = [path for path in self.result.written if path not in gone]
        self.fresh = [path for path in self.fresh if path not in gone]
        shutil.rmtree(self.folder / prefix, ignore_errors=True)

    def link(self, path: str, source: Path) -> None:
        """Put the file `source` at path: a hard link to it, or a copy when it is on another file system."""
        with source.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if path in self.files:
            if self.files[path] != digest:
                raise ValueError(f"site: two different files for {path}")
            return
        target = self.folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(source, target)
        self.files[path] = digest
        self.result.written.append(path)
        self.fresh.append(path)

    def place(self, path: str) -> Path:
        """Where to write the file at path oneself (a workbook, a CSV written by polars); then placed()."""
        target = self.folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def placed(self, path: str) -> None:
        """Record the file written at place(path)."""
        self.files[path] = _sha((self.folder / path).read_bytes())
        self.result.written.append(path)
        self.fresh.append(path)

    def write(self, path: str, data: bytes) -> None:
        digest = _sha(data)
        if path in self.files:  # the same chart on two pages: written once
            if self.files[path] != digest:
                raise ValueError(f"site: two different files for {path}")
            return
        if self.before.get(path) == digest and self.keep(path):
            return
        target = self.folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.files[path] = digest
        self.result.written.append(path)
        self.fresh.append(path)


def _translate(key: str, lang: str, **values: object) -> str:
    """t() with the page's language bound: the templates' t("site.key", name=…)."""
    return t(key, lang, **values)


def _relative_root(path: str) -> str:
    return "../" * path.count("/")


def _page_links(page: content.Page, langs: Sequence[str]) -> dict[str, Any]:
    """The navigation, the language switcher and the search form of a page, as paths relative to it."""
    root = _relative_root(page.path)
    inside = page.path.split("/", 1)[1]
    lang = page.lang
    return {
        "root": root,
        "nav": [
            {
                "key": key,
                "text": t(f"site.nav_{key}", lang),
                "href": f"{root}{lang}/{target}",
                "current": inside == target,
            }
            for key, target in NAV
        ],
        "languages": [
            {
                "lang": other,
                "text": t(f"report_links.lang_{other}", lang),
                "href": f"{root}{other}/{inside}",
                "current": other == lang,
            }
            for other in langs
        ],
        "search": f"{root}{lang}/indicators/index.html",
        "css": f"{root}assets/site.css",
        "js": f"{root}assets/search.js",
    }


def _asset(name: str) -> bytes:
    """A static asset's bytes; the style sheet with the tables' phone cards (_cards.css, the report's too)
    and the progress levels' swatch colours appended from report.theme.LEVEL_COLOURS, the palette the
    report's charts use (safe for colour-vision deficiency), so that a status has one colour and a table
    one phone layout on the site and in the report."""
    data = (SITE_TEMPLATES / name).read_bytes()
    if name != "site.css":
        return data
    cards = (TEMPLATE_DIR / "_cards.css").read_bytes()
    levels = "".join(
        f".level-{level} {{ background: {colour}; }}\n" for level, colour in LEVEL_COLOURS.items()
    )
    return data + cards + b"/* progress levels: report.theme.LEVEL_COLOURS */\n" + levels.encode("ascii")


def _ui(lang: str) -> dict[str, str]:
    keys = (
        "site_title",
        "skip",
        "nav_label",
        "languages_label",
        "search_label",
        "search_placeholder",
        "search_button",
        "search_none",
        "footer",
        "demo_notice",
        "demo_banner",
    )
    return {key: t(f"site.{key}", lang) for key in keys}


# the downloads of an indicator: for machines, one set in any language (data/<id>.csv, .json, .xlsx: the
# export's English column ids, "." decimals, UTF-8, as `kestava export` writes them); for a reader's
# spreadsheet, one CSV per language (data/<lang>/<id>.csv: headers and words in the language, written as the
# weekly report's CSVs are, report.weekly.write_csv: in fi and sv ";" and the decimal comma)
MACHINE_SUFFIXES: Final[tuple[str, ...]] = ("csv", "json", "xlsx")


def download_paths(indicator: str, langs: Sequence[str]) -> list[str]:
    """Every download of an indicator: the machine-readable files, then a reader's CSV per language."""
    return [f"data/{indicator}.{suffix}" for suffix in MACHINE_SUFFIXES] + [
        f"data/{lang}/{indicator}.csv" for lang in langs
    ]


def _downloads(
    data: content.SiteData,
    ids: Sequence[str],
    writer: _Writer,
    recorded: dict[str, Any],
    code: str,
    langs: Sequence[str],
) -> dict[str, str]:
    """Per indicator, its values, targets, outlook and assessments with provenance (download_paths): for
    machines as CSV, JSON and XLSX, for readers a CSV per language; an indicator whose inputs did not
    change keeps the previous build's files (not exported again). The export is made once, in English; a
    reader's copy takes its names and sources in its language from it (report.export.in_language), its
    numbers unchanged. Returns each indicator's inputs digest for the manifest."""
    before: dict[str, str] = recorded.get("download_inputs", {})
    inputs = {i: _sha(f"{code}:{content.indicator_inputs(data, i, 'en')}".encode()) for i in ids}
    kept = {
        i
        for i in ids
        if before.get(i) == inputs[i] and all(n in writer.before for n in download_paths(i, langs))
    }
    for indicator in sorted(kept):
        for path in download_paths(indicator, langs):
            if not writer.keep(path):
                raise RuntimeError(f"site: the previous build lost {path}")
    changed = [i for i in ids if i not in kept]
    if not changed:
        return inputs
    catalogue = load_indicator_catalogue()
    table = export_table(data.engine, catalogue, changed, lang="en")
    base = pl.col("indicator").str.split(".").list.first()
    for indicator in changed:
        part = table.filter(base == indicator)
        writer.write(f"data/{indicator}.csv", export_text(part, "csv").encode("utf-8"))
        writer.write(f"data/{indicator}.json", export_text(part, "json").encode("utf-8"))
        xlsx = writer.place(f"data/{indicator}.xlsx")
        write_xlsx(part.drop("snapshot_ids", strict=False), xlsx, indicator[:31], {})
        writer.placed(f"data/{indicator}.xlsx")
    for lang in langs:
        words = table if lang == "en" else in_language(table, data.engine, catalogue, lang)
        for indicator in changed:
            path = f"data/{lang}/{indicator}.csv"
            write_csv(reader_table(words.filter(base == indicator), lang), writer.place(path), lang)
            writer.placed(path)
    return inputs


def _report_source_key(file: Path) -> str:
    """What identifies a report file's bytes without reading them: a digest of its resolved path, inode,
    size and modification time (a report is written once into a version folder of its own and never
    changed in place: common.atomic). A digest, because the manifest is published with the site: the
    server's paths and inodes are not the public's to read."""
    stat = file.stat()
    key = f"{file}|{stat.st_dev}:{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _report_folder_key(folder: Path, lang: str, root: Path) -> str | None:
    """What identifies a published report folder's files without looking into it: a digest of the version
    folder its link points to (common.atomic: <period>/<lang> links to <period>/.<lang>.<token>/), its
    path, inode and modification time. A report is written once into a version folder of its own and never
    changed in place; written again, or pruned (report.retention), it is a new version folder. None for a
    folder not in that layout (a plain folder, a link elsewhere): its files are compared one by one.
    `root`: the report folder resolved (the key names the version folder by its real path)."""
    try:
        if not folder.is_symlink():
            return None
        target = folder.readlink()
        if len(target.parts) != 1 or not target.name.startswith(f".{lang}."):
            return None
        version = folder.parent / target
        found = version.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(found.st_mode):
        return None
    real = f"{root}/{folder.parent.name}/{target}"
    key = f"{real}|{found.st_dev}:{found.st_ino}|{found.st_mtime_ns}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _report_files(source: Path) -> list[tuple[str, Path]]:
    """Every file of a report folder, by its path relative to the folder."""
    return [
        (file.relative_to(source).as_posix(), file) for file in sorted(source.rglob("*")) if file.is_file()
    ]


@dataclass
class _Archive:
    """What the manifest records of the reports archive: per folder in the version-folder layout its key and
    file names; per file of any other folder its source key (_report_source_key)."""

    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


def _link_reports(
    reports: Sequence[content.ArchivedReport], report_root: Path, writer: _Writer, recorded: dict[str, Any]
) -> _Archive:
    """The reports archive: every report folder's files under reports/<period>/<lang>/, hard-linked from
    the report folder (copied when it is on another file system), so that the archive takes no space twice.

    A folder whose version folder (_report_folder_key) is the one the previous build linked is linked from
    that build as a whole, by the file names the manifest lists, without looking into the report folder;
    only a new or changed folder (a new week, a report made again, a pruned week) is looked into. There,
    and in a folder of another layout, a file the previous build linked from the same source (same path,
    inode, size and time) is linked from that build without being read again; any other is read (its
    digest) and linked from the report folder."""
    folders_before: dict[str, dict[str, Any]] = recorded.get("report_folders", {})
    sources_before: dict[str, str] = recorded.get("report_sources", {})
    archive = _Archive()
    root = report_root.resolve()
    for report in reports:
        prefix = f"reports/{report.period}/{report.lang}"
        folder = report_root / report.period / report.lang
        for attempt in range(3):
            key = _report_folder_key(folder, report.lang, root)
            was = folders_before.get(prefix)
            if (
                key is not None
                and was is not None
                and was.get("key") == key
                and writer.keep_folder(prefix, was["files"])
            ):
                archive.folders[prefix] = was
                writer.result.archive_kept += 1
                break
            source = folder.resolve()  # as the key's version folder, or a plain folder
            names = []
            try:
                for name, file in _report_files(source):
                    relative = f"{prefix}/{name}"
                    file_key = _report_source_key(file)
                    if key is None:  # compared file by file next time too
                        archive.sources[relative] = file_key
                    names.append(name)
                    if sources_before.get(relative) == file_key and writer.keep(relative):
                        continue
                    writer.link(relative, file)
                # a version folder replaced while it was read (made again, pruned: the old one deleted
                # after the switch) may have lost files between the listing and their reading: read anew
                replaced = key is not None and _report_folder_key(folder, report.lang, root) != key
            except FileNotFoundError:  # replaced meanwhile (made again, pruned): link the new one
                replaced = True
            if replaced:
                writer.drop(prefix)
                for relative in [r for r in archive.sources if r.startswith(f"{prefix}/")]:
                    del archive.sources[relative]
                if attempt == 2:
                    raise FileNotFoundError(
                        f"site: the report folder {folder} kept changing while it was read"
                    )
                continue
            if key is not None:
                archive.folders[prefix] = {"key": key, "files": names}
            writer.result.archive_linked += 1
            break
    return archive


def _sync(folder: Path, writer: _Writer) -> None:
    """Flush the new build to disk before it is published: every file whose bytes are new (written, or
    linked from a report folder) and every folder (their entries, the links to the previous build's files
    among them), deepest first. The files linked from the previous build are not synced again: that
    build synced them (common.atomic's publish_directory(durable=True) syncs every file: 8,848 fsync calls
    of a rebuild with a year's reports archive, each a write barrier of the disk, against 229 here;
    bench/bench_site_archive.py)."""
    if os.name != "posix":  # pragma: no cover - folders cannot be opened elsewhere
        return
    for name in [*writer.fresh, MANIFEST]:
        fd = os.open(folder / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    folders = {folder}
    for name in writer.files:
        parent = (folder / name).parent
        while parent not in folders:
            folders.add(parent)
            parent = parent.parent
    for path in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(path)


# what the pages are made with besides the data: a change to any of these makes every page anew
CODE_INPUTS: Final[tuple[Path, ...]] = (
    Path(__file__).parent,
    TEMPLATE_DIR,
    TEMPLATE_DIR.parent / "charts",
    TEMPLATE_DIR.parent / "translations.toml",
    TEMPLATE_DIR.parent.parent / "indicators" / "catalogue.toml",
    TEMPLATE_DIR.parent.parent / "ingest" / "catalogue.toml",
    TEMPLATE_DIR.parent.parent / "ingest" / "peers.toml",
)


def code_digest() -> str:
    """A digest of the code, templates and catalogues the pages are made with."""
    digest = hashlib.sha256()
    for root in CODE_INPUTS:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for file in files:
            if file.is_file() and file.suffix in (".py", ".j2", ".toml", ".css", ".js"):
                digest.update(file.as_posix().encode("utf-8"))
                digest.update(file.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class KeptPage:
    """A page whose inputs did not change since the previous build: its files are linked, not made."""

    path: str
    files: tuple[str, ...]
    inputs: str


def _pages(
    data: content.SiteData,
    ids: Sequence[str],
    langs: Sequence[str],
    reports: Sequence[content.ArchivedReport],
    today: date,
    recorded: dict[str, Any],
    code: str,
) -> list[content.Page | KeptPage]:
    before_inputs: dict[str, str] = recorded.get("inputs", {})
    before_files: dict[str, list[str]] = recorded.get("page_files", {})
    pages: list[content.Page | KeptPage] = []

    def made_or_kept(path: str, inputs: str, make: Callable[[], content.Page]) -> None:
        if before_inputs.get(path) == inputs and path in before_files:
            pages.append(KeptPage(path, tuple(before_files[path]), inputs))
        else:
            page = make()
            page.inputs = inputs
            pages.append(page)

    shown_on_peers = [*peer_indicators(), *RECONCILED]
    for lang in langs:
        pages.append(content.home_page(data, ids, reports, today, lang))
        pages.append(content.indicators_page(data, ids, lang))
        for indicator in ids:
            made_or_kept(
                content.indicator_path(lang, indicator),
                _sha(f"{code}:{content.indicator_inputs(data, indicator, lang)}".encode()),
                partial(content.indicator_page, data, indicator, lang),
            )
        pages.extend(content.goal_pages(data, ids, lang))
        pages.append(content.circular_page(data, ids, lang))
        peers_inputs = ":".join(content.indicator_inputs(data, i, lang) for i in shown_on_peers)
        made_or_kept(
            f"{lang}/peers.html",
            _sha(f"{code}:{peers_inputs}".encode()),
            partial(content.peers_page, data, lang),
        )
        pages.append(content.reports_page(reports, lang))
        pages.append(statement.statement_page(lang, warn=lang == langs[0]))
    return pages


def build_site(
    engine: Engine,
    out: Path,
    *,
    langs: Sequence[str] = LANGS,
    report_root: Path | None = None,
    today: date | None = None,
    renderer: Renderer | None = None,
    lock: HeldLock | None = None,
) -> SiteResult:
    """Build the whole site into `out`, published in one step (common.atomic): a reader finds the previous
    site or the new one, never a mix. Files whose bytes did not change are linked from the previous build
    (not rewritten), and a chart whose spec did not change is not drawn again. `lock`: the `site` job lock
    the caller holds, confirmed right before the build is published (a run that lost it publishes nothing:
    LockLostError, the previous site stays)."""
    started = time.perf_counter()
    for lang in langs:
        if lang not in LANGS:
            raise ValueError(f"site language: expected some of {LANGS}, got {lang!r}")
    today = today or datetime.now(HELSINKI).date()  # the reports' day: Europe/Helsinki
    reports = content.archive(report_root) if report_root is not None else []
    previous, recorded = _previous(out)
    result = SiteResult(out)
    environment = _environment()
    data = content.SiteData(engine)
    demo = content.demo_datasets(data)
    # a page kept from the previous build must carry the same demo notice as a page made now
    code = f"{code_digest()}:demo={','.join(demo)}"
    ids = content.listed_indicators(data)
    # Altair's debug mode validates every schema object as it is made; the charts' builders are the
    # report's, whose specs the tests validate whole (tests/test_charts.py), so here they run without it
    with debug_mode(False):
        pages = _pages(data, ids, langs, reports, today, recorded, code)
    result.pages = len(pages)
    own_renderer = renderer is None
    drawer = renderer or Renderer()
    try:
        # the build syncs what is new in it itself (_sync); publish_directory syncs the switch of the
        # site's link to it before it removes the previous build
        with publish_directory(out, synced_by_caller=True) as folder:
            writer = _Writer(folder, previous, recorded, result)
            charts_before: dict[str, str] = recorded.get("charts", {})
            charts_now: dict[str, str] = {}
            pending: list[tuple[str, Future[Rendered]]] = []
            inputs: dict[str, str] = {}
            page_files: dict[str, list[str]] = {}
            for page in pages:
                if isinstance(page, KeptPage):
                    for path in page.files:
                        if path.endswith(".svg") and path not in charts_now:
                            charts_now[path] = charts_before[path]
                            result.charts_kept += 1
                        if path not in writer.files and not writer.keep(path):
                            raise RuntimeError(f"site: the previous build lost {path}")
                    inputs[page.path], page_files[page.path] = page.inputs, list(page.files)
                    continue
                if page.inputs:
                    inputs[page.path] = page.inputs
                    page_files[page.path] = [page.path] + [
                        f"{page.lang}/charts/{c.name}{suffix}"
                        for c in page.charts
                        for suffix in (".svg", ".vl.json", ".phone.svg", ".phone.vl.json")
                    ]
                for chart in page.charts:
                    stem = f"{page.lang}/charts/{chart.name}"
                    if f"{stem}.svg" in charts_now:
                        continue
                    # the chart as drawn for a wide screen and for a phone (report.phone)
                    for variant, spec in ((stem, chart.spec), (f"{stem}.phone", chart.phone)):
                        spec_bytes = json.dumps(spec, ensure_ascii=False, sort_keys=True).encode("utf-8")
                        writer.write(f"{variant}.vl.json", spec_bytes)
                        path, key = f"{variant}.svg", _sha(spec_bytes)
                        charts_now[path] = key
                        if charts_before.get(path) == key and writer.keep(path):
                            result.charts_kept += 1
                            continue
                        pending.append((path, drawer.submit(spec, svg_only=True)))
            for page in pages:
                if isinstance(page, KeptPage):
                    continue
                html = environment.get_template(page.template).render(
                    lang=page.lang,
                    page=page.context,
                    links=_page_links(page, langs),
                    ui=_ui(page.lang),
                    demo=demo,
                    t=partial(_translate, lang=page.lang),
                )
                writer.write(page.path, html.encode("utf-8"))
            for asset in ASSETS:
                writer.write(f"assets/{asset}", _asset(asset))
            writer.write(
                "index.html",
                environment.get_template("root.html.j2")
                .render(
                    languages=[
                        {"lang": lang, "href": f"{lang}/index.html", "text": t("site.site_title", lang)}
                        for lang in langs
                    ]
                )
                .encode("utf-8"),
            )
            download_inputs = _downloads(data, ids, writer, recorded, code, langs)
            archive = _Archive()
            if report_root is not None:
                archive = _link_reports(reports, report_root, writer, recorded)
            for path, future in pending:
                svg = future.result().svg
                writer.write(path, svg.encode("utf-8"))
                result.charts_drawn += 1
            manifest = {
                "built": datetime.now().isoformat(timespec="seconds"),
                "files": writer.files,
                "charts": charts_now,
                "inputs": inputs,
                "page_files": page_files,
                "download_inputs": download_inputs,
                "report_folders": archive.folders,
                "report_sources": archive.sources,
            }
            (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
            _sync(folder, writer)
            if lock is not None:
                lock.confirm(engine)  # last: raised here, the build is deleted and the previous site stays
    finally:
        if own_renderer:
            drawer.__exit__(None, None, None)
    result.seconds = time.perf_counter() - started
    return result
