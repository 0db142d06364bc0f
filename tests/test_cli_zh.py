"""The command line in Chinese: every line it prints comes from cli.zh.toml with --lang zh (or
BACKPROP_NINJA_LANG=zh, or a zh_* locale), the starter files' comments are Chinese, --json keeps its
English codes, and the English output is unchanged without a language."""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from tutor.cli import main
from tutor.messages import part, placeholders
from tutor.reports.check import CheckReport, LearnerError, TensorVerdict
from tutor.views.text import print_report
from tutor.workspace.files import Workspace, starter_text

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def no_language_set(monkeypatch):
    """No language from the environment: English unless a test asks for Chinese."""
    monkeypatch.delenv("BACKPROP_NINJA_LANG", raising=False)
    monkeypatch.setenv("LC_ALL", "C")


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def workspace(tmp_path, capsys) -> Path:
    root = tmp_path / "ws"
    assert main(["init", str(root)]) == 0
    capsys.readouterr()
    return root


# ---- the catalogue ------------------------------------------------------------------------------------------


def test_every_code_the_command_line_says_is_in_both_catalogues():
    sources = [*(ROOT / "tutor" / "cli").glob("*.py"), ROOT / "tutor" / "views" / "text.py"]
    said = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        said |= set(re.findall(r'say\(\s*"([a-z-]+)"', text)) | set(re.findall(r'code="([a-z-]+)"', text))
    en, zh = part("cli", "en"), part("cli", "zh")
    missing = {f"cli-{code}" for code in said} - set(en)
    assert not missing and set(en) == set(zh)


def test_the_list_line_counts_its_steps_in_either_language():
    en = part("cli", "en")["cli-list-exercise"]
    assert placeholders(en["one"]) == placeholders(part("cli", "zh")["cli-list-exercise"])


# ---- list, hint, progress, init, usage errors ----------------------------------------------------------------


def test_list_in_chinese(capsys):
    code, out, _ = cli(capsys, "--lang", "zh", "list")
    assert code == 0
    assert "1. atomic — 逐个原子运算做反向传播（26 步）" in out
    assert "（1 步）" in out


def test_english_is_unchanged_without_a_language(capsys, workspace):
    _, out, _ = cli(capsys, "list")
    assert "(26 steps)" in out and "(1 step)" in out and not CJK.search(out.split("\n")[0])
    _, out, _ = cli(capsys, "progress", "--workspace", str(workspace))
    assert "steps passed" in out and "not started" in out and "current: none yet" in out
    _, out, _ = cli(capsys, "hint", "atomic", "dcounts", "--workspace", str(workspace))
    assert "atomic · step 5 of 26 · dcounts" in out and "hint 1 of 4: counts is used twice" in out


def test_hint_in_chinese(capsys, workspace):
    code, out, _ = cli(capsys, "--lang", "zh", "hint", "atomic", "dcounts", "--workspace", str(workspace))
    assert code == 0
    assert "atomic · 第 5/26 步 · dcounts" in out
    assert "提示 1/4：counts 被用了两次" in out
    assert "更多提示：`backprop-ninja hint atomic dcounts`（还剩 3 条）。" in out
    cli(capsys, "--lang", "zh", "hint", "atomic", "dcounts", "--workspace", str(workspace))
    cli(capsys, "--lang", "zh", "hint", "atomic", "dcounts", "--workspace", str(workspace))
    code, _, err = cli(capsys, "--lang", "zh", "hint", "atomic", "dcounts", "--workspace", str(workspace))
    assert code == 1 and "的下一条提示就是答案行" in err and "--yes" in err
    code, out, _ = cli(capsys, "--lang", "zh", "hint", "atomic", "dcounts", "--yes", "--workspace", str(workspace))
    assert code == 0 and "提示 4/4（答案行）：" in out and "dcounts 的全部 4 条提示都已显示。" in out


def test_the_command_line_speaks_the_language_chosen_in_the_tutor_for_the_workspace(capsys, workspace):
    Workspace(workspace).remember("lang", "zh")  # what the tutor's "Language" command keeps
    _, out, _ = cli(capsys, "progress", "--workspace", str(workspace))
    assert "已通过步骤" in out and "当前：还没有" in out, out
    _, out, _ = cli(capsys, "hint", "atomic", "dcounts", "--workspace", str(workspace))
    assert "提示 1/4：counts 被用了两次" in out
    _, out, _ = cli(capsys, "--lang", "en", "progress", "--workspace", str(workspace))
    assert "steps passed" in out and not CJK.search(out)


def test_progress_in_chinese_fits_80_columns(capsys, monkeypatch, workspace):
    monkeypatch.setenv("BACKPROP_NINJA_LANG", "zh")
    cli(capsys, "hint", "atomic", "dcounts", "--workspace", str(workspace))
    record = io.StringIO()
    monkeypatch.setattr("tutor.cli.progress.console", lambda: Console(width=80, file=record, no_color=True))
    assert main(["progress", "--workspace", str(workspace)]) == 0
    out = record.getvalue()
    assert "练习" in out and "已通过步骤" in out and "未开始" in out and "当前：atomic · dcounts" in out
    assert_table_intact(out)


def test_a_usage_error_in_chinese(capsys, workspace):
    code, _, err = cli(capsys, "--lang", "zh", "hint", "nope", "1", "--workspace", str(workspace))
    assert code == 2 and err.startswith("backprop-ninja: 没有练习 'nope'；可选：")
    code, _, err = cli(capsys, "--lang", "zh", "hint", "atomic", "99", "--workspace", str(workspace))
    assert code == 2 and "atomic 里没有步骤 '99'" in err
    code, _, err = cli(capsys, "hint", "atomic", "99", "--workspace", str(workspace))
    assert code == 2 and "no step '99' in atomic; choose one of:" in err


# ---- starter files ------------------------------------------------------------------------------------------


def code_of(text: str) -> str:
    """The file's code without its docstring and comments."""
    tree = ast.parse(text)
    if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant):
        tree.body = tree.body[1:]
    return ast.dump(tree)


def test_every_chinese_starter_has_the_english_code_and_chinese_comments(course):
    for exercise in course.exercises:
        english = exercise.starter.read_text(encoding="utf-8")
        assert starter_text(exercise, "en") == english
        chinese = starter_text(exercise, "zh")
        assert code_of(chinese) == code_of(english), exercise.id
        assert chinese.splitlines()[0].startswith('"""练习 '), exercise.id
        def code_lines(text: str) -> list[str]:
            body = text[text.index('"""', 3) + 3 :]
            return [line for line in body.splitlines() if not line.lstrip().startswith("#")]

        assert code_lines(chinese) == code_lines(english), exercise.id  # line for line, blank lines too
        comments = [line for line in chinese.splitlines() if line.startswith("#")]
        assert comments and all(CJK.search(line) for line in comments), exercise.id


def test_init_in_chinese_writes_chinese_starters_and_keeps_existing_files(capsys, tmp_path):
    root = tmp_path / "zhws"
    root.mkdir()
    (root / "batchnorm.py").write_text("# mine\n", encoding="utf-8")
    code, out, _ = cli(capsys, "--lang", "zh", "init", str(root))
    assert code == 0
    assert f"已创建  {root / 'atomic.py'}" in out and f"已保留  {root / 'batchnorm.py'}" in out
    assert "工作区已就绪" in out
    assert (root / "atomic.py").read_text(encoding="utf-8").startswith('"""练习 1：')
    assert (root / "batchnorm.py").read_text(encoding="utf-8") == "# mine\n"


# ---- the check's verdict --------------------------------------------------------------------------------------


def wide_report() -> CheckReport:
    """A failing check with every kind of cell: inherited rows, a wrong own line, a supporting row, an error."""
    rows = [
        TensorVerdict("dlogprobs", "logprobs", "exact", (32, 27), (32, 27), 0.0, exact=True, close=True, local="pass"),
        TensorVerdict("dcounts_sum_inv", "counts_sum_inv", "shape", (32, 1), (32,), None, local="fail"),
        TensorVerdict("dcounts_sum", "counts_sum", "wrong", (32, 1), (32, 1), 0.5, local="pass", inherits_from="dcounts_sum_inv"),
        TensorVerdict("demb", "emb", "wrong", (32, 3, 10), (32, 3, 10), 1.2e-3, local="pass", inherits_from="dcounts_sum_inv"),
        TensorVerdict("dnorm_logits", "norm_logits", "close", (32, 27), (32, 27), 1e-9, close=True, support=True),
        TensorVerdict("dC", "C", "missing", (27, 10), None),
    ]
    error = LearnerError("exception", "name 'x' is not defined", 5, "dC = x")
    return CheckReport("atomic", "cpu", 3.3412, rows, error, warnings=["a warning"], output="hello")


def assert_table_intact(text: str) -> None:
    """No line is wider than 80 columns, and every line of a table's box is as wide as its top."""
    lines = text.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), [line for line in lines if cell_len(line) > 80]
    box = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert box and len({cell_len(line.rstrip()) for line in box}) == 1, box


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_check_table_fits_80_columns(lang):
    out = Console(width=80, file=io.StringIO(), no_color=True)
    print_report(wide_report(), out, lang=lang)
    text = out.file.getvalue()
    assert_table_intact(text)
    assert "…" not in text  # compact: no cell is cut short
    if lang == "zh":
        for words in ("┃ 梯度", "最大绝对误差", "│ 形状不对 │", "（辅助）", "缺失", "损失 3.3412",
                      "错误（异常），位于第 5 行：name 'x' is not defined", "警告：a warning", "你的代码输出了：",
                      "dcounts_sum, demb 这几行本身是对的；它们的错误来自 dcounts_sum_inv。",
                      "✘ atomic：1/5 个梯度通过；先改：dcounts_sum_inv。"):
            assert words in text, words
    else:
        assert "┃ gradient" in text and "│ shape   │" in text and "(supporting)" in text
        assert "✘ atomic: 1/5 gradients pass; first to fix: dcounts_sum_inv." in text
        assert "error (exception) at line 5: name 'x' is not defined" in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_wide_terminal_keeps_every_column(lang):
    out = Console(width=120, file=io.StringIO(), no_color=True)
    print_report(wide_report(), out, lang=lang)
    text = out.file.getvalue()
    if lang == "zh":
        assert "┃ 精确 ┃ 接近 ┃" in text and "错误（来自 dcounts_sum_inv）" in text and "形状不对（本行有误）" in text
    else:
        assert "┃ exact ┃ close ┃" in text and "dnorm_logits (supporting)" in text and "(its own" in text


def keepdim_missing(course, tmp_path) -> Path:
    source = course.find("atomic").solution.read_text(encoding="utf-8")
    line = "dcounts_sum_inv = (counts * dprobs).sum(1, keepdim=True)"
    assert line in source
    learner = tmp_path / "atomic.py"
    learner.write_text(source.replace(line, "dcounts_sum_inv = (counts * dprobs).sum(1)"), encoding="utf-8")
    return learner


def test_check_in_chinese_and_its_json(tmp_path, course, backprop_ninja):
    learner = keepdim_missing(course, tmp_path)
    result = backprop_ninja("--lang", "zh", "check", "atomic", "--file", str(learner))
    assert result.returncode == 1, result.stderr
    assert "可能的错误（漏了 keepdim）：数值正确，但形状 (32,) 比 counts_sum_inv 的形状 (32, 1)" in result.stdout
    assert "┃ 梯度" in result.stdout and "✘ atomic：" in result.stdout and "先改：dcounts_sum_inv。" in result.stdout
    english = backprop_ninja("check", "atomic", "--file", str(learner), env={"BACKPROP_NINJA_LANG": "en"})
    assert "likely mistake (keepdim):" in english.stdout and "first to fix: dcounts_sum_inv." in english.stdout
    data = json.loads(backprop_ninja("check", "atomic", "--json", "--file", str(learner), env={"BACKPROP_NINJA_LANG": "zh"}).stdout)
    row = next(t for t in data["tensors"] if t["name"] == "dcounts_sum_inv")
    assert row["status"] in ("shape", "wrong") and row["diagnosis"]["code"] == "keepdim"
    assert CJK.search(row["diagnosis"]["message"]) and set(row) >= {"name", "status", "expected_shape", "note"}
