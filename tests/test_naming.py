"""What the source says beyond the verdict: a near-miss name, `.grad` (None here), a finishing line that never ran."""

from __future__ import annotations

import pytest

from tests.conftest import LEARNER_FILES
from tutor.engine.naming import close_name, edit_distance

WRONG = LEARNER_FILES / "wrong"


def solution_with(exercise, old: str, new: str) -> str:
    source = exercise.solution.read_text(encoding="utf-8")
    assert old in source
    return source.replace(old, new, 1)


def verdict(report, name):
    return next(t for t in report.tensors if t.name == name)


@pytest.mark.parametrize(
    "wanted, written, expected",
    [
        ("dlogit_maxes", ["dlogits_maxes"], "dlogits_maxes"),
        ("dcounts", ["counts_grad", "dcount"], "dcount"),
        ("dh", ["h"], "h"),
        ("dh", ["dW2", "x"], None),
        ("dlogits", ["dlogprobs"], None),  # another step's name is never a slip
    ],
)
def test_close_name(wanted, written, expected):
    assert close_name(wanted, written, taken={"dlogprobs", "dW2"}) == expected


def test_edit_distance():
    assert edit_distance("dlogit_maxes", "dlogits_maxes") == 1
    assert edit_distance("abc", "abc") == 0 and edit_distance("", "ab") == 2


def test_misspelt_gradient_is_named(checker, atomic):
    source = solution_with(atomic, "dlogit_maxes = ", "dlogits_maxes = ").replace(
        "* dlogit_maxes", "* dlogits_maxes"
    )
    t = verdict(checker.check(atomic, WRONG / "typo.py", source), "dlogit_maxes")
    assert t.status == "missing"
    assert "did you mean dlogits_maxes" in t.note


def test_grad_of_a_forward_tensor_says_no_autograd_runs(checker, course):
    exercise = course.find("cross-entropy")
    t = checker.check(exercise, WRONG / "grad.py", "dlogits = logits.grad\n").tensors[0]
    assert t.status == "missing"
    assert "no autograd runs here" in t.note and "line 1" in t.note


def test_a_finishing_line_that_never_ran_is_not_called_a_branch(checker, atomic):
    source = solution_with(
        atomic,
        "dcounts += torch.ones_like(counts) * dcounts_sum",
        "undefined_name + 1\ndcounts += torch.ones_like(counts) * dcounts_sum",
    )
    report = checker.check(atomic, WRONG / "stopped.py", source)
    assert report.error is not None and report.error.kind == "exception"
    t = verdict(report, "dcounts")
    assert not t.passed
    assert t.diagnosis["code"] == "stopped", t.diagnosis
    assert "never ran" in t.diagnosis["message"] and f"line {report.error.line}" in t.diagnosis["message"]
    later = verdict(report, "dC")
    assert later.status == "missing" and "never ran" in later.note
