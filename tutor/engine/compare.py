"""Judge one learner tensor against autograd's: exact, close, wrong, shape, missing or invalid.

A verdict's note is a message (tutor.messages): a code and its parameters, put into words where it is shown."""

from __future__ import annotations

import math
from typing import Any

import torch

from tutor.messages import Message, message
from tutor.process.wire import dtype_name
from tutor.reports.check import Status, TensorVerdict, fmt_shape
from tutor.sandbox.results import LearnerValue

__all__ = ["TOLERANCES", "aligned", "compare", "compare_all", "tolerance"]


# (rtol, atol) for "close", by device type and dtype. float32 on the CPU is torch.allclose's default
# rtol with a slightly wider atol, so a value that is ~0 in truth (dlogit_maxes) is not failed for float
# noise; the GPU's reductions run in other orders, hence ten times wider there.
TOLERANCES: dict[tuple[str, str], tuple[float, float]] = {
    ("cpu", "float32"): (1e-5, 1e-7),
    ("cuda", "float32"): (1e-4, 1e-6),
    ("cpu", "float64"): (1e-9, 1e-12),
    ("cuda", "float64"): (1e-8, 1e-11),
    ("cpu", "float16"): (1e-2, 1e-4),
    ("cuda", "float16"): (1e-2, 1e-4),
    ("cpu", "bfloat16"): (2e-2, 1e-3),
    ("cuda", "bfloat16"): (2e-2, 1e-3),
}


def tolerance(device: str, dtype: torch.dtype) -> tuple[float, float]:
    return TOLERANCES.get((device, dtype_name(dtype)), (1e-5, 1e-7))


def _strip_leading_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    i = 0
    while i < len(shape) and shape[i] == 1:
        i += 1
    return shape[i:]


def aligned(expected: torch.Tensor, actual: torch.Tensor) -> torch.Tensor | None:
    """The learner's tensor in the expected shape, when it differs at most by leading 1s."""
    if tuple(actual.shape) == tuple(expected.shape):
        return actual
    if _strip_leading_ones(tuple(actual.shape)) == _strip_leading_ones(tuple(expected.shape)):
        return actual.reshape(expected.shape)
    return None


def _broadcasts_alike(shape: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """Equal, or equal but for leading 1s (what aligned() accepts)."""
    return _strip_leading_ones(tuple(shape)) == _strip_leading_ones(tuple(expected))


def compare(
    name: str, of: str, expected: torch.Tensor, value: LearnerValue, device: str, atol_relative: float = 0.0
) -> TensorVerdict:
    """`atol_relative` widens atol to that fraction of the expected tensor's largest entry (for values that
    are sums of random terms, whose float noise scales with the terms, not with the sum)."""
    expected = expected.detach().cpu()
    exp_shape = tuple(expected.shape)

    def verdict(status: Status, note: Message | None = None, **kw: Any) -> TensorVerdict:
        return TensorVerdict(name, of, status, exp_shape, value.shape, notes=[note] if note else [], **kw)

    shape, want_shape = fmt_shape(value.shape), fmt_shape(exp_shape)
    if value.kind == "missing":
        return verdict("missing", message("not-assigned", name=name))
    if value.kind == "other":
        return verdict("invalid", message("not-a-tensor", name=name, type=value.type_name))
    want_dtype = dtype_name(expected.dtype)
    if value.device != device:
        return verdict("invalid", message("wrong-device", name=name, device=value.device, expected=device))
    if value.dtype != want_dtype:
        return verdict("invalid", message("wrong-dtype", name=name, dtype=value.dtype, expected=want_dtype))
    actual = value.tensor
    if actual is None and value.shape is not None and not _broadcasts_alike(value.shape, exp_shape):
        # too large to travel (only its metadata did): its shape alone is the verdict
        return verdict("shape", message("shape-differs", shape=shape, of=of, expected=want_shape))
    if actual is None:
        return verdict("invalid", message("unreadable", name=name, dtype=value.dtype, shape=shape))
    shaped = aligned(expected, actual)
    if shaped is None:
        return verdict("shape", message("shape-differs", shape=shape, of=of, expected=want_shape))
    note = None
    if shaped is not actual:
        note = (
            message("leading-ones-keepdim", shape=shape, expected=want_shape) if len(value.shape or ()) < len(exp_shape)
            else message("leading-ones-view", shape=shape, expected=want_shape, of=of)
        )
    rtol, atol = tolerance(device, expected.dtype)
    if expected.numel():
        gap = (shaped - expected).abs()
        diff = float(gap.max())  # NaN or inf when the learner's tensor holds any
        if not math.isfinite(diff) and not bool(torch.isfinite(shaped).all()):
            bad = int((~torch.isfinite(shaped)).sum())
            return verdict("invalid", message("non-finite", name=name, count=bad))
        if atol_relative:
            atol = max(atol, atol_relative * float(expected.abs().max()))
        # torch.allclose's rule, on the gap computed once: |a - e| <= atol + rtol * |e|
        exact = diff == 0.0
        close = exact or diff <= atol or bool((gap <= atol + rtol * expected.abs()).all())
    else:
        diff, exact, close = 0.0, True, True
    status: Status = "exact" if exact else "close" if close else "wrong"
    return verdict(status, note, max_abs_diff=diff, exact=exact, close=close)


def compare_all(
    rows: list[tuple[str, str]],
    expected: list[torch.Tensor],
    values: list[LearnerValue],
    device: str,
    atol_relative: float = 0.0,
) -> list[TensorVerdict]:
    """compare() for many (name, of) rows at once: every plain, same-shaped tensor with a finite gap is judged
    in a few batched calls (its largest gap, then, for the rows beyond atol, torch.allclose's rule); every
    other row goes through compare() itself, so the verdicts are the same."""
    fast: list[int] = []
    for i, (value, want) in enumerate(zip(values, expected)):
        t = value.tensor
        if (
            value.kind == "tensor" and t is not None and value.device == device and t.device.type == want.device.type
            and t.dtype == want.dtype and tuple(t.shape) == tuple(want.shape) and want.numel() > 0
        ):
            fast.append(i)
    quick: dict[int, TensorVerdict] = {}
    if fast:
        wants = [expected[i] for i in fast]
        diffs = torch._foreach_sub([values[i].tensor for i in fast], wants)  # type: ignore[misc]
        gaps = torch.stack(torch._foreach_norm(diffs, float("inf"))).tolist()
        scales = torch.stack(torch._foreach_norm(wants, float("inf"))).tolist() if atol_relative else []
        limits: list[tuple[float, float]] = []
        for k, i in enumerate(fast):
            rtol, atol = tolerance(device, expected[i].dtype)
            limits.append((rtol, max(atol, atol_relative * scales[k]) if atol_relative else atol))
        beyond = [k for k, gap in enumerate(gaps) if math.isfinite(gap) and gap > limits[k][1]]
        close_beyond: dict[int, bool] = {}
        if beyond:
            # |a - e| <= atol + rtol * |e| everywhere, computed as torch.allclose computes it
            bounds = torch._foreach_mul(torch._foreach_abs([wants[k] for k in beyond]), [limits[k][0] for k in beyond])
            bounds = torch._foreach_add(bounds, [limits[k][1] for k in beyond])
            over = torch._foreach_sub(torch._foreach_abs([diffs[k] for k in beyond]), bounds)
            torch._foreach_clamp_min_(over, 0.0)
            worst = torch.stack(torch._foreach_norm(over, float("inf"))).tolist()
            close_beyond = {k: w == 0.0 for k, w in zip(beyond, worst)}
        for k, i in enumerate(fast):
            gap = gaps[k]
            if not math.isfinite(gap):
                continue  # compare() says how many NaN or infinite values it holds
            exact = gap == 0.0
            close = gap <= limits[k][1] or close_beyond.get(k, False)
            name, of = rows[i]
            quick[i] = TensorVerdict(
                name, of, "exact" if exact else "close" if close else "wrong", tuple(expected[i].shape),
                values[i].shape, max_abs_diff=gap, exact=exact, close=close,
            )
    return [
        quick[i] if i in quick else compare(rows[i][0], rows[i][1], expected[i], values[i], device, atol_relative)
        for i in range(len(rows))
    ]
