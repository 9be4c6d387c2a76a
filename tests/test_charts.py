"""Tests for report.charts: Vega-Lite specs on hand-made frames, every language, demo marks, PNG rendering."""

from __future__ import annotations

import colorsys
import itertools
import json
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import altair as alt
import polars as pl
import pytest
import vl_convert as vlc

from common.helsinki import HELSINKI
from indicators.catalogue import ReductionTarget
from report import charts, theme
from report.charts import ChartMeta, chart_table
from report.charts import area as area_chart
from report.charts.mover import week_dates
from report.i18n import LANGS, MINUS, NBSP, catalogue, format_number, t, vega_locale

# the commitment and the recycling targets as a caller reads them from the indicator catalogue (hand-made
# here, like the frames: Espoo's −80 % on 1990 by 2030, the EU's 55/60/65 % for 2025/2030/2035)
TARGET = ReductionTarget(kind="reduction_from_base", base_year=1990, reduction=0.8, year=2030, source="test")
RECYCLING_TARGETS = {2025: 55.0, 2030: 60.0, 2035: 65.0}
META = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 11, 27))
DEMO = ChartMeta(sources=("HSY", "Syke"), licence="CC BY 4.0", vintage=date(2026, 11, 27), is_demo=True)


# ---------------------------------------------------------------------------------------------------------
# hand-made input frames (numbers chosen so the findings are known exactly)


def history() -> pl.DataFrame:
    # 1990 = 1000 → target 200 (−80 %); 2023 = 700 (estimated) → −30 %
    return pl.DataFrame(
        {
            "year": [1990, 2000, 2010, 2020, 2022, 2023],
            "value": [1000.0, 1100.0, 1200.0, 800.0, 750.0, 700.0],
            "estimated": [False, False, False, False, False, True],
        }
    )


def projection() -> pl.DataFrame:
    years = list(range(2024, 2031))
    values = [700.0 - 20 * (y - 2023) for y in years]
    return pl.DataFrame(
        {
            "year": years,
            "value": values,
            "lower": [v - 30 for v in values],
            "upper": [v + 30 for v in values],
        }
    )


def sectors() -> pl.DataFrame:
    # 1990: 500 + 300 + 200 = 1000; 2023: 250 + 280 + 170 = 700
    rows = {
        1990: {"district_heat": 500.0, "transport": 300.0, "consumer_electricity": 200.0},
        2010: {"district_heat": 600.0, "transport": 350.0, "consumer_electricity": 250.0},
        2023: {"district_heat": 250.0, "transport": 280.0, "consumer_electricity": 170.0},
    }
    return pl.DataFrame(
        [{"year": y, "sector": s, "value": v} for y, by in rows.items() for s, v in by.items()]
    )


def per_resident() -> pl.DataFrame:
    # Espoo 2.0 against helsinki 3.0, vantaa 2.5, tampere 4.0 → median 3.0 → 33 % below
    now = {"049": 2.0, "helsinki": 3.0, "Vantaa": 2.5, "tampere": 4.0}
    rows = [{"area": a, "year": 2023, "value": v} for a, v in now.items()]
    rows += [{"area": a, "year": 2005, "value": v * 2} for a, v in now.items()]
    return pl.DataFrame(rows)


def dashboard() -> pl.DataFrame:
    rows = [
        ("Kasvihuonekaasupäästöt", "13.2", "eurostat", "moderate_progress", -2.1, -3.94, 0.53),
        ("Kasvihuonekaasupäästöt", "13.2", "opensdg", "limited_progress", -2.1, -3.94, 0.53),
        ("Kasvihuonekaasupäästöt", "13.2", "sdsn", "moderately_improving", -2.1, -3.94, 0.53),
        ("Kasvihuonekaasupäästöt", "13.2", "german", "off_track", None, None, None),
        ("Uusiutuva energia", "7.2", "eurostat", "significant_progress", 4.0, 2.0, 2.0),
        ("Uusiutuva energia", "7.2", "opensdg", "target_achieved", 4.0, 2.0, 2.0),
        ("Uusiutuva energia", "7.2", "sdsn", "decreasing", -1.0, 2.0, -0.5),
    ]
    return pl.DataFrame(
        [
            {
                "indicator": i,
                "sdg": g,
                "method": m,
                "status": s,
                "observed_rate": o,
                "required_rate": r,
                "ratio": q,
                "base_year": 2015,
                "latest_year": 2024,
            }
            for i, g, m, s, o, r, q in rows
        ]
    )


def circular() -> pl.DataFrame:
    rows = []
    for y in range(2015, 2023):
        rows += [
            {"indicator": "waste_per_resident", "area": "FI", "year": y, "value": 500.0 + y - 2015},
            {"indicator": "waste_per_resident", "area": "EU27_2020", "year": y, "value": 510.0},
            {"indicator": "recycling_rate", "area": "FI", "year": y, "value": 33.0 + y - 2015},
            {"indicator": "recycling_rate", "area": "EU27_2020", "year": y, "value": 48.0},
        ]
    return pl.DataFrame(rows)  # FI recycling 2022 = 40 %


def weekly() -> pl.DataFrame:
    # week 3 of 2026 = 50 against 100 in both earlier years → 50 % lower
    rows = [{"year": y, "week": w, "value": 100.0 + w - 3} for y in (2024, 2025) for w in range(1, 53)]
    rows += [{"year": 2026, "week": w, "value": 50.0 + w - 3} for w in (1, 2, 3)]
    return pl.DataFrame(rows)


def sinks() -> pl.DataFrame:
    # residual 2030 = 200; sink 150 → covers 75 %, gap 50
    return pl.DataFrame(
        {"year": [2018, 2020], "value": [140.0, 150.0], "lower": [100.0, 110.0], "upper": [180.0, 190.0]}
    )


def freshness() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "dataset": ["ds_a", "ds_b", "ds_c"],
            "source": ["HSY", "Syke", "Fingrid"],
            "frequency": ["annual", "annual", "daily"],
            "status": ["fresh", "late", "failed"],
            "last_period_end": [date(2024, 12, 31), date(2022, 12, 31), None],
            "expected_period_end": [date(2024, 12, 31), date(2023, 12, 31), date(2026, 11, 25)],
            "last_fetch": [datetime(2026, 11, 23, 6, 15), datetime(2026, 11, 23, 6, 30), None],
        }
    )


Builder = Callable[[str, ChartMeta], Any]
BUILDERS: dict[str, Builder] = {
    "emissions_trajectory": lambda lang, meta: charts.emissions_trajectory(
        history(), projection(), meta=meta, target=TARGET, lang=lang
    ),
    "sector_area": lambda lang, meta: charts.sector_area(sectors(), meta=meta, lang=lang),
    "sector_waterfall": lambda lang, meta: charts.sector_waterfall(
        sectors(), meta=meta, base_year=TARGET.base_year, lang=lang
    ),
    "per_resident_comparison": lambda lang, meta: charts.per_resident_comparison(
        per_resident(), meta=meta, lang=lang
    ),
    "progress_dashboard": lambda lang, meta: charts.progress_dashboard(dashboard(), meta=meta, lang=lang),
    "circular_economy": lambda lang, meta: charts.circular_economy(
        circular(), meta=meta, targets=RECYCLING_TARGETS, lang=lang
    ),
    "weekly_mover": lambda lang, meta: charts.weekly_mover(weekly(), meta=meta, lang=lang),
    "neutrality_balance": lambda lang, meta: charts.neutrality_balance(
        history(), sinks(), meta=meta, target=TARGET, lang=lang
    ),
    "data_freshness": lambda lang, meta: charts.data_freshness(freshness(), meta=meta, lang=lang),
}
INPUTS: list[Callable[[], pl.DataFrame]] = [
    history,
    projection,
    sectors,
    per_resident,
    dashboard,
    circular,
    weekly,
    sinks,
    freshness,
]

_SPECS: dict[tuple[str, str, bool], dict[str, Any]] = {}


def spec_of(name: str, lang: str = "fi", demo: bool = False) -> dict[str, Any]:
    key = (name, lang, demo)
    if key not in _SPECS:
        _SPECS[key] = BUILDERS[name](lang, DEMO if demo else META).to_dict()
    return _SPECS[key]


# ---------------------------------------------------------------------------------------------------------
# spec helpers


def units(spec: dict[str, Any], inherited: Any = None) -> Iterator[dict[str, Any]]:
    """Every single-mark view in a (layered / concatenated) spec, with the data it inherits."""
    data = spec.get("data", inherited)
    if "mark" in spec:
        yield {**spec, "data": data} if data is not None else spec
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for sub in spec.get(key, []):
            yield from units(sub, data)


def mark_type(unit: dict[str, Any]) -> str:
    mark = unit["mark"]
    return mark if isinstance(mark, str) else str(mark["type"])


def rows_of(spec: dict[str, Any], unit: dict[str, Any]) -> list[dict[str, Any]]:
    data = unit.get("data") or {}
    if "name" in data:
        return list(spec["datasets"][data["name"]])
    return list(data.get("values", []))


def title_text(spec: dict[str, Any]) -> str:
    text = spec["title"]["text"]
    return " ".join(text) if isinstance(text, list) else str(text)


def colour_map(unit: dict[str, Any]) -> dict[str, str]:
    scale = unit["encoding"]["color"]["scale"]
    return dict(zip(scale["domain"], scale["range"], strict=True))


def text_literals(spec: dict[str, Any]) -> list[str]:
    return [u["mark"]["text"] for u in units(spec) if isinstance(u["mark"], dict) and "text" in u["mark"]]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return _strings(value.get("text")) + _strings(value.get("subtitle"))
    return []


def visible_strings(spec: dict[str, Any]) -> list[str]:
    """Every string a reader can see: titles, subtitle, alt text, axis/legend/tooltip titles, text marks,
    legend entries (scale domains) and the data values shown by text, tooltip and categorical axes."""
    out = _strings(spec.get("title")) + _strings(spec.get("description"))
    shown_fields: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "title" in node and node is not spec:
                out.extend(_strings(node["title"]))
            mark = node.get("mark")
            if isinstance(mark, dict) and isinstance(mark.get("text"), str):
                out.append(mark["text"])
            scale = node.get("scale")
            if isinstance(scale, dict):
                out.extend(d for d in scale.get("domain", []) if isinstance(d, str))
            enc = node.get("encoding")
            if isinstance(enc, dict):
                for channel, defs in enc.items():
                    for d in defs if isinstance(defs, list) else [defs]:
                        if (
                            isinstance(d, dict)
                            and "field" in d
                            and (channel in ("text", "tooltip") or d.get("type") in ("nominal", "ordinal"))
                        ):
                            shown_fields.add(d["field"])
            for key, value in node.items():
                if key not in ("datasets", "config", "usermeta"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(spec)
    for rows in spec.get("datasets", {}).values():
        for row in rows:
            out.extend(str(row[f]) for f in shown_fields if isinstance(row.get(f), str))
    return out


def words(text: str) -> set[str]:
    return set(re.findall(r"[^\W\d_]{4,}", re.sub(r"\{[^}]*\}", " ", text).lower()))


# ---------------------------------------------------------------------------------------------------------
# every chart, every language


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", list(BUILDERS))
def test_chart_builds_with_title_subtitle_alt_text_and_locale(name: str, lang: str) -> None:
    chart = BUILDERS[name](lang, META)
    assert isinstance(chart, (alt.LayerChart, alt.HConcatChart))
    spec = spec_of(name, lang)
    assert title_text(spec).strip()
    subtitle = spec["title"]["subtitle"]
    assert any("HSY" in s and "CC BY 4.0" in s for s in subtitle)
    # fi and Finland-Swedish "27.11.2026", en_IE "27 Nov 2026"
    assert any({"fi": "27.11.2026", "sv": "27.11.2026", "en": "27 Nov 2026"}[lang] in s for s in subtitle)
    assert len(spec["description"]) > 40
    assert spec["config"]["locale"] == vega_locale(lang)
    assert spec["usermeta"]["kestava"] == {"chart": name, "lang": lang, "is_demo": False}
    assert spec["config"]["font"] == theme.FONT  # the registered theme is active


@pytest.mark.parametrize("lang", LANGS)
def test_no_user_visible_string_is_in_another_language(lang: str) -> None:
    """fi/sv/en specs contain no word that only the other languages' catalogue has (data excepted)."""
    cat = catalogue()
    own = {w for entry in cat.values() for w in words(entry[lang])}
    foreign = {w for entry in cat.values() for other in LANGS if other != lang for w in words(entry[other])}
    data_words = {
        w
        for make in INPUTS
        for row in make().iter_rows()
        for v in row
        if isinstance(v, str)
        for w in words(v)
    }
    data_words |= {w for s in (*META.sources, *DEMO.sources, META.licence) for w in words(s)}
    foreign_only = foreign - own - data_words
    assert "emissions" in foreign_only or lang == "en"  # the check has teeth
    for name in BUILDERS:
        for demo in (False, True):
            for text in visible_strings(spec_of(name, lang, demo)):
                leaked = words(text) & foreign_only
                assert not leaked, f"{name} [{lang}] shows {sorted(leaked)} in {text!r}"


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_shown_field_has_a_translated_title(name: str) -> None:
    """Axis, legend and tooltip entries never fall back to a raw (English) column name."""
    titled = ("x", "y", "color", "fill", "shape", "strokeDash", "size", "opacity", "fillOpacity")
    for unit in units(spec_of(name)):
        for channel, defs in unit.get("encoding", {}).items():
            for d in defs if isinstance(defs, list) else [defs]:
                if not isinstance(d, dict) or "field" not in d or d.get("scale", {}) is None:
                    continue  # scale None: the values are colours themselves, no legend
                if channel == "tooltip":
                    assert "title" in d, (name, d)
                elif channel in titled and d.get("legend", {}) is not None and d.get("axis", {}) is not None:
                    assert "title" in d, (name, channel, d)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_year_fields_are_never_quantitative(name: str) -> None:
    """A quantitative year prints as "2,010"; years are temporal (format %Y) or ordinal everywhere."""
    for unit in units(spec_of(name, "en")):
        for channel, defs in unit.get("encoding", {}).items():
            for d in defs if isinstance(defs, list) else [defs]:
                if isinstance(d, dict) and d.get("field") in ("year", "year_t"):
                    assert d["type"] != "quantitative", (name, channel, d)
                    if d["type"] == "temporal" and channel == "x":
                        assert d["axis"]["format"] == "%Y"
                        assert "," not in d["axis"]["format"]


@pytest.mark.parametrize("lang", LANGS)
def test_locale_config_is_set_per_language(lang: str) -> None:
    locale = spec_of("sector_area", lang)["config"]["locale"]
    assert locale["number"]["decimal"] == ("." if lang == "en" else ",")
    assert locale["number"]["thousands"] == ("," if lang == "en" else NBSP)
    assert locale["time"]["months"][0] == {"fi": "tammikuu", "sv": "januari", "en": "January"}[lang]


def test_rendered_axes_use_the_language_number_format() -> None:
    def labels(lang: str) -> list[str]:
        svg = vlc.vegalite_to_svg(spec_of("emissions_trajectory", lang))
        return re.findall(r"<text[^>]*>([^<]*)</text>", svg)

    fi, en = labels("fi"), labels("en")
    assert f"1{NBSP}000" in fi and "1,000" not in fi
    assert "1,000" in en
    assert "2010" in fi and "2,010" not in en and f"2{NBSP}010" not in fi  # years stay years


# ---------------------------------------------------------------------------------------------------------
# 1. emissions trajectory


def test_trajectory_marks_target_rule_and_label_from_the_data() -> None:
    spec = spec_of("emissions_trajectory")
    us = list(units(spec))
    rules = [u for u in us if mark_type(u) == "rule"]
    assert len(rules) == 1 and "x" not in rules[0]["encoding"]  # full-width horizontal rule
    assert rows_of(spec, rules[0])[0]["value"] == pytest.approx(200.0)  # 1000 × (1 − 0.8)
    assert any("200 kt" in s.replace(NBSP, " ") and "2030" in s for s in text_literals(spec))
    # the required path: the line whose rows are that series (drawn dashed by the series' strokeDash)
    path_name = t("trajectory.series_path", "fi")
    path = [u for u in us if mark_type(u) == "line" and rows_of(spec, u)[0].get("series") == path_name]
    # from the latest published year (2022), not the 2023 nowcast, as the headline's required rate
    assert [(r["year"], r["value"]) for r in rows_of(spec, path[0])] == [(2022, 750.0), (2030, 200.0)]
    # a different base in the same release moves the target: never a constant
    older = history().with_columns(
        pl.when(pl.col("year") == 1990).then(1224.0).otherwise(pl.col("value")).alias("value")
    )
    s2 = charts.emissions_trajectory(older, meta=META, target=TARGET, lang="en").to_dict()
    rule2 = next(u for u in units(s2) if mark_type(u) == "rule")
    assert rows_of(s2, rule2)[0]["value"] == pytest.approx(244.8)


def test_trajectory_distinguishes_estimated_years() -> None:
    spec = spec_of("emissions_trajectory")
    est = t("site.kind_estimate", "fi")
    points = next(u for u in units(spec) if mark_type(u) == "point" and "fill" in u["encoding"])
    fill = points["encoding"]["fill"]["scale"]
    assert dict(zip(fill["domain"], fill["range"], strict=True))[est] == "#FFFFFF"  # hollow
    statuses = {r["year"]: r["status"] for r in rows_of(spec, points)}
    assert statuses[2023] == est
    # an observed value is named with the word of the site's charts and tables (the report said
    # "Toteutunut", the site "Havaittu"): one word for one thing across report and site
    from report.charts.indicator import MARK_NAMES

    assert statuses[2022] == t(MARK_NAMES["observed"], "fi") == "Havaittu"
    # the history line in two-point segments; one touching an estimate is the dashed "estimate" series
    # of the lines' legend (its strokeDash scale, shared with the other series)
    line = next(u for u in units(spec) if "detail" in u.get("encoding", {}))
    dash = line["encoding"]["strokeDash"]["scale"]
    assert dict(zip(dash["domain"], dash["range"], strict=True))[est] == [5, 3]
    seg = [r for r in rows_of(spec, line) if r["year"] in (2022, 2023) and r["series"] == est]
    assert len(seg) == 2  # the 2022→2023 segment is dashed


def test_trajectory_has_projection_band_and_line() -> None:
    spec = spec_of("emissions_trajectory")
    band = next(u for u in units(spec) if mark_type(u) == "area")
    assert band["encoding"]["y"]["field"] == "lower" and band["encoding"]["y2"]["field"] == "upper"
    band_rows = rows_of(spec, band)
    # the latest year (2023) is an estimate without a band of its own: the band starts from the latest
    # measured year, where a value has no spread, never from a zero-width point at the estimate
    assert (band_rows[0]["year"], band_rows[0]["lower"], band_rows[0]["upper"]) == (2022, 750.0, 750.0)
    assert band_rows[-1] == {
        "year": 2030,
        "value": 560.0,
        "lower": 530.0,
        "upper": 590.0,
        "series": t("trajectory.series_projection", "fi", level=f"95{NBSP}%"),
    }


def nowcast_history() -> pl.DataFrame:
    """history() with the 2023 estimate's own 95 % band, 640–760 kt."""
    return history().with_columns(
        lower=pl.when(pl.col("estimated")).then(640.0).otherwise(None),
        upper=pl.when(pl.col("estimated")).then(760.0).otherwise(None),
    )


@pytest.mark.parametrize("lang", LANGS)
def test_trajectory_band_at_the_nowcast_year_is_the_nowcast_band(lang: str) -> None:
    spec = charts.emissions_trajectory(
        nowcast_history(), projection(), meta=META, target=TARGET, lang=lang
    ).to_dict()
    band = next(u for u in units(spec) if mark_type(u) == "area")
    first = rows_of(spec, band)[0]
    assert (first["year"], first["lower"], first["value"], first["upper"]) == (2023, 640.0, 700.0, 760.0)
    # the legend says what the band is: the 95 % prediction band
    legend = next(u for u in units(spec) if mark_type(u) == "line" and "color" in u["encoding"])
    level = {"fi": f"95{NBSP}%:n ennusteväli", "sv": f"95{NBSP}% prognosintervall"}.get(
        lang, "95% prediction band"
    )
    assert any(level in d for d in legend["encoding"]["color"]["scale"]["domain"])
    # a measured latest year: the band starts there with no spread
    measured = charts.emissions_trajectory(
        history().head(5), projection(), meta=META, target=TARGET
    ).to_dict()
    m_band = next(u for u in units(measured) if mark_type(u) == "area")
    assert (rows_of(measured, m_band)[0]["year"], rows_of(measured, m_band)[0]["lower"]) == (2022, 750.0)
    bad = nowcast_history().with_columns(upper=pl.when(pl.col("estimated")).then(690.0).otherwise(None))
    with pytest.raises(ValueError, match="lower <= value <= upper"):
        charts.emissions_trajectory(bad, projection(), meta=META, target=TARGET)


@pytest.mark.parametrize("lang", LANGS)
def test_trajectory_leaves_missing_years_as_a_labelled_gap(lang: str) -> None:
    """1991–1999 are not in the data: no line across them, a "no data" label in the gap, and the alt text
    says so (history(): 1990, 2000, 2010, 2020, 2022, 2023)."""
    spec = spec_of("emissions_trajectory", lang)
    line = next(u for u in units(spec) if "detail" in u.get("encoding", {}))
    segments: dict[int, list[int]] = {}
    for r in rows_of(spec, line):
        segments.setdefault(r["segment"], []).append(r["year"])
    assert sorted(sorted(s) for s in segments.values()) == [[2022, 2023]]  # the only consecutive pair
    labels = [
        r["label"]
        for u in units(spec)
        if mark_type(u) == "text" and u["encoding"].get("text", {}).get("field") == "label"
        for r in rows_of(spec, u)
    ]
    no_data = {"fi": "ei tietoja", "sv": "uppgifter saknas", "en": "no data"}[lang]
    gaps = ("1991–1999", "2001–2009", "2011–2019", "2021")
    assert sorted(labels) == sorted(f"{no_data}\n{y}" for y in gaps)
    assert "1991–1999, 2001–2009, 2011–2019, 2021" in spec["description"]
    contiguous = pl.DataFrame({"year": list(range(1990, 2001)), "value": [100.0 - y % 7 for y in range(11)]})
    full = charts.emissions_trajectory(contiguous, meta=META, target=TARGET, lang=lang).to_dict()
    assert not any(no_data in str(r) for u in units(full) for r in rows_of(full, u))
    assert no_data not in full["description"].lower()


@pytest.mark.parametrize("lang", LANGS)
def test_trajectory_alt_text_states_the_estimate_as_an_estimate(lang: str) -> None:
    """The 2023 figure (700 kt) is a nowcast: the alt text states 2022 (750 kt) as the latest fact and
    700 only in a sentence that calls it an estimate, with its band."""
    text = charts.emissions_trajectory(
        nowcast_history(), projection(), meta=META, target=TARGET, lang=lang
    ).to_dict()
    description = text["description"].replace(NBSP, " ")
    fact = {"fi": "Vuonna 2022 päästöt olivat 750 kt", "sv": "År 2022 var utsläppen 750 kt"}
    assert fact.get(lang, "In 2022 emissions were 750 kt") in description
    estimate = {"fi": "oma arvio", "sv": "egen uppskattning", "en": "own estimate"}[lang]
    sentences = [s for s in re.split(r"(?<=[.)])\s+(?=[A-ZÅÄÖ])", description) if "700" in s]
    assert sentences and all(estimate in s.lower() for s in sentences), sentences
    assert all("640" in s and "760" in s for s in sentences)  # with its band
    assert "2023" not in description.split(".")[0]  # the chart's span is the published years


@pytest.mark.parametrize(
    ("lang", "expected"),
    [  # the latest published year is 2022 (750 on 1 000: −25 %); 2023 is only an estimate
        ("fi", f"Espoon päästöt laskivat 25{NBSP}% vuodesta 1990 vuoteen 2022"),
        ("sv", f"Esbos utsläpp minskade med 25{NBSP}% från 1990 till 2022"),
        ("en", "Espoo's emissions fell 25% from 1990 to 2022"),
    ],
)
def test_trajectory_title_states_the_published_finding(lang: str, expected: str) -> None:
    assert title_text(spec_of("emissions_trajectory", lang)) == expected


def test_trajectory_title_marks_an_estimate_when_nothing_is_published_after_the_base() -> None:
    only_estimates = pl.DataFrame({"year": [1990, 2023], "value": [1000.0, 700.0], "estimated": [True, True]})
    spec = charts.emissions_trajectory(only_estimates, meta=META, target=TARGET, lang="en").to_dict()
    assert title_text(spec) == "Espoo's emissions fell 30% from 1990 to 2023 (tracker's own estimate)"


def test_trajectory_title_for_a_rise_and_an_area_without_genitive() -> None:
    rising = pl.DataFrame({"year": [1990, 2020], "value": [100.0, 105.0]})
    spec = charts.emissions_trajectory(rising, meta=META, target=TARGET, area="Nurmijärvi").to_dict()
    assert title_text(spec) == f"Nurmijärvi: päästöt kasvoivat 5{NBSP}% vuodesta 1990 vuoteen 2020"
    assert "estimated" not in rising.columns  # optional column: every year observed


# ---------------------------------------------------------------------------------------------------------
# 2–3. sectors


def test_sector_colours_are_fixed_across_charts_languages_and_subsets() -> None:
    full = next(u for u in units(spec_of("sector_area", "fi")) if mark_type(u) == "area")
    subset = charts.sector_area(
        pl.DataFrame(
            {
                "year": [2020, 2020, 2021, 2021],
                "sector": ["waste", "transport"] * 2,
                "value": [90.0, 10.0, 95.0, 5.0],
            }
        ),
        meta=META,
        lang="en",
    ).to_dict()
    sub = next(u for u in units(subset) if mark_type(u) == "area")
    for spec_unit, lang in ((full, "fi"), (sub, "en")):
        for lab, colour in colour_map(spec_unit).items():
            key = next(k for k in theme.SECTOR_COLOURS if t(f"sector.{k}", lang) == lab)
            assert colour == theme.SECTOR_COLOURS[key]
    assert colour_map(full)["Liikenne"] == colour_map(sub)["Transport"] == theme.SECTOR_COLOURS["transport"]
    assert len(set(theme.SECTOR_COLOURS.values())) == len(theme.SECTOR_COLOURS)


def test_every_subsector_has_a_colour_of_its_own_in_its_sectors_hue() -> None:
    """The site's subsector chart drew five unknown keys in four cycling greys: electric heating and
    waterborne transport were the same grey, and transport was blue in one chart and grey in the other."""
    groups = area_chart.subsector_groups()
    fine = sorted(groups)  # every fine sector of HSY's sector table
    spec = charts.sector_area(
        pl.DataFrame({"year": [2020] * len(fine), "sector": fine, "value": [10.0] * len(fine)}),
        meta=META,
        lang="en",
    ).to_dict()
    colours = colour_map(next(u for u in units(spec) if mark_type(u) == "area"))
    assert len(set(colours.values())) == len(fine) == len(colours)  # no two alike
    assert not set(colours.values()) & set(theme.FALLBACK_SECTOR_COLOURS)  # none a grey
    by_key = {key: colours[t(f"sector.{key}", "en")] for key in fine}
    for key, group in groups.items():  # each a shade of its main sector's colour: the same hue
        assert _hue(by_key[key]) == pytest.approx(_hue(theme.SECTOR_COLOURS[group]), abs=0.02), (key, group)


def _hue(colour: str) -> float:
    """The hue (0–1) of a #RRGGBB colour."""
    red, green, blue = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hsv(red, green, blue)[0]


def test_sector_area_stacks_largest_first_and_labels_right_end() -> None:
    spec = spec_of("sector_area")
    area = next(u for u in units(spec) if mark_type(u) == "area")
    assert area["encoding"]["y"]["stack"] == "zero" and area["encoding"]["order"]["field"] == "order"
    assert colour_map(area) == {
        "Liikenne": theme.SECTOR_COLOURS["transport"],
        "Kaukolämpö": theme.SECTOR_COLOURS["district_heat"],
        "Kulutussähkö": theme.SECTOR_COLOURS["consumer_electricity"],
    }
    text = next(u for u in units(spec) if mark_type(u) == "text" and "text" in u.get("encoding", {}))
    labels = {r["label"].replace(NBSP, " "): r["mid"] for r in rows_of(spec, text)}
    assert labels == {"Liikenne 40 %": 140.0, "Kaukolämpö 36 %": 405.0, "Kulutussähkö 24 %": 615.0}
    assert title_text(spec) == f"Liikenne oli suurin päästölähde vuonna 2023: 40{NBSP}%"


@pytest.mark.parametrize("lang", LANGS)
def test_sector_area_leaves_missing_years_as_a_labelled_gap(lang: str) -> None:
    """1990, then 2000–2002: no area across 1991–1999; 1990 alone is a stacked column; a "no data" label."""
    frame = pl.DataFrame(
        [
            {"year": y, "sector": s, "value": v}
            for y in (1990, 2000, 2001, 2002)
            for s, v in (("transport", 300.0), ("district_heat", 500.0))
        ]
    )
    spec = charts.sector_area(frame, meta=META, lang=lang).to_dict()
    area = next(u for u in units(spec) if mark_type(u) == "area")
    assert area["encoding"]["detail"]["field"] == "run"  # one area path per run of consecutive years
    runs: dict[int, set[int]] = {}
    for r in rows_of(spec, area):
        runs.setdefault(r["run"], set()).add(r["year"])
    assert sorted(sorted(v) for v in runs.values()) == [[2000, 2001, 2002]]
    column = next(u for u in units(spec) if mark_type(u) == "bar")
    assert {r["year"] for r in rows_of(spec, column)} == {1990}
    assert column["encoding"]["y"]["stack"] == "zero" and column["encoding"]["order"]["field"] == "order"
    no_data = {"fi": "ei tietoja", "sv": "uppgifter saknas", "en": "no data"}[lang]
    labels = [r.get("label") for u in units(spec) if mark_type(u) == "text" for r in rows_of(spec, u)]
    assert f"{no_data}\n1991–1999" in labels
    assert "1991–1999" in spec["description"]


def test_sector_waterfall_bars_and_signs() -> None:
    spec = spec_of("sector_waterfall")
    bars = next(u for u in units(spec) if mark_type(u) == "bar")
    rows = rows_of(spec, bars)
    steps = [(r["step"], r["kind"], r["start"], r["end"]) for r in rows]
    dec, tot = t("waterfall.kind_decrease", "fi"), t("waterfall.kind_total", "fi")
    assert steps == [
        ("Yhteensä 1990", tot, 0.0, 1000.0),
        ("Kaukolämpö", dec, 1000.0, 750.0),
        ("Kulutussähkö", dec, 750.0, 720.0),
        ("Liikenne", dec, 720.0, 700.0),
        ("Yhteensä 2023", tot, 0.0, 700.0),
    ]
    colours = colour_map(bars)
    assert colours[dec] == theme.OKABE_ITO["blue"]
    # no sector grew: the legend names no "Increase" (it used to list it with no bar of that kind)
    assert t("waterfall.kind_increase", "fi") not in colours
    grew = sectors().with_columns(
        pl.when((pl.col("year") == 2023) & (pl.col("sector") == "transport"))
        .then(pl.col("value") + 500)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    grown = charts.sector_waterfall(grew, meta=META, base_year=TARGET.base_year).to_dict()
    grown_bars = next(u for u in units(grown) if mark_type(u) == "bar")
    assert colour_map(grown_bars)[t("waterfall.kind_increase", "fi")] == theme.OKABE_ITO["vermillion"]
    assert bars["encoding"]["x2"]["field"] == "hi"
    assert title_text(spec) == f"Kaukolämpö kantoi suurimman vähennyksen 1990–2023 ({MINUS}250{NBSP}kt)"
    table = chart_table(BUILDERS["sector_waterfall"]("fi", META))
    assert table.filter(pl.col("sector_key") == "district_heat")["share_of_cut"].item() == pytest.approx(
        250 / 300
    )


def test_sector_waterfall_needs_matching_sectors() -> None:
    odd = sectors().filter(~((pl.col("year") == 1990) & (pl.col("sector") == "transport")))
    with pytest.raises(ValueError, match=r"sector_waterfall: sectors \['transport'\] appear in only one"):
        charts.sector_waterfall(odd, meta=META, base_year=TARGET.base_year)


# ---------------------------------------------------------------------------------------------------------
# 4–9


def test_per_resident_highlights_espoo_and_marks_the_median() -> None:
    spec = spec_of("per_resident_comparison")
    bars = next(u for u in units(spec) if mark_type(u) == "bar")
    groups = {r["area"]: r["group"] for r in rows_of(spec, bars)}
    assert groups == {
        "Espoo": "Espoo",
        "Helsinki": "Muu pääkaupunkiseutu",
        "Vantaa": "Muu pääkaupunkiseutu",
        "Tampere": "Muut suuret kaupungit",
    }
    assert colour_map(bars)["Espoo"] == theme.OKABE_ITO["blue"]
    assert bars["encoding"]["y"]["sort"] == ["Espoo", "Vantaa", "Helsinki", "Tampere"]
    rule = next(u for u in units(spec) if mark_type(u) == "rule")
    # the median (3.0) drawn row by row, except Helsinki's: its bar ends at 3.0, so its label "3,0" starts
    # at the median and the dashed line would strike through it
    assert rows_of(spec, rule) == [
        {"area": "Espoo", "median": 3.0},
        {"area": "Vantaa", "median": 3.0},
        {"area": "Tampere", "median": 3.0},
    ]
    assert title_text(spec).replace(NBSP, " ") == (
        "Espoon päästöt asukasta kohden Syken kuntalaskennassa olivat 2,0 t vuonna 2023, "
        "33 % alle vertailukaupunkien mediaanin"
    )
    change = {r["area"]: r["change"] for r in rows_of(spec, bars)}
    assert change["Espoo"] == f"{MINUS}50{NBSP}% (2005–2023)"
    sv = spec_of("per_resident_comparison", "sv")
    assert "Esbo" in next(u for u in units(sv) if mark_type(u) == "bar")["encoding"]["y"]["sort"]


def close_per_resident() -> pl.DataFrame:
    # every value reads "2,6" at one decimal; Vantaa and Helsinki still read the same at two
    now = {"espoo": 2.61, "helsinki": 2.6405, "vantaa": 2.6449, "tampere": 2.58, "turku": 2.58}
    return pl.DataFrame([{"area": a, "year": 2023, "value": v} for a, v in now.items()])


def _places(fmt: str) -> int:
    match = re.fullmatch(r",\.(\d)f", fmt)
    assert match, fmt
    return int(match.group(1))


@pytest.mark.parametrize("lang", LANGS)
def test_per_resident_decimals_rank_the_cities_and_labels_match_tooltips(lang: str) -> None:
    for frame, close in ((per_resident(), False), (close_per_resident(), True)):
        spec = charts.per_resident_comparison(frame, meta=META, lang=lang).to_dict()
        bars = next(u for u in units(spec) if mark_type(u) == "bar")
        text = next(u for u in units(spec) if mark_type(u) == "text" and "text" in u["encoding"])
        tip = next(d for d in bars["encoding"]["tooltip"] if d["field"] == "value")
        assert text["encoding"]["text"]["field"] == "value"
        assert text["encoding"]["text"]["format"] == tip["format"]  # the label and the tooltip agree
        places = _places(tip["format"])
        shown = {r["area_key"]: r["value"] for r in rows_of(spec, bars)}  # the year drawn
        ranked = sorted(set(shown.values()))

        def printed(d: int, ranked: list[float] = ranked) -> list[str]:
            return [format_number(v, lang, d) for v in ranked]

        # neighbours in the ranking that differ never print the same ...
        assert all(a != b for a, b in itertools.pairwise(printed(places)))
        # ... with the fewest decimals that does it, one at least
        assert places == 1 or any(a == b for a, b in itertools.pairwise(printed(places - 1)))
        assert places > 1 if close else places == 1
        # the title and the alt text state the highlighted value at the same decimals
        espoo = format_number(shown["espoo"], lang, places)
        assert espoo in title_text(spec) and espoo in spec["description"]


def test_progress_dashboard_grid_text_and_reasons() -> None:
    spec = spec_of("progress_dashboard")
    rect = next(u for u in units(spec) if mark_type(u) == "rect")
    text = next(u for u in units(spec) if mark_type(u) == "text" and "text" in u.get("encoding", {}))
    assert rect["encoding"]["x"]["sort"] == ["Eurostat", "Open SDG", "SDSN", "Saksan malli"]
    # rows keep the caller's (catalogue) order: the headline indicator first, not sorted by SDG code or name
    assert rect["encoding"]["y"]["sort"] == ["13.2 Kasvihuonekaasupäästöt", "7.2 Uusiutuva energia"]
    levels = rect["encoding"]["color"]["scale"]
    assert levels["range"] == [theme.LEVEL_COLOURS[lv] for lv in charts.LEVELS]
    assert text["encoding"]["fill"]["scale"] is None
    cells = {(r["row"], r["method"]): r for r in rows_of(spec, rect)}
    assert len(cells) == 8  # 2 × 4, the missing pair filled in
    missing = cells[("7.2 Uusiutuva energia", "Saksan malli")]
    assert missing["status"] == "Ei arvioitu" and missing["level_key"] == "none"
    ghg = cells[("13.2 Kasvihuonekaasupäästöt", "Eurostat")]
    assert ghg["status"] == "Kohtalaista edistystä"
    assert ghg["observed_text"] == f"{MINUS}2,1{NBSP}% vuodessa"
    assert ghg["required_text"] == f"{MINUS}3,9{NBSP}% vuodessa"
    assert ghg["ratio_text"] == f"53{NBSP}%" and ghg["years_text"] == "2015\u2009→\u20092024"
    tip_titles = [d["title"] for d in rect["encoding"]["tooltip"]]
    assert tip_titles[-5:] == [
        t(f"label.{k}", "fi") for k in ("observed_rate", "required_rate", "ratio", "deviation", "period")
    ]
    # indicators, not cells: no GHG method is sufficient (0/4); renewables are 'decreasing' by SDSN, so
    # no indicator is sufficient by every method (0/2)
    assert title_text(spec) == (
        "Kasvihuonekaasupäästöt: riittävä edistys 0/4 menetelmällä · "
        "0/2 indikaattoria edistyy riittävästi kaikilla menetelmillä, joilla se arvioitiin"
    )
    with pytest.raises(ValueError, match="progress_dashboard: unknown status 'great'"):
        charts.progress_dashboard(dashboard().with_columns(status=pl.lit("great")), meta=META)


def test_circular_economy_two_panels_with_eu_targets() -> None:
    spec = spec_of("circular_economy")
    assert len(spec["hconcat"]) == 2
    target = [u for u in units(spec) if mark_type(u) == "point" and u["mark"].get("shape") == "diamond"]
    assert [(r["year"], r["plot_value"]) for r in rows_of(spec, target[0])] == [
        (2025, 0.55),
        (2030, 0.60),
        (2035, 0.65),
    ]
    line = next(u for u in units(spec) if mark_type(u) == "line")
    assert colour_map(line)["Suomi"] == theme.OKABE_ITO["blue"]
    assert colour_map(line)["EU-27"] == theme.ORANGE_MARK
    assert (
        title_text(spec)
        == f"Suomen kierrätysaste oli 40{NBSP}% vuonna 2022; EU:n tavoite vuodelle 2025 on 55{NBSP}%"
    )
    assert title_text(spec_of("circular_economy", "en")).startswith("Finland's recycling rate was 40%")


_AXIS_LABELS = re.compile(r'<g class="mark-text role-axis-label"[^>]*>(.*?)</g>', re.DOTALL)
_LABEL = re.compile(
    r'<text text-anchor="(start|middle|end)" transform="translate\(([-\d.]+),[-\d.]+\)"[^>]*'
    r'font-size="([\d.]+)px"[^>]*>(\d{4})</text>'
)


def year_label_gaps(svg: str) -> list[list[float]]:
    """Per axis of year labels in a rendered SVG: the px between neighbouring labels' ink (a DejaVu Sans
    digit is 0.64 em wide), from their anchor and x position."""
    out = []
    for axis in _AXIS_LABELS.findall(svg):
        boxes = []
        for anchor, x, size, text in _LABEL.findall(axis):
            width = len(text) * float(size) * 0.64
            left = float(x) - {"start": 0.0, "middle": width / 2, "end": width}[anchor]
            boxes.append((left, left + width))
        if len(boxes) > 1:
            boxes.sort()
            out.append([b[0] - a[1] for a, b in itertools.pairwise(boxes)])
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_circular_economy_year_labels_do_not_overlap(lang: str) -> None:
    """Both 300 px panels, the recycling one running to the EU's 2035 target: rendered year labels keep
    at least 8 px between them, also for a long series (2000–2022)."""
    long = pl.concat(
        [
            circular(),
            circular()
            .filter(pl.col("year") == 2015)
            .join(pl.DataFrame({"year2": list(range(2000, 2015))}), how="cross")
            .with_columns(year=pl.col("year2"))
            .drop("year2"),
        ]
    )
    for frame in (circular(), long):
        spec = charts.circular_economy(frame, meta=META, targets=RECYCLING_TARGETS, lang=lang).to_dict()
        gaps = year_label_gaps(vlc.vegalite_to_svg(spec))
        assert len(gaps) == 2, gaps  # one year axis per panel
        for axis in gaps:
            assert min(axis) >= 8, gaps
        for unit in units(spec):
            axis = unit.get("encoding", {}).get("x", {}).get("axis")
            if axis and axis.get("format") == "%Y":
                assert axis["labelAngle"] == 0 and axis["labelOverlap"] is True


def test_weekly_mover_emphasises_the_current_year() -> None:
    spec = spec_of("weekly_mover")
    lines = [u for u in units(spec) if mark_type(u) == "line"]
    widths = sorted(u["mark"]["strokeWidth"] for u in lines)
    assert widths == [1.3, 3]
    colours = colour_map(lines[0])
    assert colours["2026"] == theme.OKABE_ITO["blue"]
    assert colours["2024"] != colours["2025"]  # earlier years are distinct greys
    assert lines[0]["encoding"]["x"]["axis"]["format"] == "d"
    # whole-number values (50 after 49) print as whole numbers, and so does their difference (+1, not +1,0)
    assert title_text(spec).replace(NBSP, " ") == (
        "Sähkön päästökerroin viikolla 3/2026 (12.–18.1.2026): 50 gCO₂/kWh, +1 gCO₂/kWh viikkoon 2 "
        "(5.–11.1.2026) verrattuna; 50 % alempi kuin aiempina vuosina keskimäärin"
    )


def four_weeks() -> pl.DataFrame:
    # weeks 45–48 of 2026 only; week 48 is 3.2 below week 47
    return pl.DataFrame({"year": [2026] * 4, "week": [45, 46, 47, 48], "value": [60.0, 55.0, 58.0, 54.8]})


@pytest.mark.parametrize("lang", LANGS)
def test_weekly_mover_axis_spans_only_the_weeks_with_data(lang: str) -> None:
    frame = four_weeks()
    spec = charts.weekly_mover(frame, meta=META, lang=lang).to_dict()
    weeks = sorted(frame["week"])
    for unit in units(spec):
        x = unit.get("encoding", {}).get("x")
        if x is None or x.get("field") != "week" or "scale" not in x:
            continue
        assert x["scale"]["domain"] == [weeks[0], weeks[-1]]  # 45–48, not 1–53
        assert x["axis"]["values"] == weeks  # a label at each of the four weeks, none without data
    # many weeks: labels at weeks with data, at most 13 of them, the latest week always labelled
    many = charts.weekly_mover(weekly(), meta=META, lang=lang).to_dict()
    x = next(u for u in units(many) if mark_type(u) == "line")["encoding"]["x"]
    held = set(weekly()["week"])
    assert x["scale"]["domain"] == [min(held), max(held)]
    assert set(x["axis"]["values"]) <= held and len(x["axis"]["values"]) <= 13
    assert max(held) in x["axis"]["values"]
    # one week alone: a domain around it, never a zero-width one
    one = charts.weekly_mover(frame.head(1), meta=META, lang=lang).to_dict()
    x = next(u for u in units(one) if mark_type(u) == "line")["encoding"]["x"]
    assert x["scale"]["domain"][0] < weeks[0] < x["scale"]["domain"][1]


@pytest.mark.parametrize("lang", LANGS)
def test_weekly_mover_title_states_the_change_from_the_week_before(lang: str) -> None:
    frame = four_weeks()
    title = title_text(charts.weekly_mover(frame, meta=META, lang=lang).to_dict())
    # 54.8 − 58.0 = −3.2: the locale's minus sign and decimal separator, the unit, the week compared with
    # and its days (ISO week 47 of 2026: Monday 16 to Sunday 22 November)
    minus = "-" if lang == "en" else MINUS
    sep = "." if lang == "en" else ","
    before = t(
        "weekly.change", lang, delta=f"{minus}3{sep}2", prev_week=47, prev_dates=week_dates(2026, 47, lang)
    )
    assert before in title, title
    assert {"fi": "16.–22.11.2026", "sv": "16.–22.11.2026", "en": "16–22 Nov 2026"}[lang] in title
    # a rise has the plus sign
    up = frame.with_columns(value=pl.Series([60.0, 55.0, 50.0, 51.5]))
    assert f"+1{sep}5{NBSP}gCO₂/kWh" in title_text(charts.weekly_mover(up, meta=META, lang=lang).to_dict())
    # week 1 is compared with the previous ISO year's last week (2020 had 53 weeks)
    turn = pl.DataFrame({"year": [2020, 2021], "week": [53, 1], "value": [40.0, 42.0]})
    spec = charts.weekly_mover(turn, meta=META, lang=lang).to_dict()
    # 40 and 42 print as whole numbers (report.i18n.shown_decimals), and so does their difference
    assert f"+2{NBSP}gCO₂/kWh" in title_text(spec) and week_dates(2020, 53, lang) in title_text(spec)
    compared = spec["description"].rsplit("(", 1)[-1]  # the alt text names the week compared with
    assert "53" in spec["description"] and "2020" in spec["description"] and compared
    # the week before has no value: no change is claimed, not one on an older week across the gap
    gap = frame.filter(pl.col("week") != 47)
    assert "gCO₂/kWh," not in title_text(charts.weekly_mover(gap, meta=META, lang=lang).to_dict())


def test_neutrality_balance_residual_sink_and_gap() -> None:
    spec = spec_of("neutrality_balance")
    bars = [u for u in units(spec) if mark_type(u) == "bar"]
    values = {r["kind"]: (r["lo"], r["hi"]) for u in bars for r in rows_of(spec, u)}
    assert values[t("balance.kind_residual", "fi")] == (0.0, 200.0)
    assert values[t("balance.kind_sink", "fi")] == (0.0, 150.0)
    assert values[t("balance.kind_gap", "fi")] == (150.0, 200.0)
    assert any(r.get("label") == f"Vaje 50{NBSP}kt" for u in units(spec) for r in rows_of(spec, u))
    assert any(mark_type(u) == "errorbar" for u in units(spec))
    assert values[t("balance.kind_latest", "fi")] == (0.0, 700.0)  # the latest year's, above the two
    assert title_text(spec).replace(NBSP, " ") == (
        "Jos hiilinielu olisi 150 kt, se kattaisi 75 % vuoden 2030 jäännöspäästöistä (200 kt); "
        "vuonna 2023 päästöt olivat 700 kt"
    )


@pytest.mark.parametrize("lang", LANGS)
def test_neutrality_balance_sink_is_the_city_of_espoos_assumption_and_a_what_if(lang: str) -> None:
    spec = spec_of("neutrality_balance", lang)
    espoo = {"fi": "Espoon kaupunki", "sv": "Esbo stad", "en": "City of Espoo"}[lang]
    assumption = {"fi": "oletus", "sv": "antagande", "en": "assumption"}[lang]
    # the sink bar's axis label and legend entry call it an assumption, credited to the City of Espoo
    sink_rows = [
        r
        for u in units(spec)
        if mark_type(u) == "bar"
        for r in rows_of(spec, u)
        if r["kind"] == t("balance.kind_sink", lang)
    ]
    assert len(sink_rows) == 1
    assert assumption in sink_rows[0]["category"].lower() and espoo in sink_rows[0]["category"]
    assert assumption in sink_rows[0]["kind"].lower()
    # wherever the sink's source is named it is the City of Espoo, never HSY (the emissions' publisher)
    assert sink_rows[0]["source"] == espoo
    bar = next(u for u in units(spec) if mark_type(u) == "bar")
    assert "source" in [d["field"] for d in bar["encoding"]["tooltip"]]
    subtitle = " ".join(spec["title"]["subtitle"])
    assert espoo in subtitle and assumption in subtitle.lower() and "HSY" in subtitle
    assert espoo in spec["description"] and assumption in spec["description"].lower()
    table = chart_table(BUILDERS["neutrality_balance"](lang, META))
    assert espoo in table.filter(pl.col("item") == "sink")["label"].item()
    # the title is a what-if (a conditional), not a finding
    title = title_text(spec)
    assert title.startswith({"fi": "Jos ", "sv": "Om ", "en": "If "}[lang])
    assert {"fi": "kattaisi", "sv": "skulle", "en": "would"}[lang] in title
    assert "HSY" not in title
    # the report's heading over the chart says the same
    assert assumption[:4] in t("chart_heading.neutrality_balance", lang).lower()


def test_data_freshness_statuses_markers_and_problems_first() -> None:
    spec = spec_of("data_freshness")
    points = next(u for u in units(spec) if mark_type(u) == "point" and "color" in u["encoding"])
    assert points["encoding"]["y"]["sort"] == ["ds_c", "ds_b", "ds_a"]  # failed, late, fresh
    assert colour_map(points) == {
        t(f"freshness.status_{s}", "fi"): theme.FRESHNESS_COLOURS[s] for s in charts.FRESHNESS_STATUSES
    }
    tips = {r["dataset"]: r for r in rows_of(spec, points)}
    assert tips["ds_b"]["last_text"] == "31.12.2022"
    assert tips["ds_b"]["fetch_text"] == "23.11.2026 klo\u00a06.30"
    assert tips["ds_c"]["last_text"] == "\u2013"
    assert title_text(spec) == "1 / 3 aineistosta on ajan tasalla, 2 vaatii huomiota"
    assert "Tilanne 27.11.2026" in text_literals(spec)


# ---------------------------------------------------------------------------------------------------------
# demo watermark, tables, escaping, validation


@pytest.mark.parametrize("name", list(BUILDERS))
def test_demo_watermark_iff_is_demo(name: str) -> None:
    for lang in LANGS:
        mark = t("meta.watermark", lang)
        demo, real = spec_of(name, lang, demo=True), spec_of(name, lang)
        panels = demo.get("hconcat", [demo])
        for panel in panels:  # every panel of a concatenated chart carries its own mark
            assert mark in text_literals(panel), (name, lang)
        assert any(mark in s for s in demo["title"]["subtitle"])
        assert demo["usermeta"]["kestava"]["is_demo"] is True
        assert mark not in json.dumps(real, ensure_ascii=False)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_chart_exposes_its_data_table(name: str) -> None:
    chart = BUILDERS[name]("sv", META)
    table = chart_table(chart)
    assert isinstance(table, pl.DataFrame) and table.height > 0
    headers = chart_table(chart, translated_headers=True).columns
    assert headers == [t(f"column.{c}", "sv") for c in table.columns]
    with pytest.raises(ValueError, match="chart_table"):
        chart_table(chart.properties(width=100))


def test_trajectory_table_holds_history_path_projection_and_target() -> None:
    table = chart_table(BUILDERS["emissions_trajectory"]("en", META))
    base_path = t("trajectory.series_base_path", "en", base_year=1990, target_year=2030)
    assert set(table["series"]) == {
        t(f"trajectory.series_{k}", "en", level="95%") for k in ("history", "projection", "path", "target")
    } | {base_path}
    target = table.filter(pl.col("series") == t("trajectory.series_target", "en"))
    assert target.select("year", "value").row(0) == (2030, 200.0)
    # the linear path the linear-path status compares with: from the 1990 value to the target
    base_1990 = table.filter(pl.col("series") == "Emissions", pl.col("year") == 1990)["value"].item()
    line = table.filter(pl.col("series") == base_path).sort("year").select("year", "value").rows()
    assert line == [(1990, base_1990), (2030, 200.0)]
    assert table.filter(pl.col("year") == 2023, pl.col("series") == "Emissions")["estimated"].item() is True
    # each year once: the estimate's 2023 is the series' row, not the projection's too (the row its band
    # starts from is drawn, not listed), and the projection lists the years it projects
    projected = table.filter(pl.col("series") == t("trajectory.series_projection", "en", level="95%"))
    assert 2023 not in projected["year"] and projected["year"].min() == 2024


@pytest.mark.parametrize("lang", LANGS)
def test_the_required_path_starts_from_the_latest_published_year_not_from_an_estimate(lang: str) -> None:
    """history(): 2022 published (750 kt), 2023 a nowcast (700 kt). The headline's required rate runs from
    the latest published year, so the drawn path must too: from (2022, 750) to the target (2030, 200)."""
    chart = charts.emissions_trajectory(history(), projection(), meta=META, target=TARGET, lang=lang)
    table = chart_table(chart)
    path = table.filter(pl.col("series") == t("trajectory.series_path", lang)).sort("year")
    assert path.select("year", "value", "estimated").rows() == [(2022, 750.0, False), (2030, 200.0, False)]
    text = str(chart.to_dict()["description"])
    assert {"fi": "vuoden 2022 tasosta", "sv": "från nivån 2022", "en": "from the 2022 level"}[lang] in text
    # every year published: the path starts at the latest
    measured = chart_table(charts.emissions_trajectory(history().head(5), meta=META, target=TARGET))
    first = measured.filter(pl.col("series") == t("trajectory.series_path", "fi")).sort("year").row(0)
    assert first[1:3] == (2022, 750.0)


def test_text_from_data_is_escaped_not_html() -> None:
    evil = "<script>alert(1)</script>"
    frame = pl.DataFrame({"year": [2020, 2021], "sector": [evil, evil], "value": [10.0, 12.0]})
    chart = charts.sector_area(frame, meta=META, lang="en")
    spec = chart.to_dict()
    assert title_text(spec).startswith(evil)  # data, shown as text
    assert spec["usermeta"]["embedOptions"] == {"tooltip": True}  # vega-tooltip's default escaping
    assert "html" not in json.dumps(spec).lower()
    svg = vlc.vegalite_to_svg(spec)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    grey = next(u for u in units(spec) if mark_type(u) == "area")["encoding"]["color"]["scale"]["range"]
    assert grey == [theme.FALLBACK_SECTOR_COLOURS[0]]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: charts.emissions_trajectory(history().drop("value"), meta=META, target=TARGET),
            r"emissions_trajectory: `history` is missing column 'value'; expected total emissions in kt CO2e",
        ),
        (
            lambda: charts.emissions_trajectory(
                history().with_columns(pl.col("year").cast(pl.String)), meta=META, target=TARGET
            ),
            r"emissions_trajectory: column 'year' of `history` has dtype String; expected the calendar year",
        ),
        (
            lambda: charts.emissions_trajectory(
                history().filter(pl.col("year") > 1990), meta=META, target=TARGET
            ),
            r"emissions_trajectory: `history` needs a positive value for base_year 1990",
        ),
        (
            lambda: charts.emissions_trajectory(history(), meta=META, target=TARGET, lang="de"),
            r"emissions_trajectory: lang: expected one of fi, sv, en, got 'de'",
        ),
        (
            lambda: charts.sector_area(pl.concat([sectors(), sectors()]), meta=META),
            r"sector_area: `frame` has more than one row for",
        ),
        (
            lambda: charts.sector_area(sectors().with_columns(value=-pl.col("value")), meta=META),
            r"sector_area: sector '\w+' has a negative value",
        ),
        (
            lambda: charts.per_resident_comparison(per_resident(), meta=META, highlight="oulu"),
            r"per_resident_comparison: highlighted area 'oulu' has no rows",
        ),
        (
            lambda: charts.circular_economy(
                circular().filter(pl.col("indicator") == "recycling_rate"),
                meta=META,
                targets=RECYCLING_TARGETS,
            ),
            r"circular_economy: no 'waste_per_resident' rows for area 'fi'",
        ),
        (
            lambda: charts.weekly_mover(weekly().with_columns(week=pl.lit(60)).unique("year"), meta=META),
            r"weekly_mover: week 60 in \d+ is outside 1–53",
        ),
        (
            lambda: charts.neutrality_balance(
                history(), sinks().with_columns(value=-pl.col("value")), meta=META, target=TARGET
            ),
            r"neutrality_balance: sink value -150.0 for 2020 is negative",
        ),
        (
            lambda: charts.data_freshness(freshness().drop("expected_period_end"), meta=META),
            r"data_freshness: `frame` is missing column 'expected_period_end'",
        ),
        (
            lambda: charts.data_freshness(freshness().with_columns(status=pl.lit("stale")), meta=META),
            r"data_freshness: unknown status 'stale'",
        ),
        (lambda: charts.sector_area(sectors().clear(), meta=META), r"sector_area: `frame` has no rows"),
        (
            lambda: charts.sector_area(sectors(), meta="meta"),  # type: ignore[arg-type]
            r"sector_area: `meta` must be a ChartMeta",
        ),
    ],
)
def test_invalid_input_raises_value_error_naming_chart_and_column(
    call: Callable[[], Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_lazy_frames_and_code_aliases_are_accepted() -> None:
    chart = charts.per_resident_comparison(per_resident().lazy(), meta=META, highlight="049")  # type: ignore[arg-type]
    assert chart_table(chart).filter(pl.col("area_key") == "espoo")["value"].item() == 2.0


def test_theme_is_registered_and_enabled() -> None:
    assert alt.theme.active == theme.THEME_NAME
    config = alt.Chart(pl.DataFrame({"a": [1]})).mark_point().to_dict()["config"]
    assert config["range"]["category"] == list(theme.CATEGORY_RANGE)
    assert theme.wrap_title("short") == ["short"]
    lines = theme.wrap_title("word " * 30, 60)
    assert len(lines) == 3 and max(map(len, lines)) - min(map(len, lines)) <= 6  # balanced, no orphan
    with pytest.raises(ValueError, match="sources"):
        ChartMeta(sources=(), licence="CC BY 4.0", vintage=date(2026, 1, 1))


# ---------------------------------------------------------------------------------------------------------
# rendering


def _png_pixels(png: bytes) -> tuple[int, int, bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


RENDERS = [(name, "fi") for name in BUILDERS] + [("emissions_trajectory", "sv"), ("progress_dashboard", "en")]


def test_every_chart_renders_to_a_non_trivial_png() -> None:
    pngs: dict[tuple[str, str], bytes] = {}
    timings: dict[str, float] = {}
    for name, lang in RENDERS:
        spec = spec_of(name, lang, demo=True)
        start = time.perf_counter()
        png = vlc.vegalite_to_png(spec, scale=1)
        timings[f"{name}/{lang}"] = time.perf_counter() - start
        width, height, raw = _png_pixels(png)
        assert len(png) > 8_000, (name, lang, len(png))
        assert width > 300 and height > 200, (name, lang, width, height)
        assert len(set(raw)) > 32, (name, lang)  # not one flat colour
        pngs[(name, lang)] = png
    assert len(set(pngs.values())) == len(pngs)  # different charts and languages differ
    print("render seconds:", {k: round(v, 2) for k, v in timings.items()})


# ---------------------------------------------------------------------------------------------------------
# the linear path check, engine method names, catalogue indicator names, never-fetched datasets


def test_progress_dashboard_linear_method_engine_names_and_catalogue_names() -> None:
    frame = pl.DataFrame(
        [
            {
                "indicator": "ghg_total",
                "sdg": "13.2",
                "method": method,
                "status": status,
                "observed_rate": -1.2,
                "required_rate": -3.9,
                "ratio": 0.48,
                "base_year": 1990,
                "latest_year": 2024,
            }
            for method, status in (
                ("eurostat_sdg", "insufficient_progress"),
                ("linear_trajectory_check", "behind_path"),
                ("linear", "on_path"),
            )
        ]
    ).filter(pl.col("method") != "linear")
    on_path = frame.with_columns(indicator=pl.lit("recycling_rate"), status=pl.lit("on_path"))
    rows = pl.concat([frame, on_path.filter(pl.col("method") == "linear_trajectory_check")])
    expected = {
        "fi": ("Tavoitepolku", "Jäljessä tavoitepolusta", "Kasvihuonekaasupäästöt"),
        "sv": ("Målbana", "Efter målbanan", "Växthusgasutsläpp"),
        "en": ("Target path", "Behind the target path", "Greenhouse gas emissions"),
    }
    for lang, (method, status, name) in expected.items():
        chart = charts.progress_dashboard(rows, meta=META, lang=lang)
        table = chart_table(chart)
        assert set(table["method_key"]) == {"eurostat", "linear"}
        linear = table.filter(pl.col("method_key") == "linear", pl.col("indicator") == "ghg_total")
        assert linear["method"].item() == method and linear["status"].item() == status
        assert linear["level_key"].item() == "weak"
        on = table.filter(pl.col("method_key") == "linear", pl.col("indicator") == "recycling_rate")
        assert on["level_key"].item() == "good"
        spec = chart.to_dict()
        rect = next(u for u in units(spec) if mark_type(u) == "rect")
        assert f"13.2 {name}" in rect["encoding"]["y"]["sort"]
    assert charts.indicator_label("ghg_by_sector.transport", "en") == "Emissions by sector: Transport"
    assert charts.indicator_label("not_in_any_catalogue", "sv") == "not_in_any_catalogue"
    assert charts.STATUS_LEVELS["on_path"] == "good" and charts.STATUS_LEVELS["behind_path"] == "weak"
    with pytest.raises(ValueError, match="more than one row"):
        charts.progress_dashboard(
            pl.concat([frame, frame.with_columns(method=pl.lit("eurostat"))]), meta=META
        )


def test_data_freshness_never_fetched_is_a_problem() -> None:
    frame = freshness().with_columns(status=pl.Series(["fresh", "late", "never"]))
    spec = charts.data_freshness(frame, meta=META, lang="en").to_dict()
    points = next(u for u in units(spec) if mark_type(u) == "point" and "color" in u["encoding"])
    assert points["encoding"]["y"]["sort"] == ["ds_c", "ds_b", "ds_a"]  # never, late, fresh
    assert colour_map(points)["Never fetched"] == theme.FRESHNESS_COLOURS["never"]
    assert title_text(spec) == "1 of 3 datasets are up to date, 2 need attention"


@pytest.mark.parametrize(
    ("lang", "seen", "period"),
    [
        ("fi", "julkaisu havaittu 6.12.2026", "31.12.2024"),
        ("sv", "publicering noterad 6.12.2026", "31.12.2024"),
        ("en", "release seen 6 Dec 2026", "31 Dec 2024"),
    ],
)
def test_data_freshness_a_release_tracked_dataset_shows_the_release_seen_not_a_period(
    lang: str, seen: str, period: str
) -> None:
    """Covenant targets (periods 2030, 2050): its day is the release seen, never its newest period; a
    dataset tracked by periods beside it keeps its period's end."""
    frame = freshness().with_columns(
        tracks=pl.Series(["periods", "releases", "periods"]),
        last_period_end=pl.Series([date(2024, 12, 31), date(2026, 12, 6), None]),
    )
    chart = charts.data_freshness(frame, meta=META, lang=lang)
    spec = chart.to_dict()
    points = next(u for u in units(spec) if mark_type(u) == "point" and "color" in u["encoding"])
    tips = {r["dataset"]: r for r in rows_of(spec, points)}
    assert tips["ds_b"]["last_text"] == seen
    assert tips["ds_a"]["last_text"] == period
    table = {r["dataset"]: r for r in chart_table(chart).iter_rows(named=True)}
    assert (table["ds_b"]["last_period_end"], table["ds_b"]["release_seen"]) == (None, date(2026, 12, 6))
    assert (table["ds_a"]["last_period_end"], table["ds_a"]["release_seen"]) == (date(2024, 12, 31), None)
    assert t("column.release_seen", lang) in chart_table(chart, translated_headers=True).columns


# ---------------------------------------------------------------------------------------------------------
# WCAG AA contrast of every text a chart draws (1.4.3: 4.5:1 against what the text sits on)

_NAMED: dict[str, str] = {"white": "#FFFFFF", "black": "#000000"}
# Vega's own defaults where the theme sets no colour (legend and text marks: black; the mark colour)
_VEGA_TEXT: str = "#000000"
_VEGA_MARK: str = "#4C78A8"


def _hex(colour: str) -> str:
    colour = _NAMED.get(colour.lower(), colour)
    if re.fullmatch(r"#[0-9a-fA-F]{3}", colour):
        colour = "#" + "".join(c * 2 for c in colour[1:])
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", colour), colour
    return colour.upper()


def _blend(colour: str, opacity: float, background: str) -> str:
    """colour drawn at opacity over background, as the colour a reader sees."""
    fg, bg = _hex(colour), _hex(background)
    mixed = [
        round(opacity * int(fg[i : i + 2], 16) + (1 - opacity) * int(bg[i : i + 2], 16)) for i in (1, 3, 5)
    ]
    return "#" + "".join(f"{c:02X}" for c in mixed)


def _row_colours(
    spec: dict[str, Any], unit: dict[str, Any], channels: tuple[str, ...], default: str
) -> list[str]:
    """The colour of each data row of a unit: a colour field without a scale, a scale, or the mark's."""
    mark = unit["mark"] if isinstance(unit["mark"], dict) else {}
    rows = rows_of(spec, unit) or [{}]
    for channel in channels:
        enc = unit.get("encoding", {}).get(channel)
        if isinstance(enc, dict) and "field" in enc:
            if enc.get("scale", {}) is None:
                return [str(r[enc["field"]]) for r in rows]
            mapping = dict(zip(enc["scale"]["domain"], enc["scale"]["range"], strict=True))
            return [mapping[r[enc["field"]]] for r in rows]
        if isinstance(enc, dict) and "value" in enc:
            return [str(enc["value"])] * len(rows)
    for key in channels:
        if isinstance(mark.get(key), str):
            return [mark[key]] * len(rows)
    return [default] * len(rows)


def _sits_on(text: dict[str, Any], shape: dict[str, Any]) -> tuple[str, ...] | None:
    """The fields whose values must match for a text row to sit on a bar or rect row (None: never)."""
    tenc, senc = text.get("encoding", {}), shape.get("encoding", {})
    tx, ty, sx, sy = (e.get(c, {}).get("field") for e in (tenc, senc) for c in ("x", "y"))
    align = text["mark"].get("align", "center") if isinstance(text["mark"], dict) else "center"
    band = senc.get("color", {}).get("field")
    if mark_type(shape) == "area" and tx == sx and align == "right" and band:
        return (tx, band)  # a band's name written inwards from its end (a phone's sectors): on that band
    if ty is None or ty != sy:
        return None
    sx2 = senc.get("x2", {}).get("field")
    at, start, end = (
        tenc.get("x", {}).get("value"),
        senc.get("x", {}).get("value"),
        senc.get("x2", {}).get("value"),
    )
    if None not in (at, start, end):  # placed in pixels (a phone's stacked dashboard): on it if inside it
        return (ty,) if start <= at <= end else None
    if mark_type(shape) == "rect" and tx == sx:
        return (ty, tx)
    if mark_type(shape) == "bar" and (
        (tx == sx and align == "left" and sx2)  # from the start of a floating bar, inwards
        or (tx == sx and align == "right" and not sx2)  # from the end of a bar from zero, inwards
        or (tx == sx2 and align == "right")
    ):
        return (ty, tx)
    return None


def text_contrasts(spec: dict[str, Any]) -> list[tuple[str, str, str, float]]:
    """(what, text colour, background, contrast) for every text of a chart spec: title, subtitle, axis
    and legend labels and titles, and every text mark row against the chart background or, when it is
    drawn inside a bar or cell, against that bar's colour. The demo watermark is left out: decoration,
    its words are in the subtitle at full contrast."""
    config = spec.get("config", {})
    page = _hex(config.get("background", "#FFFFFF"))
    out: list[tuple[str, str, str, float]] = []

    def add(what: str, colour: str, background: str = page, opacity: float = 1.0) -> None:
        seen = _blend(colour, opacity, background)
        out.append((what, seen, _hex(background), theme.contrast_ratio(seen, _hex(background))))

    title = config.get("title", {})
    add("title", title.get("color", _VEGA_TEXT))
    add("subtitle", title.get("subtitleColor", _VEGA_TEXT))
    for part in ("axis", "legend"):
        for key in ("labelColor", "titleColor"):
            add(f"{part}.{key}", config.get(part, {}).get(key, _VEGA_TEXT))
    all_units = list(units(spec))
    for unit in all_units:
        for channel, enc in unit.get("encoding", {}).items():
            for key in ("axis", "legend"):
                extra = enc.get(key) if isinstance(enc, dict) else None
                for colour_key in ("labelColor", "titleColor"):
                    if isinstance(extra, dict) and colour_key in extra:
                        add(f"{channel}.{key}.{colour_key}", extra[colour_key])
        if mark_type(unit) != "text" or str(unit.get("name", "")).startswith("demo_watermark"):
            continue
        mark = unit["mark"] if isinstance(unit["mark"], dict) else {}
        default = config.get("text", {}).get("color", _VEGA_TEXT)
        colours = _row_colours(spec, unit, ("fill", "color"), default)
        opacity = float(mark.get("opacity", 1.0))
        rows = rows_of(spec, unit) or [{}]
        for row, colour in zip(rows, colours, strict=True):
            label = str(row.get(unit.get("encoding", {}).get("text", {}).get("field", ""), mark.get("text")))
            backgrounds = []
            for shape in all_units:
                keys = _sits_on(unit, shape) if mark_type(shape) in ("bar", "rect", "area") else None
                if keys is None:
                    continue
                shape_colours = _row_colours(spec, shape, ("color", "fill"), _VEGA_MARK)
                for shape_row, shape_colour in zip(rows_of(spec, shape), shape_colours, strict=True):
                    if all(shape_row.get(k) == row.get(k) for k in keys):
                        backgrounds.append(shape_colour)
            for background in backgrounds or [page]:
                add(f"text {label!r}", colour, background, opacity)
    return out


def test_contrast_check_has_teeth() -> None:
    """White text inside a bluish-green bar (3.4:1) and a light grey label on white fail; text beside the
    bar is judged against the page."""
    frame = pl.DataFrame({"item": ["a"], "lo": [0.0], "hi": [10.0], "label": ["10"]})
    bar = (
        alt.Chart(frame)
        .mark_bar(color=theme.OKABE_ITO["bluish_green"])
        .encode(y="item:N", x="lo:Q", x2="hi:Q")
    )
    inside = (
        alt.Chart(frame)
        .mark_text(align="left", dx=6, color="white")
        .encode(y="item:N", x="lo:Q", text="label:N")
    )
    beside = (
        alt.Chart(frame)
        .mark_text(align="left", dx=6, color="#AAAAAA")
        .encode(y="item:N", x="hi:Q", text="label:N")
    )
    found = {(w, b): r for w, _, b, r in text_contrasts(alt.layer(bar, inside, beside).to_dict())}
    assert found[("text '10'", _hex(theme.OKABE_ITO["bluish_green"]))] < theme.WCAG_TEXT_CONTRAST
    assert found[("text '10'", "#FFFFFF")] < theme.WCAG_TEXT_CONTRAST  # grey on the page
    # the charts' texts inside cells and bars are judged against them: dashboard cells, the balance's sink
    cells = {b for w, _, b, _ in text_contrasts(spec_of("progress_dashboard")) if w.startswith("text")}
    assert {_hex(theme.LEVEL_COLOURS[lv]) for lv in ("moderate", "weak", "away")} <= cells
    bars = {b for w, _, b, _ in text_contrasts(spec_of("neutrality_balance")) if w.startswith("text")}
    assert _hex(theme.OKABE_ITO["bluish_green"]) in bars


@pytest.mark.parametrize("lang", LANGS)
def test_every_chart_text_meets_wcag_aa_contrast_on_the_bundled_data(loaded_engine: Any, lang: str) -> None:
    """Every chart of the report, built from the bundled snapshot as the report builds it (demo and real
    alike): each text has at least 4.5:1 against what it is drawn on."""
    from report import weekly

    # the snapshot is fetched today: the weekly chart shows the weeks published by today in Helsinki (the
    # report's day; after 22:00 UTC it is already tomorrow there)
    built = weekly._builders(loaded_engine, lang, datetime.now(HELSINKI).date())
    assert len(built) >= 10
    failures, texts = [], 0
    for name, build in built.items():
        chart, _ = build()
        spec = chart.to_dict()
        checks = text_contrasts(spec)
        texts += sum(w.startswith("text") for w, *_ in checks)
        failures += [
            (name, w, fg, bg, round(r, 2)) for w, fg, bg, r in checks if r < theme.WCAG_TEXT_CONTRAST
        ]
    assert texts > 30  # the check has teeth: the charts' own text marks were found and judged
    assert not failures, failures


def test_sector_waterfall_labels_a_change_at_its_series_precision_as_the_table_prints_it() -> None:
    # sectors published to one decimal: a cut of 81.4 reads "−81,4" on its bar, in the title and in the
    # alt text (the table's figure), not "−81"; the 1990 total of 1 000.0 still reads "1 000" (≥ 100)
    precise = pl.DataFrame(
        {
            "year": [1990, 1990, 2023, 2023],
            "sector": ["district_heat", "transport", "district_heat", "transport"],
            "value": [958.3, 41.7, 876.9, 40.1],
        }
    )
    spec = charts.sector_waterfall(precise, meta=META, base_year=1990).to_dict()
    texts = [r["text"] for u in units(spec) if mark_type(u) == "text" for r in rows_of(spec, u)]
    assert f"{MINUS}81,4" in texts and f"{MINUS}1,6" in texts, texts
    assert f"1{NBSP}000" in texts and "917" in texts, texts
    assert f"({MINUS}81,4{NBSP}kt)" in title_text(spec)
    assert f"{MINUS}81,4" in spec["description"]
