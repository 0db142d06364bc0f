"""The line(s) above the step table that say where the learner stands: passed, failing, an error in their
code (with their own source line highlighted), a missing file, or a checker problem."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import Static

from tutor.reports.check import CheckReport
from tutor.ui.widgets.step_table import first_failing_root

ERROR_WORDS = {
    "syntax": "a syntax error",
    "exception": "an exception",
    "timeout": "a timeout",
    "crash": "a crash",
    "memory": "running out of memory",
    "output": "too much output",
    "forbidden": "autograd (refused here)",
}


def source_excerpt(path: Path, line: int | None) -> RenderableType | None:
    """The learner's own line (with one line around it), highlighted; None when it cannot be read."""
    if not line:
        return None
    try:
        code = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if line > code.count("\n") + 1:
        return None
    return Syntax(code, "python", line_numbers=True, line_range=(max(1, line - 1), line + 1),
                  highlight_lines={line}, theme="ansi_dark", background_color="default", word_wrap=True)


def error_excerpt(path: Path, line: int | None, source: str | None) -> RenderableType | None:
    """The learner's line under an error: from the file, or for a notebook the cell's line the report carries."""
    if path.suffix != ".ipynb":
        return source_excerpt(path, line)
    if not line or not isinstance(source, str):
        return None
    return Syntax(source, "python", line_numbers=True, start_line=line, highlight_lines={line}, theme="ansi_dark",
                  background_color="default", word_wrap=True)


def report_banner(report: CheckReport, path: Path, follow_up: str) -> tuple[RenderableType, str]:
    """(what to show, a CSS class: passed / failing / error); follow_up says what to do after a pass."""
    tensors = report.tensors
    counted = report.required  # exercise 4's supporting rows are not steps
    passing = sum(t.passed for t in counted)
    error = report.error
    if error:
        if path.suffix == ".ipynb":  # the message starts with the notebook's cell and the line within it
            where = f" in {path.name}"
        else:
            where = f" at line {error.line} of {path.name}" if error.line else ""
        head = Text.assemble(("Your code stopped with ", "bold"), (ERROR_WORDS.get(error.kind, error.kind), "bold"),
                             (where, "bold"), ": ", error.message)
        parts: list[RenderableType] = [head]
        excerpt = error_excerpt(path, error.line, error.source)
        if excerpt is not None:
            parts.append(excerpt)
        if tensors:
            parts.append(Text(f"{passing}/{len(counted)} gradients were set before it stopped and pass.", style="dim"))
        return Group(*parts), "error"
    if report.passed:
        what = "the gradient matches" if len(counted) == 1 else f"all {len(counted)} gradients match"
        text = Text(f"✔ Passed: {what} autograd.", style="bold")
        text.append(f"  {follow_up}")
        return text, "passed"
    root = first_failing_root(tensors)
    text = Text.assemble((f"{passing}/{len(counted)} gradients pass", "bold"))
    if root:
        text.append(f"; first to fix: {root} (marked ▶).")
    return text, "failing"


class Banner(Static):
    """One Static whose CSS class follows the state, so colours come from the .tcss and the theme."""

    STATES = ("passed", "failing", "error", "info", "problem")

    def say(self, content: RenderableType, state: str = "info") -> None:
        for name in self.STATES:
            self.set_class(name == state, name)
        self.update(content)
