"""Fakes for the TUI tests: an in-memory progress store and a checker that judges a file by reading it."""

from __future__ import annotations

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
                "note": None, "isolated": None, "inherits_from": None, "diagnosis": None,
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
