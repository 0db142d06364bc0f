"""Which language the tutor speaks: English or Chinese.

The choice, first found wins: an explicit `--lang`, then `BACKPROP_NINJA_LANG`, then the language the
learner chose in the tutor (remembered in the workspace), then the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`,
as gettext reads them: the first one set decides), then English.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

LANGUAGES = ("en", "zh")
DEFAULT = "en"
ENV_VAR = "BACKPROP_NINJA_LANG"
LOCALE_VARS = ("LC_ALL", "LC_MESSAGES", "LANG")


class LanguageError(ValueError):
    """A language the tutor does not speak, named on the command line or in the environment."""


def normalise(value: str) -> str | None:
    """"zh", "zh_CN.UTF-8", "zh-Hans", "ZH" -> "zh"; "en_US" -> "en"; anything else -> None."""
    head = value.strip().replace("-", "_").split("_", 1)[0].split(".", 1)[0].lower()
    return head if head in LANGUAGES else None


def from_locale(env: Mapping[str, str]) -> str:
    """The language of the locale: Chinese for any zh locale, else English. The first variable that is
    set decides, as in gettext ("C" and "POSIX" are English)."""
    for name in LOCALE_VARS:
        value = env.get(name, "")
        if value:
            return normalise(value) or DEFAULT
    return DEFAULT


def chosen(explicit: str | None, env: Mapping[str, str]) -> bool:
    """The learner chose the language for this start: `--lang` on the command line, or BACKPROP_NINJA_LANG
    (the locale and a remembered choice are only defaults: the tutor may prefer the one it remembers)."""
    return bool(explicit) or bool(env.get(ENV_VAR))


def resolve(explicit: str | None = None, env: Mapping[str, str] | None = None, remembered: str | None = None) -> str:
    """The language to speak: `explicit` (from --lang), else the environment, else the one `remembered` in the
    workspace (ignored unless the tutor speaks it), else the locale, else English. LanguageError for an
    explicit or BACKPROP_NINJA_LANG value the tutor does not speak."""
    env = os.environ if env is None else env
    for source, value in (("--lang", explicit), (ENV_VAR, env.get(ENV_VAR))):
        if value:
            lang = normalise(value)
            if lang is None:
                raise LanguageError(f"{source} {value!r}: the tutor speaks {' or '.join(LANGUAGES)}")
            return lang
    return normalise(remembered or "") or from_locale(env)


__all__ = ["DEFAULT", "ENV_VAR", "LANGUAGES", "LanguageError", "chosen", "from_locale", "normalise", "resolve"]
