"""The exercise screen: the step table, the selected step's detail, re-check on save, hints, reset, solution,
and on the training exercise a training run (t starts it, x stops it, v switches views)."""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static
from textual.worker import get_current_worker

from tutor.course.model import Exercise, Step
from tutor.reports.check import CheckReply, TensorVerdict, keep_last
from tutor.reports.training import FINAL_UPDATES, RunUpdate, TrainingProblem, update_from_line
from tutor.ui.editor import editor_command, step_line
from tutor.ui.messages import CheckFinished, TrainingLine
from tutor.ui.screens.exercise_actions import ExerciseActions
from tutor.ui.screens.home import shown_path
from tutor.ui.widgets.banner import Banner, report_banner
from tutor.ui.widgets.detail import DetailPane
from tutor.ui.widgets.keys_footer import KeysFooter
from tutor.ui.widgets.step_table import StepTable
from tutor.ui.widgets.training import TrainingPanel
from tutor.ui.words import relabel_keys, say, styled
from tutor.workspace.progress_state import last_verdicts


class ExerciseScreen(ExerciseActions, Screen):
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
        # Where the cursor was left at the last check (by the tutor or the learner): while it is still there, the
        # learner has not moved it since, and the next check brings it to ▶. None until the first check when the
        # exercise reopens on the step the learner left it at (that step stays through the first check).
        self.placed_step: str | None = None
        self.banner: Callable[[str], tuple[RenderableType, str]] | None = None  # the banner shown, by language

    @property
    def path(self) -> Path:
        """The file checked and watched: the workspace's notebook for this exercise if it holds one, else the .py."""
        return self.app.workspace.checked_file(self.exercise)

    @property
    def lang(self) -> str:
        return self.app.lang

    @property
    def notebook_kept(self) -> str:
        """What reset says of a notebook it leaves alone (empty when the .py is the checked file)."""
        if self.path.suffix != ".ipynb":
            return ""
        return say("notebook-kept", self.lang, name=self.path.name, file=self.exercise.file_name)

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
            yield TrainingPanel(self.path, self.exercise.training, bool(self.exercise.pack.lecture), id="training")
        yield KeysFooter()

    def on_mount(self) -> None:
        relabel_keys(self, self.lang)
        self.title = self.heading()
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
            parts.append(say("status-checking", self.lang))
        elif self.last_elapsed is not None:
            parts.append(say("status-checked", self.lang, seconds=self.last_elapsed))
        self.query_one("#ex-status", Static).update(Text("  ·  ".join(parts), style="dim"))

    @property
    def next_exercise(self) -> Exercise | None:
        later = [e for e in self.app.course.exercises if e.order > self.exercise.order]
        return min(later, key=lambda e: e.order) if later else None

    # -- checking --------------------------------------------------------------------------------------
    def recheck(self) -> None:
        if not self.path.exists():
            self.checking_since = None
            self.show_banner(lambda lang: (styled("file-gone", lang, name=self.path.name), "problem"))
            self.refresh_status()
            return
        self.sub_title = self.path.name  # a notebook put in (or moved away) changes the file checked
        self.checking_since = time.monotonic()
        if self.reply is None:
            self.show_banner(lambda lang: (Text(say("checking", lang)), "info"))
        self.refresh_status()
        self.run_check(self.path)

    @work(thread=True, exclusive=True, group="check", exit_on_error=False)
    def run_check(self, path: Path) -> None:
        started = time.monotonic()
        try:
            reply = CheckReply.from_json(self.app.checker.check(self.exercise.id, path))
        except Exception as exc:  # noqa: BLE001 - any checker failure is shown, never allowed to end the app
            reply = CheckReply(message=say("checker-failed", self.lang, error=f"{type(exc).__name__}: {exc}"))
        if not get_current_worker().is_cancelled:
            self.post_message(CheckFinished(self.exercise.id, reply, time.monotonic() - started))

    def on_check_finished(self, message: CheckFinished) -> None:
        reply = message.reply
        report = reply.report
        self.checking_since = None
        notes = [Text(f"⚠ {note}", style="bold") for note in reply.notes]
        for note in notes:
            self.notify(note.plain, title=say("checker-restarted", self.lang), severity="warning", timeout=8)
        if report is None:
            problem = reply.message
            self.show_banner(lambda lang: (Group(styled("could-not-check", lang, message=problem), *notes), "problem"))
            self.refresh_status()
            return
        if not report.rechecked:  # the file did not run: each row shows its last verdict, marked not rechecked
            report = reply.report = keep_last(report, self.last_verdicts())
        self.reply = reply
        # The service's own timing when it sends one (the learner's run and the comparison); else the round trip.
        self.last_elapsed = report.elapsed or message.elapsed
        table = self.query_one(StepTable)
        table.show_report(report.tensors)
        if table.root and table.selected_step == self.placed_step:
            # the learner has not moved the cursor since the last check (or the first open): go to what to fix
            table.select_step(table.root)
        # a move of the learner's keeps the cursor where they put it for this check only
        self.placed_step = table.selected_step
        if table.root:  # ▶ in view even when the learner's cursor is elsewhere (their cursor stays)
            table.call_after_refresh(table.show_step, table.root)
        self.show_banner(lambda lang: self.report_banner(lang, notes))
        self.store.record_check(self.exercise.id, report)
        self.refresh_status()
        self.refresh_bindings()
        self.show_detail()

    def last_verdicts(self) -> dict[str, TensorVerdict | str]:
        """Each row's last verdict: this session's last report's, else the status progress keeps."""
        state = {"exercises": {self.exercise.id: self.store.exercise_state(self.exercise.id)}}
        last: dict[str, TensorVerdict | str] = dict(last_verdicts(state, self.exercise.id))
        if self.reply is not None and self.reply.report is not None:
            last.update({t.name: t for t in self.reply.report.tensors if not t.not_checked})
        return last

    def heading(self) -> str:
        """The screen's title: the exercise's number and title."""
        title = self.exercise.text("title", self.lang)
        return say("exercise-title", self.lang, order=self.exercise.order, title=title)

    def follow_up(self, lang: str) -> str:
        """What to do after a pass: train, go on to the next exercise, or nothing more."""
        nxt = self.next_exercise
        if self.exercise.training is not None:
            trained = any(panel.last is not None for panel in self.query(TrainingPanel))
            return say("follow-train-again" if trained else "follow-train", lang)
        if nxt is not None:
            return say("follow-next", lang, title=nxt.text("title", lang))
        return say("follow-last", lang)

    def report_banner(self, lang: str, notes: list[Text]) -> tuple[RenderableType, str]:
        """The banner of the latest report (with the checker's notes under it)."""
        assert self.reply is not None and self.reply.report is not None
        content, state = report_banner(self.reply.report, self.path, self.follow_up(lang), lang)
        return Group(content, *notes), state

    def show_banner(self, banner: Callable[[str], tuple[RenderableType, str]]) -> None:
        """Show a banner, built again in the new language when the learner switches."""
        self.banner = banner
        self.query_one(Banner).say(*banner(self.lang))

    def relabel(self) -> None:
        """Every word of the screen in the app's language now: keys, title, table, banner, detail, training."""
        relabel_keys(self, self.lang)
        self.title = self.heading()
        report = self.reply.report if self.reply is not None else None
        self.query_one(StepTable).relabel(report.tensors if report is not None else None)
        if self.banner is not None:
            self.query_one(Banner).say(*self.banner(self.lang))
        for panel in self.query(TrainingPanel):
            panel.relabel()
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

    def action_edit(self) -> None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            self.notify(say("editor-unset", self.lang, path=shown_path(self.path)),
                        title=say("editor-title", self.lang), timeout=10)
            return
        try:
            words = shlex.split(editor)
        except ValueError as exc:  # unbalanced quotes in $EDITOR: say so rather than end the app
            self.notify(say("editor-unreadable", self.lang, editor=repr(editor), error=exc),
                        title=say("editor-title", self.lang), severity="error")
            return
        # at the line where the file assigns the selected step's gradient, where the editor takes a line
        command = editor_command(words, self.path, step_line(self.path, self.selected_step.name))
        try:
            with self.app.suspend():
                subprocess.run(command, check=False)
        except SuspendNotSupported:
            self.notify(say("editor-no-suspend", self.lang))
        except OSError as exc:
            self.notify(say("editor-cannot-start", self.lang, editor=repr(editor), error=exc.strerror or exc),
                        severity="error")
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
            self.notify(say("training-left", self.lang), title=say("training-title", self.lang), timeout=6)
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
            self.notify(say("train-missing", self.lang, name=self.path.name),
                        title=say("train-missing-title", self.lang), severity="warning")
            return
        panel.path = self.path  # the notebook's training loop when the workspace holds one
        panel.start()
        self.show_training(True)
        try:
            run = self.app.trainer.start(self.exercise.id, self.path)
        except Exception as exc:  # noqa: BLE001 - a trainer that cannot start is shown, never allowed to end the app
            problem = say("train-not-started", self.lang, error=f"{type(exc).__name__}: {exc}")
            panel.apply(TrainingProblem("crashed", problem))
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
            last = TrainingProblem("crashed", say("train-unreadable", self.lang, error=f"{type(exc).__name__}: {exc}"))
            self.post_message(TrainingLine(last))
        if not isinstance(last, FINAL_UPDATES) and not worker.is_cancelled:
            self.post_message(TrainingLine(TrainingProblem("crashed", say("train-no-result", self.lang))))

    def on_training_line(self, message: TrainingLine) -> None:
        self.query_one(TrainingPanel).apply(message.update)
        if isinstance(message.update, FINAL_UPDATES):
            self.training_run = None
            self.refresh_bindings()
            if self.banner is not None:  # a passed check's banner now offers to train again
                self.show_banner(self.banner)

    def action_stop_training(self) -> None:
        if self.training_run is not None:
            self.training_run.cancel()
            self.query_one(TrainingPanel).set_phase(say("train-stopping", self.lang))

    def on_unmount(self) -> None:
        run, self.training_run = self.training_run, None
        if run is not None:  # stopping waits for the process; not on the event loop
            threading.Thread(target=run.stop, name="stop training", daemon=True).start()
