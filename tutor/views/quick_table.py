"""rich's default Table drawn straight as lines of segments: a check's table in a fraction of the time rich's
layout takes (it measures, pads, crops and reshapes every cell as a renderable of its own, ~30 ms for the
table of exercise 1, more than the check itself).

`QuickTable(title, columns, rows).table()` is the rich Table it stands for: `Table(title=title,
title_justify="left")`, each column added with its justify and no_wrap, the rows added as they are. Printed, a
QuickTable writes what that Table writes byte for byte in the one case that needs no layout: every cell one
line of plain str or rich Text (no line break of any kind, tab, control character or trailing space, no zero
width joiner or variation selector 16, where a width is not the sum of the characters'; no justify or overflow
of the Text's own), the whole table within the width it is given, so that no cell wraps, is cropped or gets an
ellipsis. Any other table is drawn by that Table.

What it reproduces of rich (15.0), as rich's Table._render and the Padding, Text and Segment code it calls do
it: the title rendered as rich renders it (in the table's width, style "table.title", left-justified); the
HEAVY_HEAD box as Box.substitute gives it for the console (SQUARE on a legacy Windows console, ASCII where the
encoding is ASCII only); each column as wide as its widest cell plus its padding (0, 1), the table not
expanded; a cell's padding spaces in the Padding's style ("none") and its text justified in the column, the
header's in style "table.header"; a Text's own style and spans cut into segments by rich's Text.render. Only
how the segments are grouped differs: consecutive unstyled segments of a line are joined, which no console
writes otherwise (no escape codes wrap them)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.jupyter import JupyterMixin
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Span, Text

Justify = Literal["left", "center", "right"]
Cell = str | Text
# What a cell comes to: its plain text, its own style and its spans.
Plain = tuple[str, str | Style, Sequence[Span]]

NULL = Style.null()

# Characters rich lays out otherwise than one line whose width is its characters' widths added up: line breaks
# (str.splitlines's too: rich measures a Text by them), tabs, control characters (zero cells; some stripped), the
# zero width joiner and variation selector 16 (a cluster's width is not the sum of its characters').
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200d\ufe0f]")


class QuickTable(JupyterMixin):
    """A table in rich's default look (see the module): `columns` are (heading, justify, no_wrap), `rows` one
    cell per column, each a str (rich markup and emoji codes, as a Table reads them) or a Text."""

    def __init__(
        self, title: str | None, columns: Sequence[tuple[str, Justify, bool]], rows: Sequence[Sequence[Cell]]
    ) -> None:
        self.title = title
        self.columns = tuple(columns)
        self.rows = [tuple(row) for row in rows]

    def table(self) -> Table:
        """The rich Table this one draws as."""
        table = Table(title=self.title, title_justify="left")
        for heading, justify, no_wrap in self.columns:
            table.add_column(heading, justify=justify, no_wrap=no_wrap)
        for row in self.rows:
            table.add_row(*row)
        return table

    def widest(self) -> int:
        """The table's width with no cell wrapped: at least its narrowest (cheap to count, unlike a measurement)."""

        def width(cell: Cell) -> int:
            return max(cell_len(line) for line in str(cell).split("\n"))

        widths = (
            max(width(cell) for cell in (heading, *(row[index] for row in self.rows if index < len(row))))
            for index, (heading, _, _) in enumerate(self.columns)
        )
        return len(self.columns) + 1 + sum(2 + w for w in widths)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = self.lines(console, options)
        if lines is None:
            yield self.table()
        else:
            yield from lines

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table())

    def lines(self, console: Console, options: ConsoleOptions) -> list[Segment] | None:
        """The table's segments as its rich Table would print them within `options`, or None where this
        table needs rich's layout."""
        cells = self._plain_cells(console, options)
        if cells is None:
            return None
        widths = [2 + max(cell_len(row[index][0]) for row in cells) for index in range(len(self.columns))]
        table_width = sum(widths) + len(widths) + 1
        if table_width > options.max_width:  # rich would wrap or crop cells to fit
            return None
        segments: list[Segment] = []
        if self.title:
            title = console.render_str(self.title, style="table.title", highlight=False)
            segments += console.render(title, options.update(width=table_width, highlight=False, height=None,
                                                              justify="left"))
        border = console.get_style("none") + console.get_style("")  # the table's style, then its border style
        frame = box.HEAVY_HEAD.substitute(options, safe=console.safe_box)
        pad = console.get_style("none")  # a cell's Padding
        header = console.get_style("table.header") + console.get_style("")  # the table's, then the column's
        justify = [column[1] for column in self.columns]
        line = Segment.line()
        segments += (Segment(frame.get_top(widths), border), line)
        last = len(cells) - 1
        for index, row in enumerate(cells):
            left, right, divider = (
                (frame.head_left, frame.head_right, frame.head_vertical) if index == 0
                else (frame.foot_left, frame.foot_right, frame.foot_vertical) if index == last
                else (frame.mid_left, frame.mid_right, frame.mid_vertical)
            )
            # a divider that is whitespace takes the row's background (rows have no style here)
            divider_style = border if divider.strip() else Style.null().background_style + border
            drawn = [Segment(left, border)]
            for column, (cell, width) in enumerate(zip(row, widths)):
                if column:
                    drawn.append(Segment(divider, divider_style))
                drawn += _cell(console, cell, width - 2, justify[column], pad, header if index == 0 else None)
            drawn.append(Segment(right, border))
            segments += _joined(drawn)
            segments.append(line)
            if index == 0:
                segments += (Segment(frame.get_row(widths, "head", edge=True), border), line)
        segments += (Segment(frame.get_bottom(widths), border), line)
        return segments

    def _plain_cells(self, console: Console, options: ConsoleOptions) -> list[list[Plain]] | None:
        """The heading row, then every row, each cell as (plain, style, spans) as rich would read it; None where
        a cell needs rich's layout."""
        if not self.columns or any(justify not in ("left", "center", "right") for _, justify, _ in self.columns):
            return None
        width = len(self.columns)
        if any(len(row) != width for row in self.rows):
            return None
        cells: list[list[Plain]] = []
        for row in (tuple(column[0] for column in self.columns), *self.rows):
            plain_row = []
            for cell in row:
                plain = _plain(console, options, cell)
                if plain is None:
                    return None
                plain_row.append(plain)
            cells.append(plain_row)
        return cells


def _plain(console: Console, options: ConsoleOptions, cell: object) -> Plain | None:
    """A cell as (plain, style, spans) as rich renders it in a table; None unless it is one line rich lays
    out as its characters' widths (see UNSAFE) with no trailing whitespace (which a justified cell loses)."""
    if isinstance(cell, str):
        if UNSAFE.search(cell):
            return None
        if "[" in cell or ":" in cell:  # markup or an emoji code: what the console makes of the string
            cell = console.render_str(cell, highlight=False, markup=options.markup)
        elif cell[-1:].isspace():
            return None
        else:
            return (cell, "", ())
    if not isinstance(cell, Text) or cell.justify or cell.overflow or cell.end != "\n":
        return None
    plain = cell.plain
    if UNSAFE.search(plain) or plain[-1:].isspace():
        return None
    return (plain, cell.style, cell.spans)


def _cell(
    console: Console, cell: Plain, width: int, justify: Justify, pad: Style, style: Style | None
) -> list[Segment]:
    """A cell's line: its padding, then its text justified in `width` cells and cut into segments at every
    span, then its padding; every segment in the Padding's style `pad` and the cell's `style`, as rich's
    render_lines apply them."""
    plain, own, spans = cell
    excess = width - cell_len(plain)
    shift = 0 if justify == "left" else excess if justify == "right" else excess // 2
    text = f"{' ' * shift}{plain}{' ' * (excess - shift)}"
    if not spans:  # rich's Text.render of a line all in one style (or none)
        parts = [Segment(text, console.get_style(own, default=NULL))] if own and text else [Segment(text)]
        if not (pad or style or own):
            return [Segment(f" {text} ")]  # unstyled throughout: one segment writes the same
    else:
        if shift:
            spans = [Span(start + shift, end + shift, span_style) for start, end, span_style in spans]
        line = Text(text)
        line._spans = [Span(0, len(text), own), *spans] if own else list(spans)
        parts = list(line.render(console))
    if pad:
        parts = [Segment(t, pad + s) for t, s, _ in parts]
    parts = [Segment(" ", pad), *parts, Segment(" ", pad)]  # the Padding's own spaces
    if style:
        parts = [Segment(t, style + s) for t, s, _ in parts]
    return parts


def _joined(segments: list[Segment]) -> Iterator[Segment]:
    """The segments with each run of unstyled ones joined: a console writes an unstyled segment's text as it
    is (with no escape codes around it), whatever its neighbours."""
    run: list[str] = []
    for segment in segments:
        if segment.style or segment.control:
            if run:
                yield Segment("".join(run))
                run = []
            yield segment
        else:
            run.append(segment.text)
    if run:
        yield Segment("".join(run))
