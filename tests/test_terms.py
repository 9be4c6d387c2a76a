"""One word for one kind of value: the report's charts and tables and the site's name it alike."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Final

import polars as pl
import pytest

from indicators.catalogue import ReductionTarget
from report import charts
from report.charts import ChartMeta, chart_table, indicator_history
from report.i18n import LANGS, catalogue, t
from tests.test_notebooks import NOTEBOOKS, notebook_cells, notebook_prose

META = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 12, 1))
TARGET = ReductionTarget(kind="reduction_from_base", base_year=1990, reduction=0.8, year=2030, source="t")
# the engine's nowcast of a finished year (indicators.engine), named as the tracker's own calculation so
# that it is not taken for a source's provisional figure (tests/test_reader_numbers.py)
NOWCAST = {
    "fi": "Seurannan oma arvio",
    "sv": "Uppföljningens egen uppskattning",
    "en": "Tracker's own estimate",
}


def _report_names(lang: str) -> tuple[dict[str, str], str, str]:
    """The report's trajectory chart with a nowcast year: the status its points legend gives each year,
    the header of its download's estimate column, and its title."""
    history = pl.DataFrame(
        {
            "year": [1990, 2022, 2023, 2024],
            "value": [1000.0, 750.0, 700.0, 690.0],
            "estimated": [False, False, False, True],
            "provisional": [False, False, True, False],
        }
    )
    chart = charts.emissions_trajectory(history, meta=META, target=TARGET, lang=lang)
    spec = chart.to_dict()
    points = next(
        rows
        for rows in spec["datasets"].values()
        if rows and {"year", "value", "status"} <= set(rows[0]) and len(rows) == history.height
    )
    statuses = {str(r["year"]): str(r["status"]) for r in points}
    headers = chart_table(chart, translated_headers=True).columns
    estimate_header = headers[chart_table(chart).columns.index("estimated")]
    return statuses, estimate_header, str(spec["title"]["text"])


def _site_names(lang: str) -> dict[str, str]:
    """The site's indicator chart of the same values: the kind its table names each period."""
    frame = pl.DataFrame(
        {
            "period": ["1990", "2022", "2023", "2024"],
            "date": [date(y, 1, 1) for y in (1990, 2022, 2023, 2024)],
            "kind": ["observed", "observed", "observed", "estimate"],
            "value": [1000.0, 750.0, 700.0, 690.0],
            "flags": [None, None, "p", None],
        }
    )
    chart = indicator_history(frame, meta=META, lang=lang, name="n", area_name="a", unit_text="kt")
    table = chart_table(chart)
    return dict(zip(table["period"].to_list(), table["kind_name"].to_list(), strict=True))


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_and_the_site_name_an_estimate_and_an_observation_alike(lang: str) -> None:
    report, estimate_header, title = _report_names(lang)
    site = _site_names(lang)
    assert report["2024"] == site["2024"] == estimate_header == NOWCAST[lang]
    assert report["2022"] == site["2022"]
    # the title of a chart with no published year, only nowcasts, says so with the same word
    latest_only = pl.DataFrame({"year": [1990, 2024], "value": [1000.0, 690.0], "estimated": [True, True]})
    spec = charts.emissions_trajectory(latest_only, meta=META, target=TARGET, lang=lang).to_dict()
    assert NOWCAST[lang].lower() in str(spec["title"]["text"]).lower()
    assert NOWCAST[lang].lower() not in title.lower()  # not where a published figure is the latest


@pytest.mark.parametrize("lang", LANGS)
def test_a_provisional_figure_has_one_name_in_the_legends_tables_and_notes(lang: str) -> None:
    names = {t(key, lang) for key in ("trajectory.provisional", "column.provisional", "flag.provisional")}
    assert len(names) == 1, names


def test_a_projection_row_of_the_report_is_no_estimate() -> None:
    """The trajectory's download marks only the nowcast years as estimates, each row with the kind the API
    gives it (a projection said "Ennakkoarvio: kyllä" beside the trend)."""
    history = pl.DataFrame({"year": [1990, 2023, 2024], "value": [1000.0, 700.0, 690.0]})
    history = history.with_columns(estimated=pl.Series([False, False, True]))
    projection = pl.DataFrame(
        {"year": [2025, 2026], "value": [680.0, 670.0], "lower": [600.0, 590.0], "upper": [760.0, 750.0]}
    )
    table = chart_table(charts.emissions_trajectory(history, projection, meta=META, target=TARGET))
    estimates = table.filter(pl.col("estimated"))
    assert estimates.select("year", "kind_key").rows() == [(2024, "estimate")]
    projected = table.filter(pl.col("kind_key") == "projection")
    assert {2025, 2026} <= set(projected["year"]) and not projected["estimated"].any()


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_and_the_site_name_the_trend_the_paths_and_the_target_alike(lang: str) -> None:
    """The report's emissions chart names its series as the site's charts name the same kinds: the trend
    projection (the report adds its band), the path from the latest value, the linear path from the base
    year (the report adds its years) and the target (the site said "Trendin jatke" where the report said
    "Trendiennuste")."""
    history = pl.DataFrame({"year": [1990, 2023, 2024], "value": [1000.0, 700.0, 690.0]})
    projection = pl.DataFrame(
        {"year": [2025, 2026], "value": [680.0, 670.0], "lower": [600.0, 590.0], "upper": [760.0, 750.0]}
    )
    chart = charts.emissions_trajectory(history, projection, meta=META, target=TARGET, lang=lang)
    table = chart_table(chart)
    series = dict(zip(table["kind_key"].to_list(), table["series"].to_list(), strict=True))
    site = {k: t(f"site.kind_{k}", lang) for k in ("projection", "path_from_latest", "path", "target")}
    assert series["projection"].startswith(site["projection"] + " ")
    assert series["path_from_latest"] == site["path_from_latest"]
    assert series["path"].startswith(site["path"] + " ")  # "Tavoitepolku 1990–2030"
    assert series["target"] == site["target"]


@pytest.mark.parametrize("lang", LANGS)
def test_an_indicator_named_with_brackets_gets_its_area_inside_them(lang: str) -> None:
    """The report's grid and the site's lists read "Net greenhouse gas emissions (national) (Finland)"; the
    area joins the name's own brackets, and a name without them gets its own."""
    from report.data import area_label, display_name

    finland = area_label("FI", lang)
    national = display_name("net_ghg_national", "FI", lang)
    assert national.endswith(f", {finland})") and national.count("(") == 1, national
    assert display_name("recycling_rate", "FI", lang).endswith(f" ({finland})")
    assert "(" not in display_name("ghg_total", "049", lang)


# ---------------------------------------------------------------------------------------------------------
# the two straight paths: one name each, in every language, on every page

# The tracker draws two straight lines to a target: the target path from the base year (1990 → 2030, the
# line the linear-path status compares with; indicators.engine "path") and the path required from the latest
# year ("path_from_latest", the headline's required rate). Each has one name per language, in any inflection;
# a reader met "tasainen polku", "tavoitepolku" and "tarvittava polku", and "tasainen polku" for both.
PATH_TERMS: Final[Mapping[str, Mapping[str, re.Pattern[str]]]] = {
    "path": {
        "fi": re.compile(r"\btavoitepol(?:ku|un|ulla|ulle|usta|ulta|kua|kuun)\b", re.IGNORECASE),
        "sv": re.compile(r"\bmålban(?:a|an|ans)\b", re.IGNORECASE),
        "en": re.compile(r"\btarget path(?:'s)?\b", re.IGNORECASE),
    },
    "path_from_latest": {
        "fi": re.compile(r"\btarvittava[a-zäö]* pol(?:ku|un|ulla|ulle|usta|ulta|kua|kuun)\b", re.IGNORECASE),
        "sv": re.compile(r"\bnödvändig[a-zåäö]* ban(?:a|an|ans)\b", re.IGNORECASE),
        "en": re.compile(r"\brequired path(?:'s)?\b", re.IGNORECASE),
    },
}
# any word for a path (a text naming one names it by one of the terms; a later "polku" refers back to it)
PATH_WORD: Final[Mapping[str, re.Pattern[str]]] = {
    "fi": re.compile(r"\b[a-zäö]*pol(?:ku|un|ulla|ulle|usta|ulta|kua|kuun|kuja|ut)\b", re.IGNORECASE),
    "sv": re.compile(r"\b[a-zåäö]*ban(?:a|an|ans|or|orna)\b", re.IGNORECASE),
    "en": re.compile(r"\bpaths?\b", re.IGNORECASE),
}
# the keys whose text names one path, by the path they name
PATH_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "path": (
        "method.linear",
        "site.kind_path",
        "trajectory.series_base_path",
        "status.on_path",
        "status.behind_path",
        "reason.linear_above",
        "reason.linear_below",
    ),
    "path_from_latest": ("site.kind_path_from_latest", "trajectory.series_path"),
}


def unnamed_paths(texts: Iterable[str], lang: str) -> list[str]:
    """The texts that speak of a path but name it by neither of its two terms (an old name, "tasainen
    polku", "linjär bana", "linear path", or a third one)."""
    terms = PATH_TERMS["path"][lang], PATH_TERMS["path_from_latest"][lang]
    return [
        text
        for text in texts
        if PATH_WORD[lang].search(text) and not any(term.search(text) for term in terms)
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_each_path_has_one_name_in_the_catalogue(lang: str) -> None:
    """Every string of the catalogue that speaks of a path names it by its term, and each key of a path
    names its own, never the other's (the report's heading said "tasainen polku" of a chart whose legend
    said "Tarvittava polku" and "Tasainen polku 1990–2030", its status "Jäljessä tavoitepolusta")."""
    texts = {key: entry[lang] for key, entry in catalogue().items()}
    assert unnamed_paths(texts.values(), lang) == []
    for path, keys in PATH_KEYS.items():
        other = "path_from_latest" if path == "path" else "path"
        for key in keys:
            assert PATH_TERMS[path][lang].search(texts[key]), (key, texts[key])
            assert not PATH_TERMS[other][lang].search(texts[key]), (key, texts[key])
    # the two are told apart: neither term is found in the other's name
    for path in PATH_TERMS:
        other = "path_from_latest" if path == "path" else "path"
        assert not PATH_TERMS[other][lang].search(t(f"site.kind_{path}", lang))


def test_unnamed_paths_finds_the_names_the_audit_saw() -> None:
    assert unnamed_paths(["Päästöt ja tasainen polku tavoitteeseen", "Polkee paikallaan"], "fi") == [
        "Päästöt ja tasainen polku tavoitteeseen"
    ]
    assert unnamed_paths(["Linjär bana 1990–2030", "Urban"], "sv") == ["Linjär bana 1990–2030"]
    assert unnamed_paths(["Linear path: Behind the path.", "Behind the target path"], "en") == [
        "Linear path: Behind the path."
    ]


# ---------------------------------------------------------------------------------------------------------
# the notebooks (in English) name the two paths as the report does


def test_the_notebooks_name_each_path_by_its_term() -> None:
    """Notebook 01 said "linear path" and notebook 03 "a linear-path check" of lines the report and the site
    call the target path; every sentence and code comment of the notebooks that speaks of a path names it
    by one of the two terms."""
    prose = {path.name: notebook_prose(path) for path in NOTEBOOKS}
    assert all(any(kind == "comment" for kind, _ in texts) for texts in prose.values())  # comments are read
    speaking = [text for texts in prose.values() for _, text in texts if PATH_WORD["en"].search(text)]
    assert len(speaking) >= 2  # the trajectory's heading text and the methods' list speak of paths
    unnamed = {name: unnamed_paths([text for _, text in texts], "en") for name, texts in prose.items()}
    assert unnamed == {name: [] for name in prose}
    # the old wording is caught by the same check
    assert unnamed_paths(["History against the linear path to the target and the trend projection."], "en")
    assert unnamed_paths(["# the linear-path check"], "en")


def test_the_notebooks_trajectory_text_names_the_lines_its_chart_draws() -> None:
    """The text above a notebook cell that draws charts.emissions_trajectory names each straight line the
    chart draws (its table's kinds: the target path from the base year, the required path from the latest
    year) by its own term."""
    history = pl.DataFrame({"year": [1990, 2023, 2024], "value": [1000.0, 700.0, 690.0]})
    table = chart_table(charts.emissions_trajectory(history, meta=META, target=TARGET, lang="en"))
    drawn = set(table["kind_key"]) & set(PATH_TERMS)
    assert drawn == {"path", "path_from_latest"}
    checked = 0
    for path in NOTEBOOKS:
        cells = notebook_cells(path)
        for index, cell in enumerate(cells):
            if cell.cell_type != "code" or "charts.emissions_trajectory(" not in cell.source:
                continue
            above = next(c.source for c in reversed(cells[:index]) if c.cell_type == "markdown")
            for kind in drawn:
                assert PATH_TERMS[kind]["en"].search(above), (path.name, kind, above)
            checked += 1
    assert checked >= 1
