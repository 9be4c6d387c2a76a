"""The weekly report's Content-Security-Policy: its own inline script and style by hash, nothing else runs."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from report import csp, weekly
from tests.test_report import injected, this_week
from tests.test_report_browser import RENDER_STATE, driver, report

__all__ = ["driver", "report"]  # the browser test's headless Chromium and its report (fi), shared

# the example of the CSP Level 3 specification (§ 2.3.1 "hash-source"): this script's hash source
SPEC_EXAMPLE_SCRIPT = "alert('Hello, world.');"
SPEC_EXAMPLE_HASH = "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='"

# every security policy violation the page reports, kept for the test (added before the page's own scripts)
RECORD_VIOLATIONS = """
window.policyViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.policyViolations.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


# ---------------------------------------------------------------------------------------------------------
# the helper


def test_a_hash_source_is_the_base64_sha256_of_the_text_as_the_specification_computes_it() -> None:
    assert csp.source_hash(SPEC_EXAMPLE_SCRIPT) == SPEC_EXAMPLE_HASH
    # the HTML parser turns CR LF and CR into LF before the browser hashes the text
    assert csp.source_hash("a();\r\nb();\rc();") == csp.source_hash("a();\nb();\nc();")
    assert csp.source_hash("é") != csp.source_hash("e")


def test_the_inline_elements_are_the_scripts_that_run_and_the_styles_each_as_its_raw_text() -> None:
    page = (
        "<head><style>p { color: red; }</style></head><body>"
        '<script type="application/json" id="spec">{"a": "\\u003c/b\\u003e"}</script>'
        '<script src="lib.js"></script>'
        "<script>\nvar a = '</h2>' + 1 &amp;&amp; 2 < 3;\n</script>"
        '<script type="module">import("x");</script>'
        "</body>"
    )
    found = csp.inline_elements(page)
    assert found.scripts == ["\nvar a = '</h2>' + 1 &amp;&amp; 2 < 3;\n", 'import("x");']
    assert found.styles == ["p { color: red; }"]
    assert found.refused_attributes == []


def test_a_page_with_a_style_or_event_handler_attribute_has_no_policy() -> None:
    """The policy would refuse them silently in the browser: the page must use classes and its script."""
    for attribute in ('style="color: red"', "onclick=\"alert('x')\""):
        with pytest.raises(ValueError, match="attributes"):
            csp.policy(f"<p {attribute}>x</p>")
    with pytest.raises(ValueError, match="placeholder"):
        csp.with_policy("<p>no meta</p>")


# ---------------------------------------------------------------------------------------------------------
# the report's policy


def _meta_policy(page: str) -> dict[str, list[str]]:
    """The report's CSP meta as directive name → its sources."""
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert meta is not None
    directives = [d.split() for d in html.unescape(meta.group(1)).split(";")]
    return {d[0]: d[1:] for d in directives if d}


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@pytest.mark.slow
@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_the_reports_policy_allows_exactly_its_inline_script_and_style_by_hash(report: Path) -> None:
    """Each inline script and the style block have their hash in the meta, and nothing else is allowed: no
    'unsafe-inline', no 'unsafe-eval', and the chart specs (data, not run) have no hash. The elements are
    found here by a pattern of their own (not report.csp's parser); the page has no CR."""
    page = report.read_text(encoding="utf-8")
    assert "\r" not in page
    policy = _meta_policy(page)
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.DOTALL)
    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.DOTALL)
    specs = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', page, flags=re.DOTALL)
    assert len(scripts) == 2 and len(styles) == 1 and len(specs) == len(weekly.CHART_NAMES)
    assert sorted(policy["script-src"]) == sorted(_sha256_source(s) for s in scripts)
    assert policy["style-src"] == [_sha256_source(styles[0])]
    assert not {_sha256_source(s) for s in specs} & set(policy["script-src"])
    assert policy["default-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert not [s for sources in policy.values() for s in sources if s.startswith("'unsafe-")]
    assert not re.search(r"<[a-z][^>]*\s(style|on[a-z]+)=", page)  # no attribute the policy would refuse


# ---------------------------------------------------------------------------------------------------------
# in the browser


@pytest.fixture(scope="module")
def reports(loaded_engine: Engine, report: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The browser test's report (fi, markup injected into the data) and the same week's in sv and en."""
    out = tmp_path_factory.mktemp("csp")
    with injected(loaded_engine):
        others = weekly.write_weekly_reports(loaded_engine, ["sv", "en"], week=this_week(), out_dir=out)
    return {"fi": report, **others}


@pytest.fixture
def violations(driver: Any) -> Iterator[None]:
    """Every page loaded in the test records the policy violations it reports (window.policyViolations)."""
    added = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    try:
        yield
    finally:
        driver.execute_cdp_cmd(
            "Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]}
        )


def _load(driver: Any, page: Path) -> list[dict[str, Any]]:
    """Open the page and wait until every chart has settled; its charts' RENDER_STATE."""
    driver.get_log("browser")  # start from an empty log
    driver.get(page.resolve().as_uri())
    deadline = time.monotonic() + 60
    charts: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        charts = driver.execute_script(RENDER_STATE)
        if charts and all(c["state"] for c in charts):
            break
        time.sleep(0.2)
    return charts


@pytest.mark.slow
@pytest.mark.usefixtures("violations")
@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_under_the_policy_every_chart_renders_without_a_violation_or_error(
    driver: Any, reports: dict[str, Path], lang: str
) -> None:
    """Vega compiles no expression with Function (its interpreter), and neither vega-embed nor vega-tooltip
    adds a <style> element: every chart drawn, nothing refused, no error in the console."""
    charts = _load(driver, reports[lang])
    assert [c["id"] for c in charts] == [f"vis-{name}" for name in weekly.CHART_NAMES]
    for chart in charts:
        assert chart["state"] == "true" and chart["marks"] >= 3 and chart["width"] > 300, chart
    assert driver.execute_script("return window.policyViolations;") == []
    log = driver.get_log("browser")
    assert [e for e in log if e["level"] == "SEVERE" or "Refused" in e["message"]] == []
    assert driver.execute_script("return document.querySelectorAll('head style').length;") == 1  # the page's


TOOLTIP = """
var tip = document.getElementById('vg-tooltip-element');
if (!tip) { return null; }
var style = getComputedStyle(tip);
return {visibility: style.visibility, position: style.position, text: tip.innerText,
        box: tip.getBoundingClientRect().toJSON()};
"""


@pytest.mark.slow
@pytest.mark.usefixtures("violations")
@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_a_charts_tooltip_shows_on_hover_in_its_box_and_hides_after(driver: Any, report: Path) -> None:
    """vega-tooltip's own look (a fixed box beside the hovered mark, hidden until a mark is hovered) now
    comes from the page's style: hovering a point of the emissions chart shows its year and emissions."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _load(driver, report)
    points = driver.find_elements(By.CSS_SELECTOR, "#vis-emissions_trajectory g.mark-symbol path")
    assert len(points) > 10
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", points[len(points) // 2])
    ActionChains(driver).move_to_element(points[len(points) // 2]).perform()
    time.sleep(0.3)
    shown = driver.execute_script(TOOLTIP)
    assert shown is not None and shown["visibility"] == "visible" and shown["position"] == "fixed", shown
    assert re.search(r"\b(19|20)\d\d\b", shown["text"]) and "CO₂e" in shown["text"], shown
    assert 0 < shown["box"]["width"] < 400 and shown["box"]["top"] >= 0, shown
    ActionChains(driver).move_to_element(driver.find_element(By.ID, "charts-heading")).perform()
    # hidden .2 s after the pointer left its mark (time to move onto it: WCAG 1.4.13)
    WebDriverWait(driver, 5).until(lambda d: d.execute_script(TOOLTIP)["visibility"] == "hidden")
    assert driver.execute_script("return window.policyViolations;") == []


# what an attacker's markup in the page would try: an inline script, an event handler, a style element and
# attribute, and eval (PLANTED_OUTCOME) from a script that runs (none runs or applies under the policy)
PLANTED = (
    "<script>window.plantedScript = true;</script>"
    '<img id="planted-image" src="data:," alt="" onerror="window.plantedHandler = true">'
    "<style>body { background: rgb(255, 0, 0); }</style>"
    '<p id="planted-style" style="color: rgb(255, 0, 0)">planted</p>'
)
# eval is tried from a timer: code that DevTools evaluates itself may eval whatever the page's policy
# (Runtime.evaluate's allowUnsafeEvalBlockedByCSP), what it schedules may not
PLANTED_OUTCOME = """
var done = arguments[arguments.length - 1];
setTimeout(function () {
  var evaluated;
  try { evaluated = Function('return 1 + 1')(); } catch (error) { evaluated = error.name; }
  done({script: window.plantedScript || false, handler: window.plantedHandler || false,
        background: getComputedStyle(document.body).backgroundColor,
        colour: getComputedStyle(document.getElementById('planted-style')).color,
        evaluated: evaluated, violations: window.policyViolations.map(function (v) { return v.directive; })});
}, 0);
"""


def planted_outcome(driver: Any, page: Path) -> tuple[dict[str, Any], list[str]]:
    """Plant PLANTED at the end of page's body (a copy beside it); what ran and what the console said."""
    planted = page.with_name("planted.html")
    before, end, after = page.read_text(encoding="utf-8").rpartition("</body>")  # the bundle has one too
    planted.write_text(before + PLANTED + end + after, "utf-8")
    _load(driver, planted)
    outcome = driver.execute_async_script(PLANTED_OUTCOME)
    return outcome, [e["message"] for e in driver.get_log("browser")]


@pytest.mark.slow
@pytest.mark.usefixtures("violations")
@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_markup_planted_in_the_report_is_refused_by_its_policy(driver: Any, report: Path) -> None:
    """The old policy ('unsafe-inline' 'unsafe-eval') ran all of it."""
    outcome, console = planted_outcome(driver, report)
    assert outcome["script"] is False and outcome["handler"] is False, outcome
    assert outcome["background"] != "rgb(255, 0, 0)" and outcome["colour"] != "rgb(255, 0, 0)", outcome
    assert outcome["evaluated"] == "EvalError", outcome
    assert {"script-src-elem", "script-src-attr", "style-src-elem", "style-src-attr"} <= set(
        outcome["violations"]
    ), outcome
    # in older Chromium "Refused to execute inline script …", in newer "Executing inline script violates …"
    for refused in ("inline script", "inline event handler", "inline style"):
        pattern = re.compile(f"Refused to (execute|apply) {refused}|(Executing|Applying) {refused} violates")
        assert any(pattern.search(message) for message in console), (refused, console)
    # the page's own scripts still ran under it
    assert driver.execute_script(
        "return document.querySelectorAll('.vis[data-rendered=\"true\"]').length;"
    ) == len(weekly.CHART_NAMES)
