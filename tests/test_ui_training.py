"""Pilot tests of the training run on exercise 4's screen, with a fake trainer that replays scripted lines."""

from __future__ import annotations

import pytest
from textual.widgets import ProgressBar

from tests.ui_fakes import (
    SAMPLES,
    FakeRun,
    FakeStore,
    FakeTrainer,
    grad_check_line,
    result_line,
    training_script,
)
from tests.ui_helpers import plain, settle, tutor_app, wait_for
from tutor.ui.widgets.loss_plot import LossPlot, column_means, plot_rows
from tutor.ui.widgets.training import TrainingPanel

SIZE = (100, 40)


def opened_on(exercise_id: str) -> FakeStore:
    store = FakeStore()
    store.set_current(exercise_id, None)
    return store


def training_app(course, root, *runs: FakeRun):
    return tutor_app(course, root, store=opened_on("training"), trainer=FakeTrainer(*runs), watch=False)


async def start_until_held(pilot, run: FakeRun) -> None:
    await settle(pilot)
    await pilot.press("t")
    assert await wait_for(pilot, run.held.is_set)


def panel_text(app) -> str:
    panel = app.screen.query_one(TrainingPanel)
    parts = [plain(w.content) for w in panel.query("Static") if w.display]
    return " ".join(" ".join(parts).split())


def plot_text(app) -> str:
    return plain(app.screen.query_one(LossPlot).render())


def footer_keys(app) -> set[str]:
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show and active.enabled}


async def test_training_runs_only_on_t_and_shows_every_stage(course, tmp_path):
    lines = training_script(steps=1000, chunk=250)
    second_progress = next(i for i, line in enumerate(lines) if line["type"] == "progress") + 1
    run = FakeRun(lines, hold_at=second_progress + 1)
    app = training_app(course, tmp_path, run)
    trainer = app.trainer
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert trainer.started == []  # never starts by itself
        assert "t" in footer_keys(app) and "x" not in footer_keys(app)
        assert "Press t to train" in panel_text(app)
        assert "Train (t)" in [c.title for c in app.get_system_commands(app.screen)]

        await pilot.press("t")
        assert await wait_for(pilot, run.held.is_set)
        await pilot.pause(0.1)
        assert trainer.started == [("training", tmp_path / "training.py")]
        assert app.screen.has_class("-training-view")
        text = panel_text(app)
        assert "0 ✔ 1 ✔ 2 ✔ 3 ✔ 4 ✔" in text and "all 7 gradients match" in text
        assert "Training with your gradients: 500 / 1,000 steps · 2,000 steps/s · ETA 0:00" in text
        assert app.screen.query_one(ProgressBar).progress == 500
        half_plot = plot_text(app)
        assert "1,000 steps" in half_plot
        assert "x" in footer_keys(app) and "t" not in footer_keys(app)

        run.release.set()
        assert await wait_for(pilot, lambda: "agree within" in panel_text(app))
        text = panel_text(app)
        assert plot_text(app) != half_plot  # the curve grew
        assert "Your gradients check out and trained all 1,000 steps" in text
        assert "your gradients 1,000 2.2512 2.2634" in text and "autograd 1,000 2.2512 2.2634" in text
        assert all(name in text for name in SAMPLES)
        assert "t" in footer_keys(app) and "x" not in footer_keys(app)

        await pilot.press("v")  # back to the step table; the run stays for the next v
        await settle(pilot)
        assert not app.screen.has_class("-training-view")


@pytest.mark.slow
async def test_cancel_keeps_the_model_trained_so_far(course, tmp_path):
    lines = training_script(steps=1000, chunk=250)
    at = next(i for i, line in enumerate(lines) if line["type"] == "progress") + 2  # after 500 steps
    run = FakeRun(lines, hold_at=at, on_cancel=result_line(500, 1000, reference=False, cancelled=True))
    app = training_app(course, tmp_path, run)
    async with app.run_test(size=SIZE) as pilot:
        await start_until_held(pilot, run)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: "Cancelled after" in panel_text(app))
        assert run.cancelled.is_set()
        text = panel_text(app)
        assert "Cancelled after 500 of 1,000 steps" in text
        assert "your gradients 500 2.2512" in text and "autograd 500" not in text
        assert SAMPLES[0] in text and "autograd" not in plain(app.screen.query_one("#train-samples").content)


async def test_failing_grad_check_names_the_parameter_and_trains_nothing(course, tmp_path):
    lines = [{"type": "phase", "phase": "grad-check", "steps": 5, "who": "learner"},
             grad_check_line(0), grad_check_line(1, wrong="dW1"), result_line(0, 1000, grad_fail="dW1")]
    app = training_app(course, tmp_path, FakeRun(lines))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        assert await wait_for(pilot, lambda: "nothing was trained" in panel_text(app))
        text = panel_text(app)
        assert "0 ✔ 1 ✘ · · ·" in text
        assert "batch 1: dW1 (the gradient of W1) is wrong" in text
        assert "Fix dW1 (the gradient of W1)" in text
        assert not app.screen.query_one(ProgressBar).display
        assert not app.screen.query_one(LossPlot).display
        assert "steps/s" not in text


async def test_a_crashed_run_says_so_and_the_app_goes_on(course, tmp_path):
    lines = training_script(steps=1000, chunk=250)[:9]  # ends in the middle of training
    broken = FakeRun(lines, fail=True)
    silent = FakeRun(lines)

    class Unstartable(FakeTrainer):
        def start(self, exercise_id, path):
            if not self.runs:
                raise OSError("no python here")
            return super().start(exercise_id, path)

    app = tutor_app(course, tmp_path, store=opened_on("training"), trainer=Unstartable(broken, silent), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for expected in ("reading it failed: RuntimeError: the pipe broke", "the run ended without a result",
                         "could not start it: OSError: no python here"):
            await pilot.press("t")
            assert await wait_for(pilot, lambda expected=expected: expected in panel_text(app)), panel_text(app)
            assert "Training stopped unexpectedly" in panel_text(app)
            assert app.screen.training_run is None and "t" in footer_keys(app)
        assert app.is_running


@pytest.mark.slow
async def test_leaving_the_screen_stops_the_run(course, tmp_path):
    run = FakeRun(training_script(steps=1000, chunk=250), hold_at=3)
    app = training_app(course, tmp_path, run)
    async with app.run_test(size=SIZE) as pilot:
        await start_until_held(pilot, run)
        await pilot.press("escape")
        assert await wait_for(pilot, run.stopped.is_set)


async def test_other_exercises_have_no_training_keys(course, tmp_path):
    app = tutor_app(course, tmp_path, store=opened_on("atomic"), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not {"t", "x", "v"} & footer_keys(app)
        assert not app.screen.query(TrainingPanel)
        await pilot.press("t")
        await settle(pilot)
        assert app.trainer.started == []


def test_plot_draws_a_falling_curve_left_high_right_low():
    values = [1.0 - i / 100 for i in range(100)]
    rows, low, high = plot_rows({"learner": values}, 100, width=10, height=3, styles={})
    assert (round(high, 2), round(low, 2)) == (0.98, 0.03)  # means of 5 steps per dot column
    first_row, last_row = rows[0].plain, rows[-1].plain
    assert first_row[0] != "\u2800" and first_row[-1] == "\u2800"
    assert last_row[-1] != "\u2800" and last_row[0] == "\u2800"
    # Half the run done: the curve fills the left half of the x axis only.
    half = plot_rows({"learner": values[:50]}, 100, width=10, height=3, styles={})[0]
    assert all(row.plain[5:] == "\u2800" * 5 for row in half)
    assert column_means([1.0, 3.0, float("nan"), 5.0], 2, 4) == [2.0, 5.0]
