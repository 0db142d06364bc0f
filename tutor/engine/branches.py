"""Where each forward tensor's gradient comes from: one contribution per statement that uses it.

Read off the course's forward code (TOML), never from per-exercise Python: every load of a step's
forward tensor is wrapped in a "tap" (an identity view, or an expand to the broadcast shape when the
tensor is an operand of an arithmetic operator that broadcasts it), the forward pass is re-run with the
parameters as leaves, and one backward pass gives, per tap, the gradient that flows through that use.

- A tensor used by two statements (counts, logits, bndiff, hprebn in exercise 1) has two contributions
  that add up to its gradient: a learner who forgot one has exactly the other (diagnosis `branch`).
- A tensor broadcast by an operator (b2 in `h @ W2 + b2`, bngain in `bngain * bnraw`) has an
  unreduced gradient in the broadcast shape; the true gradient sums it over the broadcast axes
  (diagnosis `reduce`).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F

from tutor.course.model import Exercise
from tutor.engine.context import Context

TAP = "__tutor_tap__"


@dataclass(frozen=True)
class Use:
    """One statement of the forward pass that reads `tensor`, and the gradient that flows through it."""

    tensor: str
    line: str
    contribution: torch.Tensor  # in the tensor's own shape
    unreduced: torch.Tensor | None = None  # in the broadcast shape, before summing; None without broadcast
    axes: tuple[int, ...] = ()  # axes of `unreduced` that the true gradient sums over
    key: str = ""  # "tensor@statement": the use's place in the forward code


class _Taps(ast.NodeTransformer):
    """Wrap each load of a watched name in TAP(name_value, key, may_expand)."""

    def __init__(self, names: set[str], index: int) -> None:
        self.names, self.index = names, index

    def _tap(self, node: ast.Name, expand: bool) -> ast.expr:
        key = f"{node.id}@{self.index}"
        call = ast.Call(ast.Name(TAP, ast.Load()), [node, ast.Constant(key), ast.Constant(expand)], [])
        return ast.copy_location(call, node)

    def _watched(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.names

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        # only a direct operand of an arithmetic operator is broadcast by it, so only there may a tap expand
        node.left = self._tap(node.left, True) if self._watched(node.left) else self.visit(node.left)  # type: ignore[arg-type]
        node.right = self._tap(node.right, True) if self._watched(node.right) else self.visit(node.right)  # type: ignore[arg-type]
        return node

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self._tap(node, False) if self._watched(node) else node


def _result_shape(stmt: ast.stmt, ctx: Context) -> tuple[int, ...] | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        value = ctx.inputs.get(stmt.targets[0].id)
        if isinstance(value, torch.Tensor):
            return tuple(value.shape)
    return None


def _broadcast_axes(shape: tuple[int, ...], full: tuple[int, ...]) -> tuple[int, ...]:
    padded = (1,) * (len(full) - len(shape)) + shape
    return tuple(i for i, (a, b) in enumerate(zip(padded, full)) if a == 1 and b != 1)


@dataclass
class Trace:
    """One backward pass through the tapped forward code: per watched tensor its gradient and its uses."""

    grads: dict[str, torch.Tensor]
    uses: dict[str, list[Use]]


@dataclass(frozen=True)
class TappedProgram:
    """The forward code with its taps, compiled once per exercise: per statement its code object and the names
    it assigns, and the source of each watched tensor's use (by "name@statement")."""

    statements: tuple[ast.stmt, ...]
    codes: tuple[tuple[Any, frozenset[str]], ...]
    sources: dict[str, str]


@lru_cache(maxsize=64)
def _tapped_program(exercise_id: str, forward: str, watched: frozenset[str]) -> TappedProgram:
    """Parsed, tapped and compiled once: every diagnosis of every check of the exercise traces the same code
    (the course's, never the learner's)."""
    tree = ast.parse(forward)
    lines = forward.splitlines()
    codes: list[tuple[Any, frozenset[str]]] = []
    sources: dict[str, str] = {}
    for index, stmt in enumerate(tree.body):
        segment = ast.get_source_segment(forward, stmt) or lines[stmt.lineno - 1]
        sources.update({f"{name}@{index}": segment for name in watched})
        targets = frozenset(n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
        taps = _Taps(set(watched), index).visit(copy.deepcopy(stmt))  # tapping changes what it visits
        tapped = ast.fix_missing_locations(ast.Module(body=[taps], type_ignores=[]))
        codes.append((compile(tapped, f"<{exercise_id}: forward taps>", "exec"), targets))
    return TappedProgram(tuple(tree.body), tuple(codes), sources)


def trace(
    exercise: Exercise,
    ctx: Context,
    cuts: frozenset[str] = frozenset(),
    inject: dict[str, torch.Tensor] | None = None,
    with_loss: bool = True,
) -> Trace:
    """Run the forward code with every use of a step's tensor tapped, and backpropagate.

    Each tensor in `cuts` is detached right after the statement that computes it (later statements read a
    fresh leaf), and the gradient injected for it (`inject`) flows into that statement instead of what
    the rest of the graph would send: so each leaf's gradient is its own lines' vector-Jacobian products
    with the injected upstream gradients (the local rule), plus the loss's own line when `with_loss`.
    """
    model = exercise.model
    watched = frozenset(step.of for step in exercise.rows)
    program = _tapped_program(exercise.id, model.forward, watched)
    broadcast: dict[str, tuple[int, ...]] = {}  # key -> shape of the statement's result
    for index, stmt in enumerate(program.statements):
        result = _result_shape(stmt, ctx)
        if result is not None:
            broadcast.update({f"{name}@{index}": result for name in watched})
    sources = program.sources
    codes = [(code, targets & cuts) for code, targets in program.codes]

    taps: dict[str, list[tuple[torch.Tensor, tuple[int, ...]]]] = {}

    def tap(value: Any, key: str, expand: bool) -> Any:
        if not isinstance(value, torch.Tensor) or not value.requires_grad:
            return value
        axes: tuple[int, ...] = ()
        out = value.view_as(value)
        full = broadcast.get(key)
        if expand and full is not None:
            try:
                shape = tuple(torch.broadcast_shapes(tuple(value.shape), full))
            except RuntimeError:
                shape = tuple(value.shape)
            if shape != tuple(value.shape):
                out, axes = value.expand(shape), _broadcast_axes(tuple(value.shape), shape)
        out.retain_grad()
        taps.setdefault(key, []).append((out, axes))
        return out

    ns: dict[str, Any] = {"torch": torch, "F": F, TAP: tap, **ctx.scalars}
    for name, value in ctx.inputs.items():  # the batch and whatever init made (masks, fixed weights); the
        ns[name] = value  # forward tensors among them are computed again below
    for name in model.parameters:
        ns[name] = ctx.inputs[name].detach().clone().requires_grad_(True)
    outputs: dict[str, torch.Tensor] = {}  # each cut tensor as its statement computed it
    with torch.enable_grad():
        for code, cut_here in codes:
            exec(code, ns)
            for name in cut_here:
                value = ns[name]
                if isinstance(value, torch.Tensor) and value.requires_grad:
                    outputs[name] = value
                    ns[name] = value.detach().requires_grad_(True)
        total = ns[model.loss] if with_loss else None
        for name, upstream in (inject or {}).items():
            if name in outputs:
                term = (outputs[name] * upstream.to(outputs[name].dtype)).sum()
                total = term if total is None else total + term
        leaves = {
            name: ns[name] for name in watched if isinstance(ns.get(name), torch.Tensor) and ns[name].requires_grad and ns[name].is_leaf
        }
        if total is not None and total.requires_grad:
            total.backward()

    grads = {name: leaf.grad.detach() if leaf.grad is not None else torch.zeros_like(leaf) for name, leaf in leaves.items()}
    uses: dict[str, list[Use]] = {}
    for key, tapped_uses in taps.items():
        name, index = key.split("@")
        target = ctx.inputs[name]
        contribution = torch.zeros_like(target)
        unreduced, axes = None, ()
        for out, out_axes in tapped_uses:
            if out.grad is None:
                continue
            grad = out.grad.detach()
            if out_axes:
                unreduced, axes = grad.clone(), out_axes
                grad = grad.sum(out_axes, keepdim=True).reshape(target.shape)
            contribution += grad.reshape(target.shape)
        if any(out.grad is not None for out, _ in tapped_uses):
            uses.setdefault(name, []).append(Use(name, sources[key], contribution, unreduced, axes, key))
    return Trace(grads, uses)


def combined_uses(parts: list[tuple[float, dict[str, list[Use]]]]) -> dict[str, list[Use]]:
    """The uses a trace would find whose loss term and injected gradients are the weighted sum of those of the
    traces in `parts` (weight, uses): what flows back through each use is linear in what flows in, so each
    use's gradients are the same weighted sum (in float64, as the local rule combines its expected values).
    A use missing from a part had no gradient there (zero). Uses in forward-code order, as trace() lists them."""
    by_key: dict[str, list[tuple[float, Use]]] = {}
    for weight, uses in parts:
        for use in (u for name_uses in uses.values() for u in name_uses):
            by_key.setdefault(use.key, []).append((weight, use))

    def weighted(values: list[tuple[float, torch.Tensor]]) -> torch.Tensor:
        total = sum((w * v.double() for w, v in values[1:]), values[0][0] * values[0][1].double())
        return total.to(values[0][1].dtype)

    combined: dict[str, list[Use]] = {}
    for key in sorted(by_key, key=lambda k: (k.split("@")[0], int(k.split("@")[1]))):
        found = by_key[key]
        first = found[0][1]
        unreduced = [(w, u.unreduced) for w, u in found if u.unreduced is not None]
        combined.setdefault(first.tensor, []).append(Use(
            first.tensor, first.line, weighted([(w, u.contribution) for w, u in found]),
            weighted(unreduced) if unreduced else None, first.axes, key,
        ))
    return combined


def _adds_up(uses: list[Use], expected: torch.Tensor) -> bool:
    """The uses' contributions add up to autograd's gradient (else a tap misread, and they are not used)."""
    return bool(uses) and torch.allclose(sum(u.contribution for u in uses), expected, rtol=1e-4, atol=1e-7)  # type: ignore[arg-type]


class CombinedUses(Mapping[str, list[Use]]):
    """A local-rule trial's uses (combined_uses of its pool's traces), each tensor's combined and checked on
    first need: a diagnosis reads those of one or two tensors."""

    def __init__(self, parts: list[tuple[float, dict[str, list[Use]]]], reference: dict[str, torch.Tensor]) -> None:
        self._parts, self._reference = parts, reference
        self._names = [n for n in dict.fromkeys(n for _, uses in parts for n in uses) if n in reference]
        self._found: dict[str, list[Use] | None] = {}

    def _uses(self, name: str) -> list[Use] | None:
        if name not in self._found:
            try:
                uses = combined_uses([(w, {name: found[name]}) for w, found in self._parts if name in found]).get(name, [])
                self._found[name] = uses if _adds_up(uses, self._reference[name]) else None
            except Exception:  # noqa: BLE001 - as tensor_uses: uses this cannot read only mean fewer diagnoses
                self._found[name] = None
        return self._found[name]

    def __getitem__(self, name: str) -> list[Use]:
        found = self._uses(name) if name in self._names else None
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._names if self._uses(name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _analyse(exercise: Exercise, ctx: Context) -> Mapping[str, list[Use]]:
    reference = {step.of: ctx.reference[step.name] for step in exercise.rows if step.name in ctx.reference}
    parts = ctx.derived.get("trace_parts")
    if parts is not None:  # a local-rule trial: its pool's traces combined (local.py), no trace of its own
        return CombinedUses(parts, reference)
    found = trace(exercise, ctx, **ctx.derived.get("trace", {})).uses
    return {name: uses for name, uses in found.items() if name in reference and _adds_up(uses, reference[name])}


def tensor_uses(exercise: Exercise, ctx: Context) -> Mapping[str, list[Use]]:
    """Per forward tensor, its uses in the forward code; computed once per context, on first need."""
    cached = ctx.derived.get("uses")
    if cached is None:
        try:
            cached = _analyse(exercise, ctx)
        except Exception:  # noqa: BLE001 - course code this analysis cannot read only means fewer diagnoses
            cached = {}
        ctx.derived["uses"] = cached
    return cached


__all__ = ["Trace", "Use", "combined_uses", "tensor_uses", "trace"]
