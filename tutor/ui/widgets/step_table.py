"""The table of an exercise's steps: one row per gradient, in course order, with the first failing root marked."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.events import Resize
from textual.geometry import Region, Spacing
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tutor.course.model import Exercise
from tutor.reports.check import STATUS_STYLE, TensorVerdict, fmt_shape
from tutor.ui.words import say

# (key, width): shapes up to "(32, 3, 10)"; the status column takes what is left. The label is ui-col-<key>.
COLUMNS = (("step", 18), ("expected", 11), ("yours", 11), ("diff", 10), ("status", None))


def first_failing_root(tensors: list[TensorVerdict]) -> str | None:
    """The first failing tensor whose error is its own (not inherited from an earlier step), among the rows this
    check judged (after a file that did not run, its error comes first)."""
    for t in tensors:
        if not t.passed and not t.inherits_from and t.rechecked:
            return t.name
    return None


def status_word(status: str, lang: str) -> str:
    """A verdict's status as the learner reads it (a status no catalogue knows is shown as it is)."""
    return say(f"status-{status}", lang) if status in STATUS_STYLE else status


def status_word_text(status: str, lang: str) -> Text:
    """A verdict's status word in its colour."""
    return Text(status_word(status, lang), style=STATUS_STYLE.get(status, ""))


def status_text(t: TensorVerdict, lang: str = "en", root: str | None = None) -> Text:
    """A row's status in a few words that fit the table's column at 80 columns in either language (the detail
    pane says it in full): the status, and why a wrong row is wrong when its own line is not the cause."""
    if t.not_checked:
        return Text(say("not-checked", lang), style="dim")
    text = status_word_text(t.status, lang)
    if not t.rechecked:  # the last check's verdict, dim: this check did not run the file
        text.stylize("dim")
        text.append(say("status-not-rechecked", lang), style="dim")
        return text
    if t.passed:
        return text
    if t.inherits_from:
        # the row marked ▶ by its arrow, any other root by its name
        shown = "▶" if t.inherits_from == root else t.inherits_from
        text.append(say("status-inherits", lang, name=shown), style="italic")
    elif t.local == "pass":
        text.append(say("status-line-right", lang), style="italic")
    return text


class StepTable(DataTable):
    """Rows are keyed by step name; show_report() refreshes them in place and keeps the cursor."""

    def __init__(self, exercise: Exercise, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.exercise = exercise
        self.root: str | None = None
        self.laid_out = False

    @property
    def lang(self) -> str:
        return self.app.lang

    def on_mount(self) -> None:
        for key, width in COLUMNS:
            self.add_column(say(f"col-{key}", self.lang), key=key, width=width)
        for step in self.exercise.rows:
            self.add_row(Text(f"  {step.name}"), "", "", "", Text(say("not-checked", self.lang), style="dim"),
                         key=step.name)
        if len(self.exercise.rows) > 1:  # no blank rows under the last: the detail pane takes the room
            self.styles.max_height = self.header_height + len(self.exercise.rows)

    def relabel(self, tensors: list[TensorVerdict] | None) -> None:
        """The column labels and rows again, in the app's language now."""
        for key, _ in COLUMNS:
            self.columns[ColumnKey(key)].label = Text(say(f"col-{key}", self.lang))
        self.show_report(tensors or [])
        self.refresh()

    def on_resize(self, event: Resize) -> None:
        if event.size.height and not self.laid_out:
            # The cursor placed on mount was scrolled to before the table had its height; scroll again now.
            self.laid_out = True
            self.scroll_to(y=0, animate=False, immediate=True)
            self.show_step(self.selected_step)

    def show_report(self, tensors: list[TensorVerdict]) -> None:
        by_name = {t.name: t for t in tensors}
        self.root = first_failing_root(tensors)
        statuses: list[Text] = []
        for step in self.exercise.rows:
            t = by_name.get(step.name)
            if t is not None:
                status = status_text(t, self.lang, self.root)
            else:
                status = Text(say("not-checked", self.lang), style="dim")
            statuses.append(status)
            self.update_cell(step.name, "status", status, update_width=True)
            if t is None or t.not_checked:  # not judged, no verdict from before (a refused file, a syntax error)
                for key in ("step", "expected", "yours", "diff"):
                    self.update_cell(step.name, key, Text(f"  {step.name}") if key == "step" else "")
                continue
            marker = "▶ " if step.name == self.root else "  "
            name = Text(marker + step.name, style="bold reverse red" if step.name == self.root else "")
            diff = t.max_abs_diff
            self.update_cell(step.name, "step", name)
            self.update_cell(step.name, "expected", fmt_shape(t.expected_shape))
            self.update_cell(step.name, "yours", fmt_shape(t.shape))
            self.update_cell(step.name, "diff", f"{diff:.2e}" if diff is not None else "—")

        # The status column made wide enough for its words now, not only once the table is idle: a row drawn in
        # between keeps the width it was drawn with, and wider words (Chinese ones take two cells each) would be
        # cut. (It narrows, when its words do, once idle.)
        column = self.columns[ColumnKey("status")]
        column.content_width = max([column.content_width, *(cell_len(text.plain) for text in statuses)])

    def select_step(self, name: str) -> None:
        names = [s.name for s in self.exercise.rows]
        if name in names:
            self.move_cursor(row=names.index(name))

    def show_step(self, name: str) -> None:
        """Scroll so that the row of `name` is in view, leaving the cursor where it is."""
        names = [s.name for s in self.exercise.rows]
        if name not in names:
            return
        index = names.index(name)
        header = self.header_height if self.show_header else 0  # fixed at the top: rows scroll beneath it
        y = header + sum(row.height for row in self.ordered_rows[:index])
        row = Region(0, y, 1, self.ordered_rows[index].height)
        self.scroll_to_region(row, animate=False, spacing=Spacing(top=header), force=True, immediate=True,
                              x_axis=False)

    @property
    def selected_step(self) -> str:
        rows = self.exercise.rows
        return rows[min(self.cursor_row, len(rows) - 1)].name
