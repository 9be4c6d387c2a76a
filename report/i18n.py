"""Finnish, Swedish and English strings, number and date formats, and Vega-Lite locales for the charts."""

from __future__ import annotations

import math
import tomllib
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

LANGS: Final[tuple[str, ...]] = ("fi", "sv", "en")
DEFAULT_LANG: Final = "fi"
TRANSLATIONS_PATH: Final = Path(__file__).with_name("translations.toml")

NBSP: Final = "\u00a0"  # no-break space: thousands separator and the space before % in fi/sv
MINUS: Final = "\u2212"  # the minus sign d3-format (and so every chart axis) uses
NOT_AVAILABLE: Final = "\u2013"  # en dash for a missing value

# decimal mark, thousands separator, suffix for percentages
_NUMBER_STYLE: Final[dict[str, tuple[str, str, str]]] = {
    "fi": (",", NBSP, NBSP + "%"),
    "sv": (",", NBSP, NBSP + "%"),
    "en": (".", ",", "%"),
}


class TranslationError(ValueError):
    """translations.toml is malformed (not a missing key: that is a KeyError from t())."""


def check_lang(lang: str) -> str:
    """Return lang if it is supported, else raise ValueError naming the supported languages."""
    if lang not in LANGS:
        raise ValueError(f"unsupported language {lang!r}; expected one of {', '.join(LANGS)}")
    return lang


def _flatten(table: dict[str, Any], prefix: str, out: dict[str, dict[str, str]]) -> None:
    """A table whose values are all strings is one entry (language -> text); other tables are sections."""
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        if not isinstance(value, dict):
            raise TranslationError(f"{key}: expected a table, got {type(value).__name__}")
        if value and all(isinstance(v, str) for v in value.values()):
            extra = set(value) - set(LANGS)
            if extra:
                raise TranslationError(f"{key}: unexpected language(s) {sorted(extra)}")
            out[key] = dict(value)
        elif any(isinstance(v, str) for v in value.values()):
            raise TranslationError(f"{key}: mixes strings and sub-tables")
        else:
            _flatten(value, key, out)


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every translation key ("section.name") with its strings by language, read from translations.toml."""
    with TRANSLATIONS_PATH.open("rb") as fh:
        raw = tomllib.load(fh)
    out: dict[str, dict[str, str]] = {}
    _flatten(raw, "", out)
    return out


def missing_translations() -> list[tuple[str, str]]:
    """(key, language) pairs that have no string; empty when the catalogue is complete."""
    return [(key, lang) for key, entry in sorted(catalogue().items()) for lang in LANGS if lang not in entry]


def has(key: str) -> bool:
    """Whether the catalogue has this key (in any language; t() still raises for a missing language)."""
    return key in catalogue()


def t(key: str, lang: str, **fmt: object) -> str:
    """The string for key in lang, with {placeholders} filled from fmt; KeyError if either is missing."""
    entry = catalogue().get(key)
    if entry is None:
        raise KeyError(f"no translation key {key!r}")
    text = entry.get(lang)
    if text is None:
        raise KeyError(f"translation key {key!r} has no {lang!r} string")
    return text.format(**fmt)


def label(prefix: str, value: str, lang: str) -> str:
    """Translated label for a data key (e.g. sector.transport); a value not in the catalogue is data as-is."""
    key = f"{prefix}.{value}"
    return t(key, lang) if has(key) else value


def format_number(x: float | None, lang: str, decimals: int = 0, *, signed: bool = False) -> str:
    """x with the language's decimal mark and thousands separator ("1 060,5" fi/sv, "1,060.5" en)."""
    decimal_mark, thousands, _ = _NUMBER_STYLE[check_lang(lang)]
    if x is None or math.isnan(x):
        return NOT_AVAILABLE
    if math.isinf(x):
        return ("" if x > 0 else MINUS) + "\u221e"
    text = f"{abs(x):,.{decimals}f}"
    is_zero = float(text.replace(",", "")) == 0.0
    text = text.replace(",", "\0").replace(".", decimal_mark).replace("\0", thousands)
    if is_zero:
        return text
    if x < 0:
        return MINUS + text
    return ("+" + text) if signed else text


def format_percent(x: float | None, lang: str, decimals: int = 0, *, signed: bool = False) -> str:
    """A value already in percent (30.0) as "30 %" (fi/sv, no-break space) or "30%" (en)."""
    if x is None or math.isnan(x):
        return NOT_AVAILABLE
    return format_number(x, lang, decimals, signed=signed) + _NUMBER_STYLE[check_lang(lang)][2]


def format_date(d: date, lang: str, style: str = "short") -> str:
    """A date in the language's convention: short "27.11.2026" / "2026-11-27" / "27 Nov 2026", or long."""
    check_lang(lang)
    if isinstance(d, datetime):
        d = d.date()
    if style not in ("short", "long"):
        raise ValueError(f"format_date: style must be 'short' or 'long', got {style!r}")
    return t(
        f"format.date_{style}",
        lang,
        day=d.day,
        month=d.month,
        year=d.year,
        month_abbr=t(f"month_abbr.{d.month}", lang),
        month_of=t(f"month_of.{d.month}", lang),
    )


def format_datetime(dt: datetime, lang: str) -> str:
    """A date with hours and minutes ("27.11.2026 klo 6.30", "2026-11-27 kl. 06.30", "27 Nov 2026, 06:30")."""
    return t("format.datetime", lang, date=format_date(dt, lang), hour=dt.hour, minute=dt.minute)


def format_locale(lang: str) -> dict[str, Any]:
    """The d3-format number locale for lang (Vega-Lite config.locale.number; vl-convert format_locale)."""
    decimal_mark, thousands, percent = _NUMBER_STYLE[check_lang(lang)]
    return {
        "decimal": decimal_mark,
        "thousands": thousands,
        "grouping": [3],
        "currency": ["", NBSP + "€"] if lang != "en" else ["€", ""],
        "minus": MINUS,
        "percent": percent,
        "nan": NOT_AVAILABLE,
    }


def time_format_locale(lang: str) -> dict[str, Any]:
    """The d3-time-format locale for lang (Vega-Lite config.locale.time; vl-convert time_format_locale)."""
    check_lang(lang)
    return {
        "dateTime": t("d3.date_time", lang),
        "date": t("d3.date", lang),
        "time": t("d3.time", lang),
        "periods": [t("d3.am", lang), t("d3.pm", lang)],
        # d3 starts the week on Sunday
        "days": [t(f"weekday.{i}", lang) for i in range(7)],
        "shortDays": [t(f"weekday_abbr.{i}", lang) for i in range(7)],
        "months": [t(f"month.{i}", lang) for i in range(1, 13)],
        "shortMonths": [t(f"month_abbr.{i}", lang) for i in range(1, 13)],
    }


def vega_locale(lang: str) -> dict[str, Any]:
    """The Vega-Lite `config.locale` block, so that axes, legends and tooltips format numbers per language."""
    return {"number": format_locale(lang), "time": time_format_locale(lang)}
