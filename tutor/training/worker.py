"""A trainer process: trains the exercise's model once (learner's backward or autograd) and streams events.

Started fresh by the tutor with `python -m tutor.training.worker` (never forked from a process that
already ran multi-threaded torch ops, which would hang the child's first parallel op). It reads one
request frame on stdin and writes frames on stdout: progress, then done. SIGINT asks it to stop after
the current step (it then still evaluates and samples what it trained); a second SIGINT interrupts the
step itself. The learner's file runs here, so the process also gets the sandbox's limits.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import IO, Any

import torch

from tutor.course import load_course
from tutor.engine.child import BoundedOutput, _die_with_parent, _limit_memory
from tutor.engine.context import TrainingSplits
from tutor.engine.data import DataError, load_names
from tutor.engine.wire import read_frame, write_frame
from tutor.training.loop import (
    StopTraining,
    autograd_backward,
    evaluate,
    gradient_names,
    initial_namespace,
    learner_backward,
    train_loop,
)

MEMORY_HEADROOM = 6 << 30


class CancelFlag:
    """Set by SIGINT; a second SIGINT raises StopTraining inside whatever the step is doing."""

    def __init__(self) -> None:
        self.requested = False
        self.armed = False

    def __call__(self) -> bool:
        return self.requested

    def on_signal(self, signum: int, frame: Any) -> None:
        if self.requested and self.armed:
            raise StopTraining
        self.requested = True


def _protocol_stream() -> IO[bytes]:
    """Keep the real stdout for frames; fds 1 and 2 go to /dev/null so nothing else can write there."""
    out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    if not os.environ.get("BACKPROP_NINJA_DEBUG"):
        os.dup2(null, 2)
    return out


def run(request: dict[str, Any], out: IO[bytes], cancel: CancelFlag) -> dict[str, Any]:
    """Set up, train, evaluate; return the `done` event (errors as values)."""
    course = load_course(Path(request["course_root"]))
    exercise = course.find(request["exercise"])
    if exercise is None or exercise.training is None:
        return {"event": "done", "error": {"kind": "crash", "message": f"no training exercise {request['exercise']!r}"}}
    device = request["device"]
    try:
        dataset = load_names(Path(request["data"]) if request.get("data") else None)
    except DataError as exc:
        return {"event": "done", "error": {"kind": "crash", "message": str(exc)}}
    splits = TrainingSplits(dataset)
    ns = initial_namespace(exercise, splits, device)
    params = [ns[name] for name in exercise.model.parameters]
    learner = request["mode"] == "learner"
    captured = BoundedOutput(None)  # learners print in loops; keep the first bytes, never stop
    if learner:
        source, filename = request["source"], request["filename"]
        try:
            code = compile(source, filename, "exec")
        except (SyntaxError, ValueError) as exc:
            error = {"kind": "syntax", "message": f"{type(exc).__name__}: {exc}", "line": getattr(exc, "lineno", None)}
            return {"event": "done", "steps": 0, "seconds": 0.0, "cancelled": False, "error": error}
        backward = learner_backward(code, gradient_names(exercise), source)
        sys.stdout = sys.stderr = captured  # type: ignore[assignment]
    else:
        backward = autograd_backward(params)

    def report(step: int, lossi: list[float], elapsed: float) -> None:
        write_frame(out, {"event": "progress", "step": step, "lossi": lossi, "elapsed": elapsed})

    write_frame(out, {"event": "started", "steps": request["run_steps"], "device": device})
    cancel.armed = True
    outcome = train_loop(
        ns, exercise, int(request["steps"]), backward, not learner, report, cancel, run_steps=int(request["run_steps"])
    )
    cancel.armed = False
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    write_frame(out, {"event": "evaluating", "step": outcome.steps_done})
    trained = {name: p.detach() for name, p in zip(exercise.model.parameters, params)}
    losses, samples = evaluate(exercise, trained, splits, device)
    return {
        "event": "done",
        "steps": outcome.steps_done,
        "seconds": outcome.seconds,
        "cancelled": outcome.cancelled,
        "error": outcome.error,
        "loss": losses,
        "samples": samples,
        "output": captured.text(),
    }


def main() -> None:
    cancel = CancelFlag()
    signal.signal(signal.SIGINT, cancel.on_signal)
    torch.set_num_threads(1)  # tiny matmuls: one thread is fastest, and two trainers share the cores fairly
    out = _protocol_stream()
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        request, _ = read_frame(sys.stdin.buffer)
    except (EOFError, OSError, ValueError):
        return
    if request.get("device") == "cpu" and request.get("mode") == "learner":
        _limit_memory(MEMORY_HEADROOM)
    started = time.perf_counter()
    try:
        done = run(request, out, cancel)
    except StopTraining:
        done = {"event": "done", "error": {"kind": "crash", "message": "stopped before training began"}}
    except BaseException as exc:  # the trainer's own failure (or the learner's exit()): report, never hang
        done = {"event": "done", "error": {"kind": "crash", "message": f"trainer failure: {exc!r}"}}
    done["wall"] = time.perf_counter() - started
    try:
        write_frame(out, done)
    except OSError:
        pass


if __name__ == "__main__":
    main()
