"""The site's accessibility statement: the publisher's declaration, the feedback contact, the page."""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Final

from common.config import get_settings
from report.i18n import LANGS, format_date, t
from report.site.content import Page

log = logging.getLogger(__name__)

DECLARATION: Final = Path(__file__).with_name("accessibility.toml")
STATEMENT_PAGE: Final = "accessibility.html"
COMPLIANCE: Final[tuple[str, ...]] = ("full", "partial", "none")
CRITERION: Final = re.compile(r"[1-4]\.\d{1,2}\.\d{1,2}")  # a WCAG success criterion, "1.4.11"


@dataclass(frozen=True)
class Shortcoming:
    """Content the assessment found not accessible: the criteria it fails, what, why, the alternative."""

    criteria: tuple[str, ...]
    text: dict[str, str]
    reason: dict[str, str]
    alternative: dict[str, str]


@dataclass(frozen=True)
class Declaration:
    """The publisher's statement (accessibility.toml): status, dates, method, exceptions, authority."""

    compliance: str
    prepared: date
    updated: date
    assessed: date
    method: dict[str, str]
    exceptions: tuple[Shortcoming, ...]
    authority: dict[str, Any]


def _in_every_language(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or any(not isinstance(value.get(lang), str) for lang in LANGS):
        raise ValueError(f"{DECLARATION.name}: {where} needs a text in each of {LANGS}")
    return {lang: value[lang] for lang in LANGS}


def _date(value: Any, where: str) -> date:
    if not isinstance(value, date):
        raise ValueError(f"{DECLARATION.name}: {where} must be a date (YYYY-MM-DD), got {value!r}")
    return value


def parse_declaration(raw: dict[str, Any]) -> Declaration:
    """The declaration checked: a known status, dates, texts in every language, and exceptions that agree
    with the status (none when fully compliant, some when not)."""
    statement = raw.get("statement", {})
    compliance = statement.get("compliance")
    if compliance not in COMPLIANCE:
        raise ValueError(f"{DECLARATION.name}: compliance must be one of {COMPLIANCE}, got {compliance!r}")
    exceptions = []
    for number, item in enumerate(raw.get("exception", []), start=1):
        criteria = tuple(item.get("criteria", ()))
        if not criteria or not all(isinstance(c, str) and CRITERION.fullmatch(c) for c in criteria):
            raise ValueError(f"{DECLARATION.name}: exception {number} needs WCAG criteria such as '1.4.11'")
        exceptions.append(
            Shortcoming(
                criteria,
                _in_every_language({lang: item.get(lang) for lang in LANGS}, f"exception {number}"),
                _in_every_language(item.get("reason"), f"exception {number}'s reason"),
                _in_every_language(item.get("alternative"), f"exception {number}'s alternative"),
            )
        )
    if (compliance == "full") == bool(exceptions):
        raise ValueError(
            f"{DECLARATION.name}: compliance {compliance!r} with {len(exceptions)} known exceptions: "
            "a fully compliant site has none, a partially or not compliant one lists them"
        )
    authority = raw.get("authority", {})
    return Declaration(
        compliance=compliance,
        prepared=_date(statement.get("prepared"), "prepared"),
        updated=_date(statement.get("updated"), "updated"),
        assessed=_date(statement.get("assessed"), "assessed"),
        method=_in_every_language(statement.get("method"), "method"),
        exceptions=tuple(exceptions),
        authority={
            "name": _in_every_language(authority.get("name"), "the authority's name"),
            "website": _in_every_language(authority.get("website"), "the authority's website"),
            "email": str(authority.get("email", "")),
            "phone": str(authority.get("phone", "")),
        },
    )


@cache
def load_declaration(path: Path = DECLARATION) -> Declaration:
    """The declaration in accessibility.toml, checked (parse_declaration)."""
    with path.open("rb") as handle:
        return parse_declaration(tomllib.load(handle))


def feedback_link(contact: str) -> str | None:
    """The href of a feedback contact: mailto: for an e-mail address, the address of a web form; None for
    anything else (shown as it is)."""
    if contact.startswith(("https://", "http://")):
        return contact
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", contact):
        return f"mailto:{contact}"
    return None


def statement_page(lang: str, declaration: Declaration | None = None, *, warn: bool = True) -> Page:
    """The accessibility statement in lang, from the declaration and the configured feedback contact
    (KESTAVA_ACCESSIBILITY_FEEDBACK; unset: the page says the publisher must set it, and, with warn, the
    log says so: a build warns once, not once per language)."""
    found = declaration or load_declaration()
    contact = (get_settings().accessibility_feedback or "").strip()
    if not contact and warn:
        log.warning(
            "site: the accessibility statement (%s) has no feedback contact; set "
            "KESTAVA_ACCESSIBILITY_FEEDBACK to the city's feedback e-mail address or form",
            STATEMENT_PAGE,
        )
    authority = found.authority
    context = {
        "compliance": t(f"accessibility.compliance_{found.compliance}", lang),
        "method": found.method[lang],
        "prepared": format_date(found.prepared, lang),
        "updated": format_date(found.updated, lang),
        "assessed": format_date(found.assessed, lang),
        "exceptions": [
            {
                "criteria": ", ".join(e.criteria),
                "text": e.text[lang],
                "reason": e.reason[lang],
                "alternative": e.alternative[lang],
            }
            for e in found.exceptions
        ],
        "feedback": contact,
        "feedback_href": feedback_link(contact) if contact else None,
        "authority": {
            "name": authority["name"][lang],
            "website": authority["website"][lang],
            "email": authority["email"],
            "phone": authority["phone"],
            "phone_href": "tel:" + re.sub(r"[^\d+]", "", authority["phone"]),
        },
    }
    return Page(f"{lang}/{STATEMENT_PAGE}", "accessibility.html.j2", lang, context)
