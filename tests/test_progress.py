"""ProgressStore: passed-once records, the hint count, atomic writes under kill -9, corrupt files, concurrent tutors."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, report_of
from tutor.reports.check import LearnerError
from tutor.workspace import journal, progress, progress_state
from tutor.workspace.progress import ProgressStore
from tutor.workspace.progress_state import parse_state


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / ".backprop-ninja").mkdir()
    return tmp_path


def on_disk(root: Path) -> dict:
    return parse_state((root / ".backprop-ninja" / "progress.json").read_text())


def temp_files(root: Path) -> list[Path]:
    return sorted((root / ".backprop-ninja").glob(".progress.json.*.tmp"))


def test_an_empty_workspace_has_a_fresh_state_and_reading_writes_nothing(root):
    store = ProgressStore(root)
    assert store.load() == {"version": 1, "current": {"exercise": None, "step": None}, "exercises": {}}
    assert store.exercise_state("atomic") == {
        "passed": False, "first_passed_at": None, "attempts": 0, "last_status": None, "steps": {},
    }
    assert store.current() == (None, None)
    assert store.hints_revealed("atomic", "dcounts") == 0
    assert not (root / ".backprop-ninja" / "progress.json").exists()
    assert store.warning is None


def test_a_pass_is_kept_when_the_step_is_edited_back_to_wrong(root):
    store = ProgressStore(root)
    store.record_check("atomic", report_of({"dlogprobs": "wrong", "dprobs": "missing"}))
    first = store.exercise_state("atomic")
    assert first["passed"] is False and first["attempts"] == 1 and first["last_status"] == "failed"
    assert first["steps"]["dlogprobs"]["last_status"] == "failed" and not first["steps"]["dlogprobs"]["passed"]

    snapshot = store.record_check("atomic", report_of({"dlogprobs": "exact", "dprobs": "close"}))
    passed = snapshot["exercises"]["atomic"]
    assert passed["passed"] is True and passed["last_status"] == "passed" and passed["first_passed_at"]
    assert passed["steps"]["dprobs"]["passed"] and passed["steps"]["dprobs"]["first_passed_at"]

    later = {**passed["steps"]["dprobs"]}
    store.record_check("atomic", report_of({"dlogprobs": "exact", "dprobs": "wrong"}))
    again = ProgressStore(root).exercise_state("atomic")  # a second tutor reads the same
    assert again["attempts"] == 3 and again["last_status"] == "failed"
    assert again["passed"] is True and again["first_passed_at"] == passed["first_passed_at"]
    dprobs = again["steps"]["dprobs"]
    assert dprobs["passed"] is True and dprobs["first_passed_at"] == later["first_passed_at"]
    assert dprobs["last_status"] == "failed" and dprobs["attempts"] == 3
    assert again["steps"]["dlogprobs"]["last_status"] == "passed"


def test_a_crash_marks_unreached_steps_as_error(root):
    store = ProgressStore(root)
    crash = LearnerError("exception", "NameError", 5)
    state = store.record_check("atomic", report_of({"dlogprobs": "exact", "dprobs": "missing"}, error=crash))
    atomic = state["exercises"]["atomic"]
    assert atomic["last_status"] == "error" and not atomic["passed"]
    assert atomic["steps"]["dlogprobs"]["last_status"] == "passed" and atomic["steps"]["dlogprobs"]["passed"]
    assert atomic["steps"]["dprobs"]["last_status"] == "error"


def test_hints_are_revealed_one_at_a_time_up_to_the_total(root):
    store = ProgressStore(root)
    assert [store.reveal_hint("atomic", "dcounts", 3) for _ in range(5)] == [1, 2, 3, 3, 3]
    assert store.hints_revealed("atomic", "dcounts") == 3
    assert store.hints_revealed("atomic", "dprobs") == 0
    assert on_disk(root)["exercises"]["atomic"]["steps"]["dcounts"]["hints"] == 3


def test_current_and_reset(root):
    store = ProgressStore(root)
    store.set_current("atomic", "dcounts")
    assert ProgressStore(root).current() == ("atomic", "dcounts")
    store.record_check("atomic", report_of({"dlogprobs": "exact"}))
    store.reveal_hint("batchnorm", "dhprebn", 3)
    store.reset_exercise("atomic")
    assert store.exercise_state("atomic")["attempts"] == 0
    assert store.hints_revealed("batchnorm", "dhprebn") == 1
    assert store.current() == ("atomic", None)


def test_the_file_is_versioned_json_with_the_workspace_permissions(root):
    store = ProgressStore(root)
    store.set_current("atomic", None)
    path = root / ".backprop-ninja" / "progress.json"
    assert json.loads(path.read_text())["version"] == 1
    os.chmod(path, 0o640)
    store.set_current("atomic", "dprobs")
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    "content, kind",
    [
        (b"{\"version\": 1, \"exerc", "corrupt"),
        (b"\x00\xff\xfe binary", "corrupt"),
        (b"[]", "corrupt"),
        (b"", "corrupt"),
        (b'{"exercises": {}}', "corrupt"),
        (b'{"version": 1, "exercises": []}', "corrupt"),
        (b'{"version": 1, "exercises": {"atomic": {"attempts": "three"}}}', "corrupt"),
        (b'{"version": 1, "exercises": {"atomic": {"steps": {"dprobs": {"hints": -1}}}}}', "corrupt"),
        (b'{"version": 2, "exercises": {}}', "unknown-version"),
    ],
)
def test_an_unusable_file_is_kept_aside_and_progress_starts_afresh(root, content, kind):
    path = root / ".backprop-ninja" / "progress.json"
    path.write_bytes(content)
    store = ProgressStore(root)
    assert store.load()["exercises"] == {}
    backups = list((root / ".backprop-ninja").glob(f"progress.*.{kind}.json"))
    assert len(backups) == 1 and backups[0].read_bytes() == content
    assert store.warning and str(backups[0]) in store.warning and "afresh" in store.warning
    if kind == "unknown-version":
        assert "version 2" in store.warning
    assert not path.exists()
    store.reveal_hint("atomic", "dprobs", 3)
    assert on_disk(root)["exercises"]["atomic"]["steps"]["dprobs"]["hints"] == 1


def test_a_corrupt_file_found_by_a_change_is_kept_aside_too(root):
    path = root / ".backprop-ninja" / "progress.json"
    path.write_text("not json at all")
    store = ProgressStore(root)
    assert store.reveal_hint("atomic", "dprobs", 3) == 1
    assert store.warning and "kept as" in store.warning
    assert [p.read_text() for p in (root / ".backprop-ninja").glob("progress.*.corrupt.json")] == ["not json at all"]


def test_an_older_file_missing_a_field_still_loads(root):
    (root / ".backprop-ninja" / "progress.json").write_text(
        '{"version": 1, "exercises": {"atomic": {"attempts": 2, "steps": {"dprobs": {"hints": 1}}}}}'
    )
    store = ProgressStore(root)
    assert store.hints_revealed("atomic", "dprobs") == 1
    assert store.exercise_state("atomic")["passed"] is False and store.current() == (None, None)
    assert store.warning is None


def test_a_failure_between_the_temp_write_and_the_replace_keeps_the_old_state(root, monkeypatch):
    store = ProgressStore(root)
    store.reveal_hint("atomic", "dprobs", 3)
    before = (root / ".backprop-ninja" / "progress.json").read_bytes()

    def no_replace(src, dst):
        assert Path(src).read_text().startswith("{")  # the new state was fully written to the temp file
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(progress.os, "replace", no_replace)
    assert store.reveal_hint("atomic", "dprobs", 3) == 2
    assert (root / ".backprop-ninja" / "progress.json").read_bytes() == before
    assert temp_files(root) == []
    assert store.warning and "cannot save progress" in store.warning and "Input/output error" in store.warning
    assert store.hints_revealed("atomic", "dprobs") == 2  # the session goes on in memory
    assert ProgressStore(root).hints_revealed("atomic", "dprobs") == 1


def test_an_interrupt_during_the_write_keeps_the_old_state(root, monkeypatch):
    store = ProgressStore(root)
    store.reveal_hint("atomic", "dprobs", 3)
    before = (root / ".backprop-ninja" / "progress.json").read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(progress.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.reveal_hint("atomic", "dprobs", 3)
    assert (root / ".backprop-ninja" / "progress.json").read_bytes() == before
    assert temp_files(root) == []


# The child counts checks as fast as it can on a state of ~100 KB (written by the parent); fsync is slowed down so that a good share
# of the kills land between the temp file's creation and the replace, the moment that matters.
KILL_CHILD = textwrap.dedent(
    """
    import os, stat, sys, time
    from pathlib import Path
    from tutor.workspace import progress
    from tutor.workspace.progress import ProgressStore
    from tutor.reports.check import CheckReport, TensorVerdict

    real_fsync = os.fsync
    def slow_fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):  # a slow disk while the data goes out, not for the folder
            time.sleep(0.02)
        real_fsync(fd)
    progress.os.fsync = slow_fsync
    if sys.argv[2] == "in-place":
        def in_place(path, text):  # what atomic writes prevent: truncate, then write in pieces
            with open(path, "w") as handle:
                for start in range(0, len(text), 8192):
                    handle.write(text[start:start + 8192]); handle.flush(); slow_fsync(handle.fileno())
        progress.write_atomically = in_place
    store = ProgressStore(Path(sys.argv[1]))
    print("ready", flush=True)
    while True:
        store.record_check("atomic", CheckReport("atomic", "cpu", 0.0, [TensorVerdict("dprobs", "probs", "exact", (), ())]))
    """
)


def kill_during_writes(root: Path, mode: str, kills: int) -> tuple[list[int | None], int]:
    """Kill the writing child `kills` times; returns the attempts read after each kill (None: unreadable)."""
    rng = random.Random(1234)
    big = progress_state.fresh_state()
    wrong = report_of({f"d{i}": "wrong" for i in range(26)})
    for ident in range(40):
        progress_state.apply_check(big, f"ex{ident}", wrong, progress_state.now_iso())
    path = root / ".backprop-ninja" / "progress.json"
    journal.write_atomically(path, json.dumps(big, indent=1))
    seen, temps = [], 0
    for _ in range(kills):
        child = subprocess.Popen(
            [sys.executable, "-c", KILL_CHILD, str(root), mode],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True,
        )
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.02, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        temps += bool(temp_files(root))
        try:
            seen.append(on_disk(root)["exercises"].get("atomic", {}).get("attempts", 0))
        except progress_state.ProgressFileError:
            seen.append(None)
            journal.write_atomically(path, json.dumps(big, indent=1))
    return seen, temps


@pytest.mark.slow
def test_kill_9_during_writes_leaves_the_old_or_the_new_state(root):
    seen, temps = kill_during_writes(root, "atomic", kills=10)
    assert None not in seen, seen
    assert seen == sorted(seen) and seen[-1] > 0  # each kill keeps what the previous children counted
    assert temps > 0, "no kill landed during a write; the test proved nothing"
    ProgressStore(root).set_current("atomic", None)
    assert temp_files(root) == []  # the next writer sweeps what killed writers left


@pytest.mark.slow
def test_the_kill_test_catches_a_writer_that_writes_in_place(root):
    seen, _ = kill_during_writes(root, "in-place", kills=6)
    assert None in seen


def test_two_stores_never_write_a_stale_copy(root):
    first, second = ProgressStore(root), ProgressStore(root)
    first.load()
    second.reveal_hint("atomic", "dprobs", 3)
    first.reveal_hint("atomic", "dcounts", 3)
    second.record_check("atomic", report_of({"dlogprobs": "exact"}))
    first.record_check("atomic", report_of({"dlogprobs": "wrong"}))
    state = ProgressStore(root).exercise_state("atomic")
    assert state["steps"]["dprobs"]["hints"] == 1 and state["steps"]["dcounts"]["hints"] == 1
    assert state["attempts"] == 2 and state["steps"]["dlogprobs"]["passed"]


def test_a_change_waits_for_the_lock(root):
    lock = os.open(root / ".backprop-ninja" / "progress.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)
    store = ProgressStore(root)
    worker = threading.Thread(target=store.reveal_hint, args=("atomic", "dprobs", 3))
    worker.start()
    worker.join(0.3)
    assert worker.is_alive(), "the change did not wait for the lock"
    os.close(lock)
    worker.join(5)
    assert not worker.is_alive() and store.hints_revealed("atomic", "dprobs") == 1


CONCURRENT_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tutor.workspace.progress import ProgressStore
    from tutor.reports.check import CheckReport, TensorVerdict
    store = ProgressStore(Path(sys.argv[1]))
    for _ in range(int(sys.argv[3])):
        store.record_check("atomic", CheckReport("atomic", "cpu", 0.0, [TensorVerdict("dprobs", "probs", "wrong", (), ())]))
        store.reveal_hint("atomic", sys.argv[2], 1000)
    """
)


@pytest.mark.slow
def test_two_processes_keep_each_others_updates(root):
    rounds = 40
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_CHILD, str(root), step, str(rounds)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for step in ("dcounts", "dlogits")
    ]
    assert [child.wait(60) for child in children] == [0, 0]
    state = ProgressStore(root).exercise_state("atomic")
    assert state["attempts"] == 2 * rounds
    assert state["steps"]["dprobs"]["attempts"] == 2 * rounds
    assert state["steps"]["dcounts"]["hints"] == rounds and state["steps"]["dlogits"]["hints"] == rounds


def test_two_threads_keep_each_others_updates(root):
    stores = [ProgressStore(root), ProgressStore(root)]

    def work(store):
        for _ in range(30):
            store.record_check("atomic", report_of({"dprobs": "wrong"}))

    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ProgressStore(root).exercise_state("atomic")["attempts"] == 60


def test_a_read_only_workspace_keeps_progress_in_memory(root, monkeypatch):
    ProgressStore(root).reveal_hint("atomic", "dprobs", 3)
    before = (root / ".backprop-ninja" / "progress.json").read_bytes()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(journal, "new_temporary", read_only)
    store = ProgressStore(root)
    assert store.reveal_hint("atomic", "dprobs", 3) == 2
    assert store.warning and "Read-only file system" in store.warning and "in memory" in store.warning
    store.record_check("atomic", report_of({"dprobs": "exact"}))
    assert store.hints_revealed("atomic", "dprobs") == 2
    assert store.exercise_state("atomic")["steps"]["dprobs"]["passed"]
    assert (root / ".backprop-ninja" / "progress.json").read_bytes() == before


def test_an_unreadable_file_is_never_overwritten(root, monkeypatch):
    path = root / ".backprop-ninja" / "progress.json"
    path.write_text('{"version": 1, "exercises": {}}')
    real_read_text = Path.read_text

    def unreadable(self, *args, **kwargs):
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", unreadable)
    store = ProgressStore(root)
    assert store.load()["exercises"] == {}
    assert store.warning and "cannot read" in store.warning
    store.reveal_hint("atomic", "dprobs", 3)
    assert store.hints_revealed("atomic", "dprobs") == 1
    assert real_read_text(path) == '{"version": 1, "exercises": {}}'


def test_a_missing_workspace_does_not_crash(tmp_path):
    store = ProgressStore(tmp_path / "nowhere")
    assert store.load()["exercises"] == {}
    assert store.reveal_hint("atomic", "dprobs", 3) == 1
    assert store.warning and "cannot save progress" in store.warning
    assert not (tmp_path / "nowhere").exists()


def refuse_changes_in(monkeypatch, folder: Path) -> None:
    """Make `folder` read-only for this process as a 0o555 folder is for a user who is not root (root, as CI
    runs, writes through mode bits, so chmod cannot test this there): creating, renaming or removing a file in
    it raises PermissionError; reading, and writing a file that already exists, still work."""
    import builtins
    import io

    folder = folder.resolve()

    def inside(path) -> bool:
        return not isinstance(path, int) and Path(os.fsdecode(path)).resolve().parent == folder

    def refuse(path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    def guard(real, creates):
        def guarded(path, *args, **kwargs):
            if inside(path) and creates(path, *args, **kwargs):
                refuse(path)
            return real(path, *args, **kwargs)
        return guarded

    def new_file(path, *args, **kwargs) -> bool:
        return not os.path.lexists(path)

    def opens_new(path, flags, *args, **kwargs) -> bool:
        return bool(flags & os.O_CREAT) and new_file(path)

    def writes_new(path, mode="r", *args, **kwargs) -> bool:
        return any(c in mode for c in "wxa+") and new_file(path)

    def moves(src, dst, *args, **kwargs):
        if inside(src) or inside(dst):
            refuse(dst)
        return real_replace(src, dst, *args, **kwargs)

    real_replace = os.replace
    monkeypatch.setattr(os, "open", guard(os.open, opens_new))
    monkeypatch.setattr(io, "open", guard(io.open, writes_new))
    monkeypatch.setattr(builtins, "open", guard(builtins.open, writes_new))
    monkeypatch.setattr(os, "mkdir", guard(os.mkdir, lambda *a, **k: True))
    monkeypatch.setattr(os, "unlink", guard(os.unlink, lambda *a, **k: True))
    monkeypatch.setattr(os, "remove", guard(os.remove, lambda *a, **k: True))
    monkeypatch.setattr(os, "rename", moves)
    monkeypatch.setattr(os, "replace", moves)


def test_a_read_only_folder_gives_a_warning_not_a_crash(root, monkeypatch):
    ProgressStore(root).reveal_hint("atomic", "dprobs", 3)
    before = sorted(p.name for p in (root / ".backprop-ninja").iterdir())
    with monkeypatch.context() as patch:
        refuse_changes_in(patch, root / ".backprop-ninja")
        store = ProgressStore(root)
        assert store.reveal_hint("atomic", "dprobs", 3) == 2
        assert store.warning and "in memory" in store.warning
    assert sorted(p.name for p in (root / ".backprop-ninja").iterdir()) == before
    assert ProgressStore(root).hints_revealed("atomic", "dprobs") == 1
