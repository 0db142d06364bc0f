"""The training run of exercise 4 on its screen: grad check per batch, progress, live loss curve, results, samples.

The panel only renders: the screen feeds it the run's JSON lines (tutor.training.stream's protocol) with
apply(), in order, on the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ProgressBar, Static

from tutor.training.client import FINAL
from tutor.ui.widgets.banner import ERROR_WORDS, error_excerpt
from tutor.ui.widgets.loss_plot import LossPlot
from tutor.ui.widgets.step_table import PASSING, fmt_shape, status_text

WHO = {"learner": "your gradients", "reference": "autograd"}


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _diff(value: float | None) -> str:
    return f"{value:.1e}" if value is not None else "—"


def grad_check_view(lines: list[dict[str, Any]], planned: int) -> RenderableType:
    """One line with a mark per batch checked so far; under it, what failed in the failing batch."""
    marks = Text("Gradient check on the loop's first batches: ", style="bold")
    for line in lines:
        marks.append(f" {line['step']} ")
        marks.append("✔" if line.get("passed") else "✘", style="bold green" if line.get("passed") else "bold red")
    marks.append(" ·" * max(0, planned - len(lines)), style="dim")
    diffs = [t.get("max_abs_diff") or 0.0 for line in lines for t in line.get("tensors", [])]
    if lines and all(line.get("passed") for line in lines):
        counted = [t for t in lines[0].get("tensors", []) if not t.get("support")]
        marks.append(f"  all {len(counted)} gradients match (max |diff| {max(diffs, default=0):.1e})",
                     style="dim")
    failed = next((line for line in lines if not line.get("passed")), None)
    return marks if failed is None else Group(marks, failed_batch(failed))


def failed_batch(line: dict[str, Any]) -> RenderableType:
    """The failing batch: the learner's error, or the first failing gradient (with its parameter) and a table."""
    step, tensors, error = line["step"], line.get("tensors", []), line.get("error")
    if error:
        where = f" at line {error['line']}" if error.get("line") else ""
        return Text.assemble((f"batch {step}: your code stopped with {ERROR_WORDS.get(error.get('kind'), error.get('kind'))}"
                              f"{where}", "bold red"), f": {error.get('message', '')}")
    failing = next((t for t in tensors if t["status"] not in PASSING), None)
    head = Text(f"batch {step}: ", style="bold red")
    if failing is not None:
        head.append(f"{failing['name']} (the gradient of {failing['of']}) is {failing['status']}")
        if failing.get("note"):
            head.append(f": {failing['note']}", style="")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
    for column in ("gradient", "parameter", "expected", "yours", "max |diff|", "status"):
        table.add_column(column)
    for t in tensors:
        table.add_row(t["name"], t.get("of") or "", fmt_shape(t.get("expected_shape")), fmt_shape(t.get("shape")),
                      _diff(t.get("max_abs_diff")), status_text(t))
    return Group(head, table)


def results_table(train: dict[str, Any], reference_seconds: float | None) -> Table:
    table = Table(title="After calibrating BatchNorm on the training set", title_justify="left", title_style="bold",
                  box=box.SIMPLE_HEAD)
    for column in ("model", "steps", "train loss", "val loss", "seconds", "steps/s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    rows = (("your gradients", train.get("learner"), train.get("seconds")), ("autograd", train.get("reference"), reference_seconds))
    for label, losses, seconds in rows:
        if not losses or losses.get("train") is None:
            continue
        rate = f"{losses['steps'] / seconds:,.0f}" if seconds else "—"
        table.add_row(label, f"{losses['steps']:,}", f"{losses['train']:.4f}", f"{losses['val']:.4f}",
                      f"{seconds:.1f}" if seconds is not None else "—", rate)
    difference = train.get("difference")
    if difference:
        table.add_row("difference", "", f"{difference['train']:.1e}", f"{difference['val']:.1e}", "", "", style="dim")
    return table


def samples_table(samples: dict[str, list[str]]) -> Table:
    """The 20 names of each model side by side, in two blocks of ten rows so they fit 80 columns."""
    mine, theirs = samples.get("learner") or [], samples.get("reference") or []
    blocks = 2 if len(mine) > 1 else 1
    rows = -(-len(mine) // blocks)
    table = Table(title="Samples (the lecture's seed)", title_justify="left", title_style="bold", box=None,
                  padding=(0, 1), header_style="dim")
    for _ in range(blocks):
        table.add_column("#", justify="right", style="dim")
        table.add_column("yours", no_wrap=True, overflow="ellipsis")
        if theirs:
            table.add_column("autograd", no_wrap=True, overflow="ellipsis")
    for r in range(rows):
        cells: list[str] = []
        for i in range(r, r + blocks * rows, rows):
            name = (mine[i] or "(empty)") if i < len(mine) else None
            cells += [str(i + 1) if name is not None else "", name or ""]
            if theirs:
                cells.append(theirs[i] if name is not None and i < len(theirs) else "")
        table.add_row(*cells)
    return table


def outcome(line: dict[str, Any], path: Path) -> tuple[RenderableType, str]:
    """The run's last word (and a CSS class): passed, cancelled, stopped at the grad check, or an error."""
    kind = line["type"]
    if kind == "crashed":
        return Text.assemble(("✘ Training stopped unexpectedly: ", "bold"), line.get("message", ""),
                             "\nWhat was computed is kept above; press t to try again."), "problem"
    if kind == "error":
        return Text.assemble(("✘ Could not train: ", "bold"), line.get("message", "")), "problem"
    result = line["result"]
    train = result.get("train") or {}
    error = result.get("error")
    if result.get("passed"):
        return Text(f"✔ Your gradients check out and trained all {train.get('requested_steps', 0):,} steps without "
                    "loss.backward().", style="bold"), "passed"
    if line.get("cancelled"):
        done = train.get("steps", 0)
        if not train:
            return Text("■ Cancelled during the grad check; nothing was trained.", style="bold"), "cancelled"
        return Text(f"■ Cancelled after {done:,} of {train.get('requested_steps', 0):,} steps; the results are for "
                    "the model trained so far (no autograd run).", style="bold"), "cancelled"
    if error and error.get("kind") == "grad-check":
        return Text.assemble(("✘ The gradient check failed, so nothing was trained: ", "bold"), error.get("message", ""),
                             f"\nFix {error.get('gradient')} (the gradient of {error.get('parameter')}), save, and "
                             "press t again."), "problem"
    if error:
        if path.suffix == ".ipynb":  # the message starts with the notebook's cell and the line within it
            where = f" in {path.name}"
        else:
            where = f" at line {error['line']}" if error.get("line") else ""
        head = Text.assemble((f"✘ {ERROR_WORDS.get(error.get('kind'), error.get('kind'))}{where}: ", "bold"),
                             error.get("message", ""))
        excerpt = error_excerpt(path, error)
        return (Group(head, excerpt) if excerpt is not None else head), "problem"
    return Text("✘ Training did not finish.", style="bold"), "problem"


class TrainingPanel(VerticalScroll):
    """What a run has shown so far; start() at each run, apply() each line of the run."""

    OUTCOMES = ("passed", "cancelled", "problem")
    TEXTS = ("#train-outcome", "#train-gradcheck", "#train-phase", "#train-results", "#train-samples", "#train-output")

    def __init__(self, path: Path, grad_check_steps: int, default_steps: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.grad_check_steps = grad_check_steps
        self.default_steps = default_steps
        self.started = False
        self.grad_lines: list[dict[str, Any]] = []
        self.lossi: dict[str, list[float]] = {}
        self.total = default_steps
        self.last: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.intro(), id="train-intro")
        with Vertical(id="train-run"):  # shown in the training view only (tutor.tcss)
            for name in self.TEXTS[:3]:
                yield Static(id=name[1:])
            yield ProgressBar(id="train-bar", show_eta=False)
            yield LossPlot(id="train-plot")
            for name in self.TEXTS[3:]:
                yield Static(id=name[1:])

    def on_mount(self) -> None:
        for name in (*self.TEXTS, "#train-bar", "#train-plot"):
            self.query_one(name).display = False

    def intro(self) -> Text:
        if self.started:
            return Text("v: the step table · t: train again · x: stop a run (keeps what it computed)", style="dim")
        return Text.assemble(("Press t to train", "bold"), f" with your gradients: a grad check on {self.grad_check_steps} "
                             f"batches, then {self.default_steps:,} steps without loss.backward(), then autograd's "
                             "run to compare.")

    def show(self, name: str, content: RenderableType | None) -> None:
        """Update one of the texts; an empty one takes no room."""
        widget = self.query_one(name, Static)
        widget.display = content is not None
        widget.update(content if content is not None else "")

    def start(self) -> None:
        self.started = True
        self.grad_lines, self.lossi, self.total, self.last = [], {}, self.default_steps, None
        self.query_one("#train-intro", Static).update(self.intro())
        for name in self.TEXTS:
            self.show(name, None)
        self.query_one("#train-outcome").set_classes("")
        self.query_one(ProgressBar).display = False
        self.query_one(LossPlot).display = False
        self.query_one(LossPlot).set_series({}, self.total)
        self.set_phase("Starting the training process (it loads torch)…")
        self.scroll_home(animate=False)

    def set_phase(self, text: str) -> None:
        self.show("#train-phase", Text(text) if text else None)

    def apply(self, line: dict[str, Any]) -> None:
        kind = line.get("type")
        if kind == "phase":
            self._phase(line)
        elif kind == "grad-check":
            self.grad_lines.append(line)
            self.show("#train-gradcheck", grad_check_view(self.grad_lines, self.grad_check_steps))
        elif kind == "progress":
            self._progress(line)
        elif kind in FINAL:
            self._final(line)

    def _phase(self, line: dict[str, Any]) -> None:
        phase, steps, who = line.get("phase"), int(line.get("steps", 0)), line.get("who", "learner")
        if phase == "grad-check":
            self.grad_check_steps = steps
            self.show("#train-gradcheck", grad_check_view([], steps))
            self.set_phase(f"Checking your gradients against autograd's on the first {steps} batches…")
        elif phase in ("train", "reference"):
            if phase == "train":
                self.total = steps
            self.lossi[who] = []
            bar = self.query_one(ProgressBar)
            bar.display = True
            bar.update(total=steps, progress=0)
            self.query_one(LossPlot).display = True
            self.set_phase(f"Training with {WHO[who]}: 0 / {steps:,} steps")
        elif phase == "evaluate":
            self.set_phase(f"Calibrating BatchNorm, evaluating and sampling ({WHO.get(who, who)}'s model)…")

    def _progress(self, line: dict[str, Any]) -> None:
        who, step, steps, elapsed = line["who"], int(line["step"]), int(line["steps"]), float(line["elapsed"])
        history = self.lossi.setdefault(who, [])
        history.extend(float(v) for v in line.get("lossi", []))
        rate = step / elapsed if elapsed > 0 else 0.0
        eta = (steps - step) / rate if rate > 0 else None
        loss = f" · log10 loss {history[-1]:.3f}" if history else ""
        self.set_phase(f"Training with {WHO[who]}: {step:,} / {steps:,} steps · {rate:,.0f} steps/s · "
                       f"ETA {_eta(eta)}{loss}")
        self.query_one(ProgressBar).update(total=steps, progress=step)
        # autograd's curve first, so the learner's draws over it where they coincide
        ordered = {name: self.lossi[name] for name in ("reference", "learner") if name in self.lossi}
        self.query_one(LossPlot).set_series(ordered, self.total)

    def _final(self, line: dict[str, Any]) -> None:
        self.last = line
        content, state = outcome(line, self.path)
        self.show("#train-outcome", content)
        for name in self.OUTCOMES:
            self.query_one("#train-outcome").set_class(name == state, name)
        self.query_one(ProgressBar).display = False
        self.set_phase("")
        if line["type"] != "result":
            return
        result = line["result"]
        train = result.get("train")
        if train and (train.get("learner") or {}).get("train") is not None:
            parts: list[RenderableType] = [results_table(train, line.get("reference_seconds"))]
            difference = train.get("difference")
            if difference:
                worst = max(difference.values())
                parts.append(Text(f"Your model and autograd's agree within {worst:.1e} (train and val loss)."))
            self.show("#train-results", Group(*parts))
            self.show("#train-samples", samples_table(result.get("samples", {})))
        if line.get("output", "").strip():
            printed = Text("your code printed (first lines):\n", style="dim")
            printed.append(line["output"].rstrip()[:2000])
            self.show("#train-output", printed)
        self.scroll_home(animate=False)
