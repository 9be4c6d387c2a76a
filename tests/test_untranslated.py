"""No catalogue key and no English word of the project's own strings in what a fi or sv reader sees."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

import pytest
from sqlalchemy import Engine, delete, insert
from typer.testing import CliRunner

from common import units
from common.helsinki import HELSINKI
from indicators.catalogue import SumDerivation, load_indicator_catalogue
from ingest.catalogue import load_catalogue
from kestava.cli import app, indicator_rows
from report import charts, weekly
from report.chart_ids import ASSESSMENT_ID_COLUMNS, DATASET_ID_COLUMNS, ID_COLUMNS
from report.export import export_table
from report.i18n import LANGS, catalogue, t
from storage import schema

READER_LANGS: Final = ("fi", "sv")
# attributes whose text a reader sees or hears (tooltips, image alternatives, screen-reader labels)
VISIBLE_ATTRIBUTES: Final = frozenset({"title", "alt", "aria-label"})
# encoding channels whose data values are drawn as words (axis and legend labels, marks' text, tooltips)
VISIBLE_CHANNELS: Final = frozenset(
    {
        "x",
        "y",
        "x2",
        "y2",
        "color",
        "fill",
        "stroke",
        "shape",
        "strokeDash",
        "text",
        "tooltip",
        "row",
        "column",
    }
)
_WORD: Final = re.compile(r"[^\W\d_]+")
_URL: Final = re.compile(r"https?://\S+")
_DIGEST: Final = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,64}\b")  # SHA-256 prefixes in the provenance

# Words of the English strings that are also right in a Finnish or Swedish text, by language, with the
# reason. Words that the language's own translations use (Eurostat, SDSN, Open SDG, CO₂e, HSY, StatFin,
# CC BY 4.0…) are exempt already, so this list holds only what those strings cannot show.
ALLOWED: Final[Mapping[str, Mapping[str, str]]] = {
    "fi": {},
    "sv": {},
}


# ---------------------------------------------------------------------------------------------------------
# what a reader sees


class _VisibleText(HTMLParser):
    """Text nodes outside <script>/<style>, and the visible attributes, of an HTML page; text the page
    marks as another language than its own (lang="en" on a connector's error message) is left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._hidden = 0
        self._page_lang: str | None = None
        self._foreign: str | None = None  # the tag of the element marked as another language
        self._foreign_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        lang = dict(attrs).get("lang")
        if self._page_lang is None and tag == "html":
            self._page_lang = lang
        elif self._foreign is None and lang is not None and lang != self._page_lang:
            self._foreign, self._foreign_depth = tag, 1
            return
        elif tag == self._foreign:
            self._foreign_depth += 1
        if self._foreign is None:
            self.found.extend(v for k, v in attrs if k in VISIBLE_ATTRIBUTES and v)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1
        if tag == self._foreign:
            self._foreign_depth -= 1
            if self._foreign_depth == 0:
                self._foreign = None

    def handle_data(self, data: str) -> None:
        if not self._hidden and self._foreign is None and data.strip():
            self.found.append(data)


def html_texts(html: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return parser.found


def _titles(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _titles(item)
    elif isinstance(value, dict):
        for key in ("text", "subtitle"):
            if key in value:
                yield from _titles(value[key])


def _walk(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def spec_texts(spec: Mapping[str, Any]) -> list[str]:
    """A Vega-Lite spec's visible words: titles (chart, axes, legends, tooltips), the description, text
    literals of marks, scale domains and the data values of every field an encoding draws."""
    found: list[str] = [str(spec.get("description", ""))]
    fields: set[str] = set()
    for node in _walk({k: v for k, v in spec.items() if k not in ("usermeta", "datasets", "config")}):
        if "title" in node:
            found.extend(_titles(node["title"]))
        mark = node.get("mark")
        if isinstance(mark, dict) and isinstance(mark.get("text"), str | list):
            found.extend(_titles(mark["text"]))
        encoding = node.get("encoding")
        if isinstance(encoding, dict):
            for channel, definition in encoding.items():
                if channel not in VISIBLE_CHANNELS:
                    continue
                for item in definition if isinstance(definition, list) else [definition]:
                    if not isinstance(item, dict):
                        continue
                    if isinstance(item.get("field"), str):
                        fields.add(item["field"])
                    if isinstance(item.get("value"), str) and channel == "text":
                        found.append(item["value"])
                    domain = (item.get("scale") or {}).get("domain")
                    if isinstance(domain, list):
                        found.extend(d for d in domain if isinstance(d, str))
                    if isinstance(item.get("sort"), list):
                        found.extend(d for d in item["sort"] if isinstance(d, str))
    for rows in (spec.get("datasets") or {}).values():
        for row in rows:
            found.extend(str(row[f]) for f in fields if isinstance(row.get(f), str))
    return [text for text in found if text]


def csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


# ---------------------------------------------------------------------------------------------------------
# what must not be there


def catalogue_keys() -> set[str]:
    """Keys the project uses internally: indicator ids (with breakdown parts), breakdown keys, status,
    level, method and freshness ids, dataset and source ids, and the catalogue's raw unit strings."""
    indicators = load_indicator_catalogue().indicators
    keys: set[str] = set()
    for indicator in indicators.values():
        keys.add(indicator.id)
        keys.update(indicator.expanded_ids())
        keys.update(indicator.assess)
        if isinstance(indicator.derive, SumDerivation):
            keys.update(rule.key for rule in indicator.derive.breakdown or [])
    keys.update(charts.STATUS_LEVELS, charts.LEVELS, charts.METHODS, charts.METHOD_ALIASES)
    keys.update(charts.FRESHNESS_STATUSES, charts.CIRCULAR_INDICATORS)
    ingest = load_catalogue()
    keys.update(ingest.datasets, ingest.sources)
    return keys


def raw_units() -> set[str]:
    """The registry's unit strings that no language shows as they are ("kt CO2e" is shown "kt CO₂e")."""
    shown = {
        text for key, entry in catalogue().items() if key.startswith("unit_name.") for text in entry.values()
    }
    return {u for u in units.UNITS if u not in shown and _WORD.search(u) and not _WORD.fullmatch(u)}


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(_URL.sub(" ", re.sub(r"\{[^}]*\}", " ", text)))}


@cache
def english_words(lang: str) -> frozenset[str]:
    """Every word of the English strings the project defines (translations' en values, the indicator
    catalogue's English names, the ingest catalogue's titles, publishers, attributions and licences, and
    the one-word catalogue keys), less the words lang's own strings use too and the ALLOWED ones."""
    names = catalogue()
    english: set[str] = set()
    own: set[str] = set()
    for entry in names.values():
        english |= _words(entry["en"])
        own |= _words(entry[lang])
    for indicator in load_indicator_catalogue().indicators.values():
        english |= _words(indicator.name.en)
        own |= _words(indicator.name.get(lang))
    ingest = load_catalogue()
    for source in ingest.sources.values():
        english |= _words(f"{source.publisher} {source.attribution} {source.licence}")
    for dataset in ingest.datasets.values():
        english |= _words(dataset.title)
    english |= {k.lower() for k in catalogue_keys() if _WORD.fullmatch(k)}
    return frozenset(english - own - set(ALLOWED.get(lang, {})))


@cache
def english_phrases(lang: str) -> frozenset[str]:
    """The English strings (split at their placeholders) that differ from their lang ones and have two
    words or more: "Fingrid open data" is English although each of its words may also be right in a
    Swedish text (Fingrid, Open SDG, data)."""
    found: set[str] = set()
    texts = [e["en"] for e in catalogue().values() if e["en"] != e[lang]]
    own = " ".join(e[lang] for e in catalogue().values())
    ingest = load_catalogue()
    texts += [f"{s.publisher}|{s.attribution}|{s.licence}" for s in ingest.sources.values()]
    texts += [d.title for d in ingest.datasets.values()]
    for text in texts:
        for part in re.split(r"\{[^}]*\}|[|()·:;,.]", text):
            part = part.strip()
            if len(_WORD.findall(part)) >= 2 and part not in own:
                found.add(part)
    return frozenset(found)


@cache
def _key_pattern() -> re.Pattern[str]:
    keys = {k for k in catalogue_keys() if not _WORD.fullmatch(k)} | raw_units()
    alternatives = "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))
    return re.compile(r"(?<![\w.])(" + alternatives + r")(?![\w])")


@dataclass
class Finding:
    """Where a reader would meet an untranslated word."""

    where: str
    keys: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)
    text: str = ""


def untranslated(texts: Iterable[str], where: str, lang: str) -> list[Finding]:
    """Every text (meant for a lang reader) that holds a multi-part catalogue key (with "_" or "."), a
    forbidden English word or an English phrase."""
    english, phrases = english_words(lang), english_phrases(lang)
    found = []
    for text in texts:
        plain = _DIGEST.sub(" ", _URL.sub(" ", text))
        bad_keys = set(_key_pattern().findall(plain))
        bad_words = {w for w in _WORD.findall(plain) if w.lower() in english}
        bad_words |= {p for p in phrases if p in plain}
        if bad_keys or bad_words:
            found.append(Finding(where, bad_keys, bad_words, text[:200]))
    return found


# ---------------------------------------------------------------------------------------------------------
# the tests


def test_the_forbidden_lists_catch_what_the_issue_saw() -> None:
    """The lists are built from the project's own strings and find the leaks that were reported."""
    for lang in READER_LANGS:
        english = english_words(lang)
        assert {"statistics", "reuse", "acknowledgement", "heating", "electricity", "progress"} <= english
        assert "eurostat" not in english  # the same in every language
    assert "finland" in english_words("fi") and "finland" not in english_words("sv")  # Swedish "Finland"
    assert "espoo" not in english_words("fi") and "espoo" in english_words("sv")  # Swedish "Esbo"
    leaks = [
        "Sektori: electric_heating",
        "significant_progress",
        "Lähde: Statistics Finland, StatFin",
        "Reuse with acknowledgement (Commission Decision 2011/833/EU)",
        "Fingrid open data",
    ]
    for lang in READER_LANGS:
        assert [bool(untranslated([text], "probe", lang)) for text in leaks] == [True] * len(leaks)
    assert untranslated(["Källa: Statistikcentralen, StatFin · Licens: CC BY 4.0"], "probe", "sv") == []
    assert untranslated(["Lähde: Eurostat (sdg_13_10) · Lisenssi: CC BY 4.0"], "probe", "fi") == []
    assert untranslated(["Finland"], "probe", "sv") == [] and untranslated(["Finland"], "probe", "fi")
    assert untranslated(["https://data.fingrid.fi/api/x · a03695097b4e"], "probe", "fi") == []  # URL, digest


def test_html_texts_reads_text_and_visible_attributes_but_not_marked_foreign_text() -> None:
    page = (
        '<html lang="fi"><head><title>Otsikko</title><style>p {}</style></head><body>'
        '<p title="Vihje">Virheilmoitus: <span lang="en">HTTP 500 <b>from</b> the server</span> loppu</p>'
        '<img alt="Kuvaus" src="x.png"><script>var english = "text";</script></body></html>'
    )
    assert [s.strip() for s in html_texts(page)] == ["Otsikko", "Vihje", "Virheilmoitus:", "loppu", "Kuvaus"]


def test_spec_texts_reads_titles_axes_legends_tooltips_and_drawn_values() -> None:
    spec = {
        "title": {"text": ["Finding"], "subtitle": ["Source line"]},
        "description": "Alt text",
        "datasets": {"d": [{"label": "shown", "hidden_key": "not_shown", "n": 1}]},
        "layer": [
            {
                "mark": {"type": "text", "text": "Mark literal"},
                "encoding": {
                    "x": {"field": "n", "axis": {"title": "Axis title"}},
                    "color": {
                        "field": "label",
                        "legend": {"title": "Legend title"},
                        "scale": {"domain": ["A"]},
                    },
                    "tooltip": [{"field": "label", "title": "Tip title"}],
                    "detail": {"field": "hidden_key"},
                },
            }
        ],
        "usermeta": {"kestava": {"chart": "x_y"}},
    }
    texts = set(spec_texts(spec))
    assert {"Finding", "Source line", "Alt text", "Mark literal", "Axis title", "Legend title"} <= texts
    assert {"Tip title", "A", "shown"} <= texts
    assert "not_shown" not in texts and "x_y" not in texts


# SQLite only: what is translated is the same whichever database the data come from (storage's reads are
# tested on both backends elsewhere)
SQLITE = pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def reports(
    loaded_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, weekly.ReportResult]:
    """The weekly and the half-yearly council report in every language (HTML, charts' specs, CSVs); in
    English the same check finds keys only, as every English word is the project's own."""
    out = tmp_path_factory.mktemp("untranslated")
    today = datetime.now(HELSINKI).date()  # the reports' day (after 22:00 UTC, tomorrow in Helsinki)
    week = weekly.current_week(today)
    half = weekly.parse_half(f"{today.year}-H{1 if today.month <= 6 else 2}")
    found: dict[str, weekly.ReportResult] = {}
    for period in (week, half):
        for lang, result in weekly.build_reports(
            loaded_engine, period, LANGS, out_dir=out, images=False
        ).items():
            found[f"{period.key}/{lang}"] = result
    return found


@SQLITE
def test_every_chart_of_every_report_is_drawn(reports: dict[str, weekly.ReportResult]) -> None:
    """The check below covers every chart only if every chart has its data."""
    for key, result in reports.items():
        drawn = [c.name for c in result.charts if c.spec is not None]
        assert drawn == list(weekly.CHART_NAMES), (key, [c.name for c in result.charts if c.error])


@SQLITE
def test_reports_hold_no_key_and_in_finnish_and_swedish_no_english_word(
    reports: dict[str, weekly.ReportResult],
) -> None:
    findings: list[Finding] = []
    for key, result in reports.items():
        lang = key.rsplit("/", 1)[1]
        findings += untranslated(html_texts(result.path.read_text(encoding="utf-8")), f"{key} page", lang)
        for chart in result.charts:
            if chart.spec is not None:
                findings += untranslated(spec_texts(chart.spec), f"{key} chart {chart.name}", lang)
            if chart.table is not None:
                cells = [c for row in chart.table.rows for c in row if isinstance(c, str)]
                findings += untranslated([*chart.table.headers, *cells], f"{key} table {chart.name}", lang)
            if chart.csv is not None:
                # the API's ids (report.chart_ids) head their columns as kestava.api names them, in every
                # language, as their cells hold its codes: every other header is the reader's language
                header = csv_header(result.path.parent / chart.csv)
                ids = {*ID_COLUMNS, *ASSESSMENT_ID_COLUMNS, *DATASET_ID_COLUMNS}
                shown = [h for cell in header for h in cell.split(";") if h not in ids]
                assert len(shown) < len(";".join(header).split(";")), chart.name  # every chart has its ids
                findings += untranslated(shown, f"{key} CSV {chart.name}", lang)
    assert findings == [], "\n".join(f"{f.where}: {sorted(f.keys | f.words)} in {f.text!r}" for f in findings)


@pytest.mark.parametrize("lang", READER_LANGS)
def test_indicators_command_in_finnish_and_swedish(lang: str) -> None:
    """`kestava indicators --lang fi|sv`: title, headers, names, units, targets and methods translated; the
    id column keeps the indicator ids (what `kestava export` takes), so only it is left out."""
    title, headers, rows = indicator_rows(lang)
    texts = [title, *headers, *(cell for row in rows for cell in row[1:])]
    findings = untranslated(texts, f"kestava indicators --lang {lang}", lang)
    assert findings == [], "\n".join(f"{sorted(f.keys | f.words)} in {f.text!r}" for f in findings)
    assert any("2030" in row[4] for row in rows)  # the targets are there, in words
    result = CliRunner().invoke(app, ["indicators", "--lang", lang])
    assert result.exit_code == 0, result.output
    assert title in result.output and headers[1] in result.output


def test_indicators_command_rejects_an_unknown_language() -> None:
    result = CliRunner().invoke(app, ["indicators", "--lang", "de"])
    assert result.exit_code == 2 and "Traceback" not in result.output


@SQLITE
def test_export_names_and_sources_in_finnish_and_swedish(loaded_engine: Engine) -> None:
    """`kestava export --lang`: the name and source columns (the rest are codes for machines)."""
    for lang in READER_LANGS:
        table = export_table(
            loaded_engine, load_indicator_catalogue(), ["ghg_total", "ghg_by_subsector"], lang=lang
        )
        texts = (
            table["name"].drop_nulls().unique().to_list() + table["source"].drop_nulls().unique().to_list()
        )
        assert any(":" in name for name in table["name"].drop_nulls().unique().to_list())  # breakdown parts
        findings = untranslated(texts, f"kestava export --lang {lang}", lang)
        assert findings == [], "\n".join(f"{sorted(f.keys | f.words)} in {f.text!r}" for f in findings)


@SQLITE
def test_connector_errors_are_marked_english_in_finnish_and_swedish(
    loaded_engine: Engine, tmp_path: Path
) -> None:
    """A failed fetch's message is the connector's own English text: the page says so (lang="en" and the
    column header), so a screen reader switches language and the check above leaves it out."""
    run = schema.job_run
    now = datetime.now(UTC).replace(tzinfo=None)
    message = "eurostat_sdg_12_41: GET https://example.invalid/x: expected JSON-stat, got HTML"
    with loaded_engine.begin() as conn:
        run_id = conn.execute(
            insert(run)
            .values(
                job="ingest:eurostat_sdg_12_41",
                dataset_id="eurostat_sdg_12_41",
                trigger="test",
                started_at=now,
                finished_at=now,
                outcome="failed",
                error=message,
            )
            .returning(run.c.id)
        ).scalar_one()
    try:
        period = weekly.current_week(datetime.now(HELSINKI).date())
        results = weekly.build_reports(loaded_engine, period, READER_LANGS, out_dir=tmp_path, images=False)
    finally:
        with loaded_engine.begin() as conn:
            conn.execute(delete(run).where(run.c.id == run_id))
    for lang, result in results.items():
        html = result.path.read_text(encoding="utf-8")
        assert '<span lang="en">eurostat_sdg_12_41: GET https://example.invalid/x: expected JSON-stat' in html
        # an error cell of a dataset without an error says "–", in no language: not read in an English voice
        assert '<span lang="en">\u2013</span>' not in html
        texts = html_texts(html)
        assert t("report_col.error", lang) in texts and not any("expected JSON-stat" in x for x in texts)
        findings = untranslated(texts, f"{lang} page with a failed fetch", lang)
        assert findings == [], "\n".join(f"{sorted(f.keys | f.words)} in {f.text!r}" for f in findings)
