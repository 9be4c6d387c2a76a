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
from dataclasses import dataclass

import polars as pl

__all__ = [
    "FLAG_EXPECTED",
    "MEANINGS",
    "VALUE_ONLY",
    "Meaning",
    "carried_flags",
    "flag_meanings",
    "has_meaning",
    "implausible_flags",
    "is_provisional",
    "normalised_flags",
    "provisional_flags",
]

# Eurostat's flags are letters, and one observation may carry several in one code ("bp": break and
# provisional; "ep", "bep", "bu": rOpenGov/eurostat#87, datacommonsorg/data#2053): a code made only of these
# letters is read letter by letter. Other sources' codes are read whole (HSY's "neg" is not n + e + g).
EUROSTAT_LETTERS = frozenset("bcdefnprsuz")


@dataclass(frozen=True)
class Meaning:
    """What a reader is told, and the codes that say it: Eurostat letters, and other sources' whole codes."""

    letters: frozenset[str]
    codes: frozenset[str]


# meaning key -> its codes (Eurostat's letters; SDMX CL_OBS_STATUS's upper case, as OECD writes them)
MEANINGS: dict[str, Meaning] = {
    "provisional": Meaning(frozenset("p"), frozenset({"P"})),
    "estimated": Meaning(frozenset("es"), frozenset({"E", "I"})),
    "forecast": Meaning(frozenset("f"), frozenset({"F"})),
    "break": Meaning(frozenset("b"), frozenset({"B"})),
    "definition_differs": Meaning(frozenset("d"), frozenset({"D"})),
    "low_reliability": Meaning(frozenset("u"), frozenset({"U"})),
    "incomplete": Meaning(frozenset(), frozenset({"partial"})),  # Fingrid: a day or week not all in yet
}
# codes that describe the one value they sit on, not a figure made from it: the HSY connector marks a row
# below zero "neg" (ingest.hsy); a total, a share or a ratio that adds such a row is not negative itself,
# so derivations do not carry these codes (indicators.derive)
VALUE_ONLY = frozenset({"neg"})
PROVISIONAL = "p"  # the code the tracker itself writes for a publisher's preliminary period
_EUROSTAT_CLASS = "[" + "".join(sorted(EUROSTAT_LETTERS)) + "]"
# What a source's flag may be: comma-joined codes, each ASCII letters, digits and ':' (Eurostat "bp", ":";
# OECD "E"; HSY "neg"; Fingrid "partial") or one of PxWeb's marks (".", "..", …, "-" nil), at most
# MAX_FLAG_LENGTH characters. Anything else ("=1+1", "@SUM(A1)", a sentence) is no flag code: a payload
# carrying it is refused at ingest (a flag is written as it came into the public CSV downloads).
MAX_FLAG_LENGTH = 40
_FLAG_CODE = r"(?:[A-Za-z0-9:]{1,16}|\.{1,5}|-)"
_FLAG_PATTERN = rf"^{_FLAG_CODE}(?:,{_FLAG_CODE})*$"
FLAG_EXPECTED = (
    f"flag codes of at most {MAX_FLAG_LENGTH} characters: ASCII letters, digits and ':' (e.g. 'p', 'bep', "
    "'E', 'neg'), or PxWeb's '.' to '.....' and '-', comma-joined"
)


def normalised_flags(flags: pl.Expr) -> pl.Expr:
    """Comma-joined flags made sorted and unique ("p,e,p" -> "e,p"); empty or null -> null."""
    joined = flags.str.split(",").list.eval(pl.element().filter(pl.element() != "")).list.unique().list.sort()
    return pl.when(flags.is_null() | (flags == "")).then(None).otherwise(joined.list.join(","))


def implausible_flags(flags: pl.Series) -> list[str]:
    """The distinct values of `flags` that are no plausible flag code (FLAG_EXPECTED), sorted; null and
    empty are no flag."""
    distinct = flags.drop_nulls().unique()
    distinct = distinct.filter(distinct != "")
    plausible = distinct.str.contains(_FLAG_PATTERN) & (distinct.str.len_chars() <= MAX_FLAG_LENGTH)
    return sorted(distinct.filter(~plausible).to_list())


def carried_flags(flags: pl.Expr) -> pl.Expr:
    """A flag text without the VALUE_ONLY codes ("neg,p" -> "p", "neg" -> null): what a figure made from the
    value carries."""
    kept = flags.str.split(",").list.eval(pl.element().filter(~pl.element().is_in(sorted(VALUE_ONLY))))
    text = kept.list.join(",")
    return pl.when(text == "").then(None).otherwise(text)


def has_meaning(flags: pl.Expr, key: str) -> pl.Expr:
    """True where a stored flags text holds a code of MEANINGS[key] (e.g. "incomplete"); never null."""
    meaning = MEANINGS[key]
    whole = pl.element().is_in(sorted(meaning.codes))
    if meaning.letters:
        letters = "[" + "".join(sorted(meaning.letters)) + "]"
        whole = whole | pl.element().str.contains(f"^{_EUROSTAT_CLASS}*{letters}{_EUROSTAT_CLASS}*$")
    return flags.str.split(",").list.eval(whole).list.any().fill_null(False)


def is_provisional(flags: pl.Expr) -> pl.Expr:
    """True where a stored flags text holds a provisional code (MEANINGS["provisional"]); never null."""
    return has_meaning(flags, "provisional")


def flag_meanings(flags: str | None) -> tuple[str, ...]:
    """The meaning keys (MEANINGS' order) of a stored flags text; () for none or only other codes."""
    if not flags:
        return ()
    codes = set(flags.split(","))
    letters = {letter for code in codes if set(code) <= EUROSTAT_LETTERS for letter in code}
    return tuple(key for key, m in MEANINGS.items() if letters & m.letters or codes & m.codes)


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
