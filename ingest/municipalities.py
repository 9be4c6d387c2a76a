"""Finland's municipal division: the municipality numbers since 2021 and the mergers that ended some."""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path

import polars as pl

from ingest.errors import ValidationError

log = logging.getLogger(__name__)

MUNICIPALITIES_PATH = Path(__file__).with_name("municipalities.json")


@cache
def _municipality_rows() -> tuple[dict[str, str], ...]:
    document = json.loads(MUNICIPALITIES_PATH.read_text(encoding="utf-8"))
    return tuple(document["municipalities"])


def municipalities() -> tuple[tuple[str, str, str], ...]:
    """(code, Finnish name, Swedish name) of every municipality since 2021, merged ones included (their
    names still label older data; ingest/municipalities.json)."""
    return tuple((row["code"], row["fi"], row["sv"]) for row in _municipality_rows())


def municipality_names() -> tuple[tuple[str, str, str, str], ...]:
    """(code, Finnish, Swedish, English name) of every municipality since 2021: the English one as Statistics
    Finland's English classification gives it, the Finnish name but for nine (e.g. Jakobstad)."""
    return tuple(
        (row["code"], row["fi"], row["sv"], row.get("en", row["fi"])) for row in _municipality_rows()
    )


def municipality_codes() -> tuple[str, ...]:
    """The three-digit numbers ("005" … "992") of every municipality since 2021, merged ones included."""
    return tuple(code for code, _, _ in municipalities())


def merged_municipalities() -> dict[str, tuple[str, str]]:
    """Number of a municipality that no longer exists -> (number it joined, last day as ISO date)."""
    return {row["code"]: (row["merged_into"], row["until"]) for row in _municipality_rows() if "until" in row}


def current_municipality_codes() -> tuple[str, ...]:
    """The numbers of today's municipalities (308 since Pertunmaa joined Mäntyharju on 1 January 2025):
    the sources publish in the current division, so these are the ones to ask for."""
    merged = merged_municipalities()
    return tuple(code for code in municipality_codes() if code not in merged)


def within_division(source: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The observations, refused when one is of a municipality for a year after it ceased to exist.

    `frame` has the string columns `area` (municipality number "588", or another area code) and `period`
    (starting with its year: "2025", "2025-10-21", "2025Q1"), and may have `value`. Mergers take effect on
    1 January, so a row is impossible when its year is after the municipality's last day's year. Such rows
    that say nothing (value null or 0: a table listing the old municipality with nothing in it) are left
    out with a warning; one with a number means the source is not in a municipal division the tracker
    knows, and the whole payload is refused, naming the municipality and the one it joined.
    """
    merged = merged_municipalities()
    if frame.height == 0 or "area" not in frame.columns:
        return frame
    last_year = pl.col("area").replace_strict(
        {code: int(until[:4]) for code, (_, until) in merged.items()}, default=None, return_dtype=pl.Int32
    )
    year = pl.col("period").str.slice(0, 4).cast(pl.Int32, strict=False)
    ghost = last_year.is_not_null() & (year > last_year)
    ghosts = frame.filter(ghost)
    if ghosts.height == 0:
        return frame
    names = {number: fi for number, fi, _ in municipalities()}
    empty = pl.col("value").fill_null(0.0) == 0.0 if "value" in frame.columns else pl.lit(False)
    counted = ghosts.filter(~empty)
    if counted.height == 0:
        areas = ", ".join(f"{code} {names[code]}" for code in ghosts["area"].unique().sort())
        log.warning(
            "%s: %d empty observation(s) (null or 0) of %s after its merger: left out",
            source,
            ghosts.height,
            areas,
        )
        return frame.filter(~ghost)
    code, period = counted.select("area", "period").row(0)
    into, until = merged[code]
    raise ValidationError(
        source,
        "area",
        f"only municipalities that existed in each period ({code} {names[code]} joined {into} {names[into]}; "
        f"its last day was {until})",
        f"{counted.height} observation(s) of {code} {names[code]} after {until}, first period {period!r}",
    )
