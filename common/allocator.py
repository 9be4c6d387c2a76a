"""Polars' memory allocator (jemalloc) set to reuse freed memory within a run, not fault it in again."""

from __future__ import annotations

import os
import sys

# polars reads it when it is loaded (polars/__init__.py) and appends it to its own options; later ones win
ALLOCATOR_VARIABLE = "_RJEM_MALLOC_CONF"
# polars' own defaults give memory back to the system 0.5 s (dirty pages) and 1 s (muzzy) after it is
# freed, to keep the footprint small (pola-rs/polars#18088, #23128). A compute frees one large frame and
# makes the next a moment later, so it faulted most pages in again: at ten times the country's areas,
# about a million page faults and 2–4 s of kernel time per compute. Kept for 5 s, freed memory is reused
# within a step of the run. The cost: the whole country's `kestava run` peaks at about 760 MiB instead of
# 630 MiB (measured 2026-12-06). Transparent huge pages (polars' POLARS_THP) were tried and left off:
# fewer faults, but more kernel time and a higher peak.
POLARS_ALLOCATOR = "dirty_decay_ms:5000,muzzy_decay_ms:5000"


def configure_allocator() -> bool:
    """Set polars' allocator options unless polars is loaded already or the operator set their own.

    Returns whether the options can still take effect (polars not yet loaded). Worker processes
    inherit the variable.
    """
    if "polars" in sys.modules:
        return False
    os.environ.setdefault(ALLOCATOR_VARIABLE, POLARS_ALLOCATOR)
    return True
