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
from tutor.ui.words import say, styled

ERROR_KINDS = ("syntax", "exception", "timeout", "crash", "memory", "output", "forbidden")


def error_words(kind: str | None, lang: str) -> str:
    """What stopped the learner's code, in words ("a syntax error"); a kind no catalogue knows as it is."""
    return say(f"error-{kind}", lang) if kind in ERROR_KINDS else str(kind)


def error_where(path: Path, line: int | None, lang: str, with_file: bool = True) -> str:
    """Where the learner's code stopped: in a notebook (its message names the cell), or at a line."""
    if path.suffix == ".ipynb":  # the message starts with the notebook's cell and the line within it
        return say("where-notebook", lang, name=path.name)
    if not line:
        return ""
    return say("where-line-of", lang, line=line, name=path.name) if with_file else say("where-line", lang, line=line)


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


def report_banner(report: CheckReport, path: Path, follow_up: str, lang: str = "en") -> tuple[RenderableType, str]:
    """(what to show, a CSS class: passed / failing / error); follow_up says what to do after a pass."""
    tensors = report.tensors
    counted = report.required  # exercise 4's supporting rows are not steps
    passing = sum(t.passed for t in counted)
    error = report.error
    if error:
        head = styled("stopped", lang, what=error_words(error.kind, lang), where=error_where(path, error.line, lang),
                      message=error.message)
        parts: list[RenderableType] = [head]
        caret = error.caret()
        if caret is not None:  # as Python shows a syntax error: the line, a caret under the place
            gutter = f"{error.line} │ "
            parts += [Text(gutter + caret[0]), Text(" " * len(gutter) + caret[1], style="bold red")]
        else:
            excerpt = error_excerpt(path, error.line, error.source)
            if excerpt is not None:
                parts.append(excerpt)
        if not report.rechecked:  # the file did not run: the rows show their last verdicts
            parts.append(Text(say("not-rechecked", lang), style="dim"))
        elif tensors:
            parts.append(Text(say("set-before", lang, passing=passing, total=len(counted)), style="dim"))
        return Group(*parts), "error"
    if report.passed:
        text = Text(say("passed", lang, count=len(counted)), style="bold")
        text.append(f"  {follow_up}")
        return text, "passed"
    root = first_failing_root(tensors)
    text = Text.assemble((say("failing", lang, passing=passing, total=len(counted)), "bold"))
    if root:
        text.append(say("first-to-fix", lang, name=root))
    return text, "failing"


class Banner(Static):
    """One Static whose CSS class follows the state, so colours come from the .tcss and the theme."""

    STATES = ("passed", "failing", "error", "info", "problem")

    def say(self, content: RenderableType, state: str = "info") -> None:
        for name in self.STATES:
            self.set_class(name == state, name)
        self.update(content)
