"""The learner's file is read and parsed once per check: one LearnerFile, built where the check starts, read by
the autograd refusal, the engine's source notes and the sandbox's instrumented compile."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from tutor.learner import file as learner_file
from tutor.learner.file import LearnerFile

ROOT = Path(__file__).resolve().parent.parent


def test_a_learner_file_knows_what_each_statement_writes_and_which_one_finishes_a_name():
    learner = LearnerFile("a = 1\nb = a * 2\na += b\nc = [a]\n", "mine.py")
    assert learner.writes == (frozenset({"a"}), frozenset({"b"}), frozenset({"a"}), frozenset({"c"}))
    assert learner.assigned == {"a", "b", "c"}
    assert learner.finishing(["a", "b", "z"]) == {2: ["a"], 1: ["b"]}
    assert learner.syntax_error is None and learner.lines[1] == "b = a * 2"


def test_a_file_that_does_not_parse_has_no_tree_and_says_why():
    learner = LearnerFile("dx = (1 +\n", "mine.py")
    assert learner.tree is None and learner.writes == () and learner.finishing(["dx"]) == {}
    assert isinstance(learner.syntax_error, SyntaxError) and learner.syntax_error.lineno == 1


def test_a_check_parses_the_learners_file_once(checker, course, monkeypatch):
    """With the autograd refusal, the source notes (a failing file) and the local-rule run's instrumented form
    all reading it, the file is parsed by one ast.parse, in the tutor's process."""
    exercise = course.find("atomic")
    solution = exercise.solution.read_text(encoding="utf-8")
    wrong = solution.replace("dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs")
    assert wrong != solution
    parses: list[str] = []
    real_parse = ast.parse

    def counting(text, *args, **kwargs):
        parses.append(text if isinstance(text, str) else "")
        return real_parse(text, *args, **kwargs)

    monkeypatch.setattr(learner_file.ast, "parse", counting)
    text = wrong + "\n# a text no check has seen yet: 7d1c\n"
    report = checker.check(exercise, Path("mine.py"), source=text)
    assert not report.passed and report.first_failure.name == "dprobs"
    assert parses.count(text) == 1, f"the learner's file was parsed {parses.count(text)} times"


def test_one_ast_parse_of_learner_text_on_a_checks_path():
    """Outside the notebook's cell reading, the one place the check's path parses learner text is LearnerFile."""
    found = subprocess.run(
        ["git", "grep", "-n", "ast.parse(", "--", "tutor/engine", "tutor/sandbox", "tutor/learner/file.py",
         "tutor/checkd", "tutor/service", "tutor/training", "tutor/cli/check.py"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if found.returncode not in (0, 1):
        pytest.skip(f"git grep is unavailable here: {found.stderr.strip()}")
    lines = [line for line in found.stdout.splitlines() if line]
    # the engine also parses the course's own forward code (not learner text), to trace its branches and its
    # local rule: those two places read exercise.model.forward, nothing a learner wrote
    course_code = ("tutor/engine/branches.py:", "tutor/engine/local.py:")
    learner_parses = [line for line in lines if not line.startswith(course_code)]
    assert len(learner_parses) == 1 and learner_parses[0].startswith("tutor/learner/file.py:"), lines
