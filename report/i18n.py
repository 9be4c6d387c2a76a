"""Finnish, Swedish and English strings; CLDR number and date formats (Babel) and Vega-Lite locales."""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel import Locale
from babel.dates import format_date as _cldr_date
from babel.dates import format_interval
from babel.dates import format_time as _cldr_time
from babel.numbers import format_decimal, get_currency_symbol

from ingest.catalogue import load_catalogue

log = logging.getLogger(__name__)

LANGS: Final[tuple[str, ...]] = ("fi", "sv", "en")
DEFAULT_LANG: Final = "fi"
TRANSLATIONS_PATH: Final = Path(__file__).with_name("translations.toml")
# The CLDR locale of each language. Swedish is Finland-Swedish (sv_FI), as written by the City of Espoo.
# English is en_IE: the English of an EU member state with the euro, day-month-year dates and the 24-hour
# clock, which suits a European audience better than en_GB (pound sterling) or en_US (month first).
LOCALES: Final[dict[str, str]] = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_IE"}

NBSP: Final = "\u00a0"  # no-break space: CLDR's group separator and space before % in fi_FI and sv_FI
MINUS: Final = "\u2212"  # CLDR's minus sign in fi_FI and sv_FI (en_IE uses the hyphen-minus)
NOT_AVAILABLE: Final = "\u2013"  # en dash for a missing value (the project's convention, not a CLDR symbol)
CURRENCY: Final = "EUR"


class TranslationError(ValueError):
    """translations.toml is malformed (not a missing key: that is a KeyError from t())."""


def check_lang(lang: str) -> str:
    """Return lang if it is supported, else raise ValueError naming the supported languages."""
    if lang not in LANGS:
        raise ValueError(f"lang: expected one of {', '.join(LANGS)}, got {lang!r}")
    return lang


@cache
def locale(lang: str) -> Locale:
    """The Babel (CLDR) locale of a supported language."""
    return Locale.parse(LOCALES[check_lang(lang)])


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


SYKE_LEVELS: Final[tuple[str, ...]] = ("taso_3", "taso_4", "taso_5")


@cache
def _warn_unknown_syke_code(level: str, code: str) -> None:
    """Log once per code that has no label in translations.toml (it is shown as written)."""
    log.warning("Syke %s code %r has no label in report/translations.toml: shown as written", level, code)


def syke_label(level: str, code: str, lang: str) -> str:
    """The name of a Syke ALas short code (level taso_3, taso_4 or taso_5) in lang, from the one table in
    translations.toml ([syke_taso3] …); an unknown code is shown as written, with a warning (no error)."""
    if level not in SYKE_LEVELS:
        raise ValueError(f"Syke code level: expected one of {', '.join(SYKE_LEVELS)}, got {level!r}")
    check_lang(lang)
    if not code:
        return ""
    key = f"syke_{level.replace('_', '')}.{code}"
    if has(key):
        return t(key, lang)
    _warn_unknown_syke_code(level, code)
    return code


SOURCE_FIELDS: Final[tuple[str, ...]] = ("attribution", "publisher", "licence")


@cache
def _recorded_source_texts() -> dict[str, str]:
    """Each source's id and English attribution, publisher and licence as ingest/catalogue.toml records
    them (and the database stores them) -> the translation key of that text."""
    found: dict[str, str] = {}
    for source_id, source in load_catalogue().sources.items():
        found.setdefault(source_id, f"source_attribution.{source_id}")
        for name in SOURCE_FIELDS:
            found.setdefault(str(getattr(source, name)).strip(), f"source_{name}.{source_id}")
    return found


def source_text(text: str, lang: str) -> str:
    """A source's attribution, publisher or licence (as recorded, or the source id) in lang.

    Several licences joined by " / " are translated one by one; text that no source of the catalogue
    records is returned as given (it is data, e.g. a source added after this release).
    """
    check_lang(lang)
    key = _recorded_source_texts().get(text.strip())
    if key is not None and has(key):
        return t(key, lang)
    if " / " in text:
        return " / ".join(source_text(part, lang) for part in text.split(" / "))
    return text


_SPACED_PERCENT: Final = re.compile(r"(\d)[ \u00a0]%")


def _text_key(text: str) -> str:
    """A text as [catalogue_text] is looked up by: stripped, "80 %" and "80%" alike (the catalogue may
    write English percentages either way; the translations write them as CLDR's en does, "80%")."""
    return _SPACED_PERCENT.sub(r"\1%", text.strip())


@cache
def _catalogue_texts() -> dict[str, str]:
    """The English texts of [catalogue_text] (as _text_key gives them) -> their translation keys."""
    return {
        _text_key(entry["en"]): key
        for key, entry in catalogue().items()
        if key.startswith("catalogue_text.") and "en" in entry
    }


def catalogue_text(text: str, lang: str) -> str:
    """A text the indicator catalogue records in English (a target's source document, a boundary) in lang:
    the [catalogue_text] translation whose English is that text; a text it does not list (a name such as
    "HSY" or "Traficom", or one added after this release) as given; its numbers' signs as locale_signs
    writes them."""
    check_lang(lang)
    key = _catalogue_texts().get(_text_key(text))
    return locale_signs(t(key, lang) if key is not None else text, lang)


# the sign of a negative number in a text written by hand (U+2212 or the hyphen-minus right before a digit,
# after neither a letter, a digit nor a closing bracket: not "EU-27", "CO2-e" nor a date's "2026-09-30")
_HAND_SIGN: Final = re.compile(r"(?<![\w)\]])[\u2212-](?=\d)")


def locale_signs(text: str, lang: str) -> str:
    """A text written by hand (the indicator catalogue's descriptions and targets' documents) with each
    negative number's sign as format_number writes it in lang (U+2212 in fi/sv, CLDR en's hyphen-minus in
    en), so that its "−80%" and a computed "-33%" on one English page read alike."""
    return _HAND_SIGN.sub(_symbol(lang, "minusSign"), text)


# ---------------------------------------------------------------------------------------------------------
# numbers (CLDR symbols and patterns)


def _symbol(lang: str, name: str) -> str:
    return str(locale(lang).number_symbols["latn"][name])


def _percent_affixes(lang: str) -> tuple[str, str]:
    """The prefix and suffix of the locale's percent pattern, "%" replaced by its percent sign."""
    pattern = locale(lang).percent_formats[None]
    sign = _symbol(lang, "percentSign")
    return pattern.prefix[0].replace("%", sign), pattern.suffix[0].replace("%", sign)


def series_precision(values: Iterable[float | None]) -> int:
    """The decimals a series (or a table column of one quantity) is published at: the most its values show."""
    # imported here: indicators.trajectory imports polars, which `kestava status` (and every other user of
    # the translations alone) must not pay for at start-up
    from indicators.trajectory import published_decimals

    return published_decimals(v for v in values if v is not None and math.isfinite(v))


def shown_decimals(value: float, precision: int | None = None) -> int:
    """The decimals the report prints a value with, in its headline, its tables and its charts' titles and
    labels alike: by magnitude (none from 100, one from 1, two below), but never more than its series is
    published at (precision: series_precision of the series' values, so that 30.0 next to 31.1 prints
    "30.0" and not "30"); without a series, the value's own (indicators.trajectory.value_decimals: a lone
    12.0 prints "12", 0.5 prints "0.5")."""
    if precision is None:
        precision = series_precision([value])
    size = abs(value)
    by_size = 0 if size >= 100 or size == 0 else 1 if size >= 1 else 2
    return min(by_size, precision)


def decimals_showing(value: float, decimals: int) -> int:
    """decimals, the places a page chose for a whole column or series, unless they would print a value that
    is not zero as zero (an early EV share of 0.04 % as "0.0 %"): then the value's own (shown_decimals)."""
    if value != 0 and round(abs(value), decimals) == 0:
        return shown_decimals(value)
    return decimals


def format_number(x: float | None, lang: str, decimals: int = 0, *, signed: bool = False) -> str:
    """x in the locale's CLDR format ("1 060,5" fi/sv with a no-break space, "1,060.5" en).

    A negative number takes the locale's minus sign (U+2212 in fi/sv), a value that rounds to zero has
    no sign, and signed adds the locale's plus sign to positive numbers.
    """
    check_lang(lang)
    if x is None or math.isnan(x):
        return NOT_AVAILABLE
    if math.isinf(x):
        return ("" if x > 0 else _symbol(lang, "minusSign")) + _symbol(lang, "infinity")
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    text = format_decimal(abs(x), format=pattern, locale=locale(lang), decimal_quantization=True)
    if not any(c in "123456789" for c in text):  # rounds to zero: no "−0,0"
        return text
    if x < 0:
        return _symbol(lang, "minusSign") + text
    return (_symbol(lang, "plusSign") + text) if signed else text


def format_percent(x: float | None, lang: str, decimals: int = 0, *, signed: bool = False) -> str:
    """A value already in percent (30.0) with the locale's percent pattern: "30 %" (fi/sv), "30%" (en)."""
    if x is None or math.isnan(x):
        return NOT_AVAILABLE
    prefix, suffix = _percent_affixes(lang)
    return prefix + format_number(x, lang, decimals, signed=signed) + suffix


def fraction_decimals(value: float) -> int:
    """The decimals of a fraction shown as a percentage: one below 10 %, none from 10 %, decided on the
    percentage as rounded to one decimal (71.2/712 is 0.09999…: "10 %", not "10.0 %")."""
    return 1 if round(abs(value) * 100, 1) < 10 else 0


def format_fraction(value: float | None, lang: str) -> str:
    """A fraction (0.589, a share or a pace ratio) as a percentage, as every table, tooltip and sentence
    prints it: "59 %", and "7.9 %" below 10 % (fraction_decimals)."""
    if value is None or math.isnan(value):
        return NOT_AVAILABLE
    return format_percent(value * 100, lang, fraction_decimals(value))


# A change in per cent (on a base year, since a series' first period, between two years) is printed in whole
# per cent wherever a reader sees it, in the report's headline and titles and on the site's pages alike: as
# HSY publishes it ("−33 % on 1990" for 2024), the inventory's own precision; "−32.8 %" on one page and
# "−33 %" in the headline read as two figures. A page's ranking of such a change keeps them too: two areas
# that print alike are shown tied (report.site.content.ranking_decimals).
CHANGE_DECIMALS: Final = 0


def format_change(pct: float | None, lang: str, *, signed: bool = True) -> str:
    """A change in per cent as every headline, title and table prints it: CHANGE_DECIMALS places, signed
    ("−33 %", "-33%"), or unsigned where the sentence says the direction ("fell 33%")."""
    return format_percent(pct, lang, CHANGE_DECIMALS, signed=signed)


def format_quantity(x: float | None, unit: str, lang: str, decimals: int = 0, *, signed: bool = False) -> str:
    """x with its unit as a reader sees it: a percentage in the locale's percent pattern ("48.2%" en,
    "48,2 %" fi/sv, as format_percent), any other unit after a no-break space ("712 kt CO₂e"). unit: the
    catalogue's unit (translated through [unit_name]) or a unit already written in lang."""
    if x is None or math.isnan(x):
        return NOT_AVAILABLE
    if unit.strip() == "%":
        return format_percent(x, lang, decimals, signed=signed)
    return f"{format_number(x, lang, decimals, signed=signed)}{NBSP}{label('unit_name', unit.strip(), lang)}"


# ---------------------------------------------------------------------------------------------------------
# dates and times (CLDR patterns; Finland-Swedish dates as Finland writes them)

_DATE_STYLES: Final[dict[str, str]] = {"short": "medium", "long": "long"}
# Finland-Swedish writes a date in numbers as Finnish does, "7.12.2026" (Institutet för de inhemska
# språken), where CLDR's sv_FI keeps Sweden's "7 dec. 2026": the languages whose numeric dates are those
# of Finnish CLDR, whose patterns for them ("d.M.y" and its intervals, "27.10.–23.11.2026") hold no word
_NUMERIC_DATES: Final[frozenset[str]] = frozenset({"fi", "sv"})
# the CLDR skeleton of a time of day: "H.mm" fi, "HH.mm" sv_FI (Finland-Swedish, with a point), "HH:mm" en
_TIME_SKELETON: Final = "Hm"


def _date_locale(lang: str) -> Locale:
    """The locale whose numeric date patterns lang writes: Finnish CLDR's for Finnish and Finland-Swedish."""
    return locale("fi") if lang in _NUMERIC_DATES else locale(lang)


def format_date(d: date, lang: str, style: str = "short") -> str:
    """A date as the language writes it: short ("7.12.2026" fi and sv, as Finland writes dates; CLDR medium
    "7 Dec 2026" en) or long ("7. joulukuuta 2026", "7 december 2026", "7 December 2026")."""
    check_lang(lang)
    if style not in _DATE_STYLES:
        raise ValueError(f"format_date: style must be 'short' or 'long', got {style!r}")
    if isinstance(d, datetime):
        d = d.date()
    if style == "short":
        return _cldr_date(d, _DATE_STYLES[style], locale=_date_locale(lang))
    return _cldr_date(d, _DATE_STYLES[style], locale=locale(lang))


def format_time(dt: datetime, lang: str) -> str:
    """A wall-clock time of day in the locale's CLDR hours-and-minutes: "21.36" fi and sv (Finland-Swedish
    writes a point), "21:36" en; "6.05", "06.05", "06:05"."""
    check_lang(lang)
    pattern = locale(lang).datetime_skeletons[_TIME_SKELETON]
    return _cldr_time(dt.replace(tzinfo=None).time(), pattern, locale=locale(lang))


def format_datetime(dt: datetime, lang: str) -> str:
    """A date with hours and minutes as each language joins them: "7.12.2026 klo 21.36" (fi), "7.12.2026
    kl. 21.36" (sv, Finland-Swedish), "7 Dec 2026, 21:36" (en); the wall-clock time as given (no time-zone
    conversion)."""
    return t("datetime.at", lang, date=format_date(dt, lang), time=format_time(dt, lang))


_ISO_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_WEEK: Final = re.compile(r"(\d{4})-W(\d{2})")
_HALF_YEAR: Final = re.compile(r"(\d{4})-H([12])")


def format_period(period: str, lang: str) -> str:
    """A stored period as a reader sees it: a day ("2026-09-30") as format_date writes it ("30.9.2026"
    fi and sv, "30 Sept 2026"); an ISO week ("2026-W45") as the report's title names it ("viikko
    45/2026", "vecka 45/2026", "week 45/2026"); a half-year ("2026-H2") as its months ("heinä–joulukuu
    2026", format_month_range); a year ("2024") or anything else as stored."""
    check_lang(lang)
    text = period.strip()
    if _ISO_DAY.fullmatch(text):
        try:
            return format_date(date.fromisoformat(text), lang)
        except ValueError:  # not a calendar day (2026-02-30): shown as stored
            return period
    if week := _ISO_WEEK.fullmatch(text):
        year, number = int(week.group(1)), int(week.group(2))
        if 1 <= number <= date(year, 12, 28).isocalendar().week:  # 2026-W54 is no week: shown as stored
            return t("report_links.week_name", lang, week=number, year=year)
    if half := _HALF_YEAR.fullmatch(text):
        year, first = int(half.group(1)), half.group(2) == "1"
        last = date(year, 6, 30) if first else date(year, 12, 31)
        return format_month_range(date(year, 1 if first else 7, 1), last, lang)
    return period


# the CLDR interval skeleton of a span of days, as format_date's short style writes a day: numeric in
# Finnish and Finland-Swedish ("27.10.–23.11.2026"), the abbreviated month in English ("27 Oct – 23 Nov")
_DAY_RANGE_SKELETONS: Final[dict[str, str]] = {"fi": "yMd", "sv": "yMd", "en": "yMMMd"}
_YEAR: Final = re.compile(r"\d{4}")


def format_period_range(first: str, last: str, lang: str) -> str:
    """The span of two stored periods as a reader sees it: one period alone as format_period writes it;
    weeks of one year as one range ("viikot 44–47/2026", "veckorna 44–47/2026", "weeks 44–47/2026"); days
    in CLDR's interval format ("27.10.–23.11.2026" fi and sv, "27 Oct – 23 Nov 2026");
    years "2015–2024"; anything else as "A–B" of the two periods' names."""
    check_lang(lang)
    a, b = first.strip(), last.strip()
    if a == b:
        return format_period(a, lang)
    week_a, week_b = _ISO_WEEK.fullmatch(a), _ISO_WEEK.fullmatch(b)
    if week_a and week_b and week_a.group(1) == week_b.group(1):
        year = int(week_a.group(1))
        numbers = int(week_a.group(2)), int(week_b.group(2))
        if all(1 <= n <= date(year, 12, 28).isocalendar().week for n in numbers):
            return t("site.week_range", lang, first=numbers[0], last=numbers[1], year=year)
    if _ISO_DAY.fullmatch(a) and _ISO_DAY.fullmatch(b):
        try:
            days = date.fromisoformat(a), date.fromisoformat(b)
        except ValueError:  # not a calendar day: the two as format_period shows them
            days = None
        if days is not None:
            return format_day_range(*days, lang)
    if _YEAR.fullmatch(a) and _YEAR.fullmatch(b):
        return f"{a}–{b}"
    return f"{format_period(a, lang)}–{format_period(b, lang)}"


def format_day_range(first: date, last: date, lang: str) -> str:
    """The days from first to last in CLDR's interval format, the shared month and year written once:
    "7.–13.12.2026", "30.11.–6.12.2026", "28.12.2026–3.1.2027" (fi and sv, as Finland writes a span of
    days); "7–13 Dec 2026" (en); one day alone as format_date writes it."""
    check_lang(lang)
    return str(format_interval(first, last, _DAY_RANGE_SKELETONS[lang], locale=_date_locale(lang)))


def format_month_range(first: date, last: date, lang: str) -> str:
    """The months from first to last in CLDR's interval format ("tammi–kesäkuu 2026", "januari–juni 2026",
    "January – June 2026")."""
    check_lang(lang)
    return str(format_interval(first, last, "yMMMM", locale=locale(lang)))


# ---------------------------------------------------------------------------------------------------------
# Vega / d3 locales, from the same CLDR data

# LDML date-pattern fields -> d3-time-format directives (the fields CLDR uses for fi, sv and en dates)
_LDML_TO_D3: Final[dict[str, str]] = {
    "y": "%Y",
    "yyyy": "%Y",
    "yy": "%y",
    "M": "%-m",
    "MM": "%m",
    "MMM": "%b",
    "MMMM": "%B",
    "L": "%-m",
    "LL": "%m",
    "LLL": "%b",
    "LLLL": "%B",
    "d": "%-d",
    "dd": "%d",
    "E": "%a",
    "EE": "%a",
    "EEE": "%a",
    "EEEE": "%A",
    "c": "%a",
    "ccc": "%a",
    "cccc": "%A",
    "H": "%-H",
    "HH": "%H",
    "h": "%-I",
    "hh": "%I",
    "m": "%-M",
    "mm": "%M",
    "s": "%-S",
    "ss": "%S",
    "a": "%p",
}
_LDML_TOKEN: Final = re.compile(r"'((?:[^']|'')*)'|([A-Za-z])\2*|(.)", re.DOTALL)


def ldml_to_d3(pattern: str) -> str:
    """A CLDR (LDML) date/time pattern as a d3-time-format specifier ("d.M.y" -> "%-d.%-m.%Y")."""
    out: list[str] = []
    for match in _LDML_TOKEN.finditer(pattern):
        quoted, letter, other = match.group(1), match.group(2), match.group(3)
        if quoted is not None:
            out.append("'" if quoted == "" else quoted.replace("''", "'").replace("%", "%%"))
        elif letter is not None:
            token = match.group(0)
            if token not in _LDML_TO_D3:
                raise ValueError(f"ldml_to_d3: no d3 directive for the CLDR field {token!r} in {pattern!r}")
            out.append(_LDML_TO_D3[token])
        else:
            out.append("%%" if other == "%" else other)
    return "".join(out)


def format_locale(lang: str) -> dict[str, Any]:
    """The d3-format number locale for lang from CLDR (Vega-Lite config.locale.number)."""
    loc = locale(lang)
    pattern = loc.decimal_formats[None]
    primary, secondary = pattern.grouping
    currency_pattern = loc.currency_formats["standard"]
    symbol = get_currency_symbol(CURRENCY, locale=loc)
    _, percent_suffix = _percent_affixes(lang)
    return {
        "decimal": _symbol(lang, "decimal"),
        "thousands": _symbol(lang, "group"),
        "grouping": [primary] if primary == secondary else [primary, secondary],
        "currency": [
            currency_pattern.prefix[0].replace("¤", symbol),
            currency_pattern.suffix[0].replace("¤", symbol),
        ],
        "minus": _symbol(lang, "minusSign"),
        "percent": percent_suffix,
        "nan": NOT_AVAILABLE,
    }


def time_format_locale(lang: str) -> dict[str, Any]:
    """The d3-time-format locale for lang from CLDR (Vega-Lite config.locale.time).

    Months and days are CLDR's stand-alone forms (what an axis label shows: "marraskuu", not the
    genitive "marraskuuta"); d3 starts the week on Sunday, Babel on Monday.
    """
    loc = locale(lang)
    # the date and time format_date and format_datetime write ("7.12.2026 kl. 21.36.05" in Finland-Swedish),
    # with seconds: d3's %c and %X carry them
    date_pattern = _date_locale(lang).date_formats["medium"].pattern
    time_pattern = loc.datetime_skeletons[_TIME_SKELETON + "s"].pattern
    date_d3, time_d3 = ldml_to_d3(date_pattern), ldml_to_d3(time_pattern)
    days = loc.days["stand-alone"]
    months = loc.months["stand-alone"]
    periods = loc.day_periods["format"]["abbreviated"]
    sunday_first = [6, 0, 1, 2, 3, 4, 5]
    return {
        "dateTime": t("datetime.at", lang, date=date_d3, time=time_d3),
        "date": date_d3,
        "time": time_d3,
        "periods": [periods["am"], periods["pm"]],
        "days": [days["wide"][i] for i in sunday_first],
        "shortDays": [days["abbreviated"][i] for i in sunday_first],
        "months": [months["wide"][i] for i in range(1, 13)],
        "shortMonths": [months["abbreviated"][i] for i in range(1, 13)],
    }


def vega_locale(lang: str) -> dict[str, Any]:
    """The Vega-Lite `config.locale` block, so that axes, legends and tooltips format numbers per language."""
    return {"number": format_locale(lang), "time": time_format_locale(lang)}
