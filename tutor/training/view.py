"""A training run's results as Rich renderables, for the CLI's `train` and the TUI's training panel alike.

Both draw the same rows from a TrainingResult: the results table (each model's steps, losses, loop time and
rate, and their difference), the samples of both models, the agreement sentence and the ETA of a run. Only
the look differs: the terminal's full tables, or the panel's compact ones that fit 80 columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.table import Table

from tutor.reports.training import Trained, TrainingResult

SAMPLES_TITLE = "Samples (the lecture's seed)"
SAMPLES_TITLE_NO_LECTURE = "Samples (a fixed seed)"  # a pack that follows no lecture


@dataclass(frozen=True)
class TableLook:
    """How the tables are drawn: Table options, the loop time's header, the names' columns and their blocks."""

    results: Mapping[str, Any] = field(default_factory=dict)
    seconds: str = "loop seconds"
    samples: Mapping[str, Any] = field(default_factory=dict)
    names: Mapping[str, Any] = field(default_factory=dict)  # column options of the names
    headers: tuple[str, str] = ("your model", "autograd's model")
    blocks: int = 1  # at most this many blocks of names side by side


TERMINAL = TableLook()
PANEL = TableLook(
    results={"title_style": "bold", "box": box.SIMPLE_HEAD},
    seconds="seconds",
    samples={"title_style": "bold", "box": None, "padding": (0, 1), "header_style": "dim"},
    names={"no_wrap": True, "overflow": "ellipsis"},
    headers=("yours", "autograd"),
    blocks=2,
)


def eta_text(seconds: float | None) -> str:
    """Time left as m:ss, or --:-- before the rate is known."""
    if seconds is None:
        return "--:--"
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


def results_table(result: TrainingResult, look: TableLook = TERMINAL, title: str | None = None) -> Table:
    """The losses of both models; `title`: what was done to them before (the training's `calibrated` text,
    "After calibrating BatchNorm on the training set"), None for a model that nothing was done to."""
    table = Table(title=title or None, title_justify="left", **look.results)
    for column in ("model", "steps", "train loss", "val loss", look.seconds, "steps/s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    models: tuple[tuple[str, Trained | None], ...] = (("your gradients", result.learner), ("autograd", result.reference))
    for label, trained in models:
        if trained is None or not trained.loss:
            continue
        rate = f"{trained.steps / trained.seconds:,.0f}" if trained.seconds > 0 else "—"
        table.add_row(label, f"{trained.steps:,}", f"{trained.loss['train']:.4f}", f"{trained.loss['val']:.4f}",
                      f"{trained.seconds:.1f}", rate)
    difference = result.difference
    if difference:
        table.add_row("difference", "", f"{difference['train']:.1e}", f"{difference['val']:.1e}", "", "", style="dim")
    return table


def samples_table(result: TrainingResult, look: TableLook = TERMINAL, lecture: bool = True) -> Table:
    """The names of each model side by side (the panel's in two blocks of ten rows, to fit 80 columns);
    `lecture`: the pack follows a lecture, whose seed the samples are drawn with."""
    mine = result.learner.samples if result.learner else []
    theirs = result.reference.samples if result.reference else []
    blocks = min(look.blocks, 2 if len(mine) > 1 else 1)
    rows = -(-len(mine) // blocks)
    table = Table(title=SAMPLES_TITLE if lecture else SAMPLES_TITLE_NO_LECTURE, title_justify="left", **look.samples)
    for _ in range(blocks):
        table.add_column("#", justify="right", style="dim")
        table.add_column(look.headers[0], **look.names)
        if theirs:
            table.add_column(look.headers[1], **look.names)
    for r in range(rows):
        cells: list[str] = []
        for i in range(r, r + blocks * rows, rows):
            name = (mine[i] or "(empty)") if i < len(mine) else None
            cells += [str(i + 1) if name is not None else "", name or ""]
            if theirs:
                cells.append(theirs[i] if name is not None and i < len(theirs) else "")
        table.add_row(*cells)
    return table


def agreement(result: TrainingResult) -> str | None:
    """How close the two models' losses came, when both were evaluated."""
    difference = result.difference
    if not difference:
        return None
    return f"Your model and autograd's agree within {max(difference.values()):.1e} (train and val loss)."
