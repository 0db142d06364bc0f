"""The learner's file, read once per check (no torch here).

`read_learner_file` reads it before any start-up, refused at once when it is no regular UTF-8 file of a sane
size (CheckerError: the refusal the learner fixes in how they call the tutor); the command line reads it here
whether the check runs in this process or on the check server. `LearnerFile` is what a check knows of it: its
text, its syntax tree (parsed here, once: the one place learner text is parsed on a check's path), the names
each top-level statement writes, the statements that finish each gradient and, for a notebook, which cell each
line came from. The check builds it where it starts and hands it down: the autograd refusal, the engine's
source notes, the sandbox's instrumented compile and the child's fallback compile all read this one object.
"""

from __future__ import annotations

import ast
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

# A learner's file larger than this is refused before it goes near the sandbox (the lecture's answers are a
# few KiB; the file travels to the sandbox inside one JSON header).
MAX_LEARNER_BYTES = 1024 * 1024


class CheckerError(Exception):
    """A problem the learner fixes by changing how they call the tutor (device, file, data)."""


def read_learner_file(path: Path) -> str:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CheckerError(f"{path} does not exist") from None
    except OSError as exc:
        raise CheckerError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CheckerError(f"{path} is a folder, not a Python file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read, /dev/zero would never end
        raise CheckerError(f"{path} is not a regular file (a pipe or a device?); name a Python file")
    if info.st_size > MAX_LEARNER_BYTES:
        raise CheckerError(f"{path} is {info.st_size:,} bytes; a file to check may be at most {MAX_LEARNER_BYTES // 1024} KiB")
    try:
        text = path.read_text(encoding="utf-8")
        if len(text) > MAX_LEARNER_BYTES:  # it grew after the stat
            raise CheckerError(f"{path} is larger than {MAX_LEARNER_BYTES // 1024} KiB")
        return text
    except FileNotFoundError:
        raise CheckerError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise CheckerError(f"{path} is a folder, not a Python file") from None
    except UnicodeDecodeError:
        raise CheckerError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise CheckerError(f"{path} cannot be read: {exc.strerror or exc}") from None


@lru_cache(maxsize=4)
def _parse(text: str, filename: str) -> tuple[ast.Module | None, BaseException | None]:
    """The tree of `text`, or the error that stops it parsing. Cached: a file checked again unchanged (the
    learner saving twice, a grad check batch after batch) is not parsed again. The tree is shared by every
    reader, so none of them may change it."""
    try:
        return ast.parse(text, filename), None
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return None, exc


@dataclass(eq=False)
class LearnerFile:
    """The learner's file as one check reads it. `cells`: for code taken from a notebook, the extract that
    maps its lines back to the notebook's cells (tutor.learner.notebook.Extract)."""

    text: str
    filename: str = "<learner>"
    cells: Any = field(default=None, repr=False)

    @property
    def tree(self) -> ast.Module | None:
        """Its syntax tree; None when it does not parse (the sandbox's child then reports the syntax error)."""
        return _parse(self.text, self.filename)[0]

    @property
    def syntax_error(self) -> BaseException | None:
        return _parse(self.text, self.filename)[1]

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @cached_property
    def writes(self) -> tuple[frozenset[str], ...]:
        """Per top-level statement, the names it writes (nothing when the file does not parse)."""
        tree = self.tree
        return tuple(frozenset(written_names(stmt)) for stmt in tree.body) if tree is not None else ()

    @cached_property
    def assigned(self) -> frozenset[str]:
        """Every name the file binds or changes (empty when it does not parse)."""
        return frozenset().union(*self.writes)

    def finishing(self, names: Iterable[str]) -> dict[int, list[str]]:
        """For each top-level statement index, the names whose last write it is (empty when it does not parse)."""
        tree = self.tree
        return finishing_statements(tree, names, self.writes) if tree is not None else {}


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


__all__ = [
    "MAX_LEARNER_BYTES", "CheckerError", "LearnerFile", "finishing_statements", "read_learner_file", "written_names",
]
