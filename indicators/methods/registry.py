"""The catalogue of progress-assessment methods and ``assess_frame``, which dispatches on it.

``METHODS`` maps every method id to its ``MethodSpec`` (defined at the end of the method's module);
``METHOD_VERSIONS``, ``STATUS_RANK``, ``SYMBOLS`` and ``DETAIL_COLUMNS`` are read from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from indicators.method_ids import METHOD_IDS
from indicators.methods.common import _OUTPUT_COLUMNS, MethodSpec, _aggregate, _prepare_frame
from indicators.methods.eurostat_sdg import SPEC as EUROSTAT_SDG
from indicators.methods.german_strategy import SPEC as GERMAN_STRATEGY
from indicators.methods.linear_trajectory_check import SPEC as LINEAR_TRAJECTORY_CHECK
from indicators.methods.open_sdg import SPEC as OPEN_SDG
from indicators.methods.sdsn_trend import SPEC as SDSN_TREND

#: Every method, in the order of the reports: one entry per method module.
METHODS: dict[str, MethodSpec] = {
    spec.method: spec
    for spec in (
        EUROSTAT_SDG,
        OPEN_SDG,
        SDSN_TREND,
        GERMAN_STRATEGY,
        LINEAR_TRAJECTORY_CHECK,
    )
}

if tuple(METHODS) != METHOD_IDS:  # the catalogue validates against METHOD_IDS without importing the methods
    raise ImportError(f"indicators.method_ids.METHOD_IDS {METHOD_IDS} != the registry's {tuple(METHODS)}")

METHOD_VERSIONS: dict[str, str] = {method: spec.version for method, spec in METHODS.items()}

#: Ordinal rank of every status, worst = 0, per method (``insufficient_data`` has no rank).
STATUS_RANK: dict[str, dict[str, int]] = {method: spec.status_rank for method, spec in METHODS.items()}

SYMBOLS: dict[str, dict[str, str]] = {method: spec.symbols for method, spec in METHODS.items()}

#: Method-specific columns of ``assess_frame`` (the same keys as ``Assessment.details``).
DETAIL_COLUMNS: dict[str, list[str]] = {method: spec.detail_columns for method, spec in METHODS.items()}


def assess_frame(
    frame: pl.DataFrame,
    method: str,
    *,
    keys: Sequence[str] | None = None,
    **params: Any,
) -> pl.DataFrame:
    """Assess every series of a long frame at once with polars expressions (no Python loop per group).

    ``frame`` has ``year`` and ``value`` plus key columns (default: every other column that is not a
    parameter of the method) and, optionally, per-row parameter columns named like the scalar
    function's keywords (``target``, ``target_year``, ``direction``, ``base_year``, ``green_threshold``,
    ``red_threshold``, ``lower_bound``, ``reduction``); the first non-null value per group is used. A
    parameter that is not a column may be passed as a keyword and applies to every group; ``period`` for
    ``eurostat_sdg`` is keyword-only. Output: one row per group with the keys, the common ``Assessment``
    fields (without ``thresholds``, see the module constants) and the method's ``DETAIL_COLUMNS``; the
    numbers and statuses equal those of the scalar functions. For ``linear_trajectory_check`` a row's
    ``target`` takes precedence over ``reduction``. Duplicate (key, year) observations raise ValueError
    naming the year; missing values are ignored; groups without observations report insufficient_data.
    An optional ``decimals`` column gives each value's published precision
    (``trajectory.with_value_decimals`` of it, which is what is used when the column is absent), so that
    a caller assessing the same values by several methods reads their precision once.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {sorted(METHODS)}")
    spec = METHODS[method]
    scalars = {
        **spec.frame_scalars,
        **{k: v for k, v in params.items() if k in spec.frame_scalars},
    }
    column_params = {k: v for k, v in params.items() if k not in scalars}
    lf, key_columns = _prepare_frame(frame, spec, keys, column_params)
    requested = spec.requested(scalars)
    g = spec.frame(_aggregate(lf, key_columns, spec, requested).lazy(), scalars)
    g = g.with_columns(method=pl.lit(method), version=pl.lit(spec.version))
    out_keys = [k for k in key_columns if k != "_group"]
    columns = [*out_keys, *_OUTPUT_COLUMNS, *spec.detail_columns]
    return g.select(columns).sort(out_keys or "method").collect()
