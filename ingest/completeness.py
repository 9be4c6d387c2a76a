"""Rejects a silently short payload: one lacking what the request asked for or what the last vintage had.

Each dataset declares in `[datasets.<id>.complete]` (ingest.catalogue.CompleteSpec) what a complete
payload holds:

- `requested_areas` (default true): every area the request named — Syke's municipality files, the
  `KU…` area codes of PxWeb queries, Eurostat's `geo` parameters — has at least one observation;
- `requested_periods` (default true): every period a PxWeb query named (its time variable's values);
- `areas`: areas every payload holds although the request does not name them (HSY's four cities);
- `requested_days`: every Europe/Helsinki day of the requested `startTime`/`endTime` window (Fingrid);
- `annual_from`: every area has every year from this one to the payload's newest year;
- `same_periods_per`: every value of these columns has every period any of them has;
- `previous`: which currently valid observations the payload must still hold, by (series, period):
  `all`; `window` (only those whose period lies in the requested window: a moving window drops old
  days); `series` (every series, in any period: point-in-time tables whose period moves on); `none`.

A missing observation is forgiven when a `may_drop` rule matches it: `"<column> <op> <value>"` with op
one of `=`, `!=`, `<`, `<=`, `>`, `>=` compared as text (periods compare in time order), `= *` for any
value of that column (e.g. `"period < 2000"`, `"area = 235"`, `"taso_5 = *"`).

When the connector's reader version (or its set of dimension columns) changed since the last snapshot,
series may be named differently, so the previous vintage is compared by (area, period) only.

Withdrawals. `covers` declares which stored observations a payload covers (`coverage`): `all`;
`request` (the default: the areas and periods the request named, where it names any — Syke's
municipality files, PxWeb's area codes and time values, Eurostat's `geo` and `sinceTimePeriod`, the
OECD's `startPeriod`, Fingrid's window with the weeks and months overlapping it); `payload_periods`
(those, and only the periods the payload holds: a point-in-time table such as Traficom's); `none`.
Rows outside a payload's coverage (days that left a moving window, areas not requested, earlier
reference dates) stay current. The one rule, applied before the load (`withdrawn_values`, a
plausibility violation of kind `withdrawal`) and by it (storage.load closes what it forgave):

- a currently valid non-null value that the payload makes null, or that a payload covering it no
  longer holds, is *withdrawn*;
- a withdrawal a may_drop rule forgives is loaded: a dropped observation is closed (valid_to, its
  history kept) and counted as withdrawn, a nulled one is stored as a revision to null;
- any other withdrawal rejects the payload whole like a jump (kept as a rejected snapshot, alerted, the
  last good data stay current) until a person accepts it (`kestava accept DATASET SNAPSHOT --why …`),
  unless the dataset opts out with `plausibility.withdrawals = { reject = false, why = "…" }`.

A dropped observation this checker forgave (`previous = "series"`, `"window"` or a may_drop rule) is
still withdrawn when the payload covers it; a dropped null (nothing published) is closed without a
rejection. After a reader change (series may be named differently) withdrawals are not checked, and the
load closes the covered rows of series the payload no longer names (their values live on under the new
names), so that no sum counts both.
`missing_observations` is pure; `check_complete` reads the current observations and raises
`IncompleteError` (a ValidationError, so the payload is rejected, recorded and alerted like any other).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import orjson
import polars as pl
from sqlalchemy import Engine, select

from common.helsinki import HELSINKI
from common.payload import Payload
from ingest.catalogue import MAY_DROP_PATTERN, DatasetSpec
from ingest.errors import ValidationError
from ingest.municipalities import merged_municipalities
from storage import schema
from storage.checks import dimension_columns
from storage.load import series_keys

__all__ = [
    "IncompleteError",
    "Previous",
    "check_complete",
    "coverage",
    "missing_observations",
    "requested_areas",
    "requested_days",
    "requested_periods",
    "requested_since",
    "withdrawn_values",
]

MESSAGE_GROUPS = 6  # how many groups of missing observations a message spells out
_YEAR = re.compile(r"^\d{4}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MUNICIPALITY = re.compile(r"^KU(\d{3})$")

# why an observation was expected, as a message says it
REASONS = {
    "requested": "the request asked for",
    "area": "the catalogue's complete.areas lists",
    "day": "the requested window holds",
    "annual": "complete.annual_from expects",
    "same_periods": "other areas have",
    "previous": "the previous vintage had",
}


class IncompleteError(ValidationError):
    """A payload lacking observations it should hold; the message names dataset, areas, series, periods."""

    def __init__(self, dataset_id: str, missing: pl.DataFrame) -> None:
        self.source = dataset_id
        self.field = "completeness"
        self.expected = (
            "every area, series and period the request asked for and the previous vintage had "
            f"(or a may_drop rule in [datasets.{dataset_id}.complete])"
        )
        self.missing = missing
        self.got = summarise(missing)
        Exception.__init__(
            self,
            f"{dataset_id}: completeness: the payload lacks what it should hold, nothing was loaded: "
            f"{self.got}",
        )


# ------------------------------------------------------------------------------------ what was asked


def requested_areas(spec: DatasetSpec, payloads: Sequence[Payload]) -> list[str]:
    """The areas the recorded requests named, in the frame's spelling ("049", "FI")."""
    if spec.protocol == "syke_csv":
        from ingest.syke import request_codes

        return list(request_codes(spec))
    areas: list[str] = []
    if spec.protocol == "eurostat":
        areas = [value for payload in payloads for name, value in payload.request.params if name == "geo"]
    elif spec.protocol == "pxweb":
        for item in [item for query in _queries(payloads) for item in query]:
            values = item.get("selection", {}).get("values", []) if isinstance(item, dict) else []
            areas += [m[1] for v in values if isinstance(v, str) and (m := _MUNICIPALITY.match(v))]
    return list(dict.fromkeys(areas))


def requested_periods(spec: DatasetSpec, payloads: Sequence[Payload]) -> list[str]:
    """The periods a PxWeb query named (its time variable's values, in the frame's spelling)."""
    if spec.protocol != "pxweb":
        return []
    from ingest.pxweb import period_expr

    time_codes: set[str] = set()
    for payload in payloads:
        if payload.request.method.upper() == "GET":
            try:
                variables = orjson.loads(payload.body).get("variables", [])
                time_codes |= {v["code"] for v in variables if isinstance(v, dict) and v.get("time")}
            except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
                continue
    codes: list[str] = []
    for query in _queries(payloads):
        for item in query:
            if isinstance(item, dict) and item.get("code") in time_codes:
                codes += [str(v) for v in item.get("selection", {}).get("values", [])]
    if not codes:
        return []
    periods = pl.DataFrame({"t": list(dict.fromkeys(codes))}).select(period_expr("t"))["t"]
    return periods.to_list()


def _queries(payloads: Sequence[Payload]) -> list[list[object]]:
    """The `query` lists of the recorded PxWeb POST bodies."""
    found = []
    for payload in payloads:
        if payload.request.json_body is None:
            continue
        try:
            query = orjson.loads(payload.request.json_body)["query"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if isinstance(query, list):
            found.append(query)
    return found


def requested_days(payloads: Sequence[Payload]) -> list[date]:
    """The Helsinki days of the first request's startTime/endTime window ([] when it has none)."""
    if not payloads:
        return []
    params = dict(payloads[0].request.params)
    try:
        start = datetime.fromisoformat(params["startTime"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(params["endTime"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return []
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        return []
    first = start.astimezone(HELSINKI).date()
    last = (end - timedelta(microseconds=1)).astimezone(HELSINKI).date()  # the end is exclusive
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def requested_since(payloads: Sequence[Payload]) -> str | None:
    """The first period the requests asked for (Eurostat's sinceTimePeriod, SDMX's startPeriod), if any."""
    found = [
        value
        for payload in payloads
        for name, value in payload.request.params
        if name in ("sinceTimePeriod", "startPeriod")
    ]
    return min(found) if found else None


def coverage(spec: DatasetSpec, payloads: Sequence[Payload], frame: pl.DataFrame) -> pl.Expr | None:
    """The stored observations the payload covers, as a filter on `area` and `period` (complete.covers);
    None when it covers none. One the payload no longer holds is withdrawn (see the module docstring)."""
    covers = spec.complete.covers
    if covers == "none":
        return None
    covered = pl.lit(True)
    if covers == "all":
        return covered
    areas = requested_areas(spec, payloads)
    if areas:
        covered = covered & pl.col("area").is_in(areas)
    periods = requested_periods(spec, payloads)
    if periods:
        covered = covered & pl.col("period").is_in(periods)
    days = requested_days(payloads)
    if days:
        covered = covered & _window_filter(days)
    since = requested_since(payloads)
    if since is not None:
        covered = covered & (pl.col("period") >= since)
    if covers == "payload_periods":
        held = frame["period"].unique().to_list() if "period" in frame.columns else []
        covered = covered & pl.col("period").is_in(held)
    return covered


def withdrawn_values(
    spec: DatasetSpec,
    frame: pl.DataFrame,
    previous: pl.DataFrame,
    covered: pl.Expr | None,
) -> pl.DataFrame:
    """The currently valid non-null values the frame withdraws and no may_drop rule forgives.

    `previous` is the stored current values shaped like a connector's output (dimension columns, period,
    value: ingest.acceptance.previous_values); `covered` the payload's coverage (`coverage`). A value is
    withdrawn when the frame holds its series and period with no value, or (covered) does not hold them.
    The result has the dimension columns, period, `value` (the stored one) and `how` ("null"/"dropped").
    When the frame's series are named otherwise than the stored ones (a reader change), nothing is."""
    dims = dimension_columns(frame) if {"period", "value"} <= set(frame.columns) else []
    empty = previous.clear().with_columns(pl.lit(None, dtype=pl.String).alias("how"))
    if not dims or sorted(c for c in previous.columns if c not in ("period", "value")) != sorted(dims):
        return empty
    old = previous.filter(pl.col("value").is_not_null())
    if old.height == 0:
        return empty
    new = frame.select(
        *dims,
        "period",
        pl.col("value").cast(pl.Float64, strict=False).alias("_new"),
        pl.lit(True).alias("_held"),
    ).with_columns(pl.col([*dims, "period"]).cast(pl.String))
    joined = old.with_columns(pl.col([*dims, "period"]).cast(pl.String)).join(
        new, on=[*dims, "period"], how="left", nulls_equal=True
    )
    nulled = joined.filter(pl.col("_held").is_not_null() & pl.col("_new").is_null())
    nulled = nulled.with_columns(pl.lit("null").alias("how"))
    dropped = joined.filter(pl.col("_held").is_null())
    if covered is None:
        dropped = dropped.clear()
    elif "area" in dropped.columns:
        dropped = dropped.filter(covered)
    dropped = dropped.with_columns(pl.lit("dropped").alias("how"))
    withdrawn = pl.concat([nulled, dropped]).drop("_new", "_held")
    if spec.complete.may_drop and withdrawn.height:
        withdrawn = withdrawn.filter(~_may_drop(spec.complete.may_drop, withdrawn))
    return withdrawn


# ------------------------------------------------------------------------------------ the checks


def _gaps(reason: str, rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(pl.lit(reason).alias("reason"))


def _area_gaps(reason: str, wanted: Sequence[str], present: set[str]) -> pl.DataFrame | None:
    absent = [area for area in wanted if area not in present]
    if not absent:
        return None
    return _gaps(reason, pl.DataFrame({"area": absent}, schema={"area": pl.String}))


def _period_gaps(wanted: Sequence[str], frame: pl.DataFrame) -> pl.DataFrame | None:
    present = set(frame["period"].unique().to_list())
    absent = [period for period in wanted if period not in present]
    if not absent:
        return None
    return _gaps("requested", pl.DataFrame({"period": absent}, schema={"period": pl.String}))


def _day_gaps(days: Sequence[date], frame: pl.DataFrame) -> pl.DataFrame | None:
    present = set(frame.filter(pl.col("period").str.contains(_DAY.pattern))["period"].to_list())
    absent = [day.isoformat() for day in days if day.isoformat() not in present]
    if not absent:
        return None
    return _gaps("day", pl.DataFrame({"period": absent}, schema={"period": pl.String}))


def _annual_gaps(first_year: int, frame: pl.DataFrame) -> pl.DataFrame | None:
    years = frame.filter(pl.col("period").str.contains(_YEAR.pattern)).select("area", "period").unique()
    if years.height == 0:
        return None
    newest = max(int(year) for year in years["period"].to_list())
    grid = (
        years.select("area")
        .unique()
        .join(pl.DataFrame({"period": [str(y) for y in range(first_year, newest + 1)]}), how="cross")
    )
    absent = grid.join(years, on=["area", "period"], how="anti")
    return _gaps("annual", absent) if absent.height else None


def _same_period_gaps(source: str, columns: Sequence[str], frame: pl.DataFrame) -> pl.DataFrame | None:
    found = []
    periods = frame.select("period").unique()
    for column in columns:
        if column not in frame.columns:
            raise ValidationError(
                source,
                f"catalogue complete.same_periods_per {column!r}",
                "a column of the parsed frame",
                ", ".join(frame.columns),
            )
        have = frame.select(column, "period").unique()
        absent = (
            have.select(column)
            .unique()
            .join(periods, how="cross")
            .join(have, on=[column, "period"], how="anti")
        )
        if absent.height:
            found.append(_gaps("same_periods", absent))
    return pl.concat(found, how="diagonal") if found else None


def _window_filter(days: Sequence[date]) -> pl.Expr:
    """Periods overlapping the window: its days, and the ISO weeks and months holding any of them."""
    texts = [d.isoformat() for d in days]
    weeks = {f"{d.isocalendar().year}-W{d.isocalendar().week:02d}" for d in days}
    months = {d.isoformat()[:7] for d in days}
    return pl.col("period").is_in([*texts, *sorted(weeks), *sorted(months)])


@dataclass(frozen=True)
class Previous:
    """A dataset's currently valid observations: (series_id, period) rows, and each series' storage key."""

    observed: pl.DataFrame  # series_id Int64, period String
    series: pl.DataFrame  # series_id Int64, key String (storage.load.series_keys)

    @classmethod
    def from_keys(cls, rows: pl.DataFrame) -> Previous:
        """From (key, period) rows, numbering the series (for callers without a database)."""
        series = rows.select("key").unique(maintain_order=True).with_row_index("series_id")
        series = series.with_columns(pl.col("series_id").cast(pl.Int64))
        return cls(rows.join(series, on="key").select("series_id", "period"), series)


def _previous_gaps(
    spec: DatasetSpec,
    frame: pl.DataFrame,
    previous: Previous,
    days: Sequence[date],
    coarse: bool,
) -> pl.DataFrame | None:
    """Current observations whose series and period the new frame lacks (see `previous` modes)."""
    mode = spec.complete.previous
    observed = previous.observed
    if mode == "none" or observed.height == 0:
        return None
    if mode == "window" and days:
        observed = observed.filter(_window_filter(days))
    series = previous.series.join(observed.select("series_id").unique(), on="series_id", how="semi")
    decoded = pl.concat(
        [series, series["key"].str.json_decode(infer_schema_length=None).struct.unnest()], how="horizontal"
    )
    dims = dimension_columns(frame)
    if coarse or sorted(c for c in decoded.columns if c not in ("series_id", "key")) != dims:
        # series may be named differently now: compare what can be compared, area and period
        old = observed.join(decoded.select("series_id", "area"), on="series_id").select("area", "period")
        new = frame.select("area", "period").unique()
        if mode == "series":
            absent = old.select("area").unique().join(new.select("area").unique(), on="area", how="anti")
        else:
            absent = old.unique().join(new, on=["area", "period"], how="anti")
        return _gaps("previous", absent) if absent.height else None
    # the new frame's series, numbered like the stored ones (series new to the store get no number)
    numbered = (
        frame.select(dims)
        .unique()
        .with_columns(series_keys(frame.select(dims)).alias("key"))
        .join(series, on="key", how="inner")
        .drop("key")
    )
    new = frame.select(*dims, "period").join(numbered, on=dims, how="inner").select("series_id", "period")
    if mode == "series":
        absent = (
            observed.select("series_id")
            .unique()
            .join(new.select("series_id").unique(), on="series_id", how="anti")
        )
        absent = absent.with_columns(pl.lit(None, dtype=pl.String).alias("period"))
    else:
        absent = observed.join(new, on=["series_id", "period"], how="anti")
    if absent.height == 0:
        return None
    return _gaps("previous", absent.join(decoded.drop("key"), on="series_id").drop("series_id"))


def _may_drop(rules: Sequence[str], gaps: pl.DataFrame) -> pl.Expr:
    """True for the gaps a may_drop rule forgives."""
    allowed = pl.lit(False)
    for rule in rules:
        match = re.match(MAY_DROP_PATTERN, rule)
        assert match is not None  # validated by CompleteSpec
        column, op, value = match.groups()
        if column not in gaps.columns:
            continue
        col = pl.col(column)
        if value == "*":
            test = col.is_not_null() if op == "=" else pl.lit(False)
        else:
            test = {
                "=": col == value,
                "!=": col != value,
                "<": col < value,
                "<=": col <= value,
                ">": col > value,
                ">=": col >= value,
            }[op]
        allowed = allowed | test.fill_null(False)
    return allowed


def _existing(areas: Sequence[str], frame: pl.DataFrame) -> list[str]:
    """The requested areas less the municipalities that no longer existed in any period of the frame (a
    table still listing Pertunmaa, 588, for a stock of 2026: its rows, empty, are left out by
    ingest.municipalities.within_division, and are not missing)."""
    merged = merged_municipalities()
    if not areas or "period" not in frame.columns or not merged.keys() & set(areas):
        return list(areas)
    years = frame["period"].str.slice(0, 4).cast(pl.Int32, strict=False).drop_nulls()
    first = years.min() if years.len() else None
    if first is None:
        return list(areas)
    assert isinstance(first, int)
    return [a for a in areas if a not in merged or int(merged[a][1][:4]) >= first]


def missing_observations(
    spec: DatasetSpec,
    frame: pl.DataFrame,
    payloads: Sequence[Payload],
    previous: Previous | None = None,
    *,
    coarse: bool = False,
) -> pl.DataFrame:
    """Every expected observation the frame lacks and no may_drop rule forgives.

    `previous` holds the dataset's current observations (None: no comparison, e.g. a probe); `coarse`
    compares them by (area, period) only. The result has a `reason` column (see REASONS), area, period
    and the series' dimension columns where known.
    """
    complete = spec.complete
    present_areas = set(frame["area"].unique().to_list()) if "area" in frame.columns else set()
    days = requested_days(payloads) if (complete.requested_days or complete.previous == "window") else []
    found = [
        _area_gaps("requested", _existing(requested_areas(spec, payloads), frame), present_areas)
        if complete.requested_areas
        else None,
        _area_gaps("area", complete.areas, present_areas),
        _period_gaps(requested_periods(spec, payloads), frame) if complete.requested_periods else None,
        _day_gaps(days, frame) if complete.requested_days else None,
        _annual_gaps(complete.annual_from, frame) if complete.annual_from is not None else None,
        _same_period_gaps(spec.id, complete.same_periods_per, frame) if complete.same_periods_per else None,
        _previous_gaps(spec, frame, previous, days, coarse) if previous is not None else None,
    ]
    gaps = [g for g in found if g is not None and g.height]
    if not gaps:
        return pl.DataFrame(schema={"reason": pl.String, "area": pl.String, "period": pl.String})
    missing = pl.concat(gaps, how="diagonal_relaxed")
    for column in ("area", "period"):
        if column not in missing.columns:
            missing = missing.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    if complete.may_drop:
        missing = missing.filter(~_may_drop(complete.may_drop, missing))
    return missing


def current_observations(engine: Engine, dataset_id: str) -> Previous:
    """The dataset's currently valid observations (series ids and periods) and its series' keys."""
    obs, series = schema.observation, schema.series
    with engine.connect() as conn:
        observed = conn.execute(
            select(obs.c.series_id, obs.c.period)
            .join(series, series.c.id == obs.c.series_id)
            .where(series.c.dataset_id == dataset_id, obs.c.valid_to.is_(None))
        ).fetchall()
        keys = conn.execute(
            select(series.c.id, series.c.key).where(series.c.dataset_id == dataset_id)
        ).fetchall()
    return Previous(
        pl.DataFrame(observed, schema={"series_id": pl.Int64, "period": pl.String}, orient="row"),
        pl.DataFrame(keys, schema={"series_id": pl.Int64, "key": pl.String}, orient="row"),
    )


def last_reader_version(engine: Engine, dataset_id: str) -> str | None:
    """The reader version of the dataset's newest snapshot, if any."""
    snap = schema.snapshot
    with engine.connect() as conn:
        return conn.execute(
            select(snap.c.reader_version)
            .where(snap.c.dataset_id == dataset_id)
            .order_by(snap.c.id.desc())
            .limit(1)
        ).scalar()


def check_complete(
    engine: Engine,
    spec: DatasetSpec,
    payloads: Sequence[Payload],
    frame: pl.DataFrame,
    *,
    reader_version: str,
) -> None:
    """Raise IncompleteError when the parsed payload lacks what it should hold (reads, never writes)."""
    previous = current_observations(engine, spec.id) if spec.complete.previous != "none" else None
    coarse = previous is not None and previous.observed.height > 0
    coarse = coarse and last_reader_version(engine, spec.id) != reader_version
    missing = missing_observations(spec, frame, payloads, previous, coarse=coarse)
    if missing.height:
        raise IncompleteError(spec.id, missing)


# ------------------------------------------------------------------------------------ the message


def _period_key(period: str) -> tuple[int, int, int]:
    if _YEAR.match(period):
        return (int(period), 0, 0)
    if _DAY.match(period):
        day = date.fromisoformat(period)
        return (day.year, day.month, day.day)
    week = _WEEK.match(period)
    if week:
        return (int(week[1]), 0, int(week[2]))
    return (0, 0, 0)


def _next(period: str) -> str | None:
    """The period after this one, for years and days (else None: no ranges)."""
    if _YEAR.match(period):
        return str(int(period) + 1)
    if _DAY.match(period):
        return (date.fromisoformat(period) + timedelta(days=1)).isoformat()
    return None


def compress_periods(periods: Sequence[str], limit: int = 6) -> str:
    """ "1990, 2019–2022" for years, "2026-11-03…2026-11-05" for days; long lists end with "…"."""
    ordered = sorted(set(periods), key=lambda p: (_period_key(p), p))
    runs: list[tuple[str, str]] = []
    for period in ordered:
        if runs and _next(runs[-1][1]) == period:
            runs[-1] = (runs[-1][0], period)
        else:
            runs.append((period, period))
    texts = [a if a == b else (f"{a}–{b}" if _YEAR.match(a) else f"{a}…{b}") for a, b in runs]
    return ", ".join(texts[:limit]) + (f", … ({len(ordered)} periods)" if len(texts) > limit else "")


def _series_text(row: dict[str, object], columns: Sequence[str]) -> str:
    parts = [f"{c}={row[c]}" for c in columns if row.get(c) not in (None, "")]
    text = ", ".join(parts)
    return text if len(text) <= 90 else text[:89] + "…"


def summarise(missing: pl.DataFrame, groups: int = MESSAGE_GROUPS) -> str:
    """Missing observations grouped by why, area and periods: counts of series with one example each."""
    series_columns = [c for c in missing.columns if c not in ("reason", "area", "period", "unit")]
    rows = missing.with_columns(
        pl.concat_str(
            [pl.col(c).fill_null("") for c in series_columns] or [pl.lit("")], separator="\x1f"
        ).alias("_series")
    )
    per_series = (
        rows.group_by(["reason", "area", "_series"], maintain_order=True)
        .agg(pl.col("period").drop_nulls(), *[pl.first(c) for c in series_columns])
        .with_columns(
            pl.col("period")
            .map_elements(lambda ps: compress_periods(list(ps)), return_dtype=pl.String)
            .alias("periods")
        )
    )
    grouped = per_series.group_by(["reason", "area", "periods"], maintain_order=True).agg(
        pl.len().alias("series"), *[pl.first(c) for c in series_columns]
    )
    # one line per area and what is missing, with every reason it was expected for
    reasons: dict[str, list[str]] = {}
    for row in grouped.iter_rows(named=True):
        area = f"area {row['area']}" if row["area"] is not None else "all areas"
        what = row["periods"] and f"periods {row['periods']}"
        example = _series_text(row, series_columns)
        count = row["series"]
        if example:
            what = f"{count} series{' (e.g. ' if count > 1 else ' ('}{example})" + (
                f", {what}" if what else ""
            )
        line = f"{area}: {what or 'no observation at all'}"
        reasons.setdefault(line, []).append(REASONS[row["reason"]])
    texts = [f"{line} [{'; '.join(why)}]" for line, why in reasons.items()]
    more = len(texts) - groups
    return "; ".join(texts[:groups]) + (f"; and {more} more" if more > 0 else "")
