"""The home screen: the four exercises with the learner's progress; enter opens one."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tutor.ui.words import relabel_keys, say, styled

COLUMNS = ("exercise", "steps", "progress")  # after "#"; the label of each is ui-col-<key>


def shown_path(path: Path) -> str:
    """A path as the learner would type it: ~/... under their home folder."""
    home = Path.home()
    try:
        inside = Path(path).relative_to(home)
        return "~" if inside == Path(".") else f"~/{inside}"
    except ValueError:
        return str(path)


class HomeScreen(Screen):
    BINDINGS = [Binding("enter", "open", "Open exercise", show=True)]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="home-intro")
        yield DataTable(id="exercises", cursor_type="row", zebra_stripes=True)
        yield Static(id="home-packs")
        yield Static(id="home-notes")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "backprop ninja"
        self.relabel()

    def relabel(self) -> None:
        """Every word of the screen in the app's language now (on mount, and when the learner switches)."""
        lang = self.app.lang
        relabel_keys(self, lang)
        self.sub_title = say("home-subtitle", lang)
        intro = styled("home-intro", lang, path=shown_path(self.app.workspace.root))
        self.query_one("#home-intro", Static).update(intro)
        self.query_one("#home-packs", Static).update(styled("home-packs", lang, packs=self.packs_line()))
        table = self.query_one("#exercises", DataTable)
        row = table.cursor_row
        table.clear(columns=True)  # built again: each column as wide as its words in this language
        table.add_column("#")
        for key in COLUMNS:
            table.add_column(say(f"col-{key}", lang), key=key)
        for exercise in self.app.course.exercises:
            table.add_row(str(exercise.order), exercise.text("title", lang), str(len(exercise.steps)), "",
                          key=exercise.id)
        table.move_cursor(row=row)
        self.refresh_progress()
        self.refresh_bindings()

    def packs_line(self) -> str:
        """The installed packs' ids, the one open marked with a *."""
        from tutor.course import CourseError
        from tutor.course.packs import installed_packs

        try:
            packs = installed_packs()
        except CourseError:  # a broken pack beside this one: its id is not known
            return self.app.course.id
        here = self.app.course.root.resolve()
        return ", ".join(f"{p.id}*" if p.root.resolve() == here else p.id for p in packs)

    def on_screen_resume(self) -> None:
        self.refresh_progress()

    def refresh_progress(self) -> None:
        table = self.query_one("#exercises", DataTable)
        lang = self.app.lang
        for exercise in self.app.course.exercises:
            state = self.app.store.exercise_state(exercise.id)
            steps = state.get("steps") or {}
            passing = sum(bool(s.get("passed")) for s in steps.values())
            if state.get("passed") and state.get("last_status") not in (None, "passed"):
                text = Text(say("progress-failing-now", lang), style="bold yellow")  # the words of `progress`
            elif state.get("passed"):
                text = Text(say("progress-passed", lang), style="bold green")
            elif state.get("attempts"):
                text = Text(say("progress-attempts", lang, passing=passing, total=len(exercise.steps),
                                count=state["attempts"]))
            else:
                text = Text(say("progress-not-started", lang), style="dim")
            table.update_cell(exercise.id, "progress", text, update_width=True)
        self.query_one("#home-notes", Static).update("\n".join(self.app.notices))

    def action_open(self) -> None:
        table = self.query_one("#exercises", DataTable)
        self.app.open_exercise(self.app.course.exercises[table.cursor_row].id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.app.open_exercise(str(event.row_key.value))
