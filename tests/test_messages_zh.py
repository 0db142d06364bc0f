"""The Chinese catalogue (tutor/messages/zh.toml) says everything the English one says."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from tutor.messages import PARTS, catalogue, message, part, placeholders, render_message

# Codes whose words are all placeholders or punctuation: no Chinese characters are expected in them.
FORMAT_ONLY = {"text", "batch-sizes", "notes-joined", "course", "ui-grid-batch"}
# The course's own words come in the course's language: English {text}, Chinese {text_zh}.
RENAMED = {"course": ({"text"}, {"text_zh"})}
CJK = re.compile(r"[\u4e00-\u9fff]")


def _forms(entry: str | Mapping[str, str]) -> list[str]:
    return list(entry.values()) if isinstance(entry, Mapping) else [entry]


# the engine's catalogue (en.toml, zh.toml) and each part's (ui.en.toml, ui.zh.toml, ...)
FILES = [pytest.param(catalogue, id="engine"), *(pytest.param(lambda lang, n=name: part(n, lang), id=name) for name in PARTS)]


@pytest.mark.parametrize("load", FILES)
def test_every_english_message_has_a_chinese_one_and_the_reverse(load):
    assert set(load("zh")) == set(load("en"))


@pytest.mark.parametrize("load", FILES)
def test_every_translation_keeps_the_parameters_of_its_message(load):
    en, zh = load("en"), load("zh")
    for code, entry in en.items():
        want = set().union(*(placeholders(form) for form in _forms(entry)))
        got = set().union(*(placeholders(form) for form in _forms(zh[code])))
        if code in RENAMED:
            assert (want, got) == RENAMED[code], code
        else:
            assert got == want, f"{code}: {sorted(got)} != {sorted(want)}"


@pytest.mark.parametrize("load", FILES)
def test_no_translation_is_empty_or_left_in_english(load):
    en, zh = load("en"), load("zh")
    for code, entry in zh.items():
        for form in _forms(entry):
            assert form.strip() and "TODO" not in form, code
            if code not in FORMAT_ONLY:
                assert CJK.search(form), f"{code} has no Chinese: {form!r}"
                assert form not in _forms(en[code]), code


def test_a_nested_message_is_rendered_in_chinese_too():
    gives = message("values-off", diff=0.0723)
    words = render_message(message("lecture-only-true-zero", gives=gives), "zh")
    assert "约为 0" in words and "最多相差 7.23e-02 的值" in words
    course = message("course", text="an epsilon is missing", text_zh="少了 epsilon")
    assert render_message(course, "zh") == "少了 epsilon" and render_message(course, "en") == "an epsilon is missing"
