"""The site's indicator chart: latest value and change in the title, gaps never bridged, kinds apart."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from report import charts
from report import theme as th
from report.charts import ChartMeta, chart_decimals, chart_table, indicator_history
from report.charts.indicator import LABEL_GAP
from report.i18n import t
from report.weekly import frame_table
from tests import test_charts

META = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 12, 1))


def _frame(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "period": [p for p, _, _ in rows],
            "date": [date(int(p), 1, 1) for p, _, _ in rows],
            "kind": [k for _, k, _ in rows],
            "value": [v for _, _, v in rows],
        }
    )


def test_the_title_states_the_latest_observed_value_and_the_change_since_the_first() -> None:
    frame = _frame([("1990", "observed", 1000.0), ("2024", "observed", 700.0), ("2030", "target", 200.0)])
    chart = indicator_history(
        frame, meta=META, lang="en", name="Emissions", area_name="Espoo", unit_text="kt"
    )
    assert chart.to_dict()["title"]["text"] == "Espoo: Emissions 700\u00a0kt (2024), -30% since 1990"


def test_a_gap_in_an_annual_series_breaks_the_line() -> None:
    frame = _frame([("1990", "observed", 10.0), ("2000", "observed", 8.0), ("2001", "observed", 7.0)])
    chart = indicator_history(frame, meta=META, lang="en", name="n", area_name="a", unit_text="u")
    spec = chart.to_dict()
    (data,) = [rows for rows in spec["datasets"].values() if "segment" in rows[0]]
    assert [row["segment"] for row in data] == [0, 1, 1]
    line = next(layer for layer in spec["layer"] if layer.get("mark", {}).get("type") == "line")
    assert line["encoding"]["detail"]["field"] == "segment"
    # and the gap says so, as the report's charts write it (the site drew an empty gap)
    (labels,) = [rows for rows in spec["datasets"].values() if "label" in rows[0]]
    assert [row["label"] for row in labels] == [t("gap.label", "en", years="1991–1999")]
    assert t("gap.description", "en", years="1991–1999") in spec["description"]


def test_the_table_names_each_kind_in_the_charts_language() -> None:
    frame = _frame([("2023", "observed", 5.0), ("2024", "estimate", 4.0), ("2030", "target", 1.0)])
    chart = indicator_history(frame, meta=META, lang="fi", name="n", area_name="a", unit_text="u")
    assert chart_table(chart).get_column("kind_name").to_list() == [
        "Havaittu",
        "Seurannan oma arvio",
        "Tavoite",
    ]


def test_a_value_derived_from_the_target_or_an_assumption_is_never_named_an_observation() -> None:
    # compensation_need (20 % of 1990, for 2030) and carbon_sink_estimate (21 % of 2019) read "Havaittu"
    frame = _frame([("2030", "observed", 212.0)])
    for kind, names in (
        ("target_derived", ("Tavoitteesta johdettu", "Härlett ur målet", "Derived from the target")),
        ("assumption", ("Oletus", "Antagande", "Assumption")),
    ):
        for lang, name in zip(("fi", "sv", "en"), names, strict=True):
            chart = indicator_history(
                frame, meta=META, lang=lang, name="n", area_name="a", unit_text="u", observed_as=kind
            )
            assert chart_table(chart).get_column("kind_name").to_list() == [name]
            legend = _legend(chart.to_dict())
            assert name in legend and not {"Havaittu", "Observerat", "Observed"} & legend.keys(), legend


def test_a_kind_the_chart_does_not_know_is_refused() -> None:
    frame = _frame([("2023", "observed", 5.0), ("2024", "guess", 4.0)])
    with pytest.raises(ValueError, match="unknown kinds"):
        indicator_history(frame, meta=META, lang="en", name="n", area_name="a", unit_text="u")


def test_the_straight_path_runs_from_the_base_year_to_the_target() -> None:
    frame = _frame(
        [
            ("1990", "observed", 1060.0),
            ("2024", "observed", 712.0),
            ("2030", "target", 212.0),
            ("1990", "path", 1060.0),
            ("2030", "path", 212.0),
        ]
    )
    chart = indicator_history(frame, meta=META, lang="en", name="n", area_name="a", unit_text="kt")
    table = chart_table(chart).filter(pl.col("kind_name") == "Target path")
    assert table.select("period", "value").rows() == [("1990", 1060.0), ("2030", 212.0)]
    assert _legend(chart.to_dict())["Target path"]["strokeDash"] == [2, 3]  # dotted


def test_the_value_axis_starts_at_zero_unless_told_not_to() -> None:
    frame = _frame([("1990", "observed", 1060.0), ("2024", "observed", 712.0)])
    layers = indicator_history(frame, meta=META, lang="en", name="n", area_name="a", unit_text="kt").to_dict()
    scales = [
        layer["encoding"]["y"].get("scale", {}) for layer in layers["layer"] if "y" in layer["encoding"]
    ]
    assert scales and all(scale.get("zero") is True for scale in scales)  # a cut drawn in proportion
    index = indicator_history(
        frame, meta=META, lang="en", name="n", area_name="a", unit_text="index", zero=False
    ).to_dict()
    assert all(
        layer["encoding"]["y"]["scale"]["zero"] is False
        for layer in index["layer"]
        if "y" in layer["encoding"]
    )


def _legend(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each legend entry's mark: its value on every channel that draws the legend (stroke, fill, shape,
    dash), the same on every layer that encodes it."""
    entries: dict[str, dict[str, Any]] = {}
    for layer in spec["layer"]:
        for channel in ("stroke", "fill", "shape", "strokeDash"):
            if channel in layer.get("encoding", {}):
                scale = layer["encoding"][channel]["scale"]
                for name, value in zip(scale["domain"], scale["range"], strict=True):
                    assert entries.setdefault(name, {}).setdefault(channel, value) == value, (name, channel)
    return entries


def _drawn_by(spec: dict[str, Any], channel: str) -> list[dict[str, Any]]:
    """The layers that take a channel from the legend's scale (and no fixed value that would override it)."""
    return [
        layer
        for layer in spec["layer"]
        if channel in layer.get("encoding", {}) and channel not in layer.get("mark", {})
    ]


def test_the_legend_gives_each_kind_the_mark_it_is_drawn_with() -> None:
    frame = _frame(
        [
            ("2023", "observed", 5.0),
            ("2024", "estimate", 4.0),
            ("2024", "projection", 4.0),
            ("2026", "projection", 3.0),
            ("2030", "target", 1.0),
            ("2023", "path", 5.0),
            ("2030", "path", 1.0),
        ]
    )
    spec = indicator_history(frame, meta=META, lang="en", name="n", area_name="a", unit_text="u").to_dict()
    legend = _legend(spec)
    # the estimate was a filled square in the legend, hollow on the chart; the lines solid, drawn dashed; a
    # hollow circle, as the report's trajectory draws it (the site had a square, the report a circle)
    estimate = legend["Tracker's own estimate"]
    assert estimate["shape"] == "circle" and estimate["fill"] == th.BACKGROUND
    assert estimate["stroke"] == legend["Observed"]["fill"] == legend["Observed"]["stroke"]
    assert legend["Target path"]["strokeDash"] != legend["Observed"]["strokeDash"]
    assert legend["Observed"]["shape"] == "circle" and legend["Target"]["shape"] == "diamond"
    for line in ("Trend projection", "Target path"):
        assert legend[line]["fill"] == "transparent" and legend[line]["shape"].startswith("M")
    # one legend: every channel over the same entries, so Vega-Lite merges them
    assert all(set(entry) == {"stroke", "fill", "shape", "strokeDash"} for entry in legend.values())
    # the chart draws with those scales: the dashes on the lines, the fills and shapes on the points
    assert len(_drawn_by(spec, "strokeDash")) == 2
    points = _drawn_by(spec, "fill")
    assert points and all(layer["mark"]["type"] == "point" for layer in points)
    assert all("shape" in layer["encoding"] for layer in points)


def test_a_stock_on_one_reference_date_is_labelled_with_its_year() -> None:
    """ev_share's one point (Traficom's stock on 30 September 2026, one date a release) said "30 Sept" on
    its axis: a series of a date or two names each date's year."""
    frame = pl.DataFrame(
        {"period": ["2026-09-30"], "date": [date(2026, 9, 30)], "kind": ["observed"], "value": [10.5]}
    )
    for lang, wanted in (("fi", "%-d.%-m.%Y"), ("en", "%-d %b %Y")):
        spec = indicator_history(
            frame, meta=META, lang=lang, name="n", area_name="a", unit_text="%"
        ).to_dict()
        formats = {
            layer["encoding"]["x"]["axis"]["format"] for layer in spec["layer"] if "x" in layer["encoding"]
        }
        assert formats == {wanted}, (lang, formats)


@pytest.mark.parametrize(
    ("lang", "week", "day"), [("fi", "viikko 45/2026", "30.9.2026"), ("sv", "vecka 45/2026", "30.9.2026")]
)
def test_a_tooltip_names_a_week_or_a_day_as_the_page_does(lang: str, week: str, day: str) -> None:
    """A weekly point's tooltip said "Vuosi: 2026-W45", the stored key under the year's header; a day's
    "2026-09-30". Each is named as the page's text names it, under "Jakso" (a year keeps "Vuosi")."""
    for period, when, shown in (
        ("2026-W45", date(2026, 11, 2), week),
        ("2026-09-30", date(2026, 9, 30), day),
    ):
        frame = pl.DataFrame({"period": [period], "date": [when], "kind": ["observed"], "value": [10.5]})
        spec = indicator_history(
            frame, meta=META, lang=lang, name="n", area_name="a", unit_text="u"
        ).to_dict()
        tips = [tip for layer in spec["layer"] for tip in layer.get("encoding", {}).get("tooltip", [])]
        period_tips = {tip["title"]: tip["field"] for tip in tips if tip["field"].startswith("period")}
        assert period_tips == {t("label.period", lang): "period_text"}, period_tips
        rows = [row for rows in spec["datasets"].values() for row in rows if "period_text" in row]
        assert {row["period_text"] for row in rows} == {shown}


def test_a_weekly_series_is_labelled_by_its_days_not_by_a_repeated_year() -> None:
    frame = pl.DataFrame(
        {
            "period": ["2026-W44", "2026-W45", "2026-W46", "2026-W47"],
            "date": [date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)],
            "kind": ["observed"] * 4,
            "value": [57.0, 71.0, 68.0, 59.1],
        }
    )
    for lang, wanted in (("fi", "%-d.%-m."), ("en", "%-d %b")):
        spec = indicator_history(
            frame, meta=META, lang=lang, name="n", area_name="a", unit_text="u"
        ).to_dict()
        formats = {
            layer["encoding"]["x"]["axis"]["format"]
            for layer in spec["layer"]
            if "x" in layer.get("encoding", {})
        }
        assert formats == {wanted}, (lang, formats)
        # day labels keep a gap: the last two of a few weeks touched ("21.11.23.11.")
        gaps = {
            layer["encoding"]["x"]["axis"].get("labelSeparation")
            for layer in spec["layer"]
            if "x" in layer.get("encoding", {})
        }
        assert gaps == {LABEL_GAP} and LABEL_GAP >= 4, gaps
    # the change is "since week 44", not "from the year week 44" (fi "vuodesta" is "from the year"); the
    # Finnish postposition "lähtien" takes the elative: "viikosta", not "viikko"
    for lang, since in (
        ("fi", ", +4\u00a0% viikosta 44/2026 lähtien"),
        ("sv", ", +4\u00a0% sedan vecka 44/2026"),
        ("en", ", +4% since week 44/2026"),
    ):
        spec = indicator_history(
            frame, meta=META, lang=lang, name="n", area_name="a", unit_text="u"
        ).to_dict()
        assert spec["title"]["text"].endswith(since), (lang, spec["title"]["text"])
        assert "vuodesta" not in spec["title"]["text"]
    annual = _frame([("2023", "observed", 5.0), ("2024", "observed", 4.0)])
    spec = indicator_history(annual, meta=META, lang="en", name="n", area_name="a", unit_text="u").to_dict()
    assert {
        layer["encoding"]["x"]["axis"]["format"] for layer in spec["layer"] if "x" in layer["encoding"]
    } == {"%Y"}


def test_the_legend_names_only_the_kinds_the_chart_draws() -> None:
    frame = _frame([("2022", "observed", 5.0), ("2023", "observed", 4.5), ("2024", "estimate", 4.0)])
    spec = indicator_history(frame, meta=META, lang="en", name="n", area_name="a", unit_text="u").to_dict()
    domains = [
        layer["encoding"][channel]["scale"]["domain"]
        for layer in spec["layer"]
        for channel in ("stroke", "fill", "shape", "strokeDash")
        if channel in layer["encoding"]
    ]
    assert domains and all(domain == ["Observed", "Tracker's own estimate"] for domain in domains), domains


def _chart_title(frame: pl.DataFrame, lang: str = "en", change: str = "relative") -> str:
    spec = indicator_history(
        frame, meta=META, lang=lang, name="n", area_name="a", unit_text="%", change=change
    ).to_dict()
    return str(spec["title"]["text"])


def test_a_percentage_changes_in_percentage_points_not_in_per_cent_of_itself() -> None:
    # 22.6% to 41.4% is 18.8 points; per cent of 22.6 it would be "+83%", which means nothing for a share
    frame = _frame([("2000", "observed", 22.6), ("2023", "observed", 41.4)])
    wanted = "A: n 41.4% (2023), +18.8\u00a0percentage points since 2000"
    assert _chart_title(frame, change="points") == wanted
    assert _chart_title(frame, "fi", change="points").endswith("+18,8\u00a0%-yks. vuodesta 2000")
    assert _chart_title(frame, "sv", change="points").endswith("+18,8\u00a0procentenheter sedan 2000")


def test_a_series_that_is_itself_a_change_states_no_change_of_it() -> None:
    # a year-on-year change from +0.9% to -4.0% is no "-565%": the title gives the value alone
    frame = _frame([("2001", "observed", 0.9), ("2024", "observed", -4.1)])
    assert _chart_title(frame, change="none") == "A: n -4.1% (2024)"


def test_no_relative_change_from_a_first_value_at_or_below_zero() -> None:
    for first in (0.0, -2.0):
        frame = _frame([("2001", "observed", first), ("2024", "observed", 5.2)])
        assert _chart_title(frame) == "A: n 5.2% (2024)", first


def test_the_title_and_the_table_print_a_value_as_the_report_does() -> None:
    # the report prints 67.2 with one decimal (report.i18n.shown_decimals: one from 1 up to 100), also
    # when another value of the series is over 100: the title says 67.2 as the table does, not "67"
    frame = _frame([("1990", "observed", 100.0), ("2010", "observed", 122.4), ("2024", "observed", 67.2)])
    chart = indicator_history(frame, meta=META, lang="fi", name="n", area_name="a", unit_text="(indeksi)")
    assert chart.to_dict()["title"]["text"].startswith("A: n 67,2\u00a0(indeksi) (2024)")
    table = frame_table(chart_table(chart), "c", "fi", decimals=chart_decimals(chart))
    assert [row[2] for row in table.rows] == ["100", "122", "67,2"]


def test_the_projection_of_an_estimated_year_is_the_estimate_one_row() -> None:
    # the engine stores the trend's past years both as estimate and as projection: the table lists the
    # year once, as the estimate, and the dashed line starts from it
    frame = _frame(
        [
            ("2024", "observed", 712.0),
            ("2025", "estimate", 665.0),
            ("2025", "projection", 665.0),
            ("2026", "projection", 607.0),
        ]
    )
    chart = indicator_history(frame, meta=META, lang="fi", name="n", area_name="a", unit_text="kt")
    rows = chart_table(chart).select("period", "kind_name").rows()
    assert rows == [("2024", "Havaittu"), ("2025", "Seurannan oma arvio"), ("2026", "Trendiennuste")]
    assert _trend(chart.to_dict()) == [("2025", "Seurannan oma arvio"), ("2026", "Trendiennuste")]


def _trend(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The dashed trend line's points (period, kind) in the order drawn: one legend entry, one line."""
    (layer,) = [
        layer
        for layer in _drawn_by(spec, "strokeDash")
        if not layer.get("transform")
        and {row["legend"] for row in spec["datasets"][layer["data"]["name"]]} == {"Trendiennuste"}
    ]
    rows = sorted(spec["datasets"][layer["data"]["name"]], key=lambda row: str(row["date"]))
    return [(row["period"], row["kind_name"]) for row in rows]


def test_the_dashed_trend_starts_from_the_estimate_or_the_latest_observed_value() -> None:
    # it started at 2026: the estimate and the projection were two lines, the estimate's a lone point
    estimated = _frame(
        [
            ("2023", "observed", 730.0),
            ("2024", "observed", 712.0),
            ("2025", "estimate", 665.0),
            ("2025", "projection", 665.0),
            ("2026", "projection", 607.0),
            ("2027", "projection", 590.0),
        ]
    )
    spec = indicator_history(
        estimated, meta=META, lang="fi", name="n", area_name="a", unit_text="kt"
    ).to_dict()
    assert _trend(spec)[0] == ("2025", "Seurannan oma arvio")
    observed = estimated.filter(pl.col("kind") != "estimate")
    spec = indicator_history(
        observed, meta=META, lang="fi", name="n", area_name="a", unit_text="kt"
    ).to_dict()
    assert _trend(spec)[:2] == [("2024", "Havaittu"), ("2025", "Trendiennuste")]


def test_the_alt_text_counts_one_observation_in_the_singular_and_names_one_period_alone() -> None:
    one = _frame([("2030", "observed", 212.0)])
    for lang, wanted in (
        ("fi", "1 havainto (2030)"),
        ("sv", "1 observation (2030)"),
        ("en", "1 observation (2030)"),
    ):
        spec = indicator_history(one, meta=META, lang=lang, name="n", area_name="a", unit_text="kt").to_dict()
        assert wanted in spec["description"], (lang, spec["description"])
    two = _frame([("2015", "observed", 2.0), ("2024", "observed", 1.0)])
    spec = indicator_history(two, meta=META, lang="fi", name="n", area_name="a", unit_text="kt").to_dict()
    assert "2\u00a0havaintoa (2015–2024)" in spec["description"]


def test_a_provisional_value_has_its_own_lighter_point_and_legend_entry() -> None:
    frame = _frame([("2022", "observed", 760.0), ("2023", "observed", 712.0)]).with_columns(
        flags=pl.Series([None, "p"], dtype=pl.String)
    )
    for lang, name in (("fi", "Ennakkotieto"), ("sv", "Preliminär uppgift"), ("en", "Provisional figure")):
        spec = indicator_history(
            frame, meta=META, lang=lang, name="n", area_name="a", unit_text="kt"
        ).to_dict()
        legend = _legend(spec)
        observed = next(key for key in legend if key != name)
        assert list(legend) == [observed, name], (lang, list(legend))
        assert legend[name]["fill"] == th.OKABE_ITO["sky_blue"] != legend[observed]["fill"]
        assert legend[name]["stroke"] == legend[observed]["stroke"] and legend[name]["shape"] == "circle"
        (data,) = spec["datasets"].values()
        assert [row["legend"] for row in data] == [observed, name]
        # the observed line runs on through it (a line by legend entry would stop before it)
        line = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")
        assert "stroke" not in line["encoding"] and "color" not in line["encoding"]


def test_an_incomplete_week_is_drawn_hollow_and_named_in_the_alt_text() -> None:
    frame = pl.DataFrame(
        {
            "period": ["2026-W46", "2026-W47", "2026-W48"],
            "date": [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)],
            "kind": ["observed"] * 3,
            "value": [68.0, 59.1, 62.0],
            "flags": [None, None, "partial"],
        }
    )
    for lang, name, sentence in (
        (
            "fi",
            "Tiedot vajaat",
            "Kauden viikko 48/2026 luvusta puuttuu osa jakson tiedoista (ontto piste): jakso voi olla vielä "
            "kesken tai lähteeltä puuttuu arvoja, ja luku voi muuttua, kun ne tulevat.",
        ),
        (
            "sv",
            "Ofullständiga uppgifter",
            "I siffran för vecka 48/2026 saknas en del av periodens uppgifter (ihålig punkt): perioden kan "
            "vara pågående eller källan sakna värden, och siffran kan ändras när de kommer in.",
        ),
        (
            "en",
            "Incomplete data",
            "The week 48/2026 figure lacks part of the period's data (hollow point): the period may still be "
            "running or the source may be missing values, and the figure may change when they come in.",
        ),
    ):
        spec = indicator_history(
            frame, meta=META, lang=lang, name="n", area_name="a", unit_text="g"
        ).to_dict()
        legend = _legend(spec)
        observed = next(key for key in legend if key != name)
        # hollow: the background inside a stroke of the series' colour, not a filled point
        assert legend[name]["fill"] == th.BACKGROUND and legend[name]["stroke"] == legend[observed]["fill"]
        assert legend[name]["stroke"] != th.BACKGROUND
        (data,) = spec["datasets"].values()
        assert [row["legend"] for row in data] == [observed, observed, name]
        assert spec["description"].endswith(sentence), (lang, spec["description"])


def _series_marks(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The report trajectory chart's series: each one's colour and dash, from its colour and dash scales."""
    marks: dict[str, dict[str, Any]] = {}
    for layer in spec["layer"]:
        for channel in ("color", "strokeDash"):
            encoding = layer.get("encoding", {}).get(channel)
            if encoding and "scale" in encoding:
                for name, value in zip(encoding["scale"]["domain"], encoding["scale"]["range"], strict=True):
                    marks.setdefault(name, {})[channel] = value
    return marks


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_the_site_draws_each_series_in_the_colour_and_dash_of_the_reports_trajectory_chart(lang: str) -> None:
    """A reader of the weekly report and of the site sees one trend, one linear path and one target, not a
    grey dashed trend and a red path on the site beside an orange trend and a purple path in the report."""
    report = _series_marks(
        charts.emissions_trajectory(
            test_charts.history(), test_charts.projection(), meta=META, target=test_charts.TARGET, lang=lang
        ).to_dict()
    )
    frame = _frame(
        [
            ("1990", "observed", 1060.0),
            ("2024", "observed", 712.0),
            ("2026", "projection", 650.0),
            ("2030", "projection", 560.0),
            ("2030", "target", 212.0),
            ("1990", "path", 1060.0),
            ("2030", "path", 212.0),
            ("2024", "path_from_latest", 712.0),
            ("2030", "path_from_latest", 212.0),
        ]
    )
    site = _legend(
        indicator_history(frame, meta=META, lang=lang, name="n", area_name="a", unit_text="u").to_dict()
    )
    pairs = {  # the site's legend entry: the report's series drawn alike
        t("site.kind_observed", lang): t("trajectory.series_history", lang),
        t("site.kind_projection", lang): next(
            n for n in report if n.startswith(t("site.kind_projection", lang))
        ),
        t("site.kind_path", lang): t("trajectory.series_base_path", lang, base_year=1990, target_year=2030),
        t("site.kind_path_from_latest", lang): t("trajectory.series_path", lang),
        t("site.kind_target", lang): t("trajectory.series_target", lang),
    }
    for on_site, in_report in pairs.items():
        drawn = site[on_site]["stroke"]
        assert drawn == report[in_report]["color"], (lang, on_site, drawn, report[in_report])
    for on_site, in_report in list(pairs.items())[1:4]:  # the lines: the same dash
        assert site[on_site]["strokeDash"] == report[in_report]["strokeDash"], (lang, on_site)
