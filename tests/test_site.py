"""The public site: a page per indicator in every language, working links, downloads, notes, rebuilds."""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from markupsafe import escape
from sqlalchemy import Engine, func, select, update

from indicators.catalogue import load_indicator_catalogue
from indicators.engine import compute
from indicators.query import indicator_values
from ingest.manifest import DEFAULT_SNAPSHOT_DIR
from ingest.run import ingest
from report import charts, ranking, weekly
from report import peers as report_peers
from report.export import export_table, export_text
from report.i18n import LANGS, NBSP, catalogue_text, format_number, label, source_text, t
from report.site import build as site_build
from report.site import content
from report.site.build import MANIFEST, build_site
from report.site.links import check_site
from report.site.serve import make_server
from storage import read, schema
from storage.engine import open_database
from storage.notes import add_note
from storage.rawstore import RawStore
from tests.conftest import LOADED_TODAY, LoadedTemplates
from tests.site_fakes import PlaceholderRenderer, placeholder_xlsx
from tests.test_revisions import _file, _jsonstat_revise
from tests.test_terms import PATH_TERMS, unnamed_paths

# the week of the one real report: the current one (a week that ended before the data were loaded, when
# the fixture's template was made, has no report: report.weekly.nothing_to_report)
WEEK = weekly.current_week()


@dataclass
class Built:
    engine: Engine
    folder: Path
    site: Path
    reports: Path
    raw: RawStore


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, loaded_templates: LoadedTemplates) -> Iterator[Built]:
    """The bundled data loaded and computed on SQLite, a weekly report in each language, a note in Finnish,
    and the site built from it."""
    folder = tmp_path_factory.mktemp("site")
    with loaded_templates.copy("sqlite", folder) as url:
        engine = open_database(url)
        raw = RawStore(folder / "raw")
        known = set(load_indicator_catalogue().indicators)
        add_note(
            engine,
            "ghg_total",
            period="2025",
            lang="fi",
            body="Kaukolämmön **päästöt** laskivat. <script>alert(1)</script>",
            author="Kestävä Espoo",
            known_indicators=known,
        )
        reports = folder / "reports"
        period = WEEK
        for lang in LANGS:  # the archive copies report folders; one real report, the others stand-ins
            if lang == "fi":
                weekly.build_report(engine, period, lang=lang, out_dir=reports, images=False)
            else:
                (reports / period.key / lang).mkdir(parents=True)
                (reports / period.key / lang / "report.html").write_text(
                    f'<!DOCTYPE html><html lang="{lang}"><title>{period.key}</title></html>', encoding="utf-8"
                )
        site = folder / "site"
        with pytest.MonkeyPatch.context() as patch:
            # one real workbook is enough here (the downloads test opens ghg_total's; the workbooks' content
            # is tested in tests/test_report_formats.py): the other 42 are half the build's time
            patch.setattr(site_build, "write_xlsx", _xlsx_of_ghg_total_only)
            build_site(engine, site, report_root=reports, renderer=PlaceholderRenderer())
        yield Built(engine, folder, site, reports, raw)
        engine.dispose()


def _xlsx_of_ghg_total_only(frame: pl.DataFrame, target: Path, *args: Any) -> None:
    writer = weekly.write_xlsx if target.name == "ghg_total.xlsx" else placeholder_xlsx
    writer(frame, target, *args)


def _page(built: Built, path: str) -> str:
    return (built.site / path).read_text(encoding="utf-8")


def test_every_indicator_has_a_page_in_every_language_at_a_permanent_address(built: Built) -> None:
    catalogue = load_indicator_catalogue()
    listed = content.listed_indicators(content.SiteData(built.engine))
    assert "ghg_total" in listed and "peer_ghg_per_resident_oecd" in listed and "ghg_by_sector" in listed
    for lang in LANGS:
        for indicator in listed:
            html = _page(built, f"{lang}/indicators/{indicator}.html")
            assert f'<html lang="{lang}">' in html
            assert f"<h1>{catalogue.get(indicator).name.get(lang)}</h1>" in html
            # the language switcher leads to the same indicator in the other languages
            for other in LANGS:
                assert f'href="../../{other}/indicators/{indicator}.html"' in html
            assert f"<code>{lang}/<wbr>indicators/<wbr>{indicator}.html</code>" in html


def test_every_page_type_exists_and_every_link_and_asset_resolves(built: Built) -> None:
    for lang in LANGS:
        for path in (
            "index.html",
            "indicators/index.html",
            "goals/index.html",
            "goals/sdg-13.html",
            "circular-economy.html",
            "peers.html",
            "reports.html",
        ):
            assert (built.site / lang / path).is_file(), path
    problems = check_site(built.site)
    assert problems == []


def test_the_link_check_finds_a_broken_link_and_a_file_from_another_host(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        '<a href="b.html">b</a><a href="missing.html">x</a><a href="b.html#nope">y</a>'
        '<img src="https://example.org/x.png" alt=""><a href="https://example.org/">a link is fine</a>',
        encoding="utf-8",
    )
    (tmp_path / "b.html").write_text('<p id="here">b</p>', encoding="utf-8")
    found = {(p.url, p.why) for p in check_site(tmp_path)}
    assert found == {
        ("missing.html", "no such file"),
        ("b.html#nope", "no element with id 'nope'"),
        ("https://example.org/x.png", "loads a file from another host"),
    }


def test_the_home_page_and_the_indicator_page_state_the_same_latest_emissions(built: Built) -> None:
    values = indicator_values("ghg_total", area="049", kind="observed", engine=built.engine)
    latest = values.sort("year").row(-1, named=True)
    for lang in LANGS:
        shown = format_number(latest["value"], lang, 0)  # kt CO2e as whole numbers, the headline's way
        home = _page(built, f"{lang}/index.html")
        page = _page(built, f"{lang}/indicators/ghg_total.html")
        assert shown in home, (lang, shown)
        assert shown in page, (lang, shown)
        assert str(latest["year"]) in page


def test_downloads_are_the_export_of_the_indicator_with_a_citation(built: Built) -> None:
    expected = export_table(built.engine, load_indicator_catalogue(), ["ghg_total"], lang="en")
    assert (built.site / "data" / "ghg_total.csv").read_text(encoding="utf-8") == export_text(expected, "csv")
    downloaded = pl.read_json(built.site / "data" / "ghg_total.json", infer_schema_length=None)
    assert downloaded.height == expected.height
    assert (built.site / "data" / "ghg_total.xlsx").read_bytes()[:2] == b"PK"
    page = _page(built, "en/indicators/ghg_total.html")
    assert 'href="../../data/ghg_total.csv"' in page and "Cite as: HSY; processed by" in page


def test_a_peer_indicator_page_ranks_espoo_and_states_the_method(built: Built) -> None:
    page = _page(built, "en/indicators/peer_ghg_per_resident_oecd.html")
    assert re.search(r"Espoo \d+(st|nd|rd|th) of \d+ cities in emissions per resident, OECD \d{4}", page)
    spec = (built.site / "en" / "charts" / "peer_ghg_per_resident_oecd.vl.json").read_text(encoding="utf-8")
    assert "Method: OECD" in spec
    peers = _page(built, "fi/peers.html")
    assert t("peers.reconciliation_caption", "fi") in peers and t("peers.standings_caption", "fi") in peers


HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>", flags=re.DOTALL)


def _headings(html_text: str) -> list[tuple[int, str]]:
    """The page's headings in order, as (level, visible text)."""
    return [(int(m.group(1)), _visible(m.group(2)).strip()) for m in HEADING.finditer(html_text)]


@pytest.mark.parametrize("lang", LANGS)
def test_the_peers_pages_totals_by_source_have_a_heading_of_their_own(built: Built, lang: str) -> None:
    """WCAG 1.3.1: the table of Espoo's totals by source came under the last peer chart with no heading and
    read as that chart's table; it has the weekly report's heading for it, one level below the page's h1,
    between the last chart and the table. Headings go down one level at a time on every page."""
    page = _page(built, f"{lang}/peers.html")
    found = _headings(page)
    heading = t("peers.reconciliation_heading", lang)
    assert found[0][0] == 1 and [level for level, _ in found].count(1) == 1
    assert found[-1] == (2, heading), found
    at = page.index(f"<h2>{escape(heading)}</h2>")
    caption = page.index(str(escape(t("peers.reconciliation_caption", lang))))
    # after the last chart and its folded table; the next table is the totals'
    assert page.rindex("</figure>") < page.rindex("</details>") < at < caption
    assert "</table>" not in page[at:caption]
    for path in _pages(built, lang):
        levels = [level for level, _ in _headings(path.read_text(encoding="utf-8"))]
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), (path.name, levels)


def test_a_peer_pages_table_lists_the_charts_cities_and_years_under_a_peer_heading(built: Built) -> None:
    page = _page(built, "en/indicators/peer_ghg_per_resident_covenant.html")
    assert "Over time" not in page and "Espoo among the peer cities" in page
    caption = html.escape(t("site.peer_comparison_caption", "en"), quote=False)
    table = page[page.index(caption.split("'")[-1] + "</caption>") :]
    table = table[: table.index("</table>")]
    # the cells as a phone's cards label them too (role, data-label)
    shown = re.findall(r'<th scope="row"[^>]*>([^<]+?)(?: ◀)?</th><td[^>]* class="num">(\d{4})</td>', table)
    spec = json.loads(
        (built.site / "en" / "charts" / "peer_ghg_per_resident_covenant.vl.json").read_text(encoding="utf-8")
    )
    drawn = next(d for d in spec["datasets"].values() if d and "area_key" in d[0])
    assert sorted(shown) == sorted((row["area"], str(row["year"])) for row in drawn)
    # the standings themselves: every city on its latest figure, one row per city
    found = report_peers.peer_frames(built.engine, "peer_ghg_per_resident_covenant")
    assert len(shown) == found.standings.height
    # Covenant inventories are t CO2 or t CO2e as each city chose: the unit reported is carried to the chart
    assert set(found.reported_units) == set(found.standings.get_column("area").to_list())
    assert t("peers.note_unit_unknown", "en") in " ".join(spec["title"]["subtitle"])
    # and every header of the page says the unit as the page does: the chart's table said "t CO₂e"
    for lang in LANGS:
        page = _page(built, f"{lang}/indicators/peer_ghg_per_resident_covenant.html")
        headers = re.findall(r'<th scope="col"[^>]*>([^<]*CO₂[^<]*)</th>', page)
        assert headers and all("CO₂(e)" in h for h in headers), (lang, headers)


def test_a_note_shows_on_its_indicator_page_in_its_language_only(built: Built) -> None:
    fi = _page(built, "fi/indicators/ghg_total.html")
    assert "Kaukolämmön <strong>päästöt</strong> laskivat." in fi
    assert "<script>alert(1)</script>" not in fi and "&lt;script&gt;" in fi
    assert "Kaukolämmön" not in _page(built, "sv/indicators/ghg_total.html")


def test_the_list_can_be_filtered_by_names_in_the_pages_language(built: Built) -> None:
    sv = _page(built, "sv/indicators/index.html")
    assert "data-filter" in sv and 'data-name="utsläpp per invånare"' in sv
    assert 'action="../../sv/indicators/index.html"' in _page(built, "sv/indicators/ghg_total.html")


def test_the_reports_archive_links_every_report(built: Built) -> None:
    for lang in LANGS:
        page = _page(built, f"{lang}/reports.html")
        assert f'href="../reports/{WEEK.key}/{lang}/report.html"' in page
        assert (built.site / "reports" / WEEK.key / lang / "report.html").is_file()


def _inodes(site: Path) -> dict[str, int]:
    root = site.resolve()
    return {p.relative_to(root).as_posix(): p.stat().st_ino for p in root.rglob("*") if p.is_file()}


def test_a_rebuild_with_nothing_new_touches_no_page_and_draws_no_chart(built: Built, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(built.site.resolve(), tmp_path / "first", symlinks=True)
    os.symlink(tmp_path / "first", site)
    before = _inodes(site)
    result = build_site(built.engine, site, report_root=built.reports, renderer=PlaceholderRenderer())
    assert result.written == [] and result.charts_drawn == 0
    after = _inodes(site)
    assert set(after) == set(before)
    changed = sorted(p for p in after if after[p] != before[p] and p != MANIFEST)
    assert changed == []  # every file is the same file, linked into the new build


def test_the_reports_archive_is_linked_and_an_unchanged_report_is_not_read_again(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The archive's files are hard links to the report folders' (no second copy on the disk), and a
    rebuild reads no archived report that did not change (it hashed the whole archive every time)."""
    reports = tmp_path / "reports"
    shutil.copytree(built.reports, reports, symlinks=True)
    site = tmp_path / "site"
    shutil.copytree(built.site.resolve(), tmp_path / "first", symlinks=True)
    os.symlink(tmp_path / "first", site)
    build_site(built.engine, site, report_root=reports, renderer=PlaceholderRenderer())
    finnish = [p for p in (reports / WEEK.key / "fi").resolve().rglob("*") if p.is_file()]
    assert len(finnish) > 1  # the real report has its charts and data besides report.html
    for lang in LANGS:
        source = (reports / WEEK.key / lang).resolve()
        for file in source.rglob("*"):
            if file.is_file():
                copy = site / "reports" / WEEK.key / lang / file.relative_to(source)
                assert copy.stat().st_ino == file.stat().st_ino, copy  # one file on the disk, not two

    read: list[Path] = []
    original_read_bytes, original_open = Path.read_bytes, Path.open

    def read_bytes(self: Path) -> bytes:
        read.append(self)
        return original_read_bytes(self)

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        read.append(self)
        return original_open(self, *args, **kwargs)

    # the manifest is published with the site: the server's folders and inodes are not in it
    published = (site / MANIFEST).read_text(encoding="utf-8")
    assert str(reports.resolve()) not in published and str(tmp_path) not in published
    inode = (reports / WEEK.key / "fi" / "report.html").resolve().stat().st_ino
    assert not re.search(rf"\b\d+:{inode}\b", published)  # device:inode, as the key had it

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(Path, "open", open_)
    again = build_site(built.engine, site, report_root=reports, renderer=PlaceholderRenderer())
    assert again.written == []
    assert [p for p in read if p.resolve().is_relative_to(reports.resolve())] == []

    # a report made again (a new file at the same place) is read and linked anew
    english = reports / WEEK.key / "en" / "report.html"
    english.unlink()
    english.write_text('<!DOCTYPE html><html lang="en"><title>made again</title></html>', encoding="utf-8")
    read.clear()
    third = build_site(built.engine, site, report_root=reports, renderer=PlaceholderRenderer())
    assert third.written == [f"reports/{WEEK.key}/en/report.html"]
    assert [p for p in read if p.resolve().is_relative_to(reports.resolve())] == [english.resolve()]
    assert (
        (site / f"reports/{WEEK.key}/en/report.html")
        .read_text(encoding="utf-8")
        .endswith("made again</title></html>")
    )
    assert (site / f"reports/{WEEK.key}/en/report.html").stat().st_ino == english.stat().st_ino
    assert check_site(site) == []


# how a spreadsheet in each language reads a CSV: field separator and decimal mark (Excel's list and decimal
# separators in Finland and Sweden are ";" and ","), and the words a reader finds in its header
SPREADSHEET = {
    "fi": (";", ",", ("Indikaattorin tunnus", "Alueen tunnus", "Jakso", "Tyyppi", "Arvo", "Yksikkö")),
    "sv": (";", ",", ("Indikatorns kod", "Områdets kod", "Period", "Typ", "Värde", "Enhet")),
    "en": (",", ".", ("Indicator id", "Area code", "Period", "Kind", "Value", "Unit")),
}


@pytest.mark.parametrize("lang", LANGS)
def test_a_readers_download_opens_in_the_languages_spreadsheet_with_the_machine_files_numbers(
    built: Built, lang: str
) -> None:
    """data/<lang>/<id>.csv: headers and kinds in the page's language, the language's separators, and the
    same rows and numbers as the machine-readable data/<id>.csv (English ids, "." decimals)."""
    separator, decimal, words = SPREADSHEET[lang]
    machine = pl.read_csv(
        built.site / "data" / "ghg_total.csv", infer_schema_length=None, schema_overrides={"area": pl.String}
    )
    assert (
        machine.columns[:4] == ["indicator", "name", "sdg", "area"] and machine["value"].dtype == pl.Float64
    )
    raw = (built.site / "data" / lang / "ghg_total.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel reads ä and ö right
    with io.StringIO(raw.decode("utf-8-sig"), newline="") as handle:
        rows = list(csv.reader(handle, delimiter=separator))
    header, body = rows[0], rows[1:]
    assert set(words) <= set(header), header
    assert len(body) == machine.height and all(len(r) == len(header) for r in body)
    column = {name: [r[header.index(name)] for r in body] for name in words}
    assert column[words[0]] == machine["indicator"].to_list()  # the ids as the machine file has them
    assert column[words[1]] == machine["area"].to_list()
    other = "." if decimal == "," else ","
    cells = [c for c in column[words[4]] if c]
    assert cells and all(other not in c for c in cells), cells[:3]
    numbers = [float(c.replace(decimal, ".")) if c else None for c in column[words[4]]]
    assert numbers == machine["value"].to_list()  # the same numbers, not rounded
    # the kinds in the words the report and the site give them: a nowcast is the tracker's own estimate
    kinds = dict(zip(machine["kind"].to_list(), column[words[3]], strict=True))
    assert kinds["estimate"] == t("site.kind_estimate", lang) and kinds["observed"] == t(
        "site.kind_observed", lang
    )
    page = _page(built, f"{lang}/indicators/ghg_total.html")
    assert f'<a href="../../data/{lang}/ghg_total.csv" download>{t("report.csv_link", lang)}</a>' in page
    assert t("site.downloads_machines", lang) in page and 'href="../../data/ghg_total.json"' in page


def test_a_new_vintage_of_one_dataset_rebuilds_only_the_pages_it_feeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loaded_templates: LoadedTemplates
) -> None:
    monkeypatch.setattr(site_build, "write_xlsx", placeholder_xlsx)
    with loaded_templates.copy("sqlite", tmp_path) as url:
        engine = open_database(url)
        raw = RawStore(tmp_path / "raw")
        site = tmp_path / "site"
        build_site(engine, site, langs=("en",), renderer=PlaceholderRenderer())
        snapshot = tmp_path / "snapshot"
        shutil.copytree(DEFAULT_SNAPSHOT_DIR, snapshot)
        _jsonstat_revise(_file(snapshot, "eurostat_cei_pc031", r"\.json$"), {"geo": "FI"}, 5.0)
        (outcome,) = ingest(engine, raw, ["eurostat_cei_pc031"], offline=True, snapshot_dir=snapshot)
        assert outcome.outcome == "success" and outcome.result is not None and outcome.result.revised == 1
        assert not compute(engine, today=LOADED_TODAY).errors
        result = build_site(engine, site, langs=("en",), renderer=PlaceholderRenderer())
        pages = {p for p in result.written if p.startswith("en/indicators/")}
        assert "en/indicators/municipal_waste_per_capita.html" in pages
        assert "en/indicators/ghg_total.html" not in pages
        assert result.charts_drawn == 2  # only the revised indicator's chart, wide and for a phone
        assert "data/municipal_waste_per_capita.csv" in result.written
        assert "data/ghg_total.csv" not in result.written
        # a reader's copy too: made again for the revised indicator only (ghg_total's is linked)
        assert "data/en/municipal_waste_per_capita.csv" in result.written
        assert "data/en/ghg_total.csv" not in result.written and (site / "data/en/ghg_total.csv").is_file()
        assert check_site(site) == []
        engine.dispose()


def test_a_breakdown_page_gives_its_parts_statuses_as_the_report_does(built: Built) -> None:
    from report import data as rd

    statuses = rd.status_frame(built.engine, "en")
    parts = statuses.filter(pl.col("indicator_id").str.starts_with("ghg_by_sector."))
    assert parts.height  # the report's breakdown table has them
    html = _page(built, "en/indicators/ghg_by_sector.html")
    assert t("site.no_assessment", "en") not in html
    for row in parts.iter_rows(named=True):
        sector = label("sector", str(row["indicator_id"]).split(".", 1)[1], "en")
        assert f"{sector} · {row['method_name']}: {row['status_name']}" in html, (sector, row["method_name"])
    fi = _page(built, "fi/indicators/ghg_by_sector.html")
    assert t("site.no_assessment", "fi") not in fi and label("sector", "transport", "fi") + " · " in fi


def test_sources_targets_and_boundaries_are_in_the_pages_language_with_the_fetched_url(built: Built) -> None:
    fi = _page(built, "fi/indicators/ghg_total.html")
    sv = _page(built, "sv/indicators/syke_ghg_total.html")
    # the target's document and the boundary in the page's language, not the catalogue's English
    assert "Espoon hiilineutraalius 2030" in fi and "Espoo carbon neutrality" not in fi
    assert catalogue_text("Syke ALas (all emissions)", "sv") in sv and "(all emissions)" not in sv
    # the publisher and licence as the report names them in that language
    assert source_text("Statistics Finland", "sv") != "Statistics Finland"
    pop = _page(built, "sv/indicators/population.html")
    assert source_text("Statistics Finland", "sv") in pop and ">Statistics Finland<" not in pop
    # the URL last fetched, not the catalogue's pattern: Syke's Espoo file on Espoo's page
    for page in ("fi/indicators/syke_ghg_total.html", "en/indicators/syke_ghg_total.html"):
        html = _page(built, page)
        assert "kunta_{municipality}" not in html and "/kunta_49.csv" in html, page
    assert not [
        p for p in (built.site / "en").glob("**/*.html") if "{dataset}" in p.read_text(encoding="utf-8")
    ]


def test_every_boundary_and_target_document_of_the_catalogue_is_translated() -> None:
    names = {"HSY", "Eurostat", "Traficom", "Syke ALas", "Syke Hinku"}  # the same in every language
    catalogue = load_indicator_catalogue()
    texts = {i.boundary for i in catalogue.indicators.values()} | {
        target.source for i in catalogue.indicators.values() for target in i.targets
    }
    untranslated = sorted(x for x in texts if x not in names and catalogue_text(x, "fi") == x)
    assert untranslated == []


def test_a_status_has_the_same_colour_on_the_site_as_in_the_report(built: Built) -> None:
    from report.theme import LEVEL_COLOURS

    css = (built.site / "assets/site.css").read_text(encoding="utf-8")
    rules = dict(re.findall(r"\.level-(\w+) \{ background: (#[0-9A-Fa-f]{6}); \}", css))
    assert rules == dict(LEVEL_COLOURS)  # every level, once, in the report's palette
    page = _page(built, "en/indicators/ghg_total.html")
    used = set(re.findall(r'class="swatch level-(\w+)"', page))
    assert used and used <= set(rules)


def test_every_page_says_demo_data_while_the_newest_snapshot_of_a_dataset_is_demo(built: Built) -> None:
    notices = {
        "fi": ("DEMO-AINEISTO", "eikä niitä pidä lainata"),
        "sv": ("DEMODATA", "ska inte citeras"),
        "en": ("DEMO DATA", "must not be quoted"),
    }
    pages = sorted(page for lang in LANGS for page in (built.site / lang).glob("**/*.html"))
    assert len(pages) > 100  # the archived reports carry their own notice
    for page in pages:
        lang = page.relative_to(built.site).parts[0]
        html = page.read_text(encoding="utf-8")
        assert 'id="demo-banner"' in html, page
        notice, quote = notices[lang]
        assert notice in html and quote in html, page


def test_the_demo_notice_goes_from_every_page_kept_or_made_when_no_newest_snapshot_is_demo(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loaded_templates: LoadedTemplates
) -> None:
    monkeypatch.setattr(site_build, "write_xlsx", placeholder_xlsx)
    with loaded_templates.copy("sqlite", tmp_path) as url:
        engine = open_database(url)
        # the previous site: a copy of the module's (built from the same snapshot, every dataset demo)
        site = tmp_path / "site"
        shutil.copytree(built.site.resolve(), tmp_path / "first", symlinks=True)
        os.symlink(tmp_path / "first", site)
        assert 'id="demo-banner"' in (site / "en/indicators/ghg_total.html").read_text(encoding="utf-8")
        # live data replace the demo: every dataset's newest snapshot is real (the older ones stay demo)
        snap = schema.snapshot
        newest = select(func.max(snap.c.id)).group_by(snap.c.dataset_id).scalar_subquery()
        with engine.begin() as conn:
            conn.execute(update(snap).where(snap.c.id.in_(newest)).values(is_demo=False))
        build_site(engine, site, langs=("en",), renderer=PlaceholderRenderer())
        pages = sorted((site / "en").glob("**/*.html"))
        assert pages and not [p for p in pages if 'id="demo-banner"' in p.read_text(encoding="utf-8")]
        # one dataset demo again: every page says so (a kept page too)
        with engine.begin() as conn:
            one = conn.execute(select(func.max(snap.c.id))).scalar_one()
            conn.execute(update(snap).where(snap.c.id == one).values(is_demo=True))
        build_site(engine, site, langs=("en",), renderer=PlaceholderRenderer())
        assert all('id="demo-banner"' in p.read_text(encoding="utf-8") for p in pages)
        engine.dispose()


def test_a_failed_build_leaves_the_previous_site(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the previous site: a copy of the module's build, published as build_site leaves it (a link to it)
    site = tmp_path / "site"
    shutil.copytree(built.site.resolve(), tmp_path / "first", symlinks=True)
    os.symlink(tmp_path / "first", site)
    monkeypatch.setattr(site_build, "write_xlsx", placeholder_xlsx)
    first = (site / "en" / "index.html").read_text(encoding="utf-8")
    files = _inodes(site)

    def broken(*args: object, **kwargs: object) -> content.Page:
        raise RuntimeError("the reports archive could not be read")

    monkeypatch.setattr(content, "reports_page", broken)
    with pytest.raises(RuntimeError):
        build_site(built.engine, site, langs=("en",), renderer=PlaceholderRenderer())
    assert (site / "en" / "index.html").read_text(encoding="utf-8") == first
    assert _inodes(site) == files  # every file of the previous site, untouched
    assert check_site(site) == []


def test_the_preview_serves_the_site_on_localhost_only(built: Built) -> None:
    server = make_server(built.site, 0)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/en/indicators/ghg_total.html", timeout=10)
        assert answer.status_code == 200 and "<h1>Greenhouse gas emissions</h1>" in answer.text
    finally:
        server.shutdown()
        server.server_close()


def test_a_bad_language_is_refused(built: Built, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected some of"):
        build_site(built.engine, tmp_path / "s", langs=("de",))


def test_an_indicator_from_a_restricted_source_is_neither_listed_nor_exported(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CDP-ICLEI's rows go out only under a declared licence: an indicator made from a dataset that may not
    be published (ingest.licensing) has no page and no rows in any export."""
    import report.export

    monkeypatch.setattr(report.export, "publishable", lambda dataset: dataset != "oecd_ghg")
    listed = content.listed_indicators(content.SiteData(built.engine))
    assert "peer_ghg_per_resident_oecd" not in listed and "peer_ghg_total_oecd" not in listed
    assert "peer_ghg_per_resident_covenant" in listed
    table = export_table(built.engine, load_indicator_catalogue(), lang="en")
    assert not table.filter(pl.col("indicator").str.starts_with("peer_ghg_total_oecd")).height
    assert table.filter(pl.col("indicator") == "ghg_total").height


def test_a_site_chart_spec_draws_as_the_page_shows_it(built: Built) -> None:
    """The pages above use placeholder drawings; the specs the site writes are drawn by vl-convert here."""
    from report.render import render

    spec = json.loads((built.site / "sv" / "charts" / "ghg_total.vl.json").read_text(encoding="utf-8"))
    svg = render(spec, svg_only=True).svg
    assert svg.startswith("<svg") and "Esbo" in svg and "kt CO₂e" in svg


# ---------------------------------------------------------------------------------------------------------
# numbers and dates as the reader sees them: one locale rule per language


def _visible(html_text: str) -> str:
    """The text a reader sees: no scripts, styles, code (addresses), tags or attribute values."""
    text = re.sub(r"<(script|style|code)\b.*?</\1>", " ", html_text, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "\n", text))


def _figures(html_text: str) -> str:
    """The visible text of the page's tables, chart captions, headline figures and citation (the numbers
    the site writes itself, not the catalogue's descriptions)."""
    found = re.finditer(
        r"<(table|figcaption|dl)\b.*?</\1>|<p class=\"citation\">.*?</p>", html_text, flags=re.DOTALL
    )
    return "\n".join(_visible(m.group(0)) for m in found)


def _pages(built: Built, lang: str) -> list[Path]:
    return sorted((built.site / lang).rglob("*.html"))


def test_no_page_shows_an_iso_date_where_the_report_shows_the_languages_date(built: Built) -> None:
    """Dates and fetch times on the site are written as the report writes them (format_date,
    format_datetime); ISO dates stay in the downloads and the JSON only."""
    iso = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b")
    for lang in LANGS:
        for path in _pages(built, lang):
            found = iso.search(_visible(path.read_text(encoding="utf-8")))
            assert found is None, (path.relative_to(built.site), found.group(0) if found else "")
    home = _visible(_page(built, "fi/index.html"))
    assert re.search(r"\b\d{1,2}\.\d{1,2}\.20\d\d klo\u00a0\d{1,2}\.\d\d\b", home), "no Finnish fetch time"
    swedish = _visible(_page(built, "sv/index.html"))  # Finland-Swedish: "7.12.2026 kl. 21.36"
    assert re.search(r"\b\d{1,2}\.\d{1,2}\.20\d\d kl\.\u00a0\d\d\.\d\d\b", swedish), "no Swedish fetch time"
    citation = _visible(_page(built, "en/indicators/ghg_total.html"))
    assert re.search(r"data as of \d{1,2} [A-Z][a-z]+ 20\d\d\.", citation)


def test_the_home_page_says_a_first_load_in_one_line_not_a_change_per_dataset(built: Built) -> None:
    """Every bundled dataset was loaded once, this week: the home page's "what changed" listed each with all
    its rows "new"; it says in one line that this is their first load, with nothing earlier to compare."""
    count = read.snapshots(built.engine).get_column("dataset_id").n_unique()
    for lang in LANGS:
        home = _page(built, f"{lang}/index.html")
        changes = home[home.index('<section aria-labelledby="changes-heading">') :]
        changes = changes[: changes.index("</section>")]
        assert f"<p>{t('report.first_load_many', lang, n=format_number(count, lang))}</p>" in changes
        assert "<table" not in changes and t("site.changes_none", lang) not in changes


def test_a_peer_charts_notes_are_on_its_pages_below_it(built: Built) -> None:
    """A peer chart's phone drawing leaves its notes (span, estimates, who is left out, method) out of its
    subtitle: the peers page and the indicator's page show each one below the chart, folded, in every
    language, so that the phone loses none of them."""
    for lang in LANGS:
        peers_page = _page(built, f"{lang}/peers.html")
        shown = 0
        for spec_path in sorted((built.site / lang / "charts").glob("peer_*.vl.json")):
            if spec_path.name.endswith(".phone.vl.json"):
                continue
            notes = charts.chart_notes(json.loads(spec_path.read_text("utf-8")))
            if not notes:  # a chart with no note nor method (one source's totals)
                continue
            name = spec_path.name.removesuffix(".vl.json")
            indicator_page = _page(built, f"{lang}/indicators/{name}.html")
            for page in (peers_page, indicator_page):
                folded = re.findall(r'<details class="chart-notes">.*?</details>', page, flags=re.DOTALL)
                items = [html.unescape(i) for block in folded for i in re.findall(r"<li>(.*?)</li>", block)]
                assert all(note in items for note in notes), (lang, name, notes, items)
            shown += 1
        assert shown >= 2, lang
        assert t("report.chart_notes", lang) in peers_page


def _spec_strings(node: object) -> Iterator[str]:
    """Every string of a chart's spec (its title, legends' and marks' data, tooltips), but a data key
    ("path_from_latest") and a Vega expression ("datum.kind === 'path'"), which no reader sees."""
    if isinstance(node, str):
        if not re.fullmatch(r"[a-z0-9_]+", node) and "datum." not in node:
            yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _spec_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _spec_strings(value)


def test_no_page_or_chart_names_a_path_by_another_name(built: Built) -> None:
    """The target path from 1990 and the path required from the latest year each have one name on every page
    and in every chart of the site and the report, in each language (tests/test_terms.py): "tasainen polku"
    had named both, beside "tavoitepolku" and "tarvittava polku"."""
    for lang in LANGS:
        pages = [*_pages(built, lang), *sorted((built.site / "reports").rglob(f"{lang}/report.html"))]
        lines = [line for path in pages for line in _visible(path.read_text(encoding="utf-8")).splitlines()]
        assert unnamed_paths(lines, lang) == []
        specs = sorted((built.site / lang / "charts").glob("*.vl.json"))
        strings = [text for spec in specs for text in _spec_strings(json.loads(spec.read_text("utf-8")))]
        assert unnamed_paths(strings, lang) == []
        # both are there to be named: the emissions page draws the two
        emissions = _visible(_page(built, f"{lang}/indicators/ghg_total.html"))
        assert all(term[lang].search(emissions) for term in PATH_TERMS.values()), lang


def _first_match(
    built: Built, lang: str, pattern: re.Pattern[str], text_of: Callable[[str], str]
) -> tuple[Path, str] | None:
    """The first page of lang whose text (text_of its HTML) matches pattern: its path and the text before
    the match; None when no page does."""
    for path in _pages(built, lang):
        shown = text_of(path.read_text(encoding="utf-8"))
        if found := pattern.search(shown):
            return path.relative_to(built.site), shown[max(0, found.start() - 60) : found.end()]
    return None


def test_percentages_follow_the_language_on_every_page(built: Built) -> None:
    """English "91.9%", Finnish and Swedish "91,9 %" with a no-break space: in the tables, the charts'
    captions, the headline and the citations of every page (peer standings included)."""
    for lang in LANGS:
        wrong = re.compile(r"\d[ \u00a0]%") if lang == "en" else re.compile(r"\d ?%")
        assert _first_match(built, lang, wrong, _figures) is None
    # a percentage indicator's caption and a peer indicator's standings do show percentages
    for page in ("indicators/ev_share.html", "indicators/peer_pt_access_oecd.html"):
        assert re.search(r"\d%", _figures(_page(built, f"en/{page}"))), page
        assert re.search(r"\d\u00a0%", _figures(_page(built, f"fi/{page}"))), page


def test_every_page_writes_percentages_by_the_languages_rule_descriptions_too(built: Built) -> None:
    """The whole visible text of every page, the indicator catalogue's descriptions included (they wrote
    "−80 %" and "21 %" with a plain space in every language), follows the percent rule."""
    for lang in LANGS:
        wrong = re.compile(r"\d\s%") if lang == "en" else re.compile(r"\d(%|[^\S\u00a0]%)")
        assert _first_match(built, lang, wrong, _visible) is None
    assert f"(tavoite −80{NBSP}% vuonna 2030)" in _visible(
        _page(built, "fi/indicators/ghg_change_on_1990.html")
    )
    assert "about 21% of Espoo's" in _visible(_page(built, "en/indicators/carbon_sink_estimate.html"))


def test_no_page_shows_an_iso_week_where_the_report_names_the_week(built: Built) -> None:
    """A week (a report folder's key, a weekly indicator's period) reads as the report names it ("viikko
    45/2026", "vecka 45/2026", "week 45/2026"); the ISO key stays in addresses and <time datetime>."""
    iso_week = re.compile(r"\b\d{4}-W\d{2}\b")
    for lang in LANGS:
        for path in _pages(built, lang):
            found = iso_week.search(_visible(path.read_text(encoding="utf-8")))
            assert found is None, (path.relative_to(built.site), found.group(0) if found else "")
    week = f"{WEEK.number}/{WEEK.year}"
    names = {"fi": f"Viikko {week}", "sv": f"Vecka {week}", "en": f"Week {week}"}
    latest = {"fi": f"Viikkoraportti, viikko {week}", "sv": f"Veckorapport, vecka {week}"}
    latest |= {"en": f"Weekly report, week {week}"}
    for lang in LANGS:
        archive = _page(built, f"{lang}/reports.html")
        href = f"../reports/{WEEK.key}/{lang}/report.html"
        link = f'<a href="{href}"><time datetime="{WEEK.key}">{names[lang]}</time></a>'
        assert link in archive, lang
        assert latest[lang] in _visible(_page(built, f"{lang}/index.html")), lang


def test_a_site_charts_table_heads_its_values_with_the_indicators_unit(built: Built) -> None:
    """The table under each indicator's chart names the unit of its values in every language."""
    expected = {
        ("en", "ghg_total"): "Value (kt CO₂e)",
        ("fi", "ghg_total"): "Arvo (kt CO₂e)",
        ("sv", "ev_share"): "Värde (%)",
        ("en", "peer_pt_access_oecd"): "Value (%)",
        ("fi", "ghg_per_resident"): "Arvo (t CO₂e/asukas)",
        ("fi", "ghg_index"): "Arvo (indeksi)",
    }
    for (lang, indicator), header in expected.items():
        page = _page(built, f"{lang}/indicators/{indicator}.html")
        caption = escape(t("site.chart_table_caption", lang, name=_indicator_name(indicator, lang)))
        table = page[page.index(f"<caption>{caption}</caption>") :]
        table = table[: table.index("</thead>")]
        assert f'<th scope="col" class="num">{header}</th>' in table, (lang, indicator, table)


def _indicator_name(indicator: str, lang: str) -> str:
    return load_indicator_catalogue().get(indicator).name.get(lang) or indicator


def test_the_catalogue_decides_how_a_chart_states_its_change_and_whether_it_is_projected() -> None:
    catalogue = load_indicator_catalogue()
    # a change or a difference can cross zero: a change of it means nothing, nor does its straight-line trend
    for indicator in (
        "ghg_change_on_previous_year",
        "reconcile_ghg_hsy_syke",
        "reconcile_population_national",
    ):
        assert content.change_kind(catalogue.get(indicator)) == "none", indicator
        assert not content.is_projected(catalogue.get(indicator)), indicator
    # a change on a fixed base year is the level rescaled: projected, but no change of the change stated
    assert content.change_kind(catalogue.get("ghg_change_on_1990")) == "none"
    assert content.is_projected(catalogue.get("ghg_change_on_1990"))
    for indicator in ("recycling_rate", "renewable_share", "circular_material_use_rate"):
        assert content.change_kind(catalogue.get(indicator)) == "points", indicator
    assert content.change_kind(catalogue.get("ghg_total")) == "relative"
    assert content.is_projected(catalogue.get("ghg_total"))


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_a_change_series_page_has_no_relative_change_nor_a_trend_to_2030(built: Built) -> None:
    for lang in LANGS:
        page = _page(built, f"{lang}/indicators/ghg_change_on_previous_year.html")
        title = re.search(r"<figcaption><strong>([^<]*)", page)
        assert title is not None
        # "−4,0 % (2024), −565 % vuodesta 2001" was a per cent of a per cent
        assert "(2024)," not in html.unescape(title.group(1)), title.group(1)  # nothing after the value
        table = _text(page[page.index("<details>") : page.index("</details>")])
        assert t("site.kind_projection", lang) not in table, lang
        assert t("site.kind_estimate", lang) not in table, lang
        assert t("site.kind_observed", lang) in table, lang


def test_the_emissions_page_lists_each_year_once_and_names_both_projection_methods(built: Built) -> None:
    for lang in LANGS:
        page = _page(built, f"{lang}/indicators/ghg_total.html")
        table = page[page.index("<details>") : page.index("</details>")]
        found = re.findall(r"<tr>\s*<t[hd][^>]*>([^<]*)</t[hd]>\s*<td[^>]*>([^<]*)</td>", table)
        rows = [(period, html.unescape(kind)) for period, kind in found]  # "Tracker&#39;s own estimate"
        estimated = [p for p, kind in rows if kind == t("site.kind_estimate", lang)]
        assert estimated, lang
        # an estimated year is not also a row of the trend projection with the same figures
        projected = [p for p, kind in rows if kind == t("site.kind_projection", lang)]
        assert not set(estimated) & set(projected), (lang, estimated, projected)
        text = _text(page)
        # the dashed line's least-squares trend and the German model's five-year mean change are told apart
        assert t("site.projection_method", lang, first="2015", last="2024") in text, lang
        assert re.search(
            re.escape(t("site.projection_method_german", lang, year="2030", projected="@")).replace(
                "@", ".*?"
            ),
            text,
        ), lang


def _items(page: str) -> dict[str, str]:
    """An indicator list's items: the link's address → the item's text."""
    found = re.findall(r'<li data-name="[^"]*"><a href="([^"]+)">(.*?)</li>', page)
    return {href: " ".join(_text(item).split()) for href, item in found}


def test_the_climate_goal_page_gives_the_emissions_series_one_verdict_and_says_which_have_no_target(
    built: Built,
) -> None:
    """The index (1990 = 100) is measured against Espoo's −80 % as ghg_total is (it said "significant
    progress" from a trend-only method while ghg_total said "insufficient progress"); a verdict without a
    target says so on the goal page and on the indicator page."""
    for lang in LANGS:
        items = _items(_page(built, f"{lang}/goals/sdg-13.html"))
        total, index = items["../indicators/ghg_total.html"], items["../indicators/ghg_index.html"]
        verdict = total.split(f"{t('method.eurostat', lang)}: ", 1)[1]
        assert index.endswith(f"{t('method.eurostat', lang)}: {verdict}"), (lang, index)
        no_target = t("site.status_no_target", lang, status="@").split("@", 1)[1]
        assert no_target not in total and no_target not in index
        per_resident = items["../indicators/ghg_per_resident.html"]  # no target of its own
        assert per_resident.endswith(no_target), (lang, per_resident)
        page = _text(_page(built, f"{lang}/indicators/ghg_per_resident.html"))
        assert t("site.no_target", lang) in page and no_target in page
        # a trend-only verdict's span points to no target year ("2015–2024 → 2030" read as a target's)
        assert "→" not in page, (lang, re.findall(r".{40}→.{10}", page))
        assert "→ 2030" in _text(_page(built, f"{lang}/indicators/ghg_total.html"))  # measured to −80 %
        change = _text(_page(built, f"{lang}/indicators/ghg_change_on_1990.html"))
        assert t("site.no_target", lang) not in change  # −80 % on 1990 is its target too
        from report import data as rd

        line = t("site.target_line", lang, area=rd.area_label("049", lang), year=2030, value="@")
        shown = re.search(re.escape(line).replace("@", "(.*?)"), change)
        assert shown is not None and shown[1] == rd.format_value(-80.0, "%", lang), lang


def test_the_circular_economy_page_says_whose_figures_it_lists(built: Built) -> None:
    """Finland's figures are named "(Finland)" as in the report's grid, not taken for Espoo's."""
    from report import data as rd

    for lang in LANGS:
        items = _items(_page(built, f"{lang}/circular-economy.html"))
        finland = rd.area_label("FI", lang)
        for indicator in ("municipal_waste_per_capita", "recycling_rate", "circular_material_use_rate"):
            name = load_indicator_catalogue().get(indicator).name.get(lang)
            assert items[f"indicators/{indicator}.html"].startswith(f"{name} ({finland})"), (lang, indicator)
        espoo = _items(_page(built, f"{lang}/goals/sdg-13.html"))["../indicators/ghg_total.html"]
        assert espoo.startswith(f"{load_indicator_catalogue().get('ghg_total').name.get(lang)} SDG")


def test_the_german_models_sentence_compares_the_trend_in_its_own_target_year(built: Built) -> None:
    """On the recycling rate the German model's figure is for 2025, its target year; the sentence on the
    chart's trend names the trend's value in 2025 too, not in 2035 (the horizon), so "hence the two figures
    differ" compares like with like."""
    from report import data as rd

    german = rd.status_frame(built.engine, "en", indicators=["recycling_rate"]).filter(
        pl.col("method") == "german_strategy"
    )
    year = german.item(0, "target_year")
    assert year is not None
    values = indicator_values("recycling_rate", area="FI", kind="projection", engine=built.engine)
    trend = values.filter(pl.col("period") == str(year)).item(0, "value")
    for lang in LANGS:
        page = _text(_page(built, f"{lang}/indicators/recycling_rate.html"))
        expected = t(
            "site.projection_method_german", lang, year=str(year), projected=rd.format_value(trend, "%", lang)
        )
        assert expected in page, lang
        sentence = re.escape(t("site.projection_method_german", lang, year="YYYY", projected="VVVV"))
        years = re.findall(sentence.replace("YYYY", r"(\d{4})").replace("VVVV", ".*?"), page)
        assert set(years) == {str(year)}, (lang, years)


def test_an_indicator_pages_comparison_prints_the_ranking_as_the_reports_ranking_does(built: Built) -> None:
    """Syke's per-resident emissions: Turku 2.55, Espoo 2.58, Kauniainen … all printed "2.6" in the page's
    table, while the report's per-resident comparison says Espoo 2.58 t. Neighbours that differ print
    differently, at the fewest decimals that tell them apart."""
    latest = (
        indicator_values("syke_ghg_per_resident", kind="observed", engine=built.engine)
        .filter(pl.col("value").is_not_null())
        .sort("period")
        .group_by("area")
        .last()
    )
    espoo = latest.filter(pl.col("area") == "049").item(0, "value")
    for lang in LANGS:
        page = _page(built, f"{lang}/indicators/syke_ghg_per_resident.html")
        table = page[page.index('id="comparison-heading"') :]
        table = table[: table.index("</table>")]
        rows = [
            re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)
            for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)
        ]
        cells = [" ".join(_text(" ".join(r)).split()) for r in rows[1:]]
        printed = [_text(r[-1]) for r in rows[1:]]
        assert len(printed) == latest.height
        assert len(set(printed)) == len(set(latest.get_column("value").to_list())), (lang, printed)
        assert any(format_number(espoo, lang, 2) in c and "◀" in c for c in cells), (lang, cells)


@pytest.mark.parametrize("lang", LANGS)
def test_an_indicator_pages_chart_draws_the_path_required_from_the_latest_value_as_the_report_does(
    built: Built, lang: str
) -> None:
    """The report's trajectory chart draws the path required from the latest observed year to the target;
    the emissions page drew only the linear path from 1990, so the two views showed different paths."""
    spec = json.loads((built.site / lang / "charts" / "ghg_total.vl.json").read_text(encoding="utf-8"))
    rows = [row for data in spec["datasets"].values() for row in data]
    name = t("site.kind_path_from_latest", lang)
    drawn = {row["period"]: row["value"] for row in rows if row.get("kind_name") == name}
    stored = indicator_values("ghg_total", area="049", kind="path_from_latest", engine=built.engine)
    assert drawn and drawn == dict(stored.select("period", "value").iter_rows())
    latest = indicator_values("ghg_total", area="049", kind="observed", engine=built.engine)
    assert min(drawn) == latest.get_column("period").max()  # from the latest observed year
    layers = [layer for layer in spec["layer"] if layer.get("mark", {}).get("type") == "line"]
    assert any("path_from_latest" in json.dumps(layer.get("transform", [])) for layer in layers)


def test_a_long_ranking_shows_the_main_areas_neighbourhood_first_and_folds_the_rest(built: Built) -> None:
    """ev_share ranks every municipality: its page was a table of 300 rows. It now shows Espoo and the
    areas on each side of it, each with its rank, and folds the whole ranking into a details element; a
    short comparison (the emissions' five areas) stays as it was."""
    page = content.indicator_page(content.SiteData(built.engine), "ev_share", "fi")
    full, near = page.context["comparison"], page.context["comparison_near"]
    assert len(full.rows) > ranking.RANKED_IN_FULL and near is not None
    assert len(near.rows) == 2 * content.NEAR + 1
    first = [list(row) for row in full.rows].index(list(near.rows[0][:-1]))
    for offset, row in enumerate(near.rows):  # the full table's rows, in its order, each with a rank
        assert list(row[:-1]) == list(full.rows[first + offset])
    (espoo,) = [row for row in near.rows if str(row[0]).endswith("◀")]
    stored = indicator_values("ev_share", kind="observed", engine=built.engine)
    latest = stored.sort("period").group_by("area").last()
    own = latest.filter(pl.col("area") == "049").get_column("value").item()
    rank = 1 + latest.filter(pl.col("value") > own).height  # a larger share is better (direction increase)
    assert espoo[-1] == t("peers.rank_of", "fi", rank=rank, n=latest.height)
    html = _page(built, "fi/indicators/ev_share.html")
    assert '<details class="all-areas">' in html and t("site.comparison_all", "fi", n=latest.height) in html
    assert '<details class="all-areas">' not in _page(built, "fi/indicators/ghg_total.html")
