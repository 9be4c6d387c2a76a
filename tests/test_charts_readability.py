"""What a reader sees in the report's charts: whole labels, one number per subject, legends that match
the marks, texts that read naturally in every language (the review of report 2026-W49)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Final

import polars as pl
import pytest
from PIL import ImageFont

from indicators.catalogue import ReductionTarget
from indicators.peers import standings
from report import charts, theme
from report.charts import ChartMeta, chart_decimals, chart_table
from report.charts.mover import week_dates
from report.charts.peers import peer_comparison
from report.i18n import LANGS, NBSP, t
from report.peers import unit_text
from report.phone import phone_spec
from report.reconcile_chart import cross_source_checks

META = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 12, 6))
TARGET = ReductionTarget(kind="reduction_from_base", base_year=1990, reduction=0.8, year=2030, source="test")


def measured(text: str, bold: bool = False) -> float:
    """The width in px of text at 11 px in DejaVu Sans (what vl-convert draws with), measured here."""
    font = ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", 11)
    return float(font.getlength(text))


def units(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every unit (single-mark) view of a layered spec."""
    for layer in spec.get("layer", []):
        if "layer" in layer:
            yield from units(layer)
        else:
            yield layer


def mark(unit: dict[str, Any]) -> str:
    m = unit["mark"]
    return str(m if isinstance(m, str) else m["type"])


def rows(spec: dict[str, Any], unit: dict[str, Any]) -> list[dict[str, Any]]:
    data: dict[str, Any] = unit.get("data") or spec["data"]
    return list(spec["datasets"][data["name"]])


def plot_px(value: float, domain: list[float], width: float) -> float:
    return (value - domain[0]) / (domain[1] - domain[0]) * width


# ---------------------------------------------------------------------------------------------------------
# the carbon balance: Espoo's figures as the review found them (1 060 kt in 1990, a 228.7 kt sink)


def balance(lang: str) -> Any:
    emissions = pl.DataFrame({"year": [1990, 2024], "value": [1060.0, 712.0]})
    sinks = pl.DataFrame({"year": [2019], "value": [228.7]})
    return charts.neutrality_balance(emissions, sinks, meta=META, target=TARGET, lang=lang)


@pytest.mark.parametrize("lang", LANGS)
def test_balance_states_one_number_per_subject(lang: str) -> None:
    chart = balance(lang)
    spec = chart.to_dict()
    # 1 060 × 20 % = 212 and the sink prints "229": the surplus a reader can check is 229 − 212 = 17,
    # in the label, the alt text, the table and the downloads alike (it was "17" beside a table's "16,7")
    table = chart_table(chart)
    values = dict(zip(table["item"], table["value"], strict=True))
    assert values == {"latest": 712, "residual": 212, "sink": 229, "surplus": 17}
    assert chart_decimals(chart) == {"value": 0}
    label = t("balance.surplus_label", lang, value=f"+17{NBSP}kt")
    assert label in table["label"].to_list()
    assert label[:1].lower() + label[1:] in spec["description"]
    # mid-sentence after the semicolon: lower case ("; ero +17 kt", never "; Ero")
    assert "; " + label not in spec["description"]
    assert f"229{NBSP}kt" in spec["description"] and "228" not in spec["description"]


SECURED: Final = {"fi": "ylijäämä", "sv": "överskott", "en": "surplus"}


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


@pytest.mark.parametrize("lang", LANGS)
def test_balance_cannot_be_read_as_neutrality_secured(lang: str) -> None:
    """A reader audit read "Surplus 17 kt" as carbon neutrality secured. The target cuts emissions 80 %
    from 1990 and lets sinks absorb (or offsets cover) the remaining 20 %: the sink meets that residual only
    after the cut. The chart draws the latest year's emissions above the residual and the sink, its title
    names them, a sink larger than the residual is a signed difference, and the text says that neutrality
    needs both and that the sink is one year's estimate."""
    chart = balance(lang)
    spec = chart.to_dict()
    assert not any(SECURED[lang] in text.lower() for text in _strings(spec))
    bar = next(u for u in units(spec) if mark(u) == "bar")
    order = bar["encoding"]["y"]["sort"]
    latest = t("balance.latest", lang, year=2024)
    assert order[0] == latest and len(order) == 3  # the emissions first, then the residual and the sink
    assert {r["category"]: r["value"] for r in rows(spec, bar)}[latest] == 712.0  # as the headline
    title = (
        " ".join(spec["title"]["text"]) if isinstance(spec["title"]["text"], list) else spec["title"]["text"]
    )
    assert f"712{NBSP}kt" in title and "2024" in title
    words = {
        "fi": ("edellyttää molempia", "yhden vuoden arvio"),
        "sv": ("kräver båda", "uppskattning för ett år"),
        "en": ("needs both", "one year's estimate"),
    }[lang]
    assert all(word in spec["description"] for word in words), spec["description"]
    # a shortfall keeps its name and its size, unsigned
    short = charts.neutrality_balance(
        pl.DataFrame({"year": [1990, 2024], "value": [1060.0, 712.0]}),
        pl.DataFrame({"year": [2019], "value": [150.0]}),
        meta=META,
        target=TARGET,
        lang=lang,
    )
    gap = chart_table(short).filter(pl.col("item") == "gap")
    assert gap["label"].to_list() == [t("balance.gap_label", lang, value=f"62{NBSP}kt")]


@pytest.mark.parametrize("lang", LANGS)
def test_balance_surplus_label_fits_inside_the_chart(lang: str) -> None:
    spec = balance(lang).to_dict()
    bar = next(u for u in units(spec) if mark(u) == "bar")
    domain = bar["encoding"]["x"]["scale"]["domain"]
    width = spec["width"]
    label_unit = next(u for u in units(spec) if mark(u) == "text" and u["encoding"]["x"]["field"] == "hi")
    (row,) = rows(spec, label_unit)
    end = plot_px(row["hi"], domain, width) + label_unit["mark"]["dx"] + measured(row["label"], bold=True)
    assert end <= width, (row["label"], end, width)  # "Överskott 17 kt": its "t" was cut off


@pytest.mark.parametrize("lang", LANGS)
def test_balance_legend_draws_the_surplus_as_the_dashed_outline(lang: str) -> None:
    spec = balance(lang).to_dict()
    surplus = t("balance.kind_surplus", lang)
    for unit in (u for u in units(spec) if mark(u) == "bar"):
        enc = unit["encoding"]
        dash = dict(
            zip(enc["strokeDash"]["scale"]["domain"], enc["strokeDash"]["scale"]["range"], strict=True)
        )
        stroke = dict(zip(enc["stroke"]["scale"]["domain"], enc["stroke"]["scale"]["range"], strict=True))
        assert dash[surplus] == [5, 3] and stroke[surplus] == theme.OKABE_ITO["blue"]
        assert dash[t("balance.kind_sink", lang)] == [1, 0]  # the filled bars stay solid


# ---------------------------------------------------------------------------------------------------------
# the peer chart


def covenant_like(first: int, last: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    values = pl.DataFrame(
        [("049", last, 3.77), ("091", first, 4.21), ("stockholm", last, 2.17), ("837", first, 5.37)],
        schema={"area": pl.Utf8, "year": pl.Int64, "value": pl.Float64},
        orient="row",
    )
    ranked = standings(values, direction="decrease", home="049", window=10)
    changes = pl.DataFrame(
        {
            "area": ["049", "091", "stockholm", "837"],
            "base_year": [1990, 1990, 1990, 1990],
            "year": [last, first, last, first],
            "change": [-39.0, -39.0, -60.0, -38.0],
            "comparable": [True, False, True, False],
        }
    )
    return ranked, changes


def peer_spec(lang: str, first: int = 2018, last: int = 2020) -> dict[str, Any]:
    ranked, changes = covenant_like(first, last)
    chart = peer_comparison(
        ranked,
        meta=META,
        lang=lang,
        indicator=t("peers.trend", lang),
        unit_text="t",
        source="covenant",
        changes=changes,
        per_resident=True,
    )
    return dict(chart.to_dict())


@pytest.mark.parametrize("lang", LANGS)
def test_peer_labels_are_never_cut(lang: str) -> None:
    spec = peer_spec(lang)
    bar = next(u for u in units(spec) if mark(u) == "bar")
    domain = bar["encoding"]["x"]["scale"]["domain"]
    text = next(u for u in units(spec) if mark(u) == "text" and u["encoding"].get("text", {}).get("field"))
    for row in rows(spec, text):
        end = plot_px(row["value"], domain, spec["width"]) + text["mark"]["dx"] + measured(row["label"])
        assert end <= spec["width"], row["label"]
    # the changes ("… (eri jakso, ei sijoitettu)") in a column of axis labels as wide as the widest
    axis = next(
        u["encoding"]["y"]["axis"]
        for u in units(spec)
        if (u["encoding"].get("y", {}).get("axis") or {}).get("orient") == "right"
    )
    changes = [r["change"] for r in rows(spec, bar)]
    other = t("peers.change_other_per_resident", lang, pct="−38 %", base=1990, year=2018)
    assert any(other.split(" ", 2)[-1] in c for c in changes)
    assert axis["labelLimit"] >= max(measured(c) for c in changes)


@pytest.mark.parametrize("lang", LANGS)
def test_a_peer_charts_phone_subtitle_is_short_and_its_notes_go_below_the_chart(lang: str) -> None:
    """At 390 px a peer chart's notes and method took 13 to 22 subtitle lines above its bars. The phone's
    subtitle keeps the span its rows' changes are over and the sources; every note and the method are the
    chart's notes (chart_notes), which the pages show below it; the desktop subtitle keeps them too."""
    ranked, changes = covenant_like(2018, 2020)
    method = "Method: modelled emissions on a grid, cut to each city's boundary (EDGAR-type)"
    meta = replace(META, method=method, is_demo=True)
    built = {
        phone: peer_comparison(
            ranked,
            meta=meta,
            lang=lang,
            indicator="x",
            unit_text="t",
            source="covenant",
            changes=changes,
            per_resident=True,
            phone=phone,
        ).to_dict()
        for phone in (False, True)
    }
    notes = charts.chart_notes(built[False])
    assert notes == charts.chart_notes(built[True])
    head = t("peers.span_head_per_resident", lang, base=1990, year=2020)
    assert notes[0].startswith(head + ":") and notes[-1] == method and len(notes) >= 2
    wide = " ".join(built[False]["title"]["subtitle"])
    assert all(" ".join(note.split()) in " ".join(wide.split()) for note in notes)  # wrapped, whole
    narrow = phone_spec(built[True])["title"]["subtitle"]
    assert narrow[0] == head and len(narrow) <= 6, narrow  # the span, the demo notice, the sources
    assert not any(method[:20] in line or notes[0][len(head) :][:20] in line for line in narrow)


@pytest.mark.parametrize("lang", LANGS)
def test_peer_alt_text_names_the_year_or_the_span_naturally(lang: str) -> None:
    one = peer_spec(lang, first=2020, last=2020)["description"]
    span = peer_spec(lang, first=2018, last=2020)["description"]
    in_year = {"fi": "vuonna 2020", "sv": "år 2020", "en": "in 2020"}[lang]
    assert in_year in one
    word = {"fi": "vuonna", "sv": "år", "en": "in"}[lang]
    for text in (one, span):  # never "(t CO₂e/asukas) vuonna (viimeisimmät luvut …)": a year follows
        assert f"(t) {word} (" not in text and t("peers.years_span", lang, first=2018, last=2020) not in text
    assert "2018–2020" in span and in_year not in span


@pytest.mark.parametrize("lang", LANGS)
def test_covenant_unit_is_the_one_the_note_explains(lang: str) -> None:
    # Covenant inventories are t CO2 or t CO2e as each city chose (its dataset records reported_unit): the
    # axis, alt text and tables say "t CO₂(e)", as the note does; OECD's figures are CO2e
    covenant = unit_text("peer_ghg_per_resident_covenant", lang)
    assert "CO₂(e)" in covenant
    assert "CO₂(e)" in t("peers.note_unit_unknown", lang)
    assert "CO₂e" in unit_text("peer_ghg_per_resident_oecd", lang)
    assert "CO₂(e)" not in unit_text("peer_ghg_per_resident_oecd", lang)


# ---------------------------------------------------------------------------------------------------------
# the freshness chart


def freshness_frame() -> pl.DataFrame:
    names = [
        "Kaupunginjohtajien ilmastosopimus: päästöinventaariot",
        "OECD: joukkoliikenteen saavutettavuus vertailukaupungeissa",
        "Fingrid: sähkön päästökerroin",
    ]
    return pl.DataFrame(
        {
            "dataset": names,
            "status": ["late", "fresh", "fresh"],
            "last_period_end": [date(2020, 12, 31), date(2023, 12, 31), date(2026, 12, 5)],
            "expected_period_end": [date(2022, 12, 31), date(2020, 12, 31), date(2026, 12, 4)],
            "last_fetch": [datetime(2026, 12, 6, 6, 0)] * 3,
        }
    )


def test_freshness_row_labels_are_whole_and_years_are_year_ticks() -> None:
    spec = charts.data_freshness(freshness_frame(), meta=META, lang="fi").to_dict()
    axes = [u["encoding"]["y"]["axis"] for u in units(spec) if "axis" in u["encoding"].get("y", {})]
    axis = axes[0]
    # every label's lines within labelLimit, measured: "…päästöinventaa…" was cut at 300 px
    for name in freshness_frame()["dataset"]:
        head, _, rest = name.partition(": ")
        lines = [name] if measured(name) <= axis["labelLimit"] else [head + ":", rest]
        assert all(measured(line) <= axis["labelLimit"] for line in lines), name
        if len(lines) > 1:  # the expression gives these lines
            assert f"'{rest}'" in axis["labelExpr"]
    x_axes = [u["encoding"]["x"]["axis"] for u in units(spec) if "axis" in u["encoding"].get("x", {})]
    assert x_axes and all(a["format"] == "%Y" for a in x_axes)  # "2024", not "loka 2023"
    assert all(a["tickCount"] == {"interval": "year", "step": 1} for a in x_axes)


# ---------------------------------------------------------------------------------------------------------
# the HSY vs Syke cross-check


def reconcile_frame() -> pl.DataFrame:
    years = [1990, *range(2005, 2025)]
    return pl.DataFrame(
        [
            {"area": area, "year": y, "value": base + (y % 3), "tolerance": 25.0}
            for area, base in (("049", -10.0), ("091", -5.0), ("092", -8.0), ("235", 1.0))
            for y in years
        ]
    )


@pytest.mark.parametrize("lang", LANGS)
def test_cross_check_cities_band_zero_and_gaps(lang: str) -> None:
    spec = cross_source_checks(reconcile_frame(), meta=META, lang=lang).to_dict()
    line = next(u for u in units(spec) if mark(u) == "line")
    colour = line["encoding"]["color"]["scale"]
    dash = line["encoding"]["strokeDash"]["scale"]
    # four cities, four colours (Helsinki, Kauniainen and Vantaa were one grey), each with its own dash
    assert len(set(colour["range"])) == len(colour["domain"]) == 4
    assert len({tuple(d) for d in dash["range"]}) == 4
    assert line["encoding"]["strokeDash"]["legend"] is not None
    # the axis reaches beyond the ±25 % band: its edge is visible
    y = line["encoding"]["y"]
    assert y["scale"]["domain"][0] < -25 and y["scale"]["domain"][1] > 25
    assert "0" in [str(v) for v in y["axis"]["values"]] or 0 in y["axis"]["values"]
    # and every one is drawn: Vega thinned the seven given values to the theme's tick count, and the axis
    # read "+30, +10, −10, −30", no zero
    import vl_convert as vlc

    drawn = [n.replace("-", "−") for n in re.findall(r">([+−-]?\d+)</text>", vlc.vegalite_to_svg(spec))]
    wanted = [f"+{v}" if v > 0 else str(v).replace("-", "−") for v in y["axis"]["values"]]
    assert [label for label in drawn if label in wanted] == wanted, drawn
    # a plus sign only on rises: d3 "+" would print "+0"
    assert "+" not in y["axis"]["format"] and "datum.value > 0" in y["axis"]["labelExpr"]
    # 1991–2004 are in no city's data: each city's line breaks there (two runs), with a "no data" label
    runs = {(r["area_key"], r["run"]) for r in rows(spec, line)}
    assert len(runs) == 8
    assert line["encoding"]["detail"]["field"] == "run"
    labels = [r.get("label", "") for u in units(spec) if mark(u) == "text" for r in rows(spec, u)]
    assert any("1991–2004" in label for label in labels)
    assert "1991–2004" in spec["description"]


# ---------------------------------------------------------------------------------------------------------
# the weekly electricity chart


def one_year_weeks(flags: list[str | None] | None = None) -> pl.DataFrame:
    frame = pl.DataFrame({"year": [2026] * 4, "week": [44, 45, 46, 47], "value": [56.7, 71.5, 68.2, 59.1]})
    return frame if flags is None else frame.with_columns(flags=pl.Series(flags, dtype=pl.String))


@pytest.mark.parametrize("lang", LANGS)
def test_weekly_chart_of_one_year(lang: str) -> None:
    spec = charts.weekly_mover(one_year_weeks(), meta=META, lang=lang).to_dict()
    assert "2026–2026" not in spec["description"]
    assert f"–{NBSP}gCO₂" not in spec["description"]  # no empty value with a unit
    assert t("weekly.description_no_earlier", lang).strip() in spec["description"]
    colours = [u["encoding"]["color"] for u in units(spec) if "color" in u.get("encoding", {})]
    assert colours and all(c.get("legend", "absent") is None for c in colours)  # no one-entry legend


@pytest.mark.parametrize("lang", LANGS)
def test_weekly_chart_marks_an_incomplete_week_and_compares_complete_weeks_only(lang: str) -> None:
    """Week 46 is not all in: the title compared week 47 with it (−9.1, "week 46's data incomplete"). Like
    with like: week 47 against week 45, the complete week before it (59.1 − 71.5 = −12.4), each week's days
    named, and the skipped week said; week 46 is drawn and marked."""
    partial = one_year_weeks([None, None, "partial", None])
    spec = charts.weekly_mover(partial, meta=META, lang=lang).to_dict()
    title = (
        " ".join(spec["title"]["text"]) if isinstance(spec["title"]["text"], list) else spec["title"]["text"]
    )
    minus, sep = ("-", ".") if lang == "en" else ("\u2212", ",")
    delta = f"{minus}12{sep}4"
    assert t("weekly.change", lang, delta=delta, prev_week=45, prev_dates=week_dates(2026, 45, lang)) in title
    assert week_dates(2026, 47, lang) in title and "46" not in title
    assert t("weekly.description_skipped", lang, weeks="46") in spec["description"]
    notes = [r for u in units(spec) if mark(u) == "text" for r in rows(spec, u) if r.get("period_note")]
    assert [(r["week"], r["period_note"]) for r in notes] == [(46, t("flag.incomplete", lang))]
    # its table (the report's and the site's, and the CSV/XLSX downloads) names the week too
    table = chart_table(charts.weekly_mover(partial, meta=META, lang=lang), translated_headers=True)
    noted = table.filter(pl.col(t("column.note", lang)) != "")
    assert noted.get_column(t("column.week", lang)).to_list() == [46]
    assert noted.get_column(t("column.note", lang)).to_list() == [t("flag.incomplete", lang)]
    plain = charts.weekly_mover(one_year_weeks(), meta=META, lang=lang)
    assert t("flag.incomplete", lang) not in str(plain.to_dict())
    assert chart_table(plain).columns == ["year", "week", "value"]


@pytest.mark.parametrize("lang", LANGS)
def test_weekly_chart_of_an_incomplete_latest_week_states_the_latest_complete_one(lang: str) -> None:
    """The newest week is not all in: the title, its label and the comparison are of week 46, the latest
    complete week, against week 45 (68.2 − 71.5 = −3.3), and the text says why; week 47 is drawn, marked."""
    spec = charts.weekly_mover(one_year_weeks([None, None, None, "partial"]), meta=META, lang=lang).to_dict()
    title = (
        " ".join(spec["title"]["text"]) if isinstance(spec["title"]["text"], list) else spec["title"]["text"]
    )
    sep = "." if lang == "en" else ","
    assert (
        f"68{sep}2" in title and week_dates(2026, 46, lang) in title and week_dates(2026, 45, lang) in title
    )
    assert f"59{sep}1" not in title
    labels = [r["label"] for u in units(spec) if mark(u) == "text" for r in rows(spec, u) if r.get("label")]
    assert labels == [f"2026: 68{sep}2"]
    said = t("weekly.description_newer_incomplete", lang, week=47, complete=46)
    assert said in spec["description"]


# ---------------------------------------------------------------------------------------------------------
# the trajectory chart


def trajectory_spec(lang: str = "fi") -> dict[str, Any]:
    history = pl.DataFrame(
        {
            "year": [1990, 2000, 2022, 2023],
            "value": [1000.0, 1100.0, 750.0, 700.0],
            "estimated": [False, False, False, True],
        }
    )
    projection = pl.DataFrame(
        {"year": [2024, 2030], "value": [680.0, 560.0], "lower": [650.0, 530.0], "upper": [710.0, 590.0]}
    )
    return dict(
        charts.emissions_trajectory(history, projection, meta=META, target=TARGET, lang=lang).to_dict()
    )


@pytest.mark.parametrize("lang", LANGS)
def test_trajectory_legend_shows_each_line_as_drawn(lang: str) -> None:
    spec = trajectory_spec(lang)
    dashed = {
        t("trajectory.series_path", lang): [7, 4],
        t("trajectory.series_base_path", lang, base_year=1990, target_year=2030): [2, 3],
        t("trajectory.series_target", lang): [2, 3],
        t("trajectory.series_history", lang): [1, 0],
    }
    for unit in units(spec):
        enc = unit.get("encoding", {})
        if "color" not in enc or enc["color"].get("field") != "series":
            continue
        # every series line carries the legend's strokeDash (the same field, domain and legend as the
        # colour): the legend draws the dash, not a solid swatch
        assert enc["strokeDash"]["field"] == "series", unit["mark"]
        assert enc["strokeDash"]["scale"]["domain"] == enc["color"]["scale"]["domain"]
        assert enc["strokeDash"]["legend"] == enc["color"]["legend"]
        scale = dict(
            zip(enc["strokeDash"]["scale"]["domain"], enc["strokeDash"]["scale"]["range"], strict=True)
        )
        assert all(scale[name] == d for name, d in dashed.items())
        assert "strokeDash" not in (unit["mark"] if isinstance(unit["mark"], dict) else {})


def test_trajectory_target_and_trend_are_told_apart_and_the_label_clears_the_lines() -> None:
    spec = trajectory_spec()
    line = next(u for u in units(spec) if u.get("encoding", {}).get("color", {}).get("field") == "series")
    colours = dict(
        zip(
            line["encoding"]["color"]["scale"]["domain"],
            line["encoding"]["color"]["scale"]["range"],
            strict=True,
        )
    )
    target = colours[t("trajectory.series_target", "fi")]
    trend = colours[t("trajectory.series_projection", "fi", level=f"95{NBSP}%")]
    # gold against vermillion was 1.3:1 in lightness; distinguishable without hue needs 3:1 (WCAG 1.4.11)
    assert theme.contrast_ratio(target, trend) >= 3.0
    label = next(u for u in units(spec) if mark(u) == "text" and "Tavoite" in str(u["mark"].get("text", "")))
    # at the left end of the target line (1990), where no path or band runs, not at 2030 where they meet
    assert rows(spec, label)[0]["year"] == 1990 and label["mark"]["align"] == "left"


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_a_drawn_chart_tells_screen_readers_nothing_in_english(lang: str) -> None:
    """Vega described each axis and legend to screen readers in English ("X-axis for a time scale with
    values from 1990 to 2030", "Symbol legend titled …") on the Finnish and Swedish pages; the guides are
    now hidden from them (the chart's own description and its data table say what they show)."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(trajectory_spec(lang))
    labels = re.findall(r'aria-label="([^"]*)"', svg)
    english = [label for label in labels if re.search(r"\b(axis|legend|scale|values from)\b", label, re.I)]
    assert english == [], english
    assert "aria-hidden" in svg  # the guides are there, hidden


@pytest.mark.parametrize("lang", LANGS)
def test_peer_bars_without_changes_are_named_and_their_axis_ends_at_a_round_number(lang: str) -> None:
    """OECD's public-transport chart (one year: no changes) drew twenty bars without the cities' names (the
    labels' layer took away the axis the layers shared) and its share's axis ran to 120 %."""
    import vl_convert as vlc

    from ingest.peers import load_peers

    ranked, _ = covenant_like(2020, 2020)
    chart = peer_comparison(ranked, meta=META, lang=lang, indicator="Osuus", unit_text="%", source="oecd")
    spec = dict(chart.to_dict())
    svg = vlc.vegalite_to_svg(spec)
    names = {p.area: str(p.name[lang]) for p in load_peers()}  # type: ignore[index]
    shown = [names[a] for a in ranked.get_column("area")]
    # each name the whole label or followed by its group ("Stockholm · Nordic")
    assert all(
        re.search(f">{re.escape(html.escape(name, quote=False))}( · [^<]+)?<", svg) for name in shown
    ), shown
    bar = next(u for u in units(spec) if mark(u) == "bar")
    ticks = bar["encoding"]["x"]["axis"]["values"]
    largest = float(ranked.get_column("value").max())  # type: ignore[arg-type]
    far = bar["encoding"]["x"]["scale"]["domain"][1]
    step = ticks[1] - ticks[0]
    assert ticks[0] == 0 and ticks[-1] <= far and ticks[-2] < largest, ticks
    # every tick given is drawn (Vega thins given values to the theme's tick count of 6)
    labels = re.findall(r">([0-9][0-9\s,.\u00a0\u202f]*)</text>", svg)
    assert len([label for label in labels if label.strip()]) >= len(ticks), (labels, ticks)
    # the round number at or above the largest value, unless the scale stops short of it
    assert ticks[-1] >= largest or ticks[-1] + step > far, (ticks, far)
