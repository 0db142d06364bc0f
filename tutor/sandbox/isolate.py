"""Find the statement that finishes each gradient, and instrument learner code to call a hook right after it.

The local-rule run (tutor.engine.local) rebinds each gradient to a random tensor right after the LAST top-level
statement that writes it (after the last `+=` for a tensor with two branches), and captures the learner's own
value there. The tutor compiles the instrumented form once per check (client.compiled_form); runs that
capture nothing get a hook that does nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

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
    stack: list[ast.AST] = [stmt]
    while stack:  # ast.walk's order does not matter here, and this walk costs a third of it
        node = stack.pop()
        cls = type(node)
        if cls is ast.Name:
            if type(node.ctx) is not ast.Load:  # type: ignore[attr-defined]
                out.add(node.id)  # type: ignore[attr-defined]
            continue
        if cls is ast.Constant:
            continue
        if cls is ast.Subscript or cls is ast.Attribute:
            if type(node.ctx) is not ast.Load:  # type: ignore[attr-defined]
                _add_root(out, node)
        elif cls is ast.Call:
            func = node.func  # type: ignore[attr-defined]
            # in-place methods (dC.index_add_, dx.add_, dx[i].zero_) and out= arguments change their target
            if isinstance(func, ast.Attribute) and func.attr.endswith("_") and not func.attr.startswith("_"):
                _add_root(out, func.value)
            for kw in node.keywords:  # type: ignore[attr-defined]
                if kw.arg == "out":
                    _add_root(out, kw.value)
        for name in cls._fields:
            if name == "ctx":
                continue
            value = getattr(node, name, None)
            if type(value) is list:
                stack.extend(v for v in value if isinstance(v, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append(value)
    return out


def _add_root(out: set[str], node: ast.AST) -> None:
    root = _root_name(node)
    if root:
        out.add(root)


@dataclass(frozen=True)
class Parsed:
    """A learner file parsed once per check: its tree and, per top-level statement, the names it writes.
    The tree is shared by every reader of the check, so none of them may change it."""

    tree: ast.Module
    writes: tuple[frozenset[str], ...]

    @property
    def assigned(self) -> set[str]:
        """Every name the file binds or changes."""
        return set().union(*self.writes)


@lru_cache(maxsize=4)
def parse(source: str) -> Parsed | None:
    """The file's tree and writes, or None when it does not parse (the child reports the syntax error)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return Parsed(tree, tuple(frozenset(written_names(stmt)) for stmt in tree.body))


def finishing_statements(
    tree: ast.Module, names: Iterable[str], writes: Sequence[frozenset[str]] | None = None
) -> dict[int, list[str]]:
    """For each top-level statement index, the names whose last write it is (in the given order)."""
    wanted = list(dict.fromkeys(names))
    wanted_set = set(wanted)
    last: dict[str, int] = {}
    for index, stmt in enumerate(tree.body):
        for name in (writes[index] if writes is not None else written_names(stmt)) & wanted_set:
            last[name] = index
    by_stmt: dict[int, list[str]] = {}
    for name in wanted:
        if name in last:
            by_stmt.setdefault(last[name], []).append(name)
    return by_stmt


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


__all__ = ["FINISH_HOOK", "Parsed", "finishing_statements", "instrument", "parse", "written_names"]
