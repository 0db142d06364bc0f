"""Pilot tests of the tutor's flows: open, re-check on save, hints, reset, resume, bad situations."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from tests.ui_fakes import FakeChecker, FakeStore
from tests.ui_helpers import plain, save, settle, tutor_app, wait_for
from tutor.service.client import CheckClient
from tutor.ui.screens.exercise import ExerciseScreen
from tutor.ui.screens.home import HomeScreen
from tutor.ui.screens.modals import ConfirmScreen, TextScreen
from tutor.ui.widgets.banner import Banner
from tutor.ui.widgets.detail import DetailPane
from tutor.ui.widgets.step_table import StepTable

SIZE = (100, 30)


def status_of(app, step: str) -> str:
    return str(app.screen.query_one(StepTable).get_cell(step, "status"))


def banner_text(app) -> str:
    return plain(app.screen.query_one(Banner).content)


async def test_home_lists_exercises_and_opens_one(course, tmp_path):
    checker = FakeChecker(course)
    app = tutor_app(course, tmp_path, checker=checker)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ExerciseScreen)
        assert app.screen.exercise.id == "cross-entropy"
        assert checker.calls == ["cross-entropy"]
        assert status_of(app, "dlogits") == "missing"
        assert "0/1 gradients pass" in banner_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)


async def test_saving_the_file_updates_the_table(course, tmp_path):
    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, tmp_path, store=store)
    path = tmp_path / "atomic.py"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert status_of(app, "dlogprobs") == "missing"
        save(path, path.read_text().replace("dlogprobs = None", "dlogprobs = torch.zeros(1)")
             .replace("dprobs = None", "dprobs = WRONG"))
        assert await wait_for(pilot, lambda: status_of(app, "dlogprobs") == "exact", timeout=5)
        assert status_of(app, "dprobs") == "wrong"
        table = app.screen.query_one(StepTable)
        assert table.root == "dprobs"
        assert "first to fix: dprobs" in banner_text(app)
        assert store.exercise_state("atomic")["steps"]["dlogprobs"]["passed"]


async def test_detail_pane_shows_line_and_heatmaps(course, tmp_path):
    ws_file = tmp_path / "atomic.py"
    store = FakeStore()
    store.set_current("atomic", "dprobs")
    app = tutor_app(course, tmp_path, store=store, watch=False)
    ws_file.write_text(ws_file.read_text().replace("dlogprobs = None", "dlogprobs = X")
                       .replace("dprobs = None", "dprobs = WRONG"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        text = plain(app.screen.query_one(DetailPane).content_group)
        assert "logprobs = probs.log()" in text
        assert "Where your dprobs differs" in text
        assert "Your dprobs itself" in text
        assert "not watching" in str(app.screen.query_one("#ex-status").content)


@pytest.mark.slow
async def test_hints_one_at_a_time_and_the_answer_asks_first(course, tmp_path):
    store = FakeStore()
    store.set_current("atomic", "dprobs")
    app = tutor_app(course, tmp_path, store=store)
    step = course.find("atomic").step("dprobs")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(len(step.hints) - 1):
            await pilot.press("h")
        await settle(pilot)
        assert store.hints_revealed("atomic", "dprobs") == len(step.hints) - 1
        shown = " ".join(plain(app.screen.query_one(DetailPane).content_group).split())
        assert " ".join(step.hints[0].split()) in shown
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert store.hints_revealed("atomic", "dprobs") == len(step.hints) - 1
        await pilot.press("h")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert store.hints_revealed("atomic", "dprobs") == len(step.hints)
        shown = " ".join(plain(app.screen.query_one(DetailPane).content_group).split())
        assert " ".join(step.hints[-1].split()) in shown


@pytest.mark.slow
async def test_reset_backs_up_and_restores_the_starter(course, tmp_path):
    store = FakeStore()
    store.set_current("atomic", "dprobs")
    app = tutor_app(course, tmp_path, store=store, watch=False)
    path = tmp_path / "atomic.py"
    mine = path.read_text().replace("dlogprobs = None", "dlogprobs = torch.zeros(1)")
    path.write_text(mine)
    starter = course.find("atomic").starter.read_text()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("h")
        assert store.hints_revealed("atomic", "dprobs") == 1
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert path.read_text() == starter
        backups = list((tmp_path / ".backprop-ninja" / "backups").glob("atomic.*.py"))
        assert [b.read_text() for b in backups] == [mine]
        assert store.hints_revealed("atomic", "dprobs") == 0
        assert status_of(app, "dlogprobs") == "missing"


@pytest.mark.slow
async def test_a_second_run_resumes_exercise_and_step(course, tmp_path):
    store = FakeStore()
    first = tutor_app(course, tmp_path, store=store)
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # atomic
        await settle(pilot)
        await pilot.press("down", "down", "down")
        await settle(pilot)
        assert first.screen.query_one(StepTable).selected_step == "dcounts_sum"
    second = tutor_app(course, tmp_path, store=store)
    async with second.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(second.screen, ExerciseScreen)
        assert second.screen.exercise.id == "atomic"
        assert second.screen.query_one(StepTable).selected_step == "dcounts_sum"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(second.screen, HomeScreen)


@pytest.mark.slow
async def test_learner_error_shows_their_line_not_a_traceback(course, tmp_path):
    store = FakeStore()
    store.set_current("cross-entropy", None)
    path = tmp_path / "cross_entropy.py"
    app = tutor_app(course, tmp_path, store=store)
    path.parent.mkdir(exist_ok=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        save(path, path.read_text() + "x = 1\nraise KeyError\n")
        assert await wait_for(pilot, lambda: "KeyError" in banner_text(app), timeout=5)
        text = banner_text(app)
        assert "an exception at line" in text and "raise KeyError" in text
        assert "Traceback" not in text


@pytest.mark.slow
async def test_pass_offers_the_next_exercise_without_moving(course, tmp_path):
    store = FakeStore()
    store.set_current("cross-entropy", None)
    path = tmp_path / "cross_entropy.py"
    app = tutor_app(course, tmp_path, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")  # not passed yet: no solution
        await settle(pilot)
        assert not isinstance(app.screen, TextScreen)
        save(path, path.read_text().replace("dlogits = None", "dlogits = F.softmax(logits, 1)"))
        assert await wait_for(pilot, lambda: "Passed" in banner_text(app), timeout=5)
        assert "Press n for the next exercise: BatchNorm in one step" in banner_text(app)
        assert app.screen.exercise.id == "cross-entropy"  # never auto-advances
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, TextScreen)
        await pilot.press("escape", "n")
        await settle(pilot)
        assert app.screen.exercise.id == "batchnorm"


@pytest.mark.slow
async def test_deleted_file_keeps_the_app_alive(course, tmp_path):
    store = FakeStore(warning="progress.json was unreadable and was moved aside")
    store.set_current("atomic", None)
    app = tutor_app(course, tmp_path, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "moved aside" in "\n".join(app.notices)
        (tmp_path / "atomic.py").unlink()
        assert await wait_for(pilot, lambda: "not in the workspace any more" in banner_text(app), timeout=5)
        save(tmp_path / "atomic.py", course.find("atomic").starter.read_text())
        assert await wait_for(pilot, lambda: "gradients pass" in banner_text(app), timeout=5)


class ReadOnlyStore(FakeStore):
    def record_check(self, exercise_id, report):
        raise PermissionError(13, "Permission denied")

    def set_current(self, exercise_id, step):
        raise PermissionError(13, "Permission denied")


async def test_unwritable_progress_is_reported_and_the_app_goes_on(course, tmp_path):
    app = tutor_app(course, tmp_path, store=ReadOnlyStore())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert status_of(app, "dlogprobs") == "missing"
        assert any("Permission denied" in m for m in app._reported)
        await pilot.press("h")  # still shows hints for this session
        await settle(pilot)
        assert app.store.hints_revealed("atomic", app.screen.query_one(StepTable).selected_step) == 1


CRASH_ONCE = r"""
import json, os, sys
from tutor.reports.check import CheckReply, CheckReport, TensorVerdict
flag = sys.argv[1]
print(json.dumps({"type": "ready"}), flush=True)
for line in sys.stdin:
    if not os.path.exists(flag):
        open(flag, "w").close()
        os._exit(3)
    req = json.loads(line)
    wrong = TensorVerdict("dlogits", "logits", "wrong", (32, 27), (32, 27), max_abs_diff=0.1)
    report = CheckReport(req["exercise"], "cpu", 3.3, [wrong], file=req["file"])
    print(json.dumps(CheckReply(report).to_json()), flush=True)
"""


async def test_checker_crash_is_reported_and_the_check_rerun(course, tmp_path):
    flag = tmp_path / "crashed-once"
    client = CheckClient(command=[sys.executable, "-c", CRASH_ONCE, str(flag)])
    store = FakeStore()
    store.set_current("cross-entropy", None)
    app = tutor_app(course, tmp_path / "ws", store=store, checker=client, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert flag.exists()
        assert status_of(app, "dlogits") == "wrong"
        text = banner_text(app)
        assert "crashed (exit code 3)" in text and "re-ran the check" in text
        assert client.restarts == 1


@pytest.mark.slow
async def test_bindings_are_in_the_command_palette(course, tmp_path):
    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, tmp_path, store=store, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Hint (h)", "Reset (r)", "Solution (s)", "Edit (e)", "Re-check (c)", "Quit", "Keys"):
            assert wanted in titles, titles
        await pilot.press("question_mark")
        await settle(pilot)
        assert app.screen.query("HelpPanel")


@pytest.mark.slow
async def test_a_malformed_editor_variable_is_reported_not_a_crash(course, tmp_path, monkeypatch):
    monkeypatch.setenv("VISUAL", "vim '-c")  # unbalanced quote: shlex cannot split it
    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, tmp_path, store=store, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, ExerciseScreen)
        assert any("cannot read $VISUAL/$EDITOR" in str(n.message) for n in app._notifications)


def test_closing_the_checker_during_a_check_ends_it_at_once():
    # Quitting while the service is silent (importing torch, running a slow file) must not wait out the deadline.
    client = CheckClient(command=[sys.executable, "-c", "import time; time.sleep(60)"], timeout=1)
    replies: list[dict] = []
    worker = threading.Thread(target=lambda: replies.append(client.check("atomic", "/nowhere.py")), daemon=True)
    worker.start()
    time.sleep(0.5)
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 5
    worker.join(5)
    assert replies and replies[0]["type"] == "error" and "closed" in replies[0]["message"]
    assert client._proc is None
    client.start()  # a closed client starts nothing again
    assert client._proc is None
