"""Snapshots of the teaching screens at 80×24 and 120×40: a failing step with its diagnosis, a revealed hint, a
passed step with its why, and the one-step exercise 2 (update with --snapshot-update only after reading them)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.ui_fakes import FakeChecker, FakeStore
from tests.ui_helpers import settle, tutor_app, workspace

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


class DiagnosingChecker(FakeChecker):
    """The fake checker, with what the real one adds to a wrong line: the local verdict with its upstream
    gradients, and the step's first course mistake as the diagnosis."""

    def reply(self, exercise_id, path):
        reply = super().reply(exercise_id, path)
        exercise = self.course.find(exercise_id)
        tensors = reply.report.tensors
        for i, t in enumerate(tensors):
            if t.status == "wrong":
                mistake = exercise.step(t.name).mistakes[0]
                tensors[i] = replace(t, local="fail", upstream=tuple(u.name for u in tensors[max(0, i - 1):i]),
                                     diagnosis={"code": mistake.code, "message": mistake.message})
        return reply


class SecondBatchChecker(DiagnosingChecker):
    """What the real checker says of a size written as a number in the first wrong row (`-1.0/32`): right on the
    lecture's batch, wrong on the second, so its own line is wrong; every row computed below it is wrong because
    of it (their root), though their own lines follow their local rules."""

    def reply(self, exercise_id, path):
        reply = super().reply(exercise_id, path)
        tensors = reply.report.tensors
        root = None
        for i, t in enumerate(tensors):
            if root is None and t.status == "wrong":
                root = t.name
                words = {"code": "hard-coded-size", "message_code": "hard-coded-size",
                         "params": {"first": {"code": "course", "params": {"text": "the lecture's batch",
                                                                            "text_zh": "讲座的批次"}},
                                    "n": 32, "second": {"code": "batch-sizes", "params": {
                             "sizes": "n=17, vocab_size=27, n_embd=10, n_hidden=64"}}, "sizes": "10, 27, 30, 32, 64",
                             "names": "n, vocab_size, n_embd, n_hidden"}}
                tensors[i] = replace(t, local="fail", second="fail", upstream=(), diagnosis=words)
            elif root is not None and t.status == "exact":
                tensors[i] = replace(t, status="wrong", exact=False, close=False, max_abs_diff=0.03, local="pass",
                                     upstream=(tensors[i - 1].name,), inherits_from=root)
        return reply


@pytest.fixture
def home(tmp_path, monkeypatch):
    # Paths on screen are shown under ~, so a per-test HOME keeps the pictures stable.
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path / "workspace"


def exercise_app(course, root, exercise_id: str, step: str | None, answers: dict[str, str], hints: int = 0,
                 checker: type[FakeChecker] = DiagnosingChecker):
    """The tutor opened on one exercise (and step) whose file assigns `answers` (X passes, WRONG is wrong)."""
    ws = workspace(course, root)
    exercise = course.find(exercise_id)
    path = ws.file_for(exercise)
    source = path.read_text()
    for name, value in answers.items():
        source = source.replace(f"{name} = None", f"{name} = {value}")
    path.write_text(source)
    store = FakeStore()
    store.set_current(exercise_id, step)
    for _ in range(hints):
        store.reveal_hint(exercise_id, step, len(exercise.step(step).hints))
    return tutor_app(course, root, store=store, checker=checker(course), watch=False)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_failing_step_with_its_diagnosis(snap_compare, course, home, size):
    app = exercise_app(course, home, "atomic", None, {"dlogprobs": "X", "dprobs": "WRONG"})
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_revealed_hint(snap_compare, course, home, size):
    app = exercise_app(course, home, "atomic", None, {"dlogprobs": "X", "dprobs": "WRONG"})

    async def reveal(pilot):
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=reveal)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_passed_step_with_its_why(snap_compare, course, home, size):
    app = exercise_app(course, home, "atomic", "dprobs", {"dlogprobs": "X", "dprobs": "X"})
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_one_step_exercise(snap_compare, course, home, size):
    app = exercise_app(course, home, "cross-entropy", "dlogits", {"dlogits": "WRONG"}, hints=2)
    assert snap_compare(app, terminal_size=size, run_before=settle)


# The first step's size written as a number: the rows below are wrong because of it, each status whole at 80×24.
SECOND_BATCH = {"dlogprobs": "WRONG", **{name: "X" for name in ("dprobs", "dcounts_sum_inv", "dcounts_sum", "dcounts",
                                                                  "dnorm_logits", "dlogit_maxes", "dlogits")}}


def test_snapshot_failing_table_at_80x24_shows_whole_statuses(snap_compare, course, home):
    app = exercise_app(course, home, "atomic", None, SECOND_BATCH, checker=SecondBatchChecker)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)
