"""Read the learner's source for what a verdict alone cannot say: a near-miss name ("did you mean"), a
gradient taken from `.grad` (None: no autograd runs here), and a gradient whose finishing statement never
ran because the code stopped earlier.

It looks at the file's syntax tree and the verdicts only, never at tensor values. What it finds are messages
(tutor.messages), put into words where they are shown.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from tutor.learner.file import LearnerFile
from tutor.messages import message
from tutor.reports.check import Diagnosis, LearnerError, TensorVerdict


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions each cost 1."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _writes(tree: ast.Module, writes: Sequence[frozenset[str]]) -> dict[str, list[int]]:
    """Line numbers of the top-level statements that write each name, in file order."""
    lines: dict[str, list[int]] = {}
    for stmt, names in zip(tree.body, writes):
        for name in sorted(names):
            lines.setdefault(name, []).append(stmt.lineno)
    return lines


def close_name(wanted: str, written: Sequence[str], taken: set[str]) -> str | None:
    """A name the file writes that is most likely a slip for `wanted`: the same name with or without a
    leading d, or one or two letters off (for names long enough that such a slip is not another word)."""
    candidates = [w for w in written if w not in taken and w != wanted]
    for w in candidates:
        if w in (wanted[1:], "d" + wanted) or wanted in ("d" + w,):
            return w
    limit = 1 if len(wanted) < 6 else 2
    scored = sorted((edit_distance(wanted, w), w) for w in candidates)
    return scored[0][1] if scored and scored[0][0] <= limit else None


def _grad_reads(tree: ast.Module) -> dict[str, int]:
    """Names assigned from an expression that reads `.grad` (None here), with the line."""
    found: dict[str, int] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(node, ast.Attribute) and node.attr == "grad" for node in ast.walk(stmt.value)
        ):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = stmt.lineno
    return found


def add_source_notes(tensors: list[TensorVerdict], learner: LearnerFile, error: LearnerError | None) -> None:
    """Sharpen the notes and diagnoses of failing tensors with what the learner's file shows."""
    if all(t.passed for t in tensors):
        return
    tree = learner.tree
    if tree is None:
        return
    writes = _writes(tree, learner.writes)
    grads = _grad_reads(tree)
    steps = {t.name for t in tensors}
    stopped_at = error.line if error is not None and error.kind == "exception" and error.line else None
    for t in tensors:
        if t.passed:
            continue
        lines = writes.get(t.name, [])
        if t.name in grads and t.status == "missing":
            t.notes = [message("grad-is-none", name=t.name, line=grads[t.name])]
            continue
        if stopped_at is not None and lines and lines[-1] > stopped_at:
            where = {"name": t.name, "line": lines[-1], "stopped": stopped_at}
            if t.status == "missing":
                t.notes = [message("never-ran", **where)]
            else:
                t.diagnosis = Diagnosis("stopped", message("stopped", **where))
            continue
        if t.status == "missing" and not lines:
            slip = close_name(t.name, list(writes), steps)
            if slip is not None:
                t.notes = [message("did-you-mean", name=t.name, slip=slip, line=writes[slip][0])]


__all__ = ["add_source_notes", "close_name", "edit_distance"]
