"""Pilot tests of the loop a learner repeats: save, look at the step to fix (▶), read what is wrong, ask for a
hint, open the editor there."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.ui_fakes import FakeChecker, FakeStore
from tests.ui_helpers import plain, save, settle, tutor_app, wait_for
from tutor.reports.check import STATUS_STYLE, CheckReply, CheckReport, LearnerError, TensorVerdict
from tutor.ui.editor import assignment_line, editor_command, step_line
from tutor.ui.screens import exercise as exercise_screen
from tutor.ui.widgets.banner import Banner
from tutor.ui.widgets.detail import DetailPane
from tutor.ui.widgets.step_table import COLUMNS, StepTable, status_text
from tutor.ui.widgets.training import TrainingPanel

SIZE = (100, 30)


def opened_on(course, root, step: str | None = None, exercise_id: str = "atomic", **kwargs):
    """The tutor on a fresh workspace in `root`, reopening `exercise_id` at `step` (None: at ▶)."""
    store = FakeStore()
    store.set_current(exercise_id, step)
    return tutor_app(course, root, store=store, **kwargs)


def assign(path, **values: str) -> None:
    """Write `path` with each `name = None` as `name = value` (the fake checker: X passes, WRONG is wrong)."""
    source = path.read_text()
    for name, value in values.items():
        source = source.replace(f"{name} = None", f"{name} = {value}")
    path.write_text(source)


def detail_text(app) -> str:
    return plain(app.screen.query_one(DetailPane).content_group)


def shows_step(app, name: str, of: str) -> bool:
    """The detail pane is the one of step `name` (the gradient of `of`)."""
    return f"{name} — the gradient of the loss with respect to {of}\n" in detail_text(app)


async def save_answers(pilot, path, names: list[str], root: str) -> None:
    """Save the file with `names` assigned (the fake checker passes them) and wait for ▶ to move to `root`."""
    source = path.read_text()
    for name in names:
        source = source.replace(f"{name} = None", f"{name} = X")
    save(path, source)
    table = pilot.app.screen.query_one(StepTable)
    assert await wait_for(pilot, lambda: table.root == root, timeout=5)
    await settle(pilot)


async def test_one_move_stops_the_cursor_following_only_until_the_next_check(course, tmp_path):
    app = opened_on(course, tmp_path)
    path = tmp_path / "atomic.py"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(StepTable)
        assert table.root == table.selected_step == "dlogprobs"
        await pilot.press("down")
        await settle(pilot)
        assert table.selected_step == "dprobs"
        await save_answers(pilot, path, ["dlogprobs"], root="dprobs")
        await save_answers(pilot, path, ["dprobs"], root="dcounts_sum_inv")
        assert table.selected_step == "dcounts_sum_inv"  # no move since the last check: it follows ▶ again
        await save_answers(pilot, path, ["dcounts_sum_inv"], root="dcounts_sum")
        assert table.selected_step == "dcounts_sum"
        assert shows_step(app, "dcounts_sum", "counts_sum")
        assert app.store.current() == ("atomic", "dcounts_sum")


@pytest.mark.slow
async def test_a_move_keeps_the_cursor_through_one_check_then_it_follows(course, tmp_path):
    app = opened_on(course, tmp_path)
    path = tmp_path / "atomic.py"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(StepTable)
        await pilot.press("down", "down", "down", "down")  # the learner goes to read dcounts
        await settle(pilot)
        await save_answers(pilot, path, ["dlogprobs"], root="dprobs")
        assert table.selected_step == "dcounts" and shows_step(app, "dcounts", "counts")
        await save_answers(pilot, path, ["dprobs"], root="dcounts_sum_inv")
        assert table.selected_step == "dcounts_sum_inv" and shows_step(app, "dcounts_sum_inv", "counts_sum_inv")


@pytest.mark.slow
async def test_after_a_restart_on_the_saved_step_the_cursor_follows(course, tmp_path):
    app = opened_on(course, tmp_path, "dcounts")  # where the learner left it last time
    path = tmp_path / "atomic.py"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(StepTable)
        assert table.root == "dlogprobs" and table.selected_step == "dcounts"  # reopened where it was left
        await save_answers(pilot, path, ["dlogprobs"], root="dprobs")
        assert table.selected_step == "dprobs" and shows_step(app, "dprobs", "probs")
        await save_answers(pilot, path, ["dprobs"], root="dcounts_sum_inv")
        assert table.selected_step == "dcounts_sum_inv" and shows_step(app, "dcounts_sum_inv", "counts_sum_inv")


async def test_h_on_a_passed_step_spends_no_hint_and_says_why(course, tmp_path):
    path = tmp_path / "atomic.py"
    app = opened_on(course, tmp_path, "dprobs", watch=False)
    store = app.store.store  # the progress itself, under the tutor's guard
    assign(path, dlogprobs="X", dprobs="X")
    step = course.find("atomic").step("dprobs")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one(StepTable).selected_step == "dprobs"
        await pilot.press("h")
        await settle(pilot)
        assert store.hints_revealed("atomic", "dprobs") == 0
        assert "Hints  0 of" in detail_text(app)
        said = [n for n in app._notifications if n.title == "dprobs has passed."]
        assert said and step.text("why", "en") in said[0].message
        # a step that has not passed still gets its next hint
        await pilot.press("up", "h")
        await settle(pilot)
        assert store.hints_revealed("atomic", "dlogprobs") == 0  # dlogprobs passed too
        await pilot.press("down", "down", "h")
        await settle(pilot)
        assert store.hints_revealed("atomic", "dcounts_sum_inv") == 1


# -- 80×24: whole statuses, the detail read from its top, the answer in view -----------------------------------
def screen_lines(app) -> list[str]:
    """What the terminal shows now, line by line."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def status_room_at_80_columns() -> int:
    """The cells the status column shows at 80 columns: what the other columns, each cell's padding and the
    table's vertical scrollbar leave."""
    return 80 - sum(width + 2 for _, width in COLUMNS if width) - 2 - 2


def test_every_status_fits_its_column_at_80_columns():
    room = status_room_at_80_columns()
    assert room >= 15
    rows = [TensorVerdict("dprobs", "probs", status, (32, 27), (32, 27)) for status in STATUS_STYLE]
    below = [replace(t, inherits_from="dlogprobs", local="pass") for t in rows if not t.passed]
    right_line = [replace(t, local="pass") for t in rows if not t.passed]
    earlier = [replace(t, rechecked=False) for t in rows]  # after a file that did not run
    for lang in ("en", "zh"):
        for t in rows + below + right_line + earlier:
            text = status_text(t, lang, root="dlogprobs").plain
            assert cell_len(text) <= room, (lang, text)
        assert status_text(below[0], lang, root="dlogprobs").plain.endswith("▶")  # ▶ marks the root's row


@pytest.mark.slow
async def test_another_row_is_read_from_its_top_and_the_answer_is_scrolled_into_view(course, tmp_path):
    path = tmp_path / "atomic.py"
    app = opened_on(course, tmp_path, watch=False)
    assign(path, dlogprobs="X", dprobs="WRONG")
    answer = course.find("atomic").step("dprobs").hints[-1].strip()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        detail = app.screen.query_one(DetailPane)
        assert app.screen.query_one(StepTable).selected_step == "dprobs"
        for key in ("h", "h", "h", "h", "y"):  # the last hint asks first
            await pilot.press(key)
            await settle(pilot)
        assert app.store.hints_revealed("atomic", "dprobs") == 4
        assert detail.scroll_y > 0
        assert any(answer in line for line in screen_lines(app)), "\n".join(screen_lines(app))
        await pilot.press("down")
        await settle(pilot)
        assert detail.scroll_y == 0
        assert any("dcounts_sum_inv — the gradient" in line for line in screen_lines(app))


# -- e: the editor at the step's line ----------------------------------------------------------------------------
def test_the_editor_opens_at_the_line_where_it_takes_one(tmp_path):
    path = tmp_path / "atomic.py"
    assert editor_command(["vim"], path, 45) == ["vim", "+45", str(path)]
    assert editor_command(["/usr/bin/nvim", "-p"], path, 45) == ["/usr/bin/nvim", "-p", "+45", str(path)]
    assert editor_command(["emacs", "-nw"], path, 3) == ["emacs", "-nw", "+3", str(path)]
    assert editor_command(["nano"], path, 7) == ["nano", "+7", str(path)]
    assert editor_command(["code", "--wait"], path, 45) == ["code", "--wait", "-g", f"{path}:45"]
    assert editor_command(["gedit"], path, 45) == ["gedit", str(path)]
    assert editor_command(["vim"], path, None) == ["vim", str(path)]


def test_the_line_of_a_step_is_where_the_file_assigns_it(course, tmp_path):
    source = "dprobs_note = 1\n# dprobs = here in a comment\nif dprobs == 0:\n    pass\n  dprobs[0] += 1\ndprobs = 2\n"
    assert assignment_line(source, "dprobs") == 5
    assert assignment_line("dlogprobs = None\n", "dprobs") is None
    starter = course.find("atomic").starter
    lines = starter.read_text().splitlines()
    line = step_line(starter, "dcounts_sum")
    assert line is not None and lines[line - 1].startswith("dcounts_sum = ")
    assert step_line(tmp_path / "work.ipynb", "dprobs") is None


@pytest.mark.slow
async def test_e_opens_the_editor_at_the_selected_steps_line(course, tmp_path, monkeypatch):
    ran: list[list[str]] = []
    monkeypatch.setenv("VISUAL", "vim")
    monkeypatch.setattr(exercise_screen.subprocess, "run", lambda command, check: ran.append(command))
    app = opened_on(course, tmp_path, "dcounts", watch=False)
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    path = tmp_path / "atomic.py"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
    line = path.read_text().splitlines().index("dcounts = None") + 1
    assert ran == [["vim", f"+{line}", str(path)]]


# -- exercise 4 ----------------------------------------------------------------------------------------------------
@pytest.mark.slow
async def test_after_a_run_exercise_4_offers_to_train_again(course, tmp_path):
    app = opened_on(course, tmp_path, None, exercise_id="training", watch=False)
    training = course.find("training")
    app.workspace.file_for(training).write_text(training.solution.read_text())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.screen.query_one(Banner)
        assert "Press t to train the network" in plain(banner.content)
        await pilot.press("t")
        assert await wait_for(pilot, lambda: app.screen.query_one(TrainingPanel).last is not None)
        await settle(pilot)
        assert "Press t to train again." in plain(banner.content)


# -- a file that does not run ---------------------------------------------------------------------------------------
class SyntaxErrorChecker(FakeChecker):
    """The fake checker, and what the real one says of a file with a line `SYNTAX ERROR …` in it: the file did not
    run, so no row was rechecked (each "missing"), and the error points into its line."""

    def reply(self, exercise_id, path):
        lines = Path(path).read_text().splitlines()
        if not any(text.startswith("SYNTAX ERROR") for text in lines):
            return super().reply(exercise_id, path)
        line = next(i for i, text in enumerate(lines, 1) if text.startswith("SYNTAX ERROR"))
        column = lines[line - 1].index("ERROR") + 1
        error = LearnerError("syntax", "invalid syntax", line, lines[line - 1], column, column + len("ERROR"))
        tensors = [TensorVerdict(s.name, s.of, "missing", (4, 6), None, rechecked=False)
                   for s in self.course.find(exercise_id).steps]
        return CheckReply(CheckReport(exercise_id, "cpu", 0.0, tensors, error, file=str(path)))


async def test_a_syntax_error_shows_its_caret_and_keeps_the_last_verdicts_not_rechecked(course, tmp_path):
    app = opened_on(course, tmp_path, checker=SyntaxErrorChecker(course))
    path = tmp_path / "atomic.py"
    assign(path, dlogprobs="X", dprobs="WRONG")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(StepTable)
        assert table.selected_step == "dprobs" and str(table.get_cell("dprobs", "status")) == "wrong"
        source = path.read_text()
        save(path, source + "SYNTAX ERROR here\n")
        banner = app.screen.query_one(Banner)
        assert await wait_for(pilot, lambda: "syntax error" in plain(banner.content), timeout=5)
        await settle(pilot)
        shown = plain(banner.content).splitlines()
        line = source.count("\n") + 1
        error_line = next(i for i, text in enumerate(shown) if text.startswith(f"{line} │ SYNTAX ERROR here"))
        assert shown[error_line + 1].rstrip() == " " * shown[error_line].index("ERROR") + "^^^^^"
        assert any("invalid syntax" in text for text in shown)
        assert any("did not run" in text for text in shown) and not any("0/26" in text for text in shown)
        status = {name: str(table.get_cell(name, "status")) for name in ("dlogprobs", "dprobs", "dcounts_sum_inv")}
        earlier = {"dlogprobs": "exact · earlier", "dprobs": "wrong · earlier", "dcounts_sum_inv": "not checked"}
        assert status == earlier
        assert table.root is None and table.selected_step == "dprobs"
        assert "Not rechecked: your file did not run" in detail_text(app)
