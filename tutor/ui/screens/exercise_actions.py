"""The exercise screen's one-key actions on the learner's exercise: a hint (h), reset (r) and the solution
(s). A mixin of ExerciseScreen, which provides the exercise, its file, the store and the detail."""

from __future__ import annotations

from rich.syntax import Syntax

from tutor.course.model import Step
from tutor.ui.screens.home import shown_path
from tutor.ui.screens.modals import ConfirmScreen, TextScreen
from tutor.ui.widgets.detail import DetailPane
from tutor.ui.words import say
from tutor.workspace.files import WorkspaceError


class ExerciseActions:
    """Hint, reset and solution; the screen that mixes it in has `exercise`, `path`, `store`, `lang`,
    `reply`, `passed`, `notebook_kept`, `selected_step`, `show_detail()` and `recheck()`."""

    def action_hint(self) -> None:
        step = self.selected_step
        total = len(step.hints)
        shown = self.store.hints_revealed(self.exercise.id, step.name)
        if step.support:
            self.notify(say("hint-support", self.lang, name=step.name))
        elif self.step_passed(step):
            # as `backprop-ninja hint` does: a passed step spends no rung; what is left to learn is its why
            why = step.text("why", self.lang)
            title = say("hint-passed-title", self.lang, name=step.name)
            self.notify(say("hint-passed", self.lang, why=why), title=title, timeout=12)
        elif shown >= total:
            self.notify(say("hint-all-shown", self.lang, total=total, name=step.name))
        elif shown == total - 1:
            question = say("hint-last", self.lang, name=step.name)
            self.app.push_screen(ConfirmScreen(question, yes=say("hint-show-answer", self.lang)),
                                 lambda ok: self.reveal_hint(step) if ok else None)
        else:
            self.reveal_hint(step)

    def step_passed(self, step: Step) -> bool:
        """The step passes in the latest check, or has passed before (progress keeps a pass, as the CLI reads it)."""
        report = self.reply.report if self.reply is not None else None
        if report is not None and any(t.name == step.name and t.passed for t in report.tensors):
            return True
        record = self.store.exercise_state(self.exercise.id)["steps"].get(step.name)
        return bool(record and record.get("passed"))

    def reveal_hint(self, step: Step) -> None:
        self.store.reveal_hint(self.exercise.id, step.name, len(step.hints))
        self.show_detail()
        self.query_one(DetailPane).show_hints()

    def action_reset(self) -> None:
        question = say("reset-question", self.lang, file=self.exercise.file_name, kept=self.notebook_kept)
        self.app.push_screen(ConfirmScreen(question, yes=say("reset-yes", self.lang)),
                             lambda ok: self.reset() if ok else None)

    def reset(self) -> None:
        try:
            backup = self.app.workspace.reset_file(self.exercise)
        except WorkspaceError as exc:
            self.notify(str(exc), title=say("reset-failed", self.lang), severity="error", timeout=10)
            return
        self.store.reset_exercise(self.exercise.id)
        saved = say("reset-saved", self.lang, path=shown_path(backup)) if backup else ""
        self.notify(say("reset-done", self.lang, file=self.exercise.file_name, saved=saved, kept=self.notebook_kept),
                    title=say("reset-title", self.lang), timeout=8)
        self.reply = None
        self.recheck()

    def action_solution(self) -> None:
        passed = self.passed or self.store.exercise_state(self.exercise.id).get("passed")
        if not passed:
            self.notify(say("solution-locked", self.lang), title=say("solution-locked-title", self.lang))
            return
        try:
            code = self.exercise.solution.read_text(encoding="utf-8")
        except OSError as exc:
            self.notify(say("solution-unreadable", self.lang, error=exc.strerror or exc), severity="error")
            return
        body = Syntax(code, "python", line_numbers=True, theme="ansi_dark", background_color="default")
        title = say("solution-title", self.lang, title=self.exercise.text("title", self.lang))
        self.app.push_screen(TextScreen(title, body))
