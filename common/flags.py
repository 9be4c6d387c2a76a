"""Source status flags behind a value: their stored spelling and what they tell a reader.

Connectors keep each source's own status codes in `observation.flag` (Eurostat `p`, `e`, `b`, …; OECD's
SDMX `P`, `E`, `B`, …; PxWeb's symbols; HSY's `neg`; the catalogue's `provisional` marks the newest
period of HSY and Syke `p`). Derivations carry the flags of every input row; `indicator_value.flags`
stores them sorted, unique and comma-joined. A reader is told only what changes how a number should be
read: provisional, estimated, forecast, a break in the series, a different definition, low reliability,
an incomplete period.
The other codes stay in the data (export, API) for those who look them up at the source.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

__all__ = ["MEANINGS", "flag_meanings", "is_provisional", "normalised_flags", "provisional_flags"]

# meaning key -> the codes that mean it (Eurostat's lower case, SDMX's CL_OBS_STATUS upper case)
MEANINGS: dict[str, frozenset[str]] = {
    "provisional": frozenset({"p", "P"}),
    "estimated": frozenset({"e", "E", "s", "I"}),
    "forecast": frozenset({"f", "F"}),
    "break": frozenset({"b", "B"}),
    "definition_differs": frozenset({"d", "D"}),
    "low_reliability": frozenset({"u", "U"}),
    "incomplete": frozenset({"partial"}),  # Fingrid: a day or ISO week not all of whose values have come
}
PROVISIONAL = "p"  # the code the tracker itself writes for a publisher's preliminary period


def normalised_flags(flags: pl.Expr) -> pl.Expr:
    """Comma-joined flags made sorted and unique ("p,e,p" -> "e,p"); empty or null -> null."""
    joined = flags.str.split(",").list.eval(pl.element().filter(pl.element() != "")).list.unique().list.sort()
    return pl.when(flags.is_null() | (flags == "")).then(None).otherwise(joined.list.join(","))


def is_provisional(flags: pl.Expr) -> pl.Expr:
    """True where a stored flags text holds a provisional code (MEANINGS["provisional"]); never null."""
    codes = sorted(MEANINGS["provisional"])
    return flags.str.split(",").list.eval(pl.element().is_in(codes)).list.any().fill_null(False)


def flag_meanings(flags: str | None) -> tuple[str, ...]:
    """The meaning keys (MEANINGS' order) of a stored flags text; () for none or only other codes."""
    if not flags:
        return ()
    codes = set(flags.split(","))
    return tuple(meaning for meaning, spelled in MEANINGS.items() if codes & spelled)


def provisional_flags(frame: pl.DataFrame, periods: Iterable[str]) -> pl.DataFrame:
    """`frame` (observations) with PROVISIONAL added to the flag of every row of one of `periods`."""
    wanted = list(periods)
    if not wanted:
        return frame
    mark = pl.col("period").is_in(wanted)
    flag = pl.col("flag")
    return frame.with_columns(
        pl.when(~mark)
        .then(flag)
        .when(flag.is_null() | (flag == ""))
        .then(pl.lit(PROVISIONAL))
        .when(flag.str.split(",").list.contains(PROVISIONAL))
        .then(flag)
        .otherwise(flag + "," + PROVISIONAL)
        .alias("flag")
    )
