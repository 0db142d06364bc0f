"""`backprop-ninja train`: grad-check exercise 4's file, train with it, compare with autograd, sample names."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading

from tutor.cli.common import (
    EXIT_FAIL,
    EXIT_PASS,
    UsageError,
    add_engine_options,
    add_workspace_option,
    console,
    learner_file,
    quiet_torch_import,
    say,
    timeout_seconds,
    whole_number,
)
from tutor.course import Course, Exercise

EXIT_CANCELLED = 130


def training_exercise(course: Course) -> Exercise:
    found = [e for e in course.exercises if e.kind == "training"]
    if not found:
        raise UsageError(code="no-training")
    return found[0]


def cmd_train(args: argparse.Namespace, course: Course) -> int:
    exercise = training_exercise(course)
    path = learner_file(args, exercise)
    quiet_torch_import()
    from tutor.engine.check import CheckerError
    from tutor.engine.data import DataError
    from tutor.training.session import train_exercise

    cancel = threading.Event()
    view = None
    if not args.json:
        from tutor.cli.train_view import TrainingView

        view = TrainingView(console(), args.lang)

    def on_sigint(signum, frame) -> None:
        if not cancel.is_set():
            print(say("train-stopping", args.lang), file=sys.stderr)
        cancel.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with view.progress if view is not None else contextlib.nullcontext():
            result = train_exercise(
                course, exercise, path, steps=args.steps, device=args.device, data=args.data,
                timeout=args.timeout, on_event=view.on_event if view is not None else None, cancel=cancel,
            )
    except (CheckerError, DataError) as exc:
        raise UsageError(str(exc)) from None
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        from tutor.cli.train_view import print_result

        calibrated = exercise.training.text("calibrated", args.lang) if exercise.training else None
        print_result(result, view.console, args.lang, calibrated, bool(course.pack.lecture))  # type: ignore[union-attr]
    if result.passed:
        return EXIT_PASS
    return EXIT_CANCELLED if result.cancelled else EXIT_FAIL


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser(
        "train",
        help="the pack's training exercise: grad-check your backward pass, then train the model with it",
        description="For the course pack's training exercise: check your gradients on the first batches of its "
        "training loop, train with them (no autograd), calibrate the model when the pack says how (the lecture's "
        "BatchNorm statistics), compare train/val loss with an autograd run of the same steps, and sample names "
        "from both models. Ctrl-C stops training and still evaluates the model so far.",
    )
    train.add_argument("--file", metavar="PATH", help="your training.py (default: the one in the workspace)")
    train.add_argument("--steps", type=whole_number(1), metavar="N", help="training steps (default: the exercise's quick run; at most its max_steps, the lecture's 200000 in its pack)")
    train.add_argument("--json", action="store_true", help="print one JSON object instead of progress and tables")
    add_engine_options(train)
    train.add_argument("--timeout", type=timeout_seconds, default=10.0, metavar="S", help="seconds each grad-check run may take (default: 10)")
    add_workspace_option(train)
    train.set_defaults(handler=cmd_train)
