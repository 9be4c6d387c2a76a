"""The site's accessibility statement: its declaration, its dates, its feedback contact and authority."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterator
from datetime import date
from functools import partial
from typing import Any

import pytest

from common.config import get_settings
from report.site import build as site_build
from report.site import statement
from report.site.content import Page

DECLARED = """
[statement]
prepared = 2025-01-15
updated = 2025-06-02
assessed = 2025-03-04
compliance = "partial"
method = { fi = "Itsearviointi.", sv = "Egen bedömning.", en = "Self-assessment." }

[[exception]]
criteria = ["1.4.11"]
fi = "Kaavion viivat ovat vaaleita."
sv = "Diagrammets linjer är ljusa."
en = "The chart's lines are pale."
reason = { fi = "Syy.", sv = "Orsak.", en = "A reason." }
alternative = { fi = "Taulukko.", sv = "Tabell.", en = "A table." }

[authority]
name = { fi = "Virasto", sv = "Verket", en = "The agency" }
website = { fi = "https://example.fi/", sv = "https://example.fi/sv/", en = "https://example.fi/en/" }
email = "office@example.fi"
phone = "+358 1 234 5678"
"""


@pytest.fixture
def feedback(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set (or unset) KESTAVA_ACCESSIBILITY_FEEDBACK for the statement built next."""

    def setting(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("KESTAVA_ACCESSIBILITY_FEEDBACK", raising=False)
        else:
            monkeypatch.setenv("KESTAVA_ACCESSIBILITY_FEEDBACK", value)
        get_settings.cache_clear()

    yield setting
    get_settings.cache_clear()


def _declared(**changes: Any) -> dict[str, Any]:
    raw = tomllib.loads(DECLARED)
    raw["statement"].update(changes.pop("statement", {}))
    raw.update(changes)
    return raw


def _html(page: Page) -> str:
    """The page as the build writes it (report.site.build's environment, links and page frame)."""
    return (
        site_build._environment()
        .get_template(page.template)
        .render(
            lang=page.lang,
            page=page.context,
            links=site_build._page_links(page, ("fi", "sv", "en")),
            ui=site_build._ui(page.lang),
            demo=[],
            t=partial(site_build._translate, lang=page.lang),
        )
    )


def test_the_published_declaration_is_valid_and_names_the_criteria_of_each_exception() -> None:
    found = statement.load_declaration()
    # fully compliant with no exceptions left, or partially with each one listed (the charts' two were fixed)
    assert (found.compliance == "full") == (not found.exceptions)
    assert all(statement.CRITERION.fullmatch(c) for e in found.exceptions for c in e.criteria)
    # the assessment is dated, and the statement was not updated before it was drawn up
    assert found.prepared <= found.updated and found.assessed <= found.updated


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"statement": {"compliance": "full"}}, "a fully compliant site has none"),
        ({"exception": []}, "a partially or not compliant one lists them"),
        ({"statement": {"compliance": "mostly"}}, "compliance must be one of"),
        ({"statement": {"assessed": "last spring"}}, "assessed must be a date"),
    ],
)
def test_a_declaration_that_contradicts_itself_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        statement.parse_declaration(_declared(**changes))


def test_an_exception_needs_a_wcag_criterion_and_a_text_in_every_language() -> None:
    raw = _declared()
    raw["exception"][0]["criteria"] = ["contrast"]
    with pytest.raises(ValueError, match="WCAG criteria"):
        statement.parse_declaration(raw)
    raw = _declared()
    del raw["exception"][0]["sv"]
    with pytest.raises(ValueError, match="exception 1 needs a text in each of"):
        statement.parse_declaration(raw)


def test_the_statement_gives_the_declarations_dates_status_and_exceptions(feedback: Any) -> None:
    """The assessment's date is the declaration's (4 March 2025), not the day the site is built."""
    feedback("saavutettavuus@example.fi")
    declared = statement.parse_declaration(_declared())
    fi = _html(statement.statement_page("fi", declared))
    assert "<title>Saavutettavuusseloste · " in fi
    assert "Sivusto on arvioitu 4.3.2025." in fi
    assert "laadittu 15.1.2025 ja päivitetty viimeksi 2.6.2025" in fi
    assert date.today().strftime("%-d.%-m.%Y") not in fi
    assert "täyttää saavutettavuusvaatimukset osittain" in fi
    assert "Kaavion viivat ovat vaaleita." in fi and "WCAG 2.1 -kriteerit: 1.4.11" in fi
    en = _html(statement.statement_page("en", declared))
    assert "The website was assessed on 4 Mar 2025." in en
    assert "partially compliant" in en and "The chart&#39;s lines are pale." in en


def test_the_feedback_contact_comes_from_the_configuration(feedback: Any) -> None:
    declared = statement.parse_declaration(_declared())
    feedback("saavutettavuus@example.fi")
    sv = _html(statement.statement_page("sv", declared))
    assert '<a href="mailto:saavutettavuus@example.fi">saavutettavuus@example.fi</a>' in sv
    assert "KESTAVA_ACCESSIBILITY_FEEDBACK" not in sv
    feedback("https://example.fi/palaute")
    en = _html(statement.statement_page("en", declared))
    assert '<a href="https://example.fi/palaute">https://example.fi/palaute</a>' in en


def test_without_a_feedback_contact_the_statement_says_so_and_the_build_warns(
    feedback: Any, caplog: pytest.LogCaptureFixture
) -> None:
    feedback(None)
    declared = statement.parse_declaration(_declared())
    with caplog.at_level(logging.WARNING, logger="report.site.statement"):
        fi = _html(statement.statement_page("fi", declared))
    assert "julkaisijan on asetettava se (asetus KESTAVA_ACCESSIBILITY_FEEDBACK)" in fi
    assert "mailto:saavutettavuus" not in fi
    assert any("KESTAVA_ACCESSIBILITY_FEEDBACK" in r.getMessage() for r in caplog.records)


def test_a_build_warns_of_the_missing_feedback_contact_once_not_per_language(
    feedback: Any, caplog: pytest.LogCaptureFixture
) -> None:
    feedback(None)
    declared = statement.parse_declaration(_declared())
    with caplog.at_level(logging.WARNING, logger="report.site.statement"):
        pages = [statement.statement_page(lang, declared, warn=lang == "fi") for lang in ("fi", "sv", "en")]
    assert all("KESTAVA_ACCESSIBILITY_FEEDBACK" in _html(page) for page in pages)  # every page still says so
    assert sum("KESTAVA_ACCESSIBILITY_FEEDBACK" in r.getMessage() for r in caplog.records) == 1


def test_the_supervisory_authority_is_named_with_its_website_email_and_phone(feedback: Any) -> None:
    feedback("palaute@example.fi")
    declared = statement.parse_declaration(_declared())
    sv = _html(statement.statement_page("sv", declared))
    assert "<dd>Verket</dd>" in sv
    assert '<a href="https://example.fi/sv/" rel="external">' in sv
    assert '<a href="mailto:office@example.fi">' in sv
    assert '<a href="tel:+35812345678">+358 1 234 5678</a>' in sv
    # the published statement: Traficom, which supervises accessibility since 1 January 2025
    published = _html(statement.statement_page("fi", statement.load_declaration()))
    assert "Liikenne- ja viestintävirasto Traficom" in published
    assert 'href="https://www.saavutettavuusvaatimukset.fi/"' in published
    # the supervision unit's own address, as Finnish public bodies' statements give it (not the registry's)
    assert '<a href="mailto:saavutettavuus@traficom.fi">' in published
    assert "kirjaamo@" not in published
