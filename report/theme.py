"""The Kestävä Espoo Altair theme: colour-blind-safe palette, fixed sector colours, fonts, title blocks."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Final, cast

import altair as alt
import polars as pl

from report.i18n import format_date, source_text, t

THEME_NAME: Final = "kestava"

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO: Final[Mapping[str, str]] = MappingProxyType(
    {
        "black": "#000000",
        "orange": "#E69F00",
        "sky_blue": "#56B4E9",
        "bluish_green": "#009E73",
        "yellow": "#F0E442",
        "blue": "#0072B2",
        "vermillion": "#D55E00",
        "reddish_purple": "#CC79A7",
    }
)

# Default order for categories that have no fixed colour of their own.
CATEGORY_RANGE: Final[tuple[str, ...]] = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["yellow"],
    OKABE_ITO["black"],
)

# WCAG 2.2 AA minimum contrast: text (1.4.3) and graphical objects such as lines and bars (1.4.11).
WCAG_TEXT_CONTRAST: Final = 4.5
WCAG_GRAPHICS_CONTRAST: Final = 3.0
# Okabe-Ito hues darkened just enough for white paper: vermillion for text (Okabe-Ito's is 3.9:1 on white),
# orange for lines and points (2.3:1 on white); the light original stays for areas and bands.
VERMILLION_TEXT: Final = "#BE5400"
ORANGE_MARK: Final = "#C28600"

# One colour per emission sector key, the same in every chart whatever sectors a frame happens to contain:
# each an Okabe-Ito hue darkened where needed to 3:1 against white (WCAG 1.4.11), which orange (2.3:1),
# sky blue (2.3:1) and yellow (1.3:1) were not; the bands are told apart by their names (sector_area).
SECTOR_COLOURS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "district_heat": OKABE_ITO["vermillion"],
        "transport": OKABE_ITO["blue"],
        "consumer_electricity": ORANGE_MARK,  # Okabe-Ito orange darkened (its hue)
        "other_heating": OKABE_ITO["reddish_purple"],
        "industry_machinery": "#4999C6",  # sky blue darkened (its hue)
        "waste": OKABE_ITO["bluish_green"],
        "agriculture": "#908928",  # yellow darkened (its hue): an olive
        "f_gases": "#666666",
        "other": "#8C8C8C",
    }
)
# Sector keys outside SECTOR_COLOURS get these greys in sorted key order.
FALLBACK_SECTOR_COLOURS: Final[tuple[str, ...]] = ("#5E5E5E", "#7A7A7A", "#3D3D3D", "#4D4D4D")

TEXT_COLOUR: Final = "#222222"
MUTED_TEXT: Final = "#555555"
GRID_COLOUR: Final = "#E5E5E5"
NEUTRAL: Final = "#8C8C8C"
DARK_NEUTRAL: Final = "#5E5E5E"
LIGHT_NEUTRAL: Final = "#C4C4C4"
BACKGROUND: Final = "#FFFFFF"

# How the report's trajectory chart and the site's indicator charts draw the series they share, so a reader
# who has learnt one reads the other alike: the history, the trend projection, the required path from the
# latest year to the target, the linear path from the base year and the target (colour, and dash as a
# Vega strokeDash: [1, 0] solid).
SERIES_COLOURS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "history": OKABE_ITO["blue"],
        "projection": ORANGE_MARK,
        "path": OKABE_ITO["bluish_green"],
        "base_path": OKABE_ITO["reddish_purple"],
        # black, not vermillion: beside the trend's gold the two were hard to tell apart
        "target": TEXT_COLOUR,
    }
)
SERIES_DASHES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {"history": (1, 0), "projection": (1, 0), "path": (7, 4), "base_path": (2, 3), "target": (2, 3)}
)
BAND_OPACITY: Final = 0.22  # a projection's prediction band, in the projection's colour

# Progress levels (progress dashboard), a blue-to-vermillion order that survives colour-vision deficiency.
LEVEL_COLOURS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "achieved": OKABE_ITO["blue"],
        "good": OKABE_ITO["sky_blue"],
        "moderate": OKABE_ITO["yellow"],
        "weak": OKABE_ITO["orange"],
        "away": OKABE_ITO["vermillion"],
        "none": "#D9D9D9",
    }
)

# Data-freshness status colours, each point at 3:1 or more on white (WCAG 1.4.11: Okabe-Ito's orange was
# 2.3:1); the chart also writes the status in words.
FRESHNESS_COLOURS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "fresh": OKABE_ITO["blue"],
        "due": ORANGE_MARK,
        "late": OKABE_ITO["vermillion"],
        "failed": OKABE_ITO["black"],
        "never": OKABE_ITO["reddish_purple"],
    }
)

# DejaVu Sans is what vl-convert finds on this machine (its "sans-serif" fallback resolves to a serif face);
# Verdana has near-identical metrics in browsers that lack DejaVu.
FONT: Final = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"

WATERMARK_COLOUR: Final = "#7F7F7F"


@dataclass(frozen=True)
class ChartMeta:
    """What every chart states about its data: sources, licence, vintage (snapshot date), demo or real."""

    sources: tuple[str, ...]
    licence: str
    vintage: date
    is_demo: bool = False
    method: str = ""  # the method the figures follow, in the chart's language (a subtitle line of its own)

    def __post_init__(self) -> None:
        if isinstance(self.sources, str):
            object.__setattr__(self, "sources", (self.sources,))
        if not self.sources or not all(isinstance(s, str) and s.strip() for s in self.sources):
            raise ValueError("ChartMeta.sources must name at least one source")
        if not self.licence.strip():
            raise ValueError("ChartMeta.licence must not be empty")
        if not isinstance(self.vintage, date):
            raise ValueError(f"ChartMeta.vintage must be a date, got {type(self.vintage).__name__}")


def relative_luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of a "#RRGGBB" colour: 0 for black, 1 for white."""
    hex_digits = colour.removeprefix("#")
    if len(hex_digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in hex_digits):
        raise ValueError(f"relative_luminance: expected a colour as #RRGGBB, got {colour!r}")
    channels = [int(hex_digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.2 contrast ratio of two "#RRGGBB" colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_on(background: str) -> str:
    """The text colour for a background: the theme's text colour, white or black, the first that meets
    WCAG AA for text (4.5:1); on vermillion only black does (white is 3.9:1, the text colour 4.1:1)."""
    for colour in (TEXT_COLOUR, "#FFFFFF", "#000000"):
        if contrast_ratio(colour, background) >= WCAG_TEXT_CONTRAST:
            return colour
    raise ValueError(f"text_on: no text colour reaches {WCAG_TEXT_CONTRAST}:1 on {background}")


# a subsector's shade of its sector's colour, in its siblings' sorted order: that colour moved a share of the
# way to black, never to white (a lighter shade of a sector colour at 3:1 would fall below it on white)
SUBSECTOR_SHADES: Final[tuple[float, ...]] = (0.45, 0.25, 0.65, 0.8)


def _mix(colour: str, towards: str, share: float) -> str:
    """colour moved `share` of the way to `towards` (both #RRGGBB)."""
    a, b = (tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in (colour, towards))
    return "#" + "".join(f"{round(x + (y - x) * share):02X}" for x, y in zip(a, b, strict=True))


def sector_colours(keys: Iterable[str], groups: Mapping[str, str] | None = None) -> dict[str, str]:
    """Colour per sector key: the fixed mapping; a subsector (groups: key -> its main sector) a shade of
    its sector's colour (SUBSECTOR_SHADES: rail, road and waterborne transport three blues), the first in
    sorted order the colour itself where the sector's own key is not among the keys; then fallback greys
    for unknown keys in sorted order."""
    keys = list(keys)
    groups = groups or {}
    result: dict[str, str] = {}
    for key in keys:
        if key in SECTOR_COLOURS:
            result[key] = SECTOR_COLOURS[key]
    shaded = sorted(k for k in set(keys) - set(result) if groups.get(k) in SECTOR_COLOURS)
    for group in sorted({groups[k] for k in shaded}):
        siblings = [k for k in shaded if groups[k] == group]
        if group not in result:  # the sector's own colour is free: its first subsector takes it
            result[siblings.pop(0)] = SECTOR_COLOURS[group]
        for i, key in enumerate(siblings):
            result[key] = _mix(SECTOR_COLOURS[group], "#000000", SUBSECTOR_SHADES[i % len(SUBSECTOR_SHADES)])
    unknown = sorted(set(keys) - set(result))
    for i, key in enumerate(unknown):
        result[key] = FALLBACK_SECTOR_COLOURS[i % len(FALLBACK_SECTOR_COLOURS)]
    return result


# characters per subtitle line: the title's 900 px limit at the 11 px subtitle font
SUBTITLE_WRAP: Final = 140


def subtitle_lines(meta: ChartMeta, lang: str) -> list[str]:
    """The subtitle: a demo notice when needed, then source(s), licence (both in lang) and data vintage."""
    key = "meta.subtitle_one" if len(meta.sources) == 1 else "meta.subtitle_many"
    line = t(
        key,
        lang,
        sources=", ".join(source_text(s, lang) for s in meta.sources),
        licence=source_text(meta.licence, lang),
        vintage=format_date(meta.vintage, lang),
    )
    lines = wrap_title(line, SUBTITLE_WRAP)  # many sources or a long licence: two lines, not a cut "…"
    if meta.method:
        lines = [*wrap_title(meta.method, SUBTITLE_WRAP), *lines]
    if meta.is_demo:
        lines.insert(0, t("meta.demo_notice", lang))
    return lines


def wrap_title(text: str, width: int = 85) -> list[str]:
    """Split a long title into lines of similar length (no orphan word); a short one stays one line."""
    if len(text) <= width:
        return [text]
    n = math.ceil(len(text) / width)
    for w in range(math.ceil(len(text) / n), width + 1):
        lines = textwrap.wrap(text, w)
        if len(lines) <= n:
            return lines
    return textwrap.wrap(text, width)


def title_params(finding: str, meta: ChartMeta, lang: str, width: int = 85) -> alt.TitleParams:
    """A title that states the finding (wrapped at `width` characters), with the source/licence/vintage."""
    lines = wrap_title(finding, width)
    return alt.TitleParams(
        text=lines if len(lines) > 1 else finding,
        subtitle=subtitle_lines(meta, lang),
        anchor="start",
        offset=12,
    )


def watermark(lang: str, em_width: float) -> alt.Chart:
    """A large, light "demo data" text layered over a view (its own one-row data; no scales touched), no
    wider than the view when it can be 18 px (em_width: the text's width per px of its size, bold):
    "DEMO-AINEISTO" at a phone's width / 8 had run 25 px past a 260 px plot and widened the drawing."""
    angle = 340
    turn = math.radians(360 - angle)
    # the tilted text's width across the view, per px of its size (its line about 1.2 sizes high)
    across = em_width * math.cos(turn) + 1.2 * math.sin(turn)
    chart: alt.Chart = (
        alt.Chart(pl.DataFrame({"watermark": [1]}))
        .mark_text(
            text=t("meta.watermark", lang),
            x={"expr": "width / 2"},
            y={"expr": "height / 2"},
            fontSize={"expr": f"max(18, min(48, width / 8, width * 0.9 / {across:.4f}))"},
            fontWeight="bold",
            angle=angle,
            opacity=0.16,
            color=WATERMARK_COLOUR,
            align="center",
            baseline="middle",
        )
        .properties(name="demo_watermark")
    )
    return chart


def theme_config() -> dict[str, Any]:
    """The theme as a Vega-Lite top-level dict (config and default view size)."""
    return {
        "config": {
            "font": FONT,
            "background": "white",
            "padding": 8,
            "view": {"continuousWidth": 560, "continuousHeight": 320, "stroke": None},
            "range": {"category": list(CATEGORY_RANGE)},
            "title": {
                "font": FONT,
                "fontSize": 17,
                "fontWeight": "bold",
                "color": TEXT_COLOUR,
                "subtitleFont": FONT,
                "subtitleFontSize": 11,
                "subtitleColor": MUTED_TEXT,
                "anchor": "start",
                "limit": 900,
            },
            # Vega's own descriptions of axes and legends are English ("X-axis for a time scale with
            # values from 1990 to 2030") in every language: guides are hidden from screen readers, which
            # read the chart's description (its alt text) and its data table instead
            "axis": {
                "aria": False,
                "labelFont": FONT,
                "titleFont": FONT,
                "labelFontSize": 11,
                "titleFontSize": 12,
                "titleFontWeight": "normal",
                "labelColor": TEXT_COLOUR,
                "titleColor": TEXT_COLOUR,
                "gridColor": GRID_COLOUR,
                "domainColor": "#888888",
                "tickColor": "#888888",
            },
            "axisTemporal": {"labelFlush": True},
            "axisQuantitative": {"tickCount": 6, "labelOverlap": True},
            "legend": {
                "aria": False,
                "labelFont": FONT,
                "titleFont": FONT,
                "labelFontSize": 11,
                "titleFontSize": 11,
                "labelLimit": 320,
                "symbolStrokeWidth": 2,
            },
            "header": {"labelFont": FONT, "titleFont": FONT},
            "text": {"font": FONT, "fontSize": 11, "color": TEXT_COLOUR},
            "line": {"strokeWidth": 2},
            "point": {"size": 45},
            "bar": {"binSpacing": 2},
            "area": {"opacity": 0.9},
        }
    }


@alt.theme.register(THEME_NAME, enable=True)
def kestava_theme() -> alt.theme.ThemeConfig:
    """The registered Altair theme (enabled when this module is imported)."""
    return cast("alt.theme.ThemeConfig", theme_config())


def use_theme() -> None:
    """Re-enable the Kestävä theme (for example after a notebook switched to another one)."""
    alt.theme.enable(THEME_NAME)
