"""Human output of `train`: grad-check lines, a rich progress bar with a log10-loss sparkline, results, samples."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from tutor.render import check_table
from tutor.reports.training import Event, GradCheckStep, PhaseStarted, ProgressEvent, TrainingResult

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


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


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
                    eta=_eta(event.eta_s),
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


def results_table(result: TrainingResult) -> Table:
    table = Table(title="After calibrating BatchNorm on the training set", title_justify="left")
    for column in ("model", "steps", "train loss", "val loss", "loop seconds", "steps/s"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for label, trained in (("your gradients", result.learner), ("autograd", result.reference)):
        if trained is None or not trained.loss:
            continue
        rate = f"{trained.steps / trained.seconds:,.0f}" if trained.seconds > 0 else "—"
        table.add_row(label, f"{trained.steps:,}", f"{trained.loss['train']:.4f}", f"{trained.loss['val']:.4f}", f"{trained.seconds:.1f}", rate)
    if result.difference:
        table.add_row("difference", "", f"{result.difference['train']:.1e}", f"{result.difference['val']:.1e}", "", "", style="dim")
    return table


def samples_table(result: TrainingResult) -> Table:
    table = Table(title="Samples (the lecture's seed)", title_justify="left")
    table.add_column("#", justify="right", style="dim")
    mine = result.learner.samples if result.learner else []
    theirs = result.reference.samples if result.reference else []
    table.add_column("your model")
    if theirs:
        table.add_column("autograd's model")
    for i, name in enumerate(mine):
        row = [str(i + 1), name or "(empty)"]
        if theirs:
            row.append(theirs[i] if i < len(theirs) else "")
        table.add_row(*row)
    return table


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
        if result.difference:
            worst = max(result.difference.values())
            console.print(f"Your model and autograd's agree within {worst:.1e} (train and val loss).")
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
