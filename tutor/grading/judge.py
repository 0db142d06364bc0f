"""One task judged with a warm Checker, as `check --json` judges the file: the same object (a .py's report in
the asked language, a notebook's with its cells), exercise 4 by its grad check on the first batches of its
loop (and trained only when asked). Whatever the file does comes back as an object, never as an exception."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from tutor.course.model import Course, Exercise
from tutor.grading.submissions import Task


def refused(task: Task, why: str) -> dict[str, Any]:
    """The object of a file that was not run: no rows, the reason as its error."""
    return {"exercise": task.exercise, "passed": False, "device": "", "loss": None, "tensors": [], "file": task.file,
            "output": "", "warnings": [], "error": {"kind": "refused", "message": why, "line": None}}


def judge_task(checker, course: Course, task: Task, lang: str = "en", train_steps: int = 0) -> dict[str, Any]:
    """The check --json object of `task` (a refusal's object for a file that cannot be run)."""
    if task.problem is not None or task.text is None or not task.exercise:
        return refused(task, task.problem or "matches no exercise")
    exercise = course.find(task.exercise)
    if exercise is None:
        return refused(task, f"no exercise {task.exercise!r} in this course")
    from tutor.engine.check import CheckerError
    from tutor.learner.notebook import NotebookError

    try:
        if exercise.training is not None:
            return grad_check(checker, course, exercise, task, lang, train_steps)
        if task.kind == "ipynb":
            from tutor.learner.notebook import check_notebook

            return check_notebook(checker, exercise, Path(task.file), text=task.text).to_json()
        return checker.check(exercise, Path(task.file), source=task.text).to_json(lang)
    except (NotebookError, CheckerError) as exc:
        return refused(task, str(exc))
    except Exception as exc:  # noqa: BLE001 - one file's trouble is its row, never the class's stop
        last = traceback.extract_tb(exc.__traceback__)[-1:] or [None]
        where = f" ({Path(last[0].filename).name}:{last[0].lineno})" if last[0] else ""
        return refused(task, f"the grader could not judge this file: {type(exc).__name__}: {exc}{where}")


def grad_check(checker, course: Course, exercise: Exercise, task: Task, lang: str, train_steps: int) -> dict[str, Any]:
    """Exercise 4: the grad check's batches, stopping at the first that fails; the row is that batch's report."""
    from dataclasses import replace

    from tutor.training.gradcheck import run_grad_check

    training = exercise.training
    source, extract = task.text or "", None
    if task.kind == "ipynb":
        from tutor.learner.notebook import extract_exercise

        extract = extract_exercise(Path(task.file), exercise, course, text=task.text)
        source = extract.source
    steps = run_grad_check(checker, exercise, source, task.file, training.default_steps, training.grad_check_steps)
    last = next((s for s in steps if not s.report.passed), steps[-1])
    report = last.report
    if extract is not None and report.error is not None:
        place = extract.locate(report.error.line)
        report.error = replace(report.error, line=place[1] if place else None, source=place[2] if place else None)
    out = report.to_json(lang)
    out["grad_check"] = {"batches": len(steps), "of": training.grad_check_steps, "failed_batch": None if report.passed else last.step + 1}
    if train_steps and report.passed:
        out["training"] = train(course, exercise, task, source, train_steps, checker)
    return out


def train(course: Course, exercise: Exercise, task: Task, source: str, steps: int, checker) -> dict[str, Any]:
    """--train-steps N: the file trained for N steps after its grad check (no autograd reference run)."""
    from tutor.engine.check import CheckerError
    from tutor.training.session import train_file

    try:
        result = train_file(course, exercise, Path(task.file), source=source, steps=steps, device=checker.device,
                            data=checker.dataset.path, timeout=checker.timeout, reference=False)
    except CheckerError as exc:
        return {"passed": False, "train": None, "error": str(exc)}
    data = result.to_json()
    return {"passed": data["passed"], "train": data["train"], "error": data["error"]}
