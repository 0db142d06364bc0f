"""Instrument learner code to call a hook right after the statement that finishes each gradient
(tutor.learner.file finds those statements).

The local-rule run (tutor.engine.local) rebinds each gradient to a random tensor right after the LAST top-level
statement that writes it (after the last `+=` for a tensor with two branches), and captures the learner's own
value there. The tutor compiles the instrumented form once per check (client.compiled_form); runs that
capture nothing get a hook that does nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from tutor.learner.file import finishing_statements

FINISH_HOOK = "__tutor_finished__"


def _hook_call(name: str, at: ast.stmt) -> ast.stmt:
    """`FINISH_HOOK(name)` at the position of `at` (only the new nodes need positions: the learner's own
    nodes have theirs)."""
    nodes = (ast.Name(FINISH_HOOK, ast.Load()), ast.Constant(name))
    call = ast.Call(nodes[0], [nodes[1]], [])
    stmt = ast.Expr(call)
    for node in (stmt, call, *nodes):
        node.lineno, node.col_offset = at.lineno, at.col_offset
        node.end_lineno, node.end_col_offset = at.end_lineno, at.end_col_offset
    return stmt


def instrument(tree: ast.Module, names: Sequence[str], writes: Sequence[frozenset[str]] | None = None) -> ast.Module:
    """A copy of `tree` that calls FINISH_HOOK(name) right after the statement that finishes each name."""
    by_stmt = finishing_statements(tree, names, writes)
    body: list[ast.stmt] = []
    for index, stmt in enumerate(tree.body):
        body.append(stmt)
        for name in by_stmt.get(index, []):
            body.append(_hook_call(name, stmt))
    return ast.Module(body=body, type_ignores=[])


__all__ = ["FINISH_HOOK", "instrument"]
