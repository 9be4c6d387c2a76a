"""Benchmark: read_jsonstat on a ≥1,000,000-cell payload must stay within 2x of bare orjson.loads."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.jsonstat import read_jsonstat

LIMIT = 2.0
REPEATS = 5
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


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    rng = random.Random(20261127)
    ok = True
    dense, sparse = dense_payload(rng), sparse_payload(rng)
    cases = (("dense", dense, False), ("sparse", sparse, False), ("sparse, drop_missing", sparse, True))
    for name, body, drop in cases:
        read = partial(read_jsonstat, body, source="bench_jsonstat", drop_missing=drop)
        rows = read().frame.height
        baseline = best_of(partial(orjson.loads, body))
        reader = best_of(read)
        ratio = reader / baseline
        verdict = "OK" if ratio <= LIMIT else "FAIL"
        ok = ok and ratio <= LIMIT
        print(
            f"{name:20s} {len(body) / 1e6:6.1f} MB {rows:>9,} rows  orjson.loads {baseline * 1000:7.1f} ms  "
            f"read_jsonstat {reader * 1000:7.1f} ms  ratio {ratio:4.2f}  {verdict}"
        )
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
