"""Benchmark: Syke CSV parse of all 309 municipalities vs bare read_csv; an unchanged offline re-ingest."""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import io
import logging
import pstats
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import common  # noqa: F401  polars' allocator set as in every kestava process (common.allocator)

# isort: split
import polars as pl
from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_stats import MIN_PAIRS, fmt, interleave, spread, timer

from common.payload import Payload, RequestSpec
from ingest.catalogue import DatasetSpec, load_catalogue
from ingest.run import DatasetOutcome, ingest
from ingest.syke import NULL_MARKERS, SykeConnector, municipality_url, request_codes
from scripts.demo import syke as demo
from storage.engine import open_database
from storage.rawstore import RawStore

PARSE_GOAL = 2.0  # SykeConnector.parse within this factor of bare read_csv + concat
REPEAT_GOAL = 0.02  # an unchanged re-ingest under this share of the first run
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
FETCHED = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# a) Syke CSV parse
# --------------------------------------------------------------------------------------------------


def csv_body(code: str) -> bytes:
    """One municipality's ALas file in the demo generator's format (scripts/demo/syke.alas_csv).

    The seven demo municipalities get the demo file itself; the others the same rows (sub-sectors,
    Hinku/ETS rules, NA/NULL markers, decimal comma, wind credit from 2012) around a synthetic total.
    """
    if code in demo.alas_totals_kt():
        return demo.csv_bytes(code)
    rng = random.Random(f"{demo.SEED}-{code}")
    total_1990 = rng.uniform(20.0, 900.0)
    change = rng.uniform(-0.6, 0.1)
    credit_2024 = rng.uniform(0.0, 30.0)
    totals = {year: total_1990 * (1.0 + change * (year - 1990) / 34) for year in demo.YEARS}
    return demo.alas_csv(totals, credit_2024, rng)


def syke_payloads() -> tuple[DatasetSpec, list[Payload]]:
    """The catalogue's syke_emissions spec for all 309 municipalities and one payload per municipality."""
    spec = load_catalogue().dataset("syke_emissions")
    spec = spec.model_copy(update={"options": {**spec.options, "municipalities": "all"}})
    payloads = []
    for code, written in request_codes(spec).items():
        url = municipality_url(spec, written)
        body = csv_body(code)
        payloads.append(
            Payload(RequestSpec("GET", url), 200, {"content-type": "text/csv"}, body, FETCHED, url)
        )
    return spec, payloads


def baseline_parse(payloads: list[Payload]) -> pl.DataFrame:
    """Bare polars, the strongest simple alternative: the bodies joined (the header once) and read with
    ONE read_csv, with separator, decimal comma and NA markers (what the connector itself does first)."""
    first, *rest = (p.body for p in payloads)
    joined = b"".join([first, *(body.split(b"\n", 1)[1] for body in rest)])
    return pl.read_csv(io.BytesIO(joined), separator=";", decimal_comma=True, null_values=NULL_MARKERS)


def profile(run: Callable[[], Any], top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def bench_parse(repeats: int, show_profile: bool) -> bool:
    """Interleaved pairs (baseline, connector), after checking that both read the same emissions."""
    spec, payloads = syke_payloads()
    connector = SykeConnector()
    megabytes = sum(p.size for p in payloads) / 1e6
    raw = baseline_parse(payloads)
    parsed = connector.parse(spec, payloads)  # warm-up, and the output that is reported
    emissions = parsed.filter(pl.col("measure") == "emissions")["value"]
    total = float(raw["kt"].sum())
    if raw.height * 3 != parsed.height or abs(total - float(emissions.sum())) > 1e-6 * abs(total):
        raise SystemExit("syke parse: the connector and the baseline read different numbers")
    pairs = interleave(
        timer(lambda: connector.parse(spec, payloads)), timer(lambda: baseline_parse(payloads)), repeats
    )
    median = spread(pairs.ratios)[1]
    ok = median <= PARSE_GOAL
    print(
        f"syke parse: {len(payloads)} CSVs, {megabytes:.1f} MB, {raw.height:,} CSV rows -> {parsed.height:,} "
        f"observations, same kt total; {pairs.summary('SykeConnector.parse', 'one joined read_csv')} "
        f"(goal median <= {PARSE_GOAL:g}x) " + ("OK" if ok else "FAIL")
    )
    if show_profile:
        profile(lambda: connector.parse(spec, payloads), 25)
    return ok


# --------------------------------------------------------------------------------------------------
# b) Unchanged offline re-ingest
# --------------------------------------------------------------------------------------------------


def database(backend: str, folder: Path) -> tuple[Engine, Callable[[], None]]:
    """A fresh migrated database: a SQLite file, or a private schema on the PostgreSQL server."""
    if backend == "sqlite":
        engine = open_database(f"sqlite:///{folder / f'{uuid.uuid4().hex}.sqlite3'}")
        return engine, engine.dispose
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        engine = open_database(f"{PG_ADMIN}?options=-csearch_path%3D{name}")
    except BaseException:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        raise

    def drop() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()

    return engine, drop


def timed_ingest(engine: Engine, store: RawStore) -> tuple[float, list[DatasetOutcome]]:
    gc.collect()
    start = time.perf_counter()
    outcomes = ingest(engine, store, offline=True)
    return time.perf_counter() - start, outcomes


def bench_reingest(backend: str, repeats: int, show_profile: bool) -> bool:
    """Rounds on a fresh database and raw store each: the first ingest, then the unchanged repeat.

    Each round is one interleaved pair (first, repeat); the share repeat / first is reported as
    min / median / max over the rounds, the goal is on the median.
    """
    firsts: list[float] = []
    repeats_s: list[float] = []
    failed: list[str] = []
    loaded: list[DatasetOutcome] = []
    slowest: list[DatasetOutcome] = []
    rounds = max(repeats, MIN_PAIRS)
    for round_number in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            engine, drop = database(backend, folder)
            try:
                store = RawStore(folder / "raw")
                seconds, outcomes = timed_ingest(engine, store)
                firsts.append(seconds)
                loaded = [o for o in outcomes if o.outcome == "success"]
                failed += [f"{o.dataset_id}: {o.outcome} {o.error}" for o in outcomes if not o.ok]
                seconds, again = timed_ingest(engine, store)
                if not repeats_s or seconds < min(repeats_s):
                    slowest = sorted(again, key=lambda o: o.seconds, reverse=True)[:3]
                repeats_s.append(seconds)
                failed += [f"{o.dataset_id}: {o.outcome} (repeat)" for o in again if o.outcome != "unchanged"]
                if show_profile and round_number == rounds - 1:
                    profile(functools.partial(ingest, engine, store, offline=True), 30)
            finally:
                drop()
    rows = sum(o.result.added for o in loaded if o.result is not None)
    shares = [r / f for r, f in zip(repeats_s, firsts, strict=True)]
    share = spread(shares)[1]
    ok = share < REPEAT_GOAL and not failed
    print(
        f"re-ingest {backend:10s}: {len(loaded)} datasets loaded, {rows:,} rows; first run "
        f"{fmt(firsts, 2, ' s')}; unchanged repeat {fmt([r * 1000 for r in repeats_s], 0, ' ms')}; "
        f"share repeat / first over {rounds} fresh databases {fmt([x * 100 for x in shares], 2, ' %')} "
        f"(goal median < {REPEAT_GOAL:.0%}) {'OK' if ok else 'FAIL'}; slowest datasets in the fastest "
        "repeat: " + ", ".join(f"{o.dataset_id} {o.seconds * 1000:.0f} ms" for o in slowest)
    )
    for problem in failed:
        print("  not ok: " + problem)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=["parse", "reingest", "both"], default="both")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print cProfile of the measured code")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ok = True
    if args.part in ("parse", "both"):
        ok &= bench_parse(args.repeats, args.profile)
    if args.part in ("reingest", "both"):
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        for backend in backends:
            ok &= bench_reingest(backend, args.repeats, args.profile)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
