"""Writes the analyst notebooks in notebooks/ (without outputs) from the cell sources below.

    .venv/bin/python -m scripts.make_notebooks

Edit the cells here, or edit the notebooks in Jupyter and clear their outputs before committing.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

FOLDER = Path(__file__).resolve().parent.parent / "notebooks"

SETUP = """\
import altair as alt
import polars as pl

from kestava import api
from report import charts, data

alt.renderers.enable("svg")  # static output: works offline and in executed notebooks
engine = api.connect()  # KESTAVA_DATABASE_URL, or the embedded SQLite file
LANG = "en"  # fi, sv or en for chart texts"""

ROAD_TO_2030 = [
    (
        "markdown",
        "# Espoo's road to 2030\n\n"
        "Espoo aims to cut its territorial greenhouse gas emissions by 80 % from 1990 by 2030 (HSY's "
        "Helsinki-region calculation). This notebook shows where Espoo stands, the trajectory, the sectors, and "
        "what each sector must still cut. It uses only the tracker's public API (`kestava.api`, `report.data`, "
        "`report.charts`) and works on whatever database `KESTAVA_DATABASE_URL` points at.",
    ),
    ("code", SETUP),
    (
        "markdown",
        "## Where Espoo stands\nThe target is derived from the 1990 value of the same data release.",
    ),
    (
        "code",
        'outlook = api.outlook("ghg_total", area="049")\n'
        "outlook.select(\n"
        '    "method", "latest_year", "latest_value", "target_year", "target_value", "gap", "required_rate",\n'
        '    "required_change_per_year", "projected_value", "projected_lower", "projected_upper", "year_reached",\n'
        '    "overshoot",\n'
        ")",
    ),
    (
        "markdown",
        "## Trajectory\n"
        "History against the two straight lines to the 2030 target, and the trend projection: the target path "
        "from 1990 (the line the target-path status compares with) and the required path from the latest "
        "published year (its slope is the outlook's `required_change_per_year`).",
    ),
    (
        "code",
        'history, projection = data.trajectory_inputs(engine, "049")\n'
        'meta = data.chart_meta(engine, ["hsy_emissions"])\n'
        'target = data.reduction_target("049")  # the commitment, as the indicator catalogue declares it\n'
        "charts.emissions_trajectory(history, projection, meta=meta, target=target, lang=LANG)",
    ),
    ("markdown", "## Sectors"),
    (
        "code",
        'sectors = data.sector_frame(engine, "049")\ncharts.sector_area(sectors, meta=meta, lang=LANG)',
    ),
    ("code", "charts.sector_waterfall(sectors, meta=meta, base_year=target.base_year, lang=LANG)"),
    (
        "markdown",
        "## What each sector must still cut\n"
        "If every sector cut in proportion to its current size, this is what remains to be cut by 2030.",
    ),
    (
        "code",
        'row = outlook.filter(pl.col("method") == "ols").row(0, named=True)\n'
        'latest = sectors.filter(pl.col("year") == row["latest_year"])\n'
        'share_to_cut = 1 - row["target_value"] / row["latest_value"]\n'
        "still_to_cut = latest.select(\n"
        '    "sector",\n'
        '    pl.col("value").alias("latest_kt"),\n'
        '    (pl.col("value") / pl.col("value").sum() * 100).alias("share_pct"),\n'
        '    (pl.col("value") * share_to_cut).alias("cut_by_2030_kt"),\n'
        ').sort("latest_kt", descending=True)\n'
        "# the cuts add up to the gap before they are rounded for display (rounded, they may not)\n"
        'assert abs(still_to_cut["cut_by_2030_kt"].sum() - row["gap"]) < 1e-6 * max(1.0, row["gap"])\n'
        'still_to_cut.with_columns(pl.col("share_pct", "cut_by_2030_kt").round(1))',
    ),
    (
        "markdown",
        "## Carbon-neutrality balance\nResidual emissions to offset against the carbon-sink estimate.",
    ),
    (
        "code",
        'emissions, sinks = data.balance_frames(engine, "049")\n'
        "charts.neutrality_balance(emissions, sinks, meta=meta, target=target, lang=LANG)",
    ),
]

COMPARE = [
    (
        "markdown",
        "# Comparing municipalities (Syke ALas)\n\n"
        "Any municipalities by name (Finnish or Swedish) or Statistics Finland code. Syke's figures follow its own accounting rules "
        "and differ from HSY's; Espoo's own target uses HSY.",
    ),
    ("code", SETUP),
    (
        "code",
        "# pick municipalities by name (Finnish or Swedish) or code, resolved as api.compare resolves them\n"
        'picked = ["Espoo", "Helsingfors", "Vantaa", "Kauniainen", "Tampere", "Åbo", "564"]\n'
        'areas = api.compare("syke_ghg_per_resident", picked)["area"].unique().sort().to_list()\n'
        "areas",
    ),
    ("markdown", "## Emissions per resident"),
    (
        "code",
        "per_resident = data.per_resident_frame(engine, areas)\n"
        'meta = data.chart_meta(engine, ["syke_emissions", "statfin_population"])\n'
        "charts.per_resident_comparison(per_resident, meta=meta, lang=LANG)",
    ),
    ("markdown", "## Change since 2005 by accounting rule"),
    (
        "code",
        'rules = ["syke_ghg_total", "syke_ghg_hinku", "syke_ghg_non_ets"]\n'
        'values = api.indicator_values(rules, area=areas, kind="observed").filter(pl.col("year").is_in([2005, 2024]))\n'
        'wide = values.pivot(on="year", index=["indicator", "area"], values="value")\n'
        "# the 2024 figures' flags (p: provisional, api.flag_meanings says each), kept beside the change\n"
        'flags_2024 = values.filter(pl.col("year") == 2024).select("indicator", "area", pl.col("flags").alias("flags_2024"))\n'
        "names = api.area_names(LANG)\n"
        'wide.join(flags_2024, on=["indicator", "area"], how="left").with_columns(\n'
        '    ((pl.col("2024") / pl.col("2005") - 1) * 100).round(1).alias("change_pct"),\n'
        '    pl.col("area").replace_strict(names).alias("name"),\n'
        ').sort("indicator", "change_pct")',
    ),
    (
        "markdown",
        "## Provenance of the numbers above\nThe per-resident chart's and the change table's: each snapshot "
        "behind them, with its dataset, licence and the files (payloads) it was read from.",
    ),
    (
        "code",
        'ids = sorted(set(values["snapshot_ids"].explode().to_list()) | set(per_resident["snapshot_ids"].explode().to_list()))\n'
        "# one row per payload (each file's URL and fetch time): grouped here into one row per snapshot\n"
        'api.provenance(ids).group_by("snapshot_id", "dataset_id", "publisher", "licence", "is_demo").agg(\n'
        '    pl.len().alias("payloads"), pl.col("fetched_at").max(), pl.col("url").sort().alias("urls")\n'
        ').sort("snapshot_id")',
    ),
]

STATUS = [
    (
        "markdown",
        "# SDG and circular-economy status, methods side by side\n\n"
        "Every indicator assessed by each published method: Eurostat SDG monitoring, Open SDG (Statistics "
        "Canada), SDSN trend arrows, the German sustainability strategy rule and the tracker's check against "
        "the target path (the straight line from the base year's value to the target).",
    ),
    ("code", SETUP),
    (
        "code",
        'assessed = api.assessments(area=["049", "FI", "EU27_2020"])\n'
        'side_by_side = assessed.pivot(on="method", index=["indicator", "area"], values="status")\n'
        "side_by_side",
    ),
    (
        "markdown",
        "## Why a status is what it is\nEvery assessment keeps its inputs and intermediate numbers.",
    ),
    (
        "code",
        'assessed.filter(pl.col("indicator") == "ghg_total", pl.col("area") == "049").select(\n'
        '    "method", "status", "base_year", "base_value", "latest_year", "latest_value", "target_value",\n'
        '    "observed_rate", "required_rate", "rate_unit", "pace_ratio", "deviation_pct", "n_points",\n'
        ")  # rates in their rate_unit; pace_ratio and deviation_pct as the report shows them",
    ),
    (
        "code",
        "dashboard = data.dashboard_frame(engine, LANG)\n"
        "# cite the snapshots the statuses were computed from\n"
        "meta = data.chart_meta(engine, snapshot_ids=data.assessed_snapshot_ids(engine, dashboard))\n"
        "charts.progress_dashboard(dashboard, meta=meta, lang=LANG)",
    ),
    ("markdown", "## Circular economy: Finland against the EU"),
    (
        "code",
        "circular = data.circular_frame(engine)\n"
        'meta = data.chart_meta(engine, ["eurostat_cei_wm011", "eurostat_cei_pc031"])\n'
        'targets = data.absolute_targets("recycling_rate", "FI")  # the EU targets the catalogue declares\n'
        "charts.circular_economy(circular, meta=meta, targets=targets, lang=LANG)",
    ),
    (
        "markdown",
        "## Statuses as of an earlier vintage\nWhat the assessment would have said with the data held at the "
        "earliest fetch behind today's values, beside today's statuses. On a freshly loaded database every "
        "value comes from one fetch: that is today's data, and both columns are the same. Once the tracker "
        "has fetched a revised or newer release, they can differ.",
    ),
    (
        "code",
        'vintages = api.indicator_values("ghg_total", area="049", kind="observed")["vintage"].unique().sort()\n'
        "earliest = vintages.min()\n"
        'print(f"{vintages.len()} vintage(s) behind today\'s values; the earliest: {earliest}")\n'
        'then = api.assess_at(earliest, ["ghg_total"]).filter(pl.col("area") == "049")\n'
        'now = api.assessments("ghg_total", area="049")\n'
        'then.select("method", pl.col("status").alias("status_then")).join(\n'
        '    now.select("method", pl.col("status").alias("status_now")), on="method", how="full", coalesce=True\n'
        ').sort("method")',
    ),
]


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook with the given (kind, source) cells and a Python 3 kernel, without outputs."""
    book = nbformat.v4.new_notebook()
    book.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    book.cells = [
        nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
        for kind, source in cells
    ]
    for index, cell in enumerate(book.cells):
        cell["id"] = f"cell-{index:02d}"
    return book


NOTEBOOKS = {
    "01_espoo_road_to_2030.ipynb": ROAD_TO_2030,
    "02_compare_municipalities.ipynb": COMPARE,
    "03_sdg_and_circular_status.ipynb": STATUS,
}


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), FOLDER / name)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main()
