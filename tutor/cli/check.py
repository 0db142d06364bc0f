"""`check`: judge an exercise's file (a .py, or a notebook's cells with errors placed at the cell and line)
against autograd, as a table or one JSON object; a check of the workspace's own file counts in its progress."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from tutor.cli import common
from tutor.cli.common import (
    EXERCISE_HELP,
    EXIT_FAIL,
    EXIT_PASS,
    UsageError,
    add_engine_options,
    add_workspace_option,
    console,
    find_exercise,
    learner_file,
    own_workspace,
    record_workspace_check,
    say,
    timeout_seconds,
)
from tutor.course import Course, Exercise
from tutor.reports.check import CheckReport, keep_last
from tutor.workspace.progress import ProgressStore
from tutor.workspace.progress_state import last_verdicts


def cmd_check(args: argparse.Namespace, course: Course) -> int:
    exercise = find_exercise(course, args.exercise)
    path = learner_file(args, exercise)
    if path.suffix == ".ipynb" or args.cell:
        return cmd_check_notebook(args, course, exercise, path)
    from tutor.engine.data import DataError
    from tutor.learner.file import CheckerError, read_learner_file

    try:
        source = read_learner_file(path)  # a FIFO, a device or a huge file is refused before any start-up
        with common.open_checker(course, args) as checker:  # the check server's, unless --no-server
            if not args.json and hasattr(checker, "view"):
                from tutor.checkd.client import screen

                checker.view = screen(args.lang)  # the server draws the table too: rich is never imported here
            report = checker.check(exercise, path, source=source)
            drawn = getattr(checker, "drawn", None)
    except (CheckerError, DataError) as exc:
        raise UsageError(str(exc)) from None
    report = with_last_verdicts(args, exercise, path, report)
    if args.json:
        print(json.dumps(report.to_json(args.lang)), flush=True)
    elif drawn is not None and report.rechecked:  # else the rows carry their last verdicts, drawn here
        sys.stdout.write(drawn)
        sys.stdout.flush()
    else:
        from tutor.views.text import print_report

        print_report(report, console(), lang=args.lang)
    # after the verdict is out: a progress file that cannot be had at once must not hold it back
    record_workspace_check(args, exercise, path, report)
    return EXIT_PASS if report.passed else EXIT_FAIL


def with_last_verdicts(args: argparse.Namespace, exercise: Exercise, path: Path, report: CheckReport) -> CheckReport:
    """A report of a file that did not run, its rows showing their last verdicts from the workspace's progress
    (still marked not rechecked); any other report as it is."""
    if report.rechecked:
        return report
    workspace = own_workspace(args, exercise, path)
    if workspace is None:
        return report
    try:
        state = ProgressStore(workspace.root, one_shot=True).load()
    except OSError:  # a busy or unreadable progress file: the rows say they were not checked
        return report
    return keep_last(report, last_verdicts(state, exercise.id))


def cell_numbers(text: str) -> list[int]:
    """--cell 12 or --cell 12,14: 1-based cell numbers, as the notebook counts its cells."""
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a cell number or a comma-separated list of them") from None
    if not numbers or any(n < 1 for n in numbers):
        raise argparse.ArgumentTypeError("cell numbers start at 1")
    return numbers


def cmd_check_notebook(args: argparse.Namespace, course: Course, exercise: Exercise, path: Path) -> int:
    if path.suffix != ".ipynb":
        raise UsageError(code="not-a-notebook", name=path.name)
    from tutor.engine.data import DataError
    from tutor.learner.file import CheckerError
    from tutor.learner.notebook import NotebookError, check_notebook, read_cells

    try:
        read_cells(path)  # an unreadable notebook is a usage error before any torch start-up
        with common.open_checker(course, args) as checker:
            result = check_notebook(checker, exercise, path, args.cell)
    except (CheckerError, DataError) as exc:
        raise UsageError(str(exc)) from None
    except NotebookError as exc:
        if exc.usage:
            raise UsageError(str(exc)) from None
        console(stderr=True).print(f"backprop-ninja: {exc}", markup=False)
        return EXIT_FAIL
    result = replace(result, report=with_last_verdicts(args, exercise, path, result.report))
    report = result.report
    record_workspace_check(args, exercise, path, report)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        from tutor.views.text import print_report

        out = console()
        cells = ", ".join(c.label for c in result.extract.cells)
        out.print(say("notebook-checking", args.lang, name=path.name, cells=cells), markup=False, style="dim")
        print_report(report, out, where=result.where, lang=args.lang)
    return EXIT_PASS if report.passed else EXIT_FAIL


def register(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser("check", help="check an exercise file against autograd", description="Run your file in a sandbox and compare each gradient with autograd's.")
    check.add_argument("exercise", metavar="EXERCISE", help=EXERCISE_HELP)
    check.add_argument("--file", metavar="PATH", help="the file to check (default: the exercise's file in the workspace)")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    check.add_argument("--cell", type=cell_numbers, metavar="N[,M]", help="a notebook's cells to check (default: found by the names they assign)")
    add_engine_options(check)
    check.add_argument("--timeout", type=timeout_seconds, default=10.0, metavar="S", help="seconds your code may run (default: 10)")
    check.add_argument(
        "--no-server", action="store_true",
        help="check in this process, not on the warm check server (as BACKPROP_NINJA_SERVER=0 does)",
    )
    add_workspace_option(check)
    check.set_defaults(handler=cmd_check)
