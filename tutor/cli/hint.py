"""`hint`: the ladder of a step's hints, one rung at a time; the last rung is the answer line."""

from __future__ import annotations

import argparse
import sys
import textwrap

from tutor.cli.common import (
    EXIT_FAIL,
    EXIT_PASS,
    add_workspace_option,
    ask,
    exercise_command,
    find_exercise,
    find_step,
    open_store,
    report_warning,
    step_passed,
    why_lines,
)
from tutor.course import Course
from tutor.course.model import Step


def print_hints(step: Step, first: int, last: int, lang: str = "en") -> None:
    """Hints first..last (1-based, inclusive), numbered against the whole ladder, in `lang`."""
    for number in range(first, last + 1):
        answer = " (the answer line)" if number == len(step.hints) else ""
        text = step.hint(number - 1, lang).strip("\n")
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
    print_hints(step, 1, revealed, args.lang)
    if step_passed(store, exercise, step):
        # passed: the insight is what is left to learn; no further rung is spent
        print(f"{step.name} has passed.")
        print("\n".join(why_lines(exercise, step, args.lang)))
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
    print_hints(step, revealed + 1, now, args.lang)
    left = total - now
    if left == 0:
        print(f"all {total} hints of {step.name} are revealed.")
    else:
        rest = "the next is the answer line" if left == 1 else f"{left} left"
        print(f"more: `backprop-ninja hint {exercise.id} {step.name}` ({rest}).")
    report_warning(store)
    return EXIT_PASS


def register(sub: argparse._SubParsersAction) -> None:
    hint = exercise_command(
        sub, "hint", "reveal the next hint of a step",
        "Reveal the next hint of one step and show all revealed so far; the last hint is the answer line.",
    )
    hint.add_argument("step", metavar="STEP", help="the gradient (dcounts), its forward tensor (counts) or the step's number")
    hint.add_argument("--yes", action="store_true", help="reveal the answer line without asking (needed when not on a terminal)")
    add_workspace_option(hint)
    hint.set_defaults(handler=cmd_hint)
