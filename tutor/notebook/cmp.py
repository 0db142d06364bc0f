"""The lecture's `cmp(name, dt, t)` for a learner's own notebook, with a shape check that never broadcasts and
the likely mistake (keepdim, sign, transpose, reduce, scale) read off the two tensors.

`t.grad` (from the learner's `loss.backward()`) is the reference, as in the lecture. The lecture's helper
compares with `==` and `allclose`, which broadcast: a (32,) gradient against (32, 1) compares a (32, 32) grid
and can even pass. Here shapes must agree, up to leading 1s (which broadcast exactly like the right shape).
"""

from __future__ import annotations

import torch

from tutor.engine.compare import aligned
from tutor.engine.diagnose import explains
from tutor.reports.check import fmt_shape


def _forward_line(name: str) -> str | None:
    """The course's forward line of the tensor `name` (exercise 1 names them all), for the messages."""
    try:
        from tutor.course import load_course

        for exercise in load_course().exercises:
            for step in exercise.steps:
                if step.of == name or step.name == name:
                    return step.line
    except Exception:  # noqa: BLE001 - a message without the forward line is still right
        return None
    return None


def _factors(shape: tuple[int, ...]) -> list[tuple[float, str]]:
    """Constants a gradient is typically off by, from the sizes at hand (the batch size is one of them)."""
    found: list[tuple[float, str]] = [(2.0, "2 (d(x**2) = 2x counted twice?)"), (0.5, "1/2 (a factor 2 is missing?)")]
    for d in sorted({d for d in shape if d > 2}):
        found += [
            (float(d), f"{d}: a 1/{d} is missing (a mean's 1/n?)"),
            (1.0 / d, f"1/{d}: a 1/{d} too many"),
            (d / (d - 1), f"{d}/{d - 1}: Bessel's correction, 1/(n-1) used where the forward pass has 1/n"),
            ((d - 1) / d, f"{d - 1}/{d}: Bessel's correction, the forward pass divides by n-1"),
        ]
    return found


def likely_mistake(expected: torch.Tensor, actual: torch.Tensor, of: str = "t") -> tuple[str, str] | None:
    """(code, message) of the mistake that turns `expected` into `actual` within tolerance, or None."""
    expected, actual = expected.detach().cpu().double(), actual.detach().cpu().double()
    eshape, ashape = tuple(expected.shape), tuple(actual.shape)
    line = _forward_line(of)
    where = f" (forward: `{line}`)" if line else ""
    if actual.dim() < expected.dim() and actual.numel() == expected.numel() and [d for d in ashape if d != 1] == [d for d in eshape if d != 1]:
        if explains(expected, actual.reshape(eshape)):
            return "keepdim", f"right values, but shape {fmt_shape(ashape)} drops a dimension of {fmt_shape(eshape)}: sum with keepdim=True{where}"
    if actual.numel() > expected.numel() and actual.dim() > 0:
        for axis in range(actual.dim()):
            for keepdim in (True, False):
                summed = actual.sum(axis, keepdim=keepdim)
                if aligned(expected, summed) is not None and explains(expected, summed):
                    return "reduce", (
                        f"not summed over axis {axis}: the forward pass broadcasts {of} {fmt_shape(eshape)}, so its "
                        f"gradient sums over the broadcast axis{where}"
                    )
    shaped = aligned(expected, actual)
    if shaped is None:
        if expected.dim() == 2 and explains(expected.T.contiguous(), actual):
            return "transpose", f"the transpose of the right answer: the gradient has {of}'s shape {fmt_shape(eshape)}; check which operand of the matrix product is transposed"
        return None
    if explains(-expected, shaped) and not explains(-expected, expected):
        return "sign", "the negative of the right answer: a sign is flipped"
    if expected.dim() == 2 and eshape[0] == eshape[1] and explains(expected.T.contiguous(), shaped) and not explains(expected.T.contiguous(), expected):
        return "transpose", "the transpose of the right answer: check which operand of the matrix product is transposed"
    e, a = expected.flatten(), shaped.flatten()
    norm = float(e @ e)
    if norm > 0:
        k = float(a @ e) / norm
        if abs(k) > 1e-6 and abs(k - 1) > 1e-3 and explains(k * expected, shaped) and not explains(k * expected, expected):
            sign = " and the sign is flipped" if k < 0 else ""
            for value, words in _factors(eshape):
                if abs(abs(k) - value) <= 1e-3 * value:
                    return "scale", f"off by a factor of {words}{sign}"
            return "scale", f"right up to a constant: off by a factor of {k:.4g}"
    return None


def compare_lines(s: str, dt: object, t: object) -> list[str]:
    """What cmp prints: the lecture's line, then the shape check and the likely mistake when there is one."""
    label = f"{s:15s}"
    if not isinstance(t, torch.Tensor):
        return [f"{label} | the third argument must be the forward tensor (a torch.Tensor), not {type(t).__name__}"]
    grad = t.grad if t.is_leaf or t.retains_grad else None
    if grad is None:
        return [f"{label} | {s} has no .grad to compare with: call .retain_grad() on it before loss.backward()"]
    if not isinstance(dt, torch.Tensor):
        return [f"{label} | your gradient is a {type(dt).__name__}, not a tensor"]
    expected, actual = grad.detach(), dt.detach()
    if actual.device != expected.device or actual.dtype != expected.dtype:
        actual = actual.to(expected.device, expected.dtype)
    shaped = aligned(expected, actual)
    if shaped is None:
        lines = [
            f"{label} | exact: False | approximate: False | maxdiff: —  (shape {fmt_shape(tuple(dt.shape))}, "
            f"expected {fmt_shape(tuple(expected.shape))})",
            f"  shape: yours is {fmt_shape(tuple(dt.shape))}, {s}.grad is {fmt_shape(tuple(expected.shape))}: "
            "not compared (the lecture's cmp would broadcast them)",
        ]
    else:
        ex = bool(torch.equal(shaped, expected))
        app = bool(torch.allclose(shaped, expected))
        maxdiff = (shaped - expected).abs().max().item() if expected.numel() else 0.0
        lines = [f"{label} | exact: {str(ex):5s} | approximate: {str(app):5s} | maxdiff: {maxdiff}"]
        if shaped is not actual:
            lines.append(
                f"  note: shape {fmt_shape(tuple(dt.shape))} differs from {fmt_shape(tuple(expected.shape))} only by "
                "leading 1s, so it broadcasts the same way; keepdim=True gives the exact shape"
            )
        if app:
            return lines
    if actual.is_floating_point() and bool(torch.isfinite(actual).all()):
        found = likely_mistake(expected, actual, s)
        if found is not None:
            lines.append(f"  likely mistake ({found[0]}): {found[1]}")
    return lines


def cmp(s: str, dt: torch.Tensor, t: torch.Tensor) -> None:
    """Drop-in for the lecture's cmp: `cmp('logit_maxes', dlogit_maxes, logit_maxes)`."""
    print("\n".join(compare_lines(s, dt, t)))
