"""The keys panel (`?`): the tutor's own keys first, under their own heading, then Textual's generic keys."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.dom import DOMNode
from textual.widgets import HelpPanel, KeyPanel, Markdown, Static

from tutor.ui.words import say, textual_words

# The two sections' headings (message codes): the tutor's own keys, then Textual's generic ones.
HEADINGS = ("keys-tutor", "keys-textual")
TUTOR_HEADING, GENERIC_HEADING = (say(code, "en") for code in HEADINGS)  # in English


def declared_by_tutor(node: DOMNode) -> set[tuple[str, str]]:
    """(key, action) of the bindings that the tutor's own classes declare, along node's class hierarchy."""
    declared: set[tuple[str, str]] = set()
    for cls in type(node).__mro__:
        if cls.__module__.startswith("tutor.") and "BINDINGS" in vars(cls):
            declared.update((b.key, b.action) for b in Binding.make_bindings(vars(cls)["BINDINGS"]))
    return declared


def split_bindings(active: Iterable[ActiveBinding]) -> tuple[list[ActiveBinding], list[ActiveBinding]]:
    """(the tutor's bindings, Textual's generic ones), each in the screen's order: the screen's keys, then the app's."""
    ours: list[ActiveBinding] = []
    theirs: list[ActiveBinding] = []
    for item in active:
        if item.binding.system:
            continue
        (ours if (item.binding.key, item.binding.action) in declared_by_tutor(item.node) else theirs).append(item)
    return ours, theirs


class KeysTable(Static):
    """The screen's active bindings in two headed sections; one row per action, its keys together."""

    COMPONENT_CLASSES = {"keys-table--key", "keys-table--description", "keys-table--header"}
    DEFAULT_CSS = """
    KeysTable {
        width: auto;
        height: auto;
    }
    KeysTable > .keys-table--key {
        color: $text-accent;
        text-style: bold;
    }
    KeysTable > .keys-table--description {
        color: $foreground;
    }
    KeysTable > .keys-table--header {
        color: $text-primary;
        text-style: bold underline;
    }
    """

    def render(self) -> Group:
        key_style = self.get_component_rich_style("keys-table--key")
        description_style = self.get_component_rich_style("keys-table--description")
        header_style = self.get_component_rich_style("keys-table--header")
        sections: list[tuple[str, list[tuple[str, str]]]] = []
        headings = (say(code, self.app.lang) for code in HEADINGS)
        for heading, section in zip(headings, split_bindings(self.screen.active_bindings.values())):
            by_action: defaultdict[str, list[Binding]] = defaultdict(list)
            for item in section:
                if item.binding.description:
                    by_action[item.binding.action].append(item.binding)
            rows = [(" ".join(dict.fromkeys(self.app.get_key_display(b) for b in bindings)),
                     textual_words(bindings[0].description, self.app.lang)) for bindings in by_action.values()]
            if rows:
                sections.append((heading, rows))
        key_width = max((cell_len(keys) for _, rows in sections for keys, _ in rows), default=1)
        parts: list[RenderableType] = []
        for heading, rows in sections:
            table = Table(padding=(0, 1, 0, 0), show_header=False, box=None)
            table.add_column(justify="right", no_wrap=True, min_width=key_width)
            table.add_column()
            for keys, description in rows:
                table.add_row(Text(keys, style=key_style), Text(description, style=description_style))
            parts += [Text(heading, style=header_style), table, Text("")]
        return Group(*parts[:-1])


class TutorKeyPanel(KeyPanel):
    """Textual's key panel (it re-composes when the screen's bindings change) with the tutor's table."""

    def compose(self) -> ComposeResult:
        yield KeysTable()


class KeysPanel(HelpPanel):
    """The panel `?` opens on the right of the screen; still a HelpPanel, so Textual's hide action closes it."""

    def compose(self) -> ComposeResult:
        yield Markdown(id="widget-help")
        yield TutorKeyPanel(id="keys-help")
