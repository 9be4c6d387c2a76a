"""The decimals a ranking of areas prints: the fewest that tell the main area from its neighbours."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Final

from report.i18n import format_number, series_precision, shown_decimals

# a comparison of up to RANKED_IN_FULL areas is told apart in full (the report ranks up to 20 cities); a
# longer one only the main area apart from those beside it: to tell every pair of 300 municipalities apart
# took "10.500 %" in the title and every row
RANKED_IN_FULL: Final = 20


def rank_decimals(values: Sequence[float], lang: str, least: int = 1, most: int = 3) -> int:
    """The fewest decimals, from least up to most, at which any two neighbours in the ranking of values
    that differ also differ as printed in lang (2.61 and 2.64 both print "2,6": two decimals)."""
    ranked = sorted(set(values))
    for places in range(least, most):
        printed = [format_number(v, lang, places) for v in ranked]
        if all(a != b for a, b in itertools.pairwise(printed)):
            return places
    return most


def _with_neighbours(latest: Mapping[str, float], main: str) -> list[float]:
    """The main area's value and the nearest distinct values below and above it (every value when the main
    area has none)."""
    values = sorted(set(latest.values()))
    if main not in latest:
        return values
    at = values.index(latest[main])
    return values[max(at - 1, 0) : at + 2]


def area_decimals(
    latest: Mapping[str, float], main: str, lang: str, *, report_ranks: Sequence[str] = ()
) -> dict[str, int]:
    """Per area, the decimals its latest value prints with wherever the areas are ranked: by magnitude
    (shown_decimals), or more where the main area and a neighbour would print alike, never beyond the
    series' published precision.

    report_ranks: the areas the weekly report ranks in a chart of its own (report.data.COMPARISON_AREAS for
    the per-resident comparison), which tells them apart with at least one decimal; the page and the report
    then print the same figure whichever of the two rankings needs more decimals (Espoo's "2.58 t" in both,
    where all 308 municipalities alone would have needed "2.6" and the report's seven cities "2.58").
    """
    values = list(latest.values())
    precision = series_precision(values)
    apart = values if len(values) <= RANKED_IN_FULL else _with_neighbours(latest, main)
    ranked = rank_decimals(apart, lang, least=0)
    in_report = [latest[area] for area in report_ranks if area in latest]
    if len(in_report) > 1:
        ranked = max(ranked, rank_decimals(in_report, lang))
    return {area: min(max(shown_decimals(v, precision), ranked), precision) for area, v in latest.items()}
