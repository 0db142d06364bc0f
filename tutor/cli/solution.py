"""`solution`: the reference solution of an exercise, once the learner's file has passed (or on --reveal)."""

from __future__ import annotations

import argparse
import sys

from tutor.cli.common import (
    EXIT_FAIL,
    EXIT_PASS,
    UsageError,
    add_workspace_option,
    exercise_command,
    find_exercise,
    open_store,
    report_warning,
    say_to,
)
from tutor.course import Course


def cmd_solution(args: argparse.Namespace, course: Course) -> int:
    exercise = find_exercise(course, args.exercise)
    store = open_store(args, must_exist=False)
    passed = store.exercise_state(exercise.id)["passed"]
    report_warning(store, args.lang)
    if not (passed or args.reveal):
        print(say_to(args, "solution-locked", exercise=exercise.id), file=sys.stderr)
        return EXIT_FAIL
    try:
        text = exercise.solution.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(code="solution-unreadable", path=str(exercise.solution), error=str(exc.strerror or exc)) from None
    sys.stdout.write(text)
    return EXIT_PASS


def register(sub: argparse._SubParsersAction) -> None:
    solution = exercise_command(
        sub, "solution", "print the reference solution (once the exercise has passed)",
        "Print the reference solution of an exercise; only after your file has passed, unless --reveal.",
    )
    solution.add_argument("--reveal", action="store_true", help="show it even though the exercise has not passed yet")
    add_workspace_option(solution)
    solution.set_defaults(handler=cmd_solution)
