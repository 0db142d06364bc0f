"""The footer of the exercise screen: when not every key fits, the least needed ones leave it first, so that
`?` (all keys) and `q` stay visible at 80 columns; what leaves the footer is still listed by `?`."""

from __future__ import annotations

from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Footer


class KeysFooter(Footer):
    # The actions whose keys leave the footer first, in this order, while the keys are wider than the screen.
    LEAVE_FIRST = ("reset", "solution", "edit", "command_palette")

    async def recompose(self) -> None:
        await super().recompose()
        self.fit()

    def on_resize(self) -> None:
        self.fit()

    @staticmethod
    def key_width(key: Widget) -> int:
        return key.get_content_width(Size(0, 0), Size(0, 0)) + key.styles.gutter.width + key.styles.margin.width

    def fit(self) -> None:
        keys = list(self.query("FooterKey"))  # by name: Textual does not export the class
        for key in keys:
            key.display = True
        room = self.size.width
        if not room:
            return
        needed = sum(self.key_width(key) for key in keys)
        for action in self.LEAVE_FIRST:
            if needed <= room:
                break
            for key in keys:
                if getattr(key, "action", None) == action and key.display:
                    key.display = False
                    needed -= self.key_width(key)
