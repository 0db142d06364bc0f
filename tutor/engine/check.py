"""The Checker: one warm object that builds contexts once and judges learner files against them."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import torch

from tutor.course.model import ContextSpec, Course, Exercise
from tutor.engine.autograd_use import find_autograd_use
from tutor.engine.context import Context, TrainingSplits, build_context
from tutor.engine.course_code import course_code
from tutor.engine.data import Dataset, load_names
from tutor.engine.judge import judge
from tutor.engine.limits import MAX_LEARNER_BYTES, TIMEOUT_RANGE
from tutor.engine.report import CheckReport
from tutor.engine.sandbox import LearnerError, LearnerRun, RunSpec, Sandbox

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
        info = path.stat()
    except FileNotFoundError:
        raise CheckerError(f"{path} does not exist") from None
    except OSError as exc:
        raise CheckerError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CheckerError(f"{path} is a folder, not a Python file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read, /dev/zero would never end
        raise CheckerError(f"{path} is not a regular file (a pipe or a device?); name a Python file")
    if info.st_size > MAX_LEARNER_BYTES:
        raise CheckerError(f"{path} is {info.st_size:,} bytes; a file to check may be at most {MAX_LEARNER_BYTES // 1024} KiB")
    try:
        text = path.read_text(encoding="utf-8")
        if len(text) > MAX_LEARNER_BYTES:  # it grew after the stat
            raise CheckerError(f"{path} is larger than {MAX_LEARNER_BYTES // 1024} KiB")
        return text
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
        if not TIMEOUT_RANGE[0] <= timeout <= TIMEOUT_RANGE[1]:
            raise CheckerError(f"--timeout must be between {TIMEOUT_RANGE[0]:g} and {TIMEOUT_RANGE[1]:g} seconds")
        self.timeout = timeout
        self.sandbox = Sandbox()  # starts importing torch in its own process right away
        self.dataset = dataset or load_names(data)
        self.splits = TrainingSplits(self.dataset)
        self._contexts: dict[tuple[str, ContextSpec], Context] = {}
        # The chained run on the first context of the latest check, for views that draw its tensors.
        self.last_run: tuple[Context, LearnerRun] | None = None

    def context(self, exercise: Exercise, spec: ContextSpec | None = None) -> Context:
        spec = spec or exercise.context
        key = (exercise.id, spec)
        if key not in self._contexts:
            with course_code(exercise):
                ctx = build_context(exercise, self.splits, self.device, spec)
            self.sandbox.load_context(ctx.key, ctx.inputs, ctx.scalars, self.device)
            self._contexts[key] = ctx
        return self._contexts[key]

    def contexts(self, exercise: Exercise) -> list[Context]:
        """The checked context, then the second one (another seed and batch size) unless it is the same."""
        first = self.context(exercise)
        if exercise.second_context == exercise.context:
            return [first]
        return [first, self.context(exercise, exercise.second_context)]

    def check(self, exercise: Exercise, file: Path, source: str | None = None) -> CheckReport:
        started = time.perf_counter()
        if source is None:
            source = read_learner_file(file)
        report = self.check_in(exercise, self.contexts(exercise), source, str(file))
        report.elapsed = time.perf_counter() - started
        return report

    def check_in(self, exercise: Exercise, contexts: list[Context], source: str, filename: str) -> CheckReport:
        """Judge `source` in the given contexts (the exercise's own, or ones the caller built): a tensor passes
        only where it passes in every context."""
        first = contexts[0]
        if exercise.forbid_autograd:
            refused = refuse_autograd(source, filename)
            if refused is not None:
                return CheckReport(exercise=exercise.id, device=first.device, loss=first.loss, tensors=[], error=refused, file=filename)
        for ctx in contexts:
            if not self.sandbox.has_context(ctx.key):
                self.sandbox.load_context(ctx.key, ctx.inputs, ctx.scalars, self.device)
        names = [s.name for s in exercise.steps]

        def run(specs: list[RunSpec]) -> list[LearnerRun]:
            return self.sandbox.run_many(specs, source, filename, names, self.timeout)

        def isolate() -> list[LearnerRun]:
            # hands the learner's code the correct gradients: only ever run after a chained failure
            return run([RunSpec(c.key, correct=c.reference, swap=tuple(names)) for c in contexts])

        runs = run([RunSpec(c.key) for c in contexts])  # every context in one forked child
        self.last_run = (first, runs[0])
        return judge(exercise, contexts, runs, filename, isolate=isolate)

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


__all__ = ["Checker", "CheckerError", "LearnerError", "judge", "refuse_autograd", "resolve_device"]
