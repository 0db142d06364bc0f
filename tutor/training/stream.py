"""`python -m tutor.training.stream`: one training session of exercise 4 as JSON lines, for the TUI.

It runs `train_exercise` and writes one line per event (its `to_line()`, tutor.reports.training), then
exactly one final line:

    {"type": "phase", "phase": "grad-check" | "train" | "reference" | "evaluate", "steps": N, "who": ...}
    {"type": "grad-check", "step": k, "passed": bool, "tensors": [...], "error": {...} | null}
    {"type": "progress", "who": "learner" | "reference", "step": s, "steps": N, "elapsed": t, "lossi": [...]}
    {"type": "result", "result": TrainingResult.to_json(), "cancelled": bool, "reference_seconds": t,
     "output": "..."}
    {"type": "error", "message": "..."}   (what the caller fixes: file, data, steps, device)

SIGINT or the end of stdin asks the run to stop and keep what it computed (as Ctrl-C does in `train`);
SIGTERM stops it at once. Nothing else reaches stdout: fd 1 is pointed at stderr for the run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from tutor.process.lines import LineWriter, protocol_lines
from tutor.reports.training import TrainingProblem


def _cancel_on_eof(cancel: threading.Event) -> None:
    try:  # os.read, not sys.stdin: a buffered reader's lock would block the interpreter's shutdown
        while os.read(0, 4096):
            pass
    except (OSError, ValueError):
        pass
    cancel.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tutor.training.stream", description=__doc__.splitlines()[0])
    parser.add_argument("--exercise", required=True, help="the training exercise's id (from the course)")
    parser.add_argument("--file", required=True, type=Path)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--no-stdin", action="store_true", help="do not treat the end of stdin as a cancel")
    args = parser.parse_args(argv)

    emit = LineWriter(protocol_lines())
    cancel = threading.Event()
    signal.signal(signal.SIGINT, lambda signum, frame: cancel.set())
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # unwind: trainers and sandbox close
    if not args.no_stdin:
        threading.Thread(target=_cancel_on_eof, args=(cancel,), daemon=True).start()

    from tutor.course import load_course
    from tutor.engine.check import CheckerError
    from tutor.engine.data import DataError
    from tutor.training.session import train_exercise

    course = load_course()
    exercise = course.find(args.exercise)
    if exercise is None or exercise.training is None:
        emit(TrainingProblem("error", f"{args.exercise!r} is not a training exercise of this course").to_line())
        return 2
    try:
        result = train_exercise(course, exercise, args.file, steps=args.steps, device=args.device, data=args.data,
                                timeout=args.timeout, on_event=lambda event: emit(event.to_line()), cancel=cancel)
    except (CheckerError, DataError, ValueError) as exc:
        emit(TrainingProblem("error", str(exc)).to_line())
        return 2
    emit(result.to_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
