"""What a training run reports while it runs (events) and when it ends (TrainingResult): plain data.

The CLI and the TUI read the same events; `TrainingResult.to_json()` is the `train --json` object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tutor.engine.report import CheckReport

Who = Literal["learner", "reference"]
PhaseName = Literal["grad-check", "train", "reference", "evaluate"]


@dataclass(frozen=True)
class PhaseStarted:
    """A phase begins: grad-check (of `steps` batches), train / reference (`steps` steps), evaluate."""

    phase: PhaseName
    steps: int
    who: Who = "learner"
    kind: Literal["phase"] = "phase"


@dataclass(frozen=True)
class GradCheckStep:
    """The learner's gradients on one batch of the loop, judged against autograd's."""

    step: int
    report: CheckReport
    kind: Literal["grad-check"] = "grad-check"

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "passed": self.report.passed, "tensors": [t.to_json() for t in self.report.tensors]}


@dataclass(frozen=True)
class Progress:
    """Training progress: `lossi` holds the log10 losses of the steps since the previous Progress."""

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


@dataclass
class Trained:
    """One trained model: how far it got, how long the loop took, its split losses and samples."""

    steps: int = 0
    seconds: float = 0.0
    cancelled: bool = False
    loss: dict[str, float] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    output: str = ""
    lossi: list[float] = field(default_factory=list)
    # The learner's trained parameters, sent back for evaluation where the learner's code never ran.
    params: dict[str, Any] | None = field(default=None, repr=False)

    def losses_json(self) -> dict[str, Any]:
        return {"train": self.loss.get("train"), "val": self.loss.get("val"), "steps": self.steps}


@dataclass
class TrainingResult:
    exercise: str
    device: str
    requested_steps: int
    grad_check: list[GradCheckStep] = field(default_factory=list)
    learner: Trained | None = None
    reference: Trained | None = None
    error: dict[str, Any] | None = None
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


Event = PhaseStarted | GradCheckStep | Progress
