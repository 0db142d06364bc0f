"""The detail pane of the selected step: forward line, shapes, diagnosis, hints so far, error heatmaps."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tutor.course.model import Step
from tutor.messages import is_message, render_message
from tutor.reports.check import Grid, TensorVerdict, fmt_shape
from tutor.ui.widgets.heatmap import Heatmap, legend
from tutor.ui.widgets.step_table import status_word_text
from tutor.ui.words import say, styled


def _grid_caption(grid: Grid, lang: str) -> str:
    shape = fmt_shape(grid["shape"])
    if grid.get("downsampled"):
        caption = say("grid-blocks", lang, shape=shape, rows=grid["rows"], cols=grid["cols"])
    else:
        caption = say("grid-cells", lang, shape=shape)
    batch = grid.get("batch")  # drawn on a second batch, where the line fails (tutor.engine.grids)
    return say("grid-batch", lang, caption=caption, batch=render_message(batch, lang)) if is_message(batch) else caption


def diff_section(name: str, status: str, grid: Grid | None, lang: str = "en") -> list[RenderableType]:
    if grid is None:
        return []
    if status == "exact":
        return [Text(say("diff-exact", lang, name=name), style="green")]
    worst = styled("diff-head", lang, name=name, top=grid["max"], caption=_grid_caption(grid, lang))
    why = Text(say("diff-why", lang), style="dim")
    return [worst, Heatmap(grid), Text.assemble(*legend(False, lang)), why]


def value_section(name: str, grid: Grid | None, lang: str = "en") -> list[RenderableType]:
    if grid is None or grid["rows"] * grid["cols"] < 2:
        return []
    head = styled("value-head", lang, name=name, caption=_grid_caption(grid, lang))
    return [head, Heatmap(grid, signed=True), Text.assemble(*legend(True, lang))]


def hint_section(step: Step, shown: int, lang: str = "en") -> list[RenderableType]:
    hints = step.hints_in(lang)
    total = len(hints)
    if total == 0:
        return [Text(say("hints-none", lang), style="dim")]
    head = styled("hints-head", lang, shown=shown, total=total)
    if shown < total:
        head.append(say("hints-next-answer" if shown == total - 1 else "hints-next", lang), style="dim")
    lines: list[RenderableType] = [head]
    for i, hint in enumerate(hints[:shown], start=1):
        lines.append(Text(f" {i}. {hint}"))
    return lines


def step_detail(step: Step, tensor: TensorVerdict | None, grids: dict[str, Grid] | None, hints_shown: int,
                lang: str = "en") -> Group:
    upper, lower = detail_parts(step, tensor, grids, hints_shown, lang)
    return Group(*_spaced(upper + lower))


def verdict_lines(tensor: TensorVerdict, lang: str) -> list[RenderableType]:
    """The check's verdict on one step: shapes and status, the difference, its note, the local rule, the diagnosis."""
    shapes = styled("shapes", lang, expected=fmt_shape(tensor.expected_shape), yours=fmt_shape(tensor.shape))
    shapes.append_text(status_word_text(tensor.status, lang))  # the reason, in full, below
    parts: list[RenderableType] = [shapes]
    if not tensor.rechecked:
        parts.append(Text(say("detail-not-rechecked", lang), style="dim"))
    if tensor.max_abs_diff is not None:
        parts.append(Text(say("max-diff", lang, diff=tensor.max_abs_diff)))
    note = tensor.note_text(lang)
    if note and tensor.status != "missing":
        parts.append(Text(note, style="italic"))
    upstream = ", ".join(tensor.upstream)
    if tensor.local == "fail" and upstream:
        parts.append(Text(say("local-fail-upstream", lang, upstream=upstream), style="yellow"))
    elif tensor.local == "fail":
        parts.append(Text(say("local-fail", lang), style="yellow"))
    elif tensor.inherits_from and not tensor.passed:  # the row to fix first, named on every row it makes wrong
        code = "inherits-local-pass" if tensor.local == "pass" else "inherits"
        parts.append(Text(say(code, lang, root=tensor.inherits_from), style="yellow"))
    elif tensor.local == "pass" and not tensor.passed:
        parts.append(Text(say("local-pass", lang), style="yellow"))
    diagnosis = tensor.diagnosis
    if diagnosis:
        parts.append(styled("likely-mistake", lang, code=diagnosis.label(lang), message=diagnosis.text(lang)))
    return parts


def detail_parts(
    step: Step, tensor: TensorVerdict | None, grids: dict[str, Grid] | None, hints_shown: int, lang: str = "en"
) -> tuple[list[RenderableType], list[RenderableType]]:
    """(the step, its verdict, once passed its why, and the hints so far; then the heatmaps below them)."""
    parts: list[RenderableType] = [
        styled("step-head", lang, name=step.name, of=step.of),
        Text(say("forward-line", lang), style="dim"),
        Syntax(step.line, "python", theme="ansi_dark", background_color="default"),
    ]
    if tensor is None:
        parts.append(Text(say("not-checked-yet", lang), style="dim"))
    else:
        parts += verdict_lines(tensor, lang)
    passed = tensor is not None and tensor.passed
    if passed:  # the insight straight under the verdict, where an 80×24 screen still shows it
        parts += why_section(step, lang)
    parts += hint_section(step, hints_shown, lang)
    upper, parts = parts, []
    if passed:
        # and the gradient itself; a map of float noise below tolerance teaches nothing
        if grids:
            parts += value_section(step.name, grids.get("value"), lang)
    elif tensor is not None and grids:
        parts += diff_section(step.name, tensor.status, grids.get("diff"), lang)
        parts += value_section(step.name, grids.get("value"), lang)
    return upper, parts


def why_section(step: Step, lang: str = "en") -> list[RenderableType]:
    why = step.text("why", lang)
    if not why:
        return []
    head = styled("why-head", lang, at=str(step.why_at)) if step.why_at else styled("why-head-alone", lang)
    return [head, Text(why)]


def _spaced(parts: list[RenderableType]) -> list[RenderableType]:
    # A blank line before each bold heading keeps the pane readable at 80 columns.
    out: list[RenderableType] = []
    for part in parts:
        if out and isinstance(part, Text) and part.spans and part.spans[0].style == "bold" and part.spans[0].start == 0:
            out.append(Text(""))
        out.append(part)
    return out


class DetailPane(VerticalScroll):
    """Scrolls when the step's detail is taller than the pane."""

    content_group: Group | None = None
    step_name: str | None = None  # the step shown
    hints_pending = False  # the last revealed hint is to be scrolled into view once the pane has its new height

    def compose(self):
        yield Static(id="detail-body")
        yield Static(id="detail-more")

    def show(self, step: Step, tensor: TensorVerdict | None, grids: dict[str, Grid] | None, hints_shown: int) -> None:
        upper, lower = detail_parts(step, tensor, grids, hints_shown, self.app.lang)
        self.content_group = Group(*_spaced(upper + lower))
        self.query_one("#detail-body", Static).update(Group(*_spaced(upper)))
        self.query_one("#detail-more", Static).update(Group(*_spaced([Text(""), *lower]) if lower else []))
        if step.name != self.step_name:  # another step is read from its top; the same one stays where it was read
            self.step_name = step.name
            self.hints_pending = False
            self.scroll_to(y=0, animate=False, immediate=True)

    def show_hints(self) -> None:
        """Scroll so that the last revealed hint (the end of the upper part) is in view: now, and again once the
        pane has laid out its new height (after a question on top of the screen, that comes later)."""
        self.hints_pending = True
        self.call_after_refresh(self.scroll_to_hints)

    def scroll_to_hints(self) -> None:
        body = self.query_one("#detail-body", Static)
        bottom = body.virtual_region.bottom
        self.scroll_to(y=max(0, bottom - self.scrollable_content_region.height), animate=False)

    def on_mount(self) -> None:
        self.watch(self.query_one("#detail-body", Static), "virtual_size", self.body_resized, init=False)

    def body_resized(self) -> None:
        if self.hints_pending:
            self.hints_pending = False
            self.call_after_refresh(self.scroll_to_hints)
