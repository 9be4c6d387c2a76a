"""Every number a reader sees agrees with every other number on the same subject: in the weekly report and
on the site, in Finnish, Swedish and English."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date
from functools import partial

import polars as pl
import pytest
from sqlalchemy import Engine

from indicators.catalogue import load_indicator_catalogue
from report import charts, ranking, weekly
from report import data as rd
from report.i18n import LANGS, decimals_showing, format_number, format_percent, locale_signs, t
from report.site import build as site_build
from report.site import content
from report.site.content import Page, SiteData, indicator_page
from report.theme import ChartMeta
from storage.engine import open_database
from tests.conftest import LoadedTemplates
from tests.test_terms import _report_names, _site_names

# a number as the three languages print it: "2.22", "2,22", "−32,8", "320 931" (with a no-break space)
NUMBER = r"[−+-]?\d{1,3}(?:[,\u00a0]\d{3})*(?:[.,]\d+)?"


@pytest.fixture(scope="module")
def site_data(
    tmp_path_factory: pytest.TempPathFactory, loaded_templates: LoadedTemplates
) -> Iterator[SiteData]:
    """The bundled data loaded and computed on SQLite, read as the site's build reads it."""
    folder = tmp_path_factory.mktemp("reader-numbers")
    with loaded_templates.copy("sqlite", folder) as url:
        engine: Engine = open_database(url)
        yield SiteData(engine)
        engine.dispose()


def _main_row(page: Page) -> list[str]:
    """The comparison table's row of the page's main area (marked ◀)."""
    table = page.context["comparison"]
    assert table is not None, page.path
    (row,) = [r for r in table.rows if r[0].endswith("◀")]
    return list(row)


def _number_before_unit(text: str, unit: str) -> str:
    """The number a text prints just before unit ("… 2.22 t CO₂e per resident (2024) …" -> "2.22")."""
    found = re.search(rf"({NUMBER})\u00a0?{re.escape(unit)}", text)
    assert found is not None, (unit, text)
    return found.group(1)


@pytest.mark.parametrize("indicator", ["ghg_per_resident", "syke_ghg_per_resident"])
@pytest.mark.parametrize("lang", LANGS)
def test_a_pages_chart_title_prints_the_latest_value_as_its_ranking_does(
    site_data: SiteData, indicator: str, lang: str
) -> None:
    """The chart's title said "2.2 t" above a comparison table that ranks the same value "2.22" (two
    decimals to tell Espoo from its neighbours): a value is printed one way on a page."""
    page = indicator_page(site_data, indicator, lang)
    unit = page.context["unit"]
    ranked = _main_row(page)[2]
    assert ranked.endswith(unit), (ranked, unit)
    in_table = ranked.removesuffix(unit).strip("\u00a0 ")
    assert _number_before_unit(page.context["chart_title"], unit) == in_table
    # the ranking tells Espoo from every other area: two areas never print alike
    values = [r[2] for r in page.context["comparison"].rows]
    assert len(set(values)) == len(values), values


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_and_the_site_print_espoos_emissions_per_resident_alike(
    site_data: SiteData, lang: str
) -> None:
    """The report's per-resident comparison (Syke's municipal figures) said Espoo "2.58 t" where the site's
    page of the same series said "2.6 t"."""
    chart, _ids = weekly._builders(site_data.engine, lang, date.today())["per_resident_comparison"]()
    spec = chart.to_dict(validate=False)  # the report's chart as the weekly report makes it
    report_title = " ".join(spec["title"]["text"])
    page = indicator_page(site_data, "syke_ghg_per_resident", lang)
    espoo = rd.area_label("049", lang)
    assert page.context["area"] == espoo
    # the report's title names Espoo's value before its unit "t" (whatever follows: a year, a comparison)
    found = re.search(rf"({NUMBER})\u00a0t\b", report_title)
    assert found is not None, report_title
    assert _number_before_unit(page.context["chart_title"], page.context["unit"]) == found.group(1)


@pytest.mark.parametrize("lang", LANGS)
def test_the_change_on_1990_is_printed_one_way_in_the_headline_the_titles_and_the_ranking(
    site_data: SiteData, lang: str
) -> None:
    """HSY's release (2025) gives Espoo's 2024 emissions as "−33 % on 1990"; the headline said "−33 %" and
    the page of the change on 1990 "−32.8 %". Every place prints the change as the source publishes it,
    in whole per cent, in the language's percent format."""
    published = format_percent(-33.0, lang, 0, signed=True)
    headline = weekly.headline_context(site_data.engine, lang)
    assert headline is not None
    assert published in headline["lead"], headline["lead"]
    change_page = indicator_page(site_data, "ghg_change_on_1990", lang)
    assert _main_row(change_page)[2] == published
    assert re.search(rf"(?<![\d.,]){re.escape(published)}", change_page.context["chart_title"])
    # the emissions page's title states the same change since 1990
    assert published in indicator_page(site_data, "ghg_total", lang).context["chart_title"]


def _visible(page: Page) -> str:
    """The page as the site writes it, as a reader sees it: no tags, scripts or styles."""
    html_text = (
        site_build._environment()
        .get_template(page.template)
        .render(
            lang=page.lang,
            page=page.context,
            links=site_build._page_links(page, LANGS),
            ui=site_build._ui(page.lang),
            demo=False,
            t=partial(site_build._translate, lang=page.lang),
        )
    )
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html_text, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "\n", text))


@pytest.mark.parametrize("indicator", ["ghg_change_on_1990", "ghg_total"])
@pytest.mark.parametrize("lang", LANGS)
def test_a_page_writes_every_negative_number_with_one_minus_sign(
    site_data: SiteData, indicator: str, lang: str
) -> None:
    """English showed the catalogue's "−80%" (U+2212) beside a computed "-33%" (CLDR en's hyphen-minus):
    a negative number's sign is the language's, in the catalogue's texts too."""
    shown = _visible(indicator_page(site_data, indicator, lang))
    signs = re.findall(r"(?<![\w)\]])([\u2212-])\d", shown)
    assert signs, shown  # the page does show a negative number (the change on 1990, the target −80 %)
    assert set(signs) == {format_number(-1.0, lang).removesuffix("1")}, shown


def test_a_hand_written_sign_becomes_the_languages_and_nothing_else_changes() -> None:
    """locale_signs changes the sign of a negative number only: not a hyphen in a name or a date, nor
    the minus of a formula."""
    text = "target −80% (−5 kt), -3; EU-27, CO2-e, 2026-09-30, 1 − x"
    assert locale_signs(text, "en") == "target -80% (-5 kt), -3; EU-27, CO2-e, 2026-09-30, 1 − x"
    assert locale_signs(text, "fi") == "target −80% (−5 kt), −3; EU-27, CO2-e, 2026-09-30, 1 − x"


def _stems(text: str) -> set[str]:
    """The words of a name by their first six letters ("Ennakkoarvio" and "Ennakkotieto": "ennakk")."""
    return {word[:6] for word in re.findall(r"\w+", text.lower())}


@pytest.mark.parametrize("lang", LANGS)
def test_the_trackers_own_estimate_is_named_as_the_trackers_and_not_as_a_sources_figure(lang: str) -> None:
    """Readers took the engine's nowcast ("Ennakkoarvio", "Preliminär uppskattning", "Preliminary
    estimate") for the source's provisional figure ("Ennakkotieto", "Preliminär uppgift", "Provisional
    figure"). Wherever the report and the site name an estimate, the name says it is the tracker's own,
    with the word the site calls itself by (its title: "… – seuranta", "… – uppföljning", "… tracker"),
    and shares no word with the source's provisional figure."""
    statuses, estimate_header, _title = _report_names(lang)
    names = {statuses["2024"], estimate_header, _site_names(lang)["2024"]}
    assert len(names) == 1, names
    (name,) = names
    tracker = re.findall(r"\w+", t("site.site_title", lang).lower())[-1][:6]
    assert tracker in _stems(name), (name, tracker)
    provisional = t("trajectory.provisional", lang)
    assert not _stems(name) & _stems(provisional), (name, provisional)


def test_a_long_ranking_adds_only_the_decimals_that_tell_the_main_area_from_its_neighbours() -> None:
    """ev_share ranks 300 municipalities: telling every pair apart took three decimals, so the title and
    every row printed "10.500 %". The ranking needs only those that tell the main area from the areas
    beside it."""
    entry = load_indicator_catalogue().get("ev_share")
    # pairs 0.001 apart, none beside the main area, in a ranking longer than the report's
    far = [10.0 + i * 0.001 for i in range(ranking.RANKED_IN_FULL)]
    latest = pl.DataFrame(
        {"area": [f"m{i}" for i in range(len(far))] + ["049", "a", "b"], "value": [*far, 14.5, 14.0, 15.0]}
    )
    assert content.ranking_decimals(latest, entry, "049", "en")["049"] == 1  # "14.5%", not "14.500%"
    close = latest.with_columns(
        pl.when(pl.col("area") == "a").then(14.46).otherwise(pl.col("value")).alias("value")
    )
    assert content.ranking_decimals(close, entry, "049", "en")["049"] == 2  # 14.46 beside 14.50


def test_the_site_and_the_report_rank_espoos_emissions_per_resident_with_the_same_decimals() -> None:
    """With Syke for the whole country the site ranks 308 municipalities and tells Espoo only from its
    neighbours, a tenth apart ("2.6 t"), while the report's seven cities need two decimals to tell Helsinki
    from Vantaa (2.91, 2.94), so the report printed Espoo "2.58 t": both now print the decimals the one that
    needs more needs."""
    country = {f"{900 + i}": 4.0 + i * 0.1 for i in range(40)} | {"123": 2.4}
    cities = {"049": 2.58, "091": 2.91, "092": 2.94, "235": 3.3, "837": 2.7, "853": 3.6, "564": 3.45}
    latest = country | cities
    alone = ranking.area_decimals(latest, "049", "en")  # the site's rule without the report's cities
    assert alone["049"] == 1
    both = ranking.area_decimals(latest, "049", "en", report_ranks=rd.COMPARISON_AREAS)
    assert both["049"] == 2 and format_number(latest["049"], "en", both["049"]) == "2.58"
    # the report's chart prints Espoo with them, though a ranking of these three would do with one
    frame = pl.DataFrame({"area": ["049", "837", "853"], "year": [2023] * 3, "value": [2.58, 2.7, 3.6]})
    meta = ChartMeta(sources=("Syke",), licence="CC BY 4.0", vintage=date(2026, 11, 23))
    title = " ".join(
        charts.per_resident_comparison(frame, meta=meta, lang="en", least_decimals=both["049"]).to_dict(
            validate=False
        )["title"]["text"]
    )
    assert "2.58\u00a0t" in title, title
    own = " ".join(
        charts.per_resident_comparison(frame, meta=meta, lang="en").to_dict(validate=False)["title"]["text"]
    )
    assert "2.6\u00a0t" in own, own


def test_a_pages_decimals_never_print_a_value_that_is_not_zero_as_zero() -> None:
    """A page that prints its series at one decimal (its latest value's) printed an early EV share of
    0.04 % as "0.0 %": such a value keeps its own decimals; the others, and zero, take the page's."""
    assert format_number(0.04, "en", decimals_showing(0.04, 1)) == "0.04"
    assert format_number(14.5, "en", decimals_showing(14.5, 2)) == "14.50"
    assert format_number(0.0, "en", decimals_showing(0.0, 1)) == "0.0"


def test_a_change_on_1990_keeps_whole_per_cents_where_two_areas_print_alike() -> None:
    """The per-resident change on 1990 printed "−63.87 %" on its page (Espoo −63.87 beside the region's
    −63.88) while the source (HSY, 2025) and the headline say "−64 %": a change on a base year stays in
    whole per cent, the two areas shown tied."""
    entry = load_indicator_catalogue().get("ghg_change_on_1990")
    latest = pl.DataFrame({"area": ["049", "PKS", "091"], "value": [-63.87, -63.88, -40.2]})
    assert content.ranking_decimals(latest, entry, "049", "en") == {"049": 0, "PKS": 0, "091": 0}
