"""Benchmark: `kestava run` offline with Syke for the whole country against the bundled seven municipalities.

The whole country is today's municipalities (308 since Pertunmaa joined Mäntyharju on 1 January 2025;
309 when this benchmark was bench_run309.py). Builds a copy of the bundled snapshot whose manifest asks
Syke for "all" (the 301 others from the demo generator, bench_ingest.csv_body, in the real shape), then
runs `kestava run` in a fresh process on a fresh SQLite file for each size, in interleaved pairs (whole
country, 7), and reports wall time and peak RSS (the child's ru_maxrss) and the time ratio as
min / median / max. Goals (issue 14): for the whole country ≤ 20 s and ≤ 1 GiB on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_ingest import csv_body  # noqa: E402  (bench/ is on sys.path when run as a script)
from bench_stats import MIN_PAIRS, fmt, interleave  # noqa: E402

from common.payload import RequestSpec  # noqa: E402
from ingest.catalogue import load_catalogue  # noqa: E402
from ingest.manifest import DEFAULT_SNAPSHOT_DIR, read_manifest, write_manifest  # noqa: E402
from ingest.replay import record_exchange  # noqa: E402
from ingest.syke import current_municipality_codes, municipality_url, written  # noqa: E402

GOAL_SECONDS = 20.0
GOAL_BYTES = 1 << 30


def snapshot_whole_country(folder: Path) -> Path:
    """The bundled snapshot plus Syke's file for every municipality of today; the manifest asks for "all"."""
    shutil.copytree(DEFAULT_SNAPSHOT_DIR, folder)
    manifest = read_manifest(folder)
    spec = load_catalogue().dataset("syke_emissions")
    known = {e.url for e in manifest.exchanges}
    for code in current_municipality_codes():
        url = municipality_url(spec, written(code, "unpadded"))
        if url in known:
            continue
        body = csv_body(code)
        headers = {"content-type": "text/csv", "content-length": str(len(body))}
        record_exchange(
            folder,
            manifest,
            "syke_emissions",
            RequestSpec("GET", url),
            200,
            headers,
            body,
            f"syke_emissions/{url.rsplit('/', 1)[-1]}",
        )
    manifest.dataset_options.setdefault("syke_emissions", {})["municipalities"] = "all"
    write_manifest(manifest, folder)
    return folder


def timed_run(snapshot: Path, work: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one `kestava run` on a fresh data folder."""
    data = work / f"data-{time.monotonic_ns()}"
    env = {
        **os.environ,
        "KESTAVA_DATA_DIR": str(data),
        "KESTAVA_SNAPSHOT_DIR": str(snapshot),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("KESTAVA_DATABASE_URL", None)
    env.pop("KESTAVA_REPORT_DIR", None)
    script = (
        "import resource, subprocess, sys; "
        f"r = subprocess.run([{str(ROOT / '.venv' / 'bin' / 'kestava')!r}, 'run'], capture_output=True); "
        "sys.stderr.write(r.stderr.decode()[-2000:] if r.returncode else ''); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kestava run failed ({done.returncode}): {done.stderr}")
    shutil.rmtree(data, ignore_errors=True)
    return seconds, int(done.stdout.strip().splitlines()[-1]) * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs", type=int, default=MIN_PAIRS, help="interleaved pairs (whole country, 7), at least 5"
    )
    args = parser.parse_args()
    whole = str(len(current_municipality_codes()))
    peaks: dict[str, list[float]] = {"7": [], whole: []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big = snapshot_whole_country(work / "snapshot-whole-country")

        def side(size: str, snapshot: Path) -> Callable[[], float]:
            def run() -> float:
                seconds, peak = timed_run(snapshot, work)
                peaks[size].append(peak / (1 << 20))
                return seconds

            return run

        pairs = interleave(side(whole, big), side("7", DEFAULT_SNAPSHOT_DIR), args.pairs)
    times = {whole: pairs.measured, "7": pairs.baseline}
    for size in ("7", whole):
        print(
            f"kestava run, Syke for {size:>3} municipalities: {fmt(times[size], 1)} s; "
            f"peak RSS {fmt(peaks[size], 0)} MiB"
        )
    print(
        f"time ratio {whole} / 7 municipalities over {len(pairs.ratios)} interleaved pairs: "
        f"{fmt(pairs.ratios)}"
    )
    ok_time = min(times[whole]) <= GOAL_SECONDS
    ok_memory = max(peaks[whole]) * (1 << 20) <= GOAL_BYTES
    print(
        f"{whole}: best {min(times[whole]):.1f} s (goal <= {GOAL_SECONDS:.0f} s) "
        f"{'OK' if ok_time else 'FAIL'}; "
        f"peak {max(peaks[whole]):.0f} MiB (goal <= 1024 MiB) {'OK' if ok_memory else 'FAIL'}"
    )
    return 0 if ok_time and ok_memory else 1


if __name__ == "__main__":
    raise SystemExit(main())
