"""rich's default Table drawn straight as lines of segments: a check's table in a fraction of the time rich's
layout takes (it measures, pads, crops and reshapes every cell as a renderable of its own, 20-40 ms for the
table of exercise 1, more than the check itself).

`QuickTable(title, columns, rows).table()` is the rich Table it stands for: `Table(title=title,
title_justify="left")`, each column added with its justify and no_wrap, the rows added as they are. Printed, a
QuickTable writes what that Table writes byte for byte where every cell is one line of plain str or rich Text
(no line break of any kind, tab, control character or trailing space, no zero width joiner or variation
selector 16, where a width is not the sum of the characters'; no justify or overflow of the Text's own) and
the table is within the width it is given, or narrowed to it by wrapping the cells of the columns that may
wrap. Any other table (one whose no_wrap columns rich would narrow too, cropping their cells) is drawn by that
Table.

What it reproduces of rich (15.0), as rich's Table._render and the Padding, Text and Segment code it calls do
it: the title rendered as rich renders it (in the table's width, style "table.title", left-justified); the
HEAVY_HEAD box as Box.substitute gives it for the console (SQUARE on a legacy Windows console, ASCII where the
encoding is ASCII only); each column as wide as its widest cell plus its padding (0, 1), the table not
expanded, and where that is too wide the columns that may wrap narrowed as rich's Table._collapse_widths
narrows them; a cell's padding spaces in the Padding's style ("none") and its text justified in the column,
the header's in style "table.header"; a Text's own style and spans cut into segments by rich's Text.render; a
cell wider than its column wrapped by rich's Text.wrap (a word wider than the column given an ellipsis), its
row's other cells given blank lines under them (the header's above). Only how the segments are grouped
differs: consecutive unstyled segments of a line are joined, which no console writes otherwise (no escape
codes wrap them)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
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

    def narrowest(self, console: Console, options: ConsoleOptions | None = None) -> int:
        """The narrowest width rich's Table draws this table in with no cell cut short: each no_wrap column as
        wide as its widest cell, each other column as its longest word (a Text's minimum as rich measures it:
        its words split at whitespace), with their padding, and the borders. (rich's own measurement of a
        Table takes every column's longest word, no_wrap or not: in less than this width it narrows the no_wrap
        columns too, cutting their cells short with an ellipsis.) A cell QuickTable cannot read is measured by
        rich: its maximum in a no_wrap column, its minimum in another."""
        options = (options or console.options).update_width(10_000)
        total = len(self.columns) + 1
        for index, (heading, _, no_wrap) in enumerate(self.columns):
            narrowest = 0
            for cell in (heading, *(row[index] for row in self.rows if index < len(row))):
                plain = _plain(console, options, cell)
                if plain is None:
                    measured = Measurement.get(console, options, cell)
                    width = measured.maximum if no_wrap else measured.minimum
                else:
                    width = cell_len(plain[0]) if no_wrap else _longest_word(plain[0])
                narrowest = max(narrowest, width)
            total += 2 + narrowest
        return total

    def lines(self, console: Console, options: ConsoleOptions) -> list[Segment] | None:
        """The table's segments as its rich Table would print them within `options`, or None where this
        table needs rich's layout."""
        cells = self._plain_cells(console, options)
        if cells is None:
            return None
        widths = self._widths(cells, options.max_width)
        if widths is None:
            return None
        table_width = sum(widths) + len(widths) + 1
        segments: list[Segment] = []
        if self.title:
            title = console.render_str(self.title, style="table.title", highlight=False)
            segments += console.render(title, options.update(width=table_width, highlight=False, height=None,
                                                              justify="left"))
        border = console.get_style("none") + console.get_style("")  # the table's style, then its border style
        frame = box.HEAVY_HEAD.substitute(options, safe=console.safe_box)
        pad = console.get_style("none")  # a cell's Padding
        header = console.get_style("table.header") + console.get_style("")  # the table's, then the column's
        body = console.get_style("") + NULL  # the column's, then the row's
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
            style = header if index == 0 else body
            drawn = []  # each cell's lines
            for column, (cell, width) in enumerate(zip(row, widths)):
                if width < 3:  # no room inside its padding: rich draws no line of it (blank lines fill it)
                    drawn.append([])
                elif cell_len(cell[0]) <= width - 2:
                    drawn.append([_cell(console, cell, width - 2, justify[column], pad, style)])
                else:
                    drawn.append(_wrapped(console, cell, width - 2, justify[column], pad, style))
            height = max(1, *map(len, drawn))
            for cell_lines, width in zip(drawn, widths):  # the header's cells to its bottom, a row's to its top
                if len(cell_lines) < height:
                    at = 0 if index == 0 else len(cell_lines)
                    cell_lines[at:at] = [[Segment(" " * width, style)]] * (height - len(cell_lines))
            for line_no in range(height):
                parts = [Segment(left, border)]
                for column, cell_lines in enumerate(drawn):
                    if column:
                        parts.append(Segment(divider, divider_style))
                    parts += cell_lines[line_no]
                parts.append(Segment(right, border))
                segments += _joined(parts)
                segments.append(line)
            if index == 0:
                segments += (Segment(frame.get_row(widths, "head", edge=True), border), line)
        segments += (Segment(frame.get_bottom(widths), border), line)
        return segments

    def _widths(self, cells: list[list[Plain]], max_width: int) -> list[int] | None:
        """Each column's width with its padding as rich's Table gives it within `max_width`
        (Table._calculate_column_widths): as wide as its widest cell (no wider than the room for all), and
        where the table is wider than that, the widest wrapping columns narrowed first; None where rich would
        narrow a no_wrap column too (it crops its cells)."""
        room = max_width - len(self.columns) - 1
        if room < 1:
            return None
        widest = [2 + max(cell_len(row[index][0]) for row in cells) for index in range(len(self.columns))]
        widths = [min(width, room) for width in widest]
        if sum(widths) > room:
            widths = Table._collapse_widths(widths, [not no_wrap for _, _, no_wrap in self.columns], room)
            if sum(widths) > room:  # rich narrows every column then, no_wrap or not
                return None
        if any(no_wrap and width < full for (_, _, no_wrap), width, full in zip(self.columns, widths, widest)):
            return None
        if any(width < 3 for width in widths):  # no room beside the padding: rich draws such a column otherwise
            return None
        return widths

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
    if not isinstance(cell, Text) or cell.justify or cell.overflow or cell.no_wrap or cell.end != "\n":
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


def _wrapped(
    console: Console, cell: Plain, width: int, justify: Justify, pad: Style, style: Style
) -> list[list[Segment]]:
    """A cell wider than `width` cells wrapped at its words into lines as rich's Table draws them: rich's own
    Text.wrap (the column's justify, its overflow "ellipsis": a word wider than `width` cut short), the lines
    joined and rendered as the Text renders them, each padded to `width` in the Padding's style `pad`, then the
    Padding's spaces, every segment in the cell's `style` (see _cell)."""
    plain, own, spans = cell
    wrapped = Text(plain, style=own, spans=list(spans)).wrap(console, width, justify=justify, overflow="ellipsis")
    segments: Iterable[Segment] = Text("\n").join(wrapped).render(console, end="\n")
    if pad:
        segments = Segment.apply_style(segments, pad)
    lines = []
    for line in Segment.split_and_crop_lines(segments, width, style=pad, include_new_lines=False):
        parts = [Segment(" ", pad), *line, Segment(" ", pad)]
        lines.append([Segment(t, style + s) for t, s, _ in parts] if style else parts)
    return lines


def _longest_word(plain: str) -> int:
    """The width of the widest of a line's words, as rich measures a Text's minimum."""
    return max((cell_len(word) for word in plain.split()), default=cell_len(plain))


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
