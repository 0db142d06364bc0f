"""Untrusted learner code: every way it can misbehave becomes a clear verdict, and the tutor survives."""

from __future__ import annotations

import pytest

from tests.conftest import LEARNER_FILES


def check(checker, exercise, name: str, timeout: float | None = None):
    path = LEARNER_FILES / name
    if timeout is not None:
        old, checker.timeout = checker.timeout, timeout
        try:
            return checker.check(exercise, path)
        finally:
            checker.timeout = old
    return checker.check(exercise, path)


def status(report, name):
    return next(t for t in report.tensors if t.name == name).status


def test_exception_halfway_still_judges_what_was_assigned(checker, atomic):
    report = check(checker, atomic, "raises_halfway.py")
    assert report.error.kind == "exception"
    assert report.error.line == 5
    assert "NameError" in report.error.message and "undefined_name" in report.error.message
    assert "undefined_name" in report.error.source
    assert [status(report, n) for n in ("dlogprobs", "dprobs", "dcounts_sum_inv")] == ["exact"] * 3
    assert status(report, "dcounts_sum") == "missing"
    assert not report.passed


def test_syntax_error_points_at_the_learner_line(checker, atomic):
    report = check(checker, atomic, "syntax_error.py")
    error = report.error
    assert (error.kind, error.line, error.column) == ("syntax", 2, 10)  # the "(" that is never closed
    assert error.source == "dprobs = (1.0 / probs * dlogprobs"
    assert error.message == "SyntaxError: '(' was never closed"
    # nothing ran: no row was rechecked (the tutor and the command line show each row's last verdict)
    assert [t.name for t in report.tensors] == [step.name for step in atomic.rows]
    assert not any(t.rechecked for t in report.tensors) and not report.rechecked
    assert all(t.status == "missing" and not t.notes for t in report.tensors)
    assert report.to_json()["error"] == {"kind": "syntax", "message": error.message, "line": 2, "column": 10,
                                         "end_column": error.end_column, "source": error.source}


def test_infinite_loop_times_out_and_keeps_earlier_tensors(checker, atomic):
    report = check(checker, atomic, "infinite_loop.py", timeout=1.0)
    assert report.error.kind == "timeout"
    assert report.error.line in (3, 4)
    # its value is kept and compared, but the other runs never verified it: a failure, never a skip
    kept = next(t for t in report.tensors if t.name == "dlogprobs")
    assert kept.max_abs_diff == 0.0 and not kept.passed and "did not run" in kept.note


@pytest.mark.slow
def test_loop_that_swallows_the_timeout_is_killed(checker, atomic):
    report = check(checker, atomic, "stubborn_loop.py", timeout=0.5)
    assert report.error.kind == "timeout"
    assert all(t.status == "missing" for t in report.tensors)
    # and the checker still works afterwards
    assert checker.check(atomic, atomic.solution).passed


def test_hard_exit_is_a_crash(checker, atomic):
    report = check(checker, atomic, "hard_exit.py")
    assert report.error.kind == "crash"
    assert "exit code 3" in report.error.message


def test_segfault_is_a_crash_and_the_checker_survives(checker, atomic):
    report = check(checker, atomic, "segfault.py")
    assert report.error.kind == "crash"
    assert "segmentation fault" in report.error.message
    assert checker.check(atomic, atomic.solution).passed


def test_sys_exit_is_reported_not_obeyed(checker, atomic):
    report = check(checker, atomic, "exits_politely.py")
    assert report.error.kind == "exception"
    assert "exit" in report.error.message
    assert status(report, "dlogprobs") == "exact"


def test_flood_of_prints_is_stopped(checker, atomic):
    report = check(checker, atomic, "floods_output.py")
    assert report.error.kind == "output"
    assert len(report.output) < 64 * 1024


def test_raw_fd_writes_cannot_reach_the_tutor_output(checker, atomic):
    report = check(checker, atomic, "floods_fd.py")
    assert report.error is None
    assert "hello from the learner" in report.output
    assert "yyyy" not in report.output
    assert status(report, "dlogprobs") == "exact"


def test_memory_hog_is_a_memory_error(checker, atomic):
    report = check(checker, atomic, "eats_memory.py")
    assert report.error.kind == "memory"
    assert report.error.line == 3
    kept = next(t for t in report.tensors if t.name == "dlogprobs")
    assert kept.max_abs_diff == 0.0 and not kept.passed and "did not run" in kept.note


def test_in_place_edits_do_not_touch_the_reference(checker, atomic):
    report = check(checker, atomic, "mutates_inputs.py")
    assert {"probs", "logprobs"} <= {w.split()[3] for w in report.warning_texts()}
    assert status(report, "dlogprobs") == "exact"
    assert checker.check(atomic, atomic.solution).passed


def test_the_answer_is_out_of_reach(checker, atomic):
    report = check(checker, atomic, "seeks_answer.py")
    assert "found 0 grads 0 leaves 0" in report.output
    assert status(report, "dlogprobs") in ("missing", "invalid")


def test_odd_values_are_invalid_or_shape(checker, atomic):
    report = check(checker, atomic, "odd_values.py")
    by = {t.name: t for t in report.tensors}
    assert by["dlogprobs"].status == "invalid" and "float64" in by["dlogprobs"].note
    assert by["dprobs"].status == "invalid" and "list" in by["dprobs"].note
    assert by["dcounts_sum_inv"].status == "invalid" and "NaN" in by["dcounts_sum_inv"].note
    assert by["dcounts_sum"].status == "shape"  # (32,) for (32, 1): not a leading-1 difference
    assert by["dcounts"].status == "shape"


def test_leading_ones_pass_with_a_note(checker, atomic, tmp_path):
    learner = tmp_path / "keepdim.py"
    # the lecture's own line: a (64,) dbnmeani
    learner.write_text(atomic.solution.read_text().replace("dbnmeani = (-dbndiff).sum(0, keepdim=True)", "dbnmeani = (-dbndiff).sum(0)"))
    report = checker.check(atomic, learner)
    verdict = next(t for t in report.tensors if t.name == "dbnmeani")
    assert verdict.shape == (64,) and verdict.expected_shape == (1, 64)
    assert verdict.status in ("exact", "close") and "leading 1s" in verdict.note
    assert report.passed


def test_unreadable_file_is_a_checker_error(checker, atomic, tmp_path):
    from tutor.engine.check import CheckerError

    with pytest.raises(CheckerError, match="does not exist"):
        checker.check(atomic, tmp_path / "gone.py")
    (tmp_path / "bin.py").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CheckerError, match="UTF-8"):
        checker.check(atomic, tmp_path / "bin.py")


@pytest.mark.slow
def test_a_killed_sandbox_is_restarted(checker, atomic):
    checker.sandbox._proc.kill()
    checker.sandbox._proc.wait()
    assert checker.check(atomic, atomic.solution).passed


def test_a_crash_after_the_first_run_sent_its_result_fails_every_step(checker, atomic, tmp_path):
    # the lecture's batch runs right and its result is on its way; the second batch (another n) then segfaults
    crashes_later = tmp_path / "crashes_later.py"
    crashes_later.write_text(
        atomic.solution.read_text(encoding="utf-8")
        + "\nimport ctypes\nif n != 32:\n    ctypes.string_at(0)\n",
        encoding="utf-8",
    )
    report = checker.check(atomic, crashes_later)
    assert report.error is not None and report.error.kind == "crash"
    assert "segmentation fault" in report.error.message
    assert not report.passed and not any(t.passed for t in report.tensors)


CLOSES_ITS_INPUT = """import fcntl, os, stat
for fd in range(3, 256):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            os.close(fd)
    except OSError:
        pass
"""


def test_a_file_that_closes_the_pipe_its_code_came_in_by_is_still_judged(checker, atomic, tmp_path):
    # the local-rule run's instrumented code can no longer come that way: the child compiles it itself
    closes_input = tmp_path / "closes_input.py"
    closes_input.write_text(CLOSES_ITS_INPUT + atomic.solution.read_text(encoding="utf-8"), encoding="utf-8")
    for _ in range(3):
        report = checker.check(atomic, closes_input)
        assert report.error is None and report.passed
