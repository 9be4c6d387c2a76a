"""How the site's and the report's browser tests check a page: axe-core, widths, spacing, focus, shots."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE, DESKTOP = 390, 1280


def axe_source(what: str) -> str:
    """axe.min.js as npm ci installed it from tests/browser/package-lock.json (dev.py setup); without it
    the test is skipped, and fails on CI. what: the test that needs it, for the message."""
    message = (
        f"{what} needs axe-core in {AXE.parent}; "
        "install it with: python3 dev.py setup (runs npm ci in tests/browser)"
    )
    if not AXE.is_file():
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text(encoding="utf-8")


RUN_AXE = """
const done = arguments[arguments.length - 1];
// preload off: axe would fetch the stylesheets again by XMLHttpRequest, which file: pages may not do
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations'], preload: false})
  .then(r => done({passed: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact,
        help: v.help, nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(' '),
        summary: n.failureSummary}))}))}))
  .catch(e => done({passed: 0,
                    violations: [{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]}));
"""

OPEN_DETAILS = "document.querySelectorAll('details').forEach(d => { d.open = true; });\n"

# the page's width and what runs past the window's right edge (a table scrolls in its own box)
MEASURE = """
const s = document.scrollingElement;
return {scroll: s.scrollWidth, inner: window.innerWidth, height: s.scrollHeight,
        wide: [...document.querySelectorAll('main *, header *, footer *')]
          .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5
                       && !e.closest('.table-wrap') && e.getClientRects().length)
          .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''))};
"""

# WCAG 1.4.12's text spacing, as a reader's style sheet would set it; returns the body's letter spacing
TEXT_SPACING = """
const sheet = new CSSStyleSheet();
sheet.replaceSync('* { line-height: 1.5 !important; letter-spacing: .12em !important;'
  + ' word-spacing: .16em !important; } p { margin-bottom: 2em !important; }');
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
return getComputedStyle(document.body).letterSpacing;
"""

# the elements whose text their box cuts off (overflow hidden, content taller than the box)
CLIPPED = """
return [...document.querySelectorAll('main *, header *, footer *')].filter(e => {
  const s = getComputedStyle(e); return (s.overflow === 'hidden' || s.overflowY === 'hidden')
  && !e.closest('thead') && e.scrollHeight > e.clientHeight + 1 && e.clientHeight > 1; })
.map(e => e.tagName + '.' + e.className);
"""

# every link's accessible name (aria-label, else its text, hidden words included), target and place
LINKS = """
return [...document.querySelectorAll('a[href]')].map(a => ({
  name: (a.getAttribute('aria-label') || a.textContent).replace(/\\s+/g, ' ').trim(),
  href: a.href, footer: !!a.closest('footer'), lang: a.closest('[lang]').getAttribute('lang')}));
"""

# the focused element: what it is, where, and how its focus is drawn
FOCUSED = """
const e = document.activeElement, s = getComputedStyle(e), r = e.getBoundingClientRect();
return {tag: e.tagName.toLowerCase(), id: e.id, cls: e.className,
        text: (e.textContent || '').trim().slice(0, 40),
        in_main: !!e.closest('main'), outline: s.outlineStyle, outline_width: parseFloat(s.outlineWidth),
        left: r.left, top: r.top, right: r.right, width: r.width, height: r.height};
"""


def tab(driver: Any, times: int = 1) -> None:
    """Press Tab `times` times, as a keyboard user does."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    chain = ActionChains(driver)
    for _ in range(times):
        chain.send_keys(Keys.TAB)
    chain.perform()


def screenshot(driver: Any, path: Path, height: int) -> None:
    """The loaded page from its top, at most 6,000 px of it, as a PNG at path."""
    width = driver.execute_script("return window.innerWidth;")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "optimizeForSpeed": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 6000), "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
