"""A hostile or clumsy learner's file: no orphan, no hang, no flood, no traceback, and the verdict blames the code.

Each test runs a file from tests/learner_files/ (copied to a temporary folder, since some write a .pid file
beside themselves) or feeds the tutor a forged result frame, and checks what the learner now gets."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import LEARNER_FILES, ROOT
from tutor.process.wire import MAX_HEADER, WireError, decode_frame
from tutor.sandbox.results import runs_of_frame

KIB = 1024


def copy_learner(name: str, folder: Path) -> Path:
    target = folder / name
    shutil.copyfile(LEARNER_FILES / name, target)
    return target


def alive(pid: int) -> bool:
    """Running or stopped: a zombie or a missing /proc entry is dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def wait_dead(pid: int, within: float) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return not alive(pid)


def status(report, name: str) -> str:
    return next(t for t in report.tensors if t.name == name).status


# ---- processes the learner's code starts -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["orphan_new_session.py", "orphan_double_fork.py"])
def test_a_helper_in_its_own_session_dies_with_the_check(checker, atomic, tmp_path, name):
    path = copy_learner(name, tmp_path)
    report = checker.check(atomic, path)
    assert report.error is None
    pid = int(path.with_suffix(".pid").read_text())
    assert wait_dead(pid, within=1.0), f"process {pid} started by the learner's code outlived the check"


def test_a_fork_holding_the_result_pipe_does_not_delay_the_verdict(checker, atomic, tmp_path):
    path = copy_learner("fork_holds_pipe.py", tmp_path)
    started = time.monotonic()
    report = checker.check(atomic, path)
    assert time.monotonic() - started < 5.0
    assert report.error is None
    assert status(report, "dlogprobs") == "exact"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find processes")
def test_zygote_and_child_die_within_a_second_of_a_killed_cli(tmp_path):
    path = copy_learner("loops_with_pid.py", tmp_path)
    cli = subprocess.Popen(
        [sys.executable, "-m", "tutor", "check", "1", "--file", str(path), "--timeout", "60"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    pid_file = path.with_suffix(".pid")
    try:
        deadline = time.monotonic() + 90
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pid_file.exists(), "the learner's file never ran"
        time.sleep(0.2)
        child = int(pid_file.read_text())
        zygote = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert alive(child) and alive(zygote)
    finally:
        cli.kill()
        cli.wait()
    assert wait_dead(child, within=1.0), "the child outlived its CLI by more than 1 s"
    assert wait_dead(zygote, within=1.0), "the zygote outlived its CLI by more than 1 s"


# ---- values judged, not the tutor blamed -------------------------------------------------------------------


def test_objects_posing_as_tensors_spoil_only_their_own_step(checker, atomic):
    report = checker.check(atomic, LEARNER_FILES / "fake_tensor.py")
    assert report.error is None
    assert status(report, "dlogprobs") == "exact"
    assert status(report, "dprobs") == "invalid"
    assert status(report, "dcounts_sum_inv") in ("wrong", "invalid")


def test_closing_every_file_descriptor_is_a_crash_not_memory(checker, atomic):
    report = checker.check(atomic, LEARNER_FILES / "closes_fds.py")
    assert report.error.kind == "crash"
    assert "closed" in report.error.message


@pytest.mark.slow
def test_an_answer_too_large_to_travel_gets_a_shape_verdict(checker, atomic):
    report = checker.check(atomic, LEARNER_FILES / "huge_answer.py")
    assert status(report, "dlogprobs") == "shape"
    assert "100000000" in next(t for t in report.tensors if t.name == "dlogprobs").note


@pytest.mark.parametrize("name", ["huge_exception.py", "huge_exit.py"])
def test_a_30_mb_message_is_cut(checker, atomic, name):
    report = checker.check(atomic, LEARNER_FILES / name)
    assert report.error.kind == "exception"
    assert len(report.error.message) < 4 * KIB
    assert "cut" in report.error.message


# ---- forged result frames ----------------------------------------------------------------------------------

FORGED = {
    "elapsed is text": {"runs": [{"elapsed": "x"}]},
    "values is a number": {"values": 5},
    "source is a list": {"error": {"kind": "exception", "message": "m", "line": 1, "source": ["a", "b"]}},
    "shape is huge": {"values": [{"name": "dlogprobs", "kind": "tensor", "dtype": "float32", "shape": [0, 2**63],
                                  "device": "cpu", "offset": 0, "nbytes": 0}]},
}


def frame(header: dict) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack(">IQ", len(head), 0) + head


@pytest.mark.parametrize("header", FORGED.values(), ids=FORGED.keys())
def test_a_forged_frame_is_one_line_of_crash(header):
    (run,), _ = runs_of_frame(frame(header))
    assert run.error is not None and run.error.kind == "crash"
    assert "\n" not in run.error.message and "malformed" in run.error.message


FORGER = """
import json, os, stat, struct
head = json.dumps({header}).encode()
for fd in range(3, 1024):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, struct.pack(">IQ", len(head), 0) + head)
    except OSError:
        pass
os._exit(0)
"""


def forger(folder: Path, label: str, header: dict) -> Path:
    path = folder / f"forges_{label.replace(' ', '_')}.py"
    path.write_text(FORGER.format(header=repr(header)))
    return path


@pytest.mark.parametrize("label", FORGED.keys())
def test_learner_code_that_forges_its_result_gets_a_crash_verdict(checker, atomic, tmp_path, label):
    report = checker.check(atomic, forger(tmp_path, label, FORGED[label]))
    assert report.error is not None and report.error.kind == "crash"
    assert "\n" not in report.error.message


def test_the_decoder_enforces_its_header_limit():
    prefix = struct.pack(">IQ", MAX_HEADER + 1, 0)
    with pytest.raises(WireError, match="limit"):
        decode_frame(prefix + b"x" * (MAX_HEADER + 1))


# ---- the command line over every fault file ----------------------------------------------------------------

FAULT_FILES = sorted(p.name for p in LEARNER_FILES.glob("*.py") if p.name != "loops_with_pid.py")


@pytest.mark.slow
def test_check_prints_no_traceback_for_any_fault_file(tmp_path, backprop_ninja):
    """Every learner file here, and the forged frames, through `backprop-ninja check` (in this process, on one
    warm Checker of the command's --timeout 2): an exit code of 0, 1 or 2, no Python traceback, and under 64 KiB
    of output."""
    files = [copy_learner(name, tmp_path) for name in FAULT_FILES]
    files += [forger(tmp_path, label, header) for label, header in FORGED.items()]
    for path in files:
        exercise = "training" if path.name.startswith("training") else "atomic"
        ran = backprop_ninja("check", exercise, "--file", str(path), "--timeout", "2", "--workspace", str(tmp_path / "ws"))
        code, out, err = ran.returncode, ran.stdout, ran.stderr
        assert code in (0, 1, 2), path.name
        assert "Traceback" not in out + err, f"{path.name}:\n{err[-2000:]}"
        assert len((out + err).encode()) < 64 * KIB, f"{path.name} printed {len(out + err):,} characters"
        assert "checker failure" not in out + err, path.name
