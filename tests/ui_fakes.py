"""Fakes for the TUI tests: an in-memory progress store, a checker that judges a file by reading it, and a
trainer that replays scripted training lines."""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Any

from tutor.course.model import Course
from tutor.reports.check import CheckReply, CheckReport, LearnerError, TensorVerdict
from tutor.reports.training import GradCheckStep, PhaseStarted, ProgressEvent, Trained, TrainingResult, Who
from tutor.workspace import progress_state


class FakeStore:
    """ProgressStore's interface on a state kept in memory and changed by the store's own functions (shared
    between two app instances to test resuming)."""

    def __init__(self, warning: str | None = None) -> None:
        self.warning = warning
        self.data: dict[str, Any] = progress_state.fresh_state()

    def load(self) -> dict[str, Any]:
        return self.data

    def record_check(self, exercise_id: str, report: CheckReport) -> dict[str, Any]:
        return progress_state.record_check(self.data, exercise_id, report)

    def reveal_hint(self, exercise_id: str, step: str, total: int) -> int:
        return progress_state.reveal_hint(self.data, exercise_id, step, total)

    def hints_revealed(self, exercise_id: str, step: str) -> int:
        return progress_state.hints_of(self.data, exercise_id, step)

    def set_current(self, exercise_id: str, step: str | None) -> None:
        progress_state.set_current(self.data, exercise_id, step)

    def current(self) -> tuple[str | None, str | None]:
        return progress_state.current_of(self.data)

    def reset_exercise(self, exercise_id: str) -> None:
        progress_state.reset_exercise(self.data, exercise_id)

    def exercise_state(self, exercise_id: str) -> dict[str, Any]:
        return progress_state.exercise_of(self.data, exercise_id)


class FakeChecker:
    """A step passes when the file assigns its name something other than None; the rest are missing.
    The first wrong-looking assignment (`dX = WRONG`) makes a wrong tensor with a one-column error grid."""

    def __init__(self, course: Course) -> None:
        self.course = course
        self.calls: list[str] = []
        self.started = threading.Event()

    def start(self) -> None:
        self.started.set()

    def close(self) -> None:
        pass

    def check(self, exercise_id: str, path: Path) -> dict[str, Any]:
        """What the check service sends: the typed reply of `reply()`, as JSON."""
        self.calls.append(exercise_id)
        return self.reply(exercise_id, path).to_json()

    def reply(self, exercise_id: str, path: Path) -> CheckReply:
        exercise = self.course.find(exercise_id)
        try:
            source = Path(path).read_text()
        except OSError as exc:
            return CheckReply(message=f"{path} cannot be read: {exc.strerror}")
        tensors, grids = [], {}
        for step in exercise.steps:
            match = re.search(rf"^{step.name}\s*=\s*(\S+)", source, re.M)
            value = match.group(1) if match else "None"
            status = "missing" if value == "None" else "wrong" if value == "WRONG" else "exact"
            tensors.append(TensorVerdict(
                step.name, step.of, status, (4, 6), None if status == "missing" else (4, 6),
                max_abs_diff=None if status == "missing" else (0.5 if status == "wrong" else 0.0),
                exact=status == "exact", close=status == "exact",
            ))
            if status == "wrong":
                cells = [[0.5 if c == 2 else 0.0 for c in range(6)] for _ in range(4)]
                value_cells = [[float(r - c) for c in range(6)] for r in range(4)]
                grids[step.name] = {
                    "diff": {"shape": [4, 6], "rows": 4, "cols": 6, "downsampled": False, "max": 0.5, "cells": cells},
                    "value": {"shape": [4, 6], "rows": 4, "cols": 6, "downsampled": False, "max": 5.0, "cells": value_cells},
                }
        error = None
        crash = re.search(r"^raise (\w+)", source, re.M)
        if crash:
            line = source[: crash.start()].count("\n") + 1
            error = LearnerError("exception", f"{crash.group(1)}: raised on purpose", line)
        report = CheckReport(exercise_id, "cpu", 3.3, tensors, error, file=str(path), elapsed=0.05)
        return CheckReply(report, grids=grids)


# -- training ---------------------------------------------------------------------------------------------
GRADIENTS = [("dC", "C", [27, 10]), ("dW1", "W1", [30, 200]), ("db1", "b1", [200]), ("dW2", "W2", [200, 27]),
             ("db2", "b2", [27]), ("dbngain", "bngain", [1, 200]), ("dbnbias", "bnbias", [1, 200])]
SAMPLES = ["mora", "kayah", "seel", "ndheyah", "reimanie", "jendra", "gradelyn", "elin", "shy", "jen", "eden",
           "estanaraelyn", "malaia", "noshubergihiriel", "kindreelynn", "novana", "ubrence", "ryyah", "faeha", "kaysh"]


def grad_check_step(step: int, wrong: str | None = None) -> GradCheckStep:
    tensors = [TensorVerdict(name, of, "wrong" if name == wrong else "close", tuple(shape), tuple(shape),
                             max_abs_diff=0.25 if name == wrong else 1e-8, close=name != wrong)
               for name, of, shape in GRADIENTS]
    return GradCheckStep(step, CheckReport("training", "cpu", 3.3, tensors))


def grad_check_line(step: int, wrong: str | None = None) -> dict[str, Any]:
    return grad_check_step(step, wrong).to_line()


def log10_loss(i: int) -> float:
    """A deterministic, noisy, falling curve like the lecture's lossi."""
    return 0.52 - 0.17 * (1 - math.exp(-i / 250)) + 0.03 * math.sin(i * 1.7) * math.cos(i * 0.37)


def progress_lines(who: Who, steps: int, chunk: int) -> list[dict[str, Any]]:
    return [ProgressEvent(who, min(s + chunk, steps), steps, min(s + chunk, steps) / 2000,
                          tuple(log10_loss(i) for i in range(s, min(s + chunk, steps)))).to_line()
            for s in range(0, steps, chunk)]


def result_line(steps: int, requested: int, *, reference: bool = True, grad_fail: str | None = None,
                cancelled: bool = False) -> dict[str, Any]:
    if grad_fail is not None:
        of = dict((n, o) for n, o, _ in GRADIENTS)[grad_fail]
        error = {"kind": "grad-check", "step": 0, "gradient": grad_fail, "parameter": of, "line": None,
                 "message": f"batch 0: {grad_fail} (the gradient of {of}) is wrong: max abs diff 2.50e-01"}
        return TrainingResult("training", "cpu", requested, grad_check=[grad_check_step(0, grad_fail)], error=error,
                              file="training.py").to_line()
    mine = Trained(steps, steps / 2000, loss={"train": 2.2512, "val": 2.2634}, samples=list(SAMPLES))
    # autograd's model ends a few 1e-7 away, as float noise in another order of operations leaves it
    theirs = Trained(steps, steps / 1900, loss={"train": 2.2512 + 3e-7, "val": 2.2634 + 2e-7}, samples=list(SAMPLES))
    return TrainingResult("training", "cpu", requested, grad_check=[grad_check_step(k) for k in range(5)], learner=mine,
                          reference=theirs if reference else None, cancelled=cancelled, file="training.py").to_line()


def training_script(steps: int = 1000, chunk: int = 250) -> list[dict[str, Any]]:
    """The lines of a whole passing run, as tutor.training.stream writes them."""
    return [
        PhaseStarted("grad-check", 5).to_line(),
        *[grad_check_line(k) for k in range(5)],
        PhaseStarted("train", steps).to_line(),
        *progress_lines("learner", steps, chunk),
        PhaseStarted("evaluate", steps).to_line(),
        PhaseStarted("reference", steps, "reference").to_line(),
        *progress_lines("reference", steps, chunk),
        PhaseStarted("evaluate", steps, "reference").to_line(),
        result_line(steps, steps),
    ]


class FakeRun:
    """Replays its lines; with `hold_at`, waits before that line until the test releases it or cancels
    (then yields `on_cancel` and ends); with `fail`, raises after the lines as a broken reader would."""

    def __init__(self, lines: list[dict[str, Any]], hold_at: int | None = None,
                 on_cancel: dict[str, Any] | None = None, fail: bool = False) -> None:
        self.lines, self.hold_at, self.on_cancel, self.fail = lines, hold_at, on_cancel, fail
        self.release = threading.Event()
        self.cancelled = threading.Event()
        self.stopped = threading.Event()
        self.held = threading.Event()

    def events(self):
        for i, line in enumerate(self.lines):
            if i == self.hold_at:
                self.held.set()
                self.release.wait(10)
                if self.cancelled.is_set():
                    if self.on_cancel is not None:
                        yield self.on_cancel
                    return
            if self.stopped.is_set():
                return
            yield line
        if self.fail:
            raise RuntimeError("the pipe broke")

    def cancel(self) -> None:
        self.cancelled.set()
        self.release.set()

    def stop(self) -> None:
        self.stopped.set()
        self.release.set()


class FakeTrainer:
    """start() hands out the next prepared FakeRun (or a passing run) and remembers what it was asked."""

    def __init__(self, *runs: FakeRun) -> None:
        self.runs = list(runs)
        self.started: list[tuple[str, Path]] = []
        self.closed = False

    def start(self, exercise_id: str, path: Path) -> FakeRun:
        self.started.append((exercise_id, path))
        return self.runs.pop(0) if self.runs else FakeRun(training_script())

    def close(self) -> None:
        self.closed = True
        for run in self.runs:
            run.stop()
