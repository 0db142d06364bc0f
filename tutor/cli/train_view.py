"""Human output of the `train` command: grad-check lines, a rich progress bar with a log10-loss sparkline,
then the results and samples (their tables are tutor/training/view.py's, shared with the TUI)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.text import Text

from tutor.verdict_text import check_table
from tutor.reports.training import Event, GradCheckStep, PhaseStarted, ProgressEvent, TrainingResult
from tutor.training.view import agreement, eta_text, results_table, samples_table

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

    def __init__(self, console: Console) -> None:
        self.console = console
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
                self.console.print(f"Gradient check on the first {event.steps} batches of the loop:")
            elif event.phase in ("train", "reference"):
                label = "yours" if event.who == "learner" else "autograd"
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
            self.console.print(Text(f"  batch {event.step}: all {passed} gradients match (max abs diff {worst:.1e})", style="green"))
            return
        self.console.print(check_table(report))


def print_result(result: TrainingResult, console: Console) -> None:
    error = result.error
    if error is not None and error.get("kind") != "grad-check":
        where = f" at line {error['line']}" if error.get("line") else ""
        console.print(Text(f"error ({error.get('kind')}){where}: {error.get('message')}", style="bold red"))
        if error.get("source"):
            console.print(Text(f"  {error['line']} | {error['source']}", style="red"))
    learner = result.learner
    if learner is not None and learner.loss:
        console.print(results_table(result))
        agreed = agreement(result)
        if agreed:
            console.print(agreed)
        console.print(samples_table(result))
    if learner is not None and learner.output.strip():
        console.print(Text("your code printed (first lines):", style="dim"))
        console.print(Text(learner.output.rstrip()[:2000]), markup=False, highlight=False)
    if result.passed:
        console.print(Text(f"✔ {result.exercise}: gradients check out and training ran all {result.requested_steps:,} steps.", style="bold green"))
    elif result.cancelled:
        done = learner.steps if learner else 0
        console.print(Text(f"■ cancelled after {done:,} of {result.requested_steps:,} steps; the results above are for the model so far.", style="bold yellow"))
    elif error is not None and error.get("kind") == "grad-check":
        console.print(Text(f"✘ gradient check failed at {error['message']}; fix {error['gradient']} before training.", style="bold red"))
    else:
        console.print(Text(f"✘ {result.exercise}: training did not finish.", style="bold red"))
