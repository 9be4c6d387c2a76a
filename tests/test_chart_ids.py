"""A report chart's CSV carries the API's ids: joined to kestava.api on them, its numbers are the API's."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from common.helsinki import HELSINKI
from kestava import api
from report import weekly
from report.chart_ids import API_COLUMNS, ASSESSMENT_ID_COLUMNS, DATASET_ID_COLUMNS, ID_COLUMNS
from report.i18n import t

# the languages whose spreadsheets (Excel in Finland and Sweden) take ";" between fields and the decimal comma
DECIMAL_COMMA_LANGS = frozenset({"fi", "sv"})

# the charts whose rows are stored values of an indicator, area, period and kind, and the column (of the
# chart's table) holding the value
JOINED = {
    "emissions_trajectory": "value",
    "sector_area": "value",
    "per_resident_comparison": "value",
    "circular_economy": "value",
    "weekly_mover": "value",
    "neutrality_balance": "value",
    "cross_source_checks": "difference",
    "peer_emissions_oecd": "value",
    "peer_emissions_covenant": "value",
}


def _week() -> str:
    iso = datetime.now(HELSINKI).date().isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


@pytest.fixture(scope="module")
def folders(loaded_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("ids")
    return {
        lang: weekly.write_weekly_report(
            loaded_engine, lang=lang, week=_week(), out_dir=out, images=False
        ).parent
        for lang in ("fi", "en")
    }


def _rows(path: Path, lang: str) -> list[dict[str, str]]:
    """The CSV's rows as text, read as a spreadsheet in lang's locale reads it."""
    separator = ";" if lang in DECIMAL_COMMA_LANGS else ","
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=separator))


def _number(text: str, lang: str) -> tuple[float, int]:
    """A CSV cell's number and the decimals it is written with."""
    if lang in DECIMAL_COMMA_LANGS:
        assert "." not in text, text
        text = text.replace(",", ".")
    return float(text), len(text.partition(".")[2])


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_a_report_csv_joins_the_api_on_its_ids(
    folders: dict[str, Path], loaded_engine: Engine, lang: str
) -> None:
    values = api.indicator_values(engine=loaded_engine)
    joined_any = 0
    for name, column in JOINED.items():
        rows = _rows(folders[lang] / f"{name}.csv", lang)
        assert rows, name
        header = list(rows[0])
        # the API's ids first, under the same headers in every language, none of them another column's
        assert header[: len(ID_COLUMNS)] == list(ID_COLUMNS), (name, header)
        assert len({h.casefold() for h in header}) == len(header), (name, header)  # Excel ignores case
        shown = next(h for h in header if h.startswith(t(f"column.{column}", lang)))
        for row in rows:
            ids = {column: row[f"{column}_id"] for column in API_COLUMNS}
            if not (ids["indicator"] and ids["period"] and ids["kind"]):
                continue  # a row of no stored value (the balance's surplus)
            found = values.filter(*(pl.col(c) == ids[c] for c in ("indicator", "area", "period", "kind")))
            assert found.height == 1, (name, row)
            api_row = found.row(0, named=True)
            assert api_row["unit"] == ids["unit"], (name, row)
            number, decimals = _number(row[shown], lang)
            assert abs(number - api_row["value"]) <= 0.5 * 10**-decimals + 1e-9, (name, row, api_row)
            joined_any += 1
    assert joined_any > 200


def test_a_sector_csv_names_the_apis_breakdown_parts(folders: dict[str, Path], loaded_engine: Engine) -> None:
    observed = api.indicator_values("ghg_by_sector", area="049", kind="observed", engine=loaded_engine)
    parts = set(observed["indicator"])
    for name in ("sector_area", "sector_waterfall"):
        rows = _rows(folders["en"] / f"{name}.csv", "en")
        named = {r["indicator_id"] for r in rows if r["indicator_id"]}
        assert named and named <= parts, (name, named - parts)


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_the_progress_grid_csv_joins_the_apis_assessments(
    folders: dict[str, Path], loaded_engine: Engine, lang: str
) -> None:
    """Each assessed cell of the grid is one of api.assessments' rows, found by the CSV's indicator, area
    and method ids (the API's method names, not the grid's short keys), with the same status and years."""
    rows = _rows(folders[lang] / "progress_dashboard.csv", lang)
    assert list(rows[0])[: len(ASSESSMENT_ID_COLUMNS)] == list(ASSESSMENT_ID_COLUMNS)
    assessed = api.assessments(engine=loaded_engine)
    status = t("column.status_key", lang)
    latest = t("column.latest_year", lang)
    joined = 0
    for row in rows:
        if row[status] == "not_assessed":
            continue
        keys = {c: row[f"{c}_id"] for c in ("indicator", "area", "method")}
        found = assessed.filter(*(pl.col(c) == v for c, v in keys.items()))
        assert found.height == 1, row
        assert found["status"][0] == row[status], (row, found.row(0, named=True))
        assert str(found["latest_year"][0]) == row[latest], row
        joined += 1
    assert joined >= 20
    assert {r["method_id"] for r in rows} <= set(assessed["method"].unique())


def test_the_freshness_csv_joins_the_apis_freshness(folders: dict[str, Path], loaded_engine: Engine) -> None:
    """Every dataset of the freshness chart is one of api.freshness' rows by its dataset_id, with the same
    state, and every catalogue dataset is there once."""
    rows = _rows(folders["en"] / "data_freshness.csv", "en")
    assert list(rows[0])[: len(DATASET_ID_COLUMNS)] == list(DATASET_ID_COLUMNS)
    states = dict(api.freshness(engine=loaded_engine).select("dataset", "state").iter_rows())
    shown = {r["dataset_id"]: r[t("column.status_key", "en")] for r in rows}
    assert len(shown) == len(rows) == len(states)
    assert shown == states
