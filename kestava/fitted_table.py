"""Command-line tables fitted to the terminal width: empty columns left out, words kept whole."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ["FittedColumn", "fitted_table"]

EMPTY_CELLS = ("", "–")
# a free-text column (an error message) is given at least this much before the rows become blocks
FREE_TEXT_FLOOR = 20
GAP = 3  # between two columns: a space, the rule, a space (the table has no outer edge: two columns more)


@dataclass(frozen=True)
class FittedColumn:
    """A column's heading and how its cells may break: whole (an id), at spaces (a time), or anywhere."""

    heading: str
    whole: bool = False  # the cell on one line (an id that must be found whole by a reader or a grep)
    free_text: bool = False  # a message: folds wherever it must, and takes the width that is left


def _width(cell: str) -> int:
    return Text.from_markup(cell).cell_len


def _longest_word(cell: str) -> int:
    return max((len(word) for word in Text.from_markup(cell).plain.split()), default=0)


def _floor(column: FittedColumn, cells: list[str]) -> int:
    """The narrowest the column may be: its longest id, or the longest word of its cells and heading (a
    heading may take two lines, a word of it not)."""
    words = max(_longest_word(c) for c in [*cells, column.heading])
    if column.whole:
        return max([words, *map(_width, cells)])
    if column.free_text:
        return max(_longest_word(column.heading), min(max(map(_width, cells), default=0), FREE_TEXT_FLOOR))
    return words


def fitted_table(
    console: Console,
    title: str,
    columns: Sequence[FittedColumn],
    rows: Sequence[Sequence[str]],
    *,
    left_out: Callable[[str], str],
    notes: Sequence[str] = (),
) -> RenderableType:
    """A table of rows (rich markup) that fits console.width, or, when it cannot, one block per row.

    A column whose every cell is empty or "–" is left out, and the caption names it (left_out makes the
    caption's line from the headings); notes are further caption lines. The first column is each row's name.
    Widths come from the cells: whole columns keep their cells on one line, others break at spaces, and
    free-text columns take what is left. When even that is wider than the console (cron mails 80 columns),
    each row becomes its name and one "heading: value" line per non-empty cell, which the console wraps.
    """
    kept = [
        i for i in range(len(columns)) if i == 0 or not rows or any(r[i] not in EMPTY_CELLS for r in rows)
    ]
    dropped = [columns[i].heading for i in range(len(columns)) if i not in kept]
    caption = [*notes, *([left_out(", ".join(dropped))] if dropped else [])]
    shown = [columns[i] for i in kept]
    cells = [[row[i] for i in kept] for row in rows]
    by_column = [[row[n] for row in cells] for n in range(len(shown))]
    pairs = list(zip(shown, by_column, strict=True))
    floors = [_floor(col, values) for col, values in pairs]
    # first each column's cells on one line, then its heading too
    cell_widths = [
        max([floor, *map(_width, values)]) for floor, (_, values) in zip(floors, pairs, strict=True)
    ]
    heading_widths = [max(w, _width(col.heading)) for w, col in zip(cell_widths, shown, strict=True)]
    space = console.width - GAP * (len(shown) - 1)
    if sum(floors) > space:
        return _blocks(title, shown, cells, caption)
    widths = list(floors)
    # what is left goes first to the free-text columns, then to the others, the one that needs the least
    # first (so that as many columns as possible take one line a row), each up to its cells' width, then
    # up to its heading's
    for naturals in (cell_widths, heading_widths):
        order = sorted(range(len(shown)), key=lambda n: (not shown[n].free_text, naturals[n] - widths[n]))
        for n in order:
            widths[n] += max(0, min(naturals[n] - widths[n], space - sum(widths)))
    table = Table(
        title=title,
        caption="\n".join(caption) or None,
        caption_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    for column, width in zip(shown, widths, strict=True):
        table.add_column(column.heading, width=width, overflow="fold", no_wrap=column.whole)
    for row in cells:
        table.add_row(*row)
    return table


def _blocks(
    title: str, columns: Sequence[FittedColumn], rows: Sequence[Sequence[str]], caption: Sequence[str]
) -> RenderableType:
    """One block per row: its name in bold, then its non-empty cells as "heading: value", indented, a
    value that takes several lines aligned under its first."""
    parts: list[RenderableType] = [Text(title, style="bold")]
    for row in rows:
        parts.append(Text.from_markup(f"[bold]{row[0]}[/bold]"))
        cells = Table.grid(padding=(0, 1), pad_edge=True)
        cells.add_column(no_wrap=True)
        cells.add_column(overflow="fold")
        for column, cell in zip(columns[1:], row[1:], strict=True):
            if cell not in EMPTY_CELLS:
                cells.add_row(f"{escape(column.heading)}:", cell)
        parts.append(Padding(cells, (0, 0, 0, 1)))
    parts.extend(Text(line, style="italic") for line in caption)
    return Group(*parts)
