"""Progress that survives a held lock and a trampled file, course errors as one line, and the command line's
refusals (timeout range, files that are not files, data quirks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import LEARNER_FILES, ROOT, report_of
from tests.ui_fakes import FakeChecker, FakeTrainer
from tests.ui_helpers import settle, workspace
from tutor.workspace.progress import ProgressBusy, ProgressStore

HOLD_LOCK = """
import fcntl, sys, time
fd = open(sys.argv[1], "a")
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


class LockHolder:
    """Another process (as a learner's helper would be) holding progress.lock until stopped."""

    def __init__(self, root: Path) -> None:
        lock = root / ".backprop-ninja" / "progress.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)], stdout=subprocess.PIPE,
                                     text=True, start_new_session=True)
        assert self.proc.stdout.readline().strip() == "locked"

    def __enter__(self) -> LockHolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


REPORT = report_of({"dlogprobs": "exact", "dprobs": "wrong"})


# ---- the lock ------------------------------------------------------------------------------------------------


def test_a_held_lock_refuses_a_change_within_the_timeout_and_reads_still_work(tmp_path):
    store = ProgressStore(tmp_path, lock_timeout=0.5)
    store.record_check("atomic", REPORT)
    with LockHolder(tmp_path):
        started = time.monotonic()
        with pytest.raises(ProgressBusy, match="progress.lock"):
            store.record_check("atomic", REPORT)
        assert time.monotonic() - started < 2.0
        assert store.exercise_state("atomic")["steps"]["dlogprobs"]["passed"]  # read without the lock
    assert store.exercise_state("atomic")["attempts"] == 1


@pytest.mark.slow  # waits out the lock's timeout
def test_check_returns_its_verdict_while_another_process_holds_the_lock(course, tmp_path, backprop_ninja):
    workspace(course, tmp_path)
    shutil.copyfile(ROOT / "solutions" / "atomic.py", tmp_path / "atomic.py")
    with LockHolder(tmp_path):
        started = time.monotonic()
        result = backprop_ninja("check", "1", "--workspace", str(tmp_path))
        took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "all 26 gradients match autograd" in result.stdout
    assert "not counted" in result.stderr and "Traceback" not in result.stderr
    # the start-up of a Checker when none is warm (torch, the contexts) plus the check and at most the lock's wait
    assert took < 5 + 5 + 30, took


async def test_the_tutor_quits_at_once_while_the_lock_is_held(course, tmp_path):
    from tutor.ui.app import TutorApp

    ws = workspace(course, tmp_path)
    store = ProgressStore(ws.root)
    store.set_current("atomic", None)
    with LockHolder(tmp_path):
        app = TutorApp(course, ws, store, FakeChecker(course), trainer=FakeTrainer(), watch=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("c")  # a check: its record waits on the lock in the background
            await pilot.pause(0.1)
            started = time.monotonic()
            await pilot.press("q")
            while app.is_running and time.monotonic() - started < 5:
                await pilot.pause(0.02)
            took = time.monotonic() - started
        assert not app.is_running
        assert took < 1.0, f"q took {took:.2f} s with the progress lock held"


# ---- a trampled progress file ---------------------------------------------------------------------------------


def test_an_overwritten_progress_file_is_recovered_with_every_pass(tmp_path):
    store = ProgressStore(tmp_path)
    store.record_check("atomic", REPORT)
    store.record_check("cross-entropy", PASSED_CE)
    (tmp_path / ".backprop-ninja" / "progress.json").write_text("not progress any more")
    fresh = ProgressStore(tmp_path)
    state = fresh.load()
    assert state["exercises"]["atomic"]["steps"]["dlogprobs"]["passed"]
    assert state["exercises"]["cross-entropy"]["passed"]
    assert "recovered" in (fresh.warning or "")
    assert list((tmp_path / ".backprop-ninja").glob("progress.*.corrupt.json"))  # the bad content kept aside


def test_learner_code_that_overwrites_progress_loses_no_pass(checker, atomic, tmp_path):
    store = ProgressStore(tmp_path)
    store.record_check("atomic", REPORT)
    path = tmp_path / "atomic.py"
    shutil.copyfile(LEARNER_FILES / "overwrites_progress.py", path)
    checker.check(atomic, path)
    assert (tmp_path / ".backprop-ninja" / "progress.json").read_text() == "not progress any more"
    assert ProgressStore(tmp_path).exercise_state("atomic")["steps"]["dlogprobs"]["passed"]


PASSED_CE = report_of({"dlogits": "close"}, exercise="cross-entropy")


def test_learner_code_that_forges_progress_and_its_copy_loses_no_pass(tmp_path, backprop_ninja):
    """`backprop-ninja check` on a file that writes a valid-looking progress.json and .bak: the check is
    counted on top of every pass recorded before, and the forged file is kept aside."""
    ws = tmp_path / "ws"
    assert backprop_ninja("init", str(ws)).returncode == 0
    store = ProgressStore(ws)
    store.record_check("atomic", REPORT)
    store.record_check("cross-entropy", PASSED_CE)
    shutil.copyfile(LEARNER_FILES / "forges_progress.py", ws / "atomic.py")
    checked = backprop_ninja("check", "atomic", "--workspace", str(ws))
    assert checked.returncode == 1
    err = checked.stderr
    assert "kept as" in err and "recovered" in err and "Traceback" not in err
    state = ProgressStore(ws).load()
    assert "made-up" not in state["exercises"]
    assert state["exercises"]["cross-entropy"]["passed"]
    assert state["exercises"]["atomic"]["steps"]["dlogprobs"]["passed"]
    assert state["exercises"]["atomic"]["attempts"] == 2
    for name in ("progress.json", "progress.json.bak"):
        assert "made-up" not in (ws / ".backprop-ninja" / name).read_text()
    (aside,) = (ws / ".backprop-ninja").glob("progress.*.foreign.json")
    assert "made-up" in aside.read_text()


def test_an_older_copy_put_back_is_caught_too(tmp_path):
    store = ProgressStore(tmp_path)
    store.record_check("atomic", REPORT)
    older = (tmp_path / ".backprop-ninja" / "progress.json").read_text()
    store.record_check("cross-entropy", PASSED_CE)
    for name in ("progress.json", "progress.json.bak"):
        (tmp_path / ".backprop-ninja" / name).write_text(older)
    (tmp_path / ".backprop-ninja" / "progress.json").unlink()
    fresh = ProgressStore(tmp_path)
    assert fresh.exercise_state("cross-entropy")["passed"]
    assert "missing" in (fresh.warning or "")
    (tmp_path / ".backprop-ninja" / "progress.json").write_text(older)
    fresh = ProgressStore(tmp_path)
    assert fresh.exercise_state("cross-entropy")["passed"] and "kept as" in (fresh.warning or "")
    assert list((tmp_path / ".backprop-ninja").glob("progress.*.foreign.json"))


def test_a_write_cut_short_before_the_journal_caught_up_is_the_tutors_own(tmp_path, monkeypatch):
    from tutor.workspace.journal import Journal

    store = ProgressStore(tmp_path)
    store.record_check("atomic", REPORT)
    real_write = Journal.write
    # kill -9 right after progress.json was replaced: the journal only knows the write was under way
    monkeypatch.setattr(Journal, "write", lambda self, text, pending: pending is not None and real_write(self, text, pending))
    store.record_check("cross-entropy", PASSED_CE)
    monkeypatch.undo()
    fresh = ProgressStore(tmp_path)
    assert fresh.exercise_state("cross-entropy")["passed"] and fresh.warning is None
    assert not list((tmp_path / ".backprop-ninja").glob("progress.*.json"))


def test_the_journal_never_applies_to_a_new_workspace_at_the_same_path(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    ProgressStore(ws).record_check("cross-entropy", PASSED_CE)
    ws.rename(tmp_path / "old")  # the learner keeps the old workspace and starts a new one in its place
    (ws / ".backprop-ninja").mkdir(parents=True)
    store = ProgressStore(ws)
    assert store.load()["exercises"] == {} and store.warning is None


def test_without_a_place_for_the_journal_the_last_good_copy_still_works(tmp_path, monkeypatch):
    blocked = tmp_path / "state"
    blocked.write_text("a file where the folder would go")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))
    ws = tmp_path / "ws"
    ws.mkdir()
    store = ProgressStore(ws)
    store.record_check("cross-entropy", PASSED_CE)
    assert store.warning is None
    (ws / ".backprop-ninja" / "progress.json").write_text("not progress any more")
    fresh = ProgressStore(ws)
    assert fresh.exercise_state("cross-entropy")["passed"] and "recovered" in (fresh.warning or "")


def test_the_journal_key_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    ProgressStore(tmp_path).record_check("atomic", REPORT)
    key = tmp_path / "state" / "backprop-ninja" / "progress.key"
    assert key.stat().st_mode & 0o077 == 0 and len(key.read_bytes()) == 32
    assert (tmp_path / "state" / "backprop-ninja").stat().st_mode & 0o077 == 0


def test_one_shot_commands_do_not_promise_to_keep_progress_until_the_tutor_exits(tmp_path):
    state_dir = tmp_path / ".backprop-ninja"
    state_dir.mkdir()
    (state_dir / "progress.json").mkdir()  # cannot be read as a file, nor moved over
    store = ProgressStore(tmp_path, one_shot=True)
    store.load()
    assert store.warning and "until the tutor exits" not in store.warning
    assert "not saved" in store.warning


# ---- course errors ---------------------------------------------------------------------------------------------

# label: (file, old, new, the key named, the exercise checked, whether the line names that exercise)
COURSE_FAULTS = {
    "forward divides by zero": ("model.toml", "emb = C[Xb]", "emb = C[Xb]\n_ = 1/0", "model.forward", "atomic", True),
    "forward names nothing": ("model.toml", "emb = C[Xb]", "emb = C[Xb] + undefined_name", "model.forward", "atomic", True),
    "seed beyond 64 bits": ("model.toml", "seed = 2147483647", "seed = 99999999999999999999", "seed", "atomic", False),
    "a step of no tensor": ("atomic.toml", 'of = "logprobs"', 'of = "nosuch"', "of", "atomic", True),
    "an unknown parameter": ("model.toml", '"bngain", "bnbias"]', '"bngain", "bnbias", "W9"]', "parameters", "atomic", True),
    "the extra forward line fails": (
        "cross_entropy.toml", "loss_fast = F.cross_entropy(logits, Yb)", "loss_fast = F.cross_entropy(logits, Yb) / 0.0 + nope",
        "model.forward_extra", "cross-entropy", True,
    ),
}


# one fault in the fast tier; each costs a course copy and a forward pass
@pytest.mark.parametrize("label", [label if i == 0 else pytest.param(label, marks=pytest.mark.slow)
                                   for i, label in enumerate(COURSE_FAULTS)])
def test_a_broken_course_is_one_line_naming_file_exercise_and_key(tmp_path, monkeypatch, capsys, label):
    import tutor.cli
    from tutor.course import load_course

    file, old, new, key, exercise, named = COURSE_FAULTS[label]
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    toml = tmp_path / "exercises" / file
    text = toml.read_text()
    assert old in text
    toml.write_text(text.replace(old, new, 1))
    monkeypatch.setattr(tutor.cli, "cached_course", lambda root=None: load_course(tmp_path))
    solution = ROOT / "solutions" / f"{exercise.replace('-', '_')}.py"
    code = tutor.cli.main(["check", exercise, "--file", str(solution), "--workspace", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"exercises/{file}" in lines[0] and key in lines[0]
    assert (f"'{exercise}'" in lines[0]) == named, lines[0]
    assert "Traceback" not in out + err
    if file != "model.toml":
        assert "model.toml" not in lines[0]


# ---- the command line's refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "1e300", "1e-9", "nan", "0"])
def test_timeout_outside_its_range_is_refused(value, capsys):
    from tutor.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["check", "1", "--file", "x.py", "--timeout", value])
    assert stop.value.code == 2
    assert "between 0.1 and 600" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["check", "1", "--file", "x.py"], ["tui"], ["train"]])
@pytest.mark.parametrize("value, reason", [("1e300", "between 0.1 and 600"), ("-1", "between 0.1 and 600"),
                                           ("ten", "'ten' is not a number"), ("", "'' is not a number")])
def test_a_refused_timeout_is_one_line_without_the_usage_block(command, value, reason, capsys):
    from tutor.cli import main

    with pytest.raises(SystemExit) as stop:
        main([*command, f"--timeout={value}"])
    out, err = capsys.readouterr()
    assert stop.value.code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"backprop-ninja {command[0]}: argument --timeout: "), err
    assert reason in err and "usage" not in err


def test_other_usage_mistakes_still_show_the_usage(capsys):
    from tutor.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["check", "1", "--nosuch"])
    assert stop.value.code == 2 and "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("fails", ["write", "replace"])
def test_reset_on_a_read_only_workspace_says_why_in_one_line(tmp_path, monkeypatch, capsys, fails):
    """A read-only folder refuses the starter's temp copy (or the rename over the learner's file) and then
    the cleanup's unlink as well: the first refusal is the one reported, and nothing is changed."""
    import errno

    from tutor.cli import main
    from tutor.workspace import files as workspace_module

    ws = tmp_path / "ws"
    assert main(["init", str(ws)]) == 0
    mine = ws / "atomic.py"
    mine.write_text("dlogprobs = None  # my work\n")
    ProgressStore(ws).record_check("atomic", REPORT)
    capsys.readouterr()

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    def read_only_fs(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    if fails == "write":  # the starter's temp copy
        monkeypatch.setattr(workspace_module, "write_starter", read_only)
    else:
        monkeypatch.setattr(workspace_module.os, "replace", read_only_fs)
    monkeypatch.setattr(Path, "unlink", read_only)
    code = main(["reset", "atomic", "--yes", "--workspace", str(ws)])
    monkeypatch.undo()
    out, err = capsys.readouterr()
    reason = "Permission denied" if fails == "write" else "Read-only file system"
    assert code == 1 and "Traceback" not in out + err
    assert err == f"backprop-ninja: cannot reset {mine}: {reason}; nothing changed\n"
    assert "restored" not in out and "cleared" not in out
    assert mine.read_text() == "dlogprobs = None  # my work\n"
    assert ProgressStore(ws).exercise_state("atomic")["attempts"] == 1


def test_files_that_are_not_regular_files_are_refused(tmp_path, capsys):
    from tutor.cli import main

    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    big = tmp_path / "big.py"
    big.write_text("x = 1\n" * 300_000)
    for path, words in (("/dev/zero", "not a regular file"), (str(fifo), "not a regular file"), (str(big), "at most")):
        started = time.monotonic()
        assert main(["check", "1", "--file", path]) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
        assert time.monotonic() - started < 30


def test_a_data_file_may_start_with_a_byte_order_mark(tmp_path):
    from tutor.engine.data import load_names

    path = tmp_path / "names.txt"
    path.write_bytes("\ufeff".encode() + "\n".join(f"name{chr(97 + i)}" for i in range(12)).encode())
    assert load_names(path).words[0] == "namea"


def test_one_name_is_one_name(tmp_path):
    from tutor.engine.data import DataError, load_names

    path = tmp_path / "names.txt"
    path.write_text("emma\n")
    with pytest.raises(DataError, match="holds 1 name;"):
        load_names(path)


def test_data_problems_are_found_in_every_chunk(tmp_path, monkeypatch):
    from tutor.engine import data

    monkeypatch.setattr(data, "CHUNK", 64)  # many chunks, a line split across two of them
    path = tmp_path / "names.txt"
    path.write_text("".join(f"name{i:03d}x\n" for i in range(40)) + "bad.name\n")
    with pytest.raises(data.DataError, match=r":41: the name 'bad.name'"):
        data.load_names(path)


def test_examples_are_the_lectures(tmp_path):
    import torch

    from tutor.engine.data import build_examples

    stoi = {".": 0, "-": 1, "a": 2, "b": 3, "é": 4}
    X, Y = build_examples(["a-b", "é", "ba"], stoi, 3)
    xs, ys = [], []
    for w in ["a-b", "é", "ba"]:  # the lecture's build_dataset
        context = [0] * 3
        for ch in w + ".":
            xs.append(context)
            ys.append(stoi[ch])
            context = context[1:] + [stoi[ch]]
    assert X.tolist() == xs and Y.tolist() == ys and X.dtype == torch.long


def test_a_relative_xdg_data_home_is_ignored(monkeypatch, tmp_path):
    from tutor.workspace.files import default_workspace

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")
    assert default_workspace() == tmp_path / ".local" / "share" / "backprop-ninja" / "workspace"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "abs"))
    assert default_workspace() == tmp_path / "abs" / "backprop-ninja" / "workspace"


def test_init_quotes_the_workspace_in_its_hint(tmp_path, capsys):
    from tutor.cli import main

    root = tmp_path / "my work"
    assert main(["init", str(root)]) == 0
    assert f"--workspace '{root}'" in capsys.readouterr().out


def test_json_progress_file_stays_json(tmp_path):
    store = ProgressStore(tmp_path)
    store.record_check("atomic", REPORT)
    for name in ("progress.json", "progress.json.bak"):
        assert json.loads((tmp_path / ".backprop-ninja" / name).read_text())["version"] == 1
