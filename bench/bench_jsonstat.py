"""Benchmark: read_jsonstat on a ≥1,000,000-cell payload must stay within 2x of bare orjson.loads.

    .venv/bin/python bench/bench_jsonstat.py [--pairs 9]

Both sides are first checked to hold the same numbers (count of present cells and their sum); then
read_jsonstat and orjson.loads run in interleaved pairs; the goal is on the median ratio.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from functools import partial
from pathlib import Path

import common  # noqa: F401  polars' allocator set as in every kestava process (common.allocator)

# isort: split
import orjson
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_stats import interleave, spread, timer

from ingest.jsonstat import read_jsonstat

LIMIT = 2.0
PAIRS = 9
SIZES = (4, 10, 50, 500)  # 1,000,000 cells: metric x area x sector x period
STATUSES = ("p", "e", "b", ":")


def _dimensions() -> dict[str, object]:
    ids = ("metric", "area", "sector", "period")
    dims: dict[str, object] = {}
    for did, size in zip(ids, SIZES, strict=True):
        codes = [f"{did[:3].upper()}{i:04d}" for i in range(size)]
        index: object = codes if did != "area" else {c: i for i, c in enumerate(codes)}
        dims[did] = {
            "label": did,
            "category": {"index": index, "label": {c: f"{did} {c}" for c in codes}},
        }
    return {"id": list(ids), "size": list(SIZES), "dimension": dims, "role": {"time": ["period"]}}


def dense_payload(rng: random.Random) -> bytes:
    """Dense value array (PxWeb style), 10 % nulls, no status."""
    n = 1
    for size in SIZES:
        n *= size
    values = [None if rng.random() < 0.1 else round(rng.uniform(-1e4, 1e6), 2) for _ in range(n)]
    doc = {"version": "2.0", "class": "dataset", "label": "dense", **_dimensions(), "value": values}
    return orjson.dumps(doc)


def sparse_payload(rng: random.Random) -> bytes:
    """Sparse value and status objects keyed by flat index (Eurostat style), ~50 % of cells present."""
    n = 1
    for size in SIZES:
        n *= size
    value: dict[str, float] = {}
    status: dict[str, str] = {}
    for i in range(n):
        if rng.random() < 0.5:
            value[str(i)] = round(rng.uniform(0, 1e5), 1)
            if rng.random() < 0.2:
                status[str(i)] = rng.choice(STATUSES)
    doc = {
        "version": "2.0",
        "class": "dataset",
        "label": "sparse",
        **_dimensions(),
        "value": value,
        "status": status,
    }
    return orjson.dumps(doc)


def same_numbers(body: bytes, frame_values: pl.Series) -> bool:
    """The reader's values are the payload's numbers: same count of present cells, same sum."""
    raw = orjson.loads(body)["value"]
    numbers = [v for v in (raw.values() if isinstance(raw, dict) else raw) if v is not None]
    present = frame_values.drop_nulls()
    return len(numbers) == present.len() and math.isclose(math.fsum(numbers), present.sum(), rel_tol=1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=PAIRS, help="interleaved pairs (at least 5)")
    args = parser.parse_args()
    rng = random.Random(20261127)
    ok = True
    dense, sparse = dense_payload(rng), sparse_payload(rng)
    cases = (("dense", dense, False), ("sparse", sparse, False), ("sparse, drop_missing", sparse, True))
    for name, body, drop in cases:
        read = partial(read_jsonstat, body, source="bench_jsonstat", drop_missing=drop)
        frame = read().frame
        if not same_numbers(body, frame["value"]):
            print(f"{name}: FAIL: read_jsonstat and orjson.loads disagree on the values")
            ok = False
            continue
        pairs = interleave(timer(read), timer(partial(orjson.loads, body)), args.pairs)
        median = spread(pairs.ratios)[1]
        verdict = "OK" if median <= LIMIT else "FAIL"
        ok = ok and median <= LIMIT
        print(
            f"{name:20s} {len(body) / 1e6:6.1f} MB {frame.height:>9,} rows, same values: "
            f"{pairs.summary('read_jsonstat', 'orjson.loads')} (goal median <= {LIMIT:g}) {verdict}"
        )
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
