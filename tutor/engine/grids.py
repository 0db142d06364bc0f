"""Small pictures of a gradient for the TUI: downsampled |yours - expected| grids and the gradient itself.

A row right on the lecture's batch and wrong only on a second one (a size written as a number) has nothing to
show on the lecture's batch: its difference is drawn on the second batch, and its grid says which
(`"batch"`: a message naming that batch's sizes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from tutor.engine.compare import aligned
from tutor.engine.context import Context
from tutor.engine.diagnose import batch_sizes
from tutor.messages import message
from tutor.reports.check import TensorVerdict
from tutor.sandbox.results import LearnerRun

MAX_ROWS, MAX_COLS = 32, 64


def as_matrix(t: torch.Tensor) -> torch.Tensor:
    """Any tensor as rows x columns: a scalar is 1x1, a vector one row, higher ranks keep their first axis."""
    t = t.detach().to("cpu", torch.float64)
    if t.dim() == 0:
        return t.reshape(1, 1)
    if t.dim() == 1:
        return t.reshape(1, -1)
    return t.reshape(t.shape[0], -1)


def downsample(m: torch.Tensor, reduce: str) -> torch.Tensor:
    """Shrink to at most MAX_ROWS x MAX_COLS; "absmax" keeps the worst cell of each block (a lone wrong
    entry stays visible), "mean" averages (for the gradient's own picture)."""
    rows, cols = m.shape
    out = (min(rows, MAX_ROWS), min(cols, MAX_COLS))
    if out == (rows, cols):
        return m
    batch = m.unsqueeze(0).unsqueeze(0)
    if reduce == "absmax":
        pooled = F.adaptive_max_pool2d(batch.abs(), out)
    else:
        pooled = F.adaptive_avg_pool2d(batch, out)
    return pooled[0, 0]


def _cells(m: torch.Tensor) -> list[list[float | None]]:
    # Three significant digits are plenty for a colour; None marks a NaN or infinite cell.
    return [[float(f"{x:.3g}") if x == x and abs(x) != float("inf") else None for x in row] for row in m.tolist()]


def grid(m: torch.Tensor, reduce: str, shape: tuple[int, ...]) -> dict[str, Any]:
    small = downsample(m, reduce)
    finite = small[torch.isfinite(small)]
    return {
        "shape": list(shape),
        "rows": int(small.shape[0]),
        "cols": int(small.shape[1]),
        "downsampled": tuple(small.shape) != tuple(m.shape),
        "max": float(finite.abs().max()) if finite.numel() else 0.0,
        "cells": _cells(small),
    }


def tensor_grids(expected: torch.Tensor, actual: torch.Tensor | None) -> dict[str, Any]:
    """{"diff": grid of |actual - expected| or None, "value": grid of the learner's tensor or None}."""
    if actual is None:
        return {"diff": None, "value": None}
    expected = expected.detach().cpu()
    shaped = aligned(expected, actual.detach().cpu())
    value = grid(as_matrix(actual), "mean", tuple(actual.shape))
    if shaped is None or not shaped.is_floating_point():
        return {"diff": None, "value": value}
    diff = (shaped.to(torch.float64) - expected.to(torch.float64)).abs()
    diff[~torch.isfinite(shaped)] = float("nan")
    return {"diff": grid(as_matrix(diff), "absmax", tuple(expected.shape)), "value": value}


def row_grids(name: str, runs: Sequence[tuple[Context, LearnerRun]], verdict: TensorVerdict | None) -> dict[str, Any]:
    """The pictures of row `name` after a check whose runs were `runs` (the lecture's batch first): the
    learner's gradient on the lecture's batch, and its difference there, or on the second batch for a row
    that fails only there."""
    ctx, run = runs[0]
    found = tensor_grids(ctx.reference[name], run.value(name).tensor)
    if verdict is not None and verdict.extra.get("second_only") and len(runs) > 1:
        other_ctx, other = runs[1]
        diff = tensor_grids(other_ctx.reference[name], other.value(name).tensor)["diff"]
        if diff is not None:
            found["diff"] = {**diff, "batch": message("grid-second-batch", sizes=batch_sizes(other_ctx), first=ctx.first_name)}
    return found
