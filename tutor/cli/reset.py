"""`reset`: start an exercise over: the learner's file is backed up, the starter restored, its progress cleared."""

from __future__ import annotations

import argparse
import sys

from tutor.cli.common import (
    EXIT_FAIL,
    EXIT_PASS,
    add_workspace_option,
    ask,
    exercise_command,
    existing_workspace,
    find_exercise,
    report_warning,
    say,
)
from tutor.course import Course
from tutor.workspace.files import WorkspaceError
from tutor.workspace.progress import ProgressStore


def cmd_reset(args: argparse.Namespace, course: Course) -> int:
    exercise = find_exercise(course, args.exercise)
    workspace = existing_workspace(args)
    target = workspace.file_for(exercise)
    lang = args.lang
    what = {"target": target, "backups": workspace.backups_dir, "exercise": exercise.id}
    if not args.yes:
        if not sys.stdin.isatty():
            print(say("reset-would", lang, **what), file=sys.stderr)
            return EXIT_FAIL
        if not ask(say("reset-ask", lang, **what)):
            print(say("nothing-changed", lang))
            return EXIT_FAIL
    try:
        backup = workspace.reset_file(exercise, lang)
    except WorkspaceError as exc:
        print(say("reset-failed", lang, error=exc), file=sys.stderr)
        return EXIT_FAIL
    store = ProgressStore(workspace.root, one_shot=True)
    store.reset_exercise(exercise.id)
    if backup:
        print(say("reset-kept", lang, backup=backup))
    print(say("reset-restored", lang, target=target))
    print(say("reset-cleared", lang, exercise=exercise.id))
    notebook = workspace.notebook_for(exercise)
    if notebook.exists():
        print(say("reset-notebook", lang, notebook=notebook, name=target.name))
    report_warning(store, lang)
    return EXIT_PASS


def register(sub: argparse._SubParsersAction) -> None:
    reset = exercise_command(
        sub, "reset", "start an exercise over (your file is backed up)",
        "Move your file to .backprop-ninja/backups/, restore the starter file and clear the exercise's progress.",
    )
    reset.add_argument("--yes", action="store_true", help="do it without asking (needed when not on a terminal)")
    add_workspace_option(reset)
    reset.set_defaults(handler=cmd_reset)
