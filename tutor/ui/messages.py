"""Messages the app's background threads (check and training workers, folder watcher) post to the event loop."""

from __future__ import annotations

from textual.message import Message

from tutor.reports.check import CheckReply
from tutor.reports.training import RunUpdate


class CheckFinished(Message):
    """The checker answered: a report, or the message of a check it could not make."""

    def __init__(self, exercise_id: str, reply: CheckReply, elapsed: float) -> None:
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
    """One update of a training run (a line of tutor.training.stream, read), or a problem the app met reading it."""

    def __init__(self, update: RunUpdate) -> None:
        super().__init__()
        self.update = update
