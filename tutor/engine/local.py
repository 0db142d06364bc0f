"""The local rule: every gradient judged by its own line, with a random gradient flowing in from above.

In the local-rule run the learner's file runs on the lecture's batch, but right after the statement that
finishes each gradient, the name is rebound to a random tensor drawn for this check (its shape, dtype and
device; a scale like the true gradient's). So every later line computes from gradients nobody could have
precomputed, and the value each line must produce is its own forward lines' vector-Jacobian products with
those injected gradients (the loss's own line gets 1), computed here by autograd with the forward
statements cut apart (branches.trace). A line that is right only because the true gradient flowing into it
is ~0, or that reads a private copy instead of the gradient's name, fails here.

The expected values are affine in the injected gradients, so a few draws are traced once per context
(`LocalPool`) and each check takes a fresh random combination of them (`LocalTrial`): cheap, and not
predictable by the learner's code, which never sees an expected value.
"""

from __future__ import annotations

import ast
import math
import random
from dataclasses import dataclass, field
from typing import Any

import torch

from tutor.course.model import Exercise, Step
from tutor.engine.branches import Use, trace
from tutor.engine.context import Context

DRAWS = 3


def gradient_owners(exercise: Exercise, rows: tuple[Step, ...]) -> dict[str, str]:
    """Forward tensor -> the learner's name for its gradient, for judged rows and given gradients."""
    owners = {row.of: row.name for row in rows}
    for given in exercise.given:
        owners.setdefault(given.removeprefix("d"), given)
    return owners


def forward_statements(exercise: Exercise) -> list[tuple[set[str], set[str]]]:
    """(names written, names read) per top-level statement of the forward code."""
    out = []
    for stmt in ast.parse(exercise.model.forward).body:
        written = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        read = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        out.append((written, read))
    return out


def upstream_graph(exercise: Exercise, rows: tuple[Step, ...]) -> dict[str, tuple[str, ...]]:
    """Per row, the gradients its line reads: the named gradients of the nearest statements that use its
    tensor (through unnamed intermediates), in the order they appear. Toward the loss, one hop each."""
    owners = gradient_owners(exercise, rows)
    statements = forward_statements(exercise)

    def consumers(tensor: str, seen: set[str]) -> list[str]:
        found: list[str] = []
        for written, read in statements:
            if tensor not in read:
                continue
            for out in sorted(written - {tensor}):
                if out in seen:
                    continue
                seen.add(out)
                if out in owners:
                    found.append(owners[out])
                else:
                    found.extend(consumers(out, seen))
        return found

    return {row.name: tuple(dict.fromkeys(consumers(row.of, {row.of}))) for row in rows}


def _rms(t: torch.Tensor) -> float:
    return float(t.detach().double().pow(2).mean().sqrt()) if t.numel() else 0.0


@dataclass
class LocalTrial:
    """One check's local-rule run: what goes into the learner's namespace, and what each row must equal."""

    given: dict[str, torch.Tensor]  # given gradients (exercise 3's dhpreact), replaced from the start
    inject: dict[str, torch.Tensor]  # rebound right after the statement that finishes each name
    hook: tuple[str, ...]  # every judged row: its value is captured at its finishing statement
    expected: dict[str, torch.Tensor]  # row name -> its lines' products with the injected gradients
    upstream: dict[str, tuple[str, ...]]  # row name -> the injected gradients its line reads
    context: Context  # the lecture's batch seen through this trial (for diagnoses)
    owners: dict[str, str]  # forward tensor -> the learner's name for its gradient
    key: str = ""  # the key of the context it was drawn for
    run_spec: Any = field(default=None, repr=False, compare=False)  # its sandbox run, packed once (check.run_specs)


@dataclass(frozen=True)
class Packed:
    """Tensors of several names, each given as parts (one per draw) and an optional start, laid out flat side by
    side in float64: `combined(c)` is start + sum(c[i] * part[i]) for every name at once."""

    parts: torch.Tensor  # (draws, total) float64
    start: torch.Tensor | None  # (total,) float64
    layout: tuple[tuple[str, tuple[int, ...], torch.dtype, int, int], ...]  # name, shape, dtype, offset, numel

    @classmethod
    def of(cls, parts: dict[str, list[torch.Tensor]], start: dict[str, torch.Tensor] | None = None) -> Packed:
        layout, offset = [], 0
        for name, (first, *_) in parts.items():
            layout.append((name, tuple(first.shape), first.dtype, offset, first.numel()))
            offset += first.numel()

        def flat(tensors: list[torch.Tensor]) -> torch.Tensor:
            return torch.cat([t.double().flatten() for t in tensors]) if tensors else torch.zeros(0, dtype=torch.float64)

        draws = len(next(iter(parts.values()), ()))
        matrix = torch.stack([flat([tensors[i] for tensors in parts.values()]) for i in range(draws)]) if draws else (
            torch.zeros((0, offset), dtype=torch.float64))
        return cls(matrix, flat([start[name] for name in parts]) if start is not None else None, tuple(layout))

    def combined(self, coefficients: list[float]) -> dict[str, torch.Tensor]:
        if not self.layout:
            return {}
        total = torch.tensor(coefficients, dtype=torch.float64, device=self.parts.device) @ self.parts
        if self.start is not None:
            total = total + self.start
        return {name: total[offset:offset + n].view(shape).to(dtype).clone()
                for name, shape, dtype, offset, n in self.layout}


@dataclass
class LocalPool:
    """A few traced draws of injected gradients for one context and one set of judged rows."""

    exercise: Exercise
    ctx: Context
    rows: tuple[Step, ...]
    cuts: frozenset[str]
    owners: dict[str, str]
    base: dict[str, torch.Tensor]
    draws: list[dict[str, torch.Tensor]] = field(default_factory=list)  # forward tensor -> injected gradient
    linear: list[dict[str, torch.Tensor]] = field(default_factory=list)  # row name -> expected, linear part
    graph: dict[str, tuple[str, ...]] = field(default_factory=dict)  # row name -> gradients its line reads
    # the uses (branches.Use) its traces found: the loss's alone, then each draw's; a trial's are their combination
    base_uses: dict[str, list[Use]] = field(default_factory=dict)
    draw_uses: list[dict[str, list[Use]]] = field(default_factory=list)
    # the draws (and their expected parts) flattened side by side, made on the first trial: a trial's
    # combination is then one product for the injected gradients and one for the expected values
    _packed: tuple[Packed, Packed] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, exercise: Exercise, ctx: Context, rows: tuple[Step, ...], draws: int = DRAWS) -> LocalPool:
        owners = gradient_owners(exercise, rows)
        parameters = set(exercise.model.parameters)
        cuts = frozenset(name for name in owners if name not in parameters)
        truth = {**{name: ctx.inputs[name] for name in exercise.given if name in ctx.inputs}, **ctx.reference}
        scales = {name: _rms(truth[owners[name]]) for name in cuts if owners[name] in truth}
        # a gradient that is ~0 in truth (dlogit_maxes, db1) still gets a real one injected
        floor = 0.1 * sorted(scales.values())[len(scales) // 2] if scales else 1.0
        floor = floor if floor > 0 else 1.0
        traced = trace(exercise, ctx, cuts, None, with_loss=True)
        base = traced.grads
        pool = cls(exercise, ctx, rows, cuts, owners, {row.name: base[row.of] for row in rows if row.of in base})
        pool.base_uses = traced.uses
        pool.graph = upstream_graph(exercise, rows)
        gen = torch.Generator().manual_seed(random.SystemRandom().randrange(2**62))
        for _ in range(draws):
            draw = {}
            for name in cuts:
                template = ctx.inputs[name]
                noise = torch.randn(template.shape, generator=gen, dtype=torch.float64)
                draw[name] = (noise * max(scales.get(name, 1.0), floor)).to(template.dtype).to(template.device)
            traced = trace(exercise, ctx, cuts, draw, with_loss=False)
            grads = traced.grads
            pool.draws.append(draw)
            pool.draw_uses.append(traced.uses)
            pool.linear.append({row.name: grads[row.of] for row in rows if row.of in grads})
        return pool

    def trial(self, rng: random.Random | None = None) -> LocalTrial:
        """A fresh unit-norm combination of the draws: injected gradients and their expected values."""
        rng = rng or random.SystemRandom()
        coefficients = [rng.gauss(0.0, 1.0) for _ in self.draws]
        norm = math.sqrt(sum(c * c for c in coefficients)) or 1.0
        coefficients = [c / norm for c in coefficients]

        if self._packed is None:
            self._packed = (
                Packed.of({name: [d[name] for d in self.draws] for name in self.cuts}),
                Packed.of({name: [lin[name] for lin in self.linear] for name in self.base}, self.base),
            )
        draws, linear = self._packed
        injected = draws.combined(coefficients)
        expected = linear.combined(coefficients)
        given = {self.owners[name]: value for name, value in injected.items() if self.owners[name] in self.exercise.given}
        inject = {self.owners[name]: value for name, value in injected.items() if self.owners[name] not in given}
        graph = self.graph
        names_in = set(given) | set(inject)
        upstream = {row: tuple(n for n in ups if n in names_in) for row, ups in graph.items()}
        ctx = self.ctx
        inputs = {**ctx.inputs, **given}
        view = Context(
            exercise=ctx.exercise,
            device=ctx.device,
            spec=ctx.spec,
            inputs=inputs,
            scalars=ctx.scalars,
            reference=expected,
            loss=ctx.loss,
            tag=f"{ctx.tag}/local",
            varied=ctx.varied,
            kept=ctx.kept,
            first_name=ctx.first_name,
        )
        # diagnoses trace the forward code with this trial's injected gradients, and evaluate course mistakes
        # with the gradients the learner's lines actually read
        view.derived["trace"] = {"cuts": self.cuts, "inject": injected}
        view.derived["trace_parts"] = [(1.0, self.base_uses), *zip(coefficients, self.draw_uses)]
        view.derived["gradients"] = {**ctx.reference, **given, **inject}
        return LocalTrial(given, inject, tuple(row.name for row in self.rows), expected, upstream, view, self.owners, ctx.key)


__all__ = ["LocalPool", "LocalTrial", "gradient_owners", "upstream_graph"]
