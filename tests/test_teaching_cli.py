"""The command line's teaching words: `why` after a pass, `hint` on a passed step, and the small wording fixes
(`list`'s step count, a refused file said once, a closed pipe)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LEARNER_FILES, ROOT
from tutor.cli.common import record_workspace_check
from tutor.workspace.files import Workspace


@pytest.fixture
def workspace(tmp_path: Path, course) -> Path:
    """A workspace as `backprop-ninja init` makes it (made here in-process; test_cli runs the command)."""
    root = tmp_path / "ws"
    Workspace(root).init(course)
    return root


def pass_in_workspace(checker, workspace: Path, exercise) -> None:
    mine = workspace / exercise.file_name
    mine.write_text(exercise.solution.read_text())
    report = checker.check(exercise, mine)
    assert report.passed
    record_workspace_check(argparse.Namespace(workspace=str(workspace)), exercise, mine, report)


def test_why_waits_for_the_pass_then_gives_the_insight_and_the_lectures_moment(workspace, course, checker, backprop_ninja):
    ws = ["--workspace", str(workspace)]
    exercise = course.find("cross-entropy")
    step = exercise.steps[0]
    before = backprop_ninja("why", "2", "dlogits", *ws)
    assert before.returncode == 1 and before.stdout == ""
    assert "once it passes" in before.stderr and "hint" in before.stderr

    pass_in_workspace(checker, workspace, exercise)
    after = backprop_ninja("why", "cross-entropy", "logits", *ws)
    assert after.returncode == 0, after.stderr
    assert " ".join(step.why.split()[:6]) in " ".join(after.stdout.split())
    assert step.why_at in after.stdout and exercise.chapter_at in after.stdout


def test_why_of_a_supporting_row_waits_for_its_exercise_then_gives_its_insight(workspace, course, checker, backprop_ninja):
    ws = ["--workspace", str(workspace)]
    exercise = course.find("training")
    row = exercise.row("dh")
    assert row.support and row.why
    before = backprop_ninja("why", "4", "dh", *ws)
    assert before.returncode == 1 and before.stdout == ""
    assert "supporting row of training" in before.stderr

    pass_in_workspace(checker, workspace, exercise)
    for name, lang in (("dh", "en"), ("h", "zh")):  # the gradient's name or its forward tensor's
        after = backprop_ninja("--lang", lang, "why", "training", name, *ws)
        assert after.returncode == 0, after.stderr
        why = row.text("why", lang)
        assert why[:12] in after.stdout.replace("\n     ", " " if lang == "en" else "")
        assert row.why_at in after.stdout and exercise.chapter_at in after.stdout


def test_hint_on_a_passed_step_shows_its_why_and_spends_no_rung(workspace, course, checker, backprop_ninja):
    ws = ["--workspace", str(workspace)]
    exercise = course.find("batchnorm")
    pass_in_workspace(checker, workspace, exercise)
    result = backprop_ninja("hint", "3", "dhprebn", *ws)
    assert result.returncode == 0, result.stderr
    assert "has passed" in result.stdout and "why:" in result.stdout
    assert "hint 1 of" not in result.stdout  # nothing revealed, nothing spent
    from tutor.workspace.progress import ProgressStore

    assert ProgressStore(workspace).hints_revealed("batchnorm", "dhprebn") == 0


def test_list_counts_one_step_in_the_singular(backprop_ninja):
    out = backprop_ninja("list").stdout
    assert "(1 step)" in out and "(1 steps)" not in out and "(26 steps)" in out


def test_a_refused_file_says_its_line_once_and_no_zero_count(tmp_path, backprop_ninja):
    result = backprop_ninja("check", "training", "--file", str(LEARNER_FILES / "training_uses_autograd.py"))
    assert result.returncode == 1
    assert "line 4: line 4" not in result.stdout and ": line " not in result.stdout
    assert "0/0" not in result.stdout and "nothing was checked" in result.stdout


@pytest.mark.slow
def test_progress_json_into_a_closed_pipe_ends_quietly(workspace):
    # a fresh process, its stdout a real pipe: `true` reads nothing and exits at once: every write of the tutor meets a closed pipe
    command = f"{sys.executable} -m tutor progress --json --workspace {workspace} | true"
    done = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr


def test_a_syntax_error_shows_its_caret_and_keeps_the_last_verdicts_not_rechecked(workspace, course, backprop_ninja):
    import json

    from tutor.workspace.progress import ProgressStore

    ws = ["--workspace", str(workspace)]
    mine = workspace / course.find("atomic").file_name
    solution = course.find("atomic").solution.read_text(encoding="utf-8")
    mine.write_text(solution.replace("dcounts = counts_sum_inv * dprobs", "dcounts = -counts_sum_inv * dprobs"))
    first = json.loads(backprop_ninja("check", "1", "--json", *ws).stdout)
    last = {t["name"]: t["status"] for t in first["tensors"]}
    assert last["dlogprobs"] == "exact" and last["dcounts"] == "wrong"
    before = ProgressStore(workspace).exercise_state("atomic")["steps"]

    mine.write_text(solution.replace("dprobs = (1.0 / probs) * dlogprobs", "dprobs = (1.0 / probs * dlogprobs"))
    shown = backprop_ninja("check", "1", *ws)
    assert shown.returncode == 1
    lines = shown.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "dprobs = (1.0 / probs * dlogprobs" in line)
    # as Python shows it: the line, a caret under the "(" never closed, the message
    assert lines[at + 1].index("^") == lines[at].index("(")
    assert "SyntaxError: '(' was never closed" in shown.stdout and "line 4" in shown.stdout
    assert "0/26" not in shown.stdout and "not rechecked" in shown.stdout
    table = {line.split("│")[1].strip(): line for line in lines if line.startswith("│")}
    assert "exact" in table["dlogprobs"] and "missing" not in table["dlogprobs"]
    assert "wrong" in table["dcounts"]

    again = json.loads(backprop_ninja("check", "1", "--json", *ws).stdout)
    assert again["error"]["line"] == 4 and again["error"]["column"] is not None
    assert {t["name"]: t["status"] for t in again["tensors"]} == last
    assert not any(t["rechecked"] for t in again["tensors"])
    # the steps' records keep their last verdicts: a file that did not run changes none of them
    assert ProgressStore(workspace).exercise_state("atomic")["steps"] == before
