"""hint, solution, progress and reset, run as a user runs them (in this process); check counting into the workspace's
progress."""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import report_of
from tutor.cli import main
from tutor.cli.common import record_workspace_check
from tutor.workspace import journal
from tutor.workspace.files import Workspace
from tutor.workspace.progress import ProgressStore


@pytest.fixture
def workspace(tmp_path: Path, course) -> Path:
    """A workspace as `backprop-ninja init` makes it (made here in-process; test_cli runs the command)."""
    root = tmp_path / "ws"
    Workspace(root).init(course)
    return root


def on_a_terminal(monkeypatch, answers: list[str]) -> list[str]:
    """Pretend stdin is a terminal whose user types answers; returns the questions asked."""
    asked: list[str] = []

    def fake_input(question: str = "") -> str:
        asked.append(question)
        return answers.pop(0)

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", fake_input)
    return asked


def ladder(step) -> list[str]:
    return [hint.strip("\n") for hint in step.hints]


def shown_hints(stdout: str) -> list[str]:
    """The hints in `hint`'s output: one line after "hint K of N:", or an indented block under it."""
    hints: list[str] = []
    for line in stdout.splitlines():
        if line.startswith("hint "):
            heading, _, text = line.partition(": ")
            hints.append(text)
        elif line.startswith("    ") and hints:
            hints[-1] = f"{hints[-1]}\n{line[4:]}" if hints[-1] else line[4:]
    return hints


def test_hint_climbs_the_ladder_and_needs_yes_for_the_answer_when_piped(workspace, course, backprop_ninja):
    step = course.find("atomic").step("dcounts")
    assert len(step.hints) >= 3
    ws = ["--workspace", str(workspace)]
    names = ["dcounts", "counts", "5"]  # the gradient, the forward tensor, the step's number
    for revealed in range(1, len(step.hints)):
        name = names[revealed % len(names)]
        result = backprop_ninja("hint", "atomic", name, *ws)
        assert result.returncode == 0, result.stderr
        assert shown_hints(result.stdout) == ladder(step)[:revealed]
    assert "answer line" in result.stdout

    refused = backprop_ninja("hint", "1", "dcounts", *ws)
    assert refused.returncode == 1
    assert "--yes" in refused.stderr and step.hints[-1] not in refused.stdout
    assert ProgressStore(workspace).hints_revealed("atomic", "dcounts") == len(step.hints) - 1

    answer = backprop_ninja("hint", "1", "dcounts", "--yes", *ws)
    assert answer.returncode == 0
    assert shown_hints(answer.stdout) == ladder(step)
    assert f"hint {len(step.hints)} of {len(step.hints)} (the answer line)" in answer.stdout
    assert answer.stdout.splitlines()[-1] == f"all {len(step.hints)} hints of dcounts are revealed."

    again = backprop_ninja("hint", "1", "dcounts", *ws)
    assert again.returncode == 0 and shown_hints(again.stdout) == ladder(step)
    assert f"all {len(step.hints)} hints" in again.stdout
    assert ProgressStore(workspace).current() == ("atomic", "dcounts")


def test_the_answer_line_asks_on_a_terminal(workspace, course, monkeypatch, capsys):
    step = course.find("cross-entropy").steps[0]
    store = ProgressStore(workspace)
    for _ in range(len(step.hints) - 1):
        store.reveal_hint("cross-entropy", step.name, len(step.hints))
    asked = on_a_terminal(monkeypatch, ["n", "y"])
    assert main(["hint", "2", "1", "--workspace", str(workspace)]) == 1
    assert shown_hints(capsys.readouterr().out) == ladder(step)[:-1] and "answer line" in asked[0]
    assert store.hints_revealed("cross-entropy", step.name) == len(step.hints) - 1
    assert main(["hint", "2", "1", "--workspace", str(workspace)]) == 0
    assert shown_hints(capsys.readouterr().out) == ladder(step)
    assert store.hints_revealed("cross-entropy", step.name) == len(step.hints)


@pytest.mark.parametrize(
    "args, message",
    [
        (["hint", "atomic", "dnothing"], "no step 'dnothing' in atomic; choose one of: 1/dlogprobs, 2/dprobs"),
        (["hint", "atomic", "27"], "26/dC"),
        (["hint", "atomic", "0"], "no step '0'"),
        (["hint", "9", "dprobs"], "no exercise '9'"),
        (["solution", "nine"], "no exercise 'nine'"),
        (["reset", "nine", "--yes"], "no exercise 'nine'"),
    ],
)
def test_unknown_exercise_or_step_is_one_line_and_exit_2(workspace, args, message, backprop_ninja):
    result = backprop_ninja(*args, "--workspace", str(workspace))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_commands_that_keep_progress_need_a_workspace(tmp_path, backprop_ninja):
    for args in (["hint", "1", "dprobs"], ["progress"], ["reset", "1", "--yes"]):
        result = backprop_ninja(*args, "--workspace", str(tmp_path / "none"))
        assert result.returncode == 2 and "backprop-ninja init" in result.stderr, args
    assert not (tmp_path / "none").exists()


def test_check_counts_the_workspace_file_and_warns_about_a_corrupt_progress_file(workspace, backprop_ninja):
    progress_file = workspace / ".backprop-ninja" / "progress.json"
    progress_file.write_text("{ broken")
    starter = backprop_ninja("check", "2", "--json", "--workspace", str(workspace))
    assert starter.returncode == 1 and json.loads(starter.stdout)["passed"] is False
    assert "warning" in starter.stderr and "kept as" in starter.stderr and "Traceback" not in starter.stderr
    assert [b.read_text() for b in (workspace / ".backprop-ninja").glob("progress.*.corrupt.json")] == ["{ broken"]
    store = ProgressStore(workspace)
    assert store.exercise_state("cross-entropy")["last_status"] == "failed"
    assert store.current() == ("cross-entropy", "dlogits")


def check_in_workspace(checker, workspace: Path, exercise, path: Path) -> None:
    """What `check` does after judging: count it when it judged the workspace's own file."""
    report = checker.check(exercise, path)
    record_workspace_check(argparse.Namespace(workspace=str(workspace)), exercise, path, report)


def test_a_pass_survives_editing_back_and_unlocks_the_solution(workspace, course, checker, backprop_ninja):
    ws = ["--workspace", str(workspace)]
    exercise = course.find("cross-entropy")
    mine = workspace / exercise.file_name
    store = ProgressStore(workspace)

    check_in_workspace(checker, workspace, exercise, exercise.solution)
    assert store.exercise_state("cross-entropy")["attempts"] == 0  # another file: not counted
    locked = backprop_ninja("solution", "2", *ws)
    assert locked.returncode == 1 and locked.stdout == "" and "--reveal" in locked.stderr
    revealed = backprop_ninja("solution", "2", "--reveal", *ws)
    assert revealed.returncode == 0 and revealed.stdout == exercise.solution.read_text()

    mine.write_text(exercise.solution.read_text())
    check_in_workspace(checker, workspace, exercise, mine)
    assert store.exercise_state("cross-entropy")["passed"] and store.current() == ("cross-entropy", None)
    unlocked = backprop_ninja("solution", "cross-entropy", *ws)
    assert unlocked.returncode == 0 and unlocked.stdout == exercise.solution.read_text()

    mine.write_text(exercise.solution.read_text() + "dlogits = -dlogits\n")
    check_in_workspace(checker, workspace, exercise, mine)
    state = store.exercise_state("cross-entropy")
    assert state["attempts"] == 2 and state["passed"] and state["last_status"] == "failed"
    assert state["steps"]["dlogits"]["passed"] and state["steps"]["dlogits"]["last_status"] == "failed"

    table = backprop_ninja("progress", *ws)
    assert table.returncode == 0
    row = next(line for line in table.stdout.splitlines() if "cross-entropy" in line)
    assert "passed · failing now" in row and "1/1 (1 failing now)" in row
    assert "current: cross-entropy · dlogits" in table.stdout


def test_progress_shows_every_exercise_and_its_json_is_the_file(workspace, course, backprop_ninja):
    store = ProgressStore(workspace)
    store.reveal_hint("atomic", "dcounts", 3)
    store.reveal_hint("atomic", "dprobs", 3)
    store.record_check("atomic", report_of({"dlogprobs": "exact", "dprobs": "wrong"}))
    store.set_current("atomic", "dprobs")
    table = backprop_ninja("progress", "--workspace", str(workspace))
    assert table.returncode == 0
    rows = {line.split()[3]: line for line in table.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == {e.id for e in course.exercises}
    assert "in progress" in rows["atomic"] and "1/26" in rows["atomic"]
    assert rows["atomic"].split("│")[-2].strip() == "2"  # hints revealed
    assert "not started" in rows["batchnorm"]
    assert "current: atomic · dprobs" in table.stdout
    as_json = backprop_ninja("progress", "--json", "--workspace", str(workspace))
    assert json.loads(as_json.stdout) == store.load()


def test_reset_keeps_the_learners_file_and_restores_the_starter(workspace, course, backprop_ninja):
    ws = ["--workspace", str(workspace)]
    exercise = course.find("atomic")
    mine = workspace / exercise.file_name
    mine.write_text("dlogprobs = None  # an hour of my work\n")
    store = ProgressStore(workspace)
    store.reveal_hint("atomic", "dprobs", 3)
    store.reveal_hint("batchnorm", "dhprebn", 3)

    refused = backprop_ninja("reset", "atomic", *ws)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert mine.read_text() == "dlogprobs = None  # an hour of my work\n"
    assert store.hints_revealed("atomic", "dprobs") == 1

    done = backprop_ninja("reset", "atomic", "--yes", *ws)
    assert done.returncode == 0, done.stderr
    assert mine.read_text() == exercise.starter.read_text()
    backups = list((workspace / ".backprop-ninja" / "backups").iterdir())
    assert [b.read_text() for b in backups] == ["dlogprobs = None  # an hour of my work\n"]
    assert str(backups[0]) in done.stdout
    assert store.exercise_state("atomic")["steps"] == {}
    assert store.hints_revealed("batchnorm", "dhprebn") == 1

    mine.write_text("second try\n")
    assert backprop_ninja("reset", "1", "--yes", *ws).returncode == 0
    kept = sorted(b.read_text() for b in (workspace / ".backprop-ninja" / "backups").iterdir())
    assert kept == ["dlogprobs = None  # an hour of my work\n", "second try\n"]


def test_reset_asks_on_a_terminal(workspace, course, monkeypatch, capsys):
    mine = workspace / course.find("batchnorm").file_name
    mine.write_text("mine\n")
    asked = on_a_terminal(monkeypatch, ["", "yes"])
    assert main(["reset", "batchnorm", "--workspace", str(workspace)]) == 1
    assert mine.read_text() == "mine\n" and "nothing changed" in capsys.readouterr().out
    assert main(["reset", "batchnorm", "--workspace", str(workspace)]) == 0
    assert mine.read_text() == course.find("batchnorm").starter.read_text()
    assert "backups" in asked[0]


def test_a_read_only_workspace_warns_and_still_gives_the_hint(workspace, course, monkeypatch, capsys):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(journal, "new_temporary", read_only)
    assert main(["hint", "atomic", "dprobs", "--workspace", str(workspace)]) == 0
    out, err = capsys.readouterr()
    assert course.find("atomic").step("dprobs").hints[0] in out
    assert "warning" in err and "Read-only file system" in err
    assert not (workspace / ".backprop-ninja" / "progress.json").exists()
