"""The weekly report's WCAG 2.1 AA audit in headless Chromium, fi/sv/en: axe-core and what axe cannot see."""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from report import weekly
from report.i18n import LANGS, t
from tests.browser_checks import (
    AXE,
    AXE_TAGS,
    CLIPPED,
    DESKTOP,
    FOCUSED,
    LINKS,
    MEASURE,
    OPEN_DETAILS,
    PHONE,
    ROOT,
    RUN_AXE,
    TEXT_SPACING,
    axe_source,
    screenshot,
    tab,
)
from tests.test_report import this_week
from tests.test_report_browser import RENDER_STATE, driver

__all__ = ["driver"]  # the headless Chromium fixture with the network off, shared with the report tests

SCREENSHOTS = ROOT / "artefacts" / "report-screenshots"
SQLITE = pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reports(loaded_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """This week's report in each language, from the bundled data, written once for the module."""
    out = tmp_path_factory.mktemp("a11y-reports")
    return weekly.write_weekly_reports(loaded_engine, LANGS, week=this_week(), out_dir=out)


def _open(driver: Any, page: Path, width: int) -> None:
    """The page at a window `width` px wide, once every chart is drawn (or has fallen back)."""
    driver.set_window_size(width, 900)
    driver.get(page.resolve().as_uri())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        charts = driver.execute_script(RENDER_STATE)
        if charts and all(c["state"] for c in charts):
            return
        time.sleep(0.2)
    raise AssertionError(f"the charts of {page} were not drawn in 60 s: {charts}")


# the accessible names of the page's summaries (the disclosure buttons of the charts' tables)
SUMMARIES = """
return [...document.querySelectorAll('summary')].map(s => s.textContent.replace(/\\s+/g, ' ').trim());
"""

# the page's title, its headings' levels and texts, and the text that no landmark holds
STRUCTURE = """
const landmarks = 'header, nav, main, footer, aside';
const outside = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const parent = walker.currentNode.parentElement;
  if (!walker.currentNode.textContent.trim() || parent.closest('script, style, .skip, #vg-tooltip-element')
      || !parent.getClientRects().length) { continue; }
  if (!parent.closest(landmarks)) { outside.push(walker.currentNode.textContent.trim().slice(0, 60)); }
}
return {title: document.title, lang: document.documentElement.lang,
        headings: [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => [Number(h.tagName[1]),
          h.textContent.trim()]),
        main: document.querySelectorAll('main').length, outside: outside,
        langs: [...document.querySelectorAll('body [lang]')].map(e => [e.getAttribute('lang'),
          e.textContent.trim()])};
"""

# each chart: its role and name, its description (aria-describedby) and its data table's rows
CHART_ALTERNATIVES = """
return [...document.querySelectorAll('.vis')].map(v => {
  const described = document.getElementById(v.getAttribute('aria-describedby') || '');
  const table = v.closest('section.chart').querySelector('details .report-table');
  return {id: v.id, role: v.getAttribute('role'), name: v.getAttribute('aria-label'),
          description: described ? described.textContent.trim() : '',
          rows: table ? table.querySelectorAll('tbody tr').length : 0,
          caption: table ? table.querySelector('caption').textContent : ''};
});
"""

# every line and point a chart draws whose colour has less than 3:1 against the white page (WCAG 1.4.11):
# a mark's fill or its stroke, whichever is the stronger (a hollow point is its stroke), over white at the
# mark's opacity
FAINT_MARKS = """
const rgb = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) { return null; }
  const p = m[1].split(',').map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
const lum = c => 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
const onWhite = (c, a) => [0, 1, 2].map(i => c[i] * a + 255 * (1 - a));
const ratio = c => 1.05 / (lum(c) + 0.05);
const faint = [];
for (const path of document.querySelectorAll(
    '.vis g.mark-line.role-mark path, .vis g.mark-symbol.role-mark path')) {
  let alpha = 1;
  for (let e = path; e && e.tagName !== 'svg'; e = e.parentElement) {
    alpha *= Number(getComputedStyle(e).opacity);
  }
  const s = getComputedStyle(path);
  const seen = [[s.fill, s.fillOpacity], [s.stroke, s.strokeOpacity]].map(([c, o]) => {
    const colour = rgb(c); return colour ? ratio(onWhite(colour, colour[3] * Number(o) * alpha)) : 1; });
  const best = Math.max(...seen);
  if (alpha > 0 && best < 3) {
    faint.push({chart: path.closest('.vis').id, fill: s.fill, stroke: s.stroke, ratio: +best.toFixed(2)});
  }
}
return faint;
"""

# text of a drawing past its right edge, cut off
CUT_TEXT = """
return [...document.querySelectorAll('.vis svg text')].filter(t => t.textContent.trim()
  && t.getBoundingClientRect().right > t.closest('svg').getBoundingClientRect().right + 1)
  .map(t => t.closest('.vis').id + ': ' + t.textContent);
"""


@dataclass
class Survey:
    """What the report showed in each language at desktop and phone width (keys "fi@1280")."""

    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    passed: dict[str, int] = field(default_factory=dict)
    overflow: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    summaries: dict[str, list[str]] = field(default_factory=dict)
    structure: dict[str, dict[str, Any]] = field(default_factory=dict)
    charts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    faint: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    shots: list[Path] = field(default_factory=list)


@pytest.fixture(scope="module")
def survey(driver: Any, reports: dict[str, Path]) -> Iterator[Survey]:
    """Each language's report opened at desktop then phone width, every chart drawn and every <details>
    unfolded (axe skips what is hidden): axe, the page's width, its links, summaries, structure, charts and
    their marks' colours, and a screenshot from its top (artefacts/report-screenshots)."""
    axe = AXE.read_text(encoding="utf-8") if AXE.is_file() else None  # else the axe test skips or fails
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = Survey()
    driver.set_script_timeout(120)  # axe on a page of some 40,000 px
    try:
        for width in (DESKTOP, PHONE):
            for lang in LANGS:
                key = f"{lang}@{width}"
                _open(driver, reports[lang], width)
                measured = driver.execute_script(MEASURE)
                shot = SCREENSHOTS / f"{lang}-{width}.png"
                screenshot(driver, shot, measured["height"])
                found.shots.append(shot)
                driver.execute_script(OPEN_DETAILS)
                if axe is not None:
                    driver.execute_script(axe)
                    checked = driver.execute_async_script(RUN_AXE, AXE_TAGS)
                    found.violations[key], found.passed[key] = checked["violations"], checked["passed"]
                found.overflow[key] = driver.execute_script(MEASURE)
                found.links[key] = driver.execute_script(LINKS)
                found.summaries[key] = driver.execute_script(SUMMARIES)
                found.structure[key] = driver.execute_script(STRUCTURE)
                found.charts[key] = driver.execute_script(CHART_ALTERNATIVES)
                found.faint[key] = driver.execute_script(FAINT_MARKS)
        yield found
    finally:
        driver.set_window_size(1400, 1000)


@SQLITE
def test_the_report_passes_axe_wcag21_aa_in_every_language_at_phone_and_desktop_width(
    survey: Survey,
) -> None:
    axe_source("the report's accessibility test")
    assert len(survey.violations) == 2 * len(LANGS)
    assert {key: found for key, found in survey.violations.items() if found} == {}
    assert min(survey.passed.values()) >= 10  # axe did check the pages (rules passed on each)


@SQLITE
def test_axe_finds_a_chart_without_a_name_planted_in_the_report(
    driver: Any, reports: dict[str, Path]
) -> None:
    """The check above can fail: a chart image without its name and a heading too pale are reported."""
    axe = axe_source("the report's accessibility test")
    _open(driver, reports["sv"], DESKTOP)
    driver.set_script_timeout(120)
    driver.execute_script(
        "document.querySelector('.vis').removeAttribute('aria-label');"
        "document.querySelector('.vis').removeAttribute('aria-describedby');"
        "document.querySelector('h1').classList.add('pale');"
        "const sheet = new CSSStyleSheet(); sheet.replaceSync('.pale { color: #aaa; }');"
        "document.adoptedStyleSheets = [sheet];" + axe
    )
    found = {v["id"] for v in driver.execute_async_script(RUN_AXE, AXE_TAGS)["violations"]}
    assert {"role-img-alt", "color-contrast"} <= found, found


@SQLITE
def test_no_report_scrolls_sideways_at_phone_or_desktop_width(survey: Survey) -> None:
    assert len(survey.overflow) == 2 * len(LANGS)
    wide = {key: m for key, m in survey.overflow.items() if m["scroll"] > m["inner"] or m["wide"]}
    assert wide == {}
    assert all(shot.stat().st_size > 1000 for shot in survey.shots)


@SQLITE
def test_links_and_summaries_of_different_charts_have_different_names(survey: Survey) -> None:
    """WCAG 2.4.4 and 2.4.6: listed out of context, the twelve charts' "PNG image", "SVG image", "CSV" and
    "Excel" links and their "Show the chart's data as a table" summaries could not be told apart; each now
    ends with its chart's heading (words for screen readers only)."""
    for key, links in survey.links.items():
        _check_names(links, survey.summaries[key], key)
        downloads = [link for link in links if link["href"].endswith(".png")]
        assert len(downloads) == len(weekly.CHART_NAMES), key
    headings = {h for _, h in survey.structure[f"fi@{DESKTOP}"]["headings"]}
    png = [link["name"] for link in survey.links[f"fi@{DESKTOP}"] if link["href"].endswith(".png")]
    assert all(name.split(": ", 1)[1] in headings for name in png), png  # "PNG-kuva: <the chart's heading>"


@SQLITE
def test_title_headings_landmarks_and_languages(survey: Survey) -> None:
    """WCAG 2.4.2, 1.3.1, 2.4.6, 3.1.1 and 3.1.2: the title names the report and its week, as its one h1;
    headings go down one level at a time; all text is in a landmark (the demo notice was outside them); the
    page's language is the report's, and the other languages' names are marked as theirs. The table of the
    totals by source, after the last peer chart, has a heading of its own (it read as that chart's)."""
    for lang in LANGS:
        found = survey.structure[f"{lang}@{DESKTOP}"]
        _check_structure(found, lang)
        assert this_week().split("-W")[0] in found["title"] and str(int(this_week()[-2:])) in found["title"]


def _check_structure(found: dict[str, Any], lang: str) -> None:
    """What STRUCTURE found on a report in lang: one h1, the page's title; headings down one level at a
    time, none empty; one main and all text in landmarks; the language marked, and the other language
    versions' links marked as theirs; the totals by source under their own heading, after the peer charts."""
    levels = [level for level, _ in found["headings"]]
    assert found["lang"] == lang
    assert levels[0] == 1 and levels.count(1) == 1 and found["headings"][0][1] == found["title"]
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), found["headings"]
    assert all(text for _, text in found["headings"])
    assert found["main"] == 1 and found["outside"] == [], found["outside"]
    others = {code: text for code, text in found["langs"] if code != lang and text not in ("", "–")}
    assert set(others) == set(LANGS) - {lang}, found["langs"]  # the other language versions' links
    assert found["headings"][-3][1] == t("peers.reconciliation_heading", lang)


def _check_names(links: list[dict[str, str]], summaries: list[str], key: str) -> None:
    """WCAG 2.4.4 and 2.4.6: no two links to different places share a name, every link has one, and the
    summaries of the charts' tables differ."""
    targets: dict[str, set[str]] = {}
    for link in links:
        targets.setdefault(link["name"], set()).add(link["href"])
    assert {name: hrefs for name, hrefs in targets.items() if len(hrefs) > 1} == {}, key
    assert all(link["name"] for link in links), key
    assert len(summaries) >= len(weekly.CHART_NAMES) and len(set(summaries)) == len(summaries), key


# the half-year's months as the council report's title names them, per language and half (CLDR's month
# intervals: Finnish joins the months' stems, English puts thin spaces around the dash)
HALF_MONTHS = {
    ("fi", 1): "tammi–kesäkuu",
    ("fi", 2): "heinä–joulukuu",
    ("sv", 1): "januari–juni",
    ("sv", 2): "juli–december",
    ("en", 1): "January\u2009–\u2009June",
    ("en", 2): "July\u2009–\u2009December",
}


@pytest.fixture(scope="module")
def half_reports(loaded_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The current half-year's council report in each language, written in one run as its scheduled job
    writes them (no PNG or SVG files: the page is what is audited)."""
    out = tmp_path_factory.mktemp("a11y-half")
    half = weekly.current_half().key
    return weekly.write_half_year_reports(loaded_engine, LANGS, half=half, out_dir=out, images=False)


@SQLITE
def test_the_half_year_report_passes_axe_and_is_built_as_the_weekly_one(
    driver: Any, half_reports: dict[str, Path]
) -> None:
    """The council report had not been audited. axe (WCAG 2.1 AA) on the Swedish one at phone width (the
    weekly audit checks the parts they share at both widths in every language), its width, its links' and
    summaries' names; in every language the structure axe cannot see: one h1 naming the report and its
    half-year, headings down one level at a time, text in landmarks, languages marked, and a link to each
    other language's report (written one by one, the Finnish report had none)."""
    axe = axe_source("the half-year report's accessibility test")
    half = weekly.current_half()
    _open(driver, half_reports["sv"], PHONE)
    try:
        driver.execute_script(OPEN_DETAILS)
        driver.set_script_timeout(120)
        driver.execute_script(axe)
        checked = driver.execute_async_script(RUN_AXE, AXE_TAGS)
        assert checked["violations"] == [] and checked["passed"] >= 10, checked["violations"]
        measured = driver.execute_script(MEASURE)
        assert measured["scroll"] <= measured["inner"] and not measured["wide"], measured
        _check_names(driver.execute_script(LINKS), driver.execute_script(SUMMARIES), "sv")
        for lang in ("sv", *(other for other in LANGS if other != "sv")):
            if lang != "sv":  # the structure only: the charts need not be drawn
                driver.get(half_reports[lang].resolve().as_uri())
            found = driver.execute_script(STRUCTURE)
            _check_structure(found, lang)
            assert HALF_MONTHS[lang, half.number] in found["title"] and str(half.year) in found["title"]
            assert t("report.indicator_status_heading", lang) in {
                text for level, text in found["headings"] if level == 2
            }
    finally:
        driver.set_window_size(1400, 1000)


@SQLITE
def test_every_chart_has_a_name_a_description_and_a_table_of_its_numbers(survey: Survey) -> None:
    """WCAG 1.1.1: every chart is an image named by its short finding, described by the caption's long text
    and followed by the table of its numbers (folded), at both widths."""
    for key, charts in survey.charts.items():
        assert [c["id"] for c in charts] == [f"vis-{name}" for name in weekly.CHART_NAMES], key
        for chart in charts:
            assert chart["role"] == "img" and chart["name"], chart
            assert len(chart["description"]) > len(chart["name"]) // 2, chart
            assert chart["rows"] >= 2 and chart["caption"], chart


@SQLITE
def test_every_line_and_point_of_every_chart_has_3_to_1_against_the_page(survey: Survey) -> None:
    """WCAG 1.4.11: the circular-economy chart drew the EU's line and points in Okabe-Ito orange (2.3:1), its
    points and the cross-source checks' at Vega-Lite's default opacity 0.7 (1.8–2.9:1); a late dataset's
    point in the freshness chart would have been orange too. Bands and the dashboard's labelled cells are
    not lines or points."""
    assert len(survey.faint) == 2 * len(LANGS)
    assert {key: faint for key, faint in survey.faint.items() if faint} == {}


@SQLITE
@pytest.mark.parametrize("lang", LANGS)
def test_reflow_at_320_px_with_the_text_spacing_of_wcag_1_4_12(
    driver: Any, reports: dict[str, Path], lang: str
) -> None:
    """WCAG 1.4.10 and 1.4.12: at 320 CSS px (a 1280 px window at 400 %) with a reader's wider text spacing
    nothing runs off the page sideways ("vertailukaupunkien" did, in a heading), no text is cut off, and
    every chart shows all its text (a legend label and a title ran past the drawing's edge, cut off)."""
    _open(driver, reports[lang], 320)
    try:
        assert driver.execute_script(CUT_TEXT) == []
        driver.execute_script(OPEN_DETAILS)
        assert driver.execute_script(TEXT_SPACING) != "normal"  # the override is in force
        measured = driver.execute_script(MEASURE)
        assert measured["scroll"] <= measured["inner"], measured
        assert driver.execute_script(CLIPPED) == []
    finally:
        driver.set_window_size(1400, 1000)


# the elements Tab should reach: links, summaries and the tables' scroll boxes shown (not in closed details)
REACHABLE = """
return [...document.querySelectorAll('a[href], summary, [tabindex="0"]')]
  .filter(e => e.checkVisibility()).map(e => e.textContent.trim().slice(0, 40));
"""


@SQLITE
@pytest.mark.parametrize(("lang", "width"), [("fi", PHONE), ("sv", DESKTOP)])
def test_tab_reaches_every_link_and_summary_in_order_with_its_focus_shown(
    driver: Any, reports: dict[str, Path], lang: str, width: int
) -> None:
    """WCAG 2.1.1, 2.4.3 and 2.4.7: from the skip link on, Tab stops at every link, summary and table box
    of the page in order, each with a 2 px outline or more, and none inside a chart (the charts' tooltips
    show what their tables hold); Enter on a summary unfolds its table."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _open(driver, reports[lang], width)
    try:
        order = driver.execute_script(REACHABLE)
        stops: list[dict[str, Any]] = []
        for _ in range(len(order) + 1):
            tab(driver)
            focused = driver.execute_script(FOCUSED)
            if focused["tag"] == "body":
                break
            stops.append(focused)
        assert stops[0]["cls"] == "skip"
        assert [s["text"] for s in stops] == order
        assert len(stops) > 3 * len(weekly.CHART_NAMES)
        for stop in stops:
            assert stop["outline"] != "none" and stop["outline_width"] >= 2, stop
            assert stop["width"] > 0 and stop["height"] > 0, stop
        assert not driver.execute_script(
            "return [...document.querySelectorAll('.vis [tabindex], .vis a')].length;"
        )
        summary = driver.execute_script(
            "const s = document.querySelector('#charts summary'); s.focus(); return s.parentElement.open;"
        )
        assert summary is False
        ActionChains(driver).send_keys(Keys.ENTER).perform()
        assert driver.execute_script("return document.querySelector('#charts details').open;") is True
    finally:
        driver.set_window_size(1400, 1000)


TOOLTIP = """
const box = document.getElementById('vg-tooltip-element');
if (!box) { return null; }
const r = box.getBoundingClientRect();
return {visibility: getComputedStyle(box).visibility, text: box.textContent,
        x: r.left + r.width / 2, y: r.top + r.height / 2,
        key: box.querySelector('td.key') ? getComputedStyle(box.querySelector('td.key')).color : null};
"""


@SQLITE
def test_a_charts_tooltip_can_be_hovered_and_is_dismissed_with_escape(
    driver: Any, reports: dict[str, Path]
) -> None:
    """WCAG 1.4.13: the pointer can move from a bar onto its tooltip, which stays (it disappeared as soon
    as the pointer left the bar); Escape hides it without the pointer moving, and the next bar shows its
    own. Its keys were #808080 (3.9:1, WCAG 1.4.3)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _open(driver, reports["en"], DESKTOP)
    try:
        bars = driver.find_elements(By.CSS_SELECTOR, "#vis-per_resident_comparison g.mark-rect path")
        assert len(bars) >= 5
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", bars[2])
        ActionChains(driver).move_to_element(bars[2]).perform()
        time.sleep(0.3)
        shown = driver.execute_script(TOOLTIP)
        assert shown["visibility"] == "visible" and "CO₂e" in shown["text"], shown
        assert shown["key"] == "rgb(85, 85, 85)", shown  # #555: 7.5:1 on the box's white
        bar = driver.execute_script("return arguments[0].getBoundingClientRect().toJSON();", bars[2])
        start = (bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
        steps = 8  # the pointer moves from the bar's middle to the tooltip's, as a hand does
        chain = ActionChains(driver)
        for _ in range(steps):
            chain.move_by_offset((shown["x"] - start[0]) / steps, (shown["y"] - start[1]) / steps)
        chain.perform()
        time.sleep(0.6)
        hovered = driver.execute_script(TOOLTIP)
        assert hovered["visibility"] == "visible" and hovered["text"] == shown["text"], hovered
        ActionChains(driver).send_keys(Keys.ESCAPE).perform()
        time.sleep(0.1)
        assert driver.execute_script(TOOLTIP)["visibility"] == "hidden"
        ActionChains(driver).move_to_element(bars[0]).perform()
        time.sleep(0.3)
        other = driver.execute_script(TOOLTIP)
        assert other["visibility"] == "visible" and other["text"] != shown["text"], other
    finally:
        driver.set_window_size(1400, 1000)
