"""The Checker: one warm object that builds contexts once and judges learner files against them."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from tutor.course.model import ContextSpec, Course, Exercise
from tutor.engine.autograd_use import find_autograd_use
from tutor.engine.compare import compare
from tutor.engine.context import Context, TrainingSplits, build_context
from tutor.engine.data import Dataset, load_names
from tutor.engine.report import CheckReport
from tutor.engine.sandbox import LearnerError, LearnerRun, Sandbox

DEFAULT_TIMEOUT = 10.0


class CheckerError(Exception):
    """A problem the learner fixes by changing how they call the tutor (device, file, data)."""


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise CheckerError("--device cuda: this torch build sees no CUDA GPU (try --device cpu or auto)")
        return "cuda"
    if device != "cpu":
        raise CheckerError(f"--device must be cpu, cuda or auto, not {device!r}")
    return "cpu"


def read_learner_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckerError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise CheckerError(f"{path} is a folder, not a Python file") from None
    except UnicodeDecodeError:
        raise CheckerError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise CheckerError(f"{path} cannot be read: {exc.strerror or exc}") from None


class Checker:
    """Holds the dataset, the contexts (one per exercise and batch) and the sandbox."""

    def __init__(
        self,
        course: Course,
        data: Path | None = None,
        device: str = "cpu",
        timeout: float = DEFAULT_TIMEOUT,
        dataset: Dataset | None = None,
    ) -> None:
        self.course = course
        self.device = resolve_device(device)
        if timeout <= 0:
            raise CheckerError("--timeout must be a positive number of seconds")
        self.timeout = timeout
        self.sandbox = Sandbox()  # starts importing torch in its own process right away
        self.dataset = dataset or load_names(data)
        self.splits = TrainingSplits(self.dataset)
        self._contexts: dict[tuple[str, ContextSpec], Context] = {}

    def context(self, exercise: Exercise, spec: ContextSpec | None = None) -> Context:
        spec = spec or exercise.context
        key = (exercise.id, spec)
        if key not in self._contexts:
            ctx = build_context(exercise, self.splits, self.device, spec)
            self.sandbox.load_context(ctx.key, ctx.inputs, ctx.scalars, self.device)
            self._contexts[key] = ctx
        return self._contexts[key]

    def run(self, exercise: Exercise, ctx: Context, source: str, filename: str, **kw) -> LearnerRun:
        names = [s.name for s in exercise.steps]
        return self.sandbox.run(ctx.key, source, filename, names, self.timeout, **kw)

    def check(self, exercise: Exercise, file: Path, source: str | None = None) -> CheckReport:
        started = time.perf_counter()
        if source is None:
            source = read_learner_file(file)
        report = self.check_in(exercise, self.context(exercise), source, str(file))
        report.elapsed = time.perf_counter() - started
        return report

    def check_in(self, exercise: Exercise, ctx: Context, source: str, filename: str) -> CheckReport:
        """Judge `source` in one context (the exercise's own, or one the caller built and loaded)."""
        if exercise.forbid_autograd:
            refused = refuse_autograd(source, filename)
            if refused is not None:
                return CheckReport(exercise=exercise.id, device=ctx.device, loss=ctx.loss, tensors=[], error=refused, file=filename)
        if not self.sandbox.has_context(ctx.key):
            self.sandbox.load_context(ctx.key, ctx.inputs, ctx.scalars, self.device)
        return judge(exercise, ctx, self.run(exercise, ctx, source, filename), filename)

    def close(self) -> None:
        self.sandbox.close()

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def refuse_autograd(source: str, filename: str) -> LearnerError | None:
    """The error for a file that uses autograd where the exercise forbids it (its first use)."""
    uses = find_autograd_use(source, filename)
    if not uses:
        return None
    first = uses[0]
    more = f" (and {len(uses) - 1} more use{'s' if len(uses) > 2 else ''})" if len(uses) > 1 else ""
    return LearnerError("forbidden", first.message() + more, first.line, first.source)


def judge(exercise: Exercise, ctx: Context, run: LearnerRun, filename: str) -> CheckReport:
    tensors = [
        compare(step.name, step.of, ctx.reference[step.name], run.value(step.name), ctx.device)
        for step in exercise.steps
    ]
    warnings = [
        f"your code changed {name} in place; the reference is unaffected, but gradients computed after that "
        "change used altered values"
        for name in run.modified
    ]
    return CheckReport(
        exercise=exercise.id,
        device=ctx.device,
        loss=ctx.loss,
        tensors=tensors,
        error=run.error,
        output=run.output,
        warnings=warnings,
        file=filename,
    )


__all__ = ["Checker", "CheckerError", "LearnerError", "judge", "refuse_autograd", "resolve_device"]
