"""The result of checking one learner file: plain data that the CLI, the TUI and JSON all read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tutor.engine.compare import TensorVerdict
from tutor.engine.sandbox import LearnerError


@dataclass
class CheckReport:
    exercise: str
    device: str
    loss: float
    tensors: list[TensorVerdict]
    error: LearnerError | None = None
    output: str = ""
    warnings: list[str] = field(default_factory=list)
    file: str | None = None
    elapsed: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and all(t.passed for t in self.tensors if not t.support)

    @property
    def first_failure(self) -> TensorVerdict | None:
        """The row to fix first: the first failing one whose own line is at fault, else the first failing."""
        failing = [t for t in self.tensors if not t.passed]
        return next((t for t in failing if not t.inherits_from), failing[0] if failing else None)

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "passed": self.passed,
            "device": self.device,
            "loss": self.loss,
            "error": self.error.to_json() if self.error else None,
            "tensors": [t.to_json() for t in self.tensors],
            "file": self.file,
            "output": self.output,
            "warnings": self.warnings,
        }
