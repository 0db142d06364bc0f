"""The home screen: the four exercises with the learner's progress; enter opens one."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static


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
        yield Static(id="home-notes")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "backprop ninja"
        self.sub_title = "home"
        app = self.app
        self.query_one("#home-intro", Static).update(Text.assemble(
            ("Write the backward pass by hand; the tutor checks every gradient against autograd.\n", "bold"),
            f"Workspace: {shown_path(app.workspace.root)}  —  edit the files there in any editor; "
            "choose an exercise with ↑/↓ and enter (or a click).",
        ))
        table = self.query_one("#exercises", DataTable)
        table.add_columns("#", "exercise", "steps")
        table.add_column("progress", key="progress")
        for exercise in app.course.exercises:
            table.add_row(str(exercise.order), exercise.title, str(len(exercise.steps)), "", key=exercise.id)
        self.refresh_progress()

    def on_screen_resume(self) -> None:
        self.refresh_progress()

    def refresh_progress(self) -> None:
        table = self.query_one("#exercises", DataTable)
        for exercise in self.app.course.exercises:
            state = self.app.store.exercise_state(exercise.id)
            steps = state.get("steps") or {}
            passing = sum(bool(s.get("passed")) for s in steps.values())
            if state.get("passed") and state.get("last_status") not in (None, "passed"):
                text = Text("✔ passed · failing now", style="bold yellow")  # the words of `progress`
            elif state.get("passed"):
                text = Text("✔ passed", style="bold green")
            elif state.get("attempts"):
                text = Text(f"{passing}/{len(exercise.steps)} steps · {state['attempts']} check{'s' if state['attempts'] != 1 else ''}")
            else:
                text = Text("not started", style="dim")
            table.update_cell(exercise.id, "progress", text, update_width=True)
        self.query_one("#home-notes", Static).update("\n".join(self.app.notices))

    def action_open(self) -> None:
        table = self.query_one("#exercises", DataTable)
        self.app.open_exercise(self.app.course.exercises[table.cursor_row].id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.app.open_exercise(str(event.row_key.value))
