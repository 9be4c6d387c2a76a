"""The report's numbers as a reader sees them: decimals by series, shares in percent, downloads alike."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import altair as alt
import polars as pl
import pytest

from indicators.catalogue import ReductionTarget
from report import charts, weekly
from report.charts import ChartMeta
from report.i18n import LANGS, NBSP, series_precision, shown_decimals, t

META = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 12, 6), is_demo=True)
TARGET = ReductionTarget(kind="reduction_from_base", base_year=1990, reduction=0.8, year=2030, source="test")


def cells(table: weekly.Table, column: int) -> list[str]:
    """The texts of one column of a table's rows."""
    return [str(row[column]) for row in table.rows]


def test_a_series_published_to_a_tenth_keeps_its_tenth_on_a_whole_value() -> None:
    """Eurostat publishes the EU recycling rate to a tenth (31.1 %): its 30.0 % of 2000 is "30.0", not
    "30" beside "31.1"; the magnitude still decides (none from 100, two below 1)."""
    tenth = series_precision([30.0, 31.1, 46.0])
    assert tenth == 1
    assert [shown_decimals(v, tenth) for v in (30.0, 31.1, 46.0)] == [1, 1, 1]
    assert shown_decimals(1060.0, tenth) == 0 and shown_decimals(0.5, tenth) == 1
    whole = series_precision([41.0, 42.0, None, float("nan")])  # a series published in whole units
    assert whole == 0 and shown_decimals(41.0, whole) == 0
    assert shown_decimals(0.123, series_precision([0.123, 0.5])) == 2
    # a lone value (no series given) is its own series, as before
    assert shown_decimals(12.0) == 0 and shown_decimals(12.5) == 1


@pytest.mark.parametrize("lang", LANGS)
def test_a_table_column_prints_every_value_at_the_columns_precision(lang: str) -> None:
    """The sector table of 2022 and 2023: "12.0, 1.0" beside "11.9, 1.5", not "12, 1"."""
    frame = pl.DataFrame({"year": [2022, 2022, 2023, 2023], "value": [12.0, 1.0, 11.9, 1.5]})
    shown = cells(weekly.frame_table(frame, "", lang), 1)
    expected = ["12.0", "1.0", "11.9", "1.5"]
    assert shown == (expected if lang == "en" else [e.replace(".", ",") for e in expected])


def test_a_column_of_two_quantities_takes_each_quantitys_precision() -> None:
    """The circular economy table's value column holds kg per resident and % (its rows' series): the
    recycling rate's tenth does not give the waste in whole kg a decimal, nor the other way round."""
    frame = pl.DataFrame({"value": [30.0, 31.1, 45.0, 52.0]})
    series = ["recycling_rate", "recycling_rate", "waste_per_resident", "waste_per_resident"]
    assert cells(weekly.frame_table(frame, "", "fi", series=series), 0) == ["30,0", "31,1", "45", "52"]
    # without the series the column is one quantity: one precision for all
    assert cells(weekly.frame_table(frame, "", "fi"), 0) == ["30,0", "31,1", "45,0", "52,0"]


def test_the_circular_tables_series_are_its_indicators() -> None:
    """The report gives frame_table the indicator of each circular economy row as its series."""
    keyed = pl.DataFrame({"indicator_key": ["recycling_rate", "waste_per_resident"], "value": [1.0, 2.0]})
    assert weekly.table_series("circular_economy", keyed) == ["recycling_rate", "waste_per_resident"]
    assert weekly.table_series("sector_area", keyed) is None


@pytest.mark.parametrize(
    ("share", "fi"),
    [
        (71.2 / 712, f"10{NBSP}%"),  # 0.09999999999999999: rounds to 10 %, so no decimal
        (0.0996, f"10{NBSP}%"),
        (0.0994, f"9,9{NBSP}%"),
        (0.11, f"11{NBSP}%"),
        (0.02, f"2,0{NBSP}%"),
        (0.298, f"30{NBSP}%"),
    ],
)
def test_a_share_takes_its_decimals_from_the_rounded_percentage(share: float, fi: str) -> None:
    """Below 10 % a share has one decimal, from 10 % none, judged on the percentage as printed."""
    assert weekly.format_cell(share, "share", "fi") == fi


def test_the_reconciliation_table_prints_a_column_at_one_precision() -> None:
    """A difference of exactly −7.0 % beside −6.7 % prints "−7,0 %", the tolerances alike."""
    found = pl.DataFrame(
        {
            "indicator": ["ghg_total", "ghg_total"],
            "of": ["ghg_total", "ghg_total"],
            "against": ["ghg_total_syke", "ghg_total_syke"],
            "area": ["espoo", "espoo"],
            "period": ["2005", "2006"],
            "value": [-7.0, -6.7],
            "tolerance": [5.0, 5.0],
        }
    )
    table = weekly._reconciliation_table(found, "fi")
    assert table is not None
    assert cells(table, 3) == [f"\u22127,0{NBSP}%", f"\u22126,7{NBSP}%"]
    assert cells(table, 4) == [f"±5{NBSP}%", f"±5{NBSP}%"]


def sector_chart(lang: str) -> alt.TopLevelMixin:
    """The sector area chart of two years and two sectors (shares 0.298 and 0.702 of 2023)."""
    frame = pl.DataFrame(
        {
            "year": [2022, 2022, 2023, 2023],
            "sector": ["transport", "district_heat", "transport", "district_heat"],
            "value": [300.0, 700.0, 298.0, 702.0],
        }
    )
    return charts.sector_area(frame, meta=META, lang=lang)


@pytest.mark.parametrize("lang", LANGS)
def test_downloads_write_shares_in_percent_as_the_page_does(lang: str, tmp_path: Path) -> None:
    """The page shows a share as "30 %": the CSV and the XLSX write 29.8 under "Osuus (%)", not 0.298."""
    chart = sector_chart(lang)
    download, decimals = weekly.download_frame(
        chart, weekly.float_decimals(chart), name="sector_area", lang=lang
    )
    header = t("column.with_unit", lang, column=t("column.share", lang), unit="%")
    assert header in download.columns and decimals[header] == 1
    assert sorted(download.get_column(header).to_list()) == [29.8, 30.0, 70.0, 70.2]
    path = tmp_path / "sector_area.csv"
    weekly.write_csv(download, path, lang)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="," if lang == "en" else ";"))
    assert {r[header] for r in rows} == (
        {"30.0", "70.0", "29.8", "70.2"} if lang == "en" else {"30,0", "70,0", "29,8", "70,2"}
    )
    weekly.write_xlsx(download, tmp_path / "sector_area.xlsx", "sector_area", decimals)
    back = pl.read_excel(tmp_path / "sector_area.xlsx", engine="calamine")
    assert sorted(back.get_column(header).to_list()) == [29.8, 30.0, 70.0, 70.2]


@pytest.mark.parametrize("lang", LANGS)
def test_downloads_write_flags_as_the_pages_yes_and_no(lang: str, tmp_path: Path) -> None:
    """The trajectory table shows its flags as "kyllä"/"ei" (fi): the CSV writes them so, not true/false;
    its two flag columns have names a reader tells apart (sv had "Preliminär" and "Preliminär uppgift")."""
    history = pl.DataFrame(
        {
            "year": [1990, 2023, 2024, 2025],
            "value": [1060.0, 745.0, 712.0, 665.0],
            "estimated": [False, False, False, True],
            "provisional": [False, False, True, False],
        }
    )
    chart = charts.emissions_trajectory(history, meta=META, target=TARGET, lang=lang)
    download, _ = weekly.download_frame(
        chart, weekly.float_decimals(chart), name="emissions_trajectory", lang=lang
    )
    estimated, provisional = t("column.estimated", lang), t("column.provisional", lang)
    assert not estimated.startswith(provisional) and not provisional.startswith(estimated)
    yes, no = t("report.yes", lang), t("report.no", lang)
    path = tmp_path / "trajectory.csv"
    weekly.write_csv(download, path, lang)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="," if lang == "en" else ";"))
    series = t("column.series", lang)  # the history's rows first, then the target path's and others
    observed = [r for r in rows if r[series] == rows[0][series]]
    assert [r[t("column.year", lang)] for r in observed] == ["1990", "2023", "2024", "2025"]
    assert [r[provisional] for r in observed] == [no, no, yes, no]
    assert [r[estimated] for r in observed] == [no, no, no, yes]
    assert {r[estimated] for r in rows} <= {yes, no, ""} and yes in {r[estimated] for r in rows}
    assert "true" not in path.read_text(encoding="utf-8-sig").lower().split(";" if lang != "en" else ",")


# what a spreadsheet runs when a cell begins so (OWASP's CSV injection list), and what a reader must see
HOSTILE_CELLS = {
    "=1+1": "'=1+1",
    "@SUM(1)": "'@SUM(1)",
    "+41 9 123": "'+41 9 123",
    "-cmd|' /C calc'!A0": "'-cmd|' /C calc'!A0",
    "\tx": "'\tx",
    "-48% per resident since 1990": "\u221248% per resident since 1990",  # a change as English writes it
    "p": "p",  # a flag as the sources write them
    "−33 %": "−33 %",  # already the minus sign (fi, sv)
}


@pytest.mark.parametrize("lang", LANGS)
def test_no_csv_cell_is_a_formula_a_spreadsheet_would_run(lang: str, tmp_path: Path) -> None:
    """A source's flag "=1+1" had reached the public downloads as written; a change "-48% …" opened in Excel
    as a formula (#NAME?). Numbers stay numbers, negative ones too."""
    from report.export import export_text

    frame = pl.DataFrame({"text": list(HOSTILE_CELLS), "value": [-1.5] * len(HOSTILE_CELLS)})
    path = tmp_path / "cells.csv"
    weekly.write_csv(frame, path, lang)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="," if lang == "en" else ";"))
    assert [r["text"] for r in rows] == list(HOSTILE_CELLS.values())
    assert {r["value"] for r in rows} == {"-1.5" if lang == "en" else "-1,5"}
    exported = frame.with_columns(pl.lit([1], dtype=pl.List(pl.Int64)).alias("snapshot_ids"))
    rows = list(csv.DictReader(export_text(exported, "csv").splitlines()))
    assert [r["text"] for r in rows] == list(HOSTILE_CELLS.values())
    assert {r["value"] for r in rows} == {"-1.5"}
