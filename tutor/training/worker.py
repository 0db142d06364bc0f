"""A trainer process: trains the exercise's model once (learner's backward or autograd) and streams events.

Started fresh by the tutor with `python -m tutor.training.worker` (never forked from a process that
already ran multi-threaded torch ops, which would hang the child's first parallel op). It reads one
request frame on stdin and writes frames on stdout: progress, then done. SIGINT asks it to stop after
the current step (it then still evaluates and samples what it trained); a second SIGINT interrupts the
step itself. The learner's file runs here, so the process also gets the sandbox's limits.
"""

from __future__ import annotations

import resource
import signal
import sys
import time
from pathlib import Path
from typing import IO, Any

import torch

from tutor.course import load_course
from tutor.engine.context import TrainingSplits
from tutor.engine.data import DataError, load_names
from tutor.process.limits import BoundedOutput, die_with_parent, limit_memory
from tutor.process.wire import pack_tensors, protocol_frames, read_frame, write_frame
from tutor.sandbox.guard import forbid_autograd
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
# How often the learner's gradients go back to the tutor to be re-checked against autograd on the loop's
# own batch (and always at the last step): a backward pass that is right only on its first calls fails.
RECHECK_EVERY = 1000


def recheck_due(step: int, steps: int) -> bool:
    return step == steps - 1 or (step > 0 and step % RECHECK_EVERY == 0)


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


def run(request: dict[str, Any], out: IO[bytes], cancel: CancelFlag) -> tuple[dict[str, Any], bytes]:
    """Set up, train (and, for autograd's model, evaluate); return the `done` event (errors as values) and
    the bytes of the learner's trained parameters."""
    course = load_course(Path(request["course_root"]))
    exercise = course.find(request["exercise"])
    if exercise is None or exercise.training is None:
        return {"event": "done", "error": {"kind": "crash", "message": f"no training exercise {request['exercise']!r}"}}, b""
    device = request["device"]
    try:
        dataset = load_names(Path(request["data"]) if request.get("data") else None)
    except DataError as exc:
        return {"event": "done", "error": {"kind": "crash", "message": str(exc)}}, b""
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
            return {"event": "done", "steps": 0, "seconds": 0.0, "cancelled": False, "error": error}, b""
        backward = learner_backward(code, gradient_names(exercise), source)
        sys.stdout = sys.stderr = captured  # type: ignore[assignment]
    else:
        backward = autograd_backward(params)

    def report(step: int, lossi: list[float], elapsed: float) -> None:
        write_frame(out, {"event": "progress", "step": step, "lossi": lossi, "elapsed": elapsed})

    run_steps = int(request["run_steps"])
    names = list(exercise.model.parameters)

    def send_for_recheck(step: int, step_ns: dict[str, Any], grads: list[torch.Tensor]) -> None:
        if recheck_due(step, run_steps):
            tensors = {**{n: step_ns[n] for n in (*names, "Xb", "Yb")}, **{f"grad/{n}": g for n, g in zip(names, grads)}}
            meta, blob = pack_tensors(tensors)
            write_frame(out, {"event": "recheck", "step": step, "tensors": meta}, blob)

    write_frame(out, {"event": "started", "steps": run_steps, "device": device})
    if device != "cpu":  # a loop written for the CPU (torch.randint(0, n, (32,))) trains there unchanged
        torch.set_default_device(device)
    if learner:
        forbid_autograd()  # from here on the learner's backward pass runs in this process
    cancel.armed = True
    outcome = train_loop(
        ns, exercise, int(request["steps"]), backward, not learner, report, cancel, run_steps=run_steps,
        on_grads=send_for_recheck if learner else None,
    )
    cancel.armed = False
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    trained = {name: p.detach() for name, p in zip(names, params)}
    done = {
        "event": "done",
        "steps": outcome.steps_done,
        "seconds": outcome.seconds,
        "cancelled": outcome.cancelled,
        "error": outcome.error,
        "output": captured.text(),
    }
    if learner:
        # evaluated by the tutor, in a process where the learner's code never ran
        meta, blob = pack_tensors(trained)
        return {**done, "params": meta}, blob
    write_frame(out, {"event": "evaluating", "step": outcome.steps_done})
    losses, samples = evaluate(exercise, trained, splits, device)
    return {**done, "loss": losses, "samples": samples}, b""


def main() -> None:
    cancel = CancelFlag()
    signal.signal(signal.SIGINT, cancel.on_signal)
    torch.set_num_threads(1)  # tiny matmuls: one thread is fastest, and two trainers share the cores fairly
    out = protocol_frames()
    die_with_parent()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        request, _ = read_frame(sys.stdin.buffer)
    except (EOFError, OSError, ValueError):
        return
    if request.get("device") == "cpu" and request.get("mode") == "learner":
        limit_memory(MEMORY_HEADROOM)
    started = time.perf_counter()
    blob = b""
    try:
        done, blob = run(request, out, cancel)
    except StopTraining:
        done = {"event": "done", "error": {"kind": "crash", "message": "stopped before training began"}}
    except BaseException as exc:  # the trainer's own failure (or the learner's exit()): report, never hang
        done = {"event": "done", "error": {"kind": "crash", "message": f"trainer failure: {exc!r}"}}
    done["wall"] = time.perf_counter() - started
    try:
        write_frame(out, done, blob)
    except OSError:
        pass


if __name__ == "__main__":
    main()
