"""The weekly report's provenance table ("Sources and traceability") in a real browser: it fits a 1 280 px
desktop window without scrolling sideways (its nine columns were 1 647 px wide in a 1 184 px box), and at
390 px it is still one card per row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_report_browser import REPORT_TABLES, driver, report

__all__ = ["driver", "report"]  # the browser test's fixtures, used here by name
pytestmark = pytest.mark.slow

PROVENANCE = """
const wrap = document.querySelector('#provenance .table-wrap');
const table = wrap.querySelector('table');
return {box: wrap.clientWidth, scroll: wrap.scrollWidth, table: table.getBoundingClientRect().width,
        page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth,
        columns: wrap.querySelectorAll('thead th').length,
        urls: [...wrap.querySelectorAll('td.code code')].map(c => c.textContent),
        caption: wrap.querySelector('caption').textContent};
"""


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_the_provenance_table_fits_a_desktop_window_and_keeps_its_cards_on_a_phone(
    driver: Any, report: Path
) -> None:
    """At 1 280 px the table is no wider than its box (nor the page than the window), every payload's URL
    and digest still written out in full; at 390 px it is read as cards, nothing off to the right."""
    try:
        driver.set_window_size(1280, 1000)
        driver.get(report.resolve().as_uri())
        wide = driver.execute_script(PROVENANCE)
        assert wide["scroll"] <= wide["box"] + 1, wide
        assert wide["table"] <= wide["box"] + 1 and wide["page"] <= wide["window"] + 1, wide
        assert wide["urls"] and all(" · " in url and url.startswith("https://") for url in wide["urls"]), wide
        driver.set_window_size(390, 900)
        driver.get(report.resolve().as_uri())
        tables = {t["caption"]: t for t in driver.execute_script(REPORT_TABLES)}
        phone = tables[wide["caption"]]
        assert phone["cards"] and phone["labelled"], phone
        assert phone["inside"] and phone["offRight"] == 0, phone
    finally:
        driver.set_window_size(1400, 1000)
