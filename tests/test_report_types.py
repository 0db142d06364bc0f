"""The report types: one torch-free home, and to_json()/from_json() that round-trip real reports exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from tests.conftest import LEARNER_FILES, ROOT
from tests.ui_fakes import result_line, training_script
from tutor.reports.check import CheckReply, CheckReport, LearnerError, TensorVerdict
from tutor.reports.training import (
    GradCheckStep,
    PhaseStarted,
    ProgressEvent,
    Trained,
    TrainingProblem,
    TrainingResult,
    update_from_line,
)

WRONG_SIGN = ("dprobs = (1.0 / probs) * dlogprobs", "dprobs = -(1.0 / probs) * dlogprobs")
NO_BNGAIN = ("dhprebn = bngain * bnvar_inv / n", "dhprebn = bnvar_inv / n")


def text(data: object) -> str:
    """JSON as the CLI prints it and the services send it: the same text means the same shape and order."""
    return json.dumps(data, allow_nan=True)


def with_line(exercise, old: str, new: str) -> str:
    source = exercise.solution.read_text(encoding="utf-8")
    assert old in source
    return source.replace(old, new, 1)


@pytest.fixture(scope="module")
def reports(checker, course) -> dict[str, CheckReport]:
    """Real reports of the engine: passing, a wrong root with its diagnosis and the rows inheriting from it,
    an error halfway, and exercise 4 with its supporting rows."""
    atomic, training = course.find("atomic"), course.find("training")
    return {
        "passed": checker.check(atomic, atomic.solution),
        "diagnosed": checker.check(atomic, LEARNER_FILES / "wrong.py", with_line(atomic, *WRONG_SIGN)),
        "error": checker.check(atomic, LEARNER_FILES / "raises_halfway.py"),
        "support": checker.check(training, LEARNER_FILES / "wrong.py", with_line(training, *NO_BNGAIN)),
    }


def test_the_real_reports_hold_every_field_that_travels(reports):
    rows = [t for report in reports.values() for t in report.tensors]
    assert reports["passed"].passed and not reports["diagnosed"].passed
    assert reports["error"].error is not None and reports["error"].error.line
    for field in ("diagnosis", "inherits_from", "note", "upstream", "support"):
        assert any(getattr(t, field) for t in rows), field
    assert {t.local for t in rows} >= {"pass", "fail"} and "pass" in {t.second for t in rows}


@pytest.mark.parametrize("name", ["passed", "diagnosed", "error", "support"])
def test_a_check_report_round_trips_exactly(reports, name):
    report = reports[name]
    again = CheckReport.from_json(json.loads(text(report.to_json())))
    assert text(again.to_json()) == text(report.to_json())
    assert again.passed == report.passed and again.first_failure == report.first_failure
    # what JSON carries comes back as it was; only the engine's scratch notes (`extra`) stay behind
    assert again.tensors == [replace(t, extra={}) for t in report.tensors]
    assert (again.error is None) == (report.error is None)


@pytest.mark.parametrize("name", ["passed", "diagnosed", "error", "support"])
def test_the_check_services_reply_round_trips_exactly(checker, reports, name):
    from tutor.engine.grids import tensor_grids

    report = reports[name]
    ctx, run = checker.last_runs[0]
    grids = {step: tensor_grids(ctx.reference[step], run.value(step).tensor) for step in list(ctx.reference)[:2]}
    for reply in (
        CheckReply(report, grids=grids),
        CheckReply(report, notes=["the checking worker had ended (exit code 3); restarted it"], error_source=True),
    ):
        sent = text(reply.to_json())
        back = CheckReply.from_json(json.loads(sent))
        assert text(back.to_json()) == sent
        assert back.report is not None and back.report.elapsed == report.elapsed
        assert back.grids == reply.grids and back.notes == reply.notes
        assert back.error_source == (reply.error_source and report.error is not None)
    if report.error is not None:
        shown = CheckReply(report, error_source=True).to_json()["error"]
        assert shown == {**report.error.to_json(), "source": report.error.source}


def test_the_service_reply_keeps_the_protocols_shape(reports):
    report = reports["error"]
    reply = CheckReply(report, grids={}, notes=["restarted"], error_source=True).to_json()
    assert list(reply) == ["type", "exercise", "passed", "device", "loss", "error", "tensors", "file", "output",
                           "warnings", "elapsed", "grids", "service_notes"]
    assert list(reply["error"]) == ["kind", "message", "line", "source"]
    assert list(CheckReply(report).to_json()["error"]) == ["kind", "message", "line"]
    refused = CheckReply(message="no exercise 'nope'")
    assert refused.to_json() == {"type": "error", "message": "no exercise 'nope'"}
    assert CheckReply.from_json(refused.to_json()) == refused


def test_a_verdict_reads_back_its_exact_and_close_from_its_status():
    for status, exact, close in (("exact", True, True), ("close", False, True), ("wrong", False, False)):
        t = TensorVerdict("dW1", "W1", status, (3,), (3,), max_abs_diff=0.0, exact=exact, close=close, upstream=("dh",))
        assert TensorVerdict.from_json(t.to_json()) == t
    error = LearnerError("exception", "NameError: x", 4, "y = x")
    assert LearnerError.from_json(error.to_json(with_source=True)) == error


def training_results(reports) -> list[TrainingResult]:
    """Results of every ending: passed, cancelled, a wrong gradient or an error in the grad check, an error
    while training, and a file refused before anything ran."""
    from tutor.training.session import grad_check_error

    passing = GradCheckStep(0, reports["passed"])
    learner = Trained(steps=200, seconds=1.25, loss={"train": 2.41, "val": 2.43}, samples=["mora", ""], output="hi\n")
    reference = Trained(steps=200, seconds=0.75, loss={"train": 2.40, "val": 2.44}, samples=["kayah", "seel"])
    results = [
        TrainingResult("training", "cpu", 200, [passing, passing], learner, reference, file="training.py"),
        TrainingResult("training", "cpu", 1000, [passing], replace(learner), None, cancelled=True, file="t.py"),
    ]
    # an error after every gradient was set: the batch fails on the error alone
    late_error = replace(reports["passed"], error=LearnerError("exception", "RuntimeError: late", 40))
    for report in (reports["support"], reports["error"], late_error):
        failing = GradCheckStep(1, report)
        results.append(TrainingResult("training", "cpu", 200, [passing, failing], error=grad_check_error(failing)))
    assert late_error.required and all(t.passed for t in late_error.required)
    crashed = {"kind": "exception", "message": "ValueError: gave up at step 300", "line": 7}
    results.append(TrainingResult("training", "cuda", 500, [passing], replace(learner, steps=300, error=crashed),
                                  error=crashed))
    refused = {"kind": "forbidden", "message": "`.backward()` runs autograd", "line": 2, "source": "loss.backward()"}
    results.append(TrainingResult("training", "cpu", 200, error=refused, file="training.py"))
    return results


def test_a_training_result_round_trips_exactly(reports):
    for result in training_results(reports):
        sent = text(result.to_json())
        again = TrainingResult.from_json(json.loads(sent))
        assert text(again.to_json()) == sent
        assert (again.passed, again.grad_check_passed, again.difference) == (result.passed, result.grad_check_passed,
                                                                            result.difference)
        line = text(result.to_line())
        back = update_from_line(json.loads(line))
        assert isinstance(back, TrainingResult) and text(back.to_line()) == line


def test_every_stream_line_round_trips_exactly(reports):
    lines = [
        *training_script(steps=300, chunk=100),
        result_line(100, 300, reference=False, cancelled=True),
        result_line(0, 300, grad_fail="dW1"),
        GradCheckStep(2, reports["error"]).to_line(),
        GradCheckStep(0, reports["support"]).to_line(),
        ProgressEvent("reference", 7, 10, 0.5, (0.4, float("nan"))).to_line(),
        PhaseStarted("evaluate", 10, "reference").to_line(),
        TrainingProblem("error", "--steps must be between 1 and 200000, not 0").to_line(),
        TrainingProblem("crashed", "the training process ended before it reported (exit code 3)").to_line(),
    ]
    for line in lines:
        sent = text(line)
        update = update_from_line(json.loads(sent))
        assert update is not None and text(update.to_line()) == sent
    assert update_from_line({"type": "unknown", "event": "?"}) is None


# What loads at run time, in one fresh process: each module in turn, naming the first that pulls in torch (the
# TUI's first paint must not wait for it). The import contracts (tests/test_layers.py) cover lazy imports too.
NO_TORCH = ["tutor.reports", "tutor.reports.check", "tutor.reports.training", "tutor.training", "tutor.training.client",
            "tutor.training.view", "tutor.ui.app", "tutor.ui.widgets.training"]


def test_the_report_types_and_the_tui_load_no_torch():
    code = ("import importlib, sys\n"
            f"for module in {NO_TORCH!r}:\n"
            "    importlib.import_module(module)\n"
            "    assert 'torch' not in sys.modules, f'importing {module} loads torch'\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rows_not_rechecked_show_their_last_verdicts_and_travel_as_such():
    from tutor.reports.check import keep_last

    syntax = LearnerError("syntax", "SyntaxError: '(' was never closed", 4, "    x = (1 +", column=9)
    assert syntax.caret() == ("x = (1 +", "    ^")
    assert LearnerError("syntax", "m", 1, "a = b c", column=5, end_column=8).caret() == ("a = b c", "    ^^^")
    assert LearnerError("exception", "boom", 5, "y = 1").caret() is None  # points at no place in its line
    stale = [TensorVerdict(name, name[1:], "missing", (2,), None, rechecked=False) for name in ("da", "db", "dc")]
    report = CheckReport("atomic", "cpu", 0.0, stale, syntax)
    before = TensorVerdict("da", "a", "close", (2,), (2,), 1e-9, close=True, local="pass", second="pass")
    kept = keep_last(report, {"da": before, "db": "wrong", "dc": "not-a-status"})
    da, db, dc = kept.tensors
    assert (da.status, da.passed, da.max_abs_diff, da.rechecked) == ("close", True, 1e-9, False)
    assert (db.status, db.passed, db.rechecked, db.not_checked) == ("wrong", False, False, False)
    assert (dc.status, dc.not_checked) == ("missing", True)  # no verdict from before: "not checked"
    assert not kept.rechecked and not kept.passed and kept.first_failure is None
    assert report.tensors[0].status == "missing"  # the report it came from is left as it was
    back = CheckReport.from_json(json.loads(json.dumps(kept.to_json())))
    assert back.tensors == kept.tensors and back.error == syntax
    assert kept.to_json()["error"] == {"kind": "syntax", "message": syntax.message, "line": 4, "column": 9,
                                       "end_column": None, "source": "    x = (1 +"}
    assert keep_last(CheckReport("atomic", "cpu", 0.0, [before]), {"da": "wrong"}).tensors == [before]  # rechecked rows stay
