"""The ids of the progress-assessment methods, in the order of the reports, without importing them."""

from __future__ import annotations

from typing import Final

# the names catalogue.toml may list under `assess`; indicators.methods.registry checks at import that its
# METHODS are exactly these, so that reading the catalogue (`kestava status`) needs no polars
METHOD_IDS: Final[tuple[str, ...]] = (
    "eurostat_sdg",
    "open_sdg",
    "sdsn_trend",
    "german_strategy",
    "linear_trajectory_check",
)
