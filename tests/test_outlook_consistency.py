"""The one message of the reports: the headline indicator first, one row order in every language."""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime
from html import escape as html_escape
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from common.helsinki import HELSINKI
from indicators.catalogue import (
    CATALOGUE_PATH,
    IndicatorCatalogue,
    load_indicator_catalogue,
    parse_indicator_catalogue,
)
from report import data as rd
from report import weekly


def test_catalogue_declares_the_headline_indicator() -> None:
    catalogue = load_indicator_catalogue()
    headline = [i for i, e in catalogue.indicators.items() if e.headline]
    assert headline == ["ghg_total"]
    # a breakdown follows its parent, before the next indicator of the catalogue
    keys = sorted(
        ["ghg_per_resident", "ghg_by_subsector.road_transport", "ghg_by_subsector", "ghg_total"],
        key=catalogue.display_key,
    )
    assert keys == ["ghg_total", "ghg_per_resident", "ghg_by_subsector", "ghg_by_subsector.road_transport"]


def test_dashboard_rows_lead_with_espoo_total_in_every_language(loaded_engine: Engine) -> None:
    orders = {}
    for lang in ("fi", "sv", "en"):
        frame = rd.dashboard_frame(loaded_engine, lang)
        ids = frame.select("indicator_id").unique(maintain_order=True)["indicator_id"].to_list()
        assert ids[0] == "ghg_total"
        assert frame.filter(pl.col("indicator_id") == "ghg_total")["area"].unique().to_list() == [rd.ESPOO]
        # breakdowns of one parent are contiguous: no other indicator between them
        parents = [i.split(".", 1)[0] for i in ids]
        seen: list[str] = []
        for parent in parents:
            if not seen or seen[-1] != parent:
                assert parent not in seen, f"{parent} interleaved with other indicators: {ids}"
                seen.append(parent)
        orders[lang] = ids
    assert orders["fi"] == orders["sv"] == orders["en"]


def test_breakdowns_are_folded_out_of_the_dashboard_and_its_count(
    loaded_engine: Engine, tmp_path: Path
) -> None:
    from report import charts

    main = rd.dashboard_frame(loaded_engine, "en")
    parts = rd.dashboard_frame(loaded_engine, "en", part="breakdowns")
    assert not main["indicator_id"].str.contains(".", literal=True).any()
    assert parts.height and parts["indicator_id"].str.contains(".", literal=True).all()
    catalogue = load_indicator_catalogue()
    assert {i.split(".")[0] for i in parts["indicator_id"]} <= set(catalogue.indicators)
    # the title counts the indicators of the dashboard, none of the breakdowns: those with a target and
    # those without, which together are every indicator of the dashboard
    targets = dict(main.select("indicator_id", "has_target").unique().iter_rows())
    with_target = sum(targets.values())
    meta = rd.chart_meta(loaded_engine, ["hsy_emissions"])
    text = charts.progress_dashboard(main, meta=meta, lang="en").to_dict()["title"]["text"]
    title = " ".join(text) if isinstance(text, list) else str(text)  # the title's lines, as one sentence
    without = len(targets) - with_target
    assert "with a target, " in title and f" of {with_target} make" in title, title
    assert f" of {without} make good progress by every method" in title, title
    # the report folds the breakdowns under the dashboard: a row each, in a <details> of their own
    html = weekly.build_report(
        loaded_engine, weekly.current_week(), lang="en", out_dir=tmp_path, images=False
    ).path.read_text(encoding="utf-8")
    folded = html.split('<details class="breakdowns">', 1)[1].split("</details>", 1)[0]
    names = parts.select("indicator").unique()["indicator"].to_list()
    assert all(html_escape(n) in folded for n in names)
    assert f"({len(names)} rows)" in folded


def test_headline_outlook_is_the_api_outlook(loaded_engine: Engine) -> None:
    """The headline's projection and year reached are the numbers kestava.api.outlook gives."""
    from kestava import api

    h = rd.headline(loaded_engine)
    found = api.outlook("ghg_total", area=rd.ESPOO, engine=loaded_engine)
    ols = found.filter(pl.col("method") == "ols", pl.col("target_year") == h.target_year).row(0, named=True)
    assert (ols["latest_year"], ols["latest_value"]) == (h.latest_year, h.latest_value)
    assert abs(ols["target_value"] - h.target_value) < 1e-6
    assert h.projected_value is not None and h.projected_lower is not None and h.projected_upper is not None
    assert abs(ols["projected_value"] - h.projected_value) < 1e-6
    assert (ols["projected_lower"], ols["projected_upper"]) == (h.projected_lower, h.projected_upper)
    assert ols["year_reached"] == h.year_reached
    # the pace the headline states (a fraction there, "−18.3 % a year" on the page) in % a year
    assert h.required_rate is not None and abs(ols["required_rate"] - h.required_rate * 100) < 1e-9
    # the band contains the projection
    assert h.projected_lower <= h.projected_value <= h.projected_upper


def test_trajectory_chart_draws_the_line_the_linear_path_status_states(loaded_engine: Engine) -> None:
    """The linear-path status names a path value for the latest year; the chart's base-year path passes it."""
    from report import charts, weekly
    from report.i18n import t

    h = rd.headline(loaded_engine)
    chart, _ = weekly._builders(loaded_engine, "fi", date.today())["emissions_trajectory"]()
    table = charts.chart_table(chart)
    name = t("trajectory.series_base_path", "fi", base_year=h.base_year, target_year=h.target_year)
    (y0, v0), (y1, v1) = table.filter(pl.col("series") == name).sort("year").select("year", "value").rows()
    assert (y0, y1) == (h.base_year, h.target_year) and abs(v1 - h.target_value) < 1e-6
    at_latest = v0 + (v1 - v0) * (h.latest_year - y0) / (y1 - y0)
    status = rd.status_frame(loaded_engine, "fi", areas=(h.area,), indicators=[h.indicator])
    reason = status.filter(pl.col("method") == "linear_trajectory_check")["reason"].item()
    assert rd.format_value(at_latest, h.unit, "fi") in reason


def test_trajectory_chart_projection_is_the_headline_projection(loaded_engine: Engine) -> None:
    """The chart's 2030 projection and 95 % band are the headline's (indicators.outlook, OLS)."""
    from report import charts, weekly
    from report.i18n import t

    h = rd.headline(loaded_engine)
    chart, _ = weekly._builders(loaded_engine, "en", date.today())["emissions_trajectory"]()
    table = charts.chart_table(chart)
    row = table.filter(
        pl.col("series") == t("trajectory.series_projection", "en", level="95%"),
        pl.col("year") == h.target_year,
    )
    assert h.projected_value is not None and h.projected_lower is not None and h.projected_upper is not None
    assert abs(row["value"].item() - h.projected_value) < 1e-6
    assert abs(row["lower"].item() - h.projected_lower) < 1e-6
    assert abs(row["upper"].item() - h.projected_upper) < 1e-6


def test_export_outlook_rows_are_the_headline_numbers(loaded_engine: Engine) -> None:
    """`kestava export` carries the outlook the reports state: projection, band, year reached, pace."""
    from report.export import export_table

    h = rd.headline(loaded_engine)
    table = export_table(loaded_engine, load_indicator_catalogue(), [h.indicator], area=h.area)
    outlook = table.filter(pl.col("indicator") == h.indicator, pl.col("kind").str.starts_with("outlook_"))
    by_kind = {r["kind"]: r for r in outlook.iter_rows(named=True)}
    assert set(by_kind) == {"outlook_projection", "outlook_year_reached", "outlook_required_rate"}
    assert {r["period"] for r in by_kind.values()} == {str(h.target_year)}
    projection = by_kind["outlook_projection"]
    assert h.projected_value is not None and h.projected_lower is not None and h.projected_upper is not None
    assert abs(projection["value"] - h.projected_value) < 1e-6
    assert abs(projection["lower"] - h.projected_lower) < 1e-6
    assert abs(projection["upper"] - h.projected_upper) < 1e-6
    assert projection["unit"] == h.unit and projection["method"] == "ols"
    reached = by_kind["outlook_year_reached"]["value"]
    assert (None if reached is None else int(reached)) == h.year_reached
    assert h.required_rate is not None
    assert abs(by_kind["outlook_required_rate"]["value"] - h.required_rate * 100) < 1e-9
    # traceable like every other row: the snapshots and the source of the latest observed value
    observed = table.filter(pl.col("kind") == "observed", pl.col("period") == str(h.latest_year))
    for row in by_kind.values():
        assert row["snapshot_ids"] == observed["snapshot_ids"].item().to_list()
        assert row["source"] and row["source"] == observed["source"].item()


def test_council_and_weekly_reports_state_the_same_outlook(loaded_engine: Engine, tmp_path: Path) -> None:
    """The half-yearly council report opens with the weekly report's headline numbers, in every language."""
    from report import weekly
    from report.i18n import format_number

    h = rd.headline(loaded_engine)
    assert h.projected_lower is not None and h.projected_upper is not None and h.projected_value is not None
    today = datetime.now(HELSINKI).date()
    running = weekly.parse_half(f"{today.year}-H{1 if today.month <= 6 else 2}")  # open: the data as loaded
    for lang in ("fi", "sv", "en"):
        council = weekly.build_report(
            loaded_engine, running, lang=lang, out_dir=tmp_path / "half", images=False
        )
        html = council.path.read_text(encoding="utf-8")
        for number in (h.projected_value, h.projected_lower, h.projected_upper, h.latest_value):
            assert format_number(number, lang) in html, (lang, number)
        assert str(h.year_reached) in html


# ---------------------------------------------------------------------------------------------------------
# the charts state the catalogue's commitment, as the headline does


def _catalogue_with(targets: dict[str, list[dict[str, object]]]) -> IndicatorCatalogue:
    """The indicator catalogue with other targets for some indicators (what a changed commitment is)."""
    with CATALOGUE_PATH.open("rb") as handle:
        raw = tomllib.load(handle)
    for indicator, declared in targets.items():
        raw["indicators"][indicator]["targets"] = declared
    return parse_indicator_catalogue(raw)


def test_emissions_charts_state_the_catalogues_target_as_the_headline_does(
    loaded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commitment changed in the catalogue (−70 % on 2005 by 2035) moves the headline and the trajectory,
    balance and waterfall charts alike: none of them keeps 1990, 2030 or 80 %."""
    from report import charts
    from report.i18n import format_number, format_percent, t

    changed = _catalogue_with(
        {
            "ghg_total": [
                {
                    "kind": "reduction_from_base",
                    "base_year": 2005,
                    "reduction": 0.70,
                    "year": 2035,
                    "areas": ["049"],
                    "source": "a changed commitment",
                }
            ]
        }
    )
    monkeypatch.setattr(rd, "load_indicator_catalogue", lambda: changed)
    history, _ = rd.trajectory_inputs(loaded_engine)
    base = history.filter(pl.col("year") == 2005)["value"].item()
    expected = base * (1 - 0.70)  # the rule of the catalogue, on the same data release
    h = rd.headline(loaded_engine)
    assert (h.base_year, h.target_year, h.reduction) == (2005, 2035, 0.70)
    assert abs(h.target_value - expected) < 1e-9

    built = weekly._builders(loaded_engine, "en", date.today())
    trajectory, _ = built["emissions_trajectory"]()
    table = charts.chart_table(trajectory)
    target = table.filter(pl.col("series") == t("trajectory.series_target", "en"))
    assert target.select("year", "value").rows() == [(2035, h.target_value)]
    base_path = table.filter(
        pl.col("series") == t("trajectory.series_base_path", "en", base_year=2005, target_year=2035)
    )
    assert base_path.sort("year").select("year", "value").rows() == [(2005, base), (2035, h.target_value)]
    spec = trajectory.to_dict()
    label = t(
        "trajectory.target_label",
        "en",
        year=2035,
        value=format_number(h.target_value, "en"),
        pct=format_percent(-70.0, "en"),
        base=2005,
    )
    assert json.dumps(label)[1:-1] in json.dumps(spec), label  # the target's label on the chart
    assert format_number(h.target_value, "en") in spec["description"]

    balance, _ = built["neutrality_balance"]()
    rows = {r["item"]: r for r in charts.chart_table(balance).iter_rows(named=True)}
    assert (rows["residual"]["year"], rows["residual"]["value"]) == (2035, h.target_value)
    assert "2035" in rows["residual"]["label"] and "2005" in rows["residual"]["label"]

    waterfall, _ = built["sector_waterfall"]()
    steps = charts.chart_table(waterfall)
    sectors = rd.sector_frame(loaded_engine)
    first = steps.row(0, named=True)
    assert first["step"] == t("waterfall.total_label", "en", year=2005)
    assert abs(first["end"] - sectors.filter(pl.col("year") == 2005)["value"].sum()) < 1e-9
    assert not steps["step"].str.contains("1990").any()


def test_circular_chart_marks_the_catalogues_recycling_targets(
    loaded_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recycling-rate targets drawn are those the catalogue declares, as declared and when changed."""
    from report import charts

    def drawn() -> list[tuple[int, float]]:
        chart, _ = weekly._builders(loaded_engine, "en", date.today())["circular_economy"]()
        table = charts.chart_table(chart).filter(pl.col("indicator_key") == "recycling_target")
        return table.sort("year").select("year", "value").rows()

    with CATALOGUE_PATH.open("rb") as handle:
        declared = tomllib.load(handle)["indicators"]["recycling_rate"]["targets"]
    assert drawn() == sorted((int(x["year"]), float(x["value"])) for x in declared)

    changed = [
        {"kind": "absolute", "value": 58.0, "year": 2028, "source": "a changed law"},
        {"kind": "absolute", "value": 70.0, "year": 2040, "source": "a changed law"},
    ]
    monkeypatch.setattr(rd, "load_indicator_catalogue", lambda: _catalogue_with({"recycling_rate": changed}))
    assert drawn() == [(2028, 58.0), (2040, 70.0)]


def test_the_lead_says_where_the_current_pace_leads_as_the_card_does(loaded_engine: Engine) -> None:
    """The lead's verdict on the target year (a staff reader's audit: the headline gave no one-line answer
    to "are we on track"): the same projection and year reached as the "At the current pace" card, in
    every language, and above the target as the numbers say."""
    from report import weekly
    from report.i18n import LANGS, format_number, t

    h = rd.headline(loaded_engine)
    assert h.projected_value is not None and h.projected_value > h.target_value  # the demo's case
    for lang in LANGS:
        context = weekly.headline_context(loaded_engine, lang)
        assert context is not None
        label = t("report.fig_projection", lang, year=h.target_year)
        card = next(f for f in context["figures"] if f["label"] == label)
        lead = str(context["lead"])
        projected = format_number(h.projected_value, lang)
        assert f"{projected}\u00a0kt" in lead and projected in str(card["value"]), (lead, card)
        assert str(h.year_reached) in lead and str(h.year_reached) in card["note"], (lead, card)
        assert {"fi": "tavoitetta suuremmat", "sv": "över målet", "en": "above the target"}[lang] in lead
