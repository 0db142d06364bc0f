"""What a training run reports while it runs (events) and when it ends (TrainingResult): plain data.

The CLI and the TUI read the same types. `TrainingResult.to_json()` is the `train --json` object; each
update's `to_line()` is one line of `python -m tutor.training.stream`, which the TUI reads back with
`update_from_line()`. No torch here: a trained model's parameters travel as whatever the trainer sends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tutor.reports.check import CheckReport, LearnerError, TensorVerdict

Who = Literal["learner", "reference"]
PhaseName = Literal["grad-check", "train", "reference", "evaluate"]
# What stopped a run, as JSON: kind, message, line and, by kind, step, gradient, parameter, cell, source.
TrainingError = dict[str, Any]
# The "type" of the stream's last line: the result, or a run that ended without one.
FINAL_TYPES = ("result", "error", "crashed")


@dataclass(frozen=True)
class PhaseStarted:
    """A phase begins: grad-check (of `steps` batches), train / reference (`steps` steps), evaluate."""

    phase: PhaseName
    steps: int
    who: Who = "learner"
    kind: Literal["phase"] = "phase"

    def to_line(self) -> dict[str, Any]:
        return {"type": self.kind, "phase": self.phase, "steps": self.steps, "who": self.who}

    @classmethod
    def from_line(cls, line: Mapping[str, Any]) -> PhaseStarted:
        return cls(line["phase"], line.get("steps", 0), line.get("who", "learner"))


@dataclass(frozen=True)
class GradCheckStep:
    """The learner's gradients on one batch of the loop, judged against autograd's."""

    step: int
    report: CheckReport
    kind: Literal["grad-check"] = "grad-check"

    def to_json(self) -> dict[str, Any]:
        """The batch as `train --json` lists it."""
        return {"step": self.step, "passed": self.report.passed, "tensors": [t.to_json() for t in self.report.tensors]}

    def to_line(self) -> dict[str, Any]:
        error = self.report.error
        return {"type": self.kind, **self.to_json(), "error": error.to_json() if error else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], error: LearnerError | None = None) -> GradCheckStep:
        """A batch's report as the JSON carries it: its rows and error (not the exercise, device nor loss)."""
        tensors = [TensorVerdict.from_json(t) for t in data.get("tensors") or ()]
        return cls(data["step"], CheckReport(exercise="", device="", loss=math.nan, tensors=tensors, error=error))

    @classmethod
    def from_line(cls, line: Mapping[str, Any]) -> GradCheckStep:
        error = line.get("error")
        return cls.from_json(line, LearnerError.from_json(error) if error else None)


@dataclass(frozen=True)
class ProgressEvent:
    """Training progress: `lossi` holds the log10 losses of the steps since the previous ProgressEvent."""

    who: Who
    step: int
    steps: int
    elapsed: float
    lossi: tuple[float, ...]
    kind: Literal["progress"] = "progress"

    @property
    def steps_per_s(self) -> float:
        return self.step / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.steps_per_s
        return (self.steps - self.step) / rate if rate > 0 else None

    def to_line(self) -> dict[str, Any]:
        return {"type": self.kind, "who": self.who, "step": self.step, "steps": self.steps, "elapsed": self.elapsed,
                "lossi": list(self.lossi)}

    @classmethod
    def from_line(cls, line: Mapping[str, Any]) -> ProgressEvent:
        return cls(line["who"], line["step"], line["steps"], line["elapsed"], tuple(line.get("lossi", ())))


@dataclass
class Trained:
    """One trained model: how far it got, how long the loop took, its split losses and samples."""

    steps: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    loss: dict[str, float] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    error: TrainingError | None = None
    output: str = ""
    lossi: list[float] = field(default_factory=list)
    # The learner's trained parameters, sent back for evaluation where the learner's code never ran.
    params: dict[str, Any] | None = field(default=None, repr=False)

    def losses_json(self) -> dict[str, Any]:
        return {"train": self.loss.get("train"), "val": self.loss.get("val"), "steps": self.steps}

    @classmethod
    def from_losses(cls, losses: Mapping[str, Any], samples: list[str]) -> Trained:
        loss = {split: losses[split] for split in ("train", "val") if losses.get(split) is not None}
        return cls(steps=losses["steps"], loss=loss, samples=list(samples))


@dataclass
class TrainingResult:
    exercise: str
    device: str
    requested_steps: int
    grad_check: list[GradCheckStep] = field(default_factory=list)
    learner: Trained | None = None
    reference: Trained | None = None
    error: TrainingError | None = None
    cancelled: bool = False
    file: str | None = None

    @property
    def grad_check_passed(self) -> bool:
        return bool(self.grad_check) and all(step.report.passed for step in self.grad_check)

    @property
    def passed(self) -> bool:
        """Grad check passed and training ran every requested step without an error."""
        return (
            self.error is None
            and self.grad_check_passed
            and self.learner is not None
            and self.learner.error is None
            and not self.cancelled
            and self.learner.steps == self.requested_steps
        )

    @property
    def difference(self) -> dict[str, float] | None:
        """|learner - reference| per split, when both were evaluated."""
        if not (self.learner and self.reference and self.learner.loss and self.reference.loss):
            return None
        return {k: abs(self.learner.loss[k] - self.reference.loss[k]) for k in self.learner.loss if k in self.reference.loss}

    def to_json(self) -> dict[str, Any]:
        learner, reference = self.learner or Trained(), self.reference or Trained()
        train = None
        if self.learner is not None:
            train = {
                "steps": learner.steps,
                "requested_steps": self.requested_steps,
                "seconds": learner.seconds,
                "steps_per_s": learner.steps / learner.seconds if learner.seconds > 0 else None,
                "learner": learner.losses_json(),
                "reference": reference.losses_json() if self.reference is not None else None,
                "difference": self.difference,
                "cancelled": self.cancelled,
                "error": learner.error,
            }
        return {
            "exercise": self.exercise,
            "passed": self.passed,
            "device": self.device,
            "file": self.file,
            "grad_check": [step.to_json() for step in self.grad_check],
            "train": train,
            "samples": {"learner": learner.samples, "reference": reference.samples},
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainingResult:
        """The result as to_json() wrote it. A batch that failed on the learner's error carries that error only
        in the result's `error`, which its report then gets back."""
        error = data.get("error")
        steps = [GradCheckStep.from_json(step) for step in data.get("grad_check") or ()]
        raw = data.get("grad_check") or ()
        if steps and not raw[-1].get("passed") and steps[-1].report.passed and error:
            stopped = LearnerError(error["kind"], error.get("message", ""), error.get("line"), error.get("source"))
            steps[-1] = GradCheckStep(steps[-1].step, CheckReport("", "", math.nan, steps[-1].report.tensors, stopped))
        result = cls(exercise=data["exercise"], device=data["device"], requested_steps=0, grad_check=steps,
                     error=error, file=data.get("file"))
        train, samples = data.get("train"), data.get("samples") or {}
        if train is not None:
            result.requested_steps = train["requested_steps"]
            result.cancelled = train["cancelled"]
            result.learner = Trained.from_losses(train["learner"], samples.get("learner") or [])
            result.learner.seconds = train["seconds"]
            result.learner.error = train.get("error")
            if train.get("reference") is not None:
                result.reference = Trained.from_losses(train["reference"], samples.get("reference") or [])
        return result

    def to_line(self) -> dict[str, Any]:
        """The stream's last line: the result, and what the TUI shows beside it."""
        reference = self.reference
        return {
            "type": "result",
            "result": self.to_json(),
            "cancelled": self.cancelled,
            "reference_seconds": reference.seconds if reference is not None else None,
            "output": self.learner.output if self.learner is not None else "",
        }

    @classmethod
    def from_line(cls, line: Mapping[str, Any]) -> TrainingResult:
        result = cls.from_json(line["result"])
        result.cancelled = bool(line.get("cancelled", result.cancelled))
        if result.reference is not None and line.get("reference_seconds") is not None:
            result.reference.seconds = line["reference_seconds"]
        if result.learner is not None:
            result.learner.output = str(line.get("output") or "")
        return result


@dataclass(frozen=True)
class TrainingProblem:
    """A run that ended without a result: "error" (what the caller fixes: file, data, steps, device) or
    "crashed" (the process ended, or sent a line that cannot be read, before it reported)."""

    kind: Literal["error", "crashed"]
    message: str

    def to_line(self) -> dict[str, Any]:
        return {"type": self.kind, "message": self.message}

    @classmethod
    def from_line(cls, line: Mapping[str, Any]) -> TrainingProblem:
        return cls(line["type"], str(line.get("message", "")))


# What a training session reports while it runs.
Event = PhaseStarted | GradCheckStep | ProgressEvent
# One line of the stream the TUI reads: an event, or the run's end.
RunUpdate = PhaseStarted | GradCheckStep | ProgressEvent | TrainingResult | TrainingProblem
FINAL_UPDATES = (TrainingResult, TrainingProblem)

LINE_TYPES: dict[str, Any] = {
    "phase": PhaseStarted,
    "grad-check": GradCheckStep,
    "progress": ProgressEvent,
    "result": TrainingResult,
    "error": TrainingProblem,
    "crashed": TrainingProblem,
}


def update_from_line(line: Mapping[str, Any]) -> RunUpdate | None:
    """A stream line as its typed update; None for a type this tutor does not know."""
    kind = LINE_TYPES.get(line.get("type"))  # type: ignore[arg-type]
    return kind.from_line(line) if kind is not None else None
