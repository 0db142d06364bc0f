"""The Checker: one warm object that builds contexts once and judges learner files against them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import torch

from tutor.course.model import DATA_NAMES, DATA_NONE, ContextSpec, Course, Exercise, Step
from tutor.engine.autograd_use import find_autograd_use
from tutor.engine.bounds import TIMEOUT_RANGE
from tutor.engine.context import Context, TrainingSplits, build_context, draw_second_spec
from tutor.engine.course_code import course_code
from tutor.engine.data import Dataset, load_names
from tutor.engine.judge import judge, verdicts_at
from tutor.engine.local import LocalPool, LocalTrial
from tutor.engine.naming import add_source_notes
from tutor.learner.file import CheckerError, LearnerFile, read_learner_file
from tutor.reports.check import CheckReport, LearnerError, TensorVerdict
from tutor.sandbox.client import RunSpec, Sandbox
from tutor.sandbox.privacy import hide_memory
from tutor.sandbox.results import LearnerRun

DEFAULT_TIMEOUT = 10.0
# How long after a check the next one's batch and draw are prepared (sooner when the next check comes): the
# preparing thread would otherwise hold the interpreter while the caller shows the verdict.
PREPARE_AFTER_S = 0.05


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



class Checker:
    """Holds the dataset, the lecture's contexts, their local-rule pools and the sandbox."""

    def __init__(
        self,
        course: Course,
        data: Path | None = None,
        device: str = "cpu",
        timeout: float = DEFAULT_TIMEOUT,
        dataset: Dataset | None = None,
        back_to_back: bool = False,
    ) -> None:
        """`back_to_back`: checks come one right after another and only their total time counts (a grader),
        not each one's wait (a learner): the sandbox's children skip their warm-up run of the solution on
        stand-ins (which moves work off a check's wait at the cost of more work in all), and the zygote forks
        new children as soon as a run ends."""
        hide_memory()  # this process will hold autograd's answers
        self.course = course
        self.device = resolve_device(device)
        if not TIMEOUT_RANGE[0] <= timeout <= TIMEOUT_RANGE[1]:
            raise CheckerError(f"--timeout must be between {TIMEOUT_RANGE[0]:g} and {TIMEOUT_RANGE[1]:g} seconds")
        self.timeout = timeout
        self.back_to_back = back_to_back
        self.sandbox = Sandbox(back_to_back=back_to_back)  # starts importing torch in its own process right away
        self.dataset = dataset or load_names(data)
        self.splits = TrainingSplits(self.dataset)
        self._other_splits: dict[str, TrainingSplits] = {}  # a pack's own text files, by path
        self._contexts: dict[tuple[str, ContextSpec], Context] = {}
        self._pools: dict[tuple[str, tuple[str, ...]], LocalPool] = {}
        # The next check's second batch and local-rule draw, prepared while the learner types.
        self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="next-check")
        self._next: dict[str, Future[tuple[Context, tuple[str, ...], LocalTrial]]] = {}
        self._hurry = threading.Event()  # a check is waiting for what is being prepared, or the checker closes
        self._closing = False
        self._last_rows: tuple[Step, ...] = ()
        # The runs of the latest check on each batch (the lecture's first), for views that draw its tensors.
        self.last_runs: list[tuple[Context, LearnerRun]] = []

    def _warm_source(self, exercise: Exercise) -> str:
        return "" if self.back_to_back else warm_up_source(exercise)

    def splits_for(self, exercise: Exercise) -> TrainingSplits | None:
        """The data of the exercise's model: the names (--data or the bundled file), a text file of the pack's
        own, or none (the model's code draws its inputs)."""
        data = exercise.model.data
        if data == DATA_NONE:
            return None
        if data == DATA_NAMES:
            return self.splits
        if data not in self._other_splits:
            self._other_splits[data] = TrainingSplits(load_names(Path(data)))
        return self._other_splits[data]

    def context(self, exercise: Exercise, spec: ContextSpec | None = None) -> Context:
        """The context of `spec` (the lecture's batch by default), built once and held by the sandbox."""
        spec = spec or exercise.context
        key = (exercise.id, spec)
        if key not in self._contexts:
            with course_code(exercise):
                ctx = build_context(exercise, self.splits_for(exercise), self.device, spec)
            self.sandbox.load_context(ctx.key, ctx.inputs, ctx.scalars, self.device, warm=self._warm_source(exercise))
            self._contexts[key] = ctx
        return self._contexts[key]

    def second_context(self, exercise: Exercise) -> Context:
        """A batch drawn for one check: a fresh seed and every size different (never kept, never reused)."""
        splits = self.splits_for(exercise)
        spec = draw_second_spec(exercise, splits.dataset.vocab_size if splits is not None else None)
        with course_code(exercise):
            return build_context(exercise, splits, self.device, spec)

    def _prepare(self, exercise: Exercise, rows: tuple[Step, ...]) -> tuple[Context, tuple[str, ...], LocalTrial]:
        first = self.context(exercise)
        trial = self.pool(exercise, first, rows).trial()
        second = self.second_context(exercise)
        # packed and sent to the child that will run the check, while the learner types (no answer goes)
        self.sandbox.prime(run_specs(first, [first, second], trial))
        return second, tuple(row.name for row in rows), trial

    def _prepare_later(self, exercise: Exercise, rows: tuple[Step, ...]) -> tuple[Context, tuple[str, ...], LocalTrial]:
        self._hurry.wait(PREPARE_AFTER_S)
        if self._closing:
            raise RuntimeError("the checker closed")
        return self._prepare(exercise, rows)

    def _prepared(self, exercise: Exercise) -> tuple[Context, tuple[str, ...], LocalTrial] | None:
        ahead = self._next.pop(exercise.id, None)
        self._hurry.set()
        try:
            return ahead.result() if ahead is not None else None
        except Exception:  # noqa: BLE001 - whatever went wrong is met again, and reported, on the spot
            return None

    def pool(self, exercise: Exercise, ctx: Context, rows: tuple[Step, ...]) -> LocalPool:
        key = (ctx.key, tuple(row.name for row in rows))
        if key not in self._pools:
            self._pools[key] = LocalPool.build(exercise, ctx, rows)
        return self._pools[key]

    def check(self, exercise: Exercise, file: Path, source: str | None = None, cells: Any = None) -> CheckReport:
        """Judge the learner's file (its text in `source`, else read from `file`; `cells`: a notebook's map of
        where each line came from). The file is read, and parsed, once here: everything below reads it."""
        started = time.perf_counter()
        learner = LearnerFile(read_learner_file(file) if source is None else source, str(file), cells)
        ready = self._prepared(exercise)
        contexts = [self.context(exercise), ready[0] if ready else self.second_context(exercise)]
        report = self.check_in(exercise, contexts, learner, ready[1:] if ready else None)
        report.elapsed = time.perf_counter() - started
        # drawn now, used once: the learner's code never sees a batch or a draw before its check
        self._hurry.clear()
        self._next[exercise.id] = self._ahead.submit(self._prepare_later, exercise, self._last_rows)
        return report

    def check_in(
        self,
        exercise: Exercise,
        contexts: list[Context],
        learner: LearnerFile,
        drawn: tuple[tuple[str, ...], LocalTrial] | None = None,
    ) -> CheckReport:
        """Judge the learner's file on the given contexts (the lecture's batch first; later ones are sent with the
        request) and under the local rule on the first: a row passes only where it passes every run."""
        first = contexts[0]
        if exercise.forbid_autograd:
            refused = refuse_autograd(learner)
            if refused is not None:
                return CheckReport(exercise=exercise.id, device=first.device, loss=first.loss, tensors=[], error=refused, file=learner.filename)
        if not self.sandbox.has_context(first.key):
            self.sandbox.load_context(first.key, first.inputs, first.scalars, self.device, warm=self._warm_source(exercise))
        assigned = learner.assigned if exercise.support or exercise.chain else frozenset()
        rows = tuple(row for row in exercise.rows if not row.support or row.name in assigned)
        self._last_rows = rows
        names = tuple(row.name for row in rows)
        if drawn is not None and drawn[0] == names and drawn[1].key == first.key:
            trial = drawn[1]
        else:
            trial = self.pool(exercise, first, rows).trial()
        specs = run_specs(first, contexts, trial)
        early: dict[int, tuple[LearnerRun, list[TensorVerdict]]] = {}

        def on_run(index: int, run: LearnerRun) -> None:  # while the child runs the next one
            verdicts = verdicts_at(index, run, rows, contexts, trial)
            if verdicts is not None:
                early[index] = (run, verdicts)

        runs = self.sandbox.run_many(specs, learner, [row.name for row in rows], self.timeout, on_run=on_run)
        self.last_runs = list(zip(contexts, runs))
        chain = tuple(name for name in exercise.chain if name in assigned)
        report = judge(exercise, rows, contexts, runs[:-1], learner.filename, trial=trial, local=runs[-1], chain_used=chain, early=early)
        add_source_notes(report.tensors, learner, report.error)
        return report

    def close(self) -> None:
        self._closing = True
        self._hurry.set()
        self._ahead.shutdown(wait=False, cancel_futures=True)
        self.sandbox.close()

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_specs(first: Context, contexts: list[Context], trial: LocalTrial) -> list[RunSpec]:
    """The check's runs: the lecture's batch (held by the sandbox), each later context sent inline, and the
    local-rule run on the lecture's batch. Each spec is made once per context or trial, so what is packed and
    sent ahead of the check (Checker._prepare, Sandbox.prime) is what the check runs."""
    specs = [_spec_of(first, lambda: RunSpec(first.key))]
    specs += [_spec_of(ctx, lambda ctx=ctx: RunSpec(inline=ctx.scalars, tensors=ctx.inputs)) for ctx in contexts[1:]]
    if trial.run_spec is None:
        trial.run_spec = RunSpec(first.key, tensors=trial.given, inject=trial.inject, hook=trial.hook)
    specs.append(trial.run_spec)
    return specs


def _spec_of(ctx: Context, make: Callable[[], RunSpec]) -> RunSpec:
    """The context's run spec, made once (a context is the first of its checks, or a later one, never both)."""
    spec = ctx.derived.get("run_spec")
    if not isinstance(spec, RunSpec):
        spec = ctx.derived["run_spec"] = make()
    return spec


def warm_up_source(exercise: Exercise) -> str:
    """The exercise's solution, which the sandbox runs on stand-in values to warm up the ops it uses."""
    try:
        return exercise.solution.read_text(encoding="utf-8")
    except OSError:
        return ""


def refuse_autograd(learner: LearnerFile) -> LearnerError | None:
    """The error for a file that uses autograd where the exercise forbids it (its first use)."""
    uses = find_autograd_use(learner)
    if not uses:
        return None
    first = uses[0]
    more = f" (and {len(uses) - 1} more use{'s' if len(uses) > 2 else ''})" if len(uses) > 1 else ""
    return LearnerError("forbidden", first.message() + more, first.line, first.source)


__all__ = ["Checker", "CheckerError", "LearnerError", "judge", "refuse_autograd", "resolve_device"]
