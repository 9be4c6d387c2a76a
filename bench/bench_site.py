"""Benchmark: `kestava site` as a whole process — a full build and a rebuild after one dataset changed —
against vl-convert alone drawing the same chart specs.

    .venv/bin/python bench/bench_site.py [--pairs 5] [--dataset eurostat_cei_pc031]

Set-up, untimed: a fresh data folder, `kestava run --offline` on the bundled snapshot (every dataset
ingested and computed, the weekly reports of the three languages written, so the site has its reports
archive), then `kestava site` once: the build before the change. A copy of the bundled snapshot with ONE
value of ONE dataset revised (Finland's newest value of a Eurostat JSON-stat table, edited in its own
payload the way tests/test_revisions.py does) is made beside it.

Each pair starts from the same state, copied (untimed) from the set-up: the data folder and the build
before the change. Still untimed, the revised dataset is ingested (`kestava ingest --offline DATASET` on
the revised snapshot: one new vintage, one value revised) and computed (`kestava compute`). Then, timed:
- full: `kestava site --out EMPTY` in a new process: every page of every indicator in fi, sv and en,
  every chart drawn, downloads, the reports archive, published atomically;
- baseline: a new Python process that imports vl-convert and draws the chart specs the full build wrote
  (every `<lang>/charts/*.vl.json`) to SVG one after another and writes the files: the drawing alone,
  with no database, no HTML and no downloads, in the library the site uses;
- rebuild: `kestava site --out PREVIOUS` onto the copy of the build before the change.
Whole processes, because that is what the scheduler and a person run (start-up, database reads and the
atomic publication count); the site draws in its render workers (`report/render.py`, two on this machine)
while the baseline draws in one process, as the report benchmark does.

Checked on every pair: every SVG of the full build equals the baseline's SVG of the same spec (the spec
is read as JSON and passed as a dict, as the site's renderer does: vl-convert given the JSON text parses
some floats differently and moves last digits of coordinates); the rebuild gives the same files as the
full build of the same pair (same paths, same bytes; the XLSX downloads, which are not byte-stable, and the
manifest excepted), and it drew fewer charts than the full build.
Goals (issue 12), on the median: full / baseline <= 3; rebuild / full <= 0.2. Exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_stats import MIN_PAIRS, Pairs, spread  # noqa: E402  (bench/ is on sys.path when run as a script)

from ingest.manifest import DEFAULT_SNAPSHOT_DIR  # noqa: E402
from tests.test_revisions import _file, _jsonstat_revise  # noqa: E402  (the tests' payload editing)

FULL_GOAL = 3.0  # full build / vl-convert alone
REBUILD_GOAL = 0.2  # rebuild after a one-dataset change / full build
KESTAVA = ROOT / ".venv" / "bin" / "kestava"
PYTHON = ROOT / ".venv" / "bin" / "python"
LANGS = ("fi", "sv", "en")

# Eurostat datasets one value of which can be revised: Finland's newest value at these categories
REVISABLE = {
    "eurostat_cei_pc031": {"geo": "FI"},
    "eurostat_cei_wm011": {"geo": "FI"},
    "eurostat_sdg_12_41": {"geo": "FI"},
    "eurostat_sdg_07_40": {"geo": "FI", "nrg_bal": "REN"},
    "eurostat_sdg_13_10": {"geo": "FI", "src_crf": "TOTXMEMONIA", "unit": "I90"},
}

BASELINE_SCRIPT = """
import json, pathlib, sys
import vl_convert as vlc
site, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for lang in sys.argv[3:]:
    folder = out / lang / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    for spec in sorted((site / lang / "charts").glob("*.vl.json")):
        svg = vlc.vegalite_to_svg(json.loads(spec.read_bytes()))
        (folder / (spec.name.removesuffix(".vl.json") + ".svg")).write_text(svg, encoding="utf-8")
"""

SITE_LINE = re.compile(
    r"site: (\d+) pages in .*; (\d+) files written, (\d+) unchanged; (\d+) charts drawn, (\d+) kept"
)


@dataclass
class Build:
    seconds: float
    pages: int
    written: int
    kept: int
    drawn: int
    charts_kept: int


def _env(data: Path, snapshot: Path) -> dict[str, str]:
    env = {**os.environ, "KESTAVA_DATA_DIR": str(data), "KESTAVA_SNAPSHOT_DIR": str(snapshot)}
    for name in ("KESTAVA_DATABASE_URL", "KESTAVA_REPORT_DIR", "KESTAVA_SITE_DIR"):
        env.pop(name, None)
    return env


def _run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done.stdout + done.stderr


def _site(out: Path, env: dict[str, str]) -> Build:
    seconds, output = _run([str(KESTAVA), "site", "--out", str(out)], env)
    found = SITE_LINE.search(output)
    if found is None:
        raise SystemExit(f"kestava site: no summary line in {output[-1000:]!r}")
    return Build(seconds, *(int(g) for g in found.groups()))


def _files(site: Path) -> dict[str, bytes]:
    """Every file of a published site by path (the link to its version folder followed)."""
    root = site.resolve()
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _same_svgs(site: Path, drawn: Path) -> list[str]:
    """The charts whose site SVG differs from (or is missing in) the baseline's; [] when all are equal."""
    differ = []
    root = site.resolve()
    for lang in LANGS:
        for spec in sorted((root / lang / "charts").glob("*.vl.json")):
            name = f"{lang}/charts/{spec.name.removesuffix('.vl.json')}.svg"
            mine, alone = root / name, drawn / name
            if not alone.is_file() or mine.read_bytes() != alone.read_bytes():
                differ.append(name)
    return differ


def _same_site(full: Path, rebuilt: Path) -> list[str]:
    """The files in which the rebuild differs from the full build (XLSX and the manifest not compared)."""
    a, b = _files(full), _files(rebuilt)
    skip = ("site-manifest.json",)
    paths = {p for p in a.keys() | b.keys() if p not in skip and not p.endswith(".xlsx")}
    return sorted(p for p in paths if a.get(p) != b.get(p))


def revise(snapshot: Path, dataset: str) -> str:
    """Revise one value of the dataset's payload in the snapshot copy; what was revised, in words."""
    payload = _file(snapshot, dataset, r"\.json$")
    period, old = _jsonstat_revise(payload, REVISABLE[dataset], 1.0)
    return f"{dataset} {REVISABLE[dataset]} {period}: {old} -> {old + 1.0}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=MIN_PAIRS, help="interleaved pairs (at least 5)")
    parser.add_argument(
        "--dataset", default="eurostat_cei_pc031", choices=sorted(REVISABLE), help="the dataset revised"
    )
    parser.add_argument("--keep", type=Path, help="keep the last pair's folders here (for inspection)")
    args = parser.parse_args(argv)
    full_vs_alone, rebuild_vs_full = Pairs(), Pairs()
    checks: list[str] = []
    rebuilds: list[Build] = []
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        work = Path(tmp)
        data, before = work / "data", work / "before"
        env = _env(data, DEFAULT_SNAPSHOT_DIR)
        _run([str(KESTAVA), "run", "--offline"], env)
        first = _site(before / "site", env)
        revised = work / "snapshot-revised"
        shutil.copytree(DEFAULT_SNAPSHOT_DIR, revised)
        print(
            f"set-up: kestava run --offline; the build before the change: {first.pages} pages, "
            f"{first.drawn} charts"
        )
        print(f"revised: {revise(revised, args.dataset)}")
        for number in range(max(args.pairs, MIN_PAIRS)):
            pair = work / f"pair{number}"
            shutil.copytree(data, pair / "data", symlinks=True)
            shutil.copytree(before, pair / "previous", symlinks=True)
            pair_env = _env(pair / "data", revised)
            _, ingested = _run([str(KESTAVA), "ingest", "--offline", args.dataset], pair_env)
            if "1 loaded" not in ingested:
                raise SystemExit(f"the revised {args.dataset} was not loaded: {ingested[-500:]!r}")
            _run([str(KESTAVA), "compute"], pair_env)

            full = _site(pair / "full" / "site", pair_env)
            alone, _ = _run(
                [
                    str(PYTHON),
                    "-c",
                    BASELINE_SCRIPT,
                    str(pair / "full" / "site"),
                    str(pair / "alone"),
                    *LANGS,
                ],
                pair_env,
            )
            rebuild = _site(pair / "previous" / "site", pair_env)
            full_vs_alone.measured.append(full.seconds)
            full_vs_alone.baseline.append(alone)
            rebuild_vs_full.measured.append(rebuild.seconds)
            rebuild_vs_full.baseline.append(full.seconds)
            rebuilds.append(rebuild)

            svgs = _same_svgs(pair / "full" / "site", pair / "alone")
            files = _same_site(pair / "full" / "site", pair / "previous" / "site")
            if svgs:
                checks.append(f"pair {number + 1}: SVGs differ from vl-convert alone: {svgs[:5]}")
            if files:
                checks.append(f"pair {number + 1}: the rebuild differs from the full build in {files[:5]}")
            if rebuild.drawn >= full.drawn:
                checks.append(f"pair {number + 1}: the rebuild drew {rebuild.drawn} charts of {full.drawn}")
            print(
                f"pair {number + 1}: full {full.seconds:.2f} s ({full.pages} pages, {full.written} files, "
                f"{full.drawn} charts); vl-convert alone {alone:.2f} s; rebuild {rebuild.seconds:.2f} s "
                f"({rebuild.written} files written, {rebuild.kept} linked; {rebuild.drawn} charts drawn, "
                f"{rebuild.charts_kept} kept); checks {'OK' if not svgs and not files else 'FAIL'}",
                flush=True,
            )
            if args.keep is not None and number == max(args.pairs, MIN_PAIRS) - 1:
                shutil.rmtree(args.keep, ignore_errors=True)
                shutil.copytree(pair, args.keep, symlinks=True)
            shutil.rmtree(pair)
    print(
        "same result:",
        "every SVG equal to vl-convert alone's, every rebuild equal to its full build"
        if not checks
        else "FAIL",
    )
    for line in checks:
        print(f"  {line}")
    print(
        f"full build vs vl-convert alone: {full_vs_alone.summary('kestava site (full)', 'vl-convert alone')}"
    )
    print(
        f"rebuild vs full build: {rebuild_vs_full.summary('kestava site (rebuild)', 'kestava site (full)')}"
    )
    ok = not checks
    for label, ratios, goal in (
        ("full / vl-convert alone", full_vs_alone.ratios, FULL_GOAL),
        ("rebuild / full", rebuild_vs_full.ratios, REBUILD_GOAL),
    ):
        low, median, high = spread(ratios)
        passed = median <= goal
        ok = ok and passed
        print(
            f"{label}: ratio min {low:.2f} / median {median:.2f} / max {high:.2f} "
            f"(goal median <= {goal:g}) {'OK' if passed else 'FAIL'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
