"""A grid of numbers as a picture in the terminal: two rows per line with half blocks, on a colour ramp."""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

from tutor.ui.words import say

# |yours - expected|: black (no difference) through red and orange to pale yellow (the largest).
HOT = ((0, 0, 0), (150, 20, 20), (240, 110, 20), (255, 250, 200))
# The gradient itself, as the lecture's imshow(cmap="gray"): most negative black, zero grey, most positive white.
GRAY = ((0, 0, 0), (128, 128, 128), (255, 255, 255))
NOT_FINITE = Color.from_rgb(220, 0, 220)
MAX_WIDTH = 64


def ramp(stops: tuple[tuple[int, int, int], ...], x: float) -> Color:
    x = min(1.0, max(0.0, x))
    pos = x * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    a, b = stops[i], stops[i + 1]
    return Color.from_rgb(*(round(a[k] + (b[k] - a[k]) * f) for k in range(3)))


class Heatmap:
    """Renders grid["cells"] (rows of floats or None); signed grids are centred on zero."""

    def __init__(self, grid: dict[str, Any], signed: bool = False) -> None:
        self.cells: list[list[float | None]] = grid["cells"]
        self.top = float(grid.get("max") or 0.0)
        self.signed = signed
        cols = max((len(r) for r in self.cells), default=1)
        # Narrow grids get wider cells, so a (32, 1) column or a (27, 10) matrix is still visible.
        self.stretch = max(1, min(4, MAX_WIDTH // max(cols, 1)))

    def colour(self, value: float | None) -> Color:
        if value is None:
            return NOT_FINITE
        if self.top <= 0:
            return ramp(GRAY if self.signed else HOT, 0.5 if self.signed else 0.0)
        if self.signed:
            return ramp(GRAY, 0.5 + 0.5 * value / self.top)
        return ramp(HOT, abs(value) / self.top)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = self.cells
        for i in range(0, len(rows), 2):
            upper = rows[i]
            lower = rows[i + 1] if i + 1 < len(rows) else None
            for j, value in enumerate(upper):
                fg = self.colour(value)
                bg = self.colour(lower[j]) if lower is not None else None
                yield Segment("▀" * self.stretch, Style(color=fg, bgcolor=bg))
            yield Segment.line()


def legend(signed: bool, lang: str = "en") -> list[tuple[str, Style]]:
    """A short colour key to print under a heatmap: (text, style) pieces for Text.assemble."""
    stops = ((0.0, "most-negative"), (0.5, "zero"), (1.0, "most-positive")) if signed else (
        (0.0, "same"), (0.5, "off"), (1.0, "most-off"))
    pieces: list[tuple[str, Style]] = []
    for x, label in stops:
        words = say(f"legend-{label}", lang)
        pieces += [("  ", Style(bgcolor=ramp(GRAY if signed else HOT, x))), (f" {words}   ", Style())]
    return pieces
