"""The grad check of exercise 4: the learner's gradients on the first batches of the lecture's loop.

The batches come from the same generator sequence as training; between them the parameters take the
lecture's update with autograd's gradients, so batch k is checked where the loop would be at step k.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import torch

from tutor.course.model import Exercise
from tutor.engine.check import Checker
from tutor.engine.context import Context, context_from_namespace, course_code_object, run_model_code
from tutor.engine.course_code import course_code
from tutor.learner.file import LearnerFile
from tutor.reports.training import GradCheckStep
from tutor.training.loop import gradient_names, training_of


def loop_contexts(checker: Checker, exercise: Exercise, total_steps: int, count: int) -> Iterator[Context]:
    """Contexts (forward tensors + autograd's gradients) for steps 0..count-1 of the training loop."""
    model, training = exercise.model, training_of(exercise)
    spec = exercise.context
    with course_code(exercise):
        ns = run_model_code(exercise, checker.splits_for(exercise), spec)  # init, then the first minibatch from g
    batch = course_code_object(model.batch, f"<{exercise.id}: model.batch>")
    params = {name: ns[name] for name in model.parameters}
    grads = dict(zip(model.parameters, gradient_names(exercise)))
    for step in range(count):
        if step:
            exec(batch, ns)
        with course_code(exercise):
            ctx = context_from_namespace(exercise, {**ns, **params}, checker.device, spec, tag=f"step{step}")
        yield ctx
        lr = training.lr_at(step, total_steps)
        with torch.no_grad():
            for name, p in params.items():
                p += -lr * ctx.reference[grads[name]].to(p.device)


def run_grad_check(
    checker: Checker,
    exercise: Exercise,
    source: str,
    filename: str,
    total_steps: int,
    count: int,
    on_step: Callable[[GradCheckStep], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[GradCheckStep]:
    """Check batch after batch; stop at the first that fails (or when cancelled)."""
    results: list[GradCheckStep] = []
    learner = LearnerFile(source, filename)  # one read of the file for every batch checked
    for step, ctx in enumerate(loop_contexts(checker, exercise, total_steps, count)):
        if cancel is not None and cancel.is_set():
            break
        checked = GradCheckStep(step, checker.check_in(exercise, [ctx], learner))
        results.append(checked)
        if on_step is not None:
            on_step(checked)
        if not checked.report.passed:
            break
    return results
