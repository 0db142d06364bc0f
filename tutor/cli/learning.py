"""The commands around a learner's progress: `hint` (the ladder, one rung at a time), `solution`, `progress`, `reset`."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from tutor.cli.common import EXIT_FAIL, EXIT_PASS, UsageError, add_workspace_option, console, find_exercise
from tutor.course import Course, Exercise
from tutor.course.model import Step
from tutor.progress import ProgressBusy, ProgressStore
from tutor.progress_state import fresh_exercise
from tutor.reports.check import CheckReport
from tutor.workspace import Workspace, WorkspaceError, resolve_workspace


def open_store(args: argparse.Namespace, must_exist: bool = True) -> ProgressStore:
    """The workspace's progress; hints and the progress table need an initialised workspace to keep them in."""
    root = existing_workspace(args).root if must_exist else resolve_workspace(args.workspace)
    return ProgressStore(root, one_shot=True)


def report_warning(store: ProgressStore) -> None:
    if store.warning:
        for line in store.warning.splitlines():
            print(f"backprop-ninja: warning: {line}", file=sys.stderr)


def ask(question: str) -> bool:
    """A yes/no question on the terminal; anything but y/yes (or end of input) is no."""
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def existing_workspace(args: argparse.Namespace) -> Workspace:
    workspace = Workspace(resolve_workspace(args.workspace))
    if not workspace.exists():
        raise UsageError(f"no workspace at {workspace.root}; create it with `backprop-ninja init {workspace.root}`")
    return workspace


def find_step(exercise: Exercise, name: str) -> Step:
    """A step by its gradient's name (dcounts), its forward tensor's name (counts) or its 1-based number."""
    key = name.strip()
    if key.isdigit() and 1 <= int(key) <= len(exercise.steps):
        return exercise.steps[int(key) - 1]
    step = exercise.step(key)
    if step is None:
        choices = ", ".join(f"{i}/{s.name}" for i, s in enumerate(exercise.steps, start=1))
        raise UsageError(f"no step {name!r} in {exercise.id}; choose one of: {choices}")
    return step


def record_workspace_check(args: argparse.Namespace, exercise: Exercise, path: Path, report: CheckReport) -> None:
    """Count a check in the workspace's progress when it judged the workspace's own file (not any --file)."""
    workspace = Workspace(resolve_workspace(args.workspace))
    try:
        own = path.resolve() == workspace.checked_file(exercise).resolve()
    except OSError:
        own = False
    if not own:
        return
    store = ProgressStore(workspace.root, one_shot=True)
    try:
        store.record_check(exercise.id, report)
        failing = next((t.name for t in report.tensors if not t.passed), None)
        store.set_current(exercise.id, failing)
    except ProgressBusy as exc:  # the verdict stands; only its record is missing
        print(f"backprop-ninja: warning: {exc}; this check is not counted", file=sys.stderr)
    report_warning(store)


# ---- hint ----------------------------------------------------------------------------------------------------


def print_hints(step: Step, first: int, last: int) -> None:
    """Hints first..last (1-based, inclusive), numbered against the whole ladder."""
    for number in range(first, last + 1):
        answer = " (the answer line)" if number == len(step.hints) else ""
        text = step.hints[number - 1].strip("\n")
        if "\n" in text:  # a block of code: keep its lines as they are, indented under the heading
            print(f"hint {number} of {len(step.hints)}{answer}:")
            print(textwrap.indent(text, "    "))
        else:
            print(f"hint {number} of {len(step.hints)}{answer}: {text}")


def cmd_hint(args: argparse.Namespace, course: Course) -> int:
    exercise = find_exercise(course, args.exercise)
    step = find_step(exercise, args.step)
    store = open_store(args)
    total = len(step.hints)
    revealed = min(store.hints_revealed(exercise.id, step.name), total)
    number = exercise.steps.index(step) + 1
    print(f"{exercise.id} · step {number} of {len(exercise.steps)} · {step.name}")
    print(f"  forward: {step.line}")
    print_hints(step, 1, revealed)
    from tutor.cli.why import step_passed, why_lines

    if step_passed(store, exercise, step):
        # passed: the insight is what is left to learn; no further rung is spent
        print(f"{step.name} has passed.")
        print("\n".join(why_lines(exercise, step)))
        report_warning(store)
        return EXIT_PASS
    if revealed >= total:
        print(f"all {total} hints of {step.name} are revealed.")
        report_warning(store)
        return EXIT_PASS
    if revealed == total - 1 and not args.yes:
        if not sys.stdin.isatty():
            print(
                f"backprop-ninja: the next hint of {step.name} is the answer line; to see it, run again with --yes",
                file=sys.stderr,
            )
            report_warning(store)
            return EXIT_FAIL
        if not ask(f"hint {total} of {total} is the answer line for {step.name}. Show it? [y/N] "):
            print("kept hidden; try once more on your own first.")
            report_warning(store)
            return EXIT_FAIL
    now = store.reveal_hint(exercise.id, step.name, total)
    store.set_current(exercise.id, step.name)
    print_hints(step, revealed + 1, now)
    left = total - now
    if left == 0:
        print(f"all {total} hints of {step.name} are revealed.")
    else:
        rest = "the next is the answer line" if left == 1 else f"{left} left"
        print(f"more: `backprop-ninja hint {exercise.id} {step.name}` ({rest}).")
    report_warning(store)
    return EXIT_PASS


# ---- solution ------------------------------------------------------------------------------------------------


def cmd_solution(args: argparse.Namespace, course: Course) -> int:
    exercise = find_exercise(course, args.exercise)
    store = open_store(args, must_exist=False)
    passed = store.exercise_state(exercise.id)["passed"]
    report_warning(store)
    if not (passed or args.reveal):
        print(
            f"backprop-ninja: the reference solution of {exercise.id} is shown once your file has passed "
            f"(`backprop-ninja check {exercise.id}`); `--reveal` shows it now.",
            file=sys.stderr,
        )
        return EXIT_FAIL
    try:
        text = exercise.solution.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the solution {exercise.solution}: {exc.strerror or exc}") from None
    sys.stdout.write(text)
    return EXIT_PASS


# ---- progress ------------------------------------------------------------------------------------------------


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


def status_word(summary: dict[str, Any]) -> str:
    if summary["passed"]:
        return "passed" if summary["last_status"] in (None, "passed") else "passed · failing now"
    return "in progress" if summary["attempts"] else "not started"


def cmd_progress(args: argparse.Namespace, course: Course) -> int:
    store = open_store(args)
    snapshot = store.load()
    report_warning(store)
    if args.json:
        print(json.dumps(snapshot))
        return EXIT_PASS
    from rich.table import Table

    table = Table(title=f"progress · {store.root}", title_justify="left")
    for column in ("#", "exercise", "status", "steps passed", "attempts", "hints revealed"):
        table.add_column(column, justify="left" if column in ("exercise", "status") else "right")
    for exercise in course.exercises:
        summary = exercise_summary(exercise, snapshot["exercises"].get(exercise.id) or fresh_exercise())
        steps = f"{summary['steps_passed']}/{summary['steps']}"
        if summary["steps_failing_now"]:
            steps += f" ({summary['steps_failing_now']} failing now)"
        table.add_row(
            str(exercise.order), exercise.id, status_word(summary), steps, str(summary["attempts"]), str(summary["hints"])
        )
    out = console()
    out.print(table)
    current, step = snapshot["current"]["exercise"], snapshot["current"]["step"]
    if current:
        out.print(f"current: {current}" + (f" · {step}" if step else ""), markup=False)
    else:
        out.print("current: none yet; start with `backprop-ninja check 1`", markup=False)
    return EXIT_PASS


# ---- reset ---------------------------------------------------------------------------------------------------


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


def exercise_command(sub: argparse._SubParsersAction, name: str, help: str, description: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=description)
    parser.add_argument("exercise", metavar="EXERCISE", help="exercise id or number")
    return parser


def register(sub: argparse._SubParsersAction) -> None:
    hint = exercise_command(
        sub, "hint", "reveal the next hint of a step",
        "Reveal the next hint of one step and show all revealed so far; the last hint is the answer line.",
    )
    hint.add_argument("step", metavar="STEP", help="the gradient (dcounts), its forward tensor (counts) or the step's number")
    hint.add_argument("--yes", action="store_true", help="reveal the answer line without asking (needed when not on a terminal)")
    hint.set_defaults(handler=cmd_hint)

    solution = exercise_command(
        sub, "solution", "print the reference solution (once the exercise has passed)",
        "Print the reference solution of an exercise; only after your file has passed, unless --reveal.",
    )
    solution.add_argument("--reveal", action="store_true", help="show it even though the exercise has not passed yet")
    solution.set_defaults(handler=cmd_solution)

    progress = sub.add_parser("progress", help="show what has passed, attempts and hints", description="Show the progress kept in the workspace.")
    progress.add_argument("--json", action="store_true", help="print the progress file's content as one JSON object")
    progress.set_defaults(handler=cmd_progress)

    reset = exercise_command(
        sub, "reset", "start an exercise over (your file is backed up)",
        "Move your file to .backprop-ninja/backups/, restore the starter file and clear the exercise's progress.",
    )
    reset.add_argument("--yes", action="store_true", help="do it without asking (needed when not on a terminal)")
    reset.set_defaults(handler=cmd_reset)

    for parser in (hint, solution, progress, reset):
        add_workspace_option(parser)
