"""Messages the app's background threads (check and training workers, folder watcher) post to the event loop."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class CheckFinished(Message):
    """The checker answered: a report dict ({"type": "report", ...}) or {"type": "error", "message"}."""

    def __init__(self, exercise_id: str, reply: dict[str, Any], elapsed: float) -> None:
        super().__init__()
        self.exercise_id = exercise_id
        self.reply = reply
        self.elapsed = elapsed


class FileChanged(Message):
    """A watched file in the workspace folder changed, appeared or vanished (debounced)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class WatchProblem(Message):
    """Watching the folder started failing (message) or works again (None)."""

    def __init__(self, message: str | None) -> None:
        super().__init__()
        self.message = message


class TrainingLine(Message):
    """One line of a training run (tutor.training.stream's protocol), or a "crashed" line made by the app."""

    def __init__(self, line: dict[str, Any]) -> None:
        super().__init__()
        self.line = line
