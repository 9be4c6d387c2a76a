"""A publisher's preliminary year is flagged provisional, and the next release that holds it clears the flag.

HSY and Syke publish their newest year as preliminary (SOURCES.md); the catalogue says so
(`provisional = "latest_period"`). Here a previous release is made from the bundled snapshot by removing
its newest year from HSY's workbook and from every Syke file; it is loaded and computed, then the bundled
snapshot (one year more) is loaded as the next release. The years are read from the payloads here, not
from the code under test.
"""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import pytest
from sqlalchemy import Engine, select

from common.flags import flag_meanings, is_provisional, normalised_flags, provisional_flags
from indicators.catalogue import ReductionTarget, load_indicator_catalogue
from indicators.engine import compute
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, read_manifest
from ingest.run import ingest
from kestava import api
from report import charts, weekly
from report import data as rd
from report.charts import ChartMeta, chart_table, indicator_history
from report.export import export_table
from report.i18n import LANGS, format_date, format_number, format_period, t
from storage import read, schema
from storage.engine import open_database
from storage.load import LoadResult
from storage.rawstore import RawStore
from tests.conftest import BACKENDS, LOADED_TODAY, fresh_database
from tests.test_revisions import _xlsx_rows

DATASETS = ["hsy_emissions", "syke_emissions"]
META = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 12, 1))
TARGET = ReductionTarget(kind="reduction_from_base", base_year=1990, reduction=0.8, year=2030, source="t")


def _files(folder: Path, dataset: str) -> list[Path]:
    return [folder / e.file for e in read_manifest(folder).exchanges if e.dataset == dataset]


def _drop_hsy_year(path: Path, year: int) -> None:
    """Remove every row of the year from the HSY workbook's sheet (row numbers may skip in XLSX)."""
    source, sheet, rows = _xlsx_rows(path)
    numbers = {number for _, y, number, _ in rows if y == year}
    assert numbers, f"no {year} rows in {path.name}"
    sheet = re.sub(
        r'<row r="(\d+)"[^>]*>.*?</row>',
        lambda m: "" if int(m.group(1)) in numbers else m.group(0),
        sheet,
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            name = item.filename
            target.writestr(item, sheet.encode() if name == "xl/worksheets/sheet1.xml" else source.read(name))
    path.write_bytes(out.getvalue())


def _syke_years(path: Path) -> set[int]:
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line]
    column = lines[0].split(";").index("vuosi")
    return {int(line.split(";")[column]) for line in lines[1:]}


def _drop_syke_year(path: Path, year: int) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    column = lines[0].split(";").index("vuosi")
    kept = [lines[0]] + [line for line in lines[1:] if not line or int(line.split(";")[column]) != year]
    path.write_text("\n".join(kept), encoding="utf-8")


@dataclass
class Releases:
    """Observed values after the previous release and after the next one, and the two newest years."""

    engine: Engine
    hsy_newest: int
    syke_newest: int
    before: pl.DataFrame
    after: pl.DataFrame
    provisional_rows: dict[
        str, int
    ]  # each dataset's current rows flagged provisional before the next release
    results: dict[str, LoadResult]  # the next release's loads


@pytest.fixture(scope="module", params=BACKENDS)
def releases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Releases]:
    folder = tmp_path_factory.mktemp("provisional")
    previous = folder / "previous"
    shutil.copytree(DEFAULT_SNAPSHOT_DIR, previous)
    (workbook,) = [p for p in _files(previous, "hsy_emissions") if p.suffix == ".xlsx"]
    hsy_newest = max(y for _, y, _, _ in _xlsx_rows(workbook)[2])
    _drop_hsy_year(workbook, hsy_newest)
    syke_files = [p for p in _files(previous, "syke_emissions") if p.suffix == ".csv"]
    syke_newest = max(max(_syke_years(p)) for p in syke_files)
    for path in syke_files:
        _drop_syke_year(path, syke_newest)
    with fresh_database(request.param, folder) as url:
        engine = open_database(url)
        raw = RawStore(folder / "raw")
        first = ingest(engine, raw, offline=True, snapshot_dir=previous)
        assert all(o.ok for o in first), [(o.dataset_id, o.error) for o in first if not o.ok]
        assert not compute(engine, today=LOADED_TODAY).errors
        before = api.indicator_values(kind="observed", engine=engine)
        provisional_rows = {
            d: read.observations(engine, d).filter(is_provisional(pl.col("flag"))).height for d in DATASETS
        }
        second = ingest(engine, raw, DATASETS, offline=True)
        assert {o.dataset_id: o.outcome for o in second} == dict.fromkeys(DATASETS, "success")
        results = {o.dataset_id: o.result for o in second if o.result is not None}
        assert not compute(engine, today=LOADED_TODAY).errors
        after = api.indicator_values(kind="observed", engine=engine)
        yield Releases(engine, hsy_newest, syke_newest, before, after, provisional_rows, results)
        engine.dispose()


def _flags(frame: pl.DataFrame, indicator: str, area: str) -> dict[int, str | None]:
    rows = frame.filter(pl.col("indicator") == indicator, pl.col("area") == area)
    return dict(zip(rows["year"].to_list(), rows["flags"].to_list(), strict=True))


def _provisional(flags: str | None) -> bool:
    return "provisional" in flag_meanings(flags)


def test_the_newest_year_of_a_release_is_provisional_and_no_other(releases: Releases) -> None:
    for frame, hsy_newest, syke_newest in (
        (releases.before, releases.hsy_newest - 1, releases.syke_newest - 1),
        (releases.after, releases.hsy_newest, releases.syke_newest),
    ):
        for indicator, newest in (("ghg_total", hsy_newest), ("syke_ghg_total", syke_newest)):
            flags = _flags(frame, indicator, "049")
            assert max(flags) == newest, (indicator, sorted(flags))
            assert [y for y, f in flags.items() if _provisional(f)] == [newest], (indicator, flags)


def test_the_next_release_makes_the_preliminary_year_final_with_its_number_kept(releases: Releases) -> None:
    year = releases.hsy_newest - 1
    before = releases.before.filter(pl.col("indicator") == "ghg_total", pl.col("year") == year)
    after = releases.after.filter(pl.col("indicator") == "ghg_total", pl.col("year") == year)
    assert before.height == after.height > 0
    joined = before.join(after, on="area", suffix="_after")
    assert (
        joined["value"] == joined["value_after"]
    ).all()  # the bundled release did not revise 2023's numbers
    assert all(_provisional(f) for f in joined["flags"])
    assert not any(_provisional(f) for f in joined["flags_after"])


def test_the_year_made_final_counts_as_confirmed_not_revised_and_its_history_is_kept(
    releases: Releases,
) -> None:
    obs, series, snap, runs = schema.observation, schema.series, schema.snapshot, schema.job_run
    for dataset in DATASETS:
        result = releases.results[dataset]
        provisional = releases.provisional_rows[dataset]
        assert provisional > 0, dataset
        counts = (result.revised, result.confirmed, result.reflagged)
        assert counts == (0, provisional, 0), (dataset, result.summary())
        assert result.added > 0, dataset  # the new year
        assert f"{provisional} provisional confirmed" in result.summary()
        with releases.engine.connect() as conn:
            stored = conn.execute(
                select(snap.c.rows_revised, snap.c.rows_confirmed, snap.c.rows_reflagged).where(
                    snap.c.id == result.snapshot_id
                )
            ).one()
            closed = conn.execute(
                select(obs.c.period, obs.c.flag)
                .join(series, series.c.id == obs.c.series_id)
                .where(series.c.dataset_id == dataset, obs.c.valid_to.is_not(None))
            ).all()
        assert tuple(stored) == (0, provisional, 0), dataset
        with releases.engine.connect() as conn:
            run = conn.execute(
                select(runs.c.rows_revised, runs.c.rows_confirmed, runs.c.rows_reflagged).where(
                    runs.c.snapshot_id == result.snapshot_id, runs.c.outcome == "success"
                )
            ).one()
        assert tuple(run) == (0, provisional, 0), dataset  # the job run records the same counts
        # history kept: every provisional row closed (its successor, the same number, is current)
        assert len(closed) == provisional, dataset
        newest = str((releases.hsy_newest if dataset == "hsy_emissions" else releases.syke_newest) - 1)
        assert {period for period, _ in closed} == {newest}, dataset
        assert all(flag is not None and "p" in flag.split(",") for _, flag in closed), dataset


def _snapshot_changes(releases: Releases) -> rd.Changes:
    """The report's changes over both releases (each snapshot's counts as loaded)."""
    end = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1)
    return rd.changes(releases.engine, datetime(2000, 1, 1), end, lang="en")


def test_only_a_datasets_first_snapshot_is_its_first_load(releases: Releases) -> None:
    """Two releases of each dataset: the first is the dataset's first load (nothing to compare with), the
    second a change; a window that starts after the first release still knows the second is no first load."""
    found = _snapshot_changes(releases).snapshots.filter(pl.col("dataset_id").is_in(DATASETS))
    by_dataset = found.sort("snapshot_id").group_by("dataset_id", maintain_order=True).agg("first_load")
    assert {r["dataset_id"]: r["first_load"] for r in by_dataset.iter_rows(named=True)} == {
        dataset: [True, False] for dataset in DATASETS
    }
    stored = read.snapshots(releases.engine).sort("id")  # fetch times in naive UTC, as the window is
    for dataset in DATASETS:
        second = stored.filter(pl.col("dataset_id") == dataset).row(1, named=True)
        later = rd.loaded_snapshots(releases.engine, second["fetched_at"])
        assert later.filter(pl.col("dataset_id") == dataset).select("id", "first_load").rows() == [
            (second["id"], False)
        ]


@pytest.mark.parametrize("lang", LANGS)
def test_what_changed_says_provisional_values_were_confirmed_not_revised(
    releases: Releases, lang: str
) -> None:
    found = _snapshot_changes(releases)
    context = weekly._changes_context(found, weekly.current_week(), lang)
    latest = (
        found.snapshots.filter(pl.col("dataset_id").is_in(DATASETS))
        .group_by("dataset_id")
        .agg(pl.all().sort_by("snapshot_id").last())
    )
    assert latest.height == len(DATASETS)
    for r in latest.iter_rows(named=True):
        rows = format_number(releases.provisional_rows[r["dataset_id"]], lang)
        date_text = format_date(r["fetched_at"], lang)
        label = rd.dataset_label(r["dataset_id"], lang, r["title"])
        confirmed = t("report.confirmed_item", lang, dataset=label, rows=rows, date=date_text)
        assert confirmed in context["revised"], (confirmed, context["revised"])
        # no item claims that this release revised values
        revised = t("report.revised_item", lang, dataset=label, rows=rows, date=date_text)
        assert revised not in context["revised"]
        assert not any(
            item.startswith(f"{label}: ") and date_text in item
            for item in context["revised"]
            if item != confirmed
        ), context["revised"]
    assert not context["values_revised"]
    table = context["new_data"]
    confirmed_column = table.headers.index(t("report_col.rows_confirmed", lang))
    revised_column = table.headers.index(t("report_col.rows_revised", lang))
    shown = [(row[revised_column], row[confirmed_column]) for row in table.rows]
    for r in latest.iter_rows(named=True):
        assert ("0", format_number(releases.provisional_rows[r["dataset_id"]], lang)) in shown, shown


def test_the_built_report_says_no_value_was_revised_and_names_the_confirmed_ones(
    releases: Releases, tmp_path_factory: pytest.TempPathFactory
) -> None:
    found = _snapshot_changes(releases)
    fetched = found.snapshots.filter(pl.col("snapshot_id") == releases.results["syke_emissions"].snapshot_id)
    week = weekly.current_week(fetched["fetched_at"].item().date())
    (built,) = weekly.build_reports(
        releases.engine, week, ("en",), out_dir=tmp_path_factory.mktemp("changes"), images=False
    ).values()
    html = built.path.read_text(encoding="utf-8")
    section = html[html.index('id="changes"') :]
    section = section[: section.index("</section>")]
    assert t("report.revised_none", "en") in section
    assert "provisional values confirmed, numbers unchanged" in section
    assert "previously published values revised" not in section


def test_the_site_vintages_table_counts_the_year_made_final_apart_from_revisions(releases: Releases) -> None:
    from report.site.content import SiteData, _vintages

    entry = load_indicator_catalogue().get("ghg_total")
    for lang in LANGS:
        published, _revisions = _vintages(SiteData(releases.engine), entry, "049", lang)
        assert published is not None
        headers = published.headers
        revised = headers.index(t("site.col_revised", lang))
        confirmed = headers.index(t("site.col_confirmed", lang))
        reflagged = headers.index(t("site.col_reflagged", lang))
        snapshot = headers.index(t("site.col_snapshot", lang))
        by_snapshot = {row[snapshot]: row for row in published.rows}
        latest = by_snapshot[str(releases.results["hsy_emissions"].snapshot_id)]
        expected = format_number(releases.provisional_rows["hsy_emissions"], lang)
        assert (latest[revised], latest[confirmed], latest[reflagged]) == ("0", expected, "0"), latest


def test_values_from_a_provisional_year_carry_the_flag_through_ratios_and_indexes(releases: Releases) -> None:
    for indicator in ("ghg_per_resident", "ghg_index", "ghg_by_sector.transport"):
        flags = _flags(releases.after, indicator, "049")
        assert _provisional(flags[releases.hsy_newest]), (indicator, flags)
        assert not _provisional(flags[releases.hsy_newest - 1]), (indicator, flags)


def test_computed_kinds_carry_no_source_flags(releases: Releases) -> None:
    computed = api.indicator_values("ghg_total", area="049", engine=releases.engine).filter(
        pl.col("kind") != "observed"
    )
    assert computed.height > 0
    assert computed["flags"].null_count() == computed.height


def test_the_export_says_which_values_are_provisional(releases: Releases) -> None:
    table = export_table(releases.engine, load_indicator_catalogue(), ["ghg_total"], area="049")
    observed = table.filter(pl.col("kind") == "observed")
    flagged = observed.filter(pl.col("flags").str.contains("p"))
    assert flagged["period"].to_list() == [str(releases.hsy_newest)]


def test_normalised_flags_are_sorted_unique_and_null_when_empty() -> None:
    frame = pl.DataFrame({"flags": ["p,e,p", "", None, "b", "neg,p"]})
    assert frame.select(normalised_flags(pl.col("flags")).alias("flags"))["flags"].to_list() == [
        "e,p",
        None,
        None,
        "b",
        "neg,p",
    ]


def test_flag_meanings_read_both_eurostat_and_sdmx_spellings() -> None:
    assert flag_meanings("p") == flag_meanings("P") == ("provisional",)
    assert flag_meanings("b,e") == ("estimated", "break")
    # Eurostat combines letters in one code (rOpenGov/eurostat#87: "bu"; datacommonsorg/data#2053: "bep")
    assert flag_meanings("bp") == ("provisional", "break")
    assert flag_meanings("bep") == ("provisional", "estimated", "break")
    assert flag_meanings("bu") == ("break", "low_reliability")
    # other sources' codes are read whole: HSY's kept negative value is not n + e (estimated) + g
    assert flag_meanings("neg") == ()
    assert flag_meanings("partial") == ("incomplete",)
    assert flag_meanings("..") == ()
    assert flag_meanings(None) == ()


def test_is_provisional_reads_codes_as_flag_meanings_does() -> None:
    texts = ["p", "P", "bp", "e,bep", "neg", "neg,p", "partial", "e", "E", None, ""]
    frame = pl.DataFrame({"flags": texts}, schema={"flags": pl.String})
    found = frame.select(is_provisional(pl.col("flags")))["flags"].to_list()
    assert found == ["provisional" in flag_meanings(text) for text in texts]
    assert found == [True, True, True, True, False, True, False, False, False, False, False]


def test_provisional_flags_keep_a_flag_the_source_gave() -> None:
    frame = pl.DataFrame({"period": ["2023", "2024", "2024", "2024"], "flag": [None, None, "neg", "p"]})
    assert provisional_flags(frame, ["2024"])["flag"].to_list() == [None, "p", "neg,p", "p"]


# --------------------------------------------------------------------------------------------------
# what the reader sees: hand-made frames, the words from the translations


def _trajectory(provisional: list[bool], lang: str) -> dict[str, Any]:
    history = pl.DataFrame(
        {
            "year": [1990, 2022, 2023, 2024],
            "value": [1000.0, 750.0, 720.0, 700.0],
            "provisional": provisional,
        }
    )
    return charts.emissions_trajectory(history, meta=META, target=TARGET, lang=lang).to_dict()


def _point_fill(spec: dict[str, Any]) -> dict[str, Any]:
    layer = next(
        u for u in spec["layer"] if u.get("mark", {}).get("type") == "point" and "fill" in u["encoding"]
    )
    fill: dict[str, Any] = layer["encoding"]["fill"]
    return fill


@pytest.mark.parametrize("lang", LANGS)
def test_the_trajectory_names_a_provisional_latest_year_in_title_text_legend_and_table(lang: str) -> None:
    spec = _trajectory([False, False, False, True], lang)
    title = spec["title"]["text"]
    assert title.endswith(t("trajectory.title_provisional", lang)), title
    assert t("trajectory.description_provisional", lang, year=2024) in spec["description"]
    fill = _point_fill(spec)
    assert fill["scale"]["domain"] == [
        t("site.kind_observed", lang),
        t("trajectory.provisional", lang),
        t("site.kind_estimate", lang),
    ]
    assert fill["scale"]["range"][1] != fill["scale"]["range"][0]  # drawn unlike a final figure
    spec_chart = charts.emissions_trajectory(
        pl.DataFrame({"year": [1990, 2024], "value": [1000.0, 700.0], "provisional": [False, True]}),
        meta=META,
        target=ReductionTarget(
            kind="reduction_from_base", base_year=1990, reduction=0.8, year=2030, source="t"
        ),
        lang=lang,
    )
    table = chart_table(spec_chart)
    history = table.filter(pl.col("series") == t("trajectory.series_history", lang))
    assert dict(zip(history["year"], history["provisional"], strict=True)) == {1990: False, 2024: True}


def test_a_trajectory_without_provisional_years_keeps_its_two_statuses() -> None:
    spec = _trajectory([False, False, False, False], "fi")
    assert _point_fill(spec)["scale"]["domain"] == [
        t("site.kind_observed", "fi"),
        t("site.kind_estimate", "fi"),
    ]
    assert t("trajectory.title_provisional", "fi") not in spec["title"]["text"]


def test_the_site_chart_says_which_values_are_provisional_or_otherwise_flagged() -> None:
    frame = pl.DataFrame(
        {
            "period": ["1990", "2023", "2024", "2030"],
            "date": [date(1990, 1, 1), date(2023, 1, 1), date(2024, 1, 1), date(2030, 1, 1)],
            "kind": ["observed", "observed", "observed", "target"],
            "value": [1000.0, 720.0, 700.0, 200.0],
            "flags": [None, "e", "bp", "p"],  # a target's flags are never a reader's note
        }
    )

    def draw(frame: pl.DataFrame, lang: str) -> alt.LayerChart:
        names = {"name": "Emissions", "area_name": "Espoo", "unit_text": "kt"}
        return indicator_history(frame, meta=META, lang=lang, zero=True, decimals=None, **names)

    chart = draw(frame, "en")
    spec = chart.to_dict()
    assert spec["title"]["text"].endswith(t("trajectory.title_provisional", "en"))
    assert t("site.description_provisional", "en", period="2024") in spec["description"]
    assert t("site.description_provisional", "en", period="2023") not in spec["description"]
    notes = chart_table(chart)["note"].to_list()
    assert notes == [
        "",
        t("flag.estimated", "en"),
        f"{t('flag.provisional', 'en')}; {t('flag.break', 'en')}",
        "",
    ]
    tips = [tip["field"] for layer in spec["layer"] for tip in layer.get("encoding", {}).get("tooltip", [])]
    assert "note" in tips
    # the downloads' and the page table's header, in each language
    for lang in LANGS:
        translated = draw(frame, lang)
        headers = chart_table(translated, translated_headers=True)
        assert headers.columns[-1] == t("column.note", lang)
    plain = draw(frame.drop("flags"), "en")
    assert "note" not in chart_table(plain).columns
    assert not plain.to_dict()["title"]["text"].endswith(t("trajectory.title_provisional", "en"))


def test_the_headline_says_the_latest_figure_is_provisional(releases: Releases) -> None:
    headline = rd.headline(releases.engine)
    assert headline.latest_year == releases.hsy_newest
    assert headline.latest_provisional
    for lang in LANGS:
        context = weekly.headline_context(releases.engine, lang)
        assert context is not None
        assert context["lead"].endswith(t("report.headline_provisional", lang, year=releases.hsy_newest))
        assert context["figures"][0]["note"] == t("report.fig_latest_provisional", lang)


def test_every_report_chart_over_a_provisional_year_says_so(
    releases: Releases, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert rd.provisional_years(rd.sector_frame(releases.engine)) == [releases.hsy_newest]
    assert rd.provisional_years(rd.per_resident_frame(releases.engine)) == [releases.syke_newest]
    folder = tmp_path_factory.mktemp("report")
    (built,) = weekly.build_reports(
        releases.engine, weekly.current_week(), ("en",), out_dir=folder, images=False
    ).values()
    by_name = {c.name: c for c in built.charts}
    hsy = t("provisional.years", "en", years=str(releases.hsy_newest))
    syke = t("provisional.years", "en", years=str(releases.syke_newest))
    suffix = t("trajectory.title_provisional", "en")
    for name, sentence in (
        ("sector_area", hsy),
        ("sector_waterfall", hsy),
        ("per_resident_comparison", syke),
        ("neutrality_balance", hsy),
    ):
        chart = by_name[name]
        assert chart.error is None, (name, chart.error)
        assert chart.alt.endswith(sentence) or sentence in chart.alt, (name, chart.alt)
        if name != "neutrality_balance":  # its title is about the target year
            assert chart.title.endswith(suffix), (name, chart.title)
    assert by_name["emissions_trajectory"].title.endswith(suffix)


def test_the_site_revision_table_shows_a_preliminary_figure_made_final(releases: Releases) -> None:
    from report.site.content import SiteData, _vintages

    entry = load_indicator_catalogue().get("ghg_total")
    _published, revisions = _vintages(SiteData(releases.engine), entry, "049", "en")
    assert revisions is not None
    year = format_period(str(releases.hsy_newest - 1), "en")
    rows = [row for row in revisions.rows if row[2] == year]
    assert rows, revisions.rows
    provisional = f"({t('flag.provisional', 'en')})"
    for row in rows:
        old, new = str(row[3]), str(row[4])
        assert old.endswith(provisional), row  # the earlier row was the preliminary figure
        assert new == old.removesuffix(provisional).strip(), row  # the same number, now final
