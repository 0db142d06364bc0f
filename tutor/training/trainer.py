"""The tutor's side of a trainer process: start it fresh, stream its events, cancel it, collect a Trained."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from tutor.engine.sandbox import PACKAGE_PARENT
from tutor.engine.wire import WireError, read_frame, write_frame
from tutor.training.events import Event, PhaseStarted, Progress, Trained, Who

SECOND_SIGNAL_S = 3.0  # after a cancel, how long the current step may take before it is interrupted
KILL_S = 30.0  # after a cancel, how long evaluation may take before the process is killed


class TrainerProcess:
    """One `python -m tutor.training.worker` process; frames arrive on a queue from a reader thread."""

    def __init__(self, request: dict[str, Any]) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
        env["OMP_NUM_THREADS"] = "1"
        self.frames: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tutor.training.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if env.get("BACKPROP_NINJA_DEBUG") else subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C reaches the tutor, which decides how to stop the trainer
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
                header, _ = read_frame(self.proc.stdout)
                self.frames.put(header)
        except (EOFError, WireError, OSError, ValueError):
            self.frames.put(None)

    def interrupt(self) -> None:
        try:
            self.proc.send_signal(signal.SIGINT)
        except (ProcessLookupError, OSError):
            pass

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def describe_exit(self) -> str:
        code = self.proc.wait()
        if code < 0:
            return f"the trainer process was stopped by signal {-code}" + (" (most likely out of memory)" if -code == signal.SIGKILL else "")
        return f"the trainer process ended (exit code {code}) before it reported"


def run_trainer(
    request: dict[str, Any],
    who: Who,
    on_event: Callable[[Event], None] | None,
    cancel: threading.Event | None,
) -> Trained:
    """Run one trainer to the end; a cancel stops it after the current step and keeps what it trained."""
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
                trained.error = {"kind": "crash", "message": trainer.describe_exit()}
                return trained
            event = frame.get("event")
            if event == "progress":
                lossi = [float(v) for v in frame.get("lossi", [])]
                trained.lossi.extend(lossi)
                trained.steps = int(frame.get("step", trained.steps))
                trained.seconds = float(frame.get("elapsed", trained.seconds))
                if on_event is not None:
                    on_event(Progress(who, trained.steps, total, trained.seconds, tuple(lossi)))
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
                return trained
    finally:
        if trainer.proc.poll() is None:
            trainer.kill()
