"""`why`: the lecture's insight behind a step, and where the lecture explains it, once the step has passed."""

from __future__ import annotations

import argparse
import sys

from tutor.cli.common import (
    EXERCISE_HELP,
    EXIT_FAIL,
    EXIT_PASS,
    add_workspace_option,
    find_exercise,
    find_step,
    open_store,
    report_warning,
    say,
    step_passed,
    why_lines,
)
from tutor.course import Course, Exercise, Step


def cmd_why(args: argparse.Namespace, course: Course) -> int:
    exercise = find_exercise(course, args.exercise)
    step = _find_row(exercise, args.step)
    store = open_store(args)
    report_warning(store, args.lang)
    if not step_passed(store, exercise, step):
        locked = "why-locked-support" if step.support else "why-locked"
        print(say(locked, args.lang, name=step.name, exercise=exercise.id), file=sys.stderr)
        return EXIT_FAIL
    print(f"{exercise.id} · {step.name} ✔")
    print("\n".join(why_lines(exercise, step, args.lang)))
    return EXIT_PASS


def _find_row(exercise: Exercise, name: str) -> Step:
    """A step, or a supporting row by its gradient's or forward tensor's name (exercise 4's dh or h)."""
    row = next((row for row in exercise.support if name.strip() in (row.name, row.of)), None)
    return row if row is not None and row.why else find_step(exercise, name)


def register(sub: argparse._SubParsersAction) -> None:
    why = sub.add_parser(
        "why", help="the insight behind a step you have passed",
        description="Show why a passed step's answer is what it is, and, in a pack that follows a lecture, where "
        "the lecture explains it.",
    )
    why.add_argument("exercise", metavar="EXERCISE", help=EXERCISE_HELP)
    why.add_argument("step", metavar="STEP", help="the gradient (dcounts), its forward tensor (counts) or the step's number; in a training exercise also a supporting row (dh)")
    add_workspace_option(why)
    why.set_defaults(handler=cmd_why)
