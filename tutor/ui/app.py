"""The tutor's Textual app and its factory: make_app() builds it for the CLI, tests pass fakes to TutorApp."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.reactive import reactive
from textual.screen import Screen

from tutor.course.model import Course
from tutor.ui.messages import FileChanged, WatchProblem
from tutor.ui.safe_store import GuardedStore
from tutor.ui.screens.exercise import ExerciseScreen
from tutor.ui.screens.home import HomeScreen
from tutor.ui.widgets.keys_panel import KeysPanel, KeysTable
from tutor.ui.words import relabel_keys, say, starting_language, system_command_words, textual_words
from tutor.workspace.files import Workspace, WorkspaceError, resolve_workspace
from tutor.workspace.watch import FolderWatcher


class CheckBackend(Protocol):
    """What the app needs from a checker; CheckClient is the real one, tests pass fakes. check() answers with
    the check service's JSON (a CheckReply's), which the exercise screen reads with CheckReply.from_json."""

    def start(self) -> None: ...
    def check(self, exercise_id: str, path: Path) -> dict[str, Any]: ...
    def close(self) -> None: ...


class TrainingHandle(Protocol):
    """One training run: events() yields its JSON lines (blocking; one worker thread reads it), which the
    exercise screen reads with update_from_line."""

    def events(self) -> Iterator[dict[str, Any]]: ...
    def cancel(self) -> None: ...
    def stop(self) -> None: ...


class Trainer(Protocol):
    """What the app needs to train exercise 4; TrainingClient is the real one, tests pass fakes."""

    def start(self, exercise_id: str, path: Path) -> TrainingHandle: ...
    def close(self) -> None: ...


class TutorApp(App):
    CSS_PATH = "tutor.tcss"
    TITLE = "backprop ninja"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "keys", "Keys", key_display="?"),
    ]

    watch_state: reactive[str] = reactive("")

    def __init__(self, course: Course, workspace: Workspace, store: Any, checker: CheckBackend, *,
                 trainer: Trainer | None = None, watch: bool = True, notices: Iterable[str] = (),
                 lang: str = "en") -> None:
        super().__init__()
        self.lang = lang  # the language of every word on the screen: "en" or "zh"
        self.watch_code = "watch-on"  # what watch_state says, as a message code
        relabel_keys(self, lang)
        self.course = course
        self.workspace = workspace
        self.checker = checker
        if trainer is None:
            from tutor.training.client import TrainingClient

            trainer = TrainingClient()
        self.trainer = trainer
        self.notices: list[str] = list(notices)
        self.store = GuardedStore(store, self.store_failed, post=self.post_from_thread)
        if self.store.warning:
            self.notices.append(self.store.warning)
        self._reported: set[str] = set()
        self.watcher: FolderWatcher | None = None
        self.watch_enabled = watch

    # -- start and stop --------------------------------------------------------------------------------
    def on_mount(self) -> None:
        # After the first paint: the service's torch import would otherwise compete with it for the CPU.
        self.call_after_refresh(self.run_worker, self.checker.start, thread=True, exit_on_error=False,
                                name="start checker")
        self.start_watching()
        self.push_screen(HomeScreen())
        for notice in self.notices:
            self.notify(notice, severity="warning", timeout=12)
        exercise_id, step = self.store.current()
        if exercise_id and self.course.find(exercise_id):
            self.open_exercise(exercise_id, step=step)

    def start_watching(self) -> None:
        if not self.watch_enabled:
            self.set_watch("watch-off")
            return
        names = [name for e in self.course.exercises for name in self.workspace.watched_names(e)]
        self.watcher = FolderWatcher(self.workspace.root, names, lambda name: self.post_message(FileChanged(name)),
                                     lambda problem: self.post_message(WatchProblem(problem)))
        self.watcher.start()
        self.set_watch("watch-on")

    def set_watch(self, code: str) -> None:
        """Say whether saves are watched (watch_state, in the app's language)."""
        self.watch_code = code
        self.watch_state = say(code, self.lang)

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.trainer.close()
        self.checker.close()

    # -- events from threads ---------------------------------------------------------------------------
    def on_file_changed(self, message: FileChanged) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, ExerciseScreen) and message.name in self.workspace.watched_names(screen.exercise):
                screen.file_changed()

    def on_watch_problem(self, message: WatchProblem) -> None:
        if message.message:
            self.set_watch("watch-unavailable")
            self.notify(message.message, title=say("watch-problem-title", self.lang), severity="warning", timeout=10)
        else:
            self.set_watch("watch-on")

    def post_from_thread(self, callback: Callable[[str], None], message: str) -> None:
        """callback(message) on the screen's thread, from the progress store's worker (or the screen itself)."""
        try:
            self.call_from_thread(callback, message)
        except RuntimeError:  # already on the screen's thread, or the app has stopped
            if self.is_running:
                callback(message)

    def store_failed(self, message: str) -> None:
        if message not in self._reported:
            self._reported.add(message)
            self.notify(say("store-failed", self.lang, message=message), title=say("store-title", self.lang),
                        severity="warning", timeout=10)

    # -- navigation ------------------------------------------------------------------------------------
    def open_exercise(self, exercise_id: str, step: str | None = None, replace: bool = False) -> None:
        exercise = self.course.find(exercise_id)
        if exercise is None:
            return
        screen = ExerciseScreen(exercise, step)
        if replace:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def action_keys(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_show_help_panel(self) -> None:
        # The tutor's keys first, under their own heading (the palette's "Keys" command comes here too).
        if not self.screen.query("HelpPanel"):
            self.screen.mount(KeysPanel())

    def action_command_palette(self) -> None:
        # Textual's own palette, its placeholder in the tutor's language
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(id="--command-palette", placeholder=say("palette-placeholder", self.lang)))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):  # Textual's, in the tutor's language
            title, help = system_command_words(command.title, command.help, self.lang)
            yield command._replace(title=title, help=help)
        seen = {"quit", "keys", "command_palette"}
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            shown = binding.key_display or key
            title = textual_words(binding.description, self.lang)
            yield SystemCommand(f"{title} ({shown})", say("palette-key", self.lang, key=shown),
                                partial(self.run_action, binding.action, active.node))
        other = "zh" if self.lang == "en" else "en"
        switch = partial(self.set_language, other)
        yield SystemCommand(say("palette-language", self.lang), say("palette-language-help", self.lang), switch)
        # found by its name in the other language too ("lang" in Chinese, "语言" in English), shown only when searched
        yield SystemCommand(say("palette-language", other), say("palette-language-help", self.lang), switch, discover=False)

    # -- language --------------------------------------------------------------------------------------
    def set_language(self, lang: str) -> None:
        """Speak `lang` from now on: every screen says its words again, and the workspace remembers it."""
        self.lang = lang
        relabel_keys(self, lang)
        self.set_watch(self.watch_code)
        for screen in self.screen_stack:
            relabel = getattr(screen, "relabel", None)
            if relabel is not None:
                relabel()
            for table in screen.query(KeysTable):
                table.refresh()
        self.refresh_bindings()
        try:
            self.workspace.remember("lang", lang)
        except WorkspaceError as exc:
            self.notify(str(exc), severity="warning", timeout=8)
            return
        self.notify(say("language-switched", lang), timeout=4)


def make_app(
    course: Course | None = None,
    workspace: str | Path | None = None,
    *,
    store: Any = None,
    checker: CheckBackend | None = None,
    trainer: Trainer | None = None,
    watch: bool = True,
    data: str | Path | None = None,
    device: str = "cpu",
    timeout: float = 10.0,
    lang: str | None = None,
) -> TutorApp:
    """Build the app: find (or create) the workspace, open its progress store, check and training clients.
    `lang` is the language chosen for this start (--lang, BACKPROP_NINJA_LANG); without one the tutor speaks
    the language remembered in the workspace, else the locale's."""
    if course is None:
        from tutor.course import load_course

        course = load_course()
    ws = Workspace(resolve_workspace(workspace))
    speak = starting_language(lang, ws.setting("lang"), os.environ)
    notices: list[str] = []
    try:
        ws.init(course)
    except WorkspaceError as exc:
        if not ws.exists():
            raise
        notices.append(say("read-only", speak, error=str(exc)))
    if store is None:
        from tutor.workspace.progress import ProgressStore

        store = ProgressStore(ws.root)
    if checker is None:
        from tutor.service.client import CheckClient

        checker = CheckClient(data=data, device=device, timeout=timeout, log_path=ws.state_dir / "service.log",
                              course_root=course.root)
    if trainer is None:
        from tutor.training.client import TrainingClient

        trainer = TrainingClient(data=data, device=device, timeout=timeout, log_path=ws.state_dir / "training.log")
    return TutorApp(course, ws, store, checker, trainer=trainer, watch=watch, notices=notices, lang=speak)
