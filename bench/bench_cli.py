"""Start-up time of `kestava --help` and `kestava status`, each in a fresh process, against `python -c pass`.

    .venv/bin/python bench/bench_cli.py [--runs 7]

The three commands run interleaved (pass, --help, status, pass, …) so that a busy moment of the shared
machine hits all of them alike; each figure is min / median / max wall time over --runs fresh
processes, and of the ratio of each run to the `python -c pass` run of the same round.
`status` reads a SQLite database made once beforehand by an offline ingest of the bundled snapshot, so
it does its real work (every dataset's freshness, the job runs) in a private data folder. Goals (issue
#14): --help ≤ 0.5 s and status ≤ 0.7 s, best of the runs; the baseline says what the interpreter alone
costs on this machine at this moment. Install with `python3 dev.py setup` first: it compiles bytecode.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_stats import fmt, spread

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
GOALS = {"kestava --help": 0.5, "kestava status": 0.7}


def timed(command: list[str], env: dict[str, str], accept: tuple[int, ...]) -> float:
    """Wall time of one fresh process; its exit code must be one of accept."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in accept:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode}\n{done.stderr.decode()[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per command (at least 5)")
    args = parser.parse_args()
    runs = max(args.runs, 5)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        env = {**os.environ, "KESTAVA_DATA_DIR": folder, "COLUMNS": "160"}
        env.pop("KESTAVA_DATABASE_URL", None)
        # status needs a database: one offline ingest of the bundled snapshot (not timed)
        timed([str(BIN / "kestava"), "ingest", "--offline"], env, (0,))
        commands = {
            "python -c pass": ([str(BIN / "python"), "-c", "pass"], (0,)),
            "kestava --help": ([str(BIN / "kestava"), "--help"], (0,)),
            # 0 all well, 1 stale or failing (the demo data are stale): both are a full, real status
            "kestava status": ([str(BIN / "kestava"), "status"], (0, 1)),
        }
        for command, accept in commands.values():  # one warm-up each: the file cache, not bytecode
            timed(command, env, accept)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, (command, accept) in commands.items():
                times[name].append(timed(command, env, accept))
    compiled = any((ROOT / "kestava" / "__pycache__").glob("cli.*.pyc"))
    print(f"{runs} fresh processes each, interleaved; project bytecode: {'yes' if compiled else 'NO'}")
    print(f"{'command':<16} {'min s':>7} {'median s':>9} {'max s':>7}  ratio to python -c pass   goal")
    failed = False
    for name, values in times.items():
        best, median, worst = spread(values)
        ratios = [value / alone for value, alone in zip(values, times["python -c pass"], strict=True)]
        goal = GOALS.get(name)
        verdict = "" if goal is None else f"best ≤ {goal} s: {'OK' if best <= goal else 'FAIL'}"
        failed |= goal is not None and best > goal
        print(f"{name:<16} {best:7.3f} {median:9.3f} {worst:7.3f}  {fmt(ratios)}   {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
