"""Fakes for the TUI tests: an in-memory progress store, a checker that judges a file by reading it, and a
trainer that replays scripted training lines."""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Any

from tutor.course.model import Course


class FakeStore:
    """ProgressStore's interface, kept in a dict (shared between two app instances to test resuming)."""

    def __init__(self, warning: str | None = None) -> None:
        self.warning = warning
        self.data: dict[str, Any] = {"current": [None, None], "exercises": {}}

    def load(self) -> dict:
        return self.data

    def _ex(self, exercise_id: str) -> dict:
        return self.data["exercises"].setdefault(
            exercise_id, {"passed": False, "first_passed_at": None, "attempts": 0, "last_status": None, "steps": {}, "hints": {}})

    def record_check(self, exercise_id: str, report: dict) -> dict:
        ex = self._ex(exercise_id)
        ex["attempts"] += 1
        ex["passed"] = ex["passed"] or bool(report["passed"])
        ex["last_status"] = "passed" if report["passed"] else "failing"
        for t in report["tensors"]:
            step = ex["steps"].setdefault(t["name"], {"passed": False, "attempts": 0, "hints": 0, "last_status": None})
            step["attempts"] += 1
            step["passed"] = step["passed"] or t["status"] in ("exact", "close")
            step["last_status"] = t["status"]
        return ex

    def reveal_hint(self, exercise_id: str, step: str, total: int) -> int:
        hints = self._ex(exercise_id)["hints"]
        hints[step] = min(total, hints.get(step, 0) + 1)
        return hints[step]

    def hints_revealed(self, exercise_id: str, step: str) -> int:
        return self._ex(exercise_id)["hints"].get(step, 0)

    def set_current(self, exercise_id: str, step: str | None) -> None:
        self.data["current"] = [exercise_id, step]

    def current(self) -> tuple[str | None, str | None]:
        return tuple(self.data["current"])  # type: ignore[return-value]

    def reset_exercise(self, exercise_id: str) -> None:
        self.data["exercises"].pop(exercise_id, None)

    def exercise_state(self, exercise_id: str) -> dict:
        return self._ex(exercise_id)


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
        self.calls.append(exercise_id)
        exercise = self.course.find(exercise_id)
        try:
            source = Path(path).read_text()
        except OSError as exc:
            return {"type": "error", "message": f"{path} cannot be read: {exc.strerror}"}
        tensors, grids = [], {}
        for step in exercise.steps:
            match = re.search(rf"^{step.name}\s*=\s*(\S+)", source, re.M)
            value = match.group(1) if match else "None"
            status = "missing" if value == "None" else "wrong" if value == "WRONG" else "exact"
            tensors.append({
                "name": step.name, "of": step.of, "status": status, "expected_shape": [4, 6],
                "shape": None if status == "missing" else [4, 6],
                "max_abs_diff": None if status == "missing" else (0.5 if status == "wrong" else 0.0),
                "note": None, "local": None, "inherits_from": None, "diagnosis": None,
            })
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
            error = {"kind": "exception", "message": f"{crash.group(1)}: raised on purpose", "line": line}
        passed = error is None and all(t["status"] == "exact" for t in tensors)
        return {"type": "report", "exercise": exercise_id, "passed": passed, "device": "cpu", "loss": 3.3,
                "error": error, "tensors": tensors, "file": str(path), "output": "", "warnings": [], "grids": grids,
                "elapsed": 0.05}


# -- training ---------------------------------------------------------------------------------------------
GRADIENTS = [("dC", "C", [27, 10]), ("dW1", "W1", [30, 200]), ("db1", "b1", [200]), ("dW2", "W2", [200, 27]),
             ("db2", "b2", [27]), ("dbngain", "bngain", [1, 200]), ("dbnbias", "bnbias", [1, 200])]
SAMPLES = ["mora", "kayah", "seel", "ndheyah", "reimanie", "jendra", "gradelyn", "elin", "shy", "jen", "eden",
           "estanaraelyn", "malaia", "noshubergihiriel", "kindreelynn", "novana", "ubrence", "ryyah", "faeha", "kaysh"]


def grad_check_line(step: int, wrong: str | None = None) -> dict[str, Any]:
    tensors = [{"name": name, "of": of, "status": "wrong" if name == wrong else "close", "expected_shape": shape,
                "shape": shape, "max_abs_diff": 0.25 if name == wrong else 1e-8, "note": None, "local": None,
                "inherits_from": None, "diagnosis": None} for name, of, shape in GRADIENTS]
    return {"type": "grad-check", "step": step, "passed": wrong is None, "tensors": tensors, "error": None}


def log10_loss(i: int) -> float:
    """A deterministic, noisy, falling curve like the lecture's lossi."""
    return 0.52 - 0.17 * (1 - math.exp(-i / 250)) + 0.03 * math.sin(i * 1.7) * math.cos(i * 0.37)


def progress_lines(who: str, steps: int, chunk: int) -> list[dict[str, Any]]:
    return [{"type": "progress", "who": who, "step": min(s + chunk, steps), "steps": steps,
             "elapsed": min(s + chunk, steps) / 2000, "lossi": [log10_loss(i) for i in range(s, min(s + chunk, steps))]}
            for s in range(0, steps, chunk)]


def result_line(steps: int, requested: int, *, reference: bool = True, grad_fail: str | None = None,
                cancelled: bool = False) -> dict[str, Any]:
    checks = [grad_check_line(k) for k in range(5)] if grad_fail is None else [grad_check_line(0, grad_fail)]
    if grad_fail is not None:
        of = dict((n, o) for n, o, _ in GRADIENTS)[grad_fail]
        error = {"kind": "grad-check", "step": 0, "gradient": grad_fail, "parameter": of, "line": None,
                 "message": f"batch 0: {grad_fail} (the gradient of {of}) is wrong: max abs diff 2.50e-01"}
        result = {"exercise": "training", "passed": False, "device": "cpu", "file": "training.py",
                  "grad_check": checks, "train": None, "samples": {"learner": [], "reference": []}, "error": error}
        return {"type": "result", "result": result, "cancelled": False, "reference_seconds": None, "output": ""}
    mine = {"train": 2.2512, "val": 2.2634, "steps": steps}
    theirs = {"train": 2.2512, "val": 2.2634, "steps": steps} if reference else None
    train = {"steps": steps, "requested_steps": requested, "seconds": steps / 2000, "steps_per_s": 2000.0,
             "learner": mine, "reference": theirs, "difference": {"train": 3e-7, "val": 2e-7} if reference else None,
             "cancelled": cancelled, "error": None}
    result = {"exercise": "training", "passed": not cancelled, "device": "cpu", "file": "training.py",
              "grad_check": checks, "train": train,
              "samples": {"learner": SAMPLES, "reference": SAMPLES if reference else []}, "error": None}
    return {"type": "result", "result": result, "cancelled": cancelled,
            "reference_seconds": steps / 1900 if reference else None, "output": ""}


def training_script(steps: int = 1000, chunk: int = 250) -> list[dict[str, Any]]:
    """The lines of a whole passing run, as tutor.training.stream writes them."""
    return [
        {"type": "phase", "phase": "grad-check", "steps": 5, "who": "learner"},
        *[grad_check_line(k) for k in range(5)],
        {"type": "phase", "phase": "train", "steps": steps, "who": "learner"},
        *progress_lines("learner", steps, chunk),
        {"type": "phase", "phase": "evaluate", "steps": steps, "who": "learner"},
        {"type": "phase", "phase": "reference", "steps": steps, "who": "reference"},
        *progress_lines("reference", steps, chunk),
        {"type": "phase", "phase": "evaluate", "steps": steps, "who": "reference"},
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
