"""One training session of exercise 4: refuse autograd, grad-check, train, then the autograd reference.

`train_exercise` is the API the CLI and the TUI share: it blocks (run it in a worker thread in a UI),
reports through `on_event`, stops early when `cancel` is set, and returns a TrainingResult (plain data).
Learner code never runs in the calling process: the grad check runs in the sandbox, training in a
trainer process.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from tutor.course.model import Course, Exercise
from tutor.engine.check import (
    DEFAULT_TIMEOUT,
    Checker,
    CheckerError,
    read_learner_file,
    refuse_autograd,
    resolve_device,
)
from tutor.engine.compare import compare
from tutor.engine.context import context_from_namespace
from tutor.learner.file import LearnerFile
from tutor.process.wire import dtype_name
from tutor.reports.training import Event, GradCheckStep, PhaseStarted, TrainingResult, Who
from tutor.sandbox.results import LearnerValue
from tutor.training.gradcheck import run_grad_check
from tutor.training.loop import evaluate, gradient_names, training_of
from tutor.training.trainer import run_trainer


def grad_check_error(step: GradCheckStep) -> dict[str, Any]:
    """Why the grad check stopped at this batch, naming the first failing gradient and its parameter."""
    report = step.report
    if report.error is not None:
        error = report.error.to_json()
        return {**error, "step": step.step, "message": f"batch {step.step}: {error['message']}"}
    failing = report.first_failure
    assert failing is not None
    detail = failing.note or (f"max abs diff {failing.max_abs_diff:.2e}" if failing.max_abs_diff is not None else "")
    return {
        "kind": "grad-check",
        "step": step.step,
        "gradient": failing.name,
        "parameter": failing.of,
        "message": f"batch {step.step}: {failing.name} (the gradient of {failing.of}) is {failing.status}"
        + (f": {detail}" if detail else ""),
        "line": None,
    }


def recheck_gradients(exercise: Exercise, device: str, step: int, tensors: dict[str, torch.Tensor]) -> dict[str, Any] | None:
    """The learner's gradients of one training step against autograd's on the same parameters and batch,
    computed here (the learner's code never ran in this process); the error that stops training, or None."""
    model = exercise.model
    ns: dict[str, Any] = {name: tensors[name].to(device) for name in (*model.parameters, *model.inputs)}
    n = int(ns[model.inputs[0]].shape[0])
    # the loop trains at the model's own sizes; the vocabulary is the data's (the size of the first
    # parameter's first dimension: the embedding table)
    sizes = {**dict(model.sizes), "n": n, "batch_size": n, "vocab_size": int(ns[model.parameters[0]].shape[0])}
    ns.update(torch=torch, F=F, **sizes)
    ctx = context_from_namespace(exercise, ns, device, exercise.context, tag=f"train{step}")
    for param, name in zip(model.parameters, gradient_names(exercise)):
        grad = tensors[f"grad/{param}"]
        value = LearnerValue("tensor", grad, dtype_name(grad.dtype), tuple(grad.shape), device)
        verdict = compare(name, param, ctx.reference[name], value, device)
        if not verdict.passed:
            detail = verdict.note or f"max abs diff {verdict.max_abs_diff:.2e}"
            return {
                "kind": "grad-check",
                "step": step,
                "gradient": name,
                "parameter": param,
                "line": None,
                "message": f"step {step}: {name} no longer matches autograd on the loop's own batch ({verdict.status}: "
                f"{detail}); it was right on the first batches, so something in your file changes between calls",
            }
    return None


def train_exercise(course: Course, exercise: Exercise, file: Path, *, source: str | None = None, **options: Any) -> TrainingResult:
    """Train from a .py file, or from a notebook's training loop: its backward block (between the loss and the
    parameter update), with an error's line placed at the notebook's cell and the line within it."""
    if source is not None or file.suffix != ".ipynb":
        return train_file(course, exercise, file, source=source, **options)
    from tutor.learner.notebook import NotebookError, extract_exercise

    try:
        extract = extract_exercise(file, exercise, course)
    except NotebookError as exc:
        raise CheckerError(str(exc)) from None
    result = train_file(course, exercise, file, source=extract.source, **options)
    error = result.error
    place = extract.locate(error.get("line")) if error else None
    if error is not None and place is not None:
        cell, line, original = place
        label = next(c.label for c in extract.cells if c.number == cell)
        error.update(cell=cell, line=line, source=original, message=f"{label}, line {line}: {error.get('message', '')}")
    return result


def train_file(
    course: Course,
    exercise: Exercise,
    file: Path,
    *,
    source: str | None = None,
    steps: int | None = None,
    device: str = "cpu",
    data: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_event: Callable[[Event], None] | None = None,
    cancel: threading.Event | None = None,
    reference: bool = True,
) -> TrainingResult:
    """Grad check, then training with the learner's gradients, then (optionally) the autograd reference.

    Raises CheckerError / DataError for what the caller fixes (file, device, data, steps); everything
    the learner's code does comes back inside the result.
    """
    training = training_of(exercise)
    steps = training.default_steps if steps is None else steps
    if not 1 <= steps <= training.max_steps:
        raise CheckerError(f"--steps must be between 1 and {training.max_steps}, not {steps}")
    if source is None:
        source = read_learner_file(file)
    emit = on_event or (lambda event: None)
    stopped = cancel.is_set if cancel is not None else (lambda: False)

    result = TrainingResult(exercise=exercise.id, device=resolve_device(device), requested_steps=steps, file=str(file))
    refused = refuse_autograd(LearnerFile(source, str(file)))
    if refused is not None:  # before any process starts: nothing of this file runs
        result.error = {**refused.to_json(), "source": refused.source}
        return result
    with Checker(course, data=data, device=device, timeout=timeout) as checker:
        count = min(training.grad_check_steps, steps)
        emit(PhaseStarted("grad-check", count))
        result.grad_check = run_grad_check(checker, exercise, source, str(file), steps, count, emit, cancel)
        data_path = str(checker.dataset.path.resolve())
        splits = checker.splits
    if stopped():
        result.cancelled = True
        return result
    if not result.grad_check_passed:
        result.error = grad_check_error(result.grad_check[-1])
        return result

    def request(mode: Who, run_steps: int) -> dict[str, Any]:
        return {
            "mode": mode,
            "course_root": str(course.root),
            "exercise": exercise.id,
            "data": data_path,
            "device": result.device,
            "steps": steps,
            "run_steps": run_steps,
            "source": source if mode == "learner" else None,
            "filename": str(file),
        }

    emit(PhaseStarted("train", steps))
    recheck = functools.partial(recheck_gradients, exercise, result.device)
    result.learner = run_trainer(request("learner", steps), "learner", emit, cancel, recheck=recheck)
    result.cancelled = result.learner.cancelled
    if result.learner.error is not None:
        result.error = result.learner.error
    if result.learner.params is not None and result.learner.steps > 0:
        emit(PhaseStarted("evaluate", result.learner.steps, who="learner"))
        params = {name: result.learner.params[name].to(result.device) for name in exercise.model.parameters}
        result.learner.loss, result.learner.samples = evaluate(exercise, params, splits, result.device)
    if reference and not result.cancelled and result.learner.steps > 0 and result.learner.loss:
        # Same seed, same batches, same number of steps as the learner got through. A cancelled session
        # skips it: whoever cancelled wants to stop, and the learner's model is evaluated already.
        emit(PhaseStarted("reference", result.learner.steps, who="reference"))
        result.reference = run_trainer(request("reference", result.learner.steps), "reference", emit, cancel)
        result.cancelled = result.cancelled or result.reference.cancelled
    return result
