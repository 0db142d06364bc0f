"""Check a Jupyter notebook like a .py file: read it, pick the cells holding an exercise, neutralise lines
that only make sense in the notebook (magics, `!` commands, cmp/print/plotting, `.grad` comparisons), and
map the checked source's lines back to the notebook's cells.

Picking is driven by the course's step names, with no per-exercise rules:
- a check exercise takes the code cells whose top-level statements assign its gradients and assign no
  gradient of another exercise; a cell that reads a gradient nobody assigned before it (other than the
  exercise's `given`) belongs to a longer chain, and a cell that a shorter exercise could check on its own
  (exercise 2's `dlogits`, exercise 3's `dhprebn` from `dhpreact`) is left to that exercise;
- a training exercise takes the statements of the training loop between the loss and the parameter update.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tutor.course.model import Course, Exercise
from tutor.learner.cells import neutralise, root_name, without_magics

if TYPE_CHECKING:
    from tutor.reports.check import CheckReport


class NotebookError(ValueError):
    """A notebook that cannot be read or holds no exercise cell; `usage` errors exit 2, the rest 1."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Cell:
    number: int  # 1-based position among all the notebook's cells, markdown included
    source: str
    execution_count: int | None = None

    @property
    def label(self) -> str:
        run = f" (In [{self.execution_count}])" if self.execution_count else ""
        return f"cell {self.number}{run}"


@dataclass(frozen=True)
class Extract:
    """The Python that is checked, and where each of its lines came from."""

    source: str
    cells: tuple[Cell, ...]  # the cells it was taken from, in order
    origin: tuple[tuple[int, int, str], ...]  # per line: (cell number, line in the cell, the cell's own text)
    neutralised: int = 0  # lines blanked as notebook-only

    def locate(self, line: int | None) -> tuple[int, int, str] | None:
        if line is None or not 1 <= line <= len(self.origin):
            return None
        return self.origin[line - 1]

    @property
    def cell_numbers(self) -> list[int]:
        return [c.number for c in self.cells]


# ---- reading -------------------------------------------------------------------------------------------------


def read_cells(path: Path, text: str | None = None) -> list[Cell]:
    """The code cells of a notebook (numbered among all cells). Raises NotebookError with one line."""
    try:
        import nbformat
    except ImportError:
        raise NotebookError(
            "checking a notebook needs nbformat: pip install 'backprop-ninja[jupyter]'", usage=True
        ) from None
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotebookError(f"{path} does not exist", usage=True) from None
        except IsADirectoryError:
            raise NotebookError(f"{path} is a folder, not a notebook", usage=True) from None
        except UnicodeDecodeError:
            raise NotebookError(f"{path} is not UTF-8 text", usage=True) from None
        except OSError as exc:
            raise NotebookError(f"{path} cannot be read: {exc.strerror or exc}", usage=True) from None
    try:
        # reader + convert, not nbformat.reads: no schema validation (slow, and it logs) for a file we only read
        nb = nbformat.convert(nbformat.reader.reads(text), 4)
        raw_cells = list(nb["cells"])
    except Exception as exc:  # noqa: BLE001 - nbformat raises many types (ValueError, KeyError, ValidationError…)
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise NotebookError(f"{path} is not a Jupyter notebook ({detail})", usage=True) from None
    cells = []
    for number, raw in enumerate(raw_cells, start=1):
        if not isinstance(raw, dict) or raw.get("cell_type") != "code":
            continue
        source = raw.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        count = raw.get("execution_count")
        cells.append(Cell(number, str(source), count if isinstance(count, int) else None))
    return cells


# ---- which cells hold an exercise ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CellCode:
    """What a code cell's top-level statements assign and read (loops and functions are not looked into)."""

    cell: Cell
    tree: ast.Module | None  # None: not Python even after neutralising magics
    assigns: frozenset[str]
    free_reads: frozenset[str]  # names read before the cell itself assigns them


_TOP_ASSIGN = re.compile(r"^(\w+)\s*(?:\[[^\n]*\])?\s*(?:[-+*/@]|\*\*|//)?=(?!=)", re.M)


def _target_names(target: ast.expr) -> tuple[set[str], set[str]]:
    """(names bound, names read) by an assignment target: `d[i] = …` binds d and also reads it."""
    if isinstance(target, ast.Name):
        return {target.id}, set()
    if isinstance(target, (ast.Tuple, ast.List)):
        bound, read = set(), set()
        for element in target.elts:
            b, r = _target_names(element)
            bound |= b
            read |= r
        return bound, read
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return {target.value.id}, {target.value.id}
    return set(), set()


def _top_statements(body: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, (ast.If, ast.With, ast.Try)):
            for field in ("body", "orelse", "finalbody"):
                out.extend(_top_statements(getattr(stmt, field, []) or []))
        else:
            out.append(stmt)
    return out


def analyse(cell: Cell, mentions: re.Pattern[str] | None = None) -> CellCode:
    """`mentions`: skip parsing a cell whose text names none of these (most of a notebook's cells)."""
    if mentions is not None and not mentions.search(cell.source):
        return CellCode(cell, None, frozenset(), frozenset())
    lines, _ = without_magics(cell.source)
    text = "\n".join(lines)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        # still place a cell the learner is writing: its unindented assignments say what it is
        return CellCode(cell, None, frozenset(m.group(1) for m in _TOP_ASSIGN.finditer(text)), frozenset())
    assigns: set[str] = set()
    free: set[str] = set()
    for stmt in _top_statements(tree.body):
        bound: set[str] = set()
        if isinstance(stmt, ast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            targets = [stmt.target]
        else:
            targets = []
        reads = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        for target in targets:
            b, r = _target_names(target)
            bound |= b
            reads |= r
        if isinstance(stmt, ast.AugAssign):
            reads |= bound
        free |= reads - assigns
        assigns |= bound
    return CellCode(cell, tree, frozenset(assigns), frozenset(free))


def _gradient_names(course: Course) -> set[str]:
    names: set[str] = set()
    for exercise in course.exercises:
        names.update(s.name for s in exercise.steps)
        names.update(exercise.given)
    return names


def _fits_alone(code: CellCode, exercise: Exercise, grads: set[str]) -> bool:
    """The cell checks as this exercise by itself: it assigns only its gradients and reads only its given ones."""
    steps = {s.name for s in exercise.steps}
    return bool(code.assigns & steps) and (code.assigns & grads) <= steps and (code.free_reads & grads) <= set(exercise.given)


def pick_check_cells(codes: list[CellCode], exercise: Exercise, course: Course) -> list[CellCode]:
    grads = _gradient_names(course)
    steps = {s.name for s in exercise.steps}
    shorter = [e for e in course.exercises if e.training is None and len(e.steps) < len(exercise.steps)]
    picked: list[CellCode] = []
    known = set(exercise.given)
    for code in codes:
        if not code.assigns & steps or not (code.assigns & grads) <= steps:
            continue
        if code.tree is not None and not (code.free_reads & grads) <= known:
            continue  # reads a gradient that no earlier cell of this exercise assigns: part of a longer chain
        if any(_fits_alone(code, other, grads) for other in shorter):
            continue
        picked.append(code)
        known |= code.assigns
    return picked


# ---- a training loop's backward block ------------------------------------------------------------------------


def _assigned(stmt: ast.stmt) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _names(stmt: ast.stmt) -> set[str]:
    return {node.id for node in ast.walk(stmt) if isinstance(node, ast.Name)}


def _updates_parameters(stmt: ast.stmt, parameters: set[str]) -> bool:
    """`p.data += -lr * grad`, `W1 -= lr * dW1`, `W1.sub_(…)` or `W1.data = …`: the update after the backward pass."""
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Attribute) and target.attr == "data":
                    return True
                if isinstance(node, ast.AugAssign) and isinstance(target, ast.Name) and target.id in parameters:
                    return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("sub_", "add_", "copy_")
            and root_name(node.func) in parameters
        ):
            return True
    return False


def backward_block(code: CellCode, exercise: Exercise) -> tuple[int, int, int] | None:
    """(first line, last line, indentation) of the statements between the loss and the update in a loop."""
    if code.tree is None:
        return None
    steps = {s.name for s in exercise.steps}
    parameters = set(exercise.model.parameters)
    found = None
    for loop in ast.walk(code.tree):
        if not isinstance(loop, (ast.For, ast.While)):
            continue
        body = loop.body
        losses = [i for i, stmt in enumerate(body) if exercise.model.loss in _assigned(stmt)]
        if not losses:
            continue
        start = losses[-1] + 1
        end = next((i for i in range(start, len(body)) if _updates_parameters(body[i], parameters)), None)
        if end is None or end == start:
            continue
        # up to the last statement that names a gradient: `lr = … if i < …` before the update is not ours
        mentions = [i for i in range(start, end) if _names(body[i]) & steps]
        if not mentions:
            continue
        block = body[start : mentions[-1] + 1]
        found = (block[0].lineno, block[-1].end_lineno or block[-1].lineno, block[0].col_offset)
    return found


def _block_lines(cell: Cell, first: int, last: int, indent: int) -> list[str]:
    lines = cell.source.split("\n")[first - 1 : last]
    return [line[indent:] if line[:indent].strip() == "" else line.lstrip() for line in lines]


# ---- putting it together -------------------------------------------------------------------------------------


def _looked_at(codes: list[CellCode]) -> str:
    if not codes:
        return "it has no code cells"
    shown = ", ".join(str(c.cell.number) for c in codes[:12]) + (", …" if len(codes) > 12 else "")
    return f"looked at code cell{'s' if len(codes) > 1 else ''} {shown}"


def extract_exercise(
    path: Path, exercise: Exercise, course: Course, cells: list[int] | None = None, text: str | None = None
) -> Extract:
    """The exercise's code from the notebook at `path` (or `cells`, 1-based numbers, when given)."""
    grads = _gradient_names(course)
    mentions = None if cells else re.compile(r"\b(?:" + "|".join(sorted(grads)) + r")\b")
    codes = [analyse(c, mentions) for c in read_cells(path, text)]
    strict = exercise.forbid_autograd
    if cells:
        by_number = {c.cell.number: c for c in codes}
        missing = [n for n in cells if n not in by_number]
        if missing:
            raise NotebookError(
                f"--cell {missing[0]}: {path.name} has no code cell {missing[0]} (code cells: "
                f"{', '.join(str(n) for n in by_number) or 'none'})",
                usage=True,
            )
        chosen = [by_number[n] for n in cells]
    elif exercise.training is not None:
        chosen = [c for c in codes if backward_block(c, exercise)][-1:]
    else:
        chosen = pick_check_cells(codes, exercise, course)
    if not chosen:
        names = ", ".join(s.name for s in exercise.steps[:3]) + (", …" if len(exercise.steps) > 3 else "")
        what = "a training loop's backward pass (between the loss and the update)" if exercise.training else f"cells assigning {names}"
        raise NotebookError(
            f"no cell of {path.name} holds {exercise.id}: found no {what}; {_looked_at(codes)}. "
            f"Name the cells with --cell N[,M]"
        )
    out: list[str] = []
    origin: list[tuple[int, int, str]] = []
    neutralised = 0
    for code in chosen:
        block = backward_block(code, exercise) if exercise.training is not None else None
        if block is not None:
            first, last, indent = block
            raw = _block_lines(code.cell, first, last, indent)
            numbers = list(range(first, last + 1))
        else:
            raw = code.cell.source.split("\n")
            numbers = list(range(1, len(raw) + 1))
        text_lines, n = neutralise("\n".join(raw), strict_autograd=strict)
        neutralised += n
        originals = code.cell.source.split("\n")
        for line, number in zip(text_lines.split("\n"), numbers):
            out.append(line)
            origin.append((code.cell.number, number, originals[number - 1]))
    return Extract("\n".join(out) + "\n", tuple(c.cell for c in chosen), tuple(origin), neutralised)


# ---- checking ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotebookCheck:
    """A check of a notebook: the engine's report, its error placed in the notebook, and what was checked."""

    report: CheckReport
    extract: Extract
    error_cell: int | None = None  # the cell of report.error, whose line is then the line within that cell

    def where(self, line: int | None) -> str:
        cell = next((c for c in self.extract.cells if c.number == self.error_cell), None)
        place = cell.label if cell else "the notebook"
        return f"{place}, line {line}" if line else place

    def to_json(self) -> dict:
        out = self.report.to_json()
        if out["error"] is not None:
            out["error"]["cell"] = self.error_cell
        out["notebook"] = {"cells": self.extract.cell_numbers, "neutralised_lines": self.extract.neutralised}
        return out


def check_notebook(checker, exercise: Exercise, path: Path, cells: list[int] | None = None, text: str | None = None) -> NotebookCheck:
    """Check the exercise's cells of a notebook exactly as a .py file, with errors at the notebook's cell and line."""
    extract = extract_exercise(path, exercise, checker.course, cells, text)
    report = checker.check(exercise, path, source=extract.source, cells=extract)
    error_cell = None
    if report.error is not None:
        place = extract.locate(report.error.line)
        if place is not None:
            error_cell, line, original = place
            report.error = replace(report.error, line=line, source=original)
        else:
            report.error = replace(report.error, line=None, source=None)
    return NotebookCheck(report, extract, error_cell)
