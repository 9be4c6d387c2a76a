"""The site's phone variant of a chart: narrow, title wrapped, legend in columns, the same data."""

from __future__ import annotations

import copy
from typing import Any

from report.phone import PHONE_WIDTH, SUBTITLE_CHARS, TITLE_CHARS, phone_spec

TITLE = "Espoo: Kasvihuonekaasupäästöt 712 kt CO₂e (2024), −33 % vuodesta 1990 (ennakkotieto)"
SOURCE = "Lähde: Helsingin seudun ympäristöpalvelut HSY · Lisenssi: CC BY 4.0 · Tilanne 6.12.2026"


def _spec(labels: list[str], chart: str = "indicator_history") -> dict[str, Any]:
    legend = {"direction": "horizontal", "orient": "bottom"}
    return {
        "width": 560,
        "height": 260,
        "title": {"text": TITLE, "subtitle": ["DEMO", SOURCE], "anchor": "start"},
        "usermeta": {"kestava": {"chart": chart}},
        "datasets": {"d": [{"year": 1990, "value": 1060.0}, {"year": 2024, "value": 712.0}]},
        "layer": [
            {
                "data": {"name": "d"},
                "mark": "line",
                "encoding": {
                    "x": {"field": "year", "type": "ordinal"},
                    "y": {"field": "value", "type": "quantitative"},
                    "stroke": {"field": "legend", "legend": legend, "scale": {"domain": labels}},
                },
            }
        ],
    }


def test_the_phone_variant_is_narrow_with_every_title_line_short_and_the_same_words() -> None:
    spec = _spec(["Havaittu", "Tavoite"])
    before = copy.deepcopy(spec)
    phone = phone_spec(spec)
    assert spec == before  # the wide chart is left as it is
    assert phone["width"] == PHONE_WIDTH < 560
    lines = phone["title"]["text"]
    assert len(lines) > 1 and all(len(line) <= TITLE_CHARS for line in lines)
    assert " ".join(lines) == TITLE
    subtitle = phone["title"]["subtitle"]
    assert all(len(line) <= SUBTITLE_CHARS for line in subtitle)
    assert " ".join(subtitle) == f"DEMO {SOURCE}"
    assert phone["datasets"] == spec["datasets"]  # the same numbers as the wide chart
    assert phone["layer"][0]["encoding"]["y"] == spec["layer"][0]["encoding"]["y"]


def test_a_legend_of_short_labels_takes_two_columns_and_one_with_a_long_label_one() -> None:
    short = phone_spec(_spec(["Havaittu", "Arvio", "Tavoite"]))
    assert short["layer"][0]["encoding"]["stroke"]["legend"]["columns"] == 2
    # "Tasainen polku tavoitteeseen" was cut to "Tasainen polku tavoittee…" in a column of two
    long = phone_spec(_spec(["Havaittu", "Tasainen polku tavoitteeseen"]))
    assert long["layer"][0]["encoding"]["stroke"]["legend"]["columns"] == 1
