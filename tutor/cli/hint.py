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
    say,
    say_to,
    step_passed,
    why_lines,
)
from tutor.course import Course
from tutor.course.model import Step


def print_hints(step: Step, first: int, last: int, lang: str = "en") -> None:
    """Hints first..last (1-based, inclusive), numbered against the whole ladder, in `lang`."""
    total = len(step.hints)
    for number in range(first, last + 1):
        answer = say("hint-answer", lang) if number == total else ""
        text = step.hint(number - 1, lang).strip("\n")
        if "\n" in text:  # a block of code: keep its lines as they are, indented under the heading
            print(say("hint-block", lang, number=number, total=total, answer=answer))
            print(textwrap.indent(text, "    "))
        else:
            print(say("hint", lang, number=number, total=total, answer=answer, text=text))


def cmd_hint(args: argparse.Namespace, course: Course) -> int:
    exercise = find_exercise(course, args.exercise)
    step = find_step(exercise, args.step)
    store = open_store(args)
    lang = args.lang
    total = len(step.hints)
    revealed = min(store.hints_revealed(exercise.id, step.name), total)
    number = exercise.steps.index(step) + 1
    print(say("step-heading", lang, exercise=exercise.id, number=number, total=len(exercise.steps), name=step.name))
    print(say("forward", lang, line=step.line))
    print_hints(step, 1, revealed, lang)
    if step_passed(store, exercise, step):
        # passed: the insight is what is left to learn; no further rung is spent
        print(say("step-passed", lang, name=step.name))
        print("\n".join(why_lines(exercise, step, lang)))
        report_warning(store, lang)
        return EXIT_PASS
    if revealed >= total:
        print(say("all-revealed", lang, total=total, name=step.name))
        report_warning(store, lang)
        return EXIT_PASS
    if revealed == total - 1 and not args.yes:
        if not sys.stdin.isatty():
            print(say("answer-needs-yes", lang, name=step.name), file=sys.stderr)
            report_warning(store, lang)
            return EXIT_FAIL
        if not ask(say("answer-ask", lang, total=total, name=step.name)):
            print(say("kept-hidden", lang))
            report_warning(store, lang)
            return EXIT_FAIL
    now = store.reveal_hint(exercise.id, step.name, total)
    store.set_current(exercise.id, step.name)
    print_hints(step, revealed + 1, now, lang)
    left = total - now
    if left == 0:
        print(say("all-revealed", lang, total=total, name=step.name))
    else:
        rest = say("more-answer-next", lang) if left == 1 else say("more-left", lang, left=left)
        print(say_to(args, "more", exercise=exercise.id, name=step.name, rest=rest))
    report_warning(store, lang)
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
