"""The words of a verdict, shared by the engine, the CLI, the TUI and the progress store (no torch, no UI)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Status = Literal["exact", "close", "wrong", "shape", "missing", "invalid"]
PASSING: tuple[Status, ...] = ("exact", "close")

# Rich style strings per status, for the CLI table and the TUI alike.
STATUS_STYLE: dict[str, str] = {
    "exact": "bold green",
    "close": "green",
    "wrong": "bold red",
    "shape": "bold magenta",
    "missing": "dim",
    "invalid": "bold yellow",
}


def fmt_shape(shape: Sequence[int] | None) -> str:
    """A shape as Python prints a tuple: (32, 27), (27,), or — when there is none."""
    if shape is None:
        return "—"
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
