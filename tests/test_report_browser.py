"""The weekly report in a real browser: headless Chromium, offline, every chart rendered, no console error."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from report import weekly
from report.i18n import t
from report.peers import PEER_CHARTS
from tests.browser_checks import AXE, AXE_TAGS, RUN_AXE
from tests.test_report import EVIL, EVIL_IMG, injected, this_week

CHROMEDRIVER = "/usr/bin/chromedriver"
pytestmark = pytest.mark.slow


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium with the network off: every request that leaves the machine fails."""
    browser = _chromium()
    if browser is None or not Path(CHROMEDRIVER).exists():
        message = (
            "the browser test needs Debian's chromium and chromium-driver "
            f"(found browser={browser}, {CHROMEDRIVER} exists={Path(CHROMEDRIVER).exists()}); "
            "install them with: apt-get install -y chromium chromium-driver (.ci/run does this)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--proxy-server=127.0.0.1:9",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        chrome.execute_cdp_cmd("Network.enable", {})
        chrome.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="module")
def report(loaded_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The weekly report with markup injected into titles, labels and errors from the data."""
    out = tmp_path_factory.mktemp("browser")
    with injected(loaded_engine):
        return weekly.write_weekly_report(loaded_engine, lang="fi", week=this_week(), out_dir=out)


RENDER_STATE = """
return Array.from(document.querySelectorAll('.vis')).map(function (el) {
  var svg = el.querySelector('svg');
  var marks = svg ? Array.from(svg.querySelectorAll('g[class^="mark-"], g[class*=" mark-"]'))
    .filter(function (g) { return g.childElementCount > 0; }).length : 0;
  var canvas = el.querySelector('canvas');
  return {id: el.id, state: el.getAttribute('data-rendered'), marks: marks,
          width: svg ? svg.getBoundingClientRect().width : (canvas ? canvas.width : 0)};
});
"""


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_report_renders_offline_without_errors(driver: Any, report: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    driver.get_log("browser")  # start from an empty log
    driver.get(report.resolve().as_uri())
    deadline = time.monotonic() + 60
    charts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        charts = driver.execute_script(RENDER_STATE)
        if charts and all(c["state"] for c in charts):
            break
        time.sleep(0.2)
    assert [c["id"] for c in charts] == [f"vis-{name}" for name in weekly.CHART_NAMES]
    for chart in charts:
        assert chart["state"] == "true", chart  # vegaEmbed resolved (no error, no PNG fallback)
        assert chart["marks"] >= 3 and chart["width"] > 300, chart
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text
    log = driver.get_log("browser")
    severe = [entry for entry in log if entry["level"] == "SEVERE"]
    assert severe == [], severe
    body = driver.execute_script("return document.body.innerText;")
    assert EVIL in body and EVIL_IMG in body  # shown as text
    svg_text = driver.execute_script("return document.querySelector('#vis-sector_area svg').textContent;")
    assert EVIL in svg_text  # the injected sector name is text inside the chart
    assert driver.execute_script("return document.querySelectorAll('script:not([type])').length;") == 2
    scripts = driver.execute_script(
        "return Array.from(document.scripts).filter(function (s) { return s.src; }).length;"
    )
    assert scripts == 0
    requested = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
    )
    assert [url for url in requested if not url.startswith(("data:", "blob:"))] == []
    assert driver.execute_script("return document.documentElement.lang;") == "fi"


CHART_NAMES_AND_CAPTIONS = """
const charts = Array.from(document.querySelectorAll('.vis')).map(function (el) {
  var described = document.getElementById(el.getAttribute('aria-describedby') || '');
  var figure = el.closest('figure');
  var named = document.getElementById(figure.getAttribute('aria-labelledby') || '');
  return {id: el.id, state: el.getAttribute('data-rendered'), role: el.getAttribute('role'),
          label: el.getAttribute('aria-label'), title: named ? named.textContent : null,
          description: described ? described.textContent : null,
          caption: figure.querySelector('figcaption').textContent};
});
document.querySelectorAll('details').forEach(function (d) { d.open = true; });
var cut = Array.from(document.querySelectorAll('.table-wrap')).filter(function (wrap) {
  var caption = wrap.querySelector('caption');
  return caption.getBoundingClientRect().right > wrap.getBoundingClientRect().left + wrap.clientWidth + 0.5;
}).map(function (wrap) { return wrap.querySelector('caption').textContent; });
return {charts: charts, cut: cut, tables: document.querySelectorAll('.table-wrap').length};
"""


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_report_charts_are_described_once_and_captions_wrap_at_phone_width(driver: Any, report: Path) -> None:
    """At 390 px, every chart drawn: the image is named by its short title and described by the caption's
    long text (aria-describedby), which the page holds once; no table's caption runs past its scroll box
    (they were cut: "Jaksolla ladatut aineistoversiot ja niiden uu…")."""
    driver.set_window_size(390, 900)
    try:
        driver.get(report.resolve().as_uri())
        deadline = time.monotonic() + 60
        found: dict[str, Any] = {}
        while time.monotonic() < deadline:
            found = driver.execute_script(CHART_NAMES_AND_CAPTIONS)
            if found["charts"] and all(c["state"] for c in found["charts"]):
                break
            time.sleep(0.2)
        assert len(found["charts"]) == len(weekly.CHART_NAMES)
        for chart in found["charts"]:
            assert chart["state"] == "true" and chart["role"] == "img", chart
            assert chart["label"] and chart["label"] == chart["title"], chart  # the title, short
            assert chart["description"] and chart["description"] not in chart["label"], chart
            assert chart["caption"].count(chart["description"]) == 1, chart
        assert found["tables"] > 10 and found["cut"] == [], found["cut"]
        if AXE.is_file():  # as the site's test: WCAG 2.1 AA, the tables unfolded (axe skips what is hidden)
            driver.set_window_size(1280, 1000)
            driver.set_script_timeout(120)
            driver.execute_script(AXE.read_text(encoding="utf-8"))
            result = driver.execute_async_script(RUN_AXE, AXE_TAGS)
            assert result["violations"] == [] and result["passed"] >= 10, result
    finally:
        driver.set_window_size(1400, 1000)


DRAWN_SIZES = """
return Array.from(document.querySelectorAll('.vis')).map(function (el) {
  var svg = el.querySelector('svg');
  return {id: el.id, state: el.getAttribute('data-rendered'), column: el.clientWidth,
          shown: svg ? svg.getBoundingClientRect().width : 0,
          drawn: svg ? Number(svg.getAttribute('width')) : 0,
          titleLines: svg ? svg.querySelectorAll('.role-title-text tspan').length : 0};
});
"""


def _drawn_sizes(driver: Any) -> dict[str, dict[str, Any]]:
    """DRAWN_SIZES of the loaded page's charts by their element's id, once every chart is drawn (or after
    60 s, as they then are)."""
    deadline = time.monotonic() + 60
    charts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        charts = driver.execute_script(DRAWN_SIZES)
        if charts and all(c["state"] for c in charts):
            break
        time.sleep(0.2)
    return {c["id"]: c for c in charts}


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_at_phone_width_the_headline_charts_are_drawn_for_the_column_not_shrunk(
    driver: Any, report: Path
) -> None:
    """At 390 px the emissions chart was drawn 732 px wide and shrunk to the 358 px column: its 11 px labels
    read 5 px. It is now drawn as wide as the column, its title wrapped; a chart whose labels leave too
    little plot (the waterfall, per-resident, dashboard, circular, balance, freshness and peer charts) is
    drawn in its own phone layout, which fits the column at its size; wider than 40rem, the desktop layout
    again."""
    driver.set_window_size(390, 900)
    try:
        driver.get(report.resolve().as_uri())
        by_id = _drawn_sizes(driver)
        own_layout = (
            "sector_waterfall",
            "per_resident_comparison",
            "progress_dashboard",
            "circular_economy",
            "neutrality_balance",
            "data_freshness",
        )
        for name in ("emissions_trajectory", "sector_area", "weekly_mover", *own_layout, *PEER_CHARTS):
            chart = by_id[f"vis-{name}"]
            assert chart["state"] == "true", chart
            assert chart["drawn"] <= chart["column"] + 1, chart  # fits the column
            assert chart["shown"] >= 0.97 * chart["drawn"], chart  # at its own size, not scaled
        trajectory = by_id["vis-emissions_trajectory"]
        assert trajectory["titleLines"] >= 2, trajectory  # the phone's title, wrapped short
        driver.set_window_size(1280, 900)
        driver.get(report.resolve().as_uri())
        wide = _drawn_sizes(driver)
        for name in own_layout:  # the desktop layout: labels beside the plot, wider than a phone's
            assert wide[f"vis-{name}"]["drawn"] > by_id[f"vis-{name}"]["drawn"], name
    finally:
        driver.set_window_size(1400, 1000)


REPORT_TABLES = """
const width = document.documentElement.clientWidth;
return [...document.querySelectorAll('.table-wrap')].filter(w => !w.closest('details')).map(w => ({
  caption: w.querySelector('caption').textContent,
  cards: w.classList.contains('cards'),
  columns: w.querySelectorAll('thead th').length,
  inside: w.scrollWidth <= w.clientWidth + 1,
  offRight: [...w.querySelectorAll('tbody td, tbody th')]
    .filter(c => c.getBoundingClientRect().right > width + 1).length,
  labelled: [...w.querySelectorAll('tbody td')].every(c => c.dataset.label),
}));
"""


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_at_phone_width_a_wide_report_table_is_read_as_cards_without_scrolling_sideways(
    driver: Any, report: Path
) -> None:
    """At 390 px the week's new data versions (dataset, fetched, new, revised, confirmed rows, …) and the
    sources needing action showed two or three columns, the rest off to the right in a box scrolling
    sideways; they are now one card per row, as on the site (_cards.css). A chart's own data table (in
    its folded details) stays a table."""
    driver.set_window_size(390, 900)
    try:
        driver.get(report.resolve().as_uri())
        tables = driver.execute_script(REPORT_TABLES)
        wide = [t for t in tables if t["columns"] >= 4]
        assert len(wide) >= 2, tables
        for table in wide:
            assert table["cards"] and table["labelled"], table
            assert table["inside"] and table["offRight"] == 0, table
        folded = driver.execute_script(
            "return [...document.querySelectorAll('details .table-wrap')]"
            ".map(w => w.classList.contains('cards'))"
        )
        assert folded and not any(folded)
    finally:
        driver.set_window_size(1400, 1000)


COMPACT_CARDS = """
return [...document.querySelectorAll(arguments[0])].map(table => ({
  rows: table.querySelectorAll('tbody tr').length,
  height: table.getBoundingClientRect().height,
  cells: [...table.querySelectorAll('tbody tr')].map(r => [...r.querySelectorAll('td')].map(c => ({
    text: c.textContent.trim(), shown: c.getClientRects().length > 0}))),
}));
"""
# the same tables drawn as plain cards (every cell under the one before): what compact cards replaced
PLAIN_CARDS = """
const tables = [...document.querySelectorAll(arguments[0])];
tables.forEach(t => t.removeAttribute('data-compact'));
return tables.map(t => t.getBoundingClientRect().height);
"""


def check_compact_cards(driver: Any, page: str, selector: str, shorter: Sequence[float | None]) -> None:
    """At 390 px the tables of selector on page are compact cards: no cell saying 0 or – is shown, and
    each table takes at most its share in shorter (None: no bound) of the height plain cards took; at
    1400 px every cell is shown."""
    driver.set_window_size(390, 900)
    try:
        driver.get(page)
        tables = driver.execute_script(COMPACT_CARDS, selector)
        assert len(tables) == len(shorter), tables
        for table in tables:
            assert table["rows"] >= 3, table
            for cells in table["cells"]:
                shown = [c["text"] for c in cells if c["shown"]]
                assert shown and not set(shown) & {"0", "–"}, cells
                assert {c["text"] for c in cells if not c["shown"]} <= {"0", "–"}, cells
        plain = driver.execute_script(PLAIN_CARDS, selector)
        for table, before, share in zip(tables, plain, shorter, strict=True):
            assert share is None or table["height"] <= share * before, (table["height"], before)
        driver.set_window_size(1400, 1000)
        driver.get(page)
        wide = driver.execute_script(COMPACT_CARDS, selector)
        assert all(c["shown"] for table in wide for cells in table["cells"] for c in cells)
    finally:
        driver.set_window_size(1400, 1000)


FIRST_TWO_HEADINGS = """
var section = document.querySelector('#changes');
var heads = section.querySelectorAll('h3');
var between = [];
for (var el = heads[0].nextElementSibling; el && el !== heads[1]; el = el.nextElementSibling) {
  between.push(el.tagName.toLowerCase());
}
return {gap: heads[1].getBoundingClientRect().top - heads[0].getBoundingClientRect().bottom,
        between: between, text: heads[0].nextElementSibling.textContent};
"""


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_at_phone_width_a_first_runs_new_data_are_one_line(driver: Any, report: Path) -> None:
    """On a first run every dataset is new: twenty cards of eight lines each ("revised rows 0", …) came
    before the first chart at 390 px, then twenty short cards (2,336 px). Nothing earlier is there to
    compare with: the section says so in one line, and the next heading follows it. The other tables of
    the section (the sources needing attention) are short cards, 0 and – left out."""
    driver.set_window_size(390, 900)
    try:
        driver.get(report.resolve().as_uri())
        found = driver.execute_script(FIRST_TWO_HEADINGS)
        assert found["between"] == ["p"], found
        assert found["text"].startswith(t("report.first_load_many", "fi", n="@").split("@")[0]), found
        assert found["gap"] < 150, found  # a line or two at 390 px, not screens of cards
    finally:
        driver.set_window_size(1400, 1000)
    check_compact_cards(driver, report.resolve().as_uri(), "#changes .table-wrap:first-of-type table", [None])


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_a_tables_figures_are_right_aligned_on_a_desktop_and_left_in_a_phones_cards(
    driver: Any, report: Path
) -> None:
    """The report's tables left-aligned every figure: `.report-table td` set text-align and outranked
    `.num`. Figures line up on the right at desktop width; a phone's cards keep them beside their label."""
    aligned = (
        "return [...document.querySelectorAll('.report-table td.num')]"
        ".filter(c => c.getClientRects().length).map(c => getComputedStyle(c).textAlign)"
    )
    try:
        driver.set_window_size(1400, 1000)
        driver.get(report.resolve().as_uri())
        desktop = driver.execute_script(aligned)
        assert desktop and set(desktop) == {"right"}, set(desktop)
        driver.set_window_size(390, 900)
        driver.get(report.resolve().as_uri())
        carded = driver.execute_script(
            "return [...document.querySelectorAll('.report-table[data-cards] td.num')]"
            ".filter(c => c.getClientRects().length).map(c => getComputedStyle(c).textAlign)"
        )
        assert carded and set(carded) == {"left"}, set(carded)
    finally:
        driver.set_window_size(1400, 1000)
