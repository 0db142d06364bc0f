"""Small modal screens: a yes/no confirmation and a read-only text (the solution)."""

from __future__ import annotations

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tutor.ui.words import relabel_keys, say


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True for yes (y, or the yes button) and False for no (n, escape, the no button)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str | None = None, no: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.yes, self.no = yes, no

    def compose(self) -> ComposeResult:
        lang = self.app.lang
        with Vertical(id="dialog"):
            yield Static(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button(f"{self.yes or say('confirm-yes', lang)} (y)", variant="warning", id="yes")
                yield Button(f"{self.no or say('confirm-no', lang)} (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        relabel_keys(self, self.app.lang)
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TextScreen(ModalScreen[None]):
    """A scrollable read-only renderable with a title; escape or q closes it."""

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="textbox"):
            yield Static(self.title_text, id="text-title")
            with VerticalScroll(id="text-scroll"):
                yield Static(self.body, id="text-body")
            yield Static(say("text-foot", self.app.lang), id="text-foot")

    def on_mount(self) -> None:
        relabel_keys(self, self.app.lang)

    def action_close(self) -> None:
        self.dismiss(None)
