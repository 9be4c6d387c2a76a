"""Shared timing helpers for the benchmarks: interleaved pairs and min / median / max of the ratio.

Every benchmark checks first that its measured code and its baseline give the same result, then runs
them alternately (measured, baseline, measured, baseline, …) so that a busy moment of the shared machine
hits both alike, and reports the ratio measured / baseline of each pair as min / median / max.

    from bench_stats import Pairs, interleave, timer

A side is a callable returning its own seconds (for work with untimed set-up, such as a fresh
database); `timer(fn)` turns a plain callable into one.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

MIN_PAIRS = 5


def timer(run: Callable[[], object]) -> Callable[[], float]:
    """A side that times `run` (wall clock, after a garbage collection outside the timing)."""

    def side() -> float:
        gc.collect()
        start = time.perf_counter()
        run()
        return time.perf_counter() - start

    return side


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """min, median, max."""
    return min(values), statistics.median(values), max(values)


def fmt(values: Sequence[float], digits: int = 2, unit: str = "") -> str:
    low, mid, high = spread(values)
    return f"min {low:.{digits}f}{unit} / median {mid:.{digits}f}{unit} / max {high:.{digits}f}{unit}"


@dataclass
class Pairs:
    """Seconds of each side per pair, in run order."""

    measured: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        """measured / baseline of each pair."""
        return [m / b for m, b in zip(self.measured, self.baseline, strict=True)]

    def summary(self, measured: str = "measured", baseline: str = "baseline") -> str:
        return (
            f"{len(self.ratios)} interleaved pairs: {measured} {fmt(self.measured, 3, ' s')}; "
            f"{baseline} {fmt(self.baseline, 3, ' s')}; ratio {fmt(self.ratios)}"
        )


def interleave(measured: Callable[[], float], baseline: Callable[[], float], pairs: int = MIN_PAIRS) -> Pairs:
    """Run measured, baseline, measured, baseline, … (at least MIN_PAIRS pairs); each returns seconds."""
    result = Pairs()
    for _ in range(max(pairs, MIN_PAIRS)):
        result.measured.append(measured())
        result.baseline.append(baseline())
    return result
