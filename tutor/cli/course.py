"""`backprop-ninja course check [DIR]`: for course authors, the course checked against itself; the one judge
of a pack. First the rules of its text and structure (tutor.course.rules: whys, hint ladders, the lecture's
moments, the pack's languages, the names a step's line uses), then what runs:

Every solution must pass all its rows, every starter must fail (and run), and every mistake a step's TOML
authors must be diagnosed as itself: written into the solution right after the statement that finishes
the step, the step fails with that mistake's message (and its code, when the mistake names one). A
training exercise's solution also passes the grad check on the first batches of its loop (no training run).
One warm Checker serves the whole run; each problem is one line, and the exit code says whether any was found.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tutor.cli import common
from tutor.cli.common import EXIT_FAIL, EXIT_PASS, UsageError, add_engine_options, quiet_torch_import, timeout_seconds
from tutor.course import Course, Exercise, load_course
from tutor.course.model import Mistake, Step
from tutor.course.rules import pack_problems

if TYPE_CHECKING:
    from tutor.engine.check import Checker
    from tutor.reports.check import CheckReport


@dataclass
class Tally:
    """What a run checked, and the problems it found."""

    problems: list[str] = field(default_factory=list)
    solutions: int = 0
    starters: int = 0
    mistakes: int = 0
    grad_checks: int = 0

    def summary(self, seconds: float) -> str:
        counted = f"{self.solutions} solutions, {self.starters} starters, {self.mistakes} mistakes"
        if self.grad_checks:
            counted += f", {self.grad_checks} grad check{'s' if self.grad_checks > 1 else ''}"
        found = len(self.problems)
        verdict = "no problems" if not found else f"{found} problem{'s' if found > 1 else ''}"
        return f"course check: {counted} in {seconds:.1f} s: {verdict}"


def error_words(report: CheckReport) -> str:
    """The report's error in a few words: its kind, line and message."""
    error = report.error
    if error is None:
        return ""
    at = f" at line {error.line}" if error.line else ""
    return f"{error.kind}{at}: {error.message.strip().splitlines()[-1][:120]}"


def failing_rows(report: CheckReport) -> str:
    return ", ".join(f"{t.name} ({t.status})" for t in report.tensors if not t.passed)


def solution_problems(checker: Checker, exercise: Exercise) -> Iterator[str]:
    """The solution must run and pass every row it is judged on, supporting rows included."""
    report = checker.check(exercise, exercise.solution)
    if report.error is not None:
        yield f"the solution stops: {error_words(report)}"
    elif failing_rows(report):
        yield f"the solution fails {failing_rows(report)}"


def starter_problems(checker: Checker, exercise: Exercise) -> Iterator[str]:
    """The starter must fail, and run: a learner's first check shows the steps to write, not a crash."""
    report = checker.check(exercise, exercise.starter)
    if report.passed:
        yield "the starter passes"
    elif report.error is not None:
        yield f"the starter stops: {error_words(report)}"


def with_mistake(solution: str, step: Step, mistake: Mistake) -> str | None:
    """The solution with `step.name = (mistake's expr)` right after the statement that finishes step.name,
    so that the expr reads the solution's own values (the step's right answer included); None when the
    solution never assigns the step."""
    from tutor.learner.file import LearnerFile

    answer = LearnerFile(solution, str(step.name))
    tree, finishing = answer.tree, answer.finishing([step.name])
    if tree is None or not finishing:
        return None
    end = tree.body[max(finishing)].end_lineno or len(solution.splitlines())
    lines = solution.splitlines()
    return "\n".join([*lines[:end], f"{step.name} = (\n{mistake.expr.strip()}\n)", *lines[end:]]) + "\n"


def diagnosed_as(step: Step, index: int, diagnosis: dict[str, str] | None) -> str | None:
    """What the step's diagnosis says instead of mistake `index` (None when it names that mistake)."""
    mistake = step.mistakes[index]
    if diagnosis is None:
        return "is not diagnosed"
    if diagnosis["message"] == mistake.message and mistake.code in ("course", diagnosis["code"]):
        return None
    others = [i for i, other in enumerate(step.mistakes) if other.message == diagnosis["message"] and i != index]
    if others:
        return f"is diagnosed as mistake {others[0] + 1} of {step.name}"
    return f"is diagnosed as {diagnosis['code']} ({diagnosis['message'][:80]})"


def mistake_problem(checker: Checker, exercise: Exercise, solution: str, step: Step, index: int) -> str | None:
    """One authored mistake, written into the solution and checked: None when it is diagnosed as itself."""
    mistake = step.mistakes[index]
    code = f" (code {mistake.code})" if mistake.code != "course" else ""
    label = f"mistake {index + 1} of {step.name}{code}"
    source = with_mistake(solution, step, mistake)
    if source is None:
        return f"{label} is not checked: the solution never assigns {step.name}"
    report = checker.check(exercise, exercise.solution, source=source)
    verdict = next((t for t in report.tensors if t.name == step.name), None)
    if report.error is not None:
        return f"{label} stops the file: {error_words(report)}"
    if verdict is None or verdict.passed:
        return f"{label} passes the check: it is not a wrong answer"
    if verdict.inherits_from:
        return f"{label} is blamed on {verdict.inherits_from}, a row above it"
    caught_locally = verdict.local == "fail" and bool(verdict.extra.get("lecture_passed"))
    if mistake.local_only and not caught_locally:
        return f"{label} is marked local_only, but the batches catch it ({verdict.status}): remove local_only"
    if not mistake.local_only and caught_locally:
        return f"{label} is right on the batches and caught only by the local rule: mark it local_only = true"
    wrong = diagnosed_as(step, index, verdict.diagnosis)
    return f"{label} {wrong}" if wrong else None


def mistake_problems(checker: Checker, exercise: Exercise, tally: Tally) -> Iterator[str]:
    solution = exercise.solution.read_text(encoding="utf-8")
    for step in exercise.rows:  # a supporting row's mistakes too
        for index in range(len(step.mistakes)):
            tally.mistakes += 1
            problem = mistake_problem(checker, exercise, solution, step, index)
            if problem:
                yield problem


def grad_check_problems(checker: Checker, exercise: Exercise) -> Iterator[str]:
    """A training exercise's solution on the first batches of its loop, as `train` checks it (no training)."""
    from tutor.training.gradcheck import run_grad_check

    training = exercise.training
    if training is None:
        return
    source = exercise.solution.read_text(encoding="utf-8")
    steps = run_grad_check(checker, exercise, source, str(exercise.solution), training.default_steps, training.grad_check_steps)
    failed = next((s for s in steps if not s.report.passed), None)
    if failed is not None:
        why = error_words(failed.report) or failing_rows(failed.report)
        yield f"the solution fails the grad check on batch {failed.step + 1}: {why}"


def exercise_problems(checker: Checker, exercise: Exercise, tally: Tally) -> Iterator[str]:
    """Everything checked for one exercise; its mistakes and grad check only once its solution passes."""
    tally.solutions += 1
    broken = list(solution_problems(checker, exercise))
    if broken:
        yield f"{broken[0]} (its mistakes are not checked)"
    tally.starters += 1
    yield from starter_problems(checker, exercise)
    if broken:
        return
    yield from mistake_problems(checker, exercise, tally)
    if exercise.kind == "training":
        tally.grad_checks += 1
        yield from grad_check_problems(checker, exercise)


def check_course(course: Course, checker: Checker, say: Callable[[str], None] = print) -> Tally:
    """Check every exercise of `course` with `checker`; `say` gets each problem line as it is found."""
    tally = Tally()
    for line in pack_problems(course):  # the rules of the pack's text and structure, before anything runs
        tally.problems.append(line)
        say(line)
    for exercise in course.exercises:
        for problem in exercise_problems(checker, exercise, tally):
            line = f"{exercise.id}: {problem}"
            tally.problems.append(line)
            say(line)
    return tally


def course_to_check(args: argparse.Namespace, course: Course) -> Course:
    if args.dir is None:
        return course
    root = Path(args.dir).expanduser()
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder (it should hold exercises/ and solutions/)")
    return load_course(root.resolve())


def cmd_course_list(args: argparse.Namespace, course: Course) -> int:
    """The installed packs, one a line: the id, then the title (in the learner's language) and the folder."""
    from tutor.course.load import load_pack
    from tutor.course.packs import installed_packs

    for pack in installed_packs():
        loaded, _ = load_pack(pack.root)
        title = loaded.translations.get(args.lang, "title") or loaded.title
        mark = "*" if pack.root.resolve() == course.root.resolve() else " "
        print(f"{pack.id}\t{mark} {title}\t{pack.root}")
    return EXIT_PASS


def cmd_course_check(args: argparse.Namespace, course: Course) -> int:
    course = course_to_check(args, course)
    quiet_torch_import()
    from tutor.engine.check import CheckerError
    from tutor.engine.data import DataError

    started = time.perf_counter()
    try:
        with common.open_checker(course, args) as checker:
            tally = check_course(course, checker, lambda line: print(line, flush=True))
    except (CheckerError, DataError) as exc:
        raise UsageError(str(exc)) from None
    print(tally.summary(time.perf_counter() - started))
    return EXIT_FAIL if tally.problems else EXIT_PASS


def register(sub: argparse._SubParsersAction) -> None:
    course = sub.add_parser(
        "course", help="for course authors: check the course itself",
        description="Tools for the authors of a course (the exercises/*.toml files, starters and solutions).",
    )
    actions = course.add_subparsers(dest="course_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="run every solution, starter and authored mistake",
        description="Check a course pack against itself, the one judge of a pack. First the rules of its text "
        "(whys, hint ladders, the lecture's moments when it follows one, every text in the languages pack.toml asks "
        "for, step lines that name only what the model defines); then every solution passes all its rows, every "
        "starter runs and "
        "fails, and every [[steps.mistakes]] entry, written into the solution after the line that finishes its step, "
        "is diagnosed as itself (a local_only one by the local rule alone). A training exercise's solution also passes the grad check on the first "
        "batches of its loop (no training run). Prints one line per problem and a summary; exits 1 when "
        "there is a problem, 2 when the course does not load.",
        epilog="Run it after editing a TOML file, a starter or a solution: it takes seconds.",
    )
    check.add_argument(
        "dir", nargs="?", metavar="DIR",
        help="a course folder holding exercises/ (the TOML files and starters) and solutions/ (default: the pack --course names, else the lecture's)",
    )
    add_engine_options(check)
    check.add_argument("--timeout", type=timeout_seconds, default=10.0, metavar="S", help="seconds each run may take (default: 10)")
    check.set_defaults(handler=cmd_course_check)
    listing = actions.add_parser(
        "list", help="list the installed course packs",
        description="The installed course packs, one a line: the id (what --course takes), a * on the pack in "
        "use, the title and the folder.",
    )
    listing.set_defaults(handler=cmd_course_list)
