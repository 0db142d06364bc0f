"""Small pictures of a gradient for the TUI: downsampled |yours - expected| grids and the gradient itself."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from tutor.engine.compare import aligned

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
