"""A live line plot of log10 loss per step (the lecture's `plt.plot(lossi)`), drawn in braille characters.

Each character cell holds 2×4 dots; a column of dots is the mean of its slice of the steps, so 10,000
noisy steps become a curve as wide as the widget. The x axis spans the run's requested steps from the
start, so the curve grows to the right as training goes. The learner's curve is drawn over autograd's.
"""

from __future__ import annotations

import math

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tutor.ui.words import say

# Dot bits of a braille cell, by (column, row) inside the 2×4 cell.
DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
BRAILLE = 0x2800
AXIS_WIDTH = 7  # "0.412 ┤"


def column_means(values: list[float], columns: int, total: int) -> list[float | None]:
    """Mean of the values that fall in each of `columns` equal slices of `total` steps (None: none yet)."""
    total = max(total, len(values), 1)
    sums = [0.0] * columns
    counts = [0] * columns
    for i, v in enumerate(values):
        if math.isfinite(v):
            c = min(columns - 1, i * columns // total)
            sums[c] += v
            counts[c] += 1
    return [s / n if n else None for s, n in zip(sums, counts)]


def plot_rows(series: dict[str, list[float]], total: int, width: int, height: int,
              styles: dict[str, Style]) -> tuple[list[Text], float, float] | None:
    """Rows of braille text (width × height cells), each cell in its series' style, and the y range shown."""
    dots_x, dots_y = width * 2, height * 4
    means = {name: column_means(values, dots_x, total) for name, values in series.items()}
    seen = [m for ms in means.values() for m in ms if m is not None]
    if not seen:
        return None
    low, high = min(seen), max(seen)
    span = (high - low) or 1.0
    bits = [[0] * width for _ in range(height)]
    owner: list[list[str | None]] = [[None] * width for _ in range(height)]
    for name in series:  # later series draw over earlier ones
        previous: int | None = None
        for x, m in enumerate(means[name]):
            if m is None:
                previous = None
                continue
            y = round((high - m) / span * (dots_y - 1))
            top, bottom = (y, y) if previous is None else (min(y, previous), max(y, previous))
            for yy in range(top, bottom + 1):  # join to the previous column so the curve reads as a line
                row, col = yy // 4, x // 2
                bits[row][col] |= DOTS[x % 2][yy % 4]
                owner[row][col] = name
            previous = y
    rows = []
    for r in range(height):
        text = Text()
        for c in range(width):
            name = owner[r][c]
            text.append(chr(BRAILLE + bits[r][c]), style=styles.get(name, "") if name else "")
        rows.append(text)
    return rows, low, high


class LossPlot(Widget):
    """Give it series of log10 losses with set_series(); it redraws at its own size."""

    COMPONENT_CLASSES = {"loss-plot--learner", "loss-plot--reference"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.series: dict[str, list[float]] = {}
        self.total = 1

    def set_series(self, series: dict[str, list[float]], total: int) -> None:
        self.series = {name: values for name, values in series.items() if values}
        self.total = max(1, total)
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width - AXIS_WIDTH, self.size.height - 1
        if width < 4 or height < 2:
            return Text("")
        styles = {name: self.get_component_rich_style(f"loss-plot--{name}", partial=True) for name in self.series}
        drawn = plot_rows(self.series, self.total, width, height, styles)
        if drawn is None:
            return Text(say("plot-empty", self.app.lang), style="dim")
        rows, low, high = drawn
        out = Text(no_wrap=True, overflow="crop")
        for r, row in enumerate(rows):
            label = f"{high:.3f}" if r == 0 else f"{low:.3f}" if r == height - 1 else f"{(high + low) / 2:.3f}" if r == height // 2 else ""
            out.append(f"{label:>5} {'┤' if label else '│'}", style="dim")
            out.append_text(row)
            out.append("\n")
        end = say("plot-steps", self.app.lang, steps=self.total)
        axis = say("plot-axis", self.app.lang)
        room = max(0, width - cell_len(end))  # in cells: Chinese characters take two
        out.append(f"{'':>5} └{axis}{' ' * max(0, room - cell_len(axis))}{end}", style="dim")
        return out
