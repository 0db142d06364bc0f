"""Find the statement that finishes each gradient, and instrument learner code to call a hook right after it.

The local-rule run (local.py) rebinds each gradient to a random tensor right after the LAST top-level
statement that writes it (after the last `+=` for a tensor with two branches), and captures the learner's own
value there. The tutor compiles the instrumented form once per check (sandbox.compiled_form); runs that
capture nothing get a hook that does nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence

FINISH_HOOK = "__tutor_finished__"


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def written_names(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement (re)binds or changes in place, including inside compound bodies."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    out: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            root = _root_name(node)
            if root:
                out.add(root)
        elif isinstance(node, ast.Call):
            func = node.func
            # in-place methods (dC.index_add_, dx.add_, dx[i].zero_) and out= arguments change their target
            if isinstance(func, ast.Attribute) and func.attr.endswith("_") and not func.attr.startswith("_"):
                root = _root_name(func.value)
                if root:
                    out.add(root)
            for kw in node.keywords:
                if kw.arg == "out":
                    root = _root_name(kw.value)
                    if root:
                        out.add(root)
    return out


def finishing_statements(tree: ast.Module, names: Iterable[str]) -> dict[int, list[str]]:
    """For each top-level statement index, the names whose last write it is (in the given order)."""
    wanted = list(dict.fromkeys(names))
    last: dict[str, int] = {}
    for index, stmt in enumerate(tree.body):
        for name in written_names(stmt) & set(wanted):
            last[name] = index
    by_stmt: dict[int, list[str]] = {}
    for name in wanted:
        if name in last:
            by_stmt.setdefault(last[name], []).append(name)
    return by_stmt


def instrument(tree: ast.Module, names: Sequence[str]) -> ast.Module:
    """A copy of `tree` that calls FINISH_HOOK(name) right after the statement that finishes each name."""
    by_stmt = finishing_statements(tree, names)
    body: list[ast.stmt] = []
    for index, stmt in enumerate(tree.body):
        body.append(stmt)
        for name in by_stmt.get(index, []):
            call = ast.Expr(ast.Call(ast.Name(FINISH_HOOK, ast.Load()), [ast.Constant(name)], []))
            # only the new nodes need positions (the statement's): the learner's own nodes have theirs
            body.append(ast.fix_missing_locations(ast.copy_location(call, stmt)))
    return ast.Module(body=body, type_ignores=[])


__all__ = ["FINISH_HOOK", "finishing_statements", "instrument", "written_names"]
