"""`grade`: a class's submissions (a folder or an LMS/Gradescope zip) graded on warm checkers in worker
processes, into grades.csv, results.jsonl and report.html under --out, with the class map of mistakes as a
table; `--gradescope-bundle OUT.zip` writes a Gradescope autograder instead."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tutor.cli.common import (
    EXIT_FAIL,
    EXIT_PASS,
    UsageError,
    add_engine_options,
    console,
    find_exercise,
    say,
    timeout_seconds,
    whole_number,
)
from tutor.course import Course


def cmd_grade(args: argparse.Namespace, course: Course) -> int:
    forced = find_exercise(course, args.exercise) if args.exercise else None
    if args.gradescope_bundle:
        from tutor.grading.gradescope import write_bundle

        try:
            written = write_bundle(Path(args.gradescope_bundle), course, exercise=forced.id if forced else None,
                                   timeout=args.timeout, lang=args.lang)
        except OSError as exc:
            raise UsageError(f"cannot write {args.gradescope_bundle}: {exc.strerror or exc}") from None
        print(say("grade-bundle-written", args.lang, path=str(written)))
        return EXIT_PASS
    if not args.path:
        raise UsageError(code="grade-no-path")
    from tutor.cli.grade_view import ProgressLine, print_summary
    from tutor.grading.archive import ArchiveError
    from tutor.grading.pool import Settings, WorkerFailed, default_jobs
    from tutor.grading.run import Interrupted, grade

    settings = Settings(str(course.root), str(args.data) if args.data else None, args.device, args.timeout, args.lang,
                        args.train_steps or 0)
    out = Path(args.out)
    bar = ProgressLine(sys.stderr, args.lang)
    try:
        graded = grade(Path(args.path), course, settings, out, jobs=args.jobs or default_jobs(), forced=forced,
                       on_progress=bar.update)
    except ArchiveError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:  # --out cannot be written
        bar.finish()
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    except WorkerFailed as exc:
        bar.finish()
        raise UsageError(say("grade-worker-failed", args.lang, error=str(exc))) from None
    except Interrupted as stop:
        bar.finish()
        print(say("grade-interrupted", args.lang, done=len(stop.graded.results), out=str(out)), file=sys.stderr)
        return 130
    bar.finish()
    for warning in graded.warnings:
        print(say("warning-line", args.lang, line=warning), file=sys.stderr)
    if args.json:
        print(json.dumps({"out": str(out), "graded": len(graded.results), "judged_now": graded.judged,
                          "passed": sum(1 for r in graded.results if r.get("passed")), "seconds": graded.seconds,
                          **graded.classmap.to_json()}, ensure_ascii=False))
    else:
        print_summary(graded, console(), args.lang, out)
    return EXIT_PASS if graded.results else EXIT_FAIL


def register(sub: argparse._SubParsersAction) -> None:
    grade = sub.add_parser(
        "grade", help="for instructors: grade a class's submissions (a folder or a zip)",
        description="Grade every submission under PATH (a folder, or a zip such as Gradescope's \"Export "
        "Submissions\" or Canvas's \"Download Submissions\") with the same checks as `check`: one student per "
        "folder, or per file directly under PATH (named after the student). Files named like the workspace's "
        "(atomic.py, atomic.ipynb, ...) are graded as that exercise; any other .py or .ipynb by the gradients it "
        "assigns. Writes grades.csv, results.jsonl and report.html (the class's mistakes per step) to --out "
        "and prints the summary. A rerun grades only new or changed files.",
        epilog="Exits 0 when something was graded, 1 when nothing was, 2 for a refused PATH. See docs/grading.md.",
    )
    grade.add_argument("path", nargs="?", metavar="PATH", help="a folder or a .zip of submissions")
    grade.add_argument("--exercise", metavar="ID", help="grade every file as this exercise (id or number)")
    grade.add_argument("--jobs", type=whole_number(0), default=0, metavar="N", help="worker processes (default: the cores)")
    grade.add_argument("--out", default="grades", metavar="DIR", help="where the results go (default: ./grades)")
    grade.add_argument("--json", action="store_true", help="print one JSON line (totals and the class map) instead of the table")
    grade.add_argument("--train-steps", type=whole_number(0), default=0, metavar="N",
                       help="also train each training exercise's file that passes its grad check for N steps (default: no training)")
    grade.add_argument("--gradescope-bundle", metavar="OUT.zip", help="write a Gradescope autograder zip instead of grading")
    add_engine_options(grade)
    grade.add_argument("--timeout", type=timeout_seconds, default=10.0, metavar="S", help="seconds each file may run (default: 10)")
    grade.set_defaults(handler=cmd_grade)
