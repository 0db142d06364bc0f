"""Where the training run of exercise 4 will live: for now it says what comes once the gradients pass."""

from __future__ import annotations

from textual.widgets import Static


class TrainingPanel(Static):
    """A placeholder the training runner plugs into (grad check, loss curve, samples)."""

    def on_mount(self) -> None:
        self.update(
            "Training: once all seven parameter gradients pass on this batch, this exercise trains the network "
            "with them (no loss.backward()). The training run is not available in this screen yet; the table "
            "above checks your gradients on one batch."
        )
