"""The contract every protocol connector fulfils: fetch payloads, then parse them into observations.

A connector's `parse` returns a *normalised observation frame* (polars), one row per observation:

| column   | dtype   | meaning                                                                  |
|----------|---------|--------------------------------------------------------------------------|
| area     | Utf8    | "049" (3-digit municipality number), "PKS" (HSY region), "FI", "EU27_2020" |
| period   | Utf8    | "2023" (year), "2023-05" (month), "2026-W45" (ISO week), "2026-11-02" (day) |
| value    | Float64 | the number; null when the source marks it missing (never 0 for missing)   |
| flag     | Utf8    | the source's status flag ("p", "e", "b", "..", "neg", …) or null          |
| unit     | Utf8    | one of common.units.UNITS, spelled exactly                              |
| <others> | Utf8    | every other dimension (sector1…sector5, rule, measure, …), never null     |

The series key is the dataset id plus every column except period, value and flag.
`parse` is pure (bytes in, frame out) and raises ingest.errors.ValidationError on bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

import polars as pl

from common.flags import FLAG_EXPECTED, implausible_flags, provisional_flags
from common.payload import Fetcher, Payload
from ingest.catalogue import DatasetSpec
from ingest.errors import ValidationError
from storage.checks import dimension_columns

OBSERVATION_COLUMNS = ("area", "period", "value", "flag", "unit")


class Connector(Protocol):
    """Fetches a dataset's payloads and parses them into a normalised observation frame; every connector
    subclasses it (inheriting reading_digest's default unless its answers change where nothing else did)."""

    protocol: ClassVar[str]
    reader_version: ClassVar[str]

    def fetch(self, spec: DatasetSpec, fetcher: Fetcher) -> list[Payload]:
        """Make every request the dataset needs; return the payloads in request order."""
        ...

    def parse(self, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
        """Turn the payloads into a normalised observation frame (see module docstring)."""
        ...

    def reading_digest(self, body: bytes) -> str | None:
        """The sha256 of an answer's body without what changes on every answer though nothing else did (the
        OECD's SDMX-ML message header: its ID and preparation time), so that an answer whose reading is
        the stored one's is an unchanged run before it is parsed (ingest.reading); None (this default, a
        connector inheriting it) when its answers have no such part: their own sha256 is their reading."""
        return None


def parse_flagged(connector: Connector, spec: DatasetSpec, payloads: Sequence[Payload]) -> pl.DataFrame:
    """The connector's frame, the periods the catalogue declares preliminary flagged (spec.provisional);
    ValidationError when its series are not identified by the columns the catalogue declares (dimensions)
    or when a source's flag is no plausible flag code (common.flags.FLAG_EXPECTED)."""
    frame = connector.parse(spec, payloads)
    found = dimension_columns(frame)
    if spec.dimensions and found != sorted(spec.dimensions):
        raise ValidationError(
            spec.id,
            "dimensions",
            f"the catalogue's {', '.join(sorted(spec.dimensions))} (a new reading declares its own there)",
            ", ".join(found),
        )
    if "flag" in frame.columns:
        bad = implausible_flags(frame["flag"].cast(pl.Utf8))
        if bad:
            shown = ", ".join(repr(flag[:60]) for flag in bad[:3])
            raise ValidationError(
                spec.id, "flag", FLAG_EXPECTED, shown + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            )
    if spec.provisional == "latest_period" and frame.height:
        latest = frame.filter(pl.col("value").is_not_null())["period"].max()
        if latest is not None:
            frame = provisional_flags(frame, [str(latest)])
    return frame
