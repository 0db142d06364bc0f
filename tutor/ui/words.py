"""The tutor's screen in the learner's language: its words come from the `ui` catalogue (ui.en.toml,
ui.zh.toml), the keys' descriptions follow the language, and the language a start of the tutor speaks is
chosen here (--lang > BACKPROP_NINJA_LANG > the one remembered in the workspace > the locale > English)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.dom import DOMNode

from tutor.lang import from_locale, normalise
from tutor.messages import DEFAULT_LANG, render, speaker, templates

# The description of each key the tutor shows, by its action (Textual's palette key included).
KEY_CODES = {
    "quit": "ui-key-quit",
    "keys": "ui-key-keys",
    "command_palette": "ui-key-palette",
    "open": "ui-key-open",
    "recheck": "ui-key-recheck",
    "hint": "ui-key-hint",
    "edit": "ui-key-edit",
    "solution": "ui-key-solution",
    "reset": "ui-key-reset",
    "next": "ui-key-next",
    "train": "ui-key-train",
    "stop_training": "ui-key-stop",
    "toggle_training": "ui-key-toggle-training",
    "home": "ui-key-home",
    "answer(True)": "ui-key-yes",
    "answer(False)": "ui-key-no",
    "close": "ui-key-close",
}


say = speaker("ui")


def styled(code: str, lang: str, /, **params: Any) -> Text:
    """A message whose template marks its bold (or coloured) words with Rich markup; the values are shown as
    they are (a learner's error message with [brackets] stays text)."""
    values = {name: escape(value) if isinstance(value, str) else value for name, value in params.items()}
    return Text.from_markup(render(f"ui-{code}", values, lang))


def textual_words(english: str, lang: str) -> str:
    """The description Textual gives one of its widgets' keys, in `lang` ("Page Up": ui-textual-page-up)."""
    return _textual(f"ui-textual-{_slug(english)}", english, lang)


def system_command_words(title: str, help: str, lang: str) -> tuple[str, str]:
    """Textual's own palette command (its title and help) in `lang`: ui-system-TITLE, ui-system-TITLE-help
    ("Keys" when it hides the panel: ui-system-keys-hide-help)."""
    code = f"ui-system-{_slug(title)}"
    help_code = f"{code}-hide-help" if help.startswith("Hide") else f"{code}-help"
    return _textual(code, title, lang), _textual(help_code, help, lang)


def _slug(english: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", english.lower()).strip("-")


def _textual(code: str, english: str, lang: str) -> str:
    # English, and words the catalogue lacks (a newer Textual's), stay as Textual says them
    return render(code, None, lang) if lang != DEFAULT_LANG and code in templates(DEFAULT_LANG) else english


def relabel_keys(node: DOMNode, lang: str) -> None:
    """Give the keys that `node` binds their descriptions in `lang` (the footer, `?` and the palette read them).
    Textual keeps a node's bindings in its own map, built once from the class's BINDINGS: changed in place."""
    bindings = node._bindings.key_to_bindings
    for key, listed in bindings.items():
        bindings[key] = [
            dataclasses.replace(b, description=render(KEY_CODES[b.action], None, lang)) if b.action in KEY_CODES else b
            for b in listed
        ]


def starting_language(chosen: str | None, remembered: str | None, env: Mapping[str, str]) -> str:
    """The language the tutor starts in: the one chosen for this start, else the one remembered in the
    workspace (when it is one the tutor speaks), else the locale's."""
    if chosen:
        return chosen
    return normalise(remembered or "") or from_locale(env)
