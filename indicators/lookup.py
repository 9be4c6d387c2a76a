"""Codes given by a person: area names to codes, and the nearest valid codes when one is unknown."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from common.errors import KestavaError


class UnknownCodeError(KestavaError, ValueError):
    """A code (area, indicator, dataset) that is not known; the message names the nearest valid ones."""


def nearest(given: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """The choices closest to given, case-insensitively: those containing it, then difflib's nearest."""
    by_lower: dict[str, str] = {}
    for choice in choices:
        by_lower.setdefault(choice.lower(), choice)
    wanted = given.lower()
    containing = [c for c in by_lower if wanted in c and len(wanted) >= 3]  # fingrid → fingrid_…
    found = difflib.get_close_matches(wanted, list(by_lower), n=n, cutoff=0.5)
    return [by_lower[f] for f in dict.fromkeys([*sorted(containing, key=len), *found])][:n]


def unknown_code(what: str, given: str, choices: Iterable[str], otherwise: str = "") -> UnknownCodeError:
    """The error for an unknown code, naming the nearest valid ones (or, when none is near, `otherwise`:
    where to find them)."""
    close = nearest(given, choices)
    hint = f"; nearest: {', '.join(close)}" if close else (f"; {otherwise}" if otherwise else "")
    return UnknownCodeError(f"unknown {what} {given!r}{hint}")


def area_code(given: str, stored: Iterable[str]) -> str:
    """The area code for a code (49 or 049), or a name in any language (Espoo, Esbo → 049), checked against
    stored codes.

    UnknownCodeError names the nearest codes and names when nothing matches, or the areas that have
    values when nothing is near.
    """
    from indicators.catalogue import LANGUAGES
    from indicators.query import area_names

    codes = set(stored)
    if given in codes:
        return given
    padded = given.strip().zfill(3)  # a municipality number without its zeros: 49 → 049
    if given.strip().isdigit() and padded in codes:
        return padded
    names: dict[str, str] = {}  # name as written → code
    for lang in LANGUAGES:
        for area, name in area_names(lang).items():
            names.setdefault(name, area)
    code = {name.lower(): area for name, area in names.items()}.get(given.strip().lower())
    if code is not None and code in codes:
        return code
    finnish = area_names("fi")
    close = nearest(given, [*sorted(codes), *sorted(n for n, c in names.items() if c in codes)])
    shown = [f"{c} ({finnish.get(c, c)})" if c in codes else f"{c} ({names[c]})" for c in close]
    listed = [f"{c} ({finnish.get(c, c)})" for c in sorted(codes)[:10]]
    with_values = ", ".join(listed) or "none"
    hint = f"; nearest: {', '.join(shown)}" if shown else f"; areas with values: {with_values}"
    what = f"area {given!r}" + (f" ({code}) has no computed values" if code is not None else " is not known")
    raise UnknownCodeError(f"{what}{hint}")
