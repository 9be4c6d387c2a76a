"""Benchmark: `kestava site` rebuilds with a year's reports archive, this code against an earlier checkout.

    .venv/bin/python bench/bench_site_archive.py --base DIR [--weeks 52] [--pairs 5]

DIR is the earlier code, e.g. `git archive 0bd71d5 | tar -x -C /tmp/base-retain` (the code before the
archive was linked folder by folder); both sides run as `python -m kestava.cli site` with PYTHONPATH set to
their own tree, in the same virtualenv.

Set-up, untimed: a fresh data folder and `kestava run --offline` (this code) on the bundled snapshot: the
database and one week's weekly report in fi, sv and en (about 27 MB, 49 files a language). Its files are
copied into `--weeks` week folders laid out as the report writes them (`<week>/<lang>` a link to a version
folder, common.atomic): a year of weekly reports, about 1.4 GB and 7,600 files. Each side then builds its
own site once from the same database and archive (a full build).

Timed, in interleaved pairs (this code, then the earlier one), each a whole process:
- unchanged: a rebuild with nothing new, as the scheduler's daily rebuilds after a compute are;
- new week: a rebuild after one more week's folders were added to the archive (untimed, before the pair;
  both sides see the same new week), as the rebuild after the Monday report is.
Both sides' sites are checked to hold the same files with the same bytes (the manifest and the XLSX
downloads, which are not byte-stable across builds, excepted), after every pair.

Then, once (no baseline: the earlier code never prunes): `report.retention.prune_reports` on the archive with
26 weeks kept, its time and what it freed, and a rebuild of this code's site after it (the pruned folders
linked anew, the others kept), checked to have no dead link (report/site/links.py).

Goal (the audit's): the unchanged rebuild's median no slower than the earlier code's (ratio <= 1), and
the archive's share of it (this code's rebuild with the archive minus the same rebuild with an empty
archive, medians) under 0.5 s at 52 weeks. Exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_stats import MIN_PAIRS, Pairs, fmt, spread  # noqa: E402  (bench/ is on sys.path as a script)

from common.atomic import publish_directory  # noqa: E402
from ingest.manifest import DEFAULT_SNAPSHOT_DIR  # noqa: E402
from report.retention import prune_reports  # noqa: E402
from report.site.links import check_site  # noqa: E402

LANGS = ("fi", "sv", "en")
ARCHIVE_GOAL_S = 0.5
SITE_LINE = re.compile(
    r"site: (\d+) pages in .*; (\d+) files written, (\d+) unchanged; (\d+) charts drawn, (\d+) kept; "
    r"(?:.*?; )?([\d.]+) s"
)


def _env(code: Path, data: Path, reports: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "KESTAVA_DATA_DIR": str(data),
        "KESTAVA_SNAPSHOT_DIR": str(DEFAULT_SNAPSHOT_DIR),
        "KESTAVA_REPORT_DIR": str(reports),
    }
    for name in ("KESTAVA_DATABASE_URL", "KESTAVA_SITE_DIR"):
        env.pop(name, None)
    return env


def _run(python: str, args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-m", "kestava.cli", *args], env=env, capture_output=True, text=True, check=False, cwd="/"
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kestava {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done.stdout + done.stderr


def _site(python: str, out: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """A `kestava site` process: its wall time, the build's own time (its summary line), the line."""
    seconds, output = _run(python, ["site", "--out", str(out)], env)
    found = SITE_LINE.search(output)
    if found is None:
        raise SystemExit(f"kestava site: no summary line in {output[-1000:]!r}")
    return seconds, float(found.group(6)), found.group(0)


# `kestava site` with every os.fsync counted (atomic's and the build's own): how many files and folders a
# rebuild flushes to disk, each a write barrier of the disk (about 0.35 ms here; a millisecond or more on a
# busy or spinning disk)
COUNT_FSYNC = """
import atexit, os, runpy, sys
calls = [0]
fsync = os.fsync
def counted(fd):
    calls[0] += 1
    fsync(fd)
os.fsync = counted
atexit.register(lambda: print(f"fsync calls: {calls[0]}", file=sys.stderr))
sys.argv = ["kestava", "site", "--out", sys.argv[1]]
runpy.run_module("kestava.cli", run_name="__main__")
"""


def _fsyncs(python: str, out: Path, env: dict[str, str]) -> int:
    done = subprocess.run(
        [python, "-c", COUNT_FSYNC, str(out)], env=env, capture_output=True, text=True, check=False, cwd="/"
    )
    found = re.search(r"fsync calls: (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"counting fsync failed ({done.returncode}): {done.stderr[-2000:]}")
    return int(found.group(1))


def _week(monday: date) -> str:
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def add_week(source: Path, root: Path, key: str) -> None:
    """One week's report folders, copies of the source week's files, as the report lays them out."""
    for lang in LANGS:
        with publish_directory(root / key / lang) as folder:
            for file in (source / lang).iterdir():
                shutil.copy2(file, folder / file.name)


def _files(site: Path) -> dict[str, bytes]:
    root = site.resolve()
    skip = ("site-manifest.json",)
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in skip and p.suffix != ".xlsx"
    }


def _differ(a: Path, b: Path) -> list[str]:
    one, two = _files(a), _files(b)
    return sorted(p for p in one.keys() | two.keys() if one.get(p) != two.get(p))


def _print(label: str, pairs: Pairs, builds: tuple[list[float], list[float]]) -> None:
    print(f"{label}: {pairs.summary('this code', 'earlier code')}")
    print(
        f"  the builds' own time (summary line): this code {fmt(builds[0], 3, ' s')}; "
        f"earlier code {fmt(builds[1], 3, ' s')}"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the earlier code's tree (git archive)")
    parser.add_argument("--weeks", type=int, default=52, help="weeks in the synthetic archive")
    parser.add_argument("--pairs", type=int, default=MIN_PAIRS, help="interleaved pairs (at least 5)")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"), help="the interpreter")
    parser.add_argument("--keep", type=int, default=26, help="weeks kept whole by the prune at the end")
    args = parser.parse_args(argv)
    pairs = max(args.pairs, MIN_PAIRS)
    checks: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
        work = Path(tmp)
        data, archive, empty = work / "data", work / "archive", work / "empty"
        empty.mkdir()
        _run(args.python, ["run", "--offline"], _env(ROOT, data, data / "reports"))
        (made,) = [p for p in (data / "reports").iterdir() if not p.name.startswith(".")]
        year, week = (int(x) for x in made.name.split("-W"))
        current = date.fromisocalendar(year, week, 1)
        for age in range(args.weeks):
            add_week(made, archive, _week(current - timedelta(weeks=age)))
        kept = [p for p in archive.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
        files, size = len(kept), sum(p.stat().st_size for p in kept)
        print(f"set-up: one week's report copied into {args.weeks} weeks: {files} files, {size / 1e9:.2f} GB")
        new_env, old_env = _env(ROOT, data, archive), _env(args.base, data, archive)
        sites = {"new": work / "site-new", "old": work / "site-old", "bare": work / "site-bare"}
        for side, env in (("new", new_env), ("old", old_env)):
            seconds, _, line = _site(args.python, sites[side], env)
            print(f"full build, {'this' if side == 'new' else 'earlier'} code: {seconds:.1f} s ({line})")
        _site(args.python, sites["bare"], _env(ROOT, data, empty))
        differ = _differ(sites["new"], sites["old"])
        print(f"same result after the full builds: {'yes' if not differ else 'NO: ' + ', '.join(differ[:5])}")
        if differ:
            checks.append(f"full builds differ in {differ[:5]}")

        counts = {
            side: _fsyncs(args.python, sites[side], env) for side, env in (("new", new_env), ("old", old_env))
        }
        print(
            f"fsync calls of a rebuild with nothing new: this code {counts['new']}, "
            f"earlier code {counts['old']}"
        )
        unchanged, fresh = Pairs(), Pairs()
        unchanged_builds: tuple[list[float], list[float]] = ([], [])
        fresh_builds: tuple[list[float], list[float]] = ([], [])
        bare: list[float] = []
        added = current
        for number in range(pairs):
            seconds, own, _ = _site(args.python, sites["new"], new_env)
            unchanged.measured.append(seconds)
            unchanged_builds[0].append(own)
            seconds, own, _ = _site(args.python, sites["old"], old_env)
            unchanged.baseline.append(seconds)
            unchanged_builds[1].append(own)
            bare.append(_site(args.python, sites["bare"], _env(ROOT, data, empty))[0])
            added += timedelta(weeks=1)
            add_week(made, archive, _week(added))
            seconds, own, new_line = _site(args.python, sites["new"], new_env)
            fresh.measured.append(seconds)
            fresh_builds[0].append(own)
            seconds, own, _ = _site(args.python, sites["old"], old_env)
            fresh.baseline.append(seconds)
            fresh_builds[1].append(own)
            differ = _differ(sites["new"], sites["old"])
            if differ:
                checks.append(f"pair {number + 1}: the two sites differ in {differ[:5]}")
            print(
                f"pair {number + 1}: unchanged {unchanged.measured[-1]:.2f} s "
                f"vs {unchanged.baseline[-1]:.2f} s; "
                f"new week {fresh.measured[-1]:.2f} s vs {fresh.baseline[-1]:.2f} s ({new_line}); "
                f"empty archive {bare[-1]:.2f} s; same files {'OK' if not differ else 'FAIL'}",
                flush=True,
            )
        print("same result:", "both codes' sites hold the same files, every pair" if not checks else "FAIL")
        for line in checks:
            print(f"  {line}")
        _print(f"rebuild, unchanged archive of {args.weeks} weeks", unchanged, unchanged_builds)
        _print(f"rebuild after one new week ({args.weeks}+ weeks)", fresh, fresh_builds)
        print(f"this code, empty archive (the rest of the rebuild): {fmt(bare, 3, ' s')}")

        # the prune, once: its time and what it freed, then this code's rebuild after it
        started = time.perf_counter()
        result = prune_reports(archive, args.keep, today=added)
        pruned_s = time.perf_counter() - started
        print(f"prune (keep {args.keep} weeks), {pruned_s:.2f} s: {result.summary()}")
        seconds, _, line = _site(args.python, sites["new"], new_env)
        problems = check_site(sites["new"])
        print(f"rebuild after the prune, this code: {seconds:.2f} s ({line}); dead links: {len(problems)}")
        if problems:
            checks.append(f"dead links after the prune: {problems[:3]}")
        again = time.perf_counter()
        steady = prune_reports(archive, args.keep, today=added + timedelta(weeks=1))
        print(f"the next week's prune: {time.perf_counter() - again:.2f} s: {steady.summary()}")

    ok = not checks
    low, median, high = spread(unchanged.ratios)
    passed = median <= 1.0
    ok = ok and passed
    print(
        f"unchanged rebuild, this / earlier code: ratio min {low:.2f} / median {median:.2f} / max {high:.2f} "
        f"(goal median <= 1) {'OK' if passed else 'FAIL'}"
    )
    share = statistics.median(unchanged.measured) - statistics.median(bare)
    passed = share <= ARCHIVE_GOAL_S
    ok = ok and passed
    print(
        f"the archive's share of this code's unchanged rebuild: {share:.2f} s "
        f"(goal <= {ARCHIVE_GOAL_S} s) {'OK' if passed else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
