"""Text cells a spreadsheet would run as formulas made inert, for the CSV downloads and exports."""

from __future__ import annotations

import polars as pl

__all__ = ["MINUS", "inert_text"]

MINUS = "\u2212"  # the minus sign: a spreadsheet reads it as text, as the hyphen-minus starts a formula
# a cell that begins so is a formula to Excel, LibreOffice and Google Sheets (OWASP's CSV injection list)
_FORMULA_START = r"^[=+\-@\t\r]"


def inert_text(frame: pl.DataFrame) -> pl.DataFrame:
    """frame with each text cell that a spreadsheet would take for a formula made text.

    A signed change the report wrote ("-48% per resident since 1990", as English writes it) begins with
    the minus sign instead of the hyphen-minus, which reads the same; any other such cell (a source's flag
    "=1+1", "@SUM(1)") is prefixed with an apostrophe, the mark spreadsheets take for "text follows".
    Numbers, dates and the other columns are as they were.
    """
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not texts:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(r"^-\d"))
        .then(pl.col(name).str.replace(r"^-", MINUS))
        .when(pl.col(name).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in texts
    )
