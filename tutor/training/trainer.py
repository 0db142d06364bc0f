"""The tutor's side of a trainer process: start it fresh, stream its events, cancel it, collect a Trained."""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import torch

from tutor.process.spawn import child_env, debug_stderr, kill_group, send_signal, spawn
from tutor.process.wire import WireError, read_frame, unpack_tensors, write_frame
from tutor.reports.training import Event, PhaseStarted, ProgressEvent, Trained, Who

SECOND_SIGNAL_S = 3.0  # after a cancel, how long the current step may take before it is interrupted
KILL_S = 30.0  # after a cancel, how long evaluation may take before the process is killed


class TrainerProcess:
    """One `python -m tutor.training.worker` process; frames arrive on a queue from a reader thread."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.frames: queue.Queue[tuple[dict[str, Any], bytes] | None] = queue.Queue()
        self.proc = spawn(
            [sys.executable, "-m", "tutor.training.worker"],
            stderr=debug_stderr(),
            env=child_env(OMP_NUM_THREADS="1"),
            new_session=True,  # Ctrl-C reaches the tutor, which decides how to stop the trainer
        )
        assert self.proc.stdin is not None
        try:
            write_frame(self.proc.stdin, request)
            self.proc.stdin.close()
        except OSError:
            pass
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while True:
                self.frames.put(read_frame(self.proc.stdout))
        except (EOFError, WireError, OSError, ValueError):
            self.frames.put(None)

    def interrupt(self) -> None:
        send_signal(self.proc, signal.SIGINT)

    def kill(self) -> None:
        kill_group(self.proc)

    def exit_message(self) -> str:
        """Why the trainer ended before it reported, for the learner (its exit code or signal)."""
        code = self.proc.wait()
        if code < 0:
            return f"the trainer process was stopped by signal {-code}" + (" (most likely out of memory)" if -code == signal.SIGKILL else "")
        return f"the trainer process ended (exit code {code}) before it reported"


# Re-checks the learner's gradients of one step (its parameters, batch and gradients, as the trainer sent
# them) against autograd in the tutor's process; returns the error that stops training, or None.
Recheck = Callable[[int, dict[str, torch.Tensor]], dict[str, Any] | None]


def run_trainer(
    request: dict[str, Any],
    who: Who,
    on_event: Callable[[Event], None] | None,
    cancel: threading.Event | None,
    recheck: Recheck | None = None,
) -> Trained:
    """Run one trainer to the end; a cancel stops it after the current step and keeps what it trained.

    The learner's trainer sends its gradients every so often (`recheck` judges them; a failure stops the
    run) and its trained parameters at the end (in `Trained.params`, evaluated by the caller)."""
    trainer = TrainerProcess(request)
    trained = Trained()
    total = int(request["run_steps"])
    asked_at: float | None = None
    interrupted = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                now = time.monotonic()
                if asked_at is None:
                    asked_at = now
                    trainer.interrupt()
                elif not interrupted and now - asked_at > SECOND_SIGNAL_S:
                    interrupted = True
                    trainer.interrupt()
                elif now - asked_at > KILL_S:
                    trainer.kill()
                    trained.cancelled = True
                    trained.error = {"kind": "crash", "message": "the trainer did not stop when asked and was killed"}
                    return trained
            try:
                frame = trainer.frames.get(timeout=0.05)
            except queue.Empty:
                continue
            if frame is None:
                trained.error = {"kind": "crash", "message": trainer.exit_message()}
                return trained
            frame, blob = frame
            event = frame.get("event")
            if event == "progress":
                lossi = [float(v) for v in frame.get("lossi", [])]
                trained.lossi.extend(lossi)
                trained.steps = int(frame.get("step", trained.steps))
                trained.seconds = float(frame.get("elapsed", trained.seconds))
                if on_event is not None:
                    on_event(ProgressEvent(who, trained.steps, total, trained.seconds, tuple(lossi)))
            elif event == "recheck" and recheck is not None:
                try:
                    tensors = unpack_tensors(list(frame.get("tensors") or []), blob)
                    failed = recheck(int(frame.get("step", -1)), tensors)
                except (WireError, TypeError, ValueError, KeyError) as exc:
                    failed = {"kind": "crash", "message": f"the trainer sent a re-check that cannot be read ({exc})"}
                if failed is not None:
                    trainer.kill()
                    trained.error = failed
                    return trained
            elif event == "evaluating" and on_event is not None:
                on_event(PhaseStarted("evaluate", int(frame.get("step", trained.steps)), who=who))
            elif event == "done":
                trained.steps = int(frame.get("steps", trained.steps) or 0)
                trained.seconds = float(frame.get("seconds", trained.seconds) or 0.0)
                trained.cancelled = bool(frame.get("cancelled")) or asked_at is not None
                trained.error = frame.get("error")
                trained.loss = {k: float(v) for k, v in (frame.get("loss") or {}).items()}
                trained.samples = [str(s) for s in frame.get("samples") or []]
                trained.output = str(frame.get("output") or "")
                if isinstance(frame.get("params"), list):
                    try:
                        trained.params = unpack_tensors(frame["params"], blob)
                    except (WireError, TypeError, ValueError, KeyError):
                        trained.params = None
                return trained
    finally:
        if trainer.proc.poll() is None:
            trainer.kill()
