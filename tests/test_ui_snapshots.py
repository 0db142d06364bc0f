"""Snapshots of the tutor's key screens (update with --snapshot-update only after looking at the report)."""

from __future__ import annotations

import pytest

from tests.ui_fakes import FakeStore
from tests.ui_helpers import settle, tutor_app


@pytest.fixture
def home(tmp_path, monkeypatch):
    # Paths on screen are shown under ~, so a per-test HOME keeps the pictures stable.
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path / "workspace"


def failing_workspace(course, root):
    from tests.ui_helpers import workspace

    ws = workspace(course, root)
    path = ws.file_for(course.find("atomic"))
    path.write_text(path.read_text().replace("dlogprobs = None", "dlogprobs = torch.zeros(1)")
                    .replace("dprobs = None", "dprobs = WRONG"))
    return ws


def test_snapshot_home(snap_compare, course, home):
    app = tutor_app(course, home, watch=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_snapshot_exercise_with_failing_table(snap_compare, course, home):
    failing_workspace(course, home)
    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, home, store=store, watch=False)
    assert snap_compare(app, terminal_size=(100, 30), run_before=settle)


def test_snapshot_detail_pane_with_heatmaps(snap_compare, course, home):
    failing_workspace(course, home)
    store = FakeStore()
    store.set_current("atomic", "dprobs")
    store.reveal_hint("atomic", "dprobs", 3)
    app = tutor_app(course, home, store=store, watch=False)
    assert snap_compare(app, terminal_size=(110, 48), run_before=settle)


def test_snapshot_error_at_80x24(snap_compare, course, home):
    ws = failing_workspace(course, home)
    path = ws.file_for(course.find("atomic"))
    path.write_text(path.read_text().replace("dcounts = None", "raise ValueError"))
    store = FakeStore()
    store.set_current("atomic", None)
    app = tutor_app(course, home, store=store, watch=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_snapshot_finished_training_run(snap_compare, course, home):
    from tests.ui_fakes import FakeRun, FakeTrainer, training_script
    from tests.ui_helpers import wait_for, workspace
    from tutor.ui.widgets.training import TrainingPanel

    ws = workspace(course, home)
    training = course.find("training")
    ws.file_for(training).write_text(training.solution.read_text())
    store = FakeStore()
    store.set_current("training", None)
    app = tutor_app(course, home, store=store, trainer=FakeTrainer(FakeRun(training_script())), watch=False)

    async def train(pilot):
        await settle(pilot)
        await pilot.press("t")
        assert await wait_for(pilot, lambda: app.screen.query_one(TrainingPanel).last is not None)
        await settle(pilot)

    assert snap_compare(app, terminal_size=(100, 48), run_before=train)
