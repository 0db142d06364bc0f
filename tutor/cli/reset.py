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
)
from tutor.course import Course
from tutor.progress import ProgressStore
from tutor.workspace import WorkspaceError


def cmd_reset(args: argparse.Namespace, course: Course) -> int:
    exercise = find_exercise(course, args.exercise)
    workspace = existing_workspace(args)
    target = workspace.file_for(exercise)
    what = f"replace {target} with the starter file (yours is kept in {workspace.backups_dir}) and clear the progress of {exercise.id}"
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"backprop-ninja: reset would {what}; run again with --yes to do it", file=sys.stderr)
            return EXIT_FAIL
        if not ask(f"{what[0].upper()}{what[1:]}? [y/N] "):
            print("nothing changed.")
            return EXIT_FAIL
    try:
        backup = workspace.reset_file(exercise)
    except WorkspaceError as exc:
        print(f"backprop-ninja: {exc}; nothing changed", file=sys.stderr)
        return EXIT_FAIL
    store = ProgressStore(workspace.root, one_shot=True)
    store.reset_exercise(exercise.id)
    if backup:
        print(f"kept your file as {backup}")
    print(f"restored the starter file at {target}")
    print(f"cleared the progress of {exercise.id}")
    notebook = workspace.notebook_for(exercise)
    if notebook.exists():
        print(f"{notebook} is not touched: it stays the file that is checked; move it away to work in {target.name}")
    report_warning(store)
    return EXIT_PASS


def register(sub: argparse._SubParsersAction) -> None:
    reset = exercise_command(
        sub, "reset", "start an exercise over (your file is backed up)",
        "Move your file to .backprop-ninja/backups/, restore the starter file and clear the exercise's progress.",
    )
    reset.add_argument("--yes", action="store_true", help="do it without asking (needed when not on a terminal)")
    add_workspace_option(reset)
    reset.set_defaults(handler=cmd_reset)
