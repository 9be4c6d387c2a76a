"""Benchmark: the whole weekly report (9 charts, 3 languages, HTML+PNG+SVG+CSV) against vl-convert alone.

    .venv/bin/python bench/bench_report.py [--keep DIR]

Builds a database in a temporary folder (offline ingest of the bundled snapshot, then compute), writes
the weekly report in fi, sv and en, and renders the same nine chart specs with vl-convert alone (PNG at
the report's scale + SVG, each from the spec). Goal: the report for one language takes under 3× what
vl-convert alone needs for those specs. Prints the figures and OK/FAIL; exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vl_convert as vlc

from indicators.engine import compute
from ingest.run import ingest
from report import weekly
from storage.engine import open_database
from storage.rawstore import RawStore

GOAL = 3.0  # report for one language / vl-convert alone on the same specs, at most
LANGS = ("fi", "sv", "en")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the reports here instead of a temporary folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        engine = open_database(f"sqlite:///{folder / 'bench.sqlite3'}")
        outcomes = ingest(engine, RawStore(folder / "raw"), offline=True)
        if not all(o.ok for o in outcomes):
            print("ingest failed:", [o.error for o in outcomes if not o.ok])
            return 1
        summary = compute(engine, today=date.today())
        print(f"database: {time.perf_counter() - start:.1f} s ({summary.summary()})")
        out = args.keep or folder / "reports"
        week = weekly.current_week()

        # warm-up: vl-convert's JavaScript runtime and the Vega bundle, outside every timing
        weekly.javascript_bundle()
        vlc.vegalite_to_svg({"mark": "point", "data": {"values": [{"a": 1}]}, "encoding": {}})

        results = {}
        for lang in LANGS:
            results[lang] = weekly.build_report(engine, week, lang=lang, out_dir=out)
        total = sum(r.timings["total"] for r in results.values())

        # vl-convert alone: the same nine specs, PNG (same scale) and SVG, each straight from the spec
        baseline: dict[str, dict[str, float]] = {}
        for lang, result in results.items():
            baseline[lang] = {}
            for chart in result.charts:
                if chart.spec is None:
                    continue
                began = time.perf_counter()
                vlc.vegalite_to_png(chart.spec, scale=weekly.PNG_SCALE)
                vlc.vegalite_to_svg(chart.spec)
                baseline[lang][chart.name] = time.perf_counter() - began
        engine.dispose()

        print(f"\nweekly report {week.key}: {total:.2f} s for {len(LANGS)} languages -> {out}")
        header = f"{'chart':<26}" + "".join(
            f"{lang + ' report':>12}{lang + ' vl-conv':>12}" for lang in LANGS
        )
        print(header)
        for name in weekly.CHART_NAMES:
            row = f"{name:<26}"
            for lang in LANGS:
                row += (
                    f"{results[lang].timings[f'chart:{name}']:>12.2f}{baseline[lang].get(name, 0.0):>12.2f}"
                )
            print(row)
        steps = ("headline", "changes", "html")
        for step in steps:
            print(f"{step:<26}" + "".join(f"{results[lang].timings[step]:>12.2f}{'':>12}" for lang in LANGS))
        ratios = []
        print()
        for lang in LANGS:
            report_s = results[lang].timings["total"]
            alone_s = sum(baseline[lang].values())
            ratio = report_s / alone_s
            ratios.append(ratio)
            drawn = sum(1 for c in results[lang].charts if c.error is None)
            print(
                f"{lang}: report {report_s:.2f} s ({drawn} charts, HTML+PNG+SVG+CSV), "
                f"vl-convert alone {alone_s:.2f} s -> {ratio:.2f}x (goal < {GOAL:.0f}x)"
            )
        worst = max(ratios)
        ok = worst < GOAL
        median = statistics.median(ratios)
        print(
            f"\n{'OK' if ok else 'FAIL'}: worst language {worst:.2f}x, median {median:.2f}x "
            f"of vl-convert alone (goal < {GOAL:.0f}x)"
        )
        return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
