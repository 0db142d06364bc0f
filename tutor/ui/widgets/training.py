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

from tutor.course.model import Training
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
from tutor.ui.widgets.banner import error_excerpt, error_where, error_words
from tutor.ui.widgets.loss_plot import LossPlot
from tutor.ui.widgets.step_table import status_text, status_word
from tutor.ui.words import say, styled

WHO = ("learner", "reference")  # whose gradients trained a model: ui-who-<who>
# The columns of a failing batch's table: ui-col-<key>.
BATCH_COLUMNS = ("gradient", "parameter", "expected", "yours", "diff", "status")


def who_words(who: str, lang: str) -> str:
    """Whose gradients trained the model, in words."""
    return say(f"who-{who}", lang) if who in WHO else who


def _diff(value: float | None) -> str:
    return f"{value:.1e}" if value is not None else "—"


def grad_check_view(steps: list[GradCheckStep], planned: int, lang: str = "en") -> RenderableType:
    """One line with a mark per batch checked so far; under it, what failed in the failing batch."""
    marks = Text(say("train-gradcheck", lang), style="bold")
    for checked in steps:
        passed = checked.report.passed
        marks.append(f" {checked.step} ")
        marks.append("✔" if passed else "✘", style="bold green" if passed else "bold red")
    marks.append(" ·" * max(0, planned - len(steps)), style="dim")
    diffs = [t.max_abs_diff or 0.0 for checked in steps for t in checked.report.tensors]
    if steps and all(checked.report.passed for checked in steps):
        counted = steps[0].report.required
        marks.append(say("train-gradcheck-all", lang, count=len(counted), diff=max(diffs, default=0)), style="dim")
    failed = next((checked for checked in steps if not checked.report.passed), None)
    return marks if failed is None else Group(marks, failed_batch(failed, lang))


def failed_batch(checked: GradCheckStep, lang: str = "en") -> RenderableType:
    """The failing batch: the learner's error, or the first failing gradient (with its parameter) and a table."""
    step, tensors, error = checked.step, checked.report.tensors, checked.report.error
    if error:
        return styled("train-batch-stopped", lang, step=step, what=error_words(error.kind, lang),
                      where=say("where-line", lang, line=error.line) if error.line else "", message=error.message)
    failing = next((t for t in tensors if not t.passed), None)
    if failing is None:
        head = styled("train-batch", lang, step=step)
    else:
        note = failing.note_text(lang)
        head = styled("train-batch-failing-note" if note else "train-batch-failing", lang, step=step,
                      name=failing.name, of=str(failing.of), status=status_word(failing.status, lang), note=note)
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="dim")
    for column in BATCH_COLUMNS:
        table.add_column(say(f"col-{column}", lang))
    for t in tensors:
        table.add_row(t.name, t.of or "", fmt_shape(t.expected_shape), fmt_shape(t.shape), _diff(t.max_abs_diff),
                      status_text(t, lang))
    return Group(head, table)


def outcome(final: TrainingResult | TrainingProblem, path: Path, lang: str = "en") -> tuple[RenderableType, str]:
    """The run's last word (and a CSS class): passed, cancelled, stopped at the grad check, or an error."""
    if isinstance(final, TrainingProblem):
        code = "train-crashed" if final.kind == "crashed" else "train-refused"
        return styled(code, lang, message=final.message), "problem"
    result, learner, error = final, final.learner, final.error
    if result.passed:
        return Text(say("train-passed", lang, steps=result.requested_steps), style="bold"), "passed"
    if result.cancelled:
        if learner is None:
            return Text(say("train-cancelled-early", lang), style="bold"), "cancelled"
        return Text(say("train-cancelled", lang, done=learner.steps, steps=result.requested_steps),
                    style="bold"), "cancelled"
    if error and error.get("kind") == "grad-check":
        return styled("train-gradcheck-failed", lang, message=error.get("message", ""),
                      gradient=str(error.get("gradient")), parameter=str(error.get("parameter"))), "problem"
    if error:
        where = error_where(path, error.get("line"), lang, with_file=False)
        head = styled("train-error", lang, what=error_words(error.get("kind"), lang), where=where,
                      message=error.get("message", ""))
        excerpt = error_excerpt(path, error.get("line"), error.get("source"))
        return (Group(head, excerpt) if excerpt is not None else head), "problem"
    return Text(say("train-unfinished", lang), style="bold"), "problem"


class TrainingPanel(VerticalScroll):
    """What a run has shown so far; start() at each run, apply() each update of the run."""

    OUTCOMES = ("passed", "cancelled", "problem")
    TEXTS = ("#train-outcome", "#train-gradcheck", "#train-phase", "#train-results", "#train-samples", "#train-output")

    def __init__(self, path: Path, training: Training, lecture: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.training = training  # its settings, and its words for the calibration after training, if any
        self.lecture = lecture  # the pack follows a lecture (the samples are drawn with its seed)
        self.grad_check_steps = training.grad_check_steps
        self.default_steps = training.default_steps
        self.started = False
        self.grad_steps: list[GradCheckStep] = []
        self.lossi: dict[str, list[float]] = {}
        self.total = training.default_steps
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

    @property
    def lang(self) -> str:
        return self.app.lang

    def intro(self) -> Text:
        if self.started:
            return Text(say("train-intro-started", self.lang), style="dim")
        return styled("train-intro", self.lang, checks=self.grad_check_steps, steps=self.default_steps)

    def relabel(self) -> None:
        """The panel's words in the app's language now: its intro, the grad check and the last outcome."""
        self.query_one("#train-intro", Static).update(self.intro())
        if self.grad_steps:
            self.show("#train-gradcheck", grad_check_view(self.grad_steps, self.grad_check_steps, self.lang))
        if self.last is not None:
            self.show("#train-outcome", outcome(self.last, self.path, self.lang)[0])

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
        self.set_phase(say("train-starting", self.lang))
        self.scroll_home(animate=False)

    def set_phase(self, text: str) -> None:
        self.show("#train-phase", Text(text) if text else None)

    def apply(self, update: RunUpdate) -> None:
        if isinstance(update, PhaseStarted):
            self._phase(update)
        elif isinstance(update, GradCheckStep):
            self.grad_steps.append(update)
            self.show("#train-gradcheck", grad_check_view(self.grad_steps, self.grad_check_steps, self.lang))
        elif isinstance(update, ProgressEvent):
            self._progress(update)
        elif isinstance(update, FINAL_UPDATES):
            self._final(update)

    def _phase(self, started: PhaseStarted) -> None:
        phase, steps, who = started.phase, started.steps, started.who
        if phase == "grad-check":
            self.grad_check_steps = steps
            self.show("#train-gradcheck", grad_check_view([], steps, self.lang))
            self.set_phase(say("train-phase-gradcheck", self.lang, steps=steps))
        elif phase in ("train", "reference"):
            if phase == "train":
                self.total = steps
            self.lossi[who] = []
            bar = self.query_one(ProgressBar)
            bar.display = True
            bar.update(total=steps, progress=0)
            self.query_one(LossPlot).display = True
            self.set_phase(say("train-phase-train", self.lang, who=who_words(who, self.lang), steps=steps))
        elif phase == "evaluate":
            who_text = who_words(who, self.lang)
            if self.training.calibrating:
                calibrating = self.training.text("calibrating", self.lang)
                self.set_phase(say("train-phase-calibrate", self.lang, calibrating=calibrating, who=who_text))
            else:
                self.set_phase(say("train-phase-evaluate", self.lang, who=who_text))

    def _progress(self, event: ProgressEvent) -> None:
        who, step, steps = event.who, event.step, event.steps
        history = self.lossi.setdefault(who, [])
        history.extend(event.lossi)
        loss = say("train-log-loss", self.lang, loss=history[-1]) if history else ""
        self.set_phase(say("train-progress", self.lang, who=who_words(who, self.lang), step=step, steps=steps,
                           rate=event.steps_per_s, eta=eta_text(event.eta_s), loss=loss))
        self.query_one(ProgressBar).update(total=steps, progress=step)
        # autograd's curve first, so the learner's draws over it where they coincide
        ordered = {name: self.lossi[name] for name in ("reference", "learner") if name in self.lossi}
        self.query_one(LossPlot).set_series(ordered, self.total)

    def _final(self, final: TrainingResult | TrainingProblem) -> None:
        self.last = final
        content, state = outcome(final, self.path, self.lang)
        self.show("#train-outcome", content)
        for name in self.OUTCOMES:
            self.query_one("#train-outcome").set_class(name == state, name)
        self.query_one(ProgressBar).display = False
        self.set_phase("")
        if not isinstance(final, TrainingResult):
            return
        learner = final.learner
        if learner is not None and "train" in learner.loss:
            title = self.training.text("calibrated", self.lang) if self.training.calibrated else None
            parts: list[RenderableType] = [results_table(final, PANEL, title)]
            agreed = agreement(final)
            if agreed:
                parts.append(Text(agreed))
            self.show("#train-results", Group(*parts))
            self.show("#train-samples", samples_table(final, PANEL, self.lecture))
        output = learner.output if learner is not None else ""
        if output.strip():
            printed = Text(say("train-printed", self.lang), style="dim")
            printed.append(output.rstrip()[:2000])
            self.show("#train-output", printed)
        self.scroll_home(animate=False)
