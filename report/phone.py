"""A site chart's phone-width variant: the same spec drawn narrow, its text shown at its size on a phone."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from report.charts.common import LEGEND_COLUMN_WIDTH, text_width
from report.theme import wrap_title

# A site chart is drawn 560 px wide plus its axes, about 730 px in all: a phone's 360 px column shrinks it
# to half, its 11 px labels to 5 px. Drawn this narrow it fits a phone unscaled. (A peer chart is made
# narrow by its builder, report.charts.peers.peer_comparison's width, which keeps its labels inside.)
SITE_WIDTH: Final = 560
PHONE_WIDTH: Final = 260
# characters per line at a phone's width: the title is 15 px bold, the subtitle 11 px
TITLE_CHARS: Final = 32
SUBTITLE_CHARS: Final = 48
TITLE_FONT_SIZE: Final = 15
# media query of the phone variant, for <source media=…> (the site's own breakpoint, site.css)
PHONE_MEDIA: Final = "(max-width: 40rem)"


def phone_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec drawn at a phone's width: narrower plot, the title and each subtitle line wrapped shorter,
    the legends in two columns. The data, marks and encodings are the same, so the two variants agree."""
    # the datasets are shared with the wide spec, never changed: only what is changed is copied
    narrow = {
        **spec,
        **{key: copy.deepcopy(spec[key]) for key in ("config", "layer", "usermeta") if key in spec},
    }
    if narrow.get("width") == SITE_WIDTH:
        narrow["width"] = PHONE_WIDTH
    title = narrow.get("title")
    if isinstance(title, dict):
        narrow["title"] = _phone_title(title)
    config = narrow.setdefault("config", {})
    config.setdefault("title", {})["fontSize"] = TITLE_FONT_SIZE
    # two legends below the plot one above the other, not side by side (wider than a phone together)
    config.setdefault("legend", {})["layout"] = {"bottom": {"direction": "vertical", "anchor": "start"}}
    _columns(narrow.get("layer", []))
    return narrow


def phone_patch(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level keys of spec that its phone variant changes, width left out (title, legends, title
    size): a page's script merges them into the spec when it draws the chart in a phone's column, its plot
    as wide as the column leaves. Layers refer to the spec's datasets by name, so the patch holds no data."""
    phone = phone_spec({key: value for key, value in spec.items() if key != "width"})
    return {key: value for key, value in phone.items() if spec.get(key) != value}


def _phone_title(title: Mapping[str, Any]) -> dict[str, Any]:
    """The title with its text wrapped at TITLE_CHARS and each subtitle line at SUBTITLE_CHARS."""
    phone = dict(title)
    text = title.get("text", "")
    phone["text"] = wrap_title(" ".join(text) if isinstance(text, list) else str(text), TITLE_CHARS)
    subtitle = title.get("subtitle")
    if subtitle:
        lines = subtitle if isinstance(subtitle, list) else [subtitle]
        phone["subtitle"] = [part for line in lines for part in wrap_title(str(line), SUBTITLE_CHARS)]
    return phone


def _columns(node: Any) -> None:
    """Every horizontal legend under node in columns (a row of six overflows a phone): two when each of its
    labels (the encoding's scale domain) fits LEGEND_COLUMN_WIDTH, else one, so that none is cut."""
    if isinstance(node, list):
        for item in node:
            _columns(item)
    elif isinstance(node, dict):
        legend = node.get("legend")
        if isinstance(legend, dict) and (
            legend.get("direction") == "horizontal" or legend.get("columns", 0) > 2
        ):
            scale = node.get("scale")
            domain = scale.get("domain") if isinstance(scale, dict) else None
            labels = [str(value) for value in domain] if isinstance(domain, list) else []
            legend["columns"] = 2 if all(text_width(label) <= LEGEND_COLUMN_WIDTH for label in labels) else 1
        for key, value in node.items():
            if key not in ("data", "datasets"):
                _columns(value)
