"""Tests for report.i18n: complete catalogue, no fallback, CLDR number/date formats and Vega locales."""

from __future__ import annotations

import re
import string
from datetime import date, datetime
from typing import Final

import pytest

from indicators.catalogue import SumDerivation, load_indicator_catalogue
from ingest.catalogue import load_catalogue
from report import charts, i18n
from report.i18n import (
    LANGS,
    MINUS,
    NBSP,
    TranslationError,
    format_date,
    format_datetime,
    format_locale,
    format_number,
    format_percent,
    format_period,
    format_period_range,
    format_quantity,
    t,
    time_format_locale,
    vega_locale,
)


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_catalogue_is_complete_in_every_language() -> None:
    assert i18n.missing_translations() == []
    for key, entry in i18n.catalogue().items():
        assert set(entry) == set(LANGS), key
        for lang in LANGS:
            assert entry[lang].strip(), f"{key}.{lang} is empty"


def test_placeholders_are_the_same_in_every_language() -> None:
    for key, entry in i18n.catalogue().items():
        names = {lang: _placeholders(entry[lang]) for lang in LANGS}
        assert names["fi"] == names["sv"] == names["en"], (key, names)


def test_missing_key_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no translation key"):
        t("no.such.key", "fi")


def test_missing_language_is_a_key_error_not_an_english_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = {"x.only_en": {"en": "Only English"}, "x.full": {"fi": "A", "sv": "B", "en": "C"}}
    monkeypatch.setattr(i18n, "catalogue", lambda: fake)
    assert t("x.only_en", "en") == "Only English"
    for lang in ("fi", "sv"):
        with pytest.raises(KeyError, match=f"no '{lang}' string"):
            t("x.only_en", lang)
    assert i18n.missing_translations() == [("x.only_en", "fi"), ("x.only_en", "sv")]


def test_unsupported_language_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        t("label.year", "de")
    with pytest.raises(ValueError, match="lang: expected one of fi, sv, en, got 'de'"):
        i18n.check_lang("de")


def test_placeholders_are_filled() -> None:
    assert t("freshness.as_of", "fi", date="27.11.2026") == "Tilanne 27.11.2026"
    with pytest.raises(KeyError):
        t("freshness.as_of", "fi")  # a template needs its values; no half-filled strings


def test_malformed_catalogue_is_rejected() -> None:
    out: dict[str, dict[str, str]] = {}
    i18n._flatten({"a": {"b": {"fi": "x", "sv": "y", "en": "z"}}}, "", out)
    assert out == {"a.b": {"fi": "x", "sv": "y", "en": "z"}}
    with pytest.raises(TranslationError, match="unexpected language"):
        i18n._flatten({"a": {"fi": "x", "de": "y"}}, "", {})
    with pytest.raises(TranslationError, match="mixes strings"):
        i18n._flatten({"a": {"fi": "x", "b": {"fi": "y"}}}, "", {})


# Expected strings follow CLDR (Unicode's locale data, through Babel), written out here by hand from the
# CLDR charts: fi_FI and sv_FI group with a no-break space, use a decimal comma and U+2212 MINUS SIGN;
# en_IE groups with a comma, uses a decimal point and the ASCII hyphen-minus.
@pytest.mark.parametrize(
    ("x", "lang", "decimals", "expected"),
    [
        (1060.5, "fi", 1, f"1{NBSP}060,5"),
        (1060.5, "sv", 1, f"1{NBSP}060,5"),
        (1060.5, "en", 1, "1,060.5"),
        (1234567.25, "fi", 2, f"1{NBSP}234{NBSP}567,25"),
        (1234567.25, "en", 0, "1,234,567"),
        (-221.0, "fi", 0, f"{MINUS}221"),
        (-221.0, "sv", 0, f"{MINUS}221"),
        (-221.0, "en", 0, "-221"),  # CLDR en: hyphen-minus (the hand-written rule used U+2212)
        (-0.04, "fi", 1, "0,0"),  # no "−0,0"
        (-0.05, "fi", 1, "0,0"),  # half to even, and still no sign on a zero
        (742, "fi", 0, "742"),
        (None, "fi", 0, "\u2013"),
        (float("inf"), "fi", 0, "\u221e"),
        (float("-inf"), "fi", 0, f"{MINUS}\u221e"),
    ],
)
def test_format_number(x: float | None, lang: str, decimals: int, expected: str) -> None:
    assert format_number(x, lang, decimals) == expected


def test_format_number_signed_and_percent() -> None:
    assert format_number(5, "fi", signed=True) == "+5"
    assert format_number(-5, "en", signed=True) == "-5"
    assert format_number(-5, "sv", signed=True) == f"{MINUS}5"
    assert format_percent(30, "fi") == f"30{NBSP}%"
    assert format_percent(30, "sv") == f"30{NBSP}%"
    assert format_percent(30, "en") == "30%"
    assert format_percent(-3.94, "fi", 1, signed=True) == f"{MINUS}3,9{NBSP}%"
    assert format_percent(float("nan"), "en") == "\u2013"
    with pytest.raises(ValueError, match="lang: expected one of fi, sv, en"):
        format_number(1.0, "de")


def test_locales_are_the_cldr_ones() -> None:
    assert {lang: str(i18n.locale(lang)) for lang in LANGS} == {"fi": "fi_FI", "sv": "sv_FI", "en": "en_IE"}


def test_format_date_and_datetime() -> None:
    d = date(2026, 11, 27)
    assert format_date(d, "fi") == "27.11.2026"
    # Finland-Swedish writes a date in numbers, as Finnish does (CLDR's sv_FI keeps Sweden's "27 nov. 2026")
    assert format_date(d, "sv") == "27.11.2026"
    assert format_date(d, "en") == "27 Nov 2026"
    assert format_date(d, "fi", "long") == "27. marraskuuta 2026"  # the genitive month of a date
    assert format_date(d, "sv", "long") == "27 november 2026"
    assert format_date(d, "en", "long") == "27 November 2026"
    dt = datetime(2026, 3, 2, 6, 5)
    # a time of day after "klo" (fi) and "kl." (sv) with a point (CLDR sv_FI's "HH.mm"), "HH:mm" in en
    assert format_datetime(dt, "fi") == f"2.3.2026 klo{NBSP}6.05"
    assert format_datetime(dt, "sv") == f"2.3.2026 kl.{NBSP}06.05"
    assert format_datetime(dt, "en") == "2 Mar 2026, 06:05"
    assert format_date(dt, "fi") == "2.3.2026"
    with pytest.raises(ValueError, match="style"):
        format_date(d, "fi", "medium")


def test_the_audits_evening_reads_as_each_language_writes_it() -> None:
    """The reader audit's example: Swedish pages said "7 dec. 2026 21:36" where Finland-Swedish writes
    "7.12.2026 kl. 21.36"; Finnish "7.12.2026 klo 21.36"; English stays unambiguous, "7 Dec 2026, 21:36"."""
    evening = datetime(2026, 12, 7, 21, 36)
    shown = {lang: format_datetime(evening, lang).replace(NBSP, " ") for lang in LANGS}
    assert shown == {"fi": "7.12.2026 klo 21.36", "sv": "7.12.2026 kl. 21.36", "en": "7 Dec 2026, 21:36"}
    # a span of days and a stored day read alike in Finnish and Finland-Swedish
    assert format_period_range("2026-11-16", "2026-11-22", "sv") == "16.–22.11.2026"
    assert format_period("2026-12-07", "sv") == "7.12.2026"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("d.M.y", "%-d.%-m.%Y"),
        ("d MMM y", "%-d %b %Y"),
        ("y-MM-dd", "%Y-%m-%d"),
        ("H.mm.ss", "%-H.%M.%S"),
        ("cccc d. MMMM y 'klo' HH:mm", "%A %-d. %B %Y klo %H:%M"),
        ("h:mm a", "%-I:%M %p"),
        ("'o''clock' 100%", "o'clock 100%%"),
    ],
)
def test_ldml_patterns_become_d3_specifiers(pattern: str, expected: str) -> None:
    assert i18n.ldml_to_d3(pattern) == expected


def test_ldml_field_without_d3_directive_is_an_error() -> None:
    with pytest.raises(ValueError, match="'QQQ'"):
        i18n.ldml_to_d3("QQQ y")


@pytest.mark.parametrize("lang", LANGS)
def test_vega_locale_matches_python_formatting(lang: str) -> None:
    number = format_locale(lang)
    decimal, thousands = (".", ",") if lang == "en" else (",", NBSP)
    assert (number["decimal"], number["thousands"], number["grouping"]) == (decimal, thousands, [3])
    assert number["minus"] == ("-" if lang == "en" else MINUS)
    assert number["percent"] == ("%" if lang == "en" else f"{NBSP}%")
    assert number["currency"] == (["\u20ac", ""] if lang == "en" else ["", f"{NBSP}\u20ac"])
    # the d3 locale and the Python formatter agree on the same number
    sample = format_number(-1234567.5, lang, 1)
    assert sample == f"{number['minus']}1{number['thousands']}234{number['thousands']}567{number['decimal']}5"
    assert format_percent(12, lang) == f"12{number['percent']}"
    time = time_format_locale(lang)
    assert len(time["months"]) == len(time["shortMonths"]) == 12
    assert len(time["days"]) == len(time["shortDays"]) == 7
    assert time["months"][10] == {"fi": "marraskuu", "sv": "november", "en": "November"}[lang]  # stand-alone
    assert time["days"][0] == {"fi": "sunnuntai", "sv": "söndag", "en": "Sunday"}[lang]  # d3: Sunday first
    assert time["shortMonths"][2] == {"fi": "maalis", "sv": "mars", "en": "Mar"}[lang]
    assert time["date"] == {"fi": "%-d.%-m.%Y", "sv": "%-d.%-m.%Y", "en": "%-d %b %Y"}[lang]
    # d3's %c writes a moment as format_datetime does, with its seconds
    assert (
        time["dateTime"]
        == {
            "fi": f"%-d.%-m.%Y klo{NBSP}%-H.%M.%S",
            "sv": f"%-d.%-m.%Y kl.{NBSP}%H.%M.%S",
            "en": "%-d %b %Y, %H:%M:%S",
        }[lang]
    )
    assert vega_locale(lang) == {"number": number, "time": time}


def test_every_catalogue_key_a_reader_meets_has_a_translation() -> None:
    """A breakdown, status, method, level or freshness key, a dataset, a source or a unit added to the
    catalogues without its words would reach the reader raw (label() shows unknown keys as data)."""
    wanted: set[str] = set()
    for indicator in load_indicator_catalogue().indicators.values():
        wanted.add(f"unit_name.{indicator.unit}")
        wanted.update(f"method.{charts.METHOD_ALIASES.get(m, m)}" for m in indicator.assess)
        if isinstance(indicator.derive, SumDerivation):
            wanted.update(f"sector.{rule.key}" for rule in indicator.derive.breakdown or [])
    wanted.update(f"status.{s}" for s in charts.STATUS_LEVELS)
    wanted.update(f"level.{level}" for level in charts.LEVELS)
    wanted.update(f"freshness.status_{s}" for s in charts.FRESHNESS_STATUSES)
    ingest = load_catalogue()
    for dataset_id, dataset in ingest.datasets.items():
        wanted.update({f"dataset.{dataset_id}", f"dataset_title.{dataset_id}"})
        wanted.add(f"frequency.{dataset.calendar.frequency}")
    for source_id in ingest.sources:
        wanted.update(f"source_{name}.{source_id}" for name in i18n.SOURCE_FIELDS)
    assert sorted(k for k in wanted if not i18n.has(k)) == []


def test_source_texts_as_recorded_are_translated() -> None:
    for source_id, source in load_catalogue().sources.items():
        for name in i18n.SOURCE_FIELDS:
            recorded = str(getattr(source, name))
            for lang in LANGS:
                assert i18n.source_text(recorded, lang) == t(f"source_{name}.{source_id}", lang)
    assert i18n.source_text("Statistics Finland, StatFin", "sv") == "Statistikcentralen, StatFin"
    eurostat = "Reuse with acknowledgement (Commission Decision 2011/833/EU)"
    assert i18n.source_text(f"CC BY 4.0 / {eurostat}", "fi").startswith("CC BY 4.0 / Uudelleenkäyttö")
    assert i18n.source_text("A source added later", "fi") == "A source added later"  # data, as given


def test_month_range_is_cldr_interval_format() -> None:
    """The half-year's name: CLDR's interval format, the same as the hand-written fi and sv strings were
    ("tammi–kesäkuu 2026": Finnish shares the compound's last part); en_IE has thin spaces round the dash."""
    first, last = date(2026, 1, 1), date(2026, 6, 30)
    assert i18n.format_month_range(first, last, "fi") == "tammi–kesäkuu 2026"
    assert i18n.format_month_range(first, last, "sv") == "januari–juni 2026"
    assert i18n.format_month_range(first, last, "en") == "January\u2009–\u2009June 2026"  # thin spaces
    assert i18n.format_month_range(date(2026, 7, 1), date(2026, 12, 31), "fi") == "heinä–joulukuu 2026"


# ---------------------------------------------------------------------------------------------------------
# one rule per language for percentages and periods


def test_format_quantity_writes_a_percentage_as_the_locale_does_and_other_units_after_a_no_break_space() -> (
    None
):
    assert format_quantity(91.9, "%", "en", 1) == "91.9%"
    assert format_quantity(91.9, "%", "fi", 1) == f"91,9{NBSP}%"
    assert format_quantity(91.9, "%", "sv", 1) == f"91,9{NBSP}%"
    assert format_quantity(-4.0, "%", "fi", 1, signed=True) == f"{MINUS}4,0{NBSP}%"
    assert format_quantity(1060.0, "kt CO2e", "fi") == f"1{NBSP}060{NBSP}kt CO₂e"
    assert format_quantity(2.5, "t CO2e per resident", "sv", 1) == f"2,5{NBSP}t CO₂e/invånare"
    assert format_quantity(2.5, "t CO₂e/asukas", "fi", 1) == f"2,5{NBSP}t CO₂e/asukas"  # already in lang
    assert format_quantity(None, "%", "en") == i18n.NOT_AVAILABLE


def test_format_period_writes_a_day_as_the_reports_dates_and_leaves_years() -> None:
    assert format_period("2026-09-30", "fi") == "30.9.2026"
    assert format_period("2026-09-30", "sv") == format_date(date(2026, 9, 30), "sv")
    assert format_period("2026-09-30", "en") == format_date(date(2026, 9, 30), "en")
    assert "2026-09-30" not in {format_period("2026-09-30", lang) for lang in LANGS}
    assert format_period("2024", "en") == "2024"
    # an ISO week was shown as stored ("2026-W45"); it is now named as the report names weeks (below)
    assert format_period("2026-W45", "fi") == "viikko 45/2026"


def test_format_period_range_names_weeks_of_one_year_once() -> None:
    assert format_period_range("2026-W44", "2026-W47", "fi") == "viikot 44–47/2026"
    assert format_period_range("2026-W44", "2026-W47", "sv") == "veckorna 44–47/2026"
    assert format_period_range("2026-W44", "2026-W47", "en") == "weeks 44–47/2026"
    # weeks across a year end: each named in full
    assert format_period_range("2025-W52", "2026-W02", "fi") == "viikko 52/2025–viikko 2/2026"


def test_format_period_range_writes_days_as_a_cldr_interval() -> None:
    # the same month and year are written once, as CLDR's interval formats do
    assert format_period_range("2026-10-27", "2026-11-23", "fi") == "27.10.–23.11.2026"
    assert format_period_range("2026-10-27", "2026-11-23", "sv") == "27.10.–23.11.2026"
    assert format_period_range("2026-11-02", "2026-11-23", "en") == "2–23 Nov 2026"
    assert format_period_range("2025-12-27", "2026-01-03", "fi") == "27.12.2025–3.1.2026"


def test_format_period_range_of_years_and_of_one_period() -> None:
    assert format_period_range("2015", "2024", "en") == "2015–2024"
    # one period is named alone, never "2030–2030"
    assert format_period_range("2030", "2030", "fi") == "2030"
    assert format_period_range("2026-W44", "2026-W44", "fi") == "viikko 44/2026"
    assert format_period_range("2026-11-02", "2026-11-02", "fi") == "2.11.2026"
    # a span of two kinds: the two as format_period names them
    assert format_period_range("2026-H1", "2026-H2", "fi") == (
        f"{format_period('2026-H1', 'fi')}–{format_period('2026-H2', 'fi')}"
    )


def test_format_period_names_an_iso_week_and_a_half_year_as_the_report_does() -> None:
    """The report's title and links say "viikko 48/2026"; a stored week ("2026-W45", a report folder's key)
    reads the same wherever a reader sees it, the week without its leading zero."""
    assert format_period("2026-W45", "fi") == "viikko 45/2026"
    assert format_period("2026-W45", "sv") == "vecka 45/2026"
    assert format_period("2026-W45", "en") == "week 45/2026"
    assert format_period(" 2026-W01 ", "sv") == "vecka 1/2026"
    assert format_period("2026-W53", "en") == "week 53/2026"  # 2026 begins on a Thursday: 53 weeks
    assert format_period("2025-W53", "en") == "2025-W53"  # 2025 has 52: no such week, shown as stored
    assert format_period("2026-W00", "fi") == "2026-W00"
    # a half-year as the council report's title names it: its months
    assert format_period("2026-H1", "fi") == "tammi–kesäkuu 2026"
    assert format_period("2026-H2", "sv") == "juli–december 2026"
    months = i18n.format_month_range(date(2026, 7, 1), date(2026, 12, 31), "en")
    assert format_period("2026-H2", "en") == months
    assert format_period("2026-H3", "en") == "2026-H3"


@pytest.mark.parametrize("lang", LANGS)
def test_no_translation_writes_a_percent_sign_against_its_locale(lang: str) -> None:
    """English writes "80%" (CLDR en), Finnish and Swedish "80 %" with a no-break space, never a plain
    space (a line may break before the sign) and never without one."""
    wrong = re.compile(r"(\d|\})[ \u00a0]%") if lang == "en" else re.compile(r"(\d|\})( ?)%")
    found = [
        (key, match.group(0))
        for key, entry in i18n.catalogue().items()
        for match in wrong.finditer(entry[lang])
    ]
    assert found == []


_NUMBER_THEN_PERCENT: Final = re.compile(r"\d(\s*)%")


def _percent_spacing_errors(text: str, lang: str) -> list[str]:
    """The "<digit><space>%" of text that break lang's percent rule: nothing between in en ("80%"), one
    no-break space in fi and sv ("80\u00a0%")."""
    wanted = "" if lang == "en" else NBSP
    return [m.group(0) for m in _NUMBER_THEN_PERCENT.finditer(text) if m.group(1) != wanted]


def test_the_percent_rule_check_itself() -> None:
    assert _percent_spacing_errors("−80 % on 1990", "en") == ["0 %"]
    assert _percent_spacing_errors(f"−80{NBSP}% on 1990", "en") == [f"0{NBSP}%"]
    assert _percent_spacing_errors("−80% on 1990, 21%", "en") == []
    assert _percent_spacing_errors("tavoite −80 % ja 21%", "fi") == ["0 %", "1%"]
    assert _percent_spacing_errors(f"mål −80{NBSP}%", "sv") == []


@pytest.mark.parametrize("lang", LANGS)
def test_every_catalogue_text_a_reader_sees_follows_the_percent_rule(lang: str) -> None:
    """The indicator catalogue's names, descriptions, boundaries and targets' source documents, as the site's
    indicator pages and the reports show them in lang (boundaries and sources through catalogue_text), and
    in English the recorded sources as `kestava export` writes them."""
    shown: list[tuple[str, str]] = []
    for indicator in load_indicator_catalogue().indicators.values():
        shown += [(f"{indicator.id}.name", indicator.name.get(lang))]
        shown += [(f"{indicator.id}.description", indicator.description.get(lang))]
        shown += [(f"{indicator.id}.boundary", i18n.catalogue_text(indicator.boundary, lang))]
        for target in indicator.targets:
            shown += [(f"{indicator.id}.target", i18n.catalogue_text(target.source, lang))]
            if lang == "en":
                shown += [(f"{indicator.id}.target (recorded)", target.source)]
    assert any("%" in text for _, text in shown)  # the scan sees the catalogue's percentages
    found = [(where, error) for where, text in shown for error in _percent_spacing_errors(text, lang)]
    assert found == []


def test_catalogue_texts_are_found_whether_the_catalogue_spaces_its_percentages_or_not() -> None:
    recorded = (
        "Espoo carbon neutrality 2030: −80 % on 1990 (climate roadmap, city council May 2024; espoo.fi)"
    )
    assert i18n.catalogue_text(recorded, "fi").startswith(f"Espoon hiilineutraalius 2030: −80{NBSP}%")
    assert i18n.catalogue_text(recorded.replace(" %", "%"), "sv").startswith(
        f"Esbos koldioxidneutralitet 2030: −80{NBSP}%"
    )
    assert "80%" in i18n.catalogue_text(recorded, "en")


def test_a_units_thousands_never_break_and_english_groups_them_with_a_comma() -> None:
    # "481,9 autoa/1 000 asukasta" broke before "000 asukasta" in a table: the group separator of a unit is
    # a no-break space in Finnish and Swedish (as CLDR's), a comma in English ("per 1,000 residents")
    units = {key: entry for key, entry in i18n.catalogue().items() if key.startswith("unit_name.")}
    assert any(re.search(r"\d\u00a0\d{3}", entry["fi"]) for entry in units.values())
    for key, entry in units.items():
        for lang, text in entry.items():
            assert not re.search(r"\d[ \u202f]\d{3}", text), (key, lang, text)
        assert not re.search(r"\d\s\d{3}", entry["en"]), (key, entry["en"])
    assert i18n.label("unit_name", "cars per 1 000 residents", "en") == "cars per 1,000 residents"
