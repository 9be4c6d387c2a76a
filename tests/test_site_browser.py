"""The public site in headless Chromium: axe-core WCAG 2.1 AA, keyboard, phone and desktop widths, search."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from report.site import build as site_build
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
    RUN_AXE,
    TEXT_SPACING,
    axe_source,
    screenshot,
    tab,
)
from tests.conftest import LoadedTemplates
from tests.site_fakes import PlaceholderRenderer, placeholder_xlsx
from tests.test_report_browser import check_compact_cards, driver

__all__ = ["driver"]  # the headless Chromium fixture with the network off, shared with the report tests

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "artefacts" / "site-screenshots"
LANGS = ("fi", "sv", "en")
PAGE_TYPES = {
    "home": "index.html",
    "indicators": "indicators/index.html",
    "indicator": "indicators/ghg_total.html",
    "peer-indicator": "indicators/peer_ghg_per_resident_oecd.html",
    "breakdown": "indicators/ghg_by_sector.html",
    "goals": "goals/index.html",
    "goal": "goals/sdg-13.html",
    "circular": "circular-economy.html",
    "peers": "peers.html",
    "reports": "reports.html",
    "accessibility": "accessibility.html",
}
TODAY = date(2026, 11, 27)

pytestmark = pytest.mark.slow  # the site is built once: dev.py runs each test file whole on one worker


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, loaded_templates: LoadedTemplates) -> Iterator[Path]:
    """The whole site in three languages, with a small archive of reports to list, built once from the
    bundled data on SQLite."""
    from storage.engine import open_database

    folder = tmp_path_factory.mktemp("site-data")
    with loaded_templates.copy("sqlite", folder) as url:
        engine = open_database(url)
        yield _build(engine, tmp_path_factory)
        engine.dispose()


def _build(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = tmp_path_factory.mktemp("reports")
    for period in ("2026-W48", "2026-H2"):
        for lang in LANGS:
            folder = reports / period / lang
            folder.mkdir(parents=True)
            (folder / "report.html").write_text(
                f'<!DOCTYPE html><html lang="{lang}"><title>{period}</title><p>{period}</p></html>',
                encoding="utf-8",
            )
    out = tmp_path_factory.mktemp("site") / "site"
    with pytest.MonkeyPatch.context() as patch:
        # the 42 XLSX downloads are half the build time, and these tests open pages, not downloads
        patch.setattr(site_build, "write_xlsx", placeholder_xlsx)
        site_build.build_site(engine, out, report_root=reports, today=TODAY, renderer=PlaceholderRenderer())
    return out


def _page(site: Path, lang: str, kind: str) -> str:
    return (site / lang / PAGE_TYPES[kind]).as_uri()


@pytest.fixture(scope="module")
def axe() -> str:
    """axe.min.js (browser_checks.axe_source)."""
    return axe_source("the site's accessibility test")


REQUESTS = """
const urls = performance.getEntriesByType('resource').map(e => e.name)
  .concat(performance.getEntriesByType('navigation').map(e => e.name))
  .concat([...document.querySelectorAll('[src], link[href]')].map(e => e.src || e.href));
return urls;
"""


@dataclass
class Survey:
    """What every page type in every language showed: axe violations, widths, requests, console errors."""

    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    passed: dict[str, int] = field(default_factory=dict)
    overflow: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: dict[str, list[str]] = field(default_factory=dict)
    severe: dict[str, list[str]] = field(default_factory=dict)
    shots: list[Path] = field(default_factory=list)
    links: dict[str, list[dict[str, str]]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def survey(driver: Any, site: Path) -> Iterator[Survey]:
    """Every page type in every language opened (its <details> unfolded: axe skips what is hidden) at
    desktop then phone width: axe (at desktop width), the page's width, the URLs it loaded, the console's
    errors and a full-page screenshot (artefacts)."""
    axe = AXE.read_text(encoding="utf-8") if AXE.is_file() else None  # else the axe test skips or fails
    # last run's screenshots go; a file another process is still writing there must not fail the survey
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = Survey()
    for width in (DESKTOP, PHONE):
        driver.set_window_size(width, 900)
        for lang in LANGS:
            for kind in PAGE_TYPES:
                key = f"{lang}/{kind}@{width}"
                driver.get_log("browser")
                driver.get(_page(site, lang, kind))
                driver.execute_script(OPEN_DETAILS)  # tables folded in <details> are checked open too
                if width == DESKTOP and axe is not None:
                    driver.execute_script(axe)
                    checked = driver.execute_async_script(RUN_AXE, AXE_TAGS)
                    found.violations[key], found.passed[key] = checked["violations"], checked["passed"]
                if width == DESKTOP:
                    found.requests[key] = driver.execute_script(REQUESTS)
                    found.links[key] = driver.execute_script(LINKS)
                measured = driver.execute_script(MEASURE)
                found.overflow[key] = measured
                shot = SCREENSHOTS / f"{lang}-{kind}-{width}.png"
                screenshot(driver, shot, measured["height"])
                found.shots.append(shot)
                found.severe[key] = [
                    e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
                ]
    yield found


def test_every_page_passes_axe_wcag21_aa(axe: str, survey: Survey) -> None:
    failing = {key: found for key, found in survey.violations.items() if found}
    assert len(survey.violations) == len(LANGS) * len(PAGE_TYPES)
    assert failing == {}
    assert min(survey.passed.values()) >= 10  # axe did check the pages (rules passed on each)


@pytest.mark.parametrize("lang", ["fi"])
def test_axe_finds_a_planted_violation(axe: str, driver: Any, site: Path, lang: str) -> None:
    """The check above can fail: a chart without its text alternative and text too pale are reported."""
    driver.get(_page(site, lang, "indicator"))
    driver.execute_script(
        "document.querySelector('figure img').removeAttribute('alt');"
        "document.querySelector('h1').style.color = '#aaa';" + axe
    )
    found = {v["id"] for v in driver.execute_async_script(RUN_AXE, AXE_TAGS)["violations"]}
    assert {"image-alt", "color-contrast"} <= found, found


def test_no_page_scrolls_sideways_at_phone_or_desktop_width(survey: Survey) -> None:
    assert len(survey.overflow) == 2 * len(LANGS) * len(PAGE_TYPES)
    wide = {key: m for key, m in survey.overflow.items() if m["scroll"] > m["inner"] or m["wide"]}
    assert wide == {}
    assert all(shot.stat().st_size > 1000 for shot in survey.shots)


def test_no_request_leaves_the_machine_and_no_console_error(survey: Survey) -> None:
    elsewhere = {
        key: [u for u in urls if not u.startswith(("file:", "data:", "blob:"))]
        for key, urls in survey.requests.items()
    }
    assert {key: urls for key, urls in elsewhere.items() if urls} == {}
    assert {key: errors for key, errors in survey.severe.items() if errors} == {}


@pytest.mark.parametrize("lang", ["sv"])
def test_a_planted_request_to_another_host_is_seen(driver: Any, site: Path, lang: str) -> None:
    """The check above can fail: an image and a fetch from another host, planted in a page, are refused by
    the page's Content-Security-Policy, each with a console error naming the host, which the check reads."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")
    driver.get(_page(site, lang, "home"))
    driver.execute_script(
        "const i = document.createElement('img'); i.src = 'https://example.org/x.png'; i.alt = '';"
        "document.body.append(i); fetch('https://example.org/y.json').catch(() => null);"
    )
    severe: list[str] = []

    def refused(d: Any) -> bool:
        severe.extend(e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE")
        return all(any(f"example.org/{name}" in m for m in severe) for name in ("x.png", "y.json"))

    WebDriverWait(driver, 10).until(refused)
    assert any("Content Security Policy" in m for m in severe), severe


@pytest.mark.parametrize("lang", LANGS)
def test_skip_link_and_visible_focus(driver: Any, site: Path, lang: str) -> None:
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(DESKTOP, 900)
    driver.get(_page(site, lang, "indicator"))
    tab(driver)
    skip = driver.execute_script(FOCUSED)
    assert skip["cls"] == "skip" and skip["tag"] == "a", skip
    assert skip["left"] >= 0 and skip["top"] >= 0 and skip["width"] > 20, skip  # shown when focused
    assert skip["outline"] != "none" and skip["outline_width"] >= 2, skip
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    assert driver.execute_script("return location.hash;") == "#main"
    tab(driver)
    after = driver.execute_script(FOCUSED)
    assert after["in_main"], after  # the next Tab goes into the content, past the header's links
    # every stop of the first Tabs through the page shows where the focus is
    driver.get(_page(site, lang, "indicators"))
    for _ in range(14):
        tab(driver)
        focused = driver.execute_script(FOCUSED)
        assert focused["outline"] != "none" and focused["outline_width"] >= 2, focused
        assert focused["width"] > 0 and focused["height"] > 0, focused


VISIBLE = """
const items = [...document.querySelectorAll('[data-filterable] li[data-name]')];
return {shown: items.filter(i => !i.hidden && i.getClientRects().length).map(i => i.dataset.name),
        total: items.length, status: document.querySelector('.filter-count').textContent,
        value: document.querySelector('#filter').value};
"""


def _tab_to(driver: Any, element_id: str) -> None:
    for _ in range(40):
        tab(driver)
        if driver.execute_script("return document.activeElement.id;") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


@pytest.mark.parametrize(("lang", "word"), [("fi", "päästö"), ("sv", "utsläpp"), ("en", "emission")])
def test_filter_from_the_keyboard(driver: Any, site: Path, lang: str, word: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(PHONE, 900)
    driver.get(_page(site, lang, "indicators"))
    before = driver.execute_script(VISIBLE)
    assert len(before["shown"]) == before["total"] > 10
    assert before["status"] == f"{before['total']} / {before['total']}"
    _tab_to(driver, "filter")
    ActionChains(driver).send_keys(word.upper()).perform()  # case does not matter
    after = driver.execute_script(VISIBLE)
    assert 0 < len(after["shown"]) < after["total"], after
    assert all(word in name for name in after["shown"]), after
    assert after["status"] == f"{len(after['shown'])} / {after['total']}"
    ActionChains(driver).send_keys("zzzq").perform()
    none = driver.execute_script(VISIBLE)
    assert none["shown"] == [] and none["status"] == driver.execute_script(
        "return document.querySelector('.filter-count').dataset.none;"
    )
    assert none["status"]
    ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(
        Keys.BACKSPACE
    ).perform()
    assert len(driver.execute_script(VISIBLE)["shown"]) == before["total"]


@pytest.mark.parametrize(("lang", "word"), [("fi", "kasvihuone"), ("en", "greenhouse")])
def test_header_search_opens_the_filtered_list(driver: Any, site: Path, lang: str, word: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(DESKTOP, 900)
    driver.get(_page(site, lang, "goal"))
    _tab_to(driver, "site-search")
    ActionChains(driver).send_keys(word).send_keys(Keys.ENTER).perform()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 10).until(lambda d: "?q=" in d.current_url)
    assert driver.current_url.split("?")[0] == _page(site, lang, "indicators")
    found = driver.execute_script(VISIBLE)
    assert found["value"] == word
    assert 0 < len(found["shown"]) < found["total"], found
    assert all(word in name for name in found["shown"]), found
    assert found["status"] == f"{len(found['shown'])} / {found['total']}"


@pytest.mark.parametrize(
    ("lang", "inflected", "stem", "compound"),
    [
        # "päästöt" (plural) found 13 of 43 names: not "Päästöindeksi" nor "Päästöjen muutos"
        ("fi", "päästöt", "päästö", "päästöindeksi (1990 = 100)"),
        ("fi", "päästöjen", "päästö", "kasvihuonekaasupäästöt"),
        ("sv", "utsläppen", "utsläpp", "utsläppsindex (1990 = 100)"),
        ("en", "emissions", "emission", "emissions index (1990 = 100)"),
    ],
)
def test_search_finds_inflected_and_compound_forms_by_the_words_stem(
    driver: Any, site: Path, lang: str, inflected: str, stem: str, compound: str
) -> None:
    driver.set_window_size(DESKTOP, 900)
    driver.get(_page(site, lang, "indicators") + "?q=" + stem)
    by_stem = driver.execute_script(VISIBLE)
    driver.get(_page(site, lang, "indicators") + "?q=" + inflected)
    found = driver.execute_script(VISIBLE)
    assert compound in found["shown"], found
    # the inflected word finds what its stem finds, and no more than names holding that stem
    assert sorted(found["shown"]) == sorted(by_stem["shown"]), (found, by_stem)
    assert all(stem in name for name in found["shown"])
    assert 0 < len(found["shown"]) < found["total"]


CARD_TABLES = """
const wraps = [...document.querySelectorAll('.table-wrap')];
const width = document.documentElement.clientWidth;
return wraps.map(w => ({
  cards: w.classList.contains('cards'),
  columns: w.querySelectorAll('thead th').length,
  inside: w.scrollWidth <= w.clientWidth + 1,
  // every cell, the value and the rank included, within the page's width: none off to the right
  offRight: [...w.querySelectorAll('tbody td, tbody th')]
    .filter(c => c.getBoundingClientRect().right > width + 1).length,
}));
"""


@pytest.mark.parametrize("lang", LANGS)
def test_a_wide_table_on_a_phone_shows_every_cell_without_scrolling_sideways(
    driver: Any, site: Path, lang: str
) -> None:
    # the peers' standings at 390 px showed Indicator, Source and Year; Espoo's value and rank were off to
    # the right in a box scrolling both ways
    driver.set_window_size(PHONE, 900)
    driver.get(_page(site, lang, "peers"))
    tables = driver.execute_script(CARD_TABLES)
    wide = [t for t in tables if t["columns"] >= 4]
    assert wide, tables
    for table in wide:
        assert table["cards"] and table["inside"] and table["offRight"] == 0, table


CHART_IMAGES = """
return [...document.querySelectorAll('figure picture img')].map(img => ({
  src: img.currentSrc.split('/').pop(), shown: img.getBoundingClientRect().width, natural: img.naturalWidth,
  column: img.closest('figure').getBoundingClientRect().width}));
"""


@pytest.mark.parametrize(
    ("lang", "kind"), [("fi", "indicator"), ("sv", "breakdown"), ("en", "peer-indicator"), ("fi", "peers")]
)
def test_a_phone_shows_each_chart_drawn_for_its_width_not_shrunk(
    driver: Any, site: Path, lang: str, kind: str
) -> None:
    # the charts were drawn 730 px wide and shrunk into a phone's 358 px column: 11 px labels read 5 px
    driver.set_window_size(PHONE, 900)
    driver.get(_page(site, lang, kind))
    driver.execute_script("return Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
    images = driver.execute_script(CHART_IMAGES)
    assert images, kind
    for image in images:
        assert image["src"].endswith(".phone.svg"), image
        assert image["shown"] >= 0.8 * image["natural"], image  # at 80 % of its size or more
    driver.set_window_size(DESKTOP, 900)
    driver.get(_page(site, lang, kind))
    driver.execute_script("return Promise.all([...document.images].map(i => i.decode().catch(() => null)))")
    wide = driver.execute_script(CHART_IMAGES)
    assert wide and all(not image["src"].endswith(".phone.svg") for image in wide), wide


@pytest.mark.parametrize("lang", LANGS)
def test_the_home_pages_lists_of_datasets_are_short_cards_on_a_phone(
    driver: Any, site: Path, lang: str
) -> None:
    """The home page's week of new data versions ("revised rows 0", … for each of twenty datasets) and its
    datasets' freshness filled screen after screen at 390 px. A first load is now one line, not a table
    (tests/test_site.py); the freshness is short cards, 0 and – left out (its labels run on: a little
    shorter)."""
    check_compact_cards(driver, _page(site, lang, "home"), "table[data-compact]", [None])


def test_links_to_different_places_have_different_names(survey: Survey) -> None:
    """WCAG 2.4.4: a reader who lists a page's links can tell them apart. The peers page had nine "SVG" and
    nine "Indikaattorin sivu" links, one under each chart, with nothing in their name to say which chart."""
    assert len(survey.links) == len(LANGS) * len(PAGE_TYPES)
    for key, links in survey.links.items():
        targets: dict[str, set[str]] = {}
        for link in links:
            targets.setdefault(link["name"], set()).add(link["href"])
        shared = {name: sorted(hrefs) for name, hrefs in targets.items() if len(hrefs) > 1}
        assert shared == {}, key
        assert all(link["name"] for link in links), key


def test_every_page_links_to_the_accessibility_statement_in_its_language(survey: Survey, site: Path) -> None:
    """The statement is reachable from every page's footer (Directive 2016/2102 art. 7), in the page's
    language, by the name the model statement gives it."""
    names = {"fi": "Saavutettavuusseloste", "sv": "Tillgänglighetsutlåtande", "en": "Accessibility statement"}
    for key, links in survey.links.items():
        lang = key.split("/")[0]
        footer = [link for link in links if link["footer"]]
        assert [link["name"] for link in footer] == [names[lang]], key
        assert footer[0]["href"] == (site / lang / "accessibility.html").as_uri(), key


def _chart_tables(page: str) -> list[tuple[str, list[str]]]:
    """Each chart of a page with the table folded after it: the chart's file and the table's cells."""
    chart_then_table = r'<img src="(?:\.\./)?charts/([\w.]+)\.svg".*?<details>.*?<tbody[^>]*>(.*?)</tbody>'
    return [
        (chart, re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", rows))
        for chart, rows in re.findall(chart_then_table, page, re.S)
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_every_chart_on_the_peers_page_has_its_numbers_in_a_table(site: Path, lang: str) -> None:
    """WCAG 1.1.1: the peers page showed nine charts with a one-sentence alt text (Espoo and the best city)
    and no table; each now folds the table of its numbers, row for row the table of its indicator page."""
    peers = (site / lang / "peers.html").read_text(encoding="utf-8")
    shown = _chart_tables(peers)
    assert len(shown) == peers.count("<figure>") >= 5
    for chart, rows in shown:
        own = (site / lang / "indicators" / f"{chart}.html").read_text(encoding="utf-8")
        assert _chart_tables(own) == [(chart, rows)], chart
        assert len(rows) >= 5 * 4, chart  # five cities or more, each with its value, year and rank


@pytest.mark.parametrize(("lang", "kind"), [("fi", "indicator"), ("sv", "peers"), ("en", "accessibility")])
def test_reflow_at_320_px_with_the_text_spacing_of_wcag_1_4_12(
    driver: Any, site: Path, lang: str, kind: str
) -> None:
    """WCAG 1.4.10 and 1.4.12: at 320 CSS px (a 1280 px window at 400 %) with a reader's wider text spacing
    nothing runs off the page sideways (a table scrolls in its own box) and no text is cut off."""
    driver.set_window_size(320, 900)
    driver.get(_page(site, lang, kind))
    driver.execute_script(OPEN_DETAILS)
    assert driver.execute_script(TEXT_SPACING) != "normal"  # the override is in force
    measured = driver.execute_script(MEASURE)
    assert measured["scroll"] <= measured["inner"] and measured["wide"] == [], measured
    assert driver.execute_script(CLIPPED) == []
