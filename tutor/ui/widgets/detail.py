"""The detail pane of the selected step: forward line, shapes, diagnosis, hints so far, error heatmaps."""

from __future__ import annotations


from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tutor.course.model import Step
from tutor.reports.check import Grid, TensorVerdict, fmt_shape
from tutor.ui.widgets.heatmap import Heatmap, legend
from tutor.ui.widgets.step_table import status_text


def _grid_caption(grid: Grid) -> str:
    shape = fmt_shape(grid["shape"])
    if grid.get("downsampled"):
        return f"{shape} shown as {grid['rows']}×{grid['cols']} blocks"
    return f"{shape}, one cell per entry"


def diff_section(name: str, status: str, grid: Grid | None) -> list[RenderableType]:
    if grid is None:
        return []
    if status == "exact":
        return [Text(f"{name} equals autograd's exactly: no difference to draw.", style="green")]
    worst = Text.assemble(
        (f"Where your {name} differs from autograd's", "bold"),
        f"  |yours − expected|, brightest = {grid['max']:.2e}; {_grid_caption(grid)}.",
    )
    why = Text(
        "Whole bright columns point at a wrong reduction axis; bright cells only at the targets point at indexing.",
        style="dim",
    )
    return [worst, Heatmap(grid), Text.assemble(*legend(False)), why]


def value_section(name: str, grid: Grid | None) -> list[RenderableType]:
    if grid is None or grid["rows"] * grid["cols"] < 2:
        return []
    head = Text.assemble((f"Your {name} itself", "bold"), f"  (as the lecture's imshow; {_grid_caption(grid)})")
    return [head, Heatmap(grid, signed=True), Text.assemble(*legend(True))]


def hint_section(step: Step, shown: int) -> list[RenderableType]:
    total = len(step.hints)
    if total == 0:
        return [Text("This step has no hints.", style="dim")]
    head = Text.assemble(("Hints", "bold"), f"  {shown} of {total} shown")
    if shown < total:
        head.append("; press h for the next" + (" (the answer line)" if shown == total - 1 else ""), style="dim")
    lines: list[RenderableType] = [head]
    for i, hint in enumerate(step.hints[:shown], start=1):
        lines.append(Text(f" {i}. {hint}"))
    return lines


def step_detail(step: Step, tensor: TensorVerdict | None, grids: dict[str, Grid] | None, hints_shown: int) -> Group:
    upper, lower = detail_parts(step, tensor, grids, hints_shown)
    return Group(*_spaced(upper + lower))


def detail_parts(
    step: Step, tensor: TensorVerdict | None, grids: dict[str, Grid] | None, hints_shown: int
) -> tuple[list[RenderableType], list[RenderableType]]:
    """(the step, its verdict, once passed its why, and the hints so far; then the heatmaps below them)."""
    parts: list[RenderableType] = [
        Text.assemble((step.name, "bold"), f" — the gradient of the loss with respect to {step.of}"),
        Text("from the forward line:", style="dim"),
        Syntax(step.line, "python", theme="ansi_dark", background_color="default"),
    ]
    if tensor is None:
        parts.append(Text("Not checked yet.", style="dim"))
    else:
        parts.append(Text.assemble(
            "expected shape ", (fmt_shape(tensor.expected_shape), "bold"),
            " · yours ", (fmt_shape(tensor.shape), "bold"),
            " · ", status_text(tensor),
        ))
        if tensor.max_abs_diff is not None:
            parts.append(Text(f"max |yours − expected| = {tensor.max_abs_diff:.3e}"))
        if tensor.note and tensor.status != "missing":
            parts.append(Text(tensor.note, style="italic"))
        upstream = ", ".join(tensor.upstream)
        if tensor.local == "pass" and not tensor.passed:
            parts.append(Text("Your line for this step follows its local rule: fix the gradient it inherits from "
                              "first.", style="yellow"))
        elif tensor.local == "fail" and upstream:
            parts.append(Text(f"With random gradients injected for {upstream}, this line does not give its local "
                              "rule's value: the line itself is wrong.", style="yellow"))
        elif tensor.local == "fail":
            parts.append(Text("This line is wrong (nothing upstream of it was injected: it is judged as written).",
                              style="yellow"))
        diagnosis = tensor.diagnosis
        if diagnosis:
            parts.append(Text.assemble(("Likely mistake", "bold yellow"), f" ({diagnosis.get('code')}): {diagnosis.get('message')}"))
    passed = tensor is not None and tensor.passed
    if passed:  # the insight straight under the verdict, where an 80×24 screen still shows it
        parts += why_section(step)
    parts += hint_section(step, hints_shown)
    upper, parts = parts, []
    if passed:
        # and the gradient itself; a map of float noise below tolerance teaches nothing
        if grids:
            parts += value_section(step.name, grids.get("value"))
    elif tensor is not None and grids:
        parts += diff_section(step.name, tensor.status, grids.get("diff"))
        parts += value_section(step.name, grids.get("value"))
    return upper, parts


def why_section(step: Step) -> list[RenderableType]:
    if not step.why:
        return []
    head = Text.assemble(("Why", "bold"), (f"  the lecture at {step.why_at}", "dim"))
    return [head, Text(step.why)]


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

    def compose(self):
        yield Static(id="detail-body")
        yield Static(id="detail-more")

    def show(self, step: Step, tensor: TensorVerdict | None, grids: dict[str, Grid] | None, hints_shown: int) -> None:
        upper, lower = detail_parts(step, tensor, grids, hints_shown)
        self.content_group = Group(*_spaced(upper + lower))
        self.query_one("#detail-body", Static).update(Group(*_spaced(upper)))
        self.query_one("#detail-more", Static).update(Group(*_spaced([Text(""), *lower]) if lower else []))

    def show_hints(self) -> None:
        """Scroll so that the last revealed hint (the end of the upper part) is in view."""

        def scroll() -> None:
            body = self.query_one("#detail-body", Static)
            bottom = body.virtual_region.bottom
            self.scroll_to(y=max(0, bottom - self.scrollable_content_region.height), animate=False)

        self.call_after_refresh(scroll)
