"""Polars' allocator options: set by the tracker's packages before polars loads, read by polars' jemalloc."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from common.allocator import ALLOCATOR_VARIABLE, POLARS_ALLOCATOR

ROOT = Path(__file__).resolve().parents[1]
# jemalloc prints its options at exit with stats_print; appended after the tracker set its own
SHOW_OPTIONS = f"import os; os.environ['{ALLOCATOR_VARIABLE}'] += ',stats_print:true'; import polars"


def _jemalloc_options(script: str, **preset: str) -> dict[str, str]:
    """The jemalloc options a new interpreter running script ended with (from its exit statistics)."""
    env = {k: v for k, v in os.environ.items() if k not in (ALLOCATOR_VARIABLE, "POLARS_THP")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, **preset},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "Invalid conf" not in done.stderr, done.stderr
    return dict(re.findall(r"^\s*opt\.(\w+): \"?([\w-]+)\"?", done.stderr, flags=re.MULTILINE))


def test_importing_kestava_first_gives_polars_the_tracker_options() -> None:
    options = _jemalloc_options(f"import kestava; {SHOW_OPTIONS}")
    assert options["dirty_decay_ms"] == "5000"  # polars' own default is 500
    assert options["muzzy_decay_ms"] == "5000"  # and 1000


def _variable_after(script: str) -> str:
    """The allocator variable as a new interpreter running script (then printing it) left it."""
    env = {k: v for k, v in os.environ.items() if k not in (ALLOCATOR_VARIABLE, "POLARS_THP")}
    script += f"\nimport os; print(os.environ['{ALLOCATOR_VARIABLE}'])"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_scheduler_service_sets_them_before_it_loads_polars() -> None:
    # polars, loaded by the scheduler's imports, put its defaults first and the tracker's after them
    assert _variable_after("import scheduler, sys; assert 'polars' in sys.modules") == (
        f"dirty_decay_ms:500,muzzy_decay_ms:1000,{POLARS_ALLOCATOR}"
    )


def test_an_operator_value_wins() -> None:
    options = _jemalloc_options(
        "import kestava, polars", **{ALLOCATOR_VARIABLE: "dirty_decay_ms:1234,stats_print:true"}
    )
    assert options["dirty_decay_ms"] == "1234"
    assert options["muzzy_decay_ms"] == "1000"  # polars' own, which the operator did not override


def test_polars_loaded_first_keeps_its_defaults_and_says_so() -> None:
    script = (
        "import polars\nfrom common.allocator import configure_allocator\nassert not configure_allocator()"
    )
    assert _variable_after(script) == "dirty_decay_ms:500,muzzy_decay_ms:1000"  # polars' own, nothing added
