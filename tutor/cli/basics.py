"""The basic commands: `check` (judge a file), `init` (create a workspace) and `list`."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from tutor.cli.common import (
    EXIT_FAIL,
    EXIT_PASS,
    UsageError,
    add_engine_options,
    add_workspace_option,
    console,
    find_exercise,
    learner_file,
    timeout_seconds,
    quiet_torch_import,
)
from tutor.cli.learning import record_workspace_check
from tutor.cli.notebook_check import cell_numbers
from tutor.course import Course
from tutor.workspace import Workspace, WorkspaceError, default_workspace, resolve_workspace


def cmd_check(args: argparse.Namespace, course: Course) -> int:
    exercise = find_exercise(course, args.exercise)
    path = learner_file(args, exercise)
    if path.suffix == ".ipynb" or args.cell:
        from tutor.cli.notebook_check import cmd_check_notebook

        return cmd_check_notebook(args, course, exercise, path)
    quiet_torch_import()
    from tutor.engine.check import Checker, CheckerError, read_learner_file
    from tutor.engine.data import DataError

    try:
        source = read_learner_file(path)  # a FIFO, a device or a huge file is refused before any start-up
        with Checker(course, data=args.data, device=args.device, timeout=args.timeout) as checker:
            report = checker.check(exercise, path, source=source)
    except (CheckerError, DataError) as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(report.to_json()), flush=True)
    else:
        from tutor.render import print_report

        print_report(report, console())
    # after the verdict is out: a progress file that cannot be had at once must not hold it back
    record_workspace_check(args, exercise, path, report)
    return EXIT_PASS if report.passed else EXIT_FAIL


def cmd_init(args: argparse.Namespace, course: Course) -> int:
    root = Path(args.dir).expanduser().resolve() if args.dir else resolve_workspace(args.workspace)
    try:
        results = Workspace(root).init(course)
    except WorkspaceError as exc:
        raise UsageError(str(exc)) from None
    for path, created in results:
        print(f"{'created' if created else 'kept   '}  {path}")
    print(f"workspace ready at {root}; next: backprop-ninja check 1 --workspace {shlex.quote(str(root))}")
    return EXIT_PASS


def cmd_list(args: argparse.Namespace, course: Course) -> int:
    for exercise in course.exercises:
        count = len(exercise.steps)
        print(f"{exercise.order}. {exercise.id} — {exercise.title} ({count} step{'' if count == 1 else 's'})")
        if exercise.summary:
            print(f"   {exercise.summary}")
        print("   " + ", ".join(step.name for step in exercise.steps))
    return EXIT_PASS



def register(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser("check", help="check an exercise file against autograd", description="Run your file in a sandbox and compare each gradient with autograd's.")
    check.add_argument("exercise", metavar="EXERCISE", help="exercise id or number (atomic/1, cross-entropy/2, batchnorm/3, training/4)")
    check.add_argument("--file", metavar="PATH", help="the file to check (default: the exercise's file in the workspace)")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    check.add_argument("--cell", type=cell_numbers, metavar="N[,M]", help="a notebook's cells to check (default: found by the names they assign)")
    add_engine_options(check)
    check.add_argument("--timeout", type=timeout_seconds, default=10.0, metavar="S", help="seconds your code may run (default: 10)")
    add_workspace_option(check)
    check.set_defaults(handler=cmd_check)

    init = sub.add_parser("init", help="create a workspace with the starter files", description="Create a workspace; existing files are never overwritten.")
    init.add_argument("dir", nargs="?", metavar="DIR", help=f"where (default: {default_workspace()})")
    init.add_argument("--workspace", help=argparse.SUPPRESS)
    init.set_defaults(handler=cmd_init)

    lister = sub.add_parser("list", help="show the exercises and their steps")
    lister.set_defaults(handler=cmd_list)
