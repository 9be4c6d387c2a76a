"""The carbon sink estimate (21 % of Espoo's 2019 emissions, as the City of Espoo states it) and the residual
to offset (what the −80 % target leaves) read as what they are, the same on the site and in the report."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pydantic
import pytest
from sqlalchemy import Engine

from indicators.catalogue import ShareOfYearDerivation, load_indicator_catalogue
from indicators.derive import derive_all
from report import weekly
from report.i18n import format_number, t
from report.site.content import SiteData, indicator_page
from storage.engine import open_database
from tests.conftest import LoadedTemplates
from tests.test_derive import catalogue, obs

SINK = "carbon_sink_estimate"
NEED = "compensation_need"
# FIGURES.md: "Carbon sinks in vegetation and soil took up about 21 % of Espoo's emissions in 2019", a figure
# the City of Espoo published; the reference material gives no web address for it
STATED_BY = {"fi": "Espoon kaupunki", "sv": "Esbo stad", "en": "City of Espoo"}
NO_ADDRESS = {
    "fi": "verkko-osoitetta ei tiedetä",
    "sv": "webbadress är inte känd",
    "en": "address is not known",
}


@pytest.fixture(scope="module")
def sqlite_engine(
    tmp_path_factory: pytest.TempPathFactory, loaded_templates: LoadedTemplates
) -> Iterator[Engine]:
    """The bundled data loaded and computed on SQLite."""
    with loaded_templates.copy("sqlite", tmp_path_factory.mktemp("sink")) as url:
        engine = open_database(url)
        yield engine
        engine.dispose()


def test_the_catalogue_says_who_states_the_share_and_checks_its_address() -> None:
    """The sink's share is the City of Espoo's statement; no address is invented for it; an address given
    must be a web address."""
    derive = load_indicator_catalogue().get(SINK).derive
    assert isinstance(derive, ShareOfYearDerivation)
    assert {lang: derive.stated_by.get(lang) for lang in STATED_BY} == STATED_BY
    assert derive.url is None  # none is known (shared/SOURCES.md, FIGURES.md)
    entry = {"kind": "share_of_year", "of": "t", "year": 2019, "share": 0.21, "source": "x"}
    with pytest.raises(pydantic.ValidationError, match="stated_by"):
        ShareOfYearDerivation.model_validate(entry)
    with pytest.raises(pydantic.ValidationError, match="http"):
        ShareOfYearDerivation.model_validate({**entry, "stated_by": STATED_BY, "url": "espoo.fi/climate"})
    given = {**entry, "stated_by": STATED_BY, "url": "https://www.espoo.fi/x"}
    assert ShareOfYearDerivation.model_validate(given).url == "https://www.espoo.fi/x"


def test_an_assumed_share_carries_no_source_status_flag() -> None:
    """A share of one year's value is an assumption, not the source's estimate: it carries no "e" (which the
    site's chart table read as "Source's estimate"), and it keeps no flag of the value it is a share of."""
    share = {
        "kind": "share_of_year",
        "of": "t",
        "year": 2019,
        "share": 0.2,
        "source": "x",
        "stated_by": STATED_BY,
    }
    cat = catalogue(t={"derive": {"kind": "sum", "dataset": "d", "unit_in": "kt CO2e"}}, s={"derive": share})
    done, _ = derive_all(cat, {"d": obs([("049", "2019", 800.0, {}), ("049", "2020", 700.0, {})])})
    assert done["s"].select("period", "value", "flags").rows() == [("2019", pytest.approx(160.0), None)]


def _text(markup: str) -> str:
    """The visible text of an HTML fragment, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_the_site_page_names_the_assumption_who_states_it_and_the_data_it_is_computed_from(
    sqlite_engine: Engine, lang: str
) -> None:
    """The sink's page: its kind (assumption), who states the 21 % and that the statement's address is not
    known, then HSY's dataset it is computed from; no "Source's estimate"; the citation names the city."""
    page = indicator_page(SiteData(sqlite_engine), SINK, lang)
    derivation = str(page.context["derivation"])
    assert derivation.startswith(t("site.kind_assumption", lang).lower()), derivation
    assert STATED_BY[lang] in derivation and NO_ADDRESS[lang] in derivation, derivation
    assert "2019" in derivation
    # the city states the share; "lähde"/"källa" (the source) is HSY's, whose figure it is computed from
    assert not {"lähde", "lähteen", "källa"} & set(re.findall(r"\w+", derivation.lower())), derivation
    assert [s["dataset"] for s in page.context["sources"]] == ["hsy_emissions"]
    table = page.context["chart_table"]
    cells = [str(cell) for row in table.rows for cell in row]
    assert t("flag.estimated", lang) not in cells, cells
    assert t("site.kind_assumption", lang) in cells, cells
    assert f"{STATED_BY[lang]}; HSY" in str(page.context["citation"]), page.context["citation"]
    # the chart's source line names the city too (it said "Source: HSY" beside a city's assumption)
    subtitle = " ".join(page.charts[0].spec["title"]["subtitle"])
    assert STATED_BY[lang] in subtitle and "HSY" in subtitle, subtitle
    # the page's method and boundary line named HSY alone: it is HSY's total times the city's assumed share
    boundary = str(page.context["boundary"])
    assert "HSY" in boundary and STATED_BY[lang].split()[0][:4] in boundary and "2019" in boundary, boundary
    # the residual reads as derived from the target, computed from HSY's 1990 value
    need = indicator_page(SiteData(sqlite_engine), NEED, lang)
    minus_80 = format_number(-80, lang)  # the target's −80 % with the language's minus sign
    assert "1990" in str(need.context["derivation"]) and minus_80 in str(need.context["derivation"])


def test_the_report_says_what_the_site_says(sqlite_engine: Engine, tmp_path: Path) -> None:
    """The weekly report's provenance states both values' derivations in the words of their site pages,
    next to HSY's snapshot (its URL and fetch time) in the provenance table."""
    found = weekly.build_report(
        sqlite_engine, weekly.current_week(), lang="en", out_dir=tmp_path, images=False
    )
    page = found.path.read_text(encoding="utf-8")
    provenance = _text(page.split('<section id="provenance"', 1)[1].split("</section>", 1)[0])
    for indicator in (SINK, NEED):
        derivation = str(indicator_page(SiteData(sqlite_engine), indicator, "en").context["derivation"])
        assert derivation and _text(html.escape(derivation)) in provenance, (derivation, provenance)
    assert "hsy_emissions" in provenance or "HSY" in provenance
    assert ".xlsx" in provenance  # HSY's payload stays the provenance of the value the share is taken of


def test_the_stored_sink_is_an_assumption_without_flags(sqlite_engine: Engine) -> None:
    """The loaded database stores the sink as an assumption, 21 % of HSY's 2019 total, with no flag."""
    from indicators import query

    sink = query.indicator_values(SINK, engine=sqlite_engine).filter(pl.col("kind") == "assumption")
    total = query.indicator_values("ghg_total", engine=sqlite_engine).filter(
        pl.col("area") == "049", pl.col("kind") == "observed", pl.col("period") == "2019"
    )
    assert sink.select("period", "flags").rows() == [("2019", None)]
    assert sink["value"].item() == pytest.approx(0.21 * total["value"].item())
