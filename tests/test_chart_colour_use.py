"""The charts meet WCAG 2.1 1.4.1 (use of colour) and 1.4.11 (non-text contrast): marks' colours, names."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest
import vl_convert as vlc

from indicators.peers import standings
from ingest.peers import load_peers
from report import charts, theme
from report.charts import area as area_chart
from report.charts import peers as peer_charts
from report.charts.common import CAPITAL_REGION
from report.i18n import LANGS
from report.theme import ChartMeta

META = ChartMeta(sources=("HSY",), licence="CC BY 4.0", vintage=date(2026, 12, 7))
WHITE_LUMINANCE = 1.0


def luminance(colour: str) -> float:
    """WCAG 2.1's relative luminance of "#RRGGBB", written out here from the definition (sRGB channels
    linearised: c / 12.92 up to 0.03928, else ((c + 0.055) / 1.055) ** 2.4; weights 0.2126, 0.7152, 0.0722),
    not the theme's helper."""
    linear = []
    for start in (1, 3, 5):
        channel = int(colour[start : start + 2], 16) / 255
        linear.append(channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4)
    red, green, blue = linear
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def against_white(colour: str) -> float:
    """The contrast ratio of a colour on the white page: (L1 + 0.05) / (L2 + 0.05)."""
    return (WHITE_LUMINANCE + 0.05) / (luminance(colour) + 0.05)


def test_the_contrast_arithmetic_matches_published_values() -> None:
    """Black on white is 21:1; #767676 is the lightest grey with 4.5:1 (WebAIM's often quoted 4.54:1);
    Okabe-Ito yellow #F0E442 is the audit's 1.3:1."""
    assert against_white("#000000") == pytest.approx(21.0)
    assert against_white("#FFFFFF") == pytest.approx(1.0)
    assert against_white("#767676") == pytest.approx(4.54, abs=0.01)
    assert against_white("#F0E442") == pytest.approx(1.3, abs=0.05)


def _per_resident_frame() -> pl.DataFrame:
    now = {"049": 2.0, "helsinki": 3.0, "Vantaa": 2.5, "tampere": 4.0, "oulu": 5.0}
    return pl.DataFrame([{"area": a, "year": 2023, "value": v} for a, v in now.items()])


def _bar_range(spec: dict[str, Any]) -> list[str]:
    bars = next(layer for layer in spec["layer"] if "color" in layer.get("encoding", {}))
    return list(bars["encoding"]["color"]["scale"]["range"])


def test_every_colour_of_a_sector_band_or_a_peer_bar_has_3_to_1_against_white() -> None:
    """The audit found yellow, orange and sky blue sector bands at 1.3–2.3:1 and the peers' light grey bars at
    1.7:1 (WCAG 1.4.11 asks 3:1): every sector's, subsector's and unknown key's colour and every group's
    bar is 3:1 or more."""
    fine = area_chart.subsector_groups()
    used = {
        **{f"sector {k}": c for k, c in theme.SECTOR_COLOURS.items()},
        **{f"subsector {k}": c for k, c in theme.sector_colours(sorted(fine), fine).items()},
        **{f"unknown {i}": c for i, c in enumerate(theme.FALLBACK_SECTOR_COLOURS)},
        **{f"peer group {g}": c for g, c in peer_charts.GROUP_COLOURS.items()},
    }
    spec = charts.per_resident_comparison(_per_resident_frame(), meta=META).to_dict()
    used |= {f"per-resident bar {i}": c for i, c in enumerate(_bar_range(spec))}
    low = {what: round(against_white(c), 2) for what, c in used.items() if against_white(c) < 3.0}
    assert not low, low


def _sectors_frame() -> pl.DataFrame:
    # 2024's stack of 925 kt on a scale to 1 000 kt (320 px): 96, 80, 48, 38, 32 and 2 px tall bands
    latest = {
        "transport": 300.0,
        "district_heat": 250.0,
        "consumer_electricity": 150.0,
        "other_heating": 120.0,
        "waste": 100.0,
        "agriculture": 5.0,
    }
    return pl.DataFrame(
        [{"year": y, "sector": s, "value": v} for y in range(2015, 2025) for s, v in latest.items()]
    )


def _area_layer(spec: dict[str, Any]) -> dict[str, Any]:
    return next(layer for layer in spec["layer"] if (layer["mark"]["type"]) == "area")


@pytest.mark.parametrize("phone", [False, True])
def test_the_sector_bands_are_opaque_and_a_white_line_parts_each_from_the_next(phone: bool) -> None:
    """Neighbouring bands need not contrast with each other where a line of the page's white parts them
    (WCAG's understanding of 1.4.11); a band drawn see-through (the theme's 0.9) would be lighter than its
    colour."""
    spec = charts.sector_area(_sectors_frame(), meta=META, lang="en", phone=phone).to_dict()
    mark = _area_layer(spec)["mark"]
    assert mark.get("opacity") == 1
    assert mark["line"]["color"] == "white" and mark["line"]["strokeWidth"] >= 1


def _sg_texts(node: Any) -> list[dict[str, Any]]:
    """Every text item of a Vega scenegraph (marks, axes, legends)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("marktype") == "text":
            found += node.get("items", [])
        for value in node.values():
            found += _sg_texts(value)
    elif isinstance(node, list):
        for value in node:
            found += _sg_texts(value)
    return found


@pytest.mark.parametrize("lang", LANGS)
def test_every_band_tall_enough_is_named_at_its_end_and_the_legend_lists_the_stack_from_the_top(
    lang: str,
) -> None:
    """Only the three largest sectors were named: the others were told apart by colour alone. Each band at
    least 14 px tall at its right end is named there with its share (five here; the 2 px agriculture band
    is not), and the legend lists the sectors from the top of the stack down, so an unnamed thin band is
    found by its place."""
    from report.i18n import label

    spec = charts.sector_area(_sectors_frame(), meta=META, lang=lang).to_dict()
    written = [str(item.get("text")) for item in _sg_texts(vlc.vegalite_to_scenegraph(spec))]
    tall = ["transport", "district_heat", "consumer_electricity", "other_heating", "waste"]
    for key in tall:
        assert any(text.startswith(label("sector", key, lang) + " ") for text in written), (key, written)
    assert not any(text.startswith(label("sector", "agriculture", lang) + " ") for text in written)
    # the stack: transport at the bottom, agriculture on top; the legend from agriculture down
    from_top = [label("sector", key, lang) for key in ["agriculture", *reversed(tall)]]
    assert _area_layer(spec)["encoding"]["color"]["scale"]["domain"] == from_top


@pytest.mark.parametrize("lang", LANGS)
def test_a_phone_names_each_tall_band_inside_it_and_its_share_in_the_legend(lang: str) -> None:
    """On a phone the names right of the plot would leave it no room: each band whose name fits inside it
    along its whole length is named there, in a colour readable on the band, the share in the legend."""
    from report.i18n import label

    spec = charts.sector_area(_sectors_frame(), meta=META, lang=lang, phone=True).to_dict()
    scene = vlc.vegalite_to_scenegraph(spec)
    inside = [
        item for item in _sg_texts(scene) if item.get("align") == "right" and item.get("fontWeight") == "bold"
    ]
    named = {str(item["text"]) for item in inside}
    assert {label("sector", "transport", lang), label("sector", "district_heat", lang)} <= named
    colour_of = dict(
        zip(
            _area_layer(spec)["encoding"]["color"]["scale"]["domain"],
            _area_layer(spec)["encoding"]["color"]["scale"]["range"],
            strict=True,
        )
    )
    for item in inside:
        ink, band = item["fill"], colour_of[str(item["text"])]
        lighter, darker = sorted((luminance(ink), luminance(band)), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 4.5, (item["text"], ink, band)


def _peer_standings() -> pl.DataFrame:
    values = pl.DataFrame(
        [("049", 2022, 3.0), ("stockholm", 2022, 2.0), ("vienna", 2022, 3.5), ("tallinn", 2022, 5.0)],
        schema={"area": pl.Utf8, "year": pl.Int64, "value": pl.Float64},
        orient="row",
    )
    return standings(values, direction="decrease", home="049", window=10)


GROUP_WORDS = {
    "fi": {"nordic": "pohjoismainen", "leader": "edelläkävijä"},
    "sv": {"nordic": "Norden", "leader": "föregångare"},
    "en": {"nordic": "Nordic", "leader": "leader"},
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("phone", [False, True])
def test_each_peer_city_is_written_with_its_group(lang: str, phone: bool) -> None:
    """A city's group (Nordic cities, European leaders) was told only by its bar's shade of grey: each city
    is written with its group's short name, on the desktop its axis label ("Stockholm · Nordic"), on a phone
    the line above its bar; the home city's name alone."""
    chart = peer_charts.peer_comparison(
        _peer_standings(), meta=META, lang=lang, indicator="x", unit_text="t", source="oecd", phone=phone
    )
    written = [
        " ".join(item["text"]) if isinstance(item.get("text"), list) else str(item.get("text"))
        for item in _sg_texts(vlc.vegalite_to_scenegraph(chart.to_dict()))
    ]
    for peer in load_peers():
        if peer.area not in ("049", "stockholm", "vienna", "tallinn"):
            continue
        name = str(peer.name[lang])  # type: ignore[index]
        if peer.group == "home":
            assert any(text == name or text.startswith(f"{name} · ") for text in written), name
            tagged = [f"{name} · {word}" for word in GROUP_WORDS[lang].values()]
            assert not any(text.startswith(tuple(tagged)) for text in written), name
        else:
            assert any(text.startswith(f"{name} · {GROUP_WORDS[lang][peer.group]}") for text in written), (
                name,
                written,
            )


PER_RESIDENT_WORDS = {
    "fi": ("pääkaupunkiseutu", "muu suuri kaupunki"),
    "sv": ("huvudstadsregionen", "annan stor stad"),
    "en": ("capital region", "other large city"),
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("phone", [False, True])
def test_each_per_resident_city_is_written_with_its_group(lang: str, phone: bool) -> None:
    """The per-resident chart told the rest of the capital region from the other large cities by grey alone:
    each city's label has its group under its name."""
    from report.i18n import label

    spec = charts.per_resident_comparison(_per_resident_frame(), meta=META, lang=lang, phone=phone).to_dict()
    labels = [
        item["text"]
        for item in _sg_texts(vlc.vegalite_to_scenegraph(spec))
        if isinstance(item.get("text"), list)
    ]
    capital, other = PER_RESIDENT_WORDS[lang]
    for key in ("helsinki", "vantaa", "tampere", "oulu"):
        word = capital if key in CAPITAL_REGION else other
        assert [label("area", key, lang), word] in labels, (key, labels)
