"""Tests for report.data and report.weekly: the weekly and half-yearly reports on a loaded database."""

from __future__ import annotations

import base64
import csv
import functools
import json
import posixpath
import re
import shutil
import string
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import polars as pl
import pytest
import vl_convert as vlc
from markupsafe import escape
from sqlalchemy import Engine, delete, func, insert, select, update
from typer.testing import CliRunner

from common.atomic import PART_SUFFIX
from common.flags import has_meaning
from common.helsinki import HELSINKI
from indicators.catalogue import load_indicator_catalogue
from ingest.catalogue import load_catalogue
from kestava import cli
from report import charts, i18n, weekly
from report import data as rd
from report import peers as report_peers
from report.chart_ids import ASSESSMENT_ID_COLUMNS, DATASET_ID_COLUMNS, ID_COLUMNS, REPLACED_KEYS
from report.charts import KEY_COLUMNS, STATUS_LEVELS, indicator_label
from report.export import export_table
from report.i18n import LANGS, NBSP, catalogue, format_number, label, t
from storage import read, schema
from storage.engine import open_database
from tests.conftest import BACKENDS, LoadedTemplates
from tests.test_api import fetch_span
from tests.test_report_asof import _date_back

EVIL = "<script>alert(1)</script>"
EVIL_IMG = '<img src=x onerror="alert(2)">'
EXPECTED_CHARTS = list(weekly.CHART_NAMES)


# ---------------------------------------------------------------------------------------------------------
# helpers


class Page(HTMLParser):
    """The parts of a report page the tests look at: text, attributes, scripts and headings."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.headings: list[int] = []
        self.html_lang: str | None = None
        self._stack: list[str] = []
        self._script: dict[str, str] | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        for k, v in values.items():
            self.attrs.append((tag, k, v))
        if tag == "html":
            self.html_lang = values.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "script":
            self._script, self._buffer = values, []
        self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._buffer)))
            self._script = None
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._buffer.append(data)
        elif not self._stack or self._stack[-1] != "style":
            self.text.append(data)

    def visible(self) -> str:
        shown = [v for _, k, v in self.attrs if k in ("alt", "aria-label", "title")]
        return " ".join([*self.text, *shown])


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def png_pixels(png: bytes) -> tuple[int, int, bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def this_week() -> str:
    """The ISO week the fixture's snapshots were fetched in (they are fetched now)."""
    iso = datetime.now(HELSINKI).date().isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


@contextmanager
def injected(engine: Engine) -> Iterator[None]:
    """Put markup into every kind of string that reaches the report from data, then put it all back."""
    src, ds, iv, asm, run = (
        schema.source,
        schema.dataset,
        schema.indicator_value,
        schema.assessment,
        schema.job_run,
    )
    with engine.begin() as conn:
        old_source = conn.execute(src.select().where(src.c.id == "hsy")).one()._mapping
        old_title = conn.execute(ds.select().where(ds.c.id == "hsy_emissions")).one()._mapping["title"]
        conn.execute(
            update(src).where(src.c.id == "hsy").values(attribution=f"HSY {EVIL}", publisher=f"HSY {EVIL}")
        )
        conn.execute(update(ds).where(ds.c.id == "hsy_emissions").values(title=f"Emissions {EVIL}"))
        conn.execute(
            update(iv)
            .where(iv.c.indicator_id == "ghg_by_sector.waste", iv.c.area == "049")
            .values(indicator_id=f"ghg_by_sector.{EVIL}")
        )
        for table in (asm, iv):  # an assessment stands on its stored values (the snapshots it cites)
            conn.execute(
                update(table)
                .where(table.c.indicator_id == "net_ghg_national", table.c.area == "FI")
                .values(indicator_id=EVIL)
            )
        now = datetime.now(UTC).replace(tzinfo=None)
        run_id = conn.execute(
            insert(run)
            .values(
                job="ingest:eurostat_sdg_12_41",
                dataset_id="eurostat_sdg_12_41",
                trigger="test",
                started_at=now,
                finished_at=now,
                outcome="failed",
                error=f"HTTP 500 {EVIL_IMG}",
            )
            .returning(run.c.id)
        ).scalar_one()
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(
                update(src)
                .where(src.c.id == "hsy")
                .values(attribution=old_source["attribution"], publisher=old_source["publisher"])
            )
            conn.execute(update(ds).where(ds.c.id == "hsy_emissions").values(title=old_title))
            conn.execute(
                update(iv)
                .where(iv.c.indicator_id == f"ghg_by_sector.{EVIL}")
                .values(indicator_id="ghg_by_sector.waste")
            )
            for table in (asm, iv):
                conn.execute(
                    update(table).where(table.c.indicator_id == EVIL).values(indicator_id="net_ghg_national")
                )
            conn.execute(delete(run).where(run.c.id == run_id))


# ---------------------------------------------------------------------------------------------------------
# fixtures: one full report per backend (drawn on SQLite), lighter ones for the other languages


@pytest.fixture(scope="module")
def full(loaded_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> weekly.ReportResult:
    """The Finnish weekly report with every file (HTML, CSV, XLSX), its charts drawn (PNG, SVG) on SQLite."""
    out = tmp_path_factory.mktemp("full")
    images = loaded_engine.dialect.name == "sqlite"
    return weekly.build_report(
        loaded_engine, weekly.parse_week(this_week()), lang="fi", out_dir=out, images=images
    )


# The tests of the charts' drawn files (PNG, SVG, the PNG inlined in the page) read SQLite's full report:
# vl-convert draws the same specs whatever the backend, and drawing them on both took seconds a run.
IMAGES_ON_SQLITE = pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)


class TickingClock(datetime):
    """A clock that moves a minute every time it is read: one run that asked it twice would say two times.
    It reads today's noon and on from there, so that its minutes never carry a run's dates past midnight."""

    given: list[datetime] = []  # noqa: RUF012 - the readings of every run on this clock, in order

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        """Noon today, a minute later for every earlier reading; each reading kept in `given`."""
        noon = datetime.now(tz).replace(hour=12, minute=0, second=0, microsecond=0)
        reading = noon + timedelta(minutes=len(TickingClock.given) + 1)
        TickingClock.given.append(reading)
        return reading


@dataclass
class OneRun:
    """One run of build_reports (every language, no images), watched: how often it computed the changes
    and read each chart's data, on a clock that moves a minute every time it is read."""

    results: dict[str, weekly.ReportResult]
    period: weekly.ReportPeriod
    out_dir: Path
    changes_calls: int
    frame_reads: Counter[str]


FRAME_READERS = (
    "trajectory_inputs",
    "sector_frame",
    "per_resident_frame",
    "circular_frame",
    "balance_frames",
)


@pytest.fixture(scope="module")
def one_run(loaded_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> OneRun:
    """The languages' reports of one run, shared by the tests that look at a run as a whole (its watchers
    only count calls, so the pages are the run's own)."""
    out = tmp_path_factory.mktemp("one-run")
    changes_calls: list[tuple[Any, ...]] = []
    frame_reads: Counter[str] = Counter()

    def counted(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "changes":
                changes_calls.append(args)
            else:
                frame_reads[name] += 1
            return original(*args, **kwargs)

        return call

    period = weekly.parse_week(this_week())
    with pytest.MonkeyPatch.context() as patch:
        for name in ("changes", *FRAME_READERS):
            patch.setattr(rd, name, counted(name, getattr(rd, name)))
        patch.setattr(weekly, "datetime", TickingClock)
        results = weekly.build_reports(loaded_engine, period, out_dir=out, images=False)
    return OneRun(results, period, out, len(changes_calls), frame_reads)


@pytest.fixture(scope="module")
def light(one_run: OneRun) -> dict[str, Path]:
    """The Swedish and English weekly reports without images (the HTML and the CSVs), of one_run."""
    return {lang: one_run.results[lang].path for lang in ("sv", "en")}


# ---------------------------------------------------------------------------------------------------------
# the weekly report


def test_report_is_written_per_week_and_language(full: weekly.ReportResult) -> None:
    assert full.path.name == "report.html"
    assert full.path.parent.name == "fi" and full.path.parent.parent.name == this_week()
    assert [c.name for c in full.charts] == EXPECTED_CHARTS
    assert all(c.error is None for c in full.charts), [(c.name, c.error) for c in full.charts]


def test_headline_states_value_target_gap_pace_and_status(full: weekly.ReportResult) -> None:
    page = parse(full.path)
    text = " ".join(page.text)
    assert "Espoon päästöt ja vuoden 2030 tavoite" in text
    assert f"712{NBSP}kt CO₂e" in text and "vuonna 2024" in text
    assert f"212{NBSP}kt CO₂e" in text  # the target, 1990 × (1 − 80 %)
    assert f"1{NBSP}060{NBSP}kt × (1{NBSP}−{NBSP}80{NBSP}%)" in text  # the rule kept whole on a phone
    assert f"500{NBSP}kt CO₂e" in text and f"70{NBSP}% vuoden 2024 tasosta" in text
    assert f"−18,3{NBSP}% vuodessa" in text and f"−83{NBSP}kt vuodessa" in text
    assert "Tavoitepolku: Jäljessä tavoitepolusta." in text
    assert "Eurostat: Riittämätöntä edistystä." in text
    assert f"339{NBSP}kt CO₂e" in text  # the linear path's value in 2024: the reason


def test_the_headline_says_why_the_grids_other_verdicts_differ(
    loaded_engine: Engine, full: weekly.ReportResult, light: dict[str, Path]
) -> None:
    """The grid's German model ("nearly on track", 260 kt in 2030 at its pace) and SDSN verdicts of the
    headline indicator stand under the headline with the explanation the site's page gives: the headline's
    "at the current pace" figure is the least-squares trend, the German model's the five-year mean change,
    both for 2030 (fi, sv, en)."""
    h = rd.headline(loaded_engine)
    assert h.projected_value is not None
    for lang, path in {"fi": full.path, **light}.items():
        text = " ".join(parse(path).text)
        section = text[text.index(t("report.other_methods_heading", lang)) :]
        german = t(
            "site.projection_method_german",
            lang,
            year=str(h.target_year),
            projected=rd.format_value(h.projected_value, h.unit, lang),  # the headline's own figure
        )
        assert german in section, lang
        for method in ("german", "sdsn"):
            assert f"{t(f'method.{method}', lang)}: " in section, (lang, method)
        assert t("site.projection_method", lang, first="2015", last="2024") in section, lang


def test_headline_numbers(loaded_engine: Engine) -> None:
    h = rd.headline(loaded_engine)
    assert (h.base_year, h.base_value, h.target_year) == (1990, 1060.0, 2030)
    assert h.target_value == pytest.approx(212.0)
    assert (h.latest_year, h.latest_value) == (2024, 712.0)
    assert h.gap == pytest.approx(500.0) and h.gap_pct == pytest.approx(500 / 712 * 100)
    assert h.required_rate == pytest.approx((212 / 712) ** (1 / 6) - 1)
    assert h.required_change == pytest.approx(-500 / 6)
    assert h.is_demo and h.snapshot_ids


def test_demo_banner_at_the_top(full: weekly.ReportResult) -> None:
    html = full.path.read_text(encoding="utf-8")
    banner = html.index('id="demo-banner"')
    assert banner < html.index("<h1>")
    assert t("meta.demo_notice", "fi") in html


def test_what_changed_says_the_first_load_and_lists_sources_needing_attention(
    full: weekly.ReportResult,
) -> None:
    text = " ".join(parse(full.path).text)
    assert "Mikä muuttui seitsemän päivän aikana" in text  # the week is not over: its seven days to now
    # every demo dataset was loaded once: one line, not each dataset with its rows as "new"
    assert "Ensimmäinen lataus:" in text and "ei aiempaa versiota verrattavaksi" in text
    assert f"17{NBSP}031" not in text  # Syke's rows, all "added" on its first load, are no change
    assert "HSY: pääkaupunkiseudun kasvihuonekaasupäästöt" in text  # a source needing attention
    assert t("report.revised_none", "fi") in text
    assert t("report.sources_heading", "fi") in text and t("freshness.status_late", "fi") in text


@IMAGES_ON_SQLITE
def test_libraries_inlined_exactly_once_and_nothing_fetched(full: weekly.ReportResult) -> None:
    html = full.path.read_text(encoding="utf-8")
    assert html.count(weekly.bundle_header().strip()) == 1
    assert html.count(f'"{vlc.get_vega_version()}"') == 1  # Vega
    vl = vlc.get_vegalite_versions()[-1]
    assert len(re.findall(rf'"{re.escape(vl)}\.\d+"', html)) == 1  # Vega-Lite
    # Vega-Embed (its default style, a string in its code; the page's style has the rules it needs)
    assert html.count("window.vegaEmbed=") == 1 and html.count(".vega-embed {\\n") == 1
    page = parse(full.path)
    plain = [s for s in page.scripts if "type" not in s[0]]
    assert len(plain) == 2  # the bundle and the loop that embeds every chart
    assert sum(len(body) > 500_000 for _, body in page.scripts) == 1
    assert [s[0]["id"] for s in page.scripts if s[0].get("type") == "application/json"] == [
        f"spec-{name}" for name in EXPECTED_CHARTS
    ]
    for tag, attr, value in page.attrs:
        if attr in ("src", "href"):
            assert not re.match(r"^\s*(https?:)?//", value, re.I), (tag, attr, value)
            assert not value.startswith(("file:", "ftp:")), (tag, attr, value)
    links = {v for tag, a, v in page.attrs if a == "href" and tag == "a"}
    assert {"emissions_trajectory.png", "emissions_trajectory.svg", "emissions_trajectory.csv"} <= links


@IMAGES_ON_SQLITE
def test_accessibility_basics(full: weekly.ReportResult) -> None:
    page = parse(full.path)
    assert page.html_lang == "fi"
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, page.headings  # no level skipped
    labels = {v for tag, a, v in page.attrs if a == "aria-label" and tag == "div"}
    alts = [v for tag, a, v in page.attrs if a == "alt" and tag == "img"]
    html = full.path.read_text(encoding="utf-8")
    for chart in full.charts:
        # the chart (and its PNG) is named by its short title; its long description is on the page once,
        # in the caption the chart points to (the reviewers' screen reader heard it twice over)
        assert chart.title and chart.title in labels and chart.title in alts
        assert chart.alt and chart.alt not in labels and chart.alt not in alts
        assert "".join(page.text).count(chart.alt) == 1, chart.name  # (the spec's JSON is no text)
        described = f'aria-describedby="desc-{chart.name}"'
        assert described in html and f'<span id="desc-{chart.name}">{chart.alt}</span>' in html
    assert html.count('<img class="static" src="data:image/png;base64,') == len(EXPECTED_CHARTS)
    assert html.count('<th scope="col"') > 20 and html.count('<th scope="row"') > 50
    assert html.count("<figcaption") == len(EXPECTED_CHARTS)
    assert html.count("<details>") == len(EXPECTED_CHARTS)


@IMAGES_ON_SQLITE
def test_png_svg_csv_per_chart(full: weekly.ReportResult) -> None:
    folder = full.path.parent
    pngs = set()
    for chart in full.charts:
        png = (folder / f"{chart.name}.png").read_bytes()
        width, height, raw = png_pixels(png)
        assert 30_000 < len(png) < 5_000_000, (chart.name, len(png))
        assert width > 600 and height > 300, (chart.name, width, height)
        assert len(set(raw)) > 32, chart.name  # not one flat colour
        pngs.add(png)
        svg = ElementTree.fromstring((folder / f"{chart.name}.svg").read_text(encoding="utf-8"))
        marks = [
            e
            for e in svg.iter()
            if "mark-" in e.get("class", "") and any(child.tag.endswith(("path", "text")) for child in e)
        ]
        assert len(marks) >= 2, chart.name
        with (folder / f"{chart.name}.csv").open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle, delimiter=";"))
        assert chart.frame is not None and chart.table is not None
        # in the language, headed as the table on the page heads the same columns (with their unit), the
        # catalogue keys the page leaves out in between
        keys = {t(f"column.{c}", "fi") for c in chart.frame.columns if c in KEY_COLUMNS}
        # a fraction the page shows as "30 %" is written in percent, its header saying so ("Osuus (%)")
        fractions = {t(f"column.{c}", "fi") for c in ("share", "share_of_cut", "ratio")}
        headers = [f"{h} (%)" if h in fractions else h for h in chart.table.headers]
        # a chart of indicator values begins with the API's ids (report.chart_ids), under their API names
        ids = {*ID_COLUMNS, *ASSESSMENT_ID_COLUMNS, *DATASET_ID_COLUMNS}
        assert [h for h in rows[0] if h not in keys and h not in ids] == headers, chart.name
        assert len(rows) - 1 == chart.frame.height
    assert len(pngs) == len(full.charts)
    # the download names the unit of its values as the page's table does (it said "Arvo", "Alaraja", …)
    with (folder / "emissions_trajectory.csv").open(encoding="utf-8-sig") as handle:
        assert handle.readline().strip() == (
            "indicator_id;area_id;period_id;kind_id;unit_id;"
            "Sarja;Vuosi;Arvo (kt CO₂e);Alaraja (kt CO₂e);Yläraja (kt CO₂e);Seurannan oma arvio;Ennakkotieto"
        )


def test_data_tables_are_formatted_in_the_language(full: weekly.ReportResult) -> None:
    html = full.path.read_text(encoding="utf-8")
    trajectory = next(c for c in full.charts if c.name == "emissions_trajectory")
    assert trajectory.table is not None
    assert trajectory.table.headers[:3] == ["Sarja", "Vuosi", "Arvo (kt CO₂e)"]
    row_2024 = next(r for r in trajectory.table.rows if r[1] == "2024" and r[0] == "Päästöt")
    assert row_2024[2] == "712"
    assert f"1{NBSP}060" in html


def test_a_chart_tables_value_columns_name_their_unit(
    full: weekly.ReportResult, light: dict[str, Path]
) -> None:
    """The table under a chart heads its values with their unit ("Arvo (kt CO₂e)"); a table whose rows
    mix units (the circular economy's kg per resident and %) has a unit column beside the values instead."""
    tables = {c.name: c.table for c in full.charts if c.table is not None}
    assert tables["emissions_trajectory"].headers[2:5] == [
        "Arvo (kt CO₂e)",
        "Alaraja (kt CO₂e)",
        "Yläraja (kt CO₂e)",
    ]
    assert "Arvo (kt CO₂e)" in tables["sector_area"].headers
    assert [h for h in tables["sector_waterfall"].headers if h.startswith(("Alku", "Loppu", "Muutos"))] == [
        "Alku (kt CO₂e)",
        "Loppu (kt CO₂e)",
        "Muutos (kt CO₂e)",
    ]
    assert "Arvo (t CO₂e/asukas)" in tables["per_resident_comparison"].headers
    assert "Arvo (gCO₂/kWh)" in tables["weekly_mover"].headers
    assert "Arvo (kt CO₂e)" in tables["neutrality_balance"].headers
    assert "Arvo (t CO₂e/asukas)" in tables["peer_emissions_oecd"].headers
    # each Covenant city chose t CO2 or t CO2e: the header names the unit as the chart does
    assert "Arvo (t CO₂(e)/asukas)" in tables["peer_emissions_covenant"].headers
    circular = tables["circular_economy"]
    at = circular.headers.index("Arvo")
    assert circular.headers[at + 1] == "Yksikkö"
    assert {row[at + 1] for row in circular.rows} == {"kg/asukas", "%"}
    for name, table in tables.items():  # a bare "Arvo" only beside a unit column
        for i, header in enumerate(table.headers):
            if header == "Arvo":
                assert table.headers[i + 1] == "Yksikkö", name
    english = "\n".join(parse(light["en"]).text)
    assert "Value (kt CO₂e)" in english and "Value (t CO₂e per resident)" in english
    assert "Värde (kt CO₂e)" in "\n".join(parse(light["sv"]).text)


def test_every_chart_spec_carries_its_data_and_locale(full: weekly.ReportResult) -> None:
    for chart in full.charts:
        assert chart.spec is not None
        assert chart.spec["usermeta"]["kestava"]["lang"] == "fi"
        assert chart.spec["usermeta"]["kestava"]["is_demo"] is True
        assert "url" not in str(chart.spec.get("data", ""))
        assert chart.spec["config"]["locale"]["number"]["decimal"] == ","


# ---------------------------------------------------------------------------------------------------------
# languages


def _fragments(text: str) -> list[str]:
    parts = [literal for literal, _, _, _ in string.Formatter().parse(text)]
    return [p.strip(" .,:;()·–-") for p in parts if len(p.strip(" .,:;()·–-")) >= 8]


def _foreign_only(lang: str) -> set[str]:
    cat = catalogue()
    own = [entry[lang] for entry in cat.values()]
    foreign = set()
    for entry in cat.values():
        for other in LANGS:
            if other == lang:
                continue
            for fragment in _fragments(entry[other]):
                if not any(fragment in s for s in own):
                    foreign.add(fragment)
    return foreign


def _data_strings(engine: Engine) -> list[str]:
    """Strings as the sources write them: titles, publishers, licences, attributions and URLs."""
    found = {v for entry in rd._sources(engine).values() for v in entry.values() if v}
    with engine.connect() as conn:
        found |= set(conn.execute(schema.payload.select().with_only_columns(schema.payload.c.url)).scalars())
    return sorted(found, key=len, reverse=True)


@pytest.mark.parametrize("lang", LANGS)
def test_no_ui_string_of_another_language(
    lang: str, full: weekly.ReportResult, light: dict[str, Path], loaded_engine: Engine
) -> None:
    path = full.path if lang == "fi" else light[lang]
    page = parse(path)
    assert page.html_lang == lang
    text = page.visible()
    for data in _data_strings(loaded_engine):  # titles, publishers, licences as the sources write them
        text = text.replace(data, " ")
    foreign = _foreign_only(lang)
    teeth = "Sources and traceability" if lang == "fi" else "Lähteet ja jäljitettävyys"
    assert teeth in foreign  # the check has teeth
    leaked = sorted(f for f in foreign if f in text)
    assert not leaked, f"[{lang}] shows another language's UI strings: {leaked[:10]}"


def test_swedish_and_english_formats(light: dict[str, Path]) -> None:
    sv = " ".join(parse(light["sv"]).text)
    en = " ".join(parse(light["en"]).text)
    assert "Esbos utsläpp och målet för 2030" in sv
    assert f"212{NBSP}kt CO₂e" in sv and f"−18,3{NBSP}% per år" in sv
    assert "Espoo's emissions and the 2030 target" in en
    assert "212\u00a0kt CO₂e" in en and "-18.3% a year" in en and "1,060" in en  # CLDR en_IE: hyphen-minus
    assert "Target path: Behind the target path." in en
    folder = light["sv"].parent
    assert (folder / "sector_area.csv").exists() and not (folder / "sector_area.png").exists()
    assert "sector_area.png" not in light["sv"].read_text(encoding="utf-8")  # no link to a missing file


# a table element as a type selector ("th", "thead th", "td.code"), not a class or id ending in one
_TABLE_TYPE = re.compile(r"(?:^|[\s>+~(,])(table|caption|thead|tbody|tfoot|tr|th|td)(?![\w-])")


def test_table_styles_do_not_reach_the_chart_tooltips(light: dict[str, Path]) -> None:
    """vega-tooltip draws each tooltip as a <table> inside #vg-tooltip-element (appended to <body>): every
    page rule on table elements is scoped to the report's own tables, which all carry that class, but for
    vega-tooltip's own rules (in the page's style, as its Content-Security-Policy refuses the <style> element
    vega-tooltip would add), scoped to the tooltip."""
    for path in light.values():
        html = re.sub(r"<script\b.*?</script>", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        styles = re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.DOTALL)
        assert styles
        css = re.sub(r"/\*.*?\*/", "", "\n".join(styles), flags=re.DOTALL)
        selectors = [
            part.strip()
            for block in re.findall(r"([^{}]+)\{[^{}]*\}", css)
            if not block.strip().startswith("@")
            for part in block.split(",")
        ]
        table_rules = [s for s in selectors if _TABLE_TYPE.search(s)]
        assert len(table_rules) >= 8  # the check has teeth: the page does style its tables
        unscoped = [s for s in table_rules if not s.startswith((".report-table", "#vg-tooltip-element "))]
        assert not unscoped, unscoped
        tables = re.findall(r"<table\b[^>]*>", html)
        assert tables and all('class="report-table"' in tag for tag in tables), set(tables)
        # a tooltip's table is matched by none of the page's other table rules (it has no report-table
        # ancestor); the rules naming the tooltip are its own, each scoped to it
        tooltip = [s for s in selectors if "#vg-tooltip-element" in s]
        assert tooltip and all(s.startswith("#vg-tooltip-element") for s in tooltip), tooltip


def test_report_keys_exist_in_every_language() -> None:
    """Every key the report code names exists in fi, sv and en (rendering all three covers the rest)."""
    cat = catalogue()
    source = Path(weekly.__file__).read_text(encoding="utf-8") + Path(rd.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r't\(\s*"((?:report|report_col|reason|chart_heading)\.[a-z_]+)"', source))
    used |= {f"report.{k}" for k in weekly._ui("fi")}
    used |= {f"chart_heading.{n}" for n in weekly.CHART_NAMES}
    assert used and not [k for k in used if k not in cat]
    for key in used:
        assert set(cat[key]) == set(LANGS), key
    for status in STATUS_LEVELS:
        assert f"status.{status}" in cat


# ---------------------------------------------------------------------------------------------------------
# escaping


def test_strings_from_data_are_escaped(loaded_engine: Engine, tmp_path: Path) -> None:
    with injected(loaded_engine):
        result = weekly.build_report(
            loaded_engine, weekly.parse_week(this_week()), lang="en", out_dir=tmp_path, images=False
        )
    html = result.path.read_text(encoding="utf-8")
    assert EVIL not in html and EVIL_IMG not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text in the tables
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html  # the failed fetch's error
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html  # inside the chart specs
    text = " ".join(parse(result.path).text)
    assert f"HSY {EVIL}" in text  # a publisher the catalogue does not record: shown as stored, escaped
    assert EVIL in text  # the indicator label and the sector name
    page = parse(result.path)
    executable = [body for attrs, body in page.scripts if "type" not in attrs]
    assert not [body for body in executable if EVIL in body or "alert(1)" in body]
    for attrs, body in page.scripts:
        if attrs.get("type") == "application/json":
            assert "<" not in body and ">" not in body  # nothing that could end the element
    sector = next(c for c in result.charts if c.name == "sector_area")
    assert sector.spec is not None
    sector_svg = vlc.vegalite_to_svg(sector.spec)
    assert "<script" not in sector_svg and "&lt;script&gt;" in sector_svg
    sector_csv = (result.path.parent / "sector_area.csv").read_text(encoding="utf-8-sig")
    assert EVIL in sector_csv  # data files keep the data as it is
    dashboard = next(c for c in result.charts if c.name == "progress_dashboard")
    assert dashboard.frame is not None and f"{EVIL} (Finland)" in dashboard.frame["indicator"].to_list()
    assert t("freshness.status_failed", "en") in text


# ---------------------------------------------------------------------------------------------------------
# the half-yearly report and the command line


def _report(args: list[str]) -> Any:
    """`kestava report ARGS`, output unwrapped."""
    return CliRunner().invoke(cli.app, ["report", *args], env={"COLUMNS": "400", "NO_COLOR": "1"})


def test_half_year_report_via_the_command_line(
    loaded_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.engine.open_database", lambda: _Borrowed(loaded_engine))
    monkeypatch.setattr(weekly, "build_reports", functools.partial(weekly.build_reports, images=False))
    half = f"{date.today().year}-H{1 if date.today().month <= 6 else 2}"
    result = _report(["--half", half, "--lang", "fi", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / half / "fi" / "report.html"
    charts = len(EXPECTED_CHARTS)
    assert str(path) in result.output and f"{charts}/{charts} charts" in result.output
    page = parse(path)
    text = " ".join(page.text)
    assert "puolivuotisraportti valtuustolle" in text
    assert t("report.indicator_status_heading", "fi") in text
    assert "Mikä muuttui jaksolla" in text
    html = path.read_text(encoding="utf-8")
    status_rows = re.findall(
        r"<tr[^>]*><th scope=\"row\"[^>]*>[^<]*</th><td[^>]*>[^<]*</td><td[^>]*>([^<]*)</td>", html
    )
    methods = {t(f"method.{m}", "fi") for m in ("eurostat", "opensdg", "sdsn", "german", "linear")}
    assert methods <= set(status_rows)  # every method appears in the status table
    assert "Jäljessä tavoitepolusta" in text and "Havaittu muutos" in text  # statuses with reasons
    for name in EXPECTED_CHARTS:
        assert (path.parent / f"{name}.csv").exists()


def _report_runs(engine: Engine, job: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(schema.job_run).where(schema.job_run.c.job == job)
        ).scalar_one()


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)  # the command's languages: any backend
def test_the_command_writes_every_language_asked_in_one_run_each_linking_to_the_others(
    loaded_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kestava report` wrote one language a call (Finnish unless --lang): a council report written by hand
    in fi, then sv, then en linked from Finnish to no other language and from Swedish not to English. With
    no --lang it writes fi, sv and en in one run, each linking to the other two; --lang (repeatable) picks
    some, a language given twice written once."""
    monkeypatch.setattr("storage.engine.open_database", lambda: _Borrowed(loaded_engine))
    monkeypatch.setattr(weekly, "build_reports", functools.partial(weekly.build_reports, images=False))
    half = weekly.current_half().key
    charts = len(EXPECTED_CHARTS)
    for args, langs in (
        ([], ("fi", "sv", "en")),
        (["--lang", "sv", "--lang", "en", "--lang", "sv"], ("sv", "en")),
    ):
        out = tmp_path / "-".join(langs)
        runs_before = _report_runs(loaded_engine, "report:half")
        result = _report(["--half", half, *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert _report_runs(loaded_engine, "report:half") == runs_before + 1  # one recorded run
        written = sorted(p.name for p in (out / half).iterdir() if not p.name.startswith("."))
        assert written == sorted(langs)
        said = [line for line in result.output.splitlines() if line.startswith("wrote ")]
        assert len(said) == len(langs), result.output  # a line per language, none twice
        for lang in langs:
            path = out / half / lang / "report.html"
            line = next(line for line in said if line.startswith(f"wrote {path} "))
            assert re.fullmatch(
                rf"wrote {re.escape(str(path))} \({charts}/{charts} charts, \d+\.\d s\)", line
            )
            assert f'<html lang="{lang}">' in path.read_text(encoding="utf-8")
            languages = {a["hreflang"]: a["href"] for a in _links(path) if a.get("rel") == "alternate"}
            assert languages == {other: f"../{other}/report.html" for other in langs if other != lang}, lang
            assert all(_resolves(path, href) for href in languages.values())


class _Borrowed:
    """The test's engine for the report command, which disposes of what it opened."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def dispose(self) -> None:
        """Leave the shared engine open."""


@pytest.mark.parametrize(
    ("args", "option", "expected"),
    [
        (["--week", "2026-W60"], "--week", "YYYY-Www"),
        (["--week", "48"], "--week", "YYYY-Www"),
        (["--lang", "de"], "--lang", "fi, sv, en"),
        (["--half", "2026-H3"], "--half", "YYYY-H1 or YYYY-H2"),
        (["--week", "2026-W48", "--half", "2026-H2"], "--half", "not both"),
    ],
)
def test_bad_arguments_exit_2_naming_option_and_format(args: list[str], option: str, expected: str) -> None:
    result = _report(args)
    assert result.exit_code == 2, result.output
    assert option in result.output and expected in result.output


def test_week_and_half_parsing() -> None:
    week = weekly.parse_week("2026-W53")
    assert (week.first_day, week.last_day) == (date(2026, 12, 28), date(2027, 1, 3))
    with pytest.raises(ValueError, match="2025 has 52 weeks"):
        weekly.parse_week("2025-W53")
    half = weekly.parse_half("2026-H1")
    assert (half.first_day, half.last_day) == (date(2026, 1, 1), date(2026, 6, 30))
    assert half.start == datetime(2025, 12, 31, 22, 0)  # midnight in Helsinki, as naive UTC
    with pytest.raises(ValueError, match="lang: expected one of fi, sv, en, got 'de'"):
        weekly.write_weekly_report(None, lang="de")  # type: ignore[arg-type]


THIN = "\u2009"  # CLDR's English interval dash has a thin space either side


@pytest.mark.parametrize(
    ("key", "fi_sv", "en"),
    [
        # one month: its number and the year written once, after the last day
        ("2026-W50", "7.–13.12.2026", "7–13 Dec 2026"),
        # the month changes: day and month of each, the year once
        ("2026-W49", "30.11.–6.12.2026", f"30 Nov{THIN}–{THIN}6 Dec 2026"),
        # the year changes: both dates in full
        ("2026-W53", "28.12.2026–3.1.2027", f"28 Dec 2026{THIN}–{THIN}3 Jan 2027"),
        ("2026-H2", "1.7.–31.12.2026", f"1 Jul{THIN}–{THIN}31 Dec 2026"),
    ],
)
def test_the_period_line_writes_the_days_as_one_span(key: str, fi_sv: str, en: str) -> None:
    """The line under the title wrote a week "7.12.2026–13.12.2026"; Finnish and Finland-Swedish write a
    span of days with the shared month and year once ("7.–13.12.2026"), English "7–13 Dec 2026"."""
    period = weekly.parse_half(key) if key.endswith(("H1", "H2")) else weekly.parse_week(key)
    closed = {lang: weekly.period_line(period, lang, "G", closed=True) for lang in LANGS}
    assert closed == {
        "fi": f"Jakso {fi_sv} · Laadittu G",
        "sv": f"Period {fi_sv} · Sammanställd G",
        "en": f"Period {en} · Compiled G",
    }
    if period.kind == "week":  # a week still going names itself a week, with the same span
        assert weekly.period_line(period, "fi", "G", closed=False).startswith(f"Viikko {fi_sv} · Laadittu G:")
        assert weekly.period_line(period, "sv", "G", closed=False).startswith(f"Vecka {fi_sv} · ")
        assert weekly.period_line(period, "en", "G", closed=False).startswith(f"Week {en} · Compiled G:")


def test_a_weeks_report_says_what_changed_in_the_seven_days_to_its_compile_time() -> None:
    """The scheduler compiles week 50's report on Monday 7 December at 07:00 (05:00 UTC): "what changed in
    week 50" then covered seven hours, and every source loaded Tuesday to Sunday was in no report. It covers
    the seven days before; the next Monday's report starts where this one ended; a week that is over is
    covered whole; a half-year from its start."""
    week = weekly.parse_week("2026-W50")
    monday = datetime(2026, 12, 7, 5, 0)  # 07:00 in Helsinki, as naive UTC
    assert weekly.changes_window(week, monday) == (datetime(2026, 11, 30, 5, 0), monday)
    next_monday = datetime(2026, 12, 14, 5, 0)
    assert weekly.changes_window(weekly.parse_week("2026-W51"), next_monday)[0] == monday
    assert weekly.changes_window(week, datetime(2027, 1, 20)) == (week.start, week.end)  # built afterwards
    half = weekly.parse_half("2026-H2")
    assert weekly.changes_window(half, monday) == (half.start, monday)


# ---------------------------------------------------------------------------------------------------------
# report.data: the frames notebooks use


def test_frames_match_the_chart_contracts(loaded_engine: Engine) -> None:
    history, projection = rd.trajectory_inputs(loaded_engine)
    assert history.columns == ["year", "value", "estimated", "lower", "upper", "snapshot_ids", "provisional"]
    # the bundled HSY workbook's newest year, 2024, is its preliminary one (its note row says so)
    assert history.filter(pl.col("provisional"))["year"].to_list() == [2024]
    assert history.filter(pl.col("year") == 1990)["value"].item() == 1060.0
    assert history.filter(pl.col("estimated"))["year"].to_list() == [2025]
    nowcast = history.filter(pl.col("estimated")).row(0, named=True)
    assert nowcast["lower"] < nowcast["value"] < nowcast["upper"]  # the nowcast keeps its band
    assert history.filter(~pl.col("estimated"))["lower"].null_count() == history.height - 1
    assert projection is not None and projection["year"].min() == 2026
    sectors = rd.sector_frame(loaded_engine)
    assert sectors.group_by("year").len()["len"].unique().to_list() == [7]
    assert set(rd.per_resident_frame(loaded_engine)["area"]) == set(rd.COMPARISON_AREAS)
    dash = rd.dashboard_frame(loaded_engine, "sv")
    ghg = dash.filter(pl.col("indicator_id") == "ghg_total")
    assert set(ghg["method"]) == {"eurostat", "opensdg", "sdsn", "german", "linear"}
    assert ghg["indicator"].unique().to_list() == ["Växthusgasutsläpp"]
    assert "Återvinningsgrad för kommunalt avfall (Finland)" in dash["indicator"].to_list()
    circular = rd.circular_frame(loaded_engine)
    assert set(circular["indicator"]) == {"waste_per_resident", "recycling_rate"}
    weeks = rd.weekly_frame(loaded_engine)
    assert min(weeks["week"].to_list()) >= 1 and weeks["year"].n_unique() >= 1
    # the weeks the export flags "partial" (Fingrid's week not all in yet) are the incomplete ones
    partial = export_table(
        loaded_engine, load_indicator_catalogue(), ["electricity_emission_factor"], area="FI"
    )
    flagged = partial.filter(pl.col("kind") == "observed", pl.col("flags").str.contains("partial"))
    expected = {(int(p[:4]), int(p[6:])) for p in flagged["period"].to_list() if "-W" in p}
    assert expected, "the bundled Fingrid data has an incomplete week"
    incomplete = weeks.filter(has_meaning(pl.col("flags"), "incomplete"))
    assert set(incomplete.select("year", "week").iter_rows()) == expected
    emissions, sinks = rd.balance_frames(loaded_engine)
    assert emissions["year"].min() == 1990
    assert sinks["year"].to_list() == [2019] and sinks["value"].item() > 0
    fresh = rd.freshness_frame(loaded_engine, date(2026, 11, 27), "en")
    assert fresh.height == len(load_catalogue().datasets)  # one row per dataset of the catalogue
    assert set(fresh["status"]) <= {"fresh", "late", "failed", "never"}
    assert "HSY: Helsinki-region greenhouse gas emissions" in fresh["dataset"].to_list()
    tracks = dict(fresh.select("dataset_id", "tracks").iter_rows())
    assert (tracks["covenant_targets"], tracks["hsy_emissions"]) == ("releases", "periods")


def test_chart_meta_from_snapshots(loaded_engine: Engine) -> None:
    history, _ = rd.trajectory_inputs(loaded_engine)
    meta = rd.chart_meta(loaded_engine, snapshot_ids=rd.snapshot_ids_of(history))
    assert meta.sources == ("HSY",) and meta.licence == "CC BY 4.0" and meta.is_demo
    both = rd.chart_meta(loaded_engine, ["hsy_emissions", "eurostat_cei_wm011"])
    assert both.sources == ("HSY", "Eurostat") and " / " in both.licence
    with pytest.raises(rd.MissingDataError):
        rd.chart_meta(loaded_engine, ["no_such_dataset"])


@pytest.mark.parametrize("lang", LANGS)
def test_a_value_prints_alike_in_the_headline_and_in_the_tables(lang: str) -> None:
    """The headline's figures (report.data.format_value) and the tables' cells (weekly.format_cell) print
    a number with the same decimals: by magnitude, but never more than the value holds as published
    (12.0 kt was published in whole kt: "12", not "12.0" in one place and "12" in the other)."""
    unit = "kt CO2e"
    shown = {12.0: "12", 12.5: "12.5", 2.63: "2.6", 712.0: "712", 742.3: "742", 0.5: "0.5", 0.123: "0.12"}
    for value, digits in shown.items():
        expected = digits if lang == "en" else digits.replace(".", ",")
        cell = weekly.format_cell(value, "value", lang)
        assert cell == expected, (value, cell)
        assert rd.format_value(value, unit, lang) == f"{cell}{NBSP}{label('unit_name', unit, lang)}"


def test_format_value_writes_a_quantity_through_format_quantity(monkeypatch: pytest.MonkeyPatch) -> None:
    """report.data.format_value is report.i18n.format_quantity with the shown decimals, not a second copy
    of the rule: a change to format_quantity (here a marker) reaches every value format_value writes."""
    calls: list[tuple[float | None, str, str, int, bool]] = []

    def marked(x: float | None, unit: str, lang: str, decimals: int = 0, *, signed: bool = False) -> str:
        calls.append((x, unit, lang, decimals, signed))
        return "marked"

    monkeypatch.setattr(rd, "format_quantity", marked)
    assert rd.format_value(742.3, "kt CO2e", "fi") == "marked"
    assert rd.format_value(-8.14, "%", "en", signed=True) == "marked"
    assert calls == [(742.3, "kt CO2e", "fi", 0, False), (-8.14, "%", "en", 1, True)]
    assert rd.format_value(None, "%", "sv") == "\u2013"  # no value: the dash, as before


@pytest.mark.parametrize("lang", LANGS)
def test_format_value_writes_units_and_percentages_as_before(lang: str) -> None:
    """format_value's output did not change by going through format_quantity."""
    comma = lang != "en"
    assert rd.format_value(48.25, "%", lang) == ("48,2\u00a0%" if comma else "48.2%")
    assert rd.format_value(-3.0, "%", lang, signed=True) == ("\u22123\u00a0%" if comma else "-3%")
    assert rd.format_value(0.5, "%", lang, signed=True) == ("+0,5\u00a0%" if comma else "+0.5%")
    kt = label("unit_name", "kt CO2e", lang)
    assert rd.format_value(1060.0, "kt CO2e", lang) == ("1\u00a0060" if comma else "1,060") + f"\u00a0{kt}"
    assert rd.format_value(float("nan"), "kt CO2e", lang) == "\u2013"


@pytest.fixture(params=BACKENDS)
def loaded_copy(
    request: pytest.FixtureRequest, tmp_path: Path, loaded_templates: LoadedTemplates
) -> Iterator[Engine]:
    """A database of this test's own holding the bundled data ingested and computed (today=LOADED_TODAY),
    with its raw store in tmp_path / "raw": a copy of the worker's loaded template, not a load of its own."""
    with loaded_templates.copy(request.param, tmp_path) as url:
        engine = open_database(url)
        yield engine
        engine.dispose()


def test_dashboard_cites_the_snapshots_its_statuses_came_from(
    loaded_copy: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new vintage is loaded and its compute fails (tried again on the next run): the dashboard still
    shows the statuses of the first vintage, and cites the first vintage's snapshots, not the new ones."""
    import indicators.engine as indicator_engine
    from indicators.engine import compute
    from ingest.manifest import DEFAULT_SNAPSHOT_DIR
    from ingest.run import ingest
    from storage.rawstore import RawStore
    from tests.conftest import LOADED_TODAY
    from tests.test_revisions import revise_snapshot

    engine = loaded_copy  # the bundled data ingested and computed, as the template's load asserts
    raw = RawStore(tmp_path / "raw")
    first = read.snapshots(engine)
    first_ids = set(first["id"].to_list())
    statuses = rd.dashboard_frame(engine, "en").select("indicator_id", "area", "method", "status")

    def dashboard_ids() -> set[int]:
        _, ids = weekly._builders(engine, "en", date.today())["progress_dashboard"]()
        return set(ids)

    cited = dashboard_ids()
    dataset_of = dict(first.select("id", "dataset_id").iter_rows())
    assert cited <= first_ids and "hsy_emissions" in {dataset_of[i] for i in cited}

    snapshot = tmp_path / "snapshot"
    shutil.copytree(DEFAULT_SNAPSHOT_DIR, snapshot)
    revise_snapshot(snapshot)  # a new vintage of HSY, Syke, Statistics Finland, Eurostat, …
    assert all(o.outcome == "success" for o in ingest(engine, raw, offline=True, snapshot_dir=snapshot))
    new = read.snapshots(engine).filter(~pl.col("id").is_in(list(first_ids)))
    assert "hsy_emissions" in new["dataset_id"].to_list()

    values = indicator_engine.indicator_values

    def broken(catalogue: Any, derived: dict[str, pl.DataFrame], today: date) -> pl.DataFrame:
        if derived:  # every indicator's values fail; the empty placeholder is made as usual
            raise RuntimeError("the compute of the new vintage failed")
        return values(catalogue, derived, today)

    with monkeypatch.context() as patch:
        patch.setattr(indicator_engine, "indicator_values", broken)
        failed = compute(engine, today=LOADED_TODAY)
    assert failed.errors and not failed.computed  # every indicator is tried again on the next run
    # the statuses shown are still the first vintage's, and so are the snapshots cited for them
    shown = rd.dashboard_frame(engine, "en").select("indicator_id", "area", "method", "status")
    assert shown.equals(statuses)
    assert dashboard_ids() == cited
    report = weekly.build_report(
        engine, weekly.current_week(), lang="en", out_dir=tmp_path / "r", images=False
    )
    chart = next(c for c in report.charts if c.name == "progress_dashboard")
    assert chart.error is None and set(chart.snapshot_ids) == cited
    # each status's vintage (the newest fetch among its inputs) is that of the snapshots cited for it
    fetched = dict(first.select("id", "fetched_at").iter_rows())
    ghg = rd.dashboard_frame(engine, "en").filter(pl.col("indicator_id") == "ghg_total")
    as_of = read.query_frame(
        engine, schema.assessment.select().where(schema.assessment.c.indicator_id == "ghg_total")
    )["as_of"].max()
    assert max(fetched[i] for i in rd.assessed_snapshot_ids(engine, ghg)) == as_of

    # once computed, the statuses come from the new vintage and the dashboard cites it
    assert not compute(engine, today=LOADED_TODAY).errors
    now = dashboard_ids()
    assert now & set(new["id"].to_list()) and now != cited


def test_status_frame_reasons_in_every_language(loaded_engine: Engine) -> None:
    for lang in LANGS:
        frame = rd.status_frame(loaded_engine, lang, indicators=["ghg_total"])
        assert frame.height == 5 and min(frame["reason"].str.len_chars().to_list()) > 40
        linear = frame.filter(pl.col("method") == "linear_trajectory_check").row(0, named=True)
        assert linear["status"] == "behind_path" and linear["level"] == "weak"
    en = rd.status_frame(loaded_engine, "en", indicators=["ghg_total"])
    eurostat = en.filter(pl.col("method") == "eurostat_sdg")["reason"].item()
    assert "-8.1% a year (2019–2024)" in eurostat and "59% of the required pace" in eurostat


def test_vendored_bundle_is_vl_converts() -> None:
    vendored = (weekly.VENDOR_DIR / "vega-bundle.js").read_text(encoding="utf-8")
    assert vendored.startswith(weekly.bundle_header())
    make: Callable[..., str] = vlc.javascript_bundle  # the default snippet: window.vegaEmbed etc.
    assert vendored == weekly.bundle_header() + make() + "\n"


@pytest.mark.parametrize(
    ("lang", "seen", "period"),
    [
        ("fi", "julkaisu havaittu 6.12.2026", "31.12.2023"),
        ("sv", "publicering noterad 6.12.2026", "31.12.2023"),
        ("en", "release seen 6 Dec 2026", "31 Dec 2023"),
    ],
)
def test_the_sources_table_shows_a_release_tracked_datasets_day_as_the_release_seen(
    lang: str, seen: str, period: str
) -> None:
    """Covenant targets' day is when its release was seen (its periods are target years), not its newest
    period: readers would take "6.12.2026" beside a required "31.12.2023" as data up to 2026."""
    empty = pl.DataFrame()
    snapshots = pl.DataFrame(
        schema={f"rows_{k}": pl.Int64 for k in ("added", "revised", "withdrawn", "confirmed", "reflagged")}
        | {"first_load": pl.Boolean}
    )
    sources = pl.DataFrame(
        {
            "dataset_id": ["covenant_targets", "hsy_emissions"],
            "title": ["Covenant targets", "HSY emissions"],
            "status": ["late", "late"],
            "state_before": ["fresh", "fresh"],
            "tracks": ["releases", "periods"],
            "last_period_end": [date(2026, 12, 6), date(2023, 12, 31)],
            "expected_period_end": [date(2027, 1, 1), date(2024, 12, 31)],
            "last_fetch": [datetime(2026, 12, 6, 8, 0), datetime(2026, 12, 6, 8, 0)],
            "last_error": [None, None],
        }
    )
    found = rd.Changes(
        start=datetime(2026, 11, 29, 22),
        end=datetime(2026, 12, 6, 22),
        as_of=date(2026, 12, 6),
        snapshots=snapshots,
        flips=empty,
        sources=sources,
        failed_runs=empty,
    )
    table = weekly._changes_context(found, weekly.parse_week("2026-W49"), lang)["sources"]
    assert [row[3] for row in table.rows] == [seen, period]
    # and what the calendar requires of it is a release after a day, not a period that ends then ("8.12.2023"
    # beside "release seen 7.12.2026" read as a period of its data)
    required = t("freshness.release_after", lang, date=i18n.format_date(date(2027, 1, 1), lang))
    assert [row[4] for row in table.rows] == [required, i18n.format_date(date(2024, 12, 31), lang)]


def test_changes_section_translates_flips_revisions_and_failures() -> None:
    start, end = datetime(2026, 11, 22, 22), datetime(2026, 11, 29, 22)
    found = rd.Changes(
        start=start,
        end=end,
        as_of=date(2026, 11, 29),
        snapshots=pl.DataFrame(
            {
                "snapshot_id": [7],
                "dataset_id": ["hsy_emissions"],
                "title": ["HSY emissions"],
                "fetched_at": [datetime(2026, 11, 24, 8, 5)],
                "rows_added": [26],
                "rows_revised": [1234],
                "rows_unchanged": [5000],
                "rows_withdrawn": [3],
                "rows_confirmed": [12],
                "rows_reflagged": [2],
                "is_demo": [False],
                "first_load": [False],
            }
        ),
        flips=pl.DataFrame(
            {
                "indicator": ["ghg_total"],
                "area": ["049"],
                "method": ["linear_trajectory_check"],
                "status_before": ["on_path"],
                "status_after": ["behind_path"],
                "cause": ["revised history"],
            }
        ),
        sources=pl.DataFrame(),
        failed_runs=pl.DataFrame(
            {
                "job": ["ingest:fingrid_emission_factor"],
                "dataset_id": ["fingrid_emission_factor"],
                "started_at": [datetime(2026, 11, 25, 7, 30)],
                "outcome": ["rejected"],
                "error": ["validation: 3 rows without a period"],
            }
        ),
    )
    context = weekly._changes_context(found, weekly.parse_week("2026-W48"), "en")
    assert context["heading"] == "What changed in week 48"
    assert context["new_data"].rows == [
        [
            "HSY: Helsinki-region greenhouse gas emissions",
            "24 Nov 2026, 08:05",
            "26",
            "1,234",
            "12",
            "2",
            "no",
        ]
    ]
    assert context["new_data"].headers[2:6] == [
        "New rows",
        "Revised rows",
        "Provisional confirmed",
        "Status flag changed",
    ]
    assert context["revised"] == [
        "HSY: Helsinki-region greenhouse gas emissions: "
        "1,234 previously published values revised (24 Nov 2026)",
        "HSY: Helsinki-region greenhouse gas emissions: "
        "3 previously published values withdrawn from the new release (24 Nov 2026)",
        "HSY: Helsinki-region greenhouse gas emissions: "
        "12 provisional values confirmed, numbers unchanged (24 Nov 2026)",
        "HSY: Helsinki-region greenhouse gas emissions: "
        "status flag changed for 2 previously published values, numbers unchanged (24 Nov 2026)",
    ]
    assert context["values_revised"]
    assert context["flips"].rows == [
        [
            "Greenhouse gas emissions",
            "Espoo",
            "Target path",
            "On the target path",
            "Behind the target path",
            "revised history",
        ]
    ]
    assert context["sources"] is None
    assert context["first_load"] is None  # a later snapshot of the dataset: a change, in the table
    assert context["failed"].rows[0][:3] == [
        "Fingrid: electricity emission factor",
        "25 Nov 2026, 07:30",
        "rejected by validation",
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_a_first_load_is_said_in_one_line_not_listed_as_a_change(loaded_engine: Engine, lang: str) -> None:
    """The demo's datasets were each loaded once: the first run's report listed all twenty under "what
    changed", every row "new". Nothing earlier is there to compare with, and the section says so in one line;
    the new-data table is left out, and no "no new data" line contradicts it."""
    first, last = fetch_span(loaded_engine)
    found = rd.changes(loaded_engine, first - timedelta(minutes=1), last + timedelta(minutes=1), lang=lang)
    datasets = found.snapshots.get_column("dataset_id")
    assert datasets.n_unique() == found.snapshots.height >= 10 and found.snapshots["first_load"].all()
    context = weekly._changes_context(found, weekly.parse_week("2026-W48"), lang)
    assert context["new_data"] is None
    assert context["first_load"] == t("report.first_load_many", lang, n=format_number(datasets.len(), lang))


def test_the_first_runs_report_says_first_load_where_it_listed_every_dataset(
    loaded_engine: Engine, full: weekly.ReportResult
) -> None:
    """The built page: the line, and no table of twenty datasets with every row "new" under the heading."""
    page = full.path.read_text(encoding="utf-8")
    section = page[page.index('<section id="changes"') :]
    section = section[: section.index("</section>")]
    count = read.snapshots(loaded_engine).get_column("dataset_id").n_unique()
    assert f"<p>{t('report.first_load_many', 'fi', n=format_number(count, 'fi'))}</p>" in section
    assert t("report_col.rows_added", "fi") not in section
    assert t("report.new_data_none", "fi") not in section


def test_a_first_load_beside_a_later_one_names_the_dataset_and_lists_only_the_change() -> None:
    """A dataset first loaded in a week when another was updated: the update is a row of the table, the
    new dataset a line of its own that names it."""
    row = {
        "title": "t",
        "fetched_at": datetime(2026, 11, 24, 8, 5),
        **{f"rows_{k}": 0 for k in ("added", "revised", "unchanged", "withdrawn", "confirmed", "reflagged")},
        "is_demo": False,
    }
    snapshots = pl.DataFrame(
        [
            {**row, "snapshot_id": 7, "dataset_id": "hsy_emissions", "rows_revised": 4, "first_load": False},
            {**row, "snapshot_id": 8, "dataset_id": "traficom_cars", "rows_added": 1848, "first_load": True},
        ]
    )
    empty = pl.DataFrame(schema={"status": pl.String})
    flips = pl.DataFrame(
        schema=dict.fromkeys(
            ("indicator", "area", "method", "status_before", "status_after", "cause"), pl.String
        )
    )
    found = rd.Changes(
        datetime(2026, 11, 22, 22),
        datetime(2026, 11, 29, 22),
        date(2026, 11, 29),
        snapshots,
        flips,
        empty,
        pl.DataFrame(),
        None,
        0,
    )
    for lang in LANGS:
        context = weekly._changes_context(found, weekly.parse_week("2026-W48"), lang)
        assert [r[0] for r in context["new_data"].rows] == [rd.dataset_label("hsy_emissions", lang)]
        assert context["new_data"].compact_cards  # on a phone, short cards (tests/test_report_browser.py)
        named = rd.dataset_label("traficom_cars", lang)
        assert context["first_load"] == t("report.first_load_one", lang, dataset=named)
        assert format_number(1848, lang) not in str(context["new_data"].rows)


def test_a_peer_charts_notes_are_folded_below_it_in_the_report(full: weekly.ReportResult) -> None:
    """The report's peer charts drawn on a phone leave their notes and method out of the subtitle: each is
    listed below the chart, in a folded "Coverage and method", so that the phone's page loses none."""
    page = full.path.read_text(encoding="utf-8")
    with_notes = [c for c in full.charts if c.name in report_peers.PEER_CHARTS and c.spec and c.notes]
    assert with_notes, [c.name for c in full.charts]
    for chart in with_notes:
        assert chart.spec is not None and chart.notes == charts.chart_notes(chart.spec)
        section = page[page.index(f'id="chart-{chart.name}"') :]
        section = section[: section.index("</section>")]
        folded = section[section.index('<details class="chart-notes">') :]
        assert folded.startswith(f'<details class="chart-notes"><summary>{t("report.chart_notes", "fi")}')
        for note in chart.notes:
            assert f"<li>{escape(note)}</li>" in folded, note


def test_changes_outside_the_loaded_week_are_empty(loaded_engine: Engine) -> None:
    found = rd.changes(loaded_engine, datetime(2020, 1, 5, 22), datetime(2020, 1, 12, 22))
    assert found.snapshots.height == 0 and found.flips.height == 0 and found.failed_runs.height == 0
    assert found.as_of == date(2020, 1, 12)


def test_a_source_first_loaded_in_the_period_was_never_fetched_at_its_start(loaded_engine: Engine) -> None:
    """The state at the start of the period is judged on the data as they stood then: every demo source
    was loaded in this period, so none had been fetched at its start. Judged on today's data, as before,
    each read "late" at the start of a week in which it was first loaded."""
    first, last = fetch_span(loaded_engine)
    start, end = first - timedelta(minutes=1), last + timedelta(minutes=1)
    found = rd.changes(loaded_engine, start, end, lang="en")
    assert found.sources.height, "the demo's sources are late by today's calendar"
    assert set(found.sources.get_column("state_before")) == {"never"}
    assert "never" not in set(found.sources.get_column("status"))


# ---------------------------------------------------------------------------------------------------------
# method notes and the changes shared by the languages


def test_method_notes_in_every_language(full: weekly.ReportResult, light: dict[str, Path]) -> None:
    for lang, path in {"fi": full.path, **light}.items():
        page = parse(path)
        text = " ".join(page.text)
        assert t("method_note.heading", lang) in text
        for key in weekly.METHOD_NOTES:
            assert t(f"method_note.{key}", lang) in text, (lang, key)
        assert ("a", "href", "#method-notes") in page.attrs  # listed in the contents


def test_changes_are_computed_once_for_all_languages(one_run: OneRun) -> None:
    assert one_run.changes_calls == 1
    assert list(one_run.results) == list(LANGS)
    for lang, result in one_run.results.items():
        assert result.path == one_run.out_dir / one_run.period.key / lang / "report.html"
        text = " ".join(parse(result.path).text)
        # the week is not over: the seven days up to the run's clock, from and to a date and time
        heading = re.escape(t("report.changes_heading_days", lang, start="@", end="@")).replace(
            "@", "[^–<]+?"
        )
        assert re.search(heading, text), (lang, text[:2000])
        assert t("report.changes_heading_week", lang, week=one_run.period.number) not in text
        # the line under the title says so too: "Period 7–13 Dec · Compiled 7 Dec" beside the changes of
        # 30 Nov to 7 Dec had read as if the report covered the week it names
        compiled = re.escape(t("report.period_line_open_week", lang, days="@", generated="@")).replace(
            "@", "[^<]+?"
        )
        assert re.search(compiled, text), lang
        assert not re.search(
            re.escape(t("report.period_line", lang, days="@", generated="@")).replace("@", "[^<]+?"),
            text,
        )


def test_one_run_says_one_compile_time_in_every_language(one_run: OneRun) -> None:
    """The languages of one run are one report: each says the same compile time in its period line and
    footer (each language asking the clock when it was finished said 23.18 in Finnish, 23:19 in the
    others). The run's clock moved a minute every time it was read (TickingClock)."""
    shown = {}
    for lang, result in one_run.results.items():
        html = result.path.read_text(encoding="utf-8")
        footer = re.escape(t("report.footer", lang, generated="@@")).replace("@@", "([^<]+?)")
        found = re.search(footer, html)
        assert found is not None, lang
        shown[lang] = found[1]
        assert shown[lang] in html[: html.index(found[0])]  # the period line says it too
    # one reading of the clock, each language's format of it (two readings are a minute apart)
    readings = [r.replace(tzinfo=None) for r in TickingClock.given]
    said = [r for r in readings if all(i18n.format_datetime(r, lang) == shown[lang] for lang in shown)]
    assert len(said) == 1, (shown, readings)


def test_every_language_is_started_before_the_first_is_finished_and_each_is_published_alone(
    one_run: OneRun, loaded_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """build_reports builds every language's charts (handing their drawings to the workers) before it
    waits for the first language's drawings; each language is then published when it is finished, so a
    failure while finishing one leaves the languages finished before it published and the others at their
    previous report, with no unpublished folder left beside them."""
    shutil.copytree(one_run.out_dir, tmp_path, dirs_exist_ok=True)  # the previous complete reports
    week = tmp_path / one_run.period.key
    previous = {lang: (week / lang / "report.html").read_text(encoding="utf-8") for lang in LANGS}
    events: list[tuple[str, str]] = []
    start, finish = weekly._start_report, weekly._finish_report

    def started(*args: Any, **kwargs: Any) -> Any:
        events.append(("start", args[2]))
        return start(*args, **kwargs)

    def finished(report: Any) -> weekly.ReportResult:
        events.append(("finish", report.lang))
        if report.lang == "sv":
            raise RuntimeError("sv failed while finishing")
        return finish(report)

    monkeypatch.setattr(weekly, "_start_report", started)
    monkeypatch.setattr(weekly, "_finish_report", finished)
    monkeypatch.setattr(weekly, "format_datetime", lambda *_: "GENERATED-AGAIN")  # the new pages differ
    with pytest.raises(RuntimeError, match="sv failed"):
        weekly.build_reports(loaded_engine, one_run.period, out_dir=tmp_path, images=False)
    assert events == [("start", "fi"), ("start", "sv"), ("start", "en"), ("finish", "fi"), ("finish", "sv")]
    assert "GENERATED-AGAIN" in (week / "fi" / "report.html").read_text(encoding="utf-8")  # published
    for lang in ("sv", "en"):  # the previous complete report, as it was
        assert (week / lang / "report.html").read_text(encoding="utf-8") == previous[lang]
    assert not [p.name for p in week.iterdir() if p.name.endswith(PART_SUFFIX)]  # no unpublished folder left


# ---------------------------------------------------------------------------------------------------------
# reading it anywhere: downloads, links between reports, charts without JavaScript


def _float_columns(chart: weekly.ChartResult) -> list[str]:
    assert chart.frame is not None
    return [c for c, dtype in chart.frame.schema.items() if dtype.is_float()]


def test_xlsx_keeps_text_as_text_and_dates_as_dates(tmp_path: Path) -> None:
    """A name like "=HYPERLINK(…)" must never become a formula in staff's Excel (formula injection)."""
    import zipfile

    frame = pl.DataFrame(
        {
            "area": ['=HYPERLINK("http://x")', "+SUM(1,2)"],
            "day": [date(2024, 2, 29), None],
            "value": [1.25, float("nan")],
        }
    )
    path = tmp_path / "probe.xlsx"
    weekly.write_xlsx(frame, path, "a sheet name longer than thirty-one characters", {"value": 1})
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    # the only formula is the error cell standing for NaN (xlsxwriter's nan_inf_to_errors)
    assert re.findall(r"<f>(.*?)</f>", sheet_xml) == ["#NUM!"] and "xl/worksheets/sheet1.xml" in names
    back = pl.read_excel(path, engine="calamine")
    assert back.get_column("area").to_list() == frame.get_column("area").to_list()
    assert back.get_column("day").cast(pl.Date).to_list() == [date(2024, 2, 29), None]
    assert back.get_column("value").to_list()[0] == 1.25
    assert list(tmp_path.iterdir()) == [path]  # nothing else left behind


def _download_columns(chart: weekly.ChartResult) -> list[str]:
    """The columns of a chart's CSV and XLSX: its data table's, with a unit column after the values where
    the rows mix units (weekly.ROW_UNITS, as the table on the page)."""
    assert chart.frame is not None
    columns = list(chart.frame.columns)
    if chart.name in weekly.ROW_UNITS:
        columns.insert(columns.index("value") + 1, "unit")
    # the API's ids first (report.chart_ids), in place of the chart's keys they replace
    if chart.name == "progress_dashboard":  # assessments
        replaced = {"indicator_key", "area_key", "method_key"}
        return [*ASSESSMENT_ID_COLUMNS, *(c for c in columns if c not in replaced)]
    if chart.name == "data_freshness":  # datasets
        return [*DATASET_ID_COLUMNS, *(c for c in columns if c != "dataset_key")]
    return [*ID_COLUMNS, *(c for c in columns if c not in REPLACED_KEYS)]


def test_downloads_name_the_unit_of_their_values_as_the_page_does(
    full: weekly.ReportResult, light: dict[str, Path]
) -> None:
    """A chart's CSV and XLSX head the values with their unit, as the table under the chart does ("Arvo
    (kt CO₂e)"; they said "Arvo"/"Value"), and the circular economy's, whose rows mix kg per resident and
    %, has the page's unit column after its values."""

    def csv_header(folder: Path, name: str) -> list[str]:
        line = (folder / f"{name}.csv").read_text(encoding="utf-8-sig").splitlines()[0]
        return line.split(";" if ";" in line else ",")

    fi, sv, en = full.path.parent, light["sv"].parent, light["en"].parent
    assert "Arvo (kt CO₂e)" in csv_header(fi, "sector_area")
    assert "Värde (kt CO₂e)" in csv_header(sv, "neutrality_balance")
    assert "Value (kt CO₂e)" in csv_header(en, "sector_area")
    assert "Value (gCO₂/kWh)" in csv_header(en, "weekly_mover")
    assert "Value (t CO₂e per resident)" in csv_header(en, "per_resident_comparison")
    assert "Value (t CO₂e per resident)" in csv_header(en, "peer_emissions_oecd")
    assert [h for h in csv_header(en, "sector_waterfall") if h.startswith(("Start", "End", "Change"))] == [
        "Start (kt CO₂e)",
        "End (kt CO₂e)",
        "Change (kt CO₂e)",
    ]
    circular = csv_header(en, "circular_economy")
    assert circular[circular.index("Value") + 1] == "Unit"
    units = pl.read_csv(en / "circular_economy.csv").get_column("Unit").unique().sort().to_list()
    assert units == ["%", "kg per resident"]
    sheet = pl.read_excel(fi / "sector_area.xlsx", engine="calamine")
    assert "Arvo (kt CO₂e)" in sheet.columns and "Arvo" not in sheet.columns


def test_xlsx_per_chart_holds_the_charts_numbers_rounded(full: weekly.ReportResult) -> None:
    folder = full.path.parent
    links = {v for tag, a, v in parse(full.path).attrs if a == "href" and tag == "a"}
    for chart in full.charts:
        assert chart.frame is not None and chart.xlsx == f"{chart.name}.xlsx" and chart.xlsx in links
        sheet = pl.read_excel(folder / chart.xlsx, engine="calamine")
        assert chart.table is not None and len(sheet.columns) == len(_download_columns(chart)), chart.name
        # headed as the CSV and the table on the page: the unit with the values, the keys in between
        keys = {t(f"column.{c}", "fi") for c in chart.frame.columns if c in KEY_COLUMNS}
        # a fraction the page shows as "30 %" is in percent, its header saying so ("Osuus (%)")
        fractions = {t(f"column.{c}", "fi") for c in ("share", "share_of_cut", "ratio")}
        headers = [f"{h} (%)" if h in fractions else h for h in chart.table.headers]
        ids = {*ID_COLUMNS, *ASSESSMENT_ID_COLUMNS, *DATASET_ID_COLUMNS}
        assert [h for h in sheet.columns if h not in keys and h not in ids] == headers, chart.name
        assert sheet.height == chart.frame.height, chart.name
        for column in _float_columns(chart):
            percent = column in ("share", "share_of_cut", "ratio")
            decimals = chart.decimals[column] - 2 if percent else chart.decimals[column]
            got = sheet.to_series(_download_columns(chart).index(column)).cast(pl.Float64).to_list()
            for value, cell in zip(chart.frame.get_column(column).to_list(), got, strict=True):
                if value is None:
                    assert cell is None, (chart.name, column)
                    continue
                value = value * 100 if percent else value
                assert cell == pytest.approx(value, abs=0.5 * 10**-decimals + 1e-9), (chart.name, column)
                assert cell == pytest.approx(round(cell, decimals), abs=1e-9), (chart.name, column, cell)
    # spot values worked out by hand from the demo data: kt to one decimal, shares to 0.1 percentage point
    trajectory = pl.read_excel(folder / "emissions_trajectory.xlsx", engine="calamine")
    row = trajectory.filter((pl.col("Sarja") == "Päästöt") & (pl.col("Vuosi") == 2024))
    assert row.get_column("Arvo (kt CO₂e)").item() == 712
    sectors = pl.read_excel(folder / "sector_area.xlsx", engine="calamine")
    heat = sectors.filter(pl.col("Vuosi") == 1990, pl.col("indicator_id") == "ghg_by_sector.district_heat")
    assert heat.get_column("Osuus (%)").item() == 29.8  # 315.6 kt / 1 060 kt = 29.774 %
    per_resident = pl.read_excel(folder / "per_resident_comparison.xlsx", engine="calamine")
    values = per_resident.get_column("Arvo (t CO₂e/asukas)").to_list()
    assert any(round(v, 1) != v for v in values)  # two decimals where one would make them all read 2.6
    # as many decimals as the chart shows: its labels (the decimals it chose to rank the cities) agree
    shown = next(c for c in full.charts if c.name == "per_resident_comparison")
    assert shown.spec is not None and shown.decimals["value"] >= 2
    assert f",.{shown.decimals['value']}f" in json.dumps(shown.spec)


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_csv_opens_as_columns_in_the_languages_spreadsheet(
    lang: str, full: weekly.ReportResult, light: dict[str, Path]
) -> None:
    """Excel in a Finnish or Swedish locale splits a CSV at ";" and reads "2,5" as a number (its list and
    decimal separators there); a comma-separated file opens as one column. English: "," and "."."""
    folder = (full.path if lang == "fi" else light[lang]).parent
    separator, decimal = (";", ",") if lang in ("fi", "sv") else (",", ".")
    number = re.compile(rf"^-?\d+(\{decimal}\d+)?$")
    trajectory = next(c for c in full.charts if c.name == "emissions_trajectory")
    for chart in full.charts:
        raw = (folder / f"{chart.name}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), chart.name  # UTF-8 with a BOM: Excel reads ä and ö right
        text = raw.decode("utf-8-sig")
        rows = list(csv.reader(text.splitlines(), delimiter=separator))
        columns = _download_columns(chart)
        assert len(rows[0]) == len(columns), chart.name
        assert all(len(r) == len(rows[0]) for r in rows), chart.name
        for column in _float_columns(chart):
            index = columns.index(column)
            cells = [r[index] for r in rows[1:] if r[index] != ""]
            assert cells and all(number.match(c) for c in cells), (chart.name, column, cells[:5])
    rows = list(
        csv.reader(
            (folder / "emissions_trajectory.csv").read_text("utf-8-sig").splitlines(), delimiter=separator
        )
    )
    assert trajectory.frame is not None and len(rows) - 1 == trajectory.frame.height
    sectors = list(
        csv.reader((folder / "sector_area.csv").read_text("utf-8-sig").splitlines(), delimiter=separator)
    )
    # indicator, area, period, kind, unit (the API's ids), year, sector, value, share
    heat_1990 = next(r for r in sectors if r[0] == "ghg_by_sector.district_heat" and r[2] == "1990")
    # 315.6 kt, its share 315.6 / 1 060 in percent as the page shows it (it was the fraction 0.298)
    assert heat_1990[7:] == [f"315{decimal}6", f"29{decimal}8"]


def test_page_spec_takes_the_container_width() -> None:
    spec: dict[str, Any] = {"width": 620, "height": 340, "layer": [], "usermeta": {"kestava": {"lang": "fi"}}}
    page = weekly.page_spec(spec, 700)
    assert page["width"] == "container" and page["autosize"] == {"type": "fit-x", "contains": "padding"}
    meta = page["usermeta"]["kestava"]
    assert meta["lang"] == "fi"
    assert {k: meta["page"][k] for k in ("fixed_width", "natural_width")} == {
        "fixed_width": 620,
        "natural_width": 700,
    }
    # in a phone's column the page's script draws it with the phone's title size (report.phone.phone_patch)
    assert meta["page"]["phone"]["config"]["title"]["fontSize"] < 17 and "width" not in meta["page"]["phone"]
    assert meta["page"]["phone_min_plot"] == weekly.PHONE_MIN_PLOT
    assert spec["width"] == 620 and "page" not in spec["usermeta"]["kestava"]  # the files' spec unchanged
    assert weekly.page_spec(spec)["usermeta"]["kestava"]["page"]["natural_width"] == 775
    concat = {"hconcat": [{"width": 300}], "width": 300}
    assert weekly.page_spec(concat) == concat  # "container" is for single and layered views only
    stepped = {"width": {"step": 150}, "layer": []}
    assert weekly.page_spec(stepped) == stepped


def test_a_report_period_is_named_as_format_period_names_it() -> None:
    """The report's title, its links to the previous and next week and the site's archive name a week
    alike: report.i18n.format_period on its key ("2026-W48" → "viikko 48/2026")."""
    week, half = weekly.parse_week("2026-W48"), weekly.parse_half("2026-H2")
    assert weekly._period_name(week, "fi") == "viikko 48/2026"
    assert weekly._period_name(week, "en") == "week 48/2026"
    assert weekly._period_name(half, "sv") == "juli–december 2026"
    for lang in LANGS:
        for period in (week, half, weekly.parse_week("2027-W01")):
            assert weekly._period_name(period, lang) == i18n.format_period(period.key, lang)


def test_period_steps() -> None:
    assert weekly.parse_week("2026-W01").previous().key == "2025-W52"
    assert weekly.parse_week("2026-W53").following().key == "2027-W01"
    assert weekly.parse_week("2020-W53").previous().key == "2020-W52"
    assert weekly.parse_half("2026-H1").previous().key == "2025-H2"
    assert weekly.parse_half("2026-H1").following().key == "2026-H2"
    assert weekly.parse_half("2026-H2").following().key == "2027-H1"


class _Links(HTMLParser):
    """Every <a href> of a page that leaves it for another file, with its rel and hreflang."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "a" and not values.get("href", "#").startswith(("#", "data:")):
            self.links.append(values)


def _links(path: Path) -> list[dict[str, str]]:
    found = _Links()
    found.feed(path.read_text(encoding="utf-8"))
    return found.links


def _resolves(page: Path, href: str) -> bool:
    """Whether href from page reaches a file both as a browser resolves it (on the URL's path, through
    the <lang> link by name) and as the file system does (.. from inside the linked version folder)."""
    as_url = Path(posixpath.normpath(posixpath.join(page.parent.as_posix(), href)))
    return as_url.is_file() and (page.parent / href).is_file()


# SQLite only: the links are the report folder's, whatever the backend; a closed week's report read from
# PostgreSQL (weekly.period_database) is test_report_asof's
@pytest.fixture(params=["sqlite"])
def loaded_a_week_ago(
    request: pytest.FixtureRequest, tmp_path: Path, loaded_templates: LoadedTemplates
) -> Iterator[Engine]:
    """The bundled data as if loaded a week ago: last week's report shows them too (a week that ended
    before the first fetch has none: report.weekly.nothing_to_report)."""
    with loaded_templates.copy(request.param, tmp_path / "db") as url:
        engine = open_database(url)
        _date_back(engine, 7)
        yield engine
        engine.dispose()


def test_links_between_languages_and_periods_resolve(loaded_a_week_ago: Engine, tmp_path: Path) -> None:
    loaded_engine = loaded_a_week_ago
    week = weekly.parse_week(this_week())
    before = week.previous()
    weekly.build_report(loaded_engine, before, lang="fi", out_dir=tmp_path, images=False)
    alone = _links(tmp_path / before.key / "fi" / "report.html")
    assert [a for a in alone if "download" not in a] == []  # nothing to link to yet
    results = weekly.build_reports(loaded_engine, week, out_dir=tmp_path, images=False)
    for lang, result in results.items():
        assert result.path.parent.is_symlink()  # <lang> is the link to the hidden version folder
        links = [a for a in _links(result.path) if "download" not in a]
        languages = {a["hreflang"]: a["href"] for a in links if a.get("rel") == "alternate"}
        assert languages == {o: f"../{o}/report.html" for o in LANGS if o != lang}
        for other, href in languages.items():
            assert _resolves(result.path, href) and (result.path.parent / href).resolve() == (
                results[other].path.resolve()
            )
        periods = {a["rel"]: a["href"] for a in links if a.get("rel") in ("prev", "next")}
        if lang == "fi":
            assert periods == {"prev": f"../../{before.key}/fi/report.html"}  # no next week yet
            assert _resolves(result.path, periods["prev"])
            text = " ".join(parse(result.path).text)
            assert f"Edellinen viikko (viikko {before.number}/{before.year})" in text
        else:
            assert periods == {}  # the week before exists in Finnish only
        for a in links:
            assert _resolves(result.path, a["href"]), (lang, a)
    again = weekly.build_report(loaded_engine, before, lang="fi", out_dir=tmp_path, images=False)
    links = [a for a in _links(again.path) if "download" not in a]
    assert {a["rel"]: a["href"] for a in links if a.get("rel") in ("prev", "next")} == {
        "next": f"../../{week.key}/fi/report.html"
    }
    assert all(_resolves(again.path, a["href"]) for a in links)


@IMAGES_ON_SQLITE
def test_charts_show_without_javascript(full: weekly.ReportResult) -> None:
    """Each chart's PNG is inside the page (a data: URI) as the figure's content: a forwarded report.html
    shows its charts where no script runs; the script replaces it with the interactive chart."""
    html = full.path.read_text(encoding="utf-8")
    images = re.findall(
        r'<div class="vis" id="vis-([a-z_]+)"[^>]*><img class="static" src="data:image/png;base64,([^"]+)" '
        r'alt="[^"]+" width="(\d+)" height="(\d+)">',
        html,
    )
    assert [name for name, *_ in images] == EXPECTED_CHARTS
    for name, data, width, height in images:
        png = base64.b64decode(data)
        pixel_width, pixel_height, raw = png_pixels(png)
        assert (pixel_width, pixel_height) == (int(width), int(height)), name  # one pixel per CSS pixel
        assert len(set(raw)) > 32, name
        file_width, file_height, _ = png_pixels((full.path.parent / f"{name}.png").read_bytes())
        assert (file_width, file_height) == (2 * int(width), 2 * int(height))  # the same drawing
    assert t("report.no_js", "fi") in html and "<noscript><p>" in html


def test_the_languages_of_one_run_read_each_charts_data_once(one_run: OneRun) -> None:
    assert one_run.frame_reads == dict.fromkeys(FRAME_READERS, 1), (
        one_run.frame_reads
    )  # not once per language
    # and each language drew them: the same numbers under three languages' headers
    tables = {lang: r.path.parent / "sector_waterfall.csv" for lang, r in one_run.results.items()}
    assert len({path.read_text(encoding="utf-8") for path in tables.values()}) == 3


def test_the_peer_sections_tables_are_traced_to_their_snapshots(light: dict[str, Path]) -> None:
    """The peers' standings and the totals by source are numbers the reader sees: the sources table names
    their datasets' snapshots with the peer section among their users (OECD green area and the Urban Audit
    tables were listed as feeding only "Data freshness")."""
    text = light["en"].read_text(encoding="utf-8")
    section = text[text.index('<section id="provenance"') :]
    section = section[: section.index("</section>")]
    rows = section.split("<tr")[2:]  # after the header row
    peer_heading = t("peers.heading", "en")
    cited = [row for row in rows if peer_heading in row]
    assert cited, "no snapshot lists the peer section as a user"
    assert any("DF_GREEN_AREA" in row for row in cited)
    assert any("urb_cenv" in row for row in cited)


def test_the_totals_by_source_say_which_years_are_provisional(loaded_engine: Engine) -> None:
    """HSY's 2024 total is provisional (its newest year: ingest/catalogue.toml, provisional =
    "latest_period"): the headline and the trajectory say so, the peer section's totals by source printed
    "712 (2024)" alone. The years a source flags provisional say so there too; a final year does not."""
    for lang in LANGS:
        rows = {row[0]: row for row in report_peers.reconciliation_rows(loaded_engine, lang)}
        hsy = rows[indicator_label("ghg_total", lang)]
        assert hsy[3] == f"712 ({t('peers.year_provisional', lang, year=2024)})", hsy
        assert hsy[2] == f"{i18n.format_number(1060, lang)} (1990)", hsy  # 1990 is final


def test_the_peer_standings_say_which_home_years_are_provisional(loaded_engine: Engine) -> None:
    """OECD flags its newest year provisional ("P"): the indicator's site page said so of Espoo's 2022, the
    report's standings printed "2022" alone."""
    from kestava import api

    stored = api.indicator_values("peer_ghg_per_resident_oecd", engine=loaded_engine)
    espoo = stored.filter(pl.col("area") == "049", pl.col("kind") == "observed").sort("period")
    latest = espoo.row(-1, named=True)
    assert "P" in str(latest["flags"])  # the bundled OECD answer flags it
    name = indicator_label("peer_ghg_per_resident_oecd", "en")
    row = next(r for r in report_peers.standing_rows(loaded_engine, "en") if r[0] == name)
    assert row[2].startswith(t("peers.year_provisional", "en", year=int(latest["period"]))), row
    final = next(r for r in report_peers.standing_rows(loaded_engine, "en") if "Covenant" in r[1])
    assert "provisional" not in final[2], final


def test_the_peer_standings_say_espoos_base_year_figure_is_an_estimate(loaded_engine: Engine) -> None:
    """OECD flags its 1990 figures E: Espoo's change since 1990 says so in the one bracket it shares with
    its rank, "(1990: estimate; rank 3 of 19)", not in two brackets one after the other."""
    for lang in LANGS:
        name = indicator_label("peer_ghg_per_resident_oecd", lang)
        row = next(r for r in report_peers.standing_rows(loaded_engine, lang) if r[0] == name)
        mark = t("peers.base_estimated", lang, year=1990)
        ranked = t("peers.change_ranked_base_estimated", lang, change="@", year=1990, rank="#", n="#")
        pattern = re.escape(ranked).replace("@", ".+").replace(re.escape("#"), r"\d+")
        assert re.fullmatch(pattern, row[5]) and mark not in row[5], row[5]


def test_percentages_follow_the_language_throughout_the_report(
    full: weekly.ReportResult, light: dict[str, Path]
) -> None:
    """English writes "91.9%" (CLDR en), Finnish and Swedish "91,9 %" with a no-break space: in every
    section, the peer standings (a percentage indicator's value and its best peer) and notes included."""
    pages = {"fi": full.path, **light}
    for lang, path in pages.items():
        text = "\n".join(parse(path).text)
        wrong = re.compile(r"\d[ \u00a0]%") if lang == "en" else re.compile(r"\d ?%")
        found = [text[max(0, m.start() - 50) : m.end()] for m in wrong.finditer(text)]
        assert found == [], lang
        assert re.search(r"\d%" if lang == "en" else r"\d\u00a0%", text), lang
    peers_en = "\n".join(parse(light["en"]).text)
    assert re.search(r"\d\.\d%", peers_en)
