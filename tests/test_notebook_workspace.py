"""A workspace notebook: atomic.ipynb takes the place of atomic.py for the tutor's checks, its watch, `e`, `t`,
`check` and `train` without --file; reset restores the .py and never touches the notebook."""

from __future__ import annotations

import contextlib
import json
import os
import time

import pytest

pytest.importorskip("nbformat", reason="checking notebooks needs nbformat (pip install '.[jupyter]')")

from tests.lecture_notebook import answer_lines, cell_number, exercise1_cell, lecture_cells, write_notebook  # noqa: E402
from tests.ui_fakes import FakeStore, FakeTrainer  # noqa: E402
from tests.ui_helpers import plain, settle, tutor_app, wait_for, workspace  # noqa: E402
from tutor.service.client import CheckClient  # noqa: E402
from tutor.ui.screens.exercise import ExerciseScreen  # noqa: E402
from tutor.ui.screens.modals import ConfirmScreen  # noqa: E402
from tutor.ui.widgets.banner import Banner  # noqa: E402
from tutor.ui.widgets.step_table import StepTable  # noqa: E402

SIZE = (110, 34)


def banner_text(app) -> str:
    return plain(app.screen.query_one(Banner).content)


def broken_exercise1() -> tuple[list[tuple[str, str]], int, int]:
    """A lecture notebook whose exercise 1 cell stops with a NameError; (cells, its cell number, line in the cell)."""
    lines = answer_lines("atomic.py")
    lines.insert(3, "dcounts = counts_sum_inv * undefined_name")
    cells = lecture_cells(ex1=exercise1_cell(lines))
    number = cell_number(cells, "# Exercise 1")
    line = cells[number - 1][1].split("\n").index("dcounts = counts_sum_inv * undefined_name") + 1
    return cells, number, line


def save_notebook(path, cells) -> None:
    """Save as an editor does: a temp file renamed over the notebook."""
    tmp = write_notebook(path.with_name(f".{path.name}.swp"), cells)
    tmp.replace(path)


# ---- the rule ------------------------------------------------------------------------------------------------


def test_the_py_is_checked_until_a_notebook_is_there(course, tmp_path):
    ws = workspace(course, tmp_path)
    atomic = course.find("atomic")
    assert ws.checked_file(atomic) == tmp_path / "atomic.py"
    assert ws.watched_names(atomic) == ("atomic.py", "atomic.ipynb")
    write_notebook(tmp_path / "atomic.ipynb", lecture_cells())
    assert ws.checked_file(atomic) == tmp_path / "atomic.ipynb"
    assert ws.file_for(atomic) == tmp_path / "atomic.py"  # what init creates and reset restores stays the .py
    assert ws.checked_file(course.find("batchnorm")) == tmp_path / "batchnorm.py"  # per exercise
    (tmp_path / "atomic.ipynb").unlink()
    assert ws.checked_file(atomic) == tmp_path / "atomic.py"


def test_the_notebook_wins_even_when_the_py_is_newer(course, tmp_path):
    ws = workspace(course, tmp_path)
    atomic = course.find("atomic")
    notebook = write_notebook(tmp_path / "atomic.ipynb", lecture_cells())
    os.utime(notebook, (time.time() - 3600, time.time() - 3600))
    (tmp_path / "atomic.py").write_text("dlogprobs = None\n")
    assert ws.checked_file(atomic) == notebook


def test_a_notebook_alone_is_checked(course, tmp_path):
    ws = workspace(course, tmp_path)
    (tmp_path / "atomic.py").unlink()
    notebook = write_notebook(tmp_path / "atomic.ipynb", lecture_cells())
    assert ws.checked_file(course.find("atomic")) == notebook


def test_one_lecture_notebook_linked_under_each_name_is_watched_through_the_link(course, tmp_path):
    from tutor.workspace.watch import FolderWatcher

    ws = workspace(course, tmp_path)
    lecture = write_notebook(tmp_path / "makemore_part4.ipynb", lecture_cells())
    (tmp_path / "atomic.ipynb").symlink_to(lecture.name)
    assert ws.checked_file(course.find("atomic")) == tmp_path / "atomic.ipynb"
    watcher = FolderWatcher(tmp_path, ws.watched_names(course.find("atomic")), lambda name: None)
    before = watcher.scan()["atomic.ipynb"]
    time.sleep(0.01)
    save_notebook(lecture, lecture_cells(ex2=["dlogits = 0"]))
    assert watcher.scan()["atomic.ipynb"] != before  # a save of the notebook the link names is a save of the link


def test_reset_restores_the_py_and_never_touches_the_notebook(course, tmp_path):
    ws = workspace(course, tmp_path)
    atomic = course.find("atomic")
    (tmp_path / "atomic.py").write_text("dlogprobs = 1  # mine\n")
    notebook = write_notebook(tmp_path / "atomic.ipynb", lecture_cells())
    before = notebook.read_bytes()
    backup = ws.reset_file(atomic)
    assert notebook.read_bytes() == before
    assert (tmp_path / "atomic.py").read_text() == atomic.starter.read_text()
    assert backup is not None and backup.read_text() == "dlogprobs = 1  # mine\n"
    assert [p.suffix for p in ws.backups_dir.iterdir()] == [".py"]
    assert ws.checked_file(atomic) == notebook


# ---- the command line ----------------------------------------------------------------------------------------


def test_check_and_reset_without_file_use_the_workspace_notebook(course, tmp_path, backprop_ninja):
    ws = workspace(course, tmp_path)
    notebook = write_notebook(tmp_path / "atomic.ipynb", lecture_cells())
    before = notebook.read_bytes()
    proc = backprop_ninja("check", "atomic", "--workspace", str(ws.root))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "atomic.ipynb: checking cell" in proc.stdout
    progress = json.loads(backprop_ninja("progress", "--json", "--workspace", str(ws.root)).stdout)
    assert progress["exercises"]["atomic"]["passed"] is True  # the notebook's check counts as the workspace's
    proc = backprop_ninja("reset", "atomic", "--yes", "--workspace", str(ws.root))
    assert proc.returncode == 0, proc.stderr
    assert "atomic.ipynb is not touched" in proc.stdout
    assert notebook.read_bytes() == before


# ---- the tutor, with the real check service ------------------------------------------------------------------


class LentService:
    """The module's one real check service, lent to each app in turn: the tutor closes its checker when it quits,
    and what that closes is the loan, not the service (a fresh one is seconds of torch and contexts)."""

    def __init__(self, service: CheckClient) -> None:
        self.service = service

    def start(self) -> None:
        self.service.start()

    def check(self, exercise_id, path):
        return self.service.check(exercise_id, path)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def service():
    c = CheckClient(timeout=10.0)
    yield c
    c.close()


@pytest.fixture
def client(service):
    return LentService(service)


# the tests below share the module's service: under -n they share a worker
SERVICE = pytest.mark.xdist_group("notebook-service")


@pytest.mark.slow
@SERVICE
async def test_the_tutor_checks_the_notebook_and_rechecks_it_on_save(course, tmp_path, client):
    store = FakeStore()
    store.set_current("atomic", None)
    workspace(course, tmp_path)
    notebook = write_notebook(tmp_path / "atomic.ipynb", lecture_cells())
    app = tutor_app(course, tmp_path, store=store, checker=client)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: "Passed" in banner_text(app), timeout=60), banner_text(app)
        screen = app.screen
        assert isinstance(screen, ExerciseScreen) and screen.path == notebook
        assert screen.sub_title == "atomic.ipynb"
        assert str(screen.query_one(StepTable).get_cell("dlogprobs", "status")) == "exact"
        assert store.exercise_state("atomic")["passed"]

        cells, number, line = broken_exercise1()
        save_notebook(notebook, cells)
        assert await wait_for(pilot, lambda: "undefined_name" in banner_text(app), timeout=30), banner_text(app)
        text = banner_text(app)
        assert f"in atomic.ipynb: cell {number}, line {line}:" in text
        assert "dcounts = counts_sum_inv * undefined_name" in text  # the cell's own line, not the .ipynb's JSON
        assert f"{line} " in text.split("undefined_name")[-2].splitlines()[-1]  # numbered as in the cell


@pytest.mark.slow
@SERVICE
async def test_moving_the_notebook_away_goes_back_to_the_py(course, tmp_path, client):
    store = FakeStore()
    store.set_current("cross-entropy", None)
    workspace(course, tmp_path)
    write_notebook(tmp_path / "cross_entropy.ipynb", lecture_cells())
    app = tutor_app(course, tmp_path, store=store, checker=client)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: "Passed" in banner_text(app), timeout=60), banner_text(app)
        (tmp_path / "cross_entropy.ipynb").unlink()  # moved away: back to the .py, which is the starter
        assert await wait_for(pilot, lambda: "0/1 gradients pass" in banner_text(app), timeout=30), banner_text(app)
        assert app.screen.sub_title == "cross_entropy.py"


@pytest.mark.slow
@SERVICE
async def test_reset_in_the_tutor_keeps_the_notebook(course, tmp_path, client):
    store = FakeStore()
    store.set_current("batchnorm", None)
    workspace(course, tmp_path)
    notebook = write_notebook(tmp_path / "batchnorm.ipynb", lecture_cells())
    before = notebook.read_bytes()
    app = tutor_app(course, tmp_path, store=store, checker=client, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: "Passed" in banner_text(app), timeout=60), banner_text(app)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "batchnorm.ipynb is not touched" in plain(app.screen.question)
        await pilot.press("y")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExerciseScreen) and app.screen.reply is not None
                              and "Passed" in banner_text(app), timeout=30), banner_text(app)
        assert notebook.read_bytes() == before
        assert (tmp_path / "batchnorm.py").read_text() == course.find("batchnorm").starter.read_text()
        assert any("batchnorm.ipynb is not touched" in str(n.message) for n in app._notifications)


@pytest.mark.slow
async def test_edit_and_train_use_the_notebook(course, tmp_path, monkeypatch):
    import tutor.ui.screens.exercise as exercise_screen

    opened = []
    monkeypatch.setenv("VISUAL", "my-editor --wait")
    monkeypatch.setattr(exercise_screen.subprocess, "run", lambda command, check: opened.append(command))
    store = FakeStore()
    store.set_current("training", None)
    trainer = FakeTrainer()
    workspace(course, tmp_path)
    notebook = write_notebook(tmp_path / "training.ipynb", lecture_cells())
    app = tutor_app(course, tmp_path, store=store, watch=False, trainer=trainer)
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)  # the test's terminal cannot hand over
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert opened == [["my-editor", "--wait", str(notebook)]]
        await pilot.press("t")
        await settle(pilot)
        assert trainer.started == [("training", notebook)]
        assert app.screen.query_one("#training").path == notebook


def test_training_from_a_notebook_places_an_error_at_its_cell_and_line(course, tmp_path, shared_checkers):
    from tutor.training.session import train_exercise

    backward = answer_lines("training.py")
    backward.insert(1, "dlogits = dlogits * undefined_name")
    cells = lecture_cells(ex4=backward)
    notebook = write_notebook(tmp_path / "training.ipynb", cells)
    number = cell_number(cells, "# Exercise 4")
    line = cells[number - 1][1].split("\n").index("    dlogits = dlogits * undefined_name") + 1
    result = train_exercise(course, course.find("training"), notebook, steps=1, reference=False)
    assert not result.passed and result.error is not None
    assert result.error["cell"] == number and result.error["line"] == line
    assert result.error["message"].startswith(f"cell {number}, line {line}: ")
    assert "undefined_name" in result.error["message"]
    assert result.error["source"] == "    dlogits = dlogits * undefined_name"
