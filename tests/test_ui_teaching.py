"""Pilot tests of the screen keeping up with the learner: the cursor follows ▶, esc closes the keys panel
first, the why after a pass, no stale rows after a refused file, "failing now" on the home screen."""

from __future__ import annotations

from tests.ui_fakes import FakeChecker, FakeStore
from tests.ui_helpers import plain, save, settle, tutor_app, wait_for
from tutor.ui.screens.exercise import ExerciseScreen
from tutor.ui.screens.home import HomeScreen
from tutor.ui.widgets.detail import DetailPane, step_detail
from tutor.ui.widgets.step_table import StepTable

SIZE = (100, 30)


def detail_text(app) -> str:
    return " ".join(plain(app.screen.query_one(DetailPane).content_group).split())


async def test_cursor_follows_the_first_to_fix_unless_the_learner_moved(course, tmp_path):
    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, tmp_path, store=store)
    path = tmp_path / "atomic.py"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(StepTable)
        assert table.selected_step == "dlogprobs"
        save(path, path.read_text().replace("dlogprobs = None", "dlogprobs = X").replace("dprobs = None", "dprobs = WRONG"))
        assert await wait_for(pilot, lambda: table.root == "dprobs", timeout=5)
        assert table.selected_step == "dprobs"  # the cursor went along to ▶
        await pilot.press("down", "down")
        save(path, path.read_text().replace("dprobs = WRONG", "dprobs = X").replace("dcounts = None", "dcounts = WRONG"))
        assert await wait_for(pilot, lambda: table.root != "dprobs", timeout=5)
        assert table.selected_step == "dcounts_sum"  # moved by the learner: left where they put it


async def test_esc_closes_the_keys_panel_before_leaving(course, tmp_path):
    store = FakeStore()
    store.set_current("cross-entropy", None)
    app = tutor_app(course, tmp_path, store=store, checker=FakeChecker(course))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, ExerciseScreen)
        await pilot.press("question_mark")
        await settle(pilot)
        assert app.screen.query("HelpPanel")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ExerciseScreen) and not app.screen.query("HelpPanel")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_a_passed_step_shows_its_why(course, tmp_path):
    store = FakeStore()
    store.set_current("cross-entropy", "dlogits")
    app = tutor_app(course, tmp_path, store=store, checker=FakeChecker(course))
    path = tmp_path / "cross_entropy.py"
    step = course.find("cross-entropy").steps[0]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Why" not in detail_text(app)  # not before the pass
        save(path, path.read_text().replace("dlogits = None", "dlogits = X"))
        assert await wait_for(pilot, lambda: step.why_at in detail_text(app), timeout=5)
        assert " ".join(step.why.split()[:8]) in detail_text(app)


def test_a_passing_step_draws_no_noise_heatmap(course):
    step = course.find("atomic").step("dnorm_logits")
    grid = {"shape": [4, 6], "rows": 4, "cols": 6, "downsampled": False, "max": 1e-9, "cells": [[1e-9] * 6] * 4}
    tensor = {"name": step.name, "status": "close", "expected_shape": [4, 6], "shape": [4, 6], "max_abs_diff": 1e-9}
    text = plain(step_detail(step, tensor, {"diff": grid, "value": grid}, 0))
    assert "Where your" not in text and "Why" in text and "itself" in text
    wrong = plain(step_detail(step, {**tensor, "status": "wrong"}, {"diff": grid, "value": grid}, 0))
    assert "Where your" in wrong and "Why" not in wrong


class RefusingChecker(FakeChecker):
    """Checks as the fake does until refuse is set; then reports a refused file with no tensors."""

    refuse = False

    def check(self, exercise_id, path):
        reply = super().check(exercise_id, path)
        if self.refuse:
            reply.update(tensors=[], grids={}, passed=False,
                         error={"kind": "forbidden", "message": "`.backward()` runs autograd", "line": 2})
        return reply


async def test_a_refused_file_clears_the_rows_of_the_previous_check(course, tmp_path):
    store = FakeStore()
    store.set_current("atomic", None)
    checker = RefusingChecker(course)
    app = tutor_app(course, tmp_path, store=store, checker=checker)
    path = tmp_path / "atomic.py"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        save(path, path.read_text().replace("dlogprobs = None", "dlogprobs = X"))
        table = app.screen.query_one(StepTable)
        assert await wait_for(pilot, lambda: str(table.get_cell("dlogprobs", "status")) == "exact", timeout=5)
        checker.refuse = True
        await pilot.press("c")
        assert await wait_for(pilot, lambda: str(table.get_cell("dlogprobs", "status")) == "not checked", timeout=5)
        assert str(table.get_cell("dlogprobs", "yours")) == ""


async def test_home_says_failing_now_for_a_pass_broken_later(course, tmp_path):
    store = FakeStore()
    ex = store._ex("cross-entropy")
    ex.update(passed=True, attempts=3, last_status="failing")
    app = tutor_app(course, tmp_path, store=store, checker=FakeChecker(course))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        cell = app.screen.query_one("#exercises").get_cell("cross-entropy", "progress")
        assert "failing now" in str(cell)
