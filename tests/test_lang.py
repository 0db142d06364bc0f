"""The language setting: --lang, then BACKPROP_NINJA_LANG, then the locale, then English."""

from __future__ import annotations

import pytest

from tutor.lang import LanguageError, from_locale, normalise, resolve


@pytest.mark.parametrize(
    ("value", "lang"),
    [("zh", "zh"), ("zh_CN.UTF-8", "zh"), ("zh-Hans", "zh"), ("ZH_tw", "zh"), ("en_US.UTF-8", "en"), ("fr_FR", None), ("C", None)],
)
def test_normalise(value, lang):
    assert normalise(value) == lang


def test_explicit_beats_the_environment_and_the_locale():
    env = {"BACKPROP_NINJA_LANG": "en", "LANG": "zh_CN.UTF-8"}
    assert resolve("zh", env) == "zh"
    assert resolve(None, env) == "en"
    assert resolve(None, {"LANG": "zh_CN.UTF-8"}) == "zh"
    assert resolve(None, {}) == "en"


def test_the_workspaces_language_comes_after_the_environment_and_before_the_locale():
    assert resolve(None, {"LANG": "en_US.UTF-8"}, remembered="zh") == "zh"
    assert resolve(None, {"BACKPROP_NINJA_LANG": "en"}, remembered="zh") == "en"
    assert resolve("en", {}, remembered="zh") == "en"
    assert resolve(None, {"LANG": "zh_CN.UTF-8"}, remembered="klingon") == "zh"  # a language it does not speak: ignored


def test_the_first_locale_variable_set_decides():
    assert from_locale({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert from_locale({"LC_ALL": "", "LC_MESSAGES": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}) == "zh"
    assert from_locale({"LANG": "fr_FR.UTF-8"}) == "en"  # a language the tutor does not speak: English


@pytest.mark.parametrize(("explicit", "env"), [("fr", {}), (None, {"BACKPROP_NINJA_LANG": "klingon"})])
def test_an_unknown_language_is_one_clear_error(explicit, env):
    with pytest.raises(LanguageError, match="speaks en or zh"):
        resolve(explicit, env)


# ---- the command line ---------------------------------------------------------------------------------------------


def test_hint_prints_the_first_rung_in_chinese(tmp_path, backprop_ninja):
    workspace = tmp_path / "ws"
    assert backprop_ninja("init", "--workspace", str(workspace)).returncode == 0
    result = backprop_ninja("--lang", "zh", "hint", "atomic", "dcounts", "--workspace", str(workspace))
    assert result.returncode == 0, result.stderr
    assert "提示 1/4：counts 被用了两次" in result.stdout


def test_the_locale_picks_chinese_and_an_unknown_language_is_a_usage_error(backprop_ninja):
    listed = backprop_ninja("list", env={"LANG": "zh_CN.UTF-8", "LC_ALL": "", "BACKPROP_NINJA_LANG": ""})
    assert "1. atomic — 逐个原子运算做反向传播" in listed.stdout
    refused = backprop_ninja("--lang", "fr", "list")
    assert refused.returncode == 2 and refused.stderr.strip() == "backprop-ninja: --lang 'fr': the tutor speaks en or zh"


def test_a_check_in_a_chinese_locale_diagnoses_in_chinese(tmp_path, course, backprop_ninja):
    source = course.find("atomic").solution.read_text(encoding="utf-8")
    line = "dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)"
    assert line in source
    learner = tmp_path / "atomic.py"
    learner.write_text(source.replace(line, "dcounts_sum_inv = (counts * dprobs).sum(1)"), encoding="utf-8")
    result = backprop_ninja("check", "atomic", "--file", str(learner), env={"LANG": "zh_CN.UTF-8", "LC_ALL": "", "BACKPROP_NINJA_LANG": ""})
    assert result.returncode == 1, result.stderr
    assert "可能的错误（漏了 keepdim）：数值正确，但形状 (32,) 比 counts_sum_inv 的形状 (32, 1)" in result.stdout
