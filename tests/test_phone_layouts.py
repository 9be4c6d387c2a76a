"""The report charts whose labels leave a phone too little plot: a phone layout that fits it unscaled."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime
from typing import Any

import polars as pl
import pytest
import vl_convert as vlc
from sqlalchemy import Engine

from common.helsinki import HELSINKI
from report import charts, peers, theme, weekly
from report.charts.common import PHONE_COLUMN, text_width
from report.i18n import LANGS
from report.phone import PHONE_MEDIA, PHONE_WIDTH, SITE_WIDTH, phone_spec
from report.theme import ChartMeta
from tests.test_charts import text_contrasts

# the charts drawn whole and scaled down at 390 px before (their text 5–7 px): each has a layout of its own
OWN_LAYOUT = {
    "sector_area",
    "sector_waterfall",
    "per_resident_comparison",
    "progress_dashboard",
    "circular_economy",
    "neutrality_balance",
    "data_freshness",
    "cross_source_checks",
    *peers.PEER_CHARTS,
}
# the column of each chart's table that names its rows (the labels the phone layout must still show)
ROW_NAMES = {
    "sector_area": ("sector",),
    "sector_waterfall": ("step",),
    "per_resident_comparison": ("area",),
    "circular_economy": ("area",),
    "neutrality_balance": ("label",),
    "data_freshness": ("dataset", "status"),
    "progress_dashboard": ("method", "status"),
    "cross_source_checks": ("area",),
    **dict.fromkeys(peers.PEER_CHARTS, ("area",)),
}


def _svg_facts(spec: dict[str, Any]) -> tuple[float, float, str]:
    """The drawing's width, its smallest font size and all its text (each line's words, space-joined)."""
    svg = vlc.vegalite_to_svg(spec)
    width = float(re.search(r'<svg[^>]*\swidth="([\d.]+)"', svg).group(1))  # type: ignore[union-attr]
    sizes = [float(s) for s in re.findall(r"font-size[=:]\s*\"?([\d.]+)px", svg)]
    words = " ".join(re.sub(r"<[^>]+>", " ", svg).split())
    return width, min(sizes), words.replace("&amp;", "&")


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", LANGS)
def test_each_phone_layout_fits_a_phone_column_its_text_at_the_report_size_every_label_shown(
    loaded_engine: Engine, lang: str
) -> None:
    """Drawn as a page below 40rem draws it, each layout is no wider than a 390 px phone's column, so it is
    not scaled down: its smallest text is the charts' body size (the theme's 11 px axis labels), and every
    row's name is written whole (wrapped, never cut with an ellipsis)."""
    body = theme.theme_config()["config"]["axis"]["labelFontSize"]
    today = datetime.now(HELSINKI).date()
    built, layouts = weekly._all_builders(loaded_engine, lang, today, {})
    assert layouts.keys() >= OWN_LAYOUT
    for name in sorted(OWN_LAYOUT):
        desktop, _ = built[name]()
        desktop_width, _, _ = _svg_facts(desktop.to_dict(validate=False))
        assert desktop_width > PHONE_COLUMN, name  # the layout is needed: the wide chart does not fit
        phone = weekly.phone_layout(layouts[name])
        width, smallest, text = _svg_facts(phone)
        assert width <= PHONE_COLUMN, (name, width)
        assert smallest >= body, (name, smallest)
        assert "…" not in text, name
        low = [c for c in text_contrasts(phone) if c[3] < theme.WCAG_TEXT_CONTRAST]
        assert not low, (name, low)  # WCAG AA, as the desktop charts (test_charts)
        table = charts.chart_table(desktop, keys=False)
        for column in ROW_NAMES[name]:
            for value in table.get_column(column).unique().to_list():
                # a name wrapped over lines: its words in order, each line a text element of its own
                assert all(word in text for word in str(value).split()), (name, value)


def test_the_page_draws_the_phone_layout_only_where_a_phone_column_is() -> None:
    """The page spec carries the layout for its script to draw below 40rem; the datasets both share are
    not carried twice."""
    shared = {"d": [{"x": 1}]}
    spec = {"width": 520, "layer": [], "datasets": shared, "usermeta": {"kestava": {"chart": "c"}}}
    layout = {"width": 300, "layer": [], "datasets": {**shared, "p": [{"x": 2}]}}
    page = weekly.page_spec(spec, 700, layout)["usermeta"]["kestava"]["page"]
    assert page["phone_media"] == PHONE_MEDIA
    assert page["phone_layout"]["width"] == 300
    assert page["phone_layout"]["datasets"] == {"p": [{"x": 2}]}
    stepped = {"width": {"step": 150}, "layer": [], "datasets": shared}
    assert weekly.page_spec(stepped, 1100, layout)["usermeta"]["kestava"]["page"]["phone_layout"]
    assert "page" not in weekly.page_spec(stepped, 1100).get("usermeta", {}).get("kestava", {})


def _marks_grouped(node: Any, marktype: str) -> list[list[dict[str, Any]]]:
    """Each data mark of marktype's items, one list per mark (a line's points in order)."""
    found: list[list[dict[str, Any]]] = []
    if isinstance(node, dict):
        if node.get("marktype") == marktype and node.get("role") == "mark":
            found.append(node.get("items", []))
        for value in node.values():
            found += _marks_grouped(value, marktype)
    elif isinstance(node, list):
        for value in node:
            found += _marks_grouped(value, marktype)
    return found


def _marks(node: Any, marktype: str) -> list[dict[str, Any]]:
    """The items of every data mark of marktype in a Vega scenegraph (axes, legends and titles left out)."""
    return [item for items in _marks_grouped(node, marktype) for item in items]


@pytest.mark.parametrize("lang", LANGS)
def test_the_sector_chart_draws_1990_as_a_readable_column_and_its_gap_note_whole(lang: str) -> None:
    """1990 alone before 2000 was a 6 px sliver (a 5 px one on a phone), and its "no data 1991–1999" note,
    centred in a gap narrower than itself on a phone, ran off the plot's left edge. The column is a year
    wide (at least 14 px), and the note lies in the gap between the column and 2000: level where it fits,
    upright on a phone."""
    frame = pl.DataFrame(
        [
            {"year": y, "sector": s, "value": v}
            for y in (1990, *range(2000, 2025))
            for s, v in (("transport", 300.0), ("district_heat", 500.0))
        ]
    )
    meta = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 12, 1))
    wide = charts.sector_area(frame, meta=meta, lang=lang).to_dict()
    for spec, upright in ((wide, False), (phone_spec(wide), True)):
        scene = vlc.vegalite_to_scenegraph(spec)
        columns = _marks(scene, "rect")
        assert len(columns) == 2  # 1990's two sectors
        year_px = spec["width"] / (2024 - 1990)
        column_end = max(c["x"] + c["width"] for c in columns)
        assert min(c["width"] for c in columns) >= max(14, year_px - 0.5)
        note = next(n for n in _marks(scene, "text") if "1991–1999" in str(n["text"]))
        assert note["angle"] == (270 if upright else 0)
        lines = str(note["text"]).split("\n")
        half = len(lines) * 6.5 if upright else max(text_width(line, 10) for line in lines) / 2
        x_2000 = min(c["x"] for c in columns) + 10 * year_px
        assert column_end <= note["x"] - half and note["x"] + half <= x_2000, (note, column_end, x_2000)


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
def test_no_report_chart_writes_text_below_the_body_size(loaded_engine: Engine) -> None:
    """The progress grid's status cells, the gap notes ("ei tietoja 1991–1999"), the weekly chart's note of
    an incomplete week, the circular economy's and the freshness chart's labels were 10 px on a desktop
    (the audit of 2026-12-07): every chart's smallest text is the theme's 11 px."""
    body = theme.theme_config()["config"]["axis"]["labelFontSize"]
    today = datetime.now(HELSINKI).date()
    built, _ = weekly._all_builders(loaded_engine, "fi", today, {})
    for name, build in sorted(built.items()):
        chart, _ = build()
        _, smallest, _ = _svg_facts(chart.to_dict(validate=False))
        assert smallest >= body, (name, smallest)


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", LANGS)
def test_the_freshness_labels_end_before_todays_rule_and_leave_its_date_clear(
    loaded_engine: Engine, lang: str
) -> None:
    """On a phone the rows' names ran across the dashed rule of today and its squares, and the first name
    ran into the "as of" date above the rule (sv: "Läge 7 dec. 2026" over "Borgmästaravtalet: …")."""
    today = datetime.now(HELSINKI).date()
    _, layouts = weekly._all_builders(loaded_engine, lang, today, {})
    scene = vlc.vegalite_to_scenegraph(weekly.phone_layout(layouts["data_freshness"]))
    (rule,) = [r for r in _marks(scene, "rule") if r.get("strokeDash")]
    texts = _marks(scene, "text")
    as_of = next(n for n in texts if n.get("align") == "right")
    labels = [n for n in texts if "·" in str(n["text"])]
    assert len(labels) >= 10
    size = 11
    for label in labels:
        lines = label["text"] if isinstance(label["text"], list) else str(label["text"]).split("\n")
        widest = max(text_width(line, size) for line in lines)
        assert label["x"] + widest < rule["x"], (lines, rule["x"])
    # the date's line ends above the highest label's first line
    top_label = min(n["y"] - (len(n["text"]) if isinstance(n["text"], list) else 1) * 13 for n in labels)
    assert as_of["y"] <= top_label, (as_of["y"], top_label)


Box = tuple[float, float, float, float]


def _lines(item: dict[str, Any]) -> list[str]:
    """A text item's lines as Vega writes them: an array's items, else its text split at its lineBreak."""
    text = item.get("text")
    if isinstance(text, list):
        return [str(line) for line in text]
    return str(text).split(item["lineBreak"]) if item.get("lineBreak") else [str(text)]


def _text_box(item: dict[str, Any]) -> Box:
    """A text item's extent (x1, y1, x2, y2) in its group: measured lines, its align, baseline and dx."""
    lines = _lines(item)
    size = float(item.get("fontSize", 11))
    height = float(item.get("lineHeight", size))
    widest = max(text_width(line, round(size), bold=item.get("fontWeight") == "bold") for line in lines)
    x = float(item["x"]) + float(item.get("dx", 0))
    y = float(item["y"]) + float(item.get("dy", 0))
    if item.get("angle") in (90, 270):  # upright, centred (as the gap notes): its lines side by side
        across = len(lines) * height
        return x - across / 2, y - widest / 2, x + across / 2, y + widest / 2
    left = {"left": x, "center": x - widest / 2, "right": x - widest}[item.get("align", "left")]
    below = (len(lines) - 1) * height  # Vega writes the first line at y, the others below it
    top = {"bottom": y - size, "middle": y - size / 2, "top": y}[item.get("baseline", "bottom")]
    return left, top, left + widest, top + size + below


def _overlap(a: Box, b: Box) -> bool:
    """Whether two boxes overlap by more than half a pixel each way."""
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.5 and min(a[3], b[3]) - max(a[1], b[1]) > 0.5


def _written(node: Any) -> list[str]:
    """Every text the scenegraph writes (marks, axes, legends, titles), each line on its own."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("marktype") == "text":
            for item in node.get("items", []):
                found += _lines(item)
        for value in node.values():
            found += _written(value)
    elif isinstance(node, list):
        for value in node:
            found += _written(value)
    return found


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", LANGS)
def test_the_sector_layout_gives_its_plot_the_column_and_the_largest_shares_to_its_legend(
    loaded_engine: Engine, lang: str
) -> None:
    """The sectors' labels right of the plot (about 110 px) had left 150 px for 35 years on a phone: the
    plot takes the column beside the y axis, and the shares the wide chart writes at its right end
    ("Liikenne 44 %") are the legend's labels, the drawing no wider than the column."""
    today = datetime.now(HELSINKI).date()
    built, layouts = weekly._all_builders(loaded_engine, lang, today, {})
    desktop, _ = built["sector_area"]()
    shares = [str(n["text"]) for n in _marks(vlc.vegalite_to_scenegraph(desktop.to_dict()), "text")]
    shares = [text for text in shares if "%" in text]
    assert shares  # the largest sectors' labels of the wide chart
    phone = weekly.phone_layout(layouts["sector_area"])
    scene = vlc.vegalite_to_scenegraph(phone)
    assert scene["width"] <= PHONE_COLUMN
    assert phone["width"] >= PHONE_COLUMN * 3 / 4
    written = _written(scene)
    assert all(share in written for share in shares), (shares, written)
    for item in _marks(scene, "text"):
        if "opacity" not in item:  # the demo watermark lies over the plot, faint, by design
            assert _text_box(item)[2] <= phone["width"], item["text"]


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", LANGS)
def test_the_peer_layouts_write_every_label_in_the_plot_clear_of_the_bars_and_of_each_other(
    loaded_engine: Engine, lang: str
) -> None:
    """A peer chart's phone layout had the cities left of a 126 px plot and their changes right of it on
    four lines each, crowding the bars: each city and its change (the wide chart's words) are written above
    its bar in a plot as wide as the column, no label over a bar, another label or past the plot."""
    today = datetime.now(HELSINKI).date()
    built, layouts = weekly._all_builders(loaded_engine, lang, today, {})
    for name in sorted(peers.PEER_CHARTS):
        phone = weekly.phone_layout(layouts[name])
        scene = vlc.vegalite_to_scenegraph(phone)
        assert scene["width"] <= PHONE_COLUMN, name
        assert phone["width"] >= PHONE_COLUMN * 3 / 4, name
        bars = [(r["x"], r["y"], r["x"] + r["width"], r["y"] + r["height"]) for r in _marks(scene, "rect")]
        texts = [n for n in _marks(scene, "text") if "opacity" not in n]  # the faint watermark aside
        boxes = [_text_box(n) for n in texts]
        assert len(bars) >= 2 and len(texts) >= 2 * len(bars), name  # each bar's value, city and change
        for item, box in zip(texts, boxes, strict=True):
            assert box[0] >= 0 and box[2] <= phone["width"], (name, item["text"])
            assert not any(_overlap(box, bar) for bar in bars), (name, item["text"])
        for i, box in enumerate(boxes):
            assert not any(_overlap(box, other) for other in boxes[i + 1 :]), (name, texts[i]["text"])
        words = " ".join(" ".join(_written(scene)).split())
        desktop, _ = built[name]()
        subtitle = desktop.to_dict()["title"].get("subtitle") or []
        notes = " ".join(" ".join([subtitle] if isinstance(subtitle, str) else subtitle).split())
        for change in charts.chart_table(desktop, keys=False).get_column("change").to_list():
            change = " ".join(str(change).split())  # (no-break spaces as the words above: spaces)
            if change in words:
                continue
            # over the span a note under the title names, a row gives the change's number alone: the note
            # is there, and says what the number is
            found = re.match(r"[−+-]?[\d ,.]+ ?%", change)  # "−52 %" (fi, sv), "-52%" (en)
            assert found, (name, change)
            number = found.group(0)
            assert f"· {number}" in words and notes.split(":", 1)[0] in words, (name, change, notes)


@pytest.mark.parametrize("loaded_engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize("lang", LANGS)
def test_the_trajectorys_notes_lie_clear_of_its_lines_and_points_on_a_phone(
    loaded_engine: Engine, lang: str
) -> None:
    """Drawn as a phone's column draws it (a 260 px plot), the "no data 1991–1999" note lay over 1990's point
    and the straight path (sv: "uppgifter saknas"), and the target's label ran on over the paths converging
    on 2030 (fi): no note crosses a line or a point, and each stays inside the plot; on a desktop too."""
    today = datetime.now(HELSINKI).date()
    built, _ = weekly._all_builders(loaded_engine, lang, today, {})
    desktop = built["emissions_trajectory"]()[0].to_dict(validate=False)
    phone = phone_spec({**desktop, "width": SITE_WIDTH})
    assert phone["width"] == PHONE_WIDTH
    for spec in (desktop, phone):
        scene = vlc.vegalite_to_scenegraph(spec)
        points = [(p["x"], p["y"]) for p in _marks(scene, "symbol")]
        for line in _marks_grouped(scene, "line"):
            for (x0, y0), (x1, y1) in itertools.pairwise((p["x"], p["y"]) for p in line):
                points += [(x0 + (x1 - x0) * k / 40, y0 + (y1 - y0) * k / 40) for k in range(41)]
        notes = [n for n in _marks(scene, "text") if "opacity" not in n]  # the faint watermark aside
        assert len(notes) == 2, [n["text"] for n in notes]  # the gap's note and the target's label
        for note in notes:
            x1, y1, x2, y2 = _text_box(note)
            assert x1 >= 0 and x2 <= spec["width"], (spec["width"], note["text"])
            hit = [(x, y) for x, y in points if x1 - 3 < x < x2 + 3 and y1 - 3 < y < y2 + 3]
            assert not hit, (spec["width"], note["text"], hit[:3])


@pytest.mark.parametrize("lang", LANGS)
def test_an_indicator_charts_gap_notes_stay_inside_the_plot_clear_of_its_points(lang: str) -> None:
    """The site's Covenant chart (2016 and 2020 reported, the gap 2017–2019 a 35 px one on a phone) wrote
    "uppgifter saknas 2017–2019" level across the gap, past the plot's right edge and over 2020's point:
    a gap narrower than its note has it upright, inside the plot, on a desktop and a phone."""
    frame = pl.DataFrame(
        {
            "period": ["1990", "2016", "2020"],
            "date": [date(1990, 1, 1), date(2016, 1, 1), date(2020, 1, 1)],
            "kind": ["observed"] * 3,
            "value": [1060.0, 1370.0, 1104.0],
        }
    )
    meta = ChartMeta(sources=("JRC",), licence="CC BY 4.0", vintage=date(2026, 12, 1))
    wide = charts.indicator_history(frame, meta=meta, lang=lang, name="n", area_name="a", unit_text="kt")
    desktop = wide.to_dict()
    for spec in (desktop, phone_spec(desktop)):
        scene = vlc.vegalite_to_scenegraph(spec)
        points = [(p["x"], p["y"]) for p in _marks(scene, "symbol")]
        notes = [n for n in _marks(scene, "text") if "opacity" not in n]
        assert len(notes) == 2, [n["text"] for n in notes]  # 1991–2015 and 2017–2019
        for note in notes:
            x1, y1, x2, y2 = _text_box(note)
            assert x1 >= 0 and x2 <= spec["width"] and y1 >= 0 and y2 <= spec["height"], note["text"]
            hit = [(x, y) for x, y in points if x1 - 3 < x < x2 + 3 and y1 - 3 < y < y2 + 3]
            assert not hit, (spec["width"], note["text"], hit)
