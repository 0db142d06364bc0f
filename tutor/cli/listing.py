"""`list`: the course's exercises, each with its summary and its steps."""

from __future__ import annotations

import argparse

from tutor.cli.common import EXIT_PASS, say
from tutor.course import Course


def cmd_list(args: argparse.Namespace, course: Course) -> int:
    for exercise in course.exercises:
        count = len(exercise.steps)
        title, summary = exercise.text("title", args.lang), exercise.text("summary", args.lang)
        print(say("list-exercise", args.lang, order=exercise.order, id=exercise.id, title=title, count=count))
        if summary:
            print(f"   {summary}")
        print("   " + ", ".join(step.name for step in exercise.steps))
    return EXIT_PASS


def register(sub: argparse._SubParsersAction) -> None:
    lister = sub.add_parser("list", help="show the exercises and their steps")
    lister.set_defaults(handler=cmd_list)
