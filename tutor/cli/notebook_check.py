"""`check --file work.ipynb`: check the exercise's cells of a notebook, errors placed at the cell and line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tutor.cli.common import EXIT_FAIL, EXIT_PASS, UsageError, console, quiet_torch_import
from tutor.course import Course, Exercise


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
    from tutor.cli.learning import record_workspace_check

    if path.suffix != ".ipynb":
        raise UsageError(f"--cell applies to a notebook (.ipynb), not {path.name}")
    quiet_torch_import()
    from tutor.engine.check import Checker, CheckerError
    from tutor.engine.data import DataError
    from tutor.notebook import NotebookError, check_notebook, read_cells

    try:
        read_cells(path)  # an unreadable notebook is a usage error before any torch start-up
        with Checker(course, data=args.data, device=args.device, timeout=args.timeout) as checker:
            result = check_notebook(checker, exercise, path, args.cell)
    except (CheckerError, DataError) as exc:
        raise UsageError(str(exc)) from None
    except NotebookError as exc:
        if exc.usage:
            raise UsageError(str(exc)) from None
        console(stderr=True).print(f"backprop-ninja: {exc}", markup=False)
        return EXIT_FAIL
    report = result.report
    record_workspace_check(args, exercise, path, report)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        from tutor.render import print_report

        out = console()
        cells = ", ".join(c.label for c in result.extract.cells)
        out.print(f"{path.name}: checking {cells}", markup=False, style="dim")
        print_report(report, out, where=result.where)
    return EXIT_PASS if report.passed else EXIT_FAIL
