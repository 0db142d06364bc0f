"""The command that opens the learner's file in their editor at a step's line: `+N` for the terminal editors that
take it (vi, vim, nvim, nano, emacs…), `-g FILE:N` for VS Code, else the file alone; and the line where the
file assigns a gradient."""

from __future__ import annotations

import re
from pathlib import Path, PurePath

# Editors that open a file at line N with `+N` before it, and VS Code's family, which takes `-g FILE:N`.
PLUS_LINE = frozenset({"vi", "vim", "nvim", "gvim", "mvim", "view", "nano", "pico", "emacs", "emacsclient", "micro",
                       "joe", "jed", "mg", "ne", "kak"})
GOTO_LINE = frozenset({"code", "code-insiders", "codium", "vscodium"})


def editor_command(editor: list[str], path: Path, line: int | None) -> list[str]:
    """`editor` (the words of $VISUAL or $EDITOR) opening `path`, at `line` when the editor is one that takes it."""
    name = PurePath(editor[0]).name.lower().removesuffix(".exe") if editor else ""
    if line is None or not editor:
        return [*editor, str(path)]
    if name in PLUS_LINE:
        return [*editor, f"+{line}", str(path)]
    if name in GOTO_LINE:
        return [*editor, "-g", f"{path}:{line}"]
    return [*editor, str(path)]


def assignment_line(source: str, name: str) -> int | None:
    """The 1-based line where `source` first assigns `name` (`name = …`, `name[…] = …`, `name += …`), if any."""
    pattern = re.compile(rf"^[ \t]*{re.escape(name)}[ \t]*(\[[^\n]*\])?[ \t]*([-+*/@]?=)(?!=)", re.M)
    match = pattern.search(source)
    return source.count("\n", 0, match.start()) + 1 if match else None


def step_line(path: Path, name: str) -> int | None:
    """The line of `path` (a Python file; a notebook has no line an editor opens at) that assigns `name`."""
    if path.suffix != ".py":
        return None
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return assignment_line(source, name)
