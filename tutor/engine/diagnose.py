"""Say what a wrong gradient most likely is: sign, scale, transpose, reduce, keepdim, branch or a course mistake.

Runs in the tutor process against the reference (never in the sandboxed child). Each diagnoser builds a
candidate wrong answer from the correct gradient and names it only when the candidate explains the
learner's tensor within tolerance and is itself distinguishable from the right answer.

A diagnosis is a code (the kind of mistake) and a message (tutor.messages): the words come from the
catalogue where the diagnosis is shown, or from the course for the mistakes it describes itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from types import CodeType
from typing import Any

import torch
import torch.nn.functional as F

from tutor.course.model import Exercise, Step
from tutor.engine.branches import tensor_uses
from tutor.engine.compare import aligned
from tutor.engine.context import Context
from tutor.messages import Message, message
from tutor.reports.check import Diagnosis, fmt_shape

# Looser than a pass: a candidate rebuilt from the reference differs from the learner's own arithmetic
# by float noise in another order of operations.
RTOL, ATOL_REL, ATOL_MIN = 1e-4, 1e-5, 1e-7


def explains(candidate: torch.Tensor | None, actual: torch.Tensor) -> bool:
    """The learner's tensor equals the candidate (up to leading 1s in the shape) within tolerance."""
    if candidate is None:
        return False
    shaped = aligned(candidate, actual)
    if shaped is None or not bool(torch.isfinite(shaped).all()):
        return False
    candidate = candidate.to(shaped.dtype)
    scale = float(candidate.abs().max()) if candidate.numel() else 0.0
    return bool(torch.allclose(shaped, candidate, rtol=RTOL, atol=max(ATOL_MIN, ATOL_REL * scale)))


def _named_constants(n: int) -> list[tuple[float, Message]]:
    return [
        (float(n), message("factor-n", n=n)),
        (1.0 / n, message("factor-inverse-n", n=n)),
        (n / (n - 1), message("factor-bessel-missing")),
        ((n - 1) / n, message("factor-bessel-extra", divisor=n - 1)),
        (2.0, message("factor-two")),
        (0.5, message("factor-half")),
    ]


@lru_cache(maxsize=512)
def _compiled(expr: str, filename: str) -> CodeType:
    return compile(expr, filename, "eval")


def _mistake_values(exercise: Exercise, step: Step, ctx: Context) -> Iterator[tuple[Any, torch.Tensor]]:
    """Course-authored wrong answers of `step`, evaluated once per context (course code is trusted)."""
    cache: dict[tuple, list[tuple[Any, torch.Tensor]]] = ctx.derived.setdefault("mistakes", {})
    key = (step.name, step.mistakes)
    if key not in cache:
        found = []
        for mistake in step.mistakes:
            ns: dict[str, Any] = {"torch": torch, "F": F, **ctx.scalars}
            ns.update({k: v.clone() for k, v in ctx.inputs.items()})
            # the gradients the learner's line read: autograd's, or in the local-rule run the injected ones
            ns.update({k: v.clone() for k, v in ctx.derived.get("gradients", ctx.reference).items()})
            try:
                value = eval(_compiled(mistake.expr, f"<{exercise.id}: {step.name} mistake>"), ns)  # noqa: S307
            except Exception:  # noqa: BLE001 - a broken course expression diagnoses nothing (the course test catches it)
                continue
            if isinstance(value, torch.Tensor):
                found.append((mistake, value.detach().to(ctx.reference[step.name].dtype).cpu()))
        cache[key] = found
    yield from cache[key]


def _course(exercise: Exercise, step: Step, ctx: Context, expected: torch.Tensor, actual: torch.Tensor) -> Diagnosis | None:
    for mistake, value in _mistake_values(exercise, step, ctx):
        if tuple(value.shape) == tuple(expected.shape) and explains(value, actual) and _apart(value, expected, actual):
            return Diagnosis(mistake.code, message("course", text=mistake.message, text_zh=mistake.text("message", "zh")))
    return None


def _apart(mistake: torch.Tensor, expected: torch.Tensor, actual: torch.Tensor) -> bool:
    """The mistake is not the right answer: far from it, or (a near miss such as a dropped epsilon) the
    learner's tensor is ten times closer to the mistake than to the answer."""
    if not explains(mistake, expected):
        return True
    off_mistake = float((actual - mistake).abs().max()) if actual.numel() else 0.0
    off_answer = float((actual - expected).abs().max()) if actual.numel() else 0.0
    return off_answer > 10 * off_mistake


def _keepdim(step: Step, expected: torch.Tensor, actual: torch.Tensor) -> Diagnosis | None:
    if actual.dim() >= expected.dim() or actual.numel() != expected.numel():
        return None
    if [d for d in actual.shape if d != 1] != [d for d in expected.shape if d != 1]:
        return None
    if explains(expected, actual.reshape(expected.shape)):
        words = message("keepdim", shape=fmt_shape(tuple(actual.shape)), of=step.of, expected=fmt_shape(tuple(expected.shape)))
        return Diagnosis("keepdim", words)
    return None


def _sign(step: Step, expected: torch.Tensor, actual: torch.Tensor) -> Diagnosis | None:
    if explains(-expected, actual) and not explains(-expected, expected):
        return Diagnosis("sign", message("sign"))
    return None


def _transpose(step: Step, expected: torch.Tensor, actual: torch.Tensor) -> Diagnosis | None:
    flipped = expected.T.contiguous() if expected.dim() == 2 else None
    if flipped is not None and actual.dim() == 2 and explains(flipped, actual) and not explains(flipped, expected):
        return Diagnosis("transpose", message("transpose", name=step.name, of=step.of, expected=fmt_shape(tuple(expected.shape))))
    return None


def _reduce(exercise: Exercise, step: Step, ctx: Context, expected: torch.Tensor, actual: torch.Tensor) -> Diagnosis | None:
    for use in tensor_uses(exercise, ctx).get(step.of, []):
        if use.unreduced is None:
            continue
        full = use.unreduced.cpu()  # the context may live on a GPU; the tensors judged here are on the CPU
        where = {
            "axes": ", ".join(str(a) for a in use.axes), "line": use.line, "of": step.of,
            "expected": fmt_shape(tuple(expected.shape)), "full": fmt_shape(tuple(full.shape)),
        }
        if tuple(actual.shape) == tuple(full.shape) and explains(
            expected, actual.sum(use.axes, keepdim=True).reshape(expected.shape)
        ):
            return Diagnosis("reduce", message("reduce-unsummed", **where))
        for axis in range(full.dim()):
            if axis in use.axes:
                continue
            for keepdim in (True, False):
                wrong = full.sum(axis, keepdim=keepdim)
                if tuple(wrong.shape) == tuple(actual.shape) and explains(wrong, actual) and not explains(wrong, expected):
                    return Diagnosis("reduce", message("reduce-wrong-axis", axis=axis, **where))
    # no broadcast found in the forward code: still say when one more sum over some axis gives the answer
    if actual.dim() > 0 and actual.numel() > expected.numel():
        for axis in range(actual.dim()):
            for keepdim in (True, False):
                summed = actual.sum(axis, keepdim=keepdim)
                if aligned(expected, summed) is not None and explains(expected, summed):
                    return Diagnosis("reduce", message("reduce-sum-yours", axis=axis))
    return None


def _branch(exercise: Exercise, step: Step, ctx: Context, expected: torch.Tensor, actual: torch.Tensor) -> Diagnosis | None:
    uses = tensor_uses(exercise, ctx).get(step.of, [])
    if len(uses) < 2:
        return None
    for use in uses:
        contribution = use.contribution.cpu()
        if explains(contribution, actual) and not explains(contribution, expected):
            others = "; ".join(f"`{u.line}`" for u in uses if u is not use)
            return Diagnosis("branch", message("branch", line=use.line, of=step.of, others=others, name=step.name))
    return None


def _scale(ctx: Context, expected: torch.Tensor, actual: torch.Tensor) -> Diagnosis | None:
    if tuple(actual.shape) != tuple(expected.shape):
        return None
    e, a = expected.double().flatten(), actual.double().flatten()
    norm = float(e @ e)
    if norm == 0.0:
        return None
    k = float(a @ e) / norm
    if abs(k) < 1e-6 or abs(k - 1.0) < 1e-3 or not explains(k * expected, actual) or explains(k * expected, expected):
        return None
    for value, factor in _named_constants(ctx.scalars["n"]):
        if abs(abs(k) - value) <= 1e-3 * value:
            return Diagnosis("scale", message("scale" if k > 0 else "scale-flipped", factor=factor))
    return Diagnosis("scale", message("scale-constant", k=k))


def diagnose(exercise: Exercise, step: Step, ctx: Context, actual: torch.Tensor | None) -> Diagnosis | None:
    """The most likely mistake behind `actual` (a failing tensor of `step` on `ctx`), or None."""
    if actual is None or not actual.is_floating_point():
        return None
    expected = ctx.reference[step.name].detach().cpu()
    actual = actual.detach().cpu().to(expected.dtype)
    generic: list[Callable[[], Diagnosis | None]] = [
        lambda: _keepdim(step, expected, actual),
        lambda: _sign(step, expected, actual),
        lambda: _transpose(step, expected, actual),
        lambda: _reduce(exercise, step, ctx, expected, actual),
        lambda: _branch(exercise, step, ctx, expected, actual),
        lambda: _scale(ctx, expected, actual),
    ]
    found = next((d for d in (check() for check in generic) if d is not None), None)
    authored = _course(exercise, step, ctx, expected, actual)
    if authored is None:
        return found
    if found is not None and authored.code == "course":
        # The generic code labels the kind of mistake; the course's words alone say why, in the lecture's terms.
        return Diagnosis(found.code, authored.message)
    return authored


def batch_sizes(ctx: Context) -> Message:
    """The sizes a context's batch drew, as a message (n=..., vocab_size=..., then the pack's own sizes)."""
    s = ctx.scalars
    names = ctx.varied or tuple(k for k in s if k != "batch_size")
    return message("batch-sizes", sizes=", ".join(f"{k}={s[k]}" for k in names))


def size_diagnosis(first: Context, second: Context, stopped: str | None = None) -> Diagnosis:
    """A row right on the first batch and wrong on the second: a size written as a number? The message lists
    the first batch's sizes that the second one changes (and their products with the kept sizes), and the
    names to use instead."""
    a = first.scalars
    varied = first.varied or tuple(k for k in a if k != "batch_size")
    values = {a[k] for k in varied} | {a[k] * a[kept] for k in varied if k != "n" for kept in first.kept if kept in a}
    checked = ", ".join(map(str, sorted(values)))
    names = ", ".join(varied)
    if stopped:
        words = message("hard-coded-size-stopped", first=first.first_name, n=a["n"], stopped=stopped, second=batch_sizes(second), sizes=checked, names=names)
    else:
        words = message("hard-coded-size", first=first.first_name, n=a["n"], second=batch_sizes(second), sizes=checked, names=names)
    return Diagnosis("hard-coded-size", words)


__all__ = ["Diagnosis", "batch_sizes", "diagnose", "explains", "size_diagnosis"]
