"""Selecting indicators by id together with their breakdowns' parts ('ghg_by_sector.transport')."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_


def with_breakdowns(column: ColumnElement[str], indicators: Sequence[str]) -> ColumnElement[bool]:
    """The ids and their breakdowns' parts ('ghg_by_sector' → 'ghg_by_sector.transport'); a part asked
    alone is that part only."""
    return or_(column.in_(indicators), *(column.startswith(f"{i}.", autoescape=True) for i in indicators))
