"""The tutor's words as data: a message is a code and its parameters, and each language's catalogue
(`en.toml` beside this module) holds the template of every code.

The engine says *what* it found (`message("not-assigned", name="dcounts")`); the report types and the views
turn that into words only when they show it (`render(...)`), in the language asked for. A parameter may be
a message itself (the mistake inside a local-rule explanation) or a list of messages (the notes of a row):
both are rendered in the same language before they fill the template. Torch-free and UI-free.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypedDict


def toml() -> Any:
    """tomllib (tomli before Python 3.11), imported when a TOML file is first read: a command whose words and
    course come from caches never pays for it (it compiles a dozen regular expressions at import)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


__all__ = [
    "DEFAULT_LANG", "PARTS", "Message", "catalogue", "is_message", "message", "part", "placeholders", "render", "render_list",
    "render_message", "speaker", "templates", "toml",
]

DEFAULT_LANG = "en"
# The message that joins the notes of one row (and any list of messages): "{before}; {after}" in English.
JOIN = "notes-joined"
# Parameters a report written before they existed lacks, and the message that stands in for each.
STAND_INS = {"first": "first-batch"}


class Message(TypedDict):
    """What the tutor says, as data: a catalogue code and the values its template needs."""

    code: str
    params: dict[str, Any]


def message(code: str, **params: Any) -> Message:
    """The message `code` with its parameters: JSON values, or messages (and lists of them) to nest."""
    return {"code": code, "params": params}


def is_message(value: object) -> bool:
    """`value` is a message (a mapping with a code and parameters), as the engine made it or JSON read it back."""
    return isinstance(value, Mapping) and isinstance(value.get("code"), str) and isinstance(value.get("params"), Mapping)


@cache
def catalogue(lang: str = DEFAULT_LANG) -> dict[str, Any]:
    """The templates of one language, code -> a template, or a table {one, other} chosen by the `count`
    parameter; read once. A language without a catalogue has no entries (its words fall back to English)."""
    path = Path(__file__).with_name(f"{lang}.toml")
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return toml().load(handle)


def placeholders(template: str) -> set[str]:
    """The parameter names a template reads."""
    return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(template) if field}


@cache
def part(name: str, lang: str = DEFAULT_LANG) -> dict[str, Any]:
    """The templates of one part of the tutor besides the engine's (`ui`, `cli`: `ui.en.toml`), read once."""
    path = Path(__file__).with_name(f"{name}.{lang}.toml")
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return toml().load(handle)


PARTS = ("ui", "cli", "codes")  # codes: the names of the kinds of mistake, which every face shows


@cache
def templates(lang: str = DEFAULT_LANG) -> dict[str, Any]:
    """Every template of one language: the engine's catalogue and each part's, which never share a code."""
    merged = dict(catalogue(lang))
    for name in PARTS:
        entries = part(name, lang)
        clash = set(entries) & set(merged)
        if clash:
            raise ValueError(f"message codes in {name}.{lang}.toml repeat others: {', '.join(sorted(clash))}")
        merged.update(entries)
    return merged


def _template(code: str, params: Mapping[str, Any], lang: str) -> str | None:
    entry = templates(lang).get(code)
    if entry is None and lang != DEFAULT_LANG:
        entry = templates(DEFAULT_LANG).get(code)
    if isinstance(entry, Mapping):
        return entry["one"] if params.get("count") == 1 and "one" in entry else entry["other"]
    return entry


def _value(value: Any, lang: str) -> Any:
    if is_message(value):
        return render_message(value, lang)
    if isinstance(value, list) and value and all(is_message(v) for v in value):
        return render_list(value, lang)
    return value


def render(code: str, params: Mapping[str, Any] | None = None, lang: str = DEFAULT_LANG) -> str:
    """The words of message `code` in `lang` (English where that language lacks the code)."""
    params = params or {}
    template = _template(code, params, lang)
    values = {name: _value(value, lang) for name, value in params.items()}
    if template is None:  # a code no catalogue knows (a newer tutor's report): its code and values
        return code + "".join(f" {name}={value}" for name, value in values.items())
    for name in placeholders(template) & set(STAND_INS) - set(values):
        values[name] = render(STAND_INS[name], None, lang)
    return template.format(**values)


class Speaker(Protocol):
    def __call__(self, code: str, lang: str = DEFAULT_LANG, /, **params: Any) -> str: ...


def speaker(part_name: str) -> Speaker:
    """The `say(code, lang, **params)` of one part of the tutor: render() of `PART-code`, so that the TUI
    (`speaker("ui")`) and the command line (`speaker("cli")`) name their messages without the prefix."""
    if part_name not in PARTS:
        raise ValueError(f"no part {part_name!r}: the parts are {', '.join(PARTS)}")

    def say(code: str, lang: str = DEFAULT_LANG, /, **params: Any) -> str:
        return render(f"{part_name}-{code}", params, lang)

    say.__doc__ = f"The words of the {part_name} message `code` (its `{part_name}-` prefix left out) in `lang`."
    return say


def render_message(msg: Mapping[str, Any], lang: str = DEFAULT_LANG) -> str:
    """render() of one message."""
    return render(msg["code"], msg.get("params"), lang)


def render_list(messages: list[Message], lang: str = DEFAULT_LANG) -> str:
    """Several messages as one text, each joined to the ones before it (the notes of one row)."""
    text = render_message(messages[0], lang)
    for msg in messages[1:]:
        text = render(JOIN, {"before": text, "after": render_message(msg, lang)}, lang)
    return text
