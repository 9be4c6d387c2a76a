"""Benchmark: `kestava report` as a whole process against vl-convert alone drawing the same specs.

    .venv/bin/python bench/bench_report.py [--pairs 5] [--sizes 7,all]

For each size (Syke for the bundled 7 municipalities, and `all`: the whole country, 308 municipalities
since 2025, bench_whole_country.snapshot_whole_country) a data folder is made once, untimed: offline
ingest and compute in a fresh SQLite file. Then, interleaved:
- measured: `kestava report --lang fi` in a new process (database reads, ten charts, CSV, XLSX, SVG, PNG
  and the inlined PNG, the HTML page, published atomically);
- baseline: a new Python process that imports vl-convert and draws the same specs the same way, one after
  another: `vegalite_to_svg`, then `svg_to_png` at the report's file scale, and the inlined PNG made
  from that one as the report makes it (Pillow's 2 × 2 block means, not a second drawing), and writes the
  SVG and PNG files. It is the least any report needs: the drawing alone, with no database and no HTML,
  in the libraries the report uses.
Both sides are checked first: every SVG the report wrote equals the baseline's SVG of the same spec. Goal
(issue 14): median ratio <= 2 at 7 municipalities and for the whole country. Prints min / median / max;
exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_stats import interleave, spread  # noqa: E402  (bench/ is on sys.path when run as a script)
from bench_whole_country import snapshot_whole_country  # noqa: E402

from ingest.manifest import DEFAULT_SNAPSHOT_DIR  # noqa: E402

GOAL = 2.0
KESTAVA = ROOT / ".venv" / "bin" / "kestava"
PYTHON = ROOT / ".venv" / "bin" / "python"

SPECS_SCRIPT = """
import json, sys
from report import weekly
from report.render import EMBED_REDUCTION, PNG_SCALE
from storage.engine import open_database
engine = open_database()
out = __import__("pathlib").Path(sys.argv[2])
result = weekly.build_report(engine, weekly.current_week(), lang="fi", out_dir=out, images=False)
json.dump({"png_scale": PNG_SCALE, "embed_reduction": EMBED_REDUCTION,
           "specs": {c.name: c.spec for c in result.charts if c.spec is not None}}, open(sys.argv[1], "w"))
"""

BASELINE_SCRIPT = """
import io, json, sys, pathlib
import vl_convert as vlc
from PIL import Image
job = json.load(open(sys.argv[1]))
out = pathlib.Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
for name, spec in job["specs"].items():
    svg = vlc.vegalite_to_svg(spec)
    (out / f"{name}.svg").write_text(svg, encoding="utf-8")
    png = vlc.svg_to_png(svg, scale=job["png_scale"])
    (out / f"{name}.png").write_bytes(png)
    smaller = Image.open(io.BytesIO(png)).reduce(job["embed_reduction"])
    smaller.save(io.BytesIO(), format="PNG", compress_level=1)
"""


def _env(data: Path, snapshot: Path) -> dict[str, str]:
    env = {**os.environ, "KESTAVA_DATA_DIR": str(data), "KESTAVA_SNAPSHOT_DIR": str(snapshot)}
    env.pop("KESTAVA_DATABASE_URL", None)
    env.pop("KESTAVA_REPORT_DIR", None)
    return env


def _run(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def bench_size(size: str, snapshot: Path, work: Path, pairs: int) -> tuple[list[float], bool]:
    """The ratios of one size's interleaved pairs, and whether both sides drew the same SVGs."""
    data = work / f"data-{size}"
    env = _env(data, snapshot)
    _run([str(KESTAVA), "ingest", "--offline"], env)
    _run([str(KESTAVA), "compute"], env)
    job = work / f"specs-{size}.json"
    _run([str(PYTHON), "-c", SPECS_SCRIPT, str(job), str(work / f"specs-out-{size}")], env)
    reports, drawn = work / f"reports-{size}", work / f"alone-{size}"
    measured = [str(KESTAVA), "report", "--lang", "fi", "--out", str(reports)]
    baseline = [str(PYTHON), "-c", BASELINE_SCRIPT, str(job), str(drawn)]
    _run(measured, env)
    _run(baseline, env)
    week = next(p for p in reports.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = json.loads(job.read_text(encoding="utf-8"))["specs"]

    def svg(folder: Path, name: str) -> str:
        return (folder / f"{name}.svg").read_text(encoding="utf-8")

    differ = [n for n in names if svg(week / "fi", n) != svg(drawn, n)]
    same = not differ
    print(f"{size} municipalities: {len(names)} charts; SVGs equal to vl-convert alone: {same or differ}")
    result = interleave(lambda: _run(measured, env), lambda: _run(baseline, env), pairs)
    print(f"  {result.summary('kestava report --lang fi', 'vl-convert alone')}")
    return result.ratios, same


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs per size (at least 5)")
    parser.add_argument(
        "--sizes", default="7,all", help="Syke municipalities: 7 (bundled), all (the whole country), or both"
    )
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp)
        for size in args.sizes.split(","):
            if size == "7":
                snapshot = DEFAULT_SNAPSHOT_DIR
            elif size == "all":
                snapshot = snapshot_whole_country(work / "snapshot-whole-country")
            else:
                raise SystemExit(f"--sizes: expected 7 and/or all, got {size!r}")
            ratios, same = bench_size(size, snapshot, work, args.pairs)
            low, median, high = spread(ratios)
            passed = same and median <= GOAL
            ok = ok and passed
            print(
                f"  ratio min {low:.2f} / median {median:.2f} / max {high:.2f} "
                f"(goal median <= {GOAL:.0f}) {'OK' if passed else 'FAIL'}"
            )
            shutil.rmtree(work / f"data-{size}", ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
