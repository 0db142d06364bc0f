"""Pilot tests of the screen keeping up with the learner: the cursor follows ▶ and ▶ stays in view, esc closes
the keys panel first, the panel lists the tutor's keys first, the footer keeps ? and q at 80 columns, the why
after a pass, no stale rows after a refused file, "failing now" on the home screen."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.ui_fakes import FakeChecker, FakeStore
from tests.ui_helpers import plain, save, settle, tutor_app, wait_for
from tutor.reports.check import CheckReply, LearnerError, TensorVerdict
from tutor.ui.screens.exercise import ExerciseScreen
from tutor.ui.screens.home import HomeScreen
from tutor.ui.widgets.detail import DetailPane, step_detail
from tutor.ui.widgets.step_table import StepTable
from tutor.workspace import progress_state

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
    tensor = TensorVerdict(step.name, step.of, "close", (4, 6), (4, 6), max_abs_diff=1e-9, close=True)
    text = plain(step_detail(step, tensor, {"diff": grid, "value": grid}, 0))
    assert "Where your" not in text and "Why" in text and "itself" in text
    wrong = plain(step_detail(step, replace(tensor, status="wrong", close=False), {"diff": grid, "value": grid}, 0))
    assert "Where your" in wrong and "Why" not in wrong


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_passed_supporting_row_shows_its_why(course, lang):
    row = course.find("training").row("dhpreact")
    assert row.support and row.why and row.why_at
    tensor = TensorVerdict(row.name, row.of, "exact", (32, 200), (32, 200), max_abs_diff=0.0, close=True, support=True)
    text = " ".join(plain(step_detail(row, tensor, None, 0, lang)).split())
    assert row.why_at in text and " ".join(row.text("why", lang).split())[:40] in text


class RefusingChecker(FakeChecker):
    """Checks as the fake does until refuse is set; then reports a refused file with no tensors."""

    refuse = False

    def reply(self, exercise_id, path):
        reply = super().reply(exercise_id, path)
        if self.refuse and reply.report is not None:
            error = LearnerError("forbidden", "`.backward()` runs autograd", 2)
            reply = CheckReply(replace(reply.report, tensors=[], error=error))
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
    ex = progress_state.exercise_record(store.data, "cross-entropy")
    ex.update(passed=True, attempts=3, last_status="failed")
    app = tutor_app(course, tmp_path, store=store, checker=FakeChecker(course))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        cell = app.screen.query_one("#exercises").get_cell("cross-entropy", "progress")
        assert "failing now" in str(cell)


async def test_the_keys_panel_lists_the_tutors_keys_first_under_their_own_heading(course, tmp_path):
    from tutor.ui.widgets.keys_panel import GENERIC_HEADING, TUTOR_HEADING, KeysTable

    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, tmp_path, store=store, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        text = plain(app.screen.query_one(KeysTable).render())
        lines = [" ".join(line.split()) for line in text.splitlines()]
        tutor, generic = lines.index(TUTOR_HEADING), lines.index(GENERIC_HEADING)
        ours, theirs = lines[tutor + 1:generic], lines[generic + 1:]
        for row in ("c f5 Re-check", "h Hint", "r Reset", "esc Exercises", "q Quit", "? Keys"):
            assert row in ours, (row, ours)
        for row in ("↑ Cursor up", "tab Focus Next", "^p palette", "^q Quit"):
            assert row in theirs, (row, theirs)
        assert not set(ours) & set(theirs) - {""}


def shown_footer_keys(app) -> dict[str, object]:
    """The footer's keys that are displayed, by key; asserts the footer needs no scrolling to show them."""
    footer = app.screen.query_one("KeysFooter")
    assert footer.virtual_size.width <= footer.size.width
    keys = {key.key: key for key in footer.query("FooterKey") if key.display}
    for key in keys.values():
        assert key.region.right <= app.size.width and key.region.width > 0
    return keys


@pytest.mark.slow
async def test_the_footer_keeps_keys_and_quit_at_80_columns(course, tmp_path):
    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, tmp_path, store=store)
    path = tmp_path / "atomic.py"
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        keys = shown_footer_keys(app)
        assert {"question_mark", "q", "c", "h", "escape"} <= set(keys)
        assert keys["question_mark"].description == "Keys" and keys["q"].description == "Quit"
        source = path.read_text()
        for step in course.find("atomic").steps:
            source = source.replace(f"{step.name} = None", f"{step.name} = X")
        save(path, source)
        assert await wait_for(pilot, lambda: "n" in shown_footer_keys(app), timeout=5)  # passed: n joins
        assert {"question_mark", "q"} <= set(shown_footer_keys(app))
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        wide = shown_footer_keys(app)
        assert {"question_mark", "q", "n", "e", "s", "r", "ctrl+p"} <= set(wide)  # room for every key again


async def test_the_footer_keeps_keys_and_quit_during_a_training_run(course, tmp_path):
    from tests.ui_fakes import FakeRun, FakeTrainer, training_script

    store = FakeStore()
    store.set_current("training", None)
    run = FakeRun(training_script(), hold_at=3)
    app = tutor_app(course, tmp_path, store=store, trainer=FakeTrainer(run), watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        assert await wait_for(pilot, run.held.is_set, timeout=5)
        await pilot.pause(0.2)
        keys = shown_footer_keys(app)
        assert {"question_mark", "q", "x", "v"} <= set(keys)
        run.cancel()
        await settle(pilot)


async def test_the_first_to_fix_stays_in_view_when_the_learner_moved_the_cursor(course, tmp_path):
    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, tmp_path, store=store)
    path = tmp_path / "atomic.py"
    names = [step.name for step in course.find("atomic").rows]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(StepTable)
        visible = table.scrollable_content_region.height - table.header_height
        assert 3 <= visible < 12  # the test needs a table shorter than its rows

        def in_view(name: str) -> bool:
            row = names.index(name)
            return table.scroll_y <= row < table.scroll_y + visible

        for mine, root in zip(names[1:], ("dbndiff", "dlogit_maxes", "dC")):
            await pilot.press("down")  # the learner moves before each check: the cursor does not follow ▶
            assert table.selected_step == mine
            source = path.read_text()
            for name in names[: names.index(root)]:
                source = source.replace(f"{name} = None", f"{name} = X")
            source = source.replace(f"{root} = X", f"{root} = None")
            save(path, source)
            assert await wait_for(pilot, lambda root=root: table.root == root, timeout=5)
            assert await wait_for(pilot, lambda root=root: in_view(root), timeout=2), (root, table.scroll_y)
            assert table.selected_step == mine  # their cursor stays where they put it


async def test_a_step_reopened_at_80x24_keeps_the_rows_above_it_in_view(course, tmp_path):
    store = FakeStore()
    store.set_current("atomic", "dprobs")
    app = tutor_app(course, tmp_path, store=store, watch=False)
    path = app.workspace.file_for(course.find("atomic"))
    path.write_text(path.read_text().replace("dlogprobs = None", "dlogprobs = X").replace("dprobs = None", "dprobs = X"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(StepTable)
        assert table.root == "dcounts_sum_inv" and table.selected_step == "dprobs"
        assert table.scroll_y == 0  # dlogprobs, above the reopened step, is still shown
