"""The exercise screen: the step table, the selected step's detail, re-check on save, hints, reset, solution,
and on the training exercise a training run (t starts it, x stops it, v switches views)."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from tutor.course.model import Exercise, Step
from tutor.reports.check import CheckReply
from tutor.reports.training import FINAL_UPDATES, RunUpdate, TrainingProblem, update_from_line
from tutor.ui.messages import CheckFinished, TrainingLine
from tutor.ui.screens.home import shown_path
from tutor.ui.screens.modals import ConfirmScreen, TextScreen
from tutor.ui.widgets.banner import Banner, report_banner
from tutor.ui.widgets.detail import DetailPane
from tutor.ui.widgets.keys_footer import KeysFooter
from tutor.ui.widgets.step_table import StepTable
from tutor.ui.widgets.training import TrainingPanel
from tutor.workspace import WorkspaceError


class ExerciseScreen(Screen):
    BINDINGS = [
        Binding("c", "recheck", "Re-check"),
        Binding("f5", "recheck", "Re-check", show=False),
        Binding("h", "hint", "Hint"),
        Binding("e", "edit", "Edit"),
        Binding("s", "solution", "Solution"),
        Binding("r", "reset", "Reset"),
        Binding("n", "next", "Next"),
        Binding("t", "train", "Train"),
        Binding("x", "stop_training", "Stop"),
        Binding("v", "toggle_training", "Run/steps"),
        Binding("escape", "home", "Exercises"),
    ]

    def __init__(self, exercise: Exercise, step: str | None = None) -> None:
        super().__init__()
        self.exercise = exercise
        self.initial_step = step
        self.reply: CheckReply | None = None  # the latest check's, with a report
        self.checking_since: float | None = None
        self.last_elapsed: float | None = None
        self.training_run: Any = None
        # The step the tutor last put the cursor on; while it is still there, the cursor follows ▶ after a check.
        self.placed_step: str | None = None

    @property
    def path(self) -> Path:
        """The file checked and watched: the workspace's notebook for this exercise if it holds one, else the .py."""
        return self.app.workspace.checked_file(self.exercise)

    @property
    def notebook_kept(self) -> str:
        """What reset says of a notebook it leaves alone (empty when the .py is the checked file)."""
        if self.path.suffix != ".ipynb":
            return ""
        return (f"\nYour notebook {self.path.name} is not touched and stays the file the tutor checks; "
                f"move it out of the workspace to work in {self.exercise.file_name}.")

    @property
    def store(self):
        return self.app.store

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="ex-status")
        yield Banner(id="banner")
        yield StepTable(self.exercise, id="steps")
        yield DetailPane(id="detail")
        if self.exercise.training is not None:
            training = self.exercise.training
            yield TrainingPanel(self.path, training.grad_check_steps, training.default_steps, id="training")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = f"{self.exercise.order}. {self.exercise.title}"
        self.sub_title = self.path.name
        table = self.query_one(StepTable)
        if self.initial_step:
            table.select_step(self.initial_step)
        self.store.set_current(self.exercise.id, table.selected_step)
        self.placed_step = None if self.initial_step else table.selected_step
        if len(self.exercise.steps) == 1:
            self.add_class("-one-step")  # the table needs one row; the detail pane takes the rest
        self.watch(self.app, "watch_state", self.refresh_status)
        self.show_detail()
        table.focus()
        self.recheck()

    # -- status line and banner ------------------------------------------------------------------------
    def refresh_status(self, _value: object = None) -> None:
        parts = [f"{shown_path(self.path)}", self.app.watch_state]
        if self.checking_since is not None:
            parts.append("checking…")
        elif self.last_elapsed is not None:
            parts.append(f"checked in {self.last_elapsed:.2f} s")
        self.query_one("#ex-status", Static).update(Text("  ·  ".join(parts), style="dim"))

    @property
    def next_exercise(self) -> Exercise | None:
        later = [e for e in self.app.course.exercises if e.order > self.exercise.order]
        return min(later, key=lambda e: e.order) if later else None

    # -- checking --------------------------------------------------------------------------------------
    def recheck(self) -> None:
        banner = self.query_one(Banner)
        if not self.path.exists():
            self.checking_since = None
            banner.say(Text.assemble(
                (f"{self.path.name} is not in the workspace any more", "bold"),
                " (deleted or renamed). Put it back, or press r to restore the starter; "
                "the tutor checks it again as soon as it reappears."), "problem")
            self.refresh_status()
            return
        self.sub_title = self.path.name  # a notebook put in (or moved away) changes the file checked
        self.checking_since = time.monotonic()
        if self.reply is None:
            banner.say(Text("Checking your file… (the first check also starts torch; later ones take a blink)"), "info")
        self.refresh_status()
        self.run_check(self.path)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def run_check(self, path: Path) -> None:
        started = time.monotonic()
        try:
            reply = CheckReply.from_json(self.app.checker.check(self.exercise.id, path))
        except Exception as exc:  # noqa: BLE001 - any checker failure is shown, never allowed to end the app
            reply = CheckReply(message=f"the checker failed: {type(exc).__name__}: {exc}")
        if not get_current_worker().is_cancelled:
            self.post_message(CheckFinished(self.exercise.id, reply, time.monotonic() - started))

    def on_check_finished(self, message: CheckFinished) -> None:
        reply = message.reply
        report = reply.report
        self.checking_since = None
        notes = [Text(f"⚠ {note}", style="bold") for note in reply.notes]
        for note in notes:
            self.notify(note.plain, title="Checker restarted", severity="warning", timeout=8)
        if report is None:
            problem = Text.assemble(("Could not check: ", "bold"), reply.message)
            self.query_one(Banner).say(Group(problem, *notes), "problem")
            self.refresh_status()
            return
        self.reply = reply
        # The service's own timing when it sends one (the learner's run and the comparison); else the round trip.
        self.last_elapsed = report.elapsed or message.elapsed
        table = self.query_one(StepTable)
        table.show_report(report.tensors)
        if table.root and (self.initial_step is None or table.selected_step == self.placed_step):
            # on first open, and after each check unless the learner moved since: go to what to fix
            table.select_step(table.root)
            self.placed_step = table.root
        if table.root:  # ▶ in view even when the learner's cursor is elsewhere (their cursor stays)
            table.call_after_refresh(table.show_step, table.root)
        self.initial_step = table.selected_step
        nxt = self.next_exercise
        if self.exercise.training is not None:
            follow_up = "Press t to train the network with your gradients."
        elif nxt is not None:
            follow_up = f"Press n for the next exercise: {nxt.title}."
        else:
            follow_up = "That was the last exercise: well done!"
        content, state = report_banner(report, self.path, follow_up)
        self.query_one(Banner).say(Group(content, *notes), state)
        self.store.record_check(self.exercise.id, report)
        self.refresh_status()
        self.refresh_bindings()
        self.show_detail()

    def file_changed(self) -> None:
        self.recheck()

    @property
    def passed(self) -> bool:
        """The latest check passed."""
        return self.reply is not None and self.reply.report is not None and self.reply.report.passed

    # -- the detail pane -------------------------------------------------------------------------------
    @property
    def selected_step(self) -> Step:
        name = self.query_one(StepTable).selected_step
        step = self.exercise.row(name)
        assert step is not None
        return step

    def show_detail(self) -> None:
        step = self.selected_step
        tensor = grids = None
        if self.reply is not None and self.reply.report is not None:
            tensor = next((t for t in self.reply.report.tensors if t.name == step.name), None)
            grids = self.reply.grids.get(step.name)
        shown = self.store.hints_revealed(self.exercise.id, step.name)
        self.query_one(DetailPane).show(step, tensor, grids, shown)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "steps":
            return
        self.store.set_current(self.exercise.id, self.selected_step.name)
        self.show_detail()

    # -- keys ------------------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return bool(self.passed and self.next_exercise)
        if action in ("train", "stop_training", "toggle_training"):
            if self.exercise.training is None:
                return False
            running = self.training_run is not None
            if action == "train":
                return not running  # x (stop) takes its place in the footer while a run goes on
            if action == "stop_training":
                return running
            return any(panel.started for panel in self.query(TrainingPanel))
        return True

    def action_recheck(self) -> None:
        self.recheck()

    def action_hint(self) -> None:
        step = self.selected_step
        total = len(step.hints)
        shown = self.store.hints_revealed(self.exercise.id, step.name)
        if step.support:
            self.notify(f"{step.name} is a supporting row (judged when your file computes it): hints are on the steps.")
        elif shown >= total:
            self.notify(f"All {total} hints for {step.name} are shown (in the pane below).")
        elif shown == total - 1:
            question = f"The last hint for {step.name} is the answer line itself.\nShow it?"
            self.app.push_screen(ConfirmScreen(question, yes="Show the answer"),
                                 lambda ok: self.reveal_hint(step) if ok else None)
        else:
            self.reveal_hint(step)

    def reveal_hint(self, step: Step) -> None:
        self.store.reveal_hint(self.exercise.id, step.name, len(step.hints))
        self.show_detail()
        self.query_one(DetailPane).show_hints()

    def action_reset(self) -> None:
        question = (f"Reset {self.exercise.file_name} to the starter file?\nYour current file is backed up first, "
                    f"and this exercise's progress and hints are cleared.{self.notebook_kept}")
        self.app.push_screen(ConfirmScreen(question, yes="Reset"), lambda ok: self.reset() if ok else None)

    def reset(self) -> None:
        try:
            backup = self.app.workspace.reset_file(self.exercise)
        except WorkspaceError as exc:
            self.notify(str(exc), title="Reset failed", severity="error", timeout=10)
            return
        self.store.reset_exercise(self.exercise.id)
        saved = f"; your old file is in {shown_path(backup)}" if backup else ""
        self.notify(f"{self.exercise.file_name} is the starter again{saved}.{self.notebook_kept}", title="Reset",
                    timeout=8)
        self.reply = None
        self.recheck()

    def action_solution(self) -> None:
        passed = self.passed or self.store.exercise_state(self.exercise.id).get("passed")
        if not passed:
            self.notify("The solution unlocks once every gradient of this exercise passes. "
                        "Hints (h) go one step at a time; the last one is the answer line.", title="Not yet")
            return
        try:
            code = self.exercise.solution.read_text(encoding="utf-8")
        except OSError as exc:
            self.notify(f"cannot read the solution: {exc.strerror or exc}", severity="error")
            return
        body = Syntax(code, "python", line_numbers=True, theme="ansi_dark", background_color="default")
        self.app.push_screen(TextScreen(f"Solution: {self.exercise.title}", body))

    def action_edit(self) -> None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            self.notify(f"Set $VISUAL or $EDITOR to edit from here, or edit {shown_path(self.path)} in another "
                        "window: the tutor re-checks on every save.", title="No editor", timeout=10)
            return
        try:
            command = [*shlex.split(editor), str(self.path)]
        except ValueError as exc:  # unbalanced quotes in $EDITOR: say so rather than end the app
            self.notify(f"cannot read $VISUAL/$EDITOR {editor!r}: {exc}", title="No editor", severity="error")
            return
        try:
            with self.app.suspend():
                subprocess.run(command, check=False)
        except SuspendNotSupported:
            self.notify("This terminal cannot hand over to an editor; edit the file in another window.")
        except OSError as exc:
            self.notify(f"cannot start {editor!r}: {exc.strerror or exc}", severity="error")
        self.recheck()

    def action_next(self) -> None:
        nxt = self.next_exercise
        if nxt is not None:
            self.app.open_exercise(nxt.id, replace=True)

    def action_home(self) -> None:
        if self.app.screen.query("HelpPanel"):  # esc closes the keys panel first; a second esc leaves
            self.app.action_hide_help_panel()
            return
        if self.training_run is not None:
            self.notify("The training run was stopped (leaving its screen).", title="Training", timeout=6)
        self.app.pop_screen()

    # -- training (exercise 4) -------------------------------------------------------------------------
    def show_training(self, shown: bool) -> None:
        self.set_class(shown, "-training-view")
        if shown:
            self.query_one(TrainingPanel).focus()
        else:
            self.query_one(StepTable).focus()

    def action_toggle_training(self) -> None:
        self.show_training(not self.has_class("-training-view"))

    def action_train(self) -> None:
        if self.training_run is not None or self.exercise.training is None:
            return
        panel = self.query_one(TrainingPanel)
        if not self.path.exists():
            self.notify(f"{self.path.name} is not in the workspace; press r to restore the starter.",
                        title="Nothing to train", severity="warning")
            return
        panel.path = self.path  # the notebook's training loop when the workspace holds one
        panel.start()
        self.show_training(True)
        try:
            run = self.app.trainer.start(self.exercise.id, self.path)
        except Exception as exc:  # noqa: BLE001 - a trainer that cannot start is shown, never allowed to end the app
            panel.apply(TrainingProblem("crashed", f"could not start it: {type(exc).__name__}: {exc}"))
            self.refresh_bindings()
            return
        self.training_run = run
        self.refresh_bindings()
        self.follow_training(run)

    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def follow_training(self, run: Any) -> None:
        worker = get_current_worker()
        last: RunUpdate | None = None
        try:
            for line in run.events():
                if worker.is_cancelled:
                    return
                update = update_from_line(line)  # the run's JSON line, typed; None for one this tutor does not know
                if update is None:
                    continue
                last = update
                self.post_message(TrainingLine(update))
        except Exception as exc:  # noqa: BLE001 - whatever goes wrong reading the run, the app stays up
            last = TrainingProblem("crashed", f"reading it failed: {type(exc).__name__}: {exc}")
            self.post_message(TrainingLine(last))
        if not isinstance(last, FINAL_UPDATES) and not worker.is_cancelled:
            self.post_message(TrainingLine(TrainingProblem("crashed", "the run ended without a result")))

    def on_training_line(self, message: TrainingLine) -> None:
        self.query_one(TrainingPanel).apply(message.update)
        if isinstance(message.update, FINAL_UPDATES):
            self.training_run = None
            self.refresh_bindings()

    def action_stop_training(self) -> None:
        if self.training_run is not None:
            self.training_run.cancel()
            self.query_one(TrainingPanel).set_phase("Stopping after the current step; the model so far is still "
                                                    "evaluated and sampled…")

    def on_unmount(self) -> None:
        run, self.training_run = self.training_run, None
        if run is not None:  # stopping waits for the process; not on the event loop
            threading.Thread(target=run.stop, name="stop training", daemon=True).start()
