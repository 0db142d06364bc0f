"""The training run of exercise 4 on its screen: grad check per batch, progress, live loss curve, results, samples.

The panel only renders: the screen feeds it the run's JSON lines (tutor.training.stream's protocol) with
apply(), in order, on the event loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ProgressBar, Static

from tutor.reports.check import fmt_shape
from tutor.reports.training import (
    FINAL_UPDATES,
    GradCheckStep,
    PhaseStarted,
    ProgressEvent,
    RunUpdate,
    TrainingProblem,
    TrainingResult,
)
from tutor.training.view import PANEL, agreement, eta_text, results_table, samples_table
from tutor.ui.widgets.banner import ERROR_WORDS, error_excerpt
from tutor.ui.widgets.loss_plot import LossPlot
from tutor.ui.widgets.step_table import status_text

WHO = {"learner": "your gradients", "reference": "autograd"}


def _diff(value: float | None) -> str:
    return f"{value:.1e}" if value is not None else "—"


def grad_check_view(steps: list[GradCheckStep], planned: int) -> RenderableType:
    """One line with a mark per batch checked so far; under it, what failed in the failing batch."""
    marks = Text("Gradient check on the loop's first batches: ", style="bold")
    for checked in steps:
        passed = checked.report.passed
        marks.append(f" {checked.step} ")
        marks.append("✔" if passed else "✘", style="bold green" if passed else "bold red")
    marks.append(" ·" * max(0, planned - len(steps)), style="dim")
    diffs = [t.max_abs_diff or 0.0 for checked in steps for t in checked.report.tensors]
    if steps and all(checked.report.passed for checked in steps):
        counted = steps[0].report.required
        marks.append(f"  all {len(counted)} gradients match (max |diff| {max(diffs, default=0):.1e})",
                     style="dim")
    failed = next((checked for checked in steps if not checked.report.passed), None)
    return marks if failed is None else Group(marks, failed_batch(failed))


def failed_batch(checked: GradCheckStep) -> RenderableType:
    """The failing batch: the learner's error, or the first failing gradient (with its parameter) and a table."""
    step, tensors, error = checked.step, checked.report.tensors, checked.report.error
    if error:
        where = f" at line {error.line}" if error.line else ""
        return Text.assemble((f"batch {step}: your code stopped with {ERROR_WORDS.get(error.kind, error.kind)}"
                              f"{where}", "bold red"), f": {error.message}")
    failing = next((t for t in tensors if not t.passed), None)
    head = Text(f"batch {step}: ", style="bold red")
    if failing is not None:
        head.append(f"{failing.name} (the gradient of {failing.of}) is {failing.status}")
        if failing.note:
            head.append(f": {failing.note}", style="")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
    for column in ("gradient", "parameter", "expected", "yours", "max |diff|", "status"):
        table.add_column(column)
    for t in tensors:
        table.add_row(t.name, t.of or "", fmt_shape(t.expected_shape), fmt_shape(t.shape), _diff(t.max_abs_diff),
                      status_text(t))
    return Group(head, table)


def outcome(final: TrainingResult | TrainingProblem, path: Path) -> tuple[RenderableType, str]:
    """The run's last word (and a CSS class): passed, cancelled, stopped at the grad check, or an error."""
    if isinstance(final, TrainingProblem):
        if final.kind == "crashed":
            return Text.assemble(("✘ Training stopped unexpectedly: ", "bold"), final.message,
                                 "\nWhat was computed is kept above; press t to try again."), "problem"
        return Text.assemble(("✘ Could not train: ", "bold"), final.message), "problem"
    result, learner, error = final, final.learner, final.error
    if result.passed:
        return Text(f"✔ Your gradients check out and trained all {result.requested_steps:,} steps without "
                    "loss.backward().", style="bold"), "passed"
    if result.cancelled:
        if learner is None:
            return Text("■ Cancelled during the grad check; nothing was trained.", style="bold"), "cancelled"
        return Text(f"■ Cancelled after {learner.steps:,} of {result.requested_steps:,} steps; the results are for "
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
        excerpt = error_excerpt(path, error.get("line"), error.get("source"))
        return (Group(head, excerpt) if excerpt is not None else head), "problem"
    return Text("✘ Training did not finish.", style="bold"), "problem"


class TrainingPanel(VerticalScroll):
    """What a run has shown so far; start() at each run, apply() each update of the run."""

    OUTCOMES = ("passed", "cancelled", "problem")
    TEXTS = ("#train-outcome", "#train-gradcheck", "#train-phase", "#train-results", "#train-samples", "#train-output")

    def __init__(self, path: Path, grad_check_steps: int, default_steps: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.grad_check_steps = grad_check_steps
        self.default_steps = default_steps
        self.started = False
        self.grad_steps: list[GradCheckStep] = []
        self.lossi: dict[str, list[float]] = {}
        self.total = default_steps
        self.last: TrainingResult | TrainingProblem | None = None

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
        self.grad_steps, self.lossi, self.total, self.last = [], {}, self.default_steps, None
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

    def apply(self, update: RunUpdate) -> None:
        if isinstance(update, PhaseStarted):
            self._phase(update)
        elif isinstance(update, GradCheckStep):
            self.grad_steps.append(update)
            self.show("#train-gradcheck", grad_check_view(self.grad_steps, self.grad_check_steps))
        elif isinstance(update, ProgressEvent):
            self._progress(update)
        elif isinstance(update, FINAL_UPDATES):
            self._final(update)

    def _phase(self, started: PhaseStarted) -> None:
        phase, steps, who = started.phase, started.steps, started.who
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

    def _progress(self, event: ProgressEvent) -> None:
        who, step, steps = event.who, event.step, event.steps
        history = self.lossi.setdefault(who, [])
        history.extend(event.lossi)
        loss = f" · log10 loss {history[-1]:.3f}" if history else ""
        self.set_phase(f"Training with {WHO[who]}: {step:,} / {steps:,} steps · {event.steps_per_s:,.0f} steps/s · "
                       f"ETA {eta_text(event.eta_s)}{loss}")
        self.query_one(ProgressBar).update(total=steps, progress=step)
        # autograd's curve first, so the learner's draws over it where they coincide
        ordered = {name: self.lossi[name] for name in ("reference", "learner") if name in self.lossi}
        self.query_one(LossPlot).set_series(ordered, self.total)

    def _final(self, final: TrainingResult | TrainingProblem) -> None:
        self.last = final
        content, state = outcome(final, self.path)
        self.show("#train-outcome", content)
        for name in self.OUTCOMES:
            self.query_one("#train-outcome").set_class(name == state, name)
        self.query_one(ProgressBar).display = False
        self.set_phase("")
        if not isinstance(final, TrainingResult):
            return
        learner = final.learner
        if learner is not None and "train" in learner.loss:
            parts: list[RenderableType] = [results_table(final, PANEL)]
            agreed = agreement(final)
            if agreed:
                parts.append(Text(agreed))
            self.show("#train-results", Group(*parts))
            self.show("#train-samples", samples_table(final, PANEL))
        output = learner.output if learner is not None else ""
        if output.strip():
            printed = Text("your code printed (first lines):\n", style="dim")
            printed.append(output.rstrip()[:2000])
            self.show("#train-output", printed)
        self.scroll_home(animate=False)
