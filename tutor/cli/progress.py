"""`progress`: what the learner has passed, their attempts and hints, as a table or as the progress file's JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tutor.cli.common import EXIT_PASS, add_workspace_option, console, open_store, report_warning, say, say_to
from tutor.course import Course, Exercise
from tutor.workspace.progress_state import fresh_exercise


def exercise_summary(exercise: Exercise, record: dict[str, Any]) -> dict[str, Any]:
    """Counts for one exercise against the course's steps (the record may name steps the course dropped)."""
    steps = [record["steps"].get(step.name) for step in exercise.steps]
    passed = [s for s in steps if s and s["passed"]]
    return {
        "passed": record["passed"],
        "steps_passed": len(passed),
        "steps_failing_now": sum(1 for s in passed if s["last_status"] not in (None, "passed")),
        "steps": len(exercise.steps),
        "attempts": record["attempts"],
        "hints": sum(min(s["hints"], len(step.hints)) for s, step in zip(steps, exercise.steps) if s),
        "last_status": record["last_status"],
    }


def status_word(summary: dict[str, Any], lang: str = "en") -> str:
    """An exercise's state in a few words: passed (and failing now), in progress or not started."""
    if summary["passed"]:
        word = "passed" if summary["last_status"] in (None, "passed") else "failing-now"
    else:
        word = "in-progress" if summary["attempts"] else "not-started"
    return say(f"progress-{word}", lang)


# The progress table's columns after "#": (catalogue code of the heading, how its cells are justified).
COLUMNS = (("pcol-exercise", "left"), ("pcol-status", "left"), ("pcol-steps", "right"), ("pcol-attempts", "right"), ("pcol-hints", "right"))


def cmd_progress(args: argparse.Namespace, course: Course) -> int:
    store = open_store(args)
    snapshot = store.load()
    lang = args.lang
    report_warning(store, lang)
    if args.json:
        print(json.dumps(snapshot))
        return EXIT_PASS
    from rich.table import Table

    table = Table(title=say("progress-title", lang, root=store.root), title_justify="left")
    table.add_column("#", justify="right")
    for code, justify in COLUMNS:
        table.add_column(say(code, lang), justify=justify)  # type: ignore[arg-type]
    for exercise in course.exercises:
        summary = exercise_summary(exercise, snapshot["exercises"].get(exercise.id) or fresh_exercise())
        steps = f"{summary['steps_passed']}/{summary['steps']}"
        if summary["steps_failing_now"]:
            steps = say("steps-failing-now", lang, steps=steps, failing=summary["steps_failing_now"])
        table.add_row(
            str(exercise.order), exercise.id, status_word(summary, lang), steps, str(summary["attempts"]), str(summary["hints"])
        )
    out = console()
    out.print(table)
    current, step = snapshot["current"]["exercise"], snapshot["current"]["step"]
    if current:
        out.print(say("current-step", lang, exercise=current, step=step) if step else say("current", lang, exercise=current), markup=False)
    else:
        out.print(say_to(args, "current-none"), markup=False)
    return EXIT_PASS


def register(sub: argparse._SubParsersAction) -> None:
    progress = sub.add_parser("progress", help="show what has passed, attempts and hints", description="Show the progress kept in the workspace.")
    progress.add_argument("--json", action="store_true", help="print the progress file's content as one JSON object")
    add_workspace_option(progress)
    progress.set_defaults(handler=cmd_progress)
