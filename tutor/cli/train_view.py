"""Human output of the `train` command: grad-check lines, a rich progress bar with a log10-loss sparkline,
then the results and samples (their tables are tutor/training/view.py's, shared with the TUI)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.text import Text

from tutor.reports.training import Event, GradCheckStep, PhaseStarted, ProgressEvent, TrainingResult
from tutor.training.view import agreement, eta_text, results_table, samples_table
from tutor.views.text import check_table, say

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 40) -> str:
    """The loss curve in `width` characters: each one the mean of its slice of the history."""
    if not values:
        return ""
    width = min(width, len(values))
    means = []
    for k in range(width):
        part = values[k * len(values) // width : (k + 1) * len(values) // width] or values[-1:]
        means.append(sum(part) / len(part))
    finite = [m for m in means if m == m and abs(m) != float("inf")]
    if not finite:
        return "?" * width
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(BLOCKS[round((m - low) / span * (len(BLOCKS) - 1))] if m in finite else "?" for m in means)


class TrainingView:
    """Turns events into terminal output; `progress` is the live display (a context manager)."""

    def __init__(self, console: Console, lang: str = "en") -> None:
        self.console = console
        self.lang = lang
        self.progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>9} steps/s  ETA {task.fields[eta]}"),
            TextColumn("log10 loss {task.fields[loss]} {task.fields[spark]}"),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}
        self.lossi: dict[str, list[float]] = {}

    def on_event(self, event: Event) -> None:
        if isinstance(event, GradCheckStep):
            self._grad_check(event)
        elif isinstance(event, PhaseStarted):
            if event.phase == "grad-check":
                self.console.print(say("train-grad-check", self.lang, steps=event.steps))
            elif event.phase in ("train", "reference"):
                label = say("train-yours", self.lang) if event.who == "learner" else "autograd"
                label += " " * (9 - cell_len(label))  # nine terminal columns, a Chinese character taking two
                self.lossi[event.who] = []
                self.tasks[event.who] = self.progress.add_task(label, total=event.steps, rate="", eta="--:--", loss="", spark="")
        elif isinstance(event, ProgressEvent):
            history = self.lossi.setdefault(event.who, [])
            history.extend(event.lossi)
            if event.who in self.tasks:
                self.progress.update(
                    self.tasks[event.who],
                    completed=event.step,
                    rate=f"{event.steps_per_s:,.0f}",
                    eta=eta_text(event.eta_s),
                    loss=f"{history[-1]:.3f}" if history else "",
                    spark=sparkline(history),
                )

    def _grad_check(self, event: GradCheckStep) -> None:
        report = event.report
        passed = sum(t.passed for t in report.tensors if not t.support)
        if report.passed:
            worst = max((t.max_abs_diff or 0.0) for t in report.tensors)
            words = say("train-batch-ok", self.lang, step=event.step, passed=passed, worst=worst)
            self.console.print(Text(words, style="green"))
            return
        self.console.print(check_table(report, self.lang, fit=self.console))


def print_result(
    result: TrainingResult, console: Console, lang: str = "en", calibrated: str | None = None, lecture: bool = True
) -> None:
    """The training's results and samples, what the learner's code printed, and the closing line, in `lang`;
    `calibrated`: the results' heading (the course's words for the calibration after training), if any;
    `lecture`: the pack follows a lecture (its samples are the lecture's)."""
    error = result.error
    if error is not None and error.get("kind") != "grad-check":
        kind, message = error.get("kind"), error.get("message")
        if error.get("line"):
            words = say("error-at", lang, kind=kind, place=say("line", lang, line=error["line"]), message=message)
        else:
            words = say("error", lang, kind=kind, message=message)
        console.print(Text(words, style="bold red"))
        if error.get("source"):
            console.print(Text(f"  {error['line']} | {error['source']}", style="red"))
    learner = result.learner
    if learner is not None and learner.loss:
        console.print(results_table(result, title=calibrated))
        agreed = agreement(result)
        if agreed:
            console.print(agreed)
        console.print(samples_table(result, lecture=lecture))
    if learner is not None and learner.output.strip():
        console.print(Text(say("train-printed", lang), style="dim"))
        console.print(Text(learner.output.rstrip()[:2000]), markup=False, highlight=False)
    steps = result.requested_steps
    if result.passed:
        console.print(Text(say("train-passed", lang, exercise=result.exercise, steps=steps), style="bold green"))
    elif result.cancelled:
        done = learner.steps if learner else 0
        console.print(Text(say("train-cancelled", lang, done=done, steps=steps), style="bold yellow"))
    elif error is not None and error.get("kind") == "grad-check":
        words = say("train-grad-check-failed", lang, where=error["message"], gradient=error["gradient"])
        console.print(Text(words, style="bold red"))
    else:
        console.print(Text(say("train-unfinished", lang, exercise=result.exercise), style="bold red"))
