"""Benchmark: load 1,000,000 observations through the storage layer vs each backend's raw bulk path.

Baselines, measured in the same run on the same rows into the same (fresh, migrated) schema:
SQLite executemany in one transaction; PostgreSQL COPY. Goals: storage layer within 1.5x of the
baseline; reloading the unchanged payload under 1 % of the first load. Both sides are checked first
(one untimed pair) to store the same rows (count and sum of values), and again after every pair; they
run in interleaved pairs, each on a fresh database, and the goals are on the medians.

    .venv/bin/python bench/bench_storage.py [--rows 1000000] [--backend sqlite|postgresql|both] [--pairs 5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import common  # noqa: F401  polars' allocator set as in every kestava process (common.allocator)

# isort: split
import polars as pl
from bench_stats import MIN_PAIRS, Pairs, fmt, interleave, spread
from sqlalchemy import Engine, create_engine, func, insert, select, text

from common.payload import Payload, RequestSpec
from storage import schema
from storage.engine import open_database
from storage.load import (
    TIMESTAMP_FORMAT,
    DatasetInfo,
    SourceInfo,
    bulk_insert_observations,
    load_snapshot,
)
from storage.rawstore import RawStore

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATASET = DatasetInfo("bench", "Benchmark", "bench", SourceInfo("bench", "B", "L", "A", "H"))
FETCHED = datetime(2026, 1, 1, tzinfo=UTC)


def observations(rows: int, periods: int = 50) -> pl.DataFrame:
    index = pl.int_range(0, rows, eager=True)
    return pl.DataFrame(
        {
            "area": (index // periods % 309).cast(pl.String).str.zfill(3),
            "sector": (index // periods).cast(pl.String),
            "period": (1980 + index % periods).cast(pl.String),
            "value": index.cast(pl.Float64) * 0.5,
            "flag": pl.Series([None] * rows, dtype=pl.String),
            "unit": pl.Series(["kt CO2e"] * rows),
        }
    )


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def fresh(backend: str, folder: Path) -> tuple[Engine, Callable[[], None]]:
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'{uuid.uuid4().hex}.sqlite3'}"
        engine = open_database(url)
        return engine, engine.dispose
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    engine = open_database(f"{PG_ADMIN}?options=-csearch_path%3D{name}")

    def drop() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()

    return engine, drop


def stored(engine: Engine) -> tuple[int, float]:
    """Rows in the observation table and the sum of their values: both sides must store the same."""
    with engine.connect() as conn:
        count, total = conn.execute(
            select(func.count(), func.sum(schema.observation.c.value)).select_from(schema.observation)
        ).one()
    return int(count), float(total or 0.0)


def baseline(engine: Engine, frame: pl.DataFrame) -> float:
    """Raw bulk path: the same rows into the observation table (series and snapshot rows pre-created)."""
    keys = frame.select("area", "sector", "unit").unique(maintain_order=True).with_row_index("id", offset=1)
    with engine.begin() as conn:
        conn.execute(
            insert(schema.source).values(id="s", publisher="p", licence="l", attribution="a", homepage="h")
        )
        conn.execute(insert(schema.dataset).values(id="raw", source_id="s", title="t", protocol="p"))
        conn.execute(
            insert(schema.snapshot).values(
                id=1,
                dataset_id="raw",
                fetched_at=FETCHED.replace(tzinfo=None),
                sha256="x",
                reader_version="r",
                is_demo=False,
                rows_added=0,
                rows_revised=0,
                rows_unchanged=0,
            )
        )
        conn.execute(
            insert(schema.series),
            [
                {
                    "id": r["id"],
                    "dataset_id": "raw",
                    "key": f"{r['area']}|{r['sector']}",
                    "area": r["area"],
                    "unit": r["unit"],
                }
                for r in keys.iter_rows(named=True)
            ],
        )
    rows = frame.join(keys, on=["area", "sector", "unit"]).select(
        pl.col("id").cast(pl.Int64).alias("series_id"),
        "period",
        pl.lit(1, dtype=pl.Int64).alias("snapshot_id"),
        "value",
        "flag",
        pl.lit(FETCHED.replace(tzinfo=None).strftime(TIMESTAMP_FORMAT)).alias("valid_from"),
    )

    def write() -> None:
        with engine.begin() as conn:
            bulk_insert_observations(conn, rows, batch=rows.height)

    return timed(write)


def run(backend: str, rows: int, folder: Path, pairs: int) -> tuple[Pairs, dict[str, list[float]], list[str]]:
    """Interleaved pairs (storage layer, baseline), each on a fresh database; also the unchanged reloads."""
    frame = observations(rows)
    body = frame.write_csv().encode()
    payload = Payload(
        RequestSpec("GET", "https://bench.test/x"), 200, {}, body, FETCHED, "https://bench.test/x"
    )
    reloads: list[float] = []
    republished: list[float] = []  # new bytes, the same values: every row diffed, none written
    revised: list[float] = []  # new bytes, 1 % of the values changed: those rows closed and added
    speeds: list[float] = []  # first load, rows per second
    contents: dict[str, set[tuple[int, float]]] = {"layer": set(), "baseline": set()}
    same_values = Payload(
        RequestSpec("GET", "https://bench.test/x"), 200, {}, body + b"\n", FETCHED, "https://bench.test/x"
    )
    one_percent = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 100 == 0).then(pl.col("value") + 1.0).otherwise(pl.col("value"))
    )
    revised_payload = Payload(
        RequestSpec("GET", "https://bench.test/x"),
        200,
        {},
        one_percent.write_csv().encode(),
        FETCHED,
        "https://bench.test/x",
    )

    def layer() -> float:
        engine, drop = fresh(backend, folder)
        try:
            store = RawStore(folder / f"raw-{uuid.uuid4().hex}")

            def load() -> object:
                return load_snapshot(engine, DATASET, [payload], frame, reader_version="b/1", raw_store=store)

            first = timed(load)
            contents["layer"].add(stored(engine))
            reloads.append(timed(load) / first)
            speeds.append(rows / first)

            def republish() -> object:
                result = load_snapshot(
                    engine, DATASET, [same_values], frame, reader_version="b/1", raw_store=store
                )
                assert (result.added, result.revised, result.unchanged) == (0, 0, rows), result
                return result

            def revise() -> object:
                result = load_snapshot(
                    engine, DATASET, [revised_payload], one_percent, reader_version="b/1", raw_store=store
                )
                assert (result.added, result.revised) == (0, rows // 100 + (rows % 100 > 0)), result
                return result

            republished.append(timed(republish) / first)
            revised.append(timed(revise) / first)
            return first
        finally:
            drop()

    def raw() -> float:
        engine, drop = fresh(backend, folder)
        try:
            seconds = baseline(engine, frame)
            contents["baseline"].add(stored(engine))
            return seconds
        finally:
            drop()

    total = float(frame["value"].sum())

    def problems() -> list[str]:
        return [
            f"{side} stored (rows, sum of values) {sorted(seen)}, expected ({rows}, {total})"
            for side, seen in contents.items()
            if any(count != rows or abs(got - total) > 1e-9 * abs(total) for count, got in seen)
        ]

    layer(), raw()  # one untimed pair first (also a warm-up): both must store the same rows
    for kept in (reloads, republished, revised, speeds):
        kept.clear()
    if problems():
        return Pairs(), {}, problems()
    result = interleave(layer, raw, pairs)  # and every timed pair is checked again
    return (
        result,
        {"reload": reloads, "republish": republished, "revise": revised, "speed": speeds},
        problems(),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pairs", type=int, default=MIN_PAIRS, help="interleaved pairs (at least 5)")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            pairs, extra, problems = run(backend, args.rows, Path(folder), args.pairs)
            if not pairs.ratios:
                ok = False
                print(f"{backend:10s} FAIL: the storage layer and the baseline stored different rows")
                for problem in problems:
                    print("  " + problem)
                continue
            reloads = extra["reload"]
            ratio, reload_share = spread(pairs.ratios)[1], spread(reloads)[1]
            republish, revise = spread(extra["republish"])[1], spread(extra["revise"])[1]
            speed = spread(extra["speed"])[1]
            fast_enough = backend != "postgresql" or speed >= 250_000
            passed = (
                ratio <= 1.5
                and reload_share < 0.01
                and republish <= 0.5
                and revise <= 0.5
                and fast_enough
                and not problems
            )
            ok &= passed
            print(
                f"{backend:10s} rows={args.rows:,}, same rows stored: {'yes' if not problems else 'NO'}; "
                f"{pairs.summary('load_snapshot', 'raw bulk insert')} (goal median <= 1.5); reload of the "
                f"unchanged payload {fmt([x * 100 for x in reloads], 3, ' %')} of the first load (goal "
                f"median < 1 %)"
            )
            print(
                f"{'':10s} first load {fmt([v / 1000 for v in extra['speed']], 0, 'k rows/s')}"
                + (" (goal median >= 250k rows/s)" if backend == "postgresql" else "")
                + f"; re-publication, same values in new bytes {fmt(extra['republish'])} x the first load, "
                f"1 % revised {fmt(extra['revise'])} x (goals median <= 0.5) {'OK' if passed else 'FAIL'}"
            )
            for problem in problems:
                print("  " + problem)
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
