"""Re-check on save: the folder watcher sees every way an editor saves, with inotify and without."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from tutor.workspace.watch import FolderWatcher

MODES = [True, False]


class Seen:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.event = threading.Event()

    def __call__(self, name: str) -> None:
        self.names.append(name)
        self.event.set()

    def wait(self) -> list[str]:
        assert self.event.wait(5), "no change reported within 5 s"
        self.event.clear()
        return self.names


@pytest.fixture(params=MODES, ids=["inotify", "polling"])
def watched(request, tmp_path: Path):
    (tmp_path / "atomic.py").write_text("dlogprobs = None\n")
    seen = Seen()
    watcher = FolderWatcher(tmp_path, ["atomic.py", "batchnorm.py"], seen)
    watcher.start(use_inotify=request.param)
    if request.param and sys.platform.startswith("linux"):
        assert watcher.mode == "inotify"
    if not request.param:
        assert watcher.mode == "polling"
    # let the first scan record the folder as it is
    threading.Event().wait(0.4)
    yield tmp_path, seen
    watcher.stop()


def test_in_place_write_is_seen(watched):
    folder, seen = watched
    (folder / "atomic.py").write_text("dlogprobs = 1\n")
    assert seen.wait() == ["atomic.py"]


def test_save_by_rename_is_seen_again_and_again(watched):
    folder, seen = watched
    for i in range(3):
        tmp = folder / ".atomic.py.swp"
        tmp.write_text(f"dlogprobs = {i}\n")
        tmp.replace(folder / "atomic.py")
        assert seen.wait() == ["atomic.py"] * (i + 1)


def test_new_and_deleted_files_are_changes_but_others_are_not(watched):
    folder, seen = watched
    (folder / "notes.txt").write_text("not watched\n")
    (folder / "batchnorm.py").write_text("dhprebn = None\n")
    assert seen.wait() == ["batchnorm.py"]
    (folder / "atomic.py").unlink()
    assert seen.wait() == ["batchnorm.py", "atomic.py"]


def test_a_missing_folder_is_a_problem_not_a_crash(tmp_path):
    problems: list[str | None] = []
    got = threading.Event()

    def on_problem(message):
        problems.append(message)
        got.set()

    watcher = FolderWatcher(tmp_path / "gone", ["atomic.py"], lambda name: None, on_problem, interval=0.05)
    watcher.start()
    try:
        assert got.wait(5)
        assert "cannot read" in problems[0]
        assert watcher.mode == "polling"
    finally:
        watcher.stop()
