"""A learner's progress as plain data: the state's version-1 shape (the one home of the empty state, exercise
and step records), reading it from a progress file's text, and what a check, a hint, the current step and a
reset change in it. No files here: tutor.workspace.progress keeps the state on disk, and tests keep it in memory."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any, Literal

from tutor.reports.check import CheckReport

VERSION = 1

ExerciseStatus = Literal["passed", "failed", "error"]


class ProgressFileError(Exception):
    """progress.json exists but cannot be used: `kind` is "corrupt", "unknown-version" or "unreadable"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def fresh_state() -> dict[str, Any]:
    return {"version": VERSION, "current": {"exercise": None, "step": None}, "exercises": {}}


def fresh_exercise() -> dict[str, Any]:
    return {"passed": False, "first_passed_at": None, "attempts": 0, "last_status": None, "steps": {}}


def fresh_step() -> dict[str, Any]:
    return {"passed": False, "first_passed_at": None, "attempts": 0, "hints": 0, "last_status": None}


# The fields every record must have, with the types they may hold; unknown extra fields are kept as they are.
_EXERCISE_FIELDS: dict[str, tuple[type, ...]] = {
    "passed": (bool,),
    "first_passed_at": (str, type(None)),
    "attempts": (int,),
    "last_status": (str, type(None)),
    "steps": (dict,),
}
_STEP_FIELDS: dict[str, tuple[type, ...]] = {
    "passed": (bool,),
    "first_passed_at": (str, type(None)),
    "attempts": (int,),
    "hints": (int,),
    "last_status": (str, type(None)),
}


def _check_fields(record: Any, fields: dict[str, tuple[type, ...]], fresh: dict[str, Any], where: str) -> dict:
    if not isinstance(record, dict):
        raise ProgressFileError("corrupt", f"{where} is not an object")
    record = {**fresh, **record}  # a field added later in version 1 may be absent from an older file
    for key, kinds in fields.items():
        value = record[key]
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise ProgressFileError("corrupt", f"{where}.{key} has the wrong type ({type(value).__name__})")
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ProgressFileError("corrupt", f"{where}.{key} is negative")
    return record


def parse_state(text: str) -> dict[str, Any]:
    """The state in a progress file's text; ProgressFileError when it is not a version-1 progress file."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProgressFileError("corrupt", f"it is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ProgressFileError("corrupt", "it is not a JSON object")
    version = data.get("version")
    if version != VERSION or isinstance(version, bool):
        if isinstance(version, int) and not isinstance(version, bool):
            raise ProgressFileError("unknown-version", f"it has version {version}; this tutor reads version {VERSION}")
        raise ProgressFileError("corrupt", "it has no version number")
    state = {**fresh_state(), **data}
    current = state["current"]
    if not isinstance(current, dict) or not all(
        isinstance(current.get(key), (str, type(None))) for key in ("exercise", "step")
    ):
        raise ProgressFileError("corrupt", "current is not {exercise, step}")
    state["current"] = {"exercise": current.get("exercise"), "step": current.get("step")}
    if not isinstance(state["exercises"], dict):
        raise ProgressFileError("corrupt", "exercises is not an object")
    exercises = {}
    for ident, record in state["exercises"].items():
        record = _check_fields(record, _EXERCISE_FIELDS, fresh_exercise(), f"exercises.{ident}")
        record["steps"] = {
            name: _check_fields(step, _STEP_FIELDS, fresh_step(), f"exercises.{ident}.steps.{name}")
            for name, step in record["steps"].items()
        }
        exercises[ident] = record
    state["exercises"] = exercises
    return state


def exercise_record(state: dict[str, Any], exercise_id: str) -> dict[str, Any]:
    return state["exercises"].setdefault(exercise_id, fresh_exercise())


def step_record(state: dict[str, Any], exercise_id: str, step: str) -> dict[str, Any]:
    return exercise_record(state, exercise_id)["steps"].setdefault(step, fresh_step())


def _mark_pass(record: dict[str, Any], passed: bool, when: str) -> None:
    if passed and not record["passed"]:
        record["passed"], record["first_passed_at"] = True, when


def apply_check(state: dict[str, Any], exercise_id: str, report: CheckReport, when: str) -> None:
    """Count one check in state; a step passes when its tensor passes, and stays passed in the record."""
    errored = report.error is not None
    exercise = exercise_record(state, exercise_id)
    exercise["attempts"] += 1
    status: ExerciseStatus = "passed" if report.passed else "error" if errored else "failed"
    exercise["last_status"] = status
    exercise["last_checked_at"] = when
    _mark_pass(exercise, status == "passed", when)
    for tensor in report.required:  # supporting rows are not steps
        if not tensor.rechecked:  # the file did not run: the step keeps its last record
            continue
        step = step_record(state, exercise_id, tensor.name)
        step["attempts"] += 1
        # A gradient the file never reached because it crashed is an error, not a wrong answer.
        step["last_status"] = "passed" if tensor.passed else "error" if errored and tensor.status == "missing" else "failed"
        step["last_verdict"] = tensor.status  # the verdict's own word, shown again when a file does not run
        _mark_pass(step, tensor.passed, when)


# A step's last verdict where its record has none (written before last_verdict was kept): its last status.
VERDICT_OF_STATUS = {"passed": "close", "failed": "wrong"}


def last_verdicts(state: dict[str, Any], exercise_id: str) -> dict[str, str]:
    """Each checked step's last verdict (a status word: exact, close, wrong...), by step name."""
    steps = exercise_of(state, exercise_id)["steps"]
    found = {name: record.get("last_verdict") or VERDICT_OF_STATUS.get(record["last_status"]) for name, record in steps.items()}
    return {name: verdict for name, verdict in found.items() if isinstance(verdict, str)}


# ---- reading and changing a state: the store's methods, on a state in memory ----------------------------------


def exercise_of(state: dict[str, Any], exercise_id: str) -> dict[str, Any]:
    """The exercise's record, or the empty one (not added to state)."""
    return state["exercises"].get(exercise_id) or fresh_exercise()


def hints_of(state: dict[str, Any], exercise_id: str, step: str) -> int:
    return exercise_of(state, exercise_id)["steps"].get(step, fresh_step())["hints"]


def current_of(state: dict[str, Any]) -> tuple[str | None, str | None]:
    return state["current"]["exercise"], state["current"]["step"]


def record_check(state: dict[str, Any], exercise_id: str, report: CheckReport) -> dict[str, Any]:
    """Count one check now; returns a copy of the whole state."""
    apply_check(state, exercise_id, report, now_iso())
    return copy.deepcopy(state)


def reveal_hint(state: dict[str, Any], exercise_id: str, step: str, total: int) -> int:
    record = step_record(state, exercise_id, step)
    record["hints"] = max(0, min(total, record["hints"] + 1))
    return record["hints"]


def set_current(state: dict[str, Any], exercise_id: str, step: str | None) -> None:
    state["current"] = {"exercise": exercise_id, "step": step}


def reset_exercise(state: dict[str, Any], exercise_id: str) -> None:
    state["exercises"].pop(exercise_id, None)
    if state["current"]["exercise"] == exercise_id:
        state["current"]["step"] = None
