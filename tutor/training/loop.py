"""The lecture's training loop, BatchNorm calibration, split losses and sampling — run inside a trainer process.

Everything here is driven by the exercise's TOML code strings (model.init, model.batch, model.forward,
training.calibrate, training.infer); the only thing that differs between the learner's run and the
reference run is the `Backward` that turns one step's namespace into the parameters' gradients.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

import torch
import torch.nn.functional as F

from tutor.course.model import Exercise, Training
from tutor.engine.context import TrainingSplits, run_model_code
from tutor.process.limits import is_memory_error, learner_error, learner_line

# A backward pass: given the step's namespace, return the gradients in the order of the parameters.
Backward = Callable[[dict[str, Any]], list[Any]]
Report = Callable[[int, list[float], float], None]
# Called with (step, namespace, gradients) after the backward pass of a step, before the update.
GradsSeen = Callable[[int, dict[str, Any], list[torch.Tensor]], None]


class GradientProblem(Exception):
    """A gradient the update cannot use (missing, not a tensor, wrong shape, wrong device)."""


class LearnerFailure(Exception):
    """The learner's backward pass raised; `error` is the plain-data description (kind, message, line)."""

    def __init__(self, error: dict[str, Any]):
        super().__init__(error.get("message"))
        self.error = error


class StopTraining(BaseException):
    """Raised by a second cancel request inside a step that does not finish (BaseException on purpose)."""


@dataclass
class LoopOutcome:
    steps_done: int
    seconds: float
    cancelled: bool = False
    error: dict[str, Any] | None = None
    lossi: list[float] = field(default_factory=list)


def training_of(exercise: Exercise) -> Training:
    if exercise.training is None:
        raise ValueError(f"exercise {exercise.id!r} has no [training] table")
    return exercise.training


def gradient_names(exercise: Exercise) -> list[str]:
    """For each parameter, in model order, the name of the step that holds its gradient."""
    by_param = {step.of: step.name for step in exercise.steps}
    missing = [p for p in exercise.model.parameters if p not in by_param]
    if missing:
        raise ValueError(f"exercise {exercise.id!r} has no step for the parameter(s) {', '.join(missing)}")
    return [by_param[p] for p in exercise.model.parameters]


def initial_namespace(exercise: Exercise, splits: TrainingSplits, device: str) -> dict[str, Any]:
    """The lecture's set-up: parameters from the seeded init, g positioned after the first minibatch."""
    ns = run_model_code(exercise, splits, exercise.context)
    for name in (*exercise.model.parameters, "Xtr", "Ytr", "Xb", "Yb"):
        ns[name] = ns[name].to(device)
    return ns


def learner_backward(code: CodeType, grad_names: list[str], source: str) -> Backward:
    lines = source.splitlines()

    def backward(ns: dict[str, Any]) -> list[Any]:
        try:
            exec(code, ns)
        except (Exception, SystemExit) as exc:
            kind = "memory" if is_memory_error(exc) else "exception"
            message = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
            raise LearnerFailure(learner_error(kind, message, learner_line(exc, code.co_filename), lines)) from None
        return [ns.get(name) for name in grad_names]

    return backward


def autograd_backward(params: list[torch.Tensor]) -> Backward:
    for p in params:
        p.requires_grad_(True)

    def backward(ns: dict[str, Any]) -> list[Any]:
        for p in params:
            p.grad = None
        ns["loss"].backward()
        return [p.grad for p in params]

    return backward


def _usable(grad: Any, param: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(grad, torch.Tensor):
        what = "is not assigned" if grad is None else f"is a {type(grad).__name__}, not a tensor"
        raise GradientProblem(f"{name} {what}")
    if grad.shape != param.shape:
        if grad.numel() != param.numel():
            raise GradientProblem(f"{name} has shape {tuple(grad.shape)}, its parameter {tuple(param.shape)}")
        grad = grad.reshape(param.shape)  # leading 1s, accepted by the grad check too
    if grad.device != param.device:
        raise GradientProblem(f"{name} is on {grad.device.type}, its parameter on {param.device.type}")
    return grad


def train_loop(
    ns: dict[str, Any],
    exercise: Exercise,
    total_steps: int,
    backward: Backward,
    autograd: bool,
    report: Report,
    should_stop: Callable[[], bool],
    run_steps: int | None = None,
    report_every_s: float = 0.1,
    on_grads: GradsSeen | None = None,
) -> LoopOutcome:
    """Run `run_steps` (default: all) steps of the lecture's loop; lr follows the schedule of `total_steps`."""
    model, training = exercise.model, training_of(exercise)
    batch = compile(model.batch, f"<{exercise.id}: model.batch>", "exec")
    forward = compile(model.forward, f"<{exercise.id}: model.forward>", "exec")
    names = list(model.parameters)
    grad_names = gradient_names(exercise)
    params = [ns[name] for name in names]
    pinned = dict(zip(names, params))
    decay_at = int(total_steps * training.lr_decay_at)
    steps = total_steps if run_steps is None else min(run_steps, total_steps)
    lossi: list[float] = []
    reported = 0
    outcome = LoopOutcome(0, 0.0, lossi=lossi)
    started = time.perf_counter()
    next_report = started + report_every_s
    i = 0
    try:
        with torch.set_grad_enabled(autograd):
            for i in range(steps):
                if should_stop():
                    outcome.cancelled = True
                    break
                if i:
                    exec(batch, ns)
                ns.update(pinned)  # the learner's code may rebind a parameter's name; the loop owns them
                exec(forward, ns)
                grads = [_usable(grad, p, name) for grad, p, name in zip(backward(ns), params, grad_names)]
                if on_grads is not None:
                    on_grads(i, ns, grads)
                lr = training.lr if i < decay_at else training.lr_after
                for p, grad in zip(params, grads):
                    p.data += -lr * grad
                value = ns[model.loss].log10().item()
                lossi.append(value)
                if not math.isfinite(value):
                    outcome.error = {"kind": "diverged", "message": f"the loss became {value} at step {i}", "line": None, "step": i}
                    break
                now = time.perf_counter()
                if now >= next_report:
                    report(len(lossi), lossi[reported:], now - started)
                    reported = len(lossi)
                    next_report = now + report_every_s
    except StopTraining:
        outcome.cancelled = True
    except GradientProblem as exc:
        outcome.error = {"kind": "gradient", "message": f"step {i}: {exc}", "line": None, "step": i}
    except LearnerFailure as exc:
        outcome.error = {**exc.error, "message": f"step {i}: {exc.error['message']}", "step": i}
    # A step counts once its update is done and its loss logged; an interrupted step is not counted.
    outcome.steps_done = len(lossi)
    outcome.seconds = time.perf_counter() - started
    report(outcome.steps_done, lossi[reported:], outcome.seconds)
    return outcome


@functools.lru_cache(maxsize=16)
def _compiled(code: str, label: str) -> CodeType:
    return compile(code, label, "exec")


def _infer(exercise: Exercise, params: dict[str, torch.Tensor], stats: dict[str, Any], X: torch.Tensor) -> torch.Tensor:
    ns: dict[str, Any] = {"torch": torch, "F": F, **params, **stats, "X": X}
    exec(_compiled(training_of(exercise).infer, f"<{exercise.id}: training.infer>"), ns)
    return ns["logits"]


@torch.no_grad()
def calibrate(exercise: Exercise, params: dict[str, torch.Tensor], Xtr: torch.Tensor) -> dict[str, Any]:
    """The calibration code's new names (the BatchNorm mean and variance over the whole training set)."""
    ns: dict[str, Any] = {"torch": torch, "F": F, **params, "Xtr": Xtr}
    before = set(ns)
    exec(_compiled(training_of(exercise).calibrate, f"<{exercise.id}: training.calibrate>"), ns)
    keep = {"emb", "embcat", "hpreact", "h"}  # large intermediates of the calibration, not statistics
    return {k: v for k, v in ns.items() if k not in before and k not in keep and not k.startswith("_")}


@torch.no_grad()
def evaluate(
    exercise: Exercise, params: dict[str, torch.Tensor], splits: TrainingSplits, device: str
) -> tuple[dict[str, float], list[str]]:
    """Calibrate BatchNorm on the training set, then the train/val losses and the lecture's samples."""
    data = splits.get(exercise.model.window_size)
    stats = calibrate(exercise, params, data["train"][0].to(device))
    losses = {}
    for split in ("train", "val"):
        X, Y = (t.to(device) for t in data[split])
        losses[split] = float(F.cross_entropy(_infer(exercise, params, stats, X), Y).item())
    return losses, sample_names(exercise, params, stats, splits.dataset.itos, device)


def sample_names(
    exercise: Exercise, params: dict[str, torch.Tensor], stats: dict[str, Any], itos: dict[int, str], device: str
) -> list[str]:
    """The lecture's sampling: fixed seed, context of '.', softmax, multinomial, stop at '.' (index 0)."""
    training = training_of(exercise)
    g = torch.Generator().manual_seed(training.sample_seed)
    names = []
    for _ in range(training.sample_count):
        out: list[int] = []
        context = [0] * exercise.model.window_size
        while len(out) < training.max_name_length:
            logits = _infer(exercise, params, stats, torch.tensor([context], device=device))
            probs = F.softmax(logits.float(), dim=1).cpu()
            if not torch.isfinite(probs).all():
                break
            ix = int(torch.multinomial(probs, num_samples=1, generator=g).item())
            context = context[1:] + [ix]
            if ix == 0:
                break
            out.append(ix)
        names.append("".join(itos.get(i, "?") for i in out))
    return names
