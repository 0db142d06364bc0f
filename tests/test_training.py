"""Exercise 4: autograd refused, grad check on the loop's batches, training, cancel, reference, CLI contract."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest

from tests.conftest import LEARNER_FILES, REFERENCE_STEPS
from tutor.engine.autograd_use import find_autograd_use
from tutor.learner.file import LearnerFile
from tutor.reports.training import PhaseStarted, ProgressEvent, TrainingResult, update_from_line
from tutor.training.session import train_exercise

# every row the reference solution computes, in the order of a backward pass
ROWS = ["dlogits", "dh", "dW2", "db2", "dhpreact", "dbngain", "dbnbias", "dhprebn", "dembcat", "dW1", "db1", "demb", "dC"]


@pytest.fixture(scope="module")
def training(course):
    return course.find("training")


def solution_with(training, tmp_path, name: str, old: str | None = None, new: str = "", extra: str = "") -> Path:
    """The reference solution with one line changed and/or lines added: a learner file with one flaw."""
    text = training.solution.read_text()
    if old is not None:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text + extra)
    return path


FAILS_LATER = """
# Fails partway through training: the namespace lives on between steps in the trainer.
_steps_run = globals().get("_steps_run", 0) + 1
if _steps_run > 300:
    raise ValueError("gave up at step 300")
"""


@pytest.mark.parametrize(
    "code, line",
    [
        ("dW1 = W1 * 0\nloss.backward()\n", 2),
        ("x = 1\ndW1 = W1.grad\n", 2),
        ("W1.grad = None\n", 1),
        ("W1.requires_grad_()\n", 1),
        ("W1.requires_grad = True\n", 1),
        ("t = torch.zeros(3, requires_grad=True)\n", 1),
        ("g = torch.autograd.grad(loss, [W1])\n", 1),
        ("from torch.autograd import grad\n", 1),
        ("import torch.func\n", 1),
        ("from torch import func\n", 1),
        ("import functorch\n", 1),
        ("\n\ngetattr(loss, 'backward')()\n", 3),
    ],
)
def test_autograd_use_is_found_with_its_line(code, line):
    uses = find_autograd_use(LearnerFile(code))
    assert uses and uses[0].line == line, uses


def test_hand_written_backward_is_not_autograd(training):
    assert find_autograd_use(LearnerFile(training.solution.read_text())) == []
    assert find_autograd_use(LearnerFile("requires = 1\nt = torch.zeros(3, requires_grad=False)\ngrad = dW1\n")) == []
    assert find_autograd_use(LearnerFile("this is not python(")) == []


def test_check_training_refuses_autograd(checker, training):
    report = checker.check(training, LEARNER_FILES / "training_uses_autograd.py")
    assert not report.passed
    assert report.error.kind == "forbidden" and report.error.line == 4
    assert "requires_grad_" in report.error.message and "by hand" in report.error.message


@pytest.mark.slow
@pytest.mark.xdist_group("reference-training")  # one worker trains, once
def test_reference_solution_trains_and_matches_autograd(training, reference_stream):
    # the session's one training run of the reference solution, read back as the typed updates it sent
    updates = [update_from_line(line) for line in reference_stream]
    result = updates[-1]
    assert isinstance(result, TrainingResult) and all(u is not None for u in updates)
    steps = REFERENCE_STEPS
    assert [s.step for s in result.grad_check] == list(range(training.training.grad_check_steps))
    assert all(s.report.passed and [t.name for t in s.report.tensors] == ROWS for s in result.grad_check)
    assert result.passed, result.error
    assert result.learner.steps == result.reference.steps == steps
    progress = [u for u in updates if isinstance(u, ProgressEvent) and u.who == "learner"]
    assert progress[-1].step == steps and sum(len(e.lossi) for e in progress) == steps
    assert result.learner.loss["train"] < 2.5 < 3.2 < 10 ** progress[0].lossi[0]  # it learned
    for split in ("train", "val"):
        assert abs(result.learner.loss[split] - result.reference.loss[split]) < 0.01
    assert len(result.learner.samples) == len(result.reference.samples) == training.training.sample_count
    assert all(isinstance(name, str) and "." not in name for name in result.learner.samples)
    assert [u.phase for u in updates if isinstance(u, PhaseStarted)] == ["grad-check", "train", "evaluate", "reference", "evaluate"]


@pytest.mark.slow
def test_wrong_gradient_stops_at_the_grad_check(course, training, tmp_path, shared_checkers):
    wrong = solution_with(training, tmp_path, "wrong_dW1.py", "dW1 = embcat.T @ dhprebn\n", "dW1 = embcat.T @ dhprebn * 1.01\n")
    result = train_exercise(course, training, wrong, steps=500)
    assert not result.passed and result.learner is None and len(result.grad_check) == 1
    assert result.error["kind"] == "grad-check"
    assert result.error["gradient"] == "dW1" and result.error["parameter"] == "W1"
    statuses = {t.name: t.status for t in result.grad_check[0].report.tensors}
    assert statuses["dW1"] == "wrong" and statuses["dW2"] in ("exact", "close")


def test_autograd_is_refused_before_anything_runs(course, training):
    result = train_exercise(course, training, LEARNER_FILES / "training_uses_autograd.py", steps=500)
    assert not result.passed and result.grad_check == [] and result.learner is None
    assert result.error["kind"] == "forbidden" and result.error["line"] == 4


@pytest.mark.slow
def test_cancel_keeps_what_was_computed(course, training, shared_checkers):
    cancel = threading.Event()

    def on_event(event):
        if isinstance(event, ProgressEvent) and event.step >= 300:
            cancel.set()

    result = train_exercise(course, training, training.solution, steps=training.training.max_steps, on_event=on_event, cancel=cancel)
    assert result.cancelled and not result.passed and result.error is None
    learner = result.learner
    assert 300 <= learner.steps < training.training.max_steps
    assert len(learner.lossi) == learner.steps
    assert all(math.isfinite(learner.loss[s]) for s in ("train", "val")) and len(learner.samples) == 20
    assert result.reference is None


@pytest.mark.slow
def test_learner_error_mid_training_is_a_value(course, training, tmp_path, shared_checkers):
    fails = solution_with(training, tmp_path, "fails_later.py", extra=FAILS_LATER)
    result = train_exercise(course, training, fails, steps=1000, reference=False)
    assert result.grad_check_passed and not result.passed
    error = result.learner.error
    raise_line = 1 + fails.read_text().splitlines().index('    raise ValueError("gave up at step 300")')
    assert error["kind"] == "exception" and "gave up" in error["message"] and error["line"] == raise_line
    assert result.learner.steps == 300 and math.isfinite(result.learner.loss["val"])


@pytest.mark.slow
def test_cli_json_shape_and_exit_codes(training, backprop_ninja):
    passed = backprop_ninja("train", "--file", str(training.solution), "--steps", "300", "--json")
    assert passed.returncode == 0, passed.stderr
    report = json.loads(passed.stdout)
    assert {"exercise", "passed", "device", "grad_check", "train", "samples", "error"} <= set(report)
    assert report["exercise"] == "training" and report["passed"] is True and report["device"] == "cpu"
    assert [g["step"] for g in report["grad_check"]] == [0, 1, 2, 3, 4]
    assert {"name", "of", "status", "expected_shape", "shape", "max_abs_diff", "note"} <= set(report["grad_check"][0]["tensors"][0])
    train = report["train"]
    assert train["steps"] == 300 and train["cancelled"] is False and train["seconds"] > 0
    assert set(train["learner"]) >= {"train", "val"} and set(train["reference"]) >= {"train", "val"}
    assert len(report["samples"]["learner"]) == len(report["samples"]["reference"]) == 20

    starter = backprop_ninja("train", "--file", str(training.starter), "--steps", "300", "--json")
    assert starter.returncode == 1
    report = json.loads(starter.stdout)
    assert report["passed"] is False and report["train"] is None and len(report["grad_check"]) == 1
    # the first gradient of the backward pass is the first to fix
    assert report["error"]["parameter"] == "W2" and all(t["status"] == "missing" for t in report["grad_check"][0]["tensors"])

    refused = backprop_ninja("train", "--file", str(LEARNER_FILES / "training_uses_autograd.py"), "--json")
    assert refused.returncode == 1 and json.loads(refused.stdout)["error"]["kind"] == "forbidden"
    checked = backprop_ninja("check", "training", "--file", str(LEARNER_FILES / "training_uses_autograd.py"), "--json")
    assert checked.returncode == 1 and json.loads(checked.stdout)["error"]["line"] == 4


def cli_exit(argv: list[str]) -> int:
    """`backprop-ninja ARGV` in this process (usage errors end before any training process starts)."""
    from tutor.cli import main

    try:
        return main(argv)
    except SystemExit as stop:  # argparse's own refusals
        return stop.code


@pytest.mark.parametrize("args, message", [(["--steps", "0"], "at least 1"), (["--steps", "300001"], "between 1 and 200000")])
def test_cli_bad_steps_is_a_usage_error(training, args, message, capsys):
    code = cli_exit(["train", "--file", str(training.solution), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


@pytest.mark.slow
def test_cli_human_output(training, backprop_ninja):
    result = backprop_ninja("train", "--file", str(training.solution), "--steps", "200")
    assert result.returncode == 0, result.stderr
    for text in ("batch 4: all 7 gradients match", "steps/s", "train loss", "agree within", "autograd's model", "✔ training"):
        assert text in result.stdout, text


def test_cuda_without_a_gpu_is_a_clear_message(training, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = cli_exit(["train", "--file", str(training.solution), "--device", "cuda"])
    assert code == 2 and "no CUDA GPU" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.cuda
def test_cuda_trains_on_the_gpu(training, backprop_ninja):
    result = backprop_ninja("train", "--file", str(training.solution), "--steps", "500", "--device", "cuda", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["device"] == "cuda" and report["passed"]
    assert abs(report["train"]["learner"]["val"] - report["train"]["reference"]["val"]) < 0.01
