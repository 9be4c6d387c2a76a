"""The council report printed with Chromium (every table row and chart on the pages, nothing past the edge),
and the weekly report at phone and desktop widths (every chart inside its column, none cut)."""

from __future__ import annotations

import base64
import html
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import Engine

from common.helsinki import HELSINKI
from report import weekly
from tests.test_report import this_week
from tests.test_report_browser import driver

__all__ = ["driver"]  # the headless Chromium fixture, shared with the browser test

# How Chromium lays the pages out, on SQLite only: the pages' layout is the browser's, and the reports read
# the database the same way on both backends (tests/test_report.py covers both); as test_phone_layouts.py
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)]

PHONE, DESKTOP = 390, 1280


def _open_half() -> weekly.ReportPeriod:
    """The half-year now running: an open period, so the report reads the loaded data as they are."""
    today = datetime.now(HELSINKI).date()
    return weekly.parse_half(f"{today.year}-H{1 if today.month <= 6 else 2}")


@pytest.fixture(scope="module")
def council(loaded_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("print")
    return weekly.build_report(loaded_engine, _open_half(), lang="fi", out_dir=out, images=False).path


@pytest.fixture(scope="module")
def printed(driver: Any, council: Path) -> pdfium.PdfDocument:
    """The council report as Chromium prints it (A4 from the page's own @page rules)."""
    driver.get(council.as_uri())
    _wait_for_charts(driver)
    pdf = driver.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})
    return pdfium.PdfDocument(base64.b64decode(pdf["data"]))


def _wait_for_charts(driver: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('.vis')]"
            ".every(v => v.querySelector('svg') || v.querySelector('img'))"
        )
    )


def _squeezed(text: str) -> str:
    """Text without any whitespace or soft hyphen: a cell wrapped over lines reads the same as on one line."""
    return re.sub(r"[\s\u00ad]+", "", text)


def _cells(page_html: str, pattern: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", m)).strip() for m in re.findall(pattern, page_html, re.S)]


def test_every_table_row_and_chart_is_on_the_printed_pages(
    printed: pdfium.PdfDocument, council: Path
) -> None:
    text = _squeezed("".join(page.get_textpage().get_text_range() for page in printed))
    page_html = council.read_text(encoding="utf-8")
    # the charts' own data tables are folded in <details> and not printed (they are the downloads)
    unfolded = re.sub(r"<details>.*?</details>", "", page_html, flags=re.S)
    row_heads = _cells(unfolded, r'<th scope="row"[^>]*>(.*?)</th>')
    assert len(row_heads) > 40, "the council report has its status and sources tables"
    missing = [r for r in row_heads if _squeezed(r) not in text]
    assert not missing, missing
    # the sources table's digests are in code cells that wrap anywhere
    digests = re.findall(r"· ([0-9a-f]{12})</code>", page_html)
    assert digests
    assert [d for d in digests if d not in text] == []
    # every chart is printed: its heading, and the drawing itself (the SVG's text: its axis titles)
    for name in weekly.CHART_NAMES:
        heading = _cells(page_html, rf'<h3 id="heading-{name}">(.*?)</h3>')
        assert heading and _squeezed(heading[0]) in text, name
    assert _squeezed("Päästöt (kt CO₂e)") in text or "CO₂e" in text


def test_nothing_is_printed_past_the_page_edge(printed: pdfium.PdfDocument) -> None:
    assert len(printed) >= 3
    for number, page in enumerate(printed, start=1):
        bitmap = page.render(scale=0.5).to_numpy()
        height, width = bitmap.shape[:2]
        margin = max(2, width // 50)  # the outer 2 % of the page is inside its 12 mm margin
        edges = [bitmap[:, :margin], bitmap[:, width - margin :], bitmap[height - margin :, :]]
        for edge in edges:
            assert int(edge.min()) >= 250, f"page {number}: something printed into the margin"


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_every_chart_fits_its_column(driver: Any, loaded_engine: Engine, tmp_path: Path, width: int) -> None:
    path = weekly.build_report(
        loaded_engine, weekly.parse_week(this_week()), lang="sv", out_dir=tmp_path, images=False
    ).path
    driver.set_window_size(width, 1000)
    try:
        driver.get(path.as_uri())
        _wait_for_charts(driver)
        boxes = driver.execute_script(
            """return [...document.querySelectorAll('.vis')].map(v => {
                const drawing = v.querySelector('svg') || v.querySelector('img');
                const r = drawing.getBoundingClientRect(), c = v.getBoundingClientRect();
                return {id: v.id, left: r.left, right: r.right, column_left: c.left, column_right: c.right,
                        scroll: v.scrollWidth, client: v.clientWidth,
                        page: document.documentElement.scrollWidth, viewport: window.innerWidth};
            })"""
        )
    finally:
        driver.set_window_size(1400, 1000)
    assert len(boxes) == len(weekly.CHART_NAMES)
    for box in boxes:
        assert box["page"] <= box["viewport"], f"{width}px: the page scrolls sideways"
        assert box["left"] >= box["column_left"] - 1 and box["right"] <= box["column_right"] + 1, (width, box)
        assert box["scroll"] <= box["client"] + 1, (width, box)  # nothing hidden to the right
    if width == DESKTOP:  # on a desktop the single-view charts use their column, not half of it
        widths = [b["right"] - b["left"] for b in boxes]
        column = boxes[0]["column_right"] - boxes[0]["column_left"]
        assert sum(w >= 0.9 * column for w in widths) >= len(boxes) // 2, (column, widths)
