"""A notebook cell's source as plain Python: IPython syntax and notebook-only statements (cmp, print,
plotting, `.grad` comparisons, autograd bookkeeping) become `pass`, so the cell keeps its line numbers."""

from __future__ import annotations

import ast
import re

# Cell magics whose body is Python run as usual; any other cell magic makes the cell not Python.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "ninja"}
NOTEBOOK_CALLS = {"cmp", "print", "display", "plt", "sns", "clear_output"}
NOTEBOOK_MODULES = {"matplotlib", "seaborn", "IPython", "tutor", "google"}
AUTOGRAD_ATTRS = {"grad", "backward", "retain_grad", "requires_grad", "requires_grad_", "zero_grad"}
_MAGIC_ASSIGN = re.compile(r"^\s*[\w.\[\], ]+=\s*[!%]")
_HELP = re.compile(r"^\s*(\?\??[\w.]+|[\w.]+\?\??)\s*$")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def without_magics(source: str) -> tuple[list[str], int]:
    """The cell's lines with IPython syntax replaced by `pass` (same line count) and how many were replaced."""
    lines = source.split("\n")
    replaced = 0
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        if name not in PYTHON_CELL_MAGICS:
            return ["" for _ in lines], sum(1 for line in lines if line.strip())
        lines[0], replaced = "", 1
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("%", "!")) or _MAGIC_ASSIGN.match(line) or _HELP.match(line):
            lines[i] = _indent(line) + "pass"
            replaced += 1
    return lines, replaced


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_notebook_only(stmt: ast.stmt, strict_autograd: bool) -> bool:
    """A simple statement that only reports or plots in the notebook (or, outside exercise 4, uses autograd)."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and root_name(stmt.value) in NOTEBOOK_CALLS:
        return True
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
        return all(m.split(".")[0] in NOTEBOOK_MODULES for m in modules)
    if isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Attribute) and t.attr == "grad" for t in stmt.targets):
        return True  # p.grad = None: zeroing autograd's slots, meaningless without autograd
    if not strict_autograd:
        return any(isinstance(node, ast.Attribute) and node.attr in AUTOGRAD_ATTRS for node in ast.walk(stmt))
    return False


def _blank(lines: list[str], stmt: ast.stmt) -> int:
    """Replace a statement's text with `pass` in place (its lines keep their numbers). Returns lines blanked."""
    first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
    head, tail = lines[first][: stmt.col_offset], lines[last][stmt.end_col_offset or len(lines[last]) :]
    lines[first] = head + "pass" + tail
    for i in range(first + 1, last + 1):
        lines[i] = ""
    return last - first + 1


def _neutralise_body(body: list[ast.stmt], lines: list[str], strict_autograd: bool) -> tuple[bool, int]:
    """Blank notebook-only statements of a block; returns (every statement was blanked, lines blanked)."""
    count, all_gone = 0, True
    for stmt in reversed(body):  # last first: blanking `a; b` keeps the columns of what comes before
        gone, n = _neutralise_stmt(stmt, lines, strict_autograd)
        count += n
        all_gone = all_gone and gone
    return all_gone, count


def _neutralise_stmt(stmt: ast.stmt, lines: list[str], strict_autograd: bool) -> tuple[bool, int]:
    blocks = [getattr(stmt, f) for f in ("body", "orelse", "finalbody") if getattr(stmt, f, None)]
    if isinstance(stmt, (ast.For, ast.While, ast.If, ast.With)) and blocks:
        results = [_neutralise_body(block, lines, strict_autograd) for block in blocks]
        if all(gone for gone, _ in results):  # e.g. `for t in [...]: t.retain_grad()`: drop the loop too
            return True, _blank(lines, stmt)
        return False, sum(n for _, n in results)
    if isinstance(stmt, ast.Pass):
        return True, 0
    if _is_notebook_only(stmt, strict_autograd):
        return True, _blank(lines, stmt)
    return False, 0


def neutralise(source: str, strict_autograd: bool = False) -> tuple[str, int]:
    """The cell's Python with notebook-only lines made `pass`, the same number of lines; and how many."""
    lines, count = without_magics(source)
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return "\n".join(lines), count  # the check reports the syntax error at its line
    _, n = _neutralise_body(tree.body, lines, strict_autograd)
    return "\n".join(lines), count + n
